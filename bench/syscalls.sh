#!/bin/sh
# syscalls.sh: the system calls and context switches of a request, under
# load, counted by the kernel.
#
#   bench/syscalls.sh [plain|pds|pdsx|lua|plainc-1m|pdsc-1m]   (default pds)
#
# Starts the benchmark's back end and gateway (bench/common.sh; the same
# configuration as bench/run.sh), loads one location with wrk (after a
# warm-up) while `perf stat` counts, on the gateway's worker processes, the
# context switches, the CPU time, every system call, and the calls the
# request path is known to make (futex, read, write, poll, fdatasync, ...),
# then prints each per request. Counting is exact, unlike sampling, and
# cheap, unlike strace, so the figures compare well between two modules
# (BENCH_MODULE) or two locations even on a busy machine, where timings do
# not. It needs the perf tool (apt-get install linux-perf), root (tracepoints)
# and tracefs.
#
# Environment: BENCH_DURATION (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2),
# BENCH_WARMUP (3), plus BENCH_PORT, BENCH_BACKEND_PORT, BENCH_MODULE,
# PDS_BUILD_DIR, BENCH_RUN_DIR, BENCH_KEEP, BENCH_KEY_TYPE, BENCH_AUDIT_SYNC,
# BENCH_AUDIT_MUTEX as for bench/run.sh.
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

one_location bench/syscalls.sh "$@"
wrk_settings
whole_numbers "BENCH_* settings are whole numbers" \
    "$duration" "$connections" "$threads" "$warmup"
check_wrk_load
need_tools "linux-perf wrk openssl" perf wrk openssl

calls="futex read write writev poll epoll_wait epoll_ctl newfstatat pwrite64 fdatasync getrandom getpid kill dup close"
events="task-clock,context-switches,raw_syscalls:sys_enter"
for c in $calls; do
    events="$events,syscalls:sys_enter_$c"
done

cleanup() { bench_cleanup; }
bench_setup pds-syscalls
start_httpd "$run/gateway" "$gw_port"

[ "$warmup" -eq 0 ] || wrk_location "$warmup" >"$run/wrk-warmup.out"
gateway_workers
# perf stat counts while the measured load runs (its own clock: a moment
# longer than wrk's, the idle tail counting nothing per request).
stat_pid=""
perf stat -x, -e "$events" -p "$workers" -o "$run/stat.csv" -- sleep "$((duration + 1))" &
stat_pid=$!
wrk_location "$duration" >"$run/wrk.out"
wait "$stat_pid" || die "perf stat failed (see $run/stat.csv)"
wrk_requests "$run/wrk.out"
errors=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$run/wrk.out")
[ -z "$errors" ] || die "wrk saw $errors non-2xx responses (see $run/wrk.out)"

say "per request on the gateway's workers: $config, wrk -t$threads -c$connections -d${duration}s"
say "$requests requests ($(sed -n 's/^Requests\/sec: *//p' "$run/wrk.out") req/s)"
# -x, lines: value,unit,event,...; "<not counted>" or "<not supported>" as value.
awk -F, -v n="$requests" '
    /^#/ || NF < 3 { next }
    $1 !~ /^[0-9.]+$/ { printf "  %-28s %s\n", $3, $1; next }
    $3 == "task-clock" { printf "  %-28s %10.1f us\n", "CPU time", $1 * 1000 / n; next }
    { name = $3; sub(/^syscalls:sys_enter_/, "", name)
      sub(/^raw_syscalls:sys_enter$/, "system calls, all", name)
      printf "  %-28s %10.2f\n", name, $1 / n }' "$run/stat.csv"
[ "${BENCH_KEEP:-0}" != 1 ] || say "perf stat output: $run/stat.csv"
