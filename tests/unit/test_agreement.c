/* test_agreement.c: agreements, path and subject checks, and the decision. */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "pds_test.h"
#include "pds_agreement.h"

/* 2026-01-01T00:00:00Z and 2027-01-01T00:00:00Z, from calendar.timegm. */
#define T_2026_01_01 APR_INT64_C(1767225600)
#define T_2027_01_01 APR_INT64_C(1798761600)
#define SEC(s) apr_time_from_sec(s)

/* Feeds "Keyword args" lines (NULL-terminated) to a new agreement. Returns the
 * status of the first failing step; *pa is set when create succeeded. */
static apr_status_t build(pds_agreement_t **pa, apr_pool_t *p, const char *id,
                          const char *const *lines, int finish,
                          pds_error_t *err)
{
    apr_status_t rv;
    int i;

    pds_error_clear(err);
    *pa = NULL;
    rv = pds_agreement_create(pa, p, id, err);
    if (rv != APR_SUCCESS)
        return rv;
    for (i = 0; lines[i] != NULL; i++) {
        const char *sp = strchr(lines[i], ' ');
        const char *kw = sp ? apr_pstrmemdup(p, lines[i], sp - lines[i])
                            : lines[i];

        rv = pds_agreement_set(*pa, kw, sp ? sp + 1 : "", err);
        if (rv != APR_SUCCESS)
            return rv;
    }
    return finish ? pds_agreement_finish(*pa, err) : APR_SUCCESS;
}

/* A complete agreement for party, purposes and one GET resource. A resource
 * without {subject} must say whose data it answers: it is made a collection
 * (RecordSubject) here. */
static pds_agreement_t *agreement(apr_pool_t *p, const char *id,
                                  const char *party, const char *purpose,
                                  const char *valid, const char *resource)
{
    int person = strstr(resource, "{subject}") != NULL;
    const char *lines[] = {
        apr_pstrcat(p, "Party ", party, NULL),
        apr_pstrcat(p, "Purpose ", purpose, NULL),
        "LegalBasis public-task",
        apr_pstrcat(p, "Valid ", valid, NULL),
        apr_pstrcat(p, "Resource ", resource, NULL),
        person ? "Release name.given dob" : "Release [*].name.given [*].dob",
        person ? NULL : "RecordSubject id",
        NULL
    };
    pds_agreement_t *a;
    pds_error_t err;

    assert_int_equal(build(&a, p, id, lines, 1, &err), APR_SUCCESS);
    return a;
}

/* Sets one line on a fresh, otherwise empty agreement and expects failure. */
static pds_error_t *set_fails(apr_pool_t *p, const char *keyword,
                              const char *args)
{
    pds_agreement_t *a;
    pds_error_t *err = apr_pcalloc(p, sizeof(*err));

    pds_error_clear(err);
    assert_int_equal(pds_agreement_create(&a, p, "t", err), APR_SUCCESS);
    assert_int_not_equal(pds_agreement_set(a, keyword, args, err), APR_SUCCESS);
    assert_string_equal(err->code, "bad-agreement");
    assert_string_equal(err->source, keyword);
    return err;
}

/* Sets one more line on a and expects it refused: APR_EINVAL, code
 * "bad-agreement", source the keyword. The error is from p. */
static pds_error_t *set_refused(apr_pool_t *p, pds_agreement_t *a, const char *keyword,
                                const char *args)
{
    pds_error_t *err = apr_pcalloc(p, sizeof(*err));

    pds_error_clear(err);
    assert_int_equal(pds_agreement_set(a, keyword, args, err), APR_EINVAL);
    assert_string_equal(err->code, "bad-agreement");
    assert_string_equal(err->source, keyword);
    return err;
}

static void set_ok(pds_agreement_t *a, const char *keyword, const char *args)
{
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_agreement_set(a, keyword, args, &err), APR_SUCCESS);
    assert_false(pds_error_is_set(&err));
}

static pds_agreement_t *fresh(apr_pool_t *p)
{
    pds_agreement_t *a;

    assert_int_equal(pds_agreement_create(&a, p, "t", NULL), APR_SUCCESS);
    return a;
}

/* --- create and keywords ---------------------------------------------------- */

