/* test_filter_differential.c: the JSON filter against a straightforward
 * reference.
 *
 * For random valid documents and random allow-lists, pds_filter_apply's
 * output (parsed back) must equal what a plain jansson implementation of the
 * same rules produces, and both must agree on when a document is refused
 * ("unexpected-type"). The reference below is written for clarity, not
 * speed: it copies whole values with json_deep_copy and walks the paths
 * step by step. The rules are those of pds_filter.h:
 *   - a path ending on a value releases it whole (null included);
 *   - a path crossing null or an absent member releases nothing;
 *   - containers on the way are kept only with something released below;
 *   - an object where only "[*]" continues, an array where only names
 *     continue, or a scalar where the path goes on: unexpected-type;
 *   - the top level is always returned;
 *   - a predicated step ("a[b=text]", "a[b!=true]", "a[b in (text, 1)]")
 *     takes the elements that are objects whose member is a scalar that
 *     compares so; an element goes through every path that takes it (the
 *     union), one that none takes is removed.
 * Every round also runs the streaming filter (pds_stream.h) on the same
 * body, and on a copy with one byte changed, and requires the DOM filter's
 * bytes or refusal from it (stream_check.c).
 *
 * A second comparison checks row filters (pds_rowfilter.h, Exclude): a
 * random condition (a path not starting with "[*]", with or without a
 * comparison) holds for a random record as the reference says: a value that
 * is not null is reached and compares so; absent or null holds nothing; a
 * value of another kind than the path reads holds (in doubt, out). And the
 * filter leaves out of a collection exactly the records it holds for, the
 * streaming filter as the DOM filter (a collection, and each record alone).
 * A third compares collections decided record by record: random records
 * (with a subject, an integer one, none, or another kind of value), random
 * "[*]." paths, transforms some records cannot take, a decision per subject
 * from several sets (the agreement's, narrowed ones, none: a refused
 * consent), pseudonyms, a failing decision, Exclude, OnBadRecord drop and a
 * tight depth bound; pds_filter_apply_rows and its stream form must agree
 * on everything, the decisions asked for included (stream_check.c).
 * The random generator is seeded; PDS_DIFF_SEED and PDS_DIFF_ROUNDS override
 * the seed and the number of rounds (default 50000).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_test.h"
#include "pds_filter.h"
#include "stream_check.h"
#include "pds_rowfilter.h"
#include "pds_transform.h"

#define MAX_PATHS  5
#define MAX_STEPS  5

/* A predicate of an element step: member op value (op 0 "=", 1 "!=", 2 "in"
 * with value and value2). Values: "text", "", true, false or a number. */
typedef struct ref_pred_t {
    const char *member;               /* NULL: no predicate, "[*]" */
    int op;
    int value, value2;                /* an index into pred_values */
} ref_pred_t;

typedef struct ref_path_t {
    const char *step[MAX_STEPS];      /* a member name, or NULL for "[*]" */
    ref_pred_t pred[MAX_STEPS];       /* for a NULL step */
    int n;
} ref_path_t;

static const char *const pred_values[] = { "text", "\"\"", "true", "false", "0", "-1" };
#define NPREDVALUES ((uint32_t)(sizeof(pred_values) / sizeof(pred_values[0])))

/* ---- a small deterministic generator ------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const names[] = { "a", "b", "c", "given", "x-y" };
#define NNAMES ((uint32_t)(sizeof(names) / sizeof(names[0])))

static json_t *random_value(int depth)
{
    uint32_t kind = rnd(depth >= 5 ? 6 : 9);
    json_t *v;
    uint32_t i, n;

    switch (kind) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: return json_integer((json_int_t)rnd(100000) - 50000);
    case 3: return json_real((double)rnd(100000) / 64.0 - 700.0);
    case 4: return json_string(rnd(2) ? "text" : "S\xc3\xad\xc3\xb4n");
    case 5: return json_string("");
    case 6:
    case 7:
        v = json_object();
        n = rnd(4);
        for (i = 0; i < n; i++)
            json_object_set_new(v, names[rnd(NNAMES)], random_value(depth + 1));
        return v;
    default:
        v = json_array();
        n = rnd(4);
        for (i = 0; i < n; i++)
            json_array_append_new(v, random_value(depth + 1));
        return v;
    }
}

static void random_path(ref_path_t *path, int top_array)
{
    int i;

    path->n = 1 + (int)rnd(MAX_STEPS - 1);
    for (i = 0; i < path->n; i++) {
        /* "[*]" goes first, or right after a name: "a[*].b" */
        path->pred[i].member = NULL;
        if ((i == 0 && top_array) || (i > 0 && path->step[i - 1] != NULL && rnd(4) == 0)) {
            path->step[i] = NULL;
            if (i > 0 && rnd(2) == 0) {
                path->pred[i].member = names[rnd(NNAMES)];
                path->pred[i].op = (int)rnd(3);
                path->pred[i].value = (int)rnd(NPREDVALUES);
                path->pred[i].value2 = (int)rnd(NPREDVALUES);
            }
        }
        else
            path->step[i] = names[rnd(NNAMES)];
    }
}

