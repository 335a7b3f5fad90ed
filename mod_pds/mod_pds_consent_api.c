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
#include "mod_pds_identity.h"
#include "mod_pds_jwks.h"
#include "mod_pds_response.h"
#include "mod_pds_util.h"
#include "pds_syntax.h"

#define CONSENT_HANDLER   "pds-consent"
#define RECEIPT_TYPE      "pds-consent-receipt+jws"
#define CHANGE_RETRIES    3

typedef struct api_t {
    request_rec *r;
    pds_server_conf_t *sc;
    const char *subject;
    const char *actor;              /* "person" or "manager:<org>" */
    const char *manager;            /* the organisation acting, or NULL */
    pds_consent_conn_t *h;
    int failed;                     /* the connection failed: drop it */
} api_t;

static int store_problem(api_t *api, const pds_error_t *err)
{
    const pds_reason_t *known = pds_reason_lookup(err->code);

    if (known == NULL || strcmp(err->code, "consent-store-unavailable") == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, api->r, "PDS00095: consent store: %s",
                      err->text);
        api->failed = 1;
        return pds_send_problem(api->r, "consent-store-unavailable",
                            "the consent store cannot be reached; nothing was changed");
    }
    return pds_send_problem(api->r, err->code, err->text);
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

/* Audits a change made through the API (after it is committed). */
static void audit_change(api_t *api, const char *action, const char *consent_id,
                         const char *purpose, int status)
{
    request_rec *r = api->r;
    pds_request_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->request_id = pds_make_request_id(r);
    rq->organisation = api->manager;
    rq->purpose = purpose;
    rq->path = apr_pstrcat(r->pool, r->uri, NULL);
    rq->decision.subject = api->subject;
    rq->consent = consent_id;
    if (pds_audit_decision(r, rq, "allow", NULL, status, NULL) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00096: the consent change %s of "
                      "%s was made but could not be audited", action,
                      consent_id ? consent_id : "(mandate or opt-out)");
}

static json_t *receipt_for(api_t *api, const pds_consent_t *c, const char *action)
{
    request_rec *r = api->r;
    json_t *jwk = pds_key_public_jwk(api->sc->consent_receipt_key, r->pool);
    json_t *header, *payload;
    char *compact = NULL;
    pds_error_t err;
    unsigned char raw[16];
    apr_status_t rv;

    if (jwk == NULL || apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        json_decref(jwk);
        return NULL;
    }
    header = json_pack("{s:s,s:O}", "typ", RECEIPT_TYPE, "kid", json_object_get(jwk, "kid"));
    payload = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}",
                        /* configured, never the request's Host */
                        "iss", pds_conf_receipt_issuer(api->sc, pds_consent_server()),
                        "jti", apr_pstrcat(r->pool, "r-",
                                           pds_base64url_encode(r->pool, raw, sizeof(raw)),
                                           NULL),
                        "iat", (json_int_t)apr_time_sec(apr_time_now()),
                        "action", action,
                        "actor", api->actor,
                        "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool));
    json_decref(jwk);
    pds_error_clear(&err);
    rv = header && payload
        ? pds_jws_sign(&compact, r->pool, api->sc->consent_receipt_key, header, payload, &err)
        : APR_ENOMEM;
    json_decref(header);
    json_decref(payload);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00097: cannot sign a consent "
                      "receipt: %s", err.text);
        return NULL;
    }
    return json_string(compact);
}

/* Is the organisation of the grant one an agreement asks consent for? */
static const char *grant_fits_agreements(api_t *api, const pds_consent_t *c)
{
    const apr_array_header_t *as = api->sc->agreements;
    int i, j, k, found = 0;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);
        int purpose_ok = 0;

        if (strcmp(pds_agreement_party(a), c->organisation) != 0
            || strcmp(pds_agreement_legal_basis(a), "consent") != 0
            || (c->agreement != NULL && strcmp(pds_agreement_id(a), c->agreement) != 0))
            continue;
        for (j = 0; j < purposes->nelts; j++)
            purpose_ok |= strcmp(APR_ARRAY_IDX(purposes, j, const char *), c->purpose) == 0;
        if (!purpose_ok)
            continue;
        found = 1;
        for (k = 0; k < c->fields->nelts; k++) {
            const char *f = APR_ARRAY_IDX(c->fields, k, const char *);
            pds_fieldset_t *one, *both;
            if (pds_fieldset_create(&one, api->r->pool) != APR_SUCCESS
                || pds_fieldset_add(one, f, NULL) != APR_SUCCESS
                || pds_fieldset_intersect(&both, api->r->pool, pds_agreement_release(a), one)
                   != APR_SUCCESS
                || pds_fieldset_count(both) == 0)
                return apr_psprintf(api->r->pool, "field %s is not released by agreement %s",
                                    f, pds_agreement_id(a));
        }
        return NULL;
    }
    if (!found)
        return apr_psprintf(api->r->pool, "no agreement with %s asks for consent for purpose "
                            "%s%s%s", c->organisation, c->purpose,
                            c->agreement ? " under " : "", c->agreement ? c->agreement : "");
    return NULL;
}

