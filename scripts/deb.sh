#!/usr/bin/env bash
# `make deb`: the Debian package libnginx-mod-http-chat (module, chatctl, SQL, widget and
# dashboard, example config, docs) into build/deb/, built with dpkg-buildpackage/debhelper
# and dh_nginx for the nginx ABI of this machine. CHAT_DEB_VERSION sets the version
# (default 1.0.0+<commit time>, so a newer commit builds a newer package).
set -euo pipefail
S="$(dirname "$0")"
source "$S/env.sh"

need=()
for p in debhelper dpkg-dev nginx-dev cmake g++ pkg-config libpq-dev libhiredis-dev libc-ares-dev libssl-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    chat_log "deb: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"; }
fi

version="${CHAT_DEB_VERSION:-}"
if [ -z "$version" ]; then
    stamp="$(git -C "$CHAT_ROOT" log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || true)"
    version="1.0.0${stamp:++$stamp}"
fi

"$S/widget.sh"                      # widget/dist: the package ships the built files

out="$CHAT_ROOT/build/deb"
src="$out/nginx-chat-$version"
rm -rf "$out"
mkdir -p "$src"
# the working tree as it is (uncommitted changes too), without build output and state
tar -C "$CHAT_ROOT" --exclude=./.git --exclude=./build --exclude=./var --exclude=node_modules \
    --exclude='./widget/tests/screenshots' -cf - . | tar -C "$src" -xf -
sed -e "s|@VERSION@|$version|" -e "s|@DATE@|$(date -R)|" "$src/debian/changelog.in" > "$src/debian/changelog"

chat_log "deb: dpkg-buildpackage $version"
(cd "$src" && dpkg-buildpackage -us -uc -b -j"${JOBS:-$(nproc)}") > "$out/build.log" 2>&1 \
    || { tail -n 60 "$out/build.log" >&2; exit 1; }
rm -rf "$src"
deb="$(ls "$out"/libnginx-mod-http-chat_"$version"_*.deb)"
chat_log "deb: $deb"
echo "$deb"
