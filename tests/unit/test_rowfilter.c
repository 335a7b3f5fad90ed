/* test_rowfilter.c: row filters (issue #12 item 2): Exclude conditions,
 * their parser (the field path grammar, with a comparison at the end), when
 * a condition holds, what the filter does with a single record and with a
 * collection, the agreement keyword and the audit members. Data-driven
 * cases are in tests/cases/filter/exclude-* (files exclude, excluded). */
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "stream_check.h"
#include "pds_agreement.h"
#include "pds_audit.h"
#include "pds_filter.h"
#include "pds_rowfilter.h"
#include "pds_stream.h"

static pds_rowfilter_t *rowfilter(apr_pool_t *p, const char *const *conditions)
{
    pds_rowfilter_t *rf;
    pds_error_t err;
    int i;

    assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
    for (i = 0; conditions[i] != NULL; i++) {
        pds_error_clear(&err);
        if (pds_rowfilter_add(rf, conditions[i], &err) != APR_SUCCESS)
            fail_msg("'%s': %s", conditions[i], err.text);
    }
    return rf;
}

static void test_parse_valid(void **state)
{
    static const char *const good[] = {
        "meta.security[code=R]", "active=false", "active = false", "active!=true",
        "deceasedBoolean=true", "deceasedDateTime", "status in (a, b)",
        "status in(a,\"b c\")", "n=42", "n=-1.5e3", "name[use=official].family=Smith",
        "identifier[system=\"https://fhir.nhs.uk/Id/nhs-number\"]",
        "meta.security[*].code=R", "a.b[x=1][y!=2].c in (1, 2, 3)", "k=\"x = y\"",
        "meta.security[code=R]", NULL   /* twice: harmless */
    };
    pds_rowfilter_t *rf = rowfilter(*state, good);

    assert_int_equal(pds_rowfilter_count(rf), 15);
    assert_string_equal(pds_rowfilter_rule(rf, 0), "meta.security[code=R]");
    assert_string_equal(pds_rowfilter_rule(rf, 14), "k=\"x = y\"");
    assert_null(pds_rowfilter_rule(rf, 15));
    assert_null(pds_rowfilter_rule(rf, -1));
    assert_int_equal(pds_rowfilter_count(NULL), 0);
    assert_int_equal(pds_rowfilter_match(NULL, NULL), -1);
}

static void expect_bad(apr_pool_t *p, const char *condition, int position,
                       const char *part)
{
    pds_rowfilter_t *rf;
    pds_error_t err;

    assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
    pds_error_clear(&err);
    if (pds_rowfilter_add(rf, condition, &err) == APR_SUCCESS)
        fail_msg("'%s' accepted", condition);
    assert_string_equal(err.code, "bad-field-path");
    if (err.position != position)
        fail_msg("'%s': position %d, expected %d (%s)", condition, err.position,
                 position, err.text);
    if (strstr(err.text, part) == NULL)
        fail_msg("'%s': text \"%s\" lacks \"%s\"", condition, err.text, part);
    assert_int_equal(pds_rowfilter_count(rf), 0);
}

static void test_parse_invalid(void **state)
{
    apr_pool_t *p = *state;

    expect_bad(p, "", 0, "empty path");
    expect_bad(p, "[*].active=false", 0, "inside each record");
    expect_bad(p, "active==false", 7, "expected a value");
    expect_bad(p, "active=", 7, "expected a value");
    expect_bad(p, "active=false x", 13, "end of the condition");
    expect_bad(p, "active ", 7, "not with a space");
    expect_bad(p, "active!false", 6, "expected '=', '!='");
    expect_bad(p, "active~false", 6, "a comparison is");
    expect_bad(p, "status in a", 10, "followed by a list");
    expect_bad(p, "status in (a b)", 13, "expected ',' or ')'");
    expect_bad(p, "statusin(a)", 8, "a comparison is");
    expect_bad(p, "a[k=~\"x.*\"]", 4, "expected a value");
    expect_bad(p, "a.=1", 2, "expected a name after '.'");
    expect_bad(p, "meta.security[code=R]x", 21, "a comparison ('=', '!=', ' in (')");
    expect_bad(p, "n=1x", 2, "is a number");
    expect_bad(p, "k=\"open", 7, "ends with '\"'");
    expect_bad(p, "a=1=2", 3, "end of the condition");
}

