#!/usr/bin/env bash
# bench/run.sh: measures requests/s and p50/p99 latency of the nginx-chat endpoints with wrk against a running `make up` stack.
#
#   make up && bench/run.sh            (same CHAT_PORT as `make up`; default 8080)
#   BENCH_POST_ONLY=1 bench/run.sh     the POST scenario alone (its fixtures, sizing run and
#                                      diagnostic line), for chasing the write's tail
#
# Scenarios (each: a BENCH_WARMUP warm-up run, then a BENCH_DURATION measured run,
# BENCH_THREADS threads, BENCH_CONNS connections, all on 127.0.0.1:$CHAT_PORT):
#   0. GET  /bench/return200                     nginx's own floor: `return 200` on the same build
#   1. GET  /chat/api/v1/health                  nginx + module baseline
#   2. GET  /chat/api/v1/conversation?after=0    ~20 messages from the shared-memory cache
#   3. GET  /chat/api/v1/health/db               one Postgres round trip through the async pool
#   4. POST /chat/api/v1/messages                the full write path, fresh client_id per request,
#                                                round-robin over BENCH_SESSIONS sessions or more:
#                                                3 per post/s of a short sizing run, so that
#                                                chat_rate never answers 429 (rate = 2xx/s)
#   5. pgbench: a single-row INSERT, BENCH_CONNS clients, on the stack's Postgres (the floor
#      of one durable transaction there; table bench.insert_floor, created here), alternated
#      with 4.: BENCH_WRITE_PAIRS (2) pairs of 5. then 4., each run after a CHECKPOINT
#   6. POST /chat/api/v1/escalate                 assignment: bench/escalate.mjs (node), each of
#                                                BENCH_ESCALATIONS sessions once, all assigned
#   7. WebSocket fan-out                         realtime end to end: bench/ws.mjs (node), 1 000
#                                                sockets at 500 messages/s and 10 000 at 200, each
#                                                on fresh workers: latency, exactly-once delivery,
#                                                KB per idle socket (BENCH_WS=0 skips)
# and then the ratios the issue tracker's goals are written in (same run, same machine), the FAQ
# bot's answer quality, and the reports' and full-text search's SQL on a million rows
# (bench/reports.sh, bench/search.sh; BENCH_MILLION=0 skips those two, which take minutes).
# Two runs of one tree start from the same state: the stack's nginx is restarted first (a cache
# zone without earlier runs' conversations; BENCH_FRESH_ZONE=0 keeps it), and every run that
# writes starts after a CHECKPOINT (below: checkpoint, run_diag, the write's pairs).
# The nginx config is not touched: the per-session rate limit (default 1r/s burst=30) is
# respected by spreading writes over enough sessions; 429s are counted and reported, and the
# write's requests/s counts its 2xx answers only.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
CHAT_PORT="${CHAT_PORT:-8080}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNS:-64}"
DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-3s}"
SESSIONS="${BENCH_SESSIONS:-3000}"
base="http://127.0.0.1:$CHAT_PORT"
api="$base/chat/api/v1"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- tools -----------------------------------------------------------------------------
need=()
command -v wrk  >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v jq   >/dev/null || need+=(jq)
command -v pgbench >/dev/null || need+=(postgresql-contrib)
if [ "${#need[@]}" -gt 0 ]; then
    log "installing ${need[*]} with apt-get"
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi

curl -fsS -o /dev/null "$api/health" \
    || die "nothing answers $api/health: start the stack first (make up, same CHAT_PORT)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- a fresh cache zone ----------------------------------------------------------------
# The shared-memory cache keeps the conversations of every earlier run (a reload keeps the zone):
# a second run's writes then paid for evicting the first's (session 16: 15 682 evictions, 8 %
# fewer posts). So the stack's nginx is restarted with its own script (scripts/nginx.sh stop,
# start: the config of make up, regenerated from conf/dev.conf.in as make up does), when it is
# this checkout's nginx that answers on CHAT_PORT; BENCH_FRESH_ZONE=0 keeps the running one.
zone_note="not fresh: BENCH_FRESH_ZONE=0"
can_restart=0
# restart_nginx: the stack's nginx stopped and started again (fresh workers, an empty zone); only
# after the check below found it this checkout's, with this config
restart_nginx() {
    "$here/../scripts/nginx.sh" stop >&2
    "$here/../scripts/nginx.sh" start > /dev/null
}
if [ "${BENCH_FRESH_ZONE:-1}" = 1 ]; then
    # only if the config it would start from is the running one: rendered afresh with these ports
    # (scripts/nginx-conf.sh, as make up renders it), the same bytes as the stack's var/nginx.conf
    export CHAT_PORT CHAT_PG_PORT="${CHAT_PG_PORT:-55432}" CHAT_REDIS_PORT="${CHAT_REDIS_PORT:-56379}"
    # shellcheck source=/dev/null
    if (source "$here/../scripts/env.sh" && "$CHAT_ROOT/scripts/nginx.sh" status \
            && "$CHAT_ROOT/scripts/nginx-conf.sh" "$CHAT_ROOT/conf/dev.conf.in" "$work/nginx.conf" \
            && cmp -s "$work/nginx.conf" "$CHAT_VAR/nginx.conf") 2>/dev/null; then
        can_restart=1
        log "restarting the stack's nginx (scripts/nginx.sh): a cache zone without earlier runs' conversations"
        restart_nginx
        zone_note="fresh: nginx restarted (scripts/nginx.sh), $(curl -fsS "$base/chat/status" | jq -r .cache.conversations) conversations cached at the start"
    else
        zone_note="not fresh: no nginx of this checkout (scripts/nginx.sh) runs with these ports' config, none restarted"
        log "WARNING: cache zone $zone_note"
    fi
fi

