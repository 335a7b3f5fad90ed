/* test_predicates.c: element predicates in field paths ("telecom[system=phone]
 * .value"): the parser's refusals, matching, coverage and intersection (consent
 * narrowing) and a predicated record subject (a predicated Write is refused:
 * test_write.c). The filter's output for
 * predicates is also in the data-driven cases (tests/cases/filter/pred-*).
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_consent.h"
#include "pds_filter.h"

static const char *filter(apr_pool_t *p, const pds_fieldset_t *set, const char *input)
{
    pds_filter_result_t res;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_filter_apply(set, input, strlen(input), 0, &res, p, &err) != APR_SUCCESS)
        fail_msg("apply failed: %s: %s", err.code, err.text);
    return res.body;
}

static void expect_bad(apr_pool_t *p, const char *path, int position, const char *part)
{
    pds_fieldset_t *set;
    pds_error_t err;

    assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_fieldset_add(set, path, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-field-path");
    if (err.position != position)
        fail_msg("'%s': position %d, expected %d (%s)", path, err.position, position,
                 err.text);
    if (strstr(err.text, part) == NULL)
        fail_msg("'%s': text \"%s\" lacks \"%s\"", path, err.text, part);
    assert_int_equal(pds_fieldset_count(set), 0);
    assert_false(pds_fieldset_covers(set, path));
}

static void test_parse_valid(void **state)
{
    static const char *const good[] = {
        "identifier[system=\"https://fhir.nhs.uk/Id/nhs-number\"].value",
        "telecom[system=phone].value", "name[use=official]",
        "telecom[system=phone][use=home].value", "telecom[ system = phone ].use",
        "telecom[use in (home, work)].value", "telecom[use in(home,\"mobile\")].system",
        "a[n=1].b", "a[n=-2.5e3].b", "a[n=0].b", "a[b=true].c", "a[b=false].c",
        "a[b!=x].c", "a[url=urn:oid:1.2.3].c", "a[k=\"\"].c", "a[k=\"x]y\"].c",
        "a[k=\"q\\\"\\\\\"].c", "[*].telecom[system=phone].value",
        "a[k=x].b[j=y].c", "a[k=x].b[*].c", NULL
    };
    pds_fieldset_t *set = pds_test_fieldset(*state, good);

    assert_int_equal(pds_fieldset_count(set), 20);
    assert_string_equal(pds_fieldset_path(set, 0), good[0]);
}

static void test_parse_invalid(void **state)
{
    apr_pool_t *p = *state;
    char buf[400];
    int k;

    expect_bad(p, "telecom[system=].value", 15, "expected a value");
    expect_bad(p, "telecom[system=phone", 20, "expected ']' to end the predicate");
    expect_bad(p, "telecom[system=phone.value", 26, "expected ']'");
    expect_bad(p, "telecom[system].value", 8, "'[' must be followed by '*]', found 's', "
               "or by a predicate such as [system=phone]");
    expect_bad(p, "telecom[=phone].value", 8, "found '='");
    expect_bad(p, "telecom[system==phone].value", 15, "expected a value");
    expect_bad(p, "telecom[system<phone].value", 14, "expected '=', '!=' or ' in ('");
    expect_bad(p, "telecom[system~=phone].value", 14, "expected '=', '!='");
    expect_bad(p, "identifier[system=\"https://x].value", 35, "ends with '\"'");
    expect_bad(p, "a[k=\"x\\y\"].v", 7, "'\\' is followed by");
    expect_bad(p, "a[k=\"x\ty\"].v", 6, "no control characters");
    expect_bad(p, "a[k=12ab].v", 4, "put text in double quotes, e.g. [code=\"12ab\"]");
    expect_bad(p, "a[k=1.].v", 4, "is a number");
    expect_bad(p, "a[k=-].v", 4, "is a number");
    expect_bad(p, "a[k=x, j=y].v", 5, "write [a=1][b=2] for both");
    expect_bad(p, "a[k=x and j=y].v", 6, "expected ']'");
    expect_bad(p, "a[k.exists()].v", 3, "expected '=', '!='");
    expect_bad(p, "a[k=x]b", 6, "expected '.' or the end of the path");
    expect_bad(p, "a[k=x][*].b", 7, "found '*'");
    expect_bad(p, "a[k in x].b", 7, "'in' is followed by a list: in (a, b)");
    expect_bad(p, "a[k in (x y)].b", 10, "expected ',' or ')'");
    expect_bad(p, "a[k in ()].b", 8, "expected a value");
    expect_bad(p, "a[k in (x,)].b", 10, "expected a value");
    expect_bad(p, "a[kin(x)].b", 5, "expected '=', '!='");
    expect_bad(p, "[system=phone].value", 1, "at the start of a path");
    expect_bad(p, "a[k=x", 5, "expected ']'");
    expect_bad(p, "a[k=x].", 7, "expected a name after '.'");

    /* bounded: at most 16 predicates and 32 values in a path */
    buf[0] = 'a';
    buf[1] = '\0';
    for (k = 0; k < 17; k++)
        apr_cpystrn(buf + strlen(buf), "[k=x]", sizeof(buf) - strlen(buf));
    expect_bad(p, buf, 81, "at most 16 predicates");
    apr_cpystrn(buf, "a[k in (", sizeof(buf));
    for (k = 0; k < 33; k++)
        apr_cpystrn(buf + strlen(buf), k == 0 ? "x" : ",x", sizeof(buf) - strlen(buf));
    apr_cpystrn(buf + strlen(buf), ")]", sizeof(buf) - strlen(buf));
    expect_bad(p, buf, 72, "at most 32 values");
}

