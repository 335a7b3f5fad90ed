#!/bin/sh
# Guard: what docs/directives.md and the other pages state about the code,
# wherever it can be checked mechanically (STYLE.md, "docs drifting from
# code": mod_auth_openidc's docs said one thing and its code another).
#   1. Context: every directive's "**Context:**" row in docs/directives.md is
#      the scope of its entry in the command table (AP_INIT_*("Name", handler,
#      NULL, SCOPE, ...) in mod_pds/*.c), written as httpd's docs write it:
#      RSRC_CONF "server config, virtual host" ("server config" alone when
#      the handler refuses virtual hosts: main_server_only() or GLOBAL_ONLY),
#      ACCESS_CONF "directory", OR_* "directory, .htaccess".
#   2. Default: the "**Default:**" row names the default the code applies.
#      A default lives in a getter: a row of a member list (`VALUE(type,
#      FIELD, getter, PDS_..._DEFAULT_...)`, or STRING/FLAG(FIELD, getter,
#      PDS_..._DEFAULT_...), in mod_pds/mod_pds_config.h) or a hand-written
#      one (`return c->FIELD ... : PDS_..._DEFAULT_...;` in mod_pds/*.c);
#      the directive is the one whose handler assigns FIELD (`->FIELD =`),
#      or whose row's cmd->info is a `pds_int_slot_t` naming FIELD (the
#      shared whole-number handler);
#      the macro's value (#define in mod_pds/ or lib/) must be a word of the
#      row. The "(default X)" of the table's help text (httpd -L shows it)
#      must be in the row too.
#   3. Syntax: an AP_INIT_FLAG directive's "**Syntax:**" row says on|off.
#   4. Audit log mode: a sentence of README.md or docs/*.md that gives a file
#      mode ("mode 0640") and speaks of the audit log (or of "the file" under
#      a heading that names the audit log) gives the mode the code creates
#      the log with: the APR_FPROT_* flags of the apr_file_open(...
#      APR_FOPEN_CREATE ...) call in mod_pds/mod_pds_audit.c. A mode with
#      "director...", "key", "store", "consent", "database", "-wal" or "-shm"
#      in the 60 characters before it is another file's, and is skipped.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guards/guard-lib.sh
. "$here/guard-lib.sh"    # set -u; src, the source tree
docs="$src/docs/directives.md"
audit_c="$src/mod_pds/mod_pds_audit.c"

guard_need_files "docs match code" "$docs" "$audit_c"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pds-guard-docs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM

# The C sources without comments, one line per line, and all in one line.
for f in "$src"/mod_pds/*.c; do
    [ -f "$f" ] && guard_strip_c keep "$f"
done >"$tmp/code.c"
tr '\n\t' '  ' <"$tmp/code.c" >"$tmp/code.line"

# name handler kind scope info (scope flags joined with '|', no spaces;
# info is the row's cmd->info, without a leading '&').
awk '{
    s = $0
    while (match(s, /AP_INIT_[A-Z0-9_]+[ ]*\([ ]*"[^"]+"[ ]*,[ ]*[A-Za-z_][A-Za-z0-9_]*[ ]*,[^,]*,[ A-Z_|]+,/)) {
        e = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        kind = e; sub(/^AP_INIT_/, "", kind); sub(/[ (].*/, "", kind)
        name = e; sub(/^[^"]*"/, "", name); sub(/".*/, "", name)
        rest = e; sub(/^[^"]*"[^"]*"[ ]*,[ ]*/, "", rest)
        handler = rest; sub(/[ ,].*/, "", handler)
        n = split(rest, parts, ",")
        scope = parts[3]; gsub(/ /, "", scope)
        info = parts[2]; gsub(/ /, "", info); sub(/^&/, "", info)
        print name, handler, kind, scope, (info == "" ? "NULL" : info)
    }
}' "$tmp/code.line" >"$tmp/table"
if [ ! -s "$tmp/table" ]; then
    echo "FAIL: docs match code: no directive table (AP_INIT_*(\"Name\", handler, NULL, SCOPE, ...)) in mod_pds/*.c" >&2
    exit 1
fi

# handler field global: the struct members each handler assigns, and
# whether it refuses virtual hosts (handlers are `const char *name(...)`
# functions, static or not).
awk '
    /^(static )?const char \*[A-Za-z_][A-Za-z0-9_]*\(/ {
        h = $0; sub(/^(static )?const char \*/, "", h); sub(/\(.*/, "", h)
        body = ""; inside = 1
    }
    inside { body = body " " $0 }
    inside && /^}/ {
        inside = 0
        global = (body ~ /main_server_only\(|GLOBAL_ONLY/) ? 1 : 0
        printed = 0
        s = body
        while (match(s, /->[a-z_][a-z0-9_]*[ ]*=[^=]/)) {
            fld = substr(s, RSTART + 2, RLENGTH - 2); sub(/[ ]*=.*/, "", fld)
            s = substr(s, RSTART + RLENGTH)
            print h, fld, global; printed = 1
        }
        if (!printed) print h, "-", global
    }' "$tmp/code.c" >"$tmp/handlers"

# slot field global: a shared handler's cmd->info names the member it sets,
# `pds_int_slot_t NAME = MACRO(FIELD, ...);` (mod_pds/mod_pds_config.c);
# PDS_IN_MAIN_SERVER among its arguments refuses virtual hosts.
awk '{
    s = $0
    while (match(s, /pds_int_slot_t[ ]+[A-Za-z_][A-Za-z0-9_]*[ ]*=[ ]*[A-Z_]+[ ]*\([ ]*[a-z_][a-z0-9_]*[^;]*;/)) {
        e = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        sub(/^pds_int_slot_t[ ]+/, "", e)
        slot = e; sub(/[ =].*/, "", slot)
        fld = e; sub(/^[^(]*\([ ]*/, "", fld); sub(/[^a-z0-9_].*/, "", fld)
        print slot, fld, (e ~ /PDS_IN_MAIN_SERVER/ ? 1 : 0)
    }
}' "$tmp/code.line" >"$tmp/slots"

# field macro: defaults applied in getters, written by hand or from a
# member list row (mod_pds/mod_pds_config.h): VALUE(type, FIELD, getter,
# MACRO), STRING(FIELD, getter, MACRO) or FLAG(FIELD, getter, MACRO).
for f in "$src"/mod_pds/*.h "$src"/mod_pds/*.c; do
    [ -f "$f" ] && guard_strip_c keep "$f"
done | tr '\n\t\\' '   ' | awk '{
    s = " " $0
    while (match(s, /[^A-Za-z0-9_](VALUE|STRING|FLAG)[ ]*\([^()]*\)/)) {
        e = substr(s, RSTART + 1, RLENGTH - 1)
        s = substr(s, RSTART + RLENGTH)
        kind = e; sub(/[ (].*/, "", kind)
        sub(/^[A-Z]+[ ]*\(/, "", e); sub(/\)$/, "", e); gsub(/ /, "", e)
        n = split(e, arg, ",")
        if (n != (kind == "VALUE" ? 4 : 3) || arg[n] !~ /^PDS_[A-Z0-9_]*DEFAULT[A-Z0-9_]*$/) continue
        print arg[kind == "VALUE" ? 2 : 1], arg[n]
    }
}' >"$tmp/getters"
awk '{
    s = $0
    while (match(s, /return [a-z_]+->[a-z_][a-z0-9_]*[^;]*:[ ]*PDS_[A-Z0-9_]*DEFAULT[A-Z0-9_]*[ ]*;/)) {
        e = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        fld = e; sub(/^return [a-z_]+->/, "", fld); sub(/[^a-z0-9_].*/, "", fld)
        mac = e; sub(/.*:[ ]*/, "", mac); sub(/[ ;].*/, "", mac)
        print fld, mac
    }
}' "$tmp/code.line" >>"$tmp/getters"

# macro value, from every header and source of mod_pds/ and lib/.
for f in "$src"/mod_pds/*.h "$src"/mod_pds/*.c "$src"/lib/*.h "$src"/lib/*.c; do
    [ -f "$f" ] && guard_strip_c keep "$f"
done | awk '/^[ ]*#[ ]*define[ ]+PDS_[A-Z0-9_]*DEFAULT[A-Z0-9_]*[ ]/ {
    mac = $0; sub(/^[ ]*#[ ]*define[ ]+/, "", mac); val = mac
    sub(/[ ].*/, "", mac); sub(/^[A-Z0-9_]+[ ]+/, "", val)
    if (match(val, /"[^"]*"/)) val = substr(val, RSTART + 1, RLENGTH - 2)
    else {
        gsub(/\([a-z_ ]+\)/, "", val)        # casts such as (apr_off_t)
        gsub(/[() ]/, "", val)
    }
    print mac, val
}' >"$tmp/macros"

# name|Context|Default|Syntax rows of each directive section of the docs.
awk '
    function flush() { if (name != "") print name "\t" ctx "\t" def "\t" syn }
    function cell(line) {
        sub(/^\|[^|]*\|[ ]*/, "", line); sub(/[ ]*\|[ ]*$/, "", line)
        gsub(/`/, "", line); gsub(/\\\|/, "|", line)
        return line
    }
    /^[ ]*```/ { fence = !fence; next }
    fence { next }
    /^#+[ ]/ {
        flush(); name = ""; ctx = def = syn = "-"
        h = $0; sub(/^#+[ ]*/, "", h); gsub(/`/, "", h)
        gsub(/&lt;/, "<", h); gsub(/&gt;/, ">", h)
        if (match(h, /^<?PDS[A-Za-z0-9]+/)) {
            name = substr(h, 1, RLENGTH)
            if (substr(name, 1, 1) == "<" && substr(h, RLENGTH + 1, 1) != ">") name = ""
        }
        next
    }
    name != "" && /^\|[ ]*\*\*Context:\*\*/ { ctx = cell($0) }
    name != "" && /^\|[ ]*\*\*Default:\*\*/ { def = cell($0) }
    name != "" && /^\|[ ]*\*\*Syntax:\*\*/ { syn = cell($0) }
    END { flush() }' "$docs" >"$tmp/docs"

bad=0
fail() { echo "$1" >&2; bad=$((bad + 1)); }
checked=0
ndefaults=0

while read -r name handler kind scope info; do
    row=$(awk -F '\t' -v n="$name" '$1 == n' "$tmp/docs")
    if [ -z "$row" ]; then
        # directives-documented.sh reports a missing section.
        continue
    fi
    checked=$((checked + 1))
    ctx=$(printf '%s\n' "$row" | cut -f 2)
    def=$(printf '%s\n' "$row" | cut -f 3)
    syn=$(printf '%s\n' "$row" | cut -f 4)
    global=$(awk -v h="$handler" '$1 == h { print $3; exit }' "$tmp/handlers")
    fields=$(awk -v h="$handler" '$1 == h && $2 != "-" { print $2 }' "$tmp/handlers")
    slot=$(awk -v i="$info" '$1 == i { print $2, $3; exit }' "$tmp/slots")
    if [ -n "$slot" ]; then
        fields=${slot% *}
        global=${slot#* }
    fi

    want=""
    case "|$scope|" in
        *"|RSRC_CONF|"*)
            if [ "$global" = 1 ]; then want="server config"
            else want="server config, virtual host"; fi ;;
    esac
    case "|$scope|" in
        *"|ACCESS_CONF|"*|*"|OR_"*) want="${want:+$want, }directory" ;;
    esac
    case "|$scope|" in
        *"|OR_"*) want="$want, .htaccess" ;;
    esac
    if [ -z "$want" ]; then
        fail "directive $name: scope '$scope' in the command table is not one this guard knows"
    elif [ "$ctx" != "$want" ]; then
        fail "directive $name: docs/directives.md says Context '$ctx'; the command table ($scope$( [ "$global" = 1 ] && echo ', main server only')) means '$want'"
    fi

    # Defaults the getters apply to the fields this handler sets.
    for fld in $(printf '%s\n' "$fields" | sort -u); do
        for mac in $(awk -v f="$fld" '$1 == f { print $2 }' "$tmp/getters"); do
            ndefaults=$((ndefaults + 1))
            val=$(awk -v m="$mac" '$1 == m { print $2; exit }' "$tmp/macros")
            if [ -z "$val" ]; then
                fail "directive $name: default macro $mac (getter of ->$fld) has no #define in mod_pds/ or lib/"
                continue
            fi
            printf '%s\n' "$def" | tr -c 'A-Za-z0-9_.-' '\n' | grep -q -x -F -- "$val" ||
                fail "directive $name: docs/directives.md says Default '$def'; the code's default is $val ($mac)"
        done
    done

    # The "(default X)" of the help text.
    help=$(tr '\n' ' ' <"$tmp/code.line" | awk -v n="$name" '{
        i = index($0, "\"" n "\"")
        if (i == 0) exit
        s = substr($0, i)
        j = index(s, "),")
        if (j > 0) s = substr(s, 1, j)
        if (match(s, /\(default [^),]+/)) print substr(s, RSTART + 9, RLENGTH - 9)
    }')
    for w in $help; do
        case $w in seconds|second|bytes|ms) continue ;; esac
        printf '%s\n' "$def" | tr -c 'A-Za-z0-9_.-' '\n' | grep -q -x -F -- "$w" ||
            fail "directive $name: the command table's help says '(default $help)'; docs/directives.md's Default row '$def' does not say $w"
    done

    if [ "$kind" = FLAG ]; then
        case $syn in
            *"on|off"*) ;;
            *) fail "directive $name: an AP_INIT_FLAG directive, but docs/directives.md's Syntax '$syn' does not say on|off" ;;
        esac
    fi
