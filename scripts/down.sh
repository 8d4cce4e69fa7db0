#!/usr/bin/env bash
# Stops what scripts/up.sh started (the seven services and the demo target): SIGTERM, a
# deadline for in-flight work, then SIGKILL. The infrastructure (PostgreSQL, Redis, RabbitMQ,
# MongoDB / nx-27017) keeps running.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [[ -d "$S4E_PIDS_DIR" ]] && compgen -G "$S4E_PIDS_DIR/*.pid" >/dev/null; then
    s4e_stop_fleet "${S4E_STOP_TIMEOUT:-30}"
    s4e_log "fleet: down (infrastructure left running)"
else
    s4e_log "fleet: nothing to stop"
fi
