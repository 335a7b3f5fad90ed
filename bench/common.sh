# common.sh: shared by bench/run.sh, bench/profile.sh, bench/perf.sh, bench/rss.sh and bench/soak.sh (sourced, not run).
# shellcheck shell=sh disable=SC2034,SC2154  # set here for, or by, the scripts that source this
#
# Sets up a run directory with a static back-end httpd and a gateway httpd
# that has three locations in front of that back end:
#   /plain/  mod_proxy only
#   /pds/    mod_pds (bearer token, agreement, filter, audit) + mod_proxy
#   /lua/    mod_proxy + a mod_lua output filter doing the same filtering
# The caller sets: bench (bench dir), run (run directory, open_run_dir),
# with_pds (1: load mod_pds and configure /pds/; 0: leave it out); top (the
# source tree) is set here.
# bench/soak.sh uses the helpers and writes its own configuration.

top=$(cd "$bench/.." && pwd)
httpd_bin=/usr/sbin/apache2
module_dir=/usr/lib/apache2/modules
subject=R100234
release_fields="name.given name.family dob care.allergies care.needs"
purpose=benchmark
audience=bench
lua_scope=${BENCH_LUA_SCOPE:-once}
key_type=${BENCH_KEY_TYPE:-ec}
lua_cache=${BENCH_LUA_CODECACHE:-stat}

gw_port=${BENCH_PORT:-18980}
be_port=${BENCH_BACKEND_PORT:-18981}
tls_port=${BENCH_TLS_PORT:-$((gw_port + 2))}
# Set by run.sh from BENCH_CONFIGS; perf.sh, profile.sh and soak.sh leave
# them off: HTTPS on tls_port (mod_ssl), ModSecurity 2 on /modsec/, the
# 100 KB and 1 MB collections on /plainc/ and /pdsc/.
with_tls=${with_tls:-0}
with_modsec=${with_modsec:-0}
with_collections=${with_collections:-0}
# The collections: about 100 KB and 1 MB of records like bench/record.json.
collection_sizes="100k 1m"

say() { printf '%s\n' "$*"; }
note() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# whole_numbers MESSAGE VALUE...: dies with "MESSAGE; got 'VALUE'" at the
# first VALUE that is not a whole number (settings read from the environment).
whole_numbers() {
    msg=$1
    shift
    for v in "$@"; do
        case "$v" in ''|*[!0-9]*) die "$msg; got '$v'" ;; esac
    done
}

# wrk_settings: the wrk load of bench/run.sh and bench/perf.sh, from
# BENCH_DURATION (10 s), BENCH_CONNECTIONS (32), BENCH_THREADS (2) and
# BENCH_WARMUP (3 s); check_wrk_load checks them once they are whole numbers.
wrk_settings() {
    duration=${BENCH_DURATION:-10}
    connections=${BENCH_CONNECTIONS:-32}
    threads=${BENCH_THREADS:-2}
    warmup=${BENCH_WARMUP:-3}
}

# on_exit_cleanup: the caller's cleanup() runs at exit, and an interrupt
# exits 130 (through cleanup).
on_exit_cleanup() {
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# shellcheck source=tools/lib/loopback.sh
. "$top/tools/lib/loopback.sh"

check_ports() {
    ports="$gw_port $be_port"
    [ "$with_tls" = 0 ] || ports="$ports $tls_port"
    for p in $ports; do
        case "$p" in ''|*[!0-9]*) die "port '$p' is not a number (BENCH_PORT, BENCH_BACKEND_PORT, BENCH_TLS_PORT)" ;; esac
    done
    [ "$gw_port" != "$be_port" ] || die "BENCH_PORT and BENCH_BACKEND_PORT must differ"
    if [ "$with_tls" = 1 ] && { [ "$tls_port" = "$gw_port" ] || [ "$tls_port" = "$be_port" ]; }; then
        die "BENCH_TLS_PORT must differ from BENCH_PORT and BENCH_BACKEND_PORT"
    fi
    for p in $ports; do
        port_free "$p" || die "port $p on 127.0.0.1 is in use; choose others with BENCH_PORT / BENCH_BACKEND_PORT"
    done
}

# need_tools PACKAGES TOOL...: dies, naming the Debian PACKAGES to install,
# when a TOOL is not on PATH.
need_tools() {
    packages=$1
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install $packages)"
    done
}