static const char *path_text(apr_pool_t *p, const ref_path_t *path)
{
    const char *out = "";
    int i;

    for (i = 0; i < path->n; i++) {
        const ref_pred_t *pr = &path->pred[i];

        if (path->step[i] == NULL && pr->member != NULL && pr->op == 2)
            out = apr_pstrcat(p, out, "[", pr->member, " in (", pred_values[pr->value],
                              ", ", pred_values[pr->value2], ")]", NULL);
        else if (path->step[i] == NULL && pr->member != NULL)
            out = apr_pstrcat(p, out, "[", pr->member, pr->op == 0 ? "=" : "!=",
                              pred_values[pr->value], "]", NULL);
        else if (path->step[i] == NULL)
            out = apr_pstrcat(p, out, "[*]", NULL);
        else
            out = apr_pstrcat(p, out, i > 0 ? "." : "", path->step[i], NULL);
    }
    return out;
}

/* ---- the reference ---------------------------------------------------------- */

static int ref_value_equal(json_t *m, int value)
{
    switch (value) {
    case 0: return json_is_string(m) && strcmp(json_string_value(m), "text") == 0;
    case 1: return json_is_string(m) && json_string_length(m) == 0;
    case 2: return json_is_true(m);
    case 3: return json_is_false(m);
    case 4: return json_is_number(m) && json_number_value(m) == 0.0;
    default: return json_is_number(m) && json_number_value(m) == -1.0;
    }
}

/* Does element satisfy the predicate (none: every element does)? */
static int ref_takes(const ref_pred_t *pr, json_t *element)
{
    json_t *m;
    int hit;

    if (pr->member == NULL)
        return 1;
    if (!json_is_object(element))
        return 0;
    m = json_object_get(element, pr->member);
    if (m == NULL || !(json_is_string(m) || json_is_number(m) || json_is_boolean(m)))
        return 0;
    hit = ref_value_equal(m, pr->value) || (pr->op == 2 && ref_value_equal(m, pr->value2));
    return pr->op == 1 ? !hit : hit;
}

typedef struct cursor_t {
    const ref_path_t *path;
    int k;                            /* the next step */
} cursor_t;

/* Filters v by the cursors; *out NULL when nothing is released. Returns 0 on
 * a type mismatch. */
static int ref_filter(json_t *v, const cursor_t *cur, int ncur, json_t **out)
{
    cursor_t next[MAX_PATHS];
    int i, nnext, names_go_on = 0, each_goes_on = 0;

    *out = NULL;
    for (i = 0; i < ncur; i++) {
        if (cur[i].k == cur[i].path->n) {
            *out = json_deep_copy(v);         /* ends here: released whole */
            return 1;
        }
        if (cur[i].path->step[cur[i].k] == NULL)
            each_goes_on = 1;
        else
            names_go_on = 1;
    }
    if (json_is_null(v))
        return 1;
    if (json_is_object(v) && names_go_on) {
        json_t *result = json_object(), *member, *kept;
        const char *key;

        json_object_foreach(v, key, member) {
            nnext = 0;
            for (i = 0; i < ncur; i++) {
                const char *s = cur[i].path->step[cur[i].k];
                if (s != NULL && strcmp(s, key) == 0) {
                    next[nnext].path = cur[i].path;
                    next[nnext].k = cur[i].k + 1;
                    nnext++;
                }
            }
            if (nnext == 0)
                continue;
            if (!ref_filter(member, next, nnext, &kept)) {
                json_decref(result);
                return 0;
            }
            if (kept != NULL)
                json_object_set_new(result, key, kept);
        }
        if (json_object_size(result) == 0)
            json_decref(result);
        else
            *out = result;
        return 1;
    }
    if (json_is_array(v) && each_goes_on) {
        json_t *result = json_array(), *elem, *kept;
        size_t idx;

        json_array_foreach(v, idx, elem) {
            nnext = 0;
            for (i = 0; i < ncur; i++) {
                if (cur[i].path->step[cur[i].k] == NULL
                    && ref_takes(&cur[i].path->pred[cur[i].k], elem)) {
                    next[nnext].path = cur[i].path;
                    next[nnext].k = cur[i].k + 1;
                    nnext++;
                }
            }
            if (nnext == 0)
                continue;
            if (!ref_filter(elem, next, nnext, &kept)) {
                json_decref(result);
                return 0;
            }
            if (kept != NULL)
                json_array_append_new(result, kept);
        }
        if (json_array_size(result) == 0)
            json_decref(result);
        else
            *out = result;
        return 1;
    }
    return 0;
}

