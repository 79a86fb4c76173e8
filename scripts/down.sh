#!/usr/bin/env bash
# `make down`: stops the nginx, Redis and Postgres that this checkout's var/ started (by pid file, nothing else).
set -euo pipefail
S="$(dirname "$0")"

"$S/nginx.sh" stop
"$S/redis.sh" stop
"$S/db.sh" stop
