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
sed -n '/^={5,}/,/^={5,}/p' check.out | grep -E '^# ' || true
if [ "$status" != 0 ]; then
    echo "make check failed; details:"
    cat tests/test-suite.log 2>/dev/null || cat check.out
fi

e2e=0
make check-e2e PYTEST_FLAGS="${PYTEST_FLAGS:--q -rfE}" || e2e=$?
if [ "$status" != 0 ] || [ "$e2e" != 0 ]; then
    exit 1
fi
exit 0
