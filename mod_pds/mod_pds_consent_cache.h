/* mod_pds_consent_cache.h: the consent store, its cache and the trust
 * registry of artefact issuers (layer 3 of docs/architecture.md).
 *
 * One process-wide state for the main server (consent directives are
 * main-server only): made in post_config, the store's connections per child.
 * Enforcement (mod_pds_consent.c) reads through the cache; the consent API
 * (mod_pds_consent_api.c) writes to the store and then calls
 * pds_consent_cache_changed. Every failure here fails closed: the callers
 * answer consent-store-unavailable (503).
 */
#ifndef MOD_PDS_CONSENT_CACHE_H
#define MOD_PDS_CONSENT_CACHE_H

#include "mod_pds_private.h"
#include "pds_artefact.h"
#include "pds_consent_store.h"

/* Lifecycle. pre_config registers the cache mutex type; post_config loads
 * the trust registry, creates or upgrades the store's schema, and creates
 * the cache (OK, or an HTTP error status that stops the start, logged);
 * child_init makes the child's pool of store connections. */
void pds_consent_pre_config(apr_pool_t *pconf);
int pds_consent_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void pds_consent_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 when a consent store (PDSConsentStore) is configured. */
int pds_consent_has_store(void);

/* 1 when a trust registry of artefact issuers (PDSConsentTrustRegistry) is. */
int pds_consent_trusts_artefacts(void);

/* The main server the consent state was made for, or NULL without one. */
server_rec *pds_consent_server(void);

/* A connection to the store, held for one request. */
typedef struct pds_consent_conn_t {
    apr_pool_t *pool;
    pds_consent_store_t *store;
} pds_consent_conn_t;

/* A connection from this child's pool, or NULL when none can be had (no
 * store, or it cannot be reached). Give it back with
 * pds_consent_conn_release (NULL allowed); failed: it failed, drop it. */
pds_consent_conn_t *pds_consent_conn_acquire(request_rec *r);
void pds_consent_conn_release(pds_consent_conn_t *h, int failed);

/* The consents that decide (subject, organisation, purpose), or whether the
 * subject opted out of purpose: from the cache, else from the store (and
 * then cached, never past a consent's expiry). A store failure: err set
 * (consent-store-unavailable when no connection), not APR_SUCCESS. *pl is
 * request pool memory. */
apr_status_t pds_consent_lookup_cached(request_rec *r, const char *subject,
                                       const char *organisation, const char *purpose,
                                       pds_consent_lookup_t **pl, pds_error_t *err);
apr_status_t pds_optout_lookup_cached(request_rec *r, const char *subject,
                                      const char *purpose, int *opted_out, pds_error_t *err);

/* After a change to subject's consents or opt-outs committed (or may have):
 * no fill older than it is believed from now on, and the entry key goes,
 * for the other servers sharing the cache too. */
void pds_consent_cache_changed(request_rec *r, const char *subject, const char *key);

/* Checks a compact consent artefact against the trust registry (reloaded
 * when its file changed, at most every PDSConsentTrustRegistry interval; a
 * bad edit keeps the last good one, logged PDS00092). Only when
 * pds_consent_trusts_artefacts(). pds_artefact_check's result and errors;
 * *part in the request pool. */
apr_status_t pds_consent_artefact_check(request_rec *r, const char *compact,
                                        const pds_artefact_expect_t *expect,
                                        pds_artefact_t **part, pds_error_t *err);

#endif
