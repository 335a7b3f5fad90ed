/* mod_pds_config.c: the directive table, and the handlers of every
 * directive but PDSOrganisation and <PDSAgreement>
 * (mod_pds_config_agreements.c), the key files' (mod_pds_config_keys.c) and
 * the portal's words (mod_pds_config_labels.c).
 *
 * Handlers compile what they are given (STYLE.md) so that `apachectl -t`
 * fails rather than the first request, and their messages name the
 * directive, the file and the line. What a handler sets is a member of the
 * lists in mod_pds_config.h; create, merge and defaults are in
 * mod_pds_config_merge.c, the cross-checks in mod_pds_config_check.c.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include <errno.h>

#include "mod_pds_config.h"
#include "mod_pds_config_int.h"
#include "pds_artefact.h"
#include "pds_error.h"
#include "pds_syntax.h"

/* --- where directives were read ------------------------------------------- */

/* For the cross-checks' messages. Reset in pre_config, since httpd reads the
 * configuration again on every restart. */
static apr_array_header_t *origins[PDS_ORIGIN_LISTS];   /* pds_origin_t, by list */

void pds_config_reset(void)
{
    int i;

    for (i = 0; i < PDS_ORIGIN_LISTS; i++)
        origins[i] = NULL;
}

pds_origin_t *pds_config_remember(pds_origin_list_e list, apr_pool_t *p,
                                  const pds_agreement_t *a, const cmd_parms *cmd)
{
    pds_origin_t *o;

    if (origins[list] == NULL)
        origins[list] = apr_array_make(p, 8, sizeof(pds_origin_t));
    o = apr_array_push(origins[list]);
    o->agreement = a;
    o->directive = cmd->directive;
    o->file = cmd->directive ? cmd->directive->filename : "?";
    o->line = cmd->directive ? cmd->directive->line_num : 0;
    o->location = NULL;
    return o;
}

const apr_array_header_t *pds_config_origins(pds_origin_list_e list)
{
    return origins[list];
}

/* --- helpers -------------------------------------------------------------- */

/* Names are tokens a sysadmin types and an audit record carries: the one
 * rule of lib/pds_syntax.h. */
static int is_name(const char *s)
{
    return pds_syntax_is_name(s, PDS_SYNTAX_NAME_MAX);
}

static const char *parse_int(cmd_parms *cmd, const char *arg, long min,
                             long max, long *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %ld to %ld",
                            cmd->cmd->name, arg, min, max);
    *out = (long)v;
    return NULL;
}

/* --- server-wide directives ----------------------------------------------- */

static const char *cmd_audit_log(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (*arg == '|' || *arg == '\0')
        return "PDSAuditLog takes a file path (piped logs are not supported: "
               "a record must be durable before data is released)";
    sc->audit_log_path = ap_server_root_relative(cmd->pool, arg);
    if (sc->audit_log_path == NULL)
        return apr_psprintf(cmd->pool, "PDSAuditLog: bad path '%s'", arg);
    sc->audit_log_where = apr_psprintf(cmd->pool, "line %d of %s",
                                       cmd->directive->line_num, cmd->directive->filename);
    return NULL;
}

static const char *cmd_audit_checkpoint(cmd_parms *cmd, void *dummy, const char *lines,
                                        const char *seconds)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    long v;

    if (err != NULL || (err = parse_int(cmd, lines, 0, 100000000L, &v)) != NULL)
        return err;
    sc->audit_checkpoint_lines = v;
    if (seconds != NULL) {
        if ((err = parse_int(cmd, seconds, 0, 86400, &v)) != NULL)
            return err;
        sc->audit_checkpoint_seconds = v;
    }
    return NULL;
}

static const char *cmd_audit_on_failure(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (strcasecmp(arg, "deny") == 0)
        sc->audit_on_failure = 0;
    else if (strcasecmp(arg, "allow") == 0)
        sc->audit_on_failure = 1;
    else
        return "PDSAuditOnFailure takes deny (the default: refuse with 503) or allow "
               "(release without a record; see docs/audit.md before choosing it)";
    return NULL;
}

static const char *cmd_audit_sync(cmd_parms *cmd, void *dummy, int on)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    sc->audit_sync = on ? 1 : 0;
    return NULL;
}