static void test_create_ids(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a;
    pds_error_t err;
    const char *bad[] = { "", "a b", "a/b", "x\xc3\xa9", "a:b",
        "12345678901234567890123456789012345678901234567890123456789012345",
        NULL };
    int i;

    assert_int_equal(pds_agreement_create(&a, p, "council-to-fife_v2.1", &err),
                     APR_SUCCESS);
    assert_string_equal(pds_agreement_id(a), "council-to-fife_v2.1");
    assert_string_equal(pds_agreement_version(a), "1");
    assert_int_equal(pds_agreement_resource_count(a), 0);
    assert_int_equal(pds_fieldset_count(pds_agreement_release(a)), 0);
    assert_int_equal(pds_agreement_create(&a, p,
        "1234567890123456789012345678901234567890123456789012345678901234",
        &err), APR_SUCCESS);
    for (i = 0; bad[i] != NULL; i++) {
        pds_error_clear(&err);
        assert_int_equal(pds_agreement_create(&a, p, bad[i], &err), APR_EINVAL);
        assert_string_equal(err.code, "bad-agreement");
        assert_contains(err.text, "not a valid agreement id");
        assert_contains(err.text, "1 to 64");
    }
    pds_error_clear(&err);
    assert_int_equal(pds_agreement_create(&a, p, NULL, &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-agreement");
}

static void test_keywords_case_insensitive(void **state)
{
    apr_pool_t *p = *state;
    const char *lines[] = {
        "party fife", "PURPOSE direct-care", "legalBASIS Public-Task",
        "VALID 2026-01-01 2026-12-31", "version 2", "RESOURCE GET /a/{subject}",
        "release name", NULL
    };
    pds_agreement_t *a;
    pds_error_t err;

    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_SUCCESS);
    assert_string_equal(pds_agreement_party(a), "fife");
    assert_string_equal(pds_agreement_legal_basis(a), "public-task");
    assert_string_equal(pds_agreement_version(a), "2");
    assert_string_equal(pds_agreement_resource(a, 0), "GET /a/{subject}");
}

static void test_unknown_keyword(void **state)
{
    pds_error_t *err = set_fails(*state, "Partie", "fife");

    assert_contains(err->text, "\"Partie\" is not an agreement keyword");
    assert_contains(err->text, "Party, Purpose, LegalBasis, Valid, Version, "
                               "Resource, Release");
    err = set_fails(*state, "", "fife");
    assert_contains(err->text, "no keyword");
}

static void test_party(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    pds_error_t *err;

    set_ok(a, "Party", "  nhs-fife  ");
    assert_string_equal(pds_agreement_party(a), "nhs-fife");
    err = set_refused(p, a, "Party", "other");
    assert_string_equal(err->code, "bad-agreement");
    assert_string_equal(err->text, "Party given twice; an agreement has exactly "
                                   "one party");
    /* first still stands */
    assert_string_equal(pds_agreement_party(a), "nhs-fife");

    err = set_fails(p, "Party", "");
    assert_contains(err->text, "needs exactly one organisation name, got 0");
    assert_contains(err->text, "expected `Party <organisation>`");
    err = set_fails(p, "Party", "fife council");
    assert_contains(err->text, "got 2");
    assert_int_equal(err->position, 5);
    err = set_fails(p, "Party", "NHS/Fife");
    assert_contains(err->text, "\"NHS/Fife\" is not an organisation name");
    assert_int_equal(err->position, 0);
    err = set_fails(p, "Party", " \"\"");
    assert_contains(err->text, "\"\" is not an organisation name");
    assert_int_equal(err->position, 1);
    err = set_fails(p, "party", "x2345678901234567890123456789012345678901234"
                                "567890123456789012345");
    assert_string_equal(err->source, "party");
    assert_contains(err->text, "party: ");
    assert_contains(err->text, "...\" is not an organisation name");
}

static void test_purpose(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    const apr_array_header_t *ps;
    pds_error_t *err;

    set_ok(a, "Purpose", "direct-care research");
    set_ok(a, "Purpose", "audit direct-care");  /* repeat: harmless */
    ps = pds_agreement_purposes(a);
    assert_int_equal(ps->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(ps, 0, const char *), "direct-care");
    assert_string_equal(APR_ARRAY_IDX(ps, 1, const char *), "research");
    assert_string_equal(APR_ARRAY_IDX(ps, 2, const char *), "audit");

    err = set_fails(p, "Purpose", "");
    assert_contains(err->text, "needs at least one purpose");
    err = set_fails(p, "Purpose", "direct-care re$earch");
    assert_contains(err->text, "\"re$earch\" is not a purpose name");
    assert_int_equal(err->position, 12);

    /* all or nothing: a bad word keeps none of the line */
    a = fresh(p);
    assert_int_equal(pds_agreement_set(a, "Purpose", "good b@d", NULL),
                     APR_EINVAL);
    assert_int_equal(pds_agreement_purposes(a)->nelts, 0);
}

static void test_legal_basis(void **state)
{
    apr_pool_t *p = *state;
    const char *bases[] = { "consent", "contract", "legal-obligation",
        "vital-interests", "public-task", "legitimate-interests", NULL };
    pds_agreement_t *a;
    pds_error_t *err;
    int i;

    for (i = 0; bases[i] != NULL; i++) {
        a = fresh(p);
        set_ok(a, "LegalBasis", bases[i]);
        assert_string_equal(pds_agreement_legal_basis(a), bases[i]);
    }
    a = fresh(p);
    set_ok(a, "LegalBasis", "CONTRACT");
    assert_string_equal(pds_agreement_legal_basis(a), "contract");
    err = set_refused(p, a, "LegalBasis", "consent");
    assert_contains(err->text, "LegalBasis given twice");

    err = set_fails(p, "LegalBasis", "because");
    assert_contains(err->text, "\"because\" is not a legal basis");
    assert_contains(err->text, "consent, contract, legal-obligation, "
                               "vital-interests, public-task, "
                               "legitimate-interests");
    err = set_fails(p, "LegalBasis", "consent contract");
    assert_contains(err->text, "exactly one legal basis, got 2");
    err = set_fails(p, "LegalBasis", "");
    assert_contains(err->text, "got 0");
}

static void test_valid_good(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);

    set_ok(a, "Valid", "2026-01-01 2026-12-31");
    assert_true(pds_agreement_valid_from(a) == SEC(T_2026_01_01));
    assert_true(pds_agreement_valid_until(a) == SEC(T_2027_01_01) - 1);

    /* a single day; leap days where they exist */
    a = fresh(p);
    set_ok(a, "Valid", "2024-02-29 2024-02-29");
    assert_true(pds_agreement_valid_from(a) == SEC(APR_INT64_C(1709164800)));
    assert_true(pds_agreement_valid_until(a)
                == SEC(APR_INT64_C(1709164800) + 86400) - 1);
    a = fresh(p);
    set_ok(a, "Valid", "2000-02-29 2400-02-29");
    assert_true(pds_agreement_valid_from(a) == SEC(APR_INT64_C(951782400)));
    a = fresh(p);
    set_ok(a, "Valid", "'1970-01-01' \"9999-12-31\"");
    assert_true(pds_agreement_valid_from(a) == 0);
}

static void test_valid_bad(void **state)
{
    apr_pool_t *p = *state;
    const char *not_dates[] = {
        "2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32", "2026-04-31",
        "2025-02-29", "2100-02-29", "1900-02-28", "1969-12-31", "2026-1-01",
        "2026/01/01", "20260101", "2026-01-01x", "26-01-01", "2026-01-1",
        "yesterday", "+026-01-01", NULL };
    pds_agreement_t *a;
    pds_error_t *err;
    int i;

    err = set_fails(p, "Valid", "2026-13-01 2026-12-31");
    assert_string_equal(err->text, "Valid: \"2026-13-01\" is not a date; "
                        "expected two dates YYYY-MM-DD YYYY-MM-DD (UTC, both "
                        "days included)");
    assert_int_equal(err->position, 0);
    for (i = 0; not_dates[i] != NULL; i++) {
        err = set_fails(p, "Valid", apr_pstrcat(p, "2026-01-01 ",
                                                not_dates[i], NULL));
        assert_contains(err->text, "is not a date");
        assert_int_equal(err->position, 11);
    }
    err = set_fails(p, "Valid", "2026-12-31 2026-01-01");
    assert_contains(err->text, "ends (2026-01-01) before it starts "
                               "(2026-12-31)");
    err = set_fails(p, "Valid", "2026-01-01");
    assert_contains(err->text, "needs two dates, got 1");
    err = set_fails(p, "Valid", "2026-01-01 2026-02-01 2026-03-01");
    assert_contains(err->text, "got 3");
    assert_int_equal(err->position, 22);

    a = fresh(p);
    set_ok(a, "Valid", "2026-01-01 2026-12-31");
    err = set_refused(p, a, "valid", "2027-01-01 2027-12-31");
    assert_string_equal(err->source, "valid");
    assert_contains(err->text, "valid given twice");
    assert_true(pds_agreement_valid_from(a) == SEC(T_2026_01_01));
}

static void test_disclosure(void **state)
{
    apr_pool_t *p = *state;
    apr_time_t at = apr_time_from_sec(1790000000);      /* 2026-09-21 */
    apr_time_t day = apr_time_from_sec(86400);
    apr_time_t jan2027;
    pds_agreement_t *a = fresh(p);
    pds_error_t *err;
    apr_time_exp_t tm;

    /* shown by default: visible at once */
    assert_true(pds_agreement_visible_from(a, at) == at);
    set_ok(a, "Disclosure", "restricted");
    assert_true(pds_agreement_visible_from(a, at) == PDS_NEVER_VISIBLE);
    err = set_refused(p, a, "Disclosure", "shown");
    assert_contains(err->text, "given twice");

    a = fresh(p);
    set_ok(a, "disclosure", "embargoed-for 30d");
    assert_true(pds_agreement_visible_from(a, at) == at + 30 * day);
    a = fresh(p);
    set_ok(a, "Disclosure", "embargoed-for 7");
    assert_true(pds_agreement_visible_from(a, at) == at + 7 * day);

    a = fresh(p);
    set_ok(a, "Disclosure", "embargoed-until 2027-01-01");
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 127;
    tm.tm_mday = 1;
    assert_int_equal(apr_time_exp_gmt_get(&jan2027, &tm), APR_SUCCESS);
    assert_true(pds_agreement_visible_from(a, at) == jan2027);
    /* a disclosure after the embargo date is visible at once */
    assert_true(pds_agreement_visible_from(a, jan2027 + day) == jan2027 + day);

    a = fresh(p);
    set_ok(a, "Disclosure", "shown");
    assert_true(pds_agreement_visible_from(a, at) == at);

    err = set_fails(p, "Disclosure", "");
    assert_contains(err->text, "embargoed-for <days>");
    err = set_fails(p, "Disclosure", "hidden");
    assert_contains(err->text, "unknown form");
    err = set_fails(p, "Disclosure", "embargoed-until 2027-02-30");
    assert_contains(err->text, "is not a date");
    err = set_fails(p, "Disclosure", "embargoed-for 0");
    assert_contains(err->text, "at least one day");
    err = set_fails(p, "Disclosure", "embargoed-for 3w");
    assert_contains(err->text, "not a number of days");
    err = set_fails(p, "Disclosure", "restricted now");
    assert_contains(err->text, "unknown form");
}