# --- fixtures --------------------------------------------------------------------------
# POST /session once per URL, all over one keep-alive connection; the answers are
# concatenated JSON documents, jq reads them as a stream.
new_sessions() {
    local n="$1" i rc
    rc="$(mktemp "$work/session.XXXXXX")"
    { printf 'silent\nshow-error\nfail\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{}"\n'
      for ((i = 0; i < n; i++)); do printf 'url = "%s/session"\n' "$api"; done
    } > "$rc"
    curl -K "$rc" | jq -r '.token'
}

# more_sessions N: appends write sessions to $work/tokens until it holds N, four curls at once,
# in chunks of 3000 with a pause between them: the dev config's chat_session_rate (1000r/s
# burst=4000 per address) must not answer 429 to the bench's own POST /session
more_sessions() {
    local want="$1" have chunk k
    have="$(grep -c . "$work/tokens" 2>/dev/null || true)"
    while [ "${have:-0}" -lt "$want" ]; do
        chunk=$((want - have < 3000 ? want - have : 3000))
        for k in 0 1 2 3; do new_sessions $(((chunk + 3 - k) / 4)) > "$work/tokens.$k" & done
        wait
        cat "$work"/tokens.[0-3] >> "$work/tokens"
        have="$(grep -c . "$work/tokens")"
        [ "$have" -ge "$want" ] || sleep 3
    done
}

post_text() {  # token text client_id
    curl -fsS -o /dev/null -X POST "$api/messages" \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        --data "{\"text\":\"$2\",\"client_id\":\"$3\"}"
}

status_counter() { curl -fsS "$base/chat/status" | jq -r ".counters.$1"; }
pg_q() { PGPASSWORD=chat psql -qAtX -F ' ' -h 127.0.0.1 -p "${CHAT_PG_PORT:-55432}" -U chat chat -c "$1"; }

