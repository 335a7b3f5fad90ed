#!/bin/sh
# demo.sh: the mod_pds demo in one command, on loopback only. Run it as
# ./tools/demo.sh (the README's command); this script tells the story and
# demo/checks.py checks each answer.
#
#   sudo ./tools/demo.sh          install what is missing, build, start the
#                                 gateway and the legacy back end, tell the
#                                 story with real requests, run until Ctrl-C
#   sudo ./tools/demo.sh --check  the same, but check every answer, stop
#                                 everything and exit (1 if a step differs)
#   sudo ./tools/demo.sh --stop   stop a demo left running
#
# Everything it makes lives in ./demo-run/ (recreated on each run; the demo
# PKI in demo-run/pki/ is kept while it is complete and valid).
#
# The stand-in back end (tests/backend/) and the token minting helper
# (tests/tools/mint-token.py) are the test suite's fixtures, shared with the
# demo and the bench so that all three run against the same back end.
#
# Environment:
#   PDS_DEMO_HTTPS_PORT    gateway, TLS with client certificates (18443)
#   PDS_DEMO_HTTP_PORT     gateway, plain HTTP for token callers behind a
#                          TLS-terminating proxy (18081)
#   PDS_DEMO_BACKEND_PORT  the stand-in legacy back end (18080)
#   PDS_BUILD_DIR          where tools/build.sh builds (./build)
#   PDS_DEMO_MODULE        use this mod_pds.so as it is: no package check,
#                          no build (for CI and for trying a build elsewhere)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
demo=$top/demo
run=$top/demo-run
pki=$run/pki
backend_dir=$top/tests/backend
backend_py=$backend_dir/legacy_backend.py
residents=$backend_dir/residents.json
httpd_bin=/usr/sbin/apache2
module_dir=/usr/lib/apache2/modules
conf=$run/httpd.conf
story=$run/story

https_port=${PDS_DEMO_HTTPS_PORT:-18443}
http_port=${PDS_DEMO_HTTP_PORT:-18081}
backend_port=${PDS_DEMO_BACKEND_PORT:-18080}
audience=https://gateway.council.example

say() { printf '%s\n' "$*"; }
note() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
}

mode=run
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --stop) mode=stop ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
esac
[ $# -le 1 ] || die "one option at most (--check or --stop)"

# shellcheck disable=SC1003
case "$top" in
    *'"'*|*'\'*) die "the source tree's path ($top) must not contain '\"' or '\\'" ;;
esac
for p in "$https_port" "$http_port" "$backend_port"; do
    case "$p" in
        ''|*[!0-9]*) die "port '$p' is not a number (see PDS_DEMO_*_PORT)" ;;
    esac
    if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then
        die "port $p is out of range"
    fi
done
if [ "$https_port" = "$http_port" ] || [ "$https_port" = "$backend_port" ] \
   || [ "$http_port" = "$backend_port" ]; then
    die "the three demo ports must differ (https $https_port, http $http_port, back end $backend_port)"
fi

