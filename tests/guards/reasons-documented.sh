#!/bin/sh
# shellcheck disable=SC2016  # backticks in patterns are literal Markdown
# Guard: every reason code of lib/pds_reason.c (the table clients, the audit
# log and the docs share) is explained in docs/problems.md, under a heading
# of its own with the right status, and listed with its status in the
# reason table of docs/admin-guide.md; and neither page documents a code the
# table does not have.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree
table="$src/lib/pds_reason.c"
problems="$src/docs/problems.md"
guide="$src/docs/admin-guide.md"

guard_need_files "reasons documented" "$table" "$problems" "$guide"

# "code status" per entry: { "no-agreement", 403, "..." }
reasons=$(guard_strip_c keep "$table" |
    sed -n 's/^[[:space:]]*{[[:space:]]*"\([a-z][a-z-]*\)"[[:space:]]*,[[:space:]]*\([0-9][0-9][0-9]\)[[:space:]]*,.*/\1 \2/p')
if [ -z "$reasons" ]; then
    echo "FAIL: reasons documented: no { \"code\", status, \"title\" } entries found in lib/pds_reason.c" >&2
    exit 1
fi

bad=0
fail() { echo "$1" >&2; bad=$((bad + 1)); }

while IFS=' ' read -r code status; do
    # problems.md: "### code" and, before the next heading, "**status**".
    got=$(awk -v c="$code" '
        /^#/ { on = ($0 ~ "^#+[[:space:]]+`?" c "`?[[:space:]]*$"); if (on) seen = 1; next }
        on && match($0, /\*\*[0-9][0-9][0-9]\*\*/) { print substr($0, RSTART + 2, 3); exit }
        END { if (!seen) print "none" }' "$problems")
    case $got in
        none) fail "reason $code: no \"### $code\" heading in docs/problems.md" ;;
        "$status") ;;
        *) fail "reason $code: docs/problems.md says ${got:-no status}, lib/pds_reason.c says $status" ;;
    esac
    grep -q -E "^\| \`$code\` \| $status \|" "$guide" ||
        fail "reason $code: no row \"| \`$code\` | $status |\" in the reason table of docs/admin-guide.md"
done <<EOF2
$reasons
EOF2

codes=$(printf '%s\n' "$reasons" | cut -d' ' -f1)
for c in $(sed -n 's/^###[[:space:]]\{1,\}`\{0,1\}\([a-z][a-z-]*\)`\{0,1\}[[:space:]]*$/\1/p' "$problems") \
         $(sed -n 's/^| `\([a-z][a-z-]*\)` | [0-9][0-9][0-9] |.*/\1/p' "$guide"); do
    printf '%s\n' "$codes" | grep -q -x -F "$c" ||
        fail "reason $c is documented but lib/pds_reason.c has no such code"
done

n=$(printf '%s\n' "$reasons" | wc -l)
guard_verdict "reasons documented: $bad problem(s) (checked $n reason codes)" \
    "reasons documented ($n reason codes in docs/problems.md and docs/admin-guide.md)"