static int api_grant(api_t *api)
{
    request_rec *r = api->r;
    const char *problem, *misfit;
    pds_consent_t *c;
    pds_error_t err;
    char *body;
    apr_size_t len;
    json_t *receipt;
    int status;

    status = read_body(r, &body, &len, &problem);
    if (status == HTTP_UNSUPPORTED_MEDIA_TYPE)
        return pds_send_problem(r, "unsupported-media-type", problem);
    if (status == HTTP_INTERNAL_SERVER_ERROR)
        return pds_send_problem(r, "internal-error", problem);
    if (status != OK)
        return pds_send_problem(r, "bad-consent-body", problem);
    pds_error_clear(&err);
    if (pds_consent_from_grant(&c, r->pool, body, len, api->subject, api->actor,
                               apr_time_now(), &err) != APR_SUCCESS)
        return pds_send_problem(r, err.code, err.text);
    if ((misfit = grant_fits_agreements(api, c)) != NULL)
        return pds_send_problem(r, "invalid-consent", misfit);
    if (pds_consent_store_insert(api->h->store, r->pool, c, &err) != APR_SUCCESS)
        return store_problem(api, &err);
    pds_consent_cache_changed(r, c->subject, pds_consent_cache_key(r->pool, c->subject,
                                                                   c->organisation,
                                                                   c->purpose));
    audit_change(api, "grant", c->id, c->purpose, HTTP_CREATED);
    receipt = receipt_for(api, c, "grant");
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, r->uri, "/", c->id, NULL));
    return pds_send_json(r, HTTP_CREATED, json_pack("{s:o,s:o}",
                     "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool),
                     "receipt", receipt ? receipt : json_null()));
}

/* Reads a consent of this subject; others' consents do not exist for them. */
static int load_own(api_t *api, const char *id, pds_consent_t **pc,
                    apr_array_header_t **phist, int *handled)
{
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_consent_store_get(api->h->store, api->r->pool, id, pc, phist, &err);
    *handled = 1;
    if (rv == APR_NOTFOUND || (rv == APR_SUCCESS && strcmp((*pc)->subject, api->subject) != 0))
        return pds_send_problem(api->r, "consent-not-found", "no consent of yours has this id");
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    *handled = 0;
    return OK;
}

static int api_change(api_t *api, const char *id, const char *action)
{
    request_rec *r = api->r;
    pds_consent_t *c, *next;
    apr_array_header_t *hist;
    pds_error_t err;
    json_t *receipt;
    int handled, attempt, rc;
    apr_status_t rv = APR_EGENERAL;

    if (ap_discard_request_body(r) != OK)
        return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
    /* Compare and set: a concurrent change makes us read again, not overwrite. */
    for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
        rc = load_own(api, id, &c, NULL, &handled);
        if (handled)
            return rc;
        pds_error_clear(&err);
        if (pds_consent_transition(&next, r->pool, c, action, api->actor, apr_time_now(), &err)
            != APR_SUCCESS)
            return pds_send_problem(r, err.code, err.text);
        pds_error_clear(&err);
        rv = pds_consent_store_update(api->h->store, r->pool, c, next, action, &err);
        if (rv != APR_EAGAIN)
            break;
    }
    /* Even a failed write may have committed: the entry goes either way. */
    pds_consent_cache_changed(r, c->subject, pds_consent_cache_key(r->pool, c->subject,
                                                                   c->organisation,
                                                                   c->purpose));
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    audit_change(api, action, c->id, c->purpose, HTTP_OK);
    rc = load_own(api, id, &next, &hist, &handled);
    if (handled)
        return rc;
    receipt = receipt_for(api, next, action);
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

/* Does organisation have an agreement for purpose that an opt-out refuses?
 * Then withdrawing the person's objection to purpose would widen its own
 * access: a consent manager may not do that for itself (as with grants). */
static int optout_guards(const pds_server_conf_t *sc, const char *organisation,
                         const char *purpose)
{
    const apr_array_header_t *as = sc->agreements;
    int i, j;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);

        if (strcmp(pds_agreement_party(a), organisation) != 0
            || !pds_optout_applies(pds_agreement_legal_basis(a)))
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(purposes, j, const char *), purpose) == 0)
                return 1;
        }
    }
    return 0;
}