# checkpoint: CHECKPOINT, waited for, so that every scenario that writes starts from the same
# Postgres state: no dirty buffer left by the run before it (session 16: pgbench's INSERT ran at
# 12 220/s after a POST run that left 64 659 buffers for the backends to write, at 15 730/s after
# one that left 10 019). As the superuser over the cluster's private socket (as scripts/db.sh: the
# role chat may not checkpoint). The checkpointer publishes its counters just after the command
# returns, so it is waited for until checkpoints_req has grown: a reading after it then holds
# every buffer the backends wrote before it (they reach pg_stat_bgwriter only through the
# checkpointer, which takes them in at the latest at a checkpoint). Prints nothing; a failure is
# logged and counted (ckpt_failed), never fatal.
ckpt_failed=0
checkpoint() {
    local n0 n i sock
    n0="$(pg_q 'SELECT checkpoints_req FROM pg_stat_bgwriter')" || n0=""
    # shellcheck source=/dev/null
    sock="$( (source "$here/../scripts/env.sh" && echo "$PGDATA") 2>/dev/null || true)"
    [ "${#sock}" -le 90 ] || sock="/tmp/.nginx-chat-pg-$(printf '%s' "$sock" | sha256sum | cut -c1-12)"
    if ! (cd / && runuser -u postgres -- psql -qAtX -h "$sock" -p "${CHAT_PG_PORT:-55432}" -U postgres -d chat \
              -c CHECKPOINT) > /dev/null 2>&1 \
       && ! pg_q CHECKPOINT > /dev/null 2>&1; then
        ckpt_failed=$((ckpt_failed + 1)); log "WARNING: CHECKPOINT failed (superuser socket $sock)"; return 0
    fi
    for ((i = 0; i < 100 && ${#n0} > 0; i++)); do
        n="$(pg_q 'SELECT checkpoints_req FROM pg_stat_bgwriter')" || break
        [ "$n" -le "$n0" ] || break
        sleep 0.05
    done
}

# run_diag ckpt|begin|end|settled|report KIND TXNS: what else happened during a measured run that
# writes (the POST runs and pgbench's floors), read from counters before and after it, so that a
# figure has what it paid for named in the same run (the machine is shared, wall-clock alone
# proves little). The readings of run number $diag_id: ckpt right after its CHECKPOINT (before its
# warm-up), begin and end around its measured run, settled after the CHECKPOINT that follows it.
# Every run: Postgres's checkpoints started during the measured run, the buffers the checkpointer
# and the background writer wrote in it, the buffers the backends wrote themselves during its
# warm-up and measured run (ckpt to settled: backends' writes reach pg_stat_bgwriter only when
# the checkpointer takes them in, at the latest at a checkpoint, so a reading at the end of a run
# can miss tens of thousands of them; session 16's "left 64 659" was such a reading), the WAL's
# full-page images per transaction (each page's first change after a checkpoint writes the whole
# page), the WAL segments filled and how many were new files (a cluster without recycled segments
# creates each inline while every commit waits; scripts/db.sh), autovacuum's and autoanalyze's
# runs by table, and the autovacuum workers busy when the run began. KIND post adds the shared-
# memory cache's stores that found no room (each logs a warning; /chat/status
# cache.alloc_failures), its evictions and what it holds at the end, and nginx's error log lines.
# The run's UTC times let postgres.log (log_checkpoints, log_autovacuum_min_duration) be lined up.
declare -A diag=()
declare -a diag_lines=()
diag_id=0
pg_snap() {
    pg_q 'SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_clean, buffers_backend, wal_fpi
          FROM pg_stat_bgwriter, pg_stat_wal' || true
}
run_diag() {
    local at="$1" id="$diag_id" errlog waldir
    errlog="$( (source "$here/../scripts/env.sh" && echo "$CHAT_VAR/log/error.log") 2>/dev/null || true)"
    waldir="$( (source "$here/../scripts/env.sh" && echo "$PGDATA/pg_wal") 2>/dev/null || true)"
    case "$at" in
    ckpt|settled)
        diag[$id.$at.pg]="$(pg_snap)"
        ;;
    begin|end)   # a reading that fails stays empty: the diagnostic never stops the bench
        # the backends publish their WAL counters at most once a second, and within a second of
        # going idle: read them a second after the warm-up and after the run
        [ "$at" = end ] || sleep 1
        diag[$id.$at.time]="$(date -u '+%H:%M:%S')"
        diag[$id.$at.epoch]="$(date +%s)"
        [ "$at" = begin ] || sleep 1
        diag[$id.$at.walseg]="$(pg_q "SELECT floor((pg_current_wal_lsn() - '0/0') / pg_size_bytes(current_setting('wal_segment_size')))::bigint" || true)"
        diag[$id.$at.cache]="$(curl -fsS "$base/chat/status" \
            | jq -r '"\(.cache.alloc_failures) \(.cache.evictions) \(.cache.conversations) \(.zone.free_pages) \(.zone.pages)"' || true)"
        diag[$id.$at.pg]="$(pg_snap)"
        diag[$id.$at.av]="$(pg_q 'SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables
                              WHERE autovacuum_count + autoanalyze_count > 0 ORDER BY relname' || true)"
        diag[$id.$at.busy]="$(pg_q "SELECT string_agg(query, ', ') FROM pg_stat_activity
                                WHERE backend_type = 'autovacuum worker' AND query <> ''" || true)"
        diag[$id.$at.log]="$(wc -l < "$errlog" 2>/dev/null || echo 0)"
        ;;
    report)
        local kind="$2" n="$3" c0 c1 p0 p1 pc ps av warn stores newwal backend
        # WAL files born during the run (birth times: ext4, xfs); "?" where they cannot be read
        newwal="$( { stat -c '%W' "$waldir"/0* 2>/dev/null || true; } \
                  | awk -v a="${diag[$id.begin.epoch]}" -v b="${diag[$id.end.epoch]}" '$1 > 0 { k++; if ($1 >= a && $1 <= b) n++ }
                                                                         END { print (k ? n + 0 : "?") }')"
        read -ra c0 <<<"${diag[$id.begin.cache]}"; read -ra c1 <<<"${diag[$id.end.cache]}"
        read -ra p0 <<<"${diag[$id.begin.pg]}"; read -ra p1 <<<"${diag[$id.end.pg]}"
        read -ra pc <<<"${diag[$id.ckpt.pg]:-}"; read -ra ps <<<"${diag[$id.settled.pg]:-}"
        if [ "${#pc[@]}" -ge 5 ] && [ "${#ps[@]}" -ge 5 ]; then
            backend="$((ps[4] - pc[4])) (warm-up and run, read after the next CHECKPOINT)"
        else
            backend="$((p1[4] - p0[4])) (as published by the end of the run: may miss some)"
        fi
        av="$(join -a2 -e 0 -o 2.1,1.2,1.3,2.2,2.3 <(echo "${diag[$id.begin.av]}") <(echo "${diag[$id.end.av]}") \
              | awk '$4 > $2 || $5 > $3 { printf "%s%s (vacuum +%d, analyze +%d)", sep, $1, $4 - $2, $5 - $3; sep = ", " }')"
        if [ "$kind" = post ]; then
            warn="$(tail -n +"$((diag[$id.begin.log] + 1))" "$errlog" 2>/dev/null | head -n "$((diag[$id.end.log] - diag[$id.begin.log]))" \
                    | grep -c '\[warn\]\|\[error\]\|\[crit\]\|\[alert\]' || true)"
            stores="$(tail -n +"$((diag[$id.begin.log] + 1))" "$errlog" 2>/dev/null | head -n "$((diag[$id.end.log] - diag[$id.begin.log]))" \
                      | grep -c 'could not store' || true)"
            printf '%s, measured run %s-%s UTC, %s posts: cache stores without room %s (evictions %s;' \
                "$4" "${diag[$id.begin.time]}" "${diag[$id.end.time]}" "$n" "$((c1[0] - c0[0]))" "$((c1[1] - c0[1]))"
            printf ' at the end %s conversations cached, %s of %s zone pages free); Postgres:' \
                "${c1[2]}" "${c1[3]}" "${c1[4]}"
        else
            printf '%s, measured run %s-%s UTC, %s transactions: Postgres:' \
                "$4" "${diag[$id.begin.time]}" "${diag[$id.end.time]}" "$n"
        fi
        printf ' checkpoints started %s timed + %s requested, buffers written by the checkpointer %s, by the' \
            "$((p1[0] - p0[0]))" "$((p1[1] - p0[1]))" "$((p1[2] - p0[2]))"
        printf ' background writer %s, by backends %s, WAL full-page images %s per %s, WAL segments filled %s (new files %s);' \
            "$((p1[3] - p0[3]))" "$backend" \
            "$(awk -v a="${p0[5]}" -v b="${p1[5]}" -v n="$n" 'BEGIN{printf "%.2f", (n > 0 ? (b - a) / n : 0)}')" \
            "$([ "$kind" = post ] && echo post || echo transaction)" \
            "$((${diag[$id.end.walseg]:-0} - ${diag[$id.begin.walseg]:-0}))" "$newwal"
        printf ' autovacuum: %s; busy at the start: %s' "${av:-none}" "${diag[$id.begin.busy]:-none}"
        if [ "$kind" = post ]; then
            printf '; error.log: %s warnings or worse (%s of them the cache'"'"'s)' "$warn" "$stores"
        fi
        printf '\n'
        ;;
    esac
}

log "creating the read session (~20 messages)"
read_token="$(new_sessions 1)"
if [ -z "$read_token" ] || [ "$read_token" = null ]; then die "POST /session gave no token"; fi
for i in $(seq 1 10); do   # greeting + 10 x (customer message + bot reply) = 21
    post_text "$read_token" "How long does shipping take? ($i)" \
        "$(printf '%08x-0000-4000-8000-%012x' "$((RANDOM * 32768 + RANDOM))" "$i")"
