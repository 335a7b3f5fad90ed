/* mod_pds_consent_api.c: the consent API (mod_pds_consent_api.h).
 *
 * A person (authenticated by httpd, PDSPersonSubject) or a consent manager
 * holding their mandate grants, pauses, resumes and revokes consents, gives
 * and withdraws mandates and opt-outs. Every change is committed to the
 * store, then the cache entry goes (pds_consent_cache_changed), then it is
 * audited, and a grant or change answers with a signed receipt.
 *
 * The API (SetHandler pds-consent, in a <Location> with a literal path):
 *   GET  <loc>/consents                  a person's consents
 *   POST <loc>/consents                  grant (JSON body) -> 201, receipt
 *   GET  <loc>/consents/<id>             one, with its history
 *   POST <loc>/consents/<id>/<action>    pause, resume, revoke -> receipt
 *   GET  <loc>/mandates                  the consent managers acting for me
 *   PUT|DELETE <loc>/mandates/<org>      give or withdraw a mandate
 *   GET  <loc>/opt-outs, PUT|DELETE <loc>/opt-outs/<purpose>
 *   GET  <loc>/keys                      the receipt key as a JWKS
 * and under <loc>/subjects/<subject>/ the consent and opt-out routes for a
 * consent manager (identified as an organisation) holding a mandate.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_pds_audit.h"
#include "mod_pds_consent.h"
#include "mod_pds_consent_api.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_consent_ops.h"
#include "mod_pds_identity.h"
#include "mod_pds_jwks.h"
#include "mod_pds_response.h"
#include "mod_pds_util.h"
#include "pds_syntax.h"

#define CONSENT_HANDLER   "pds-consent"

typedef pds_consent_actor_t api_t;

/* Answers an operation's outcome as a problem document. */
static int problem(api_t *api, const char *reason, const char *detail)
{
    return pds_send_problem(api->r, reason, detail);
}

static int store_problem(api_t *api, const pds_error_t *err)
{
    const char *detail, *reason = pds_consent_ops_store_problem(api, err, &detail);

    return problem(api, reason, detail);
}

/* Reads a JSON request body of at most PDS_CONSENT_MAX_BODY bytes: OK, or an
 * HTTP status with the *problem to tell the client. */
static int read_body(request_rec *r, char **pbody, apr_size_t *plen, const char **problem)
{
    apr_off_t declared = 0;

    *problem = NULL;
    if (!pds_syntax_is_json(apr_table_get(r->headers_in, "Content-Type"), PDS_JSON_EXACT)) {
        *problem = "send the body as application/json";
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    switch (pds_body_read(r, PDS_CONSENT_MAX_BODY, pbody, plen, &declared)) {
    case PDS_BODY_READ:
        return OK;
    case PDS_BODY_DECLARED_TOO_LARGE:
    case PDS_BODY_TOO_LARGE:
        *problem = "the body is larger than 64 KiB";
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case PDS_BODY_NO_MEMORY:
        *problem = "the gateway could not hold the request body";
        return HTTP_INTERNAL_SERVER_ERROR;
    default:
        *problem = "the body cannot be read";
        return HTTP_BAD_REQUEST;
    }
}

static int api_grant(api_t *api)
{
    request_rec *r = api->r;
    const char *why, *reason, *detail;
    pds_consent_t *c;
    pds_error_t err;
    char *body;
    apr_size_t len;
    json_t *receipt;
    int status;

    status = read_body(r, &body, &len, &why);
    if (status == HTTP_UNSUPPORTED_MEDIA_TYPE)
        return pds_send_problem(r, "unsupported-media-type", why);
    if (status == HTTP_INTERNAL_SERVER_ERROR)
        return pds_send_problem(r, "internal-error", why);
    if (status != OK)
        return pds_send_problem(r, "bad-consent-body", why);
    pds_error_clear(&err);
    if (pds_consent_from_grant(&c, r->pool, body, len, api->subject, api->actor,
                               apr_time_now(), &err) != APR_SUCCESS)
        return pds_send_problem(r, err.code, err.text);
    if ((reason = pds_consent_ops_grant(api, c, &detail)) != NULL)
        return problem(api, reason, detail);
    receipt = pds_consent_ops_receipt(api, c, "grant");
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, r->uri, "/", c->id, NULL));
    return pds_send_json(r, HTTP_CREATED, json_pack("{s:o,s:o}",
                     "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool),
                     "receipt", receipt ? receipt : json_null()));
}

