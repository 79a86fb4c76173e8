# bench/scratch.sh: sourced by bench/reports.sh and bench/search.sh. A scratch schema of the
# stack's chat database, migrated by chatctl exactly as `make migrate` does and dropped when
# the script exits (unless BENCH_KEEP=1); q runs SQL in it; best_ms times one statement.
# BENCH_SQL_DIR: another tree's sql/ to migrate (an A/B of two schemas; default this checkout's).
#
#   source "$(dirname "$0")/scratch.sh"; scratch_schema bench_x; q "SELECT ..."; best_ms "SELECT ..."
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

chatctl="${CHATCTL:-$CHAT_ROOT/build/core/chatctl}"
S=""

q() { psql "$CHAT_PG_CONNINFO" -v ON_ERROR_STOP=1 -qAt -c "SET search_path = $S; $1"; }

scratch_schema() {  # name
    S="$1"
    psql "$CHAT_PG_CONNINFO" -qAt -c "DROP SCHEMA IF EXISTS $S CASCADE; CREATE SCHEMA $S" 2>/dev/null
    [ "${BENCH_KEEP:-0}" = 1 ] || trap 'psql "$CHAT_PG_CONNINFO" -qAt -c "DROP SCHEMA IF EXISTS $S CASCADE" 2>/dev/null' EXIT
    "$chatctl" --conninfo "$CHAT_PG_CONNINFO options='-c search_path=$S -c client_min_messages=warning'" migrate --dir "${BENCH_SQL_DIR:-$CHAT_ROOT/sql}" >/dev/null
}

best_ms() {  # sql: the best of 3 runs in ms, psql's connection included (as a client's call)
    local best="" t1 t2 ms
    for _ in 1 2 3; do
        t1=$(date +%s%N); q "$1" >/dev/null; t2=$(date +%s%N)
        ms=$(( (t2 - t1) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}