static void test_too_many(void **state)
{
    apr_pool_t *p = *state;
    pds_rowfilter_t *rf;
    pds_error_t err;
    int i;

    assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
    for (i = 0; i < PDS_ROWFILTER_MAX; i++)
        assert_int_equal(pds_rowfilter_add(rf, apr_psprintf(p, "m%d=1", i), NULL),
                         APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_equal(pds_rowfilter_add(rf, "one=more", &err), APR_EINVAL);
    assert_contains(err.text, "at most 64");
    assert_int_equal(pds_rowfilter_count(rf), PDS_ROWFILTER_MAX);
}

/* condition, record, holds? */
static void test_holds(void **state)
{
    static const struct { const char *cond, *record; int holds; } cases[] = {
        /* a predicated array: any element that qualifies */
        { "meta.security[code=R]", "{\"meta\":{\"security\":[{\"code\":\"N\"},{\"code\":\"R\"}]}}", 1 },
        { "meta.security[code=R]", "{\"meta\":{\"security\":[{\"code\":\"N\"}]}}", 0 },
        { "meta.security[code=R]", "{\"meta\":{\"security\":[]}}", 0 },
        { "meta.security[code=R]", "{\"meta\":{}}", 0 },
        { "meta.security[code=R]", "{}", 0 },
        { "meta.security[code=R]", "{\"meta\":null}", 0 },
        { "meta.security[code=R]", "{\"meta\":{\"security\":[\"R\",null,3]}}", 0 },
        { "meta.security[code in (R, V)]", "{\"meta\":{\"security\":[{\"code\":\"V\"}]}}", 1 },
        /* in doubt: the record is not the shape the condition reads */
        { "meta.security[code=R]", "{\"meta\":\"R\"}", 1 },
        { "meta.security[code=R]", "{\"meta\":{\"security\":{\"code\":\"R\"}}}", 1 },
        { "meta.security[code=R]", "[]", 1 },
        { "active=false", "{\"active\":{\"v\":false}}", 1 },
        { "active=false", "{\"active\":[false]}", 1 },
        /* comparisons on the record itself */
        { "active=false", "{\"active\":false}", 1 },
        { "active=false", "{\"active\":true}", 0 },
        { "active=false", "{\"active\":\"false\"}", 0 },
        { "active=false", "{}", 0 },
        { "active=false", "{\"active\":null}", 0 },
        { "active!=true", "{\"active\":false}", 1 },
        { "active!=true", "{\"active\":\"yes\"}", 1 },
        { "active!=true", "{}", 0 },
        { "active!=true", "{\"active\":true}", 0 },
        { "n=42", "{\"n\":42.0}", 1 },
        { "n=42", "{\"n\":\"42\"}", 0 },
        { "status in (a, \"b c\")", "{\"status\":\"b c\"}", 1 },
        { "status in (a, \"b c\")", "{\"status\":\"c\"}", 0 },
        /* presence: any value but null */
        { "deceasedDateTime", "{\"deceasedDateTime\":\"2020-01-01\"}", 1 },
        { "deceasedDateTime", "{\"deceasedDateTime\":false}", 1 },
        { "deceasedDateTime", "{\"deceasedDateTime\":null}", 0 },
        { "deceasedDateTime", "{}", 0 },
        /* through [*] and predicates to a value, then compared */
        { "meta.security[*].code=R", "{\"meta\":{\"security\":[{\"code\":\"N\"},{\"code\":\"R\"}]}}", 1 },
        { "meta.security[*].code=R", "{\"meta\":{\"security\":[{},{\"code\":\"N\"}]}}", 0 },
        { "name[use=official].family=Smith", "{\"name\":[{\"use\":\"maiden\",\"family\":\"Smith\"}]}", 0 },
        { "name[use=official].family=Smith", "{\"name\":[{\"use\":\"official\",\"family\":\"Smith\"}]}", 1 },
        { "k=\"x = y\"", "{\"k\":\"x = y\"}", 1 },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *one[2] = { cases[i].cond, NULL };
        pds_rowfilter_t *rf = rowfilter(p, one);
        json_t *record = pds_test_json(cases[i].record);
        int got = pds_rowfilter_match(rf, record);

        json_decref(record);
        if ((got == 0) != (cases[i].holds != 0))
            fail_msg("%s on %s: got %d, expected %s", cases[i].cond, cases[i].record,
                     got, cases[i].holds ? "0 (holds)" : "-1");
    }
}

static void test_first_that_holds(void **state)
{
    static const char *const conds[] = { "a=1", "b=2", "c", NULL };
    apr_pool_t *p = *state;
    pds_rowfilter_t *rf = rowfilter(p, conds);
    json_t *r = pds_test_json("{\"b\":2,\"c\":0}");

    assert_int_equal(pds_rowfilter_match(rf, r), 1);
    json_decref(r);
    r = pds_test_json("{\"c\":0}");
    assert_int_equal(pds_rowfilter_match(rf, r), 2);
    json_decref(r);
    r = pds_test_json("{\"a\":2}");
    assert_int_equal(pds_rowfilter_match(rf, r), -1);
    json_decref(r);
}

/* ---- the filter ------------------------------------------------------------ */

static const char patients[] =
    "[{\"id\":\"p1\",\"active\":true,\"name\":\"A\"},"
    "{\"id\":\"p2\",\"meta\":{\"security\":[{\"code\":\"R\"}]},\"name\":\"ZZLEAK-B\","
    "\"secret\":\"ZZLEAK\"},"
    "{\"id\":\"p3\",\"active\":false,\"name\":\"ZZLEAK-C\"},"
    "{\"id\":\"p4\",\"name\":\"D\"},"
    "{\"id\":\"p5\",\"meta\":{\"security\":[{\"code\":\"R\"}]},\"name\":\"ZZLEAK-E\"}]";

static const char *const patient_rules[] = { "meta.security[code=R]", "active=false",
                                             NULL };

static void test_single_record_refused(void **state)
{
    static const char *const fields[] = { "id", "name", NULL };
    apr_pool_t *p = *state;
    pds_fieldset_t *set = pds_test_fieldset(p, fields);
    pds_filter_options_t opts;
    pds_filter_result_t res, sentinel;
    pds_error_t err;
    const char *restricted = "{\"id\":\"p2\",\"meta\":{\"security\":[{\"code\":\"R\"}]},"
                             "\"name\":\"ZZLEAK\"}";
    const char *plain = "{\"id\":\"p1\",\"name\":\"A\",\"active\":true}";

    memset(&opts, 0, sizeof(opts));
    opts.exclude = rowfilter(p, patient_rules);
    memset(&sentinel, 0x5a, sizeof(sentinel));
    res = sentinel;
    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_ex(set, restricted, strlen(restricted), &opts, &res,
                                         p, &err), APR_EINVAL);
    assert_string_equal(err.code, "record-excluded");
    assert_int_equal(err.position, 0);
    assert_null(strstr(err.text, "ZZLEAK"));
    assert_memory_equal(&res, &sentinel, sizeof(res));

    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_ex(set, plain, strlen(plain), &opts, &res, p, &err),
                     APR_SUCCESS);
    assert_string_equal(res.body, "{\"id\":\"p1\",\"name\":\"A\"}");
    assert_null(res.excluded);
}