# A module named relative to where the demo was started from.
if [ -n "${PDS_DEMO_MODULE:-}" ]; then
    case "$PDS_DEMO_MODULE" in /*) ;; *) PDS_DEMO_MODULE=$(pwd)/$PDS_DEMO_MODULE ;; esac
fi
cd "$top"

# --- processes --------------------------------------------------------------

# alive, is_ours, stop_pid, port_free and port_open: shared with bench/.
# shellcheck source=tools/lib/loopback.sh
. "$top/tools/lib/loopback.sh"

# Stops a demo recorded in demo-run's pid files (a previous run, or --stop).
stop_recorded() {
    stopped=0
    if [ -f "$run/run/httpd.pid" ]; then
        pid=$(cat "$run/run/httpd.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && is_ours "$pid" "$conf"; then
            note "stopping the demo gateway (httpd pid $pid)"
            stop_pid "$pid" "httpd"
            stopped=1
        fi
    fi
    if [ -f "$run/backend.pid" ]; then
        pid=$(cat "$run/backend.pid" 2>/dev/null || true)
        # The pid file goes first: the run that started the back end sees
        # it gone and knows the stop was asked for.
        rm -f "$run/backend.pid"
        if [ -n "$pid" ] && is_ours "$pid" "$run/logs/backend-access.log"; then
            note "stopping the demo back end (pid $pid)"
            stop_pid "$pid" "the back end"
            stopped=1
        fi
    fi
    rm -f "$run/run/httpd.pid" "$run/backend.pid"
    return 0
}

if [ "$mode" = stop ]; then
    stop_recorded
    [ "$stopped" = 1 ] || note "no demo is running"
    exit 0
fi

# What this run started; cleanup stops only these (a second run of the demo
# may already have started its own processes under the same pid files).
my_httpd=""
my_backend=""

cleanup() {
    if [ -n "$my_httpd" ] && is_ours "$my_httpd" "$conf"; then
        stop_pid "$my_httpd" "httpd"
    fi
    if [ -n "$my_backend" ] && is_ours "$my_backend" "$run/logs/backend-access.log"; then
        stop_pid "$my_backend" "the back end"
        wait "$my_backend" 2>/dev/null || true
    fi
    my_httpd=""
    my_backend=""
}

# shellcheck disable=SC2317  # called by trap
on_signal() {
    trap - HUP INT TERM EXIT
    say ""
    note "stopping the gateway and the back end"
    cleanup
    note "stopped"
    exit 0
}

trap cleanup EXIT
trap on_signal HUP INT TERM

# --- ports ------------------------------------------------------------------

check_port() {
    port_free "$1" && return 0
    who=""
    if command -v ss >/dev/null 2>&1; then
        who=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -n 1)
    fi
    die "port $1 (127.0.0.1) is in use${who:+ by $who}; stop that program or choose another port with $2=<port>"
}

# --- packages and build -----------------------------------------------------

if [ -n "${PDS_DEMO_MODULE:-}" ]; then
    module=$PDS_DEMO_MODULE
    [ -f "$module" ] || die "PDS_DEMO_MODULE=$module: no such file"
else
    note "checking the packages the demo needs (tools/install-deps.sh)"
    "$top/tools/install-deps.sh" || die "installing the packages failed (see above)"
fi
for tool in /usr/bin/python3 openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed; run tools/install-deps.sh as root"
done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null \
    || die "python3-cryptography is not installed; run tools/install-deps.sh as root"
[ -x "$httpd_bin" ] || die "$httpd_bin is missing: install Debian's apache2 package (tools/install-deps.sh)"
[ -f "$backend_py" ] || die "the stand-in back end $backend_py is missing"
[ -f "$residents" ] || die "the back end's data $residents is missing"

# A previous run may still be up: stop it before looking at the ports.
if [ -d "$run" ]; then
    stop_recorded
fi
check_port "$https_port" PDS_DEMO_HTTPS_PORT
check_port "$http_port" PDS_DEMO_HTTP_PORT
check_port "$backend_port" PDS_DEMO_BACKEND_PORT

# Fresh state, except a PKI that is still good.
mkdir -p "$run" || die "cannot create $run"
find "$run" -mindepth 1 -maxdepth 1 ! -name pki -exec rm -rf {} + \
    || die "cannot clean $run (files of an earlier run as root? run the demo with sudo)"
mkdir -p "$run/run" "$run/logs" "$run/htdocs" "$story"

if [ -z "${PDS_DEMO_MODULE:-}" ]; then
    build=${PDS_BUILD_DIR:-$top/build}
    note "building mod_pds (tools/build.sh; output in demo-run/logs/build.log)"
    if ! "$top/tools/build.sh" >"$run/logs/build.log" 2>&1; then
        say "---- last lines of demo-run/logs/build.log ----" >&2
        tail -n 60 "$run/logs/build.log" >&2
        say "----" >&2
        die "the build failed (full output: demo-run/logs/build.log)"
    fi
    module=$build/mod_pds/.libs/mod_pds.so
    [ -f "$module" ] || die "the build finished but $module is missing; see demo-run/logs/build.log"
fi

# --- demo PKI -------------------------------------------------------------------

pki_files="ca.crt ca.key server.crt server.key health-board.crt health-board.key
data-trust.crt data-trust.key unknown-org.crt unknown-org.key
university.key.pem university.pub.pem"

pki_good() {
    for f in $pki_files; do
        [ -s "$pki/$f" ] || return 1
    done
    for c in server health-board data-trust unknown-org; do
        openssl x509 -noout -checkend 86400 -in "$pki/$c.crt" >/dev/null 2>&1 || return 1
        openssl verify -CAfile "$pki/ca.crt" "$pki/$c.crt" >/dev/null 2>&1 || return 1
    done
    openssl x509 -noout -checkend 86400 -in "$pki/ca.crt" >/dev/null 2>&1
}

# Runs an openssl command quietly, showing its messages only when it fails.
quiet_openssl() {
    if ! openssl "$@" >"$pki.new/openssl.err" 2>&1; then
        cat "$pki.new/openssl.err" >&2
        return 1
    fi
}

# leaf <name> <subject> <extendedKeyUsage> <subjectAltName>
leaf() {
    quiet_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" \
        || return 1
    quiet_openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" || return 1
    cat >"$1.ext" <<EOF || return 1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $3
subjectAltName = $4
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    quiet_openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 825 -sha256 -extfile "$1.ext" -out "$1.crt" || return 1
    rm -f "$1.csr" "$1.ext"
}

make_pki() {
    rm -rf "$pki.new" "$pki"
    mkdir -p "$pki.new" || die "cannot create $pki.new"
    set +e
    (
        umask 077
        cd "$pki.new" || exit 1
        quiet_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key \
            || exit 1
        quiet_openssl req -x509 -new -key ca.key -sha256 -days 3650 \
            -subj "/O=mod_pds demo/CN=mod_pds demo CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt || exit 1
        leaf server "/O=Council Gateway (demo)/CN=localhost" serverAuth \
            "DNS:localhost, IP:127.0.0.1" || exit 1
        leaf health-board "/O=Fife Health Board/CN=api.health-board.example" clientAuth \
            "DNS:api.health-board.example" || exit 1
        leaf data-trust "/O=Community Data Trust/CN=gateway.data-trust.example" clientAuth \
            "DNS:gateway.data-trust.example" || exit 1
        leaf unknown-org "/O=Unknown Analytics Ltd/CN=client.unknown-analytics.example" \
            clientAuth "DNS:client.unknown-analytics.example" || exit 1
        # The university signs its own tokens: a key pair, no certificate.
        quiet_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -out university.key.pem || exit 1
        quiet_openssl pkey -in university.key.pem -pubout -out university.pub.pem || exit 1
        rm -f ca.srl openssl.err
        # Public halves readable by all (httpd's children may run as nobody).
        chmod 644 ./*.crt university.pub.pem
    )
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
        rm -rf "$pki.new"
        die "creating the demo PKI with openssl failed (message above)"
    fi
    mv "$pki.new" "$pki"
}

# The audit log's secret chain key and its checkpoint signing key (what
# `pds-audit keygen --hmac` / `--signing` make), readable by their owner only.
make_audit_keys() {
    (
        umask 077
        mkdir -p "$run/keys" || exit 1
        cd "$run/keys" || exit 1
        [ -s audit.key ] || openssl rand -hex 32 > audit.key || exit 1
        # Consent receipts are signed with this key (PDSConsentReceiptKey).
        [ -s receipt.key ] || openssl genpkey -algorithm ED25519 -out receipt.key || exit 1
        if [ ! -s audit-signing.pem ]; then
            openssl genpkey -algorithm ED25519 -out audit-signing.pem || exit 1
            openssl pkey -in audit-signing.pem -pubout -out audit-signing.pub.pem || exit 1
            chmod 644 audit-signing.pub.pem
        fi
    ) || die "creating the audit keys with openssl failed (message above)"
}

if pki_good; then
    note "using the demo PKI in demo-run/pki"
else
    note "creating the demo PKI in demo-run/pki (CA, server and client certificates, token key)"
    make_pki
    pki_good || die "the new demo PKI does not verify; see the openssl output above"
fi
make_audit_keys

subject_of() {
    openssl x509 -noout -subject -nameopt RFC2253 -in "$1" | sed 's/^subject= *//'
}
health_board_dn=$(subject_of "$pki/health-board.crt")

