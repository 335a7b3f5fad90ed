/* mod_pds_consent_ops.c: the consent changes both the JSON API and the
 * portal make (mod_pds_consent_ops.h). Every change is committed to the
 * store, then the cache entry goes (pds_consent_cache_changed), then it is
 * audited.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_pds_audit.h"
#include "mod_pds_consent.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_consent_ops.h"
#include "mod_pds_response.h"

#define RECEIPT_TYPE      "pds-consent-receipt+jws"
#define CHANGE_RETRIES    3

const char *pds_consent_ops_store_problem(pds_consent_actor_t *a, const pds_error_t *err,
                                          const char **detail)
{
    const pds_reason_t *known = pds_reason_lookup(err->code);

    if (known == NULL || strcmp(err->code, "consent-store-unavailable") == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, a->r, "PDS00095: consent store: %s",
                      err->text);
        a->failed = 1;
        *detail = "the consent store cannot be reached; nothing was changed";
        return "consent-store-unavailable";
    }
    *detail = apr_pstrdup(a->r->pool, err->text);
    return apr_pstrdup(a->r->pool, err->code);
}

/* Audits a change (after it is committed). */
static void audit_change(pds_consent_actor_t *a, const char *action, const char *consent_id,
                         const char *purpose, int status)
{
    request_rec *r = a->r;
    pds_request_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->request_id = pds_make_request_id(r);
    rq->organisation = a->manager;
    rq->purpose = purpose;
    rq->path = apr_pstrcat(r->pool, r->uri, NULL);
    rq->decision.subject = a->subject;
    rq->consent = consent_id;
    if (pds_audit_decision(r, rq, "allow", NULL, status, NULL) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00096: the consent change %s of "
                      "%s was made but could not be audited", action,
                      consent_id ? consent_id : "(mandate or opt-out)");
}

json_t *pds_consent_ops_receipt(pds_consent_actor_t *a, const pds_consent_t *c,
                                const char *action)
{
    request_rec *r = a->r;
    json_t *jwk = pds_key_public_jwk(a->sc->consent_receipt_key, r->pool);
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
                        "iss", pds_conf_receipt_issuer(a->sc, pds_consent_server()),
                        "jti", apr_pstrcat(r->pool, "r-",
                                           pds_base64url_encode(r->pool, raw, sizeof(raw)),
                                           NULL),
                        "iat", (json_int_t)apr_time_sec(apr_time_now()),
                        "action", action,
                        "actor", a->actor,
                        "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool));
    json_decref(jwk);
    pds_error_clear(&err);
    rv = header && payload
        ? pds_jws_sign(&compact, r->pool, a->sc->consent_receipt_key, header, payload, &err)
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

const char *pds_consent_ops_misfit(pds_consent_actor_t *a, const pds_consent_t *c)
{
    const apr_array_header_t *as = a->sc->agreements;
    int i, j, k, found = 0;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *ag = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(ag);
        int purpose_ok = 0;

        if (strcmp(pds_agreement_party(ag), c->organisation) != 0
            || strcmp(pds_agreement_legal_basis(ag), "consent") != 0
            || (c->agreement != NULL && strcmp(pds_agreement_id(ag), c->agreement) != 0))
            continue;
        for (j = 0; j < purposes->nelts; j++)
            purpose_ok |= strcmp(APR_ARRAY_IDX(purposes, j, const char *), c->purpose) == 0;
        if (!purpose_ok)
            continue;
        found = 1;
        for (k = 0; k < c->fields->nelts; k++) {
            const char *f = APR_ARRAY_IDX(c->fields, k, const char *);
            pds_fieldset_t *one, *both;
            if (pds_fieldset_create(&one, a->r->pool) != APR_SUCCESS
                || pds_fieldset_add(one, f, NULL) != APR_SUCCESS
                || pds_fieldset_intersect(&both, a->r->pool, pds_agreement_release(ag), one)
                   != APR_SUCCESS
                || pds_fieldset_count(both) == 0)
                return apr_psprintf(a->r->pool, "field %s is not released by agreement %s",
                                    f, pds_agreement_id(ag));
        }
        return NULL;
    }
    if (!found)
        return apr_psprintf(a->r->pool, "no agreement with %s asks for consent for purpose "
                            "%s%s%s", c->organisation, c->purpose,
                            c->agreement ? " under " : "", c->agreement ? c->agreement : "");
    return NULL;
}

const char *pds_consent_ops_grant(pds_consent_actor_t *a, pds_consent_t *c,
                                  const char **detail)
{
    const char *misfit = pds_consent_ops_misfit(a, c);
    pds_error_t err;

    if (misfit != NULL) {
        *detail = misfit;
        return "invalid-consent";
    }
    pds_error_clear(&err);
    if (pds_consent_store_insert(a->h->store, a->r->pool, c, &err) != APR_SUCCESS)
        return pds_consent_ops_store_problem(a, &err, detail);
    pds_consent_cache_changed(a->r, c->subject,
                              pds_consent_cache_key(a->r->pool, c->subject, c->organisation,
                                                    c->purpose));
    audit_change(a, "grant", c->id, c->purpose, HTTP_CREATED);
    return NULL;
}

