#!/usr/bin/env bash
# bench/read-ab.sh: two builds of the module compared on the cached read, CPU per request, alternated.
#
#   make up && cp build/nginx/objs/ngx_http_chat_module.so /tmp/a.so
#   (change the module, make build) && bench/read-ab.sh /tmp/a.so build/nginx/objs/ngx_http_chat_module.so
#
# It starts two more nginx from the stack's var/nginx.conf (same config, workers and access log,
# the same Postgres, Redis and chat_secret), one loading A on CHAT_PORT+2000 and one loading B on
# CHAT_PORT+2001, each with a shared-memory zone of its own, makes the read's fixture on the stack
# (a session with 21 messages; its token is valid on both), and then runs BENCH_ROUNDS (8) rounds of
# wrk (BENCH_THREADS, BENCH_CONNS, BENCH_SECONDS (4) each) on GET /conversation?after=0 against A
# and B in the order AB BA AB ..., adding up each one's requests and its workers' user + system time
# (from /proc). It prints microseconds of nginx per request for A and B, each round's B/A and their
# median. CPU per request barely moves with the machine's other work, where requests/s moved by 2x;
# what an instruction count cannot see (a cache line that both workers write, a lock) shows here.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
ROUNDS="${BENCH_ROUNDS:-8}"
SECONDS_EACH="${BENCH_SECONDS:-4}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNS:-64}"
stack_api="http://127.0.0.1:$CHAT_PORT/chat/api/v1"