# --- the data -----------------------------------------------------------------

# Prints: count, chosen resident's id, another resident's id, and the chosen
# resident's top-level fields the health board's agreement leaves behind. The
# chosen one has allergies, care needs and benefits, so every agreement has
# something to release.
facts=$(/usr/bin/python3 "$demo/checks.py" facts "$residents") || die "cannot read the residents from $residents"
resident_count=$(say "$facts" | sed -n 1p)
resident=$(say "$facts" | sed -n 2p)
other_resident=$(say "$facts" | sed -n 3p)

# The resident signs in to see who received their data (user name: their id).
resident_password=demo-$resident
htpasswd -cbB "$run/keys/residents.htpasswd" "$resident" "$resident_password" >/dev/null 2>&1 \
    || die "creating demo-run/keys/residents.htpasswd with htpasswd failed"
chmod 644 "$run/keys/residents.htpasswd"
chmod 755 "$run/keys"

# pds-audit, built next to the module.
audit_tool=${PDS_DEMO_AUDIT_TOOL:-$(cd "$(dirname "$module")/../../tools" 2>/dev/null && pwd)/pds-audit}
audit_tool=${audit_tool#"$top"/}
[ -x "$audit_tool" ] || [ -x "$top/$audit_tool" ] || die "pds-audit is missing ($audit_tool); build with tools/build.sh"
withheld=$(say "$facts" | sed -n 4p)

# --- configuration ------------------------------------------------------------

year=$(date -u +%Y)
valid_from=$year-01-01
valid_to=$((year + 1))-12-31

user_group=""
# The consent store (SQLite): its directory must be writable by httpd's User.
mkdir -p "$run/consent"
if [ "$(id -u)" = 0 ]; then
    user_group="User nobody
Group nogroup"
    chown nobody:nogroup "$run/consent"
fi

# httpd's modules the demo needs; Debian's apache2 has some built in.
load_modules() {
    for m in mpm_event authz_core authn_core mime log_config unixd ssl socache_shmcb \
             proxy proxy_http headers auth_basic authn_file authz_user; do
        printf '<IfModule !%s_module>\n    LoadModule %s_module %s/mod_%s.so\n</IfModule>\n' \
            "$m" "$m" "$module_dir" "$m"
    done
}

# The gateway's enforced location, the same in both virtual hosts.
gateway_location() {
    cat <<EOF
    <Location /citizens/>
        PDSGateway on
        ProxyPass http://127.0.0.1:$backend_port/api/citizens/
    </Location>
    <Location /fhir/>
        PDSGateway on
        ProxyPass http://127.0.0.1:$backend_port/api/fhir/
    </Location>
EOF
}

cat >"$conf" <<EOF
# Generated by tools/demo.sh on $(date -u '+%Y-%m-%d %H:%M:%S UTC'); regenerated on every run.
# The mod_pds demo gateway, on loopback only. Paths are relative to ServerRoot.
ServerRoot "$run"
ServerName localhost
DefaultRuntimeDir run
PidFile run/httpd.pid
ErrorLog logs/error.log
LogLevel warn
$user_group

$(load_modules)
LoadModule pds_module "$module"

StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 4
MaxSpareThreads 32
Timeout 30
ServerTokens Prod
ServerSignature Off
TraceEnable Off
TypesConfig /etc/mime.types

LogFormat "%h %t \"%r\" %>s %b %{PDS-Request-Id}o" pds_access
CustomLog logs/access.log pds_access

# Nothing outside the gateway is served: other paths are an empty directory.
DocumentRoot "$run/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$run/htdocs">
    Require all granted
</Directory>
Header always set X-Content-Type-Options nosniff

# --- who may call -------------------------------------------------------------
# The health board, by its client certificate's subject (RFC 2253, as
# openssl x509 -noout -subject -nameopt RFC2253 prints it).
PDSOrganisation health-board cert-subject "$health_board_dn"
# The community data trust, by a subjectAltName of its client certificate.
PDSOrganisation data-trust cert-san DNS:gateway.data-trust.example
# The university research team, by tokens signed with this key (iss = its name).
PDSOrganisation university-research jwt-key pki/university.pub.pem
PDSTokenAudience $audience

# One JSON line per decision, written before anything is released, chained
# with a secret key and signed at checkpoints (verify: pds-audit verify).
PDSAuditLog audit.jsonl
PDSAuditKey keys/audit.key
PDSAuditSigningKey keys/audit-signing.pem
PDSAuditCheckpoint 5 30

# Consents people give (and withdraw) through /my/consents: an SQLite file,
# receipts signed with this key, decisions cached in shared memory for 5 s.
PDSConsentStore sqlite3 consent/consent.db
PDSConsentReceiptKey keys/receipt.key
PDSConsentCache shmcb 5

# --- what they may have ---------------------------------------------------------
<PDSAgreement council-to-health-board-direct-care>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       $valid_from $valid_to
    Resource    GET /citizens/{subject}/record
    Release     name.given name.family dob care.allergies care.needs
</PDSAgreement>

# De-identification (year of birth, postcode district, a per-agreement
# pseudonym) comes with transforms; until then the agreement releases no name.
<PDSAgreement council-to-university-research>
    Party       university-research
    Purpose     research
    LegalBasis  public-task
    Valid       $valid_from $valid_to
    Resource    GET /citizens/{subject}/record
    Release     dob address.postcode benefits[*].type
</PDSAgreement>

# Care planning goes beyond direct care: only with the resident's consent,
# and only the fields the resident agreed to.
<PDSAgreement council-to-health-board-care-planning>
    Party       health-board
    Purpose     care-planning
    LegalBasis  consent
    Valid       $valid_from $valid_to
    Resource    GET /citizens/{subject}/record
    Release     name.given name.family address.postcode care.needs
</PDSAgreement>

# The same system's FHIR view: a FHIR Patient lists several identifiers, and
# the hospital may have the NHS number only, chosen by its system (a
# predicate), never the council's own case reference.
<PDSAgreement council-to-health-board-nhs-number>
    Party       health-board
    Purpose     direct-care
    LegalBasis  public-task
    Valid       $valid_from $valid_to
    Resource    GET /fhir/Patient/{subject}
    Release     identifier[system="https://fhir.nhs.uk/Id/nhs-number"].value
</PDSAgreement>

<PDSAgreement council-to-data-trust-wellbeing>
    Party       data-trust
    Purpose     wellbeing-support
    LegalBasis  legitimate-interests
    Valid       $valid_from $valid_to
    Resource    GET /citizens/{subject}/record
    Release     name.given benefits[*].type care.needs
</PDSAgreement>

# --- where ------------------------------------------------------------------------
# The back end (127.0.0.1:$backend_port) is reachable through the enforced
# /citizens/ location only: there is deliberately no other ProxyPass (no
# /raw-backend/, no /api/), and no forward proxy.
ProxyRequests Off
ProxyTimeout 10

Listen 127.0.0.1:$https_port https
Listen 127.0.0.1:$http_port http

SSLSessionCache shmcb:run/ssl_scache(512000)
SSLProtocol -all +TLSv1.2 +TLSv1.3

# Plain words for the residents' portal and the public register: who the
# organisations are, what the fields and purposes mean (English; Welsh where
# a "cy" line gives it). Anything unlabelled shows its configuration name.
PDSRegisterPublisher "Brixham Council (demo)"
PDSOrganisationLabel health-board "Fife Health Board"
PDSOrganisationLabel health-board "Bwrdd Iechyd Fife" cy
PDSOrganisationLabel data-trust "Community Data Trust"
PDSOrganisationLabel university-research "University research team"
PDSPurposeLabel direct-care "Your care and treatment"
PDSPurposeLabel care-planning "Planning your care"
PDSPurposeLabel care-planning "Cynllunio eich gofal" cy
PDSPurposeLabel wellbeing-support "Wellbeing support"
PDSPurposeLabel research "Research to improve services"
PDSFieldLabel name.given "First name"
PDSFieldLabel name.given "Enw cyntaf" cy
PDSFieldLabel name.family "Last name"
PDSFieldLabel dob "Date of birth"
PDSFieldLabel care.needs "Care needs"
PDSFieldLabel care.needs "Anghenion gofal" cy
PDSFieldLabel care.allergies "Allergies"
PDSFieldLabel address.postcode "Postcode"
PDSFieldLabel benefits[*].type "Which benefits you receive"

# mTLS callers (the health board, the data trust) and token callers.
<VirtualHost 127.0.0.1:$https_port>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile pki/server.crt
    SSLCertificateKeyFile pki/server.key
    # Only the demo CA issues partner certificates; mod_pds then decides
    # which organisation a verified certificate belongs to.
    SSLCACertificateFile pki/ca.crt
    SSLVerifyClient optional
    SSLVerifyDepth 2
$(gateway_location)

    # Residents sign in (here with a password; mod_auth_openidc in real
    # life) and see who received their data: the user name is their id.
    <Location /my/disclosures>
        AuthType Basic
        AuthName "Residents"
        AuthBasicProvider file
        AuthUserFile keys/residents.htpasswd
        Require valid-user
        SetHandler pds-disclosures
    </Location>

    # ... and grant, see and revoke their consents.
    <Location /my/consents>
        AuthType Basic
        AuthName "Residents"
        AuthBasicProvider file
        AuthUserFile keys/residents.htpasswd
        Require valid-user
        SetHandler pds-consent
    </Location>

    # All of it in the browser: the residents' portal (docs/portal.md) ...
    <Location /portal>
        AuthType Basic
        AuthName "Residents"
        AuthBasicProvider file
        AuthUserFile keys/residents.htpasswd
        Require valid-user
        SetHandler pds-portal
    </Location>
    # ... and the public register of agreements, without sign-in.
    <Location /register>
        SetHandler pds-register
    </Location>
</VirtualHost>

# Token callers behind a TLS-terminating proxy (no client certificates here).
<VirtualHost 127.0.0.1:$http_port>
    ServerName localhost
$(gateway_location)
</VirtualHost>
EOF

# --- the token ----------------------------------------------------------------

mint_cmd="/usr/bin/python3 tests/tools/mint-token.py --key demo-run/pki/university.key.pem --iss university-research --aud $audience --lifetime 600 > demo-run/university.token"
( umask 077; eval "$mint_cmd" ) || die "minting the university's token failed (see above)"

# --- start ----------------------------------------------------------------------

note "starting the stand-in legacy back end on 127.0.0.1:$backend_port"
/usr/bin/python3 "$backend_py" --host 127.0.0.1 --port "$backend_port" --data "$residents" \
    --access-log "$run/logs/backend-access.log" >"$run/logs/backend.out" 2>&1 &
my_backend=$!
say "$my_backend" >"$run/backend.pid"

i=0
until port_open "$backend_port"; do
    if ! alive "$my_backend"; then
        cat "$run/logs/backend.out" >&2
        die "the back end exited at start (output above, in demo-run/logs/backend.out)"
    fi
    i=$((i + 1))
    [ "$i" -le 100 ] || die "the back end did not listen on 127.0.0.1:$backend_port within 10 seconds"
    sleep 0.1
done

note "checking the generated configuration (demo-run/httpd.conf)"
if ! out=$("$httpd_bin" -t -f "$conf" 2>&1); then
    say "$out" >&2
    die "httpd refused the generated configuration demo-run/httpd.conf (message above)"
fi

note "starting the gateway on https://localhost:$https_port and http://localhost:$http_port"
if ! out=$("$httpd_bin" -f "$conf" -k start 2>&1); then
    say "$out" >&2
    tail -n 20 "$run/logs/error.log" >&2 2>/dev/null || true
    die "httpd did not start (messages above; error log: demo-run/logs/error.log)"
fi
[ -z "$out" ] || say "$out"

i=0
while :; do
    if [ -z "$my_httpd" ] && [ -s "$run/run/httpd.pid" ]; then
        my_httpd=$(cat "$run/run/httpd.pid")
    fi
    if port_open "$https_port" && port_open "$http_port"; then
        break
    fi
    i=$((i + 1))
    if [ "$i" -gt 150 ] || { [ -n "$my_httpd" ] && ! alive "$my_httpd"; }; then
        say "---- demo-run/logs/error.log ----" >&2
        tail -n 30 "$run/logs/error.log" >&2 2>/dev/null || true
        die "the gateway did not come up on ports $https_port and $http_port (error log above)"
    fi
    sleep 0.1
done
[ -n "$my_httpd" ] || my_httpd=$(cat "$run/run/httpd.pid")

# --- the story --------------------------------------------------------------------

failures=""
step_no=0

# Shows a response (status, the headers that matter, the body pretty-printed)
# and checks it: $1 headers file, $2 body file, $3 expected status,
# $4 "allow <agreement> <field>..." or "deny <reason>".
show_and_check() {
    /usr/bin/python3 "$demo/checks.py" response "$@"
}

# step <expected status> <expectation> <curl command as shown to the reader>
step() {
    step_no=$((step_no + 1))
    say ""
    say "   \$ $3"
    say ""
    hdr=$story/$step_no.headers
    body=$story/$step_no.body
    : >"$hdr"
    : >"$body"
    set +e
    eval "$3 --max-time 15 -D \"\$hdr\" -o \"\$body\"" 2>"$story/$step_no.err"
    set -e
    if [ -s "$story/$step_no.err" ]; then
        sed 's/^/   /' "$story/$step_no.err"
    fi
    if show_and_check "$hdr" "$body" "$1" "$2"; then
        [ "$mode" != check ] || say "   ok: step $step_no answered as expected"
    else
        failures="$failures $step_no"
    fi
}

# story_check <failure name> <what is ok> <demo/checks.py command> <args>...:
# runs one of the story's checks; a failure is recorded, not fatal.
story_check() {
    failure=$1
    ok=$2
    shift 2
    set +e
    /usr/bin/python3 "$demo/checks.py" "$@"
    check_rc=$?
    set -e
    if [ "$check_rc" = 0 ]; then
        [ "$mode" != check ] || say "   ok: $ok"
    else
        failures="$failures $failure"
    fi
}

# Kept as words for the audit check: "<step>:<status>:<allow|deny>" ...
audit_steps=""
record_audit() { audit_steps="$audit_steps $step_no:$1:$2"; }

tls="curl -sS --cacert demo-run/pki/ca.crt"
hb="--cert demo-run/pki/health-board.crt --key demo-run/pki/health-board.key"
dt="--cert demo-run/pki/data-trust.crt --key demo-run/pki/data-trust.key"
unk="--cert demo-run/pki/unknown-org.crt --key demo-run/pki/unknown-org.key"
gw=https://localhost:$https_port
gw_http=http://localhost:$http_port
record=/citizens/$resident/record

say ""
say "=============================================================================="
say " mod_pds demo: a council's legacy social-care system, shared by agreement"
say "=============================================================================="
say " The legacy back end (stand-in) holds $resident_count synthetic residents. It listens on"
say " 127.0.0.1:$backend_port and nobody but the gateway talks to it. The gateway:"
say "   https://localhost:$https_port  TLS; partners present client certificates or tokens"
say "   http://localhost:$http_port   for token callers behind a TLS-terminating proxy"
say " Configuration: demo-run/httpd.conf   Audit log: demo-run/audit.jsonl"
say " Run the commands below from $top (add -i to see every header)."

say ""
say "1. The health board asks for resident $resident's record, for direct care."
say "   Its client certificate says who it is; agreement council-to-health-board-direct-care"
say "   releases name, date of birth, allergies and care needs. The rest of what the legacy"
say "   system holds stays behind:"
say "$withheld" | fold -s -w 76 | sed 's/^/     /'
step 200 "allow council-to-health-board-direct-care name.given name.family dob care.allergies care.needs" \
    "$tls $hb -H 'PDS-Purpose: direct-care' $gw$record"
record_audit allow -

say ""
say "2. The same request, for marketing: no agreement covers that purpose."
step 403 "deny purpose-mismatch" \
    "$tls $hb -H 'PDS-Purpose: marketing' $gw$record"
record_audit deny purpose-mismatch

say ""
say "3. No client certificate and no token: the gateway does not know who is asking."
step 401 "deny unknown-caller" \
    "$tls -H 'PDS-Purpose: direct-care' $gw$record"
record_audit deny unknown-caller

say ""
say "4. A valid certificate from the same CA, but of an organisation the gateway"
say "   does not know: still unknown."
step 401 "deny unknown-caller" \
    "$tls $unk -H 'PDS-Purpose: direct-care' $gw$record"
record_audit deny unknown-caller

say ""
say "5. The community data trust, recognised by its certificate's DNS name, supports"
say "   the resident's wellbeing: first name, benefit types and care needs only."
step 200 "allow council-to-data-trust-wellbeing name.given benefits[*].type care.needs" \
    "$tls $dt -H 'PDS-Purpose: wellbeing-support' $gw$record"
record_audit allow -

say ""
say "6. The university research team has no certificate: it signs a short-lived token"
say "   (ES256, 10 minutes) and calls through its TLS-terminating proxy, here the plain"
say "   HTTP port. It gets date of birth, postcode and benefit types: never a name."
say "   The token was minted with (run it again when it has expired):"
say ""
say "   \$ $mint_cmd"
step 200 "allow council-to-university-research dob address.postcode benefits[*].type" \
    "curl -sS -H \"Authorization: Bearer \$(cat demo-run/university.token)\" -H 'PDS-Purpose: research' $gw_http$record"
record_audit allow -

say ""
say "7. Path tricks: an encoded slash (%2F) trying to reach resident $other_resident's"
say "   record through resident $resident's path is refused before any agreement is consulted."
step 400 "deny bad-path" \
    "$tls $hb -H 'PDS-Purpose: direct-care' '$gw/citizens/$resident%2F..%2F$other_resident/record'"
record_audit deny bad-path

say ""
say "8. Every decision, allowed or denied, was written to the audit log before the"
say "   answer left the gateway:"
say ""
audit_cmd="tail -n $step_no demo-run/audit.jsonl | /usr/bin/python3 -m json.tool --json-lines"
say "   \$ $audit_cmd"
say ""
if [ -s "$run/audit.jsonl" ]; then
    ( eval "$audit_cmd" ) 2>&1 | sed 's/^/   /' || true
else
    say "   (the audit log is empty)"
fi
# shellcheck disable=SC2086  # one argument per step
story_check audit "one audit record per request, with the right decision" \
    audit "$run/audit.jsonl" "$story" $audit_steps

say ""
allowed=$(say "$audit_steps" | tr ' ' '\n' | grep -c ':allow:' || true)
say "9. The back end is invisible: only the $allowed allowed requests reached it, each"
say "   carrying the organisation, agreement and purpose the gateway vouches for, and"
say "   none of the caller's credentials. Its own access log (summarised):"
say ""
say "   \$ /usr/bin/python3 -m json.tool --json-lines demo-run/logs/backend-access.log"
say ""
story_check backend-log "only the allowed requests reached the back end" \
    backend-log "$run/logs/backend-access.log" "$allowed"
seen=$(grep -c . "$run/logs/backend-access.log" 2>/dev/null || true)
say ""
say "   Nothing else on the gateway leads to the back end:"
for path in /api/citizens/$resident/record /raw-backend/citizens/$resident/record; do
    code=$(curl -sS --max-time 15 -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" \
        --cert "$pki/health-board.crt" --key "$pki/health-board.key" \
        -H 'PDS-Purpose: direct-care' "$gw$path" 2>/dev/null || true)
    say "   GET $gw$path -> HTTP $code"
    case "$code" in
        403|404) ;;
        *) say "   !! expected 403 or 404: the back end must not be reachable there"
           failures="$failures invisible" ;;
    esac
