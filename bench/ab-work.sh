# shellcheck shell=bash disable=SC2034  # (sourced: $hz is read by the scripts that source it)
# bench/ab-work.sh, sourced by the A/B scripts that start two more nginx (read-ab.sh, post-ab.sh):
# $work, a temporary directory nginx's workers (nobody) can read, with a/ and b/ for the two
# instances; on exit both are stopped and it is removed. Also $hz, the clock ticks of /proc.
work="$(mktemp -d)"
chmod 0755 "$work"
cleanup() {
    local v
    for v in a b; do [ -f "$work/$v/nginx.pid" ] && kill "$(cat "$work/$v/nginx.pid")" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
hz="$(getconf CLK_TCK)"
