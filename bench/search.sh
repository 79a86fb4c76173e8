#!/usr/bin/env bash
# bench/search.sh: how long the agent views' full-text search (GET /agent/conversations?q=,
# chat_agent_conversations) takes on a million messages. Needs the stack's Postgres (`make up`
# or `make db migrate`) and chatctl.
#
#   bench/search.sh                     BENCH_MESSAGES=1000000 (default)
#
# In a scratch schema of the chat database (bench_search, or BENCH_SCHEMA; dropped at the end
# unless BENCH_KEEP=1), migrated by chatctl exactly as `make migrate` does, it writes BENCH_MESSAGES
# messages in conversations of 50 (40,000 for two million), a tenth of them of another site
# ("other"), the rest of site "bench": every tenth message is the bot's fallback reply (it says
# "rephrase": a word in every conversation), every tenth a FAQ answer, the others customers' and
# agents' words from a vocabulary of 5,000, plus "parcel" in 20% of them, "zebra" in 100,
# "quokka" in every message of the other site and 10 of this one; 2 % of the conversations wait
# in the queue, 2 % are bench-agent's active chats, 5 % closed ones it handled. Then ANALYZE,
# and times every view (queue, active, closed, all) of an admin and of bench-agent, 20 per
# page, for each word: frequent, rare, frequent only on another site, found nowhere (the
# frequent ones are walked in the view's order, the rare ones searched first: README "Agent
# views: full-text search"). Never a test: numbers for README's Benchmarks.
set -euo pipefail
source "$(dirname "$0")/scratch.sh"

N="${BENCH_MESSAGES:-1000000}"
PER=50
scratch_schema "${BENCH_SCHEMA:-bench_search}"

