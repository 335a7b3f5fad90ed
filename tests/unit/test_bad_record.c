/* test_bad_record.c: a record a transform cannot take (issue #12 item 5):
 * OnBadRecord in the agreement, drop_bad_records in pds_filter_apply_rows,
 * and "dropped" / "dropped_by" in the audit record. */
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_agreement.h"
#include "pds_audit.h"
#include "pds_filter.h"

/* ---- the filter ------------------------------------------------------------ */

/* Every record may release the whole set (baton); the subject stays. */
static apr_status_t all_rows(void *baton, const char *subject, const pds_fieldset_t **pset,
                             const char **pseudonym, pds_error_t *err)
{
    (void)subject;
    (void)err;
    *pset = baton;
    *pseudonym = NULL;
    return APR_SUCCESS;
}

/* [*].id [*].dob [*].postcode, with dob under `transform` and postcode under
 * postcode-district. */
static pds_fieldset_t *cohort(apr_pool_t *p, const char *transform)
{
    pds_fieldset_t *set;
    pds_transform_t *t, *pc;

    assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
    assert_int_equal(pds_fieldset_add(set, "[*].id", NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_add(set, "[*].dob", NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_add(set, "[*].postcode", NULL), APR_SUCCESS);
    assert_int_equal(pds_transform_parse(&t, p, transform, NULL), APR_SUCCESS);
    assert_int_equal(pds_transform_parse(&pc, p, "postcode-district", NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_set_transform(set, "[*].dob", t, NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_set_transform(set, "[*].postcode", pc, NULL),
                     APR_SUCCESS);
    return set;
}

static apr_status_t rows(const pds_fieldset_t *set, const char *input, int drop,
                         pds_filter_result_t *res, apr_pool_t *p, pds_error_t *err)
{
    pds_filter_options_t opts;

    memset(&opts, 0, sizeof(opts));
    opts.drop_bad_records = drop;
    pds_error_clear(err);
    return pds_filter_apply_rows(set, input, strlen(input), &opts, "id", all_rows,
                                 (void *)set, res, p, err);
}

static const char cohort_input[] =
    "[{\"id\":\"a\",\"dob\":\"1980-06-15\",\"postcode\":\"KY99 8EU\"},"
    "{\"id\":\"b\",\"dob\":\"1980\",\"postcode\":\"KY99 8EU\"},"
    "{\"id\":\"c\",\"dob\":\"1981-07\"},"
    "{\"id\":\"d\",\"dob\":\"1982-01-01\",\"postcode\":\"unknown\"},"
    "{\"id\":\"e\",\"dob\":\"1979\"}]";

static void test_fail_is_the_default(void **state)
{
    apr_pool_t *p = *state;
    pds_fieldset_t *set = cohort(p, "year-month");
    pds_filter_result_t res;
    pds_error_t err;

    memset(&res, 0x5a, sizeof(res));
    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_rows(set, cohort_input, strlen(cohort_input), NULL,
                                           "id", all_rows, set, &res, p, &err), APR_EINVAL);
    assert_string_equal(err.code, "transform-type");
    assert_string_equal(err.source, "[*].dob");
    assert_int_equal(rows(set, cohort_input, 0, &res, p, &err), APR_EINVAL);
    assert_string_equal(err.code, "transform-type");
    /* year takes every date of the collection; "unknown" is no postcode */
    set = cohort(p, "year");
    assert_int_equal(rows(set, cohort_input, 0, &res, p, &err), APR_EINVAL);
    assert_string_equal(err.source, "[*].postcode");
}

static void test_drop_leaves_out_and_counts(void **state)
{
    apr_pool_t *p = *state;
    pds_fieldset_t *set = cohort(p, "year-month");
    pds_filter_result_t res;
    pds_error_t err;

    assert_int_equal(rows(set, cohort_input, 1, &res, p, &err), APR_SUCCESS);
    assert_false(pds_error_is_set(&err));
    assert_string_equal(res.body, "[{\"id\":\"a\",\"dob\":\"1980-06\",\"postcode\":\"KY99\"},"
                                  "{\"id\":\"c\",\"dob\":\"1981-07\"}]");
    assert_int_equal(res.records, 2);
    assert_int_equal(res.subjects->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(res.subjects, 1, const char *), "c");
    assert_non_null(res.dropped);
    assert_int_equal(res.dropped->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(res.dropped, 0, const char *), "[*].dob year-month");
    assert_string_equal(APR_ARRAY_IDX(res.dropped, 1, const char *),
                        "[*].postcode postcode-district");
    assert_string_equal(APR_ARRAY_IDX(res.dropped, 2, const char *), "[*].dob year-month");
    /* nothing of a dropped record is in the result, nor counted as released */
    assert_null(strstr(res.body, "\"b\""));
    assert_null(strstr(res.body, "unknown"));
    assert_int_equal(res.transformed->nelts, 2);

    /* year: only the postcode is bad */
    set = cohort(p, "year");
    assert_int_equal(rows(set, cohort_input, 1, &res, p, &err), APR_SUCCESS);
    assert_int_equal(res.records, 4);
    assert_int_equal(res.dropped->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(res.dropped, 0, const char *),
                        "[*].postcode postcode-district");
    assert_contains(res.body, "{\"id\":\"b\",\"dob\":\"1980\",\"postcode\":\"KY99\"}");
}

/* Only a value a transform cannot take is dropped: a record of the wrong
 * shape, or a collection that is not one, still fails the answer. */
static void test_drop_is_only_for_odd_values(void **state)
{
    apr_pool_t *p = *state;
    pds_fieldset_t *set = cohort(p, "year-month"), *names;
    pds_filter_result_t res;
    pds_error_t err;

    assert_int_equal(rows(set, "[]", 1, &res, p, &err), APR_SUCCESS);
    assert_string_equal(res.body, "[]");
    assert_int_equal(res.dropped->nelts, 0);
    assert_int_equal(rows(set, "{\"id\":\"a\"}", 1, &res, p, &err), APR_EINVAL);
    assert_string_equal(err.code, "unexpected-type");
    assert_int_equal(pds_fieldset_create(&names, p), APR_SUCCESS);
    assert_int_equal(pds_fieldset_add(names, "[*].id", NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_add(names, "[*].name.given", NULL), APR_SUCCESS);
    assert_int_equal(rows(names, "[{\"id\":\"a\",\"name\":\"x\"}]", 1, &res, p, &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "unexpected-type");
    /* without the option, or outside collections, there is no count */
    assert_int_equal(rows(names, "[{\"id\":\"a\"}]", 0, &res, p, &err), APR_SUCCESS);
    assert_null(res.dropped);
    assert_int_equal(pds_filter_apply(names, "[{\"id\":\"a\"}]", 12, 0, &res, p, &err),
                     APR_SUCCESS);
    assert_null(res.dropped);
}

/* ---- the agreement --------------------------------------------------------- */

static apr_status_t agreement(pds_agreement_t **pa, apr_pool_t *p, const char *extra,
                              const char *on_bad_record, pds_error_t *err)
{
    /* With a RecordSubject (extra) a collection, else one person's record. */
    const char *lines[][2] = {
        { "Party", "uni" }, { "Purpose", "research" }, { "LegalBasis", "public-task" },
        { "Valid", "2026-01-01 2027-12-31" },
        { "Resource", extra != NULL ? "GET /fhir/Patient" : "GET /fhir/Patient/{subject}" },
        { "Release", extra != NULL ? "[*].id [*].birthDate" : "id birthDate" },
        { "Transform", extra != NULL ? "[*].birthDate year-month" : "birthDate year-month" },
    };
    apr_status_t rv;
    size_t i;

    pds_error_clear(err);
    assert_int_equal(pds_agreement_create(pa, p, "cohort", err), APR_SUCCESS);
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_int_equal(pds_agreement_set(*pa, lines[i][0], lines[i][1], err),
                         APR_SUCCESS);
    if (extra != NULL)
        assert_int_equal(pds_agreement_set(*pa, "RecordSubject", extra, err), APR_SUCCESS);
    if (on_bad_record != NULL) {
        rv = pds_agreement_set(*pa, "OnBadRecord", on_bad_record, err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    return pds_agreement_finish(*pa, err);
}

static void test_on_bad_record_keyword(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a;
    pds_error_t err;

    assert_int_equal(agreement(&a, p, "id", NULL, &err), APR_SUCCESS);
    assert_false(pds_agreement_drops_bad_records(a));
    assert_int_equal(agreement(&a, p, "id", "fail", &err), APR_SUCCESS);
    assert_false(pds_agreement_drops_bad_records(a));
    assert_int_equal(agreement(&a, p, "id", "drop", &err), APR_SUCCESS);
    assert_true(pds_agreement_drops_bad_records(a));
    assert_int_equal(agreement(&a, p, "id", "DROP", &err), APR_SUCCESS);
    assert_true(pds_agreement_drops_bad_records(a));

    /* what to write, with the word's position */
    assert_int_equal(agreement(&a, p, "id", "skip", &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-agreement");
    assert_string_equal(err.source, "OnBadRecord");
    assert_int_equal(err.position, 0);
    assert_contains(err.text, "`OnBadRecord drop`");
    assert_int_equal(agreement(&a, p, "id", "", &err), APR_EINVAL);
    assert_int_equal(agreement(&a, p, "id", "drop fail", &err), APR_EINVAL);
    assert_contains(err.text, "`OnBadRecord fail`");
    pds_error_clear(&err);
    assert_int_equal(pds_agreement_create(&a, p, "twice", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "OnBadRecord", "drop", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "onbadrecord", "fail", &err), APR_EINVAL);
    assert_contains(err.text, "given twice");

    /* drop is for collections, record by record */
    assert_int_equal(agreement(&a, p, NULL, "drop", &err), APR_EINVAL);
    assert_string_equal(err.source, "OnBadRecord");
    assert_contains(err.text, "RecordSubject");
    assert_contains(err.text, "`OnBadRecord fail`");
}

/* ---- the audit record ------------------------------------------------------ */

static const char *line_of(apr_pool_t *p, const apr_array_header_t *dropped,
                           const apr_array_header_t *subjects)
{
    pds_audit_record_t rec;
    pds_error_t err;
    char *line;

    memset(&rec, 0, sizeof(rec));
    rec.time = apr_time_from_sec(APR_INT64_C(1795354801));
    rec.request_id = "r-1";
    rec.method = "GET";
    rec.path = "/fhir/Patient";
    rec.decision = "allow";
    rec.status = 200;
    rec.subjects = subjects;
    rec.dropped = dropped;
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_SUCCESS);
    return line;
}

static void test_audit_counts_by_label(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *dropped = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *subjects = apr_array_make(p, 4, sizeof(const char *));

    APR_ARRAY_PUSH(subjects, const char *) = "a";
    assert_null(strstr(line_of(p, NULL, subjects), "dropped"));
    assert_contains(line_of(p, dropped, subjects),
                    "\"records\":1,\"subjects\":[\"a\"],\"dropped\":0,\"dropped_by\":{}");
    APR_ARRAY_PUSH(dropped, const char *) = "[*].birthDate year-month";
    APR_ARRAY_PUSH(dropped, const char *) = "[*].postcode postcode-district";
    APR_ARRAY_PUSH(dropped, const char *) = "[*].birthDate year-month";
    assert_contains(line_of(p, dropped, subjects),
                    "\"dropped\":3,\"dropped_by\":{\"[*].birthDate year-month\":2,"
                    "\"[*].postcode postcode-district\":1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_fail_is_the_default),
        pds_test_with_pool(test_drop_leaves_out_and_counts),
        pds_test_with_pool(test_drop_is_only_for_odd_values),
        pds_test_with_pool(test_on_bad_record_keyword),
        pds_test_with_pool(test_audit_counts_by_label),
    };

    return pds_test_main(tests, NULL, NULL);
}
