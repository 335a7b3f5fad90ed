/* test_query.c: Query declarations, the plain form of a query string, and
 * the canonical query rebuilt from the checked values. */
#include <string.h>

#include <apr_strings.h>

#include "pds_query.h"
#include "pds_test.h"

/* q with the declarations of the docs' example (and an enum). */
static pds_query_t *example(apr_pool_t *p)
{
    static const char *const decls[][3] = {
        { "_page", "int", "1..1000" }, { "_limit", "int", "1..100" },
        { "name_like", "token", NULL }, { "birthdate", "date", NULL },
        { "gender", "enum", "male|female|other|unknown" },
    };
    pds_query_t *q;
    pds_error_t err;
    size_t i;

    assert_int_equal(pds_query_create(&q, p), APR_SUCCESS);
    for (i = 0; i < sizeof(decls) / sizeof(decls[0]); i++) {
        pds_error_clear(&err);
        assert_int_equal(pds_query_declare(q, decls[i], decls[i][2] ? 3 : 2, &err),
                         APR_SUCCESS);
    }
    return q;
}

/* The canonical query for raw, or NULL when refused (then *why is the text). */
static const char *check(apr_pool_t *p, const pds_query_t *q, const char *raw,
                         const char **why)
{
    apr_array_header_t *params;
    const char *canonical = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    *why = NULL;
    if (pds_query_parse(&params, raw, p, &err) != APR_SUCCESS
        || pds_query_accept(q, params, &canonical, p, &err) != APR_SUCCESS) {
        assert_string_equal(err.code, "query-not-allowed");
        *why = apr_pstrdup(p, err.text);
        return NULL;
    }
    assert_false(pds_error_is_set(&err));
    return canonical;
}

static void test_declarations(void **state)
{
    apr_pool_t *p = *state;
    pds_query_t *q = example(p);
    static const struct { const char *w[4]; int n, pos; const char *text; } bad[] = {
        { { "_page", "int", "1..2" }, 3, 0, "declared twice" },
        { { "x" }, 1, -1, "needs a parameter name and a type" },
        { { "1x", "token" }, 2, 0, "not a parameter name" },
        { { "a.b", "token" }, 2, 0, "not a parameter name" },
        { { "a[]", "token" }, 2, 0, "not a parameter name" },
        { { "abcdefghijabcdefghijabcdefghijabc", "token" }, 2, 0, "not a parameter name" },
        { { "x", "integer" }, 2, 1, "not a type" },
        { { "x", "Int", "1..2" }, 3, 1, "not a type" },
        { { "x", "int" }, 2, -1, "its bounds lo..hi" },
        { { "x", "int", "5..1" }, 3, 2, "lo <= hi" },
        { { "x", "int", "-1..5" }, 3, 2, "two whole numbers" },
        { { "x", "int", "1...5" }, 3, 2, "two whole numbers" },
        { { "x", "int", "01..5" }, 3, 2, "two whole numbers" },
        { { "x", "int", "1..2147483648" }, 3, 2, "two whole numbers" },
        { { "x", "int", "1" }, 3, 2, "two whole numbers" },
        { { "x", "date", "2026" }, 3, 2, "takes nothing after the type" },
        { { "x", "enum" }, 2, -1, "its words a|b|c" },
        { { "x", "enum", "a||b" }, 3, 2, "empty word" },
        { { "x", "enum", "a|" }, 3, 2, "empty word" },
        { { "x", "enum", "" }, 3, 2, "empty word" },
        { { "x", "int", "" }, 3, 2, "two whole numbers" },
        { { "x", "enum", "a|a" }, 3, 2, "listed twice" },
        { { "x", "enum", "a|b c" }, 3, 2, "not a word" },
        { { "x", "enum", "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q" }, 3, 2, "more than 16" },
    };
    pds_error_t err;
    size_t i;
    int k;

    assert_int_equal(pds_query_count(q), 5);
    assert_true(pds_query_declares(q, "_page"));
    assert_false(pds_query_declares(q, "_Page"));
    assert_false(pds_query_declares(NULL, "_page"));
    assert_string_equal(pds_query_names(q, p), "_page, _limit, name_like, birthdate, gender");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pds_error_clear(&err);
        if (pds_query_declare(q, bad[i].w, bad[i].n, &err) != APR_EINVAL)
            fail_msg("declaration %zu (%s) was accepted", i, bad[i].w[0]);
        assert_string_equal(err.code, "bad-agreement");
        assert_int_equal(err.position, bad[i].pos);
        assert_contains(err.text, bad[i].text);
    }
    assert_int_equal(pds_query_count(q), 5);
    /* at most PDS_QUERY_DECL_MAX */
    assert_int_equal(pds_query_create(&q, p), APR_SUCCESS);
    for (k = 0; k < PDS_QUERY_DECL_MAX; k++) {
        const char *w[2] = { apr_psprintf(p, "p%d", k), "token" };
        assert_int_equal(pds_query_declare(q, w, 2, NULL), APR_SUCCESS);
    }
    {
        const char *w[2] = { "one_more", "token" };
        pds_error_clear(&err);
        assert_int_equal(pds_query_declare(q, w, 2, &err), APR_EINVAL);
        assert_contains(err.text, "at most 32");
    }
}

