/* filter_bench.c: the JSON filter alone, DOM (pds_filter_apply_ex) against
 * stream (pds_stream_apply_ex), in MB/s of back-end body, on the benchmark's
 * 1 KB record (bench/record.json) and on a collection of about 1 MB made of
 * it, each with the benchmark's release (bench/common.sh) and with its
 * transforms plus a predicated path. Checks first that both give the same
 * bytes. Rates are per second of this thread's CPU time, not of the clock,
 * so that other load on the machine changes them less (caches and
 * frequency still do: compare the ratio of one run). Then collections
 * decided record by record (RecordSubject: pds_filter_apply_rows against
 * pds_stream_apply_rows, every record its own subject and decision) of
 * about 1 MB and 100 KB, with the peak memory of one call over what the
 * process held before it (resident size, Linux's high-water mark).
 * Not part of `make check` (timings are noisy):
 *
 *     make -C build bench-filter
 *     build/bench/filter_bench [bench/record.json [seconds per figure]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "pds_filter.h"
#include "pds_stream.h"

typedef apr_status_t (*filter_fn)(const pds_fieldset_t *, const char *, apr_size_t,
                                  const pds_filter_options_t *, pds_filter_result_t *,
                                  apr_pool_t *, pds_error_t *);

static const char *const record_fields[] = {
    "name.given", "name.family", "dob", "care.allergies", "care.needs", NULL
};
static const char *const predicate_field = "benefits[type=pension-credit].amount_weekly";
static const char *const transforms[][2] = {
    { "name.given", "pseudonymise" }, { "name.family", "mask 1" }, { "dob", "age-band 10" },
    { "care.allergies[*]", "truncate 3" }, { "care.needs[*]", "constant \"withheld\"" },
    { NULL, NULL }
};

static pds_fieldset_t *make_set(apr_pool_t *p, const char *prefix, int extras)
{
    pds_fieldset_t *set;
    pds_error_t err;
    int i;

    pds_error_clear(&err);
    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        exit(1);
    for (i = 0; record_fields[i] != NULL; i++)
        if (pds_fieldset_add(set, apr_pstrcat(p, prefix, record_fields[i], NULL), &err)
            != APR_SUCCESS)
            goto bad;
    if (!extras)
        return set;
    if (pds_fieldset_add(set, apr_pstrcat(p, prefix, predicate_field, NULL), &err)
        != APR_SUCCESS)
        goto bad;
    for (i = 0; transforms[i][0] != NULL; i++) {
        pds_transform_t *t;

        if (pds_transform_parse(&t, p, transforms[i][1], &err) != APR_SUCCESS
            || pds_fieldset_set_transform(set, apr_pstrcat(p, prefix, transforms[i][0], NULL),
                                          t, &err) != APR_SUCCESS)
            goto bad;
    }
    return set;
bad:
    fprintf(stderr, "filter_bench: %s\n", err.text);
    exit(1);
}

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* MB/s of input through fn for about seconds of CPU time. */
static double rate(filter_fn fn, const pds_fieldset_t *set, const char *body, apr_size_t len,
                   const pds_filter_options_t *opts, double seconds, apr_pool_t *parent)
{
    apr_pool_t *p;
    double start, now;
    long n = 0;
    double took;
    const char *only = getenv("FILTER_BENCH_ONLY");   /* "dom" or "stream": profiling */

    if (only != NULL && strcmp(only, fn == pds_stream_apply_ex ? "stream" : "dom") != 0)
        return 0.0;
    apr_pool_create(&p, parent);
    start = cpu_seconds();
    do {
        pds_filter_result_t res;
        pds_error_t err;
        int k;

        for (k = 0; k < 8; k++) {
            pds_error_clear(&err);
            if (fn(set, body, len, opts, &res, p, &err) != APR_SUCCESS) {
                fprintf(stderr, "filter_bench: refused: %s: %s\n", err.code, err.text);
                exit(1);
            }
            apr_pool_clear(p);
        }
        n += 8;
        now = cpu_seconds();
    } while (now - start < seconds);
    took = now - start;
    apr_pool_destroy(p);
    return (double)len * (double)n / took / 1e6;
}

static void same_output(const pds_fieldset_t *set, const char *body, apr_size_t len,
                        const pds_filter_options_t *opts, apr_pool_t *p)
{
    pds_filter_result_t a, b;
    pds_error_t err;

    if (pds_filter_apply_ex(set, body, len, opts, &a, p, &err) != APR_SUCCESS
        || pds_stream_apply_ex(set, body, len, opts, &b, p, &err) != APR_SUCCESS
        || a.length != b.length || memcmp(a.body, b.body, a.length) != 0) {
        fprintf(stderr, "filter_bench: the two filters disagree\n");
        exit(1);
    }
}

/* ---- collections decided record by record -------------------------------- */