/* The glue filters single documents through the streaming filter, which
 * reads Exclude by looking ahead: with Exclude it gives the tree filter's
 * answer, never releases a held record, and the stream alone holds it too
 * (naming the condition that held, as the tree filter does). */
static void test_the_stream_entry_point_holds_excluded_records(void **state)
{
    static const char *const fields[] = { "id", "name", NULL };
    apr_pool_t *p = *state;
    pds_fieldset_t *set = pds_test_fieldset(p, fields);
    pds_filter_options_t opts;
    pds_filter_result_t res;
    pds_error_t err;
    const char *restricted = "{\"id\":\"p2\",\"meta\":{\"security\":[{\"code\":\"R\"}]},"
                             "\"name\":\"ZZLEAK\"}";
    const char *plain = "{\"id\":\"p1\",\"name\":\"A\"}";

    memset(&opts, 0, sizeof(opts));
    opts.exclude = rowfilter(p, patient_rules);
    pds_error_clear(&err);
    assert_int_equal(pds_stream_filter_ex(set, restricted, strlen(restricted), &opts, &res,
                                          p, &err), APR_EINVAL);
    assert_string_equal(err.code, "record-excluded");
    pds_error_clear(&err);
    assert_int_equal(pds_stream_filter_ex(set, plain, strlen(plain), &opts, &res, p, &err),
                     APR_SUCCESS);
    assert_string_equal(res.body, plain);
    /* the stream's result has no stale members (the glue reads excluded) */
    memset(&opts, 0, sizeof(opts));
    memset(&res, 0x5a, sizeof(res));
    assert_int_equal(pds_stream_filter_ex(set, plain, strlen(plain), &opts, &res, p, &err),
                     APR_SUCCESS);
    assert_null(res.excluded);
    assert_null(res.dropped);
    opts.exclude = rowfilter(p, patient_rules);
    pds_error_clear(&err);
    assert_int_not_equal(pds_stream_apply_ex(set, restricted, strlen(restricted), &opts, &res,
                                             p, &err), APR_SUCCESS);
    assert_string_equal(err.code, "record-excluded");
    assert_int_equal(err.position, 0);
    /* a collection: the records a condition holds for are left out, counted */
    {
        static const char *const every[] = { "[*].id", NULL };
        const char *both = "[{\"id\":\"p1\",\"name\":\"A\"},{\"id\":\"p2\",\"meta\":"
                           "{\"security\":[{\"code\":\"R\"}]}}]";

        (void)pds_stream_check(p, "Exclude on a collection", pds_test_fieldset(p, every), both,
                               strlen(both), &opts);
        pds_error_clear(&err);
        assert_int_equal(pds_stream_apply_ex(pds_test_fieldset(p, every), both, strlen(both),
                                             &opts, &res, p, &err), APR_SUCCESS);
        assert_string_equal(res.body, "[{\"id\":\"p1\"}]");
        assert_int_equal(res.excluded->nelts, 1);
    }
}

