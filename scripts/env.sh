# Common settings sourced by every script: repo root, ports, where runtime state lives.
# (Sourced, not run: no shebang and no `set` here; callers use `set -euo pipefail`.)

CHAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
CHAT_PORT="${CHAT_PORT:-8080}"
CHAT_PG_PORT="${CHAT_PG_PORT:-55432}"
CHAT_REDIS_PORT="${CHAT_REDIS_PORT:-56379}"

PG_BIN=/usr/lib/postgresql/15/bin
NGINX_BIN=/usr/sbin/nginx
CHAT_MODULE_SO="$CHAT_ROOT/build/nginx/objs/ngx_http_chat_module.so"

# Runtime state goes to var/ in the repo. Postgres runs as the `postgres` user and
# nginx workers as `nobody`; both must be able to walk down to var/. When the clone
# sits somewhere they cannot traverse (e.g. under /root, mode 0700), the state goes to
# /var/tmp/nginx-chat-<hash of the repo path> instead and var/ becomes a symlink to it.
chat_traversable() {
    local d="$1"
    while [ "$d" != "/" ]; do
        # every ancestor needs the "x" bit for others
        [ -n "$(find "$d" -maxdepth 0 -perm -o+x 2>/dev/null)" ] || return 1
        d="$(dirname "$d")"
    done
    return 0
}

if [ -z "${CHAT_VAR:-}" ]; then
    if [ -L "$CHAT_ROOT/var" ]; then
        CHAT_VAR="$(readlink -f "$CHAT_ROOT/var")"
    elif chat_traversable "$CHAT_ROOT"; then
        CHAT_VAR="$CHAT_ROOT/var"
    else
        CHAT_VAR="/var/tmp/nginx-chat-$(printf '%s' "$CHAT_ROOT" | sha256sum | cut -c1-12)"
    fi
fi

PGDATA="$CHAT_VAR/pg"
CHAT_PG_CONNINFO="host=127.0.0.1 port=$CHAT_PG_PORT dbname=chat user=chat password=chat"
export CHAT_ROOT CHAT_VAR CHAT_PORT CHAT_PG_PORT CHAT_REDIS_PORT PGDATA CHAT_PG_CONNINFO

# var/ itself: world-traversable (nginx workers run as nobody), with its subfolders.
chat_var_init() {
    umask 022
    if [ "$CHAT_VAR" != "$CHAT_ROOT/var" ]; then
        mkdir -p "$CHAT_VAR"
        [ -e "$CHAT_ROOT/var" ] || ln -s "$CHAT_VAR" "$CHAT_ROOT/var"
    fi
    mkdir -p "$CHAT_VAR" "$CHAT_VAR/log" "$CHAT_VAR/redis" "$CHAT_VAR/tmp" "$CHAT_VAR/t"
    chmod 0755 "$CHAT_VAR" "$CHAT_VAR/log" "$CHAT_VAR/tmp" "$CHAT_VAR/t"
}

# true if the pid in file $1 is alive and its command name matches $2
chat_pid_alive() {
    local f="$1" name="$2" pid
    [ -s "$f" ] || return 1
    pid="$(head -n1 "$f" | tr -dc 0-9)"
    [ -n "$pid" ] && chat_proc_alive "$pid" || return 1
    case "$(cat "/proc/$pid/comm")" in
        $name*) return 0 ;;
    esac
    return 1
}

# true if process $1 exists and is not a zombie
chat_proc_alive() {
    local st
    st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait up to $2 seconds (default 30) for process $1 to end
chat_wait_gone() {
    local pid="$1" n=$(( ${2:-30} * 20 ))
    while [ "$n" -gt 0 ] && chat_proc_alive "$pid"; do
        sleep 0.05
        n=$((n - 1))
    done
    ! chat_proc_alive "$pid"
}

chat_log() { printf '==> %s\n' "$*" >&2; }
