/* pds_metrics_int.h: what lib/pds_metrics.c (the model and the counting)
 * and lib/pds_metrics_render.c (the readings and the two renderings)
 * share: the families, their label dimensions and the model's struct. lib/
 * only; pds_metrics.h is the contract.
 *
 * The counter block is an array of 64-bit words. Word 0 holds the reset
 * time (microseconds since the epoch); then each family's series, one word
 * for a counter, PDS_METRICS_BUCKETS + 2 for a histogram (a word per bucket,
 * one for +Inf, one for the sum in microseconds; the count is the sum of the
 * bucket words, so count and buckets always agree). A series' index is the
 * mixed-radix number of its label indexes (first label most significant).
 */
#ifndef PDS_METRICS_INT_H
#define PDS_METRICS_INT_H

#include <apr_atomic.h>
#include <apr_hash.h>

#include "pds_metrics.h"

#define HIST_WORDS (PDS_METRICS_BUCKETS + 2)  /* the words of a histogram series */
#define BACKEND_PREFIX "backend-"   /* the reasons counted as back-end errors */

/* A dimension: one or two labels whose values come together. */
typedef enum {
    DIM_WHO,            /* agreement, organisation */
    DIM_OUTCOME,        /* decision, reason */
    DIM_DECISION,
    DIM_RESULT,
    DIM_LIST,
    DIM_LOOKUP,
    DIM_BACKEND,
    DIM_FILTER,
    DIM_COUNT
} dim_e;

typedef enum { F_COUNTER, F_HISTOGRAM, F_GAUGE } ftype_e;

typedef enum {
    FAM_REQUESTS, FAM_REQUEST_DURATION, FAM_AUDIT_WRITES, FAM_AUDIT_WRITE_DURATION,
    FAM_AUDIT_SYNCS, FAM_AUDIT_SYNC_DURATION, FAM_CONSENT_LOOKUPS,
    FAM_CONSENT_DURATION, FAM_BACKEND_ERRORS, FAM_FILTER_REJECTIONS, FAM_RESET_TIME,
    FAM_COUNT
} family_e;

typedef struct family_t {
    const char *name;
    const char *help;
    ftype_e type;
    int sparse;         /* list only the series that are not zero */
    int ndims;
    dim_e dims[2];
} family_t;

/* The model: read-only once attached. */
struct pds_metrics_t {
    apr_pool_t *pool;
    /* DIM_WHO: index 0 none; 1..norgs an organisation; then agreements. */
    int norgs, nagreements;
    const char **orgs;              /* norgs */
    const char **agreements;        /* nagreements */
    const char **parties;           /* nagreements */
    apr_hash_t *org_index;          /* name -> int* (DIM_WHO index) */
    apr_hash_t *agreement_index;    /* id -> int* (DIM_WHO index) */
    /* DIM_OUTCOME: 0 allow; 1..nreasons deny with that reason. */
    int nreasons;
    const char **reasons;
    apr_hash_t *reason_index;       /* code -> int* (DIM_OUTCOME index) */
    int internal_error;             /* DIM_OUTCOME index of internal-error */
    int nbackend;
    const char **backend;           /* kinds: reason codes less "backend-" */
    int dim_size[DIM_COUNT];
    apr_size_t offset[FAM_COUNT];   /* first word of each family */
    apr_size_t words;
    const char *fingerprint;
    apr_uint64_t *mem;
};

/* The label values of the fixed dimensions, NULL-terminated. */
extern const char *const pds_metrics_kind_names[];      /* DIM_FILTER */
extern const char *const pds_metrics_decision_names[];  /* DIM_DECISION */
extern const char *const pds_metrics_result_names[];    /* DIM_RESULT */
extern const char *const pds_metrics_list_names[];      /* DIM_LIST */
extern const char *const pds_metrics_lookup_names[];    /* DIM_LOOKUP */

/* The families, in the order they are rendered. */
extern const family_t pds_metrics_families[FAM_COUNT];

/* One word of the block (atomic read). */
static inline apr_uint64_t pds_metrics_word(const pds_metrics_t *m, apr_size_t word)
{
    return apr_atomic_read64(&m->mem[word]);
}

#endif