/* PDSDecisionLog off|<level>: httpd's own level names (ap_parse_log_level). */
static const char *cmd_decision_log(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    int level;

    if (err != NULL)
        return err;
    if (strcasecmp(arg, "off") == 0) {
        sc->decision_log = PDS_DECISION_LOG_OFF;
        return NULL;
    }
    if (ap_parse_log_level(arg, &level) != NULL)
        return apr_psprintf(cmd->pool, "PDSDecisionLog: '%s' is neither off nor a log "
                            "level (emerg, alert, crit, error, warn, notice, info, debug, "
                            "trace1 ... trace8); e.g. PDSDecisionLog info", arg);
    sc->decision_log = level;
    return NULL;
}

static const char *cmd_sign_responses(cmd_parms *cmd, void *dcv, int on)
{
    ((pds_dir_conf_t *)dcv)->sign_responses = on;
    if (on)
        pds_config_remember(PDS_ORIGIN_SIGNING, cmd->pool, NULL, cmd);
    return NULL;
}

static const char *cmd_token_audience(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (*arg == '\0')
        return "PDSTokenAudience needs a value, e.g. https://gateway.council.example";
    sc->token_audience = arg;
    return NULL;
}

/* --- consent ------------------------------------------------------------------ */

static const char *main_server_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL)
        return apr_psprintf(cmd->pool, "%s belongs in the main server configuration "
                            "(one consent store serves every virtual host)", cmd->cmd->name);
    return NULL;
}

/* PDSConsentStore sqlite3 <file> | pgsql "<conninfo>" */
static const char *cmd_consent_store(cmd_parms *cmd, void *dummy, const char *driver,
                                     const char *params)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    if (strcmp(driver, "sqlite3") == 0) {
        if (*params == '\0' || strcmp(params, ":memory:") == 0)
            return "PDSConsentStore sqlite3 takes a database file, e.g. "
                   "PDSConsentStore sqlite3 /var/lib/pds/consent.db (an in-memory "
                   "database would be one per process)";
        params = ap_server_root_relative(cmd->pool, params);
        if (params == NULL)
            return "PDSConsentStore sqlite3: bad path";
    }
    else if (strcmp(driver, "pgsql") == 0) {
        if (*params == '\0')
            return "PDSConsentStore pgsql takes a libpq connection string, e.g. "
                   "PDSConsentStore pgsql \"host=db.internal dbname=pds user=pds\"";
    }
    else
        return apr_psprintf(cmd->pool, "PDSConsentStore: unknown driver '%s'; use sqlite3 "
                            "(a file, the default for one server) or pgsql (for several)",
                            driver);
    sc->consent_driver = driver;
    sc->consent_params = params;
    sc->consent_where = apr_psprintf(cmd->pool, "line %d of %s",
                                     cmd->directive->line_num, cmd->directive->filename);
    return NULL;
}

/* PDSConsentCache <provider>[:<args>] [<ttl seconds>] */
static const char *cmd_consent_cache(cmd_parms *cmd, void *dummy, const char *spec,
                                     const char *ttl)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    const char *colon;
    long v;

    if (err != NULL)
        return err;
    colon = ap_strchr_c(spec, ':');
    sc->consent_cache_name = colon ? apr_pstrmemdup(cmd->pool, spec, (apr_size_t)(colon - spec))
                                   : apr_pstrdup(cmd->pool, spec);
    sc->consent_cache_args = colon ? apr_pstrdup(cmd->pool, colon + 1) : NULL;
    sc->consent_cache_where = apr_psprintf(cmd->pool, "line %d of %s",
                                           cmd->directive->line_num,
                                           cmd->directive->filename);
    if (!is_name(sc->consent_cache_name))
        return apr_psprintf(cmd->pool, "PDSConsentCache: '%s' is not a cache provider "
                            "name (shmcb, redis, memcache, ...)", spec);
    if (ttl != NULL) {
        if ((err = parse_int(cmd, ttl, 0, 3600, &v)) != NULL)
            return err;
        sc->consent_cache_ttl = (int)v;
    }
    return NULL;
}