done
nmsg="$(curl -fsS -H "Authorization: Bearer $read_token" "$api/conversation?after=0" | jq '.messages | length')"
log "read session has $nmsg messages"

if [ "${BENCH_READ_ONLY:-0}" != 1 ]; then
    log "creating $SESSIONS write sessions"
    : > "$work/tokens"
    more_sessions "$SESSIONS"
    ntok="$(grep -c . "$work/tokens")"
    [ "$ntok" -eq "$SESSIONS" ] || die "wanted $SESSIONS session tokens, got $ntok"
fi

# let the fixtures' aftermath settle before the first scenario (Postgres's background writes of
# thousands of new sessions): the first scenario is nginx's floor, and a floor measured while
# the machine still works behind it would flatter every ratio. A CHECKPOINT first writes what
# they dirtied now, so that no checkpoint (timed every 15 min) is due during the read's rounds
checkpoint
sleep "${BENCH_SETTLE:-15}"

# --- runs ------------------------------------------------------------------------------
export BENCH_LUA_DIR="$here" BENCH_TOKENS="$work/tokens" BENCH_THREADS="$THREADS"
rows=()

# the stack's nginx workers (by its pid file), and their user + system time so far in clock ticks
# shellcheck source=/dev/null
nginx_workers="$( (source "$here/../scripts/env.sh" && pgrep -P "$(cat "$CHAT_VAR/nginx.pid")" -f 'worker process' | tr '\n' ' ') 2>/dev/null || true)"
hz="$(getconf CLK_TCK)"
worker_ticks() {
    local t=0 p
    for p in $nginx_workers; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    echo "$t"
}