# one_location SCRIPT [CONFIG]: for perf.sh, profile.sh and rss.sh, which
# load one location: sets $config (plain, pds, lua, or the 1 MB collection
# plainc-1m or pdsc-1m; pds by default), $with_pds, $with_collections,
# $location_path and $url (the location on the gateway).
one_location() {
    config=${2:-pds}
    case "$config" in
        plain|pds|pdsx|lua) location_path=/$config/$subject/record ;;
        plainc-1m|pdsc-1m) location_path=/${config%-1m}/d1m/residents; with_collections=1 ;;
        *) die "usage: $1 [plain|pds|pdsx|lua|plainc-1m|pdsc-1m]" ;;
    esac
    with_pds=0
    case "$config" in pds*) with_pds=1 ;; esac
    url="http://127.0.0.1:$gw_port$location_path"
}

# location_request COMMAND ARG...: runs COMMAND ARG... on $url (one_location)
# with the token and the purpose as headers when the location is mod_pds's.
location_request() {
    if [ "$with_pds" = 1 ]; then
        "$@" -H "Authorization: Bearer $token" -H "PDS-Purpose: $purpose" "$url"
    else
        "$@" "$url"
    fi
}

# wrk_location SECONDS: wrk on $url for SECONDS with the load of
# wrk_settings, and a 30 s timeout (wrk's is 2 s) as bench/run.sh's.
wrk_location() {
    location_request wrk -t"$threads" -c"$connections" -d"${1}s" --timeout 30s
}

# wrk_requests FILE: $requests, the responses wrk completed by its output in
# FILE; dies when there were none.
wrk_requests() {
    requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1")
    [ -n "$requests" ] && [ "$requests" -gt 0 ] || die "wrk completed no requests (see $1)"
}

# check_wrk_load: the ranges of $duration, $connections and $threads (whole
# numbers already) for a wrk run.
check_wrk_load() {
    [ "$duration" -ge 1 ] && [ "$duration" -le 600 ] || die "BENCH_DURATION must be 1..600 seconds"
    [ "$connections" -ge 1 ] && [ "$connections" -le 1000 ] || die "BENCH_CONNECTIONS must be 1..1000"
    [ "$threads" -ge 1 ] && [ "$threads" -le "$connections" ] || die "BENCH_THREADS must be 1..BENCH_CONNECTIONS"
}

