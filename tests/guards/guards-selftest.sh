#!/bin/sh
# shellcheck disable=SC2016  # backticks in patterns are literal Markdown
# guards-selftest.sh: tests the guard scripts themselves. Builds small temp
# trees, each with one violation, and checks that the guard fails on it with
# a message naming the problem; the clean trees must pass. The trees are
# built here; most cases are rows of guards-selftest.cases (at the end).
# Run: sh tests/guards/guards-selftest.sh   (exit 0 when every case behaves)
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pds-guards.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT HUP INT TERM

ok=0
bad=0

# expect pass|fail GUARD TREE [SUBSTRING]: runs GUARD on TREE; on "fail" the
# output must contain SUBSTRING.
expect() {
    want=$1 guard=$2 tree=$3 needle=${4:-}
    out=$(top_srcdir="$tree" sh "$here/$guard" 2>&1)
    rc=$?
    if case $want in
           pass) [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^PASS: ' ;;
           fail) [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q -F -- "$needle" ;;
       esac
    then
        ok=$((ok + 1))
    else
        bad=$((bad + 1))
        echo "FAILED CASE: $guard on $(basename "$tree") should $want${needle:+ with \"$needle\"} (rc=$rc):"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

# A minimal clean tree: one directive of each form, documented and used.
clean_tree() {
    t=$work/$1
    mkdir -p "$t/lib" "$t/mod_pds" "$t/docs" "$t/conf"
    cat >"$t/lib/pds_agreement.h" <<'EOF'
/* pds_agreement.h
 *
 * Keywords (case-insensitive):
 *   Party       <organisation>               exactly once
 *   LegalBasis  consent | contract |
 *               public-task                   exactly once
 *   Valid       <YYYY-MM-DD> <YYYY-MM-DD>    exactly once; UTC, both days
 *                                            included (from 00:00:00)
 *
 * A resource template is ...
 */
#include <apr_pools.h>
EOF
    cat >"$t/lib/pds_x.c" <<'EOF'
/* Unlike ap_log_error(), the library never logs; see httpd.h for that. */
#include <apr_strings.h>
#include "pds_agreement.h"
static const char *s = "ap_fake(";
int pds_cap_it(void);
int pds_cap_it(void) { return apr_pool_create(0, 0) + (s != 0); }
EOF
    cat >"$t/mod_pds/mod_pds_config.c" <<'EOF'
#include "httpd.h"
/* PDS00001 is mentioned here in a comment only. */
static void f(void) { ap_log_error(APLOG_MARK, 0, 0, 0, "PDS00001: one"); }
static void g(void) { ap_log_error(APLOG_MARK, 0, 0, 0, "PDS00002: two"); }
const command_rec pds_directives[] = {
    AP_INIT_TAKE1("PDSAuditLog", f, NULL, RSRC_CONF, "help"),
    AP_INIT_RAW_ARGS("<PDSAgreement", g, NULL, RSRC_CONF, "help"),
    AP_INIT_FLAG(
        "PDSGateway", g, NULL, ACCESS_CONF, "help"),
    { NULL }
};
EOF
    cat >"$t/docs/directives.md" <<'EOF'
# mod_pds
## `<PDSAgreement>`
### Party
### LegalBasis
### `Valid`
## PDSAuditLog
## PDSGateway
## Field paths
EOF
    cat >"$t/conf/pds-example.conf" <<'EOF'
# comment
PDSAuditLog /var/log/pds.jsonl
<PDSAgreement a>
    party x
    LegalBasis public-task
    Valid 2026-01-01 2026-12-31
</PDSAgreement>
<Location />
    PDSGateway on
</Location>
EOF
    echo "$t"
}

# --- lib-boundary.sh --------------------------------------------------------
t=$(clean_tree lb-clean); expect pass lib-boundary.sh "$t"
for inc in '"httpd.h"' '<http_log.h>' '"ap_config.h"' '<util_filter.h>' \
           '"mod_ssl.h"' '"mpm_common.h"' '<apache2/httpd.h>'; do
    t=$(clean_tree "lb-inc-$(echo "$inc" | tr -cd 'a-z_')")
    printf '#include %s\n' "$inc" >>"$t/lib/pds_x.c"
    expect fail lib-boundary.sh "$t" "lib/pds_x.c:7: includes an httpd header"
done

# --- log-tags-unique.sh ------------------------------------------------------
t=$(clean_tree lt-clean); expect pass log-tags-unique.sh "$t"
out=$(top_srcdir="$t" sh "$here/log-tags-unique.sh")
case $out in *"(2 tags)"*) ok=$((ok + 1)) ;; *) bad=$((bad + 1)); echo "FAILED CASE: tag count: $out" ;; esac

