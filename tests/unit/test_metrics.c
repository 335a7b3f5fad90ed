/* test_metrics.c: the counter model (lib/pds_metrics.h): layout, where each
 * count lands, the bucket math, and both renderings. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_metrics.h"
#include "pds_reason.h"

static apr_array_header_t *names(apr_pool_t *p, const char *const *list)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));

    for (; *list != NULL; list++)
        APR_ARRAY_PUSH(a, const char *) = *list;
    return a;
}

/* Two organisations, three agreements (fife has two). */
static pds_metrics_t *model(apr_pool_t *p, void **mem)
{
    static const char *const orgs[] = { "nhs-fife", "uni", NULL };
    static const char *const ids[] = { "fife-care", "fife-audit", "uni-research", NULL };
    static const char *const parties[] = { "nhs-fife", "nhs-fife", "uni", NULL };
    pds_metrics_t *m = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_metrics_create(&m, p, names(p, ids), names(p, parties),
                                        names(p, orgs), &err), APR_SUCCESS);
    assert_non_null(m);
    *mem = apr_palloc(p, pds_metrics_size(m));
    pds_metrics_attach(m, *mem, 1, apr_time_from_sec(1796000000));
    return m;
}

static int nreasons(void)
{
    const pds_reason_t *r;
    int n = 0;

    for (r = pds_reason_table(); r->code != NULL; r++)
        n++;
    return n;
}

static void test_layout(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem), *again = NULL, *other = NULL;
    static const char *const orgs[] = { "nhs-fife", "uni", "nhs-fife", NULL };
    static const char *const ids[] = { "fife-care", "fife-audit", "uni-research",
                                       "fife-care", NULL };
    static const char *const parties[] = { "nhs-fife", "nhs-fife", "uni", "uni", NULL };
    static const char *const more[] = { "nhs-fife", "uni", "trust", NULL };
    apr_size_t requests = (apr_size_t)(1 + 2 + 3) * (1 + nreasons());

    assert_int_equal(pds_metrics_size(m) % 8, 0);
    /* the reset time, the sparse requests, then the fixed families */
    assert_true(pds_metrics_size(m) > (1 + requests) * 8);
    assert_true(pds_metrics_size(m) < (1 + requests + 400) * 8);
    /* duplicates are counted once: same layout */
    assert_int_equal(pds_metrics_create(&again, p, names(p, ids), names(p, parties),
                                        names(p, orgs), NULL), APR_SUCCESS);
    assert_string_equal(pds_metrics_fingerprint(again), pds_metrics_fingerprint(m));
    assert_int_equal(pds_metrics_size(again), pds_metrics_size(m));
    /* one more organisation: another layout */
    assert_int_equal(pds_metrics_create(&other, p, names(p, ids), names(p, parties),
                                        names(p, more), NULL), APR_SUCCESS);
    assert_string_not_equal(pds_metrics_fingerprint(other), pds_metrics_fingerprint(m));
    assert_true(pds_metrics_size(other) > pds_metrics_size(m));
}

