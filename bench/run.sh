#!/bin/sh
# run.sh: mod_pds's benchmark, in one run, with wrk, all on 127.0.0.1.
#
#   bench/run.sh
#
# One gateway httpd (event MPM) with three locations in front of one back end
# (a second httpd serving bench/record.json, ~1 KB, as a static file):
#   plain  /plain/  mod_proxy only: the baseline
#   pds    /pds/    mod_pds: ES256 bearer token, agreement match, field
#                   filtering, audit log, then mod_proxy
#   lua    /lua/    mod_proxy + a mod_lua output filter (lua-cjson) releasing
#                   the same fields: the peer to beat
#   pdsx   /pdsx/   as pds, with a transform on every released field
#                   (pseudonymise, mask, age-band, truncate, constant)
#   pdss   /pdss/   as pds, each released body signed (PDSSignResponses, Ed25519)
#   plain-tls, pds-tls  plain and pds over HTTPS to the gateway (keep-alive,
#                   ECDHE P-256, a self-signed certificate; BENCH_TLS_PORT)
#   modsec /modsec/ mod_proxy + ModSecurity 2 buffering the JSON response body
#                   and running one rule over it: the peer for body inspection
#   plainc-100k, pdsc-100k, plainc-1m, pdsc-1m  a collection of ~100 KB or
#                   ~1 MB (records like record.json, bench/collection.py)
#                   proxied as it is, and filtered by mod_pds (RecordSubject,
#                   the same fields of every record); the table adds the rate
#                   of back-end body filtered (MB/s)
# First the back end alone (reference), then for each: a warm-up and a
# measured wrk run; prints requests/s, p50, p99, the gateway's CPU per
# request, the peak resident memory of a gateway process during the run, the
# ratios to plain (pds-tls to plain-tls, pdsc-* to plainc-*), and the audit
# log's line count for pds next to the number of requests wrk reported.
# Exits 1 if any measured request failed (non-2xx or socket error).
# Details: docs/performance.md. bench/plot.sh draws the summary.
#
# Environment:
#   BENCH_DURATION      measured seconds per configuration (10)
#   BENCH_CONNECTIONS   wrk connections (32)
#   BENCH_THREADS       wrk threads (2)
#   BENCH_WARMUP        warm-up seconds per configuration (3)
#   BENCH_CONFIGS       which to run, in order (all of the above:
#                       "plain pds lua pdsx pdss plain-tls pds-tls modsec
#                        plainc-100k pdsc-100k plainc-1m pdsc-1m")
#   BENCH_SMOKE         1: a smoke test for CI: every configuration answers
#                       correctly (verify.py) and takes 1 s of light load
#                       without an error; no warm-up, no reference run, one
#                       round, and no timing is judged
#   BENCH_SUMMARY       also write the median rounds there (TSV, for bench/plot.sh)
#   BENCH_ROUNDS        rounds (1); with more, the configurations are interleaved
#                       (plain pds lua plain pds lua ...) and the table shows every
#                       round and the median round of each
#   BENCH_KEY_TYPE      the token's key: ec (ES256, default), rsa (RS256), ed25519 (EdDSA)
#   BENCH_LUA_SCOPE     LuaScope for the lua filter (once; see docs/performance.md:
#                       thread, server and conn crash mod_lua's filters under load)
#   BENCH_AUDIT         on (default); "off" is not possible: every decision is audited
#   BENCH_AUDIT_SYNC    on (default) or off: PDSAuditSync, fdatasync of each record
#                       before release (the audit chain and checkpoints are always on)
#   BENCH_AUDIT_MUTEX   unset (default: httpd's default mechanism) or a Mutex
#                       mechanism (sysvsem, fcntl, flock, pthread, ...): the
#                       gateway's `Mutex <mechanism> pds-audit`
#   BENCH_PORT          gateway port (18980); BENCH_BACKEND_PORT back end (18981);
#                       BENCH_TLS_PORT the gateway's HTTPS port (BENCH_PORT + 2)
#   BENCH_MODULE        use this mod_pds.so as it is (no build)
#   PDS_BUILD_DIR       where tools/build.sh builds otherwise (./build)
#   BENCH_RUN_DIR       run directory (default: a new /tmp/pds-bench.XXXXXX)
#   BENCH_KEEP          1: keep the run directory (configs, logs, audit log)
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

