#!/bin/sh
# Builds every fuzz target with clang's libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for a bounded time on its seed
# corpus. New inputs go to a scratch directory, never into fuzz/corpus/.
#
#   fuzz/run.sh                  every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh the long run docs/fuzzing.md reports
#   fuzz/run.sh filter jws       some targets only
#
# Exit status: 0 when no target found a crash, 1 otherwise (the crashing
# input is kept in the scratch directory and named in the output).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK_DIR:-$(mktemp -d /tmp/pds-fuzz.XXXXXX)}
targets=${*:-fieldpath filter jws chain agreement artefact transform consent query write stream rows portal_text unpack}

command -v clang >/dev/null 2>&1 || { echo "fuzz: clang is missing (apt-get install clang)" >&2; exit 2; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
cflags="-I$top/lib -I$top/fuzz $(apr-1-config --cppflags --includes) $(apu-1-config --includes) $(pkg-config --cflags jansson libcrypto zlib liblzma)"
libs="$(apu-1-config --link-ld --libs) $(apr-1-config --link-ld --libs) $(pkg-config --libs jansson libcrypto zlib liblzma)"

failed=""
for t in $targets; do
    [ -f "$top/fuzz/fuzz_$t.c" ] || { echo "fuzz: no target $t" >&2; exit 2; }
    mkdir -p "$work/$t/corpus" "$work/$t/crashes"
    cp "$top/fuzz/corpus/$t/"* "$work/$t/corpus/" 2>/dev/null || true
    # what a target shares with the unit tests (Makefile.am links the same)
    case $t in
        stream|rows) extra="-I$top/tests/unit $top/tests/unit/stream_compare.c" ;;
        unpack) extra="-I$top/tests/unit $top/tests/unit/chunk_source.c" ;;
        *) extra="" ;;
    esac
    # shellcheck disable=SC2086
    clang $flags $cflags -o "$work/$t/fuzz_$t" "$top/fuzz/fuzz_$t.c" "$top/fuzz/common.c" \
        $extra "$top"/lib/pds_*.c $libs
    echo "== $t: ${seconds}s"
    if "$work/$t/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
            -artifact_prefix="$work/$t/crashes/" -print_final_stats=1 "$work/$t/corpus" \
            >"$work/$t/log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$t/log" \
            | sed "s/^/   $t /"
        echo "   $t: no crash; corpus now $(ls "$work/$t/corpus" | wc -l) inputs"
    else
        tail -n 30 "$work/$t/log"
        echo "   $t: CRASH, inputs in $work/$t/crashes/"
        failed="$failed $t"
    fi
done
echo "fuzz: work directory $work"
[ -z "$failed" ] || { echo "fuzz: crashes in:$failed"; exit 1; }
