/* common.c: the per-input pool the targets share, and a comparison. */
#include <stdlib.h>
#include <string.h>

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

int pds_fuzz_lists_equal(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if ((a == NULL) != (b == NULL))
        return 0;
    if (a == NULL)
        return 1;
    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *)) != 0)
            return 0;
    return 1;
}
