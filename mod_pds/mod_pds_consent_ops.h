/* mod_pds_consent_ops.h: the changes a person (or a consent manager under
 * their mandate) makes to their consents, mandates and opt-outs (layer 4 of
 * docs/architecture.md). Both surfaces call these: the JSON consent API
 * (mod_pds_consent_api.c) and the portal's forms (mod_pds_portal.c), so a
 * change made in the browser is the very change the API makes: checked
 * against the agreements, committed to the store, the cache entry dropped,
 * audited, and answered with a signed receipt.
 *
 * Each operation returns NULL when it succeeded, or a reason code of
 * lib/pds_reason.c with *detail (for the person; never a secret), which the
 * caller turns into its own answer (a problem document, a page).
 */
#ifndef MOD_PDS_CONSENT_OPS_H
#define MOD_PDS_CONSENT_OPS_H

#include "mod_pds_private.h"
#include "mod_pds_consent_cache.h"

/* Who acts, for whom, over which store connection. */
typedef struct pds_consent_actor_t {
    request_rec *r;
    pds_server_conf_t *sc;
    const char *subject;            /* the person the consents are about */
    const char *actor;              /* "person" or "manager:<org>" */
    const char *manager;            /* the organisation acting, or NULL */
    pds_consent_conn_t *h;          /* acquired by the caller */
    int failed;                     /* the connection failed: release it dropped */
} pds_consent_actor_t;

/* The reason for a store error: "consent-store-unavailable" (logged,
 * PDS00095, and the connection marked failed) unless err names a known
 * reason; *detail says what to tell the person. */
const char *pds_consent_ops_store_problem(pds_consent_actor_t *a, const pds_error_t *err,
                                          const char **detail);

/* NULL when some agreement with c's organisation asks consent for c's
 * purpose (and is c's agreement, when c names one) and releases every one of
 * c's fields; otherwise what is wrong (pool text). */
const char *pds_consent_ops_misfit(pds_consent_actor_t *a, const pds_consent_t *c);

/* Grants c (a new consent, from pds_consent_from_grant): checks it fits the
 * agreements ("invalid-consent"), stores it, drops the cache entry and
 * audits the change. */
const char *pds_consent_ops_grant(pds_consent_actor_t *a, pds_consent_t *c,
                                  const char **detail);

/* Reads consent id if it is the subject's ("consent-not-found" otherwise:
 * another person's consents do not exist for them); *phist may be NULL. */
const char *pds_consent_ops_load_own(pds_consent_actor_t *a, const char *id,
                                     pds_consent_t **pc, apr_array_header_t **phist,
                                     const char **detail);

/* Applies action ("pause", "resume", "revoke") to the subject's consent id,
 * compare-and-set against concurrent changes, drops the cache entry, audits,
 * and reads the new version and its history into *pnext and *phist. */
const char *pds_consent_ops_change(pds_consent_actor_t *a, const char *id, const char *action,
                                   pds_consent_t **pnext, apr_array_header_t **phist,
                                   const char **detail);

/* Turns a mandate (mandates 1: name an organisation, which must be a
 * PDSConsentManager) or an opt-out (mandates 0: name a purpose) on or off;
 * audits a change. A consent manager may not withdraw an objection that
 * would release data to itself ("mandate-not-for-self"). */
const char *pds_consent_ops_set_name(pds_consent_actor_t *a, int mandates, const char *name,
                                     int on, const char **detail);

/* A signed receipt (compact JWS, as a JSON string: new reference) for c
 * after action; NULL when it cannot be signed (logged, PDS00097). */
json_t *pds_consent_ops_receipt(pds_consent_actor_t *a, const pds_consent_t *c,
                                const char *action);

/* Does organisation have an agreement for purpose that an opt-out refuses? */
int pds_consent_ops_optout_guards(const pds_server_conf_t *sc, const char *organisation,
                                  const char *purpose);

/* Is s a consent id as the store makes them ("c-" and 32 lowercase hex)? */
int pds_consent_ops_is_id(const char *s);

#endif
