/* pds_metrics.c: the counter model, its slots and its two renderings.
 *
 * The counter block is an array of 64-bit words. Word 0 holds the reset
 * time (microseconds since the epoch); then each family's series, one word
 * for a counter, PDS_METRICS_BUCKETS + 2 for a histogram (a word per bucket,
 * one for +Inf, one for the sum in microseconds; the count is the sum of the
 * bucket words, so count and buckets always agree). A series' index is the
 * mixed-radix number of its label indexes (first label most significant).
 *
 * pds_requests_total would be agreements x organisations x reasons, but an
 * agreement has exactly one Party: its "who" label pair is one of
 * (none, none), (none, organisation) for a request without an agreement, or
 * (agreement, its party). Likewise its "outcome" is (allow, none) or (deny,
 * reason). So it takes (1 + O + A) x (1 + R) words.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_metrics.h"
#include "pds_reason.h"
#include "pds_time.h"

const apr_int64_t pds_metrics_bucket_us[PDS_METRICS_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

#define HIST_WORDS (PDS_METRICS_BUCKETS + 2)
#define BACKEND_PREFIX "backend-"

static const char *const filter_kinds[] = {
    "content-length", "partial", "encoded", "not-json", "too-large", "invalid-json",
    "duplicate-key", "too-deep", "unexpected-type", "transform-type", "other", NULL
};
static const char *const decisions[] = { "allow", "deny", NULL };
static const char *const results[] = { "ok", "error", NULL };
static const char *const lists[] = { "consents", "optouts", NULL };
static const char *const lookups[] = { "hit", "miss", "error", NULL };

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

static const family_t families[FAM_COUNT] = {
    { "pds_requests_total", "Decisions made (one per audit record), by agreement, "
      "organisation, decision and reason.", F_COUNTER, 1, 2, { DIM_WHO, DIM_OUTCOME } },
    { "pds_request_duration_seconds", "Time from the request's start to its decision's "
      "audit record.", F_HISTOGRAM, 0, 1, { DIM_DECISION } },
    { "pds_audit_writes_total", "Audit record writes (under the log's mutex).",
      F_COUNTER, 0, 1, { DIM_RESULT } },
    { "pds_audit_write_duration_seconds", "Time to take the audit mutex and write a "
      "record.", F_HISTOGRAM, 0, 0, { 0 } },
    { "pds_audit_syncs_total", "Audit record syncs to disk (PDSAuditSync on).",
      F_COUNTER, 0, 1, { DIM_RESULT } },
    { "pds_audit_sync_duration_seconds", "Time to sync an audit record to disk.",
      F_HISTOGRAM, 0, 0, { 0 } },
    { "pds_consent_lookups_total", "Consent and opt-out lookups: answered from the "
      "cache (hit), read from the store (miss), or failed (error).",
      F_COUNTER, 0, 2, { DIM_LIST, DIM_LOOKUP } },
    { "pds_consent_store_duration_seconds", "Time of a consent store read (cache "
      "misses and errors).", F_HISTOGRAM, 0, 1, { DIM_LIST } },
    { "pds_backend_errors_total", "Requests refused because of the back end, by "
      "kind.", F_COUNTER, 0, 1, { DIM_BACKEND } },
    { "pds_filter_rejections_total", "Back-end responses the response filter "
      "refused, by kind.", F_COUNTER, 0, 1, { DIM_FILTER } },
    { "pds_metrics_reset_time_seconds", "When these counters last started from zero "
      "(Unix time).", F_GAUGE, 0, 0, { 0 } },
};

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

static int list_len(const char *const *l)
{
    int n = 0;

    while (l[n] != NULL)
        n++;
    return n;
}

static int *boxed(apr_pool_t *p, int v)
{
    int *b = apr_palloc(p, sizeof(*b));

    *b = v;
    return b;
}

/* 64-bit FNV-1a, for the fingerprint. */
static apr_uint64_t fnv(apr_uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= APR_UINT64_C(1099511628211);
    }
    h ^= 0xff;                      /* a separator no name contains */
    h *= APR_UINT64_C(1099511628211);
    return h;
}