/* The whole document: the top level is always returned. */
static int ref_apply(json_t *doc, const ref_path_t *paths, int npaths, json_t **out)
{
    cursor_t cur[MAX_PATHS];
    int i, has_name = 0, has_each = 0;

    for (i = 0; i < npaths; i++) {
        cur[i].path = &paths[i];
        cur[i].k = 0;
        if (paths[i].step[0] == NULL)
            has_each = 1;
        else
            has_name = 1;
    }
    if (!(json_is_object(doc) && (has_name || !has_each))
        && !(json_is_array(doc) && has_each))
        return 0;
    if (json_is_object(doc) && !has_name) {
        *out = json_object();
        return 1;
    }
    if (!ref_filter(doc, cur, npaths, out))
        return 0;
    if (*out == NULL)
        *out = json_is_object(doc) ? json_object() : json_array();
    return 1;
}

/* ---- the comparison ------------------------------------------------------- */

static void test_filter_matches_reference(void **state)
{
    const char *seed_env = getenv("PDS_DIFF_SEED"), *rounds_env = getenv("PDS_DIFF_ROUNDS");
    long rounds = rounds_env ? atol(rounds_env) : 50000, r;
    int refused = 0, released = 0, predicated = 0;

    (void)state;
    rng_state = seed_env ? (uint64_t)strtoull(seed_env, NULL, 10) : 0x9E3779B97F4A7C15ull;
    if (rng_state == 0)
        rng_state = 1;
    for (r = 0; r < rounds; r++) {
        apr_pool_t *p;
        ref_path_t paths[MAX_PATHS];
        int npaths = 1 + (int)rnd(MAX_PATHS), i, top_array = rnd(4) == 0, ref_ok;
        json_t *doc, *want = NULL, *got;
        pds_fieldset_t *set;
        pds_filter_result_t res;
        pds_error_t err;
        char *text;
        apr_status_t rv;

        apr_pool_create(&p, NULL);
        if (top_array) {
            doc = json_array();
            for (i = 0; i < 3; i++)
                json_array_append_new(doc, random_value(1));
        }
        else {
            doc = json_object();
            for (i = 0; i < 4; i++)
                json_object_set_new(doc, names[rnd(NNAMES)], random_value(1));
        }
        assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
        for (i = 0; i < npaths; i++) {
            random_path(&paths[i], top_array);
            if (strchr(path_text(p, &paths[i]), '=') != NULL
                || strstr(path_text(p, &paths[i]), " in (") != NULL)
                predicated++;
            assert_int_equal(pds_fieldset_add(set, path_text(p, &paths[i]), NULL),
                             APR_SUCCESS);
        }
        text = json_dumps(doc, JSON_COMPACT);
        ref_ok = ref_apply(doc, paths, npaths, &want);
        pds_error_clear(&err);
        rv = pds_filter_apply(set, text, strlen(text), 0, &res, p, &err);
        if (!ref_ok) {
            if (rv == APR_SUCCESS || strcmp(err.code, "unexpected-type") != 0)
                fail_msg("round %ld: the reference refuses %s with paths starting %s, the "
                         "filter %s", r, text, path_text(p, &paths[0]),
                         rv == APR_SUCCESS ? res.body : err.code);
            refused++;
        }
        else {
            if (rv != APR_SUCCESS)
                fail_msg("round %ld: the filter refuses (%s: %s) what the reference "
                         "releases; document %s", r, err.code, err.text, text);
            got = json_loads(res.body, JSON_DECODE_ANY, NULL);
            assert_non_null(got);
            if (!json_equal(got, want)) {
                char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
                fail_msg("round %ld: document %s, first path %s: filter %s, reference %s",
                         r, text, path_text(p, &paths[0]), res.body, w);
            }
            json_decref(got);
            released++;
        }
        /* The streaming filter gives the same bytes, on the body and on a
         * copy with one byte changed (mostly refused, alike). */
        (void)pds_stream_check(p, apr_psprintf(p, "round %ld", r), set, text, strlen(text),
                               NULL);
        if (strlen(text) > 0) {
            static const char bytes[] = "{}[],:\"\\ 0-.e\x80\xc3\xff";
            char *bent = apr_pstrdup(p, text);

            bent[rnd((uint32_t)strlen(text))] = bytes[rnd(sizeof(bytes) - 1)];
            (void)pds_stream_check(p, apr_psprintf(p, "round %ld, one byte changed", r), set,
                                   bent, strlen(bent), NULL);
        }
        json_decref(want);
        free(text);
        json_decref(doc);
        apr_pool_destroy(p);
    }
    /* both outcomes were exercised, many times */
    assert_true(refused > rounds / 20);
    assert_true(released > rounds / 4);
    assert_true(predicated > rounds / 10);
    print_message("differential: %ld rounds, %d released, %d refused as unexpected-type, "
                  "%d predicated paths\n", rounds, released, refused, predicated);
}

