/* test_transform.c: field value transforms (pds_transform.h).
 *
 * Parsing (every name, canonical texts that read back, every refusal with its
 * position), then each transform on its own values and edges: leap days,
 * band edges, empty strings, non-ASCII text, numbers as strings, nulls, and
 * the kinds each one refuses. Every refusal is also checked never to put any
 * part of the value in the error text. Then known-answer pseudonyms,
 * allocation failure and threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <jansson.h>
#include <openssl/hmac.h>

#include "pds_test.h"
#include "pds_jws.h"
#include "pds_transform.h"

/* ---- helpers -------------------------------------------------------------- */

typedef struct fixture_t {
    apr_pool_t *pool;
    unsigned char key1[32];         /* agreement "agr-1" */
    unsigned char key2[32];         /* agreement "agr-2" */
    pds_transform_ctx_t ctx;        /* now 2026-03-01T12:00:00Z, key1 */
} fixture_t;

/* 32 bytes 0x01..0x20: the master secret of the known-answer vectors. */
static void test_master(unsigned char master[32])
{
    int i;

    for (i = 0; i < 32; i++)
        master[i] = (unsigned char)(i + 1);
}

static apr_time_t utc(int y, int m, int d, int hh, int mi, int ss)
{
    apr_time_exp_t e = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d,
                         .tm_hour = hh, .tm_min = mi, .tm_sec = ss };
    apr_time_t t;

    assert_int_equal(apr_time_exp_gmt_get(&t, &e), APR_SUCCESS);
    return t;
}

static int fixture_setup(void **state)
{
    apr_pool_t *pool;
    fixture_t *f;
    unsigned char master[32];

    if (apr_pool_create(&pool, pds_test_root()) != APR_SUCCESS)
        return -1;
    f = apr_pcalloc(pool, sizeof(*f));
    f->pool = pool;
    test_master(master);
    if (pds_pseudonym_agreement_key(f->key1, master, 32, "agr-1") != APR_SUCCESS
        || pds_pseudonym_agreement_key(f->key2, master, 32, "agr-2") != APR_SUCCESS)
        return -1;
    f->ctx.now = utc(2026, 3, 1, 12, 0, 0);
    f->ctx.key = f->key1;
    *state = f;
    return 0;
}

/* The fixture lives in its own pool. */
static int fixture_teardown(void **state)
{
    apr_pool_destroy(((fixture_t *)*state)->pool);
    return 0;
}

static pds_transform_t *parse_ok(apr_pool_t *p, const char *text)
{
    pds_transform_t *t = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_transform_parse(&t, p, text, &err) != APR_SUCCESS)
        fail_msg("parsing '%s': %s at %d: %s", text, err.code, err.position, err.text);
    assert_false(pds_error_is_set(&err));
    assert_non_null(t);
    return t;
}

/* Parsing fails with "bad-transform" at pos, and the text holds needle. */
static void parse_fails(apr_pool_t *p, const char *text, int pos, const char *needle)
{
    pds_transform_t *sentinel = (pds_transform_t *)&sentinel, *t = sentinel;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_transform_parse(&t, p, text, &err) == APR_SUCCESS)
        fail_msg("'%s' parsed as '%s'", text, pds_transform_text(t));
    assert_ptr_equal(t, sentinel);
    assert_string_equal(err.code, "bad-transform");
    assert_string_equal(err.source, "Transform");
    if (err.position != pos)
        fail_msg("'%s': position %d, want %d (%s)", text, err.position, pos, err.text);
    if (strstr(err.text, needle) == NULL)
        fail_msg("'%s': text '%s' lacks '%s'", text, err.text, needle);
}

/* Loads JSON text (any kind of value); the test owns the reference. */
static json_t *js(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    if (v == NULL)
        fail_msg("test JSON '%s': %s", text, jerr.text);
    return v;
}

static char *dump(apr_pool_t *p, json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *copy;

    assert_non_null(s);
    copy = apr_pstrdup(p, s);
    free(s);
    return copy;
}

/* Applies ttext to the JSON input; the output must equal the JSON want
 * exactly (kind included: 43 and 43.0 differ). want NULL: removed. */
static void check_ctx(fixture_t *f, const pds_transform_ctx_t *ctx,
                      const char *ttext, const char *input, const char *want)
{
    pds_transform_t *t = parse_ok(f->pool, ttext);
    json_t *v = js(input), *out = (json_t *)&out, *expected;
    char *before = dump(f->pool, v);
    size_t refs = v->refcount;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_transform_apply(t, v, ctx, &out, &err) != APR_SUCCESS)
        fail_msg("%s on %s: %s: %s", ttext, input, err.code, err.text);
    assert_false(pds_error_is_set(&err));
    /* The input is borrowed and left as it was. */
    assert_int_equal(v->refcount, refs);
    assert_string_equal(dump(f->pool, v), before);
    if (want == NULL) {
        assert_null(out);
    }
    else {
        assert_non_null(out);
        expected = js(want);
        if (!json_equal(out, expected) || json_typeof(out) != json_typeof(expected))
            fail_msg("%s on %s: got %s, want %s", ttext, input, dump(f->pool, out), want);
        json_decref(expected);
        json_decref(out);
    }
    json_decref(v);
}

static void check(fixture_t *f, const char *ttext, const char *input, const char *want)
{
    check_ctx(f, &f->ctx, ttext, input, want);
}

/* Applying ttext to input fails with code; the error text names the
 * transform, and holds no part of the value: neither its JSON text, nor its
 * string, nor (for strings of 4 or more bytes) any 4-byte piece of it. */
static void fails_ctx(fixture_t *f, const pds_transform_ctx_t *ctx,
                      const char *ttext, const char *input, const char *code)
{
    pds_transform_t *t = parse_ok(f->pool, ttext);
    json_t *v = js(input), *out = (json_t *)&out;
    const char *dumped = dump(f->pool, v);
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_transform_apply(t, v, ctx, &out, &err);
    if (rv == APR_SUCCESS)
        fail_msg("%s on %s gave %s, want %s", ttext, input,
                 out ? dump(f->pool, out) : "(removed)", code);
    assert_null(out);
    if (strcmp(err.code, code) != 0)
        fail_msg("%s on %s: %s (%s), want %s", ttext, input, err.code, err.text, code);
    assert_string_equal(err.source, pds_transform_name(t));
    assert_non_null(strstr(err.text, pds_transform_name(t)));
    if (strlen(dumped) > 2 && strstr(err.text, dumped) != NULL)
        fail_msg("%s: error text '%s' holds the value %s", ttext, err.text, dumped);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t i, n = strlen(s);

        for (i = 0; n >= 4 && i + 4 <= n; i++) {
            char piece[5];

            memcpy(piece, s + i, 4);
            piece[4] = '\0';
            if (strstr(err.text, piece) != NULL)
                fail_msg("%s: error text '%s' holds '%s' of the value", ttext,
                         err.text, piece);
        }
        if (n > 0 && n < 4 && strstr(err.text, s) != NULL)
            fail_msg("%s: error text '%s' holds the value", ttext, err.text);
    }
    json_decref(v);
}

static void fails(fixture_t *f, const char *ttext, const char *input)
{
    fails_ctx(f, &f->ctx, ttext, input, "transform-type");
}

/* The kinds a transform that takes only strings (and maybe numbers) refuses. */
static void refuses_containers_and_booleans(fixture_t *f, const char *ttext)
{
    fails(f, ttext, "true");
    fails(f, ttext, "false");
    fails(f, ttext, "{\"secret\":\"hidden-value\"}");
    fails(f, ttext, "[\"hidden-value\",1]");
    fails(f, ttext, "{}");
    fails(f, ttext, "[]");
}

