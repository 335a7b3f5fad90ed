#!/bin/sh
# Guard: lib/ knows nothing of httpd (STYLE.md, "Layout and naming").
# Fails if any C source or header under lib/ includes an httpd header
# (httpd.h, http_*.h, ap_*.h, util_*.h, mod_*.h, mpm*.h) or calls an ap_*()
# function. Comments are ignored; string literals are ignored for calls.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree

if [ ! -d "$src/lib" ]; then
    echo "FAIL: lib/ boundary: no lib/ directory under $src" >&2
    exit 1
fi

files=$(cd "$src" && find lib -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "FAIL: lib/ boundary: no C sources under $src/lib" >&2
    exit 1
fi

inc_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*/)?(httpd|http_[^>"/]*|ap_[^>"/]*|util_[^>"/]*|mod_[^>"/]*|mpm[^>"/]*)\.h[>"]'
call_re='(^|[^A-Za-z0-9_])ap_[a-z_]+[[:space:]]*\('

bad=0
nfiles=0
# report FILE WHAT HITS: a line per grep -n hit ("FILE:LINE: WHAT:text"),
# each counted in bad.
report() {
    if [ -n "$3" ]; then
        echo "$3" | while IFS= read -r h; do
            echo "$1:${h%%:*}: $2:${h#*:}" >&2
        done
        bad=$((bad + $(echo "$3" | wc -l)))
    fi
}
for f in $files; do
    nfiles=$((nfiles + 1))
    report "$f" "includes an httpd header" "$(guard_strip_c keep "$src/$f" | grep -n -E "$inc_re")"
    report "$f" "calls an httpd function" "$(guard_strip_c blank "$src/$f" | grep -n -E "$call_re")"
done

guard_verdict "lib/ boundary: $bad violation(s); lib/ may use APR, jansson and OpenSSL only (move httpd code to mod_pds/)" \
    "lib/ boundary ($nfiles files, no httpd headers or ap_ calls)"