/* ---- row filters ------------------------------------------------------------ */

/* Does the condition (path, and test: member NULL for none, else the
 * comparison as a predicate of the value itself) hold below v from step k? */
static int ref_holds(json_t *v, const ref_path_t *path, int k, const ref_pred_t *test)
{
    json_t *elem;
    size_t idx;

    if (v == NULL || json_is_null(v))
        return 0;
    if (k == path->n) {
        int hit;

        if (test->member == NULL || json_is_object(v) || json_is_array(v))
            return 1;
        hit = ref_value_equal(v, test->value) || (test->op == 2 && ref_value_equal(v, test->value2));
        return test->op == 1 ? !hit : hit;
    }
    if (path->step[k] != NULL)
        return json_is_object(v) ? ref_holds(json_object_get(v, path->step[k]), path, k + 1, test)
                                 : 1;
    if (!json_is_array(v))
        return 1;
    json_array_foreach(v, idx, elem) {
        if (ref_takes(&path->pred[k], elem) && ref_holds(elem, path, k + 1, test))
            return 1;
    }
    return 0;
}

static void test_exclude_matches_reference(void **state)
{
    const char *seed_env = getenv("PDS_DIFF_SEED"), *rounds_env = getenv("PDS_DIFF_ROUNDS");
    long rounds = rounds_env ? atol(rounds_env) / 2 : 25000, r;
    long held = 0, kept = 0;

    (void)state;
    rng_state = seed_env ? (uint64_t)strtoull(seed_env, NULL, 10) + 1 : 0x2545F4914F6CDD1Dull;
    if (rng_state == 0)
        rng_state = 1;
    for (r = 0; r < rounds; r++) {
        apr_pool_t *p;
        ref_path_t path;
        ref_pred_t test;
        pds_rowfilter_t *rf;
        pds_fieldset_t *set;
        pds_filter_options_t opts;
        pds_filter_result_t res;
        pds_error_t err;
        const char *cond;
        json_t *doc, *rec;
        char *text;
        size_t idx;
        int i, want_out = 0;

        apr_pool_create(&p, NULL);
        random_path(&path, 0);
        test.member = rnd(3) == 0 ? NULL : "(value)";
        test.op = (int)rnd(3);
        test.value = (int)rnd(NPREDVALUES);
        test.value2 = (int)rnd(NPREDVALUES);
        cond = path_text(p, &path);
        if (test.member != NULL && test.op == 2)
            cond = apr_pstrcat(p, cond, " in (", pred_values[test.value], ", ",
                               pred_values[test.value2], ")", NULL);
        else if (test.member != NULL)
            cond = apr_pstrcat(p, cond, test.op == 0 ? "=" : "!=",
                               pred_values[test.value], NULL);
        assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
        pds_error_clear(&err);
        if (pds_rowfilter_add(rf, cond, &err) != APR_SUCCESS)
            fail_msg("round %ld: condition %s refused: %s", r, cond, err.text);
        doc = json_array();
        for (i = 0; i < 4; i++) {
            rec = json_object();
            json_object_set_new(rec, names[rnd(NNAMES)], random_value(1));
            json_object_set_new(rec, names[rnd(NNAMES)], random_value(1));
            json_array_append_new(doc, rnd(8) == 0 ? random_value(1) : rec);
            if (json_array_get(doc, (size_t)i) != rec)
                json_decref(rec);
        }
        json_array_foreach(doc, idx, rec) {
            int want = ref_holds(rec, &path, 0, &test);
            int got = pds_rowfilter_match(rf, rec) == 0;

            if (want != got) {
                char *t = json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);
                fail_msg("round %ld: condition %s on %s: reference %d, row filter %d",
                         r, cond, t, want, got);
            }
            want_out += want;
            held += want;
            kept += !want;
        }
        /* the filter takes out exactly those */
        {
            static const char *const every[] = { "[*]", NULL };
            set = pds_test_fieldset(p, every);
        }
        memset(&opts, 0, sizeof(opts));
        opts.exclude = rf;
        text = json_dumps(doc, JSON_COMPACT);
        pds_error_clear(&err);
        assert_int_equal(pds_filter_apply_ex(set, text, strlen(text), &opts, &res, p, &err),
                         APR_SUCCESS);
        assert_int_equal(res.excluded->nelts, want_out);
        /* the streaming filter reads the conditions by looking ahead: the
         * same records out of the collection, the same single records
         * refused (record-excluded), under a set that goes into them */
        (void)pds_stream_check(p, apr_psprintf(p, "exclude round %ld", r), set, text,
                               strlen(text), &opts);
        json_array_foreach(doc, idx, rec) {
            static const char *const some[] = { "a", "b.c", "given[*]", NULL };
            char *one = json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);

            (void)pds_stream_check(p, apr_psprintf(p, "exclude round %ld, record %lu", r,
                                                   (unsigned long)idx),
                                   pds_test_fieldset(p, some), one, strlen(one), &opts);
            free(one);
        }
        free(text);
        json_decref(doc);
        apr_pool_destroy(p);
    }
    /* both outcomes, many times */
    assert_true(held > rounds / 4);
    assert_true(kept > rounds / 4);
    print_message("differential: %ld row filter rounds, %ld records held, %ld kept\n",
                  rounds, held, kept);
}


