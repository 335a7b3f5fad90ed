/* mod_pds_disclosure_index.h: reading the audit log's files for a person's
 * view, and the persistent index of disclosures in the consent store (layer
 * 5 of docs/architecture.md; mod_pds_disclosures.c calls it).
 */
#ifndef MOD_PDS_DISCLOSURE_INDEX_H
#define MOD_PDS_DISCLOSURE_INDEX_H

#include "apr_portable.h"

#include "mod_pds_private.h"
#include "pds_consent_store.h"
#include "pds_disclosure_store.h"
#include "pds_unpack.h"

/* Most lines one catch-up indexes: a longer backlog (a store migrated under
 * a long log, a burst) is indexed over the next ones, and the node is
 * "behind" meanwhile. */
#define PDS_DISCLOSURE_INDEX_BATCH 5000

/* How often each node indexes its own log without a request (one process
 * of the node does, mod_watchdog's singleton): the bound on how late a
 * node's disclosures reach the views of the other nodes. */
#define PDS_DISCLOSURE_INDEX_INTERVAL_SEC 2
/* A node with nothing new still says it looked, at most this often... */
#define PDS_DISCLOSURE_INDEX_TOUCH_SEC 10
/* ... and one that has not said so for longer is "not-checked": a view's
 * answer may then lack its latest disclosures, and says so. */
#define PDS_DISCLOSURE_INDEX_STALE_SEC 30

/* One file of an audit log: the current one, or one a rotation renamed away. */
typedef struct pds_log_file_t {
    const char *path;
    apr_file_t *file;
    apr_uint64_t first;             /* the seq of its first line: its name and order */
    int plain;                      /* not compressed: read from any offset */
    char id[PDS_DISCLOSURE_FILE_ID_LEN + 1];   /* its identity (pds_disclosure_store.h);
                                                  "": its first line is not whole yet */
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

/* Fills lf->first, lf->plain and lf->id from the file's first line; 0 when
 * it has none (empty, or not a log of ours). */
apr_uint64_t pds_log_file_probe(pds_log_file_t *lf, apr_pool_t *ptemp);

/* Who a catch-up logs for: a request, or (r NULL) the server, from the
 * background; quiet: its errors at debug level (a failure already said). */
typedef struct pds_index_run_t {
    request_rec *r;
    server_rec *s;
    apr_pool_t *pool;
    int quiet;
} pds_index_run_t;

/* Indexes, into the store, at most PDS_DISCLOSURE_INDEX_BATCH lines of the
 * log whose files (pds_log_file_t, by first seq) are given, from node's
 * cursor on (a name the index does not know takes the cursor of the chain
 * its files are of), and marks the node looked at. *complete: the index
 * reached the end of the last file. APR_SUCCESS also when another process
 * moved the cursor meanwhile. */
apr_status_t pds_disclosure_index_catch_up(const pds_index_run_t *run, pds_consent_store_t *st,
                                           const char *node, const apr_array_header_t *files,
                                           int *complete);

#endif
