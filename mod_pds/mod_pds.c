/* mod_pds.c: the module record, its lifecycle and hook registration.
 *
 * mod_pds fronts a legacy JSON back end: it identifies the calling
 * organisation, finds the data sharing agreement covering the request, lets
 * mod_proxy fetch the record, and releases only the agreed fields, with an
 * audit record for every decision. See docs/ for the directives and the
 * security model.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "mod_status.h"

#include <jansson.h>

#include "mod_pds_audit.h"
#include "mod_pds_consent_api.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_disclosures.h"
#include "mod_pds_filter.h"
#include "mod_pds_identity.h"
#include "mod_pds_jwks.h"
#include "mod_pds_metrics.h"
#include "mod_pds_metrics_page.h"
#include "mod_pds_portal.h"
#include "mod_pds_portal_form.h"
#include "mod_pds_register.h"
#include "mod_pds_request.h"
#include "pds_spool.h"

static int pds_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    pds_config_reset();
    pds_audit_pre_config(pconf);
    pds_consent_pre_config(pconf);
    return OK;
}

/* The cross-checks, what the start will open, and whether the audit log can
 * be continued: all fail `apachectl -t` (and so a graceful restart), and all
 * run, so that one test lists every problem. The chain is looked at only
 * when its file can be opened at all. */
static int pds_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    int crossed = pds_config_check(pconf, plog, ptemp, s);
    int opened = pds_start_check(ptemp, s);
    int chained = opened == 0 ? pds_audit_check_config(ptemp, s) : OK;

    if (crossed != OK)
        return crossed;
    return opened != 0 || chained != OK ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