all_configs="plain pds lua pdsx pdss plain-tls pds-tls modsec plainc-100k pdsc-100k plainc-1m pdsc-1m"
smoke=${BENCH_SMOKE:-0}
case "$smoke" in 0|1) ;; *) die "BENCH_SMOKE is 0 or 1" ;; esac
if [ "$smoke" = 1 ]; then
    # Correctness only: short, light, and never judged on timings.
    BENCH_DURATION=${BENCH_DURATION:-1}
    BENCH_WARMUP=0
    BENCH_ROUNDS=1
    BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-4}
    BENCH_THREADS=${BENCH_THREADS:-1}
fi
wrk_settings
configs=${BENCH_CONFIGS:-$all_configs}
rounds=${BENCH_ROUNDS:-1}
audit=${BENCH_AUDIT:-on}

whole_numbers "BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_WARMUP and BENCH_ROUNDS are whole numbers (seconds, counts)" \
    "$duration" "$connections" "$threads" "$warmup" "$rounds"
check_wrk_load
[ "$warmup" -le 60 ] || die "BENCH_WARMUP must be at most 60 seconds"
[ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] || die "BENCH_ROUNDS must be 1..20"
with_pds=0 with_tls=0 with_modsec=0 with_collections=0
for c in $configs; do
    case " $all_configs " in *" $c "*) ;; *) die "BENCH_CONFIGS: unknown configuration '$c' ($all_configs)" ;; esac
    case "$c" in pds*) with_pds=1 ;; esac
    case "$c" in *-tls) with_tls=1 ;; esac
    case "$c" in modsec) with_modsec=1 ;; esac
    case "$c" in *c-100k|*c-1m) with_collections=1 ;; esac
done
case "${BENCH_AUDIT_SYNC:-on}" in on|off) ;; *) die "BENCH_AUDIT_SYNC is on or off" ;; esac
case "${BENCH_AUDIT_MUTEX:-}" in *[!A-Za-z0-9:/._-]*) die "BENCH_AUDIT_MUTEX is a Mutex mechanism such as sysvsem" ;; esac
case "$audit" in
    on) ;;
    off) note "BENCH_AUDIT=off: not possible in this version (mod_pds requires PDSAuditLog" \
              "whenever PDSGateway is on); running with the audit log on" ;;
    *) die "BENCH_AUDIT is on or off" ;;
esac
for tool in wrk openssl curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install $tool)"
done
[ -x "$httpd_bin" ] || die "$httpd_bin is missing (apt-get install apache2)"
[ -f /usr/lib/x86_64-linux-gnu/lua/5.3/cjson.so ] || die "lua-cjson for Lua 5.3 is missing (apt-get install lua-cjson)"
[ -f "$module_dir/mod_lua.so" ] || die "mod_lua is missing from $module_dir"
[ "$with_modsec" = 0 ] || [ -f "$module_dir/mod_security2.so" ] ||
    die "ModSecurity 2 is missing (apt-get install libapache2-mod-security2)"

bench_run_dir pds-bench

cleanup() { bench_cleanup; }
on_exit_cleanup

prepare_bench
( umask 077; say "$token" >"$run/token" )

# --- what we run on -------------------------------------------------------------
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git -C "$top" status --porcelain -- lib mod_pds 2>/dev/null)" ]; then
    commit="$commit + uncommitted changes in lib/ or mod_pds/"