static const char *cmd_consent_receipt_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    return pds_config_load_signing_key(cmd, "PDSConsentReceiptKey", arg,
                                       &sc->consent_receipt_key);
}

/* PDSConsentReceiptIssuer <iss>: 1 to 255 visible ASCII characters, e.g. a URL. */
static const char *cmd_consent_receipt_issuer(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    apr_size_t n;

    if (err != NULL)
        return err;
    for (n = 0; arg[n] != '\0'; n++) {
        if (n >= 255 || (unsigned char)arg[n] <= 0x20 || (unsigned char)arg[n] >= 0x7f)
            return "PDSConsentReceiptIssuer: the issuer must be 1 to 255 visible ASCII "
                   "characters, e.g. https://gateway.council.example";
    }
    if (n == 0)
        return "PDSConsentReceiptIssuer needs a value, e.g. https://gateway.council.example";
    sc->consent_receipt_issuer = arg;
    return NULL;
}

static const char *cmd_consent_manager(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    if (!is_name(arg))
        return apr_psprintf(cmd->pool, "PDSConsentManager: '%s' is not an organisation's "
                            "name", arg);
    APR_ARRAY_PUSH(sc->consent_managers, const char *) = apr_pstrdup(cmd->pool, arg);
    APR_ARRAY_PUSH(sc->consent_manager_where, const char *) =
        apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                     cmd->directive->filename);
    return NULL;
}

/* PDSConsentTrustRegistry <file> [<seconds between checks>] */
static const char *cmd_trust_registry(cmd_parms *cmd, void *dummy, const char *file,
                                      const char *interval)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    pds_trust_registry_t *reg;
    pds_error_t perr;
    long v;

    if (err != NULL)
        return err;
    sc->trust_registry_path = ap_server_root_relative(cmd->pool, file);
    if (sc->trust_registry_path == NULL)
        return apr_psprintf(cmd->pool, "PDSConsentTrustRegistry: bad path '%s'", file);
    /* Read it now, as the start will: a file that is missing or wrong stops
     * `apachectl -t` (and so a graceful restart) instead of the server. */
    pds_error_clear(&perr);
    if (pds_trust_registry_load_file(&reg, cmd->temp_pool, sc->trust_registry_path, &perr)
        != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "PDSConsentTrustRegistry %s: %s; fix the file (its "
                            "format is in docs/consent.md) or remove the directive",
                            sc->trust_registry_path, perr.text[0] ? perr.text
                            : "cannot read the file");
    if (interval != NULL) {
        if ((err = parse_int(cmd, interval, 1, 86400, &v)) != NULL)
            return err;
        sc->trust_registry_interval = (int)v;
    }
    return NULL;
}

/* PDSSpoolDirectory <directory>|off: where a large back-end body is held
 * until it is filtered (lib/pds_spool.h). Whether User can write there is
 * checked once the whole configuration is read (mod_pds_startcheck.c). */
static const char *cmd_spool_directory(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    apr_finfo_t finfo;

    if (err != NULL)
        return err;
    sc->spool_where = apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                                   cmd->directive->filename);
    if (strcasecmp(arg, "off") == 0) {
        sc->spool_dir = "";                 /* set, and off */
        return NULL;
    }
    sc->spool_dir = ap_server_root_relative(cmd->pool, arg);
    if (sc->spool_dir == NULL)
        return apr_psprintf(cmd->pool, "PDSSpoolDirectory: bad path '%s'", arg);
    if (apr_stat(&finfo, sc->spool_dir, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || finfo.filetype != APR_DIR)
        return apr_psprintf(cmd->pool, "PDSSpoolDirectory %s: not an existing directory; "
                            "create it for User (mode 0700) on a local file system, or "
                            "use off", sc->spool_dir);
    return NULL;
}

/* --- per-location directives ---------------------------------------------- */

