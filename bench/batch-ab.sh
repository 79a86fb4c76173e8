#!/usr/bin/env bash
# bench/batch-ab.sh A B [K]: Postgres's CPU per customer post of two schema versions, alternated.
# A and B are sql/ trees: a git revision (its sql/, via git archive) or "." (this checkout's sql/).
# Each is migrated by chatctl into a scratch schema of the stack's chat database (bench_ab_a,
# bench_ab_b) and given the dev seed (sql/seed/dev.sql: agents, departments); BENCH_BATCH_SESSIONS
# (3000) automated conversations are opened in each by chat_open_session (as POST /session does), then BENCH_ROUNDS (6) rounds run pgbench (1 client,
# BENCH_SECONDS (6) each) calling chat_customer_post_batch with K (16) posts a call (text + FAQ
# reply, no client_id) on A and on B, in the order AB BA AB ..., and the cluster's client backends'
# user+sys CPU (/proc) gives microseconds of Postgres per post. BENCH_TOGETHER=1 runs A and B at
# once each round, each backend timed alone (the better comparison on a shared machine). Needs
# only Postgres (make db migrate). BENCH_KEEP=1 keeps the schemas. BENCH_MIX=1: posts as bench/post.lua
# makes them (client_ids, a third answered by the fallback), below. BENCH_INSTRUCTIONS=1: exact
# instruction counts instead of CPU time (below). BENCH_CORE=1: the call as core's pool sends it
# (below), with BENCH_MODE_A / BENCH_MODE_B as pgbench's -M for each variant (extended: the SQL
# parsed and planned on every call, as with PQsendQueryParams; prepared: once per connection).
# BENCH_FUNCTION_A / BENCH_FUNCTION_B: the batch function each variant calls (default
# chat_customer_post_batch; e.g. chat_customer_post_batch_v2, what core calls). BENCH_ROWS=1: the
# calls SELECT * (every column of the answer written out, as core's call has them: uuid, jsonb and
# bigint output functions count) instead of count(*).
# BENCH_COLD=1: a real chat's posts, each more than a minute after its conversation's last change
# (its minute changes: before 034_conversation_minutes an indexed column of conversations, not HOT; since, the narrow row
# conversation_minutes, the conversation HOT): before every round each
# variant's conversations are set an hour back, and each round prints the share of its
# conversation updates that were HOT (pg_stat_user_tables); give it BENCH_BATCH_SESSIONS well above
# a round's posts (e.g. 30000), since a conversation's second post in a round is within its minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
[ "$#" -ge 2 ] || { echo "usage: $0 A B [K]   (A, B: a git revision or .)" >&2; exit 2; }
A="$1" B="$2" K="${3:-16}"
SECONDS_EACH="${BENCH_SECONDS:-6}"
ROUNDS="${BENCH_ROUNDS:-6}"
N="${BENCH_BATCH_SESSIONS:-3000}"
chatctl="${CHATCTL:-$CHAT_ROOT/build/core/chatctl}"
pg=(-h 127.0.0.1 -p "$CHAT_PG_PORT" -U chat)
export PGPASSWORD=chat
work="$(mktemp -d)"
cleanup() {
    rm -rf "$work"
    [ "${BENCH_KEEP:-0}" = 1 ] || psql "${pg[@]}" -qAtX chat -c 'DROP SCHEMA IF EXISTS bench_ab_a CASCADE; DROP SCHEMA IF EXISTS bench_ab_b CASCADE' >/dev/null 2>&1 || true
}
trap cleanup EXIT

