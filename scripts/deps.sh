#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages the build and the tests need, if missing.
set -euo pipefail

PKGS=(
    nginx nginx-dev                             # the nginx we build against and run
    g++ cmake pkg-config make                   # core (C++20) and the module
    libpq-dev libhiredis-dev libssl-dev         # core's clients and crypto
    libc-ares-dev                               # webhook host names (non-blocking resolver)
    libgtest-dev libgmock-dev                   # core's unit tests
    postgresql-15 postgresql-client-15          # the database (cluster in var/pg)
    redis-server                                # the event bus
    openssl ca-certificates curl                # dev secret, scrypt hashes, health checks
    perl libprotocol-websocket-perl             # t/ (Test::More, HTTP::Tiny, JSON::PP are in perl)
    libio-socket-ssl-perl                       # t/52-webhooks-tls.t's https receivers
    clang libclang-rt-14-dev                    # fuzzing and sanitizers
    clang-tidy clang-format                     # make lint (core/.clang-tidy, .clang-format)
    chromium                                    # widget/ browser tests (playwright-core)
)
# widget/ builds with Node and npm; use the machine's if it has them
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

echo "==> installing: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages and not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Debian's postinst would start the system nginx/redis/postgres on their default
# ports; we run our own, so keep the package scripts from starting services.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
