#!/usr/bin/env bash
# Brings up a local S4E: the infrastructure (scripts/lib.sh), a build of every binary, the seven
# services and the demo target, then runs one demo scan of the demo target and prints its
# findings. Everything is left running; scripts/down.sh stops the fleet (not the
# infrastructure).
#
#   .local/logs/<name>.log   service logs          .local/pids/<name>.pid   service pids
#   .local/service-token     S4E_SERVICE_TOKEN     .local/admin-key         the demo admin key
#
# Usage: scripts/up.sh [--release] [--no-build]
#   --release   build and run the optimized binaries (slower to build; what benchmarks use)
#   --no-build  use the binaries already in $CARGO_TARGET_DIR/{debug,release}
set -euo pipefail

build=1
profile=debug
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --release) profile=release ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d'
            exit 0
            ;;
        *)
            echo "unknown argument: $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

GATEWAY="http://127.0.0.1:8080"
DEMO_URL="http://$S4E_DEMO_TARGET_ADDR/"

ensure_infrastructure
s4e_ensure_command curl
s4e_ensure_command python3
BIN="$CARGO_TARGET_DIR/$profile"
mkdir -p "$S4E_LOCAL" "$S4E_PIDS_DIR" "$S4E_LOGS_DIR"

# ---------------------------------------------------------------------------------------------
# environment shared by every service

token_file="$S4E_LOCAL/service-token"
if [[ ! -s "$token_file" ]]; then
    (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$token_file")
    s4e_log "fleet: generated a service token in .local/service-token"
fi
S4E_SERVICE_TOKEN="$(cat "$token_file")"
export S4E_SERVICE_TOKEN
export S4E_NAMESPACE=s4e
export S4E_BASE_URL=http://127.0.0.1:8081
export S4E_SCAN_URL=http://127.0.0.1:8082
export S4E_DISPATCHER_URL=http://127.0.0.1:8084
export S4E_CRAWLER_URL=http://127.0.0.1:8083
export S4E_TRIGGER_URL=http://127.0.0.1:8086
export S4E_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/s4e
export S4E_AMQP_URL="${S4E_AMQP_URL:-$S4E_TEST_AMQP_URL}"
export S4E_REDIS_URL="${S4E_REDIS_URL:-$S4E_TEST_REDIS_URL}"
export S4E_MONGODB_URL
export S4E_MONGODB_DATABASE=s4e
# The demo target listens on loopback, which the egress guard refuses by default (scans must
# not reach private or local addresses); allow it for this local demo only.
export S4E_EGRESS_ALLOW_PRIVATE=true

if [[ "$(psql "$S4E_TEST_POSTGRES_URL" -qtAXc "select 1 from pg_database where datname = 's4e'")" != "1" ]]; then
    psql "$S4E_TEST_POSTGRES_URL" -qtAXc "create database s4e" >/dev/null
    s4e_log "postgres: created database s4e"
else
    s4e_log "postgres: database s4e exists"
fi

# ---------------------------------------------------------------------------------------------
# build, then replace whatever an earlier up.sh left running

if ((build)); then
    # The gateway serves the browser console, built first into console/dist.
    ensure_console
    if [[ "$profile" == release ]]; then
        s4e_log "cargo build --release --workspace --bins --features s4e-core/console"
        cargo build --release --workspace --bins --features s4e-core/console
    else
        s4e_log "cargo build --workspace --bins --features s4e-core/console"
        cargo build --workspace --bins --features s4e-core/console
    fi
else
    s4e_log "cargo: not building (--no-build), using $BIN"
fi

s4e_stop_fleet 30

for entry in "${S4E_FLEET[@]}" "demo-target:${S4E_DEMO_TARGET_ADDR##*:}"; do
    name="${entry%%:*}"
    port="${entry##*:}"
    [[ -x "$BIN/s4e-$name" ]] || s4e_die "fleet: $BIN/s4e-$name was not built"
    if s4e_port_open 127.0.0.1 "$port"; then
        s4e_die "fleet: port $port (for s4e-$name) is taken by another process"
    fi
done

# dump_log NAME : the end of a service's log, for a failure message.
dump_log() {
    s4e_log "last lines of .local/logs/$1.log:"
    tail -n 30 "$S4E_LOGS_DIR/$1.log" >&2 || true
}

# start NAME [ENV=VALUE...] : starts s4e-NAME in its own session, in the background.
start() {
    local name="$1"
    shift
    local log="$S4E_LOGS_DIR/$name.log"
    printf '\n==== %s: starting s4e-%s\n' "$(date -u +%FT%TZ)" "$name" >>"$log"
    env "$@" setsid "$BIN/s4e-$name" >>"$log" 2>&1 </dev/null &
    echo "$!" >"$S4E_PIDS_DIR/$name.pid"
}

http_ok() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" == "200" ]]
}

