/* pds_metrics.c: the counter model (the layout of a configuration's slots)
 * and the counting; the renderings are in pds_metrics_render.c, the shared
 * definitions in pds_metrics_int.h.
 *
 * pds_requests_total would be agreements x organisations x reasons, but an
 * agreement has exactly one Party: its "who" label pair is one of
 * (none, none), (none, organisation) for a request without an agreement, or
 * (agreement, its party). Likewise its "outcome" is (allow, none) or (deny,
 * reason). So it takes (1 + O + A) x (1 + R) words.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_metrics_int.h"
#include "pds_reason.h"

const apr_int64_t pds_metrics_bucket_us[PDS_METRICS_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

const char *const pds_metrics_kind_names[] = {
    "content-length", "partial", "encoded", "not-json", "too-large", "invalid-json",
    "duplicate-key", "too-deep", "unexpected-type", "transform-type", "other", NULL
};
const char *const pds_metrics_decision_names[] = { "allow", "deny", NULL };
const char *const pds_metrics_result_names[] = { "ok", "error", NULL };
const char *const pds_metrics_list_names[] = { "consents", "optouts", NULL };
const char *const pds_metrics_lookup_names[] = { "hit", "miss", "error", NULL };

const family_t pds_metrics_families[FAM_COUNT] = {
    { "pds_requests_total", "Decisions made (one per audit record), by agreement, "
      "organisation, decision and reason.", F_COUNTER, 1, 2, { DIM_WHO, DIM_OUTCOME } },
    { "pds_request_duration_seconds", "Time from the request's start to its decision's "
      "audit record.", F_HISTOGRAM, 0, 1, { DIM_DECISION } },
    { "pds_audit_writes_total", "Audit record writes (under the log's mutex).",
      F_COUNTER, 0, 1, { DIM_RESULT } },
    { "pds_audit_write_duration_seconds", "Time to take the audit mutex and write a "
      "record.", F_HISTOGRAM, 0, 0, { 0 } },
    { "pds_audit_syncs_total", "Audit log syncs to disk (PDSAuditSync on); each "
      "covers every record written before it began.",
      F_COUNTER, 0, 1, { DIM_RESULT } },
    { "pds_audit_sync_duration_seconds", "Time of one audit log sync to disk.",
      F_HISTOGRAM, 0, 0, { 0 } },
    { "pds_consent_lookups_total", "Consent and opt-out pds_metrics_lookup_names: answered from the "
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
    m->dim_size[DIM_DECISION] = list_len(pds_metrics_decision_names);
    m->dim_size[DIM_RESULT] = list_len(pds_metrics_result_names);
    m->dim_size[DIM_LIST] = list_len(pds_metrics_list_names);
    m->dim_size[DIM_LOOKUP] = list_len(pds_metrics_lookup_names);
    m->dim_size[DIM_BACKEND] = m->nbackend;
    m->dim_size[DIM_FILTER] = list_len(pds_metrics_kind_names);

    m->words = 1;                   /* the reset time */
    for (f = 0; f < FAM_COUNT; f++) {
        apr_size_t series = 1;

        for (d = 0; d < pds_metrics_families[f].ndims; d++)
            series *= (apr_size_t)m->dim_size[pds_metrics_families[f].dims[d]];
        m->offset[f] = m->words;
        if (pds_metrics_families[f].type == F_GAUGE)
            continue;               /* the reset time, word 0 */
        m->words += series * (pds_metrics_families[f].type == F_HISTOGRAM ? HIST_WORDS : 1);
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
    int k, other = list_len(pds_metrics_kind_names) - 1;

    if (m == NULL || m->mem == NULL)
        return;
    for (k = 0; kind != NULL && pds_metrics_kind_names[k] != NULL; k++) {
        if (strcmp(kind, pds_metrics_kind_names[k]) == 0)
            break;
    }
    if (kind == NULL || pds_metrics_kind_names[k] == NULL)
        k = other;
    add(m, m->offset[FAM_FILTER_REJECTIONS] + k, 1);
}

const char *const *pds_metrics_filter_kinds(void)
{
    return pds_metrics_kind_names;
}

void pds_metrics_summary(const pds_metrics_t *m, pds_metrics_summary_t *out)
{
    apr_size_t who, k;
    int o;

    memset(out, 0, sizeof(*out));
    if (m == NULL || m->mem == NULL)
        return;
    out->reset_time = (apr_time_t)pds_metrics_word(m, 0);
    for (who = 0; who < (apr_size_t)m->dim_size[DIM_WHO]; who++) {
        apr_size_t base = m->offset[FAM_REQUESTS] + who * m->dim_size[DIM_OUTCOME];

        out->allowed += pds_metrics_word(m, base);
        for (o = 1; o < m->dim_size[DIM_OUTCOME]; o++)
            out->denied += pds_metrics_word(m, base + o);
    }
    out->audit_errors = pds_metrics_word(m, m->offset[FAM_AUDIT_WRITES] + 1)
        + pds_metrics_word(m, m->offset[FAM_AUDIT_SYNCS] + 1);
    for (k = 0; k < (apr_size_t)m->dim_size[DIM_LIST]; k++)
        out->consent_errors += pds_metrics_word(m, m->offset[FAM_CONSENT_LOOKUPS]
                                   + k * m->dim_size[DIM_LOOKUP] + PDS_METRICS_ERROR);
    for (k = 0; k < (apr_size_t)m->nbackend; k++)
        out->backend_errors += pds_metrics_word(m, m->offset[FAM_BACKEND_ERRORS] + k);
    for (k = 0; k < (apr_size_t)m->dim_size[DIM_FILTER]; k++)
        out->filter_rejections += pds_metrics_word(m, m->offset[FAM_FILTER_REJECTIONS] + k);
}