static void test_version(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    pds_error_t *err;

    set_ok(a, "Version", "2026.1-rc_2");
    assert_string_equal(pds_agreement_version(a), "2026.1-rc_2");
    err = set_refused(p, a, "Version", "3");
    assert_contains(err->text, "Version given twice");

    a = fresh(p);
    set_ok(a, "Version", "12345678901234567890123456789012");
    err = set_fails(p, "Version", "123456789012345678901234567890123");
    assert_contains(err->text, "is not a version");
    assert_contains(err->text, "1 to 32");
    err = set_fails(p, "Version", "v 2");
    assert_contains(err->text, "got 2");
    err = set_fails(p, "Version", "v:2");
    assert_contains(err->text, "\"v:2\" is not a version");
    err = set_fails(p, "Version", "");
    assert_contains(err->text, "got 0");
}

static void test_resource_good(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    const char *methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
    int i;

    for (i = 0; methods[i] != NULL; i++)
        set_ok(a, "Resource", apr_pstrcat(p, methods[i],
                                          " /citizens/{subject}/record", NULL));
    set_ok(a, "Resource", "GET /citizens/{subject}/record");   /* repeat */
    set_ok(a, "Resource", "GET \"/citizens/\"");
    set_ok(a, "Resource", "GET /");
    set_ok(a, "Resource", "GET /{subject}");
    set_ok(a, "Resource", "GET /a/{subject}/");
    set_ok(a, "Resource", "GET /a-b/c.d/e~f/g_h/..x/.y/$!&'()*+,=:@");
    assert_int_equal(pds_agreement_resource_count(a), 10);
    assert_string_equal(pds_agreement_resource(a, 0),
                        "GET /citizens/{subject}/record");
    assert_string_equal(pds_agreement_resource(a, 4),
                        "DELETE /citizens/{subject}/record");
    assert_string_equal(pds_agreement_resource(a, 5), "GET /citizens/");
    assert_null(pds_agreement_resource(a, 10));
    assert_null(pds_agreement_resource(a, -1));
}

