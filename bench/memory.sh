#!/bin/sh
# memory.sh: the memory a request holds for filtering (issue 13). One
# gateway per figure, one request for a collection of about BENCH_SIZE_MB
# (50) MB of which about 1 MB is released; prints the serving child's peak
# RssAnon (sampled every 2 ms) and VmHWM, with the body held in memory
# (PDSSpoolDirectory off) and spooled (PDSSpoolDirectory on a fresh
# directory). Two filter paths: "stream" (a de-identified collection, the
# streaming filter) and "rows" (RecordSubject, the DOM filter).
#
#   bench/memory.sh            BENCH_MODULE: mod_pds.so (default: build/ of this tree)
#                              BENCH_MODULE_BEFORE: another build, also measured in memory
#                              BENCH_PATHS ("stream rows"), BENCH_SIZE_MB (50)
#                              BENCH_PORT (19200: back end; +1, +2 the gateway)
# Each run is bounded by `timeout 300`.
set -eu
bench=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$bench/.." && pwd)
module=${BENCH_MODULE:-$top/build/mod_pds/.libs/mod_pds.so}
[ -f "$module" ] || { echo "bench: no module at $module (build first, or set BENCH_MODULE)" >&2; exit 1; }
size=${BENCH_SIZE_MB:-50}
spool=$(mktemp -d /tmp/pds-bench-spool.XXXXXX)
trap 'rm -rf "$spool"' EXIT
chmod 0700 "$spool"
[ "$(id -u)" != 0 ] || chown nobody:nogroup "$spool"

one() {   # one MODULE PATH SPOOL
    echo "== $2, spool $3, $1" >&2
    timeout 300 /usr/bin/python3 "$bench/memory.py" body --module "$1" --path "$2" \
        --spool "$3" --size "$size" | grep '^RESULT' | sed "s#^RESULT#RESULT module=$1#"
}

for path in ${BENCH_PATHS:-stream rows}; do
    if [ -n "${BENCH_MODULE_BEFORE:-}" ]; then one "$BENCH_MODULE_BEFORE" "$path" off; fi
    one "$module" "$path" off
    one "$module" "$path" "$spool"
done
