/* test_stream.c: the streaming filter (pds_stream.h) against the DOM filter
 * (pds_filter.h), which stays the oracle: on every data-driven case under
 * tests/cases/filter/ and on hand-picked bodies at the edges of the
 * tokenizer (escapes, UTF-8, numbers, nesting, duplicate names), of the
 * walk (predicates, whole releases, paths below them) and of transforms
 * and subject replacement, both must give the same bytes or the same
 * refusal (stream_check.c says what "same" covers); and collections decided
 * record by record (pds_stream_apply_rows against pds_filter_apply_rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "pds_test.h"
#include "pds_rowfilter.h"
#include "pds_stream.h"
#include "stream_check.h"

#define CASES_DIR PDS_TEST_SRCDIR "/cases/filter"

/* A case's file, or NULL when it has none. */
static char *optional_file(apr_pool_t *p, const char *dir, const char *name, apr_size_t *plen)
{
    const char *path = apr_pstrcat(p, dir, "/", name, NULL);
    apr_finfo_t info;

    if (apr_stat(&info, path, APR_FINFO_TYPE, p) != APR_SUCCESS)
        return NULL;
    return pds_test_read_file(p, path, plen);
}

static pds_fieldset_t *set_of(apr_pool_t *p, const char *const *paths)
{
    return pds_test_fieldset(p, paths);
}

static void check_all(apr_pool_t *p, const pds_fieldset_t *set, const char *const *bodies,
                      const pds_filter_options_t *opts, int *released, int *refused)
{
    int i;

    for (i = 0; bodies[i] != NULL; i++) {
        if (pds_stream_check(p, bodies[i], set, bodies[i], strlen(bodies[i]), opts))
            (*released)++;
        else
            (*refused)++;
    }
}

/* ---- every data-driven case ----------------------------------------------- */