# the sql/ tree of a variant into $work/<v>/sql
tree() {  # rev-or-dot variant
    mkdir -p "$work/$2"
    if [ "$1" = . ]; then cp -r "$CHAT_ROOT/sql" "$work/$2/sql"
    else git -C "$CHAT_ROOT" archive "$1" sql | tar -x -C "$work/$2"; fi
}
setup() {  # variant
    local s="bench_ab_$1"
    psql "${pg[@]}" -qAtX chat -c "DROP SCHEMA IF EXISTS $s CASCADE; CREATE SCHEMA $s" >/dev/null 2>&1
    "$chatctl" --conninfo "$CHAT_PG_CONNINFO options='-c search_path=$s -c client_min_messages=warning'" \
        migrate --dir "$work/$1/sql" >/dev/null
    # the dev seed's agents and departments, as the dev stack has them (a post's answer looks up
    # its conversation's agent and department: empty tables made those lookups free here)
    PGOPTIONS="-c search_path=$s -c client_min_messages=warning" psql "${pg[@]}" -qAtX chat -v ON_ERROR_STOP=1 \
        --single-transaction -f "$work/$1/sql/seed/dev.sql" >/dev/null
    PGOPTIONS="-c search_path=$s -c client_min_messages=warning" psql "${pg[@]}" -qAtX chat -v ON_ERROR_STOP=1 -c "
        SELECT count(chat_open_session('ab-' || g, NULL, 'Hello! How can I help?', 0, 'default'))
          FROM generate_series(1, $N) g;
        CREATE TABLE batch_sids AS SELECT g AS n, 'ab-' || g AS sid FROM generate_series(1, $N) g;
        CREATE INDEX ON batch_sids (n); ANALYZE batch_sids; ANALYZE conversations" >/dev/null
}
tree "$A" a; tree "$B" b
setup a; setup b
# the calls of each variant: $work/s.sql with its batch function (and SELECT *: BENCH_ROWS=1)
variant_script() {  # variant
    local fn
    if [ "$1" = a ]; then fn="${BENCH_FUNCTION_A:-chat_customer_post_batch}"; else fn="${BENCH_FUNCTION_B:-chat_customer_post_batch}"; fi
    sed -e "s/\bchat_customer_post_batch(/$fn(/" \
        -e "$([ "${BENCH_ROWS:-0}" = 1 ] && echo 's/^SELECT count(\*) FROM /SELECT * FROM /' || echo 's/^//')" \
        "$work/s.sql" > "$work/s_$1.sql"
}

if [ "${BENCH_CORE:-0}" = 1 ]; then
# BENCH_CORE=1: core's statement (SELECT * FROM chat_customer_post_batch($1::text[], ...)) with its
# six array literals as parameters, as the pool sends a batch; the literals of each offset are
# read first from a table made here (one primary-key lookup per call, alike in both variants)
for v in a b; do
    PGOPTIONS="-c search_path=bench_ab_$v -c client_min_messages=warning" psql "${pg[@]}" -qAtX chat -v ON_ERROR_STOP=1 -c "
        CREATE TABLE batch_args AS
        SELECT o AS off,
               (SELECT array_agg(sid ORDER BY n) FROM batch_sids WHERE n > o AND n <= o + $K)::text AS s,
               array_fill(NULL::uuid, ARRAY[$K])::text AS c, array_fill('text'::text, ARRAY[$K])::text AS k,
               array_fill('where is my order please'::text, ARRAY[$K])::text AS t,
               array_fill('You can track your order from the link in your confirmation email.'::text, ARRAY[$K])::text AS b,
               array_fill('{\"faq_id\":\"1\",\"score\":0.8}'::jsonb, ARRAY[$K])::text AS m
          FROM generate_series(0, $N - $K - 1) o;
        ALTER TABLE batch_args ADD PRIMARY KEY (off); ANALYZE batch_args" >/dev/null
