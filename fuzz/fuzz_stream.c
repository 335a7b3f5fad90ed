/* The streaming filter against the DOM filter on hostile bodies: the first
 * byte chooses the set (with or without transforms, a top-level array or
 * not), subject replacement and the depth bound; the rest is the body.
 * Any disagreement aborts: the comparison is the unit tests' own
 * (tests/unit/stream_compare.h says what it covers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pds_stream.h"
#include "stream_compare.h"

static const char *const paths[] = {
    "name.given", "name", "dob", "contacts[*].phone", "care", "care.needs", "a.b.c",
    "telecom[system=phone].value", "telecom[use in (home, 1, true)][system!=email].use",
    "telecom[*].rank", "telecom[system=\"a\\\"b\"].period[kind=\"x\"]", "ids[n=1.5]",
    NULL
};
static const char *const array_paths[] = {
    "[*].id", "[*].name.given", "[*].telecom[system=phone]", "[*].care", NULL
};

/* Transforms on released paths, below whole releases too. */
static const char *const transforms[][2] = {
    { "name.given", "pseudonymise" }, { "dob", "age-band 10" },
    { "contacts[*].phone", "mask 3" }, { "care.needs", "redact" },
    { "care.allergies[*]", "truncate 2" }, { "a.b.c", "round 0.5" },
    { "telecom[*].value", "constant \"x\"" }, { "name.family", "nullify" }, { NULL, NULL }
};
static const char *const array_transforms[][2] = {
    { "[*].id", "mask 2" }, { "[*].care.plan", "redact" }, { NULL, NULL }
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char pseudonym_key[32] = { 1, 2, 3 };
    apr_pool_t *p = pds_fuzz_pool();
    const char *const *ps;
    const char *const (*ts)[2];
    pds_fieldset_t *set;
    pds_filter_options_t opts;
    pds_transform_ctx_t tctx;
    const char *why;
    unsigned mode;
    int i;

    if (size == 0)
        return 0;
    mode = data[0];
    data++;
    size--;
    ps = (mode & 8) ? array_paths : paths;
    ts = (mode & 8) ? array_transforms : transforms;
    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    for (i = 0; ps[i] != NULL; i++)
        if (pds_fieldset_add(set, ps[i], NULL) != APR_SUCCESS)
            abort();
    if (mode & 1) {
        for (i = 0; ts[i][0] != NULL; i++) {
            pds_transform_t *t;
            if (pds_transform_parse(&t, p, ts[i][1], NULL) != APR_SUCCESS
                || pds_fieldset_set_transform(set, ts[i][0], t, NULL) != APR_SUCCESS)
                abort();
        }
    }
    memset(&opts, 0, sizeof(opts));
    tctx.now = apr_time_from_sec(1796000000);
    tctx.key = pseudonym_key;
    opts.transform = &tctx;
    opts.max_depth = (mode & 4) ? 3 : 16;
    if (mode & 2) {
        opts.subject = "9836900608";
        opts.subject_pseudonym = "ps_subject";
    }

    if (pds_stream_compare(p, set, (const char *)data, size, &opts, &why) < 0) {
        fprintf(stderr, "fuzz_stream: %s\n", why);
        abort();
    }
    return 0;
}