static void test_cases_agree(void **state)
{
    apr_pool_t *p = *state;
    apr_dir_t *dir;
    apr_finfo_t info;
    int ncases = 0, both_released = 0;

    assert_int_equal(apr_dir_open(&dir, CASES_DIR, p), APR_SUCCESS);
    while (apr_dir_read(&info, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        const char *base;
        char *fields, *input, *depth, *line, *last;
        apr_size_t len = 0;
        pds_fieldset_t *set;
        pds_filter_options_t opts;
        int bad = 0;

        if (info.filetype != APR_DIR || info.name[0] == '.')
            continue;
        base = apr_pstrcat(p, CASES_DIR "/", info.name, NULL);
        fields = optional_file(p, base, "fields", NULL);
        input = optional_file(p, base, "input.json", &len);
        depth = optional_file(p, base, "max-depth", NULL);
        if (fields == NULL || input == NULL)
            continue;
        assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
        for (line = apr_strtok(fields, "\n", &last); line != NULL;
             line = apr_strtok(NULL, "\n", &last)) {
            apr_size_t n = strlen(line);

            if (n > 0 && line[n - 1] == '\r')
                line[--n] = '\0';
            if (n == 0 || line[0] == '#')
                continue;
            if (pds_fieldset_add(set, line, NULL) != APR_SUCCESS)
                bad = 1;
        }
        if (bad)
            continue;               /* a case about a bad path: no body to filter */
        memset(&opts, 0, sizeof(opts));
        opts.max_depth = depth != NULL ? atoi(depth) : 0;
        both_released += pds_stream_check(p, info.name, set, input, len, &opts);
        ncases++;
    }
    apr_dir_close(dir);
    print_message("stream: %d cases agree, %d of them released\n", ncases, both_released);
    assert_true(ncases >= 90);
}

/* ---- the tokenizer's edges ------------------------------------------------- */

static void test_tokens(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "a", "b.c", NULL };
    static const char *const bodies[] = {
        /* strings: escapes written back as the DOM filter writes them */
        "{\"a\":\"x\\u0041\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
        "{\"a\":\"\\u001f\\u007f\\u00e9\\u20ac\\ud83d\\ude00\"}",
        "{\"a\":\"\\uD83D\\uDE00\",\"b\":1}",
        "{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\\ud800\\ud800\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\ud800\\u12\"}",
        "{\"a\":\"\\u0000\"}", "{\"a\\u0000\":1}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"\x01\"}", "{\"a\":\"\n\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"abc",
        "{\"a\":\"\\", "{\"a\":\"\\u12",
        /* UTF-8 */
        "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xc1\xbf\"}", "{\"a\":\"\xe0\x80\x80\"}",
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xf5\x80\x80\x80\"}",
        "{\"a\":\"\x80\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xe2\x82\"}", "{\"a\":1}\xc3\xa9",
        "{\"a\":1\xff}", "\xef\xbb\xbf{\"a\":1}", "{\"\xc3\xa9\":1,\"a\":2}",
        /* numbers */
        "{\"a\":-0}", "{\"a\":0}", "{\"a\":-0.0}", "{\"a\":0.1}", "{\"a\":1e2}",
        "{\"a\":1E+2}", "{\"a\":1e-7}", "{\"a\":123456789012345678}",
        "{\"a\":9223372036854775807}", "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775808}", "{\"a\":-9223372036854775809}",
        "{\"a\":12345678901234567890123}", "{\"a\":1e308}", "{\"a\":1e309}",
        "{\"a\":-1e309}", "{\"a\":1e-400}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}", "{\"a\":1e+}", "{\"a\":0x10}",
        "{\"a\":3.141592653589793238462643383279}", "{\"a\":100000000000000000000.5}",
        "{\"a\":[1,2.5,-3e3,4E-2]}", "{\"a\":1.7976931348623157e308}",
        /* keywords and structure */
        "{\"a\":true}", "{\"a\":false}", "{\"a\":null}", "{\"a\":tru}", "{\"a\":truex}",
        "{\"a\":nul}", "{\"a\":True}", "{\"a\":[true,false,null]}", "{}", "[]", " {} ",
        "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{\"a\" 1}", "{1:2}", "{\"a\":[1,]}",
        "{\"a\":[,1]}", "{\"a\":[1 2]}", "{\"a\":1}}", "{\"a\":1}{}", "{\"a\":1} x",
        "{\"a\":1}\x00", "{\"a\":\"x\"\x00}", "", " ", "\t\r\n", "nul", "{", "[", "{\"a\"",
        "{\"a\":", "{\"a\":[", "{\"a\":{", "\"top\"", "1", "null", "true",
        /* duplicate names, spelled alike or not */
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"b\":{\"c\":1,\"c\":2}}",
        "{\"x\":{\"k\":1,\"k\":2},\"a\":1}", "{\"a\":1,\"x\":{\"a\":1},\"y\":{\"a\":2}}",
        "{\"x\":[{\"k\":1},{\"k\":2}]}", "{\"a\":\"\\u00e9\",\"\\u00e9\":1,\"\xc3\xa9\":2}",
        /* errors in order: a type error first, a syntax error later */
        "{\"b\":1,\"zz\":[1,}", "{\"b\":1,\"a\":1,\"a\":2}", "[1,2",
        "{\"b\":{\"c\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
        "{\"b\":\"s\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        NULL
    };
    int released = 0, refused = 0;

    check_all(p, set_of(p, paths), bodies, NULL, &released, &refused);
    print_message("tokens: %d released, %d refused alike\n", released, refused);
    assert_true(released >= 25 && refused > 50);
}

/* ---- NUL bytes: jansson loses one put back after a number or keyword ------ */

static void test_nul(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "a", "[*]", NULL };
    static const struct { const char *data; apr_size_t len; } bodies[] = {
        { "1\0", 2 }, { "[1\0,2]", 7 }, { "[1\0\0,2]", 8 }, { "{\"a\":true\0}", 11 },
        { "{\"a\":null\0,\"b\":1}", 17 }, { "[1.5\0]", 7 }, { "[\"x\"\0]", 6 },
        { "[\0]", 3 }, { "[1]\0", 4 }, { "{\"a\":[-0\0]}", 11 }, { "[tru\0e]", 8 },
        { "{\"a\":1}\0", 8 }, { "{\"a\"\0:1}", 9 }, { "[1,\0 2]", 7 },
    };
    const pds_fieldset_t *set = set_of(p, paths);
    size_t i;
    int released = 0;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        released += pds_stream_check(p, apr_psprintf(p, "NUL body %d", (int)i), set,
                                     bodies[i].data, bodies[i].len, NULL);
    print_message("NUL: %d of %d released alike\n", released, (int)i);
    assert_true(released >= 2);
}

