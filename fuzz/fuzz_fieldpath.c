/* Field paths: any text given to pds_fieldset_add is either compiled or
 * refused with a position inside the text. The same text as an Exclude
 * condition (pds_rowfilter_add, the same parser with a comparison at the
 * end): compiled or refused likewise; a path is always a condition; a
 * condition compiled is checked against a fixed record without a crash. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_filter.h"
#include "pds_rowfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    char *path = apr_pstrmemdup(p, (const char *)data, size);
    pds_fieldset_t *set;
    pds_error_t err;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        abort();
    pds_error_clear(&err);
    if (pds_fieldset_add(set, path, &err) != APR_SUCCESS) {
        if (!pds_error_is_set(&err) || err.position < 0
            || (size_t)err.position > strlen(path))
            abort();
    }
    else if (pds_fieldset_count(set) != 1) {
        abort();
    }
    {
        static json_t *record;
        pds_rowfilter_t *rf;
        int path_ok = pds_fieldset_count(set) == 1;

        if (record == NULL)
            record = json_loads("{\"a\":[{\"b\":1,\"c\":\"x\"},{\"b\":true}],"
                                "\"meta\":{\"security\":[{\"code\":\"R\"}]},"
                                "\"active\":false,\"s\":\"\"}", 0, NULL);
        if (record == NULL || pds_rowfilter_create(&rf, p) != APR_SUCCESS)
            abort();
        pds_error_clear(&err);
        if (pds_rowfilter_add(rf, path, &err) != APR_SUCCESS) {
            if (!pds_error_is_set(&err) || err.position < 0
                || (size_t)err.position > strlen(path)
                || (path_ok && path[0] != '['))
                abort();
        }
        else if (pds_rowfilter_count(rf) != 1 || pds_rowfilter_match(rf, record) > 0)
            abort();
    }
    return 0;
}