static int name_ok(const char *s)
{
    return s != NULL && *s != '\0';
}

apr_status_t pds_metrics_create(pds_metrics_t **pm, apr_pool_t *p,
                                const apr_array_header_t *agreement_ids,
                                const apr_array_header_t *agreement_parties,
                                const apr_array_header_t *organisations,
                                pds_error_t *err)
{
    pds_metrics_t *m = apr_pcalloc(p, sizeof(*m));
    const pds_reason_t *r;
    int na = agreement_ids ? agreement_ids->nelts : 0;
    int no = organisations ? organisations->nelts : 0;
    int i, f, d;
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);

    *pm = NULL;
    if (na > 0 && (agreement_parties == NULL || agreement_parties->nelts != na)) {
        pds_error_set(err, "metrics-name", -1, "metrics", "every agreement needs its party");
        return APR_EINVAL;
    }
    m->pool = p;
    m->org_index = apr_hash_make(p);
    m->agreement_index = apr_hash_make(p);
    m->reason_index = apr_hash_make(p);
    m->orgs = apr_pcalloc(p, sizeof(char *) * (no + na + 1));
    m->agreements = apr_pcalloc(p, sizeof(char *) * (na + 1));
    m->parties = apr_pcalloc(p, sizeof(char *) * (na + 1));
    for (i = 0; i < no; i++) {
        const char *o = APR_ARRAY_IDX(organisations, i, const char *);

        if (!name_ok(o)) {
            pds_error_set(err, "metrics-name", -1, "metrics", "an organisation has no name");
            return APR_EINVAL;
        }
        if (apr_hash_get(m->org_index, o, APR_HASH_KEY_STRING) != NULL)
            continue;
        m->orgs[m->norgs++] = o;
        apr_hash_set(m->org_index, o, APR_HASH_KEY_STRING, boxed(p, m->norgs));
    }
    for (i = 0; i < na; i++) {
        const char *a = APR_ARRAY_IDX(agreement_ids, i, const char *);
        const char *party = APR_ARRAY_IDX(agreement_parties, i, const char *);

        if (!name_ok(a) || !name_ok(party)) {
            pds_error_set(err, "metrics-name", -1, "metrics", "an agreement has no id or "
                          "no party");
            return APR_EINVAL;
        }
        if (apr_hash_get(m->agreement_index, a, APR_HASH_KEY_STRING) != NULL)
            continue;
        m->agreements[m->nagreements] = a;
        m->parties[m->nagreements] = party;
        m->nagreements++;
        /* After every organisation: its who index is final. */
        apr_hash_set(m->agreement_index, a, APR_HASH_KEY_STRING,
                     boxed(p, m->norgs + m->nagreements));
    }

    for (r = pds_reason_table(); r->code != NULL; r++)
        m->nreasons++;
    m->reasons = apr_pcalloc(p, sizeof(char *) * (m->nreasons + 1));
    m->backend = apr_pcalloc(p, sizeof(char *) * (m->nreasons + 1));
    for (i = 0, r = pds_reason_table(); r->code != NULL; r++, i++) {
        m->reasons[i] = r->code;
        apr_hash_set(m->reason_index, r->code, APR_HASH_KEY_STRING, boxed(p, i + 1));
        if (strcmp(r->code, "internal-error") == 0)
            m->internal_error = i + 1;
        if (strncmp(r->code, BACKEND_PREFIX, strlen(BACKEND_PREFIX)) == 0)
            m->backend[m->nbackend++] = r->code + strlen(BACKEND_PREFIX);
    }

    m->dim_size[DIM_WHO] = 1 + m->norgs + m->nagreements;
    m->dim_size[DIM_OUTCOME] = 1 + m->nreasons;
    m->dim_size[DIM_DECISION] = list_len(decisions);
    m->dim_size[DIM_RESULT] = list_len(results);
    m->dim_size[DIM_LIST] = list_len(lists);
    m->dim_size[DIM_LOOKUP] = list_len(lookups);
    m->dim_size[DIM_BACKEND] = m->nbackend;
    m->dim_size[DIM_FILTER] = list_len(filter_kinds);

    m->words = 1;                   /* the reset time */
    for (f = 0; f < FAM_COUNT; f++) {
        apr_size_t series = 1;

        for (d = 0; d < families[f].ndims; d++)
            series *= (apr_size_t)m->dim_size[families[f].dims[d]];
        m->offset[f] = m->words;
        if (families[f].type == F_GAUGE)
            continue;               /* the reset time, word 0 */
        m->words += series * (families[f].type == F_HISTOGRAM ? HIST_WORDS : 1);
    }

    for (i = 0; i < m->norgs; i++)
        h = fnv(h, m->orgs[i]);
    h = fnv(h, "");
    for (i = 0; i < m->nagreements; i++) {
        h = fnv(h, m->agreements[i]);
        h = fnv(h, m->parties[i]);
    }
    h = fnv(h, "");
    for (i = 0; i < m->nreasons; i++)
        h = fnv(h, m->reasons[i]);
    m->fingerprint = apr_psprintf(p, "v1-%d-%d-%d-%" APR_SIZE_T_FMT "-%016" APR_UINT64_T_HEX_FMT,
                                  m->norgs, m->nagreements, m->nreasons, m->words, h);
    *pm = m;
    return APR_SUCCESS;
}

