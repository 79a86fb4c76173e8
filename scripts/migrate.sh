#!/usr/bin/env bash
# Applies sql/NNN_*.sql in order, each exactly once and in its own transaction, tracked in
# schema_migrations: `chatctl migrate` does the work (build/core/chatctl, from `make core`).
# Migration files must not contain BEGIN/COMMIT: chatctl wraps each in a transaction.
set -euo pipefail
source "$(dirname "$0")/env.sh"

conninfo="${1:-$CHAT_PG_CONNINFO}"
chatctl="${CHATCTL:-$CHAT_ROOT/build/core/chatctl}"
if [ ! -x "$chatctl" ]; then
    echo "migrate: $chatctl is not built; run make core" >&2
    exit 1
fi

# chatctl prints "applying NNN_name" per file and "N applied, M total" at the end
"$chatctl" --conninfo "$conninfo" migrate --dir "$CHAT_ROOT/sql" | while IFS= read -r line; do
    chat_log "migrate: $line"
done