done
seen_after=$(grep -c . "$run/logs/backend-access.log" 2>/dev/null || true)
if [ "${seen_after:-0}" != "${seen:-0}" ]; then
    say "   !! those requests reached the back end"
    failures="$failures invisible"
fi

say ""
say "10. A security officer checks that nobody has altered the audit log: every line"
say "    is chained to the one before and sealed with the gateway's secret key, and"
say "    signed checkpoints let anyone holding the public key check it too."
say ""
verify_cmd="$audit_tool verify --key demo-run/keys/audit.key --public-key demo-run/keys/audit-signing.pub.pem demo-run/audit.jsonl"
report_cmd="$audit_tool report demo-run/audit.jsonl"
say "    \$ $verify_cmd"
set +e
( cd "$top" && eval "$verify_cmd" ) 2>&1 | sed 's/^/    /'
verify_rc=$(cd "$top" && eval "$verify_cmd" >/dev/null 2>&1; echo $?)
say ""
say "    \$ $report_cmd"
( cd "$top" && eval "$report_cmd" ) 2>&1 | sed 's/^/    /'
set -e
if [ "$verify_rc" = 0 ]; then
    [ "$mode" != check ] || say "    ok: the audit chain verifies"
else
    say "    !! pds-audit verify did not report an intact log"
    failures="$failures verify"
