#!/usr/bin/env bash
# AddressSanitizer: core and its tests (leak checks included) in build/asan, then the nginx module
# itself built with ASan (build/nginx-asan, linked with build/asan's core) and the t/ files that
# exercise sockets, the event ring and reloads run against it (libasan preloaded into nginx).
set -euo pipefail
source "$(dirname "$0")/env.sh"

B="$CHAT_ROOT/build/asan"

if [ ! -f "$B/CMakeCache.txt" ]; then
    cmake -S "$CHAT_ROOT/core" -B "$B" -DCHAT_ASAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi

chat_log "core: ASan build"
cmake --build "$B" -j"$(nproc)" --target core_tests chatcore >/dev/null

chat_log "core: ctest under ASan"
ctest --test-dir "$B" --output-on-failure -j"$(nproc)" --timeout 180

chat_log "module: ASan build"
CHAT_MODULE_BUILD="$CHAT_ROOT/build/nginx-asan" CHAT_CORE_LIB="$B/libchatcore.a" \
CHAT_CC_EXTRA="-fsanitize=address -fno-omit-frame-pointer" "$(dirname "$0")/build-module.sh"

# the t/ files run under ASan: the WebSocket and ring suites, a reload suite, the post path (its
# batches, a failed batch, customers hanging up while their posts queue), the cache in a zone
# too small for it (evictions, chat::pages' runs split and joined, a failed store) and agent
# login (scrypt on the thread pool, logout)
ASAN_T="${CHAT_ASAN_T:-t/03-reload.t t/08-cache-zone.t t/11-messages.t t/17-post-batch.t t/20-agent-login.t $(echo t/3[0-9]-*.t)}"

chat_log "t/ under ASan: $ASAN_T"
cd "$CHAT_ROOT"
# shellcheck disable=SC2086
CHAT_MODULE_SO="$CHAT_ROOT/build/nginx-asan/objs/ngx_http_chat_module.so" \
CHAT_ASAN_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so.6)" \
    prove ${PROVE_ARGS:-} $ASAN_T 2>&1 | tee -a "$CHAT_VAR/prove.log"   # test.sh shows why, if it fails
