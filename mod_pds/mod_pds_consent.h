/* mod_pds_consent.h: consent and the opt-out register in the request path,
 * and the person a request is from (layer 4 of docs/architecture.md).
 */
#ifndef MOD_PDS_CONSENT_H
#define MOD_PDS_CONSENT_H

#include "mod_pds_private.h"
#include "mod_pds_response.h"

/* The consent or opt-out check for a request an agreement allowed: NULL when
 * it may go ahead (rq->release and rq->consent set), else a reason code with
 * *detail for the client. A store failure is logged (PDS00093, PDS00094)
 * and refuses (consent-store-unavailable). */
const char *pds_consent_enforce(request_rec *r, pds_request_t *rq, const char **detail);

/* A collection's records, one by one (pds_row_decide_fn of lib/pds_filter.h):
 * the record's fields under the person's consent (or opt-out), or NULL to
 * leave it out. */
typedef struct pds_row_baton_t {
    request_rec *r;
    pds_request_t *rq;
    const unsigned char *key;       /* the agreement's pseudonym key, or NULL */
    pds_hmac_t *hmac;               /* the same made ready for the request, or NULL */
} pds_row_baton_t;
apr_status_t pds_consent_row_decide(void *baton, const char *subject,
                                    const pds_fieldset_t **pset, const char **pseudonym,
                                    pds_error_t *err);

/* 1 when a person may object to processing on this legal basis (Art. 21
 * GDPR): not under consent, legal-obligation or vital-interests. */
int pds_optout_applies(const char *basis);

/* The person httpd authenticated, as a subject identifier (PDSPersonSubject),
 * or NULL. */
const char *pds_person_subject(request_rec *r);

#endif
