/* common.c: the per-input pool the targets share. */
#include <stdlib.h>

#include <apr_general.h>

#include "fuzz.h"

apr_pool_t *pds_fuzz_pool(void)
{
    static apr_pool_t *pool;

    if (pool == NULL) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
            abort();
    }
    apr_pool_clear(pool);
    return pool;
}