done
cat > "$work/s.sql" <<SQL
\\set off random(0, $N - $K - 1)
SELECT s, c, k, t, b, m FROM batch_args WHERE off = :off \\gset
SELECT * FROM chat_customer_post_batch(:s::text[], :c::uuid[], :k::text[], :t::text[], :b::text[], :m::jsonb[]);
SQL
elif [ "${BENCH_MIX:-0}" = 1 ]; then
# BENCH_MIX=1: as bench/post.lua posts: a client_id each, its three texts in turn, the third
# answered by the bot's fallback (counted in the reports' unmatched questions)
cat > "$work/s.sql" <<SQL
\\set off random(0, $N - $K - 1)
SELECT count(*) FROM chat_customer_post_batch(
    (SELECT array_agg(sid ORDER BY n) FROM batch_sids WHERE n > :off AND n <= :off + $K),
    (SELECT array_agg(gen_random_uuid()) FROM generate_series(1, $K)), array_fill('text'::text, ARRAY[$K]),
    (SELECT array_agg((ARRAY['How long does shipping take?', 'what is your return policy',
                             'hello, is anyone there'])[1 + g % 3] ORDER BY g) FROM generate_series(1, $K) g),
    array_fill('You can track your order from the link in your confirmation email.'::text, ARRAY[$K]),
    (SELECT array_agg(CASE WHEN g % 3 = 2 THEN '{"fallback":true,"offer_agent":true}'
                           ELSE '{"faq":"shipping","score":0.8}' END::jsonb ORDER BY g)
       FROM generate_series(1, $K) g));
SQL
else
cat > "$work/s.sql" <<SQL
\\set off random(0, $N - $K - 1)
SELECT count(*) FROM chat_customer_post_batch(
    (SELECT array_agg(sid ORDER BY n) FROM batch_sids WHERE n > :off AND n <= :off + $K),
    array_fill(NULL::uuid, ARRAY[$K]), array_fill('text'::text, ARRAY[$K]),
    array_fill('where is my order please'::text, ARRAY[$K]),
    array_fill('You can track your order from the link in your confirmation email.'::text, ARRAY[$K]),
    array_fill('{"faq_id":"1","score":0.8}'::jsonb, ARRAY[$K]));
SQL
fi

variant_script a; variant_script b
# BENCH_GROW=P (or BENCH_GROW_A / BENCH_GROW_B, one per variant): before anything is measured, P
# posts (the variant's own calls above, K conversations a call) to every conversation, so that each
# holds 1 + 2P messages (the greeting, then each post and the bot's reply), as the bench's
# conversations grow from run to run. BENCH_FILL_A / BENCH_FILL_B = P: as many more conversations
# in both variants (sessions abf-1 .., never posted to by the measured calls), given P posts each in
# that variant: tables as large as a grown variant's while the measured conversations stay short.
# So BENCH_GROW_A=23 BENCH_FILL_B=23 with A = B compares a post to conversations of ~48 and ~2
# messages in tables of the same size. Then, when either variant grew or filled, both variants'
# pending unanswered questions are folded (chat_unmatched_fold, as the worker's timer does) and
# their conversations, narrow rows and messages vacuumed and analyzed, alike (an autovacuum run in
# one variant and not the other would change its plans).
grow_a="${BENCH_GROW_A:-${BENCH_GROW:-0}}" grow_b="${BENCH_GROW_B:-${BENCH_GROW:-0}}"
fill_a="${BENCH_FILL_A:-0}" fill_b="${BENCH_FILL_B:-0}"
grow() {  # variant posts-a-conversation first-offset: posts to the sessions first-offset + 1 .. + N (whole calls)
    local p o
    for ((p = 0; p < $2; p++)); do
        for ((o = $3; o + K <= $3 + N; o += K)); do
            grep -v '^\\set' "$work/s_$1.sql" | tr '\n' ' ' | sed "s/:off/$o/g"; echo
        done
    done > "$work/grow.sql"
    PGOPTIONS="-c search_path=bench_ab_$1 -c client_min_messages=warning" psql "${pg[@]}" -qAtX chat \
        -v ON_ERROR_STOP=1 -f "$work/grow.sql" >/dev/null
}
if [ "$fill_a" -gt 0 ] || [ "$fill_b" -gt 0 ]; then
    for v in a b; do
        PGOPTIONS="-c search_path=bench_ab_$v -c client_min_messages=warning" psql "${pg[@]}" -qAtX chat -v ON_ERROR_STOP=1 -c "
            SELECT count(chat_open_session('abf-' || g, NULL, 'Hello! How can I help?', 0, 'default'))
              FROM generate_series(1, $N) g;
            INSERT INTO batch_sids SELECT $N + g, 'abf-' || g FROM generate_series(1, $N) g" >/dev/null
    done
    grow a "$fill_a" "$N"; grow b "$fill_b" "$N"
