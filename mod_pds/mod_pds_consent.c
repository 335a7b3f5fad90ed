/* mod_pds_consent.c: consent in the request path (mod_pds_consent.h).
 *
 * Enforcement (pds_consent_enforce, from the access hook): a request an
 * agreement with LegalBasis consent allowed goes ahead only if a live consent
 * covers subject, organisation, purpose and time, from the store or from a
 * signed artefact in PDS-Consent-Artefact; the fields released are the
 * agreement's narrowed to the consent's. Other legal bases honour the opt-out
 * register (except legal-obligation and vital-interests, which a person's
 * objection does not override in law). A collection is decided record by
 * record (pds_consent_row_decide, from the response filter).
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_pds_consent.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_util.h"

static const char *narrow(request_rec *r, pds_request_t *rq, const pds_fieldset_t *allowed,
                          const char **detail)
{
    pds_fieldset_t *both;

    if (pds_fieldset_intersect(&both, r->pool, pds_agreement_release(rq->decision.agreement),
                               allowed) != APR_SUCCESS) {
        *detail = "the consent's fields cannot be applied";
        return "internal-error";
    }
    if (pds_fieldset_count(both) == 0) {
        *detail = "the consent covers none of the fields this agreement releases";
        return "consent-missing";
    }
    rq->release = both;
    return NULL;
}

static const char *check_artefact(request_rec *r, pds_request_t *rq, const char *compact,
                                  const char **detail)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const pds_agreement_t *a = rq->decision.agreement;
    pds_artefact_expect_t expect;
    pds_artefact_t *art = NULL;
    pds_error_t err;
    apr_status_t rv;

    if (!pds_consent_trusts_artefacts()) {
        *detail = "this gateway trusts no consent artefact issuer";
        return "artefact-unknown-issuer";
    }
    memset(&expect, 0, sizeof(expect));
    expect.subject = rq->decision.subject;
    expect.organisation = rq->organisation;
    expect.purpose = rq->purpose;
    expect.agreement = pds_agreement_id(a);
    expect.now = r->request_time;
    expect.clock_skew = pds_conf_clock_skew(sc);
    expect.max_lifetime = 0;
    pds_error_clear(&err);

    rv = pds_consent_artefact_check(r, compact, &expect, &art, &err);
    if (rv != APR_SUCCESS) {
        *detail = apr_pstrdup(r->pool, err.text);
        return pds_reason_lookup(err.code) ? apr_pstrdup(r->pool, err.code)
                                           : "artefact-malformed";
    }
    rq->consent = apr_pstrcat(r->pool, "artefact:", art->id, NULL);
    return narrow(r, rq, art->fields, detail);
}

static const char *enforce_consent(request_rec *r, pds_request_t *rq, const char **detail)
{
    const pds_agreement_t *a = rq->decision.agreement;
    const char *artefact, *reason = NULL;
    const pds_consent_t *c;
    pds_consent_lookup_t *l;
    pds_fieldset_t *fields;
    pds_error_t err;

    if (pds_header_count(r->headers_in, PDS_ARTEFACT_HEADER) > 1) {
        *detail = "send at most one " PDS_ARTEFACT_HEADER " header";
        return "artefact-malformed";
    }
    artefact = apr_table_get(r->headers_in, PDS_ARTEFACT_HEADER);
    if (artefact != NULL)
        return check_artefact(r, rq, artefact, detail);

    if (!pds_consent_has_store()) {
        *detail = "this agreement needs consent: send a consent artefact in "
                  PDS_ARTEFACT_HEADER;
        return "consent-missing";
    }
    pds_error_clear(&err);
    if (pds_consent_lookup_cached(r, rq->decision.subject, rq->organisation, rq->purpose,
                                  &l, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00093: consent store: %s", err.text);
        *detail = "the consent store cannot be reached; try again later";
        return "consent-store-unavailable";
    }
    c = pds_consent_lookup_decide(l, rq->decision.subject, rq->organisation,
                                  pds_agreement_id(a), rq->purpose, r->request_time, &reason);
    if (c == NULL) {
        *detail = apr_psprintf(r->pool, "no live consent of this person covers %s for "
                               "purpose %s", rq->organisation, rq->purpose);
        return reason;
    }
    rq->consent = c->id;
    pds_error_clear(&err);
    if (pds_consent_fieldset(&fields, r->pool, c, &err) != APR_SUCCESS) {
        *detail = "a stored consent's fields are not readable";
        return "consent-store-unavailable";
    }
    return narrow(r, rq, fields, detail);
}

/* Art. 21 GDPR: a person may object to processing on these bases. */
int pds_optout_applies(const char *basis)
{
    return strcmp(basis, "legal-obligation") != 0 && strcmp(basis, "vital-interests") != 0
        && strcmp(basis, "consent") != 0;
}

