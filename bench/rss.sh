#!/bin/sh
# rss.sh: the gateway children's memory over many requests, on the
# benchmark's own servers (bench/common.sh: the static back end, the gateway
# of bench/run.sh with its event MPM, 2 processes of 64 threads).
#
#   bench/rss.sh [pds|pdsx|plain]          (default pds)
#
# Loads the location with wrk in rounds of BENCH_ROUND seconds (10) until
# BENCH_REQUESTS (1000000) requests were answered, and after each round
# prints every child's VmRSS and RssAnon (from /proc). At the end: each
# child's first and last figures and the change, after the first round
# (the first round is the warm-up: pools and caches reach their working
# size there). Children never recycle (MaxConnectionsPerChild 0), so a
# leak shows as RssAnon that keeps growing round after round. Fails on a
# non-2xx answer or a socket error.
#
# Environment: BENCH_REQUESTS, BENCH_ROUND, BENCH_MAX_MEM_FREE (KB: httpd's
# MaxMemFree, to tell allocator retention from a leak), BENCH_CONNECTIONS (32),
# BENCH_THREADS (2), BENCH_MAX_ROUNDS (1000: a bound whatever the rate),
# plus BENCH_PORT, BENCH_BACKEND_PORT, BENCH_MODULE, PDS_BUILD_DIR,
# BENCH_RUN_DIR, BENCH_KEEP, BENCH_KEY_TYPE as for bench/run.sh.
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

one_location bench/rss.sh "$@"
wrk_settings
want=${BENCH_REQUESTS:-1000000}
round_s=${BENCH_ROUND:-10}
max_rounds=${BENCH_MAX_ROUNDS:-1000}
duration=$round_s
whole_numbers "BENCH_* settings are whole numbers" "$want" "$round_s" "$max_rounds" \
    "$connections" "$threads"
check_wrk_load
need_tools "wrk openssl" wrk openssl

cleanup() { bench_cleanup; }
bench_setup pds-rss
start_httpd "$run/gateway" "$gw_port"

# One line per child: pid VmRSS-kB RssAnon-kB
children_memory() {
    for pid in $(pgrep -P "$(cat "$run/gateway/run/httpd.pid")"); do
        awk -v pid="$pid" '/^VmRSS:/ { rss = $2 } /^RssAnon:/ { anon = $2 }
            END { print pid, rss, anon }' "/proc/$pid/status"
    done
}

say "rss: $config, $want requests in rounds of ${round_s}s, wrk -t$threads -c$connections"
done_requests=0
round=0
while [ "$done_requests" -lt "$want" ] && [ "$round" -lt "$max_rounds" ]; do
    round=$((round + 1))
    wrk_location "$round_s" >"$run/wrk-rss.out"
    wrk_requests "$run/wrk-rss.out"
    bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p; s/^ *Socket errors: *//p' "$run/wrk-rss.out")
    [ -z "$bad" ] || die "round $round: $bad (see $run/wrk-rss.out)"
    done_requests=$((done_requests + requests))
    children_memory | sed "s/^/$round $done_requests /" >>"$run/rss.tsv"
    say "round $round: $done_requests requests; pid VmRSS/RssAnon kB: $(children_memory | awk '{ printf "%s %s/%s  ", $1, $2, $3 }')"
done

say ""
say "each child, after round 1 (warm-up) and at the end ($done_requests requests):"
awk -v last="$round" '
    $1 == 1 { r1[$3] = $4; a1[$3] = $5 }
    $1 == last { rl[$3] = $4; al[$3] = $5 }
    END {
        for (pid in al) {
            if (!(pid in a1)) { printf "  pid %s: not there after round 1 (a new child)\n", pid; continue }
            printf "  pid %s: VmRSS %d -> %d kB (%+.1f%%), RssAnon %d -> %d kB (%+.1f%%)\n",
                pid, r1[pid], rl[pid], 100 * (rl[pid] - r1[pid]) / r1[pid],
                a1[pid], al[pid], 100 * (al[pid] - a1[pid]) / a1[pid]
        }
    }' "$run/rss.tsv"