static void test_collection_leaves_out(void **state)
{
    static const char *const fields[] = { "[*].id", "[*].name", "[*].secret", NULL };
    apr_pool_t *p = *state;
    pds_fieldset_t *set = pds_test_fieldset(p, fields);
    pds_filter_options_t opts;
    pds_filter_result_t res;
    pds_error_t err;

    memset(&opts, 0, sizeof(opts));
    opts.exclude = rowfilter(p, patient_rules);
    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_ex(set, patients, strlen(patients), &opts, &res, p,
                                         &err), APR_SUCCESS);
    assert_string_equal(res.body, "[{\"id\":\"p1\",\"name\":\"A\"},{\"id\":\"p4\","
                        "\"name\":\"D\"}]");
    assert_non_null(res.excluded);
    assert_int_equal(res.excluded->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(res.excluded, 0, const char *), "meta.security[code=R]");
    assert_string_equal(APR_ARRAY_IDX(res.excluded, 1, const char *), "active=false");
    assert_string_equal(APR_ARRAY_IDX(res.excluded, 2, const char *), "meta.security[code=R]");
    /* only the records released count as released: no "secret" */
    assert_int_equal(res.released->nelts, 2);

    /* without conditions: nothing left out, and no count */
    opts.exclude = NULL;
    assert_int_equal(pds_filter_apply_ex(set, patients, strlen(patients), &opts, &res, p,
                                         &err), APR_SUCCESS);
    assert_null(res.excluded);
    assert_non_null(strstr(res.body, "ZZLEAK"));
}

static int decided;

/* Counts the records asked about; every one may release the whole set. */
static apr_status_t count_rows(void *baton, const char *subject, const pds_fieldset_t **pset,
                               const char **pseudonym, pds_error_t *err)
{
    (void)subject;
    (void)err;
    decided++;
    *pset = baton;
    *pseudonym = NULL;
    return APR_SUCCESS;
}

static void test_rows_leave_out_before_consent(void **state)
{
    static const char *const fields[] = { "[*].id", "[*].name", NULL };
    apr_pool_t *p = *state;
    pds_fieldset_t *set = pds_test_fieldset(p, fields);
    pds_filter_options_t opts;
    pds_filter_result_t res;
    pds_error_t err;

    memset(&opts, 0, sizeof(opts));
    opts.exclude = rowfilter(p, patient_rules);
    decided = 0;
    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_rows(set, patients, strlen(patients), &opts, "id",
                                           count_rows, set, &res, p, &err), APR_SUCCESS);
    assert_int_equal(decided, 2);
    assert_int_equal(res.records, 2);
    assert_int_equal(res.subjects->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(res.subjects, 1, const char *), "p4");
    assert_int_equal(res.excluded->nelts, 3);
    assert_null(strstr(res.body, "ZZLEAK"));

    /* none holds: an empty count, every record released */
    {
        static const char *const never[] = { "nobody=here", NULL };
        opts.exclude = rowfilter(p, never);
    }
    assert_int_equal(pds_filter_apply_rows(set, patients, strlen(patients), &opts, "id",
                                           count_rows, set, &res, p, &err), APR_SUCCESS);
    assert_int_equal(res.records, 5);
    assert_int_equal(res.excluded->nelts, 0);
}