# run NAME SCRIPT URL [wrk args...]: warm-up, measured run, one table row; last_cpu_us is the
# nginx workers' CPU per request of the measured run
run() {
    local name="$1" script="$2" url="$3"; shift 3
    log "$name: warm-up $WARMUP"
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$here/$script" "$@" "$url" > /dev/null
    log "$name: measuring $DURATION"
    [ -z "${RUN_HOOK:-}" ] || "$RUN_HOOK" begin
    local t0; t0="$(worker_ticks)"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$here/$script" "$@" "$url" > "$work/out"
    local ticks=$(($(worker_ticks) - t0))
    [ -z "${RUN_HOOK:-}" ] || "$RUN_HOOK" end
    local line; line="$(grep '^BENCH ' "$work/out")" || { cat "$work/out" >&2; die "$name: no result"; }
    local -A v; local kv
    for kv in ${line#BENCH }; do v[${kv%%=*}]="${kv#*=}"; done
    last_cpu_us="$(awk -v t="$ticks" -v q="${v[requests]}" -v hz="$hz" 'BEGIN{printf "%.3f", (q > 0 ? t / hz * 1e6 / q : 0)}')"
    local rps p50 p99 notes="" ok=0 counted=0
    for kv in ${line#BENCH }; do   # post.lua counts statuses: its rate is of the 2xx answers only
        case "$kv" in status_2??=*) ok=$((ok + ${kv#*=})); counted=1 ;; esac
    done
    [ "$counted" -eq 1 ] || ok="${v[requests]}"
    last_ok="$ok"
    rps="$(awk -v r="$ok" -v d="${v[duration_us]}" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
    p50="$(awk -v u="${v[p50_us]}" 'BEGIN{printf "%.2f", u / 1000}')"
    p99="$(awk -v u="${v[p99_us]}" 'BEGIN{printf "%.2f", u / 1000}')"
    [ "${v[non2xx]}" -eq 0 ] || notes+=" non-2xx=${v[non2xx]}"
    [ "${v[socket_errors]}" -eq 0 ] || notes+=" socket-errors=${v[socket_errors]}"
    for kv in ${line#BENCH }; do   # per-status counts (post.lua only), e.g. " 201:N 429:M"
        case "$kv" in status_*) kv="${kv#status_}"; notes+=" ${kv%%=*}:${kv#*=}" ;; esac
    done
    last_row="$(printf '| %-44s | %10s | %8s | %8s |%s' "$name" "$rps" "$p50" "$p99" "${notes:+ $notes}")"
    [ -n "${NO_ROW:-}" ] || rows+=("$last_row")
    last_rps="$rps"; last_p99="$p99"
}

# pgbench NAME SCRIPT: the same warm-up and measured run with pgbench, one table row; RUN_HOOK as
# in run(); last_ok its transactions
pg_run() {
    local name="$1" script="$2" lat
    local -a pg=(pgbench -h 127.0.0.1 -p "${CHAT_PG_PORT:-55432}" -U chat -n -c "$CONNS" -j "$THREADS" -f "$script" chat)
    log "$name: warm-up $WARMUP"
    PGPASSWORD=chat "${pg[@]}" -T "${WARMUP%s}" > /dev/null 2>&1
    log "$name: measuring $DURATION"
    rm -f "$work"/pgbench_log.*
    [ -z "${RUN_HOOK:-}" ] || "$RUN_HOOK" begin
    (cd "$work" && PGPASSWORD=chat "${pg[@]}" -T "${DURATION%s}" -l > "$work/pgout" 2>&1) \
        || { cat "$work/pgout" >&2; die "$name: pgbench failed"; }
    [ -z "${RUN_HOOK:-}" ] || "$RUN_HOOK" end
    last_ok="$(awk -F': *' '/^number of transactions actually processed/ {print $2 + 0}' "$work/pgout")"
    # the per-transaction log: 3rd field is the latency in microseconds
    lat="$(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n \
           | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int(NR*0.50)]/1000, a[int(NR*0.99)]/1000}')"
    last_rps="$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgout")"
    last_p99="${lat#* }"
    rows+=("$(printf '| %-44s | %10s | %8s | %8s |' "$name" "$last_rps" "${lat% *}" "$last_p99")")
}

# The read goal is a ratio to nginx's floor, on a shared machine whose other work moves one
# scenario's rate by ±10 % and more from one run to the next (and the read's rounds spread
# 0.66-0.92 in one run of 3 long rounds). So the floor and the read run interleaved, in many
# short runs: BENCH_ROUNDS (9) rounds of BENCH_ROUND_DURATION (5 s, each after a
# BENCH_ROUND_WARMUP of 1 s), in the order
#     L F R  L F R  ...  L F R  L F
# (F the floor, R the read, L the floor with the access log line the read writes). Each round's
# ratio is its read ÷ the mean of the floors just before and just after it, so that a machine that
# speeds up or slows down during the round does not tilt it; the ratio reported is the median of
# the rounds' ratios, with their spread (the middle half of the rounds, and all of them). The
# same for the read ÷ L (its L before and after it: like for like, both write the access log),
# and L ÷ F (what the log line costs the floor; read ÷ F is about read ÷ L times L ÷ F). Each row
# shows the run of its median rate.
ROUNDS="${BENCH_ROUNDS:-9}"
ROUND_DURATION="${BENCH_ROUND_DURATION:-5s}"
ROUND_WARMUP="${BENCH_ROUND_WARMUP:-1s}"
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
# spread: "lowest, first quartile - third quartile, highest" of the numbers on stdin
spread() {
    tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {
        q1 = a[int((NR - 1) * 0.25 + 0.5) + 1]; q3 = a[int((NR - 1) * 0.75 + 0.5) + 1]
        printf "%.2f, %.2f-%.2f, %.2f", a[1], q1, q3, a[NR] }'
}
declare -a f_rps=() l_rps=() r_rps=() f_row=() l_row=() r_row=() f_cpu=() r_cpu=()
floor() {
    NO_ROW=1 WARMUP="$ROUND_WARMUP" DURATION="$ROUND_DURATION" \
        run "GET /bench/return200 (nginx return 200)" report.lua "$base/bench/return200"
    f_rps+=("$last_rps"); f_row+=("$last_row"); f_cpu+=("$last_cpu_us")
}
logged_floor() {
    NO_ROW=1 WARMUP="$ROUND_WARMUP" DURATION="$ROUND_DURATION" \
        run "GET /bench/return200-logged (+ access log)" report.lua "$base/bench/return200-logged"
    l_rps+=("$last_rps"); l_row+=("$last_row")
}
post_only="${BENCH_POST_ONLY:-0}"
if [ "$post_only" != 1 ]; then
hits0="$(status_counter cache_hits)"
evict0="$(curl -fsS "$base/chat/status" | jq -r .cache.evictions)"
logged_floor
floor
for ((r = 0; r < ROUNDS; r++)); do
    log "read ratio: round $((r + 1)) of $ROUNDS"
    NO_ROW=1 WARMUP="$ROUND_WARMUP" DURATION="$ROUND_DURATION" \
        run "GET /conversation?after=0 ($nmsg msgs, cached)" report.lua "$api/conversation?after=0" \
        -H "Authorization: Bearer $read_token"
    r_rps+=("$last_rps"); r_row+=("$last_row"); r_cpu+=("$last_cpu_us")
    logged_floor
    floor
done
hits1="$(status_counter cache_hits)"
evict1="$(curl -fsS "$base/chat/status" | jq -r .cache.evictions)"
median_row() {  # rates... -- rows...: the row of the median rate
    local -a rates=() rws=(); local seen=0 x m i
    for x in "$@"; do if [ "$x" = -- ]; then seen=1; elif [ "$seen" = 0 ]; then rates+=("$x"); else rws+=("$x"); fi; done
    m="$(echo "${rates[*]}" | median)"
    for i in "${!rates[@]}"; do [ "${rates[$i]}" = "$m" ] && { echo "${rws[$i]}"; return; }; done
}
rows+=("$(median_row "${f_rps[@]}" -- "${f_row[@]}")" "$(median_row "${l_rps[@]}" -- "${l_row[@]}")")
# the rounds' ratios: the read ÷ the mean of its two floors, and ÷ the mean of its two logged
# floors; the logged floors' mean ÷ the floors' mean (the access log line's cost to the floor)
read_ratios="$(for i in "${!r_rps[@]}"; do
    awk -v a="${r_rps[$i]}" -v b="${f_rps[$i]}" -v c="${f_rps[$((i + 1))]}" 'BEGIN{printf "%.4f ", 2 * a / (b + c)}'; done)"
logged_ratios="$(for i in "${!r_rps[@]}"; do
    awk -v a="${r_rps[$i]}" -v b="${l_rps[$i]}" -v c="${l_rps[$((i + 1))]}" 'BEGIN{printf "%.4f ", 2 * a / (b + c)}'; done)"
log_cost_ratios="$(for i in "${!r_rps[@]}"; do
    awk -v a="${l_rps[$i]}" -v b="${l_rps[$((i + 1))]}" -v c="${f_rps[$i]}" -v d="${f_rps[$((i + 1))]}" \
        'BEGIN{printf "%.4f ", (a + b) / (c + d)}'; done)"
log_cost_ratio="$(median <<<"$log_cost_ratios")"
log_cost_spread="$(spread <<<"$log_cost_ratios")"
# the same rounds in nginx CPU per request (workers' user + system time from /proc): the floor's
# (mean of its two runs) ÷ the read's, what the ratio would be where nginx's CPU is the limit
cpu_ratios="$(for i in "${!r_cpu[@]}"; do
    awk -v a="${r_cpu[$i]}" -v b="${f_cpu[$i]}" -v c="${f_cpu[$((i + 1))]}" 'BEGIN{printf "%.4f ", (a > 0 ? (b + c) / 2 / a : 0)}'; done)"