/* ---- collections, record by record ---------------------------------------- */

static const char *const subjects[] = { "s1", "s2", "text", "9836900608", "" };
#define NSUBJECTS ((uint32_t)(sizeof(subjects) / sizeof(subjects[0])))

static json_t *random_record(void)
{
    json_t *rec = json_object();
    uint32_t i, n = 1 + rnd(3);

    switch (rnd(8)) {
    case 0: case 1: case 2: case 3:
        json_object_set_new(rec, "id", json_string(subjects[rnd(NSUBJECTS)]));
        break;
    case 4: json_object_set_new(rec, "id", json_integer((json_int_t)rnd(3) - 1)); break;
    case 5: break;
    default: json_object_set_new(rec, "id", random_value(3)); break;
    }
    for (i = 0; i < n; i++)
        json_object_set_new(rec, names[rnd(NNAMES)],
                            rnd(4) == 0 ? json_string("1980-05-01") : random_value(1));
    if (rnd(12) == 0) {
        json_decref(rec);
        return random_value(1);
    }
    return rec;
}

/* A set of n random "[*]." paths (the whole record sometimes), with the
 * transforms that fit it. */
static pds_fieldset_t *random_row_set(apr_pool_t *p, int n, int transforms)
{
    static const char *const tf[][2] = {
        { "[*].a", "age-band 10" }, { "[*].b", "mask 1" }, { "[*].c", "redact" },
        { "[*].given", "truncate 2" }, { "[*].id", "mask 2" }, { NULL, NULL }
    };
    pds_fieldset_t *set;
    ref_path_t path;
    int i;

    assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
    for (i = 0; i < n; i++) {
        random_path(&path, 0);
        assert_int_equal(pds_fieldset_add(set, rnd(10) == 0 ? "[*]" : apr_pstrcat(p, "[*].",
                                          path_text(p, &path), NULL), NULL), APR_SUCCESS);
    }
    if (rnd(4) != 0)
        assert_int_equal(pds_fieldset_add(set, "[*].id", NULL), APR_SUCCESS);
    if (rnd(3) == 0)
        assert_int_equal(pds_fieldset_add(set, rnd(2) ? "[*].a" : "[*].b", NULL),
                         APR_SUCCESS);
    for (i = 0; transforms && tf[i][0] != NULL; i++) {
        pds_transform_t *t;

        assert_int_equal(pds_transform_parse(&t, p, tf[i][1], NULL), APR_SUCCESS);
        (void)pds_fieldset_set_transform(set, tf[i][0], t, NULL);   /* where it fits */
    }
    return set;
}