/* "[*].<path>" for each of a consent's fields: a collection's record paths. */
static apr_status_t record_fieldset(pds_fieldset_t **pset, apr_pool_t *p,
                                    const apr_array_header_t *fields)
{
    pds_fieldset_t *set;
    int i;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        return APR_ENOMEM;
    for (i = 0; i < fields->nelts; i++) {
        if (pds_fieldset_add(set, apr_pstrcat(p, "[*].", APR_ARRAY_IDX(fields, i,
                                                                        const char *),
                                              NULL), NULL) != APR_SUCCESS)
            return APR_EINVAL;
    }
    *pset = set;
    return APR_SUCCESS;
}

apr_status_t pds_consent_row_decide(void *baton, const char *subject,
                                    const pds_fieldset_t **pset, const char **pseudonym,
                                    pds_error_t *err)
{
    pds_row_baton_t *b = baton;
    request_rec *r = b->r;
    pds_request_t *rq = b->rq;
    const pds_agreement_t *a = rq->decision.agreement;
    const char *basis = pds_agreement_legal_basis(a), *reason = NULL;

    *pset = NULL;
    *pseudonym = NULL;
    if (pds_subject_check(subject, NULL) != APR_SUCCESS)
        return APR_SUCCESS;                 /* not a subject we can ask about */
    if (strcmp(basis, "consent") == 0) {
        pds_consent_lookup_t *l;
        const pds_consent_t *c;
        pds_fieldset_t *fields, *both;

        if (!pds_consent_has_store())
            return APR_SUCCESS;             /* artefacts name one person: none here */
        if (pds_consent_lookup_cached(r, subject, rq->organisation, rq->purpose, &l, err)
            != APR_SUCCESS)
            return APR_EGENERAL;
        c = pds_consent_lookup_decide(l, subject, rq->organisation, pds_agreement_id(a),
                                      rq->purpose, r->request_time, &reason);
        if (c == NULL)
            return APR_SUCCESS;             /* no live consent: left out */
        /* Whose record it is stays (when the agreement releases it): a
         * collection without it could not be told apart. Added before the
         * intersection, so the agreement's transform of it still applies. */
        if (record_fieldset(&fields, r->pool, c->fields) != APR_SUCCESS
            || pds_fieldset_add(fields, apr_pstrcat(r->pool, "[*].",
                                                    pds_agreement_record_subject(a), NULL),
                                NULL) != APR_SUCCESS
            || pds_fieldset_intersect(&both, r->pool, pds_agreement_release(a), fields)
               != APR_SUCCESS) {
            pds_error_set(err, "internal-error", -1, "consent", "cannot narrow a record");
            return APR_EGENERAL;
        }
        *pset = both;
    }
    else {
        int opted_out = 0;

        if (pds_consent_has_store() && pds_optout_applies(basis)) {
            if (pds_optout_lookup_cached(r, subject, rq->purpose, &opted_out, err)
                != APR_SUCCESS)
                return APR_EGENERAL;
            if (opted_out)
                return APR_SUCCESS;
        }
        *pset = pds_agreement_release(a);
    }
    if (b->key != NULL && pds_agreement_deidentified(a))
        *pseudonym = b->hmac != NULL
            ? pds_pseudonym_hmac(r->pool, b->hmac, subject, strlen(subject))
            : pds_pseudonym(r->pool, b->key, subject, strlen(subject));
    return APR_SUCCESS;
}

const char *pds_consent_enforce(request_rec *r, pds_request_t *rq, const char **detail)
{
    const pds_agreement_t *a = rq->decision.agreement;
    const char *basis = pds_agreement_legal_basis(a);
    pds_error_t err;
    int opted_out = 0;

    rq->release = pds_agreement_release(a);
    /* A collection read is decided record by record, in the response filter;
     * a write names no one, so a consent agreement cannot allow it. */
    if (rq->decision.subject == NULL && pds_agreement_record_subject(a) != NULL
        && r->method_number == M_GET)
        return NULL;
    if (strcmp(basis, "consent") == 0 && rq->decision.subject == NULL) {
        *detail = "a consent agreement must name whose data is asked for";
        return "consent-missing";
    }
    if (strcmp(basis, "consent") == 0)
        return enforce_consent(r, rq, detail);
    if (!pds_consent_has_store() || rq->decision.subject == NULL
        || !pds_optout_applies(basis))
        return NULL;
    pds_error_clear(&err);
    if (pds_optout_lookup_cached(r, rq->decision.subject, rq->purpose, &opted_out, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00094: consent store: %s", err.text);
        *detail = "the opt-out register cannot be reached; try again later";
        return "consent-store-unavailable";
    }
    if (opted_out) {
        *detail = apr_psprintf(r->pool, "the person has objected to purpose %s", rq->purpose);
        return "opted-out";
    }
    return NULL;
}

/* --- the person ------------------------------------------------------------ */

const char *pds_person_subject(request_rec *r)
{
    const char *how = pds_conf_person_subject(pds_dir_conf(r));
    const char *subject;

    if (strncmp(how, "env:", 4) == 0) {
        subject = r->user != NULL ? apr_table_get(r->subprocess_env, how + 4) : NULL;
        if (subject == NULL && r->user != NULL)
            subject = apr_table_get(r->notes, how + 4);
    }
    else
        subject = r->user;
    if (subject == NULL || pds_subject_check(subject, NULL) != APR_SUCCESS)
        return NULL;
    return subject;
}