fi
say "mod_pds benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
# CPU busy share over one second, from /proc/stat: other work skews the figures.
cpu_busy() {
    # shellcheck disable=SC2046  # the fields, split on purpose
    set -- $(sed -n 's/^cpu  //p' /proc/stat)
    b0=$(( $1 + $2 + $3 + $6 + $7 + $8 )); t0=$(( b0 + $4 + $5 ))
    sleep 1
    # shellcheck disable=SC2046  # the fields, split on purpose
    set -- $(sed -n 's/^cpu  //p' /proc/stat)
    b1=$(( $1 + $2 + $3 + $6 + $7 + $8 )); t1=$(( b1 + $4 + $5 ))
    say $(( (b1 - b0) * 100 / ((t1 - t0) > 0 ? (t1 - t0) : 1) ))
}
say "idle:     CPUs $(cpu_busy)% busy in the second before the servers started (other work skews the figures)"
say "versions: $("$httpd_bin" -v | sed -n 's/^Server version: //p'), wrk $(pkgver wrk)," \
    "lua5.3 $(pkgver liblua5.3-0), lua-cjson $(pkgver lua-cjson)," \
    "jansson $(pkgver libjansson4), openssl $(pkgver libssl3)"
say "mod_pds:  $module (source $commit)"
say "wrk:      wrk -t$threads -c$connections -d${duration}s --latency, after a ${warmup}s warm-up, per configuration; $rounds round(s)"
say "record:   bench/record.json, $(wc -c <"$bench/record.json") bytes, served by a static httpd on 127.0.0.1:$be_port"
say "released: $release_fields"
case "$key_type" in ec) alg=ES256 ;; rsa) alg="RS256 (RSA 2048)" ;; ed25519) alg=EdDSA ;; *) alg=$key_type ;; esac
say "caller:   one $alg bearer token reused for the whole run (wrk cannot present"
say "          TLS client certificates, so the certificate path is not measured)"
say "tls:      *-tls configurations: HTTPS to the gateway (keep-alive, TLS 1.3, P-256 certificate); the others plain HTTP"
if [ "$with_collections" = 1 ]; then
    for size in $collection_sizes; do
        say "collection $size: $(wc -c <"$run/backend/htdocs/api/districts/d$size/residents") bytes," \
            "$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
               "$run/backend/htdocs/api/districts/d$size/residents") records (the same fields of each released)"
    done
fi
[ "$with_modsec" = 0 ] || say "modsec:   ModSecurity $(pkgver libapache2-mod-security2), one RESPONSE_BODY rule, body access on /modsec/ only"
[ "$smoke" = 0 ] || say "SMOKE:    BENCH_SMOKE=1: correctness only; the timings below mean nothing"
say "audit:    chained (HMAC) with signed checkpoints, always on; PDSAuditSync ${BENCH_AUDIT_SYNC:-on}${BENCH_AUDIT_MUTEX:+; Mutex $BENCH_AUDIT_MUTEX pds-audit}"
say "note:     wrk, the gateway and the back end share these $(nproc) CPUs; compare ratios and CPU/request"
say ""

# --- servers ----------------------------------------------------------------------
start_httpd "$run/backend" "$be_port"
start_httpd "$run/gateway" "$gw_port"

note "checking the answers before the load"
# shellcheck disable=SC2086  # one argument per configuration
"$bench/verify.py" "$bench/record.json" "$release_fields" "$gw_port" "$subject" \
    "$purpose" "$run/token" "$tls_port" "$run/backend/htdocs/api/districts" \
    $configs >"$run/verify.out" 2>&1 || {
    cat "$run/verify.out" >&2
    tail -n 20 "$run/gateway/logs/error.log" >&2 2>/dev/null || true
    die "a location does not answer as it should (see above); nothing measured"
}
cat "$run/verify.out"
say ""

# --- measurement ------------------------------------------------------------------