static void test_accepted_and_canonical(void **state)
{
    apr_pool_t *p = *state;
    pds_query_t *q = example(p);
    const char *why;

    assert_string_equal(check(p, q, "_page=2&_limit=10", &why), "_page=2&_limit=10");
    /* declared order, whatever the order sent */
    assert_string_equal(check(p, q, "_limit=10&_page=2", &why), "_page=2&_limit=10");
    assert_string_equal(check(p, q, "gender=female&name_like=Sm-i.t_h&birthdate=1980-02-29"
                              "&_page=1000", &why),
                        "_page=1000&name_like=Sm-i.t_h&birthdate=1980-02-29&gender=female");
    assert_string_equal(check(p, q, "_page=1", &why), "_page=1");
    assert_string_equal(check(p, q, "birthdate=1901-01-01", &why), "birthdate=1901-01-01");
}

static void test_refused(void **state)
{
    apr_pool_t *p = *state;
    pds_query_t *q = example(p);
    static const struct { const char *raw, *text; } refused[] = {
        { "", "empty query string" },
        { "&", "empty parameter" },
        { "_page=1&", "empty parameter" },
        { "&_page=1", "empty parameter" },
        { "_page=1&&_limit=2", "empty parameter" },
        { "_page", "name=value" },
        { "=1", "name=value" },
        { "_page=", "name=value" },
        { "_page=1=2", "'=' is not accepted inside a value" },
        { "_page=1&_page=2", "\"_page\" is given twice" },
        { "_page=1&_limit=2&_page=1", "\"_page\" is given twice" },
        { "_page[]=1", "arrays" },
        { "_page[0]=1", "arrays" },
        { "a[b]=1", "arrays" },
        { "_page=%31", "percent-escapes" },
        { "%5Fpage=1", "percent-escapes" },
        { "name_like=a%26_embed%3Dx", "percent-escapes" },
        { "name_like=a%00", "percent-escapes" },
        { "name_like=%C0%AE", "percent-escapes" },
        { "name_like=%FF", "percent-escapes" },
        { "name_like=a+b", "'+'" },
        { "name_like=a b", "only A-Z" },
        { "name_like=caf\xc3\xa9", "only A-Z" },
        { "_page=1;_limit=2", "';'" },
        { "_page=1#x", "only A-Z" },
        { "_page=1?x=2", "only A-Z" },
        { "_page=1\r\n", "only A-Z" },
        /* undeclared: what would widen the answer at json-server or FHIR */
        { "_embed=Observation", "\"_embed\" is not accepted; the agreement accepts "
                                "_page, _limit, name_like, birthdate, gender" },
        { "_expand=x", "\"_expand\" is not accepted" },
        { "q=ZZLEAK", "\"q\" is not accepted" },
        { "fields=phone", "\"fields\" is not accepted" },
        { "_Page=1", "\"_Page\" is not accepted" },
        { "_page=1&_sort=id", "\"_sort\" is not accepted" },
        /* types and bounds */
        { "_page=0", "_page: expected a whole number from 1 to 1000" },
        { "_page=1001", "from 1 to 1000" },
        { "_page=01", "no leading zeros" },
        { "_page=-1", "from 1 to 1000" },
        { "_page=1x", "from 1 to 1000" },
        { "_page=99999999999", "from 1 to 1000" },
        { "_limit=101", "from 1 to 100" },
        { "birthdate=1980-02-30", "a date YYYY-MM-DD" },
        { "birthdate=1980", "a date YYYY-MM-DD" },
        { "gender=Female", "one of male, female, other, unknown" },
        { "name_like=~x", "1 to 64 of" },
        { "name_like=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "1 to 64 of" },
    };
    const char *why;
    char *big;
    size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (check(p, q, refused[i].raw, &why) != NULL)
            fail_msg("query %zu \"%s\" was accepted", i, refused[i].raw);
        assert_contains(why, refused[i].text);
    }
    /* an agreement without declarations accepts nothing */
    assert_null(check(p, NULL, "_page=1", &why));
    assert_contains(why, "the agreement accepts no query parameters");
    /* bounded */
    big = apr_palloc(p, PDS_QUERY_TEXT_MAX + 2);
    memset(big, 'a', PDS_QUERY_TEXT_MAX + 1);
    big[0] = 'x';
    big[1] = '=';
    big[PDS_QUERY_TEXT_MAX + 1] = '\0';
    assert_null(check(p, q, big, &why));
    assert_contains(why, "longer than 2048 bytes");
    assert_null(check(p, q, "a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1"
                      "&p=1&q=1&r=1&s=1&t=1&u=1&v=1&w=1&x=1&y=1&z=1&A=1&B=1&C=1&D=1"
                      "&E=1&F=1&G=1", &why));
    assert_contains(why, "more than 32 parameters");
}