# wait_ready NAME URL SECONDS : polls URL until 200; dies early when the process exits.
wait_ready() {
    local name="$1" url="$2" seconds="$3" deadline
    deadline=$((SECONDS + seconds))
    until http_ok "$url"; do
        # liveness only: right after the fork the process may not have exec'd the binary yet
        if ! s4e_proc_running "$(cat "$S4E_PIDS_DIR/$name.pid")"; then
            dump_log "$name"
            s4e_die "fleet: s4e-$name exited during start"
        fi
        if ((SECONDS >= deadline)); then
            dump_log "$name"
            s4e_die "fleet: s4e-$name not ready at $url within ${seconds}s"
        fi
        sleep 0.5
    done
    s4e_log "fleet: s4e-$name ready ($url)"
}

# ---------------------------------------------------------------------------------------------
# migrate, then base, then the others

s4e_log "fleet: s4e-base migrate"
if ! "$BIN/s4e-base" migrate >>"$S4E_LOGS_DIR/migrate.log" 2>&1 </dev/null; then
    dump_log migrate
    s4e_die "fleet: s4e-base migrate failed"
fi

base_port="${S4E_FLEET[0]##*:}"
start base "S4E_LISTEN=127.0.0.1:$base_port"
wait_ready base "http://127.0.0.1:$base_port/readyz" 60

for entry in "${S4E_FLEET[@]:1}"; do
    start "${entry%%:*}" "S4E_LISTEN=127.0.0.1:${entry##*:}"
done
for entry in "${S4E_FLEET[@]:1}"; do
    wait_ready "${entry%%:*}" "http://127.0.0.1:${entry##*:}/readyz" 60
done

verification_file="$S4E_LOCAL/demo-verification.txt"
start demo-target "S4E_DEMO_LISTEN=$S4E_DEMO_TARGET_ADDR" \
    "S4E_DEMO_VERIFICATION_FILE=$verification_file"
wait_ready demo-target "$DEMO_URL" 30

# ---------------------------------------------------------------------------------------------
# admin key

# The demo organization has an owner who signs in to the console (the password is made here
# and kept in .local/console-password) and an admin key that this script and the command line
# use, made by that owner.
key_file="$S4E_LOCAL/admin-key"
password_file="$S4E_LOCAL/console-password"
console_email="owner@demo.local"
admin_key=""
if [[ -s "$key_file" && -s "$password_file" ]]; then
    admin_key="$(tr -d '[:space:]' <"$key_file")"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        -H "Authorization: Bearer $admin_key" "$GATEWAY/api/v1/assets" || true)"
    if [[ "$code" == "200" ]]; then
        s4e_log "core: reusing the admin key in .local/admin-key"
    else
        s4e_log "core: the key in .local/admin-key is not accepted (HTTP $code); creating a new one"
        admin_key=""
    fi
fi
if [[ -z "$admin_key" ]]; then
    if [[ ! -s "$password_file" ]]; then
        password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
        S4E_OWNER_PASSWORD="$password" "$BIN/s4e-core" create-organization --org-name demo \
            --owner-email "$console_email" >/dev/null 2>>"$S4E_LOGS_DIR/create-organization.log" </dev/null || {
            dump_log create-organization
            s4e_die "core: s4e-core create-organization failed"
        }
        (umask 077 && printf '%s\n' "$password" >"$password_file")
        s4e_log "core: created org demo with its owner $console_email (password in .local/console-password)"
    fi
    # The owner signs in and makes the key, as a person would in the console.
    admin_key="$(python3 - "$GATEWAY" "$console_email" "$password_file" <<'EOF'
import json, sys, urllib.request
gateway, email, password_file = sys.argv[1:]
password = open(password_file).read().strip()
def call(path, body, headers={}):
    request = urllib.request.Request(gateway + path, json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer, json.load(answer)
answer, session = call("/api/v1/auth/login", {"email": email, "password": password})
cookie = answer.headers["set-cookie"].split(";")[0]
_, key = call("/api/v1/api-keys", {"name": "demo admin", "scopes": ["admin"]},
    {"cookie": cookie, "x-csrf-token": session["csrf_token"]})
print(key["key"])
EOF
)" || s4e_die "core: the owner $console_email could not sign in and make an admin key"
    (umask 077 && printf '%s\n' "$admin_key" >"$key_file")
    s4e_log "core: created an admin key for org demo in .local/admin-key"
fi

# ---------------------------------------------------------------------------------------------
# demo scan

resp="$(mktemp)"
trap 'rm -f "$resp"' EXIT

