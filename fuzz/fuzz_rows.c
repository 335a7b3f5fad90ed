/* Collections decided record by record: pds_stream_apply_rows and
 * pds_stream_filter_rows against pds_filter_apply_rows on hostile bodies.
 * The first byte chooses transforms, OnBadRecord drop, the depth bound,
 * Exclude, pseudonyms, which sets the decisions give (the agreement's, a
 * narrowed one, none: a refused consent), a failing decision and the
 * subject path; the rest is the body. Any disagreement aborts: released by
 * one and refused by the other, another error code (pds_stream_filter_rows:
 * another error at all), other bytes, released, transformed, records,
 * subjects, dropped or excluded, or other decisions asked for (the same
 * subjects in the same order). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_rowfilter.h"
#include "pds_stream.h"
#include "stream_compare.h"

static const char *const paths[] = {
    "[*].id", "[*].name.given", "[*].dob", "[*].telecom[system=phone].value",
    "[*].care", "[*].ids[*].value", NULL
};
static const char *const narrow[] = { "[*].id", "[*].dob", NULL };
static const char *const transforms[][2] = {
    { "[*].dob", "age-band 10" }, { "[*].name.given", "mask 1" },
    { "[*].care.plan", "redact" }, { "[*].telecom[*].value", "truncate 3" }, { NULL, NULL }
};
static const char *const conditions[] = {
    "meta.security[code=R]", "active=false", "deceased", NULL
};

typedef struct decider_t {
    const pds_fieldset_t *sets[3];
    int nsets, pseudonymise, fail;
    apr_array_header_t *calls;
    apr_pool_t *pool;
} decider_t;

static apr_status_t decide(void *baton, const char *subject, const pds_fieldset_t **pset,
                           const char **pseudonym, pds_error_t *err)
{
    decider_t *d = baton;
    size_t n = strlen(subject);

    APR_ARRAY_PUSH(d->calls, const char *) = apr_pstrdup(d->pool, subject);
    if (d->fail && n > 0 && subject[0] == 'x') {
        pds_error_set(err, "consent-store-unavailable", -1, "consent", "store down");
        return APR_EGENERAL;
    }
    *pset = d->sets[n % (size_t)d->nsets];
    *pseudonym = d->pseudonymise && n % 2 ? "ps-x" : NULL;
    return APR_SUCCESS;
}

static pds_fieldset_t *make_set(apr_pool_t *p, const char *const *ps, int with_transforms)
{
    pds_fieldset_t *set;
    int i;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    for (i = 0; ps[i] != NULL; i++)
        if (pds_fieldset_add(set, ps[i], NULL) != APR_SUCCESS)
            abort();
    for (i = 0; with_transforms && transforms[i][0] != NULL; i++) {
        pds_transform_t *t;

        if (pds_transform_parse(&t, p, transforms[i][1], NULL) != APR_SUCCESS)
            abort();
        (void)pds_fieldset_set_transform(set, transforms[i][0], t, NULL);  /* where it fits */
    }
    return set;
}

typedef struct run_t {
    apr_status_t rv;
    pds_filter_result_t res;
    pds_error_t err;
    apr_array_header_t *calls;
} run_t;

typedef apr_status_t (*rows_fn)(const pds_fieldset_t *, const char *, apr_size_t,
                                const pds_filter_options_t *, const char *,
                                pds_row_decide_fn, void *, pds_filter_result_t *,
                                apr_pool_t *, pds_error_t *);

static void run(rows_fn fn, run_t *r, const pds_fieldset_t *set, const uint8_t *data,
                size_t size, const pds_filter_options_t *opts, const char *subject_path,
                decider_t *d)
{
    memset(&r->res, 0, sizeof(r->res));
    pds_error_clear(&r->err);
    d->calls = apr_array_make(d->pool, 8, sizeof(const char *));
    r->rv = fn(set, (const char *)data, size, opts, subject_path, decide, d, &r->res, d->pool,
               &r->err);
    r->calls = d->calls;
}

static void same(const run_t *a, const run_t *b)
{
    if (a->rv != b->rv || !pds_stream_lists_equal(a->calls, b->calls))
        abort();
    if (a->rv != APR_SUCCESS) {
        if (strcmp(a->err.code, b->err.code) != 0)
            abort();
        return;
    }
    if (a->res.length != b->res.length || memcmp(a->res.body, b->res.body, a->res.length) != 0
        || !pds_stream_lists_equal(a->res.released, b->res.released)
        || !pds_stream_lists_equal(a->res.transformed, b->res.transformed)
        || !pds_stream_lists_equal(a->res.subjects, b->res.subjects)
        || !pds_stream_lists_equal(a->res.dropped, b->res.dropped)
        || !pds_stream_lists_equal(a->res.excluded, b->res.excluded)
        || a->res.records != b->res.records)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char pseudonym_key[32] = { 1, 2, 3 };
    apr_pool_t *p = pds_fuzz_pool();
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    pds_rowfilter_t *rf = NULL;
    decider_t d;
    run_t dom, st, glue;
    unsigned mode;
    int i;

    if (size == 0)
        return 0;
    mode = data[0];
    data++;
    size--;
    memset(&d, 0, sizeof(d));
    d.pool = p;
    d.sets[0] = make_set(p, paths, mode & 1);
    d.sets[1] = NULL;                               /* consent refused */
    d.sets[2] = make_set(p, narrow, mode & 1);
    d.nsets = (mode & 32) ? 3 : 1;
    d.pseudonymise = (mode & 16) != 0;
    d.fail = (mode & 64) != 0;
    memset(&opts, 0, sizeof(opts));
    tctx.now = apr_time_from_sec(1796000000);
    tctx.key = pseudonym_key;
    opts.transform = &tctx;
    opts.drop_bad_records = (mode & 2) != 0;
    opts.max_depth = (mode & 4) ? 3 : 16;
    if (mode & 8) {
        if (pds_rowfilter_create(&rf, p) != APR_SUCCESS)
            abort();
        for (i = 0; conditions[i] != NULL; i++)
            if (pds_rowfilter_add(rf, conditions[i], NULL) != APR_SUCCESS)
                abort();
        opts.exclude = rf;
    }
    run(pds_filter_apply_rows, &dom, d.sets[0], data, size, &opts,
        (mode & 128) ? "ids[system=nhs].value" : "id", &d);
    run(pds_stream_apply_rows, &st, d.sets[0], data, size, &opts,
        (mode & 128) ? "ids[system=nhs].value" : "id", &d);
    run(pds_stream_filter_rows, &glue, d.sets[0], data, size, &opts,
        (mode & 128) ? "ids[system=nhs].value" : "id", &d);
    same(&dom, &st);
    same(&dom, &glue);
    if (dom.rv != APR_SUCCESS && memcmp(&dom.err, &glue.err, sizeof(dom.err)) != 0)
        abort();
    return 0;
}
