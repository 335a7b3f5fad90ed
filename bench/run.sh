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
# First the back end alone (reference), then for each: a warm-up and a
# measured wrk run; prints requests/s, p50, p99, the gateway's CPU per
# request, the ratios to plain, and the audit log's line count for pds next
# to the number of requests wrk reported. Exits 1 if any measured request
# failed (non-2xx or socket error). Details: docs/performance.md.
#
# Environment:
#   BENCH_DURATION      measured seconds per configuration (10)
#   BENCH_CONNECTIONS   wrk connections (32)
#   BENCH_THREADS       wrk threads (2)
#   BENCH_WARMUP        warm-up seconds per configuration (3)
#   BENCH_CONFIGS       which to run, in order ("plain pds lua pdsx pdss")
#   BENCH_ROUNDS        rounds (1); with more, the configurations are interleaved
#                       (plain pds lua plain pds lua ...) and the table shows every
#                       round and the median round of each
#   BENCH_KEY_TYPE      the token's key: ec (ES256, default), rsa (RS256), ed25519 (EdDSA)
#   BENCH_LUA_SCOPE     LuaScope for the lua filter (once; see docs/performance.md:
#                       thread, server and conn crash mod_lua's filters under load)
#   BENCH_AUDIT         on (default); "off" is not possible: every decision is audited
#   BENCH_AUDIT_SYNC    on (default) or off: PDSAuditSync, fdatasync of each record
#                       before release (the audit chain and checkpoints are always on)
#   BENCH_PORT          gateway port (18980); BENCH_BACKEND_PORT back end (18981)
#   BENCH_MODULE        use this mod_pds.so as it is (no build)
#   PDS_BUILD_DIR       where tools/build.sh builds otherwise (./build)
#   BENCH_RUN_DIR       run directory (default: a new /tmp/pds-bench.XXXXXX)
#   BENCH_KEEP          1: keep the run directory (configs, logs, audit log)
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

wrk_settings
configs=${BENCH_CONFIGS:-plain pds lua pdsx pdss}
rounds=${BENCH_ROUNDS:-1}
audit=${BENCH_AUDIT:-on}

whole_numbers "BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_WARMUP and BENCH_ROUNDS are whole numbers (seconds, counts)" \
    "$duration" "$connections" "$threads" "$warmup" "$rounds"
check_wrk_load
[ "$warmup" -le 60 ] || die "BENCH_WARMUP must be at most 60 seconds"
[ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] || die "BENCH_ROUNDS must be 1..20"
for c in $configs; do
    case "$c" in plain|pds|lua|pdsx|pdss) ;; *) die "BENCH_CONFIGS: unknown configuration '$c' (plain, pds, lua, pdsx, pdss)" ;; esac
done
case "${BENCH_AUDIT_SYNC:-on}" in on|off) ;; *) die "BENCH_AUDIT_SYNC is on or off" ;; esac
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

bench_run_dir pds-bench

cleanup() {
    stop_httpd "$run/gateway"
    stop_httpd "$run/backend"
    close_run_dir "${BENCH_KEEP:-0}" "${BENCH_RUN_DIR:-}"
}
on_exit_cleanup

case " $configs " in *" pds "*) with_pds=1 ;; *) with_pds=0 ;; esac
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
say "          TLS client certificates, so the certificate path is not measured; no TLS at all)"
say "audit:    chained (HMAC) with signed checkpoints, always on; PDSAuditSync ${BENCH_AUDIT_SYNC:-on}"
say "note:     wrk, the gateway and the back end share these $(nproc) CPUs; compare ratios and CPU/request"
say ""

# --- servers ----------------------------------------------------------------------
start_httpd "$run/backend" "$be_port"
start_httpd "$run/gateway" "$gw_port"

