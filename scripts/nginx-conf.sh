#!/usr/bin/env bash
# Renders an nginx config template (default conf/dev.conf.in) into var/nginx.conf, creating the dev secret once.
set -euo pipefail
source "$(dirname "$0")/env.sh"

template="${1:-$CHAT_ROOT/conf/dev.conf.in}"
out="${2:-$CHAT_VAR/nginx.conf}"

chat_var_init

# The dev HMAC key: 32 random bytes as hex, made once. World-readable because it is
# a dev key and nginx may read it as nobody; a production key is 0640 root:nginx.
if [ ! -s "$CHAT_VAR/chat.secret" ]; then
    openssl rand -hex 32 > "$CHAT_VAR/chat.secret"
    chmod 0644 "$CHAT_VAR/chat.secret"
    chat_log "created dev secret $CHAT_VAR/chat.secret"
fi

# Widget files are served by the workers (user nobody). If the repo is not
# traversable for them, serve a copy kept in var/www.
www="$CHAT_ROOT/widget"
if [ "$CHAT_VAR" != "$CHAT_ROOT/var" ]; then
    www="$CHAT_VAR/www"
    mkdir -p "$www"
    for d in demo dist; do
        rm -rf "${www:?}/$d"
        if [ -d "$CHAT_ROOT/widget/$d" ]; then cp -r "$CHAT_ROOT/widget/$d" "$www/$d"; fi
    done
    chmod -R a+rX "$www"
fi

sed -e "s|@ROOT@|$CHAT_ROOT|g" \
    -e "s|@VAR@|$CHAT_VAR|g" \
    -e "s|@WWW@|$www|g" \
    -e "s|@MODULE@|$CHAT_MODULE_SO|g" \
    -e "s|@PORT@|$CHAT_PORT|g" \
    -e "s|@PG_PORT@|$CHAT_PG_PORT|g" \
    -e "s|@REDIS_PORT@|$CHAT_REDIS_PORT|g" \
    "$template" > "$out.tmp"
mv "$out.tmp" "$out"
