/* test_write.c: the Write list as a shape and the write check (pds_write.h):
 * containers and null replace whole values, so they stand only where the
 * list lets them; members beyond it are refused or stripped; a body that
 * writes nothing is refused; the configuration errors; media types.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_agreement.h"
#include "pds_filter.h"
#include "pds_write.h"

static const pds_write_shape_t *shape(apr_pool_t *p, const char *const *paths,
                                      pds_write_mode_t patch)
{
    pds_write_shape_t *s;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_write_shape_compile(&s, pds_test_fieldset(p, paths), patch, p, &err)
        != APR_SUCCESS)
        fail_msg("compile failed: %s", err.text);
    return s;
}

/* Checks body; returns the verdict ("ok" when it may go ahead) and, through
 * res, the rest. */
static const char *check(apr_pool_t *p, const pds_write_shape_t *s, const char *body,
                         pds_write_mode_t mode, int strip, pds_write_result_t *res)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_write_check(s, body, strlen(body), 0, mode, strip, res, p, &err) != APR_SUCCESS)
        return apr_pstrdup(p, err.code);
    if (res->verdict == NULL)
        assert_non_null(res->body);
    else
        assert_null(res->body);
    return res->verdict != NULL ? res->verdict : "ok";
}

static const char *written(apr_pool_t *p, const pds_write_result_t *res)
{
    const char *list = "";
    int i;

    for (i = 0; i < res->written->nelts; i++)
        list = apr_pstrcat(p, list, i ? " " : "", APR_ARRAY_IDX(res->written, i, const char *),
                           NULL);
    return list;
}

