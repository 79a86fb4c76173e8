#!/usr/bin/env bash
# Loads the dev seed: the FAQ (sql/seed/faq.json, through `chatctl faq import`) and the dev
# agents, departments and canned replies (sql/seed/dev.sql, scrypt hashes); idempotent, safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"

chatctl="${CHATCTL:-$CHAT_ROOT/build/core/chatctl}"
if [ ! -x "$chatctl" ]; then
    echo "seed: $chatctl is not built; run make core" >&2
    exit 1
fi

# --keep-existing: only slugs that are missing, so FAQ edits made in the dev admin survive
"$chatctl" --conninfo "$CHAT_PG_CONNINFO" faq import --keep-existing "$CHAT_ROOT/sql/seed/faq.json" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$CHAT_PG_CONNINFO" -f "$CHAT_ROOT/sql/seed/dev.sql" >/dev/null
counts="$(psql -X -At "$CHAT_PG_CONNINFO" -c "SELECT format('%s FAQ entries, %s agents, %s departments, %s canned replies', (SELECT count(*) FROM faq_entries), (SELECT count(*) FROM agents), (SELECT count(*) FROM departments), (SELECT count(*) FROM canned_replies))")"
chat_log "seed: $counts"
