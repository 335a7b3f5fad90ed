#!/bin/sh
# soak.sh: mod_pds under load while its back end fails, all on 127.0.0.1.
#
#   bench/soak.sh                      # 120 s
#   SOAK_SECONDS=20 bench/soak.sh      # the short form tools/test.sh runs
#
# One gateway httpd (event MPM, 2 to 4 children of 16 threads, no process
# recycling) with mod_pds in front of the Python stand-in back end
# (tests/backend/legacy_backend.py), driven by wrk with bench/soak.lua:
# every connection cycles over normal records, a slow back end (2 s; the
# first wrk thread's connections only), garbage
# (not JSON, trailing garbage, gzip, a 500 with a stack trace), an unknown
# subject (404) and a wrong purpose (403, decided before the back end). Each
# garbage kind has its own location whose ProxyPass targets the back end's
# /api/misbehave/<mode>/ route. During the run a fault driver also, in turn:
#   kill     SIGKILL the back end, leave it down 2 s, start it again
#   freeze   SIGSTOP it for ProxyTimeout + 1 s (requests time out), SIGCONT
#   restart  SIGTERM it and start it again at once (stale pooled connections)
# A sampler reads VmRSS of every gateway child every few seconds.
#
# At the end it prints the figures and checks, exiting 1 if any fails:
#   - no httpd child crashed ("exit signal" in the error log);
#   - the gateway children's RSS did not grow by more than SOAK_RSS_PCT % or
#     SOAK_RSS_MB MB (whichever is smaller) between the post-warm-up sample and
#     the end (summed over the children present in both samples; children
#     started later are shown apart);
#   - every request the gateway logged (a CustomLog with the PDS-Request-Id
#     response header) has exactly one audit decision record, and every
#     audit record belongs to a logged request; the one exception allowed is
#     a record of a request still in flight when the gateway stopped
#     (recorded before release, so never access-logged), which can only
#     concern requests that arrived in the last ProxyTimeout + slow seconds;
#     a logged response without a PDS-Request-Id, or with another status than
#     its audit record (found by path and second), fails too;
#   - pds-audit verify passes on the audit log (--key and --public-key);
#   - every answer with status >= 400 had a problem+json body
#     ({"type":"urn:pds:problem:...), and no 2xx answer carried an unreleased
#     field or a back-end header (counted by soak.lua for every response).
# Details and one full run's figures: docs/performance.md, "Soak under faults".
#
# Environment:
#   SOAK_SECONDS        length of the wrk run (120; tools/test.sh uses 20)
#   SOAK_CONNECTIONS    wrk connections (16)
#   SOAK_THREADS        wrk threads (2)
#   SOAK_WARMUP         seconds before the RSS baseline sample (SOAK_SECONDS / 4,
#                       at least 5, at most 30)
#   SOAK_SAMPLE_EVERY   seconds between RSS samples (5; 2 when SOAK_SECONDS < 60)
#   SOAK_FAULT_EVERY    seconds between faults (SOAK_SECONDS / 10, at least 3)
#   SOAK_RSS_PCT, SOAK_RSS_MB
#                       the RSS bound: fail when the growth exceeds either (30, 20)
#   SOAK_PORT           gateway port (18990); SOAK_BACKEND_PORT back end (18991)
#   BENCH_MODULE        use this mod_pds.so as it is (no build)
#   PDS_BUILD_DIR       where tools/build.sh builds otherwise (./build); pds-audit
#                       is taken from $PDS_BUILD_DIR/tools/pds-audit
#   SOAK_PDS_AUDIT      use this pds-audit instead
#   SOAK_RUN_DIR        run directory (default: a new /tmp/pds-soak.XXXXXX)
#   SOAK_KEEP           1: keep the run directory (configs, logs, audit log)
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"
note() { printf 'soak: %s\n' "$*" >&2; }
die() { printf 'soak: error: %s\n' "$*" >&2; exit 1; }

seconds=${SOAK_SECONDS:-120}
connections=${SOAK_CONNECTIONS:-16}
threads=${SOAK_THREADS:-2}
gw_port=${SOAK_PORT:-18990}
be_port=${SOAK_BACKEND_PORT:-18991}
rss_pct=${SOAK_RSS_PCT:-30}
rss_mb=${SOAK_RSS_MB:-20}
whole_numbers "SOAK_* settings are whole numbers (seconds, counts, MB, %)" \
    "$seconds" "$connections" "$threads" "$rss_pct" "$rss_mb" \
    "${SOAK_WARMUP:-0}" "${SOAK_SAMPLE_EVERY:-0}" "${SOAK_FAULT_EVERY:-0}"
