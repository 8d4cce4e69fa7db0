#!/usr/bin/env bash
# Runs the whole test suite against real infrastructure: makes sure PostgreSQL, Redis,
# RabbitMQ and a MongoDB wire-protocol server are up and the API fuzzer (schemathesis) is in
# .local/venv and the offline Kubernetes tools (helm, kubernetes-validate, hadolint, the Argo
# CD schemas) are there, builds the browser console and makes sure Debian's Chromium is there
# for its tests and the crawler's headless mode (see scripts/lib.sh) and Debian's ffuf for the
# crawler's fuzzing engine, checks formatting and
# lints, then `cargo test` over the workspace, the gateway with the console embedded. Exits with cargo's status. Leaves the
# infrastructure running.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_infrastructure
ensure_schemathesis
ensure_deploy_tools
ensure_console
ensure_chromium
# Debian's ffuf, which the crawler runs when told to (`S4E_CRAWL_FUZZER=ffuf`).
s4e_ensure_command ffuf

# Tests drop their databases when they pass; a failed or killed run leaves its own behind.
leftovers=$(psql "$S4E_TEST_POSTGRES_URL" -qtAXc \
    "select datname from pg_database where datname like 's4e\_t%'" || true)
for db in $leftovers; do
    psql "$S4E_TEST_POSTGRES_URL" -qtAXc "drop database if exists \"$db\" with (force)" >/dev/null || true
done
[[ -z "$leftovers" ]] || s4e_log "postgres: dropped $(wc -w <<<"$leftovers") database(s) left by earlier test runs"

# Likewise their broker queues (namespaces `t` + 32 hex digits). Every quorum queue holds file
# descriptors of the broker: enough leftovers and it stops accepting connections.
if command -v rabbitmqctl >/dev/null 2>&1; then
    removed=$(timeout 120 rabbitmqctl eval '
        Qs = [Q || Q <- rabbit_amqqueue:list(),
                   re:run(element(4, amqqueue:get_name(Q)), "^t[0-9a-f]{32}\\.") =/= nomatch],
        [rabbit_amqqueue:delete(Q, false, false, <<"s4e-test-cleanup">>) || Q <- Qs],
        length(Qs).' 2>/dev/null | tail -n 1) || true
    if [[ "$removed" =~ ^[0-9]+$ && "$removed" != 0 ]]; then
        s4e_log "rabbitmq: deleted $removed queue(s) left by earlier test runs"
    fi
fi

s4e_log "cargo fmt --all -- --check"
cargo fmt --all -- --check

# With the console embedded in the gateway and its browser tests (tests/tests/console.rs).
features=(--features s4e-e2e/console)

s4e_log "console: npm run typecheck"
(cd console && npm run --silent typecheck)

s4e_log "cargo clippy --workspace --all-targets ${features[*]} -- -D warnings"
cargo clippy --workspace --all-targets "${features[@]}" -- -D warnings

s4e_log "cargo test --workspace --all-targets ${features[*]} --no-fail-fast"
status=0
cargo test --workspace --all-targets "${features[@]}" --no-fail-fast || status=$?
if [[ "$status" -ne 0 ]]; then
    s4e_log "cargo test failed (exit $status)"
fi
exit "$status"