static int api_change(api_t *api, const char *id, const char *action)
{
    request_rec *r = api->r;
    pds_consent_t *next;
    apr_array_header_t *hist;
    const char *reason, *detail;
    json_t *receipt;

    if (ap_discard_request_body(r) != OK)
        return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
    if ((reason = pds_consent_ops_change(api, id, action, &next, &hist, &detail)) != NULL)
        return problem(api, reason, detail);
    receipt = pds_consent_ops_receipt(api, next, action);
    return pds_send_json(r, HTTP_OK, json_pack("{s:o,s:o}",
                     "consent", pds_consent_to_json(next, hist, apr_time_now(), r->pool),
                     "receipt", receipt ? receipt : json_null()));
}

static int api_list(api_t *api)
{
    apr_array_header_t *list;
    pds_error_t err;
    json_t *arr;
    int i;

    pds_error_clear(&err);
    if (pds_consent_store_list(api->h->store, api->r->pool, api->subject, &list, &err)
        != APR_SUCCESS)
        return store_problem(api, &err);
    arr = json_array();
    for (i = 0; arr != NULL && i < list->nelts; i++)
        json_array_append_new(arr, pds_consent_to_json(APR_ARRAY_IDX(list, i, pds_consent_t *),
                                                       NULL, apr_time_now(), api->r->pool));
    return pds_send_json(api->r, HTTP_OK, json_pack("{s:s,s:o}", "subject", api->subject,
                                                "consents", arr));
}

/* Mandates and opt-outs share a shape: a set of names a person turns on and off. */
static int api_names(api_t *api, int mandates, const char *name)
{
    request_rec *r = api->r;
    const pds_consent_list_e list = mandates ? PDS_CONSENT_MANDATES : PDS_CONSENT_OPTOUTS;
    apr_array_header_t *names, *times;
    const char *reason, *detail;
    pds_error_t err;
    apr_status_t rv;
    json_t *arr;
    int i;

    pds_error_clear(&err);
    if (name != NULL) {
        if (r->method_number != M_PUT && r->method_number != M_DELETE)
            return pds_send_problem(r, "method-not-allowed", "use PUT to add, DELETE to remove");
        if (ap_discard_request_body(r) != OK)
            return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
        reason = pds_consent_ops_set_name(api, mandates, name, r->method_number == M_PUT,
                                          &detail);
        if (reason != NULL)
            return problem(api, reason, detail);
    }
    else if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    rv = pds_consent_store_list_names(api->h->store, r->pool, list, api->subject, &names,
                                      &times, &err);
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    arr = json_array();
    for (i = 0; arr != NULL && i < names->nelts; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}",
                              mandates ? "manager" : "purpose",
                              APR_ARRAY_IDX(names, i, const char *),
                              "since", pds_time_format(r->pool,
                                                       APR_ARRAY_IDX(times, i, apr_time_t))));
    return pds_send_json(r, HTTP_OK, json_pack("{s:s,s:o}", "subject", api->subject,
                                           mandates ? "mandates" : "opt_outs", arr));
}

/* The receipt key first, then the published ones (a retired receipt key
 * whose receipts people still hold). */
static int api_keys(request_rec *r, pds_server_conf_t *sc)
{
    json_t *keys = pds_jwks_keys(sc, 0, r->pool);

    if (keys == NULL || json_array_size(keys) == 0) {
        json_decref(keys);
        return pds_send_problem(r, "internal-error", "the receipt key cannot be published");
    }
    return pds_send_json(r, HTTP_OK, json_pack("{s:o}", "keys", keys));
}

