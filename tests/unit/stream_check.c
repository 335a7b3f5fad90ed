/* stream_check.c: pds_stream_compare as a cmocka check, and the same for
 * collections decided record by record (stream_check.h). */
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_stream.h"
#include "stream_check.h"
#include "stream_compare.h"

int pds_stream_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                     const char *input, apr_size_t len, const pds_filter_options_t *opts)
{
    const char *why;
    int agreed = pds_stream_compare(p, set, input, len, opts, &why);

    if (agreed < 0)
        fail_msg("%s: %s\n  input  %.*s", label, why, len > 300 ? 300 : (int)len, input);
    return agreed;
}

/* ---- collections, record by record ----------------------------------------- */

apr_status_t pds_rows_decide(void *baton, const char *subject, const pds_fieldset_t **pset,
                             const char **pseudonym, pds_error_t *err)
{
    pds_rows_decider_t *d = baton;
    unsigned h = 5381;
    const char *c;

    APR_ARRAY_PUSH(d->calls, const char *) = apr_pstrdup(d->pool, subject);
    if (d->fail_on != NULL && strcmp(subject, d->fail_on) == 0) {
        pds_error_set(err, "consent-store-unavailable", -1, "consent", "store down");
        return APR_EGENERAL;
    }
    for (c = subject; *c != '\0'; c++)
        h = h * 33 + (unsigned char)*c;
    *pset = d->sets[h % (unsigned)d->nsets];
    *pseudonym = d->pseudonymise && (h / 7) % 2 ? apr_pstrcat(d->pool, "ps-", subject, NULL)
                                                : NULL;
    return APR_SUCCESS;
}

typedef apr_status_t (*rows_fn)(const pds_fieldset_t *, const char *, apr_size_t,
                                const pds_filter_options_t *, const char *,
                                pds_row_decide_fn, void *, pds_filter_result_t *,
                                apr_pool_t *, pds_error_t *);

/* One run: its status, result, error and the subjects decided. */
typedef struct rows_run_t {
    apr_status_t rv;
    pds_filter_result_t res;
    pds_error_t err;
    apr_array_header_t *calls;
} rows_run_t;

static void run_rows(rows_fn fn, rows_run_t *run, apr_pool_t *p, const pds_fieldset_t *set,
                     const char *input, apr_size_t len, const pds_filter_options_t *opts,
                     const char *subject_path, pds_rows_decider_t *d)
{
    memset(&run->res, 0, sizeof(run->res));
    pds_error_clear(&run->err);
    d->calls = apr_array_make(p, 8, sizeof(const char *));
    d->pool = p;
    run->rv = fn(set, input, len, opts, subject_path, pds_rows_decide, d, &run->res, p,
                 &run->err);
    run->calls = d->calls;
}

static void same_rows(const char *label, const char *which, const rows_run_t *dom,
                      const rows_run_t *st, const char *input, apr_size_t len, int shown)
{
    const pds_filter_result_t *a = &dom->res, *b = &st->res;

    if (!pds_stream_lists_equal(dom->calls, st->calls))
        fail_msg("%s: %s decides %d records, DOM %d; body %.*s", label, which,
                 st->calls->nelts, dom->calls->nelts, shown, input);
    if ((dom->rv == APR_SUCCESS) != (st->rv == APR_SUCCESS) || dom->rv != st->rv)
        fail_msg("%s: DOM %s, %s %s; body %.*s", label,
                 dom->rv == APR_SUCCESS ? a->body : dom->err.code, which,
                 st->rv == APR_SUCCESS ? b->body : st->err.code, shown, input);
    if (dom->rv != APR_SUCCESS) {
        if (strcmp(dom->err.code, st->err.code) != 0)
            fail_msg("%s: DOM refuses with %s (%s), %s with %s; body %.*s", label,
                     dom->err.code, dom->err.text, which, st->err.code, shown, input);
        return;
    }
    if (a->length != b->length || memcmp(a->body, b->body, a->length) != 0)
        fail_msg("%s: bodies differ\n  DOM    %s\n  %s %s\n  input  %.*s", label, a->body,
                 which, b->body, shown, input);
    if (pds_stream_body_inside(a->body, a->length, input, len)
        || pds_stream_body_inside(b->body, b->length, input, len))
        fail_msg("%s: an answer points into the input (sent after the input is gone)",
                 label);
    if (!pds_stream_lists_equal(a->released, b->released)
        || !pds_stream_lists_equal(a->transformed, b->transformed)
        || !pds_stream_lists_equal(a->subjects, b->subjects)
        || !pds_stream_lists_equal(a->dropped, b->dropped)
        || !pds_stream_lists_equal(a->excluded, b->excluded) || a->records != b->records
        || a->subject_replaced != b->subject_replaced)
        fail_msg("%s: %s results differ (released %d/%d, transformed %d/%d, records "
                 "%d/%d, dropped %d/%d, excluded %d/%d); body %.*s", label, which,
                 a->released->nelts, b->released->nelts, a->transformed->nelts,
                 b->transformed->nelts, a->records, b->records,
                 a->dropped != NULL ? a->dropped->nelts : -1,
                 b->dropped != NULL ? b->dropped->nelts : -1,
                 a->excluded != NULL ? a->excluded->nelts : -1,
                 b->excluded != NULL ? b->excluded->nelts : -1, shown, input);
}

int pds_stream_rows_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                          const char *input, apr_size_t len, const pds_filter_options_t *opts,
                          const char *subject_path, pds_rows_decider_t *d)
{
    rows_run_t dom, st, glue;
    int shown = len > 300 ? 300 : (int)len;

    run_rows(pds_filter_apply_rows, &dom, p, set, input, len, opts, subject_path, d);
    run_rows(pds_stream_apply_rows, &st, p, set, input, len, opts, subject_path, d);
    run_rows(pds_stream_filter_rows, &glue, p, set, input, len, opts, subject_path, d);
    same_rows(label, "stream", &dom, &st, input, len, shown);
    same_rows(label, "pds_stream_filter_rows", &dom, &glue, input, len, shown);
    if (dom.rv != APR_SUCCESS && memcmp(&dom.err, &glue.err, sizeof(dom.err)) != 0)
        fail_msg("%s: pds_stream_filter_rows error %s: %s, DOM %s: %s", label,
                 glue.err.code, glue.err.text, dom.err.code, dom.err.text);
    return dom.rv == APR_SUCCESS;
}
