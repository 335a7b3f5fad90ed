#!/bin/sh
# shellcheck disable=SC2016  # backticks in patterns are literal Markdown
# guards-selftest.sh: tests the guard scripts themselves. Builds small temp
# trees, each with one violation, and checks that the guard fails on it with
# a message naming the problem; the clean trees must pass.
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
t=$(clean_tree lb-inc-spaced); printf '  #  include "httpd.h"\n' >>"$t/lib/pds_agreement.h"
expect fail lib-boundary.sh "$t" "lib/pds_agreement.h:13: includes an httpd header"
t=$(clean_tree lb-call); printf 'void h(void) { ap_log_error (0); }\n' >>"$t/lib/pds_x.c"
expect fail lib-boundary.sh "$t" "lib/pds_x.c:7: calls an httpd function"
t=$(clean_tree lb-call-sub); mkdir -p "$t/lib/sub"; printf 'int y = ap_pstrdup(0);\n' >"$t/lib/sub/y.h"
expect fail lib-boundary.sh "$t" "lib/sub/y.h:1: calls an httpd function"
t=$(clean_tree lb-block-comment)
printf '/*\n * #include "httpd.h"\n * ap_rputs(x);\n */\n' >>"$t/lib/pds_x.c"
expect pass lib-boundary.sh "$t"
t=$(clean_tree lb-nolib); rm -rf "${t:?}/lib"
expect fail lib-boundary.sh "$t" "no lib/ directory"

# --- log-tags-unique.sh ------------------------------------------------------
t=$(clean_tree lt-clean); expect pass log-tags-unique.sh "$t"
out=$(top_srcdir="$t" sh "$here/log-tags-unique.sh")
case $out in *"(2 tags)"*) ok=$((ok + 1)) ;; *) bad=$((bad + 1)); echo "FAILED CASE: tag count: $out" ;; esac
t=$(clean_tree lt-dup-files)
printf 'static void k(void) { log("PDS00002: again"); }\n' >>"$t/lib/pds_x.c"
expect fail log-tags-unique.sh "$t" "log tag PDS00002 is used at more than one site: lib/pds_x.c:7 mod_pds/mod_pds_config.c:4"
t=$(clean_tree lt-dup-line)
printf 'static void k(void) { log("PDS00003: a"); log("PDS00003: b"); }\n' >>"$t/mod_pds/mod_pds_config.c"
expect fail log-tags-unique.sh "$t" "log tag PDS00003 is used at more than one site"
t=$(clean_tree lt-macro)
printf 'static void k(void) { log(PDSLOGNO(00001) "x"); }\n' >>"$t/mod_pds/mod_pds_config.c"
expect fail log-tags-unique.sh "$t" "log tag PDS00001 is used at more than one site"
t=$(clean_tree lt-short)
printf 'static void k(void) { log("PDS0004: x"); }\n' >>"$t/mod_pds/mod_pds_config.c"
expect fail log-tags-unique.sh "$t" "malformed log tag PDS0004"
t=$(clean_tree lt-long)
printf 'static void k(void) { log("PDS000005: x"); }\n' >>"$t/mod_pds/mod_pds_config.c"
expect fail log-tags-unique.sh "$t" "malformed log tag PDS000005"

# --- directives-documented.sh --------------------------------------------------
t=$(clean_tree dd-clean); expect pass directives-documented.sh "$t"
t=$(clean_tree dd-none)
printf '#include "httpd.h"\n' >"$t/mod_pds/mod_pds_config.c"
expect fail directives-documented.sh "$t" "no directives found in mod_pds/*.c"
t=$(clean_tree dd-undocumented)
sed -i 's|{ NULL }|AP_INIT_TAKE1("PDSMaxDepth", f, NULL, ACCESS_CONF, "h"), { NULL }|' "$t/mod_pds/mod_pds_config.c"
printf 'PDSMaxDepth 8\n' >>"$t/conf/pds-example.conf"
expect fail directives-documented.sh "$t" 'directive PDSMaxDepth: no heading starting with "PDSMaxDepth"'
t=$(clean_tree dd-prefix-only)
sed -i 's|^## PDSGateway$|## PDSGatewayMode|' "$t/docs/directives.md"
expect fail directives-documented.sh "$t" 'directive PDSGateway: no heading'
t=$(clean_tree dd-container)
sed -i 's|^## `<PDSAgreement>`$|## Agreements|' "$t/docs/directives.md"
expect fail directives-documented.sh "$t" 'directive <PDSAgreement: no heading'
t=$(clean_tree dd-not-in-example)
sed -i 's|^PDSAuditLog|#PDSAuditLog|' "$t/conf/pds-example.conf"
expect fail directives-documented.sh "$t" "directive PDSAuditLog: not used in conf/pds-example.conf"
t=$(clean_tree dd-container-not-in-example)
sed -i -e 's|^<PDSAgreement a>|<IfModule x>|' -e 's|^</PDSAgreement>|</IfModule>|' "$t/conf/pds-example.conf"
expect fail directives-documented.sh "$t" "directive <PDSAgreement: not used in conf/pds-example.conf"
t=$(clean_tree dd-keyword-doc)
sed -i '/^### LegalBasis$/d' "$t/docs/directives.md"
expect fail directives-documented.sh "$t" '<PDSAgreement> keyword LegalBasis: no heading'
t=$(clean_tree dd-keyword-example)
sed -i '/Valid 2026/d' "$t/conf/pds-example.conf"
expect fail directives-documented.sh "$t" '<PDSAgreement> keyword Valid: not used in conf/pds-example.conf'
t=$(clean_tree dd-new-keyword)
sed -i 's|^ \*   Party |&|; /^ \*   Party/a\
 *   Release     <field path> ...             may repeat' "$t/lib/pds_agreement.h"
