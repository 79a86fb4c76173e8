#!/usr/bin/env bash
# Brings the database to sql/ with `chatctl migrate` (build/core/chatctl, from `make core`): the
# schema migrations sql/NNN_*.sql each exactly once, in order, tracked in schema_migrations;
# then the function files sql/functions/*.sql, re-applied unless unchanged and still intact in
# the database. All of it runs in one transaction (a running nginx sees the old schema with the old
# functions or the new one with the new), so files must not contain BEGIN/COMMIT.
set -euo pipefail
source "$(dirname "$0")/env.sh"

conninfo="${1:-$CHAT_PG_CONNINFO}"
chatctl="${CHATCTL:-$CHAT_ROOT/build/core/chatctl}"
if [ ! -x "$chatctl" ]; then
    echo "migrate: $chatctl is not built; run make core" >&2
    exit 1
fi

# chatctl prints "applying NNN_name" per schema migration, "N applied, M total", then a line
# per function file (applied and why, or unchanged and skipped) and "functions: ..."
"$chatctl" --conninfo "$conninfo" migrate --dir "$CHAT_ROOT/sql" | while IFS= read -r line; do
    chat_log "migrate: $line"
done