# api METHOD PATH [JSON_BODY] : calls the gateway; the body lands in $resp, prints the status.
api() {
    local -a args=(-s -o "$resp" -w '%{http_code}' --max-time 30 -X "$1"
        -H "Authorization: Bearer $admin_key" -H 'Accept: application/json')
    if [[ $# -ge 3 ]]; then
        args+=(-H 'Content-Type: application/json' --data "$3")
    fi
    curl "${args[@]}" "$GATEWAY$2" || echo "000"
}

# json EXPR : evaluates a Python expression over the JSON in $resp (bound to d); prints the
# result, strings bare and everything else as JSON.
json() {
    python3 -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
v = eval(sys.argv[2], {"d": d, "json": json, "target": sys.argv[3]})
print(v if isinstance(v, str) else json.dumps(v))
' "$resp" "$1" "$DEMO_URL"
}

fail_with_body() {
    s4e_log "response body: $(head -c 2000 "$resp" 2>/dev/null || true)"
    s4e_die "$1"
}

asset_body="$(printf '{"kind":"url","value":"%s"}' "$DEMO_URL")"
code="$(api POST /api/v1/assets "$asset_body")"
case "$code" in
    201 | 200)
        asset_id_json="$(json 'json.dumps(d["id"])')"
        s4e_log "demo: created asset $asset_id_json for $DEMO_URL"
        ;;
    409)
        code="$(api GET /api/v1/assets)"
        [[ "$code" == "200" ]] || fail_with_body "demo: GET /api/v1/assets answered HTTP $code"
        asset_id_json="$(json 'json.dumps(next((i["id"] for i in d["items"] if str(i.get("value", "")).rstrip("/") == target.rstrip("/")), None))')"
        [[ "$asset_id_json" != "null" ]] || fail_with_body "demo: asset $DEMO_URL exists (409) but is not in GET /api/v1/assets"
        s4e_log "demo: asset $asset_id_json for $DEMO_URL already exists"
        ;;
    *) fail_with_body "demo: POST /api/v1/assets answered HTTP $code" ;;
esac
# Prove the demo is ours, as an owner would: publish the asset's token on the site, verify.
code="$(api GET "/api/v1/assets/$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]))' "$asset_id_json")")"
[[ "$code" == "200" ]] || fail_with_body "demo: GET asset answered HTTP $code"
json 'd["verification_token"]' >"$verification_file"
code="$(api POST "/api/v1/assets/$(json 'd["id"]')/verify" '{"method":"http_file"}')"
[[ "$code" == "200" ]] || fail_with_body "demo: POST verify answered HTTP $code"
[[ "$(json 'd["verified"]')" == "true" ]] || fail_with_body "demo: the demo asset did not verify"
s4e_log "demo: ownership of $DEMO_URL verified (http_file)"

code="$(api POST /api/v1/scans "{\"asset_id\": $asset_id_json}")"
case "$code" in
    202 | 201 | 200) ;;
    *) fail_with_body "demo: POST /api/v1/scans answered HTTP $code" ;;
esac
run_id="$(json 'd["id"]')"
status="$(json 'd.get("status", "")')"
s4e_log "demo: scan $run_id $status"

deadline=$((SECONDS + 120))
last_status="$status"
while [[ "$status" != "completed" && "$status" != "failed" ]]; do
    if ((SECONDS >= deadline)); then
        s4e_die "demo: scan $run_id still '$status' after 120s (see .local/logs/)"
    fi
    sleep 1
    code="$(api GET "/api/v1/scans/$run_id")"
    [[ "$code" == "200" ]] || fail_with_body "demo: GET /api/v1/scans/$run_id answered HTTP $code"
    status="$(json 'd.get("status", "")')"
    if [[ "$status" != "$last_status" ]]; then
        s4e_log "demo: scan $run_id $status"
        last_status="$status"
    fi
done

code="$(api GET "/api/v1/findings?scan_id=$run_id")"
[[ "$code" == "200" ]] || fail_with_body "demo: GET /api/v1/findings?scan_id=$run_id answered HTTP $code"

echo
echo "Findings of scan $run_id on $DEMO_URL ($status):"
python3 - "$resp" <<'EOF'
import json
import sys

with open(sys.argv[1]) as f:
    items = json.load(f).get("items", [])
order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
rows = sorted(
    (
        (str(i.get("severity", "")), str(i.get("rule", "")), str(i.get("title", "")))
        for i in items
    ),
    key=lambda r: (order.get(r[0].lower(), 5), r[1], r[2]),
)
header = ("SEVERITY", "RULE", "TITLE")
w0 = max([len(header[0])] + [len(r[0]) for r in rows])
w1 = max([len(header[1])] + [len(r[1]) for r in rows])
for r in [header] + rows:
    print(f"  {r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
print(f"  ({len(rows)} finding{'' if len(rows) == 1 else 's'})")
EOF

echo
echo "S4E is running."
echo "  console:      $GATEWAY/  (sign in as $console_email, password in $password_file)"
echo "  gateway:      $GATEWAY  (Authorization: Bearer \$(cat .local/admin-key))"
echo "  admin key:    $key_file"
echo "  demo target:  $DEMO_URL"
echo "  logs:         $S4E_LOGS_DIR/"
echo "  command line: $BIN/s4e --url $GATEWAY auth login < $key_file"
echo "                $BIN/s4e assets list"
echo "  stop:         scripts/down.sh"

if [[ "$status" == "failed" ]]; then
    s4e_die "demo: scan $run_id failed"
fi