# open_run_dir DIR PREFIX: sets $run to DIR (created if need be) or, when
# DIR is empty, to a new /tmp/PREFIX.XXXXXX; always an absolute path.
open_run_dir() {
    if [ -n "$1" ]; then
        run=$1
        mkdir -p "$run" || die "cannot create $run"
    else
        run=$(mktemp -d "/tmp/$2.XXXXXX") || die "mktemp failed"
    fi
    case "$run" in /*) ;; *) run=$(pwd)/$run ;; esac
}

# bench_run_dir NAME: the ports are free, and the run directory is
# BENCH_RUN_DIR or a new /tmp/NAME.XXXXXX (run.sh, perf.sh, profile.sh).
bench_run_dir() {
    check_ports
    open_run_dir "${BENCH_RUN_DIR:-}" "$1"
}

# close_run_dir KEEP DIR: at exit, keeps $run when KEEP is 1, removes it
# when open_run_dir made it (DIR empty).
close_run_dir() {
    if [ "$1" = 1 ]; then
        note "run directory kept: $run"
    elif [ -z "$2" ]; then
        rm -rf "$run"
    fi
}

# bench_setup NAME: how run.sh's servers come up, for perf.sh, profile.sh
# and rss.sh: the run directory (bench_run_dir NAME), the caller's cleanup()
# at exit (on_exit_cleanup; define it first), mod_pds, the configurations
# and the token (prepare_bench), and the back end started. The caller
# starts the gateway (start_httpd "$run/gateway" "$gw_port", or its own way).
bench_setup() {
    bench_run_dir "$1"
    on_exit_cleanup
    prepare_bench
    start_httpd "$run/backend" "$be_port"
}

# gateway_workers: $workers, the gateway's child processes (comma-separated,
# as perf -p takes them); dies when there are none.
gateway_workers() {
    workers=$(pgrep -P "$(cat "$run/gateway/run/httpd.pid")" | paste -sd, -)
    [ -n "$workers" ] || die "no gateway worker processes found"
}

# bench_cleanup: what a cleanup() ends with: the gateway and the back end
# stopped (each only if it is ours and running), the run directory removed
# or kept (BENCH_KEEP, BENCH_RUN_DIR).
bench_cleanup() {
    stop_httpd "$run/gateway"
    stop_httpd "$run/backend"
    close_run_dir "${BENCH_KEEP:-0}" "${BENCH_RUN_DIR:-}"
}

# Builds mod_pds unless BENCH_MODULE names a ready module; sets $module.
find_module() {
    if [ -n "${BENCH_MODULE:-}" ]; then
        module=$BENCH_MODULE
    else
        build=${PDS_BUILD_DIR:-$top/build}
        note "building mod_pds in $build (tools/build.sh; set BENCH_MODULE to skip)"
        "$top/tools/build.sh" >"$run/build.log" 2>&1 || {
            tail -n 40 "$run/build.log" >&2
            die "the build failed (full output: $run/build.log)"
        }
        module=$build/mod_pds/.libs/mod_pds.so
    fi
    [ -f "$module" ] || die "no module at $module"
    case "$module" in /*) ;; *) module=$(pwd)/$module ;; esac
}

load_modules() {
    for m in "$@"; do
        printf '<IfModule !%s_module>\n    LoadModule %s_module %s/mod_%s.so\n</IfModule>\n' \
            "$m" "$m" "$module_dir" "$m"
    done
}

user_group() {
    if [ "$(id -u)" = 0 ]; then
        printf 'User nobody\nGroup nogroup\n'
    fi
}

# conf_head ROOT MODULE...: the first lines of an httpd.conf whose server
# root is ROOT (run/, logs/ below it), loading mod_MODULE for each MODULE.
conf_head() {
    conf_root=$1
    shift
    cat <<EOF
ServerRoot "$conf_root"
ServerName localhost
DefaultRuntimeDir run
PidFile run/httpd.pid
ErrorLog logs/error.log
LogLevel warn
$(user_group)
$(load_modules "$@")
EOF
}

# conf_keepalive: no process recycling (a leak stays where it is) and
# unbounded keep-alive, as every bench server runs; MaxMemFree only when
# BENCH_MAX_MEM_FREE (KB) is set (bench/rss.sh: allocator retention or a
# leak?).
conf_keepalive() {
    [ -z "${BENCH_MAX_MEM_FREE:-}" ] || echo "MaxMemFree $BENCH_MAX_MEM_FREE"
    cat <<EOF
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
ServerTokens Prod
EOF
}

# make_token_key TYPE: the callers' token key, $run/gateway/bench.key.pem,
# and its public half bench.pub.pem; TYPE is ec, rsa or ed25519.
make_token_key() {
    case "$1" in
        ec) set -- -algorithm EC -pkeyopt ec_paramgen_curve:P-256 ;;
        rsa) set -- -algorithm RSA -pkeyopt rsa_keygen_bits:2048 ;;
        ed25519) set -- -algorithm ED25519 ;;
        *) die "BENCH_KEY_TYPE is ec (ES256), rsa (RS256) or ed25519 (EdDSA); got '$1'" ;;
    esac
    openssl genpkey "$@" -out "$run/gateway/bench.key.pem" 2>/dev/null || die "openssl genpkey failed"
    openssl pkey -in "$run/gateway/bench.key.pem" -pubout \
        -out "$run/gateway/bench.pub.pem" || die "openssl pkey failed"
}

# Run directory, back-end document tree, token key and both configurations.
prepare_run() {
    mkdir -p "$run/backend/htdocs/api/citizens/$subject" "$run/backend/run" \
             "$run/gateway/run" "$run/gateway/logs" "$run/backend/logs" \
             "$run/gateway/htdocs" || die "cannot create $run"
    chmod 755 "$run" "$run/backend" "$run/gateway" "$run/backend/htdocs" "$run/gateway/htdocs"
    cp "$bench/record.json" "$run/backend/htdocs/api/citizens/$subject/record"
    if [ "$with_collections" = 1 ]; then
        for size in $collection_sizes; do
            mkdir -p "$run/backend/htdocs/api/districts/d$size" || die "cannot create $run"
            /usr/bin/python3 "$bench/collection.py" "$bench/record.json" "$size" \
                >"$run/backend/htdocs/api/districts/d$size/residents" ||
                die "cannot write the $size collection"
        done
    fi
    if [ "$with_tls" = 1 ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj /CN=localhost -keyout "$run/gateway/tls.key" -out "$run/gateway/tls.crt" \
            2>/dev/null || die "creating the gateway's TLS certificate failed"
    fi
    cp "$bench/filter.lua" "$run/gateway/filter.lua"
    chmod -R a+rX "$run/backend/htdocs" "$run/gateway/filter.lua"

    # The token's algorithm follows the key (ES256 by default).
    make_token_key "$key_type"
    # The audit chain's secret key and checkpoint signing key (owner-only).
    ( umask 077
      openssl rand -hex 32 >"$run/gateway/audit.key" &&
      openssl genpkey -algorithm ED25519 -out "$run/gateway/audit-signing.pem" 2>/dev/null &&
      openssl rand -hex 32 >"$run/gateway/pseudonym.key" &&
      openssl genpkey -algorithm ED25519 -out "$run/gateway/response.pem" 2>/dev/null
    ) || die "creating the audit, pseudonym and response keys failed"

    year=$(date -u +%Y)

    cat >"$run/backend/httpd.conf" <<EOF
# bench back end: the record as a static file (generated by bench/run.sh)
$(conf_head "$run/backend" mpm_event authz_core mime unixd)
Listen 127.0.0.1:$be_port
StartServers 1
ServerLimit 1
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
$(conf_keepalive)
TypesConfig /etc/mime.types
DocumentRoot "$run/backend/htdocs"
<Directory />
    Require all denied
</Directory>
<Directory "$run/backend/htdocs">
    Require all granted
    ForceType application/json
</Directory>
EOF

    {
    cat <<EOF
# bench gateway: /plain/, /pds/ and /lua/ in front of one back end
# (generated by bench/run.sh). No access log: it would cost the same in all
# three; mod_pds's audit log is on.
$(conf_head "$run/gateway" mpm_event authz_core unixd proxy proxy_http lua env)
EOF
    # Only when measured: loaded, they would tax every location a little.
    [ "$with_tls" = 0 ] || load_modules ssl socache_shmcb
    [ "$with_modsec" = 0 ] || load_modules unique_id security2
    if [ "$with_pds" = 1 ]; then printf 'LoadModule pds_module "%s"\n' "$module"; fi
    cat <<EOF
Listen 127.0.0.1:$gw_port

# Event MPM, sized so that threads are never the limit at the default
# concurrency; no process churn during a run.
StartServers 2
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 64
MaxSpareThreads 128
$(conf_keepalive)
Timeout 30
ProxyRequests Off
ProxyTimeout 10

DocumentRoot "$run/gateway/htdocs"
<Directory />
    Require all denied
</Directory>

EOF
    if [ "$with_pds" = 1 ]; then cat <<EOF
PDSOrganisation bench-org jwt-key bench.pub.pem
PDSTokenAudience $audience
PDSAuditLog logs/audit.jsonl
PDSAuditKey audit.key
PDSAuditSigningKey audit-signing.pem
PDSAuditSync ${BENCH_AUDIT_SYNC:-on}
${BENCH_AUDIT_MUTEX:+Mutex $BENCH_AUDIT_MUTEX pds-audit}
PDSPseudonymKey pseudonym.key
PDSResponseSigningKey response.pem

<PDSAgreement bench>
    Party       bench-org
    Purpose     $purpose
    LegalBasis  public-task
    Valid       $year-01-01 $((year + 4))-12-31
    Resource    GET /pds/{subject}/record
    Resource    GET /pdss/{subject}/record
    Release     $release_fields
</PDSAgreement>

# pdsc: the same fields of every record of a collection (100 KB, 1 MB).
<PDSAgreement bench-collection>
    Party         bench-org
    Purpose       $purpose
    LegalBasis    public-task
    Valid         $year-01-01 $((year + 4))-12-31
    Resource      GET /pdsc/{district}/residents
    RecordSubject id
    Release       $(for f in $release_fields; do printf '[*].%s ' "$f"; done)
</PDSAgreement>

# pdsx: the same fields, transformed (the cost of minimisation).
<PDSAgreement bench-transforms>
    Party       bench-org
    Purpose     $purpose
    LegalBasis  public-task
    Valid       $year-01-01 $((year + 4))-12-31
    Resource    GET /pdsx/{subject}/record
    Release     $release_fields
    Transform   name.given pseudonymise
    Transform   name.family mask 1
    Transform   dob age-band 10
    Transform   care.allergies[*] truncate 3
    Transform   care.needs[*] constant "withheld"
</PDSAgreement>

EOF
    fi
    cat <<EOF
LuaScope $lua_scope
LuaCodeCache $lua_cache
LuaOutputFilter pds_lua_filter "$run/gateway/filter.lua" output_filter

<Location /plain/>
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>

EOF
    if [ "$with_pds" = 1 ]; then cat <<EOF
<Location /pds/>
    PDSGateway on
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>

<Location /pdsx/>
    PDSGateway on
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>

# pdss: the same as pds, each body signed (detached JWS, Ed25519).
<Location /pdss/>
    PDSGateway on
    PDSSignResponses on
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>

EOF
    fi
    cat <<EOF
<Location /lua/>
    SetEnv BENCH_RELEASE "$release_fields"
    SetOutputFilter pds_lua_filter
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>

<Location /plainc/>
    ProxyPass http://127.0.0.1:$be_port/api/districts/
</Location>
EOF
    if [ "$with_pds" = 1 ]; then cat <<EOF

<Location /pdsc/>
    PDSGateway on
    ProxyPass http://127.0.0.1:$be_port/api/districts/
</Location>

# Read by run.sh after the load: syncs against records (group commit).
<Location /pds-metrics>
    SetHandler pds-metrics
    Require all granted
</Location>
EOF
    fi
    # ModSecurity 2: the peer for body inspection inside httpd. Off
    # everywhere but /modsec/, where it buffers the JSON response body and
    # runs one rule over it (a national insurance number's pattern, which
    # the record does not hold: the body is inspected and passes).
    if [ "$with_modsec" = 1 ]; then cat <<EOF

SecRuleEngine Off
SecDataDir "$run/gateway/run"
SecTmpDir "$run/gateway/run"
SecAuditEngine Off
SecRequestBodyAccess Off
SecResponseBodyAccess On
SecResponseBodyMimeType application/json
SecResponseBodyLimit 2097152
SecResponseBodyLimitAction Reject
<Location /modsec/>
    SecRuleEngine On
    SecRule RESPONSE_BODY "@rx [A-CEGHJ-PR-TW-Z]{2}[0-9]{6}[A-D]" \\
        "id:1001,phase:4,deny,status:403,log,msg:'national insurance number in a response'"
    ProxyPass http://127.0.0.1:$be_port/api/citizens/
</Location>
EOF
    fi
    # HTTPS with keep-alive: the same locations (the virtual host inherits
    # them and mod_pds's server settings).
    if [ "$with_tls" = 1 ]; then cat <<EOF

Listen 127.0.0.1:$tls_port https
SSLSessionCache "shmcb:$run/gateway/run/ssl_scache(512000)"
<VirtualHost 127.0.0.1:$tls_port>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile "$run/gateway/tls.crt"
    SSLCertificateKeyFile "$run/gateway/tls.key"
</VirtualHost>
EOF
    fi
    } >"$run/gateway/httpd.conf"
}

# One token for the whole run: iat = now, exp = now + 3000 (under the
# default PDSTokenMaxLifetime of 3600). ES256 unless BENCH_KEY_TYPE says.
mint_token() {
    token=$(/usr/bin/python3 "$top/tests/tools/mint-token.py" --key "$run/gateway/bench.key.pem" \
        --iss bench-org --aud "$audience" --lifetime 3000) || die "minting the token failed"
}

# prepare_bench: for bench/run.sh, perf.sh and profile.sh: builds or finds
# mod_pds when with_pds is 1 (else $module says it is not loaded), writes
# the run directory (prepare_run) and mints $token.
prepare_bench() {
    module="(not loaded)"
    [ "$with_pds" = 0 ] || find_module
    prepare_run
    mint_token
}

# start_httpd <dir> <port>: starts httpd with <dir>/httpd.conf, waits for the port.
start_httpd() {
    "$httpd_bin" -f "$1/httpd.conf" -k start >"$1/logs/start.out" 2>&1 || {
        cat "$1/logs/start.out" "$1/logs/error.log" >&2 2>/dev/null
        die "httpd ($1/httpd.conf) did not start"
    }
    i=0
    until [ -s "$1/run/httpd.pid" ] && port_open "$2"; do
        i=$((i + 1))
        if [ "$i" -gt 100 ]; then
            cat "$1/logs/error.log" >&2 2>/dev/null
            die "httpd ($1/httpd.conf) is not listening on 127.0.0.1:$2 after 10 s"
        fi
        sleep 0.1
    done
}

# stop_httpd <dir>: TERM to the pid in its pid file (only if it is our
# httpd with this configuration), KILL after 10 seconds.
stop_httpd() {
    [ -f "$1/run/httpd.pid" ] || return 0
    pid=$(cat "$1/run/httpd.pid" 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    is_ours "$pid" "$1/httpd.conf" || return 0
    stop_pid "$pid"
}
