/* chunk_source.h: a file's bytes from a buffer, handed out a few at a time,
 * as a pds_unpack_read_cb (chunk_source.c). No cmocka: tests/unit/test_unpack.c
 * and fuzz/fuzz_unpack.c share it. */
#ifndef PDS_CHUNK_SOURCE_H
#define PDS_CHUNK_SOURCE_H

#include <apr_errno.h>

typedef struct pds_chunk_source_t {
    const unsigned char *data;
    apr_size_t len, pos;
    apr_size_t step;                    /* at most this many bytes a read */
} pds_chunk_source_t;

/* pds_unpack_read_cb over a pds_chunk_source_t (the baton). */
apr_status_t pds_chunk_source_read(void *baton, void *buf, apr_size_t cap, apr_size_t *got);

#endif