static void test_create_rejects(void **state)
{
    apr_pool_t *p = *state;
    static const char *const ids[] = { "a", NULL };
    static const char *const empty[] = { "", NULL };
    pds_metrics_t *m = (pds_metrics_t *)1;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_not_equal(pds_metrics_create(&m, p, names(p, ids), NULL, NULL, &err),
                         APR_SUCCESS);
    assert_null(m);
    assert_string_equal(err.code, "metrics-name");
    pds_error_clear(&err);
    assert_int_not_equal(pds_metrics_create(&m, p, NULL, NULL, names(p, empty), &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "metrics-name");
    /* nothing configured is fine */
    assert_int_equal(pds_metrics_create(&m, p, NULL, NULL, NULL, NULL), APR_SUCCESS);
    assert_non_null(m);
}

static void test_decisions_land(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem);
    pds_metrics_summary_t sum;
    const char *text;

    pds_metrics_decision(m, "fife-care", "nhs-fife", 1, NULL, 700);
    pds_metrics_decision(m, "fife-care", "nhs-fife", 1, "ignored", 700);
    pds_metrics_decision(m, "fife-care", "nhs-fife", 0, "consent-missing", 100);
    pds_metrics_decision(m, NULL, "uni", 0, "no-agreement", 100);
    pds_metrics_decision(m, NULL, NULL, 0, "unknown-caller", 100);
    pds_metrics_decision(m, NULL, "stranger", 0, "unknown-caller", 100);
    pds_metrics_decision(m, "uni-research", "uni", 0, "no-such-code", 100);
    pds_metrics_decision(m, "uni-research", "uni", 0, "backend-unavailable", 100);
    pds_metrics_decision(m, "uni-research", "uni", 0, "backend-timeout", 100);

    text = pds_metrics_prometheus(m, p, NULL);
    assert_contains(text, "pds_requests_total{agreement=\"fife-care\",organisation="
                    "\"nhs-fife\",decision=\"allow\",reason=\"\"} 2\n");
    assert_contains(text, "pds_requests_total{agreement=\"fife-care\",organisation="
                    "\"nhs-fife\",decision=\"deny\",reason=\"consent-missing\"} 1\n");
    assert_contains(text, "pds_requests_total{agreement=\"\",organisation=\"uni\","
                    "decision=\"deny\",reason=\"no-agreement\"} 1\n");
    /* an organisation not configured is counted as none */
    assert_contains(text, "pds_requests_total{agreement=\"\",organisation=\"\","
                    "decision=\"deny\",reason=\"unknown-caller\"} 2\n");
    assert_contains(text, "pds_requests_total{agreement=\"uni-research\",organisation="
                    "\"uni\",decision=\"deny\",reason=\"internal-error\"} 1\n");
    assert_contains(text, "pds_backend_errors_total{kind=\"unavailable\"} 1\n");
    assert_contains(text, "pds_backend_errors_total{kind=\"timeout\"} 1\n");
    assert_contains(text, "pds_backend_errors_total{kind=\"error\"} 0\n");
    /* sparse: a zero series of the requests is not listed */
    assert_null(strstr(text, "reason=\"opted-out\""));
    assert_null(strstr(text, "agreement=\"fife-audit\""));

    pds_metrics_summary(m, &sum);
    assert_int_equal(sum.allowed, 2);
    assert_int_equal(sum.denied, 7);
    assert_int_equal(sum.backend_errors, 2);
    assert_int_equal(sum.reset_time, apr_time_from_sec(1796000000));
}

static void test_buckets(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem);
    const char *text;

    /* at a bound lands in it (le is "less or equal"); one over, the next */
    pds_metrics_audit_write(m, 1, 500);
    pds_metrics_audit_write(m, 1, 501);
    pds_metrics_audit_write(m, 1, -5);              /* a clock step: 0 */
    pds_metrics_audit_write(m, 0, 10000000);
    pds_metrics_audit_write(m, 1, 10000001);        /* past every bound: +Inf */
    text = pds_metrics_prometheus(m, p, NULL);
    assert_contains(text, "pds_audit_write_duration_seconds_bucket{le=\"0.0005\"} 2\n");
    assert_contains(text, "pds_audit_write_duration_seconds_bucket{le=\"0.001\"} 3\n");
    assert_contains(text, "pds_audit_write_duration_seconds_bucket{le=\"5\"} 3\n");
    assert_contains(text, "pds_audit_write_duration_seconds_bucket{le=\"10\"} 4\n");
    assert_contains(text, "pds_audit_write_duration_seconds_bucket{le=\"+Inf\"} 5\n");
    assert_contains(text, "pds_audit_write_duration_seconds_count 5\n");
    assert_contains(text, "pds_audit_write_duration_seconds_sum 20.001002\n");
    assert_contains(text, "pds_audit_writes_total{result=\"ok\"} 4\n");
    assert_contains(text, "pds_audit_writes_total{result=\"error\"} 1\n");
    assert_contains(text, "# TYPE pds_audit_write_duration_seconds histogram\n");
    assert_contains(text, "# TYPE pds_audit_writes_total counter\n");
    assert_contains(text, "pds_metrics_reset_time_seconds 1796000000\n");
    assert_int_equal(pds_metrics_bucket_us[0], 500);
    assert_int_equal(pds_metrics_bucket_us[PDS_METRICS_BUCKETS - 1], 10000000);
}

