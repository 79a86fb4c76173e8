#!/usr/bin/env bash
# bench/batch-cpu.sh [K...]: Postgres's CPU per customer post by posts per call. pgbench (1 client,
# BENCH_SECONDS each, default 10) calls chat_customer_post_batch_v2 (what core calls) with K posts a call
# (text + FAQ reply, automated conversations, no client_id), and the backends' user+sys CPU from
# /proc gives milliseconds of Postgres per post. Against a running stack (make up, same ports):
# it opens BENCH_BATCH_SESSIONS (3000) sessions through the API first, writes into them, and
# keeps them. Default K: 1 4 8 16 32. What README's "Where Postgres's CPU per post goes" shows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
SECONDS_EACH="${BENCH_SECONDS:-10}"
N="${BENCH_BATCH_SESSIONS:-3000}"
api="http://127.0.0.1:$CHAT_PORT/chat/api/v1"
pg=(-h 127.0.0.1 -p "$CHAT_PG_PORT" -U chat)
export PGPASSWORD=chat
[ "$#" -gt 0 ] || set -- 1 4 8 16 32
curl -fsS -o /dev/null "$api/health" || { echo "nothing answers $api/health: make up first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# the sessions: opened through the API (chat_session_rate of the dev config allows it), their
# conversations found by their creation after this script started
since="$(psql "${pg[@]}" -qAtX chat -c 'SELECT now()')"
{ printf 'silent\nshow-error\nfail\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{}"\n'
  for ((i = 0; i < N; i++)); do printf 'url = "%s/session"\n' "$api"; done; } > "$work/rc"
curl -K "$work/rc" > /dev/null
PGOPTIONS="-c client_min_messages=warning" psql "${pg[@]}" -qAtX chat -v ON_ERROR_STOP=1 -c "CREATE SCHEMA IF NOT EXISTS bench;
    DROP TABLE IF EXISTS bench.batch_sids;
    CREATE TABLE bench.batch_sids AS
        SELECT row_number() OVER (ORDER BY created_at, id) AS n, session_id AS sid
          FROM conversations WHERE created_at >= '$since' AND status = 'automated';
    CREATE INDEX ON bench.batch_sids (n)" > /dev/null
have="$(psql "${pg[@]}" -qAtX chat -c 'SELECT count(*) FROM bench.batch_sids')"
[ "$have" -ge 64 ] || { echo "only $have new sessions" >&2; exit 1; }

# the backends' CPU: ticks, used
# shellcheck source=/dev/null
source "$here/backend-ticks.sh"
hz="$(getconf CLK_TCK)"
echo "posts per call | calls/s | posts/s | Postgres ms per post"
for k in "$@"; do
    cat > "$work/s.sql" <<SQL
\\set off random(0, $have - $k - 1)
SELECT count(*) FROM chat_customer_post_batch_v2(
    (SELECT array_agg(sid ORDER BY n) FROM bench.batch_sids WHERE n > :off AND n <= :off + $k),
    array_fill(NULL::uuid, ARRAY[$k]), array_fill('text'::text, ARRAY[$k]),
    array_fill('where is my order please'::text, ARRAY[$k]),
    array_fill('You can track your order from the link in your confirmation email.'::text, ARRAY[$k]),
    array_fill('{"faq_id":"1","score":0.8}'::jsonb, ARRAY[$k]));
SQL
    pgbench "${pg[@]}" -n -c 1 -f "$work/s.sql" -T "$SECONDS_EACH" chat > "$work/out" 2>&1 &
    sleep 1; ticks > "$work/a"; sleep $((SECONDS_EACH - 2)); ticks > "$work/b"
    wait
    a=0; b="$(used "$work/a" "$work/b")"
    tps="$(grep -oP 'tps = \K[0-9.]+' "$work/out" | head -1)"
    awk -v k="$k" -v tps="$tps" -v a="$a" -v b="$b" -v s="$((SECONDS_EACH - 2))" -v hz="$hz" 'BEGIN {
        printf "%d | %.0f | %.0f | %.3f\n", k, tps, tps * k, (b - a) * 1000 / hz / s / (tps * k) }'
done