done <"$tmp/table"

# 4. The audit log file's mode.
mode=$(awk '
    /apr_file_open[ ]*\(/ { on = 1; stmt = "" }
    on { stmt = stmt " " $0 }
    on && /;/ {
        on = 0
        if (stmt ~ /APR_FOPEN_CREATE/) {
            m = 0
            if (stmt ~ /APR_FPROT_UREAD/) m += 256
            if (stmt ~ /APR_FPROT_UWRITE/) m += 128
            if (stmt ~ /APR_FPROT_UEXECUTE/) m += 64
            if (stmt ~ /APR_FPROT_GREAD/) m += 32
            if (stmt ~ /APR_FPROT_GWRITE/) m += 16
            if (stmt ~ /APR_FPROT_GEXECUTE/) m += 8
            if (stmt ~ /APR_FPROT_WREAD/) m += 4
            if (stmt ~ /APR_FPROT_WWRITE/) m += 2
            if (stmt ~ /APR_FPROT_WEXECUTE/) m += 1
            if (stmt ~ /APR_FPROT_OS_DEFAULT|APR_OS_DEFAULT/) { print "default"; exit }
            printf "0%o\n", m
            exit
        }
    }' "$audit_c")
case $mode in
    0[0-7][0-7][0-7]) ;;
    *)
        fail "audit log mode: no apr_file_open(... APR_FOPEN_CREATE ..., APR_FPROT_* ...) in mod_pds/mod_pds_audit.c to read the mode from"
        mode="" ;;
