#!/usr/bin/env bash
# The servers and programs the tests talk to over real connections: Redis (the shared
# cache, rate limits), and Debian's Chromium and ChromeDriver (GraphiQL in a headless
# browser, tests/test_graphiql.py). A Redis answering on its standard local port is used
# as is; otherwise the tests start `redis-server` themselves (tests/services.py), so it
# must be installed. What is missing is installed when Debian's package manager is at hand
# with the rights to use it (root, or sudo without a password); else the script says what
# is missing (the tests that need it skip, or fail under CI=true).
set -u

if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
command -v apt-get >/dev/null 2>&1 || SUDO=none

# install PACKAGE...: with apt-get, updating its lists when the first attempt fails.
install() {
    [ "$SUDO" != none ] || return 1
    echo "test-services: installing $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 \
            && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; } \
        || { echo "test-services: could not install $*"; return 1; }
}

if command -v redis-server >/dev/null 2>&1 || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    :
elif [ "$SUDO" = none ]; then
    echo "test-services: no Redis on 127.0.0.1:6379 and no redis-server to start; tests that need it skip (fail under CI=true)"
else
    install redis-server
fi

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    :
elif [ "$SUDO" = none ]; then
    echo "test-services: no /usr/bin/chromium (Debian's chromium and chromium-driver); the GraphiQL browser test skips (fails under CI=true)"
else
    install chromium chromium-driver
fi
exit 0