apr_size_t pds_metrics_size(const pds_metrics_t *m)
{
    return m->words * sizeof(apr_uint64_t);
}

const char *pds_metrics_fingerprint(const pds_metrics_t *m)
{
    return m->fingerprint;
}

void pds_metrics_attach(pds_metrics_t *m, void *mem, int zero, apr_time_t now)
{
    m->mem = mem;
    if (zero) {
        memset(mem, 0, pds_metrics_size(m));
        apr_atomic_set64(&m->mem[0], (apr_uint64_t)now);
    }
}

/* --- counting -------------------------------------------------------------- */

static void add(pds_metrics_t *m, apr_size_t word, apr_uint64_t n)
{
    apr_atomic_add64(&m->mem[word], n);
}

static int bucket_of(apr_interval_time_t took)
{
    int b;

    for (b = 0; b < PDS_METRICS_BUCKETS; b++) {
        if (took <= pds_metrics_bucket_us[b])
            return b;
    }
    return PDS_METRICS_BUCKETS;     /* +Inf */
}

static void observe(pds_metrics_t *m, family_e f, apr_size_t series,
                    apr_interval_time_t took)
{
    apr_size_t base = m->offset[f] + series * HIST_WORDS;

    if (took < 0)
        took = 0;
    add(m, base + (apr_size_t)bucket_of(took), 1);
    add(m, base + PDS_METRICS_BUCKETS + 1, (apr_uint64_t)took);
}

static int index_of(apr_hash_t *h, const char *key)
{
    const int *v;

    if (key == NULL)
        return 0;
    v = apr_hash_get(h, key, APR_HASH_KEY_STRING);
    return v ? *v : 0;
}

