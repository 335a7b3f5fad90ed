/* test_portal_text.c: what the portal and the register show: the one HTML
 * escaping rule, label text, labels and their languages, Accept-Language,
 * the message catalogue, the form tokens, and an agreement's words for
 * people (Title, Description, Register, Changed). */
#include <string.h>

#include <apr_strings.h>

#include "pds_agreement.h"
#include "pds_csrf.h"
#include "pds_encode.h"
#include "pds_html.h"
#include "pds_labels.h"
#include "pds_test.h"

static void test_escape(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(pds_html_escape(p, NULL), "");
    assert_string_equal(pds_html_escape(p, ""), "");
    assert_string_equal(pds_html_escape(p, "Care needs"), "Care needs");
    assert_string_equal(pds_html_escape(p, "<script>alert('x')</script>"),
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    assert_string_equal(pds_html_escape(p, "a & \"b\""), "a &amp; &quot;b&quot;");
    assert_string_equal(pds_html_escape(p, "&amp;"), "&amp;amp;");
    /* controls dropped, tab and newline kept, UTF-8 untouched */
    assert_string_equal(pds_html_escape(p, "a\001b\tc\nd\177e"), "ab\tc\nde");
    assert_string_equal(pds_html_escape(p, "Siobh\xc3\xa1n"), "Siobh\xc3\xa1n");
    assert_string_equal(pds_html_escape(p, "\"><img src=x onerror=alert(1)>"),
                        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
}

static void test_plain_text(void **state)
{
    (void)state;
    assert_true(pds_html_is_plain_text("Fife Health Board", 100));
    assert_true(pds_html_is_plain_text("Anghenion gofal \xc3\xa2", 100));
    assert_true(pds_html_is_plain_text("\xf0\x9f\x98\x80", 4));
    assert_false(pds_html_is_plain_text("", 100));
    assert_false(pds_html_is_plain_text(NULL, 100));
    assert_false(pds_html_is_plain_text("a\tb", 100));
    assert_false(pds_html_is_plain_text("a\x7f", 100));
    assert_false(pds_html_is_plain_text("\xc0\xaf", 100));       /* overlong */
    assert_false(pds_html_is_plain_text("\xed\xa0\x80", 100));   /* surrogate */
    assert_false(pds_html_is_plain_text("\xc2\x85", 100));       /* C1 control */
    assert_false(pds_html_is_plain_text("\xe2\x82", 100));       /* cut short */
    assert_false(pds_html_is_plain_text("abcd", 3));
    assert_true(pds_html_is_plain_text("abc", 3));
    assert_false(pds_html_is_plain_text("\xf0\x9f\x98\x80", 3));
}

static void test_labels(void **state)
{
    apr_pool_t *p = *state;
    pds_labels_t *l;
    pds_error_t err;

    assert_int_equal(pds_labels_create(&l, p), APR_SUCCESS);
    assert_null(pds_labels_get(l, PDS_LABEL_FIELD, "care.needs", "en"));
    assert_null(pds_labels_get(NULL, PDS_LABEL_FIELD, "care.needs", "en"));
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "care.needs", "Care needs", NULL,
                                    &err), APR_SUCCESS);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "care.needs", "Anghenion gofal",
                                    "cy", &err), APR_SUCCESS);
    assert_string_equal(pds_labels_get(l, PDS_LABEL_FIELD, "care.needs", "en"), "Care needs");
    assert_string_equal(pds_labels_get(l, PDS_LABEL_FIELD, "care.needs", "cy"),
                        "Anghenion gofal");
    assert_string_equal(pds_labels_get(l, PDS_LABEL_FIELD, "care.needs", NULL), "Care needs");
    /* kinds are apart */
    assert_null(pds_labels_get(l, PDS_LABEL_ORGANISATION, "care.needs", "en"));
    /* a Welsh-only label is not shown in English */
    assert_int_equal(pds_labels_set(l, PDS_LABEL_PURPOSE, "direct-care", "Gofal uniongyrchol",
                                    "cy", &err), APR_SUCCESS);
    assert_null(pds_labels_get(l, PDS_LABEL_PURPOSE, "direct-care", "en"));
    /* twice in one language, an unknown language, bad text */
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "care.needs", "Needs", NULL, &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "bad-label");
    assert_contains(err.text, "already has a text");
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "dob", "Date de naissance", "fr",
                                    &err), APR_EINVAL);
    assert_contains(err.text, "en, cy");
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "dob", "", NULL, &err), APR_EINVAL);
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "dob", "a\nb", NULL, &err),
                     APR_EINVAL);
    pds_error_clear(&err);
    assert_int_equal(pds_labels_set(l, PDS_LABEL_FIELD, "dob", "\xff", NULL, &err),
                     APR_EINVAL);
}