typedef apr_status_t (*rows_fn)(const pds_fieldset_t *, const char *, apr_size_t,
                                const pds_filter_options_t *, const char *,
                                pds_row_decide_fn, void *, pds_filter_result_t *,
                                apr_pool_t *, pds_error_t *);

/* Every record may release the agreement's fields (the baton). */
static apr_status_t decide_all(void *baton, const char *subject, const pds_fieldset_t **pset,
                               const char **pseudonym, pds_error_t *err)
{
    (void)subject;
    (void)err;
    *pset = baton;
    *pseudonym = NULL;
    return APR_SUCCESS;
}

static void rows_once(rows_fn fn, const pds_fieldset_t *set, const char *body,
                      apr_size_t len, const pds_filter_options_t *opts, apr_pool_t *p)
{
    pds_filter_result_t res;
    pds_error_t err;

    pds_error_clear(&err);
    if (fn(set, body, len, opts, "id", decide_all, (void *)set, &res, p, &err) != APR_SUCCESS) {
        fprintf(stderr, "filter_bench: refused: %s: %s\n", err.code, err.text);
        exit(1);
    }
}

/* MB/s of input through fn for about seconds of CPU time. */
static double rows_rate(rows_fn fn, const pds_fieldset_t *set, const char *body,
                        apr_size_t len, const pds_filter_options_t *opts, double seconds,
                        apr_pool_t *parent)
{
    apr_pool_t *p;
    double start = cpu_seconds(), now;
    long n = 0;
    const char *only = getenv("FILTER_BENCH_ONLY");   /* "dom" or "stream": profiling */

    if (only != NULL && strcmp(only, fn == pds_stream_apply_rows ? "stream" : "dom") != 0)
        return 0.0;
    apr_pool_create(&p, parent);
    do {
        rows_once(fn, set, body, len, opts, p);
        apr_pool_clear(p);
        n++;
        now = cpu_seconds();
    } while (now - start < seconds);
    apr_pool_destroy(p);
    return (double)len * (double)n / (now - start) / 1e6;
}

/* A field of /proc/self/status in KB ("VmRSS:", "VmHWM:"), or -1. */
static long status_kb(const char *field)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            kb = atol(line + strlen(field));
    if (f != NULL)
        fclose(f);
    return kb;
}

/* What one call of fn adds to the resident size at its peak, in KB: free
 * heap given back first, the high-water mark reset (Linux clear_refs), a
 * pool with an allocator of its own. -1 where the mark cannot be reset. */
static long peak_kb(rows_fn fn, const pds_fieldset_t *set, const char *body, apr_size_t len,
                    const pds_filter_options_t *opts)
{
    apr_allocator_t *a;
    apr_pool_t *p;
    long base, peak;
    FILE *f;

    malloc_trim(0);
    f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL || fputs("5", f) < 0 || fclose(f) != 0)
        return -1;
    base = status_kb("VmRSS:");
    if (apr_allocator_create(&a) != APR_SUCCESS || apr_pool_create_ex(&p, NULL, NULL, a)
                                                   != APR_SUCCESS)
        exit(1);
    apr_allocator_owner_set(a, p);
    rows_once(fn, set, body, len, opts, p);
    peak = status_kb("VmHWM:");
    apr_pool_destroy(p);
    return base < 0 || peak < 0 ? -1 : peak - base;
}

static void rows_same_output(const pds_fieldset_t *set, const char *body, apr_size_t len,
                             const pds_filter_options_t *opts, apr_pool_t *p)
{
    pds_filter_result_t a, b;
    pds_error_t err;

    if (pds_filter_apply_rows(set, body, len, opts, "id", decide_all, (void *)set, &a, p, &err)
            != APR_SUCCESS
        || pds_stream_apply_rows(set, body, len, opts, "id", decide_all, (void *)set, &b, p,
                                 &err) != APR_SUCCESS
        || a.length != b.length || memcmp(a.body, b.body, a.length) != 0
        || a.records != b.records) {
        fprintf(stderr, "filter_bench: the two filters disagree on a collection\n");
        exit(1);
    }
}

/* Copies of record, each with its own subject (the first "R" id's digits
 * numbered), to about size bytes. */
static char *subject_collection(apr_pool_t *p, const char *record, apr_size_t rlen,
                                apr_size_t size, apr_size_t *plen, int *pcount)
{
    const char *id = strstr(record, "\"id\": \"R");
    char *out = apr_palloc(p, size + 2 * rlen + 2);
    apr_size_t len = 0;
    int r;

    if (id == NULL) {
        fprintf(stderr, "filter_bench: the record has no \"id\": \"R...\" member\n");
        exit(1);
    }
    out[len++] = '[';
    for (r = 0; len + rlen + 2 < size; r++) {
        char digits[8];

        if (r > 0)
            out[len++] = ',';
        memcpy(out + len, record, rlen);
        snprintf(digits, sizeof(digits), "%06d", r % 1000000);
        memcpy(out + len + (apr_size_t)(id - record) + 8, digits, 6);
        len += rlen;
    }
    out[len++] = ']';
    *plen = len;
    *pcount = r;
    return out;
}

