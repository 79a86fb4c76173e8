#!/usr/bin/env bash
# Starts, reloads, stops the dev nginx (var/nginx.conf, pid var/nginx.pid): start|stop|status|wait|urls.
set -euo pipefail
source "$(dirname "$0")/env.sh"

cmd="${1:-start}"
PIDFILE="$CHAT_VAR/nginx.pid"
CONF="$CHAT_VAR/nginx.conf"
HEALTH="http://127.0.0.1:$CHAT_PORT/chat/api/v1/health"

running() { chat_pid_alive "$PIDFILE" nginx; }
nginx_cmd() { "$NGINX_BIN" -p "$CHAT_VAR/" -c "$CONF" -e "$CHAT_VAR/log/error.log" "$@"; }

wait_healthy() {
    local i
    for i in $(seq 1 "${1:-150}"); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$HEALTH" || true)" = 200 ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "nginx: $HEALTH did not answer 200; last lines of $CHAT_VAR/log/error.log:" >&2
    tail -n 20 "$CHAT_VAR/log/error.log" >&2 || true
    return 1
}

print_urls() {
    cat <<URLS

  nginx-chat is up (master + 2 workers, logs in $CHAT_VAR/log/)
    demo shop       http://127.0.0.1:$CHAT_PORT/
    widget/agents   http://127.0.0.1:$CHAT_PORT/chat/
    API health      http://127.0.0.1:$CHAT_PORT/chat/api/v1/health
    status (JSON)   http://127.0.0.1:$CHAT_PORT/chat/status
    metrics         http://127.0.0.1:$CHAT_PORT/chat/metrics
    Postgres        postgresql://chat:chat@127.0.0.1:$CHAT_PG_PORT/chat
    Redis           redis://127.0.0.1:$CHAT_REDIS_PORT

URLS
}

stop_nginx() {
    local pid
    running || return 0
    pid="$(cat "$PIDFILE")"
    kill -QUIT "$pid"                        # graceful: finish requests in flight
    if ! chat_wait_gone "$pid" 10; then
        kill -TERM "$pid" 2>/dev/null || true
        chat_wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
    fi
    chat_log "nginx stopped"
}

case "$cmd" in
start)
    "$CHAT_ROOT/scripts/nginx-conf.sh"
    nginx_cmd -t -q
    if running; then
        chat_log "nginx already running (pid $(cat "$PIDFILE")): reloading its configuration"
        nginx_cmd -s reload
        sleep 0.5
    else
        nginx_cmd
    fi
    wait_healthy
    print_urls
    ;;
urls)
    print_urls
    ;;
stop)
    stop_nginx
    ;;
status)
    running
    ;;
wait)
    wait_healthy "${2:-150}"
    ;;
*)
    echo "usage: $0 start|stop|status|wait|urls" >&2
    exit 2
    ;;
esac