# CPU ticks (user + system) of httpd <dir>'s parent and children so far.
cpu_ticks() {
    ppid=$(cat "$1/run/httpd.pid")
    total=0
    for stat in /proc/[0-9]*/stat; do
        # fields after "(comm)": state ppid ... utime is field 14, stime 15
        line=$(sed 's/^[0-9]* (.*) //' "$stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086  # the fields, split on purpose
        set -- $line
        pid=${stat#/proc/}; pid=${pid%/stat}
        if [ "$pid" = "$ppid" ] || [ "$2" = "$ppid" ]; then
            total=$((total + ${12} + ${13}))
        fi
    done
    say "$total"
}
hz=$(getconf CLK_TCK)

# Parses wrk --latency output: requests rps p50_ms p99_ms non2xx socket_errors
parse_wrk() {
    /usr/bin/python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
unit = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
def lat(pct):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$" % pct, text, re.M)
    return float(m.group(1)) * unit[m.group(2)] if m else float("nan")
req = re.search(r"(\d+) requests in", text)
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = sum(int(x) for x in sock.groups()) if sock else 0
print(req.group(1) if req else 0, rps.group(1) if rps else 0,
      "%.3f" % lat(50), "%.3f" % lat(99), non2xx.group(1) if non2xx else 0, errors)
EOF
}

url_of() {
    case "$1" in
        *-tls) say "https://127.0.0.1:$tls_port/${1%-tls}/$subject/record" ;;
        *c-*) say "http://127.0.0.1:$gw_port/${1%-*}/d${1#*-}/residents" ;;
        *) say "http://127.0.0.1:$gw_port/$1/$subject/record" ;;
    esac
}

# The bytes of the back end's body behind a configuration.
body_bytes() {
    case "$1" in
        *c-*) wc -c <"$run/backend/htdocs/api/districts/d${1#*-}/residents" ;;
        *) wc -c <"$bench/record.json" ;;
    esac
}

# Peak resident memory: reset_peaks before a run (clear_refs 5 resets
# VmHWM), peak_rss_kb after it: the largest VmHWM of a gateway process.
gateway_pids() {
    ppid=$(cat "$run/gateway/run/httpd.pid")
    say "$ppid"
    for stat in /proc/[0-9]*/stat; do
        line=$(sed 's/^[0-9]* (.*) //' "$stat" 2>/dev/null) || continue
        # shellcheck disable=SC2086  # the fields, split on purpose
        set -- $line
        [ "$2" != "$ppid" ] || { pid=${stat#/proc/}; say "${pid%/stat}"; }
    done
}
reset_peaks() {
    for pid in $(gateway_pids); do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true; done
}
peak_rss_kb() {
    peak=0
    for pid in $(gateway_pids); do
        kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
        [ -z "$kb" ] || [ "$kb" -le "$peak" ] || peak=$kb
    done
    say "$peak"
}

# wrk_for <config> <seconds> [--latency]: the right headers for each location.
# A 30 s timeout (wrk's is 2 s): a 1 MB collection can take longer under load.
wrk_for() {
    c=$1; d=$2; shift 2
    if [ "${c#pds}" != "$c" ]; then
        wrk -t"$threads" -c"$connections" -d"${d}s" --timeout 30s "$@" \
            -H "Authorization: Bearer $token" -H "PDS-Purpose: $purpose" "$(url_of "$c")"
    else
        wrk -t"$threads" -c"$connections" -d"${d}s" --timeout 30s "$@" "$(url_of "$c")"
    fi
}

audit_lines() { if [ -f "$run/gateway/logs/audit.jsonl" ]; then wc -l <"$run/gateway/logs/audit.jsonl"; else echo 0; fi; }

# One line per measurement in results.txt:
#   round config requests rps p50_ms p99_ms non2xx socket_errors cpu_us_per_req
#   audit_lines peak_rss_kb body_bytes
results=$run/results.txt
: >"$results"

# The back end on its own, for reference: it must be well above the others.
if [ "$smoke" = 0 ]; then
    note "back end alone (reference)"
    be_url="http://127.0.0.1:$be_port/api/citizens/$subject/record"
    [ "$warmup" -eq 0 ] || wrk -t"$threads" -c"$connections" -d"${warmup}s" "$be_url" >/dev/null
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$be_url" >"$run/wrk-backend.out"
    say "0 backend $(parse_wrk "$run/wrk-backend.out") - - - $(body_bytes backend)" >>"$results"
fi

round=1
while [ "$round" -le "$rounds" ]; do
    for c in $configs; do
        note "round $round/$rounds, $c: ${warmup}s warm-up, then ${duration}s measured"
        [ "$warmup" -eq 0 ] || wrk_for "$c" "$warmup" >"$run/wrk-$c-$round-warmup.out"
        # Let requests still in flight from the warm-up (or the previous run)
        # finish, so that they are not counted in this run's audit lines and CPU.
        [ "$smoke" = 1 ] || sleep 1
        reset_peaks
        a0=$(audit_lines)
        t0=$(cpu_ticks "$run/gateway")
        wrk_for "$c" "$duration" --latency >"$run/wrk-$c-$round.out"
        t1=$(cpu_ticks "$run/gateway")
        a1=$(audit_lines)
        rss=$(peak_rss_kb)
        # shellcheck disable=SC2046  # the fields, split on purpose
        set -- $(parse_wrk "$run/wrk-$c-$round.out")
        cpu=$(( (t1 - t0) * 1000000 / hz / ($1 > 0 ? $1 : 1) ))
        say "$round $c $* $cpu $((a1 - a0)) $rss $(body_bytes "$c")" >>"$results"
    done
    round=$((round + 1))
done

# Audit writes and syncs over the whole run, from mod_pds's own metrics.
if [ "$with_pds" = 1 ] && curl -fsS "http://127.0.0.1:$gw_port/pds-metrics" >"$run/metrics.txt" 2>/dev/null; then
    writes=$(sed -n 's/^pds_audit_writes_total{result="ok"} \([0-9]*\).*/\1/p' "$run/metrics.txt")
    syncs=$(sed -n 's/^pds_audit_syncs_total{result="ok"} \([0-9]*\).*/\1/p' "$run/metrics.txt")
    if [ -n "$writes" ] && [ -n "$syncs" ] && [ "$syncs" -gt 0 ]; then
        sum=$(sed -n 's/^pds_audit_sync_duration_seconds_sum \([0-9.e+-]*\).*/\1/p' "$run/metrics.txt")
        mean=$(/usr/bin/python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) * 1000 / int(sys.argv[2])))' "${sum:-0}" "$syncs")
        say "audit over the whole run: $writes records, $syncs syncs ($(( writes * 10 / syncs / 10 )).$(( writes * 10 / syncs % 10 )) records per sync, $mean ms per sync on average)"
    fi
