#!/usr/bin/env bash
# bench/reports.sh: how long GET /agent/reports' SQL (chat_agent_reports) takes on a million
# conversations. Needs the stack's Postgres (`make up` or `make db migrate`) and chatctl.
#
#   bench/reports.sh                    BENCH_CONVERSATIONS=1000000 (default)
#
# In a scratch schema of the chat database (bench_reports, dropped at the end unless
# BENCH_KEEP=1), migrated by chatctl exactly as `make migrate` does, it writes one site's
# conversations spread over 365 days: 40% escalated (first response and close times set,
# assigned over 20 agents, 3 departments, 5% offline), 30% rated, one FAQ bot answer each
# (so "answered" reads a million messages), feedback on 5% of the answers and 5,000
# unmatched questions (and BENCH_PENDING not yet folded, below); then ANALYZE, and times the report over 365 days, 30 days, and 30
# days of one department (best of 3 runs each, as the API calls it). Never a test: numbers
# for README's Benchmarks.
set -euo pipefail
source "$(dirname "$0")/scratch.sh"

N="${BENCH_CONVERSATIONS:-1000000}"
scratch_schema bench_reports

t0=$(date +%s)
q "INSERT INTO agents (username, display_name, password_hash, role, sites)
   SELECT 'bench' || i, 'Bench ' || i, 'x', 'agent', '{bench}' FROM generate_series(1, 20) i;
   INSERT INTO departments (site, name) SELECT 'bench', 'Dept ' || i FROM generate_series(1, 3) i;"
q "CREATE TEMP TABLE a AS SELECT row_number() OVER () - 1 AS n, id FROM agents;
   CREATE TEMP TABLE d AS SELECT row_number() OVER () - 1 AS n, id FROM departments;
   INSERT INTO conversations (session_id, site, status, created_at, updated_at, requested_agent_at,
                              first_response_at, closed_at, assigned_agent_id, department_id,
                              offline, rating_score, rated_at)
   SELECT 'b' || i, 'bench', 'closed', t, t + interval '20 minutes',
          CASE WHEN esc THEN t + interval '1 minute' END,
          CASE WHEN esc THEN t + interval '1 minute' + (i % 300) * interval '1 second' END,
          t + interval '1 minute' + (i % 3600) * interval '1 second',
          CASE WHEN esc THEN (SELECT id FROM a WHERE a.n = i % 20) END,
          CASE WHEN esc THEN (SELECT id FROM d WHERE d.n = i % 3) END,
          esc AND i % 20 = 0,
          CASE WHEN i % 10 < 3 THEN 1 + i % 5 END,
          CASE WHEN i % 10 < 3 THEN t + interval '30 minutes' END
     FROM (SELECT i, i % 5 < 2 AS esc,
                  timestamptz '2025-12-01 00:00:00+00' + (i::double precision / $N) * interval '365 days' AS t
             FROM generate_series(1, $N) i) g;"
q "INSERT INTO messages (conversation_id, seq, sender_type, content, metadata, created_at)
   SELECT id, 1, 'bot', 'answer', jsonb_build_object('faq', 'entry-' || (abs(hashtext(id::text)) % 12),
                                                     'in_reply_to', 'x'), created_at
     FROM conversations;
   INSERT INTO bot_feedback (message_id, conversation_id, site, faq_slug, helpful, created_at)
   SELECT m.id, m.conversation_id, 'bench', m.metadata->>'faq', m.seq % 2 = 0 OR m.created_at::time > '12:00',
          m.created_at
     FROM messages m TABLESAMPLE BERNOULLI (5);
   INSERT INTO unmatched_questions (site, day, text, count)
   SELECT 'bench', date '2025-12-01' + (i % 365), 'question ' || (i % 400), 1 + i % 7
     FROM generate_series(1, 5000) i;
   ANALYZE conversations; ANALYZE messages; ANALYZE bot_feedback;"
# the counts' table (a view of it and the pending questions since 035_unmatched_pending), and
# BENCH_PENDING (0) questions not folded yet, spread over the 30 days of March (as posted:
# mixed case and spaces, 400 texts)
if [ "$(q "SELECT to_regclass('unmatched_pending') IS NOT NULL")" = t ]; then
    q "INSERT INTO unmatched_pending (site, day, backend, content)
       SELECT 'bench', date '2026-03-01' + (i % 30), i % 4, ' Question  ' || (i % 400) || '?'
         FROM generate_series(1, ${BENCH_PENDING:-0}) i;
       ANALYZE unmatched_counts; ANALYZE unmatched_pending"
else
    q "ANALYZE unmatched_questions"
fi
echo "data: $N conversations, $(q 'SELECT count(*) FROM messages') messages, $(q 'SELECT count(*) FROM bot_feedback') feedback rows in $(( $(date +%s) - t0 )) s"

best() { best_ms "SELECT length(chat_agent_reports($1)::text)"; }  # of one report
dept=$(q "SELECT id FROM departments ORDER BY name LIMIT 1")
echo "psql's connection alone (SELECT 1):    $(best_ms "SELECT 1") ms"
echo "reports, 365 days ($N conversations):   $(best "'bench', '2025-12-01', '2026-12-01', NULL") ms"
echo "reports, 30 days (~$(( N * 30 / 365 )) conversations):  $(best "'bench', '2026-03-01', '2026-03-31', NULL") ms"
echo "reports, 30 days of one department:     $(best "'bench', '2026-03-01', '2026-03-31', '$dept'") ms"