/* ---- nesting: max_depth and jansson's own bound of 2048 --------------------- */

static char *nested(apr_pool_t *p, int n, const char *inner, const char *tail)
{
    apr_size_t il = strlen(inner), tl = strlen(tail);
    char *s = apr_palloc(p, 2 * (apr_size_t)n + il + tl + 16), *w = s;
    int i;

    w = stpcpy(w, "{\"a\":");
    for (i = 0; i < n; i++)
        *w++ = '[';
    w = stpcpy(w, inner);
    for (i = 0; i < n; i++)
        *w++ = ']';
    w = stpcpy(w, tail);
    return s;
}

static void test_depth(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "a", NULL };
    static const char *const inners[] = {
        "1", "", "\"s\"", "tru", "\"\\u0000\"", "\"\x01\"", "1\xff", "true\xff", "01",
        "9223372036854775808", "{}", "{\"k\":1,\"k\":2}", "1,", ",", "]", NULL
    };
    static const int depths[] = { 1, 2, 30, 31, 32, 33, 2046, 2047, 2048, 2049, 2050 };
    const pds_fieldset_t *set = set_of(p, paths);
    pds_filter_options_t opts;
    size_t d, i, m;

    memset(&opts, 0, sizeof(opts));
    for (m = 0; m < 3; m++) {
        opts.max_depth = m == 0 ? 0 : m == 1 ? 3 : 5000;
        for (d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
            for (i = 0; inners[i] != NULL; i++) {
                char *body = nested(p, depths[d], inners[i], "");
                char *label = apr_psprintf(p, "depth %d, max %d, inner %s", depths[d],
                                           opts.max_depth, inners[i]);

                (void)pds_stream_check(p, label, set, body, strlen(body), &opts);
                body = nested(p, depths[d], inners[i], "x");
                (void)pds_stream_check(p, label, set, body, strlen(body), &opts);
            }
        }
    }
}

/* ---- the walk ----------------------------------------------------------------- */

static void test_walk(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = {
        "name.given", "contacts[*].phone", "care", "care.needs", "a.b.c",
        "telecom[system=phone].value", "telecom[use in (home, 1, true)][system!=email].use",
        "telecom[*].rank", "telecom[system=\"a\\\"b\"].value", "ids[kind=1.5]", "x[y=false]",
        NULL
    };
    static const char *const bodies[] = {
        "{\"name\":{\"given\":\"A\",\"family\":\"B\"},\"dob\":1}",
        "{\"name\":{\"family\":\"B\"}}", "{\"name\":null}", "{\"name\":\"s\"}",
        "{\"name\":[1]}", "{\"contacts\":[{\"phone\":1},{\"x\":2},null,{\"phone\":null}]}",
        "{\"contacts\":[]}", "{\"contacts\":{}}", "{\"contacts\":[1]}",
        "{\"care\":{\"needs\":[1,{\"a\":2}],\"x\":{}}}", "{\"care\":null}", "{\"care\":[]}",
        "{\"a\":{\"b\":{\"c\":{\"d\":[1,{}]}}}}", "{\"a\":{\"b\":[]}}", "{\"a\":{\"b\":null}}",
        "{\"telecom\":[{\"system\":\"phone\",\"value\":\"1\",\"use\":\"home\",\"rank\":1},"
        "{\"system\":\"email\",\"value\":\"e\",\"use\":\"home\"},{\"use\":1,\"system\":\"x\"},"
        "{\"use\":true},{\"value\":\"v\"},{\"system\":\"a\\\"b\",\"value\":2},"
        "{\"system\":[\"phone\"],\"value\":3},{\"sys\\u0074em\":\"phone\",\"value\":4},"
        "{\"system\":\"ph\\u006fne\",\"value\":5},null,7,[1]]}",
        "{\"telecom\":[{\"value\":1,\"system\":\"phone\"}]}",
        "{\"telecom\":[{\"system\":{\"x\":\"phone\"},\"value\":1}]}",
        "{\"telecom\":[{\"system\":\"phone\",\"value\":1,\"system\":\"x\"}]}",
        "{\"telecom\":[{\"system\":\"phone\",\"value\":1},{\"system\":\"phone\",\"valu"
        "e\":[1,]}]}",
        "{\"ids\":[{\"kind\":1.5,\"n\":1},{\"kind\":15e-1},{\"kind\":\"1.5\"},{\"kind\":2}]}",
        "{\"x\":[{\"y\":false},{\"y\":0},{\"y\":null},{}]}",
        "{\"zzz\":{\"deep\":[[[[[{\"q\":1}]]]]]},\"name\":{\"given\":\"\\u00e9\"}}",
        NULL
    };
    int released = 0, refused = 0;

    check_all(p, set_of(p, paths), bodies, NULL, &released, &refused);
    print_message("walk: %d released, %d refused alike\n", released, refused);
    assert_true(released > 10 && refused > 3);
}