fi

# --- results ----------------------------------------------------------------------
/usr/bin/python3 - "$results" "$run" "$smoke" "${BENCH_SUMMARY:-}" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
run = sys.argv[2]
smoke = sys.argv[3] == "1"
summary = sys.argv[4]
by = {}
order = []
for r in rows:
    rnd, cfg = int(r[0]), r[1]
    rec = {"round": rnd, "req": int(r[2]), "rps": float(r[3]), "p50": float(r[4]),
           "p99": float(r[5]), "bad": int(r[6]) + int(r[7]),
           "cpu": None if r[8] == "-" else int(r[8]),
           "audit": None if r[9] == "-" else int(r[9]),
           "rss": None if r[10] == "-" else int(r[10]), "body": int(r[11])}
    if cfg not in by:
        by[cfg] = []
        order.append(cfg)
    by[cfg].append(rec)
rounds = max(len(v) for v in by.values())

def median_run(recs):
    """The round with the median throughput (the lower middle one for even counts)."""
    s = sorted(recs, key=lambda x: x["rps"])
    return s[(len(s) - 1) // 2]

head = "%-16s %9s %9s %9s %11s %9s %8s %8s %8s" % (
    "configuration", "req/s", "p50 ms", "p99 ms", "CPU us/req", "requests", "errors",
    "RSS MB", "MB/s")

def rate(x):
    """Back-end body bytes through the gateway per second."""
    return x["rps"] * x["body"] / 1e6

def rss(x):
    return "-" if not x["rss"] else "%.1f" % (x["rss"] / 1024.0)
if rounds > 1:
    print("every round (gateway CPU = user+system time of all gateway httpd processes / requests)")
    print("round " + head)
    for rnd in range(1, rounds + 1):
        for cfg in order:
            for x in by[cfg]:
                if x["round"] == rnd and cfg != "backend":
                    print("%5d %-16s %9.0f %9.3f %9.3f %11s %9d %8d %8s %8.1f" % (
                        rnd, cfg, x["rps"], x["p50"], x["p99"], x["cpu"], x["req"], x["bad"],
                        rss(x), rate(x)))
    print("")
    print("median round per configuration (by req/s)")
else:
    print("results (gateway CPU = user+system time of all gateway httpd processes / requests)")
print(head)
med = {}
for cfg in order:
    # The median round, but the first round's peak memory: a process keeps
    # what it once needed (glibc, APR pools), so in later rounds every
    # configuration shows the largest collection's peak.
    x = dict(median_run(by[cfg]), rss=by[cfg][0]["rss"])
    med[cfg] = x
    name = "back end alone" if cfg == "backend" else cfg
    print("%-16s %9.0f %9.3f %9.3f %11s %9s %8s %8s %8.1f" % (
        name, x["rps"], x["p50"], x["p99"], "-" if x["cpu"] is None else x["cpu"],
        "-" if cfg == "backend" else x["req"], "-" if cfg == "backend" else x["bad"],
        rss(x), rate(x)))
print("(RSS MB: the largest peak resident set of a gateway process during the measured run,"
      " in the median table from round 1, since a process keeps memory it once needed;"
      " MB/s: back-end body bytes through the gateway)")
print("")
if summary:
    with open(summary, "w") as f:
        f.write("config\trps\tp50_ms\tp99_ms\tcpu_us\trss_kb\tbody_bytes\tmb_s\n")
        for cfg in order:
            x = med[cfg]
            f.write("%s\t%.0f\t%.3f\t%.3f\t%s\t%s\t%d\t%.2f\n" % (
                cfg, x["rps"], x["p50"], x["p99"], "-" if x["cpu"] is None else x["cpu"],
                "-" if x["rss"] is None else x["rss"], x["body"], rate(x)))
# Each configuration against its own baseline, from the same run.
pairs = [(c, "plain") for c in ("pds", "lua", "pdsx", "pdss", "modsec")]
pairs += [("pds-tls", "plain-tls"), ("pdsc-100k", "plainc-100k"), ("pdsc-1m", "plainc-1m")]
for cfg, base in pairs if not smoke else []:
    if cfg in med and base in med:
        per_round = ""
        if rounds > 1:
            ratios = [a["rps"] / b["rps"] for a in by[cfg] for b in by[base]
                      if a["round"] == b["round"] and b["rps"] > 0]
            per_round = "; per round %s" % ", ".join("%.3f" % q for q in ratios)
        cpu = ""
        if med[cfg]["cpu"] and med[base]["cpu"]:
            cpu = "   (CPU per request: %s %d us vs %s %d us, ratio %s/%s %.3f)" % (
                cfg, med[cfg]["cpu"], base, med[base]["cpu"], base, cfg,
                med[base]["cpu"] / med[cfg]["cpu"])
        p99 = "; p99 %.2fx %s's" % (med[cfg]["p99"] / med[base]["p99"], base) \
            if med[base]["p99"] > 0 else ""
        print("ratio %s/%s: throughput %.3f%s%s%s" % (
            cfg, base, med[cfg]["rps"] / med[base]["rps"], per_round, p99, cpu))
if not smoke and "pds" in med and "lua" in med and med["lua"]["rps"] > 0:
    print("pds against the mod_lua peer: %.2fx its throughput" % (med["pds"]["rps"] / med["lua"]["rps"]))
if "pds" in by and not smoke:
    for x in by["pds"]:
        print("audit (pds, round %d): %d lines written during the measured run; wrk reported %d "
              "requests" % (x["round"], x["audit"], x["req"]))
    print("  (wrk counts completed responses; requests in flight when it stops are audited "
          "but not counted)")
status = 0
for cfg in order:
    for x in by[cfg]:
        if x["bad"]:
            print("WARNING: %s round %d had %d non-2xx responses or socket errors (see %s/wrk-%s-%d.out); "
                  "its figures are not valid" % (cfg, x["round"], x["bad"], run, cfg, x["round"]))
            status = 1
if smoke:
    print("smoke: every configuration answered correctly and without an error under load"
          if status == 0 else "smoke: FAILED (above)")
if "backend" in med and "plain" in med and med["backend"]["rps"] < 1.2 * med["plain"]["rps"]:
    print("WARNING: the back end alone is barely faster than plain proxying: it may be the bottleneck")
sys.exit(status)
EOF