esac
nsent=0
if [ -n "$mode" ]; then
    : >"$tmp/modes"
    for f in "$src/README.md" "$src"/docs/*.md; do
        [ -f "$f" ] || continue
        awk -v want="$mode" -v file="${f#"$src"/}" '
            function check(par,    n, i, sent, low, m, before) {
                n = split(par, sent, /\. +/)
                for (i = 1; i <= n; i++) {
                    low = tolower(sent[i])
                    if (index(low, "audit log") == 0 && !(insection && low ~ /(^|[^a-z])file([^a-z]|$)/)) continue
                    while (match(low, /mode 0[0-7][0-7][0-7]/)) {
                        m = substr(low, RSTART + 5, 4)
                        before = substr(low, RSTART > 60 ? RSTART - 60 : 1, RSTART > 60 ? 60 : RSTART - 1)
                        low = substr(low, RSTART + RLENGTH)
                        # Another file'"'"'s mode (a directory, a key, the consent
                        # store), named just before.
                        if (before ~ /director|key|store|consent|database|-wal|-shm/) continue
                        print (m == want ? "ok" : "bad") "\t" file "\t" m "\t" sent[i]
                    }
                }
            }
            /^[ ]*```/ { fence = !fence; check(par); par = ""; next }
            fence { next }
            /^[ ]*$/ { check(par); par = ""; next }
            /^#+[ ]/ {
                check(par); par = ""
                insection = index(tolower($0), "audit log") > 0
                next
            }
            { par = par " " $0 }
            END { check(par) }' "$f" >>"$tmp/modes" ||
            fail "audit log mode: could not read ${f#"$src"/}"
    done
    nsent=$(grep -c . "$tmp/modes")
    while IFS="$(printf '\t')" read -r verdict file m sentence; do
        [ "$verdict" = bad ] &&
            fail "$file: says the audit log's mode is $m; mod_pds/mod_pds_audit.c creates it with $mode:$sentence"
    done <"$tmp/modes"
fi

guard_verdict "docs match code: $bad problem(s) ($checked directives checked)" \
    "docs match code ($checked directives: Context, Default ($ndefaults from the code), Syntax; audit log mode $mode in $nsent sentence(s))"
