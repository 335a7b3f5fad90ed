/* The write check (pds_write.h) on hostile bodies, in each mode (the first
 * byte chooses the mode and strip): never crashes, and a body it lets
 * through is a JSON object that writes something, that checks again the same
 * way (nothing left to strip, the same paths written), and holds no member
 * the Write list does not name at the top level. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "pds_filter.h"
#include "pds_write.h"

static const char *const paths[] = {
    "phone", "name.family", "name.given", "telecom", "telecom[*].system",
    "telecom[*].value", "care.needs", "care.needs[*]", "a.b.c", NULL
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pds_write_mode_t modes[] = {
        PDS_WRITE_RECORD, PDS_WRITE_TOP_LEVEL, PDS_WRITE_DEEP_MERGE, PDS_WRITE_DEEP_MERGE
    };
    apr_pool_t *p = pds_fuzz_pool();
    pds_fieldset_t *set;
    pds_write_shape_t *shape;
    pds_write_result_t res, again;
    pds_write_mode_t mode;
    pds_error_t err;
    json_t *out, *v;
    const char *key;
    int i, strip;

    if (size == 0)
        return 0;
    mode = modes[data[0] & 3];
    strip = (data[0] >> 2) & 1;
    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    for (i = 0; paths[i] != NULL; i++) {
        if (pds_fieldset_add(set, paths[i], NULL) != APR_SUCCESS)
            abort();
    }
    /* top-level needs name and care named: "a.b.c" too */
    if (mode == PDS_WRITE_TOP_LEVEL
        && (pds_fieldset_add(set, "name", NULL) != APR_SUCCESS
            || pds_fieldset_add(set, "care", NULL) != APR_SUCCESS
            || pds_fieldset_add(set, "a", NULL) != APR_SUCCESS))
        abort();
    pds_error_clear(&err);
    if (pds_write_shape_compile(&shape, set, mode, p, &err) != APR_SUCCESS)
        abort();
    pds_error_clear(&err);
    if (pds_write_check(shape, (const char *)data + 1, size - 1, 16, mode, strip, &res, p,
                        &err) != APR_SUCCESS) {
        if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
    if (res.verdict != NULL) {
        if (res.body != NULL || (strcmp(res.verdict, "write-not-allowed") != 0
                                 && strcmp(res.verdict, "write-empty") != 0))
            abort();
        return 0;
    }
    if (res.written->nelts == 0 || (!strip && res.uncovered->nelts > 0))
        abort();
    out = json_loadb(res.body, res.length, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(out))
        abort();
    json_object_foreach(out, key, v) {
        if (strcmp(key, "phone") != 0 && strcmp(key, "name") != 0
            && strcmp(key, "telecom") != 0 && strcmp(key, "care") != 0
            && strcmp(key, "a") != 0)
            abort();                    /* a member the list does not name */
    }
    json_decref(out);
    pds_error_clear(&err);
    if (pds_write_check(shape, res.body, res.length, 16, mode, 0, &again, p, &err)
        != APR_SUCCESS || again.verdict != NULL || again.uncovered->nelts != 0
        || again.written->nelts != res.written->nelts
        || again.length != res.length || memcmp(again.body, res.body, res.length) != 0)
        abort();
    return 0;
}