const char *pds_consent_ops_load_own(pds_consent_actor_t *a, const char *id,
                                     pds_consent_t **pc, apr_array_header_t **phist,
                                     const char **detail)
{
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_consent_store_get(a->h->store, a->r->pool, id, pc, phist, &err);
    if (rv == APR_NOTFOUND || (rv == APR_SUCCESS && strcmp((*pc)->subject, a->subject) != 0)) {
        *detail = "no consent of yours has this id";
        return "consent-not-found";
    }
    if (rv != APR_SUCCESS)
        return pds_consent_ops_store_problem(a, &err, detail);
    return NULL;
}

const char *pds_consent_ops_change(pds_consent_actor_t *a, const char *id, const char *action,
                                   pds_consent_t **pnext, apr_array_header_t **phist,
                                   const char **detail)
{
    request_rec *r = a->r;
    pds_consent_t *c = NULL, *next;
    pds_error_t err;
    const char *reason;
    int attempt;
    apr_status_t rv = APR_EGENERAL;

    pds_error_clear(&err);
    /* Compare and set: a concurrent change makes us read again, not overwrite. */
    for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
        if ((reason = pds_consent_ops_load_own(a, id, &c, NULL, detail)) != NULL)
            return reason;
        pds_error_clear(&err);
        if (pds_consent_transition(&next, r->pool, c, action, a->actor, apr_time_now(), &err)
            != APR_SUCCESS) {
            *detail = apr_pstrdup(r->pool, err.text);
            return apr_pstrdup(r->pool, err.code);
        }
        pds_error_clear(&err);
        rv = pds_consent_store_update(a->h->store, r->pool, c, next, action, &err);
        if (rv != APR_EAGAIN)
            break;
    }
    /* Even a failed write may have committed: the entry goes either way. */
    pds_consent_cache_changed(r, c->subject, pds_consent_cache_key(r->pool, c->subject,
                                                                   c->organisation,
                                                                   c->purpose));
    if (rv != APR_SUCCESS)
        return pds_consent_ops_store_problem(a, &err, detail);
    audit_change(a, action, c->id, c->purpose, HTTP_OK);
    return pds_consent_ops_load_own(a, id, pnext, phist, detail);
}

int pds_consent_ops_optout_guards(const pds_server_conf_t *sc, const char *organisation,
                                  const char *purpose)
{
    const apr_array_header_t *as = sc->agreements;
    int i, j;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *ag = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(ag);

        if (strcmp(pds_agreement_party(ag), organisation) != 0
            || !pds_optout_applies(pds_agreement_legal_basis(ag)))
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(purposes, j, const char *), purpose) == 0)
                return 1;
        }
    }
    return 0;
}

const char *pds_consent_ops_set_name(pds_consent_actor_t *a, int mandates, const char *name,
                                     int on, const char **detail)
{
    request_rec *r = a->r;
    const pds_consent_list_e list = mandates ? PDS_CONSENT_MANDATES : PDS_CONSENT_OPTOUTS;
    pds_error_t err;
    apr_status_t rv;
    int changed = 0;

    if (mandates && on && !pds_conf_is_consent_manager(a->sc, name)) {
        *detail = apr_psprintf(r->pool, "%s is not a consent manager this gateway knows", name);
        return "invalid-consent";
    }
    /* Withdrawing the person's objection to purpose would widen the
     * manager's own access: only the person may (as with grants). */
    if (!mandates && !on && a->manager != NULL
        && pds_consent_ops_optout_guards(a->sc, a->manager, name)) {
        *detail = apr_psprintf(r->pool, "a consent manager cannot withdraw an objection to "
                               "%s: it would release data to %s itself; only the person can",
                               name, a->manager);
        return "mandate-not-for-self";
    }
    pds_error_clear(&err);
    rv = pds_consent_store_list_set(a->h->store, r->pool, list, a->subject, name, on,
                                    apr_time_now(), &changed, &err);
    if (!mandates)      /* even a failed write may have committed */
        pds_consent_cache_changed(r, a->subject, pds_optout_cache_key(r->pool, a->subject,
                                                                      name));
    if (rv != APR_SUCCESS)
        return pds_consent_ops_store_problem(a, &err, detail);
    if (changed)
        audit_change(a, apr_pstrcat(r->pool, mandates ? "mandate-" : "opt-out-",
                                    on ? "on" : "off", NULL), NULL,
                     mandates ? NULL : name, HTTP_OK);
    return NULL;
}

int pds_consent_ops_is_id(const char *s)
{
    int i;

    if (s == NULL || strlen(s) != 34 || s[0] != 'c' || s[1] != '-')
        return 0;
    for (i = 2; i < 34; i++) {
        if (!apr_isxdigit(s[i]) || apr_isupper(s[i]))
            return 0;
    }
    return 1;
}
