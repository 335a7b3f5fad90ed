/* pds_spool.h: a back-end body held whole until it is filtered, in memory
 * while small and, past a threshold, in an anonymous file.
 *
 * The response filter must see the whole body before it sends anything, so
 * the body is held; this is where. Up to `threshold` bytes it is a heap
 * buffer. Past it (when a directory is given) the bytes go to a file opened
 * with O_TMPFILE in that directory (mkstemp and an immediate unlink where
 * the file system cannot): mode 0600, never linked under a name, so no other
 * process can open it and it is gone when the descriptor is closed, or the
 * process ends. pds_spool_map() then gives the whole body as one read-only
 * mapping of that file: page cache, which the kernel can reclaim, instead
 * of anonymous memory the size of the body. Once spooled, the memory held is
 * a write buffer of `threshold` bytes.
 *
 * Everything is owned by the pool: its cleanup unmaps, closes and frees;
 * pds_spool_close() does the same earlier.
 */
#ifndef PDS_SPOOL_H
#define PDS_SPOOL_H

#include <apr_pools.h>

#include "pds_error.h"

typedef struct pds_spool_t pds_spool_t;

typedef struct pds_spool_options_t {
    const char *dir;        /* where the file goes; NULL: memory only */
    apr_size_t threshold;   /* bytes held in memory before the file (> 0) */
    apr_size_t limit;       /* the most the body may be */
    apr_size_t expected;    /* a declared length (Content-Length), 0 if none */
} pds_spool_options_t;

/* What pds_spool_append() returns for a body past the limit (nothing of
 * the piece is kept). */
#define PDS_SPOOL_TOO_LARGE APR_EINCOMPLETE

apr_status_t pds_spool_create(pds_spool_t **ps, apr_pool_t *p,
                              const pds_spool_options_t *opts);

/* Adds n bytes. APR_SUCCESS; PDS_SPOOL_TOO_LARGE; or the status of the file
 * step that failed, with err's code "spool-open" or "spool-write" (its text
 * names the step and the system's reason, never the data). After a failure
 * every later call fails the same way. */
apr_status_t pds_spool_append(pds_spool_t *s, const char *data, apr_size_t n,
                              pds_error_t *err);

/* The whole body: *pdata points at *plen bytes (not NUL-terminated), valid
 * until pds_spool_close() or the pool's end; nothing can be appended after.
 * Fails ("spool-write", "spool-map") when the file's rest cannot be written
 * or mapped. */
apr_status_t pds_spool_map(pds_spool_t *s, const char **pdata, apr_size_t *plen,
                           pds_error_t *err);

/* Unmaps, closes the file (which then is gone), frees the buffer. Safe to
 * call twice; the pool's cleanup calls it too. */
void pds_spool_close(pds_spool_t *s);

/* 1 when the body went to a file. */
int pds_spool_on_disk(const pds_spool_t *s);

/* Whether a file can be made in dir the way pds_spool_append() makes it:
 * APR_SUCCESS, or the failing status with err's text saying why (for a
 * start check run as the user the children run as). Leaves nothing behind. */
apr_status_t pds_spool_probe(const char *dir, apr_pool_t *p, pds_error_t *err);

#endif
