#!/usr/bin/env bash
# bench/webhooks.sh: what webhooks cost the write path: POST /messages with no webhook, one for
# message.created and chat.closed, one for every type, in one run against a running stack.
#
#   make up && bench/webhooks.sh          (same CHAT_PORT and CHAT_PG_PORT as `make up`)
#
# A receiver (Python, 127.0.0.1, answers 204) gets the deliveries of the stack's own sender
# (the dev config allows private addresses). For each case: the webhook is created through the
# admin API (the seed's admin), a BENCH_WARMUP warm-up and a BENCH_DURATION measured run of
# bench/post.lua as in bench/run.sh, then the backlog when the run ended, and how long the
# sender took to deliver it (at most BENCH_DRAIN seconds are waited). Prints a Markdown table
# with each case's posts/s as a ratio of the no-webhook run. The webhook is deleted after its
# case; the config of the stack is not touched. BENCH_SENDER=off holds the sender back during
# the measured run (psql holds the advisory lock of chat_webhook_fanout, so no claim makes
# deliveries): what the write path alone pays; the backlog is then delivered afterwards.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd -P)"
CHAT_PORT="${CHAT_PORT:-8080}"
THREADS="${BENCH_THREADS:-2}"
CONNS="${BENCH_CONNS:-64}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-3s}"
SESSIONS="${BENCH_SESSIONS:-3000}"
DRAIN="${BENCH_DRAIN:-120}"
SENDER="${BENCH_SENDER:-on}"
base="http://127.0.0.1:$CHAT_PORT"
api="$base/chat/api/v1"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
for t in wrk curl jq python3; do command -v "$t" >/dev/null || die "$t is missing (bench/run.sh installs wrk, curl, jq)"; done
curl -fsS -o /dev/null "$api/health" || die "nothing answers $api/health: start the stack first (make up, same CHAT_PORT)"

work="$(mktemp -d)"
rx_pid=""
cur_hook=""     # the case's webhook, deleted by cleanup if the script stops in the middle
cleanup() {
    [ -z "$cur_hook" ] || curl -fsS -o /dev/null -X DELETE "$api/admin/webhooks/$cur_hook" "${auth[@]}" || true
    [ -z "$rx_pid" ] || kill "$rx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- the receiver: reads a request, answers 204 and closes ---------------------------------
cat > "$work/receiver.py" <<'PY'
import asyncio, sys
count = 0
async def serve(r, w):
    global count
    try:
        head = await r.readuntil(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":", 1)[1])
        if n:
            await r.readexactly(n)
        count += 1
        w.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PY
python3 "$work/receiver.py" > "$work/rx.port" &
rx_pid=$!
for _ in $(seq 50); do [ -s "$work/rx.port" ] && break; sleep 0.1; done
rx_port="$(head -1 "$work/rx.port")"
[ -n "$rx_port" ] || die "the receiver did not start"
hook_url="http://127.0.0.1:$rx_port/bench-hook"
auth=()

# --- fixtures --------------------------------------------------------------------------
admin="$(curl -fsS -X POST "$api/agent/login" -H 'Content-Type: application/json' \
         --data '{"username":"admin","password":"Admin@123"}' | jq -r .token)"
[ -n "$admin" ] && [ "$admin" != null ] || die "admin login failed (the seed's admin)"
auth=(-H "Authorization: Bearer $admin" -H 'Content-Type: application/json')

log "creating $SESSIONS write sessions"
{ printf 'silent\nshow-error\nfail\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{}"\n'
  for ((i = 0; i < SESSIONS; i++)); do printf 'url = "%s/session"\n' "$api"; done
} > "$work/session.curlrc"
curl -K "$work/session.curlrc" | jq -r '.token' > "$work/tokens"
[ "$(grep -c . "$work/tokens")" -eq "$SESSIONS" ] || die "wanted $SESSIONS session tokens"
export BENCH_LUA_DIR="$here" BENCH_TOKENS="$work/tokens" BENCH_THREADS="$THREADS"

backlog() { curl -fsS "$base/chat/status" | jq -r '.webhooks.backlog // 0'; }

rows=()
none_rps=""
# case NAME EVENTS-JSON ('' = no webhook)
bench_case() {
    local name="$1" events="$2" id="" rps p99 left drained
    if [ -n "$events" ]; then
        id="$(curl -fsS -X POST "$api/admin/webhooks" "${auth[@]}" \
              --data "{\"url\":\"$hook_url\",\"events\":$events,\"secret\":\"bench-webhook-secret-0123\"}" | jq -r .webhook.id)"
        [ -n "$id" ] && [ "$id" != null ] || die "$name: creating the webhook failed"
        cur_hook="$id"
    fi
    log "$name: warm-up $WARMUP"
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$here/post.lua" "$api/messages" > /dev/null
    local hold=""
    if [ "$SENDER" = off ]; then
        PGPASSWORD=chat psql -h 127.0.0.1 -p "${CHAT_PG_PORT:-55432}" -U chat -d chat -qAt \
            -c "SELECT pg_advisory_lock(hashtext('chat_webhook_fanout'))" -c "SELECT pg_sleep(${DURATION%s} + 1)" >/dev/null &
        hold=$!
    fi
    log "$name: measuring $DURATION"
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$here/post.lua" "$api/messages" > "$work/out"
    left="$(backlog)"
    [ -z "$hold" ] || wait "$hold"
    local line; line="$(grep '^BENCH ' "$work/out")" || { cat "$work/out" >&2; die "$name: no result"; }
    local -A v; local kv
    for kv in ${line#BENCH }; do v[${kv%%=*}]="${kv#*=}"; done
    rps="$(awk -v r="${v[requests]}" -v d="${v[duration_us]}" 'BEGIN{printf "%.0f", r / (d / 1e6)}')"
    p99="$(awk -v u="${v[p99_us]}" 'BEGIN{printf "%.2f", u / 1000}')"
    drained="-"
    if [ -n "$id" ]; then
        local t0=$SECONDS
        while [ "$(backlog)" -gt 0 ] && [ $((SECONDS - t0)) -lt "$DRAIN" ]; do sleep 1; done
        drained="$((SECONDS - t0)) s"
        [ "$(backlog)" -eq 0 ] || drained="> $DRAIN s"
        # (a delete racing the senders' bookkeeping could deadlock before 022: tried again)
        for _ in 1 2 3; do curl -fsS -o /dev/null -X DELETE "$api/admin/webhooks/$id" "${auth[@]}" && break; sleep 1; done
        cur_hook=""
    fi
    [ -n "$none_rps" ] || none_rps="$rps"
    local ratio; ratio="$(awk -v a="$rps" -v b="$none_rps" 'BEGIN{printf "%.2f", a / b}')"
    local notes=""
    [ "${v[non2xx]}" -eq 0 ] || notes=" non-2xx=${v[non2xx]}"
    rows+=("$(printf '| %-36s | %8s | %8s | %6s× | %8s | %10s |%s' "$name" "$rps" "$p99" "$ratio" "${left:-0}" "$drained" "$notes")")
}

bench_case "none" ""
bench_case "message.created, chat.closed" '["message.created","chat.closed"]'
bench_case "all eight types" '["message.created","conversation.updated","agent.assigned","chat.closed","agent.presence.changed","note.created","conversation.offline_reply","conversation.rated"]'

printf '\n| webhooks on the site | POST /messages /s | p99 ms | ratio | backlog at the end | drained in |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: |\n'
printf '%s\n' "${rows[@]}"
