#!/usr/bin/env bash
# `make lint`: clang-tidy (core/.clang-tidy) over core/src/*.cpp with the build's compile_commands.json, files in parallel.
# It checks; it never rewrites a file, and it does not check formatting (.clang-format is for new code and editors).
set -euo pipefail
S="$(dirname "$0")"
source "$S/env.sh"

BUILD="$CHAT_ROOT/build/core"
TIDY="${CLANG_TIDY:-clang-tidy}"
command -v "$TIDY" >/dev/null || { echo "lint: $TIDY not found; run scripts/deps.sh" >&2; exit 1; }

# CMAKE_EXPORT_COMPILE_COMMANDS is on in core/CMakeLists.txt; configure if the build never was.
if [ ! -f "$BUILD/compile_commands.json" ]; then
    cmake -S "$CHAT_ROOT/core" -B "$BUILD" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
fi

chat_log "core: clang-tidy"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# Each file's findings are printed whole (xargs runs one clang-tidy per file); "N warnings generated"
# counts system headers too and is noise.
rc=0
find "$CHAT_ROOT/core/src" -maxdepth 1 -name '*.cpp' -print0 | sort -z |
    xargs -0 -n1 -P"${JOBS:-$(nproc)}" "$TIDY" -p "$BUILD" --quiet >"$out" 2>&1 || rc=$?
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter' "$out" || true
if [ "$rc" -ne 0 ]; then
    echo "lint: clang-tidy found problems (above)" >&2
    exit 1
fi