# --- directives-documented.sh --------------------------------------------------
t=$(clean_tree dd-clean); expect pass directives-documented.sh "$t"

# --- reasons-documented.sh ----------------------------------------------------
reasons_tree() {
    t=$(clean_tree "$1")
    cat >"$t/lib/pds_reason.c" <<'EOF'
static const pds_reason_t reasons[] = {
    /* { "commented-out", 499, "x" }, */
    { "no-agreement",            403, "No agreement covers this request" },
    { "backend-error",           502, "Back end failed" },
    { NULL, 0, NULL }
};
EOF
    cat >"$t/docs/problems.md" <<'EOF'
# Problems
## Is it allowed
<a id="no-agreement"></a>
### no-agreement

**403** · *No agreement covers this request*

### backend-error
**502** · *Back end failed*
EOF
    cat >"$t/docs/admin-guide.md" <<'EOF'
| reason | status | what happened | what to do |
|--------|--------|---------------|------------|
| `no-agreement` | 403 | none | check |
| `backend-error` | 502 | failed | check |
EOF
    echo "$t"
}
t=$(reasons_tree rd-clean); expect pass reasons-documented.sh "$t"

# --- docs-match-code.sh -----------------------------------------------------
docs_tree() {
    t=$(clean_tree "$1")
    cat >"$t/mod_pds/mod_pds_private.h" <<'EOF'
#define PDS_DEFAULT_MAX_BODY        ((apr_off_t)1048576)
#define PDS_DEFAULT_CONSENT_TIMEOUT_MS 2000
EOF
    cat >"$t/mod_pds/mod_pds_config.c" <<'EOF'
#include "mod_pds_private.h"
apr_off_t pds_conf_max_body(const pds_dir_conf_t *dc)
{
    return dc->max_body != -1 ? dc->max_body
                              : PDS_DEFAULT_MAX_BODY;
}
int pds_conf_consent_timeout(const pds_server_conf_t *sc)
{
    return sc->consent_timeout_ms != -1 ? sc->consent_timeout_ms : PDS_DEFAULT_CONSENT_TIMEOUT_MS;
}
static const char *main_server_only(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}
static const char *cmd_audit_log(cmd_parms *cmd, void *dummy, const char *arg)
{
    sc->audit_log_path = arg;
    return NULL;
}
static const char *cmd_gateway(cmd_parms *cmd, void *dcv, int on)
{
    dc->gateway = on;
    return NULL;
}
static const char *cmd_max_body(cmd_parms *cmd, void *dcv, const char *arg)
{
    dc->max_body = 5; /* sc->consent_timeout_ms = 1 in a comment */
    return NULL;
}
static pds_int_slot_t store_timeout = PDS_SERVER_INT(consent_timeout_ms, PDS_IN_MAIN_SERVER, 10, 60000);
static const char *set_int_slot(cmd_parms *cmd, void *dcv, const char *arg)
{
    const pds_int_slot_t *slot = cmd->cmd->cmd_data;
    if (slot->where == PDS_IN_MAIN_SERVER)
        return main_server_only(cmd);
    return NULL;
}
const command_rec pds_directives[] = {
    AP_INIT_TAKE1("PDSAuditLog", cmd_audit_log, NULL, RSRC_CONF, "help"),
    AP_INIT_FLAG("PDSGateway", cmd_gateway, NULL, ACCESS_CONF,
        "On: enforce (default off)"),
    AP_INIT_TAKE1("PDSMaxBodySize", cmd_max_body, NULL, ACCESS_CONF, "Largest body (default 1048576)"),
    AP_INIT_TAKE1("PDSConsentStoreTimeout", set_int_slot, &store_timeout, RSRC_CONF, "ms (default 2000)"),
    { NULL }
};
EOF
    cat >"$t/mod_pds/mod_pds_audit.c" <<'EOF'
static apr_status_t open_file(apr_file_t **pf, const char *path, apr_pool_t *p)
{
    return apr_file_open(pf, path,
                         APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                         APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
}
EOF
    cat >"$t/docs/directives.md" <<'EOF'
# mod_pds
## PDSAuditLog

|                  |                       |
|------------------|-----------------------|
| **Syntax:**      | `PDSAuditLog file-path` |
| **Default:**     | none                  |
| **Context:**     | server config, virtual host |

```apache
# a comment in an example is not a heading
PDSAuditLog logs/audit.jsonl
```

## PDSGateway

| **Syntax:**      | `PDSGateway on\|off`  |
| **Default:**     | `PDSGateway off`      |
| **Context:**     | directory             |

## PDSMaxBodySize

| **Default:**     | `PDSMaxBodySize 1048576` |
| **Context:**     | directory             |

## PDSConsentStoreTimeout

| **Default:**     | `PDSConsentStoreTimeout 2000` |
| **Context:**     | server config         |
EOF
    cat >"$t/docs/admin-guide.md" <<'EOF'
# Guide

## Reading the audit log

```sh
# a comment in a code block
jq . pds-audit.jsonl
```

The file is created with mode 0600 by the user httpd starts as. Keep the
audit log in its own directory, e.g. `/var/log/pds`, mode 0750.

## Keys

The audit log's key, `/etc/pds/audit.key`, mode 0400, is another file.
The audit log cannot be opened, or the consent store cannot be made mode 0640.
EOF
    echo "$t"
}
t=$(docs_tree dm-clean); expect pass docs-match-code.sh "$t"
out=$(top_srcdir="$t" sh "$here/docs-match-code.sh")
case $out in *"(4 directives"*"mode 0600 in 1 sentence(s))"*) ok=$((ok + 1)) ;;
    *) bad=$((bad + 1)); echo "FAILED CASE: docs-match-code counts: $out" ;; esac

