/* pds_unpack.h: the bytes of a rotated audit log file, whether logrotate
 * compressed it or not. The format is known from the file's first bytes:
 * gzip (1f 8b), xz (fd 37 7a 58 5a 00), anything else is read as it is.
 * Concatenated gzip members and xz streams are read one after the other, as
 * gzip -d and xz -d do. The caller supplies the file's bytes through a read
 * callback, so the same reader serves a FILE, a descriptor read with pread
 * (one shared with other processes), or a buffer in a test.
 */
#ifndef PDS_UNPACK_H
#define PDS_UNPACK_H

#include <apr_pools.h>

#include "pds_error.h"

/* Fills buf with up to cap bytes of the file; *got 0 at its end. */
typedef apr_status_t (*pds_unpack_read_cb)(void *baton, void *buf, apr_size_t cap,
                                           apr_size_t *got);

typedef enum {
    PDS_UNPACK_PLAIN = 0,
    PDS_UNPACK_GZIP,
    PDS_UNPACK_XZ
} pds_unpack_format_t;

typedef struct pds_unpack_t pds_unpack_t;

/* A reader from p; nothing is read until the first pds_unpack_read. */
apr_status_t pds_unpack_open(pds_unpack_t **pu, apr_pool_t *p, pds_unpack_read_cb read,
                             void *baton);

/* Up to cap plain bytes into buf; *got 0 at the end. A read error of the
 * callback is returned as it is; a damaged or cut-short compressed file is
 * APR_EGENERAL with err saying which (code "bad-compressed-file"). */
apr_status_t pds_unpack_read(pds_unpack_t *u, void *buf, apr_size_t cap, apr_size_t *got,
                             pds_error_t *err);

/* The format found (PDS_UNPACK_PLAIN before the first read). */
pds_unpack_format_t pds_unpack_format(const pds_unpack_t *u);

/* Releases the decompressor now rather than with the pool. */
void pds_unpack_close(pds_unpack_t *u);

#endif