/* ---- parsing -------------------------------------------------------------- */

static void test_parse_every_name_round_trips(void **state)
{
    fixture_t *f = *state;
    static const char *const canonical[] = {
        "redact", "nullify", "mask 4", "mask 0", "mask 64", "pseudonymise",
        "year", "year-month", "age-band 5", "age-band 1", "age-band 50",
        "postcode-district", "round 5", "round 0.5", "round 0.05", "round 1",
        "round 1000", "round 12.25", "round 999999999999999999",
        "round 0.000000000000000001", "truncate 1", "truncate 10000",
        "constant \"withheld\"", "constant \"\"", "constant \"true\"",
        "constant \"42\"", "constant \"a \\\"b\\\" \\\\ c\"",
        "constant \"two words\"", "constant \"Siobh\xc3\xa1n\"",
        "constant true", "constant false", "constant null", "constant 42",
        "constant -7", "constant 0", "constant -1.5", "constant 100.0",
        "constant 0.1", "constant 1e300", "constant 9223372036854775807",
        NULL
    };
    static const char *const names[] = {
        "redact", "nullify", "mask", "pseudonymise", "year", "year-month",
        "age-band", "postcode-district", "round", "truncate", "constant", NULL
    };
    int seen[11] = { 0 };
    int i, k;

    for (i = 0; canonical[i] != NULL; i++) {
        pds_transform_t *t = parse_ok(f->pool, canonical[i]), *again;
        size_t name_len = strcspn(canonical[i], " ");

        assert_string_equal(pds_transform_text(t), canonical[i]);
        assert_int_equal(strlen(pds_transform_name(t)), name_len);
        assert_memory_equal(pds_transform_name(t), canonical[i], name_len);
        again = parse_ok(f->pool, pds_transform_text(t));
        assert_string_equal(pds_transform_text(again), canonical[i]);
        assert_string_equal(pds_transform_name(again), pds_transform_name(t));
        for (k = 0; names[k] != NULL; k++) {
            if (strcmp(names[k], pds_transform_name(t)) == 0)
                seen[k]++;
        }
    }
    for (k = 0; names[k] != NULL; k++) {
        if (seen[k] == 0)
            fail_msg("no round trip for %s", names[k]);
    }
}

static void test_parse_canonicalises(void **state)
{
    fixture_t *f = *state;
    static const char *const pairs[][2] = {
        { "  mask   04 ", "mask 4" },
        { "\tage-band\t10\t", "age-band 10" },
        { "\"year\"", "year" },
        { "mask \"4\"", "mask 4" },
        { "round 0.50", "round 0.5" },
        { "round 1.0", "round 1" },
        { "round 007", "round 7" },
        { "round 00.250", "round 0.25" },
        { "round 100.00", "round 100" },
        { "constant withheld", "constant \"withheld\"" },
        { "constant 2026-01-01", "constant \"2026-01-01\"" },
        { "constant 1e2", "constant 100.0" },
        { "constant -0", "constant 0" },
        { "constant 0.10", "constant 0.1" },
        { "constant \"a\\qb\"", "constant \"a\\\\qb\"" },   /* unknown escape kept */
        { "constant a\\b", "constant \"a\\\\b\"" },
        { "constant \"tab\there\"", "constant \"tab\there\"" },
        { "constant \xc3\xa9t\xc3\xa9", "constant \"\xc3\xa9t\xc3\xa9\"" },
        { NULL, NULL }
    };
    int i;

    for (i = 0; pairs[i][0] != NULL; i++) {
        pds_transform_t *t = parse_ok(f->pool, pairs[i][0]);

        if (strcmp(pds_transform_text(t), pairs[i][1]) != 0)
            fail_msg("'%s' gave '%s', want '%s'", pairs[i][0], pds_transform_text(t),
                     pairs[i][1]);
        /* The canonical form reads back to itself. */
        assert_string_equal(pds_transform_text(parse_ok(f->pool, pairs[i][1])),
                            pairs[i][1]);
    }
    /* What a constant holds, kind included. */
    check(f, "constant \"a\\qb\"", "1", "\"a\\\\qb\"");
    check(f, "constant a\\b", "1", "\"a\\\\b\"");
    check(f, "constant \"say \\\"hi\\\"\"", "1", "\"say \\\"hi\\\"\"");
}

static void test_parse_errors(void **state)
{
    fixture_t *f = *state;

    parse_fails(f->pool, "", 0, "redact, nullify, mask");
    parse_fails(f->pool, "   ", 3, "postcode-district");
    parse_fails(f->pool, "blur 3", 0, "unknown transform \"blur\"");
    parse_fails(f->pool, "blur 3", 0, "redact, nullify, mask, pseudonymise, year, "
                "year-month, age-band, postcode-district, round, truncate, constant");
    parse_fails(f->pool, "  Mask 4", 2, "unknown transform");          /* case matters */
    parse_fails(f->pool, "pseudonymize", 0, "unknown transform");
    parse_fails(f->pool, "mask", 4, "mask needs N");
    parse_fails(f->pool, "mask   ", 7, "mask needs N");
    parse_fails(f->pool, "mask 65", 5, "from 0 to 64");
    parse_fails(f->pool, "mask -1", 5, "from 0 to 64");
    parse_fails(f->pool, "mask +4", 5, "from 0 to 64");
    parse_fails(f->pool, "mask four", 5, "whole number");
    parse_fails(f->pool, "mask 4.0", 5, "whole number");
    parse_fails(f->pool, "mask \"\"", 5, "whole number");
    parse_fails(f->pool, "mask 99999999999999999999999", 5, "from 0 to 64");
    parse_fails(f->pool, "mask 4 5", 7, "one argument");
    parse_fails(f->pool, "redact x", 7, "redact takes no argument");
    parse_fails(f->pool, "year 2", 5, "year takes no argument");
    parse_fails(f->pool, "year-month x", 11, "takes no argument");
    parse_fails(f->pool, "nullify null", 8, "takes no argument");
    parse_fails(f->pool, "pseudonymise key", 13, "takes no argument");
    parse_fails(f->pool, "postcode-district 3", 18, "takes no argument");
    parse_fails(f->pool, "age-band", 8, "age-band needs W");
    parse_fails(f->pool, "age-band 0", 9, "from 1 to 50");
    parse_fails(f->pool, "age-band 51", 9, "from 1 to 50");
    parse_fails(f->pool, "age-band 5 10", 11, "one argument");
    parse_fails(f->pool, "truncate", 8, "truncate needs N");
    parse_fails(f->pool, "truncate 0", 9, "from 1 to 10000");
    parse_fails(f->pool, "truncate 10001", 9, "from 1 to 10000");
    parse_fails(f->pool, "round", 5, "round needs STEP");
    parse_fails(f->pool, "round 0", 6, "positive");
    parse_fails(f->pool, "round 0.000", 6, "positive");
    parse_fails(f->pool, "round -5", 6, "positive");
    parse_fails(f->pool, "round 1e3", 6, "positive");
    parse_fails(f->pool, "round .5", 6, "positive");
    parse_fails(f->pool, "round 5.", 6, "positive");
    parse_fails(f->pool, "round 1.2.3", 6, "positive");
    parse_fails(f->pool, "round five", 6, "positive");
    parse_fails(f->pool, "round 1234567890123456789", 6, "significant digits");
    parse_fails(f->pool, "round 0.0000000000000000001", 6, "decimals");
    parse_fails(f->pool, "round 5 5", 8, "one argument");
    parse_fails(f->pool, "constant", 8, "constant needs VALUE");
    parse_fails(f->pool, "constant {}", 9, "not an object or array");
    parse_fails(f->pool, "constant [1,2]", 9, "not an object or array");
    parse_fails(f->pool, "constant {not-json", 9, "not an object or array");
    parse_fails(f->pool, "constant withheld by agreement", 18, "quote a VALUE");
    parse_fails(f->pool, "constant \"unterminated", 9, "no closing quote");
    parse_fails(f->pool, "constant \"a\"b", 12, "closing quote");
    parse_fails(f->pool, "constant a\"b\"", 10, "a quote can only start a word");
    parse_fails(f->pool, "constant 99999999999999999999", 9, "out of range");
    parse_fails(f->pool, "constant -9223372036854775809", 9, "out of range");
    parse_fails(f->pool, "constant 1e999", 9, "out of range");
    parse_fails(f->pool, "constant \xc3\x28", 9, "UTF-8");
    parse_fails(f->pool, "constant \"\xed\xa0\x80\"", 9, "UTF-8");   /* a surrogate */
    parse_fails(f->pool, "constant \xc0\xaf", 9, "UTF-8");           /* overlong */
    parse_fails(f->pool, "mask 4\n", 6, "control character");
    parse_fails(f->pool, "constant \"a\nb\"", 11, "control character");
}