fi
if [ "$grow_a" -gt 0 ] || [ "$grow_b" -gt 0 ] || [ "$fill_a" -gt 0 ] || [ "$fill_b" -gt 0 ]; then
    grow a "$grow_a" 0; grow b "$grow_b" 0
    for v in a b; do
        psql "${pg[@]}" -qAtX chat -c "SET search_path = bench_ab_$v;
            DO \$\$ BEGIN IF to_regproc('chat_unmatched_fold') IS NOT NULL THEN PERFORM chat_unmatched_fold(NULL); END IF; END \$\$" >/dev/null
        minutes="$(psql "${pg[@]}" -qAtX chat -c "SELECT coalesce(to_regclass('bench_ab_$v.conversation_minutes')::text, '')")"
        psql "${pg[@]}" -qAtX chat -c "VACUUM ANALYZE bench_ab_$v.conversations, bench_ab_$v.messages, bench_ab_$v.batch_sids${minutes:+, $minutes}" >/dev/null
    done
    for v in a b; do
        echo "$v: $(psql "${pg[@]}" -qAtX chat -c "SELECT count(*) || ' messages, ' || count(DISTINCT conversation_id) || ' conversations, the measured ones ' || (SELECT round(avg(c.last_seq), 1) FROM bench_ab_$v.conversations c JOIN bench_ab_$v.batch_sids b ON b.sid = c.session_id WHERE b.n <= $N) || ' messages long' FROM bench_ab_$v.messages")"
    done
fi
# a variant's conversations an hour older: their updated_at, and where the variant has the site
# lists' narrow rows (034_conversation_minutes) their minutes too, as a writer keeps them
age_sql="UPDATE conversations SET updated_at = updated_at - interval '1 hour';
    DO \$\$ BEGIN IF to_regclass('conversation_minutes') IS NOT NULL THEN
        UPDATE conversation_minutes SET updated_minute = updated_minute - interval '1 hour'; END IF; END \$\$"