[ "$seconds" -ge 10 ] && [ "$seconds" -le 3600 ] || die "SOAK_SECONDS must be 10..3600"
[ "$connections" -ge 1 ] && [ "$connections" -le 64 ] || die "SOAK_CONNECTIONS must be 1..64 (the gateway has 64 threads)"
[ "$threads" -ge 1 ] && [ "$threads" -le "$connections" ] || die "SOAK_THREADS must be 1..SOAK_CONNECTIONS"

warmup=${SOAK_WARMUP:-$((seconds / 4))}
[ -n "${SOAK_WARMUP:-}" ] || { [ "$warmup" -ge 5 ] || warmup=5; [ "$warmup" -le 30 ] || warmup=30; }
[ "$warmup" -lt "$seconds" ] || die "SOAK_WARMUP must be below SOAK_SECONDS"
if [ -n "${SOAK_SAMPLE_EVERY:-}" ]; then
    sample_every=$SOAK_SAMPLE_EVERY
elif [ "$seconds" -lt 60 ]; then
    sample_every=2
else
    sample_every=5
fi
[ "$sample_every" -ge 1 ] || die "SOAK_SAMPLE_EVERY must be at least 1"
fault_every=${SOAK_FAULT_EVERY:-$((seconds / 10))}
[ "$fault_every" -ge 3 ] || fault_every=3

# The back end's slow mode and the gateway's wait for it: a slow answer
# arrives in time; a frozen back end times out (ProxyTimeout) and is a 504.
slow=2
proxy_timeout=4
down=2
freeze=$((proxy_timeout + 1))

for tool in wrk openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install $tool)"
done
[ -x "$httpd_bin" ] || die "$httpd_bin is missing (apt-get install apache2)"
( check_ports ) 2>/dev/null ||
    die "port $gw_port or $be_port on 127.0.0.1 is in use (or invalid); choose others with SOAK_PORT / SOAK_BACKEND_PORT"

open_run_dir "${SOAK_RUN_DIR:-}" pds-soak

driver_pid=
sampler_pid=
# backend_stop: KILL the back end named by its pid file if it is ours (a
# legacy_backend.py on our port); SIGCONT first in case it is frozen.
backend_stop() {
    [ -f "$run/backend/pid" ] || return 0
    bp=$(cat "$run/backend/pid" 2>/dev/null || true)
    [ -n "$bp" ] && is_ours "$bp" "legacy_backend.py --port $be_port " || return 0
    kill -CONT "$bp" 2>/dev/null || true
    kill -KILL "$bp" 2>/dev/null || true
}
cleanup() {
    for p in $driver_pid $sampler_pid; do
        kill -TERM "$p" 2>/dev/null || true
    done
    stop_httpd "$run/gateway"
    backend_stop
    close_run_dir "${SOAK_KEEP:-0}" "${SOAK_RUN_DIR:-}"
}
on_exit_cleanup

find_module
audit_tool=${SOAK_PDS_AUDIT:-${PDS_BUILD_DIR:-$top/build}/tools/pds-audit}
[ -x "$audit_tool" ] || die "no pds-audit at $audit_tool (build with tools/build.sh or set SOAK_PDS_AUDIT)"

# --- run directory, keys, configuration ---------------------------------------------
mkdir -p "$run/gateway/run" "$run/gateway/logs" "$run/gateway/htdocs" "$run/backend" ||
    die "cannot create $run"
chmod 755 "$run" "$run/gateway" "$run/gateway/htdocs"
make_token_key ec
( umask 077
  openssl rand -hex 32 >"$run/gateway/audit.key" &&
  openssl genpkey -algorithm ED25519 -out "$run/gateway/audit-signing.pem" 2>/dev/null
) || die "creating the audit keys failed"
openssl pkey -in "$run/gateway/audit-signing.pem" -pubout \
    -out "$run/gateway/audit-signing.pub.pem" || die "openssl pkey failed"
year=$(date -u +%Y)
purpose=soak
be=http://127.0.0.1:$be_port

