#!/usr/bin/env bash
# bench/cpu.sh: CPU time per request of nginx's own `return 200` and of the cached read, alternated,
# so that their ratio holds up on a machine whose other work moves wrk's requests/s by 2x.
#
#   make up && bench/cpu.sh            (same CHAT_PORT as `make up`)
#
# For BENCH_ROUNDS rounds it runs wrk (BENCH_THREADS threads, BENCH_CONNS connections,
# BENCH_SECONDS each) on GET /bench/return200, then on GET /chat/api/v1/conversation?after=0
# (21 messages, from the shared-memory cache), and adds up the requests, the nginx workers'
# user + system time (from /proc/PID/stat) and wrk's own (from time(1)). Both ends count: on the
# bench's 2 cores wrk and nginx share the CPU, and a larger answer costs the client too. It
# prints microseconds per request and the ratio return200 / read, which is what the requests/s
# ratio of `make bench` would be on an otherwise idle machine where the CPU is the limit.
#
# A third scenario is nginx's own `return 200` of the very bytes the cached read answers (taken
# from the stack after the fixtures; GET /bench/same-bytes): what nginx itself costs for an answer
# of that size, so the ratio the read can reach is measured, not guessed. It needs the body in the
# config, so all three scenarios run on one more nginx started from the stack's var/nginx.conf
# (same build, modules, workers and access log) on CHAT_PORT+1000, stopped at the end.
#
# A fourth is `return 200` with the access log line the read writes (GET /bench/return200-logged of
# the dev config: the stack's http-level access_log, which /bench/return200 switches off): nginx's combined log
# line costs about 2 700 instructions a request (bench/instructions.sh with the log left on), which
# the floor of `make bench` does not pay and the read does.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
ROUNDS="${BENCH_ROUNDS:-4}"
SECONDS_EACH="${BENCH_SECONDS:-4}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNS:-64}"
base="http://127.0.0.1:$CHAT_PORT"
api="$base/chat/api/v1"