void pds_metrics_decision(pds_metrics_t *m, const char *agreement,
                          const char *organisation, int allowed, const char *reason,
                          apr_interval_time_t took)
{
    int who, outcome, k;

    if (m == NULL || m->mem == NULL)
        return;
    who = index_of(m->agreement_index, agreement);
    if (who == 0)
        who = index_of(m->org_index, organisation);
    outcome = 0;
    if (!allowed) {
        outcome = index_of(m->reason_index, reason);
        if (outcome == 0)
            outcome = m->internal_error;
    }
    add(m, m->offset[FAM_REQUESTS] + (apr_size_t)who * m->dim_size[DIM_OUTCOME] + outcome, 1);
    observe(m, FAM_REQUEST_DURATION, allowed ? 0 : 1, took);
    if (!allowed && reason != NULL
        && strncmp(reason, BACKEND_PREFIX, strlen(BACKEND_PREFIX)) == 0) {
        for (k = 0; k < m->nbackend; k++) {
            if (strcmp(reason + strlen(BACKEND_PREFIX), m->backend[k]) == 0) {
                add(m, m->offset[FAM_BACKEND_ERRORS] + k, 1);
                break;
            }
        }
    }
}

void pds_metrics_audit_write(pds_metrics_t *m, int ok, apr_interval_time_t took)
{
    if (m == NULL || m->mem == NULL)
        return;
    add(m, m->offset[FAM_AUDIT_WRITES] + (ok ? 0 : 1), 1);
    observe(m, FAM_AUDIT_WRITE_DURATION, 0, took);
}

void pds_metrics_audit_sync(pds_metrics_t *m, int ok, apr_interval_time_t took)
{
    if (m == NULL || m->mem == NULL)
        return;
    add(m, m->offset[FAM_AUDIT_SYNCS] + (ok ? 0 : 1), 1);
    observe(m, FAM_AUDIT_SYNC_DURATION, 0, took);
}

void pds_metrics_consent_lookup(pds_metrics_t *m, pds_metrics_list_e list,
                                pds_metrics_lookup_e result, apr_interval_time_t took)
{
    if (m == NULL || m->mem == NULL || (int)list < 0 || (int)list >= m->dim_size[DIM_LIST]
        || (int)result < 0 || (int)result >= m->dim_size[DIM_LOOKUP])
        return;
    add(m, m->offset[FAM_CONSENT_LOOKUPS] + (apr_size_t)list * m->dim_size[DIM_LOOKUP]
        + result, 1);
    if (result != PDS_METRICS_HIT)
        observe(m, FAM_CONSENT_DURATION, list, took);
}

void pds_metrics_filter_reject(pds_metrics_t *m, const char *kind)
{
    int k, other = list_len(filter_kinds) - 1;

    if (m == NULL || m->mem == NULL)
        return;
    for (k = 0; kind != NULL && filter_kinds[k] != NULL; k++) {
        if (strcmp(kind, filter_kinds[k]) == 0)
            break;
    }
    if (kind == NULL || filter_kinds[k] == NULL)
        k = other;
    add(m, m->offset[FAM_FILTER_REJECTIONS] + k, 1);
}

const char *const *pds_metrics_filter_kinds(void)
{
    return filter_kinds;
}

/* --- reading --------------------------------------------------------------- */

static apr_uint64_t get(const pds_metrics_t *m, apr_size_t word)
{
    return apr_atomic_read64(&m->mem[word]);
}

/* The label names and values of index i of dimension d (two at most). */
static int dim_labels(const pds_metrics_t *m, dim_e d, int i, const char *names[2],
                      const char *values[2])
{
    switch (d) {
    case DIM_WHO:
        names[0] = "agreement";
        names[1] = "organisation";
        if (i == 0) {
            values[0] = values[1] = "";
        }
        else if (i <= m->norgs) {
            values[0] = "";
            values[1] = m->orgs[i - 1];
        }
        else {
            values[0] = m->agreements[i - 1 - m->norgs];
            values[1] = m->parties[i - 1 - m->norgs];
        }
        return 2;
    case DIM_OUTCOME:
        names[0] = "decision";
        names[1] = "reason";
        values[0] = i == 0 ? "allow" : "deny";
        values[1] = i == 0 ? "" : m->reasons[i - 1];
        return 2;
    case DIM_DECISION:
        names[0] = "decision";
        values[0] = decisions[i];
        return 1;
    case DIM_RESULT:
        names[0] = "result";
        values[0] = results[i];
        return 1;
    case DIM_LIST:
        names[0] = "list";
        values[0] = lists[i];
        return 1;
    case DIM_LOOKUP:
        names[0] = "result";
        values[0] = lookups[i];
        return 1;
    case DIM_BACKEND:
        names[0] = "kind";
        values[0] = m->backend[i];
        return 1;
    case DIM_FILTER:
    default:
        names[0] = "kind";
        values[0] = filter_kinds[i];
        return 1;
    }
}