# name, back-end path: one enforced location each, all under one agreement.
locations="ok /api/citizens/
slow /api/misbehave/slow-$slow/
notjson /api/misbehave/not-json/
trailing /api/misbehave/trailing-garbage/
gzip /api/misbehave/gzip/
error500 /api/misbehave/error500/"

{
cat <<EOF
# soak gateway (generated by bench/soak.sh): mod_pds in front of the Python
# stand-in back end, one location per back-end behaviour.
$(conf_head "$run/gateway" mpm_event authz_core unixd proxy proxy_http log_config)
LoadModule pds_module "$module"
Listen 127.0.0.1:$gw_port

# Several children, no recycling (MaxConnectionsPerChild 0): a leak stays in
# the process that has it. MaxSpareThreads covers every thread, so no child
# is stopped for being idle; a third or fourth child may start under the
# freeze fault, when threads are held by requests waiting on the back end.
StartServers 2
ServerLimit 4
ThreadLimit 16
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 8
MaxSpareThreads 64
$(conf_keepalive)
Timeout 30
ProxyRequests Off
ProxyTimeout $proxy_timeout

# One line per request the gateway answered, with the id mod_pds gave it.
# %X: the client connection after the response (+ kept, - closed, X aborted).
LogFormat "%{PDS-Request-Id}o %>s %B %D %{%s}t %X \"%r\"" soak
CustomLog logs/access.log soak

DocumentRoot "$run/gateway/htdocs"
<Directory />
    Require all denied
</Directory>

PDSOrganisation bench-org jwt-key bench.pub.pem
PDSTokenAudience $audience
PDSAuditLog logs/audit.jsonl
PDSAuditKey audit.key
PDSAuditSigningKey audit-signing.pem

<PDSAgreement soak>
    Party       bench-org
    Purpose     $purpose
    LegalBasis  public-task
    Valid       $year-01-01 $((year + 4))-12-31
EOF
printf '%s\n' "$locations" | while read -r name path; do
    printf '    Resource    GET /%s/{subject}/record\n' "$name"
done
cat <<EOF
    Release     $release_fields
</PDSAgreement>

EOF
# retry=1: after the back end went away, try it again one second later
# (mod_proxy's default keeps a failed worker out for 60 s).
printf '%s\n' "$locations" | while read -r name path; do
    printf '<Location /%s/>\n    PDSGateway on\n    ProxyPass %s%s retry=1\n</Location>\n' \
        "$name" "$be" "$path"
done
} >"$run/gateway/httpd.conf"

# --- the back end and the gateway -------------------------------------------------
# backend_start: starts the stand-in, records its pid, waits for its port.
backend_start() {
    /usr/bin/python3 "$top/tests/backend/legacy_backend.py" --port "$be_port" \
        --data "$top/tests/backend/residents.json" \
        --access-log "$run/backend/access.jsonl" >>"$run/backend/out.log" 2>&1 &
    echo $! >"$run/backend/pid"
    tries=0
    until port_open "$be_port"; do
        tries=$((tries + 1))
        [ "$tries" -le 100 ] || { cat "$run/backend/out.log" >&2; die "the back end did not start"; }
        sleep 0.1
    done
}

backend_start
"$httpd_bin" -t -f "$run/gateway/httpd.conf" >"$run/gateway/logs/configtest.out" 2>&1 || {
    cat "$run/gateway/logs/configtest.out" >&2
    die "the gateway's configuration is refused ($run/gateway/httpd.conf)"
}
start_httpd "$run/gateway" "$gw_port"
gw_pid=$(cat "$run/gateway/run/httpd.pid")
mint_token

# One request of each normal kind before any load: the setup must work.
check() {
    code=$(curl -s -o "$run/check.body" -w '%{http_code}' --max-time 10 \
        -H "Authorization: Bearer $token" -H "PDS-Purpose: $2" \
        "http://127.0.0.1:$gw_port$1") || code=000
    [ "$code" = "$3" ] || {
        cat "$run/check.body" >&2 2>/dev/null; echo >&2
        tail -n 20 "$run/gateway/logs/error.log" >&2
        die "GET $1 (purpose $2) answered $code, expected $3"
    }
}
check /ok/9836900608/record "$purpose" 200
check /notjson/9836900608/record "$purpose" 502
check /ok/9836900608/record marketing 403