static void test_top_level(void **state)
{
    apr_pool_t *p = *state;
    static const char *const each[] = { "[*].id", "[*].name.given", NULL };
    static const char *const mixed[] = { "[*].id", "name", NULL };
    static const char *const whole[] = { "[*]", NULL };
    static const char *const bodies[] = {
        "[{\"id\":1,\"x\":2},{\"y\":3},{\"id\":null},{\"name\":{\"given\":\"g\"}}]",
        "[]", "{}", "{\"id\":1}", "[1,2]", "[null]", "[[]]", "\"s\"", "{\"name\":1}",
        "[{\"id\":1}", NULL
    };
    pds_fieldset_t *empty;
    int released = 0, refused = 0;

    check_all(p, set_of(p, each), bodies, NULL, &released, &refused);
    check_all(p, set_of(p, mixed), bodies, NULL, &released, &refused);
    check_all(p, set_of(p, whole), bodies, NULL, &released, &refused);
    assert_int_equal(pds_fieldset_create(&empty, p), APR_SUCCESS);
    check_all(p, empty, bodies, NULL, &released, &refused);
    assert_true(released > 8 && refused > 8);
}

/* ---- transforms and subject replacement -------------------------------------- */

static void test_transforms(void **state)
{
    apr_pool_t *p = *state;
    static const unsigned char key[32] = { 7, 7, 7 };
    static const char *const paths[] = {
        "name", "dob", "contacts[*].phone", "care", "a.b", "telecom[system=phone].value",
        "obj", "arr", "id", NULL
    };
    static const char *const transforms[][2] = {
        { "name.given", "pseudonymise" }, { "dob", "age-band 10" },
        { "contacts[*].phone", "mask 3" }, { "care.needs", "redact" },
        { "care.allergies[*]", "truncate 2" }, { "a.b", "round 0.5" },
        { "telecom[*].value", "mask 2" }, { "obj", "constant \"gone\"" }, { "arr", "nullify" },
        { NULL, NULL }
    };
    static const char *const bodies[] = {
        "{\"name\":{\"given\":\"Morag\",\"family\":\"9836900608\"},\"dob\":\"1948-03-17\"}",
        "{\"name\":{\"given\":12},\"dob\":null}", "{\"name\":{\"given\":[1]}}",
        "{\"dob\":\"not a date\"}", "{\"dob\":1948}",
        "{\"contacts\":[{\"phone\":\"+44 1333\"},{\"phone\":12345},{\"phone\":true}]}",
        "{\"care\":{\"needs\":[\"9836900608\"],\"allergies\":[\"penicillin\",\"\\u00e9t\\u00e9\","
        "null]}}", "{\"care\":{\"needs\":{\"x\":\"9836900608\"}}}",
        "{\"care\":{\"allergies\":[1]}}", "{\"a\":{\"b\":1.26}}", "{\"a\":{\"b\":\"7.75\"}}",
        "{\"a\":{\"b\":4}}", "{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":{\"b\":1e300}}",
        "{\"telecom\":[{\"system\":\"phone\",\"value\":\"0131\"},{\"system\":\"fax\",\"value\":\"1\"}]}",
        "{\"obj\":{\"k\":\"9836900608\"},\"arr\":[\"9836900608\",2]}", "{\"obj\":[],\"arr\":{}}",
        "{\"obj\":null,\"arr\":null}", "{\"id\":\"9836900608\",\"x\":\"9836900608\"}",
        "{\"id\":[\"9836900608\",{\"k\":\"9836900608\"}]}",
        "{\"dob\":\"1948-03-17\",\"zz\":[1,}", "{\"name\":{\"given\":[1]},\"care\":\"s\"}",
        "{\"dob\":\"bad\",\"a\":{\"b\":\"x\"},\"q\":{\"r\":1,\"r\":2}}",
        /* a transform's refusal, then a value of the wrong kind: the DOM
         * filter filters first, so unexpected-type wins */
        "{\"dob\":\"not a date\",\"a\":\"s\"}",
        NULL
    };
    pds_fieldset_t *set = set_of(p, paths);
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    int i, released = 0, refused = 0;

    for (i = 0; transforms[i][0] != NULL; i++) {
        pds_transform_t *t;
        pds_error_t err;

        pds_error_clear(&err);
        if (pds_transform_parse(&t, p, transforms[i][1], &err) != APR_SUCCESS
            || pds_fieldset_set_transform(set, transforms[i][0], t, &err) != APR_SUCCESS)
            fail_msg("%s %s: %s", transforms[i][0], transforms[i][1], err.text);
    }
    memset(&opts, 0, sizeof(opts));
    tctx.now = apr_time_from_sec(1796000000);
    tctx.key = key;
    tctx.hmac = pds_hmac_create(p, key, 32);   /* the key made ready once, as the gateway does */
    assert_non_null(tctx.hmac);
    opts.transform = &tctx;
    check_all(p, set, bodies, &opts, &released, &refused);
    opts.subject = "9836900608";
    opts.subject_pseudonym = "ps_\"subject\"";
    check_all(p, set, bodies, &opts, &released, &refused);
    tctx.key = NULL;                /* pseudonymise refuses every value */
    tctx.hmac = NULL;
    check_all(p, set, bodies, &opts, &released, &refused);
    print_message("transforms: %d released, %d refused alike\n", released, refused);
    assert_true(released > 20 && refused > 10);
}

/* ---- a large body: growing buffers, many names in one object ------------------ */

static void test_large(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "[*].k5", "[*].k77", "[*].s", NULL };
    apr_size_t cap = 4 * 1024 * 1024, n = 0;
    char *body = apr_palloc(p, cap);
    int r, k;

    n += (apr_size_t)snprintf(body + n, cap - n, "[");
    for (r = 0; r < 300; r++) {
        n += (apr_size_t)snprintf(body + n, cap - n, "%s{", r > 0 ? "," : "");
        for (k = 0; k < 100; k++)
            n += (apr_size_t)snprintf(body + n, cap - n, "%s\"k%d\":%d.%d", k > 0 ? "," : "",
                                      k, r, k);
        n += (apr_size_t)snprintf(body + n, cap - n, ",\"s\":\"\\u00e9%d\"}", r);
    }
    n += (apr_size_t)snprintf(body + n, cap - n, "]");
    assert_int_equal(pds_stream_check(p, "large", set_of(p, paths), body, n, NULL), 1);
    /* the same name twice among a hundred */
    memcpy(strstr(body, "\"k99\""), "\"k98\"", 5);
    assert_int_equal(pds_stream_check(p, "large dup", set_of(p, paths), body, n, NULL), 0);
}

