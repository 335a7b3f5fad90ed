#!/bin/sh
# replay-timeout.sh: the corpus replay bounds each input (fuzz/replay.c,
# PDS_FUZZ_INPUT_TIMEOUT). A FIFO nobody writes to is an input that never
# finishes: the replay must fail on it within the bound, naming it, rather
# than hang `make check`. Run from the build directory (make check does).
set -u
replay=./fuzz/replay_fieldpath
[ -x "$replay" ] || { echo "FAIL: no $replay (run from the build directory)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pds-replay-timeout.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT HUP INT TERM
mkfifo "$work/never-written" || { echo "FAIL: mkfifo"; exit 1; }

# timeout(1) is the backstop should the bound itself not work.
PDS_FUZZ_INPUT_TIMEOUT=1 timeout 30 "$replay" "$work" >"$work/out" 2>&1
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "replay: $work/never-written did not finish within 1 s" "$work/out"; then
    echo "FAIL: replay on an input that never finishes: status $rc (want 1; 124 is a hang), said:"
    sed 's/^/    /' "$work/out"
    exit 1
fi
PDS_FUZZ_INPUT_TIMEOUT=soon "$replay" "$work" >"$work/out" 2>&1
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "PDS_FUZZ_INPUT_TIMEOUT=soon: give the seconds" "$work/out"; then
    echo "FAIL: a bad PDS_FUZZ_INPUT_TIMEOUT: status $rc, said:"
    sed 's/^/    /' "$work/out"
    exit 1
fi
echo "PASS: an input that never finishes fails the replay within its bound"