static void test_scalar_leaves(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "phone", "name.family", NULL };
    const pds_write_shape_t *s = shape(p, paths, PDS_WRITE_DEEP_MERGE);
    pds_write_result_t res;

    assert_string_equal(check(p, s, "{\"phone\":\"1\",\"name\":{\"family\":\"X\"}}",
                              PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(res.body, "{\"phone\":\"1\",\"name\":{\"family\":\"X\"}}");
    assert_string_equal(written(p, &res), "phone name.family");
    /* null removes the value the list names: allowed */
    assert_string_equal(check(p, s, "{\"phone\":null}", PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(written(p, &res), "phone");
    /* an object or array at a single value: refused, naming it */
    assert_string_equal(check(p, s, "{\"phone\":{\"extension\":{\"x\":1}}}",
                              PDS_WRITE_DEEP_MERGE, 1, &res), "write-not-allowed");
    assert_contains(res.detail, "phone is an object");
    assert_string_equal(check(p, s, "{\"name\":{\"family\":[\"X\"]}}", PDS_WRITE_DEEP_MERGE, 0,
                              &res), "write-not-allowed");
    assert_contains(res.detail, "name.family is an array");
    /* a value or null where only members are named */
    assert_string_equal(check(p, s, "{\"name\":\"X\"}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-not-allowed");
    assert_contains(res.detail, "name is a string");
    assert_string_equal(check(p, s, "{\"name\":null}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-not-allowed");
    assert_contains(res.detail, "removes name whole");
    /* the body is one record */
    assert_string_equal(check(p, s, "[{\"phone\":\"1\"}]", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-not-allowed");
    assert_contains(res.detail, "JSON object");
    assert_string_equal(check(p, s, "{\"phone\":1,\"phone\":2}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "duplicate-key");
}

static void test_replaceable_arrays(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "telecom", "telecom[*].system", "telecom[*].value",
                                         NULL };
    const pds_write_shape_t *s = shape(p, paths, PDS_WRITE_DEEP_MERGE);
    pds_write_result_t res;

    /* empty arrays and objects are writes, forwarded as sent */
    assert_string_equal(check(p, s, "{\"telecom\":[]}", PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(res.body, "{\"telecom\":[]}");
    assert_string_equal(written(p, &res), "telecom");
    assert_string_equal(check(p, s, "{\"telecom\":[{}]}", PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(res.body, "{\"telecom\":[{}]}");
    assert_string_equal(check(p, s, "{\"telecom\":null}", PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(check(p, s, "{\"telecom\":[{\"system\":\"phone\",\"value\":\"1\"}]}",
                              PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
    assert_string_equal(written(p, &res), "telecom telecom[*].system telecom[*].value");
    /* nothing unnamed inside the replacing value */
    assert_string_equal(check(p, s, "{\"telecom\":[{\"system\":\"phone\",\"extension\":"
                              "[{\"url\":\"x\",\"valueString\":\"y\"}]}]}",
                              PDS_WRITE_DEEP_MERGE, 0, &res), "write-not-allowed");
    assert_null(res.detail);
    assert_int_equal(res.uncovered->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(res.uncovered, 0, const char *),
                        "telecom[*].extension");
    /* stripped, in a merge patch */
    assert_string_equal(check(p, s, "{\"telecom\":[{\"system\":\"phone\",\"extension\":[]}]}",
                              PDS_WRITE_DEEP_MERGE, 1, &res), "ok");
    assert_string_equal(res.body, "{\"telecom\":[{\"system\":\"phone\"}]}");
    /* the wrong container */
    assert_string_equal(check(p, s, "{\"telecom\":{\"system\":\"x\"}}", PDS_WRITE_DEEP_MERGE, 0,
                              &res), "write-not-allowed");
    assert_contains(res.detail, "telecom is an object");
    assert_string_equal(check(p, s, "{\"telecom\":[{\"value\":{\"a\":1}}]}",
                              PDS_WRITE_DEEP_MERGE, 0, &res), "write-not-allowed");
    assert_contains(res.detail, "telecom[*].value is an object");
}

static void test_records(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "resourceType", "name[*].family",
                                         "name[*].given", "name[*].given[*]", NULL };
    const pds_write_shape_t *s = shape(p, paths, PDS_WRITE_RECORD);
    pds_write_result_t res;

    /* a POST or PUT body is the whole record: arrays stand where elements
     * are named, without the array being named */
    assert_string_equal(check(p, s, "{\"resourceType\":\"Patient\",\"name\":[{\"family\":"
                              "\"X\",\"given\":[\"A\",\"B\"]}]}", PDS_WRITE_RECORD, 0, &res),
                        "ok");
    assert_string_equal(written(p, &res),
                        "resourceType name[*].family name[*].given name[*].given[*]");
    assert_string_equal(check(p, s, "{\"name\":[{\"given\":[{\"x\":1}]}]}",
                              PDS_WRITE_RECORD, 0, &res), "write-not-allowed");
    assert_contains(res.detail, "name[*].given[*] is an object");
    /* in a merge patch the same array would replace name whole */
    assert_string_equal(check(p, s, "{\"name\":[]}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-not-allowed");
    assert_contains(res.detail, "replaces name whole");
}

static void test_top_level_patches(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "phone", "address", "address.line1", NULL };
    const pds_write_shape_t *s = shape(p, paths, PDS_WRITE_TOP_LEVEL);
    static const char *const deep[] = { "phone", "name.family", NULL };
    pds_write_result_t res;

    /* a top-level member's object replaces the member: it must be named */
    assert_string_equal(check(p, s, "{\"address\":{\"line1\":\"x\"}}",
                              PDS_WRITE_TOP_LEVEL, 0, &res), "ok");
    assert_string_equal(written(p, &res), "address address.line1");
    assert_string_equal(check(p, s, "{\"address\":{\"postcode\":\"x\"}}",
                              PDS_WRITE_TOP_LEVEL, 0, &res), "write-not-allowed");
    /* the same list read deep-merge lets name be merged, top-level not */
    s = shape(p, deep, PDS_WRITE_DEEP_MERGE);
    assert_string_equal(check(p, s, "{\"name\":{\"family\":\"X\"}}",
                              PDS_WRITE_TOP_LEVEL, 0, &res), "write-not-allowed");
    assert_contains(res.detail, "name is an object, which replaces name whole");
    assert_string_equal(check(p, s, "{\"name\":{\"family\":\"X\"}}",
                              PDS_WRITE_DEEP_MERGE, 0, &res), "ok");
}

static void test_empty_writes(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "phone", "name.given", NULL };
    const pds_write_shape_t *s = shape(p, paths, PDS_WRITE_DEEP_MERGE);
    pds_write_result_t res;

    assert_string_equal(check(p, s, "{}", PDS_WRITE_DEEP_MERGE, 0, &res), "write-empty");
    assert_int_equal(res.written->nelts, 0);
    assert_string_equal(check(p, s, "{\"name\":{}}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-empty");
    assert_string_equal(check(p, s, "{}", PDS_WRITE_RECORD, 0, &res), "write-empty");
    /* everything stripped */
    assert_string_equal(check(p, s, "{\"nhs\":\"1\",\"name\":{\"family\":\"x\"}}",
                              PDS_WRITE_DEEP_MERGE, 1, &res), "write-empty");
    assert_contains(res.detail, "WriteUnknown strip");
    assert_int_equal(res.uncovered->nelts, 2);
    /* not stripped: refused for what it carries, before emptiness */
    assert_string_equal(check(p, s, "{\"nhs\":\"1\"}", PDS_WRITE_DEEP_MERGE, 0, &res),
                        "write-not-allowed");
    assert_string_equal(APR_ARRAY_IDX(res.uncovered, 0, const char *), "nhs");
    /* something left: forwarded without the rest */
    assert_string_equal(check(p, s, "{\"nhs\":\"1\",\"phone\":\"2\"}", PDS_WRITE_DEEP_MERGE, 1,
                              &res), "ok");
    assert_string_equal(res.body, "{\"phone\":\"2\"}");
}

static void expect_bad_shape(apr_pool_t *p, const char *const *paths,
                             pds_write_mode_t patch, const char *part)
{
    pds_write_shape_t *s;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_not_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, paths), patch, p,
                                                 &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-write");
    if (strstr(err.text, part) == NULL)
        fail_msg("text \"%s\" lacks \"%s\"", err.text, part);
}

static void test_bad_write_lists(void **state)
{
    apr_pool_t *p = *state;
    static const char *const pred[] = { "telecom", "telecom[system=phone].value", NULL };
    static const char *const top[] = { "[*].id", NULL };
    static const char *const elems[] = { "telecom[*].system", "telecom[*].value", NULL };
    static const char *const later[] = { "telecom[*].value", "telecom", NULL };
    static const char *const inner[] = { "name", "name[*].given[*]", NULL };
    static const char *const nested[] = { "phone", "address.line1", NULL };
    static const char *const named[] = { "address.line1", "address", NULL };
    pds_write_shape_t *s;
    pds_error_t err;

    expect_bad_shape(p, pred, PDS_WRITE_RECORD, "`Write telecom telecom[*].value`");
    expect_bad_shape(p, top, PDS_WRITE_RECORD, "cannot start with [*]");
    expect_bad_shape(p, elems, PDS_WRITE_DEEP_MERGE, "add `Write telecom`");
    expect_bad_shape(p, elems, PDS_WRITE_TOP_LEVEL, "add `Write telecom`");
    expect_bad_shape(p, nested, PDS_WRITE_TOP_LEVEL, "`WritePatch deep-merge`");
    /* fine for a POST or PUT only agreement, and once the array is named */
    pds_error_clear(&err);
    assert_int_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, elems), PDS_WRITE_RECORD,
                                             p, &err), APR_SUCCESS);
    assert_int_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, later),
                                             PDS_WRITE_TOP_LEVEL, p, &err), APR_SUCCESS);
    assert_int_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, nested),
                                             PDS_WRITE_DEEP_MERGE, p, &err), APR_SUCCESS);
    assert_int_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, named),
                                             PDS_WRITE_TOP_LEVEL, p, &err), APR_SUCCESS);
    /* inside a replaceable value, inner arrays need not be named */
    assert_int_equal(pds_write_shape_compile(&s, pds_test_fieldset(p, inner),
                                             PDS_WRITE_TOP_LEVEL, p, &err), APR_SUCCESS);
}

static void test_media_types(void **state)
{
    apr_array_header_t *extra = apr_array_make(*state, 1, sizeof(const char *));

    APR_ARRAY_PUSH(extra, const char *) = "application/vnd.x+json";
    assert_null(pds_write_media_check("application/json", 0, NULL));
    assert_null(pds_write_media_check("application/json; charset=utf-8", 0, NULL));
    assert_null(pds_write_media_check("Application/FHIR+JSON", 0, NULL));
    assert_null(pds_write_media_check("application/merge-patch+json", 1, NULL));
    assert_contains(pds_write_media_check("application/merge-patch+json", 0, NULL),
                    "PATCH body");
    assert_contains(pds_write_media_check("application/json-patch+json", 1, NULL),
                    "JSON Patch");
    assert_non_null(pds_write_media_check("application/vnd.x+json", 0, NULL));
    assert_null(pds_write_media_check("application/vnd.x+json", 0, extra));
    assert_non_null(pds_write_media_check("application/vnd.y+json", 0, extra));
    assert_non_null(pds_write_media_check("text/plain", 0, extra));
    assert_non_null(pds_write_media_check(NULL, 0, extra));
    assert_non_null(pds_write_media_check("application/jsonx", 0, extra));

    assert_null(pds_write_media_declarable("application/vnd.x+json"));
    assert_non_null(pds_write_media_declarable("application/json"));
    assert_non_null(pds_write_media_declarable("text/x+json"));
    assert_non_null(pds_write_media_declarable("application/+json"));
    assert_non_null(pds_write_media_declarable("application/vnd.x+json; charset=utf-8"));
    assert_contains(pds_write_media_declarable("application/json-patch+json"), "JSON Patch");
    assert_contains(pds_write_media_declarable("application/fhir+json"), "leave it out");
}

/* An agreement from lines; the error text of finish (or of the line). */
static const char *agreement_error(apr_pool_t *p, const char *const *lines)
{
    pds_agreement_t *a;
    pds_error_t err;
    int i;

    pds_error_clear(&err);
    assert_int_equal(pds_agreement_create(&a, p, "w", &err), APR_SUCCESS);
    for (i = 0; lines[i] != NULL; i += 2) {
        if (pds_agreement_set(a, lines[i], lines[i + 1], &err) != APR_SUCCESS)
            return apr_pstrdup(p, err.text);
    }
    if (pds_agreement_finish(a, &err) != APR_SUCCESS)
        return apr_pstrdup(p, err.text);
    return "ok";
}

#define BASE "Party", "hb", "Purpose", "care", "LegalBasis", "public-task", \
             "Valid", "2026-01-01 2027-12-31", "Release", "status"

static void test_agreement_keywords(void **state)
{
    apr_pool_t *p = *state;
    static const char *const put_alone[] = { BASE, "Resource", "PUT /c/{subject}",
                                             "Write", "phone", NULL };
    static const char *const put_ok[] = { BASE, "Resource", "PUT /c/{subject}",
                                          "Write", "phone", "WritePut", "replace-record",
                                          NULL };
    static const char *const put_strip[] = { BASE, "Resource", "PUT /c/{subject}",
                                             "Write", "phone", "WritePut", "replace-record",
                                             "WriteUnknown", "strip", NULL };
    static const char *const put_unused[] = { BASE, "Resource", "PATCH /c/{subject}",
                                              "Write", "phone", "WritePut", "replace-record",
                                              NULL };
    static const char *const put_bad[] = { BASE, "WritePut", "yes", NULL };
    static const char *const patch_elems[] = { BASE, "Resource", "PATCH /c/{subject}",
                                               "Write", "telecom[*].value", NULL };
    static const char *const patch_nested[] = { BASE, "Resource", "PATCH /c/{subject}",
                                                "Write", "address.line1", NULL };
    static const char *const patch_deep[] = { BASE, "Resource", "PATCH /c/{subject}",
                                              "Write", "address.line1", "WritePatch",
                                              "deep-merge", NULL };
    static const char *const patch_unused[] = { BASE, "Resource", "POST /c/{subject}",
                                                "Write", "phone", "WritePatch", "top-level",
                                                NULL };
    static const char *const media_ok[] = { BASE, "Resource", "POST /c/{subject}",
                                            "Write", "phone", "WriteMediaType",
                                            "application/vnd.X+json", NULL };
    static const char *const media_bad[] = { BASE, "WriteMediaType",
                                             "application/json-patch+json", NULL };
    static const char *const media_unused[] = { BASE, "Resource", "GET /c/{subject}",
                                                "WriteMediaType", "application/vnd.x+json",
                                                NULL };

    assert_contains(agreement_error(p, put_alone), "`WritePut replace-record`");
    assert_string_equal(agreement_error(p, put_ok), "ok");
    assert_contains(agreement_error(p, put_strip), "remove `WriteUnknown strip`");
    assert_contains(agreement_error(p, put_unused), "WritePut but no PUT resource");
    assert_contains(agreement_error(p, put_bad), "`WritePut replace-record`");
    assert_contains(agreement_error(p, patch_elems), "add `Write telecom`");
    assert_contains(agreement_error(p, patch_nested), "`WritePatch deep-merge`");
    assert_string_equal(agreement_error(p, patch_deep), "ok");
    assert_contains(agreement_error(p, patch_unused), "WritePatch but no PATCH resource");
    assert_string_equal(agreement_error(p, media_ok), "ok");
    assert_contains(agreement_error(p, media_bad), "JSON Patch is not supported");
    assert_contains(agreement_error(p, media_unused), "no POST, PUT or PATCH resource");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_scalar_leaves),
        pds_test_with_pool(test_replaceable_arrays),
        pds_test_with_pool(test_records),
        pds_test_with_pool(test_top_level_patches),
        pds_test_with_pool(test_empty_writes),
        pds_test_with_pool(test_bad_write_lists),
        pds_test_with_pool(test_media_types),
        pds_test_with_pool(test_agreement_keywords),
    };

    return pds_test_main(tests, NULL, NULL);
}
