/* pds_consent_store.h: the consent store on apr_dbd.
 *
 * SQLite (apr-util's sqlite3 driver, the embedded default) or PostgreSQL
 * (pgsql), the same SQL for both. A store handle is one database connection:
 * not for two threads at once (the glue keeps a pool of them per process).
 *
 * Tables (schema version 3, recorded in pds_schema):
 *   pds_consents         the current version of each consent
 *   pds_consent_history  every version ever made, grant included: nothing is
 *                        overwritten or lost
 *   pds_mandates         which consent manager may act for whom (a row per
 *                        grant; withdrawing sets "revoked", the row stays)
 *   pds_optouts          objections to a purpose (same pattern)
 *   pds_disclosures      since 2: the index of who received whose data, a row
 *                        per disclosure per person (pds_disclosure_store.h);
 *                        since 3 unique on the audit line and the person
 *   pds_disclosure_cursors  since 2: how far each node's audit log is indexed;
 *                        since 3 with the identity of the file it is in and
 *                        since when the node is behind
 *
 * A change is one transaction: the consent row is updated only if its version
 * is still the one read ("compare and set"), and the history row is written
 * with it, so two concurrent changes cannot both win and nothing is half
 * written. SQLite runs in WAL mode with a busy timeout so many httpd
 * processes can share the file.
 *
 * Every failure of the database itself gives err->code
 * "consent-store-unavailable" (err->text has the driver's message, for logs).
 */
#ifndef PDS_CONSENT_STORE_H
#define PDS_CONSENT_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_consent.h"
#include "pds_error.h"

#define PDS_CONSENT_SCHEMA_VERSION 3

typedef struct pds_consent_store_t pds_consent_store_t;

/* Opens a connection. driver is "sqlite3" or "pgsql"; params is the SQLite
 * file name or a libpq conninfo string. timeout_ms bounds how long a locked
 * SQLite database is waited for (PostgreSQL: statement_timeout). Checks the
 * schema: with migrate non-zero a missing or older schema is created or
 * upgraded; otherwise it must be current ("consent-store-schema"). A schema
 * newer than this code knows is always refused. */
apr_status_t pds_consent_store_open(pds_consent_store_t **ps, apr_pool_t *p,
                                    const char *driver, const char *params,
                                    int timeout_ms, int migrate, pds_error_t *err);
void pds_consent_store_close(pds_consent_store_t *s);

/* Is the connection still usable? */
int pds_consent_store_alive(pds_consent_store_t *s, apr_pool_t *p);

/* A real read (the schema table), for a health check: APR_SUCCESS when the
 * store answered and still holds the schema it was opened with; otherwise
 * err says why (the driver's text, or "consent-store-schema"). */
apr_status_t pds_consent_store_ping(pds_consent_store_t *s, apr_pool_t *p, pds_error_t *err);

/* The consent store's schema version (after open). */
int pds_consent_store_schema_version(const pds_consent_store_t *s);

/* A new consent and its first history entry ("grant"). */
apr_status_t pds_consent_store_insert(pds_consent_store_t *s, apr_pool_t *p,
                                      const pds_consent_t *c, pds_error_t *err);

/* One consent; *phistory (pds_consent_event_t, oldest first) when phistory is
 * not NULL. "consent-not-found" when there is none. */
apr_status_t pds_consent_store_get(pds_consent_store_t *s, apr_pool_t *p,
                                   const char *id, pds_consent_t **pc,
                                   apr_array_header_t **phistory, pds_error_t *err);

/* Replaces prev by next (next->version == prev->version + 1) and records
 * action in the history, only if the stored version is still prev's:
 * otherwise "consent-conflict" and nothing is written. */
apr_status_t pds_consent_store_update(pds_consent_store_t *s, apr_pool_t *p,
                                      const pds_consent_t *prev,
                                      const pds_consent_t *next, const char *action,
                                      pds_error_t *err);

/* A subject's consents (pds_consent_t *), most recently changed first. */
apr_status_t pds_consent_store_list(pds_consent_store_t *s, apr_pool_t *p,
                                    const char *subject, apr_array_header_t **pcs,
                                    pds_error_t *err);

/* The consents that may decide a request of organisation for subject and
 * purpose, most recently changed first (what the decision cache holds). */
apr_status_t pds_consent_store_lookup(pds_consent_store_t *s, apr_pool_t *p,
                                      const char *subject, const char *organisation,
                                      const char *purpose, pds_consent_lookup_t **pl,
                                      pds_error_t *err);

/* Mandates and opt-outs: lists of names per person, where an "open" row (not
 * revoked) is in force. */
typedef enum {
    PDS_CONSENT_MANDATES,       /* the managers a person has given a mandate */
    PDS_CONSENT_OPTOUTS         /* the purposes a person has opted out of */
} pds_consent_list_e;

/* on=1 opens a row for name unless one is open; on=0 closes the open one.
 * *changed says whether anything was written. */
apr_status_t pds_consent_store_list_set(pds_consent_store_t *s, apr_pool_t *p,
                                        pds_consent_list_e list, const char *subject,
                                        const char *name, int on, apr_time_t now,
                                        int *changed, pds_error_t *err);
/* *held: whether a row for name is open. */
apr_status_t pds_consent_store_list_held(pds_consent_store_t *s, apr_pool_t *p,
                                         pds_consent_list_e list, const char *subject,
                                         const char *name, int *held, pds_error_t *err);
/* The names in force (const char *: managers, or purposes), with the time
 * each was opened in a parallel array of apr_time_t (ptimes may be NULL). */
apr_status_t pds_consent_store_list_names(pds_consent_store_t *s, apr_pool_t *p,
                                          pds_consent_list_e list, const char *subject,
                                          apr_array_header_t **pnames,
                                          apr_array_header_t **ptimes, pds_error_t *err);


#endif