cpu_ratio="$(median <<<"$cpu_ratios")"
cpu_spread="$(spread <<<"$cpu_ratios")"
read_cpu_us="$(echo "${r_cpu[*]}" | median)"
floor_cpu_us="$(echo "${f_cpu[*]}" | median)"
read_ratio="$(median <<<"$read_ratios")"
logged_ratio="$(median <<<"$logged_ratios")"
read_spread="$(spread <<<"$read_ratios")"
logged_spread="$(spread <<<"$logged_ratios")"
read_rounds="$(for x in $read_ratios; do printf '%.2f ' "$x"; done)"
run "GET /health" report.lua "$api/health"
rows+=("$(median_row "${r_rps[@]}" -- "${r_row[@]}")")
log "cache_hits grew by $((hits1 - hits0)) during the conversation runs"
[ "$hits1" -gt "$hits0" ] || log "WARNING: cache_hits did not grow: the conversation was not served from the cache"
fi

# BENCH_READ_ONLY=1 stops here: the read's ratio alone (a few minutes), for A/B of the read path
if [ "${BENCH_READ_ONLY:-0}" != 1 ]; then
    [ "$post_only" = 1 ] || run "GET /health/db" report.lua "$api/health/db"
    # POST /messages: the per-session limit (chat_rate, default 1r/s burst=30) must never answer, or
    # the run would count 429s as writes. A short run measures the write rate first; then there are
    # at least BENCH_SESSIONS_PER_POST (3) sessions per post/s, so each session posts about once in
    # 3 s and even sessions that share a bucket of the zone's table stay under 1r/s.
    log "POST /messages: sizing the sessions to the write rate"
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$here/post.lua" "$api/messages" > "$work/out"
    line="$(grep '^BENCH ' "$work/out")" || { cat "$work/out" >&2; die "POST sizing run: no result"; }
    sized="$(awk -v l="${line#BENCH }" -v k="${BENCH_SESSIONS_PER_POST:-3}" 'BEGIN {
        n = split(l, kv, " "); ok = 0
        for (i = 1; i <= n; i++) { split(kv[i], p, "="); if (p[1] ~ /^status_2/) ok += p[2]; if (p[1] == "duration_us") d = p[2] }
        printf "%d", int(k * ok / (d / 1e6) / 1000 + 1) * 1000 }')"
    if [ "$sized" -gt "$SESSIONS" ]; then
        log "creating $((sized - SESSIONS)) more write sessions ($sized for ~$((sized / ${BENCH_SESSIONS_PER_POST:-3})) posts/s)"
        more_sessions "$sized"
    fi
    nposters="$(grep -c . "$work/tokens")"
    # the tables the write reads, analyzed after their fixtures (as pgbench -i does): on a fresh
    # database autovacuum's first ANALYZE comes up to a minute (autovacuum_naptime) after the
    # sessions, and until it did the batch's statements ran 150-450 ms instead of under 40 on all
    # four connections (3 of 7 runs on a fresh cluster without this line, each ending with that
    # ANALYZE; why is not known: auto_explain's analyzed plans were the index plans, their time
    # outside any node that reads, e.g. 200 ms charged to a generate_subscripts scan)
    pg_q 'ANALYZE conversations, messages, customers' > /dev/null
    # The write's goal is a ratio to pgbench's INSERT on the same Postgres, and both write: each
    # run of either starts from the same Postgres state, a CHECKPOINT (waited for) before its
    # warm-up, so that no run pays for the dirty buffers of the run before it (session 16: the
    # floor ran at 12 220/s right after one POST run and at 15 730/s after another). And they
    # alternate, BENCH_WRITE_PAIRS (2) pairs of the floor then the POST run:
    #     C I  C P  C I  C P  C
    # (C a CHECKPOINT, I pgbench's INSERT into its table truncated, P the POST run). Each pair's
    # ratio is its POST ÷ the floor right before it; the goal line is the median of the pairs'
    # ratios (of two, their mean), the p99's goal line the highest of the POST runs' p99. Each
    # run's diagnostic line (run_diag) says what it paid: checkpoints, the buffers the backends
    # wrote themselves (read after the next C), full-page images, evictions from the cache zone.
    PAIRS="${BENCH_WRITE_PAIRS:-2}"
    [ "$post_only" != 1 ] || PAIRS=1
    if [ "$post_only" != 1 ]; then
        PGPASSWORD=chat psql -qX -h 127.0.0.1 -p "${CHAT_PG_PORT:-55432}" -U chat chat -c \
            'CREATE SCHEMA IF NOT EXISTS bench;
             CREATE TABLE IF NOT EXISTS bench.insert_floor (id bigserial PRIMARY KEY, conversation_id uuid,
                 content text, created_at timestamptz NOT NULL DEFAULT now())' > /dev/null
        printf '%s\n' "INSERT INTO bench.insert_floor (conversation_id, content) VALUES (gen_random_uuid(), 'How long does shipping take?');" \
            > "$work/insert.sql"
    fi
    declare -a w_rps=() w_p99=() i_rps=()
    pend=()
    # write_checkpoint: the CHECKPOINT before a run (or after the last): the run before it gets
    # its settled reading and its line, the next one its first reading
    write_checkpoint() {
        checkpoint
        if [ "${#pend[@]}" -gt 0 ]; then
            run_diag settled
            diag_lines+=("$(run_diag report "${pend[@]}" || true)")
        fi
        diag_id=$((diag_id + 1)); pend=()
        run_diag ckpt
    }
    for ((k = 1; k <= PAIRS; k++)); do
        sfx=""; [ "$PAIRS" -eq 1 ] || sfx=", pair $k"
        if [ "$post_only" != 1 ]; then
            pg_q 'TRUNCATE bench.insert_floor' > /dev/null
            write_checkpoint
            RUN_HOOK=run_diag pg_run "pgbench single-row INSERT ($CONNS clients$sfx)" "$work/insert.sql"
            i_rps+=("$last_rps"); pend=(floor "$last_ok" "pgbench INSERT$sfx")
        fi
        write_checkpoint
        RUN_HOOK=run_diag run "POST /messages ($nposters sessions$sfx)" post.lua "$api/messages"
        w_rps+=("$last_rps"); w_p99+=("$last_p99"); pend=(post "$last_ok" "POST /messages$sfx")
    done
    write_checkpoint
