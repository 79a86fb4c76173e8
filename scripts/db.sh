#!/usr/bin/env bash
# Postgres 15 for dev and tests: a cluster in var/pg on 127.0.0.1:$CHAT_PG_PORT with database/role chat (start|stop|status).
set -euo pipefail
source "$(dirname "$0")/env.sh"

cmd="${1:-start}"
as_pg() { (cd / && runuser -u postgres -- "$@"); }
# The superuser's socket lives in a directory only postgres can use: the data dir,
# unless its path is too long for a Unix socket (108 bytes).
PGSOCK="$PGDATA"
if [ "${#PGSOCK}" -gt 90 ]; then
    PGSOCK="/tmp/.nginx-chat-pg-$(printf '%s' "$PGDATA" | sha256sum | cut -c1-12)"
fi
superuser_psql() {
    # peer auth over the cluster's private socket directory (the data dir itself)
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$CHAT_PG_PORT" -U postgres -d postgres "$@"
}
running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

case "$cmd" in
start)
    chat_var_init
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        chat_log "creating Postgres cluster in $PGDATA"
        rm -rf "$PGDATA"
        mkdir -p "$PGDATA"
        chown postgres:postgres "$PGDATA"
        chmod 0700 "$PGDATA"
        as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >"$CHAT_VAR/log/initdb.log" 2>&1 \
            || { cat "$CHAT_VAR/log/initdb.log" >&2; exit 1; }
        cat >> "$PGDATA/postgresql.conf" <<CONF

# nginx-chat dev cluster (scripts/db.sh)
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
max_connections = 200
logging_collector = off
CONF
        # TCP: password auth only; the superuser only over the private socket (peer)
        cat > "$PGDATA/pg_hba.conf" <<HBA
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer
host    all       postgres  0.0.0.0/0      reject
host    all       all       127.0.0.1/32   scram-sha-256
HBA
        chown postgres:postgres "$PGDATA/postgresql.conf" "$PGDATA/pg_hba.conf"
    fi

    if running; then
        chat_log "Postgres already running on 127.0.0.1:$CHAT_PG_PORT"
    else
        if [ "$PGSOCK" != "$PGDATA" ]; then
            mkdir -p "$PGSOCK" && chown postgres:postgres "$PGSOCK" && chmod 0700 "$PGSOCK"
        fi
        touch "$CHAT_VAR/log/postgres.log"
        chown postgres "$CHAT_VAR/log/postgres.log"
        # Checkpoints far apart (README "Postgres settings"): after each checkpoint the first
        # change of every page writes the whole page to the WAL, and a post changes pages of
        # indexes spread over the whole table (a conversation's, a random message id's). With
        # the default max_wal_size (1GB) a write load checkpointed every ~20 s: 1.7 full pages
        # and 12 KB of WAL a post; with these, 0.05 pages and 2.5 KB. Given at every start, so
        # a cluster made before this line gets them too.
        # shared_buffers 1GB, or a quarter of the machine's (or container's) memory when less (so a small
        # machine still starts; 128MB at least, Postgres's default): with the default 128MB and a
        # 2 GB messages table, bench/post-cpu.sh read 0.33-0.78 blocks per post from the OS and the
        # backends wrote out 0.56-0.80 dirty buffers per post themselves; with 1GB 0.20-0.51 and
        # none, and posts/s were higher in 5 of 7 alternated pairs (bench/pg-settings-ab.sh; README).
        # wal_init_zero off: a WAL segment that cannot be recycled (a fresh cluster has none until
        # its first checkpoint ends, ~28 min after start with these settings) is created while the
        # commits wait; zero-filling its 16 MB stalled every post 20-230 ms, once per segment (every
        # 3-5 s at bench rates; the new segments' birth times matching each stall; README "Postgres
        # settings for the write path"). Dev only: off trades the fill for block allocation as the
        # segment is first written.
        # CHAT_PG_SETTINGS adds more ("-c name=value ...", after these: the A/B bench uses it).
        mem_mb=$(awk '/^MemTotal:/{print int($2 / 1024)}' /proc/meminfo)
        cg=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || true)   # a container's limit, if lower
        case "$cg" in ''|max|*[!0-9]*) ;; *) [ $((cg / 1048576)) -ge "$mem_mb" ] || mem_mb=$((cg / 1048576)) ;; esac
        sb_mb=$(( mem_mb / 4 > 1024 ? 1024 : mem_mb / 4 ))
        [ "$sb_mb" -ge 128 ] || sb_mb=128
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$CHAT_VAR/log/postgres.log" \
            -o "-p $CHAT_PG_PORT -k $PGSOCK -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_init_zero=off -c shared_buffers=${sb_mb}MB ${CHAT_PG_SETTINGS:-}" \
            start >/dev/null \
            || { tail -n 20 "$CHAT_VAR/log/postgres.log" >&2; exit 1; }
        chat_log "Postgres started on 127.0.0.1:$CHAT_PG_PORT"
    fi

    # role and database (idempotent)
    superuser_psql <<'SQL'
SELECT 'CREATE ROLE chat LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat')
\gexec
ALTER ROLE chat WITH LOGIN PASSWORD 'chat';
SELECT 'CREATE DATABASE chat OWNER chat ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'chat')
\gexec
SQL
    ;;
stop)
    if running; then
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 -m fast stop >/dev/null
        chat_log "Postgres stopped"
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