static void test_matching(void **state)
{
    apr_pool_t *p = *state;
    static const char *const eq[] = { "a[k=x].v", NULL };
    static const char *const quoted_same[] = { "a[k=\"x\"].v", NULL };
    static const char *const ne[] = { "a[k!=x].v", NULL };
    static const char *const in[] = { "a[k in (x, 2, true)].v", NULL };
    static const char *const both[] = { "a[k=x][j=y].v", NULL };
    static const char input[] =
        "{\"a\":[{\"k\":\"x\",\"j\":\"y\",\"v\":1},{\"k\":\"x\",\"v\":2},{\"v\":3},"
        "{\"k\":2,\"v\":4},{\"k\":true,\"v\":5},{\"k\":[\"x\"],\"v\":6},{\"k\":null,\"v\":7},"
        "{\"k\":\"X\",\"v\":8},{\"k\":\"x \",\"v\":9},\"x\",null]}";

    assert_string_equal(filter(p, pds_test_fieldset(p, eq), input), "{\"a\":[{\"v\":1},{\"v\":2}]}");
    assert_string_equal(filter(p, pds_test_fieldset(p, quoted_same), input),
                        "{\"a\":[{\"v\":1},{\"v\":2}]}");
    /* "!=" needs the member, a scalar: missing, null or an array do not match */
    assert_string_equal(filter(p, pds_test_fieldset(p, ne), input),
                        "{\"a\":[{\"v\":4},{\"v\":5},{\"v\":8},{\"v\":9}]}");
    assert_string_equal(filter(p, pds_test_fieldset(p, in), input),
                        "{\"a\":[{\"v\":1},{\"v\":2},{\"v\":4},{\"v\":5}]}");
    assert_string_equal(filter(p, pds_test_fieldset(p, both), input), "{\"a\":[{\"v\":1}]}");
    /* the top level is still returned when nothing matches */
    assert_string_equal(filter(p, pds_test_fieldset(p, eq), "{\"a\":[{\"k\":\"z\",\"v\":1}]}"), "{}");
}

static void test_released_list(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "t[s=phone].v", "t[s=fax].v", "t[*].s", NULL };
    static const char input[] = "{\"t\":[{\"s\":\"phone\",\"v\":1},{\"s\":\"fax\"}]}";
    pds_filter_result_t res;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply(pds_test_fieldset(p, paths), input, sizeof(input) - 1, 0, &res,
                                      p, &err), APR_SUCCESS);
    assert_string_equal(res.body, "{\"t\":[{\"s\":\"phone\",\"v\":1},{\"s\":\"fax\"}]}");
    assert_int_equal(res.released->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(res.released, 0, const char *), "t[s=phone].v");
    assert_string_equal(APR_ARRAY_IDX(res.released, 1, const char *), "t[*].s");
}

