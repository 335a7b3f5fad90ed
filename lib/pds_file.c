/* pds_file.c: a small file read whole (pds_file.h). */
#include <apr_file_io.h>

#include "pds_file.h"

apr_status_t pds_file_read_bounded(char **pbuf, apr_size_t *plen, apr_pool_t *p,
                                   const char *path, apr_size_t max, int *opened)
{
    apr_file_t *f;
    apr_status_t rv;
    apr_size_t n = 0;
    char *buf;

    *opened = 0;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return rv;
    *opened = 1;
    buf = apr_palloc(p, max + 1);
    rv = apr_file_read_full(f, buf, max + 1, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return rv;
    *pbuf = buf;
    *plen = n;
    return APR_SUCCESS;
}
