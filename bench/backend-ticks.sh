# bench/backend-ticks.sh: sourced by batch-cpu.sh and batch-ab.sh (after scripts/env.sh). The CPU
# (ticks) of this cluster's client backends (children of its postmaster: other stacks' backends on
# the same machine have the same title): ticks prints one "pid ticks" line each; used A B sums what
# the backends alive at both samples spent between them (one that comes or goes, such as a pool
# reconnecting, would otherwise count its whole life).
# shellcheck shell=bash
postmaster="$(head -1 "$PGDATA/postmaster.pid")"
ticks() {
    local p
    for p in $(pgrep -P "$postmaster" -f "postgres: chat chat"); do
        awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
    done
}
used() { awk 'NR == FNR {a[$1] = $2; next} ($1 in a) {t += $2 - a[$1]} END {print t + 0}' "$1" "$2"; }
