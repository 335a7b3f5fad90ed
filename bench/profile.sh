#!/bin/sh
# profile.sh: where a mod_pds request spends its time, with callgrind.
#
#   bench/profile.sh [plain|pds|pdsx|lua|plainc-1m|pdsc-1m]   (default pds)
#
# Starts the benchmark's back end and gateway (bench/common.sh; the same
# configuration as bench/run.sh), the gateway as a single httpd -X process
# under valgrind --tool=callgrind, collecting only inside connection
# processing (--toggle-collect=ap_run_process_connection: no start-up, no
# configuration parsing). Sends BENCH_PROFILE_REQUESTS requests one at a time
# over keep-alive (ab -k -c1) and prints the instructions per request and the
# top functions by inclusive cost: first mod_pds's (pds_*, mod_pds*), then
# everything by self cost. The first request's one-time costs are included,
# spread over all of them. The callgrind output stays in the run directory.
# (callgrind_control cannot be used: httpd drops root for "nobody", which
# then cannot open valgrind's root-owned vgdb FIFO.)
#
# Instructions are not time: bench/perf.sh samples the CPU time of the
# gateway under wrk load instead (kernel included).
#
# Environment: BENCH_PROFILE_REQUESTS (500), BENCH_PROFILE_TOP (10), plus
# BENCH_PORT, BENCH_BACKEND_PORT, BENCH_MODULE, PDS_BUILD_DIR, BENCH_RUN_DIR,
# BENCH_KEEP, BENCH_KEY_TYPE as for bench/run.sh.
set -eu

bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$bench/common.sh"

one_location bench/profile.sh "$@"
requests=${BENCH_PROFILE_REQUESTS:-500}
top_n=${BENCH_PROFILE_TOP:-10}
whole_numbers "BENCH_PROFILE_* are whole numbers" \
    "$requests" "$top_n"
[ "$requests" -ge 1 ] || die "BENCH_PROFILE_REQUESTS must be at least 1"
need_tools "valgrind apache2-utils openssl" valgrind callgrind_annotate ab openssl

vg_pid=""
cleanup() {
    if [ -n "$vg_pid" ] && alive "$vg_pid"; then
        kill -TERM "$vg_pid" 2>/dev/null || true
        i=0
        while alive "$vg_pid" && [ "$i" -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
        alive "$vg_pid" && kill -KILL "$vg_pid" 2>/dev/null || true
    fi
    bench_cleanup
}
bench_setup pds-profile

out=$run/callgrind.out
# httpd drops root for "nobody" and writes the output at exit as that user.
: >"$out"
chmod 666 "$out"
if [ "$(id -u)" = 0 ]; then chown nobody:nogroup "$out"; fi
note "starting the gateway under callgrind (httpd -X; slow to start)"
valgrind --tool=callgrind --callgrind-out-file="$out" --vgdb=no \
    --collect-atstart=no --toggle-collect=ap_run_process_connection \
    "$httpd_bin" -X -f "$run/gateway/httpd.conf" >"$run/gateway/logs/valgrind.out" 2>&1 &
vg_pid=$!
i=0
until port_open "$gw_port"; do
    i=$((i + 1))
    if [ "$i" -gt 600 ] || ! alive "$vg_pid"; then
        cat "$run/gateway/logs/valgrind.out" "$run/gateway/logs/error.log" >&2 2>/dev/null || true
        die "the gateway did not start under valgrind"
    fi
    sleep 0.1
done

location_request ab -q -k -c 1 -n "$requests" >"$run/ab.out" 2>&1 || { cat "$run/ab.out" >&2; die "the requests failed"; }
grep -E 'Complete requests|Failed requests|Non-2xx' "$run/ab.out" || true
if grep -qE '^Non-2xx responses' "$run/ab.out"; then
    die "some responses were not 2xx (see $run/ab.out)"
fi
# callgrind writes its output when httpd exits.
kill -TERM "$vg_pid"
i=0
while alive "$vg_pid"; do
    i=$((i + 1))
    [ "$i" -le 600 ] || die "httpd under valgrind did not stop within 60 s"
    sleep 0.1
done
wait "$vg_pid" 2>/dev/null || true
vg_pid=""
dump=$out
[ -s "$dump" ] || die "callgrind wrote no output (see $run/gateway/logs/valgrind.out)"

callgrind_annotate --inclusive=yes --threshold=100 "$dump" >"$run/annotate-inclusive.txt" 2>/dev/null
callgrind_annotate --threshold=100 "$dump" >"$run/annotate-self.txt" 2>/dev/null
total=$(sed -n 's/^ *\([0-9,]*\) *(100.0%) *PROGRAM TOTALS.*/\1/p' "$run/annotate-inclusive.txt" | tr -d ,)
[ -n "$total" ] || total=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$run/annotate-inclusive.txt" | tr -d ,)
say "callgrind, $config, $requests requests, gateway httpd -X (inside ap_run_process_connection)"
say "instructions per request (whole process, all threads): $((total / requests))"
say ""
say "top $top_n mod_pds functions by inclusive cost (Ir per request, % of total):"
awk -v n="$top_n" -v req="$requests" -v tot="$total" '
    /^ *[0-9,]+ .*\*  .*:/ || /^ *[0-9,]+ / {
        ir = $1; gsub(",", "", ir)
        fn = $0; sub(/^ *[0-9,]+ *(\([^)]*\))? */, "", fn)
        sub(/^\* +/, "", fn)
        name = fn; sub(/^.*:/, "", name); sub(/ .*$/, "", name)
        if (name ~ /^(pds_|mod_pds)/ || fn ~ /mod_pds\// || fn ~ /lib\/pds_/ || fn ~ /mod_pds\.so\]/) {
            if (seen[name]++) next
            printf "  %12d  %5.1f%%  %s\n", ir / req, 100 * ir / tot, name
            if (++k >= n) exit
        }
    }' "$run/annotate-inclusive.txt"
say ""
say "self cost by shared object (Ir per request; libraries without symbols show as ???):"
awk -v req="$requests" -v tot="$total" '
    /PROGRAM TOTALS/ { next }
    /^ *[0-9,]+ .*\[[^]]*\] *$/ {
        ir = $1; gsub(",", "", ir)
        obj = $0; sub(/^.*\[/, "", obj); sub(/\].*$/, "", obj); sub(/^.*\//, "", obj)
        cost[obj] += ir
    }
    END { for (o in cost) printf "  %12d  %5.1f%%  %s\n", cost[o] / req, 100 * cost[o] / tot, o }
' "$run/annotate-self.txt" | sort -rn | head -n "$top_n"
say ""
say "top $top_n functions overall by self cost (Ir per request):"
awk -v n="$top_n" -v req="$requests" -v tot="$total" '
    /PROGRAM TOTALS/ { next }
    /^ *[0-9,]+ / {
        ir = $1; gsub(",", "", ir)
        fn = $0; sub(/^ *[0-9,]+ *(\([^)]*\))? */, "", fn)
        printf "  %12d  %5.1f%%  %s\n", ir / req, 100 * ir / tot, fn
        if (++k >= n) exit
    }' "$run/annotate-self.txt"
say ""
[ "${BENCH_KEEP:-0}" != 1 ] || say "full listings: $run/annotate-inclusive.txt, $run/annotate-self.txt"
