# guard-lib.sh: helpers shared by the guard scripts (sourced, not run).
# POSIX sh and POSIX awk (Debian's default awk is mawk).

# The source tree: $top_srcdir as exported by `make check`, else two levels
# above the calling script (tests/guards/ -> top).
guard_srcdir() {
    if [ -n "${top_srcdir:-}" ]; then
        (cd "$top_srcdir" && pwd)
    else
        (cd "$(dirname "$1")/../.." && pwd)
    fi
}

# Sourcing this file is a guard's prologue: unset variables are errors, and
# src is the source tree of the guard that sources it ($0).
set -u
src=$(guard_srcdir "$0")

# guard_need_files WHAT FILE...: each FILE (a path under $src) exists, or
# the guard stops here: "FAIL: WHAT: missing FILE" (relative to $src), exit 1.
guard_need_files() {
    what=$1
    shift
    for f in "$@"; do
        if [ ! -f "$f" ]; then
            echo "FAIL: $what: missing ${f#"$src"/}" >&2
            exit 1
        fi
    done
}

# guard_verdict FAILTEXT PASSTEXT: the guard's last word. With $bad not 0,
# "FAIL: FAILTEXT" on stderr and exit 1; else "PASS: PASSTEXT" and exit 0.
guard_verdict() {
    if [ "$bad" -ne 0 ]; then
        echo "FAIL: $1" >&2
        exit 1
    fi
    echo "PASS: $2"
    exit 0
}

# guard_strip_c keep|blank FILE
# Prints FILE with C comments removed, line for line (so grep -n still gives
# the right line numbers). With "blank", the contents of string and character
# literals become spaces too, so that code is all that is left.
guard_strip_c() {
    awk -v mode="$1" '
    BEGIN { incom = 0 }
    {
        line = $0; out = ""; n = length(line); i = 1; quote = ""
        while (i <= n) {
            c = substr(line, i, 1)
            d = substr(line, i + 1, 1)
            if (incom) {
                if (c == "*" && d == "/") { incom = 0; out = out " "; i += 2 }
                else i++
                continue
            }
            if (quote != "") {
                if (c == "\\") {
                    out = out (mode == "keep" ? c d : "  "); i += 2; continue
                }
                if (c == quote) quote = ""
                out = out ((mode == "keep" || c == quote || quote == "") ? c : " ")
                i++
                continue
            }
            if (c == "/" && d == "*") { incom = 1; i += 2; continue }
            if (c == "/" && d == "/") break
            if (c == "\"" || c == "\047") quote = c
            out = out c
            i++
        }
        print out
    }' "$2"
}