static int pds_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                           server_rec *s)
{
    /* httpd runs post_config twice at start; open nothing on the dry run. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    /* Seed jansson's hash while the process is single-threaded. */
    json_object_seed(0);
    pds_identity_post_config();
    pds_request_post_config(pconf, s);
    pds_filter_post_config(pconf, s);
    if (pds_counters_post_config(pconf, ptemp, s) != OK
        || pds_audit_post_config(pconf, ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    pds_disclosures_post_config(pconf, ptemp, s);
    /* The portal's form key, before the children fork (they share it). */
    if (pds_portal_post_config(pconf, s) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "PDS00443: cannot make the portal's "
                     "form key");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (pds_consent_post_config(pconf, ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* After the store's: whether there is one decides. */
    return pds_disclosures_index_post_config(pconf, s);
}

/* `apachectl -t -D DUMP_PDS`: the effective configuration on stdout, as
 * -D DUMP_VHOSTS lists virtual hosts; httpd then says "Syntax OK" and exits. */
static void pds_test_config(apr_pool_t *pconf, server_rec *s)
{
    if (ap_exists_config_define("DUMP_PDS"))
        pds_config_dump(pconf, s);
}

/* The start check looked at PDSSpoolDirectory's permissions; a child (now
 * User) tries the real thing once, so that a directory it cannot use shows
 * in the error log at the start, not only at the first large body (which
 * then fails closed, PDS00514). */
static void spool_child_init(apr_pool_t *pchild, server_rec *s)
{
    const pds_server_conf_t *sc = pds_server_conf(s);
    pds_error_t err;
    apr_status_t rv;

    if (sc->spool_dir == NULL || *sc->spool_dir == '\0')
        return;
    pds_error_clear(&err);
    rv = pds_spool_probe(sc->spool_dir, pchild, &err);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "PDS00515: PDSSpoolDirectory (%s): "
                     "%s; back-end bodies past PDSSpoolThreshold will be refused",
                     sc->spool_where, err.text);
}

static void pds_child_init(apr_pool_t *pchild, server_rec *s)
{
    spool_child_init(pchild, s);
    pds_identity_child_init(pchild);
    pds_disclosures_child_init(pchild);
    pds_audit_child_init(pchild, s);
    pds_consent_child_init(pchild, s);
}

static void pds_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };
    static const char *const after_read[] = { "mod_ssl.c", "mod_unique_id.c", NULL };

    /* pre_config: reset what the last configuration read left behind and
     * register the audit mutex type (it must exist before Mutex is read). */
    ap_hook_pre_config(pds_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* check_config: cross-checks with file and line, and what the start
     * will open, so `apachectl -t` (and so a graceful restart) fails. */
    ap_hook_check_config(pds_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* post_config: open the audit log as root and create its mutex. */
    ap_hook_post_config(pds_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(pds_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* test_config: runs only under -t, after check_config (DUMP_PDS). */
    ap_hook_test_config(pds_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* post_read_request: a raw target that names an enforced location and
     * will be refused is refused before httpd's dot-segment removal can move
     * it out of that location (or answer it with a bare 400). */
    ap_hook_post_read_request(pds_post_read_request, after_read, NULL, APR_HOOK_LAST);
    /* pre_translate_name: keep httpd's URL decoding from answering a path we
     * refuse before the access hook can refuse it properly. */
    ap_hook_pre_translate_name(pds_pre_translate_name, NULL, NULL, APR_HOOK_MIDDLE);
    /* access_checker after mod_ssl's (the client certificate is verified) and
     * ahead of mod_access_compat's and the others', so that no earlier
     * refusal can keep it from deciding. It is subject to Satisfy, so: */
    ap_hook_access_checker(pds_access_checker, after_ssl, NULL, APR_HOOK_FIRST);
    /* fixups, first (not subject to Satisfy): a denial ends the request
     * here whatever the authentication and authorisation hooks said, and a
     * request without a decision gets one. */
    ap_hook_fixups(pds_guard_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* handler, really first: no handler (mod_proxy) serves an enforced
     * location unless this request's decision is an allow. */
    ap_hook_handler(pds_guard_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* Error pages (mod_proxy's 502/503/504) still go through our filter. */
    ap_hook_insert_error_filter(pds_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* An error page for a denied request (under Satisfy Any an authentication
     * hook can refuse first) is replaced by the denial's problem document. */
    ap_hook_insert_error_filter(pds_insert_denial_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* So do local ErrorDocument pages (an internal redirect's request). */
    ap_hook_insert_filter(pds_insert_redirect_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* The person's view of their disclosures (SetHandler pds-disclosures). */
    ap_hook_handler(pds_disclosures_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The consent API (SetHandler pds-consent). */
    ap_hook_handler(pds_consent_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The gateway's public keys (SetHandler pds-jwks). */
    ap_hook_handler(pds_jwks_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The operator's metrics and health (SetHandler pds-metrics, pds-health). */
    ap_hook_handler(pds_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(pds_health_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The citizen's portal (SetHandler pds-portal). */
    ap_hook_handler(pds_portal_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The public register of agreements (SetHandler pds-register). */
    ap_hook_handler(pds_register_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* A section in mod_status's server-status; an optional hook, so nothing
     * happens where mod_status is not loaded. */
    APR_OPTIONAL_HOOK(ap, status_hook, pds_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
    /* handler, before mod_proxy's (APR_HOOK_FIRST) and after every fixup
     * (SetEnv, SetEnvIf, RewriteRule [E=]): interim responses of the back
     * end are not relayed. Always declines. */
    ap_hook_handler(pds_proxy_handler_first, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* log_transaction, before mod_log_config: the access log shows the
     * request headers the client sent. */
    ap_hook_log_transaction(pds_restore_client_headers, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* log_transaction: a last-resort audit record for a decision without one. */
    ap_hook_log_transaction(pds_audit_log_transaction, NULL, NULL, APR_HOOK_FIRST);

    /* Serves the checked body of a write to mod_proxy. */
    pds_register_request_body_filter();
    pds_register_denial_filter();
    /* Holds the client connection of an allowed request until its answer. */
    pds_register_interim_gate();
    /* A resource filter that changes the body and its length, and must never
     * see (or produce) a byte range. */
    ap_register_output_filter_protocol(PDS_RESPONSE_FILTER, pds_response_filter, NULL,
                                       AP_FTYPE_RESOURCE,
                                       AP_FILTER_PROTO_CHANGE
                                       | AP_FILTER_PROTO_CHANGE_LENGTH
                                       | AP_FILTER_PROTO_NO_BYTERANGE);
}

/* No ALWAYS_MERGE: a virtual host without mod_pds directives shares the main
 * server's configuration, which is exactly what inheriting would give it;
 * post_config sets the audit sink on every server_rec either way. */
module AP_MODULE_DECLARE_DATA pds_module = {
    STANDARD20_MODULE_STUFF,
    pds_create_dir_conf,
    pds_merge_dir_conf,
    pds_create_server_conf,
    pds_merge_server_conf,
    pds_directives,
    pds_register_hooks,
    0
};