static void test_resource_bad(void **state)
{
    apr_pool_t *p = *state;
    pds_error_t *err;
    static const struct {
        const char *args;
        int position;
        const char *says;
    } cases[] = {
        { "GET citizens/{subject}", 4, "must start with '/'" },
        { "GET \"\"", 5, "the path is empty" },
        { "GET /a//b", 7, "empty segments ('//')" },
        { "GET /a/./b", 7, "dot segments" },
        { "GET /a/../b", 7, "dot segments" },
        { "GET /a/.", 7, "dot segments" },
        { "GET /a%2Fb", 6, "percent-escapes" },
        { "GET /a;x=1", 6, "';' (path parameters)" },
        { "GET /a\\b", 6, "backslashes" },
        { "GET /a\xc3\xa9", 6, "outside ASCII" },
        { "GET /a?x", 6, "'?' and '#'" },
        { "GET /a#x", 6, "'?' and '#'" },
        { "GET /a|b", 6, "only A-Z a-z 0-9" },
        { "GET /a/{Subj}", 7, "only accepted as a whole segment: {subject}" },
        { "GET /a/x{subject}", 8, "only accepted as a whole segment" },
        { "GET /a/{subject}x", 7, "only accepted as a whole segment" },
        { "GET /a/{subject}/{subject}", 17, "{subject} may appear only once" },
        { "GET '/a/{X}'", 8, "only accepted as a whole segment" },
        { "GET /a/{1x}", 7, "only accepted as a whole segment" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = set_fails(p, "Resource", cases[i].args);
        assert_contains(err->text, cases[i].says);
        assert_contains(err->text, "expected an absolute path");
        if (err->position != cases[i].position)
            fail_msg("%s: position %d, expected %d", cases[i].args,
                     err->position, cases[i].position);
    }

    err = set_fails(p, "Resource", "HEAD /a/{subject}");
    assert_contains(err->text, "HEAD is never forwarded");
    assert_contains(err->text, "GET POST PUT PATCH DELETE");
    assert_int_equal(err->position, 0);
    err = set_fails(p, "Resource", "get /a/{subject}");
    assert_contains(err->text, "case-sensitive: write GET");
    err = set_fails(p, "Resource", "TRACE /a");
    assert_contains(err->text, "\"TRACE\" is not a method");
    err = set_fails(p, "Resource", "OPTIONS /a");
    assert_contains(err->text, "GET POST PUT PATCH DELETE");
    err = set_fails(p, "Resource", "GET");
    assert_contains(err->text, "needs a method and a template, got 1 value;");
    err = set_fails(p, "Resource", "GET /a /b");
    assert_contains(err->text, "got 3 values");
    assert_int_equal(err->position, 7);
    err = set_fails(p, "Resource", "");
    assert_contains(err->text, "got 0 values");
    err = set_fails(p, "Resource", apr_pstrcat(p, "GET /",
                    apr_pstrndup(p, memset(apr_palloc(p, 1100), 'a', 1100),
                                 1100), NULL));
    assert_contains(err->text, "longer than 1024");
}

static void test_release(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    const pds_fieldset_t *set;
    pds_error_t *err;

    set_ok(a, "Release", "name.given dob");
    set_ok(a, "release", "'contacts[*].phone' name.given");
    set = pds_agreement_release(a);
    assert_int_equal(pds_fieldset_count(set), 3);
    assert_string_equal(pds_fieldset_path(set, 0), "name.given");
    assert_string_equal(pds_fieldset_path(set, 2), "contacts[*].phone");

    err = set_fails(p, "Release", "name.given bad..path");
    assert_contains(err->text, "\"bad..path\"");
    assert_contains(err->text, "expected field paths such as");
    /* the position points into the second word */
    assert_true(err->position >= 11 && err->position < 20);
    /* ... and the text marks the offending character */
    assert_contains(err->text, "at character 5: \"bad.>>.<<path\"");
    err = set_fails(p, "Release", "name.");
    assert_contains(err->text, "\"name.>><<\"");
    err = set_fails(p, "Release", "'a' \"x y\"");
    assert_true(err->position >= 4 && err->position < 9);
    err = set_fails(p, "Release", "");
    assert_contains(err->text, "needs at least one field path");
}

static void test_quoting(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    pds_error_t *err;
    const apr_array_header_t *ps;

    set_ok(a, "Purpose", "\"direct-care\" 'research'\tplain  ");
    ps = pds_agreement_purposes(a);
    assert_int_equal(ps->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(ps, 2, const char *), "plain");

    /* \" and \\ inside quotes, \\ outside, other backslashes kept */
    err = set_fails(p, "Party", "\"a\\\"b\"");
    assert_contains(err->text, "\"a\"b\" is not an organisation name");
    err = set_fails(p, "Party", "'a\\'b\\\\c'");
    assert_contains(err->text, "\"a'b\\c\" is not");
    err = set_fails(p, "Party", "a\\\\b");
    assert_contains(err->text, "\"a\\b\" is not");
    err = set_fails(p, "Party", "\"a\\xb\"");
    assert_contains(err->text, "\"a\\xb\" is not");

    err = set_fails(p, "Party", "  \"fife");
    assert_contains(err->text, "quote at offset 2 is never closed");
    assert_int_equal(err->position, 2);
    err = set_fails(p, "Party", "'fife\\'");
    assert_contains(err->text, "never closed");
    err = set_fails(p, "Purpose", "\"a\"b");
    assert_contains(err->text, "text follows a closing quote");
    assert_int_equal(err->position, 3);
    /* a quote inside a bare word is just a character */
    err = set_fails(p, "Party", "fi\"fe");
    assert_contains(err->text, "\"fi\"fe\" is not");
    /* control bytes are shown safely */
    err = set_fails(p, "Party", "a\001b");
    assert_contains(err->text, "\"a?b\" is not");
}

/* --- finish ----------------------------------------------------------------- */

static void test_finish_missing(void **state)
{
    apr_pool_t *p = *state;
    const char *all[] = {
        "Party fife", "Purpose direct-care", "LegalBasis public-task",
        "Valid 2026-01-01 2026-12-31", "Resource GET /a/{subject}",
        "Release name", NULL
    };
    const char *says[] = {
        "agreement 'x' has no Party: add `Party <organisation>`",
        "agreement 'x' has no Purpose: add `Purpose <purpose>",
        "agreement 'x' has no LegalBasis: add `LegalBasis <basis>`",
        "agreement 'x' has no Valid: add `Valid <YYYY-MM-DD> <YYYY-MM-DD>`",
        "agreement 'x' has no Resource: add `Resource <METHOD> <template>`",
    };
    const char *lines[9];
    pds_agreement_t *a;
    pds_error_t err, *err2;
    int skip, i, n;

    for (skip = 0; skip < 5; skip++) {
        for (i = 0, n = 0; all[i] != NULL; i++) {
            if (i != skip)
                lines[n++] = all[i];
        }
        lines[n] = NULL;
        assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_EINVAL);
        assert_string_equal(err.code, "bad-agreement");
        assert_contains(err.text, says[skip]);
    }
    /* Release is what is missing now: nothing could ever be released */
    lines[0] = all[0]; lines[1] = all[1]; lines[2] = all[2];
    lines[3] = all[3]; lines[4] = all[4]; lines[5] = NULL;
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "agreement 'x' has a GET resource but no "
                              "Release");
    assert_contains(err.text, "nothing could ever be released");

    /* a write-only agreement needs no Release, but needs Write */
    lines[4] = "Resource POST /a/{subject}";
    pds_error_clear(&err);
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "no Write");
    lines[5] = "Write contact.phone";
    lines[6] = NULL;
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_SUCCESS);
    assert_int_equal(pds_fieldset_count(pds_agreement_write(a)), 1);
    assert_false(pds_agreement_write_strips(a));
    /* Write without a write resource, and WriteUnknown's values */
    lines[4] = all[4];
    pds_error_clear(&err);
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "no POST, PUT or PATCH resource");
    err2 = set_fails(p, "WriteUnknown", "drop");
    assert_contains(err2->text, "WriteUnknown strip");
    lines[4] = "Resource PATCH /a/{subject}";
    lines[6] = "WriteUnknown strip";
    lines[7] = NULL;
    /* a top-level PATCH of contact would replace it whole (pds_write.h) */
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "`WritePatch deep-merge`");
    lines[7] = "WritePatch deep-merge";
    lines[8] = NULL;
    assert_int_equal(build(&a, p, "x", lines, 1, &err), APR_SUCCESS);
    assert_true(pds_agreement_write_strips(a));
    assert_int_equal(pds_agreement_write_patch(a), PDS_WRITE_DEEP_MERGE);

    /* finish is final: later lines are refused, finish again is harmless */
    assert_int_equal(build(&a, p, "x", all, 1, &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_finish(a, &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_equal(pds_agreement_set(a, "Purpose", "research", &err),
                     APR_EINVAL);
    assert_contains(err.text, "is complete and cannot be changed");
    assert_int_equal(pds_agreement_purposes(a)->nelts, 1);
}

/* --- path and subject checks ------------------------------------------------ */

static void test_path_refused(void **state)
{
    static const struct {
        const char *path;
        int position;
        const char *says;
    } cases[] = {
        { "/citizens%2F1/record", 9, "percent-escapes" },
        { "/citizens/%2e%2e/admin", 10, "percent-escapes" },
        { "/citizens/1%25", 11, "percent-escapes" },
        { "//citizens/1", 1, "empty segments" },
        { "/citizens//1", 10, "empty segments" },
        { "/citizens/./1", 10, "dot segments" },
        { "/citizens/../admin", 10, "dot segments" },
        { "/citizens/1/.", 12, "dot segments" },
        { "/citizens/1/..", 12, "dot segments" },
        { "/.", 1, "dot segments" },
        { "/citizens/1;jsessionid=x", 11, "';'" },
        { "/citizens\\1", 9, "backslashes" },
        { "/citizens/\xc3\xa9", 10, "outside ASCII" },
        { "/citizens/\x80", 10, "outside ASCII" },
        { "/citizens/1\x01", 11, "control characters" },
        { "/citizens/1\t", 11, "control characters" },
        { "/citizens/1\x7f", 11, "control characters" },
        { "/citizens/1 x", 11, "only A-Z" },
        { "/citizens/1?x=1", 11, "'?' and '#'" },
        { "/citizens/1#f", 11, "'?' and '#'" },
        { "/citizens/{1}", 10, "only A-Z" },
        { "", 0, "empty" },
        { "citizens/1", 0, "must start with '/'" },
        { "http://x/citizens/1", 0, "must start with '/'" },
        { "*", 0, "must start with '/'" },
    };
    apr_size_t i;
    pds_error_t err;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pds_error_clear(&err);
        if (pds_request_path_check(cases[i].path, &err) != APR_EINVAL)
            fail_msg("accepted: %s", cases[i].path);
        assert_string_equal(err.code, "bad-path");
        assert_string_equal(err.source, "path");
        assert_contains(err.text, cases[i].says);
        if (err.position != cases[i].position)
            fail_msg("%s: position %d, expected %d", cases[i].path,
                     err.position, cases[i].position);
    }
    pds_error_clear(&err);
    assert_int_equal(pds_request_path_check(NULL, &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-path");
    assert_int_equal(pds_request_path_check("//", NULL), APR_EINVAL);
}

static void test_path_accepted(void **state)
{
    const char *good[] = {
        "/", "/citizens", "/citizens/", "/citizens/1234/record",
        "/a/.b/b./..c/c../...", "/a-b_c~d/e.f", "/!$&'()*+,=:@",
        "/citizens/ABC-def_09", NULL
    };
    pds_error_t err;
    int i;

    for (i = 0; good[i] != NULL; i++) {
        pds_error_clear(&err);
        if (pds_request_path_check(good[i], &err) != APR_SUCCESS)
            fail_msg("refused %s: %s", good[i], err.text);
        assert_false(pds_error_is_set(&err));
    }
}

static void test_subject_check(void **state)
{
    const char *good[] = { "1", "a", "Z", "1234567890", "abc-DEF_9", "9-",
        "1234567890123456789012345678901234567890123456789012345678901234",
        NULL };
    const char *bad[] = { "", "-a", "_a", "a.b", "a b", "a/b", "a%20",
        "x\xc3\xa9", "a:b", "a\n",
        "12345678901234567890123456789012345678901234567890123456789012345",
        NULL };
    pds_error_t err;
    int i;

    for (i = 0; good[i] != NULL; i++)
        assert_int_equal(pds_subject_check(good[i], NULL), APR_SUCCESS);
    for (i = 0; bad[i] != NULL; i++) {
        pds_error_clear(&err);
        if (pds_subject_check(bad[i], &err) != APR_EINVAL)
            fail_msg("accepted subject %s", bad[i]);
        assert_string_equal(err.code, "bad-subject");
        assert_contains(err.text, "1 to 64");
    }
    pds_error_clear(&err);
    assert_int_equal(pds_subject_check(NULL, &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-subject");
}

/* --- decide ----------------------------------------------------------------- */

static apr_array_header_t *list(apr_pool_t *p, int n, ...)
{
    apr_array_header_t *arr = apr_array_make(p, n, sizeof(pds_agreement_t *));
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++)
        APR_ARRAY_PUSH(arr, const pds_agreement_t *) =
            va_arg(ap, const pds_agreement_t *);
    va_end(ap);
    return arr;
}

static pds_decision_t decide(apr_pool_t *p, const apr_array_header_t *as,
                             const char *org, const char *method,
                             const char *path, const char *purpose,
                             apr_time_t now)
{
    pds_request_facts_t facts;
    pds_decision_t d;

    facts.organisation = org;
    facts.method = method;
    facts.path = path;
    facts.purpose = purpose;
    facts.now = now;
    memset(&d, 0x5a, sizeof(d));   /* decide must set every member */
    pds_agreements_decide(as, &facts, &d, p);
    if (d.allowed) {
        assert_null(d.reason);
    }
    else {
        assert_non_null(d.reason);
        assert_non_null(d.detail);
        /* only a refusal after a resource matched names the subject */
        if (strcmp(d.reason, "purpose-missing") != 0
            && strcmp(d.reason, "purpose-mismatch") != 0
            && strcmp(d.reason, "agreement-expired") != 0
            && strcmp(d.reason, "agreement-not-yet-valid") != 0)
            assert_null(d.subject);
    }
    return d;
}

#define MID_2026 SEC(APR_INT64_C(1780315200))   /* 2026-06-01T12:00:00Z */
#define VALID_2026 "2026-01-01 2026-12-31"

static void test_decide_allow(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "council-to-fife", "fife",
                                   "direct-care research", VALID_2026,
                                   "GET /citizens/{subject}/record");
    pds_decision_t d;

    d = decide(p, list(p, 1, a), "fife", "GET", "/citizens/C-123_x/record",
               "research", MID_2026);
    assert_true(d.allowed);
    assert_ptr_equal(d.agreement, a);
    assert_string_equal(d.subject, "C-123_x");

    /* no {subject}: no subject */
    a = agreement(p, "lists", "fife", "direct-care", VALID_2026,
                  "GET /citizens/");
    d = decide(p, list(p, 1, a), "fife", "GET", "/citizens/", "direct-care",
               MID_2026);
    assert_true(d.allowed);
    assert_null(d.subject);
}

/* The Deidentified hint for a predicated release names the "[*]" form, a
 * line that works when pasted (a Transform path takes no predicate). */
static void test_deidentified_hint_for_predicates(void **state)
{
    apr_pool_t *p = *state;
    const char *lines[] = {
        "Party fife", "Purpose research", "LegalBasis public-task",
        "Valid 2026-01-01 2026-12-31", "Resource GET /services/summary",
        "Release identifier[system=\"https://fhir.nhs.uk/Id/nhs-number\"].value",
        "Deidentified identifier", NULL, NULL
    };
    pds_agreement_t *a;
    pds_error_t err;

    assert_int_equal(build(&a, p, "cohort", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "in clear");
    assert_contains(err.text, "`Transform identifier[*].value redact`");
    assert_contains(err.text, "`Transform identifier[*].value pseudonymise`");
    lines[7] = "Transform identifier[*].value redact";
    assert_int_equal(build(&a, p, "cohort", lines, 1, &err), APR_SUCCESS);
}

/* Whose data a resource answers must be said (issue #10 item 13). */
static void test_finish_resource_names_its_person(void **state)
{
    apr_pool_t *p = *state;
    const char *lines[] = {
        "Party fife", "Purpose direct-care", "LegalBasis public-task",
        "Valid 2026-01-01 2026-12-31", "Resource GET /citizens/{subject}/record",
        "Resource GET /citizens/{subjct}/record", "Release name.given", NULL, NULL
    };
    pds_agreement_t *a;
    pds_error_t err;

    /* a typo: refused, naming the second resource */
    assert_int_equal(build(&a, p, "typo", lines, 1, &err), APR_EINVAL);
    assert_string_equal(err.source, "Resource");
    assert_int_equal(err.position, 1);
    assert_contains(err.text, "Resource GET /citizens/{subjct}/record: {subjct} is not a "
                    "placeholder mod_pds knows; the person a resource is about is written "
                    "{subject}");

    /* no {subject} and nothing said about whose data it is: refused */
    lines[5] = "Resource GET /citizens/{person}/record";
    assert_int_equal(build(&a, p, "nobody", lines, 1, &err), APR_EINVAL);
    assert_string_equal(err.source, "Resource");
    assert_int_equal(err.position, 1);
    assert_contains(err.text, "Resource GET /citizens/{person}/record has no {subject}");
    assert_contains(err.text, "RecordSubject");
    assert_contains(err.text, "Deidentified");

    /* a misspelt {subject} is refused even in a collection */
    lines[5] = "Resource GET /citizens/{subjct}/record";
    lines[6] = "Release [*].name.given";
    lines[7] = "RecordSubject id";
    assert_int_equal(build(&a, p, "typo", lines, 1, &err), APR_EINVAL);
    assert_int_equal(err.position, 1);
    assert_contains(err.text, "{subjct} is not a placeholder mod_pds knows");
    lines[5] = "Resource GET /citizens/{subject_id}/record";
    assert_int_equal(build(&a, p, "typo", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "{subject_id} is not a placeholder");
    lines[5] = "Resource GET /citizens/{sbuject}/record";
    assert_int_equal(build(&a, p, "typo", lines, 1, &err), APR_EINVAL);
    assert_contains(err.text, "{sbuject} is not a placeholder");

    /* a collection with a parameter is what parameters are for */
    lines[4] = "Resource GET /districts/{district}/residents";
    lines[5] = "Resource GET /services/summary";
    assert_int_equal(build(&a, p, "collection", lines, 1, &err), APR_SUCCESS);

    /* de-identified data need not name anyone */
    lines[6] = "Release dob";
    lines[7] = "Deidentified name";
    assert_int_equal(build(&a, p, "deidentified", lines, 1, &err), APR_SUCCESS);

    /* a plain agreement without a subject anywhere is refused at its first */
    lines[7] = NULL;
    assert_int_equal(build(&a, p, "plain", lines, 1, &err), APR_EINVAL);
    assert_int_equal(err.position, 0);
    assert_contains(err.text, "/districts/{district}/residents has no {subject}");
}

/* Which <Location> paths an agreement could serve (a startup warning). */
static void test_could_match_under(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "x", "fife", "direct-care", VALID_2026,
                                   "GET /citizens/{subject}/record");
    pds_agreement_t *c = agreement(p, "c", "fife", "direct-care", VALID_2026,
                                   "GET /districts/{district}/residents");

    assert_true(pds_agreement_could_match_under(a, "/"));
    assert_true(pds_agreement_could_match_under(a, "/citizens/"));
    assert_true(pds_agreement_could_match_under(a, "/citizens"));
    assert_true(pds_agreement_could_match_under(a, "/cit"));
    assert_true(pds_agreement_could_match_under(a, "/citizens/42/"));
    assert_true(pds_agreement_could_match_under(a, "/citizens/42/rec"));
    assert_true(pds_agreement_could_match_under(a, "/citizens/42/record"));
    assert_false(pds_agreement_could_match_under(a, "/api/citizens/"));
    assert_false(pds_agreement_could_match_under(a, "/citizen/"));
    assert_false(pds_agreement_could_match_under(a, "/citizens/42/record/"));
    assert_false(pds_agreement_could_match_under(a, "/citizens//"));
    assert_false(pds_agreement_could_match_under(a, "citizens/"));
    assert_false(pds_agreement_could_match_under(a, NULL));
    assert_true(pds_agreement_could_match_under(c, "/districts/KY99/"));
    assert_false(pds_agreement_could_match_under(c, "/citizens/"));
    assert_false(pds_agreement_could_match_under(NULL, "/"));
}

static void test_decide_no_agreement(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "council-to-fife", "fife", "direct-care",
                                   VALID_2026,
                                   "GET /citizens/{subject}/record");
    apr_array_header_t *as = list(p, 1, a);
    const char *paths[] = {
        "/citizens/1/record/", "/citizens/1", "/citizens/1/record/x",
        "/Citizens/1/record", "/citizens/1/RECORD", "/citizens//record",
        "/citizens/1/records", "/", "citizens/1/record", NULL };
    pds_decision_t d;
    int i;

    d = decide(p, as, "tayside", "GET", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_false(d.allowed);
    assert_string_equal(d.reason, "no-agreement");
    assert_null(d.agreement);
    assert_string_equal(d.detail, "no agreement gives organisation 'tayside' "
                                  "GET access to this path");
    for (i = 0; paths[i] != NULL; i++) {
        d = decide(p, as, "fife", "GET", paths[i], "direct-care", MID_2026);
        if (d.allowed || strcmp(d.reason, "no-agreement") != 0)
            fail_msg("%s: not no-agreement", paths[i]);
    }
    /* methods compare exactly; HEAD never matches */
    d = decide(p, as, "fife", "HEAD", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, as, "fife", "get", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, as, "fife", "POST", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    /* a method that is not a token is not echoed */
    d = decide(p, as, "fife", "G\nET", "/citizens/1/record", NULL, MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    assert_null(strchr(d.detail, '\n'));
    /* no caller, no list, empty list, NULL members */
    d = decide(p, as, NULL, "GET", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    assert_contains(d.detail, "not identified");
    d = decide(p, NULL, "fife", "GET", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, list(p, 1, NULL), "fife", "GET", "/citizens/1/record",
               "direct-care", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, as, "fife", NULL, "/citizens/1/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, as, "fife", "GET", NULL, "direct-care", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
}

static void test_decide_unfinished_never_applies(void **state)
{
    apr_pool_t *p = *state;
    const char *lines[] = {
        "Party fife", "Purpose direct-care", "LegalBasis public-task",
        "Valid " VALID_2026, "Resource GET /a/{subject}", "Release name", NULL
    };
    pds_agreement_t *a;
    pds_error_t err;
    pds_decision_t d;

    assert_int_equal(build(&a, p, "x", lines, 0, &err), APR_SUCCESS);
    d = decide(p, list(p, 1, a), "fife", "GET", "/a/1", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
}

static void test_decide_template_edges(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *root_a = agreement(p, "root", "fife", "x", VALID_2026,
                                        "GET /");
    pds_agreement_t *first = agreement(p, "first", "fife", "x", VALID_2026,
                                       "GET /{subject}");
    pds_agreement_t *trail = agreement(p, "trail", "fife", "x", VALID_2026,
                                       "GET /a/{subject}/");
    apr_array_header_t *as = list(p, 3, root_a, first, trail);
    pds_decision_t d;

    d = decide(p, as, "fife", "GET", "/", "x", MID_2026);
    assert_true(d.allowed);
    assert_ptr_equal(d.agreement, root_a);
    d = decide(p, as, "fife", "GET", "/42", "x", MID_2026);
    assert_ptr_equal(d.agreement, first);
    assert_string_equal(d.subject, "42");
    d = decide(p, as, "fife", "GET", "/42/", "x", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    d = decide(p, as, "fife", "GET", "/a/7/", "x", MID_2026);
    assert_ptr_equal(d.agreement, trail);
    assert_string_equal(d.subject, "7");
    d = decide(p, as, "fife", "GET", "/a/7", "x", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    /* {subject} needs a non-empty segment */
    d = decide(p, as, "fife", "GET", "/a//", "x", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
}

/* Parameters other than {subject} take one segment and capture nothing. */
static void test_decide_parameter(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "districts", "fife", "direct-care", VALID_2026,
                                   "GET /districts/{district}/residents");
    pds_decision_t d = decide(p, list(p, 1, a), "fife", "GET", "/districts/KY99/residents",
                              "direct-care", MID_2026);

    assert_true(d.allowed);
    assert_null(d.subject);
    d = decide(p, list(p, 1, a), "fife", "GET", "/districts/KY99/other", "direct-care",
               MID_2026);
    assert_false(d.allowed);
    assert_string_equal(d.reason, "no-agreement");
}

/* A parameter's value with '&' or '=' could become a query string at a back
 * end that routes path segments into one (json-server's routes). */
static void test_decide_parameter_refuses_query_characters(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "pages", "fife", "direct-care", VALID_2026,
                                   "GET /patients/page/{page}");
    const char *paths[] = { "/patients/page/1&_embed=x", "/patients/page/_limit=1000",
                            "/patients/page/&", "/patients/page/=", NULL };
    pds_decision_t d;
    int i;

    for (i = 0; paths[i] != NULL; i++) {
        d = decide(p, list(p, 1, a), "fife", "GET", paths[i], "direct-care", MID_2026);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "bad-path");
        assert_ptr_equal(d.agreement, a);
        assert_contains(d.detail, "'&' or '='");
    }
    d = decide(p, list(p, 1, a), "fife", "GET", "/patients/page/2", "direct-care",
               MID_2026);
    assert_true(d.allowed);
}

/* Query lines: declarations checked line by line, and against the whole
 * agreement by finish. */
/* The set of declared Query names made at configuration time answers as the
 * walk over every agreement does (issue 13: once at config time). */
static void test_query_names_set(void **state)
{
    apr_pool_t *p = *state;
    const char *search[] = {
        "Party fife", "Purpose direct-care", "LegalBasis public-task",
        "Valid 2026-01-01 2026-12-31", "Resource GET /districts/{district}/residents",
        "Release [*].name.given", "RecordSubject id", "Query _page int 1..10",
        "Query name_like token", NULL
    };
    const char *unfinished[] = { "Party fife", "Query secret token", NULL };
    const char *queries[] = {
        "_page=2", "name_like=ab&_page=1", "secret=x", "_page=1&other=2", "other=1"
    };
    apr_array_header_t *as = apr_array_make(p, 3, sizeof(const pds_agreement_t *));
    pds_agreement_t *a;
    apr_hash_t *names;
    pds_error_t err;
    size_t k;

    assert_int_equal(build(&a, p, "search", search, 1, &err), APR_SUCCESS);
    APR_ARRAY_PUSH(as, const pds_agreement_t *) = a;
    APR_ARRAY_PUSH(as, const pds_agreement_t *) =
        agreement(p, "plain", "fife", "direct-care", VALID_2026, "GET /citizens/{subject}/record");
    /* An agreement that never finished declares nothing. */
    assert_int_equal(build(&a, p, "half", unfinished, 0, &err), APR_SUCCESS);
    APR_ARRAY_PUSH(as, const pds_agreement_t *) = a;
    names = pds_agreements_query_names(as, p);
    assert_int_equal(apr_hash_count(names), 2);
    for (k = 0; k < sizeof(queries) / sizeof(queries[0]); k++) {
        apr_array_header_t *params = NULL;
        pds_error_t e1, e2;
        apr_status_t walk, set;

        pds_error_clear(&err);
        assert_int_equal(pds_query_parse(&params, queries[k], p, &err), APR_SUCCESS);
        pds_error_clear(&e1);
        pds_error_clear(&e2);
        walk = pds_agreements_query_declared(as, params, &e1);
        set = pds_query_names_declared(names, params, &e2);
        assert_int_equal(walk, set);
        assert_string_equal(e1.code, e2.code);
        assert_string_equal(e1.text, e2.text);
    }
    pds_error_clear(&err);
    assert_int_equal(pds_query_names_declared(pds_agreements_query_names(NULL, p), NULL, &err),
                     APR_SUCCESS);
}

static void test_query_keyword(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = fresh(p);
    const pds_query_t *q;
    pds_error_t *err;
    const char *lines[] = {
        "Party fife", "Purpose direct-care", "LegalBasis public-task",
        "Valid 2026-01-01 2026-12-31", "Resource POST /citizens/{subject}/record",
        "Write phone", "Query _page int 1..10", NULL
    };

    set_ok(a, "Query", "_page int 1..1000");
    set_ok(a, "query", "name_like token");
    set_ok(a, "Query", "birthdate date");
    set_ok(a, "Query", "gender enum male|female|other|unknown");
    err = set_refused(p, a, "Query", "_page int 1..5");
    assert_contains(err->text, "declared twice");
    assert_int_equal(err->position, 0);
    err = set_refused(p, a, "Query", "_count int 100..1");
    assert_contains(err->text, "lo <= hi");
    assert_int_equal(err->position, 11);
    err = set_refused(p, a, "Query", "_count float");
    assert_contains(err->text, "not a type");
    assert_contains(err->text, "Query _page int 1..1000");
    err = set_refused(p, a, "Query", "a[] token");
    assert_contains(err->text, "not a parameter name");
    err = set_refused(p, a, "Query", "_count int");
    assert_contains(err->text, "lo..hi");
    err = set_refused(p, a, "Query", "_count token 1..2");
    assert_contains(err->text, "takes nothing after the type");
    err = set_refused(p, a, "Query", "");
    assert_contains(err->text, "needs a parameter name and a type");
    err = set_refused(p, a, "Query", "x enum a||b");
    assert_contains(err->text, "empty word");
    err = set_refused(p, a, "Query", "x int 1..2 3");
    assert_contains(err->text, "too many words");
    assert_int_equal(pds_query_count(pds_agreement_query(a)), 4);

    q = pds_agreement_query(agreement(p, "plain", "fife", "direct-care", VALID_2026,
                                      "GET /citizens/{subject}/record"));
    assert_null(q);
    assert_int_equal(pds_query_count(q), 0);

    /* finish: a query string pages or searches what GET reads */
    err = apr_pcalloc(p, sizeof(*err));
    assert_int_equal(build(&a, p, "writer", lines, 1, err), APR_EINVAL);
    assert_string_equal(err->source, "Query");
    assert_contains(err->text, "no GET resource");
}

static void test_decide_bad_subject(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "council-to-fife", "fife", "direct-care",
                                   VALID_2026,
                                   "GET /citizens/{subject}/record");
    apr_array_header_t *as = list(p, 1, a);
    const char *paths[] = {
        "/citizens/-1/record", "/citizens/a.b/record", "/citizens/a:b/record",
        "/citizens/"
        "12345678901234567890123456789012345678901234567890123456789012345"
        "/record", NULL };
    pds_decision_t d;
    int i;

    for (i = 0; paths[i] != NULL; i++) {
        d = decide(p, as, "fife", "GET", paths[i], "direct-care", MID_2026);
        assert_false(d.allowed);
        assert_string_equal(d.reason, "bad-subject");
        assert_ptr_equal(d.agreement, a);
        assert_contains(d.detail, "subject identifier");
    }
}

static void test_decide_purposes(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "council-to-fife", "fife", "direct-care",
                                   VALID_2026,
                                   "GET /citizens/{subject}/record");
    pds_agreement_t *b = agreement(p, "council-research", "fife",
                                   "research audit", VALID_2026,
                                   "GET /citizens/{subject}/record");
    apr_array_header_t *as = list(p, 1, a);
    pds_decision_t d;

    d = decide(p, as, "fife", "GET", "/citizens/1/record", NULL, MID_2026);
    assert_string_equal(d.reason, "purpose-missing");
    assert_ptr_equal(d.agreement, a);
    assert_contains(d.detail, "declare the purpose");
    /* a refusal after a resource matched still names the subject asked for */
    assert_string_equal(d.subject, "1");
    d = decide(p, as, "fife", "GET", "/citizens/1/record", "", MID_2026);
    assert_string_equal(d.reason, "purpose-missing");

    d = decide(p, as, "fife", "GET", "/citizens/1/record", "research",
               MID_2026);
    assert_string_equal(d.reason, "purpose-mismatch");
    assert_ptr_equal(d.agreement, a);
    assert_string_equal(d.subject, "1");
    assert_string_equal(d.detail, "agreement 'council-to-fife' covers "
                                  "purposes direct-care; this request "
                                  "declared research");
    /* case matters; a malformed purpose is not echoed back */
    d = decide(p, as, "fife", "GET", "/citizens/1/record", "Direct-Care",
               MID_2026);
    assert_string_equal(d.reason, "purpose-mismatch");
    d = decide(p, as, "fife", "GET", "/citizens/1/record",
               "<script>\r\nX-Evil: 1", MID_2026);
    assert_string_equal(d.reason, "purpose-mismatch");
    assert_null(strstr(d.detail, "script"));
    assert_contains(d.detail, "not a purpose name");

    /* the candidate listing the purpose applies, wherever it is */
    as = list(p, 2, a, b);
    d = decide(p, as, "fife", "GET", "/citizens/1/record", "audit", MID_2026);
    assert_true(d.allowed);
    assert_ptr_equal(d.agreement, b);
    d = decide(p, as, "fife", "GET", "/citizens/1/record", "direct-care",
               MID_2026);
    assert_ptr_equal(d.agreement, a);
    d = decide(p, as, "fife", "GET", "/citizens/1/record", "marketing",
               MID_2026);
    assert_string_equal(d.reason, "purpose-mismatch");
    assert_ptr_equal(d.agreement, a);   /* the first candidate */
    d = decide(p, list(p, 2, b, a), "fife", "GET", "/citizens/1/record",
               "marketing", MID_2026);
    assert_string_equal(d.detail, "agreement 'council-research' covers "
                                  "purposes research, audit; this request "
                                  "declared marketing");
}

static void test_decide_validity_boundaries(void **state)
{
    apr_pool_t *p = *state;
    pds_agreement_t *a = agreement(p, "council-to-fife", "fife", "direct-care",
                                   VALID_2026,
                                   "GET /citizens/{subject}/record");
    apr_array_header_t *as = list(p, 1, a);
    const char *path = "/citizens/1/record";
    apr_time_t first = SEC(T_2026_01_01);
    apr_time_t next_year = SEC(T_2027_01_01);
    pds_decision_t d;

    d = decide(p, as, "fife", "GET", path, "direct-care", first - 1);
    assert_string_equal(d.reason, "agreement-not-yet-valid");
    assert_ptr_equal(d.agreement, a);
    assert_string_equal(d.detail, "agreement 'council-to-fife' is valid from "
                                  "2026-01-01 (UTC)");
    d = decide(p, as, "fife", "GET", path, "direct-care", first - SEC(86400));
    assert_string_equal(d.reason, "agreement-not-yet-valid");
    d = decide(p, as, "fife", "GET", path, "direct-care", first);
    assert_true(d.allowed);
    /* 2026-12-31T23:59:59Z and its last microsecond are still valid */
    d = decide(p, as, "fife", "GET", path, "direct-care",
               next_year - SEC(1));
    assert_true(d.allowed);
    d = decide(p, as, "fife", "GET", path, "direct-care", next_year - 1);
    assert_true(d.allowed);
    /* 2027-01-01T00:00:00Z is not */
    d = decide(p, as, "fife", "GET", path, "direct-care", next_year);
    assert_string_equal(d.reason, "agreement-expired");
    assert_ptr_equal(d.agreement, a);
    assert_string_equal(d.detail, "agreement 'council-to-fife' was valid "
                                  "until the end of 2026-12-31 (UTC)");
}

static void test_decide_configuration_order(void **state)
{
    apr_pool_t *p = *state;
    const char *res = "GET /citizens/{subject}/record";
    pds_agreement_t *old = agreement(p, "old", "fife", "direct-care",
                                     "2025-01-01 2025-12-31", res);
    pds_agreement_t *cur1 = agreement(p, "cur1", "fife", "direct-care",
                                      VALID_2026, res);
    pds_agreement_t *cur2 = agreement(p, "cur2", "fife", "direct-care",
                                      VALID_2026, res);
    pds_agreement_t *future = agreement(p, "future", "fife", "direct-care",
                                        "2027-01-01 2027-12-31", res);
    const char *path = "/citizens/1/record";
    pds_decision_t d;

    /* two valid candidates: the first in configuration order applies */
    d = decide(p, list(p, 2, cur1, cur2), "fife", "GET", path, "direct-care",
               MID_2026);
    assert_ptr_equal(d.agreement, cur1);
    d = decide(p, list(p, 2, cur2, cur1), "fife", "GET", path, "direct-care",
               MID_2026);
    assert_ptr_equal(d.agreement, cur2);
    /* an invalid earlier candidate steps aside for a valid later one */
    d = decide(p, list(p, 3, old, future, cur2), "fife", "GET", path,
               "direct-care", MID_2026);
    assert_true(d.allowed);
    assert_ptr_equal(d.agreement, cur2);
    /* none valid: the reason comes from the first candidate */
    d = decide(p, list(p, 2, old, future), "fife", "GET", path,
               "direct-care", MID_2026);
    assert_string_equal(d.reason, "agreement-expired");
    assert_ptr_equal(d.agreement, old);
    d = decide(p, list(p, 2, future, old), "fife", "GET", path,
               "direct-care", MID_2026);
    assert_string_equal(d.reason, "agreement-not-yet-valid");
    assert_ptr_equal(d.agreement, future);
}

static void test_decide_several_organisations(void **state)
{
    apr_pool_t *p = *state;
    const char *res = "GET /citizens/{subject}/record";
    pds_agreement_t *fife = agreement(p, "to-fife", "fife", "direct-care",
                                      VALID_2026, res);
    pds_agreement_t *tay_old = agreement(p, "to-tayside-old", "tayside",
                                         "direct-care",
                                         "2025-01-01 2025-12-31", res);
    pds_agreement_t *tay = agreement(p, "to-tayside", "tayside", "research",
                                     VALID_2026, res);
    pds_agreement_t *uni = agreement(p, "to-uni", "uni", "research",
                                     VALID_2026, "GET /stats/{subject}");
    apr_array_header_t *as = list(p, 4, fife, tay_old, tay, uni);
    const char *path = "/citizens/1/record";
    pds_decision_t d;

    d = decide(p, as, "fife", "GET", path, "direct-care", MID_2026);
    assert_ptr_equal(d.agreement, fife);
    d = decide(p, as, "tayside", "GET", path, "research", MID_2026);
    assert_ptr_equal(d.agreement, tay);
    /* another organisation's agreement never applies, nor is it named */
    d = decide(p, as, "tayside", "GET", path, "direct-care", MID_2026);
    assert_string_equal(d.reason, "agreement-expired");
    assert_ptr_equal(d.agreement, tay_old);
    d = decide(p, as, "uni", "GET", path, "research", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    assert_null(d.agreement);
    d = decide(p, as, "uni", "GET", "/stats/9", "research", MID_2026);
    assert_ptr_equal(d.agreement, uni);
    /* party names compare exactly */
    d = decide(p, as, "Fife", "GET", path, "direct-care", MID_2026);
    assert_string_equal(d.reason, "no-agreement");
}

static void test_decide_multiple_resources(void **state)
{
    apr_pool_t *p = *state;
    const char *lines[] = {
        "Party fife", "Purpose direct-care", "LegalBasis contract",
        "Valid " VALID_2026, "Version 3",
        "Resource GET /citizens/{subject}/record",
        "Resource GET /citizens/{subject}/contacts",
        "Resource DELETE /citizens/{subject}/consents",
        "Release name", NULL
    };
    pds_agreement_t *a;
    pds_error_t err;
    pds_decision_t d;
    apr_array_header_t *as;

    assert_int_equal(build(&a, p, "multi", lines, 1, &err), APR_SUCCESS);
    as = list(p, 1, a);
    d = decide(p, as, "fife", "GET", "/citizens/5/contacts", "direct-care",
               MID_2026);
    assert_true(d.allowed);
    assert_string_equal(d.subject, "5");
    d = decide(p, as, "fife", "DELETE", "/citizens/6/consents", "direct-care",
               MID_2026);
    assert_true(d.allowed);
    assert_string_equal(d.subject, "6");
    d = decide(p, as, "fife", "DELETE", "/citizens/6/record", "direct-care",
               MID_2026);
    assert_string_equal(d.reason, "no-agreement");
    assert_string_equal(pds_agreement_version(a), "3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_create_ids),
        pds_test_with_pool(test_keywords_case_insensitive),
        pds_test_with_pool(test_unknown_keyword),
        pds_test_with_pool(test_party),
        pds_test_with_pool(test_purpose),
        pds_test_with_pool(test_legal_basis),
        pds_test_with_pool(test_valid_good),
        pds_test_with_pool(test_valid_bad),
        pds_test_with_pool(test_version),
        pds_test_with_pool(test_disclosure),
        pds_test_with_pool(test_resource_good),
        pds_test_with_pool(test_resource_bad),
        pds_test_with_pool(test_finish_resource_names_its_person),
        pds_test_with_pool(test_deidentified_hint_for_predicates),
        pds_test_with_pool(test_could_match_under),
        pds_test_with_pool(test_release),
        pds_test_with_pool(test_quoting),
        pds_test_with_pool(test_finish_missing),
        pds_test_with_pool(test_path_refused),
        pds_test_with_pool(test_path_accepted),
        pds_test_with_pool(test_subject_check),
        pds_test_with_pool(test_decide_allow),
        pds_test_with_pool(test_decide_no_agreement),
        pds_test_with_pool(test_decide_unfinished_never_applies),
        pds_test_with_pool(test_decide_template_edges),
        pds_test_with_pool(test_decide_bad_subject),
        pds_test_with_pool(test_decide_parameter),
        pds_test_with_pool(test_decide_parameter_refuses_query_characters),
        pds_test_with_pool(test_query_keyword),
        pds_test_with_pool(test_query_names_set),
        pds_test_with_pool(test_decide_purposes),
        pds_test_with_pool(test_decide_validity_boundaries),
        pds_test_with_pool(test_decide_configuration_order),
        pds_test_with_pool(test_decide_several_organisations),
        pds_test_with_pool(test_decide_multiple_resources),
    };

    return pds_test_main(tests, NULL, NULL);
}