/* ---- allocation failures ---------------------------------------------------- */

/* What the chaos tests call, each allocation failing in turn. */
static struct {
    const pds_fieldset_t *set;
    const char *body;
    const pds_filter_options_t *opts;
    pds_rows_decider_t *decider;
    apr_pool_t *pool;
} chaos_call;

typedef apr_status_t (*chaos_fn)(pds_filter_result_t *res, pds_error_t *err);

static apr_status_t chaos_single(pds_filter_result_t *res, pds_error_t *err)
{
    return pds_stream_apply_ex(chaos_call.set, chaos_call.body, strlen(chaos_call.body),
                               chaos_call.opts, res, chaos_call.pool, err);
}

static apr_status_t chaos_rows(pds_filter_result_t *res, pds_error_t *err)
{
    return pds_stream_apply_rows(chaos_call.set, chaos_call.body, strlen(chaos_call.body),
                                 chaos_call.opts, "id", pds_rows_decide, chaos_call.decider,
                                 res, chaos_call.pool, err);
}

static apr_status_t chaos_glue(pds_filter_result_t *res, pds_error_t *err)
{
    return pds_stream_filter_ex(chaos_call.set, chaos_call.body, strlen(chaos_call.body),
                                chaos_call.opts, res, chaos_call.pool, err);
}

