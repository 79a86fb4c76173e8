#!/usr/bin/env bash
# Builds core and its tests with AddressSanitizer (leak checks included) in build/asan and runs them.
set -euo pipefail
source "$(dirname "$0")/env.sh"

B="$CHAT_ROOT/build/asan"

if [ ! -f "$B/CMakeCache.txt" ]; then
    cmake -S "$CHAT_ROOT/core" -B "$B" -DCHAT_ASAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi

chat_log "core: ASan build"
cmake --build "$B" -j"$(nproc)" --target core_tests >/dev/null

chat_log "core: ctest under ASan"
ctest --test-dir "$B" --output-on-failure -j"$(nproc)" --timeout 180