static pds_rowfilter_t *random_exclude(apr_pool_t *p)
{
    pds_rowfilter_t *rf;
    ref_path_t path;
    const char *cond;

    assert_int_equal(pds_rowfilter_create(&rf, p), APR_SUCCESS);
    random_path(&path, 0);
    cond = path_text(p, &path);
    if (rnd(2))
        cond = apr_pstrcat(p, cond, rnd(2) ? "=" : "!=", pred_values[rnd(NPREDVALUES)], NULL);
    assert_int_equal(pds_rowfilter_add(rf, cond, NULL), APR_SUCCESS);
    return rf;
}

static void test_rows_match_dom(void **state)
{
    const char *seed_env = getenv("PDS_DIFF_SEED"), *rounds_env = getenv("PDS_DIFF_ROUNDS");
    long rounds = rounds_env ? atol(rounds_env) / 2 : 25000, r;
    long released = 0, records = 0, dropped = 0, excluded = 0;

    (void)state;
    rng_state = seed_env ? (uint64_t)strtoull(seed_env, NULL, 10) + 2 : 0x61C8864680B583EBull;
    if (rng_state == 0)
        rng_state = 1;
    for (r = 0; r < rounds; r++) {
        apr_pool_t *p;
        pds_fieldset_t *set, *other;
        pds_filter_options_t opts;
        pds_transform_ctx_t tctx;
        pds_rows_decider_t d;
        const char *subject_path = rnd(5) == 0 ? "a" : "id";
        json_t *doc = json_array();
        uint32_t i, n = rnd(7);
        char *text;

        apr_pool_create(&p, NULL);
        for (i = 0; i < n; i++)
            json_array_append_new(doc, random_record());
        set = random_row_set(p, 1 + (int)rnd(4), rnd(2));
        memset(&d, 0, sizeof(d));
        d.sets[0] = set;
        d.sets[1] = NULL;                               /* consent refused */
        other = random_row_set(p, 1 + (int)rnd(3), 0);
        assert_int_equal(pds_fieldset_intersect((pds_fieldset_t **)&d.sets[2], p, set, other),
                         APR_SUCCESS);
        d.sets[3] = other;                              /* not within the agreement's */
        d.nsets = 2 + (int)rnd(3);
        d.pseudonymise = (int)rnd(2);
        d.fail_on = rnd(8) == 0 ? "s2" : NULL;
        memset(&opts, 0, sizeof(opts));
        memset(&tctx, 0, sizeof(tctx));
        tctx.now = apr_time_from_sec(1796000000);
        opts.transform = &tctx;
        opts.drop_bad_records = (int)rnd(2);
        opts.max_depth = rnd(6) == 0 ? 3 : 0;
        opts.exclude = rnd(2) ? random_exclude(p) : NULL;
        text = json_dumps(doc, JSON_COMPACT);
        if (pds_stream_rows_check(p, apr_psprintf(p, "rows round %ld", r), set, text,
                                  strlen(text), &opts, subject_path, &d)) {
            pds_filter_result_t res;

            released++;
            assert_int_equal(pds_filter_apply_rows(set, text, strlen(text), &opts,
                                                   subject_path, pds_rows_decide, &d, &res, p,
                                                   NULL), APR_SUCCESS);
            records += res.records;
            dropped += res.dropped != NULL ? res.dropped->nelts : 0;
            excluded += res.excluded != NULL ? res.excluded->nelts : 0;
        }
        if (strlen(text) > 2) {
            static const char bytes[] = "{}[],:\"\\ 0-.e\x80\xc3\xff";
            char *bent = apr_pstrdup(p, text);

            bent[rnd((uint32_t)strlen(text))] = bytes[rnd(sizeof(bytes) - 1)];
            (void)pds_stream_rows_check(p, apr_psprintf(p, "rows round %ld, one byte changed",
                                                        r), set, bent, strlen(bent), &opts,
                                        subject_path, &d);
        }
        free(text);
        json_decref(doc);
        apr_pool_destroy(p);
    }
    print_message("differential: %ld collection rounds, %ld released (%ld records), %ld "
                  "records dropped, %ld excluded\n", rounds, released, records, dropped,
                  excluded);
    assert_true(released > rounds / 4);
    assert_true(records > rounds / 5);
    assert_true(dropped > rounds / 200);
    assert_true(excluded > rounds / 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_matches_reference),
        cmocka_unit_test(test_exclude_matches_reference),
        cmocka_unit_test(test_rows_match_dom),
    };

    return pds_test_main(tests, NULL, NULL);
}
