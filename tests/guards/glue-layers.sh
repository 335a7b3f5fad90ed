#!/bin/sh
# Guard: the glue's layers (docs/architecture.md, "Layers"; STYLE.md,
# "Layout and naming"). docs/architecture.md has a table giving every file
# of mod_pds/ a layer number, rows of the form
#   | `mod_pds/mod_pds_util.c` | 2 | ... |
# and a file may include the mod_pds/ headers of its own layer or below
# only: calls point down, never up. Fails when
#   - a mod_pds/*.c or *.h file is not in the table (a new file gets a row),
#   - the table names a file that does not exist, or names one twice,
#   - a file includes a mod_pds/ header of a higher layer, or one the table
#     does not know.
# Comments are ignored (an #include in a comment is not one).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree
doc="$src/docs/architecture.md"

guard_need_files "glue layers" "$doc"
if [ ! -d "$src/mod_pds" ]; then
    echo "FAIL: glue layers: no mod_pds/ directory under $src" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pds-guard-layers.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# The table: "path layer" lines.
sed -n 's/^|[[:space:]]*`\(mod_pds\/[A-Za-z0-9_.-]*\)`[[:space:]]*|[[:space:]]*\([0-9][0-9]*\)[[:space:]]*|.*/\1 \2/p' \
    "$doc" >"$tmp/table"
if [ ! -s "$tmp/table" ]; then
    echo "FAIL: glue layers: docs/architecture.md has no layer table (rows | \`mod_pds/FILE\` | N | ... |)" >&2
    exit 1
fi

bad=0
dups=$(cut -d' ' -f1 "$tmp/table" | LC_ALL=C sort | uniq -d)
for f in $dups; do
    echo "docs/architecture.md: the layer table names $f more than once" >&2
    bad=$((bad + 1))
done
while read -r f layer; do
    if [ ! -f "$src/$f" ]; then
        echo "docs/architecture.md: the layer table names $f, which does not exist" >&2
        bad=$((bad + 1))
    fi
done <"$tmp/table"

layer_of() {
    awk -v f="$1" '$1 == f { print $2; exit }' "$tmp/table"
}

files=$(cd "$src" && find mod_pds -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
nfiles=0
nincludes=0
for f in $files; do
    nfiles=$((nfiles + 1))
    mine=$(layer_of "$f")
    if [ -z "$mine" ]; then
        echo "$f: not in the layer table of docs/architecture.md (give it a row and a layer)" >&2
        bad=$((bad + 1))
        continue
    fi
    guard_strip_c keep "$src/$f" \
        | grep -n -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"mod_pds[A-Za-z0-9_.-]*\.h"' \
        >"$tmp/includes"
    while IFS= read -r hit; do
        line=${hit%%:*}
        header=$(printf '%s\n' "$hit" | sed 's/.*"\(mod_pds[A-Za-z0-9_.-]*\.h\)".*/\1/')
        nincludes=$((nincludes + 1))
        theirs=$(layer_of "mod_pds/$header")
        if [ -z "$theirs" ]; then
            echo "$f:$line: includes $header, which the layer table of docs/architecture.md does not list" >&2
            bad=$((bad + 1))
        elif [ "$theirs" -gt "$mine" ]; then
            echo "$f:$line: includes $header (layer $theirs) from layer $mine: calls point down only" >&2
            bad=$((bad + 1))
        fi
    done <"$tmp/includes"
done

guard_verdict "glue layers: $bad violation(s); see docs/architecture.md, \"Layers\"" \
    "glue layers ($nfiles files, $nincludes includes of mod_pds headers, none pointing up)"
