/* The JSON filter on hostile back-end bodies, with and without transforms
 * (the first byte chooses: odd bytes add them): never crashes, and what it
 * releases is valid JSON holding only the allowed members. A transform may
 * refuse a value (transform-type), never anything else. A first byte with
 * bit 1 set (and bit 0 clear) reads the rest as a collection under Exclude
 * conditions (row filters): the answer is an array of no more records than
 * were sent, those left out counted, and no record left holds a condition
 * on a member it kept. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "pds_filter.h"
#include "pds_rowfilter.h"

static const char *const paths[] = {
    "name.given", "dob", "contacts[*].phone", "care", "a.b.c",
    "telecom[system=phone].value", "telecom[use in (home, 1, true)][system!=email].use",
    "telecom[*].rank", "telecom[system=phone].period[kind=\"a\\\"b\"]", NULL
};

/* Transforms on released paths, below a whole release too ("care.needs"). */
static const char *const transforms[][2] = {
    { "name.given", "pseudonymise" }, { "dob", "age-band 10" },
    { "contacts[*].phone", "mask 3" }, { "care.needs", "redact" },
    { "care.allergies[*]", "truncate 2" }, { "a.b.c", "round 0.5" }, { NULL, NULL }
};

/* Conditions on members the collection releases, so the output can be
 * checked against them, and one on a member it does not. */
static const char *const conditions[] = {
    "active=false", "status in (a, 1, true)", "id!=keep", "meta.security[code=R]",
    "telecom[system=phone].rank=1", NULL
};

static int collection(const uint8_t *data, size_t size, apr_pool_t *p)
{
    static const char *const each[] = { "[*].active", "[*].status", "[*].id",
                                        "[*].telecom[system=phone]", NULL };
    pds_fieldset_t *set;
    pds_rowfilter_t *rf;
    pds_filter_options_t opts;
    pds_filter_result_t res;
    pds_error_t err;
    json_t *in, *out, *rec;
    size_t i;
    int k;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS || pds_rowfilter_create(&rf, p) != APR_SUCCESS)
        abort();
    for (k = 0; each[k] != NULL; k++)
        if (pds_fieldset_add(set, each[k], NULL) != APR_SUCCESS)
            abort();
    for (k = 0; conditions[k] != NULL; k++)
        if (pds_rowfilter_add(rf, conditions[k], NULL) != APR_SUCCESS)
            abort();
    memset(&opts, 0, sizeof(opts));
    opts.max_depth = 16;
    opts.exclude = rf;
    pds_error_clear(&err);
    if (pds_filter_apply_ex(set, (const char *)data, size, &opts, &res, p, &err) != APR_SUCCESS) {
        if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
    out = json_loadb(res.body, res.length, JSON_REJECT_DUPLICATES, NULL);
    in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (!json_is_array(out) || !json_is_array(in) || res.excluded == NULL
        || json_array_size(out) + (size_t)res.excluded->nelts > json_array_size(in))
        abort();
    json_array_foreach(out, i, rec) {
        /* the first four conditions read only released members: they would
         * still hold on the released record */
        for (k = 0; k < 3; k++) {
            pds_rowfilter_t *one;

            if (pds_rowfilter_create(&one, p) != APR_SUCCESS
                || pds_rowfilter_add(one, conditions[k], NULL) != APR_SUCCESS)
                abort();
            if (pds_rowfilter_match(one, rec) >= 0)
                abort();                /* a record a condition holds for */
        }
    }
    json_decref(in);
    json_decref(out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    pds_fieldset_t *set;
    pds_filter_result_t res;
    pds_error_t err;
    json_t *out;
    const char *key;
    json_t *v;
    int i;

    if (size > 0 && (data[0] & 3) == 2)
        return collection(data + 1, size - 1, p);
    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    for (i = 0; paths[i] != NULL; i++) {
        if (pds_fieldset_add(set, paths[i], NULL) != APR_SUCCESS)
            abort();
    }
    if (size > 0 && (data[0] & 1)) {
        static const unsigned char pseudonym_key[32] = { 1, 2, 3 };
        pds_filter_options_t opts;
        pds_transform_ctx_t tctx;

        for (i = 0; transforms[i][0] != NULL; i++) {
            pds_transform_t *t;
            if (pds_transform_parse(&t, p, transforms[i][1], NULL) != APR_SUCCESS
                || pds_fieldset_set_transform(set, transforms[i][0], t, NULL) != APR_SUCCESS)
                abort();
        }
        memset(&opts, 0, sizeof(opts));
        tctx.now = apr_time_from_sec(1796000000);
        tctx.key = pseudonym_key;
        tctx.hmac = NULL;
        opts.max_depth = 16;
        opts.transform = &tctx;
        opts.subject = "9836900608";
        opts.subject_pseudonym = "ps_subject";
        pds_error_clear(&err);
        if (pds_filter_apply_ex(set, (const char *)data + 1, size - 1, &opts, &res, p, &err)
            != APR_SUCCESS) {
            if (!pds_error_is_set(&err))
                abort();
            return 0;
        }
        goto check;
    }
    pds_error_clear(&err);
    if (pds_filter_apply(set, (const char *)data, size, 16, &res, p, &err) != APR_SUCCESS) {
        if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
check:
    out = json_loadb(res.body, res.length, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(out))
        abort();
    json_object_foreach(out, key, v) {
        if (strcmp(key, "name") != 0 && strcmp(key, "dob") != 0 && strcmp(key, "contacts") != 0
            && strcmp(key, "care") != 0 && strcmp(key, "a") != 0
            && strcmp(key, "telecom") != 0)
            abort();                    /* a member nobody released */
    }
    json_decref(out);
    return 0;
}