fi

say ""
say "11. Resident $resident signs in and sees who received their data, and why:"
say ""
person_cmd="$tls -u $resident:$resident_password $gw/my/disclosures"
say "    \$ $person_cmd"
set +e
( cd "$top" && eval "$person_cmd" ) >"$story/person.json" 2>"$story/person.err"
set -e
/usr/bin/python3 -m json.tool "$story/person.json" 2>/dev/null | sed 's/^/    /' \
    || sed 's/^/    /' "$story/person.json" "$story/person.err"
if /usr/bin/python3 "$demo/checks.py" person "$story/person.json" "$resident"; then
    [ "$mode" != check ] || say "    ok: the resident sees the health board's access"
else
    say "    !! the resident's view does not show the health board's access"
    failures="$failures person"
fi

say ""
say "12. Care planning needs the resident's consent. The health board asks before the"
say "    resident has given it: refused, and the back end is never asked."
step 403 "deny consent-missing" \
    "$tls $hb -H 'PDS-Purpose: care-planning' $gw$record"

say ""
say "13. The resident consents: the health board may see their first name and care"
say "    needs for care planning (not their surname or postcode, which the agreement"
say "    would allow). The gateway answers with a receipt it has signed."
consent_body='{"organisation":"health-board","purpose":"care-planning","fields":["name.given","care.needs"],"notice":"council-privacy-notice-v3"}'
step 201 "api active" \
    "$tls -u $resident:$resident_password -H 'Content-Type: application/json' -d '$consent_body' $gw/my/consents/consents"