static void test_consent_and_filter(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem);
    pds_metrics_summary_t sum;
    const char *text;
    const char *const *k;

    pds_metrics_consent_lookup(m, PDS_METRICS_CONSENTS, PDS_METRICS_HIT, 99999999);
    pds_metrics_consent_lookup(m, PDS_METRICS_CONSENTS, PDS_METRICS_MISS, 2000);
    pds_metrics_consent_lookup(m, PDS_METRICS_OPTOUTS, PDS_METRICS_ERROR, 3000);
    pds_metrics_consent_lookup(m, (pds_metrics_list_e)7, PDS_METRICS_HIT, 0);  /* ignored */
    pds_metrics_filter_reject(m, "not-json");
    pds_metrics_filter_reject(m, "who-knows");
    pds_metrics_filter_reject(m, NULL);
    pds_metrics_audit_sync(m, 0, 10);
    text = pds_metrics_prometheus(m, p, NULL);
    assert_contains(text, "pds_consent_lookups_total{list=\"consents\",result=\"hit\"} 1\n");
    assert_contains(text, "pds_consent_lookups_total{list=\"consents\",result=\"miss\"} 1\n");
    assert_contains(text, "pds_consent_lookups_total{list=\"optouts\",result=\"error\"} 1\n");
    assert_contains(text, "pds_consent_lookups_total{list=\"optouts\",result=\"hit\"} 0\n");
    /* a hit is not a store read: only the miss's and the error's times */
    assert_contains(text, "pds_consent_store_duration_seconds_count{list=\"consents\"} 1\n");
    assert_contains(text, "pds_consent_store_duration_seconds_sum{list=\"consents\"} 0.002\n");
    assert_contains(text, "pds_filter_rejections_total{kind=\"not-json\"} 1\n");
    assert_contains(text, "pds_filter_rejections_total{kind=\"other\"} 2\n");
    assert_contains(text, "pds_audit_syncs_total{result=\"error\"} 1\n");
    for (k = pds_metrics_filter_kinds(); *k != NULL; k++)
        assert_contains(text, apr_psprintf(p, "pds_filter_rejections_total{kind=\"%s\"}", *k));
    pds_metrics_summary(m, &sum);
    assert_int_equal(sum.consent_errors, 1);
    assert_int_equal(sum.filter_rejections, 3);
    assert_int_equal(sum.audit_errors, 1);
}

static void test_json(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem);
    json_t *doc, *req, *series, *one, *hist;
    json_error_t jerr;
    apr_size_t len = 0;
    const char *text;

    pds_metrics_decision(m, "fife-care", "nhs-fife", 1, NULL, 1500);
    pds_metrics_decision(m, NULL, NULL, 0, "unknown-caller", 100);
    text = pds_metrics_json(m, p, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "reset_time")),
                        "2026-11-30T00:53:20Z");
    req = json_object_get(json_object_get(doc, "metrics"), "pds_requests_total");
    assert_string_equal(json_string_value(json_object_get(req, "type")), "counter");
    series = json_object_get(req, "series");
    assert_int_equal(json_array_size(series), 2);      /* sparse */
    one = json_array_get(series, 1);         /* in label order: none first */
    assert_string_equal(json_string_value(json_object_get(json_object_get(one, "labels"),
                                                          "agreement")), "fife-care");
    assert_string_equal(json_string_value(json_object_get(json_object_get(one, "labels"),
                                                          "decision")), "allow");
    assert_int_equal(json_integer_value(json_object_get(one, "value")), 1);
    hist = json_array_get(json_object_get(json_object_get(json_object_get(doc, "metrics"),
                                          "pds_request_duration_seconds"), "series"), 0);
    assert_int_equal(json_integer_value(json_object_get(hist, "count")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(hist, "buckets"),
                                                        "0.001")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(hist, "buckets"),
                                                        "0.0025")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(hist, "buckets"),
                                                        "+Inf")), 1);
    json_decref(doc);
}

