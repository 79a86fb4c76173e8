#!/usr/bin/env bash
# bench/search.sh: how long the agent views' full-text search (GET /agent/conversations?q=,
# chat_agent_conversations) takes on a million messages. Needs the stack's Postgres (`make up`
# or `make db migrate`) and chatctl.
#
#   bench/search.sh                     BENCH_MESSAGES=1000000 (default)
#
# In a scratch schema of the chat database (bench_search, dropped at the end unless
# BENCH_KEEP=1), migrated by chatctl exactly as `make migrate` does, it writes one site's
# BENCH_MESSAGES messages in conversations of 50 messages each (20,000 for a million), their
# words from a vocabulary of 5,000, plus "parcel" in 20% of the messages, "zebra" in 100 of
# them; then ANALYZE, and times view "all" of an admin, 20 per page, as the API calls it, for
# the rare word, the common word and a word found nowhere (best of 3 runs each, psql's
# connection included). Never a test: numbers for README's Benchmarks.
set -euo pipefail
source "$(dirname "$0")/scratch.sh"

N="${BENCH_MESSAGES:-1000000}"
PER=50
scratch_schema bench_search

t0=$(date +%s)
admin=$(q "INSERT INTO agents (username, display_name, password_hash, role, sites)
           VALUES ('bench-admin', 'Bench Admin', 'x', 'admin', '{bench}') RETURNING id")
q "INSERT INTO conversations (session_id, site, status, created_at, updated_at, closed_at, last_seq)
   SELECT 'b' || i, 'bench', 'closed', t, t + interval '20 minutes', t + interval '20 minutes', $PER
     FROM (SELECT i, timestamptz '2025-12-01 00:00:00+00' + i * interval '26 minutes' AS t
             FROM generate_series(1, ($N + $PER - 1) / $PER) i) g;
   CREATE TEMP TABLE c AS SELECT row_number() OVER (ORDER BY created_at) - 1 AS n, id, created_at
     FROM conversations;
   CREATE UNIQUE INDEX ON c (n);
   INSERT INTO messages (conversation_id, seq, sender_type, content, created_at)
   SELECT c.id, 1 + (i % $PER), CASE WHEN i % 2 = 0 THEN 'customer' ELSE 'agent' END,
          'hello word' || (i * 7919 % 5000) || ' about word' || (i * 104729 % 5000)
            || CASE WHEN i % 5 = 0 THEN ' where is my parcel' ELSE '' END
            || CASE WHEN i % ($N / 100) = 7 THEN ' zebra' ELSE '' END,
          c.created_at + (i % $PER) * interval '10 seconds'
     FROM generate_series(0, $N - 1) i JOIN c ON c.n = i / $PER;
   ANALYZE conversations; ANALYZE messages;"
echo "data: $(q 'SELECT count(*) FROM conversations') conversations, $(q 'SELECT count(*) FROM messages') messages in $(( $(date +%s) - t0 )) s"

best() {  # of one page of view "all" searching $1
    best_ms "SELECT length(chat_agent_conversations('$admin', 'admin', 'all', 20, NULL, NULL, 'bench',
                                                    NULL, NULL, NULL, '$1')::text)"
}
echo "psql's connection alone (SELECT 1):    $(best_ms "SELECT 1") ms"
echo "search q=zebra (rare, $(q "SELECT count(*) FROM messages WHERE content LIKE '%zebra%'") messages):  $(best zebra) ms"
echo "search q=parcel (in 20% of the messages):  $(best parcel) ms"
echo "search q=nowhere (no match):                $(best nowhere) ms"