fi
if [ "${BENCH_READ_ONLY:-0}" != 1 ] && [ "$post_only" != 1 ]; then

    # assignment: BENCH_ESCALATIONS fresh sessions ask for a person with BENCH_CONNS in flight while
    # 20 fresh agents are online with room for all; every answer must come back assigned
    ESCALATIONS="${BENCH_ESCALATIONS:-1000}"
    log "POST /escalate: $ESCALATIONS escalations, 20 agents online (bench/escalate.mjs)"
    # a failed scenario (errors, e.g. 503s on a loaded machine) is reported, not allowed to lose the
    # numbers of the others
    esc_note=""
    esc="$(CHAT_PORT="$CHAT_PORT" node "$here/escalate.mjs" --sessions "$ESCALATIONS" --agents 20 --conns "$CONNS")" \
        || { log "escalate.mjs failed: $esc"; esc_note=" FAILED: errors=$(jq -r .errors <<<"$esc" 2>/dev/null)"; }
    rows+=("$(printf '| %-44s | %10s | %8s | %8s |%s' "POST /escalate ($ESCALATIONS, each assigned)" \
        "$(jq -r .per_s <<<"$esc" 2>/dev/null)" "$(jq -r .p50_ms <<<"$esc" 2>/dev/null)" \
        "$(jq -r .p99_ms <<<"$esc" 2>/dev/null)" "$esc_note")")
fi

# realtime (issue 11): bench/ws.mjs (node) opens N customer sockets, posts messages at a fixed pace
# from random sessions, and times each from its POST being sent to its message.created on the
# author's socket; every message must arrive exactly once; the nginx workers' RSS before and after
# the sockets open gives the memory per idle socket, which means something on fresh workers only,
# so nginx is restarted before each run (when the check above allows it). BENCH_WS_RUNS lists the
# runs as sockets:messages-per-second (default "1000:500 10000:200", the goals' two), each
# BENCH_WS_SECONDS (10) long; BENCH_WS=0 skips them. The client needs a descriptor a socket.
ws_rows=()
ws_p99=()        # sockets:p99 of each run that passed
ws_kb=""         # the highest KB per idle socket of the runs
ws_failed=0
ws_var="$( (source "$here/../scripts/env.sh" && echo "$CHAT_VAR") 2>/dev/null || echo "$here/../var")"
if [ "${BENCH_READ_ONLY:-0}" != 1 ] && [ "$post_only" != 1 ] && [ "${BENCH_WS:-1}" != 0 ]; then
    for spec in ${BENCH_WS_RUNS:-1000:500 10000:200}; do
        socks="${spec%%:*}"; rate="${spec#*:}"
        fresh="fresh workers"
        if [ "$can_restart" = 1 ]; then restart_nginx; else fresh="workers not restarted: KB not of idle sockets alone"; fi
        log "realtime: $socks sockets, $rate messages/s for ${BENCH_WS_SECONDS:-10}s (bench/ws.mjs, $fresh)"
        wsout="$( (ulimit -n $((socks + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
                   CHAT_PORT="$CHAT_PORT" CHAT_VAR="$ws_var" node "$here/ws.mjs" --sockets "$socks" \
                       --rate "$rate" --seconds "${BENCH_WS_SECONDS:-10}") )" && ok=1 || ok=0
        note=""
        if ! jq -e .sockets <<<"$wsout" > /dev/null 2>&1; then
            ws_failed=1
            ws_rows+=("$(printf '| %7s | %6s | FAILED: no result (bench/ws.mjs%s) | | | | | | |' "$socks" "$rate" "${wsout:+: $(tail -c 200 <<<"$wsout")}")")
            continue
        fi
        if [ "$ok" = 0 ]; then ws_failed=1; note=" FAILED: $(jq -r '"failed \(.failed), missing \(.missing), duplicates \(.duplicates)"' <<<"$wsout")"; fi
        ws_rows+=("$(jq -r --arg note "$note" --arg fresh "$fresh" '"| \(.sockets) | \(.achieved_rate) | \(.delivered) / \(.posted) | \(.duplicates) | \(.p50_ms) | \(.p99_ms) | \(.max_ms) | \(.post_p99_ms) | \(.event_after_201_p99_ms) | \(.kb_per_socket) (\($fresh)) |\($note)"' <<<"$wsout")")
        [ "$ok" = 0 ] || ws_p99+=("$socks:$(jq -r .p99_ms <<<"$wsout")")
        kb="$(jq -r .kb_per_socket <<<"$wsout")"
        ws_kb="$(awk -v a="$ws_kb" -v b="$kb" 'BEGIN{print (a == "" || b + 0 > a + 0) ? b : a}')"
    done
fi

# --- report ----------------------------------------------------------------------------
workers="$(wc -w <<<"$nginx_workers")"
[ "$workers" -gt 0 ] || workers="?"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

echo
echo "nginx-chat bench, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores ($cpu), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nginx workers: $workers; wrk -t$THREADS -c$CONNS -d$DURATION after a $WARMUP warm-up, 127.0.0.1:$CHAT_PORT;"
echo "cache zone $zone_note"
if [ "$post_only" != 1 ]; then
    echo "the floors and the read interleaved: $ROUNDS rounds of -d$ROUND_DURATION after a $ROUND_WARMUP warm-up each"
    echo "cache_hits +$((hits1 - hits0)), evictions +$((evict1 - evict0)) during the conversation runs"
