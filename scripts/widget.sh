#!/usr/bin/env bash
# Builds the customer widget and the agent dashboard into widget/dist/ (npm ci only when the lockfile changed).
set -euo pipefail
source "$(dirname "$0")/env.sh"

W="$CHAT_ROOT/widget"
stamp="$W/node_modules/.lock-stamp"

if [ ! -f "$stamp" ] || [ "$W/package-lock.json" -nt "$stamp" ]; then
    chat_log "widget: npm ci"
    npm ci --prefix "$W" --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi

chat_log "widget: build"
npm run --prefix "$W" --silent build