/* Runs fn with the Nth jansson allocation failing, N = 1, 2, ... until a
 * run meets no failure (then it must give want): every failing run
 * refuses as out of memory (APR_ENOMEM, "internal-error", and the text
 * nomem_text unless it is NULL), leaves the result as it was and frees
 * what it took. Returns how many failed. */
static long chaos_failures(chaos_fn fn, const char *want, const char *nomem_text)
{
    pds_filter_result_t res, sentinel;
    pds_error_t err;
    apr_status_t rv;
    long n, failures = 0;

    memset(&sentinel, 0x5a, sizeof(sentinel));
    pds_chaos_install();
    for (n = 1; n < 10000; n++) {
        pds_chaos_arm(n);
        res = sentinel;
        pds_error_clear(&err);
        rv = fn(&res, &err);
        assert_int_equal(pds_chaos_live(), 0);
        if (!pds_chaos_failed()) {
            assert_int_equal(rv, APR_SUCCESS);
            assert_string_equal(res.body, want);
            break;
        }
        failures++;
        assert_int_equal(rv, APR_ENOMEM);
        assert_string_equal(err.code, "internal-error");
        if (nomem_text != NULL)
            assert_string_equal(err.text, nomem_text);
        assert_memory_equal(&res, &sentinel, sizeof(res));
    }
    pds_chaos_remove();
    return failures;
}

/* A single document through transforms (all of the stream's jansson
 * allocations are theirs) into chaos_call; returns what the DOM filter
 * releases from it. */
static const char *chaos_single_call(apr_pool_t *p)
{
    static const char *const paths[] = { "name", "dob", "tags", "x", NULL };
    static const char *const transforms[][2] = {
        { "name.given", "mask 2" }, { "dob", "age-band 10" }, { "tags[*]", "truncate 1" },
        { "x", "constant \"k\"" }, { NULL, NULL }
    };
    static const char body[] = "{\"name\":{\"given\":\"Ann\",\"family\":\"L\"},"
        "\"dob\":\"1980-02-29\",\"tags\":[\"ab\",\"cd\",null],\"x\":{\"y\":[1]}}";
    static pds_filter_options_t opts;
    static pds_transform_ctx_t tctx;
    pds_fieldset_t *set = set_of(p, paths);
    pds_filter_result_t want;
    int i;

    for (i = 0; transforms[i][0] != NULL; i++) {
        pds_transform_t *t;
        assert_int_equal(pds_transform_parse(&t, p, transforms[i][1], NULL), APR_SUCCESS);
        assert_int_equal(pds_fieldset_set_transform(set, transforms[i][0], t, NULL),
                         APR_SUCCESS);
    }
    memset(&opts, 0, sizeof(opts));
    memset(&tctx, 0, sizeof(tctx));
    tctx.now = apr_time_from_sec(1796000000);
    opts.transform = &tctx;
    assert_int_equal(pds_filter_apply_ex(set, body, strlen(body), &opts, &want, p, NULL),
                     APR_SUCCESS);
    chaos_call.set = set;
    chaos_call.pool = p;
    chaos_call.body = body;
    chaos_call.opts = &opts;
    return want.body;
}

/* The stream allocates through jansson only for transforms: fail each such
 * allocation in turn; every failing run refuses, leaves the result as it
 * was and frees what it took. */
static void test_chaos(void **state)
{
    assert_true(chaos_failures(chaos_single, chaos_single_call(*state), NULL) >= 5);
}

/* What the glue calls, out of memory in the stream: refused as the DOM
 * filter refuses for memory, at once. Handing the body on to the DOM filter
 * (which needs more memory than the stream) answered "the streaming and the
 * tree filter disagree" whenever the DOM filter then found the memory. */
