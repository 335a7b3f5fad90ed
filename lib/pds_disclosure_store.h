/* pds_disclosure_store.h: the persistent index of a person's disclosures, in
 * the consent store (since schema 2; tables pds_disclosures and
 * pds_disclosure_cursors, pds_consent_store.h).
 *
 * Each node indexes its own audit log: it reads the lines after its cursor,
 * turns them into rows (pds_disclosure_rows) and moves the cursor with them
 * in one transaction, only if the cursor is still where it read it ("compare
 * and set"). Rows are unique on (line, subject), the line named by the
 * SHA-256 of its bytes, and inserted with "do nothing" on a conflict: a line
 * is indexed once whatever the node is called, however many processes race
 * over one log, whichever nodes share one PostgreSQL. The person's view then
 * reads the rows about them, whichever node wrote the record.
 *
 * A cursor is found by the node's name, or, for a name the index does not
 * know yet (a renamed node), by the file it was in: the seq of that file's
 * first line and the SHA-256 of that line, which no other chain's file has.
 * The cursor then goes on under the new name, and nothing is read again.
 *
 * Each cursor also says when its node last looked at its log (updated) and,
 * while that node has more lines than one catch-up takes, since when it has
 * been behind (behind_since): what a view needs to tell a whole answer from
 * one that may lack a node's latest disclosures (pds_disclosure_store_behind).
 */
#ifndef PDS_DISCLOSURE_STORE_H
#define PDS_DISCLOSURE_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "pds_consent_store.h"
#include "pds_disclosure.h"
#include "pds_error.h"

/* A file's identity: SHA-256, in hex, of its first line (at most its first
 * PDS_DISCLOSURE_FILE_ID_BYTES bytes; the same plain bytes gzip'd or xz'd). */
#define PDS_DISCLOSURE_FILE_ID_LEN 64
#define PDS_DISCLOSURE_FILE_ID_BYTES 4096

/* Where a node's indexing stands. A file of the log is named by the seq of
 * its first line (rotation renames it, compression rewrites it; that seq
 * stays). */
typedef struct pds_disclosure_cursor_t {
    apr_uint64_t file_first;    /* first seq of the file being read; 0: none yet */
    apr_uint64_t offset;        /* its plain bytes already indexed (whole lines) */
    apr_uint64_t last_seq;      /* seq of the last line indexed; 0: none */
    apr_uint64_t lines;         /* lines indexed in all, since the index began */
    char file_id[PDS_DISCLOSURE_FILE_ID_LEN + 1];  /* that file's identity; "": unknown */
    apr_time_t updated;         /* when the node last looked at its log */
    apr_time_t behind_since;    /* 0: it then read to the end; else since when it has not */
} pds_disclosure_cursor_t;

/* Is one of the node's files the one that begins at seq first and has
 * identity id (PDS_DISCLOSURE_FILE_ID_LEN hex digits)? */
typedef int (*pds_disclosure_mine_cb)(void *baton, apr_uint64_t first, const char *id);

/* node's cursor. A node the index does not know is given the cursor of
 * another name whose file mine says is the node's (*adopted then names that
 * name, in p; the cursor is renamed, compare-and-set); else a new one, all
 * zero (and a row made for it). adopted may be NULL. */
apr_status_t pds_disclosure_store_cursor(pds_consent_store_t *s, apr_pool_t *p,
                                         const char *node, pds_disclosure_mine_cb mine,
                                         void *baton, pds_disclosure_cursor_t *c,
                                         const char **adopted, pds_error_t *err);

/* In one transaction: moves node's cursor from *from to *to (its position
 * and file_id), marks it looked at now (behind since *from's behind_since,
 * or now, unless complete: the log was read to its end), and inserts rows
 * (pds_disclosure_row_t, each with its line; a row already there is left as
 * it is). With rows NULL and *to at *from's position, it only marks it.
 * APR_EAGAIN, nothing written, when the cursor is no longer at *from's
 * position (another process indexed those lines meanwhile). */
apr_status_t pds_disclosure_store_advance(pds_consent_store_t *s, apr_pool_t *p,
                                          const char *node,
                                          const pds_disclosure_cursor_t *from,
                                          const pds_disclosure_cursor_t *to, int complete,
                                          const apr_array_header_t *rows, pds_error_t *err);

/* The nodes whose index may lack disclosures at now, as a new JSON array,
 * by name: {"node", "since" (RFC 3339, or null), "reason"}, reason
 * "unreadable" for failed (a node whose catch-up just failed; NULL: none;
 * since: when it last looked at its log), "indexing" (it had more lines
 * than a catch-up takes, since then) or "not-checked" (it has not looked at
 * its log for more than stale; since: when it last did). An empty array:
 * every node's index is current. */
apr_status_t pds_disclosure_store_behind(pds_consent_store_t *s, apr_pool_t *p, apr_time_t now,
                                         apr_interval_time_t stale, const char *failed,
                                         json_t **pout, pds_error_t *err);

/* The entries about subject (as logged) visible at now (visible_from <= now:
 * restricted ones never), oldest first (time, then node and seq), as a new
 * JSON array of the entries indexed. An entry that is not JSON fails
 * ("consent-store-unavailable"): the view is whole or not given. */
apr_status_t pds_disclosure_store_of(pds_consent_store_t *s, apr_pool_t *p, const char *subject,
                                     apr_time_t now, json_t **pout, pds_error_t *err);

/* Disclosures under agreement in month ("YYYY-MM"), every node's: a record
 * about many people counts once. */
apr_status_t pds_disclosure_store_in_month(pds_consent_store_t *s, apr_pool_t *p,
                                           const char *agreement, const char *month,
                                           apr_uint64_t *pcount, pds_error_t *err);

#endif