static int count_key(void *baton, const char *key)
{
    (void)key;
    (*(int *)baton)++;
    return 0;
}

static void test_labels_each(void **state)
{
    apr_pool_t *p = *state;
    pds_labels_t *l;
    pds_error_t err;
    int n = 0;

    pds_labels_create(&l, p);
    pds_error_clear(&err);
    pds_labels_set(l, PDS_LABEL_ORGANISATION, "a", "A", NULL, &err);
    pds_labels_set(l, PDS_LABEL_ORGANISATION, "a", "A cy", "cy", &err);
    pds_labels_set(l, PDS_LABEL_ORGANISATION, "b", "B", NULL, &err);
    pds_labels_set(l, PDS_LABEL_FIELD, "c", "C", NULL, &err);
    pds_labels_each_key(l, PDS_LABEL_ORGANISATION, count_key, &n);
    assert_int_equal(n, 2);
}

static void test_negotiate(void **state)
{
    (void)state;
    assert_string_equal(pds_lang_negotiate(NULL), "en");
    assert_string_equal(pds_lang_negotiate(""), "en");
    assert_string_equal(pds_lang_negotiate("cy"), "cy");
    assert_string_equal(pds_lang_negotiate("cy-GB,cy;q=0.9,en;q=0.8"), "cy");
    assert_string_equal(pds_lang_negotiate("CY-gb"), "cy");
    assert_string_equal(pds_lang_negotiate("en-GB,en;q=0.9,cy;q=0.8"), "en");
    assert_string_equal(pds_lang_negotiate("fr, cy;q=0.5"), "cy");
    assert_string_equal(pds_lang_negotiate("fr"), "en");
    assert_string_equal(pds_lang_negotiate("cy;q=0, en"), "en");
    assert_string_equal(pds_lang_negotiate("cy;q=0"), "en");
    assert_string_equal(pds_lang_negotiate("en;q=0.3, cy;q=0.7"), "cy");
    assert_string_equal(pds_lang_negotiate("en;q=0.7, cy;q=0.7"), "en");
    assert_string_equal(pds_lang_negotiate("cym"), "en");     /* not a cy tag */
    assert_string_equal(pds_lang_negotiate("cy;q=bogus, en;q=0.1"), "en");
    assert_string_equal(pds_lang_negotiate("cy;q=1.0"), "cy");
    assert_string_equal(pds_lang_negotiate("*;q=0.5, cy;q=0.4"), "en");
    assert_string_equal(pds_lang_negotiate(" cy ; q=0.9 "), "cy");
}

