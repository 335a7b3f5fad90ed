#!/bin/sh
# rss.sh: the gateway children's memory over many requests: drives
# BENCH_REQUESTS (1000000) small allowed requests through ab (keep-alive,
# BENCH_CONCURRENCY 8 connections) and prints each child's VmRSS and RssAnon
# at the start and at the end. A growing RssAnon at a steady load is a leak.
#
#   BENCH_REQUESTS=100000 bench/rss.sh      BENCH_MODULE, BENCH_PORT as in memory.sh
set -eu
bench=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$bench/.." && pwd)
module=${BENCH_MODULE:-$top/build/mod_pds/.libs/mod_pds.so}
[ -f "$module" ] || { echo "bench: no module at $module (build first, or set BENCH_MODULE)" >&2; exit 1; }
exec /usr/bin/python3 "$bench/memory.py" soak --module "$module" \
    --requests "${BENCH_REQUESTS:-1000000}" --concurrency "${BENCH_CONCURRENCY:-8}" \
    --timeout "${BENCH_TIMEOUT:-7200}"