static void test_chaos_glue_fails_closed_on_memory(void **state)
{
    assert_true(chaos_failures(chaos_glue, chaos_single_call(*state),
                               "out of memory while filtering the body") >= 5);
}

static int chaos_teardown(void **state)
{
    pds_chaos_remove();
    return pds_test_pool_teardown(state);
}

/* ---- collections decided record by record ----------------------------------- */

static pds_fieldset_t *rows_set(apr_pool_t *p)
{
    static const char *const paths[] = {
        "[*].id", "[*].dob", "[*].name", "[*].care", "[*].telecom[system=phone].value", NULL
    };
    static const char *const transforms[][2] = {
        { "[*].dob", "age-band 10" }, { "[*].name.given", "mask 1" },
        { "[*].care.plan", "redact" }, { "[*].telecom[*].value", "truncate 2" },
        { NULL, NULL }
    };
    pds_fieldset_t *set = set_of(p, paths);
    int i;

    for (i = 0; transforms[i][0] != NULL; i++) {
        pds_transform_t *t;
        assert_int_equal(pds_transform_parse(&t, p, transforms[i][1], NULL), APR_SUCCESS);
        assert_int_equal(pds_fieldset_set_transform(set, transforms[i][0], t, NULL),
                         APR_SUCCESS);
    }
    return set;
}

static void test_rows(void **state)
{
    apr_pool_t *p = *state;
    static const char *const fewer[] = { "[*].id", "[*].name.family", NULL };
    static const char *const bodies[] = {
        "[{\"id\":\"a\",\"dob\":\"1948-03-17\",\"name\":{\"given\":\"Ann\",\"family\":\"a\"}},"
        "{\"id\":7,\"care\":{\"plan\":\"p\",\"needs\":[\"a\"]}},{\"dob\":\"1950-01-01\"},"
        "{\"id\":\"bb\",\"telecom\":[{\"system\":\"phone\",\"value\":\"0131\"},"
        "{\"value\":\"x\"}]}]",
        /* refused at the last byte: no record is decided */
        "[{\"id\":\"a\",\"dob\":\"1948-03-17\"},{\"id\":\"b\"}",
        "[{\"id\":\"a\"},{\"id\":\"b\",\"id\":\"c\"}]", "{\"id\":\"a\"}", "[]", " [ ] ",
        /* a value of the wrong kind after records were decided */
        "[{\"id\":\"a\"},{\"id\":\"bb\",\"name\":\"s\"},{\"id\":\"ccc\"}]",
        /* values the transforms cannot take, two in one record */
        "[{\"id\":\"a\",\"dob\":1948,\"name\":{\"given\":3}},{\"id\":\"bb\",\"dob\":\"x\"},"
        "{\"id\":\"ccc\",\"dob\":\"1990-02-03\"}]",
        /* a failing decision ("s2") in the middle, with a bad record after it */
        "[{\"id\":\"a\"},{\"id\":\"s2\"},{\"id\":\"bb\",\"dob\":1}]",
        /* redacted within a whole release: "released" is read on the input */
        "[{\"id\":\"a\",\"care\":{\"plan\":\"p\"}}]",
        /* the subject's value elsewhere in the record: replaced by its pseudonym */
        "[{\"id\":\"a\",\"name\":{\"family\":\"a\",\"given\":\"a\"},\"care\":[\"a\"]}]",
        "[{\"id\":\"a\",\"meta\":{\"security\":[{\"code\":\"R\"}]}},"
        "{\"id\":\"b\",\"active\":false},"
        "{\"id\":\"ccc\",\"active\":true,\"care\":\"c\"},null,3,{\"id\":{\"x\":1}}]",
        NULL
    };
    pds_rowfilter_t *rf;
    pds_rows_decider_t d;
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    pds_filter_result_t res;
    int i, drop, released = 0, refused = 0;

    memset(&d, 0, sizeof(d));
    d.sets[0] = rows_set(p);
    d.sets[1] = NULL;
    d.sets[2] = set_of(p, fewer);
    d.fail_on = "s2";
    memset(&opts, 0, sizeof(opts));
    memset(&tctx, 0, sizeof(tctx));
    tctx.now = apr_time_from_sec(1796000000);
    opts.transform = &tctx;
    assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
    assert_int_equal(pds_rowfilter_add(rf, "meta.security[code=R]", NULL), APR_SUCCESS);
    assert_int_equal(pds_rowfilter_add(rf, "active=false", NULL), APR_SUCCESS);
    for (drop = 0; drop < 8; drop++) {
        opts.drop_bad_records = drop & 1;
        opts.exclude = (drop & 2) ? rf : NULL;
        d.nsets = (drop & 4) ? 3 : 1;
        d.pseudonymise = drop & 4;
        for (i = 0; bodies[i] != NULL; i++) {
            if (pds_stream_rows_check(p, apr_psprintf(p, "rows %d, mode %d", i, drop),
                                      d.sets[0], bodies[i], strlen(bodies[i]), &opts, "id",
                                      &d))
                released++;
            else
                refused++;
        }
    }
    /* a body refused at its end: not one record decided */
    d.calls = apr_array_make(p, 4, sizeof(const char *));
    assert_int_not_equal(pds_stream_apply_rows(d.sets[0], bodies[1], strlen(bodies[1]), &opts,
                                               "id", pds_rows_decide, &d, &res, p, NULL),
                         APR_SUCCESS);
    assert_int_equal(d.calls->nelts, 0);
    print_message("rows: %d released, %d refused alike\n", released, refused);
    assert_true(released > 40 && refused > 20);
}