static void test_catalogue(void **state)
{
    (void)state;
    assert_null(pds_msg_missing());
    assert_string_equal(pds_msg("en", "nav_disclosures"), "Who got my data");
    assert_string_equal(pds_msg("cy", "nav_disclosures"), "Pwy gafodd fy nata");
    assert_string_equal(pds_msg("fr", "nav_disclosures"), "Who got my data");
    assert_string_equal(pds_msg(NULL, "nav_disclosures"), "Who got my data");
    assert_string_equal(pds_msg("en", "no-such-message"), "[message missing]");
    assert_string_equal(pds_legal_basis_words("en", "consent"), "your consent");
    assert_string_equal(pds_legal_basis_words("cy", "public-task"), "tasg gyhoeddus");
    assert_null(pds_legal_basis_words("en", "whim"));
    assert_true(pds_lang_known("cy"));
    assert_false(pds_lang_known("CY"));
    assert_false(pds_lang_known(NULL));
}

static void test_csrf(void **state)
{
    apr_pool_t *p = *state;
    unsigned char key[PDS_CSRF_KEY_LEN], other[PDS_CSRF_KEY_LEN];
    apr_time_t now = apr_time_from_sec(1790000000);
    char *tok, *bad;

    memset(other, 7, sizeof(other));
    assert_int_equal(pds_csrf_derive_key(key, (const unsigned char *)"secret", 6), 0);
    tok = pds_csrf_token(p, key, sizeof(key), "9836900608", now);
    assert_non_null(tok);
    assert_true(strlen(tok) <= PDS_CSRF_TOKEN_MAX);
    assert_true(pds_csrf_check(key, sizeof(key), "9836900608", tok, now));
    /* the next window still takes it; the one after does not */
    assert_true(pds_csrf_check(key, sizeof(key), "9836900608", tok,
                               now + apr_time_from_sec(PDS_CSRF_WINDOW)));
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", tok,
                                now + apr_time_from_sec(2 * PDS_CSRF_WINDOW)));
    /* not before it was made */
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", tok,
                                now - apr_time_from_sec(PDS_CSRF_WINDOW)));
    /* another person, another key */
    assert_false(pds_csrf_check(key, sizeof(key), "5627995564", tok, now));
    assert_false(pds_csrf_check(other, sizeof(other), "9836900608", tok, now));
    /* missing, empty, malformed, tampered */
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", NULL, now));
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", "", now));
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", ".", now));
    assert_false(pds_csrf_check(key, sizeof(key), NULL, tok, now));
    bad = apr_pstrdup(p, tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", bad, now));
    bad = apr_pstrcat(p, tok, "x", NULL);
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", bad, now));
    bad = apr_pstrcat(p, "-", tok, NULL);
    assert_false(pds_csrf_check(key, sizeof(key), "9836900608", bad, now));
    /* a token of the same window for the person is the same text */
    assert_string_equal(tok, pds_csrf_token(p, key, sizeof(key), "9836900608",
                                            now + apr_time_from_sec(1)));
}

/* The one HMAC of lib/ (the chain's and the tokens'): RFC 4231 case 2, in
 * one part and in two. */
static void test_hmac(void **state)
{
    unsigned char out[32];
    char hex[65];

    (void)state;
    assert_true(pds_hmac_sha256(out, (const unsigned char *)"Jefe", 4,
                                "what do ya want for nothing?", 28, NULL, 0));
    pds_hex_encode(hex, out, sizeof(out));
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(out, 0, sizeof(out));
    assert_true(pds_hmac_sha256(out, (const unsigned char *)"Jefe", 4, "what do ya ", 11,
                                "want for nothing?", 17));
    pds_hex_encode(hex, out, sizeof(out));
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_false(pds_hmac_sha256(out, (const unsigned char *)"", 0, "x", 1, NULL, 0));
}

/* The one SHA-256 (FIPS 180-2 "abc" and the empty string), called twice so
 * the second call uses the implementation the first fetched. */
