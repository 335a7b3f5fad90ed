#!/bin/sh
# Guard: the docs and the example configuration keep up with the code
# (STYLE.md, "docs drifting from code").
#   1. every directive the module defines (AP_INIT_*("Name", ... in
#      mod_pds/*.c, the container "<PDSAgreement" included) has a heading in
#      docs/directives.md that starts with its name, and is used on a
#      non-comment line of conf/pds-example.conf;
#   2. every keyword of the "Keywords" list in lib/pds_agreement.h's header
#      comment has a heading in docs/directives.md and is used in
#      conf/pds-example.conf;
#   3. no heading in docs/directives.md documents a PDS* directive the module
#      does not define (stale docs).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree
docs="$src/docs/directives.md"
example="$src/conf/pds-example.conf"
agreement_h="$src/lib/pds_agreement.h"

directives=$(
    for f in "$src"/mod_pds/*.c; do
        [ -f "$f" ] || continue
        guard_strip_c keep "$f"
    done | tr '\n' ' ' |
    grep -o -E 'AP_INIT_[A-Z0-9_]+[[:space:]]*\([[:space:]]*"[^"]+"' |
    sed -e 's/^[^"]*"//' -e 's/"$//' | LC_ALL=C sort -u
)
if [ -z "$directives" ]; then
    echo "FAIL: directives documented: no directives found in mod_pds/*.c (no AP_INIT_*(\"Name\", ...) entries; is the directive table written yet?)" >&2
    exit 1
fi

guard_need_files "directives documented" "$docs" "$example" "$agreement_h"

keywords=$(awk '
    /Keywords/ { on = 1; next }
    on && /^ \*[[:space:]]*$/ { exit }
    on && /^ \*[[:space:]]+[A-Z][A-Za-z]*[[:space:]]/ { sub(/^ \*[[:space:]]+/, ""); sub(/[[:space:]].*/, ""); print }
' "$agreement_h")
if [ -z "$keywords" ]; then
    echo "FAIL: directives documented: no \"Keywords\" list found in the header comment of lib/pds_agreement.h" >&2
    exit 1
fi

# Heading texts of the docs, backticks removed and &lt; &gt; decoded.
headings=$(grep -E '^#{1,6}[[:space:]]' "$docs" |
    sed -e 's/^#*[[:space:]]*//' -e 's/`//g' -e 's/&lt;/</g' -e 's/&gt;/>/g')
# Lines of the example that are not comments.
conf_lines=$(grep -v -E '^[[:space:]]*(#|$)' "$example")

bad=0
fail() { echo "$1" >&2; bad=$((bad + 1)); }

for d in $directives; do
    case $d in
        \<*) name=${d#<}; head_re="^<$name([^A-Za-z0-9_]|\$)"; conf_re="^[[:space:]]*<$name([[:space:]]|>)" ;;
        *) name=$d; head_re="^$name([^A-Za-z0-9_]|\$)"; conf_re="^[[:space:]]*$name([[:space:]]|\$)" ;;
    esac
    case $name in
        *[!A-Za-z0-9]*|'') fail "unexpected directive name \"$d\" in mod_pds/*.c"; continue ;;
    esac
    printf '%s\n' "$headings" | grep -q -E "$head_re" ||
        fail "directive $d: no heading starting with \"$d\" in docs/directives.md"
    printf '%s\n' "$conf_lines" | grep -q -i -E "$conf_re" ||
        fail "directive $d: not used in conf/pds-example.conf"
done

for k in $keywords; do
    printf '%s\n' "$headings" | grep -q -E "^$k([^A-Za-z0-9_]|\$)" ||
        fail "<PDSAgreement> keyword $k: no heading starting with \"$k\" in docs/directives.md"
    printf '%s\n' "$conf_lines" | grep -q -i -E "^[[:space:]]*$k([[:space:]]|\$)" ||
        fail "<PDSAgreement> keyword $k: not used in conf/pds-example.conf"
done

# Headings that document a PDS* directive must name one the module defines.
stale=$(printf '%s\n' "$headings" | grep -o -E '^<?PDS[A-Z][A-Za-z0-9]*' | LC_ALL=C sort -u)
for h in $stale; do
    printf '%s\n' "$directives" | grep -q -x -F "$h" ||
        fail "docs/directives.md documents $h, which mod_pds/*.c does not define"
done

ndir=$(printf '%s\n' "$directives" | wc -l)
nkw=$(printf '%s\n' "$keywords" | wc -l)
guard_verdict "directives documented: $bad problem(s) (checked $ndir directives, $nkw agreement keywords)" \
    "directives documented ($ndir directives, $nkw agreement keywords in docs/directives.md and conf/pds-example.conf)"
