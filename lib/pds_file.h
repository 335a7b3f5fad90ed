/* pds_file.h: a small file read whole (keys, trust registries), the one way
 * lib/ does it: bounded, never trusting the file's own size (a pipe, or a
 * file growing under us, has none worth believing). */
#ifndef PDS_FILE_H
#define PDS_FILE_H

#include <apr_pools.h>

/* Reads at most max + 1 bytes of path into memory from p, so that a caller
 * tells a file larger than max by *plen > max. *pbuf is not NUL-terminated.
 * On failure the APR status of the step that failed, and *opened says which:
 * 0 opening the file, 1 reading it. A caller holding secrets cleanses *pbuf
 * and destroys p when done. */
apr_status_t pds_file_read_bounded(char **pbuf, apr_size_t *plen, apr_pool_t *p,
                                   const char *path, apr_size_t max, int *opened);

#endif