static void rows_figures(apr_pool_t *p, const char *record, apr_size_t rlen,
                         const pds_filter_options_t *opts, double seconds)
{
    static const apr_size_t sizes[] = { 1024 * 1024, 100 * 1024 };
    int extras, k;

    printf("\n%-40s %10s %10s %7s %10s %10s\n", "RecordSubject collection (MB/s)", "DOM",
           "stream", "ratio", "DOM peak", "str. peak");
    for (extras = 0; extras < 2; extras++) {
        pds_fieldset_t *set = make_set(p, "[*].", extras);
        pds_error_t err;

        if (pds_fieldset_add(set, "[*].id", &err) != APR_SUCCESS)
            exit(1);
        for (k = 0; k < 2; k++) {
            apr_size_t len;
            int count;
            char *body = subject_collection(p, record, rlen, sizes[k], &len, &count);
            double d, s;
            long dpeak, speak;

            rows_same_output(set, body, len, opts, p);
            d = rows_rate(pds_filter_apply_rows, set, body, len, opts, seconds, p);
            s = rows_rate(pds_stream_apply_rows, set, body, len, opts, seconds, p);
            dpeak = peak_kb(pds_filter_apply_rows, set, body, len, opts);
            speak = peak_kb(pds_stream_apply_rows, set, body, len, opts);
            printf("%-40s %10.1f %10.1f %6.2fx %7ld KB %7ld KB\n",
                   apr_psprintf(p, "%lu B, %d records%s", (unsigned long)len, count,
                                extras ? ", transforms+pred" : ""), d, s, s / d, dpeak, speak);
        }
    }
}

int main(int argc, char **argv)
{
    static const unsigned char key[32] = { 42 };
    const char *path = argc > 1 ? argv[1] : "bench/record.json";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    apr_pool_t *p;
    FILE *f;
    char *record, *collection;
    long rlen;
    apr_size_t clen = 0, cap;
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    int r, extras;

    apr_initialize();
    apr_pool_create(&p, NULL);
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (rlen = ftell(f)) <= 0) {
        fprintf(stderr, "filter_bench: cannot read %s\n", path);
        return 1;
    }
    rewind(f);
    record = apr_palloc(p, (apr_size_t)rlen + 1);
    if (fread(record, 1, (size_t)rlen, f) != (size_t)rlen)
        return 1;
    fclose(f);
    record[rlen] = '\0';
    /* The collection: copies of the record, about 1 MB. */
    cap = 1024 * 1024 + 2 * (apr_size_t)rlen;
    collection = apr_palloc(p, cap + 2);
    collection[clen++] = '[';
    for (r = 0; clen + (apr_size_t)rlen + 2 < 1024 * 1024; r++) {
        if (r > 0)
            collection[clen++] = ',';
        memcpy(collection + clen, record, (size_t)rlen);
        clen += (apr_size_t)rlen;
    }
    collection[clen++] = ']';

    memset(&opts, 0, sizeof(opts));
    tctx.now = apr_time_from_sec(1796000000);
    tctx.key = key;
    opts.transform = &tctx;
    printf("%-40s %10s %10s %7s\n", "body (filter alone, MB/s of input)", "DOM", "stream",
           "ratio");
    for (extras = 0; extras < 2; extras++) {
        const char *which = getenv("FILTER_BENCH_EXTRAS");     /* "0" or "1": profiling */
        if (which != NULL && atoi(which) != extras)
            continue;
        const pds_fieldset_t *rs = make_set(p, "", extras), *cs = make_set(p, "[*].", extras);
        double d, s;

        same_output(rs, record, (apr_size_t)rlen, &opts, p);
        same_output(cs, collection, clen, &opts, p);
        d = rate(pds_filter_apply_ex, rs, record, (apr_size_t)rlen, &opts, seconds, p);
        s = rate(pds_stream_apply_ex, rs, record, (apr_size_t)rlen, &opts, seconds, p);
        printf("%-40s %10.1f %10.1f %6.2fx\n",
               apr_psprintf(p, "record %ld B%s", rlen, extras ? ", transforms+predicate" : ""),
               d, s, s / d);
        d = rate(pds_filter_apply_ex, cs, collection, clen, &opts, seconds, p);
        s = rate(pds_stream_apply_ex, cs, collection, clen, &opts, seconds, p);
        printf("%-40s %10.1f %10.1f %6.2fx\n",
               apr_psprintf(p, "collection %lu B, %d records%s", (unsigned long)clen, r,
                            extras ? ", transforms+pred" : ""), d, s, s / d);
    }
    if (getenv("FILTER_BENCH_NO_ROWS") == NULL)
        rows_figures(p, record, (apr_size_t)rlen, &opts, seconds);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
