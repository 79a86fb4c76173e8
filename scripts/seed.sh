#!/usr/bin/env bash
# Loads the dev seed (sql/seed/dev.sql: FAQ and dev agents); idempotent, safe to run again.
set -euo pipefail
source "$(dirname "$0")/env.sh"

psql -X -q -v ON_ERROR_STOP=1 --single-transaction "$CHAT_PG_CONNINFO" -f "$CHAT_ROOT/sql/seed/dev.sql" >/dev/null
counts="$(psql -X -At "$CHAT_PG_CONNINFO" -c "SELECT format('%s FAQ entries, %s agents', (SELECT count(*) FROM faq_entries), (SELECT count(*) FROM agents))")"
chat_log "seed: $counts"