# --- glue-layers.sh -------------------------------------------------------
# A glue of three layers: util (1) <- audit (2) <- request (3).
layers_tree() {
    t=$work/$1
    mkdir -p "$t/mod_pds" "$t/docs"
    cat >"$t/docs/architecture.md" <<'EOF'
# architecture

| file | layer | what |
|---|---|---|
| `mod_pds/mod_pds_util.c` | 1 | helpers |
| `mod_pds/mod_pds_util.h` | 1 | |
| `mod_pds/mod_pds_audit.c` | 2 | audit |
| `mod_pds/mod_pds_audit.h` | 2 | |
| `mod_pds/mod_pds_request.c` | 3 | hooks |
EOF
    printf '#include "mod_pds_util.h"\n' >"$t/mod_pds/mod_pds_util.c"
    printf '/* util */\n' >"$t/mod_pds/mod_pds_util.h"
    printf '#include "httpd.h"\n#include "mod_pds_audit.h"\n#include "mod_pds_util.h"\n' \
        >"$t/mod_pds/mod_pds_audit.c"
    printf '#include "mod_pds_util.h"\n' >"$t/mod_pds/mod_pds_audit.h"
    cat >"$t/mod_pds/mod_pds_request.c" <<'EOF'
#include "mod_pds_audit.h"
/* #include "mod_pds_nowhere.h" is only a comment */
#include "mod_pds_util.h"
EOF
    echo "$t"
}
t=$(layers_tree gl-clean); expect pass glue-layers.sh "$t"

# --- the table of cases: tests/guards/guards-selftest.cases -----------------
# A case is a line "pass|fail TREE CASE GUARD" (TREE: one of the *_tree
# functions above), then indented lines: "needle: TEXT", what the failing
# guard must say, and the edit: shell commands that break the new tree $t.
run_case() {
    [ -n "$case_head" ] || return 0
    # shellcheck disable=SC2086  # the head's four words
    set -- $case_head
    t=$($2 "$3")
    eval "$case_edit" </dev/null
    expect "$1" "$4" "$t" "$case_needle" </dev/null
}
case_head=""
while IFS= read -r line; do
    case $line in
        "#"*) ;;
        "  needle: "*) case_needle=${line#"  needle: "} ;;
        "  "*) case_edit="$case_edit${line#"  "}
" ;;
        *) run_case; case_head=$line case_needle="" case_edit="" ;;
    esac
done <"$here/guards-selftest.cases"
run_case

echo "guards self-test: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