/* One series' labels, as name/value pairs (four at most). */
typedef struct labels_t {
    int n;
    const char *name[4];
    const char *value[4];
} labels_t;

static void series_labels(const pds_metrics_t *m, const family_t *fam, apr_size_t series,
                          labels_t *out)
{
    apr_size_t rest = series;
    int idx[2] = { 0, 0 };
    int d;

    for (d = fam->ndims - 1; d >= 0; d--) {
        apr_size_t size = (apr_size_t)m->dim_size[fam->dims[d]];

        idx[d] = (int)(rest % size);
        rest /= size;
    }
    out->n = 0;
    for (d = 0; d < fam->ndims; d++)
        out->n += dim_labels(m, fam->dims[d], idx[d], out->name + out->n,
                             out->value + out->n);
}

static apr_size_t family_series(const pds_metrics_t *m, const family_t *fam)
{
    apr_size_t n = 1;
    int d;

    for (d = 0; d < fam->ndims; d++)
        n *= (apr_size_t)m->dim_size[fam->dims[d]];
    return n;
}

/* A text being built, in pool memory, doubling as it grows. */
typedef struct text_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} text_t;

static void put(text_t *t, const char *s, apr_size_t n)
{
    if (t->len + n + 1 > t->cap) {
        apr_size_t cap = t->cap ? t->cap : 4096;
        char *grown;

        while (cap < t->len + n + 1)
            cap *= 2;
        grown = apr_palloc(t->p, cap);
        if (t->len > 0)
            memcpy(grown, t->buf, t->len);
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(text_t *t, const char *s)
{
    put(t, s, strlen(s));
}

/* A label value, escaped as the text format asks (\\, \" and \n). */
static void put_value(text_t *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            puts_(t, "\\\\");
        else if (*v == '"')
            puts_(t, "\\\"");
        else if (*v == '\n')
            puts_(t, "\\n");
        else
            put(t, v, 1);
    }
}

/* {a="x",b="y"} with an extra le label when le is not NULL; nothing when
 * there are no labels at all. */
static void put_labels(text_t *t, const labels_t *l, const char *le)
{
    int k;

    if (l->n == 0 && le == NULL)
        return;
    puts_(t, "{");
    for (k = 0; k < l->n; k++) {
        if (k > 0)
            puts_(t, ",");
        puts_(t, l->name[k]);
        puts_(t, "=\"");
        put_value(t, l->value[k]);
        puts_(t, "\"");
    }
    if (le != NULL) {
        if (l->n > 0)
            puts_(t, ",");
        puts_(t, "le=\"");
        puts_(t, le);
        puts_(t, "\"");
    }
    puts_(t, "}");
}

/* Microseconds as seconds, exactly ("0.0005", "10", "1.234567"). */
static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    char *s;
    apr_size_t n;

    s = apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT,
                     us / APR_USEC_PER_SEC, us % APR_USEC_PER_SEC);
    n = strlen(s);
    while (s[n - 1] == '0')
        s[--n] = '\0';
    if (s[n - 1] == '.')
        s[--n] = '\0';
    return s;
}

static const char *type_name(ftype_e t)
{
    return t == F_COUNTER ? "counter" : t == F_HISTOGRAM ? "histogram" : "gauge";
}

