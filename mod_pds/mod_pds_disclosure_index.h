/* mod_pds_disclosure_index.h: reading the audit log's files for a person's
 * view, and the persistent index of disclosures in the consent store (layer
 * 5 of docs/architecture.md; mod_pds_disclosures.c calls it).
 */
#ifndef MOD_PDS_DISCLOSURE_INDEX_H
#define MOD_PDS_DISCLOSURE_INDEX_H

#include "apr_portable.h"

#include "mod_pds_private.h"
#include "pds_consent_store.h"
#include "pds_unpack.h"

/* Most lines one request indexes: a longer backlog (a store migrated under
 * a long log, a burst) is indexed over the next requests. */
#define PDS_DISCLOSURE_INDEX_BATCH 5000

/* One file of an audit log: the current one, or one a rotation renamed away. */
typedef struct pds_log_file_t {
    const char *path;
    apr_file_t *file;
    apr_uint64_t first;             /* the seq of its first line: its name and order */
    int plain;                      /* not compressed: read from any offset */
} pds_log_file_t;

/* A file's bytes read with pread (a descriptor inherited from the parent
 * shares its offset with every process: nothing may move it). */
typedef struct pds_pread_source_t {
    apr_os_file_t fd;
    apr_off_t offset;
} pds_pread_source_t;

/* A reader of f's plain bytes from byte from (0 for a compressed file). */
apr_status_t pds_log_unpack_open(pds_unpack_t **pu, pds_pread_source_t *src, apr_file_t *f,
                                 apr_off_t from, apr_pool_t *p);

/* Fills lf->first and lf->plain from the file's first line; 0 when it has
 * none (empty, or not a log of ours). */
apr_uint64_t pds_log_file_probe(pds_log_file_t *lf, apr_pool_t *ptemp);

/* Indexes, into the store, at most PDS_DISCLOSURE_INDEX_BATCH lines of the
 * log whose files (pds_log_file_t, by first seq) are given, from node's
 * cursor on. *complete: the index reached the end of the last file.
 * APR_SUCCESS also when another process moved the cursor meanwhile. */
apr_status_t pds_disclosure_index_catch_up(request_rec *r, pds_consent_store_t *st,
                                           const char *node, const apr_array_header_t *files,
                                           int *complete);

#endif