/* Values never appear in a refusal: only names, quoted and cut. */
static void test_refusal_shows_names_only(void **state)
{
    apr_pool_t *p = *state;
    pds_query_t *q = example(p);
    const char *why;

    assert_null(check(p, q, "name_like=SECRET%41", &why));
    assert_null(strstr(why, "SECRET"));
    assert_null(check(p, q, "_page=SECRET", &why));
    assert_null(strstr(why, "SECRET"));
    assert_null(check(p, q, "a\x01\x7f[]=1", &why));
    assert_null(strchr(why, '\x01'));
}

/* Under pseudonymous subjects: numbers and listed words as they are, words
 * and dates that may name a person as stable pseudonyms, never in clear. */
static void test_pseudonymised_for_the_audit_log(void **state)
{
    apr_pool_t *p = *state;
    pds_query_t *q = example(p);
    static const char hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    pds_chain_key_t *key;
    const char *why, *canonical, *out, *again;
    char *want;

    assert_int_equal(pds_chain_key_from_hex(&key, p, hex, strlen(hex), NULL), APR_SUCCESS);
    canonical = check(p, q, "gender=female&birthdate=1980-06-01&name_like=Smith&_page=3", &why);
    assert_non_null(canonical);
    out = pds_query_pseudonymised(q, canonical, key, p);
    want = apr_psprintf(p, "_page=3&name_like=%s&birthdate=%s&gender=female",
                        pds_chain_pseudonym(p, key, "Smith"),
                        pds_chain_pseudonym(p, key, "1980-06-01"));
    assert_string_equal(out, want);
    assert_null(strstr(out, "Smith"));
    assert_null(strstr(out, "1980"));
    again = pds_query_pseudonymised(q, canonical, key, p);
    assert_string_equal(out, again);            /* the same search, the same line */
    /* no query, no line; no key or no declarations: nothing in clear */
    assert_null(pds_query_pseudonymised(q, NULL, key, p));
    assert_string_equal(pds_query_pseudonymised(q, canonical, NULL, p), "-");
    out = pds_query_pseudonymised(NULL, "_page=3", key, p);
    assert_string_equal(out, apr_pstrcat(p, "_page=", pds_chain_pseudonym(p, key, "3"),
                                         NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_declarations),
        pds_test_with_pool(test_accepted_and_canonical),
        pds_test_with_pool(test_refused),
        pds_test_with_pool(test_refusal_shows_names_only),
        pds_test_with_pool(test_pseudonymised_for_the_audit_log),
    };

    return pds_test_main(tests, NULL, NULL);
}
