#!/usr/bin/env bash
# bench/pg-settings-ab.sh "A" "B": the customer post path (bench/post-cpu.sh) under two Postgres
# server settings or module pool settings, alternated A B B A A B ... on the running stack (make up).
# A and B are words "name=value" for Postgres (`-c` at its start: scripts/db.sh CHAT_PG_SETTINGS)
# and "pool=N" / "prepare=N" for chat_postgres's pool size / prepared statements per connection
# (set in var/nginx.conf, then nginx reloads); "-" is the
# dev stack as scripts/db.sh starts it. Each run restarts Postgres (and nginx) with its variant,
# runs bench/post-cpu.sh (D seconds, default 15; BENCH_ROUNDS rounds, default 3: CPU per post by
# process, posts/s, WAL and blocks read from the OS per post) after its 3 s warm-up.
# Example: bench/pg-settings-ab.sh - "shared_buffers=128MB"   (the dev cluster against the default)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
[ "$#" -eq 2 ] || { echo "usage: $0 A B   (each: - or words name=value / pool=N / prepare=N)" >&2; exit 2; }
ROUNDS="${BENCH_ROUNDS:-3}"
Q() { PGPASSWORD=chat psql -h 127.0.0.1 -p "$CHAT_PG_PORT" -U chat chat -qAtX -c "$1"; }

start() {  # variant
    local pg="" pool="" prepare="" w
    for w in $1; do
        case "$w" in
            -) ;;
            pool=*) pool="${w#pool=}" ;;
            prepare=*) prepare="${w#prepare=}" ;;
            *=*) pg="$pg -c $w" ;;
            *) echo "pg-settings-ab: not name=value: $w" >&2; exit 2 ;;
        esac
    done
    "$CHAT_ROOT/scripts/nginx.sh" stop >/dev/null
    "$CHAT_ROOT/scripts/db.sh" stop >/dev/null
    CHAT_PG_SETTINGS="$pg" "$CHAT_ROOT/scripts/db.sh" start >/dev/null
    "$CHAT_ROOT/scripts/nginx.sh" start >/dev/null
    [ -z "$pool" ] || sed -i -E "s/(chat_postgres .*) pool=[0-9]+;/\1 pool=$pool;/" "$CHAT_VAR/nginx.conf"
    [ -z "$prepare" ] || sed -i -E "/chat_postgres /{s/ prepare=[0-9]+//; s/;\s*$/ prepare=$prepare;/}" "$CHAT_VAR/nginx.conf"
    if [ -n "$pool$prepare" ]; then
        "$NGINX_BIN" -p "$CHAT_VAR/" -c "$CHAT_VAR/nginx.conf" -e "$CHAT_VAR/log/error.log" -s reload
        sleep 1
    fi
}

run() {  # label variant
    start "$2"
    "$here/post-cpu.sh" > "$CHAT_VAR/pg-ab.out"
    echo "== $1 [$2] $(date -u +%T) messages with indexes: $(Q "SELECT pg_size_pretty(pg_total_relation_size('messages'))")"
    cat "$CHAT_VAR/pg-ab.out"
}

for i in $(seq 1 "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then run A "$1"; run B "$2"; else run B "$2"; run A "$1"; fi
done
"$CHAT_ROOT/scripts/nginx.sh" stop >/dev/null
"$CHAT_ROOT/scripts/db.sh" stop >/dev/null
"$CHAT_ROOT/scripts/db.sh" start >/dev/null
"$CHAT_ROOT/scripts/nginx.sh" start >/dev/null
