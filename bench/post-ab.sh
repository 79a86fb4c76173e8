#!/usr/bin/env bash
# bench/post-ab.sh "A" "B": Postgres's CPU per customer post end to end under two chat_postgres
# settings at the same time. Against a running stack (make up, and bench/post-cpu.sh once for its
# sessions in var/bench-tokens.PORT) it starts two more nginx from var/nginx.conf (same module,
# Postgres, Redis and secret; zones of their own) on CHAT_PORT+3000 and +3001, whose chat_postgres
# carries A's or B's words (e.g. "prepare=0", "pool=3") and application_name=post_ab_a / _b, and
# runs BENCH_ROUNDS (6) rounds of wrk with bench/post.lua on both at once (BENCH_CONNS (32) each,
# BENCH_SECONDS (10); each on its own half of the sessions): both meet the same machine, where
# runs one after the other saw the posts per call and the CPU per post move by a fifth. Each round
# prints the CPU (user + system, /proc) of each side's Postgres backends per 201 answered (the
# posts per batch call are not told apart here: both share the database's counters), and the CPU
# of each side's nginx workers per 201 (each side's workers also hear the other side's posts
# through the shared Redis: what every worker of every node pays for a post elsewhere).
# BENCH_MODULE_A / BENCH_MODULE_B: a build of the module for that side (two builds A/B at once).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=/dev/null
source "$here/../scripts/env.sh"
[ "$#" -eq 2 ] || { echo "usage: $0 A B   (each: chat_postgres words, e.g. prepare=0, or -)" >&2; exit 2; }
ROUNDS="${BENCH_ROUNDS:-6}" SECONDS_EACH="${BENCH_SECONDS:-10}" CONNS="${BENCH_CONNS:-32}"
tok="$CHAT_VAR/bench-tokens.$CHAT_PORT"
[ -s "$tok" ] || { echo "post-ab: no $tok: run bench/post-cpu.sh once" >&2; exit 1; }
export PGPASSWORD=chat
Q() { psql -h 127.0.0.1 -p "$CHAT_PG_PORT" -U chat chat -qAtX -c "$1"; }
# shellcheck source=bench/ab-work.sh
source "$here/ab-work.sh"

start() {  # variant words port
    local v="$1" words="$2" port="$3" w
    mkdir -p "$work/$v"
    sed -e "s|^pid .*|pid $work/$v/nginx.pid;|" \
        -e "s|^error_log .*|error_log $work/$v/error.log info;|" \
        -e "s|listen  *127.0.0.1:$CHAT_PORT;|listen 127.0.0.1:$port;|" \
        -e "s|access_log  *$CHAT_VAR/log/access.log|access_log $work/$v/access.log|" \
        -e "/chat_postgres /s|\" | application_name=post_ab_$v\" |" \
        "$CHAT_VAR/nginx.conf" > "$work/$v/nginx.conf"
    local module_var="BENCH_MODULE_${v^^}"
    if [ -n "${!module_var:-}" ]; then
        [ -f "${!module_var}" ] || { echo "post-ab: no module ${!module_var}" >&2; exit 1; }
        sed -i -e "s|^load_module .*|load_module ${!module_var};|" "$work/$v/nginx.conf"
    fi
    for w in $words; do
        [ "$w" = - ] && continue
        sed -i -E "/chat_postgres /{s/ ${w%%=*}=[0-9]+//; s/;\\s*$/ $w;/}" "$work/$v/nginx.conf"
    done
    grep -q "listen 127.0.0.1:$port;" "$work/$v/nginx.conf" || { echo "post-ab: could not move the port" >&2; exit 1; }
    echo "post-ab: $v: $(grep -o 'chat_postgres .*' "$work/$v/nginx.conf" | sed 's/password=[^ "]*//')" >&2
    "$NGINX_BIN" -p "$work/$v/" -c "$work/$v/nginx.conf" -e "$work/$v/error.log"
    for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/chat/api/v1/health" 2>/dev/null && return; sleep 0.1; done
    echo "post-ab: nginx $v does not answer" >&2; exit 1
}
port_a="$((CHAT_PORT + 3000))"; port_b="$((CHAT_PORT + 3001))"
start a "$1" "$port_a"
start b "$2" "$port_b"
half="$(( $(wc -l < "$tok") / 2 ))"
head -n "$half" "$tok" > "$work/tok_a"; tail -n "$half" "$tok" > "$work/tok_b"

