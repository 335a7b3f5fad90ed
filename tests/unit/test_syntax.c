/* test_syntax.c: the one name rule and the one JSON media-type rule, with
 * the edge cases the three earlier copies disagreed on. */
#include <string.h>

#include "pds_syntax.h"
#include "pds_test.h"

static void test_names(void **state)
{
    char long_name[PDS_SYNTAX_NAME_MAX + 2];

    (void)state;
    assert_true(pds_syntax_is_name("health-board", PDS_SYNTAX_NAME_MAX));
    assert_true(pds_syntax_is_name("direct_care.v2", PDS_SYNTAX_NAME_MAX));
    assert_true(pds_syntax_is_name("A", 1));
    assert_false(pds_syntax_is_name(NULL, PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("", PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("direct care", PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("a/b", PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("a%2e", PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("caf\xc3\xa9", PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("a\tb", PDS_SYNTAX_NAME_MAX));

    /* exactly max is a name, one more is not */
    memset(long_name, 'x', sizeof(long_name));
    long_name[PDS_SYNTAX_NAME_MAX] = '\0';
    assert_true(pds_syntax_is_name(long_name, PDS_SYNTAX_NAME_MAX));
    long_name[PDS_SYNTAX_NAME_MAX] = 'x';
    long_name[PDS_SYNTAX_NAME_MAX + 1] = '\0';
    assert_false(pds_syntax_is_name(long_name, PDS_SYNTAX_NAME_MAX));
    assert_false(pds_syntax_is_name("abc", 2));
}

static void test_media_type_reading(void **state)
{
    pds_media_type_t mt;

    (void)state;
    assert_true(pds_syntax_media_type(" text/html ; charset=utf-8", &mt));
    assert_int_equal(mt.type_len, 4);
    assert_memory_equal(mt.type, "text", 4);
    assert_int_equal(mt.subtype_len, 4);
    assert_memory_equal(mt.subtype, "html", 4);
    assert_false(pds_syntax_media_type(NULL, &mt));
    assert_false(pds_syntax_media_type("", &mt));
    assert_false(pds_syntax_media_type("application", &mt));
    assert_false(pds_syntax_media_type("application/", &mt));
    assert_false(pds_syntax_media_type("/json", &mt));
    assert_false(pds_syntax_media_type("application/json x", &mt));
    assert_false(pds_syntax_media_type("application /json", &mt));
    assert_false(pds_syntax_media_type("application/json,text/plain", &mt));
}

/* What both policies take. */
static const char *const json_everywhere[] = {
    "application/json",
    "APPLICATION/JSON",
    "Application/Json",
    "application/json;charset=utf-8",
    "application/json; charset=utf-8",
    "application/json ; charset=utf-8",
    "application/json\t;charset=utf-8",
    "application/json;",
    "application/json ",
    " application/json",
    NULL
};

/* What neither takes. */
static const char *const json_nowhere[] = {
    "",
    "application/jsonx",
    "application/json x",
    "application/json-seq",
    "application/x-json",
    "application/+json",
    "application/a b+json",
    "application/json+",
    "text/json",
    "text/plain",
    "text/html",
    "json",
    "application",
    "application/",
    "application/json,text/html",
    "xapplication/json",
    NULL
};

/* What only the response policy takes. */
static const char *const json_suffix_only[] = {
    "application/problem+json",
    "application/vnd.legacycare.record+json",
    "application/vnd.legacycare.record+json; charset=utf-8",
    "application/merge-patch+json",
    "application/x+JSON",
    NULL
};

static void test_json_policies(void **state)
{
    int i;

    (void)state;
    assert_false(pds_syntax_is_json(NULL, PDS_JSON_EXACT));
    assert_false(pds_syntax_is_json(NULL, PDS_JSON_SUFFIX));
    for (i = 0; json_everywhere[i] != NULL; i++) {
        if (!pds_syntax_is_json(json_everywhere[i], PDS_JSON_EXACT)
            || !pds_syntax_is_json(json_everywhere[i], PDS_JSON_SUFFIX))
            fail_msg("\"%s\" should be JSON under both policies", json_everywhere[i]);
    }
    for (i = 0; json_nowhere[i] != NULL; i++) {
        if (pds_syntax_is_json(json_nowhere[i], PDS_JSON_EXACT)
            || pds_syntax_is_json(json_nowhere[i], PDS_JSON_SUFFIX))
            fail_msg("\"%s\" should be JSON under neither policy", json_nowhere[i]);
    }
    for (i = 0; json_suffix_only[i] != NULL; i++) {
        if (pds_syntax_is_json(json_suffix_only[i], PDS_JSON_EXACT)
            || !pds_syntax_is_json(json_suffix_only[i], PDS_JSON_SUFFIX))
            fail_msg("\"%s\" should be JSON for responses only", json_suffix_only[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_media_type_reading),
        cmocka_unit_test(test_json_policies),
    };

    return pds_test_main(tests, NULL, NULL);
}