/* Each jansson allocation of a collection with transforms and a record
 * dropped fails in turn: refused, result untouched, nothing left behind. */
static void test_rows_chaos(void **state)
{
    apr_pool_t *p = *state;
    static const char body[] = "[{\"id\":\"a\",\"dob\":\"1948-03-17\",\"name\":{\"given\":"
        "\"Ann\"}},{\"id\":\"b\",\"dob\":1},{\"id\":\"c\",\"care\":{\"plan\":\"p\"}}]";
    pds_rows_decider_t d;
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    pds_filter_result_t want;

    memset(&d, 0, sizeof(d));
    d.sets[0] = rows_set(p);
    d.nsets = 1;
    d.calls = apr_array_make(p, 4, sizeof(const char *));
    d.pool = p;
    memset(&opts, 0, sizeof(opts));
    memset(&tctx, 0, sizeof(tctx));
    tctx.now = apr_time_from_sec(1796000000);
    opts.transform = &tctx;
    opts.drop_bad_records = 1;
    assert_int_equal(pds_filter_apply_rows(d.sets[0], body, strlen(body), &opts, "id",
                                           pds_rows_decide, &d, &want, p, NULL), APR_SUCCESS);
    assert_int_equal(want.dropped->nelts, 1);
    chaos_call.set = d.sets[0];
    chaos_call.pool = p;
    chaos_call.body = body;
    chaos_call.opts = &opts;
    chaos_call.decider = &d;
    assert_true(chaos_failures(chaos_rows, want.body, NULL) >= 3);
}

static void test_supported(void **state)
{
    apr_pool_t *p = *state;
    static const char *const paths[] = { "a", NULL };

    assert_false(pds_stream_supported(NULL));
    assert_true(pds_stream_supported(set_of(p, paths)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_cases_agree),
        pds_test_with_pool(test_tokens),
        pds_test_with_pool(test_nul),
        pds_test_with_pool(test_depth),
        pds_test_with_pool(test_walk),
        pds_test_with_pool(test_top_level),
        pds_test_with_pool(test_transforms),
        pds_test_with_pool(test_large),
        cmocka_unit_test_setup_teardown(test_chaos, pds_test_pool_setup, chaos_teardown),
        cmocka_unit_test_setup_teardown(test_chaos_glue_fails_closed_on_memory,
                                        pds_test_pool_setup, chaos_teardown),
        pds_test_with_pool(test_rows),
        cmocka_unit_test_setup_teardown(test_rows_chaos, pds_test_pool_setup, chaos_teardown),
        pds_test_with_pool(test_supported),
    };

    return pds_test_main(tests, NULL, NULL);
}