t0=$(date +%s)
FALLBACK="Sorry, I couldn''t find an answer to that. You can rephrase, pick a topic below, or talk to a person."
FAQ="Orders ship within 2 business days and arrive in 3 to 5 days; you get a tracking link by email."
admin=$(q "INSERT INTO agents (username, display_name, password_hash, role, sites)
           VALUES ('bench-admin', 'Bench Admin', 'x', 'admin', '{bench,other}') RETURNING id")
agent=$(q "INSERT INTO agents (username, display_name, password_hash, role, sites)
           VALUES ('bench-agent', 'Bench Agent', 'x', 'agent', '{bench}') RETURNING id")
# Conversation n: site "other" when n % 10 = 9 (another tenant, where "quokka" is in every
# message); of site "bench", n % 50 = 3 waits in the queue, n % 50 = 4 is bench-agent's
# active chat, n % 20 = 5 a closed one bench-agent handled, the rest closed. Every 10th
# message (seq 2, 12, ...) is the bot's fallback reply (it says "rephrase"), seq 7, 17, ... a
# FAQ answer: the bot's texts, once each in bot_texts; the others customer and agent messages.
q "INSERT INTO conversations (session_id, site, status, assigned_agent_id, queued_at,
                              created_at, updated_at, closed_at, last_seq)
   SELECT 'b' || i, CASE WHEN i % 10 = 9 THEN 'other' ELSE 'bench' END,
          CASE WHEN i % 10 <> 9 AND i % 50 IN (3, 4) THEN 'agent' ELSE 'closed' END,
          CASE WHEN i % 10 <> 9 AND (i % 50 = 4 OR i % 20 = 5) THEN '$agent'::uuid END,
          CASE WHEN i % 10 <> 9 AND i % 50 IN (3, 4) THEN t + interval '1 minute' END,
          t, t + interval '20 minutes',
          CASE WHEN i % 10 = 9 OR i % 50 NOT IN (3, 4) THEN t + interval '20 minutes' END, $PER
     FROM (SELECT i, timestamptz '2025-12-01 00:00:00+00' + i * interval '26 minutes' AS t
             FROM generate_series(1, ($N + $PER - 1) / $PER) i) g;
   INSERT INTO conversation_minutes (id, site, updated_minute)
   SELECT id, site, chat_minute(updated_at) FROM conversations;
   CREATE TEMP TABLE c AS SELECT row_number() OVER (ORDER BY created_at) - 1 AS n, id, created_at, site
     FROM conversations;
   CREATE UNIQUE INDEX ON c (n);
   SELECT chat_bot_texts_add(ARRAY['$FALLBACK', '$FAQ']);
   INSERT INTO messages (conversation_id, seq, sender_type, content, created_at)
   SELECT c.id, 1 + (i % $PER),
          CASE WHEN i % 10 IN (1, 6) THEN 'bot' WHEN i % 2 = 0 THEN 'customer' ELSE 'agent' END,
          CASE WHEN i % 10 = 1 THEN '$FALLBACK' WHEN i % 10 = 6 THEN '$FAQ'
          ELSE 'hello word' || (i * 7919 % 5000) || ' about word' || (i * 104729 % 5000)
            || CASE WHEN i % 5 = 0 THEN ' where is my parcel' ELSE '' END
            || CASE WHEN i % ($N / 100) = 7 THEN ' zebra' ELSE '' END
            || CASE WHEN c.site = 'other' OR i % ($N / 10) = 8 THEN ' quokka' ELSE '' END END,
          c.created_at + (i % $PER) * interval '10 seconds'
     FROM generate_series(0::bigint, $N - 1) i JOIN c ON c.n = i / $PER;
   ANALYZE conversations; ANALYZE conversation_minutes; ANALYZE messages; ANALYZE bot_texts;"
echo "data: $(q 'SELECT count(*) FROM conversations') conversations, $(q 'SELECT count(*) FROM messages') messages in $(( $(date +%s) - t0 )) s"

# Each view of an admin and of bench-agent, 20 per page as the API calls it, for each word: the
# best of 3 calls, timed in the database (clock_timestamp around the call, one session: no
# connection in it; the first call of each plans it).
echo "words: rephrase (the bot's fallback, $(q "SELECT count(*) FROM messages WHERE content LIKE '%rephrase%'") messages), parcel (20 % of the others), zebra (rare: $(q "SELECT count(*) FROM messages WHERE content LIKE '%zebra%'")), quokka (in every message of the other site, $(q "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.site = 'bench' AND content LIKE '%quokka%'") of this one), nowhere (no match)"
echo 'view (ms, best of 3)  rephrase    parcel     zebra    quokka   nowhere'
q "CREATE FUNCTION pg_temp.best(p_sql text) RETURNS numeric LANGUAGE plpgsql AS \$f\$
   DECLARE t timestamptz; b numeric; x text;
   BEGIN
       FOR i IN 1..3 LOOP
           t := clock_timestamp(); EXECUTE p_sql INTO x;
           b := least(b, extract(epoch FROM clock_timestamp() - t) * 1000);
       END LOOP;
       RETURN round(b, 1);
   END \$f\$;
   SELECT rpad(r || ' ' || v, 20)
          || string_agg(lpad(pg_temp.best(format(
                 'SELECT length(chat_agent_conversations(%L, %L, %L, 20, NULL, NULL, ''bench'',
                                                         NULL, NULL, NULL, %L)::text)',
                 (SELECT id FROM agents WHERE username = 'bench-' || r), r, v, w))::text, 10), '' ORDER BY wo)
     FROM unnest('{admin,agent}'::text[]) r,
          unnest('{queue,active,closed,all}'::text[]) WITH ORDINALITY vv(v, vo),
          unnest('{rephrase,parcel,zebra,quokka,nowhere}'::text[]) WITH ORDINALITY ww(w, wo)
    GROUP BY r, v, vo ORDER BY r, vo"
echo "end to end, psql's connection included (best of 3): SELECT 1 $(best_ms "SELECT 1") ms, admin all q=rephrase $(best_ms "SELECT length(chat_agent_conversations('$admin', 'admin', 'all', 20, NULL, NULL, 'bench', NULL, NULL, NULL, 'rephrase')::text)") ms"