static void test_unattached(void **state)
{
    apr_pool_t *p = *state;
    pds_metrics_t *m = NULL;
    pds_metrics_summary_t sum;
    const char *text;

    /* counting on nothing is harmless */
    pds_metrics_decision(NULL, "a", "b", 1, NULL, 1);
    pds_metrics_audit_write(NULL, 1, 1);
    pds_metrics_filter_reject(NULL, "x");
    assert_int_equal(pds_metrics_create(&m, p, NULL, NULL, NULL, NULL), APR_SUCCESS);
    pds_metrics_decision(m, NULL, NULL, 1, NULL, 1);
    pds_metrics_summary(m, &sum);
    assert_int_equal(sum.allowed, 0);
    text = pds_metrics_prometheus(m, p, NULL);
    assert_contains(text, "# TYPE pds_requests_total counter\n");
    assert_null(strstr(text, "pds_audit_writes_total{"));
    assert_non_null(pds_metrics_json(m, p, NULL));
}

static void test_kept_block(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem), *next = NULL;
    static const char *const orgs[] = { "nhs-fife", "uni", NULL };
    static const char *const ids[] = { "fife-care", "fife-audit", "uni-research", NULL };
    static const char *const parties[] = { "nhs-fife", "nhs-fife", "uni", NULL };

    pds_metrics_decision(m, "uni-research", "uni", 1, NULL, 1);
    /* a restart with the same layout keeps the block and its counts */
    assert_int_equal(pds_metrics_create(&next, p, names(p, ids), names(p, parties),
                                        names(p, orgs), NULL), APR_SUCCESS);
    pds_metrics_attach(next, mem, 0, apr_time_from_sec(1));
    pds_metrics_decision(next, "uni-research", "uni", 1, NULL, 1);
    assert_contains(pds_metrics_prometheus(next, p, NULL),
                    "pds_requests_total{agreement=\"uni-research\",organisation=\"uni\","
                    "decision=\"allow\",reason=\"\"} 2\n");
    assert_contains(pds_metrics_prometheus(next, p, NULL),
                    "pds_metrics_reset_time_seconds 1796000000\n");
}

/* Every allocation of the JSON rendering failing in turn: NULL or the
 * whole document (jansson absorbs some failures inside its dump), and
 * nothing of jansson's left behind. */
static void test_json_out_of_memory(void **state)
{
    apr_pool_t *p = *state;
    void *mem;
    pds_metrics_t *m = model(p, &mem);
    const char *whole_text;
    long n;
    int whole = 0;

    pds_metrics_decision(m, "fife-care", "nhs-fife", 1, NULL, 1500);
    pds_metrics_decision(m, NULL, NULL, 0, "unknown-caller", 100);
    whole_text = pds_metrics_json(m, p, NULL);
    assert_non_null(whole_text);
    pds_chaos_install();
    for (n = 1; n < 5000 && !whole; n++) {
        const char *text;

        pds_chaos_arm(n);
        text = pds_metrics_json(m, p, NULL);
        if (pds_chaos_live() != 0)
            fail_msg("allocation %ld failing leaks %ld block(s)", n, pds_chaos_live());
        if (text != NULL && strcmp(text, whole_text) != 0)
            fail_msg("allocation %ld failing gave a document with a part missing", n);
        whole = !pds_chaos_failed();
    }
    pds_chaos_remove();
    assert_true(whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_layout),
        pds_test_with_pool(test_create_rejects),
        pds_test_with_pool(test_decisions_land),
        pds_test_with_pool(test_buckets),
        pds_test_with_pool(test_consent_and_filter),
        pds_test_with_pool(test_json),
        pds_test_with_pool(test_json_out_of_memory),
        pds_test_with_pool(test_unattached),
        pds_test_with_pool(test_kept_block),
    };

    return pds_test_main(tests, NULL, NULL);
}