static const char *cmd_person_subject(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;

    if (strcmp(arg, "user") != 0
        && !(strncmp(arg, "env:", 4) == 0 && arg[4] != '\0' && is_name(arg + 4)))
        return apr_psprintf(cmd->pool, "PDSPersonSubject: '%s' is neither 'user' (the "
                            "authenticated user name) nor 'env:NAME' (a variable an "
                            "authentication module sets, e.g. env:OIDC_CLAIM_sub)", arg);
    dc->person_subject = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *cmd_gateway(cmd_parms *cmd, void *dcv, int on)
{
    pds_dir_conf_t *dc = dcv;
    const ap_directive_t *section = cmd->directive ? cmd->directive->parent : NULL;

    dc->gateway = on ? 1 : 0;
    if (on) {
        pds_origin_t *o = pds_config_remember(PDS_ORIGIN_GATEWAY, cmd->pool, NULL, cmd);

        /* A literal <Location> path (not a regular expression, not a
         * <Directory>): check_config looks for an agreement under it. */
        if (section != NULL && strcasecmp(section->directive, "<Location") == 0
            && cmd->path != NULL && cmd->path[0] == '/')
            o->location = apr_pstrdup(cmd->pool, cmd->path);
    }
    return NULL;
}

static const char *cmd_purpose_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;
    const char *c;

    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_')
            break;
    }
    if (*arg == '\0' || *c != '\0')
        return apr_psprintf(cmd->pool, "PDSPurposeHeader: '%s' is not a header name; "
                            "use letters, digits and '-'", arg);
    dc->purpose_header = arg;
    return NULL;
}

/* --- whole-number directives ----------------------------------------------
 * One handler serves every directive that takes one whole number, as httpd's
 * ap_set_int_slot does: the table row's cmd_data names the member it sets,
 * where the directive may stand and its range. */

typedef enum {
    PDS_IN_SERVER,        /* server config or virtual host (NOT_IN_DIR_CONTEXT) */
    PDS_IN_MAIN_SERVER,   /* the main server only (main_server_only) */
    PDS_IN_DIR            /* a directory section; the table's ACCESS_CONF says so */
} pds_slot_where_t;

typedef enum { PDS_SLOT_INT, PDS_SLOT_OFF } pds_slot_type_t;   /* int, apr_off_t */

typedef struct {
    pds_slot_where_t where;
    apr_size_t offset;    /* of the member in pds_server_conf_t or pds_dir_conf_t */
    pds_slot_type_t type;
    long min, max;
} pds_int_slot_t;

#define PDS_SERVER_INT(member, where, min, max) \
    { where, APR_OFFSETOF(pds_server_conf_t, member), PDS_SLOT_INT, min, max }
#define PDS_DIR_INT(member, min, max) \
    { PDS_IN_DIR, APR_OFFSETOF(pds_dir_conf_t, member), PDS_SLOT_INT, min, max }
#define PDS_DIR_OFF(member, min, max) \
    { PDS_IN_DIR, APR_OFFSETOF(pds_dir_conf_t, member), PDS_SLOT_OFF, min, max }

/* The member each sets, and its range (docs-match-code.sh reads the member
 * from here to find the directive's default). */
static pds_int_slot_t clock_skew = PDS_SERVER_INT(token_clock_skew, PDS_IN_SERVER, 0, 600);
static pds_int_slot_t max_lifetime = PDS_SERVER_INT(token_max_lifetime, PDS_IN_SERVER, 0, 86400 * 7);
static pds_int_slot_t store_timeout = PDS_SERVER_INT(consent_timeout_ms, PDS_IN_MAIN_SERVER, 10, 60000);
static pds_int_slot_t max_body = PDS_DIR_OFF(max_body, 1, 256L * 1024 * 1024);
static pds_int_slot_t max_depth = PDS_DIR_INT(max_depth, 2, 1000);
static pds_int_slot_t spool_threshold = PDS_SERVER_INT(spool_threshold, PDS_IN_MAIN_SERVER,
                                                       4096, 64L * 1024 * 1024);

static const char *set_int_slot(cmd_parms *cmd, void *dcv, const char *arg)
{
    /* The row's cmd_data, which httpd also passes as cmd->info (read from
     * the row, so that a caller that fills in only cmd->cmd gets it too). */
    const pds_int_slot_t *slot = cmd->cmd->cmd_data;
    const char *err = NULL;
    char *conf;
    long v;

    if (slot->where == PDS_IN_MAIN_SERVER)
        err = main_server_only(cmd);
    else if (slot->where == PDS_IN_SERVER)
        err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    if (err != NULL || (err = parse_int(cmd, arg, slot->min, slot->max, &v)) != NULL)
        return err;
    conf = slot->where == PDS_IN_DIR ? dcv : (void *)pds_server_conf(cmd->server);
    if (slot->type == PDS_SLOT_OFF)
        *(apr_off_t *)(void *)(conf + slot->offset) = v;
    else
        *(int *)(void *)(conf + slot->offset) = (int)v;
    return NULL;
}

