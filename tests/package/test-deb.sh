#!/bin/sh
# test-deb.sh: builds the Debian packages from this tree, installs them into
# the machine's own Apache (Debian's apache2), enables the module, checks the
# configuration, starts Apache on 127.0.0.1 and a free high port (Debian's
# ports.conf is left out: nothing listens on 80 or 443), makes an allowed and
# a denied request, rotates the audit log with the shipped logrotate rule
# (graceful restarts, a .gz file) and verifies the series, then stops Apache,
# purges the packages and restores the machine.
#
# Needs root and a machine where mod_pds is not installed (no /etc/pds,
# /var/log/pds, /var/lib/pds) and no system apache2 is running; otherwise it
# says why and skips. The last line is "N passed, N failed".
#   PDS_DEB_CHECK=1   also run make check inside dpkg-buildpackage
#   PDS_DEB_KEEP=DIR  keep the built packages in DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok   $1"; }
bad() { failed=$((failed + 1)); echo "  FAIL $1"; }
check() {   # check "what" command...
    what=$1; shift
    if "$@" >>"$work/check.out" 2>&1; then ok "$what"; else bad "$what"; fi
}
summary() { echo "$passed passed, $failed failed"; }
skip() { echo "test-deb: skipped: $1"; summary; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, a2enmod)"
command -v dpkg-buildpackage >/dev/null && command -v apache2ctl >/dev/null \
    && command -v logrotate >/dev/null || skip "needs dpkg-dev, apache2 and logrotate (tools/install-deps.sh)"
for d in /etc/pds /var/log/pds /var/lib/pds; do
    [ -e "$d" ] && skip "$d exists: mod_pds is or was installed on this machine"
done
dpkg-query -W -f='${Status}' libapache2-mod-pds 2>/dev/null | grep -q installed \
    && skip "libapache2-mod-pds is installed"
if [ -f /run/apache2/apache2.pid ] && kill -0 "$(cat /run/apache2/apache2.pid)" 2>/dev/null; then
    skip "the system apache2 is running (tools/install-deps.sh stops it)"
fi

work=$(mktemp -d /tmp/pds-deb-test.XXXXXX)
chmod 755 "$work"
: >"$work/check.out"
mods_before=$(ls /etc/apache2/mods-enabled)
confs_before=$(ls /etc/apache2/conf-enabled)
backend_pid=""
installed=0

