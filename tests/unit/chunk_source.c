/* chunk_source.c: a buffer handed out a few bytes at a time (chunk_source.h). */
#include <string.h>

#include "chunk_source.h"

apr_status_t pds_chunk_source_read(void *baton, void *buf, apr_size_t cap, apr_size_t *got)
{
    pds_chunk_source_t *s = baton;
    apr_size_t n = s->len - s->pos;

    if (n > cap)
        n = cap;
    if (n > s->step)
        n = s->step;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return APR_SUCCESS;
}