consent_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["consent"]["id"])' "$story/$step_no.body" 2>/dev/null || true)

say ""
say "14. The health board asks again: it gets exactly what both the agreement and the"
say "    resident allow."
step 200 "allow council-to-health-board-care-planning name.given care.needs" \
    "$tls $hb -H 'PDS-Purpose: care-planning' $gw$record"

say ""
say "15. The resident changes their mind and revokes the consent; the next request"
say "    is refused at once."
step 200 "api revoked" \
    "$tls -u $resident:$resident_password -X POST $gw/my/consents/consents/${consent_id:-none}/revoke"
step 403 "deny consent-revoked" \
    "$tls $hb -H 'PDS-Purpose: care-planning' $gw$record"

say ""
say "16. Residents need no curl: the same in a browser. The portal ($gw/portal/,"
say "    sign in as $resident / $resident_password) shows who got their data and their"
say "    consents with forms to give, pause and revoke them; the public register"
say "    ($gw/register) lists every agreement without sign-in."
portal_code=$(cd "$top" && $tls -u "$resident:$resident_password" -o "$story/portal.html" \
                  -w '%{http_code}' "$gw/portal/disclosures" 2>/dev/null || true)
register_code=$(cd "$top" && $tls -o "$story/register.html" -w '%{http_code}' \
                    "$gw/register" 2>/dev/null || true)
