#!/usr/bin/env bash
# Redis for dev and tests: redis-server on 127.0.0.1:$CHAT_REDIS_PORT, daemonized, pid in var/redis.pid (start|stop|status).
set -euo pipefail
source "$(dirname "$0")/env.sh"

cmd="${1:-start}"
PIDFILE="$CHAT_VAR/redis.pid"

running() { chat_pid_alive "$PIDFILE" redis-server; }
ping() { redis-cli -h 127.0.0.1 -p "$CHAT_REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

case "$cmd" in
start)
    chat_var_init
    if running; then
        chat_log "Redis already running on 127.0.0.1:$CHAT_REDIS_PORT"
    else
        rm -f "$PIDFILE"
        redis-server --bind 127.0.0.1 --port "$CHAT_REDIS_PORT" --protected-mode yes \
            --daemonize yes --pidfile "$PIDFILE" --dir "$CHAT_VAR/redis" \
            --logfile "$CHAT_VAR/log/redis.log" --save '' --appendonly no
        for _ in $(seq 1 100); do
            if running && ping; then break; fi
            sleep 0.05
        done
        if ! ping; then
            echo "redis: did not come up on 127.0.0.1:$CHAT_REDIS_PORT" >&2
            tail -n 20 "$CHAT_VAR/log/redis.log" >&2 || true
            exit 1
        fi
        chat_log "Redis started on 127.0.0.1:$CHAT_REDIS_PORT"
    fi
    ;;
stop)
    if running; then
        pid="$(cat "$PIDFILE")"
        kill -TERM "$pid"
        chat_wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"
        chat_log "Redis stopped"
    fi
    ;;
status)
    running
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
