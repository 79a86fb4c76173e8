#!/usr/bin/env bash
# Applies sql/NNN_*.sql in order, each exactly once and in its own transaction, tracked in schema_migrations.
# (Will move to `chatctl migrate`; until then this is the one place that knows how.)
# Migration files must not contain BEGIN/COMMIT: this script wraps each in a transaction.
set -euo pipefail
source "$(dirname "$0")/env.sh"

conninfo="${1:-$CHAT_PG_CONNINFO}"
psql_chat() { psql -X -q -v ON_ERROR_STOP=1 "$conninfo" "$@"; }

psql_chat -c "CREATE TABLE IF NOT EXISTS schema_migrations (
                  version    text PRIMARY KEY,
                  applied_at timestamptz NOT NULL DEFAULT now())" 2>&1 | grep -v 'already exists, skipping' >&2 || true

applied="$(psql_chat -At -c 'SELECT version FROM schema_migrations')"

shopt -s nullglob
n=0
for f in "$CHAT_ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
    version="$(basename "$f" .sql)"
    if grep -qxF "$version" <<<"$applied"; then
        continue
    fi
    chat_log "migrate: applying $version"
    # One transaction: take the migration lock, claim the version (a concurrent
    # runner fails on the primary key instead of applying twice), run the file.
    psql_chat --single-transaction \
        -c 'SELECT pg_advisory_xact_lock(74061001)' \
        -c "INSERT INTO schema_migrations (version) VALUES ('$version')" \
        -f "$f" >/dev/null
    n=$((n + 1))
done

chat_log "migrate: $n applied, $(psql_chat -At -c 'SELECT count(*) FROM schema_migrations') total"
