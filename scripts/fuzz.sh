#!/usr/bin/env bash
# Builds core's libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time (FUZZ_SECONDS, default 15).
set -euo pipefail
source "$(dirname "$0")/env.sh"

B="$CHAT_ROOT/build/fuzz"
secs="${FUZZ_SECONDS:-15}"

# configured every time (cheap): a fuzzer added since the last run is a new target
CC=clang CXX=clang++ cmake -S "$CHAT_ROOT/core" -B "$B" -DCHAT_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

targets=()
for f in "$CHAT_ROOT"/core/fuzz/*_fuzz.cpp; do
    targets+=("$(basename "$f" .cpp)")
done

chat_log "fuzz: building ${targets[*]}"
cmake --build "$B" -j"$(nproc)" --target "${targets[@]}" >/dev/null

for t in "${targets[@]}"; do
    mkdir -p "$B/corpus/$t"
    chat_log "fuzz: $t for ${secs}s"
    "$B/$t" -max_total_time="$secs" -print_final_stats=0 "$B/corpus/$t" \
        >"$B/$t.log" 2>&1 || { tail -n 40 "$B/$t.log" >&2; exit 1; }
    grep -E '^Done [0-9]+ runs' "$B/$t.log" >&2 || true
done