static void test_covers(void **state)
{
    apr_pool_t *p = *state;
    static const char *const pred[] = { "telecom[system=phone].value", "name[use=official]",
                                        NULL };
    static const char *const each[] = { "telecom[*].value", "name", NULL };
    pds_fieldset_t *ps = pds_test_fieldset(p, pred), *es = pds_test_fieldset(p, each);

    assert_true(pds_fieldset_covers(ps, "telecom[system=phone].value"));
    assert_true(pds_fieldset_covers(ps, "telecom[system=\"phone\"].value"));
    assert_true(pds_fieldset_covers(ps, "telecom[ system = phone ].value"));
    assert_false(pds_fieldset_covers(ps, "telecom[system=email].value"));
    assert_false(pds_fieldset_covers(ps, "telecom[system!=phone].value"));
    assert_false(pds_fieldset_covers(ps, "telecom[system in (phone)].value"));
    assert_false(pds_fieldset_covers(ps, "telecom[*].value"));        /* [*] is wider */
    assert_false(pds_fieldset_covers(ps, "telecom[system=phone].use"));
    assert_false(pds_fieldset_covers(ps, "telecom[system=phone][use=home].value"));
    assert_true(pds_fieldset_covers(ps, "name[use=official].given"));
    assert_false(pds_fieldset_covers(ps, "name[*].given"));
    assert_false(pds_fieldset_covers(ps, "name"));

    assert_true(pds_fieldset_covers(es, "telecom[system=phone].value"));
    assert_true(pds_fieldset_covers(es, "telecom[system=phone][use=home].value"));
    assert_true(pds_fieldset_covers(es, "name[use=official].given"));
    assert_false(pds_fieldset_covers(es, "telecom[system=phone].use"));
    assert_false(pds_fieldset_covers(es, "telecom[system=phone"));    /* does not parse */
}

static void test_intersect(void **state)
{
    apr_pool_t *p = *state;
    static const char *const agreement[] = { "telecom[*].value", "telecom[*].system",
                                             "name[use=official].family", NULL };
    static const char *const consent[] = { "telecom[system=phone].value",
                                           "name[*].family", "name[use=maiden].given", NULL };
    static const char input[] =
        "{\"telecom\":[{\"system\":\"phone\",\"value\":\"1\"},{\"system\":\"email\","
        "\"value\":\"e\"}],\"name\":[{\"use\":\"official\",\"family\":\"F\"},"
        "{\"use\":\"maiden\",\"family\":\"M\",\"given\":\"G\"}]}";
    pds_fieldset_t *both;

    assert_int_equal(pds_fieldset_intersect(&both, p, pds_test_fieldset(p, agreement),
                                            pds_test_fieldset(p, consent)), APR_SUCCESS);
    assert_int_equal(pds_fieldset_count(both), 2);
    assert_string_equal(pds_fieldset_path(both, 0), "name[use=official].family");
    assert_string_equal(pds_fieldset_path(both, 1), "telecom[system=phone].value");
    assert_string_equal(filter(p, both, input),
                        "{\"telecom\":[{\"value\":\"1\"}],\"name\":[{\"family\":\"F\"}]}");
}

/* A person consents to their phone number only: the consent's fields hold a
 * predicated path, and narrowing the agreement by them releases that only. */
static void test_consent_fields(void **state)
{
    apr_pool_t *p = *state;
    static const char *const agreement[] = { "telecom[*].value", "telecom[*].system", NULL };
    static const char input[] = "{\"telecom\":[{\"system\":\"phone\",\"value\":\"1\"},"
                                "{\"system\":\"email\",\"value\":\"e\"}]}";
    apr_array_header_t *fields;
    pds_fieldset_t *consent, *both;
    pds_error_t err;
    int i;

    pds_error_clear(&err);
    assert_int_equal(pds_consent_fields_decode(&fields, p,
                                               "[\"telecom[system=phone].value\"]", &err),
                     APR_SUCCESS);
    assert_int_equal(pds_fieldset_create(&consent, p), APR_SUCCESS);
    for (i = 0; i < fields->nelts; i++)
        assert_int_equal(pds_fieldset_add(consent, APR_ARRAY_IDX(fields, i, const char *),
                                          NULL), APR_SUCCESS);
    assert_int_equal(pds_fieldset_intersect(&both, p, pds_test_fieldset(p, agreement), consent),
                     APR_SUCCESS);
    assert_string_equal(filter(p, both, input), "{\"telecom\":[{\"value\":\"1\"}]}");
    /* a malformed predicate is refused with the place */
    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_fields_decode(&fields, p,
                                                   "[\"telecom[system=phone.value\"]", &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "invalid-consent");
    assert_non_null(strstr(err.text, "expected ']'"));
}

static apr_status_t decide_all(void *baton, const char *subject, const pds_fieldset_t **pset,
                               const char **pseudonym, pds_error_t *err)
{
    apr_array_header_t *seen = baton;

    (void)err;
    APR_ARRAY_PUSH(seen, const char *) = subject;
    *pset = NULL;
    *pseudonym = NULL;
    return APR_SUCCESS;
}

