#!/usr/bin/env bash
# bench/post-cpu.sh: where the CPU of a customer post goes, end to end. Against a running stack
# (make up, same ports) it runs wrk with "$here/post.lua" (64 connections, D seconds, default 15)
# and prints, per 201 answered: the CPU (user + system, from /proc) of the nginx workers, of this
# cluster's Postgres backends and of its other processes (checkpointer, WAL writer, autovacuum),
# of Redis and of wrk itself; the posts per chat_customer_post_batch_v2 call (needs track_functions:
# it is set for the database chat on first use); and the WAL written per post (records, full-page
# images, bytes: pg_stat_wal) and the blocks of the database chat Postgres read from the OS (missed
# in shared_buffers), found there (pg_stat_database) and dirty ones the backends wrote out themselves
# to free a buffer (pg_stat_bgwriter's buffers_backend); the conversation updates per post and the
# share of them that were HOT (a post more than a minute after its conversation's last change, or
# across a minute's boundary, is not: each run starts at the first session again, so the share moves
# with the time since the last run, 0.2-0.97 between runs of one tree: compare runs by it, README
# "Session 16, wt-pgcpu"; WARM=S below makes them all warm); and the autovacuum/autoanalyze runs during the run by table (vacuums/analyzes:
# their workers come and go within a run, so the CPU lines may miss them). The sessions (N, default 30000, so that chat_rate stays quiet at
# ~6 000 posts/s) are made once and kept in var/bench-tokens.PORT (FRESH=1 makes them anew).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
cd "$here/.."
# its tools, as bench/run.sh installs them (a clean machine has none)
need=()
for t in wrk:wrk jq:jq curl:curl psql:postgresql-client; do command -v "${t%%:*}" >/dev/null || need+=("${t#*:}"); done
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    echo "post-cpu: installing ${need[*]} with apt-get" >&2
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
PORT=$CHAT_PORT; PGP=$CHAT_PG_PORT
api="http://127.0.0.1:$PORT/chat/api/v1"
N=${N:-30000}
tok="$CHAT_VAR/bench-tokens.$PORT"
if [ ! -s $tok ] || [ "$(wc -l < $tok)" -lt "$N" ] || [ -n "${FRESH:-}" ]; then
  : > $tok
  for chunk in $(seq 1 $((N/3000))); do
    for k in 0 1 2 3; do
      ( rc=$(mktemp); { printf 'silent\nshow-error\nfail\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{}"\n'; for ((i=0;i<750;i++)); do printf 'url = "%s/session"\n' "$api"; done; } > $rc; curl -K $rc | jq -r .token > $tok.$k; rm $rc ) &
    done; wait; cat $tok.[0-3] >> $tok; sleep 3
  done
fi
Q() { PGPASSWORD=chat psql -h 127.0.0.1 -p "$PGP" -U chat chat -qAtX -c "$1"; }
if [ "$(Q "SELECT current_setting('track_functions')")" != pl ]; then
    # the calls of the batch function are counted from the next connection on: new ones
    sock="$PGDATA"   # as scripts/db.sh: the superuser's socket, elsewhere if the path is too long
    [ "${#sock}" -le 90 ] || sock="/tmp/.nginx-chat-pg-$(printf '%s' "$PGDATA" | sha256sum | cut -c1-12)"
    chat_superuser_psql() { runuser -u postgres -- psql -h "$sock" -p "$PGP" chat -qAtX "$@"; }
    chat_superuser_psql -c "ALTER DATABASE chat SET track_functions = 'pl'" >/dev/null
    echo "post-cpu: track_functions set for database chat; restart nginx (its pool) to count batch calls" >&2