static void test_sha256(void **state)
{
    unsigned char out[32];
    char hex[65];
    int i;

    (void)state;
    for (i = 0; i < 2; i++) {
        assert_true(pds_sha256(out, "abc", 3));
        pds_hex_encode(hex, out, sizeof(out));
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
    assert_true(pds_sha256(out, "", 0));
    pds_hex_encode(hex, out, sizeof(out));
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static pds_agreement_t *build(apr_pool_t *p, const char *const *lines, pds_error_t *err)
{
    pds_agreement_t *a;
    int i;

    pds_error_clear(err);
    if (pds_agreement_create(&a, p, "hb-direct-care", err) != APR_SUCCESS)
        return NULL;
    for (i = 0; lines[i] != NULL; i += 2) {
        if (pds_agreement_set(a, lines[i], lines[i + 1], err) != APR_SUCCESS)
            return NULL;
    }
    return pds_agreement_finish(a, err) == APR_SUCCESS ? a : NULL;
}

static void test_agreement_words(void **state)
{
    apr_pool_t *p = *state;
    static const char *const base[] = {
        "Party", "health-board", "Purpose", "direct-care", "LegalBasis", "consent",
        "Valid", "2026-01-01 2027-12-31", "Resource", "GET /citizens/{subject}/record",
        "Release", "name.given care.needs",
        "Title", "\"Direct care by your health board\"",
        "Title", "\"Gofal uniongyrchol\" cy",
        "Description", "'Your GP and hospital see your care needs.'",
        "Register", "hidden", "Changed", "2026-03-01", NULL
    };
    static const char *const plain[] = {
        "Party", "health-board", "Purpose", "direct-care", "LegalBasis", "consent",
        "Valid", "2026-01-01 2027-12-31", "Resource", "GET /citizens/{subject}/record",
        "Release", "name.given", NULL
    };
    static const char *const bad_lines[] = {
        "Title", "", "Title", "\"A\" fr", "Title", "\"A\" cy extra",
        "Register", "secret", "Changed", "2026-13-01", "Changed", "yesterday", NULL
    };
    pds_agreement_t *a;
    pds_error_t err;
    int i;

    a = build(p, base, &err);
    assert_non_null(a);
    assert_string_equal(pds_agreement_title(a, "en"), "Direct care by your health board");
    assert_string_equal(pds_agreement_title(a, "cy"), "Gofal uniongyrchol");
    assert_string_equal(pds_agreement_description(a, "cy"),
                        "Your GP and hospital see your care needs.");
    assert_true(pds_agreement_hidden(a));
    assert_string_equal(pds_agreement_changed(a), "2026-03-01");

    a = build(p, plain, &err);
    assert_non_null(a);
    assert_null(pds_agreement_title(a, "en"));
    assert_null(pds_agreement_description(a, "en"));
    assert_false(pds_agreement_hidden(a));
    assert_null(pds_agreement_changed(a));

    for (i = 0; bad_lines[i] != NULL; i += 2) {
        pds_agreement_t *b;
        pds_error_clear(&err);
        assert_int_equal(pds_agreement_create(&b, p, "x", &err), APR_SUCCESS);
        if (pds_agreement_set(b, bad_lines[i], bad_lines[i + 1], &err) != APR_EINVAL)
            fail_msg("%s %s was accepted", bad_lines[i], bad_lines[i + 1]);
        assert_string_equal(err.code, "bad-agreement");
    }
    /* once each */
    pds_error_clear(&err);
    assert_int_equal(pds_agreement_create(&a, p, "y", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "Register", "listed", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "Register", "listed", &err), APR_EINVAL);
    assert_int_equal(pds_agreement_set(a, "Title", "A", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "Title", "B", &err), APR_EINVAL);
    assert_int_equal(pds_agreement_set(a, "Changed", "2026-01-01", &err), APR_SUCCESS);
    assert_int_equal(pds_agreement_set(a, "Changed", "2026-01-02", &err), APR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_escape),
        cmocka_unit_test(test_plain_text),
        pds_test_with_pool(test_labels),
        pds_test_with_pool(test_labels_each),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_catalogue),
        pds_test_with_pool(test_csrf),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_sha256),
        pds_test_with_pool(test_agreement_words),
    };

    return pds_test_main(tests, NULL, NULL);
}
