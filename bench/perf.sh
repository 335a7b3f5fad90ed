#!/bin/sh
# perf.sh: where the gateway's CPU time goes under load, with perf sampling.
#
#   bench/perf.sh [plain|pds|pdsx|lua|plainc-1m|pdsc-1m]   (default pds)
#
# Starts the benchmark's back end and gateway (bench/common.sh; the same
# configuration as bench/run.sh), loads one location with wrk (after a
# warm-up) while `perf record -e cpu-clock` samples the gateway's worker
# processes, user and kernel, then prints the request rate and the share of
# samples per shared object and per symbol. cpu-clock is a software
# event, so this works where hardware counters are not available (VMs). It
# needs the perf tool (apt-get install linux-perf) and root, or
# kernel.perf_event_paranoid <= 1 for kernel samples. Debian's libraries have
# no frame pointers, so there are no call graphs: see bench/profile.sh for
# inclusive costs.
#
# Environment: BENCH_DURATION (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_WARMUP (3), BENCH_PROFILE_TOP (15), plus BENCH_PORT,
# BENCH_BACKEND_PORT, BENCH_MODULE, PDS_BUILD_DIR, BENCH_RUN_DIR, BENCH_KEEP,
# BENCH_KEY_TYPE as for bench/run.sh.
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

one_location bench/perf.sh "$@"
wrk_settings
top_n=${BENCH_PROFILE_TOP:-15}
whole_numbers "BENCH_* settings are whole numbers" \
    "$duration" "$connections" "$threads" "$warmup" "$top_n"
check_wrk_load
need_tools "linux-perf wrk openssl" perf wrk openssl

perf_pid=""
cleanup() {
    if [ -n "$perf_pid" ] && alive "$perf_pid"; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    bench_cleanup
}
bench_setup pds-perf
start_httpd "$run/gateway" "$gw_port"

[ "$warmup" -eq 0 ] || wrk_location "$warmup" >"$run/wrk-warmup.out"
gateway_workers
data=$run/perf.data
perf record -e cpu-clock -F 1999 -p "$workers" -o "$data" >"$run/perf-record.out" 2>&1 &
perf_pid=$!
sleep 0.5
wrk_location "$duration" >"$run/wrk.out"
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
perf_pid=""
wrk_requests "$run/wrk.out"
errors=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$run/wrk.out")
[ -z "$errors" ] || die "wrk saw $errors non-2xx responses (see $run/wrk.out)"

report() {
    perf report -i "$data" --stdio --no-children --sort "$1" 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | head -n "$top_n"
}
samples=$(perf report -i "$data" --stdio --no-children --sort dso 2>/dev/null \
    | sed -n 's/^# Samples: *\([0-9.]*[KM]\{0,1\}\) .*/\1/p' | head -n 1)
say "perf (cpu-clock, 1999 Hz) on the gateway's workers: $config, wrk -t$threads -c$connections -d${duration}s"
say "$requests requests ($(sed -n 's/^Requests\/sec: *//p' "$run/wrk.out") req/s), $samples samples"
say ""
say "share of the gateway's CPU samples by shared object:"
report dso
say ""
say "top $top_n symbols (self):"
report dso,sym
say ""
[ "${BENCH_KEEP:-0}" != 1 ] || say "perf data: $data"