note "checking the answers before the load"
# shellcheck disable=SC2086  # one argument per configuration
"$bench/verify.py" "$bench/record.json" "$release_fields" "$gw_port" "$subject" \
    "$purpose" "$run/token" $configs >"$run/verify.out" 2>&1 || {
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

url_of() { say "http://127.0.0.1:$gw_port/$1/$subject/record"; }

# wrk_for <config> <seconds> [--latency]: the right headers for each location.
wrk_for() {
    c=$1; d=$2; shift 2
    if [ "$c" = pds ] || [ "$c" = pdsx ] || [ "$c" = pdss ]; then
        wrk -t"$threads" -c"$connections" -d"${d}s" "$@" \
            -H "Authorization: Bearer $token" -H "PDS-Purpose: $purpose" "$(url_of "$c")"
    else
        wrk -t"$threads" -c"$connections" -d"${d}s" "$@" "$(url_of "$c")"
    fi
}

audit_lines() { if [ -f "$run/gateway/logs/audit.jsonl" ]; then wc -l <"$run/gateway/logs/audit.jsonl"; else echo 0; fi; }

# One line per measurement in results.txt:
#   round config requests rps p50_ms p99_ms non2xx socket_errors cpu_us_per_req audit_lines
results=$run/results.txt
: >"$results"

# The back end on its own, for reference: it must be well above the others.
note "back end alone (reference)"
be_url="http://127.0.0.1:$be_port/api/citizens/$subject/record"
[ "$warmup" -eq 0 ] || wrk -t"$threads" -c"$connections" -d"${warmup}s" "$be_url" >/dev/null
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$be_url" >"$run/wrk-backend.out"
say "0 backend $(parse_wrk "$run/wrk-backend.out") - -" >>"$results"

round=1
while [ "$round" -le "$rounds" ]; do
    for c in $configs; do
        note "round $round/$rounds, $c: ${warmup}s warm-up, then ${duration}s measured"
        [ "$warmup" -eq 0 ] || wrk_for "$c" "$warmup" >"$run/wrk-$c-$round-warmup.out"
        # Let requests still in flight from the warm-up (or the previous run)
        # finish, so that they are not counted in this run's audit lines and CPU.
        sleep 1
        a0=$(audit_lines)
        t0=$(cpu_ticks "$run/gateway")
        wrk_for "$c" "$duration" --latency >"$run/wrk-$c-$round.out"
        t1=$(cpu_ticks "$run/gateway")
        a1=$(audit_lines)
        # shellcheck disable=SC2046  # the fields, split on purpose
        set -- $(parse_wrk "$run/wrk-$c-$round.out")
        cpu=$(( (t1 - t0) * 1000000 / hz / ($1 > 0 ? $1 : 1) ))
        say "$round $c $* $cpu $((a1 - a0))" >>"$results"
    done
    round=$((round + 1))
done

# --- results ----------------------------------------------------------------------
/usr/bin/python3 - "$results" "$run" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
run = sys.argv[2]
by = {}
order = []
for r in rows:
    rnd, cfg = int(r[0]), r[1]
    rec = {"round": rnd, "req": int(r[2]), "rps": float(r[3]), "p50": float(r[4]),
           "p99": float(r[5]), "bad": int(r[6]) + int(r[7]),
           "cpu": None if r[8] == "-" else int(r[8]),
           "audit": None if r[9] == "-" else int(r[9])}
    if cfg not in by:
        by[cfg] = []
        order.append(cfg)
    by[cfg].append(rec)
rounds = max(len(v) for v in by.values())

def median_run(recs):
    """The round with the median throughput (the lower middle one for even counts)."""
    s = sorted(recs, key=lambda x: x["rps"])
    return s[(len(s) - 1) // 2]

head = "%-16s %9s %9s %9s %11s %9s %8s" % ("configuration", "req/s", "p50 ms", "p99 ms",
                                            "CPU us/req", "requests", "errors")
if rounds > 1:
    print("every round (gateway CPU = user+system time of all gateway httpd processes / requests)")
    print("round " + head)
    for rnd in range(1, rounds + 1):
        for cfg in order:
            for x in by[cfg]:
                if x["round"] == rnd and cfg != "backend":
                    print("%5d %-16s %9.0f %9.3f %9.3f %11s %9d %8d" % (
                        rnd, cfg, x["rps"], x["p50"], x["p99"], x["cpu"], x["req"], x["bad"]))
    print("")
    print("median round per configuration (by req/s)")
else:
    print("results (gateway CPU = user+system time of all gateway httpd processes / requests)")
print(head)
med = {}
for cfg in order:
    x = median_run(by[cfg])
    med[cfg] = x
    name = "back end alone" if cfg == "backend" else cfg
    print("%-16s %9.0f %9.3f %9.3f %11s %9s %8s" % (
        name, x["rps"], x["p50"], x["p99"], "-" if x["cpu"] is None else x["cpu"],
        "-" if cfg == "backend" else x["req"], "-" if cfg == "backend" else x["bad"]))
print("")
if "plain" in med:
    for cfg in ("pds", "lua", "pdsx", "pdss"):
        if cfg in med:
            rs = [x["rps"] for x in by[cfg]]
            ps = [x["rps"] for x in by["plain"]]
            per_round = ""
            if rounds > 1:
                ratios = [a["rps"] / b["rps"] for a in by[cfg] for b in by["plain"]
                          if a["round"] == b["round"] and b["rps"] > 0]
                per_round = "; per round %s" % ", ".join("%.3f" % q for q in ratios)
            cpu = ""
            if med[cfg]["cpu"] and med["plain"]["cpu"]:
                cpu = "   (CPU per request: %s %d us vs plain %d us, ratio plain/%s %.3f)" % (
                    cfg, med[cfg]["cpu"], med["plain"]["cpu"], cfg,
                    med["plain"]["cpu"] / med[cfg]["cpu"])
            print("ratio %s/plain: throughput %.3f%s%s" % (
                cfg, med[cfg]["rps"] / med["plain"]["rps"], per_round, cpu))
if "pds" in by:
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
if "backend" in med and "plain" in med and med["backend"]["rps"] < 1.2 * med["plain"]["rps"]:
    print("WARNING: the back end alone is barely faster than plain proxying: it may be the bottleneck")
sys.exit(status)
EOF