log() { printf 'read-ab: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$#" -eq 2 ] || die "usage: bench/read-ab.sh A.so B.so"
so_a="$(readlink -f "$1")"; so_b="$(readlink -f "$2")"
[ -f "$so_a" ] && [ -f "$so_b" ] || die "no such module: $1 or $2"
command -v wrk >/dev/null || die "wrk is missing (apt-get install -y wrk)"
[ -f "$CHAT_VAR/nginx.conf" ] || die "no $CHAT_VAR/nginx.conf: run make up first"
curl -fsS -o /dev/null "$stack_api/health" || die "nothing answers $stack_api/health"

# shellcheck source=bench/ab-work.sh
source "$here/ab-work.sh"

# start V SO PORT: one more nginx from the stack's config, loading SO, listening on PORT
start() {
    local v="$1" so="$2" port="$3"
    mkdir -p "$work/$v"
    # each nginx its own copy of the module: the same file twice would be one dlopen()
    cp "$so" "$work/$v/module.so"
    sed -e "s|^load_module .*|load_module $work/$v/module.so;|" \
        -e "s|^pid .*|pid $work/$v/nginx.pid;|" \
        -e "s|^error_log .*|error_log $work/$v/error.log info;|" \
        -e "s|listen  *127.0.0.1:$CHAT_PORT;|listen 127.0.0.1:$port;|" \
        -e "s|access_log  *$CHAT_VAR/log/access.log|access_log $work/$v/access.log|" \
        "$CHAT_VAR/nginx.conf" > "$work/$v/nginx.conf"
    grep -q "listen 127.0.0.1:$port;" "$work/$v/nginx.conf" || die "could not move the listen port in nginx.conf"
    "$NGINX_BIN" -p "$work/$v/" -c "$work/$v/nginx.conf" || die "nginx $v did not start (see $work/$v/error.log)"
    for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/chat/api/v1/health" 2>/dev/null && return; sleep 0.1; done
    die "nginx $v does not answer"
}
port_a="$((CHAT_PORT + 2000))"; port_b="$((CHAT_PORT + 2001))"
start a "$so_a" "$port_a"
start b "$so_b" "$port_b"

log "fixtures"
token="$(curl -fsS -X POST -H 'Content-Type: application/json' --data '{}' "$stack_api/session" | jq -r .token)"
for i in $(seq 1 10); do   # greeting + 10 x (customer message + bot reply) = 21
    curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data "{\"text\":\"How long does shipping take? ($i)\",\"client_id\":\"$(printf '%08x-0000-4000-8000-%012x' "$((RANDOM * 32768 + RANDOM))" "$i")\"}" \
        "$stack_api/messages"
done
url() { echo "http://127.0.0.1:$1/chat/api/v1/conversation?after=0"; }
curl -fsS -H "Authorization: Bearer $token" "$(url "$port_a")" -o "$work/a.json"
curl -fsS -H "Authorization: Bearer $token" "$(url "$port_b")" -o "$work/b.json"
cmp -s "$work/a.json" "$work/b.json" || die "A and B answer the read differently"
log "the read: $(jq '.messages | length' "$work/a.json") messages, $(wc -c < "$work/a.json") bytes"

# the workers' user + system time so far, in clock ticks
ticks() {
    local t=0 p
    for p in $(pgrep -P "$(cat "$work/$1/nginx.pid")"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}

# one V PORT: prints "requests nginx_ticks"
one() {
    local t0 t1
    t0="$(ticks "$1")"
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -H "Authorization: Bearer $token" "$(url "$2")" > "$work/out"
    t1="$(ticks "$1")"
    grep -q 'Non-2xx' "$work/out" && die "$1: non-2xx answers"
    echo "$(awk '/requests in/ {print $1}' "$work/out") $((t1 - t0))"
}

for v in a b; do   # warm both (the first reads fill the cache from Postgres)
    port="$port_a"; [ "$v" = b ] && port="$port_b"
    wrk -t"$THREADS" -c"$CONNS" -d2s -H "Authorization: Bearer $token" "$(url "$port")" > /dev/null
done
# together V1 PORT1 V2 PORT2: both at once, each with its own wrk; prints "requests1 ticks1 requests2 ticks2"
together() {
    local a0 b0 a1 b1
    a0="$(ticks a)"; b0="$(ticks b)"
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -H "Authorization: Bearer $token" "$(url "$port_a")" > "$work/out.a" &
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -H "Authorization: Bearer $token" "$(url "$port_b")" > "$work/out.b"
    wait
    a1="$(ticks a)"; b1="$(ticks b)"
    ! grep -q 'Non-2xx' "$work/out.a" "$work/out.b" || die "non-2xx answers"
    echo "$(awk '/requests in/ {print $1}' "$work/out.a") $((a1 - a0)) $(awk '/requests in/ {print $1}' "$work/out.b") $((b1 - b0))"
}

qa=0; na=0; qb=0; nb=0; ratios=""
for r in $(seq 1 "$ROUNDS"); do
    if [ "${BENCH_TOGETHER:-1}" = 1 ]; then
        order="together"
        read -r q1 n1 q2 n2 < <(together)
    else
        order="a b"; [ $((r % 2)) -eq 0 ] && order="b a"
        for v in $order; do
            if [ "$v" = a ]; then read -r q1 n1 < <(one a "$port_a"); else read -r q2 n2 < <(one b "$port_b"); fi
        done
    fi
    qa=$((qa + q1)); na=$((na + n1)); qb=$((qb + q2)); nb=$((nb + n2))
    ratio="$(awk -v q1="$q1" -v n1="$n1" -v q2="$q2" -v n2="$n2" 'BEGIN{printf "%.3f", (n2 / q2) / (n1 / q1)}')"
    ratios+="$ratio "
    log "round $r ($order): A $(awk -v q="$q1" -v n="$n1" -v hz="$hz" 'BEGIN{printf "%.2f", n / hz * 1e6 / q}') us, B $(awk -v q="$q2" -v n="$n2" -v hz="$hz" 'BEGIN{printf "%.2f", n / hz * 1e6 / q}') us, B/A $ratio"
done

echo
echo "cached GET /conversation?after=0, nginx CPU per request, $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t$THREADS -c$CONNS, $ROUNDS rounds of ${SECONDS_EACH}s each, $([ "${BENCH_TOGETHER:-1}" = 1 ] && echo "A and B at once" || echo "AB BA ...")"
awk -v q="$qa" -v n="$na" -v hz="$hz" -v so="$so_a" 'BEGIN{printf "A %s: %d requests, %.3f us each\n", so, q, n / hz * 1e6 / q}'
awk -v q="$qb" -v n="$nb" -v hz="$hz" -v so="$so_b" 'BEGIN{printf "B %s: %d requests, %.3f us each\n", so, q, n / hz * 1e6 / q}'
echo "B/A by round: ${ratios% }"
echo "B/A median: $(tr ' ' '\n' <<<"$ratios" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'), lower in $(tr ' ' '\n' <<<"$ratios" | grep -c '^0\.') of $ROUNDS rounds"