static void test_parse_arguments_and_accessors(void **state)
{
    fixture_t *f = *state;
    pds_transform_t *t = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_transform_parse(NULL, f->pool, "year", &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-transform");
    assert_int_equal(pds_transform_parse(&t, f->pool, NULL, NULL), APR_EINVAL);
    assert_int_equal(pds_transform_parse(&t, NULL, "year", NULL), APR_EINVAL);
    assert_null(t);
    /* err NULL is allowed. */
    assert_int_equal(pds_transform_parse(&t, f->pool, "blur", NULL), APR_EINVAL);
    assert_null(pds_transform_name(NULL));
    assert_null(pds_transform_text(NULL));
    assert_false(pds_transform_removes(NULL));
    assert_false(pds_transform_needs_key(NULL));
}

static void test_flags(void **state)
{
    fixture_t *f = *state;
    static const char *const all[] = {
        "redact", "nullify", "mask 2", "pseudonymise", "year", "year-month",
        "age-band 10", "postcode-district", "round 5", "truncate 3", "constant 1", NULL
    };
    int i;

    for (i = 0; all[i] != NULL; i++) {
        pds_transform_t *t = parse_ok(f->pool, all[i]);

        assert_int_equal(pds_transform_removes(t) != 0, strcmp(all[i], "redact") == 0);
        assert_int_equal(pds_transform_needs_key(t) != 0,
                         strcmp(all[i], "pseudonymise") == 0);
    }
}

/* ---- apply: every transform on null ----------------------------------------- */

static void test_nulls(void **state)
{
    fixture_t *f = *state;
    static const char *const to_null[] = {
        "nullify", "mask 4", "mask 0", "pseudonymise", "year", "year-month",
        "age-band 10", "postcode-district", "round 5", "round 0.5", "truncate 3", NULL
    };
    int i;

    for (i = 0; to_null[i] != NULL; i++)
        check(f, to_null[i], "null", "null");
    check(f, "redact", "null", NULL);
    check(f, "constant \"withheld\"", "null", "\"withheld\"");
    check(f, "constant 0", "null", "0");
    check(f, "constant null", "null", "null");
}

static void test_apply_arguments(void **state)
{
    fixture_t *f = *state;
    pds_transform_t *t = parse_ok(f->pool, "year");
    json_t *v = json_string("2024-02-29"), *out = v;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_transform_apply(NULL, v, &f->ctx, &out, &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-argument");
    assert_null(out);
    out = v;
    assert_int_equal(pds_transform_apply(t, NULL, &f->ctx, &out, NULL), APR_EINVAL);
    assert_null(out);
    assert_int_equal(pds_transform_apply(t, v, &f->ctx, NULL, NULL), APR_EINVAL);
    /* year and the others need no context at all. */
    check_ctx(f, NULL, "year", "\"2024-02-29\"", "\"2024\"");
    check_ctx(f, NULL, "mask 1", "\"abc\"", "\"**c\"");
    /* age-band does. */
    fails_ctx(f, NULL, "age-band 10", "\"2000-01-01\"", "bad-argument");
    json_decref(v);
}

/* ---- redact, nullify, constant ---------------------------------------------- */

static void test_redact_and_nullify(void **state)
{
    fixture_t *f = *state;
    static const char *const inputs[] = {
        "\"x\"", "\"\"", "42", "-1.5", "true", "false", "null", "{}",
        "{\"a\":[1,{\"b\":2}]}", "[]", "[1,2,3]", NULL
    };
    int i;

    for (i = 0; inputs[i] != NULL; i++) {
        check(f, "redact", inputs[i], NULL);
        check(f, "nullify", inputs[i], "null");
        check_ctx(f, NULL, "redact", inputs[i], NULL);
    }
}

static void test_constant(void **state)
{
    fixture_t *f = *state;
    static const char *const inputs[] = {
        "\"Siobh\\u00e1n\"", "\"\"", "42", "-1.5", "true", "null", "{\"a\":1}", "[1]", NULL
    };
    int i;

    for (i = 0; inputs[i] != NULL; i++) {
        check(f, "constant \"withheld\"", inputs[i], "\"withheld\"");
        check(f, "constant withheld", inputs[i], "\"withheld\"");
        check(f, "constant \"\"", inputs[i], "\"\"");
        check(f, "constant \"true\"", inputs[i], "\"true\"");
        check(f, "constant true", inputs[i], "true");
        check(f, "constant false", inputs[i], "false");
        check(f, "constant null", inputs[i], "null");
        check(f, "constant 0", inputs[i], "0");
        check(f, "constant \"0\"", inputs[i], "\"0\"");
        check(f, "constant -1.5", inputs[i], "-1.5");
        check(f, "constant 1e2", inputs[i], "100.0");
        check(f, "constant 2026-01-01", inputs[i], "\"2026-01-01\"");
    }
    /* Each apply hands out its own value: the configured one is untouched. */
    {
        pds_transform_t *t = parse_ok(f->pool, "constant \"withheld\"");
        json_t *v = json_integer(1), *a = NULL, *b = NULL;

        assert_int_equal(pds_transform_apply(t, v, NULL, &a, NULL), APR_SUCCESS);
        assert_int_equal(pds_transform_apply(t, v, NULL, &b, NULL), APR_SUCCESS);
        assert_ptr_not_equal(a, b);
        assert_int_equal(a->refcount, 1);
        assert_true(json_string_set(a, "changed") == 0);
        assert_string_equal(json_string_value(b), "withheld");
        json_decref(a);
        json_decref(b);
        assert_int_equal(pds_transform_apply(t, v, NULL, &a, NULL), APR_SUCCESS);
        assert_string_equal(json_string_value(a), "withheld");
        json_decref(a);
        json_decref(v);
    }
}

/* ---- mask and truncate ------------------------------------------------------- */

static void test_mask(void **state)
{
    fixture_t *f = *state;

    check(f, "mask 4", "\"4111111111111111\"", "\"************1111\"");
    check(f, "mask 4", "\"abcde\"", "\"*bcde\"");
    /* N or fewer characters: masked entirely. */
    check(f, "mask 4", "\"abcd\"", "\"****\"");
    check(f, "mask 4", "\"abc\"", "\"***\"");
    check(f, "mask 4", "\"a\"", "\"*\"");
    check(f, "mask 1", "\"ab\"", "\"*b\"");
    check(f, "mask 0", "\"abc\"", "\"***\"");
    check(f, "mask 64", "\"abc\"", "\"***\"");
    /* Empty: empty. */
    check(f, "mask 4", "\"\"", "\"\"");
    check(f, "mask 0", "\"\"", "\"\"");
    /* Characters, not bytes: one "*" per character. */
    check(f, "mask 2", "\"Siobh\\u00e1n\"", "\"*****\\u00E1n\"");
    check(f, "mask 1", "\"Siobh\\u00e1n\"", "\"******n\"");
    check(f, "mask 7", "\"Siobh\\u00e1n\"", "\"*******\"");
    check(f, "mask 1", "\"a\\ud83d\\ude00b\"", "\"**b\"");           /* U+1F600 */
    check(f, "mask 2", "\"a\\ud83d\\ude00b\"", "\"*\\ud83d\\ude00b\"");
    check(f, "mask 2", "\"\\u4e2d\\u6587\\u540d\"", "\"*\\u6587\\u540d\"");
    /* Numbers: masked as their decimal text; the result is a string. */
    check(f, "mask 2", "123456", "\"****56\"");
    check(f, "mask 1", "-42", "\"**2\"");
    check(f, "mask 2", "3.14", "\"**14\"");
    check(f, "mask 3", "100.0", "\"**0.0\"");
    check(f, "mask 2", "12", "\"**\"");
    check(f, "mask 0", "7", "\"*\"");
    refuses_containers_and_booleans(f, "mask 4");
}

static void test_truncate(void **state)
{
    fixture_t *f = *state;

    check(f, "truncate 6", "\"Siobh\\u00e1n\"", "\"Siobh\\u00e1\"");
    check(f, "truncate 5", "\"Siobh\\u00e1n\"", "\"Siobh\"");
    check(f, "truncate 7", "\"Siobh\\u00e1n\"", "\"Siobh\\u00e1n\"");
    check(f, "truncate 10000", "\"Siobh\\u00e1n\"", "\"Siobh\\u00e1n\"");
    check(f, "truncate 1", "\"\\ud83d\\ude00b\"", "\"\\ud83d\\ude00\"");
    check(f, "truncate 2", "\"\\u4e2d\\u6587\\u540d\"", "\"\\u4e2d\\u6587\"");
    check(f, "truncate 3", "\"abc\"", "\"abc\"");
    check(f, "truncate 1", "\"abc\"", "\"a\"");
    check(f, "truncate 1", "\"\"", "\"\"");
    check(f, "truncate 3", "\"\"", "\"\"");
    fails(f, "truncate 3", "123456");
    fails(f, "truncate 3", "-1.5");
    refuses_containers_and_booleans(f, "truncate 3");
}

/* ---- pseudonymise -------------------------------------------------------- */

/* The expected pseudonym, computed here with OpenSSL's one-shot HMAC. */
static char *reference_pseudonym(apr_pool_t *p, const unsigned char key[32],
                                 const char *value, size_t len)
{
    unsigned char mac[32];
    unsigned int n = 0;

    assert_non_null(HMAC(EVP_sha256(), key, 32, (const unsigned char *)value, len,
                         mac, &n));
    assert_int_equal(n, 32);
    return apr_pstrcat(p, "ps_", pds_base64url_encode(p, mac, 16), NULL);
}

static void test_pseudonym_known_answers(void **state)
{
    fixture_t *f = *state;
    static const unsigned char want_key1[32] = {
        0x9f, 0xba, 0x54, 0xb2, 0x5e, 0x67, 0xc8, 0xf7, 0x05, 0xe8, 0x23, 0xb5,
        0xf0, 0x36, 0x57, 0xa7, 0xbb, 0xb7, 0x40, 0x6f, 0xfb, 0xda, 0x55, 0x0c,
        0xea, 0xfc, 0x6c, 0xc4, 0x4d, 0x41, 0xc3, 0x2d
    };
    unsigned char master[32], k[32], mac[32];
    unsigned int n = 0;
    const char *msg = "pds-pseudonym-v1:agr-1";

    /* The key: HMAC-SHA-256(master, "pds-pseudonym-v1:" || id). */
    assert_memory_equal(f->key1, want_key1, 32);
    test_master(master);
    assert_non_null(HMAC(EVP_sha256(), master, 32, (const unsigned char *)msg,
                         strlen(msg), mac, &n));
    assert_memory_equal(f->key1, mac, 32);
    assert_memory_not_equal(f->key1, f->key2, 32);

    /* Vectors computed independently (Python's hmac module). */
    assert_string_equal(pds_pseudonym(f->pool, f->key1, "alice", 5), "ps_jaALi0SzedwaoTXrvYTeIA");
    assert_string_equal(pds_pseudonym(f->pool, f->key1, "", 0), "ps_xK3iYcSoKoTH9t4jOazdNw");
    assert_string_equal(pds_pseudonym(f->pool, f->key1, "42", 2), "ps_7IzoQCiujunPm-ofT3Q-gw");
    assert_string_equal(pds_pseudonym(f->pool, f->key2, "alice", 5), "ps_oh8oIKRns6Ctun0FTrCSGQ");
    assert_string_equal(pds_pseudonym(f->pool, f->key2, "", 0), "ps_EKE0aWLRc5LiEXwmb1HAIg");
    /* value is exactly len bytes: no NUL needed, and NUL counts. */
    assert_string_equal(pds_pseudonym(f->pool, f->key1, "aliceXYZ", 5),
                        "ps_jaALi0SzedwaoTXrvYTeIA");
    assert_string_equal(pds_pseudonym(f->pool, f->key1, "a\0b", 3),
                        reference_pseudonym(f->pool, f->key1, "a\0b", 3));
    assert_string_not_equal(pds_pseudonym(f->pool, f->key1, "a\0b", 3),
                            pds_pseudonym(f->pool, f->key1, "a", 1));
    assert_int_equal(strlen(pds_pseudonym(f->pool, f->key1, "x", 1)), 25);
    assert_null(pds_pseudonym(f->pool, NULL, "x", 1));
    assert_null(pds_pseudonym(f->pool, f->key1, NULL, 1));
    /* The key made ready once gives the same pseudonyms, value after value. */
    {
        pds_hmac_t *h = pds_hmac_create(f->pool, f->key1, 32);
        static const char *const values[] = { "alice", "", "42", "a\0b", "Siobh\xc3\xa1n" };
        static const apr_size_t lens[] = { 5, 0, 2, 3, 8 };
        int round, i;

        assert_non_null(h);
        for (round = 0; round < 3; round++)
            for (i = 0; i < 5; i++)
                assert_string_equal(pds_pseudonym_hmac(f->pool, h, values[i], lens[i]),
                                    reference_pseudonym(f->pool, f->key1, values[i], lens[i]));
        assert_null(pds_pseudonym_hmac(f->pool, NULL, "x", 1));
        assert_null(pds_pseudonym_hmac(f->pool, h, NULL, 1));
        assert_null(pds_hmac_create(f->pool, NULL, 32));
        assert_null(pds_hmac_create(f->pool, f->key1, 0));
    }

    /* Refusals. */
    assert_int_equal(pds_pseudonym_agreement_key(k, master, 15, "agr-1"), APR_EINVAL);
    assert_int_equal(pds_pseudonym_agreement_key(k, master, 16, "agr-1"), APR_SUCCESS);
    assert_int_equal(pds_pseudonym_agreement_key(k, NULL, 32, "agr-1"), APR_EINVAL);
    assert_int_equal(pds_pseudonym_agreement_key(k, master, 32, ""), APR_EINVAL);
    assert_int_equal(pds_pseudonym_agreement_key(k, master, 32, NULL), APR_EINVAL);
    assert_int_equal(pds_pseudonym_agreement_key(NULL, master, 32, "agr-1"), APR_EINVAL);
    /* The id is all of the message: a longer id is another key. */
    assert_int_equal(pds_pseudonym_agreement_key(k, master, 32, "agr-10"), APR_SUCCESS);
    assert_memory_not_equal(k, f->key1, 32);
}

static void test_pseudonymise(void **state)
{
    fixture_t *f = *state;
    pds_transform_ctx_t other = f->ctx, nokey = f->ctx, ready = f->ctx;
    char *want;

    other.key = f->key2;
    nokey.key = NULL;
    ready.hmac = pds_hmac_create(f->pool, f->key1, 32);
    /* The key made ready for the request: the same pseudonyms. */
    check_ctx(f, &ready, "pseudonymise", "\"alice\"", "\"ps_jaALi0SzedwaoTXrvYTeIA\"");
    check_ctx(f, &ready, "pseudonymise", "\"\"", "\"ps_xK3iYcSoKoTH9t4jOazdNw\"");
    check_ctx(f, &ready, "pseudonymise", "42", "\"ps_7IzoQCiujunPm-ofT3Q-gw\"");
    /* Stable for one key, different across agreements. */
    check(f, "pseudonymise", "\"alice\"", "\"ps_jaALi0SzedwaoTXrvYTeIA\"");
    check(f, "pseudonymise", "\"alice\"", "\"ps_jaALi0SzedwaoTXrvYTeIA\"");
    check_ctx(f, &other, "pseudonymise", "\"alice\"", "\"ps_oh8oIKRns6Ctun0FTrCSGQ\"");
    /* The empty string has a pseudonym of its own. */
    check(f, "pseudonymise", "\"\"", "\"ps_xK3iYcSoKoTH9t4jOazdNw\"");
    check_ctx(f, &other, "pseudonymise", "\"\"", "\"ps_EKE0aWLRc5LiEXwmb1HAIg\"");
    /* Numbers: their decimal text, so 42 and "42" agree. */
    check(f, "pseudonymise", "42", "\"ps_7IzoQCiujunPm-ofT3Q-gw\"");
    check(f, "pseudonymise", "\"42\"", "\"ps_7IzoQCiujunPm-ofT3Q-gw\"");
    check(f, "pseudonymise", "3.5", "\"ps_fKqThGHpgF7H756B5YNvVA\"");
    want = apr_psprintf(f->pool, "\"%s\"", pds_pseudonym(f->pool, f->key1, "100.0", 5));
    check(f, "pseudonymise", "1e2", want);
    want = apr_psprintf(f->pool, "\"%s\"", pds_pseudonym(f->pool, f->key1, "-7", 2));
    check(f, "pseudonymise", "-7", want);
    /* Non-ASCII: the UTF-8 bytes. */
    want = apr_psprintf(f->pool, "\"%s\"",
                        reference_pseudonym(f->pool, f->key1, "Siobh\xc3\xa1n", 8));
    check(f, "pseudonymise", "\"Siobh\\u00e1n\"", want);
    refuses_containers_and_booleans(f, "pseudonymise");
    /* No key: refused, whatever the value, null included. */
    fails_ctx(f, &nokey, "pseudonymise", "\"alice\"", "transform-key");
    fails_ctx(f, &nokey, "pseudonymise", "null", "transform-key");
    fails_ctx(f, &nokey, "pseudonymise", "true", "transform-key");
    fails_ctx(f, NULL, "pseudonymise", "\"alice\"", "transform-key");
}

/* ---- year, year-month -------------------------------------------------------- */

static void test_year_and_month(void **state)
{
    fixture_t *f = *state;
    static const char *const bad_dates[] = {
        "\"2023-02-29\"", "\"1900-02-29\"", "\"2024-02-30\"", "\"2024-04-31\"",
        "\"2024-13-01\"", "\"2024-00-10\"", "\"2024-01-00\"", "\"2024-01-32\"",
        "\"2024-1-05\"", "\"24-01-05\"", "\"20240105\"", "\"2024/01/05\"",
        "\"\"", "\" 2024-01-05\"", "\"2024-01-05 \"", "\"2024-01-05T\"",
        "\"2024-01-05T10:20:30\"", "\"2024-01-05T10:20Z\"", "\"2024-01-05Z\"",
        "\"2024-01-05T24:00:00Z\"", "\"2024-01-05T10:60:00Z\"",
        "\"2024-01-05T10:20:61Z\"", "\"2024-01-05T10:20:30.Z\"",
        "\"2024-01-05T10:20:30+0100\"", "\"2024-01-05T10:20:30+24:00\"",
        "\"2024-01-05T10:20:30+01:60\"", "\"2024-01-05T10:20:30Zjunk\"",
        "\"2024-01-05x10:20:30Z\"", "\"+2024-01-05\"", "\"2024-\\uff101-05\"",
        "\"2023-02-29T00:00:00Z\"", "\"2024-02-29\\u0000\"",
        "\"xyzzy plugh\"", "20240105", "2024", "-1.5", NULL
    };
    int i;

    check(f, "year", "\"2024-02-29\"", "\"2024\"");
    check(f, "year-month", "\"2024-02-29\"", "\"2024-02\"");
    check(f, "year", "\"2000-02-29\"", "\"2000\"");
    check(f, "year", "\"1985-07-14\"", "\"1985\"");
    check(f, "year-month", "\"1985-07-14\"", "\"1985-07\"");
    check(f, "year", "\"0001-01-01\"", "\"0001\"");
    check(f, "year-month", "\"9999-12-31\"", "\"9999-12\"");
    /* RFC 3339 date-times: the date as written, no conversion to UTC. */
    check(f, "year", "\"1985-07-14T10:20:30Z\"", "\"1985\"");
    check(f, "year-month", "\"1985-07-14t10:20:30.123456z\"", "\"1985-07\"");
    check(f, "year", "\"1985-12-31T23:30:00-05:00\"", "\"1985\"");
    check(f, "year-month", "\"1986-01-01T00:30:00+02:00\"", "\"1986-01\"");
    check(f, "year-month", "\"1985-07-14 10:20:30+01:00\"", "\"1985-07\"");
    check(f, "year", "\"2016-12-31T23:59:60Z\"", "\"2016\"");        /* leap second */
    for (i = 0; bad_dates[i] != NULL; i++) {
        fails(f, "year", bad_dates[i]);
        fails(f, "year-month", bad_dates[i]);
        fails(f, "age-band 10", bad_dates[i]);
    }
    refuses_containers_and_booleans(f, "year");
    refuses_containers_and_booleans(f, "year-month");
}

/* ---- age-band -------------------------------------------------------------- */

static void band(fixture_t *f, int y, int m, int d, const char *ttext,
                 const char *dob, const char *want)
{
    pds_transform_ctx_t ctx = f->ctx;

    ctx.now = utc(y, m, d, 12, 0, 0);
    check_ctx(f, &ctx, ttext, dob, want);
}

static void band_fails(fixture_t *f, int y, int m, int d, const char *ttext,
                       const char *dob)
{
    pds_transform_ctx_t ctx = f->ctx;

    ctx.now = utc(y, m, d, 12, 0, 0);
    fails_ctx(f, &ctx, ttext, dob, "transform-type");
}

static void test_age_band(void **state)
{
    fixture_t *f = *state;
    pds_transform_ctx_t ctx = f->ctx;

    /* Born on 29 February: 1 March in common years, 29 February in leap years. */
    band(f, 2026, 2, 28, "age-band 1", "\"2000-02-29\"", "\"25\"");
    band(f, 2026, 3, 1, "age-band 1", "\"2000-02-29\"", "\"26\"");
    band(f, 2026, 2, 28, "age-band 5", "\"2000-02-29\"", "\"25-29\"");
    band(f, 2025, 2, 28, "age-band 5", "\"2000-02-29\"", "\"20-24\"");
    band(f, 2025, 3, 1, "age-band 5", "\"2000-02-29\"", "\"25-29\"");
    band(f, 2028, 2, 28, "age-band 1", "\"2000-02-29\"", "\"27\"");
    band(f, 2028, 2, 29, "age-band 1", "\"2000-02-29\"", "\"28\"");
    band(f, 2000, 2, 29, "age-band 1", "\"2000-02-29\"", "\"0\"");
    band(f, 2001, 2, 28, "age-band 1", "\"2000-02-29\"", "\"0\"");
    band(f, 2001, 3, 1, "age-band 1", "\"2000-02-29\"", "\"1\"");
    /* 2100 is a common year. */
    band(f, 2100, 2, 28, "age-band 1", "\"2096-02-29\"", "\"3\"");
    band(f, 2100, 3, 1, "age-band 1", "\"2096-02-29\"", "\"4\"");

    /* Band edges: on the birthday, and the day before. */
    band(f, 2026, 3, 1, "age-band 10", "\"1986-03-01\"", "\"40-49\"");
    band(f, 2026, 2, 28, "age-band 10", "\"1986-03-01\"", "\"30-39\"");
    band(f, 2026, 3, 1, "age-band 5", "\"1986-03-01\"", "\"40-44\"");
    band(f, 2026, 2, 28, "age-band 5", "\"1986-03-01\"", "\"35-39\"");
    band(f, 2026, 7, 14, "age-band 10", "\"1976-07-14\"", "\"50-59\"");
    band(f, 2026, 7, 13, "age-band 10", "\"1976-07-14\"", "\"40-49\"");
    band(f, 2026, 7, 15, "age-band 10", "\"1976-07-14\"", "\"50-59\"");
    /* Over a year end: 31 December and 1 January. */
    band(f, 2026, 12, 31, "age-band 1", "\"2000-12-31\"", "\"26\"");
    band(f, 2026, 12, 30, "age-band 1", "\"2000-12-31\"", "\"25\"");
    band(f, 2027, 1, 1, "age-band 1", "\"2000-01-01\"", "\"27\"");
    band(f, 2026, 12, 31, "age-band 1", "\"2000-01-01\"", "\"26\"");
    /* Widths: 1 gives one number, 50 the widest band. */
    band(f, 2026, 3, 1, "age-band 1", "\"1984-01-15\"", "\"42\"");
    band(f, 2026, 3, 1, "age-band 3", "\"1984-01-15\"", "\"42-44\"");
    band(f, 2026, 3, 1, "age-band 7", "\"1984-01-15\"", "\"42-48\"");
    band(f, 2026, 3, 1, "age-band 50", "\"1984-01-15\"", "\"0-49\"");
    band(f, 2026, 3, 1, "age-band 50", "\"1976-01-15\"", "\"50-99\"");
    /* Born today: 0. Date-times count by the date as written. */
    band(f, 2026, 3, 1, "age-band 10", "\"2026-03-01\"", "\"0-9\"");
    band(f, 2026, 3, 1, "age-band 10", "\"2026-03-01T23:59:59+14:00\"", "\"0-9\"");
    band(f, 2026, 3, 1, "age-band 1", "\"1984-03-01T00:00:00Z\"", "\"42\"");
    /* 150 is the oldest. */
    band(f, 2026, 3, 1, "age-band 50", "\"1876-03-01\"", "\"150-199\"");
    band(f, 2026, 3, 1, "age-band 1", "\"1875-03-02\"", "\"150\"");
    band_fails(f, 2026, 3, 1, "age-band 1", "\"1875-03-01\"");
    band_fails(f, 2026, 3, 1, "age-band 10", "\"0000-01-01\"");
    /* The future: tomorrow, next year. */
    band_fails(f, 2026, 3, 1, "age-band 10", "\"2026-03-02\"");
    band_fails(f, 2026, 3, 1, "age-band 10", "\"2027-01-01\"");
    band_fails(f, 2026, 2, 28, "age-band 10", "\"2026-03-01\"");
    band_fails(f, 2026, 3, 1, "age-band 10", "\"2026-03-02T00:00:00-12:00\"");
    /* The day is the UTC date of now: 23:59:59Z is still 1 March. */
    ctx.now = utc(2026, 3, 1, 23, 59, 59);
    check_ctx(f, &ctx, "age-band 1", "\"1986-03-01\"", "\"40\"");
    check_ctx(f, &ctx, "age-band 1", "\"1986-03-02\"", "\"39\"");
    fails_ctx(f, &ctx, "age-band 1", "\"2026-03-02\"", "transform-type");
    ctx.now = utc(2026, 3, 2, 0, 0, 0);
    check_ctx(f, &ctx, "age-band 1", "\"1986-03-02\"", "\"40\"");
    fails(f, "age-band 10", "1986");
    refuses_containers_and_booleans(f, "age-band 10");
}

/* ---- partial dates (FHIR "1980", "1980-06") ------------------------------------ */

static void test_partial_dates(void **state)
{
    fixture_t *f = *state;
    /* transform, input, output (NULL: refused); now is 2026-03-01 */
    static const char *const cases[][3] = {
        /* generalised only as far as the input goes */
        { "year", "\"1980\"", "\"1980\"" },
        { "year", "\"1980-06\"", "\"1980\"" },
        { "year-month", "\"1980-06\"", "\"1980-06\"" },
        { "year-month", "\"1980\"", NULL },
        { "year", "\"1980-13\"", NULL },
        { "year", "\"1980-6\"", NULL },
        { "year-month", "\"198\"", NULL },
        /* age-band: only when every day the date may mean is in one band */
        { "age-band 10", "\"1980\"", "\"40-49\"" },          /* 45 or 46 */
        { "age-band 10", "\"1980-06\"", "\"40-49\"" },
        { "age-band 10", "\"1976\"", NULL },                  /* 49 or 50 */
        { "age-band 10", "\"1976-04\"", "\"40-49\"" },       /* 49 */
        { "age-band 10", "\"1976-02\"", "\"50-59\"" },       /* 50 */
        { "age-band 10", "\"1976-03\"", NULL },               /* 49 or 50 */
        { "age-band 1", "\"1980\"", NULL },
        { "age-band 1", "\"1980-01\"", "\"46\"" },
        { "age-band 50", "\"1980\"", "\"0-49\"" },
        /* the year of now: its future days are no one's birthday */
        { "age-band 10", "\"2026\"", "\"0-9\"" },
        { "age-band 1", "\"2026-03\"", "\"0\"" },
        { "age-band 1", "\"2026-02\"", "\"0\"" },
        { "age-band 10", "\"2027\"", NULL },
        { "age-band 10", "\"2026-04\"", NULL },
        /* could be over 150: refused */
        { "age-band 50", "\"1875\"", NULL },
        { "age-band 50", "\"1876-03\"", NULL },               /* 149 or 150 */
        { "age-band 50", "\"1876-04\"", "\"100-149\"" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i][2] != NULL)
            check(f, cases[i][0], cases[i][1], cases[i][2]);
        else
            fails(f, cases[i][0], cases[i][1]);
    }
}

/* ---- postcode-district -------------------------------------------------------- */

static void test_postcode_district(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {
        "\"\"", "\"   \"", "\"KY99 8E\"", "\"KY99-8EU\"", "\"1Y99 8EU\"",
        "\"KY99 EEU\"", "\"KY99 88U\"", "\"KY99 8E8\"", "\"ABCDE 8EU\"",
        "\"K 8EU\"", "\"KY998EUX\"", "\"KY99 8EU 1\"", "\"K\\u00dd99 8EU\"",
        "\"KY99\\t8EU\"", "\"KY99\\n8EU\"", "\"KY99_8EU\"", "\"KY99 8\\u00c9U\"",
        "\"KY99\\u00a08EU\"", "\"\\uff2b\\uff39\\uff19\\uff19 8EU\"", "\"KY99\"",
        "998", "-1.5", NULL
    };
    int i;

    check(f, "postcode-district", "\"ky99 8eu\"", "\"KY99\"");
    check(f, "postcode-district", "\"KY998EU\"", "\"KY99\"");
    check(f, "postcode-district", "\" KY99  8EU \"", "\"KY99\"");
    check(f, "postcode-district", "\"k y 9 9 8 e u\"", "\"KY99\"");
    check(f, "postcode-district", "\"Ky99 8eU\"", "\"KY99\"");
    check(f, "postcode-district", "\"SW1A 1AA\"", "\"SW1A\"");
    check(f, "postcode-district", "\"M1 1AE\"", "\"M1\"");
    check(f, "postcode-district", "\"m11ae\"", "\"M1\"");
    check(f, "postcode-district", "\"B33 8TH\"", "\"B33\"");
    check(f, "postcode-district", "\"CR2 6XH\"", "\"CR2\"");
    check(f, "postcode-district", "\"DN55 1PT\"", "\"DN55\"");
    check(f, "postcode-district", "\"W1A 0AX\"", "\"W1A\"");
    for (i = 0; bad[i] != NULL; i++)
        fails(f, "postcode-district", bad[i]);
    refuses_containers_and_booleans(f, "postcode-district");
}

/* ---- round ------------------------------------------------------------------ */

static void test_round_numbers(void **state)
{
    fixture_t *f = *state;

    /* Integers with a whole step stay integers; halves away from zero. */
    check(f, "round 5", "42", "40");
    check(f, "round 5", "43", "45");
    check(f, "round 10", "45", "50");
    check(f, "round 10", "44", "40");
    check(f, "round 10", "-45", "-50");
    check(f, "round 10", "-44", "-40");
    check(f, "round 10", "-4", "0");
    check(f, "round 10", "0", "0");
    check(f, "round 1", "42", "42");
    check(f, "round 3", "4", "3");
    check(f, "round 3", "5", "6");
    check(f, "round 1000", "123456", "123000");
    check(f, "round 1.0", "42", "42");
    check(f, "round 999999999999999999", "1499999999999999998", "999999999999999999");
    check(f, "round 2", "9223372036854775806", "9223372036854775806");
    check(f, "round 1", "9223372036854775807", "9223372036854775807");
    check(f, "round 1", "-9223372036854775808", "-9223372036854775808");
    check(f, "round 8", "-9223372036854775808", "-9223372036854775808");
    check(f, "round 10", "9223372036854775804", "9223372036854775800");
    /* Out of 64 bits after rounding: refused. */
    fails(f, "round 10", "9223372036854775807");
    fails(f, "round 10", "-9223372036854775808");
    fails(f, "round 1000", "9223372036854775807");
    check(f, "round 3", "9223372036854775807", "9223372036854775806");

    /* Reals, and integers with a decimal step: reals, exact on the decimal
     * text (0.15 is a half to the reader, whatever its binary form). */
    check(f, "round 1", "42.7", "43.0");
    check(f, "round 1", "42.5", "43.0");
    check(f, "round 1", "42.4999", "42.0");
    check(f, "round 1", "-42.5", "-43.0");
    check(f, "round 1", "-0.4", "0.0");
    check(f, "round 0.1", "0.15", "0.2");
    check(f, "round 0.1", "0.25", "0.3");
    check(f, "round 0.1", "4.25", "4.3");
    check(f, "round 0.01", "1.005", "1.01");
    check(f, "round 0.5", "42", "42.0");
    check(f, "round 0.5", "42.74", "42.5");
    check(f, "round 0.5", "42.75", "43.0");
    check(f, "round 0.25", "42.74", "42.75");
    check(f, "round 0.3", "1.0", "0.9");
    check(f, "round 0.3", "1.05", "1.2");
    check(f, "round 5", "1e2", "100.0");
    check(f, "round 5", "1.7e1", "15.0");
    check(f, "round 1", "5e-324", "0.0");
    check(f, "round 1", "1e300", "1e300");
    check(f, "round 1000", "1.7976931348623157e308", "1.7976931348623157e308");
    check(f, "round 0.001", "0.1235", "0.124");
    check(f, "round 0.000000000000000001", "0.5", "0.5");
}

static void test_round_strings(void **state)
{
    fixture_t *f = *state;
    static const char *const bad[] = {
        "\"\"", "\"42.\"", "\".5\"", "\"+42\"", "\" 42\"", "\"42 \"", "\"4e2\"",
        "\"abc\"", "\"--1\"", "\"1,000\"", "\"1.2.3\"", "\"-\"", "\"0x10\"",
        "\"\\uff14\\uff12\"", "\"NaN\"", "\"Infinity\"", "\"42\\u0000\"", NULL
    };
    int i;

    /* A numeric string gives a string with as many decimals as the step. */
    check(f, "round 1", "\"42.7\"", "\"43\"");
    check(f, "round 1", "\"42.5\"", "\"43\"");
    check(f, "round 1", "\"42.49\"", "\"42\"");
    check(f, "round 1", "\"-42.5\"", "\"-43\"");
    check(f, "round 1", "\"-0.2\"", "\"0\"");
    check(f, "round 1", "\"42\"", "\"42\"");
    check(f, "round 5", "\"007\"", "\"5\"");
    check(f, "round 0.5", "\"42\"", "\"42.0\"");
    check(f, "round 0.5", "\"42.74\"", "\"42.5\"");
    check(f, "round 0.25", "\"42.74\"", "\"42.75\"");
    check(f, "round 0.1", "\"0.04\"", "\"0.0\"");
    check(f, "round 0.1", "\"0.15\"", "\"0.2\"");
    check(f, "round 0.01", "\"-0.005\"", "\"-0.01\"");
    check(f, "round 0.05", "\"1\"", "\"1.00\"");
    check(f, "round 1000", "\"12345678901234567890123\"", "\"12345678901234567890000\"");
    check(f, "round 1", "\"99999999999999999999.5\"", "\"100000000000000000000\"");
    check(f, "round 0.000000000000000001", "\"0.0000000000000000005\"",
          "\"0.000000000000000001\"");
    for (i = 0; bad[i] != NULL; i++)
        fails(f, "round 1", bad[i]);
    refuses_containers_and_booleans(f, "round 5");
}

/* ---- error texts never hold the value -------------------------------------- */

static void test_error_texts_hold_no_value(void **state)
{
    fixture_t *f = *state;
    static const char *const cases[][2] = {
        { "mask 4", "{\"ssn\":\"078-05-1120\"}" },
        { "mask 4", "true" },
        { "truncate 4", "987654321" },
        { "truncate 4", "[\"078-05-1120\"]" },
        { "pseudonymise", "{\"nhs\":\"9434765919\"}" },
        { "year", "\"Siobhan O'Brien\"" },
        { "year", "\"2023-02-29\"" },
        { "year-month", "\"1985-14-07\"" },
        { "year-month", "19850714" },
        { "age-band 10", "\"2099-01-01\"" },
        { "age-band 10", "\"1700-01-01\"" },
        { "age-band 10", "\"14/07/1985\"" },
        { "postcode-district", "\"KY99 EEU\"" },
        { "postcode-district", "\"SECRET-ADDRESS-1\"" },
        { "postcode-district", "998877" },
        { "round 5", "\"four thousand\"" },
        { "round 5", "\"4e2\"" },
        { "round 10", "9223372036854775807" },
        { "round 5", "{\"salary\":52000}" },
        { NULL, NULL }
    };
    pds_transform_t *t;
    pds_error_t err;
    json_t *v, *out;
    int i;

    for (i = 0; cases[i][0] != NULL; i++) {
        fails(f, cases[i][0], cases[i][1]);
        /* And the specific values, spelt out. */
        t = parse_ok(f->pool, cases[i][0]);
        v = js(cases[i][1]);
        pds_error_clear(&err);
        assert_int_not_equal(pds_transform_apply(t, v, &f->ctx, &out, &err), APR_SUCCESS);
        assert_null(strstr(err.text, "078-05"));
        assert_null(strstr(err.text, "9434765919"));
        assert_null(strstr(err.text, "Siobhan"));
        assert_null(strstr(err.text, "2023-02-29"));
        assert_null(strstr(err.text, "1985"));
        assert_null(strstr(err.text, "2099"));
        assert_null(strstr(err.text, "1700"));
        assert_null(strstr(err.text, "KY99"));
        assert_null(strstr(err.text, "SECRET"));
        assert_null(strstr(err.text, "998877"));
        assert_null(strstr(err.text, "987654321"));
        assert_null(strstr(err.text, "thousand"));
        assert_null(strstr(err.text, "4e2"));
        assert_null(strstr(err.text, "92233720"));
        assert_null(strstr(err.text, "52000"));
        assert_null(strstr(err.text, "salary"));
        json_decref(v);
    }
}

/* ---- allocation failure ("chaos") ------------------------------------------ */

static int chaos_teardown(void **state)
{
    pds_chaos_remove();
    return fixture_teardown(state);
}

/* Fails the Nth jansson allocation of one apply, N = 1, 2, ... until a run
 * makes none fail: each failing run reports "internal-error", gives no value
 * and frees all it allocated. */
static void chaos_run(fixture_t *f, const char *ttext, json_t *v, const char *want)
{
    pds_transform_t *t = parse_ok(f->pool, ttext);
    json_t *out;
    pds_error_t err;
    apr_status_t rv;
    long n, failures = 0;
    char *got;

    pds_chaos_install();
    for (n = 1; n < 1000; n++) {
        pds_chaos_arm(n);
        out = (json_t *)&out;
        pds_error_clear(&err);
        rv = pds_transform_apply(t, v, &f->ctx, &out, &err);
        if (!pds_chaos_failed()) {
            pds_chaos_remove();
            assert_int_equal(rv, APR_SUCCESS);
            got = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
            assert_string_equal(got, want);
            free(got);
            pds_chaos_install();
            json_decref(out);
            assert_int_equal(pds_chaos_live(), 0);
            break;
        }
        failures++;
        assert_int_equal(pds_chaos_live(), 0);
        assert_int_equal(rv, APR_ENOMEM);
        assert_string_equal(err.code, "internal-error");
        assert_null(out);
    }
    pds_chaos_remove();
    assert_true(failures >= 1);
}

static void test_chaos(void **state)
{
    fixture_t *f = *state;
    json_t *s = json_string("Siobh\xc3\xa1n"), *dob = json_string("1984-01-15");
    json_t *num = json_real(42.74), *pc = json_string("ky99 8eu"), *i = json_integer(45);

    chaos_run(f, "mask 2", s, "\"*****\\u00E1n\"");
    chaos_run(f, "truncate 6", s, "\"Siobh\\u00E1\"");
    chaos_run(f, "pseudonymise", s,
              apr_psprintf(f->pool, "\"%s\"",
                           pds_pseudonym(f->pool, f->key1, "Siobh\xc3\xa1n", 8)));
    chaos_run(f, "year-month", dob, "\"1984-01\"");
    chaos_run(f, "age-band 10", dob, "\"40-49\"");
    chaos_run(f, "postcode-district", pc, "\"KY99\"");
    chaos_run(f, "round 0.25", num, "42.75");
    chaos_run(f, "round 10", i, "50");
    chaos_run(f, "constant \"withheld\"", i, "\"withheld\"");
    chaos_run(f, "constant 7", s, "7");
    json_decref(s);
    json_decref(dob);
    json_decref(num);
    json_decref(pc);
    json_decref(i);
}

/* ---- threads: one transform, many requests --------------------------------- */

typedef struct thread_job_t {
    const pds_transform_t *const *transforms;
    const char *const *inputs;
    const char *const *wants;
    const pds_transform_ctx_t *ctx;
    int mismatches;
} thread_job_t;

static void run_job(thread_job_t *job)
{
    pds_error_t err;
    json_t *v, *out;
    char *got;
    int i, k;

    for (i = 0; i < 300; i++) {
        for (k = 0; job->transforms[k] != NULL; k++) {
            v = json_loads(job->inputs[k], JSON_DECODE_ANY, NULL);
            out = NULL;
            pds_error_clear(&err);
            if (v == NULL
                || pds_transform_apply(job->transforms[k], v, job->ctx, &out, &err)
                   != APR_SUCCESS) {
                job->mismatches++;
                json_decref(v);
                continue;
            }
            got = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
            if (got == NULL || strcmp(got, job->wants[k]) != 0)
                job->mismatches++;
            free(got);
            json_decref(out);
            json_decref(v);
        }
    }
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *thd, void *data)
{
    run_job(data);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

static void test_concurrent_apply(void **state)
{
    fixture_t *f = *state;
    static const char *const texts[] = {
        "constant \"withheld\"", "pseudonymise", "age-band 10", "round 0.5", "mask 2", NULL
    };
    static const char *const inputs[] = {
        "1", "\"alice\"", "\"1984-01-15\"", "42.74", "\"abcd\"", NULL
    };
    static const char *const wants[] = {
        "\"withheld\"", "\"ps_jaALi0SzedwaoTXrvYTeIA\"", "\"40-49\"", "42.5", "\"**cd\"", NULL
    };
    const pds_transform_t *transforms[6];
    apr_thread_t *threads[4];
    thread_job_t jobs[4];
    apr_status_t rv;
    int i;

    for (i = 0; texts[i] != NULL; i++)
        transforms[i] = parse_ok(f->pool, texts[i]);
    transforms[i] = NULL;
    for (i = 0; i < 4; i++) {
        jobs[i].transforms = transforms;
        jobs[i].inputs = inputs;
        jobs[i].wants = wants;
        jobs[i].ctx = &f->ctx;
        jobs[i].mismatches = 0;
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(apr_thread_create(&threads[i], NULL, thread_main, &jobs[i],
                                           f->pool), APR_SUCCESS);
    for (i = 0; i < 4; i++) {
        assert_int_equal(apr_thread_join(&rv, threads[i]), APR_SUCCESS);
        assert_int_equal(jobs[i].mismatches, 0);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_parse_every_name_round_trips),
        T(test_parse_canonicalises),
        T(test_parse_errors),
        T(test_parse_arguments_and_accessors),
        T(test_flags),
        T(test_nulls),
        T(test_apply_arguments),
        T(test_redact_and_nullify),
        T(test_constant),
        T(test_mask),
        T(test_truncate),
        T(test_pseudonym_known_answers),
        T(test_pseudonymise),
        T(test_year_and_month),
        T(test_age_band),
        T(test_partial_dates),
        T(test_postcode_district),
        T(test_round_numbers),
        T(test_round_strings),
        T(test_error_texts_hold_no_value),
        cmocka_unit_test_setup_teardown(test_chaos, fixture_setup, chaos_teardown),
        T(test_concurrent_apply),
    };
#undef T

    return pds_test_main(tests, NULL, NULL);
}