restore() {
    if [ -f "$work/apache2.conf" ]; then
        (set +u; . /etc/apache2/envvars; APACHE_LOG_DIR=$work/log;
         /usr/sbin/apache2 -d /etc/apache2 -f "$work/apache2.conf" -k stop) >/dev/null 2>&1
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [ -f /run/apache2/apache2.pid ] || break
            sleep 0.5
        done
    fi
    [ -n "$backend_pid" ] && kill "$backend_pid" 2>/dev/null
    rm -f /etc/apache2/conf-enabled/pds-test.conf /etc/apache2/conf-available/pds-test.conf
    # modules this test enabled (a2enmod pds enables its Depends: too)
    for m in $(ls /etc/apache2/mods-enabled); do
        echo "$mods_before" | grep -qx "$m" || rm -f "/etc/apache2/mods-enabled/$m"
    done
    if [ "$installed" = 1 ]; then
        dpkg --purge libapache2-mod-pds pds-audit >/dev/null 2>&1
        rm -rf /etc/pds /var/log/pds /var/lib/pds
    fi
    if [ -n "${PDS_DEB_KEEP:-}" ]; then
        mkdir -p "$PDS_DEB_KEEP" && cp "$work"/*.deb "$PDS_DEB_KEEP"/ 2>/dev/null
    fi
    rm -rf "$work"
}
trap restore EXIT
trap 'exit 1' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# source and binaries: lintian checks debian/copyright (DEP-5) only in the
# source package
echo "== build (dpkg-buildpackage -us -uc)"
mkdir -p "$work/src"
(cd "$top" && git ls-files -co --exclude-standard | tar -cf - -T -) | tar -xf - -C "$work/src"
opts="nocheck parallel=$(nproc)"
[ "${PDS_DEB_CHECK:-0}" = 1 ] && opts="parallel=$(nproc)"
if (cd "$work/src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc) >"$work/build.log" 2>&1; then
    ok "dpkg-buildpackage builds the packages"
else
    bad "dpkg-buildpackage builds the packages"; tail -n 40 "$work/build.log"; exit 1
fi
mod_deb=$(ls "$work"/libapache2-mod-pds_*.deb)
tool_deb=$(ls "$work"/pds-audit_*.deb)

if command -v lintian >/dev/null; then
    lintian "$work"/*.changes >"$work/lintian.out" 2>&1
    if grep -q '^E:' "$work/lintian.out"; then
        bad "lintian reports no error"; cat "$work/lintian.out"
    else
        ok "lintian reports no error ($(grep -c '^W:' "$work/lintian.out") warnings)"
        grep '^W:' "$work/lintian.out"
    fi
    if grep -E '^[EW]:' "$work/lintian.out" | grep -qiE 'copyright|licen[cs]e'; then
        bad "lintian reports nothing about debian/copyright"
    else
        ok "lintian reports nothing about debian/copyright"
    fi
fi

echo "== install"
if dpkg -i "$tool_deb" "$mod_deb" >"$work/install.out" 2>&1; then
    installed=1; ok "dpkg -i installs both packages"
else
    installed=1; bad "dpkg -i installs both packages"; cat "$work/install.out"; exit 1
fi
check "postinst says what to do next" grep -q 'a2enmod pds' "$work/install.out"
check "the module is not enabled by the install" test ! -e /etc/apache2/mods-enabled/pds.load
check "/var/log/pds is root:www-data 0750" test "$(stat -c '%U:%G %a' /var/log/pds)" = "root:www-data 750"
check "/var/lib/pds is www-data:www-data 0750" test "$(stat -c '%U:%G %a' /var/lib/pds)" = "www-data:www-data 750"
for k in audit.key pseudonym.key audit-signing.pem receipt.key response.key; do
    check "/etc/pds/$k is root:root 0600" test "$(stat -c '%U:%G %a' "/etc/pds/$k")" = "root:root 600"
done
sums=$(cd /etc/pds && sha256sum ./*)
dpkg -i "$mod_deb" >"$work/reinstall.out" 2>&1
check "a reinstall keeps every key" test "$(cd /etc/pds && sha256sum ./*)" = "$sums"

# Debian's apache2.service (Type=forking, ExecStart "apachectl start",
# ExecReload "apachectl graceful", PrivateTmp=true). This machine may have no
# systemd as PID 1, so the unit is not run: what the package could break in
# it is checked instead (docs/admin-guide.md, "Under systemd").
echo "== apache2.service"
unit=/lib/systemd/system/apache2.service
check "the packages ship no systemd unit, drop-in or tmpfiles file" \
    sh -c '! dpkg -L libapache2-mod-pds pds-audit | grep -qE "/systemd/|tmpfiles"'
if command -v systemd-analyze >/dev/null && [ -f "$unit" ]; then
    check "systemd-analyze verify apache2.service passes with the packages installed" \
        systemd-analyze verify "$unit"
    check "the logrotate rule reloads as the unit's ExecReload does (apachectl graceful)" \
        sh -c 'grep -qx "ExecReload=/usr/sbin/apachectl graceful" "$1" \
               && grep -q "apache2ctl graceful" /etc/logrotate.d/libapache2-mod-pds' _ "$unit"
fi
check "the module's files name no path under /tmp or /var/tmp (the unit's PrivateTmp)" \
    sh -c 'for f; do test -f "$f" || exit 1; done; ! grep -qE "(^|[[:space:]\"])/(var/)?tmp/" "$@"' _ \
    /etc/apache2/mods-available/pds.conf /etc/apache2/mods-available/pds.load \
    /etc/logrotate.d/libapache2-mod-pds /usr/share/doc/libapache2-mod-pds/examples/pds-example.conf

echo "== a2enmod pds, apachectl -t"
a2enmod -q pds >>"$work/check.out" 2>&1
check "apachectl -t passes after a2enmod pds, nothing else done" apache2ctl -t

# A partner with a signed token, one agreement, a back end on loopback.
port=$(free_port)
bport=$(free_port)
pds-audit keygen --signing "$work/partner.key" --public /etc/pds/test-partner.pub.pem >/dev/null
cat >/etc/apache2/conf-available/pds-test.conf <<EOF
# mod_pds package test (tests/package/test-deb.sh); removed when it ends.
PDSOrganisation test-partner jwt-key /etc/pds/test-partner.pub.pem issuer=test-partner
PDSTokenAudience https://gateway.test.invalid
<PDSAgreement test-direct-care>
    Party       test-partner
    Purpose     direct-care
    LegalBasis  public-task
    Valid       2026-01-01 2035-12-31
    Resource    GET /pds-test/citizens/{subject}/record
    Release     name
</PDSAgreement>
<Location /pds-test/citizens/>
    PDSGateway on
    ProxyPass http://127.0.0.1:$bport/api/citizens/
</Location>
EOF
a2enconf -q pds-test >>"$work/check.out" 2>&1
check "apachectl -t passes with an agreement" apache2ctl -t

/usr/bin/python3 - "$bport" >"$work/backend.log" 2>&1 <<'EOF' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"name": {"given": "Test", "family": "Person"},
                           "phone": "000 0000", "notes": "internal"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
backend_pid=$!

echo "== start on 127.0.0.1:$port"
mkdir -p "$work/log"
sed "s|^Include ports.conf|Listen 127.0.0.1:$port|" /etc/apache2/apache2.conf >"$work/apache2.conf"
# by its full path, as apache2ctl and systemd start it: the shipped rule's
# postrotate looks for "^/usr/sbin/apache2" (as Debian's own rule does)
start_apache() {
    (set +u; . /etc/apache2/envvars; export APACHE_LOG_DIR="$work/log";
     /usr/sbin/apache2 -d /etc/apache2 -f "$work/apache2.conf" -k start)
}
check "Apache starts with mod_pds enabled" start_apache
for _ in $(seq 1 40); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.25
done

token=$(/usr/bin/python3 "$top/tests/tools/mint-token.py" --key "$work/partner.key" \
        --iss test-partner --aud https://gateway.test.invalid)
get() {     # get PURPOSE: prints "STATUS BODY"
    curl -s -H "Authorization: Bearer $token" -H "PDS-Purpose: $1" -w ' %{http_code}' \
        "http://127.0.0.1:$port/pds-test/citizens/c-1/record"
}
out=$(get direct-care)
check "an allowed request gets only the released field" \
    test "$out" = '{"name":{"given":"Test","family":"Person"}} 200'
out=$(get research)
check "a denied request gets 403 purpose-mismatch" \
    sh -c 'echo "$1" | grep -q "\"reason\":\"purpose-mismatch\".* 403\$"' _ "$out"
log=/var/log/pds/pds-audit.jsonl
check "both decisions are in /var/log/pds/pds-audit.jsonl" \
    test "$(grep -c '"decision":"allow"' $log) $(grep -c '"decision":"deny"' $log)" = "1 1"
check "the audit log is www-data's, mode 0600" test "$(stat -c '%U %a' $log)" = "www-data 600"

echo "== rotation (the shipped logrotate rule, graceful restarts)"
rotate() {
    before=$(stat -c %i $log 2>/dev/null)
    logrotate -f -s "$work/logrotate.state" /etc/logrotate.d/libapache2-mod-pds || return 1
    for _ in $(seq 1 40); do    # the graceful restart starts the new file
        [ -f $log ] && [ "$(stat -c %i $log)" != "$before" ] && return 0
        sleep 0.25
    done
    return 1
}
check "first rotation: the gateway starts a new file" rotate
get direct-care >/dev/null
check "second rotation: the older file is compressed" rotate
check "the series is the current file, .1 and .2.gz" \
    test -f $log.1 -a -f $log.2.gz -a -f $log
get direct-care >/dev/null
check "each rotated file ends with a signed checkpoint" \
    sh -c 'tail -n 1 "$1.1" | grep -q "\"type\":\"checkpoint\"" \
           && gzip -dc "$1.2.gz" | tail -n 1 | grep -q "\"type\":\"checkpoint\""' _ $log
check "pds-audit verify --series checks all three files as one chain" \
    pds-audit verify --key /etc/pds/audit.key --public-key /etc/pds/audit-signing.pub.pem \
        --series $log
check "pds-audit query --series reads the .gz file too" \
    test "$(pds-audit query --series --decision allow --format jsonl $log | wc -l)" = 3

echo "== stop, purge"
stop_apache() {
    (set +u; . /etc/apache2/envvars; export APACHE_LOG_DIR="$work/log";
     /usr/sbin/apache2 -d /etc/apache2 -f "$work/apache2.conf" -k stop) || return 1
    for _ in $(seq 1 40); do
        [ -f /run/apache2/apache2.pid ] || return 0
        sleep 0.25
    done
    return 1
}
check "Apache stops" stop_apache
if [ ! -s "$work/log/error.log" ]; then
    bad "Apache wrote its error log"
elif grep -E ':(error|crit|alert|emerg)\]' "$work/log/error.log" >/dev/null; then
    bad "no error in Apache's error log"; grep -E ':(error|crit|alert|emerg)\]' "$work/log/error.log" | head
else
    ok "no error in Apache's error log"
fi
rm -f /etc/apache2/conf-enabled/pds-test.conf /etc/apache2/conf-available/pds-test.conf
dpkg --purge libapache2-mod-pds pds-audit >"$work/purge.out" 2>&1
check "dpkg --purge removes both packages" sh -c '! dpkg-query -W libapache2-mod-pds pds-audit 2>/dev/null | grep -q .'
check "purge removes the configuration" test ! -e /etc/apache2/mods-available/pds.conf -a ! -e /etc/logrotate.d/libapache2-mod-pds
check "purge disables the module" test ! -e /etc/apache2/mods-enabled/pds.load
check "purge keeps the audit logs, the store and the keys" \
    test -f $log -a -d /var/lib/pds -a -f /etc/pds/audit.key
check "purge says what it kept" grep -q 'kept /var/log/pds' "$work/purge.out"
installed=0
rm -rf /etc/pds /var/log/pds /var/lib/pds
for m in $(ls /etc/apache2/mods-enabled); do
    echo "$mods_before" | grep -qx "$m" || rm -f "/etc/apache2/mods-enabled/$m"
done
check "Apache's enabled modules and configurations are as before" \
    test "$(ls /etc/apache2/mods-enabled) $(ls /etc/apache2/conf-enabled)" = "$mods_before $confs_before"
if [ "$failed" != 0 ]; then
    echo "-- details"; tail -n 40 "$work/check.out"; tail -n 20 "$work/log/error.log" 2>/dev/null
fi
summary
[ "$failed" = 0 ]