if [ "$portal_code" = 200 ] && grep -q "Fife Health Board" "$story/portal.html" \
   && [ "$register_code" = 200 ] && grep -q "Planning your care" "$story/register.html"; then
    [ "$mode" != check ] || say "    ok: the portal shows the health board's access; the register lists it"
else
    say "    !! the portal ($portal_code) or the register ($register_code) did not answer as expected"
    failures="$failures portal"
fi
say "17. The same system also speaks FHIR. The health board's hospital asks for resident"
say "    $resident as a FHIR Patient, which lists two identifiers: the NHS number and the"
say "    council's own case reference. Agreement council-to-health-board-nhs-number"
say "    releases the NHS number only, chosen by its system:"
say "      Release identifier[system=\"https://fhir.nhs.uk/Id/nhs-number\"].value"
say "    The case reference, the names, phone, e-mail and address stay behind."
step 200 "allow council-to-health-board-nhs-number identifier[system=\"https://fhir.nhs.uk/Id/nhs-number\"].value" \
    "$tls $hb -H 'PDS-Purpose: direct-care' $gw/fhir/Patient/$resident"
story_check fhir "the NHS number left, alone" \
    fhir-nhs "$story/$step_no.body" "$residents" "$resident"

# The error log should hold nothing worse than notices.
if grep -E '^\[[^]]*\] \[[^]]*:(warn|error|crit|alert|emerg)\]' "$run/logs/error.log" \
        >"$story/error-log-problems" 2>/dev/null; then
    say ""
    say "   !! the gateway's error log has warnings or errors:"
    sed 's/^/   /' "$story/error-log-problems"
    failures="$failures error-log"