fi
if [ "${BENCH_READ_ONLY:-0}" != 1 ]; then
    if [ "$post_only" != 1 ]; then
        echo "the write: $PAIRS pairs of pgbench's INSERT then the POST run, each after a CHECKPOINT (waited for)"
    else
        echo "the write: one POST run after a CHECKPOINT (waited for)"
    fi
    [ "$ckpt_failed" -eq 0 ] || echo "WARNING: $ckpt_failed CHECKPOINTs failed: those runs did not start from the same state"
fi
echo
printf '| %-44s | %10s | %8s | %8s |\n' "scenario" "requests/s" "p50 ms" "p99 ms"
printf '| %-44s | %10s | %8s | %8s |\n' "---" "---:" "---:" "---:"
printf '%s\n' "${rows[@]}"
if [ "${#diag_lines[@]}" -gt 0 ]; then echo; printf '%s\n' "${diag_lines[@]}"; fi
[ "$post_only" != 1 ] || exit 0
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo "| ratio (same run) | value | goal |"
echo "| --- | ---: | ---: |"
echo "| cached GET /conversation ÷ nginx return 200 (the goal line; median of $ROUNDS rounds; lowest, middle half, highest: $read_spread) | $(ratio "$read_ratio" 1)× | ≥ 0.8× |"
echo "| cached GET /conversation ÷ return 200 writing the same access log line (like for like: both log; same rounds; $logged_spread) | $(ratio "$logged_ratio" 1)× | – |"
echo "| return 200 with the access log line ÷ without (the log line's part: the first line ≈ the second × this; same rounds; $log_cost_spread) | $(ratio "$log_cost_ratio" 1)× | – |"
echo "| nginx CPU per request, return 200 ÷ cached GET /conversation (same rounds; median $floor_cpu_us ÷ $read_cpu_us µs; $cpu_spread) | $(ratio "$cpu_ratio" 1)× | – |"
if [ "${BENCH_READ_ONLY:-0}" != 1 ]; then
    # each pair's POST ÷ its floor; the goal line their median (of an even number: the mean of
    # the middle two); the p99's goal line the highest
    w_ratios="$(for i in "${!w_rps[@]}"; do ratio "${w_rps[$i]}" "${i_rps[$i]}"; printf ' '; done)"
    w_median="$(tr ' ' '\n' <<<"$w_ratios" | grep . | sort -g \
                | awk '{a[NR]=$1} END {printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')"
    w_p99_max="$(printf '%s\n' "${w_p99[@]}" | sort -g | tail -n1)"
    pairs_txt="$(for i in "${!w_rps[@]}"; do printf '%spair %d %s÷%s = %s×' "${i:+; }" $((i + 1)) "${w_rps[$i]}" "${i_rps[$i]}" "$(ratio "${w_rps[$i]}" "${i_rps[$i]}")"; done)"
    echo "| POST /messages ÷ pgbench single-row INSERT right before it (the goal line: median of $PAIRS pairs; ${pairs_txt#; }) | ${w_median}× | ≥ 0.5× |"
    echo "| POST /messages p99 at $CONNS connections (the goal line: the highest of $PAIRS runs; $(printf '%s ms, ' "${w_p99[@]}" | sed 's/, $//')) | $w_p99_max ms | ≤ 25 ms |"
fi
if [ "${#ws_rows[@]}" -gt 0 ]; then
    # the realtime goals: p99 (POST sent -> its event on the socket) at each run's sockets, every
    # message delivered once, the memory per idle socket
    for x in "${ws_p99[@]}"; do
        goal=10; [ "${x%%:*}" -lt 10000 ] || goal=20
        echo "| realtime p99 at ${x%%:*} sockets, POST sent → its event on the author's socket (bench/ws.mjs; every message delivered once) | ${x#*:} ms | ≤ $goal ms |"
    done
    [ "$ws_failed" = 0 ] || echo "| realtime: a run FAILED (lost, duplicated or failed messages: see its row) | FAILED | every message once |"
    [ -z "$ws_kb" ] || echo "| nginx workers' memory per idle socket (the highest of the runs) | $ws_kb KB | ≤ 10 KB |"
    echo
    echo "| sockets | msg/s | delivered | duplicates | p50 ms | p99 ms | max ms | POST p99 ms | event after 201 p99 ms | KB per idle socket |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${ws_rows[@]}"
fi
echo
echo "read ÷ return 200, round by round: ${read_rounds% }"
[ "${BENCH_READ_ONLY:-0}" != 1 ] || exit 0

# The FAQ bot's answer quality and the cost of one match (core/tests/faq_quality_test.cpp: the
# seed FAQ against the held-out phrasings of core/tests/faq_heldout.tsv; no stack involved).
faq_tests="$here/../build/core/core_tests"
if [ -x "$faq_tests" ]; then
    echo
    "$faq_tests" --gtest_filter='FaqQuality.*' 2>/dev/null | grep '^FAQ ' || log "FAQ quality test failed"
fi

# Reports and full-text search on a million rows (issue 13): bench/reports.sh and bench/search.sh
# each build their data set in a scratch schema of the stack's database (a few minutes per
# million rows on 2 cores), time the SQL as the API calls it, and drop the schema.
# BENCH_MILLION=0 skips both; BENCH_CONVERSATIONS and BENCH_MESSAGES size them (1,000,000 each).
if [ "${BENCH_MILLION:-1}" != 0 ]; then
    echo
    log "reports on ${BENCH_CONVERSATIONS:-1000000} conversations (bench/reports.sh)"
    "$here/reports.sh" || log "reports.sh failed"
    log "full-text search on ${BENCH_MESSAGES:-1000000} messages (bench/search.sh)"
    "$here/search.sh" || log "search.sh failed"
fi
