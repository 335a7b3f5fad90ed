/* test_error.c: first-error-wins reports and their bounds (lib/pds_error.h). */
#include <string.h>

#include "pds_test.h"
#include "pds_error.h"

static void test_first_error_wins(void **state)
{
    pds_error_t err;

    (void)state;
    pds_error_clear(&err);
    assert_false(pds_error_is_set(&err));
    assert_int_equal(err.position, -1);
    pds_error_set(&err, "bad-path", 7, "Release", "expected %s", "a name");
    pds_error_set(&err, "later", 1, "Write", "ignored");
    assert_true(pds_error_is_set(&err));
    assert_string_equal(err.code, "bad-path");
    assert_string_equal(err.source, "Release");
    assert_string_equal(err.text, "expected a name");
    assert_int_equal(err.position, 7);
    pds_error_set(NULL, "x", 0, "y", "a NULL report is accepted");
}

static void test_defaults(void **state)
{
    pds_error_t err;

    (void)state;
    pds_error_clear(&err);
    pds_error_set(&err, NULL, -5, NULL, "no code");
    assert_string_equal(err.code, "error");
    assert_string_equal(err.source, "");
    assert_int_equal(err.position, -1);
}

/* A long text (a FHIR system URL in a predicate, a hint listing paths) is cut
 * with a visible "..." at the end, never silently mid-word. */
static void test_long_text_is_marked(void **state)
{
    pds_error_t err;
    char longer[2 * PDS_ERROR_TEXT_LENGTH];
    apr_size_t n;

    (void)state;
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    pds_error_clear(&err);
    pds_error_set(&err, "long", -1, "test", "%s", longer);
    n = strlen(err.text);
    assert_int_equal(n, PDS_ERROR_TEXT_LENGTH - 1);
    assert_memory_equal(err.text + n - 3, "...", 3);
    assert_memory_equal(err.text, longer, n - 3);

    /* exactly fitting: no marker */
    longer[PDS_ERROR_TEXT_LENGTH - 1] = '\0';
    pds_error_clear(&err);
    pds_error_set(&err, "fits", -1, "test", "%s", longer);
    assert_string_equal(err.text, longer);

    /* the code and source are bounded too */
    pds_error_clear(&err);
    pds_error_set(&err, longer, -1, longer, "t");
    assert_int_equal(strlen(err.code), PDS_ERROR_CODE_LENGTH - 1);
    assert_int_equal(strlen(err.source), PDS_ERROR_SOURCE_LENGTH - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_long_text_is_marked),
    };

    return pds_test_main(tests, NULL, NULL);
}