int pds_consent_handler(request_rec *r)
{
    pds_server_conf_t *sc;
    apr_array_header_t *segs;
    const char **seg;
    api_t api;
    int n, base = 0, rc, delegated;

    if (r->handler == NULL || strcmp(r->handler, CONSENT_HANDLER) != 0)
        return DECLINED;
    sc = pds_server_conf(r->server);
    if (r->args != NULL)
        return pds_send_problem(r, "query-not-allowed", "the consent API takes no query string");
    segs = pds_handler_segments(r, pds_handler_location(r));
    if (segs == NULL) {
        if (pds_handler_location(r) == NULL)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00098: SetHandler pds-consent "
                          "must be in a <Location> with a literal path (not inside <If>, "
                          "<Files> or a regular expression section)");
        return pds_send_problem(r, "not-found", "no such consent API resource");
    }
    seg = (const char **)segs->elts;
    n = segs->nelts;

    if (n == 1 && strcmp(seg[0], "keys") == 0 && sc->consent_receipt_key != NULL) {
        if (r->method_number != M_GET)
            return pds_send_problem(r, "method-not-allowed", "use GET");
        return api_keys(r, sc);
    }
    if (!pds_consent_has_store())
        return pds_send_problem(r, "not-found", "this server keeps no consents (PDSConsentStore)");

    memset(&api, 0, sizeof(api));
    api.r = r;
    api.sc = sc;
    delegated = n >= 2 && strcmp(seg[0], "subjects") == 0;
    if (delegated) {
        const char *why = NULL, *detail = NULL;
        pds_error_t err;
        int held = 0;

        api.manager = pds_identify(r, sc, &why, &detail);
        if (api.manager == NULL)
            return pds_send_problem(r, why, detail);
        if (!pds_conf_is_consent_manager(sc, api.manager))
            return pds_send_problem(r, "not-a-consent-manager", apr_psprintf(r->pool, "%s is not "
                                "a consent manager (PDSConsentManager)", api.manager));
        if (pds_subject_check(seg[1], NULL) != APR_SUCCESS)
            return pds_send_problem(r, "bad-subject", "the subject identifier is not valid");
        api.subject = seg[1];
        api.actor = apr_pstrcat(r->pool, "manager:", api.manager, NULL);
        base = 2;
        api.h = pds_consent_conn_acquire(r);
        if (api.h == NULL)
            return pds_send_problem(r, "consent-store-unavailable",
                                "the consent store cannot be reached");
        pds_error_clear(&err);
        if (pds_consent_store_list_held(api.h->store, r->pool, PDS_CONSENT_MANDATES,
                                        api.subject, api.manager,
                                           &held, &err) != APR_SUCCESS) {
            rc = store_problem(&api, &err);
            pds_consent_conn_release(api.h, api.failed);
            return rc;
        }
        if (!held) {
            pds_consent_conn_release(api.h, 0);
            return pds_send_problem(r, "no-mandate", apr_psprintf(r->pool, "%s holds no mandate "
                                "from this person", api.manager));
        }
    }
    else {
        api.subject = pds_person_subject(r);
        if (api.subject == NULL)
            return pds_send_problem(r, "person-not-identified", "sign in first: the consent API "
                                "acts for the person httpd authenticated");
        api.actor = "person";
        api.h = pds_consent_conn_acquire(r);
        if (api.h == NULL)
            return pds_send_problem(r, "consent-store-unavailable",
                                "the consent store cannot be reached");
    }

    seg += base;
    n -= base;
    if (n == 1 && strcmp(seg[0], "consents") == 0 && r->method_number == M_GET)
        rc = api_list(&api);
    else if (n == 1 && strcmp(seg[0], "consents") == 0 && r->method_number == M_POST)
        rc = api_grant(&api);
    else if (n == 2 && strcmp(seg[0], "consents") == 0 && pds_consent_ops_is_id(seg[1])
             && r->method_number == M_GET) {
        pds_consent_t *c;
        apr_array_header_t *hist;
        const char *reason, *detail;
        reason = pds_consent_ops_load_own(&api, seg[1], &c, &hist, &detail);
        if (reason != NULL)
            rc = problem(&api, reason, detail);
        else
            rc = pds_send_json(r, HTTP_OK, pds_consent_to_json(c, hist, apr_time_now(), r->pool));
    }
    else if (n == 3 && strcmp(seg[0], "consents") == 0 && pds_consent_ops_is_id(seg[1])
             && r->method_number == M_POST
             && (strcmp(seg[2], "pause") == 0 || strcmp(seg[2], "resume") == 0
                 || strcmp(seg[2], "revoke") == 0))
        rc = api_change(&api, seg[1], seg[2]);
    else if (delegated && n >= 1 && strcmp(seg[0], "mandates") == 0)
        rc = pds_send_problem(r, "not-found", "mandates are given by the person only");
    else if ((n == 1 || n == 2) && strcmp(seg[0], "mandates") == 0)
        rc = n == 2 && !pds_syntax_is_name(seg[1], PDS_SYNTAX_NAME_MAX)
            ? pds_send_problem(r, "invalid-consent", "not an organisation's name")
            : api_names(&api, 1, n == 2 ? seg[1] : NULL);
    else if ((n == 1 || n == 2) && strcmp(seg[0], "opt-outs") == 0)
        rc = n == 2 && !pds_syntax_is_name(seg[1], PDS_SYNTAX_NAME_MAX)
            ? pds_send_problem(r, "invalid-consent", "not a purpose name")
            : api_names(&api, 0, n == 2 ? seg[1] : NULL);
    else if (n >= 1 && (strcmp(seg[0], "consents") == 0 || strcmp(seg[0], "mandates") == 0
                        || strcmp(seg[0], "opt-outs") == 0) && n <= 3)
        rc = pds_send_problem(r, "method-not-allowed", "see docs/consent.md for the API");
    else
        rc = pds_send_problem(r, "not-found", "no such consent API resource");
    pds_consent_conn_release(api.h, api.failed);
    return rc;
}
