/* common.c: the per-input pool the targets share. */
#include <stdlib.h>

#include <apr_general.h>

#include "fuzz.h"

static apr_pool_t *pool;

/* At exit, before LeakSanitizer's final check: the last input's objects
 * (jansson values released by pool cleanups) live in pool memory APR may
 * have from mmap, where LeakSanitizer does not look for pointers. */
static void clear_pool(void)
{
    if (pool != NULL)
        apr_pool_clear(pool);
}

apr_pool_t *pds_fuzz_pool(void)
{
    if (pool == NULL) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
            abort();
        atexit(clear_pool);
    }
    apr_pool_clear(pool);
    return pool;
}
