#!/usr/bin/env bash
# bench/instructions.sh: CPU instructions an nginx worker spends per request, counted by valgrind's
# callgrind — repeatable whatever else the machine is doing, so two builds compare exactly.
#
#   make up && bench/instructions.sh           (uses the running stack's Postgres, Redis and config)
#
# It starts one more nginx from the stack's var/nginx.conf, single process (master_process off) under
# callgrind with instrumentation off, on CHAT_PORT+1000; then for each scenario switches counting on
# for BENCH_REQUESTS requests sent over one keep-alive connection and prints instructions per request
# of that worker (Postgres and Redis run in their own processes and are not counted).
#   0. GET  /bench/return200 and /bench/same-bytes: nginx's own return 200 of 3 bytes, and of the
#      very bytes of scenario 2's answer (added to the copied config), the floors of a read
#   1. GET  /chat/api/v1/health
#   2. GET  /chat/api/v1/conversation?after=0    21 messages from the shared-memory cache
#   3. POST /chat/api/v1/messages                 text + FAQ bot reply, fresh client_id each
#   4. POST /chat/api/v1/session                  a new session each (the session rate limit counts)
#   5. POST /chat/api/v1/messages to the stack's nginx, heard by this worker through Redis: what
#      every other worker of every node spends on each post (the events' echo, the cache's forget)
#   6. with BENCH_LONG=FILE (session tokens of long conversations, e.g. var/bench-tokens.PORT of
#      bench/post-cpu.sh): POST /messages to those, each conversation read once before (uncounted)
#      so that the post merges into a cached entry of its whole history (chat_history)
#   7. with BENCH_PARALLEL=P: POST /messages, P at once (curl --parallel): the posts queue in the
#      worker's pool and go to Postgres in batches, as under load
# BENCH_MODULE=PATH counts another build of the module (A/B of two builds on one stack).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
N="${BENCH_REQUESTS:-300}"
PORT="$((CHAT_PORT + 1000))"
api="http://127.0.0.1:$PORT/chat/api/v1"

