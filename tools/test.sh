#!/bin/sh
# The test command: installs what is missing, builds, and runs every test:
# cmocka unit tests and guard scripts (make check), then the end-to-end tests
# against a real httpd (pytest). The last lines are cmocka's and pytest's own
# summaries.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PDS_BUILD_DIR:-$top/build}

"$top/tools/install-deps.sh"
"$top/tools/build.sh"
cd "$build"

status=0
make -j"$(nproc)" check >check.out 2>&1 || status=$?
# automake's harness keeps each program's output in its .log: show the
# cmocka summaries and the guards' verdicts, then the harness's own totals.
for log in tests/unit/*.log tests/guards/*.log; do
    [ -f "$log" ] || continue
    [ "$(basename "$log")" = test-suite.log ] && continue
    echo "== $log"
    grep -E '^\[ *(PASSED|FAILED|  ERROR) *\]|^\[==========\]|^PASS:|^FAIL:|tests? (passed|failed)' "$log" || tail -n 5 "$log"
done
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' check.out || true
if [ "$status" != 0 ]; then
    echo "make check failed; details:"
    cat tests/test-suite.log 2>/dev/null || cat check.out
fi

# The unit tests again under valgrind memcheck: no invalid access, no
# definite leak (PDS_SKIP_VALGRIND=1 skips it).
vg=0
if [ "${PDS_SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
    echo "== valgrind memcheck (unit tests)"
    for t in tests/unit/test_*; do
        case "$t" in *.o|*.log|*.trs) continue ;; esac
        [ -x "$t" ] || continue
        if PDS_DIFF_ROUNDS=2000 ./libtool --mode=execute valgrind --quiet --error-exitcode=9 \
               --leak-check=full --errors-for-leak-kinds=definite "$t" >"$t.valgrind" 2>&1; then
            echo "   $(basename "$t"): clean"
        else
            echo "   $(basename "$t"): valgrind reported problems:"
            tail -n 30 "$t.valgrind"
            vg=1
        fi
    done
fi

e2e=0
make check-e2e PYTEST_FLAGS="${PYTEST_FLAGS:--q -rfE}" || e2e=$?

# The Debian packages: built, installed into the machine's apache2 on a
# loopback port, an allowed and a denied request, rotation with the shipped
# logrotate rule, purged (tests/package/test-deb.sh; it skips, saying why,
# where it cannot run: not root, mod_pds already installed). Skip with
# PDS_SKIP_DEB=1.
deb=0
if [ "${PDS_SKIP_DEB:-0}" != 1 ]; then
    echo "== Debian package (tests/package/test-deb.sh)"
    "$top/tests/package/test-deb.sh" || deb=$?
fi

# The soak under faults, short form (bench/soak.sh: 20 s of wrk while the
# back end is killed, frozen and restarted; docs/performance.md). Skip with
# PDS_SKIP_SOAK=1.
soak=0
if [ "${PDS_SKIP_SOAK:-0}" != 1 ]; then
    echo "== soak under faults (bench/soak.sh, SOAK_SECONDS=20)"
    SOAK_SECONDS=20 PDS_BUILD_DIR="$build" BENCH_MODULE="$build/mod_pds/.libs/mod_pds.so" \
        "$top/bench/soak.sh" || soak=$?
fi

# The benchmark as a smoke test (bench/run.sh, BENCH_SMOKE=1): every
# location answers correctly and takes a second of light load without an
# error. Timings are never judged here (they are noisy). Skip with
# PDS_SKIP_BENCH_SMOKE=1.
bench_smoke=0
if [ "${PDS_SKIP_BENCH_SMOKE:-0}" != 1 ]; then
    echo "== benchmark smoke test (bench/run.sh, BENCH_SMOKE=1)"
    BENCH_SMOKE=1 BENCH_MODULE="$build/mod_pds/.libs/mod_pds.so" \
        "$top/bench/run.sh" >"$build/bench-smoke.out" 2>&1 || bench_smoke=$?
    grep -E '^  FAIL|^smoke:|^WARNING' "$build/bench-smoke.out" || tail -n 20 "$build/bench-smoke.out"
fi

# Every fuzz target under libFuzzer (clang, ASan, UBSan) for a bounded time
# (PDS_FUZZ_SECONDS, default 10 each; PDS_SKIP_FUZZ=1 skips); the seed
# corpus is also replayed by make check above.
fuzz=0
if [ "${PDS_SKIP_FUZZ:-0}" != 1 ]; then
    echo "== fuzzing (libFuzzer, ${PDS_FUZZ_SECONDS:-10}s per target)"
    FUZZ_SECONDS=${PDS_FUZZ_SECONDS:-10} "$top/fuzz/run.sh" || fuzz=$?
fi

# The same again with AddressSanitizer and UndefinedBehaviorSanitizer: lib/,
# the module (loaded by an uninstrumented httpd that preloads the ASan
# runtime) and pds-audit. Any sanitizer report fails the run. Skip with
# PDS_SKIP_SANITIZERS=1.
san=0
if [ "${PDS_SKIP_SANITIZERS:-0}" != 1 ]; then
    echo "== sanitizers (ASan + UBSan)"
    asan_rt=$(gcc -print-file-name=libasan.so)
    PDS_BUILD_DIR="$build-sanitizers" "$top/tools/build.sh" --enable-sanitizers
    cd "$build-sanitizers"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 make -j"$(nproc)" check >check.out 2>&1 || san=$?
    if grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error: ' tests/unit/*.log 2>/dev/null; then
        echo "sanitizer reports in the unit tests (files above)"
        san=1
    fi
    grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' check.out || true
    [ "$san" = 0 ] || cat tests/test-suite.log 2>/dev/null || true
    PDS_HTTPD_PRELOAD="$asan_rt" make check-e2e PYTEST_FLAGS="${PYTEST_FLAGS:--q -rfE}" || san=$?
fi

if [ "$status" != 0 ] || [ "$vg" != 0 ] || [ "$e2e" != 0 ] || [ "$deb" != 0 ] || [ "$soak" != 0 ] || [ "$fuzz" != 0 ] || [ "$san" != 0 ] || [ "$bench_smoke" != 0 ]; then
    exit 1
fi
exit 0