const command_rec pds_directives[] = {
    AP_INIT_RAW_ARGS("PDSOrganisation", pds_cmd_organisation, NULL, RSRC_CONF,
        "Declares how an organisation is recognised: <name> cert-subject|cert-san|"
        "cert-sha256|jwt-key <value> [issuer=<iss>]"),
    AP_INIT_RAW_ARGS("<PDSAgreement", pds_cmd_agreement, NULL, RSRC_CONF,
        "A data sharing agreement: <PDSAgreement id> Party, Purpose, LegalBasis, "
        "Valid, Version, Resource, Release </PDSAgreement>"),
    AP_INIT_TAKE1("PDSAuditLog", cmd_audit_log, NULL, RSRC_CONF,
        "The JSON Lines file every decision is recorded in"),
    AP_INIT_TAKE1("PDSAuditKey", pds_cmd_audit_key, NULL, RSRC_CONF,
        "The secret key file (hex) the audit records are chained with"),
    AP_INIT_TAKE1("PDSAuditSigningKey", pds_cmd_audit_signing_key, NULL, RSRC_CONF,
        "Ed25519 or EC P-256 private key that signs audit checkpoints"),
    AP_INIT_TAKE12("PDSAuditCheckpoint", cmd_audit_checkpoint, NULL, RSRC_CONF,
        "A signed checkpoint every <lines> records [or <seconds>] (default 1000 60)"),
    AP_INIT_TAKE12("PDSAuditSubject", pds_cmd_audit_subject, NULL, RSRC_CONF,
        "How subjects appear in the audit log: clear, or pseudonym <key file>"),
    AP_INIT_TAKE1("PDSAuditOnFailure", cmd_audit_on_failure, NULL, RSRC_CONF,
        "When a record cannot be written: deny (default) or allow"),
    AP_INIT_FLAG("PDSAuditSync", cmd_audit_sync, NULL, RSRC_CONF,
        "On (default): each record is on disk (fdatasync) before data is released"),
    AP_INIT_TAKE1("PDSDecisionLog", cmd_decision_log, NULL, RSRC_CONF,
        "off (default) or a log level: one error-log line per decision at that level"),
    AP_INIT_TAKE1("PDSPseudonymKey", pds_cmd_pseudonym_key, NULL, RSRC_CONF,
                  "secret key file (64 hex digits) from which each agreement's "
                  "pseudonym key is derived"),
    AP_INIT_TAKE1("PDSResponseSigningKey", pds_cmd_response_signing_key, NULL, RSRC_CONF,
                  "private key (PEM) that signs released bodies (PDSSignResponses)"),
    AP_INIT_ITERATE("PDSPublishedKey", pds_cmd_published_key, NULL, RSRC_CONF,
                    "public key files (PEM) the JWKS lists beside the signing keys: a "
                    "retired key whose signatures must still verify, or the next one"),
    AP_INIT_FLAG("PDSSignResponses", cmd_sign_responses, NULL, ACCESS_CONF,
                 "on: each released body carries a detached JWS in PDS-Signature"),
    AP_INIT_TAKE1("PDSTokenAudience", cmd_token_audience, NULL, RSRC_CONF,
        "The audience (aud) bearer tokens must be issued for"),
    AP_INIT_TAKE1("PDSTokenClockSkew", set_int_slot, &clock_skew, RSRC_CONF,
        "Seconds of clock difference tolerated on token times (default 60)"),
    AP_INIT_TAKE1("PDSTokenMaxLifetime", set_int_slot, &max_lifetime, RSRC_CONF,
        "Longest token lifetime accepted, in seconds (default 3600)"),
    AP_INIT_TAKE2("PDSConsentStore", cmd_consent_store, NULL, RSRC_CONF,
                  "sqlite3 <file> or pgsql \"<conninfo>\": where consents are kept"),
    AP_INIT_TAKE1("PDSConsentStoreTimeout", set_int_slot, &store_timeout, RSRC_CONF,
                  "milliseconds to wait for a locked or slow consent store (default 2000)"),
    AP_INIT_TAKE12("PDSConsentCache", cmd_consent_cache, NULL, RSRC_CONF,
                   "<provider>[:<args>] [<ttl seconds>]: the consent decision cache "
                   "(default shmcb, 5 seconds)"),
    AP_INIT_TAKE1("PDSConsentReceiptKey", cmd_consent_receipt_key, NULL, RSRC_CONF,
                  "private key (PEM) that signs consent receipts"),
    AP_INIT_TAKE1("PDSConsentReceiptIssuer", cmd_consent_receipt_issuer, NULL, RSRC_CONF,
                  "the receipts' iss (default: the main server's ServerName)"),
    AP_INIT_ITERATE("PDSConsentManager", cmd_consent_manager, NULL, RSRC_CONF,
                    "organisations that may act for people who gave them a mandate"),
    AP_INIT_TAKE12("PDSConsentTrustRegistry", cmd_trust_registry, NULL, RSRC_CONF,
                   "<file> [<seconds>]: trusted consent artefact issuers and revocations, "
                   "checked for changes at most every <seconds> (default 30)"),
    AP_INIT_TAKE1("PDSPersonSubject", cmd_person_subject, NULL, ACCESS_CONF,
                  "user or env:NAME: how the authenticated person's subject id is found"),
    AP_INIT_FLAG("PDSGateway", cmd_gateway, NULL, ACCESS_CONF,
        "On: enforce agreements on this location (default off)"),
    AP_INIT_TAKE1("PDSPurposeHeader", cmd_purpose_header, NULL, ACCESS_CONF,
        "The request header callers declare their purpose in (default PDS-Purpose)"),
    AP_INIT_TAKE1("PDSMaxBodySize", set_int_slot, &max_body, ACCESS_CONF,
        "Largest back-end or write body buffered for filtering, in bytes (default 1048576)"),
    AP_INIT_TAKE1("PDSSpoolDirectory", cmd_spool_directory, NULL, RSRC_CONF,
                  "where a back-end body larger than PDSSpoolThreshold waits, in an "
                  "unnamed file, until it is filtered; off (the default): in memory"),
    AP_INIT_TAKE1("PDSSpoolThreshold", set_int_slot, &spool_threshold, RSRC_CONF,
                  "bytes of a back-end body held in memory before it goes to "
                  "PDSSpoolDirectory (default 65536)"),
    AP_INIT_TAKE1("PDSMaxDepth", set_int_slot, &max_depth, ACCESS_CONF,
        "Deepest JSON nesting accepted in back-end and write bodies (default 32)"),
    AP_INIT_TAKE1("PDSNodeName", pds_cmd_node_name, NULL, RSRC_CONF,
                  "this gateway node's name in its audit records (default the host name)"),
    /* the portal's and the register's words (mod_pds_config_labels.c) */
    AP_INIT_RAW_ARGS("PDSOrganisationLabel", pds_cmd_organisation_label, NULL, RSRC_CONF,
        "<organisation> \"<label>\" [<language>]: the organisation's name for people"),
    AP_INIT_RAW_ARGS("PDSFieldLabel", pds_cmd_field_label, NULL, RSRC_CONF,
        "<field path> \"<label>\" [<language>]: what a field is called for people"),
    AP_INIT_RAW_ARGS("PDSPurposeLabel", pds_cmd_purpose_label, NULL, RSRC_CONF,
        "<purpose> \"<label>\" [<language>]: a purpose in plain words"),
    AP_INIT_RAW_ARGS("PDSRegisterPublisher", pds_cmd_register_publisher, NULL, RSRC_CONF,
        "\"<name>\" [<language>]: who publishes the register of agreements"),
    AP_INIT_TAKE1("PDSPortalLanguage", pds_cmd_portal_language, NULL, ACCESS_CONF,
        "auto, the default: the browser's Accept-Language; or the one language of the pages"),
    { NULL }
};
