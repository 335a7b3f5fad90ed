/* Field paths: any text given to pds_fieldset_add is either compiled or
 * refused with a position inside the text. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_filter.h"

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
    return 0;
}
