/* pds_metrics.h: the operator's counters, free of httpd.
 *
 * A pds_metrics_t is the model of mod_pds's metrics: which metric families
 * exist (names, types, help, label sets), how many counter slots each one
 * takes for a given configuration, where a given observation lands, the
 * latency buckets, and the two renderings (Prometheus text format 0.0.4 and
 * JSON). It owns no counter memory: the caller gives it a zeroed block of
 * pds_metrics_size() bytes (mod_pds puts it in shared memory) with
 * pds_metrics_attach(). Every count is one or two atomic adds on that block
 * (apr_atomic_add64): no lock, safe from any process or thread that maps it.
 *
 * The layout depends only on the configuration: the agreements (each with
 * its one Party), the organisations and the reason table (lib/pds_reason).
 * pds_metrics_fingerprint() names it, so a caller can keep a block across a
 * restart whose configuration gives the same layout.
 *
 * The families (docs/operations.md is the reference):
 *   pds_requests_total{agreement,organisation,decision,reason}   counter
 *   pds_request_duration_seconds{decision}                       histogram
 *   pds_audit_writes_total{result}                               counter
 *   pds_audit_write_duration_seconds                             histogram
 *   pds_audit_syncs_total{result}                                counter
 *   pds_audit_sync_duration_seconds                              histogram
 *   pds_consent_lookups_total{list,result}                       counter
 *   pds_consent_store_duration_seconds{list}                     histogram
 *   pds_backend_errors_total{kind}                               counter
 *   pds_filter_rejections_total{kind}                            counter
 *   pds_metrics_reset_time_seconds                               gauge
 * Labels with no value (a request refused before its organisation or
 * agreement was known, an allow's reason) have the empty string.
 *
 * Memory: the model lives in the pool it was created in and is read-only
 * once attached (safe to share between threads).
 */
#ifndef PDS_METRICS_H
#define PDS_METRICS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pds_error.h"

typedef struct pds_metrics_t pds_metrics_t;

/* The latency buckets' upper bounds, in microseconds (the rendering gives
 * them in seconds: 0.0005 ... 10), and +Inf after them. */
#define PDS_METRICS_BUCKETS 14
extern const apr_int64_t pds_metrics_bucket_us[PDS_METRICS_BUCKETS];

/* Makes the model for a configuration. agreement_ids and agreement_parties
 * are parallel arrays of const char * (an agreement's id and its Party);
 * organisations an array of const char *. Duplicates are counted once (the
 * first wins). NULL arrays are empty. Errors: a NULL or empty name
 * ("metrics-name"). */
apr_status_t pds_metrics_create(pds_metrics_t **pm, apr_pool_t *p,
                                const apr_array_header_t *agreement_ids,
                                const apr_array_header_t *agreement_parties,
                                const apr_array_header_t *organisations,
                                pds_error_t *err);

/* The bytes of counter memory the model needs (a multiple of 8). */
apr_size_t pds_metrics_size(const pds_metrics_t *m);

/* A short text naming the layout (equal for two models exactly when a block
 * made for one is right for the other). Pool memory of the model. */
const char *pds_metrics_fingerprint(const pds_metrics_t *m);

/* Points the model at its counter memory: pds_metrics_size() bytes, aligned
 * for 64-bit words. zero: clear it and note now as the reset time (a new
 * block); 0: keep what it holds (a block kept across a restart). */
void pds_metrics_attach(pds_metrics_t *m, void *mem, int zero, apr_time_t now);

/* --- counting (atomic; m NULL or not attached: nothing happens) ---------- */

/* One decision (one audit record): agreement and organisation may be NULL
 * (or not in the configuration: counted without that label); allowed 1 for
 * an allow (its reason is not kept), 0 for a deny with reason (an unknown
 * code or NULL counts as "internal-error"). took is the time since the
 * request began (negative: 0). A deny whose reason is a back end's failure
 * (backend-*) is also counted in pds_backend_errors_total, by kind. */
void pds_metrics_decision(pds_metrics_t *m, const char *agreement,
                          const char *organisation, int allowed, const char *reason,
                          apr_interval_time_t took);

/* An audit record's write (under the log's mutex) and, when PDSAuditSync is
 * on, its sync; ok 1 when it succeeded. */
void pds_metrics_audit_write(pds_metrics_t *m, int ok, apr_interval_time_t took);
void pds_metrics_audit_sync(pds_metrics_t *m, int ok, apr_interval_time_t took);

/* A consent-store lookup through the cache. */
typedef enum {
    PDS_METRICS_CONSENTS = 0,       /* the consents that decide a request */
    PDS_METRICS_OPTOUTS = 1         /* the opt-out register */
} pds_metrics_list_e;
typedef enum {
    PDS_METRICS_HIT = 0,            /* answered from the cache */
    PDS_METRICS_MISS = 1,           /* read from the store */
    PDS_METRICS_ERROR = 2           /* the store failed (or no connection) */
} pds_metrics_lookup_e;
/* took: the store's time on a miss or an error (ignored on a hit). */
void pds_metrics_consent_lookup(pds_metrics_t *m, pds_metrics_list_e list,
                                pds_metrics_lookup_e result, apr_interval_time_t took);

/* The response filter refused a back end's response. kind is one of
 * pds_metrics_filter_kinds() (anything else counts as "other"). */
void pds_metrics_filter_reject(pds_metrics_t *m, const char *kind);

/* The filter kinds, NULL-terminated: content-length, partial, encoded,
 * not-json, too-large, invalid-json, duplicate-key, too-deep,
 * unexpected-type, transform-type, other. */
const char *const *pds_metrics_filter_kinds(void);

/* --- reading --------------------------------------------------------------- */

/* Prometheus text exposition format 0.0.4: every family with HELP and TYPE;
 * pds_requests_total lists the label sets that are not zero (it is sparse),
 * every other family all of its label sets. JSON: {"reset_time": RFC 3339,
 * "metrics": {name: {"type", "help", "series": [{"labels": {...}, "value"}
 * or, for a histogram, {"labels", "count", "sum", "buckets": {le: n}}]}}}
 * with the same series. Both in pool p; *plen gets the length (may be
 * NULL). An unattached model renders its families without series. */
char *pds_metrics_prometheus(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen);
char *pds_metrics_json(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen);

/* Totals for a short summary (mod_status): decisions allowed and denied,
 * audit write errors, consent store errors, back-end errors, filter
 * rejections. */
typedef struct pds_metrics_summary_t {
    apr_uint64_t allowed, denied, audit_errors, consent_errors, backend_errors,
        filter_rejections;
    apr_time_t reset_time;
} pds_metrics_summary_t;
void pds_metrics_summary(const pds_metrics_t *m, pds_metrics_summary_t *out);

#endif
