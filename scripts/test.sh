#!/usr/bin/env bash
# `make test`: runs clang-tidy on core, brings up Postgres and Redis (migrated, seeded), runs core's CTest suite and `prove -r t/`,
# then stops the servers it had to start (ones already running, e.g. from `make up`, stay up).
set -euo pipefail
S="$(dirname "$0")"
source "$S/env.sh"

"$S/lint.sh"                        # first: it needs no servers and fails fast

started_pg=0
started_redis=0
"$S/db.sh" status || started_pg=1
"$S/redis.sh" status || started_redis=1

prove_log="$CHAT_VAR/prove.log"
rm -f "$prove_log"

# A failed t/ file's reasons (its failed tests and their diagnostics, e.g. the error.log lines
# of an [alert] or a crashed worker) come last, so that they are in the tail a CI keeps.
why_prove_failed() {
    [ -s "$prove_log" ] && grep -q '^#   Failed test' "$prove_log" || return 0
    echo "==> why t/ failed (first lines; the whole output is $prove_log):"
    awk '/^#   Failed test/ { n = 6 } n > 0 { print; n-- }' "$prove_log" | cut -c1-300 | head -24
}

cleanup() {
    local rc=$?
    [ "$started_redis" = 1 ] && "$S/redis.sh" stop || true
    [ "$started_pg" = 1 ] && "$S/db.sh" stop || true
    [ "$rc" = 0 ] || why_prove_failed || true
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$S/db.sh" start
"$S/redis.sh" start
"$S/migrate.sh"
"$S/seed.sh"
"$S/nginx-conf.sh"                  # the dev secret, which the t/ harness uses too

export CHAT_TEST_PG="$CHAT_PG_CONNINFO"
export CHAT_TEST_REDIS="127.0.0.1:$CHAT_REDIS_PORT"

chat_log "core: ctest"
ctest --test-dir "$CHAT_ROOT/build/core" --output-on-failure -j"$(nproc)" --timeout 120

"$S/asan.sh"

chat_log "t/: prove"
cd "$CHAT_ROOT"
prove -r ${PROVE_ARGS:-} t/ 2>&1 | tee "$prove_log"

chat_log "core: fuzzing (bounded)"
"$S/fuzz.sh"

# widget/: the widget and the dashboard in headless Chromium against the dev nginx
started_nginx=0
"$S/nginx.sh" status >/dev/null 2>&1 || started_nginx=1
"$S/nginx.sh" start
chat_log "widget/: browser tests"
rc=0
CHAT_URL="http://127.0.0.1:$CHAT_PORT" npm test --prefix "$CHAT_ROOT/widget" || rc=$?
[ "$started_nginx" = 1 ] && "$S/nginx.sh" stop || true
exit "$rc"