# --- samplers and the fault driver ------------------------------------------------------
now() { date +%s; }
# rss_sample LABEL T: one line per gateway child: LABEL T PID VmRSS-kB.
rss_sample() {
    for c in $(cat /proc/"$gw_pid"/task/*/children 2>/dev/null); do
        kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$c/status" 2>/dev/null) || continue
        if [ -n "$kb" ]; then say "$1 $2 $c $kb"; fi
    done >>"$run/rss.log"
}

# Faults at 2 s, then every fault_every seconds, in turn kill, freeze,
# restart; none starts later than 3 s (kill, restart) or freeze + 2 s before
# the end, so the back end is up and answering when wrk stops.
fault_driver() {
    nfault=0
    next=2
    while :; do
        t=$(( $(now) - t0 ))
        case $((nfault % 3)) in
            0) kind="kill"; need=$((down + 3)) ;;
            1) kind="freeze"; need=$((freeze + 2)) ;;
            *) kind="restart"; need=3 ;;
        esac
        [ $((next + need)) -le "$seconds" ] || break
        [ "$t" -ge "$next" ] || { sleep 0.5; continue; }
        bp=$(cat "$run/backend/pid")
        case $kind in
            kill)
                kill -KILL "$bp" || true; wait "$bp" 2>/dev/null || true
                sleep "$down"; backend_start ;;
            freeze)
                kill -STOP "$bp" || true; sleep "$freeze"; kill -CONT "$bp" || true ;;
            restart)
                kill -TERM "$bp" || true; wait "$bp" 2>/dev/null || true
                backend_start ;;
        esac
        say "$t $kind $(( $(now) - t0 - t ))" >>"$run/faults.log"
        nfault=$((nfault + 1))
        next=$((next + fault_every))
        [ "$next" -gt "$t" ] || next=$((t + 1))
    done
}

rss_sampler() {
    while :; do
        t=$(( $(now) - t0 ))
        [ "$t" -le "$seconds" ] || break
        rss_sample run "$t"
        sleep "$sample_every"
    done
}

: >"$run/faults.log"
: >"$run/rss.log"
rss_sample start 0
audit_lines() { wc -l <"$run/gateway/logs/audit.jsonl" 2>/dev/null || echo 0; }
access_lines() { wc -l <"$run/gateway/logs/access.log" 2>/dev/null || echo 0; }

note "${seconds}s, $connections connections, faults every ${fault_every}s," \
     "RSS baseline at ${warmup}s, samples every ${sample_every}s; run directory $run"
t0=$(now)
fault_driver &
driver_pid=$!
rss_sampler &
sampler_pid=$!
wrk_status=0
SOAK_TOKEN=$token SOAK_PURPOSE=$purpose wrk -t"$threads" -c"$connections" -d"${seconds}s" \
    --timeout 10s -s "$bench/soak.lua" "http://127.0.0.1:$gw_port" >"$run/wrk.out" 2>&1 ||
    wrk_status=$?
wrk_end=$(now)
# Both are done by now unless wrk was interrupted (Ctrl-C stops wrk early;
# the checks still run on what was done).
for p in $driver_pid $sampler_pid; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done
driver_pid=
sampler_pid=
[ "$wrk_status" = 0 ] || { cat "$run/wrk.out" >&2; die "wrk failed ($wrk_status)"; }

# Let every request still in flight finish (at most ProxyTimeout), until both
# logs have been still for 2 s; then the last RSS sample and the stop.
bp=$(cat "$run/backend/pid")
alive "$bp" && kill -CONT "$bp" 2>/dev/null || true
still=0
waited=0
last="$(audit_lines) $(access_lines)"
while [ "$waited" -lt 30 ]; do
    sleep 1
    waited=$((waited + 1))
    cur="$(audit_lines) $(access_lines)"
    if [ "$cur" = "$last" ]; then still=$((still + 1)); else still=0; fi
    last=$cur
    [ "$still" -lt 2 ] || [ "$waited" -lt $((proxy_timeout + 1)) ] || break
done
rss_sample end $(( $(now) - t0 ))
stop_httpd "$run/gateway"
backend_stop

"$audit_tool" verify --key "$run/gateway/audit.key" \
    --public-key "$run/gateway/audit-signing.pub.pem" \
    "$run/gateway/logs/audit.jsonl" >"$run/verify.out" 2>&1 && verify=0 || verify=$?

# --- figures and checks ---------------------------------------------------------------
/usr/bin/python3 - "$run" "$seconds" "$connections" "$warmup" "$rss_pct" "$rss_mb" \
    "$verify" "$wrk_end" "$((proxy_timeout + slow + 1))" <<'EOF'
import collections, datetime, json, re, sys

run = sys.argv[1]
seconds, connections, warmup, rss_pct, rss_mb, verify = map(int, sys.argv[2:8])
wrk_end, window = map(int, sys.argv[8:10])
fail = []

def read(name):
    try:
        with open("%s/%s" % (run, name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""

# wrk
w = read("wrk.out")
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", w)
wrk_requests = int(m.group(1)) if m else 0
m = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
wrk_non2xx = int(m.group(1)) if m else 0
m = re.search(r"Requests/sec:\s*([\d.]+)", w)
rps = float(m.group(1)) if m else 0.0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", w)
sock = tuple(int(x) for x in m.groups()) if m else (0, 0, 0, 0)
lua_status, not_problem, leaked, samples = {}, None, None, []
for line in w.splitlines():
    p = line.split(" ", 2)
    if p[0] != "soak-lua":
        continue
    if p[1] == "status":
        code, n = p[2].split()
        lua_status[int(code)] = int(n)
    elif p[1] == "not_problem":
        not_problem = int(p[2])
    elif p[1] == "leaked_2xx":
        leaked = int(p[2])
    elif p[1] == "sample":
        samples.append(p[2])
if not_problem is None or leaked is None:
    fail.append("soak.lua printed no counts (see %s/wrk.out)" % run)
    not_problem = leaked = 0

print("== load (wrk, %d connections, %d s)" % (connections, seconds))
print("requests completed      %d (%.0f/s)" % (wrk_requests, rps))
print("socket errors           connect %d, read %d, write %d, timeout %d" % sock)
print("non-2xx (wrk)           %d" % wrk_non2xx)
print("by status (soak.lua)    %s" % ", ".join("%d: %d" % kv for kv in sorted(lua_status.items())))

# faults
faults = [l.split() for l in read("faults.log").splitlines() if l.strip()]
kinds = collections.Counter(f[1] for f in faults)
print("")
print("== faults (at second: kind, seconds it took)")
print("  " + ", ".join("%s: %s %ss" % (f[0], f[1], f[2]) for f in faults))
print("  %d kill (down 2 s), %d freeze (SIGSTOP), %d restart; back end received %d requests"
      % (kinds["kill"], kinds["freeze"], kinds["restart"], len(read("backend/access.jsonl").splitlines())))

# gateway access log: id status bytes usec epoch conn-status "request line"
access = []
for line in read("gateway/logs/access.log").splitlines():
    m = re.match(r'(\S+) (\d+) (\S+) (\d+) (\d+) (\S) "(\S+) (\S+)', line)
    if not m:
        fail.append("unreadable access log line: %r" % line)
        continue
    access.append({"id": m.group(1), "status": int(m.group(2)), "bytes": m.group(3),
                   "t": int(m.group(5)), "conn": m.group(6), "path": m.group(8),
                   "loc": m.group(8).split("/")[1] if m.group(8).count("/") > 1 else m.group(8)})
by_loc = collections.defaultdict(collections.Counter)
for a in access:
    by_loc[a["loc"]][a["status"]] += 1
print("")
print("== gateway access log: %d requests received" % len(access))
for loc in sorted(by_loc):
    print("  /%-9s %s" % (loc, ", ".join("%d: %d" % kv for kv in sorted(by_loc[loc].items()))))
closed = collections.Counter((a["conn"], a["status"]) for a in access if a["conn"] != "+")
print("  client connection closed after the response (-) or aborted (X): %s"
      % (", ".join("%s %d: %d" % (c, st, n) for (c, st), n in sorted(closed.items())) or "none"))
print("  (%d more than wrk completed: the 3 setup checks, requests in flight when wrk stopped"
      " (at most %d) and any that hit socket errors)" % (len(access) - wrk_requests, connections))

# audit log
records, checkpoints, other = [], 0, 0
for n, line in enumerate(read("gateway/logs/audit.jsonl").splitlines(), 1):
    try:
        rec = json.loads(line)
    except ValueError:
        fail.append("audit line %d is not JSON" % n)
        continue
    if "type" not in rec:
        records.append(rec)
    elif rec["type"] == "checkpoint":
        checkpoints += 1
    else:
        other += 1
reasons = collections.Counter((r["decision"], r["reason"], r["status"]) for r in records)
print("")
print("== audit log: %d decision records, %d checkpoints, %d other lines" % (len(records), checkpoints, other))
for (d, reason, st), n in sorted(reasons.items(), key=lambda kv: -kv[1]):
    print("  %-6s %-22s %3d  %d" % (d, reason or "-", st, n))

# every request audited exactly once
def epoch(t):
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
access_ids = collections.Counter(a["id"] for a in access if a["id"] != "-")
audit_ids = collections.Counter(r["request_id"] for r in records)
dup_access = [i for i, n in access_ids.items() if n > 1]
double = [i for i, n in audit_ids.items() if n > 1]
unaudited = [i for i in access_ids if i not in audit_ids]
audit_only = [r for r in records if r["request_id"] not in access_ids]
# A logged response without a PDS-Request-Id: its audit record can only be
# found by path and arrival second (both logs take r->request_time).
pool = collections.defaultdict(list)
for r in audit_only:
    pool[(r["path"], int(epoch(r["time"])))].append(r)
no_id, paired = [a for a in access if a["id"] == "-"], []
for a in no_id:
    for dt in (0, -1, 1):
        if pool.get((a["path"], a["t"] + dt)):
            paired.append((a, pool[(a["path"], a["t"] + dt)].pop(0)))
            break
    else:
        unaudited.append("(no id) %s at %d" % (a["path"], a["t"]))
left = [r for lst in pool.values() for r in lst]
in_flight = [r for r in left if epoch(r["time"]) >= wrk_end - window]
stray = [r for r in left if epoch(r["time"]) < wrk_end - window]
audit_status = {r["request_id"]: r["status"] for r in records}
status_mismatch = [a for a in access if a["id"] in audit_status and audit_status[a["id"]] != a["status"]]
print("")
print("== every request audited exactly once")
print("  requests in the access log          %d" % len(access))
print("  audit decision records              %d" % len(records))
print("  request ids logged twice            %d" % len(dup_access))
print("  requests without an audit record    %d" % len(unaudited))
print("  requests with 2+ audit records      %d" % len(double))
print("  audit records without a request     %d (in flight at the end, allowed: %d)"
      % (len(stray), len(in_flight)))
print("  audit status != status logged       %d" % len(status_mismatch))
print("  logged without a PDS-Request-Id     %d (audited once each: %d, by path and second)"
      % (len(no_id), len(paired)))
if paired:
    kinds = collections.Counter("logged %d, %s bytes; audited %s %s %d" % (
        a["status"], a["bytes"], r["decision"], r["reason"], r["status"]) for a, r in paired)
    for k, n in kinds.most_common():
        print("    %5d  %s" % (n, k))
    print("    (e.g. %s)" % ", ".join("%s %s" % (r["request_id"], r["path"]) for _, r in paired[:3]))
for what, ids in (("request id logged more than once", dup_access),
                  ("request without an audit record", unaudited),
                  ("request audited more than once", double),
                  ("audit record without a logged request", [r["request_id"] for r in stray]),
                  ("audit status differs from the status logged", [a["id"] for a in status_mismatch])):
    if ids:
        fail.append("%d %s (e.g. %s)" % (len(ids), what, ", ".join(ids[:5])))
# mod_proxy's AH01104 (the back end broke off before a status line, on a
# kept-alive client connection): mod_pds answers 502 backend-error and closes
# the connection; httpd then logs its own 500 (body counted, never sent: the
# EOC drops it; tests/e2e/test_fail_closed_matrix.py::
# test_back_end_hanging_up_on_a_kept_alive_connection reads the wire). Any
# other pairing is a second response.
closed_after_problem = [(a, r) for a, r in paired
                        if a["conn"] == "-" and a["status"] == 500
                        and r["reason"] == "backend-error" and r["status"] == 502]
second_response = [(a, r) for a, r in paired if (a, r) not in closed_after_problem]
if closed_after_problem:
    print("  of which closed after mod_pds's 502 (mod_proxy AH01104)  %d"
          % len(closed_after_problem))
if second_response:
    fail.append("%d responses logged without PDS-Request-Id, with another status than their "
                "audit record and not the AH01104 close: a second response may have followed "
                "mod_pds's problem (audited: %s)" % (len(second_response), ", ".join(
                    r["request_id"] for _, r in second_response[:5])))

print("")
print("== pds-audit verify: %s" % ("passed" if verify == 0 else "FAILED (exit %d)" % verify))
for line in read("verify.out").splitlines()[-5:]:
    print("  " + line)
if verify != 0:
    fail.append("pds-audit verify failed (exit %d)" % verify)

print("")
print("== failed responses (every answer, sampled in soak.lua's response())")
print("  status >= 400 without a problem+json body  %d" % not_problem)
print("  2xx with unreleased data or back-end headers  %d" % leaked)
for s in samples:
    print("  e.g. " + s)
if not_problem:
    fail.append("%d answers >= 400 were not problem+json" % not_problem)
if leaked:
    fail.append("%d 2xx answers carried unreleased data or back-end headers" % leaked)

# RSS: label t pid kB
rows = [l.split() for l in read("rss.log").splitlines() if l.strip()]
series = collections.OrderedDict()
for label, t, pid, kb in rows:
    series.setdefault((label, int(t)), {})[pid] = int(kb)
print("")
print("== gateway children's RSS (VmRSS; MB)")
print("  %6s %9s %8s %8s" % ("second", "children", "sum", "max"))
for (label, t), s in series.items():
    print("  %6s %9d %8.1f %8.1f%s" % (t, len(s), sum(s.values()) / 1024, max(s.values()) / 1024,
                                       "" if label == "run" else "   (%s)" % label))
base_key = next((k for k in series if k[0] == "run" and k[1] >= warmup), None)
end_key = next((k for k in series if k[0] == "end"), None)
if base_key is None or end_key is None:
    fail.append("no post-warm-up or end RSS sample")
else:
    base, end = series[base_key], series[end_key]
    common = [p for p in base if p in end]
    b = sum(base[p] for p in common)
    e = sum(end[p] for p in common)
    growth = e - b
    pct = 100.0 * growth / b if b else 0.0
    first = series[next(iter(series))]
    print("  before the load    %d children, sum %.1f MB, max %.1f MB"
          % (len(first), sum(first.values()) / 1024, max(first.values()) / 1024))
    print("  after warm-up (%ds) %d children, sum %.1f MB, max %.1f MB"
          % (base_key[1], len(base), sum(base.values()) / 1024, max(base.values()) / 1024))
    print("  end                %d children, sum %.1f MB, max %.1f MB"
          % (len(end), sum(end.values()) / 1024, max(end.values()) / 1024))
    bound = min(b * rss_pct / 100.0, rss_mb * 1024)
    print("  growth of the %d children present at both: %+.1f MB (%+.1f %%); bound %.1f MB "
          "(%d %% of %.1f MB or %d MB, whichever is smaller)"
          % (len(common), growth / 1024, pct, bound / 1024, rss_pct, b / 1024, rss_mb))
    for p in common:
        print("    child %s: %.1f -> %.1f MB" % (p, base[p] / 1024, end[p] / 1024))
    late = [p for p in end if p not in base]
    gone = [p for p in base if p not in end]
    if late:
        print("  started after the baseline: %s" % ", ".join("%s (%.1f MB)" % (p, end[p] / 1024) for p in late))
    if gone:
        print("  gone before the end: %s" % ", ".join(gone))
    if growth > bound:
        fail.append("gateway children's RSS grew by %.1f MB (%.1f %%) after the warm-up"
                    % (growth / 1024, pct))

# error log
err = read("gateway/logs/error.log")
crashes = [l for l in err.splitlines() if "exit signal" in l]
tags = collections.Counter(re.findall(r"\b((?:PDS|AH)\d{5})", err))
legend = {"AH00957": "connect to the back end failed", "AH01114": "no back-end connection",
          "AH01102": "no status line from the back end", "AH00898": "proxy error",
          "AH01110": "back-end body broke off", "PDS00032": "back-end body refused"}
print("")
print("== gateway error log: %d lines; 'exit signal': %d" % (len(err.splitlines()), len(crashes)))
for tag, n in tags.most_common(12):
    print("  %-8s %7d  %s" % (tag, n, legend.get(tag, "")))
for l in crashes[:5]:
    print("  " + l)
if crashes:
    fail.append("%d httpd children died on a signal (\"exit signal\" in the error log)" % len(crashes))

print("")
if fail:
    print("soak: FAILED")
    for f in fail:
        print("  - " + f)
    print("  (run directory: %s; SOAK_KEEP=1 keeps it)" % run)
    sys.exit(1)
print("soak: passed (%d requests, %d audit records, %d faults)" % (wrk_requests, len(records), len(faults)))
EOF