fi
# the conversations' updates during the run and how many were HOT (030_hot_post_update: a post in
# the minute of its conversation's last change writes no index entry; a post in a later minute
# changes updated_minute and writes one into each of the conversation's indexes), and the
# autovacuum and autoanalyze runs by table (their workers come and go within a run: snap misses them)
hot_q="select n_tup_upd||' '||n_tup_hot_upd from pg_stat_user_tables where relid = 'conversations'::regclass"
# since 034_conversation_minutes the conversation's update stays HOT and a cold post (its minute
# changed) updates its narrow row instead: those updates per post are the cold posts' share
min_q="select coalesce((select n_tup_upd from pg_stat_user_tables where relid = to_regclass('conversation_minutes')), 0)"
vac_q="select coalesce(string_agg(relname||':'||autovacuum_count||':'||autoanalyze_count, ' ' ORDER BY relname), '') from pg_stat_user_tables where schemaname = 'public'"
snap() {  # this stack's processes only: children of its nginx master and postmaster, its Redis
  local ngm pgm; ngm=$(cat "$CHAT_VAR/nginx.pid"); pgm=$(head -1 "$PGDATA/postmaster.pid")
  for p in /proc/[0-9]*; do
    [ -r $p/stat ] || continue
    pp=$(awk '{print $4}' $p/stat 2>/dev/null) || continue
    [ "$pp" = "$ngm" ] || [ "$pp" = "$pgm" ] || grep -qa ":$CHAT_REDIS_PORT" $p/cmdline 2>/dev/null || continue
    c=$(cat $p/cmdline 2>/dev/null | tr '\0' ' ' | cut -c1-60) || continue
    s=$(awk '{print $14+$15}' $p/stat 2>/dev/null) || continue
    case "$c" in
      "nginx: worker"*) k=nginx;;
      "postgres: chat chat"*) k=pg_backend;;
      postgres:*walwriter*) k=pg_walwriter;;
      postgres:*autovacuum*) k=pg_autovac;;
      postgres:*checkpointer*) k=pg_checkpointer;;
      postgres:*) k=pg_other;;
      *redis-server*) k=redis;;
      *) continue;;
    esac
    echo "$k $s"
  done | awk '{a[$1]+=$2} END{for(k in a) print k, a[k]}'
}
export BENCH_TOKENS=$tok BENCH_LUA_DIR="$here" BENCH_THREADS=2
# WARM=S: every post of the measured run a warm one (HOT: within its conversation's minute): wait
# for the next minute to start, warm up for S seconds instead of 3 (S long enough for wrk to reach
# every session once: N / posts per second), then the run, all within that minute
warm=3
if [ -n "${WARM:-}" ]; then
    warm=$WARM
    [ $((warm + ${D:-15})) -le 56 ] || echo "post-cpu: WARM + D is over 56 s: the run crosses a minute" >&2
    sleep $((60 - 10#$(date +%S))).$((999 - 10#$(date +%N | cut -c1-3)))
fi
wrk -t2 -c64 -d${warm}s -s "$here/post.lua" $api/messages >/dev/null
sleep 0.5
c0=$(Q "select calls from pg_stat_user_functions where funcname='chat_customer_post_batch_v2'"); w0=$(Q "select wal_records||' '||wal_fpi||' '||wal_bytes from pg_stat_wal")
b0=$(Q "select blks_read||' '||blks_hit||' '||buffers_backend from pg_stat_database, pg_stat_bgwriter where datname = 'chat'")
h0=$(Q "$hot_q"); v0=$(Q "$vac_q"); m0=$(Q "$min_q")
snap > "$CHAT_VAR/cpu0"
/usr/bin/time -f "wrk_cpu %U %S" wrk -t2 -c64 -d${D:-15}s --latency -s "$here/post.lua" $api/messages > "$CHAT_VAR/wrk.out" 2>"$CHAT_VAR/wrk.time"
snap > "$CHAT_VAR/cpu1"
sleep 0.6
c1=$(Q "select calls from pg_stat_user_functions where funcname='chat_customer_post_batch_v2'"); w1=$(Q "select wal_records||' '||wal_fpi||' '||wal_bytes from pg_stat_wal")
b1=$(Q "select blks_read||' '||blks_hit||' '||buffers_backend from pg_stat_database, pg_stat_bgwriter where datname = 'chat'")
h1=$(Q "$hot_q"); v1=$(Q "$vac_q"); m1=$(Q "$min_q")
grep -E "BENCH" "$CHAT_VAR/wrk.out" | sed 's/socket_errors.*status_2xx/201/'
posts=$(grep -o 'status_2xx=[0-9]*' "$CHAT_VAR/wrk.out" | cut -d= -f2)
if [ "${posts:-0}" -eq 0 ]; then
    # every post refused (e.g. 409: the kept sessions' conversations closed by a test run against this stack)
    echo "post-cpu: no post answered 2xx; the sessions in $tok may be closed: run again with FRESH=1" >&2
    exit 1
fi
hz=$(getconf CLK_TCK)
join -a2 <(sort "$CHAT_VAR/cpu0") <(sort "$CHAT_VAR/cpu1") | awk -v n=$posts -v hz=$hz 'NF==3{printf "%-16s %7.1f us/post\n", $1, ($3-$2)/hz*1e6/n} NF==2{printf "%-16s %7.1f us/post (new)\n", $1, $2/hz*1e6/n}'
awk -v n=$posts '/wrk_cpu/{printf "%-16s %7.1f us/post\n","wrk",($2+$3)*1e6/n}' "$CHAT_VAR/wrk.time"
echo "posts/s $(awk -v n=$posts -v d=$(grep -o 'duration_us=[0-9]*' "$CHAT_VAR/wrk.out" | cut -d= -f2) 'BEGIN{printf "%.0f", n/d*1e6}')  per batch call: $(awk -v n=$posts -v a=${c0:-0} -v b=${c1:-0} 'BEGIN{if(b>a) printf "%.1f", n/(b-a); else print "?"}')"
echo $w0 $w1 | awk -v n=$posts '{printf "wal per post: %.1f records, %.2f fpi, %.0f bytes\n", ($4-$1)/n, ($5-$2)/n, ($6-$3)/n}'
echo $h0 $h1 | awk -v n=$posts '{u=$3-$1; h=$4-$2; printf "conversation updates per post: %.2f, HOT %.3f of them\n", u/n, (u>0 ? h/u : 0)}'
awk -v n=$posts -v a=${m0:-0} -v b=${m1:-0} 'BEGIN{printf "narrow rows (conversation_minutes) updated per post: %.3f (the cold posts)\n", (b-a)/n}'
join <(tr ' ' '\n' <<<"$v0" | tr ':' ' ' | sort) <(tr ' ' '\n' <<<"$v1" | tr ':' ' ' | sort) \
    | awk '$4>$2 || $5>$3 {s = s sprintf(" %s %d/%d", $1, $4-$2, $5-$3)} END{print "autovacuum/autoanalyze runs during the run:" (s == "" ? " none" : s)}'
echo $b0 $b1 | awk -v n=$posts '{printf "blocks per post: %.2f read from the OS (not in shared_buffers), %.1f hit, %.2f written out by backends\n", ($4-$1)/n, ($5-$2)/n, ($6-$3)/n}'