static void test_record_subject(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "[*].identifier", NULL };
    static const char input[] =
        "[{\"identifier\":[{\"system\":\"mrn\",\"value\":\"M1\"},{\"system\":\"nhs\","
        "\"value\":\"9000000009\"}]},"
        "{\"identifier\":[{\"system\":\"mrn\",\"value\":\"M2\"}]},"
        "{\"identifier\":[{\"system\":\"nhs\",\"value\":\"1\"},{\"system\":\"nhs\","
        "\"value\":\"2\"}]},"
        "{\"identifier\":[{\"system\":\"nhs\",\"value\":9000000017}]}]";
    apr_array_header_t *seen = apr_array_make(p, 4, sizeof(const char *));
    pds_filter_result_t res;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_filter_apply_rows(pds_test_fieldset(p, paths), input, sizeof(input) - 1,
                                           NULL, "identifier[system=nhs].value", decide_all,
                                           seen, &res, p, &err), APR_SUCCESS);
    /* no NHS number, or two: the record names no one */
    assert_int_equal(seen->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(seen, 0, const char *), "9000000009");
    assert_string_equal(APR_ARRAY_IDX(seen, 1, const char *), "9000000017");
    assert_string_equal(res.body, "[]");
}

static void test_transform_refused(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "telecom[system=phone].value", NULL };
    pds_fieldset_t *set = pds_test_fieldset(p, paths);
    pds_transform_t *t;
    pds_error_t err;

    assert_int_equal(pds_transform_parse(&t, p, "redact", NULL), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_fieldset_set_transform(set, "telecom[system=phone].value", t,
                                                    &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-transform");
    assert_non_null(strstr(err.text, "holds no predicates"));
    assert_int_equal(pds_fieldset_transform_count(set), 0);
}

/* A transform on "[*]" applies to what the predicated paths release, and
 * stays when consent narrows the set (never a value in clear). */
static void test_transform_inside_predicates(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "telecom[system=phone].value", "id", NULL };
    static const char *const consent[] = { "telecom[system=phone]", NULL };
    static const char input[] = "{\"id\":\"x\",\"telecom\":[{\"system\":\"phone\","
                                "\"value\":\"0123456\"},{\"system\":\"email\","
                                "\"value\":\"a@b\"}]}";
    pds_fieldset_t *set = pds_test_fieldset(p, paths), *both;
    pds_transform_t *mask;
    pds_error_t err;

    assert_int_equal(pds_transform_parse(&mask, p, "mask 2", NULL), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_equal(pds_fieldset_set_transform(set, "telecom[*].value", mask, &err),
                     APR_SUCCESS);
    /* outside every release: still refused */
    assert_int_not_equal(pds_fieldset_set_transform(set, "telecom[*].use", mask, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-transform");
    assert_string_equal(filter(p, set, input),
                        "{\"id\":\"x\",\"telecom\":[{\"value\":\"*****56\"}]}");
    assert_int_equal(pds_fieldset_intersect(&both, p, set, pds_test_fieldset(p, consent)),
                     APR_SUCCESS);
    assert_int_equal(pds_fieldset_transform_count(both), 1);
    assert_string_equal(filter(p, both, input), "{\"telecom\":[{\"value\":\"*****56\"}]}");
}

/* The "[*]" form of a path, as a Transform names it (the Deidentified
 * hint suggests it). */
static void test_path_every(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(pds_fieldset_path_every(p, "identifier[system=x].value"),
                        "identifier[*].value");
    assert_string_equal(pds_fieldset_path_every(p,
                            "identifier[system=\"https://a/b]c\"].value"),
                        "identifier[*].value");
    assert_string_equal(pds_fieldset_path_every(p, "a[x=1][y in (2, 3)].b[*].c[z!=q]"),
                        "a[*].b[*].c[*]");
    assert_string_equal(pds_fieldset_path_every(p, "name.given"), "name.given");
    assert_string_equal(pds_fieldset_path_every(p, "[*].telecom[use=home]"),
                        "[*].telecom[*]");
    assert_null(pds_fieldset_path_every(p, "a[x=]"));
    assert_null(pds_fieldset_path_every(p, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_parse_valid),
        pds_test_with_pool(test_parse_invalid),
        pds_test_with_pool(test_matching),
        pds_test_with_pool(test_released_list),
        pds_test_with_pool(test_covers),
        pds_test_with_pool(test_intersect),
        pds_test_with_pool(test_consent_fields),
        pds_test_with_pool(test_record_subject),
        pds_test_with_pool(test_transform_refused),
        pds_test_with_pool(test_transform_inside_predicates),
        pds_test_with_pool(test_path_every),
    };

    return pds_test_main(tests, NULL, NULL);
}
