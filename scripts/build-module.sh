#!/usr/bin/env bash
# Builds ngx_http_chat_module.so against a copy of Debian's nginx-dev tree with Debian's configure flags.
# CHAT_MODULE_BUILD (default build/nginx), CHAT_CORE_LIB (default build/core/libchatcore.a) and
# CHAT_CC_EXTRA (extra compiler/linker flags) let scripts/asan.sh build a sanitized copy beside it.
set -euo pipefail
source "$(dirname "$0")/env.sh"

SRC=/usr/share/nginx/src
B="${CHAT_MODULE_BUILD:-$CHAT_ROOT/build/nginx}"
LIB="${CHAT_CORE_LIB:-$CHAT_ROOT/build/core/libchatcore.a}"
export CHAT_CORE_LIB="$LIB" CHAT_CC_EXTRA="${CHAT_CC_EXTRA:-}"

[ -f "$LIB" ] || { echo "build-module: $LIB is missing; run make core first" >&2; exit 1; }
[ -f "$SRC/conf_flags" ] || { echo "build-module: $SRC missing; run make deps" >&2; exit 1; }

# Re-run configure only when what it reads changed: the module's config file,
# Debian's flags (nginx-dev upgrade) or the repo path.
fingerprint="$( { cat "$CHAT_ROOT/config" "$SRC/conf_flags"; echo "$CHAT_ROOT $LIB $CHAT_CC_EXTRA";
                  dpkg-query -W -f='${Version}' nginx-dev; } | sha256sum | cut -d' ' -f1)"
stamp="$B/.configured"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ] || [ ! -f "$B/objs/Makefile" ]; then
    echo "==> configuring nginx with the chat module" >&2
    rm -rf "$B"
    mkdir -p "$CHAT_ROOT/build"
    cp -r "$SRC" "$B"
    (
        cd "$B"
        # shellcheck disable=SC1091
        source ./conf_flags
        ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$CHAT_ROOT" > configure.log 2>&1 \
            || { tail -n 40 configure.log >&2; exit 1; }
    )
    echo "$fingerprint" > "$stamp"
fi

# The .so must be relinked when core's library changes; nginx's Makefile only
# knows about the module's own sources, so compare times ourselves.
so="$B/objs/ngx_http_chat_module.so"
if [ -f "$so" ] && [ "$LIB" -nt "$so" ]; then
    rm -f "$so"
fi

make -s -C "$B" -f objs/Makefile modules CC="$CHAT_ROOT/scripts/ngx-cc" -j"$(nproc)"
chmod 0644 "$so"