expect fail directives-documented.sh "$t" '<PDSAgreement> keyword Release: no heading'
t=$(clean_tree dd-no-keywords)
sed -i 's|Keywords|Words|' "$t/lib/pds_agreement.h"
expect fail directives-documented.sh "$t" 'no "Keywords" list'
t=$(clean_tree dd-stale)
printf '## PDSConsentStore\n' >>"$t/docs/directives.md"
expect fail directives-documented.sh "$t" "docs/directives.md documents PDSConsentStore, which mod_pds/*.c does not define"
t=$(clean_tree dd-commented-out)
sed -i 's|^    AP_INIT_TAKE1("PDSAuditLog".*|    /* AP_INIT_TAKE1("PDSAuditLog", f, NULL, RSRC_CONF, "h"), */|' "$t/mod_pds/mod_pds_config.c"
expect fail directives-documented.sh "$t" "documents PDSAuditLog, which mod_pds/*.c does not define"
t=$(clean_tree dd-nodocs); rm "$t/docs/directives.md"
expect fail directives-documented.sh "$t" "missing docs/directives.md"

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
t=$(reasons_tree rd-no-heading); sed -i 's/^### backend-error$/### back-end error/' "$t/docs/problems.md"
expect fail reasons-documented.sh "$t" 'reason backend-error: no "### backend-error" heading'
t=$(reasons_tree rd-status); sed -i 's/^\*\*502\*\*/**503**/' "$t/docs/problems.md"
expect fail reasons-documented.sh "$t" "reason backend-error: docs/problems.md says 503, lib/pds_reason.c says 502"
t=$(reasons_tree rd-no-row); sed -i '/backend-error/d' "$t/docs/admin-guide.md"
expect fail reasons-documented.sh "$t" 'no row "| `backend-error` | 502 |"'
t=$(reasons_tree rd-row-status); sed -i 's/| `no-agreement` | 403/| `no-agreement` | 401/' "$t/docs/admin-guide.md"
expect fail reasons-documented.sh "$t" 'no row "| `no-agreement` | 403 |"'
t=$(reasons_tree rd-stale); printf '### consent-revoked\n**403**\n' >>"$t/docs/problems.md"
expect fail reasons-documented.sh "$t" "reason consent-revoked is documented but lib/pds_reason.c has no such code"
t=$(reasons_tree rd-empty); printf 'int x;\n' >"$t/lib/pds_reason.c"
expect fail reasons-documented.sh "$t" "no { \"code\", status"

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
    AP_INIT_TAKE1("PDSMaxBodySize", cmd_max_body, NULL, ACCESS_CONF,
        "Largest body, in bytes (default 1048576)"),
    AP_INIT_TAKE1("PDSConsentStoreTimeout", set_int_slot, &store_timeout, RSRC_CONF,
        "milliseconds (default 2000)"),
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
t=$(docs_tree dm-context-vhost)
sed -i 's/| server config         |/| server config, virtual host |/' "$t/docs/directives.md"
expect fail docs-match-code.sh "$t" "directive PDSConsentStoreTimeout: docs/directives.md says Context 'server config, virtual host'; the command table (RSRC_CONF, main server only) means 'server config'"
t=$(docs_tree dm-context-location)
sed -i 's/| directory             |/| directory, location   |/' "$t/docs/directives.md"
expect fail docs-match-code.sh "$t" "directive PDSGateway: docs/directives.md says Context 'directory, location'"
t=$(docs_tree dm-context-scope)
sed -i 's/cmd_audit_log, NULL, RSRC_CONF/cmd_audit_log, NULL, ACCESS_CONF/' "$t/mod_pds/mod_pds_config.c"
expect fail docs-match-code.sh "$t" "directive PDSAuditLog: docs/directives.md says Context 'server config, virtual host'; the command table (ACCESS_CONF) means 'directory'"
t=$(docs_tree dm-default-macro)
sed -i 's/1048576)/2097152)/' "$t/mod_pds/mod_pds_private.h"
expect fail docs-match-code.sh "$t" "directive PDSMaxBodySize: docs/directives.md says Default 'PDSMaxBodySize 1048576'; the code's default is 2097152 (PDS_DEFAULT_MAX_BODY)"
t=$(docs_tree dm-default-row)
sed -i '/^apr_off_t pds_conf_max_body/,/^}/d; s/1048576)/2097152)/' "$t/mod_pds/mod_pds_config.c" "$t/mod_pds/mod_pds_private.h"
printf '#define LIST(VALUE, FLAG) \\\n    VALUE(apr_off_t, max_body, pds_conf_max_body, PDS_DEFAULT_MAX_BODY) /* c */ \\\n    FLAG(gateway, pds_conf_gateway, 0)\n' >"$t/mod_pds/mod_pds_config.h"
expect fail docs-match-code.sh "$t" "the code's default is 2097152 (PDS_DEFAULT_MAX_BODY)"
t=$(docs_tree dm-default-undefined)
sed -i '/CONSENT_TIMEOUT_MS/d' "$t/mod_pds/mod_pds_private.h"
expect fail docs-match-code.sh "$t" "default macro PDS_DEFAULT_CONSENT_TIMEOUT_MS (getter of ->consent_timeout_ms) has no #define"
t=$(docs_tree dm-default-help)
sed -i 's/(default off)/(default on)/' "$t/mod_pds/mod_pds_config.c"
expect fail docs-match-code.sh "$t" "directive PDSGateway: the command table's help says '(default on)'"
t=$(docs_tree dm-flag-syntax)
sed -i 's/`PDSGateway on\\|off`/`PDSGateway flag`/' "$t/docs/directives.md"
expect fail docs-match-code.sh "$t" "directive PDSGateway: an AP_INIT_FLAG directive, but docs/directives.md's Syntax 'PDSGateway flag' does not say on|off"
t=$(docs_tree dm-mode-file)
sed -i 's/created with mode 0600/created with mode 0640/' "$t/docs/admin-guide.md"
expect fail docs-match-code.sh "$t" "docs/admin-guide.md: says the audit log's mode is 0640; mod_pds/mod_pds_audit.c creates it with 0600"
t=$(docs_tree dm-mode-named)
printf '\n## Elsewhere\n\nThe audit log is kept with mode 0644 here.\n' >>"$t/docs/admin-guide.md"
expect fail docs-match-code.sh "$t" "says the audit log's mode is 0644"
t=$(docs_tree dm-mode-readme)
printf 'The audit log is created with mode 0660.\n' >"$t/README.md"
expect fail docs-match-code.sh "$t" "README.md: says the audit log's mode is 0660"
t=$(docs_tree dm-mode-code)
sed -i 's/APR_FPROT_UREAD | APR_FPROT_UWRITE/APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD/' "$t/mod_pds/mod_pds_audit.c"
expect fail docs-match-code.sh "$t" "says the audit log's mode is 0600; mod_pds/mod_pds_audit.c creates it with 0640"
t=$(docs_tree dm-mode-none)
sed -i 's/APR_FOPEN_CREATE | //' "$t/mod_pds/mod_pds_audit.c"
expect fail docs-match-code.sh "$t" "audit log mode: no apr_file_open("
t=$(docs_tree dm-no-table)
sed -i '/AP_INIT/d' "$t/mod_pds/mod_pds_config.c"
expect fail docs-match-code.sh "$t" "no directive table"
t=$(docs_tree dm-no-docs); rm "$t/docs/directives.md"
expect fail docs-match-code.sh "$t" "missing docs/directives.md"

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
t=$(layers_tree gl-up)
printf '#include "mod_pds_request.h"\n' >>"$t/mod_pds/mod_pds_util.c"
printf '| `mod_pds/mod_pds_request.h` | 3 | |\n' >>"$t/docs/architecture.md"
: >"$t/mod_pds/mod_pds_request.h"
expect fail glue-layers.sh "$t" "mod_pds/mod_pds_util.c:2: includes mod_pds_request.h (layer 3) from layer 1"
t=$(layers_tree gl-header-up)
printf '#include "mod_pds_audit.h"\n' >>"$t/mod_pds/mod_pds_util.h"
expect fail glue-layers.sh "$t" "mod_pds/mod_pds_util.h:2: includes mod_pds_audit.h (layer 2) from layer 1"
t=$(layers_tree gl-missing-row); : >"$t/mod_pds/mod_pds_new.c"
expect fail glue-layers.sh "$t" "mod_pds/mod_pds_new.c: not in the layer table"
t=$(layers_tree gl-stale-row); rm "$t/mod_pds/mod_pds_audit.h"
expect fail glue-layers.sh "$t" "names mod_pds/mod_pds_audit.h, which does not exist"
t=$(layers_tree gl-twice)
printf '| `mod_pds/mod_pds_util.c` | 3 | again |\n' >>"$t/docs/architecture.md"
expect fail glue-layers.sh "$t" "names mod_pds/mod_pds_util.c more than once"
t=$(layers_tree gl-unknown-header)
printf '#include "mod_pds_other.h"\n' >>"$t/mod_pds/mod_pds_request.c"
expect fail glue-layers.sh "$t" "mod_pds/mod_pds_request.c:4: includes mod_pds_other.h, which the layer table"
t=$(layers_tree gl-no-table); printf '# architecture\n' >"$t/docs/architecture.md"
expect fail glue-layers.sh "$t" "has no layer table"
t=$(layers_tree gl-no-doc); rm "$t/docs/architecture.md"
expect fail glue-layers.sh "$t" "missing docs/architecture.md"

echo "guards self-test: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