/* A histogram series: bucket counts (cumulative), count and sum. */
static void hist_read(const pds_metrics_t *m, family_e f, apr_size_t series,
                      apr_uint64_t cumulative[PDS_METRICS_BUCKETS + 1], apr_uint64_t *sum)
{
    apr_size_t base = m->offset[f] + series * HIST_WORDS;
    apr_uint64_t running = 0;
    int b;

    for (b = 0; b <= PDS_METRICS_BUCKETS; b++) {
        running += get(m, base + b);
        cumulative[b] = running;
    }
    *sum = get(m, base + PDS_METRICS_BUCKETS + 1);
}

char *pds_metrics_prometheus(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen)
{
    text_t t = { p, NULL, 0, 0 };
    int f, b;

    puts_(&t, "");
    for (f = 0; f < FAM_COUNT; f++) {
        const family_t *fam = &families[f];
        apr_size_t s, n = family_series(m, fam);

        puts_(&t, apr_psprintf(p, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
                               fam->name, type_name(fam->type)));
        if (m->mem == NULL)
            continue;
        if (fam->type == F_GAUGE) {
            puts_(&t, apr_psprintf(p, "%s %s\n", fam->name, seconds(p, get(m, 0))));
            continue;
        }
        for (s = 0; s < n; s++) {
            labels_t l;

            series_labels(m, fam, s, &l);
            if (fam->type == F_COUNTER) {
                apr_uint64_t v = get(m, m->offset[f] + s);

                if (fam->sparse && v == 0)
                    continue;
                puts_(&t, fam->name);
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n", v));
            }
            else {
                apr_uint64_t cum[PDS_METRICS_BUCKETS + 1], sum;
                hist_read(m, (family_e)f, s, cum, &sum);
                for (b = 0; b <= PDS_METRICS_BUCKETS; b++) {
                    puts_(&t, fam->name);
                    puts_(&t, "_bucket");
                    put_labels(&t, &l, b < PDS_METRICS_BUCKETS
                               ? seconds(p, (apr_uint64_t)pds_metrics_bucket_us[b]) : "+Inf");
                    puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n", cum[b]));
                }
                puts_(&t, fam->name);
                puts_(&t, "_sum");
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %s\n", seconds(p, sum)));
                puts_(&t, fam->name);
                puts_(&t, "_count");
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n",
                                       cum[PDS_METRICS_BUCKETS]));
            }
        }
    }
    if (plen != NULL)
        *plen = t.len;
    return t.buf;
}

/* Takes value's reference; 0 when either is NULL or the set failed. */
static int set(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL) {
        json_decref(value);
        return 0;
    }
    return value != NULL && json_object_set_new(obj, key, value) == 0;
}