# BENCH_INSTRUCTIONS=1: instead of timed rounds, the instructions Postgres executes per post, counted
# exactly by valgrind's callgrind (repeatable whatever else the machine does: the rounds above vary by
# a fifth on a shared machine, more than most changes). Postgres is stopped for it and runs in
# single-user mode under valgrind (slow: ~50x), once with BENCH_WARM (5) calls and once with
# BENCH_WARM + BENCH_CALLS (40) calls of the script above (its offsets fixed, each conversation
# posted to once over both runs, every conversation's last change an hour old), per variant; the difference over BENCH_CALLS * K is the instructions per post, without the
# backend's start, its first call's planning and the shutdown. Then Postgres starts again (nginx's
# pool reconnects by itself). The calls' own SQL around the batch (its arrays built by subqueries,
# parsed and planned each call) counts in both alike. BENCH_GIN_CLEAN=1 ends each counted run with
# gin_clean_pending_list of messages_content_fts_idx (where the variant has it): the merge of the
# full-text index's pending list that the worker's timer runs off the post path (98_search_index)
# counts with the posts whose words it merges. BENCH_NOSEQ=1 counts with enable_seqscan off: the
# scratch schemas' few thousand rows make sequential scans the cheaper plan for a statement over a
# table a variant adds (a join of the batch's 16 rows to a new 3 000-row table: a scan of all of
# it per call, +23 %), where a shop's table of millions gets index lookups. BENCH_FOLD=1 ends each
# counted run with chat_unmatched_fold (where the variant has it, 035_unmatched_pending): the fold
# of the pending unanswered questions that the worker's timer runs off the post path counts with
# the posts that appended them. BENCH_CALLGRIND_DIR=dir (writable by postgres) keeps each counted
# run's profile there (<variant>.<calls>.out: callgrind_annotate --inclusive=yes shows where).
# BENCH_WARM_MINUTE=1 counts warm posts instead (a chat's next post within the minute of its last
# change, its narrow row conversation_minutes unchanged: most posts under the real load): each
# counted run first sets the conversations both runs post to (and their narrow rows) to its
# clock, in both runs alike (each run starts at a minute's start), and reports its cold posts
# (a minute's end fell among its posts: run it again). BENCH_VACUUM=1 vacuums a variant's conversations and narrow rows before each
# counted run: its posts then prune no dead rows of the aging (a prune in one variant's runs and
# not in the other's, as the heap's state fell, made B/A of the same trees differ by 4 %).
if [ "${BENCH_INSTRUCTIONS:-0}" = 1 ]; then
    command -v valgrind >/dev/null || { echo "batch-ab: valgrind is missing (apt-get install -y valgrind)" >&2; exit 1; }
    warm="${BENCH_WARM:-5}" calls="${BENCH_CALLS:-40}"
    script() {  # variant first-call count: the calls as lines (single-user mode reads a query a line)
        echo "SET search_path = bench_ab_$1;"; [ "${BENCH_NOSEQ:-0}" != 1 ] || echo "SET enable_seqscan = off;"
        local posted=$(( (2 * warm + calls) * K ))  # the sessions both runs post to: 1 ..
        [ "${BENCH_WARM_MINUTE:-0}" != 1 ] || echo "CREATE TEMP TABLE bench_warm AS SELECT chat_minute(clock_timestamp()) AS u, clock_timestamp() AS t; UPDATE conversations c SET updated_at = w.t FROM batch_sids b, bench_warm w WHERE b.n <= $posted AND c.session_id = b.sid; UPDATE conversation_minutes r SET updated_minute = w.u FROM conversations c, batch_sids b, bench_warm w WHERE b.n <= $posted AND c.session_id = b.sid AND r.id = c.id;"
        local c
        for ((c = $2; c < $2 + $3; c++)); do
            grep -v '^\\set' "$work/s_$1.sql" | tr '\n' ' ' | sed "s/:off/$(( (c * K) % (N - K) ))/g"; echo
        done
        [ "${BENCH_FOLD:-0}" != 1 ] || echo "DO \$\$ BEGIN IF to_regproc('chat_unmatched_fold') IS NOT NULL THEN PERFORM chat_unmatched_fold(NULL); END IF; END \$\$;"
        [ "${BENCH_GIN_CLEAN:-0}" != 1 ] || echo "SELECT gin_clean_pending_list(c.oid) FROM pg_class c WHERE c.relname = 'messages_content_fts_idx' AND c.relnamespace = 'bench_ab_$1'::regnamespace;"
        [ "${BENCH_WARM_MINUTE:-0}" != 1 ] || echo "SELECT 'coldposts=' || count(*) FROM conversation_minutes r, conversations c, batch_sids b, bench_warm w WHERE b.n <= $posted AND c.session_id = b.sid AND r.id = c.id AND r.updated_minute <> w.u;"
    }
    vacuum() {  # variant
        [ "${BENCH_VACUUM:-0}" = 1 ] || return 0
        "$here/../scripts/db.sh" start >/dev/null
        psql "${pg[@]}" -qAtX chat -c "VACUUM bench_ab_$1.conversations, bench_ab_$1.conversation_minutes" >/dev/null
        "$here/../scripts/db.sh" stop >/dev/null
    }
    count() {  # variant first-call calls: instructions of a single-user backend running them
        script "$1" "$2" "$3" > "$work/one.sql"
        local out=/dev/null
        if [ -n "${BENCH_CALLGRIND_DIR:-}" ]; then out="$BENCH_CALLGRIND_DIR/$1.$3.out"; fi
        vacuum "$1"
        # warm: started at a minute's start (its first call, planned under valgrind, is slow: a
        # minute's end between the warming and the posts made every post of a run cold)
        if [ "${BENCH_WARM_MINUTE:-0}" = 1 ]; then while [ "$(date +%-S)" -gt 1 ]; do sleep 0.5; done; fi
        (cd / && runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$out" \
            "$PG_BIN/postgres" --single -D "$PGDATA" -c shared_buffers=128MB -c full_page_writes=off chat) < "$work/one.sql" > "$work/run.out" 2>&1
        grep -o 'coldposts=[0-9]*' "$work/run.out" | sed "s/^/batch-ab: $1's run of $3 calls: /" >&2 || true
        grep -oP 'Collected : \K[0-9]+' "$work/run.out"
    }
    # every conversation last changed an hour ago: each post's update is then non-HOT alike (its
    # updated_minute, an indexed column, changes: 030_hot_post_update), whatever minute valgrind's
    # slow runs fall in (HOT or not by the clock made the counts differ by a sixth between runs)
    for v in a b; do
        # (in the variant's search_path: a trigger it fires names its tables unqualified, as every function does)
        psql "${pg[@]}" -qAtX chat -c "SET search_path = bench_ab_$v; $age_sql" >/dev/null
    done
    "$here/../scripts/db.sh" stop >/dev/null
    trap '"$here/../scripts/db.sh" start >/dev/null; cleanup' EXIT
    echo "A=$A B=$B, $K posts per call; Postgres instructions per post (callgrind, $calls calls after $warm)"
    for v in a b; do
        # the two runs post to different conversations, each posted to once in all
        w="$(count "$v" $((warm + calls)) "$warm")"; f="$(count "$v" 0 $((warm + calls)))"
        echo "$v $(( (f - w) / (calls * K) ))" | tee -a "$work/ins"
    done
    awk '{x[$1] = $2} END {printf "B/A %.4f\n", x["b"] / x["a"]}' "$work/ins"
    exit 0
fi

# the backends' CPU: ticks, used
# shellcheck source=/dev/null
source "$here/backend-ticks.sh"
hz="$(getconf CLK_TCK)"
mode() {  # variant: pgbench's -M for it (BENCH_MODE_A, BENCH_MODE_B), or nothing
    local m
    if [ "$1" = a ]; then m="${BENCH_MODE_A:-}"; else m="${BENCH_MODE_B:-}"; fi
    [ -z "$m" ] || echo "-M $m"
}
one() {  # variant: prints "us-per-post posts"
    PGOPTIONS="-c search_path=bench_ab_$1" pgbench "${pg[@]}" -n -c 1 $(mode "$1") -f "$work/s_$1.sql" -T "$SECONDS_EACH" chat > "$work/out" 2>&1 &
    sleep 1; ticks > "$work/t0"; sleep $((SECONDS_EACH - 2)); ticks > "$work/t1"
    wait
    local tps b
    tps="$(grep -oP 'tps = \K[0-9.]+' "$work/out" | head -1)"
    b="$(used "$work/t0" "$work/t1")"
    awk -v k="$K" -v tps="$tps" -v b="$b" -v s="$((SECONDS_EACH - 2))" -v hz="$hz" 'BEGIN {
        printf "%.1f %.0f\n", b * 1e6 / hz / s / (tps * k), tps * k }'
}
# BENCH_TOGETHER=1: A and B at the same time, each pgbench's own backend (found by its
# application_name) timed alone, so that both meet the same machine (other work on the shared
# cores moves a lone run's CPU per post by a third)
together() {  # prints "us-a posts-a us-b posts-b"
    local v pid
    for v in a b; do
        PGAPPNAME="bench_ab_$v" PGOPTIONS="-c search_path=bench_ab_$v" pgbench "${pg[@]}" -n -c 1 $(mode "$v") -f "$work/s_$v.sql" \
            -T "$SECONDS_EACH" chat > "$work/out_$v" 2>&1 &
    done
    sleep 1
    psql "${pg[@]}" -qAtX chat -c "SELECT application_name, pid FROM pg_stat_activity
                                     WHERE application_name IN ('bench_ab_a', 'bench_ab_b')" | tr '|' ' ' > "$work/pids"
    while read -r v pid; do awk -v p="$v" '{print p, $14 + $15}' "/proc/$pid/stat"; done < "$work/pids" > "$work/t0"
    sleep $((SECONDS_EACH - 2))
    while read -r v pid; do awk -v p="$v" '{print p, $14 + $15}' "/proc/$pid/stat"; done < "$work/pids" > "$work/t1"
    wait
    for v in bench_ab_a bench_ab_b; do
        awk -v v="$v" -v k="$K" -v tps="$(grep -oP 'tps = \K[0-9.]+' "$work/out_${v#bench_ab_}" | head -1)" \
            -v s="$((SECONDS_EACH - 2))" -v hz="$hz" 'NR == FNR {if ($1 == v) a = $2; next} $1 == v {
            printf "%.1f %.0f ", ($2 - a) * 1e6 / hz / s / (tps * k), tps * k }' "$work/t0" "$work/t1"
    done
    echo
}
# BENCH_COLD=1: both variants' conversations an hour old, and the updates counted so far
upd() {  # variant: "updates hot-updates" of its conversations (as the statistics have them)
    psql "${pg[@]}" -qAtX chat -c "SELECT pg_stat_force_next_flush(); SELECT n_tup_upd, n_tup_hot_upd
        FROM pg_stat_user_tables WHERE schemaname = 'bench_ab_$1' AND relname = 'conversations'" | tail -1 | tr '|' ' '
}
age() {
    local v
    for v in a b; do
        psql "${pg[@]}" -qAtX chat -c "SET search_path = bench_ab_$v; $age_sql" >/dev/null
        upd "$v" > "$work/upd_$v"
    done
    sleep 1  # the statistics of the UPDATEs above reach the counts before the round's own
}
hot() {  # variant: the share of its conversation updates since age() that were HOT
    local u0 h0 u1 h1
    read -r u0 h0 < "$work/upd_$1"; read -r u1 h1 < <(upd "$1")
    awk -v u="$((u1 - u0))" -v h="$((h1 - h0))" 'BEGIN { printf "%.2f", u ? h / u : 0 }'
}
echo "A=$A${BENCH_MODE_A:+ -M $BENCH_MODE_A} B=$B${BENCH_MODE_B:+ -M $BENCH_MODE_B}, $K posts per call; us of Postgres CPU per post (posts/s)"
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then order="a b"; else order="b a"; fi
    line="round $((r + 1)):"
    [ "${BENCH_COLD:-0}" != 1 ] || age
    if [ "${BENCH_TOGETHER:-0}" = 1 ]; then
        read -r us_a pps_a us_b pps_b < <(together)
        line="$line a=$us_a ($pps_a) b=$us_b ($pps_b), together"
    else
        for v in $order; do
            read -r us pps < <(one "$v")
            if [ "$v" = a ]; then us_a="$us"; else us_b="$us"; fi
            line="$line $v=$us ($pps)"
        done
    fi
    echo "$us_a $us_b" >> "$work/all"
    if [ "${BENCH_COLD:-0}" = 1 ]; then sleep 1; line="$line; HOT a=$(hot a) b=$(hot b)"; fi
    echo "$line"
done
# the means, and the median of the rounds' B/A (a round's two runs are next to each other in time)
med="$(awk '{printf "%.4f\n", $2 / $1}' "$work/all" | sort -n | awk '{r[NR] = $1} END {
    print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')"
awk -v med="$med" '{a += $1; b += $2} END {
    printf "A mean %.1f us/post, B mean %.1f us/post over %d rounds; B/A of the means %.3f, median of the rounds %.3f\n",
           a / NR, b / NR, NR, b / a, med }' "$work/all"