ticks() {  # the backends of both sides: "variant ticks"
    Q "SELECT application_name, pid FROM pg_stat_activity WHERE application_name IN ('post_ab_a', 'post_ab_b')" |
        tr '|' ' ' | while read -r v pid; do
            [ -r "/proc/$pid/stat" ] && awk -v v="${v#post_ab_}" '{print v, $14 + $15}' "/proc/$pid/stat"
        done | awk '{t[$1] += $2} END {print t["a"] + 0, t["b"] + 0}'
}
nginx_ticks() {  # the workers of both sides: "a b"
    local v p t
    for v in a b; do
        t=0
        for p in $(pgrep -P "$(cat "$work/$v/nginx.pid")"); do
            [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
        done
        printf '%d ' "$t"
    done
    echo
}
wrk_one() {  # variant port seconds
    BENCH_TOKENS="$work/tok_$1" BENCH_LUA_DIR="$here" BENCH_THREADS=1 \
        wrk -t1 -c"$CONNS" -d"${3}s" -s "$here/post.lua" "http://127.0.0.1:$2/chat/api/v1/messages" > "$work/wrk_$1" 2>&1
}
wrk_one a "$port_a" 3 & wrk_one b "$port_b" 3 & wait   # warm-up: every connection up, statements made
# a side that answered no post (its sessions' conversations closed, e.g. by a test run against
# this stack: 409) would print inf and nan for every round: stop and say why
for v in a b; do
    n2xx="$(grep -o 'status_2xx=[0-9]*' "$work/wrk_$v" | cut -d= -f2)"
    if [ "${n2xx:-0}" -eq 0 ]; then
        echo "post-ab: side $v answered no post with 2xx in the warm-up (access log: $(tail -n 1 "$work/$v/access.log" 2>/dev/null | cut -d'"' -f3));" \
             "the sessions in $tok may be closed: FRESH=1 bench/post-cpu.sh makes new ones" >&2
        exit 1
    fi
done
echo "A=[$1] B=[$2]; us of Postgres backends' CPU per post (201s), both at once"
for ((r = 1; r <= ROUNDS; r++)); do
    # the backends idle between rounds (their connections stay up from the warm-up): the ticks
    # from before both runs to after them are the runs' own
    read -r a0 b0 < <(ticks)
    read -r na0 nb0 < <(nginx_ticks)
    wrk_one a "$port_a" "$SECONDS_EACH" & wrk_one b "$port_b" "$SECONDS_EACH" & wait
    read -r a1 b1 < <(ticks)
    read -r na1 nb1 < <(nginx_ticks)
    pa="$(grep -o 'status_2xx=[0-9]*' "$work/wrk_a" | cut -d= -f2)"; pb="$(grep -o 'status_2xx=[0-9]*' "$work/wrk_b" | cut -d= -f2)"
    awk -v r="$r" -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v pa="$pa" -v pb="$pb" -v hz="$hz" \
        -v na="$((na1 - na0))" -v nb="$((nb1 - nb0))" 'BEGIN {
        ua = a * 1e6 / hz / pa; ub = b * 1e6 / hz / pb
        xa = na * 1e6 / hz / pa; xb = nb * 1e6 / hz / pb
        printf "round %d: a=%.1f (%d posts) b=%.1f (%d posts) b/a=%.3f; nginx a=%.1f b=%.1f b/a=%.3f\n", r, ua, pa, ub, pb, ub / ua, xa, xb, xb / xa
        print ua, ub, ub / ua, xa, xb, xb / xa > "/dev/stderr" }' 2>> "$work/all"
done
awk '{x += $1; y += $2} END {printf "A mean %.1f, B mean %.1f us/post over %d rounds; B/A of the means %.3f", x / NR, y / NR, NR, y / x}' "$work/all"
awk '{print $3}' "$work/all" | sort -n | awk '{r[NR] = $1} END {printf ", median of the rounds %.3f\n", (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}'
awk '{x += $4; y += $5} END {printf "nginx workers: A mean %.1f, B mean %.1f us/post; B/A of the means %.3f", x / NR, y / NR, y / x}' "$work/all"
awk '{print $6}' "$work/all" | sort -n | awk '{r[NR] = $1} END {printf ", median of the rounds %.3f\n", (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2}'