/* ---- the agreement --------------------------------------------------------- */

static apr_status_t agreement(pds_agreement_t **pa, apr_pool_t *p, const char *exclude,
                              pds_error_t *err)
{
    const char *lines[][2] = {
        { "Party", "uni" }, { "Purpose", "research" }, { "LegalBasis", "public-task" },
        { "Valid", "2026-01-01 2027-12-31" }, { "Resource", "GET /fhir/Patient" },
        { "Release", "[*].id [*].birthDate" }, { "RecordSubject", "id" },
    };
    apr_status_t rv;
    size_t i;

    pds_error_clear(err);
    assert_int_equal(pds_agreement_create(pa, p, "cohort", err), APR_SUCCESS);
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        assert_int_equal(pds_agreement_set(*pa, lines[i][0], lines[i][1], err),
                         APR_SUCCESS);
    rv = pds_agreement_set(*pa, "exclude", exclude, err);
    if (rv != APR_SUCCESS)
        return rv;
    return pds_agreement_finish(*pa, err);
}

static void test_exclude_keyword(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a;
    pds_error_t err;
    const pds_rowfilter_t *rf;

    assert_int_equal(agreement(&a, p, "meta.security[code=R] 'status in (a, b)' "
                               "deceasedBoolean=true", &err), APR_SUCCESS);
    rf = pds_agreement_exclude(a);
    assert_int_equal(pds_rowfilter_count(rf), 3);
    assert_string_equal(pds_rowfilter_rule(rf, 1), "status in (a, b)");

    /* what to write, pointing at the character */
    assert_int_equal(agreement(&a, p, "deceasedBoolean=true active==false", &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "bad-agreement");
    assert_string_equal(err.source, "exclude");
    assert_int_equal(err.position, 21 + 7);
    assert_contains(err.text, "active==false\": expected a value");
    assert_contains(err.text, "at character 8");
    assert_contains(err.text, "`Exclude meta.security[code=R]`");
    assert_int_equal(agreement(&a, p, "'status in (a b)'", &err), APR_EINVAL);
    assert_int_equal(err.position, 1 + 13);
    assert_int_equal(agreement(&a, p, "status in (a, b)", &err), APR_EINVAL);
    assert_int_equal(err.position, 7);
    assert_contains(err.text, "quote it as a whole");
    assert_int_equal(agreement(&a, p, "[*].active=false", &err), APR_EINVAL);
    assert_contains(err.text, "inside each record");
    assert_int_equal(agreement(&a, p, "", &err), APR_EINVAL);
    assert_contains(err.text, "needs at least one condition");

    /* none given: none */
    pds_error_clear(&err);
    assert_int_equal(pds_agreement_create(&a, p, "plain", &err), APR_SUCCESS);
    assert_null(pds_agreement_exclude(a));
}

/* ---- the audit record ------------------------------------------------------ */

static void test_audit_members(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *excluded = apr_array_make(p, 4, sizeof(const char *));
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
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_SUCCESS);
    assert_null(strstr(line, "excluded"));
    rec.excluded = excluded;
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_SUCCESS);
    assert_contains(line, "\"excluded\":0,\"excluded_by\":{}");
    APR_ARRAY_PUSH(excluded, const char *) = "meta.security[code=R]";
    APR_ARRAY_PUSH(excluded, const char *) = "active=false";
    APR_ARRAY_PUSH(excluded, const char *) = "meta.security[code=R]";
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_SUCCESS);
    assert_contains(line, "\"excluded\":3,\"excluded_by\":{\"meta.security[code=R]\":2,"
                    "\"active=false\":1}");
    /* a condition's text that is not UTF-8 does not lose the record */
    APR_ARRAY_PUSH(excluded, const char *) = "k=\"\xff\"";
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_SUCCESS);
    assert_contains(line, "\"k=\\\"\\uFFFD\\\"\":1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_parse_valid),
        pds_test_with_pool(test_parse_invalid),
        pds_test_with_pool(test_too_many),
        pds_test_with_pool(test_holds),
        pds_test_with_pool(test_first_that_holds),
        pds_test_with_pool(test_single_record_refused),
        pds_test_with_pool(test_the_stream_entry_point_holds_excluded_records),
        pds_test_with_pool(test_collection_leaves_out),
        pds_test_with_pool(test_rows_leave_out_before_consent),
        pds_test_with_pool(test_exclude_keyword),
        pds_test_with_pool(test_audit_members),
    };

    return pds_test_main(tests, NULL, NULL);
}
