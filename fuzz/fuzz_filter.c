/* The JSON filter on hostile back-end bodies: never crashes, and what it
 * releases is valid JSON holding only the allowed members. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "pds_filter.h"

static const char *const paths[] = {
    "name.given", "dob", "contacts[*].phone", "care", "a.b.c", NULL
};

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

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    for (i = 0; paths[i] != NULL; i++) {
        if (pds_fieldset_add(set, paths[i], NULL) != APR_SUCCESS)
            abort();
    }
    pds_error_clear(&err);
    if (pds_filter_apply(set, (const char *)data, size, 16, &res, p, &err) != APR_SUCCESS) {
        if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
    out = json_loadb(res.body, res.length, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(out))
        abort();
    json_object_foreach(out, key, v) {
        if (strcmp(key, "name") != 0 && strcmp(key, "dob") != 0 && strcmp(key, "contacts") != 0
            && strcmp(key, "care") != 0 && strcmp(key, "a") != 0)
            abort();                    /* a member nobody released */
    }
    json_decref(out);
    return 0;
}
