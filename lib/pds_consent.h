/* pds_consent.h: the consent record, its life cycle and the decision cache's
 * encoding.
 *
 * A consent record follows ISO/IEC TS 27560 and the Kantara consent receipt:
 * who consents (subject), to whom (the organisation, optionally one of its
 * agreements), for what (purpose), which fields, on what legal basis, having
 * seen which notice, from when until when, in which state, and who made the
 * last change (the person, or a consent manager acting under a mandate).
 *
 * States: "active", "paused", "revoked" are stored; "expired" is what an
 * active or paused consent becomes once its expiry has passed (computed, so no
 * job has to run at midnight). Revoked is final. Transitions:
 *   pause   active -> paused        resume  paused -> active
 *   revoke  active | paused -> revoked
 * Everything else is refused with "consent-state-conflict".
 *
 * The store (pds_consent_store.h) keeps every version as history; this file
 * holds no I/O.
 */
#ifndef PDS_CONSENT_H
#define PDS_CONSENT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#include "pds_error.h"
#include "pds_filter.h"
#include "pds_time.h"      /* consent documents' times: pds_time_format, _parse */

/* Longest time a consent may run, and the default when a grant names none. */
#define PDS_CONSENT_MAX_DAYS      (5 * 366)
#define PDS_CONSENT_DEFAULT_DAYS  365
#define PDS_CONSENT_MAX_FIELDS    256
#define PDS_CONSENT_MAX_BODY      65536

typedef struct pds_consent_t {
    const char *id;               /* "c-" and 32 hex digits */
    const char *subject;
    const char *organisation;     /* the recipient: an agreement's Party */
    const char *agreement;        /* NULL: any of the organisation's agreements */
    const char *purpose;
    apr_array_header_t *fields;   /* const char *: field paths, as granted */
    const char *legal_basis;      /* "consent" */
    const char *notice;           /* the notice (and its version) the person saw */
    apr_time_t created;
    apr_time_t expires;
    const char *state;            /* stored: "active", "paused" or "revoked" */
    int version;                  /* 1 at grant; +1 with every change */
    apr_time_t updated;           /* when this version was made */
    const char *actor;            /* "person" or "manager:<organisation>" */
} pds_consent_t;

/* One entry of a consent's history. */
typedef struct pds_consent_event_t {
    int version;
    const char *action;           /* "grant", "pause", "resume", "revoke" */
    const char *state;            /* the stored state after it */
    const char *actor;
    apr_time_t time;
} pds_consent_event_t;

/* Builds a new active consent from a grant body (a JSON object):
 *   {"organisation": "nhs-fife", "purpose": "direct-care",
 *    "fields": ["name", "dob"], "notice": "council-privacy-notice-v3",
 *    "agreement": "council-to-fife" (optional),
 *    "expires": "2027-11-30T00:00:00Z" (optional; default one year)}
 * for subject, at now, by actor, with a fresh random id. Codes:
 *   "bad-consent-body"  not JSON, not an object, duplicate keys, over
 *                       PDS_CONSENT_MAX_BODY (HTTP 400)
 *   "invalid-consent"   a member missing, unknown, of the wrong type or value:
 *                       err->source names it, err->text says what is expected
 *                       (HTTP 422)
 *   "mandate-not-for-self"  actor is "manager:<org>" and the grant is to <org>:
 *                       a mandate never gives the manager access (HTTP 403) */
apr_status_t pds_consent_from_grant(pds_consent_t **pc, apr_pool_t *p,
                                    const char *body, apr_size_t len,
                                    const char *subject, const char *actor,
                                    apr_time_t now, pds_error_t *err);

/* The state a person would see at now: the stored state, or "expired". */
const char *pds_consent_state_at(const pds_consent_t *c, apr_time_t now);

/* Applies action ("pause", "resume", "revoke") at now by actor: a new version
 * in p (c is left unchanged). "consent-state-conflict" for a transition the
 * life cycle does not allow, "invalid-consent" for an unknown action,
 * "mandate-not-for-self" for a resume by "manager:<org>" of a consent to <org>. */
apr_status_t pds_consent_transition(pds_consent_t **pnext, apr_pool_t *p,
                                    const pds_consent_t *c, const char *action,
                                    const char *actor, apr_time_t now,
                                    pds_error_t *err);

/* Is c a consent that can release data for this request at now: live
 * (active, not expired) and bound to subject, organisation and purpose, and
 * to agreement when c names one? */
int pds_consent_covers(const pds_consent_t *c, const char *subject,
                       const char *organisation, const char *agreement,
                       const char *purpose, apr_time_t now);

/* The fields as a compiled set (for pds_fieldset_intersect). */
apr_status_t pds_consent_fieldset(pds_fieldset_t **pset, apr_pool_t *p,
                                  const pds_consent_t *c, pds_error_t *err);

/* The record as JSON (new reference), with "state" as seen at now and times in
 * RFC 3339. history may be NULL. */
json_t *pds_consent_to_json(const pds_consent_t *c, const apr_array_header_t *history,
                            apr_time_t now, apr_pool_t *p);

/* The fields as a JSON array text (what the store keeps) and back. */
char *pds_consent_fields_encode(apr_pool_t *p, const apr_array_header_t *fields);
apr_status_t pds_consent_fields_decode(apr_array_header_t **pfields, apr_pool_t *p,
                                       const char *text, pds_error_t *err);

/* --- the decision cache ------------------------------------------------------ */

/* Cache keys: "consent/2/" or "optout/2/" and 64 hex digits, the SHA-256 of
 * the components joined by "/" (each a validated token, [A-Za-z0-9._-], no
 * "/", so the joining is unambiguous): no subject in clear in a cache or in
 * a provider's log line, and a length every provider takes. */
char *pds_consent_cache_key(apr_pool_t *p, const char *subject,
                            const char *organisation, const char *purpose);
char *pds_optout_cache_key(apr_pool_t *p, const char *subject, const char *purpose);

/* What the cache holds for a (subject, organisation, purpose): the consents
 * of the store that may apply, enough to decide without the store. */
typedef struct pds_consent_lookup_t {
    apr_array_header_t *consents;   /* pds_consent_t *, most recent first */
} pds_consent_lookup_t;

char *pds_consent_lookup_encode(apr_pool_t *p, const pds_consent_lookup_t *l,
                                apr_size_t *plen);
apr_status_t pds_consent_lookup_decode(pds_consent_lookup_t **pl, apr_pool_t *p,
                                       const char *data, apr_size_t len,
                                       pds_error_t *err);

/* Decides from a lookup: the live consent covering the request, or NULL with
 * *reason "consent-missing", "consent-paused", "consent-expired" or
 * "consent-revoked" (from the most recent consent for this organisation and
 * purpose that names no other agreement). */
const pds_consent_t *pds_consent_lookup_decide(const pds_consent_lookup_t *l,
                                               const char *subject,
                                               const char *organisation,
                                               const char *agreement,
                                               const char *purpose, apr_time_t now,
                                               const char **reason);

#endif
