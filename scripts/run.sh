#!/usr/bin/env bash
# `make run`: nginx in the foreground (daemon off) on the dev config; Ctrl-C stops nginx, Redis and Postgres.
set -euo pipefail
S="$(dirname "$0")"
source "$S/env.sh"

CONF="$CHAT_VAR/nginx.conf"
nginx_pid=""

stop_all() {
    trap '' INT TERM HUP            # a second Ctrl-C must not cut the cleanup short
    echo >&2
    chat_log "stopping"
    if [ -n "$nginx_pid" ] && chat_proc_alive "$nginx_pid"; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        if ! chat_wait_gone "$nginx_pid" 10; then
            kill -TERM "$nginx_pid" 2>/dev/null || true
            chat_wait_gone "$nginx_pid" 5 || true
        fi
        chat_log "nginx stopped"
    fi
    "$S/redis.sh" stop || true
    "$S/db.sh" stop || true
}

"$S/nginx-conf.sh"
"$NGINX_BIN" -p "$CHAT_VAR/" -c "$CONF" -e "$CHAT_VAR/log/error.log" -t -q
"$S/nginx.sh" stop                  # one left by `make up` in this var/

trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM HUP

"$NGINX_BIN" -p "$CHAT_VAR/" -c "$CONF" -e "$CHAT_VAR/log/error.log" -g 'daemon off;' &
nginx_pid=$!

if ! "$S/nginx.sh" wait; then
    stop_all
    exit 1
fi
"$S/nginx.sh" urls
chat_log "nginx runs in the foreground (pid $nginx_pid); Ctrl-C stops nginx, Redis and Postgres"

set +e
wait "$nginx_pid"
rc=$?
set -e
# nginx ended by itself (crash, or stopped from elsewhere): clean up the rest too
chat_log "nginx exited with status $rc"
stop_all
exit "$rc"