fi

say ""
if [ "$mode" = check ]; then
    cleanup
    rm -f "$run/run/httpd.pid" "$run/backend.pid"
    trap - EXIT HUP INT TERM
    if [ -n "$failures" ]; then
        if [ -s "$run/logs/error.log" ]; then
            say "---- last lines of demo-run/logs/error.log ----"
            tail -n 20 "$run/logs/error.log"
            say "----"
        fi
        say "demo --check: FAILED at:$failures (see the '!!' lines above; logs in demo-run/logs/)"
        exit 1
    fi
    say "demo --check: all $step_no requests, the audit log and the back end's log behaved as expected"
    exit 0
fi

if [ -n "$failures" ]; then
    say "Note: some steps did not answer as expected:$failures (see the '!!' lines above)."
fi
say "The gateway is running; press Ctrl-C to stop (or run tools/demo.sh --stop)."
say "Logs: demo-run/logs/error.log, access.log, backend-access.log; audit: demo-run/audit.jsonl"
wait "$my_backend" 2>/dev/null || true
if [ "$(cat "$run/backend.pid" 2>/dev/null || true)" != "$my_backend" ]; then
    # tools/demo.sh --stop (or a new run) stopped it and took its pid file.
    my_backend=""
    note "stopped from elsewhere (tools/demo.sh --stop or a new demo run)"
    exit 0
fi
my_backend=""
note "the back end exited unexpectedly (see demo-run/logs/backend.out); stopping the gateway"
exit 1
