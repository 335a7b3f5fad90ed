#!/bin/sh
# Installs, with apt-get, whatever mod_pds needs to build, test and run its demo
# on Debian 12 that is not installed yet. Run as root. Idempotent.
set -eu

# postgresql and memcached: the consent store and the shared consent cache
# of several gateway nodes, started on loopback by the e2e tests
# (test_multinode.py, test_consent_deploy.py); libaprutil1-dbd-pgsql is the
# store's driver, apache2 ships mod_socache_memcache.
#
# libapache2-mod-security2: ModSecurity 2, the benchmark's second peer
# (bench/run.sh, configuration modsec); python3-matplotlib: bench/plot.sh
# draws docs/performance.png from a run's figures.
#
# systemd: only its systemd-analyze, with which tests/package/test-deb.sh
# verifies Debian's apache2.service with the packages installed (nothing
# here runs systemd as PID 1).
PACKAGES="build-essential autoconf automake libtool pkg-config apache2-utils
apache2 apache2-dev libjansson-dev libssl-dev libcmocka-dev
libaprutil1-dbd-sqlite3 libaprutil1-dbd-pgsql postgresql sqlite3 memcached openssl curl ca-certificates
python3 python3-pytest python3-requests python3-cryptography python3-prometheus-client
valgrind wrk lua-cjson clang
debhelper dpkg-dev fakeroot lintian logrotate zlib1g-dev liblzma-dev systemd
libapache2-mod-security2 python3-matplotlib
chromium chromium-driver python3-selenium"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js for json-server (tests/jsonserver): Debian's nodejs and npm, unless
# the machine has a node and an npm of its own (another build of nodejs
# bundles npm, and Debian's npm would conflict with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root (or install them with apt-get)" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# mod_ssl from a newer apache2 build warns (AH01882) when the machine's
# libssl3 is older than the one it was built against: keep them in step.
ssl_installed=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null || true)
ssl_candidate=$(apt-cache policy libssl3 2>/dev/null | sed -n 's/^ *Candidate: //p')
if [ -n "$ssl_candidate" ] && [ "$ssl_candidate" != "(none)" ] \
   && [ "$ssl_installed" != "$ssl_candidate" ] && [ "$(id -u)" = 0 ]; then
    echo "install-deps: upgrading libssl3 $ssl_installed -> $ssl_candidate"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade \
        libssl3 openssl libssl-dev >/dev/null
fi

# npm packages the end-to-end tests use, each pinned by the package.json and
# package-lock.json of its folder (node and npm come from the packages
# above): `npm ci` only when node_modules is missing or older than the
# lockfile, so a second run needs no network.
npm_ci() {     # npm_ci <folder under tests/> <what it is for>
    dir=$(cd "$(dirname "$0")/.." && pwd)/tests/$1
    if [ ! -d "$dir/node_modules" ] \
       || [ -n "$(find "$dir/package-lock.json" -newer "$dir/node_modules")" ]; then
        echo "install-deps: npm ci --prefix tests/$1 ($2)"
        if ! npm ci --prefix "$dir" --prefer-offline --no-audit --no-fund \
                 --loglevel=error >/dev/null; then
            echo "install-deps: npm ci failed in $dir (is the npm registry reachable?)" >&2
            exit 1
        fi
        touch "$dir/node_modules"
    fi
}
npm_ci jsonserver "json-server, the FHIR back end of the e2e tests"
npm_ci axe "axe-core, the accessibility checks of the portal's browser tests"

# Debian's apache2 package starts a server on port 80 when it is installed;
# mod_pds's demo and tests run their own httpd on loopback ports instead.
if command -v apache2ctl >/dev/null 2>&1 && pgrep -x apache2 >/dev/null 2>&1 \
   && [ -f /run/apache2/apache2.pid ]; then
    apache2ctl stop >/dev/null 2>&1 || true
fi
exit 0
