#!/bin/sh
# Guard: every log tag is assigned to exactly one log site (STYLE.md,
# "Numbered log messages"). A tag is "PDS" and five digits, written either
# literally ("PDS00042") or through a macro argument ("PDSLOGNO(00042)").
# Scans mod_pds/*.c and lib/*.c with comments removed, so a comment that
# mentions a tag is not counted. Also refuses malformed tags (PDS + a number
# of other than five digits).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree

files=$(cd "$src" && find mod_pds lib -maxdepth 1 -type f -name '*.c' 2>/dev/null | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "FAIL: log tags: no C sources in $src/mod_pds or $src/lib" >&2
    exit 1
fi

tmp=${TMPDIR:-/tmp}/pds-guard-tags.$$
trap 'rm -f "$tmp"' EXIT HUP INT TERM
: >"$tmp"

for f in $files; do
    # One "TAG file:line" row per occurrence.
    guard_strip_c keep "$src/$f" | awk -v f="$f" '
    {
        line = $0
        while (match(line, /PDSLOGNO[[:space:]]*\([[:space:]]*[0-9]+[[:space:]]*\)|PDS[0-9]+/)) {
            t = substr(line, RSTART, RLENGTH)
            line = substr(line, RSTART + RLENGTH)
            gsub(/[^0-9]/, "", t)
            print "PDS" t " " f ":" NR
        }
    }' >>"$tmp"
done

malformed=$(awk '$1 !~ /^PDS[0-9][0-9][0-9][0-9][0-9]$/' "$tmp")
dups=$(awk '{ n[$1]++; at[$1] = at[$1] " " $2 }
            END { for (t in n) if (n[t] > 1) print t ":" at[t] }' "$tmp" | LC_ALL=C sort)
count=$(awk 'END { print NR }' "$tmp")

rc=0
if [ -n "$malformed" ]; then
    echo "$malformed" | while IFS=' ' read -r t where; do
        echo "$where: malformed log tag $t (want PDS and five digits, e.g. PDS00042)" >&2
    done
    rc=1
fi
if [ -n "$dups" ]; then
    echo "$dups" | while IFS= read -r d; do
        echo "log tag ${d%%:*} is used at more than one site:${d#*:}" >&2
    done
    rc=1
fi
if [ "$rc" -ne 0 ]; then
    echo "FAIL: log tags: each tag must name exactly one log site; give the others new numbers" >&2
    exit 1
fi
echo "PASS: log tags unique ($count tags)"
exit 0
