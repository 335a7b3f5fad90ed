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

#include <jansson.h>

#include "mod_pds_private.h"

int pds_access_checker(request_rec *r);
int pds_pre_translate_name(request_rec *r);

static int pds_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    pds_config_reset();
    pds_audit_pre_config(pconf);
    pds_consent_pre_config(pconf);
    return OK;
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
    if (pds_audit_post_config(pconf, ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    return pds_consent_post_config(pconf, ptemp, s);
}

static void pds_child_init(apr_pool_t *pchild, server_rec *s)
{
    pds_identity_child_init(pchild);
    pds_disclosures_child_init(pchild);
    pds_audit_child_init(pchild, s);
    pds_consent_child_init(pchild, s);
}

/* Configuration cross-checks, then whether the audit log can be continued:
 * both fail `apachectl -t`. */
static int pds_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    int rv = pds_config_check(pconf, plog, ptemp, s);

    if (rv != OK)
        return rv;
    return pds_audit_check_config(ptemp, s);
}

static void pds_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };

    /* pre_config: reset what the last configuration read left behind and
     * register the audit mutex type (it must exist before Mutex is read). */
    ap_hook_pre_config(pds_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* check_config: cross-checks with file and line, so `apachectl -t` fails. */
    ap_hook_check_config(pds_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* post_config: open the audit log as root and create its mutex. */
    ap_hook_post_config(pds_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(pds_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* pre_translate_name: keep httpd's URL decoding from answering a path we
     * refuse before the access hook can refuse it properly. */
    ap_hook_pre_translate_name(pds_pre_translate_name, NULL, NULL, APR_HOOK_MIDDLE);
    /* access_checker after mod_ssl's: the client certificate is verified, and
     * no handler (mod_proxy) has run, so a denial never reaches the back end. */
    ap_hook_access_checker(pds_access_checker, after_ssl, NULL, APR_HOOK_MIDDLE);
    /* Error pages (mod_proxy's 502/503/504) still go through our filter. */
    ap_hook_insert_error_filter(pds_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* The person's view of their disclosures (SetHandler pds-disclosures). */
    ap_hook_handler(pds_disclosures_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The consent API (SetHandler pds-consent). */
    ap_hook_handler(pds_consent_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* The gateway's public keys (SetHandler pds-jwks). */
    ap_hook_handler(pds_jwks_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* log_transaction: a last-resort audit record for a decision without one. */
    ap_hook_log_transaction(pds_audit_log_transaction, NULL, NULL, APR_HOOK_FIRST);

    /* Serves the checked body of a write to mod_proxy. */
    pds_register_request_body_filter();
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