log() { printf 'instructions: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v valgrind >/dev/null || die "valgrind is missing (apt-get install -y valgrind)"
[ -f "$CHAT_VAR/nginx.conf" ] || die "no $CHAT_VAR/nginx.conf: run make up first"

work="$(mktemp -d)"
chmod 0755 "$work"
cleanup() {
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    [ -n "${vg:-}" ] && wait "$vg" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# the stack's config, one process, on another port, its own pid and logs; the access log off
# (BENCH_ACCESS_LOG=1 keeps it, into a file of its own, and counts return200-logged too)
if [ "${BENCH_ACCESS_LOG:-0}" = 1 ]; then
    access_log="s|access_log  *$CHAT_VAR/log/access.log|access_log $work/access.log|"
else
    access_log="s|access_log .*|access_log off;|"
fi
sed -e "s|^worker_processes .*|worker_processes 1; master_process off; daemon off;|" \
    -e "s|^user .*||" \
    -e "s|^pid .*|pid $work/nginx.pid;|" \
    -e "s|^error_log .*|error_log $work/error.log info;|" \
    -e "$access_log" \
    -e "s|listen  *127.0.0.1:$CHAT_PORT;|listen 127.0.0.1:$PORT;|" \
    "$CHAT_VAR/nginx.conf" > "$work/nginx.conf"
if [ -n "${BENCH_MODULE:-}" ]; then
    [ -f "$BENCH_MODULE" ] || die "no module $BENCH_MODULE"
    sed -i -e "s|^load_module .*|load_module $BENCH_MODULE;|" "$work/nginx.conf"
fi
grep -q "listen 127.0.0.1:$PORT;" "$work/nginx.conf" || die "could not move the listen port in nginx.conf"

# the read's fixture is made on the stack itself (same database and secret), so that its answer can
# go into the config as nginx's own `return 200` of the same bytes (GET /bench/same-bytes; a config
# string is at most 4 KB: the body goes in chunks of variables, single-quoted)
stack_api="http://127.0.0.1:$CHAT_PORT/chat/api/v1"
log "fixtures"
read_token="$(curl -fsS -X POST -H 'Content-Type: application/json' --data '{}' "$stack_api/session" | jq -r .token)"
for i in $(seq 1 10); do
    curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $read_token" -H 'Content-Type: application/json' \
        --data "{\"text\":\"How long does shipping take? ($i)\",\"client_id\":\"$(printf '%08x-0000-4000-8000-%012x' "$RANDOM" "$i")\"}" \
        "$stack_api/messages"
done
curl -fsS -H "Authorization: Bearer $read_token" "$stack_api/conversation?after=0" -o "$work/answer.json"
grep -q '\$' "$work/answer.json" && die "the answer holds a \$: cannot put it in the config"
{
    printf 'location = /bench/same-bytes {\n    default_type application/json;\n'
    vars=""
    i=0
    while IFS= read -r -d '' chunk || [ -n "$chunk" ]; do
        printf "    set \$same_%d '%s';\n" "$i" "$(printf '%s' "$chunk" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
        vars+="\$same_$i"
        i=$((i + 1))
    done < <(fold -b -w 3000 "$work/answer.json" | tr '\n' '\0')
    printf '    return 200 "%s";\n}\n' "$vars"
} > "$work/same-bytes.conf"
sed -i -e "s|^\( *\)location = /bench/return200 {|\1include $work/same-bytes.conf;\n&|" "$work/nginx.conf"
grep -q "include $work/same-bytes.conf" "$work/nginx.conf" || die "could not add /bench/same-bytes to nginx.conf"

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.%p" \
    /usr/sbin/nginx -p "$work/" -c "$work/nginx.conf" > "$work/valgrind.log" 2>&1 &
vg=$!
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$api/health" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null "$api/health" || { tail -20 "$work/valgrind.log" "$work/error.log" >&2; die "nginx under callgrind did not answer"; }
# the worker's pool, its FAQ and Redis connect lazily: give them a moment
sleep 2

# count SCENARIO CURLRC: instructions per request while curl runs CURLRC (N requests)
rows=()
count() {
    local name="$1" rc="$2" total
    local -a parallel=()
    [ "${3:-}" = parallel ] && parallel=(--parallel --parallel-max "$BENCH_PARALLEL")
    callgrind_control -z "$vg" >/dev/null 2>&1
    callgrind_control -i on "$vg" >/dev/null 2>&1
    curl "${parallel[@]}" -K "$rc" > "$work/out" || die "$name: a request failed"
    # heard events come after the answers: give the worker under callgrind time to take them all
    [ "${3:-}" = settle ] && sleep 2
    rm -f "$work"/cg.*.[0-9]*
    callgrind_control -d "$vg" >/dev/null 2>&1
    callgrind_control -i off "$vg" >/dev/null 2>&1
    total="$(grep -h '^summary:\|^totals:' "$work"/cg.*.[0-9]* | head -1 | awk '{print $2}')"
    [ -n "$total" ] || die "$name: no callgrind dump"
    rows+=("$(printf '| %-44s | %12d |' "$name" "$((total / N))")")
    # BENCH_KEEP=DIR keeps each scenario's profile for callgrind_annotate
    if [ -n "${BENCH_KEEP:-}" ]; then
        mkdir -p "$BENCH_KEEP"
        cat "$work"/cg.*.[0-9]* > "$BENCH_KEEP/$(printf '%s' "$name" | tr -c 'A-Za-z0-9' '_').cg"
    fi
}

# a curl config of N requests on one connection: METHOD URL [header | @tokens-file]
curlrc() {
    local method="$1" url="$2" header="${3:-}" i
    local -a tokens=()
    if [ "${header:0:1}" = @ ]; then mapfile -t tokens < "${header:1}"; header=""; fi
    printf 'silent\nshow-error\nfail\noutput = /dev/null\n'
    for ((i = 0; i < N; i++)); do
        printf 'next\nrequest = "%s"\nurl = "%s"\noutput = /dev/null\n' "$method" "$url"
        [ -n "$header" ] && printf 'header = "%s"\n' "$header"
        [ "${#tokens[@]}" -gt 0 ] && printf 'header = "Authorization: Bearer %s"\n' "${tokens[$i]}"
        if [ "$method" = POST ]; then
            printf 'header = "Content-Type: application/json"\n'
            if [ "${url##*/}" = messages ]; then
                printf 'data = "{\\"text\\":\\"How long does shipping take?\\",\\"client_id\\":\\"%s\\"}"\n' \
                    "$(printf '%08x-0000-4000-8000-%012x' "$RANDOM$RANDOM" "$i")"
            else
                printf 'data = "{}"\n'
            fi
        fi
    done
}

# one session per write, so the per-session rate limit (chat_rate) never answers 429
{ printf 'silent\nshow-error\nfail\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{}"\n'
  for ((i = 0; i < N; i++)); do printf 'url = "%s/session"\n' "$api"; done
} > "$work/tokens.rc"
curl -K "$work/tokens.rc" | jq -r .token > "$work/tokens"
[ "$(grep -c . "$work/tokens")" -eq "$N" ] || die "wanted $N session tokens"
sed -e "s|$api/session|$stack_api/session|" "$work/tokens.rc" > "$work/stack-tokens.rc"
curl -K "$work/stack-tokens.rc" | jq -r .token > "$work/stack-tokens"
[ "$(grep -c . "$work/stack-tokens")" -eq "$N" ] || die "wanted $N session tokens of the stack"
curlrc GET "http://127.0.0.1:$PORT/bench/return200" > "$work/return200.rc"
curlrc GET "http://127.0.0.1:$PORT/bench/same-bytes" > "$work/same.rc"
curlrc GET "$api/health" > "$work/health.rc"
curlrc GET "$api/conversation?after=0" "Authorization: Bearer $read_token" > "$work/conv.rc"
curlrc POST "$api/messages" "@$work/tokens" > "$work/post.rc"
curlrc POST "$api/session" > "$work/session.rc"
curlrc POST "$stack_api/messages" "@$work/stack-tokens" > "$work/heard.rc"
# warm the cache and the code paths once
curl -K "$work/conv.rc" > /dev/null
cmp -s <(curl -fsS "http://127.0.0.1:$PORT/bench/same-bytes") "$work/answer.json" \
    || die "/bench/same-bytes is not the read's answer"

log "counting $N requests per scenario"
count "GET /bench/return200 (nginx return 200)" "$work/return200.rc"
if [ "${BENCH_ACCESS_LOG:-0}" = 1 ]; then
    curlrc GET "http://127.0.0.1:$PORT/bench/return200-logged" > "$work/logged.rc"
    count "GET /bench/return200-logged (+ access log)" "$work/logged.rc"
fi
count "GET /bench/same-bytes (return 200, $(wc -c < "$work/answer.json") B)" "$work/same.rc"
count "GET /health" "$work/health.rc"
count "GET /conversation?after=0 (21 msgs, cached)" "$work/conv.rc"
count "POST /messages (text + bot reply)" "$work/post.rc"
count "POST /session (new)" "$work/session.rc"
count "POST /messages heard (via the stack's nginx)" "$work/heard.rc" settle
if [ -n "${BENCH_PARALLEL:-}" ]; then
    # the sessions of the post scenario again (each has posted once: chat_rate's burst allows more)
    curlrc POST "$api/messages" "@$work/tokens" > "$work/parallel.rc"
    count "POST /messages ($BENCH_PARALLEL at once, batched)" "$work/parallel.rc" parallel
fi
if [ -n "${BENCH_LONG:-}" ]; then
    head -n "$N" "$BENCH_LONG" > "$work/long-tokens"
    [ "$(grep -c . "$work/long-tokens")" -eq "$N" ] || die "wanted $N tokens in $BENCH_LONG"
    { printf 'silent\nshow-error\nfail\n'
      while read -r t; do
          printf 'next\nurl = "%s/conversation?after=0"\nheader = "Authorization: Bearer %s"\noutput = /dev/null\n' "$api" "$t"
      done < "$work/long-tokens"; } > "$work/long-read.rc"
    curl -K "$work/long-read.rc" || die "reading the long conversations failed"
    curlrc POST "$api/messages" "@$work/long-tokens" > "$work/long.rc"
    count "POST /messages (long conversation, cached)" "$work/long.rc"
fi

echo
module="$(awk '$1 == "load_module" {gsub(";", "", $2); print $2}' "$work/nginx.conf")"
built="$(git -C "${module%/build/*}" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "nginx-chat instructions per request (callgrind, one worker, $N requests each, module of $built$([ "${BENCH_ACCESS_LOG:-0}" = 1 ] && echo ", access log on"))"
echo
printf '| %-44s | %12s |\n' "scenario" "instructions"
printf '| %-44s | %12s |\n' "---" "---:"
printf '%s\n' "${rows[@]}"