log() { printf 'cpu: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v wrk >/dev/null || die "wrk is missing (apt-get install -y wrk)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install -y time)"
[ -f "$CHAT_VAR/nginx.pid" ] || die "no $CHAT_VAR/nginx.pid: run make up first"
curl -fsS -o /dev/null "$api/health" || die "nothing answers $api/health"

work="$(mktemp -d)"
chmod 0755 "$work"
cleanup() {
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
hz="$(getconf CLK_TCK)"

log "fixtures"
token="$(curl -fsS -X POST -H 'Content-Type: application/json' --data '{}' "$api/session" | jq -r .token)"
for i in $(seq 1 10); do   # greeting + 10 x (customer message + bot reply) = 21
    curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data "{\"text\":\"How long does shipping take? ($i)\",\"client_id\":\"$(printf '%08x-0000-4000-8000-%012x' "$((RANDOM * 32768 + RANDOM))" "$i")\"}" \
        "$api/messages"
done
curl -fsS -H "Authorization: Bearer $token" "$api/conversation?after=0" -o "$work/answer.json"
nmsg="$(jq '.messages | length' "$work/answer.json")"

# the same bytes as nginx's own return 200: a config string is at most 4 KB, so the body goes
# in chunks of variables (single-quoted: \\ and \' escaped; a body with a $ is not expected)
grep -q '\$' "$work/answer.json" && die "the answer holds a \$: cannot put it in the config"
{
    printf 'location = /bench/same-bytes {\n    access_log off;\n    default_type application/json;\n'
    vars=""
    i=0
    while IFS= read -r -d '' chunk || [ -n "$chunk" ]; do
        printf "    set \$same_%d '%s';\n" "$i" "$(printf '%s' "$chunk" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
        vars+="\$same_$i"
        i=$((i + 1))
    done < <(fold -b -w 3000 "$work/answer.json" | tr '\n' '\0')
    printf '    return 200 "%s";\n}\n' "$vars"
} > "$work/same-bytes.conf"
port="$((CHAT_PORT + 1000))"
base="http://127.0.0.1:$port"
api="$base/chat/api/v1"
sed -e "s|^pid .*|pid $work/nginx.pid;|" \
    -e "s|^error_log .*|error_log $work/error.log info;|" \
    -e "s|listen  *127.0.0.1:$CHAT_PORT;|listen 127.0.0.1:$port;|" \
    -e "s|access_log  *$CHAT_VAR/log/access.log|access_log $work/access.log|" \
    -e "s|^\( *\)location = /bench/return200 {|\1include $work/same-bytes.conf;\n&|" \
    "$CHAT_VAR/nginx.conf" > "$work/nginx.conf"
grep -q "include $work/same-bytes.conf" "$work/nginx.conf" || die "could not add /bench/same-bytes to nginx.conf"
/usr/sbin/nginx -p "$work/" -c "$work/nginx.conf" || die "the second nginx did not start (see $work/error.log)"
for _ in $(seq 1 50); do curl -fsS -o /dev/null "$api/health" 2>/dev/null && break; sleep 0.1; done
cmp -s <(curl -fsS "$base/bench/same-bytes") "$work/answer.json" || die "/bench/same-bytes is not the read's answer"
workers="$(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"
[ -n "$workers" ] || die "no nginx workers"

# the workers' user + system time so far, in clock ticks
ticks() {
    local t=0 p
    for p in $workers; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$t"
}

# one URL [wrk args...]: prints "requests nginx_ticks wrk_ticks"
one() {
    local t0 t1
    t0="$(ticks)"
    /usr/bin/time -f '%U %S' -o "$work/time" \
        wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" "$@" > "$work/out"
    t1="$(ticks)"
    echo "$(awk '/requests in/ {print $1}' "$work/out") $((t1 - t0)) $(awk -v hz="$hz" '{printf "%d", ($1 + $2) * hz}' "$work/time")"
}

floor=(0 0 0)
logged=(0 0 0)
same=(0 0 0)
read=(0 0 0)
wrk -t"$THREADS" -c"$CONNS" -d2s "$base/bench/return200" > /dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s "$base/bench/return200-logged" > /dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s "$base/bench/same-bytes" > /dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s -H "Authorization: Bearer $token" "$api/conversation?after=0" > /dev/null
for r in $(seq 1 "$ROUNDS"); do
    log "round $r of $ROUNDS"
    read -r q n w < <(one "$base/bench/return200")
    floor=($((floor[0] + q)) $((floor[1] + n)) $((floor[2] + w)))
    read -r q n w < <(one "$base/bench/return200-logged")
    logged=($((logged[0] + q)) $((logged[1] + n)) $((logged[2] + w)))
    read -r q n w < <(one "$base/bench/same-bytes")
    same=($((same[0] + q)) $((same[1] + n)) $((same[2] + w)))
    read -r q n w < <(one -H "Authorization: Bearer $token" "$api/conversation?after=0")
    read=($((read[0] + q)) $((read[1] + n)) $((read[2] + w)))
done

row() {  # name requests nginx_ticks wrk_ticks
    awk -v name="$1" -v q="$2" -v n="$3" -v w="$4" -v hz="$hz" 'BEGIN {
        printf "| %-44s | %9d | %10.2f | %10.2f | %10.2f |\n", name, q, n / hz * 1e6 / q, w / hz * 1e6 / q, (n + w) / hz * 1e6 / q }'
}

echo
echo "nginx-chat CPU per request, $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t$THREADS -c$CONNS, $ROUNDS rounds of ${SECONDS_EACH}s each, alternated, 127.0.0.1:$port (the stack's config)"
echo
printf '| %-44s | %9s | %10s | %10s | %10s |\n' "scenario" "requests" "nginx us" "wrk us" "total us"
printf '| %-44s | %9s | %10s | %10s | %10s |\n' "---" "---:" "---:" "---:" "---:"
row "GET /bench/return200 (nginx return 200)" "${floor[@]}"
row "GET /bench/return200-logged (+ access log)" "${logged[@]}"
row "GET /bench/same-bytes (return 200, $(wc -c < "$work/answer.json") B)" "${same[@]}"
row "GET /conversation?after=0 ($nmsg msgs, cached)" "${read[@]}"
echo
# ratio NAME A B: CPU per request of A / of B, both ends and nginx alone
ratio() {
    awk -v name="$1" -v aq="$2" -v an="$3" -v aw="$4" -v bq="$5" -v bn="$6" -v bw="$7" 'BEGIN {
        printf "%s: %.2f× (nginx and wrk), %.2f× (nginx alone)\n", name,
            ((an + aw) / aq) / ((bn + bw) / bq), (an / aq) / (bn / bq) }'
}
ratio "CPU per request, return200 / cached read (goal ≥ 0.8×)" "${floor[@]}" "${read[@]}"
ratio "CPU per request, return200 with the read's access log / cached read" "${logged[@]}" "${read[@]}"
ratio "CPU per request, return200 / the same bytes by return 200" "${floor[@]}" "${same[@]}"
ratio "CPU per request, the same bytes by return 200 / cached read" "${same[@]}" "${read[@]}"