/* Mandates and opt-outs share a shape: a set of names a person turns on and off. */
static int api_names(api_t *api, int mandates, const char *name)
{
    request_rec *r = api->r;
    const pds_consent_list_e list = mandates ? PDS_CONSENT_MANDATES : PDS_CONSENT_OPTOUTS;
    apr_array_header_t *names, *times;
    pds_error_t err;
    apr_status_t rv;
    json_t *arr;
    int i, changed = 0;

    pds_error_clear(&err);
    if (name != NULL) {
        int on = r->method_number == M_PUT;
        if (r->method_number != M_PUT && r->method_number != M_DELETE)
            return pds_send_problem(r, "method-not-allowed", "use PUT to add, DELETE to remove");
        if (mandates && on && (!pds_conf_is_consent_manager(api->sc, name)))
            return pds_send_problem(r, "invalid-consent", apr_psprintf(r->pool, "%s is not a "
                                "consent manager this gateway knows", name));
        if (!mandates && !on && api->manager != NULL
            && optout_guards(api->sc, api->manager, name))
            return pds_send_problem(r, "mandate-not-for-self", apr_psprintf(r->pool, "a "
                                "consent manager cannot withdraw an objection to %s: it "
                                "would release data to %s itself; only the person can",
                                name, api->manager));
        if (ap_discard_request_body(r) != OK)
            return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
        rv = pds_consent_store_list_set(api->h->store, r->pool, list, api->subject, name,
                                        on, apr_time_now(), &changed, &err);
        if (!mandates)      /* even a failed write may have committed */
            pds_consent_cache_changed(r, api->subject,
                                      pds_optout_cache_key(r->pool, api->subject, name));
        if (rv != APR_SUCCESS)
            return store_problem(api, &err);
        if (changed)
            audit_change(api, apr_pstrcat(r->pool, mandates ? "mandate-" : "opt-out-",
                                          on ? "on" : "off", NULL), NULL,
                         mandates ? NULL : name, HTTP_OK);
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

/* The path below the handler's <Location>, split at "/" (empty segments refused). */
static apr_array_header_t *route_segments(request_rec *r, const char *location)
{
    apr_array_header_t *segs = apr_array_make(r->pool, 6, sizeof(const char *));
    apr_size_t loclen = location ? strlen(location) : 0;
    const char *rest;
    char *copy, *tok, *state;

    while (loclen > 0 && location[loclen - 1] == '/')
        loclen--;
    if (location == NULL || strncmp(r->uri, location, loclen) != 0
        || (r->uri[loclen] != '\0' && r->uri[loclen] != '/'))
        return NULL;
    rest = r->uri + loclen;
    if (strstr(rest, "//") != NULL)
        return NULL;
    copy = apr_pstrdup(r->pool, rest);
    for (tok = apr_strtok(copy, "/", &state); tok != NULL; tok = apr_strtok(NULL, "/", &state))
        APR_ARRAY_PUSH(segs, const char *) = tok;
    return segs;
}

/* Where the handler is mounted: the innermost <Location>'s literal path (core
 * keeps it for every section; our own config only where a mod_pds directive
 * is). NULL when the innermost section is no literal path (<If>, a regex). */
static const char *handler_location(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);

    if (core == NULL || core->d == NULL || core->d[0] != '/' || core->d_is_fnmatch
        || core->r != NULL)
        return NULL;
    return core->d;
}

static int is_consent_id(const char *s)
{
    int i;

    if (strlen(s) != 34 || s[0] != 'c' || s[1] != '-')
        return 0;
    for (i = 2; i < 34; i++) {
        if (!apr_isxdigit(s[i]) || apr_isupper(s[i]))
            return 0;
    }
    return 1;
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
    segs = route_segments(r, handler_location(r));
    if (segs == NULL) {
        if (handler_location(r) == NULL)
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
    else if (n == 2 && strcmp(seg[0], "consents") == 0 && is_consent_id(seg[1])
             && r->method_number == M_GET) {
        pds_consent_t *c;
        apr_array_header_t *hist;
        int handled;
        rc = load_own(&api, seg[1], &c, &hist, &handled);
        if (!handled)
            rc = pds_send_json(r, HTTP_OK, pds_consent_to_json(c, hist, apr_time_now(), r->pool));
    }
    else if (n == 3 && strcmp(seg[0], "consents") == 0 && is_consent_id(seg[1])
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