static json_t *json_labels(const labels_t *l)
{
    json_t *o = json_object();
    int k;

    for (k = 0; o != NULL && k < l->n; k++) {
        if (!set(o, l->name[k], json_string(l->value[k]))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *json_series(const pds_metrics_t *m, family_e f, apr_size_t s,
                           apr_pool_t *p)
{
    const family_t *fam = &families[f];
    labels_t l;
    json_t *o = json_object();
    int b, ok;

    series_labels(m, fam, s, &l);
    ok = set(o, "labels", json_labels(&l));
    if (fam->type == F_COUNTER) {
        ok = ok && set(o, "value", json_integer((json_int_t)get(m, m->offset[f] + s)));
    }
    else {
        apr_uint64_t cum[PDS_METRICS_BUCKETS + 1], sum;
        json_t *buckets = json_object();

        hist_read(m, f, s, cum, &sum);
        for (b = 0; buckets != NULL && b <= PDS_METRICS_BUCKETS; b++) {
            if (!set(buckets, b < PDS_METRICS_BUCKETS
                     ? seconds(p, (apr_uint64_t)pds_metrics_bucket_us[b]) : "+Inf",
                     json_integer((json_int_t)cum[b]))) {
                json_decref(buckets);
                buckets = NULL;
            }
        }
        ok = ok && set(o, "count", json_integer((json_int_t)cum[PDS_METRICS_BUCKETS]))
            && set(o, "sum", json_real((double)sum / APR_USEC_PER_SEC));
        if (ok)
            ok = set(o, "buckets", buckets);    /* takes buckets either way */
        else
            json_decref(buckets);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    put(data, buffer, size);
    return 0;
}

char *pds_metrics_json(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen)
{
    json_t *doc = json_object(), *all = json_object();
    text_t t = { p, NULL, 0, 0 };
    char *out = NULL;
    int f, ok;

    ok = doc != NULL && all != NULL;
    if (ok && m->mem != NULL) {
        ok = set(doc, "reset_time", json_string(pds_time_format(p, (apr_time_t)get(m, 0))));
    }
    for (f = 0; ok && f < FAM_COUNT; f++) {
        const family_t *fam = &families[f];
        json_t *jf = json_object(), *series = json_array();
        apr_size_t s, n = family_series(m, fam);

        ok = set(jf, "type", json_string(type_name(fam->type)))
            && set(jf, "help", json_string(fam->help))
            && (fam->type == F_GAUGE || series != NULL);
        if (ok && fam->type == F_GAUGE) {
            json_decref(series);
            series = NULL;
            ok = set(jf, "value", m->mem ? json_real((double)get(m, 0) / APR_USEC_PER_SEC)
                                         : json_null());
        }
        for (s = 0; ok && series != NULL && m->mem != NULL && s < n; s++) {
            if (fam->sparse && get(m, m->offset[f] + s) == 0)
                continue;
            ok = json_array_append_new(series, json_series(m, (family_e)f, s, p)) == 0;
        }
        if (ok && series != NULL) {
            ok = set(jf, "series", series);     /* takes series either way */
            series = NULL;
        }
        json_decref(series);
        if (!ok) {
            json_decref(jf);
            break;
        }
        ok = set(all, fam->name, jf);
    }
    if (ok)
        ok = set(doc, "metrics", all);      /* takes all either way */
    else
        json_decref(all);
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    /* Written straight into pool memory: nothing of jansson's to free. */
    if (json_dump_callback(doc, dump_cb, &t, JSON_COMPACT) == 0 && t.buf != NULL) {
        out = t.buf;
        if (plen != NULL)
            *plen = t.len;
    }
    json_decref(doc);
    return out;
}

void pds_metrics_summary(const pds_metrics_t *m, pds_metrics_summary_t *out)
{
    apr_size_t who, k;
    int o;

    memset(out, 0, sizeof(*out));
    if (m == NULL || m->mem == NULL)
        return;
    out->reset_time = (apr_time_t)get(m, 0);
    for (who = 0; who < (apr_size_t)m->dim_size[DIM_WHO]; who++) {
        apr_size_t base = m->offset[FAM_REQUESTS] + who * m->dim_size[DIM_OUTCOME];

        out->allowed += get(m, base);
        for (o = 1; o < m->dim_size[DIM_OUTCOME]; o++)
            out->denied += get(m, base + o);
    }
    out->audit_errors = get(m, m->offset[FAM_AUDIT_WRITES] + 1)
        + get(m, m->offset[FAM_AUDIT_SYNCS] + 1);
    for (k = 0; k < (apr_size_t)m->dim_size[DIM_LIST]; k++)
        out->consent_errors += get(m, m->offset[FAM_CONSENT_LOOKUPS]
                                   + k * m->dim_size[DIM_LOOKUP] + PDS_METRICS_ERROR);
    for (k = 0; k < (apr_size_t)m->nbackend; k++)
        out->backend_errors += get(m, m->offset[FAM_BACKEND_ERRORS] + k);
    for (k = 0; k < (apr_size_t)m->dim_size[DIM_FILTER]; k++)
        out->filter_rejections += get(m, m->offset[FAM_FILTER_REJECTIONS] + k);
}
