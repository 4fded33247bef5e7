#!/usr/bin/env bash
# The servers the tests talk to over real connections: Redis (the shared cache, rate
# limits). One answering on its standard local port is used as is; otherwise the tests
# start `redis-server` themselves (tests/services.py), so it must be installed. When it
# is not and Debian's package manager is at hand with the rights to use it, install it;
# else say what is missing (the tests that need it skip, or fail under CI=true).
set -u
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "test-services: installing redis-server"
        $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 \
            || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq redis-server >/dev/null 2>&1; } \
            || echo "test-services: could not install redis-server"
        exit 0
    fi
fi
echo "test-services: no Redis on 127.0.0.1:6379 and no redis-server to start; tests that need it skip (fail under CI=true)"
