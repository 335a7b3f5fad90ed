/* pds_disclosure_store.h: the persistent index of a person's disclosures, in
 * the consent store (schema 2; tables pds_disclosures and
 * pds_disclosure_cursors, pds_consent_store.h).
 *
 * Each node indexes its own audit log: it reads the lines after its cursor,
 * turns them into rows (pds_disclosure_rows) and moves the cursor with them
 * in one transaction, only if the cursor is still where it read it ("compare
 * and set"). Rows are unique on (node, seq, subject) and inserted with "do
 * nothing" on a conflict, so processes racing over one log, or nodes sharing
 * one PostgreSQL, never count a disclosure twice. The person's view then
 * reads the rows about them, whichever node wrote the record.
 */
#ifndef PDS_DISCLOSURE_STORE_H
#define PDS_DISCLOSURE_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "pds_consent_store.h"
#include "pds_disclosure.h"
#include "pds_error.h"

/* Where a node's indexing stands. A file of the log is named by the seq of
 * its first line (rotation renames it, compression rewrites it; that seq
 * stays). */
typedef struct pds_disclosure_cursor_t {
    apr_uint64_t file_first;    /* first seq of the file being read; 0: none yet */
    apr_uint64_t offset;        /* its plain bytes already indexed (whole lines) */
    apr_uint64_t last_seq;      /* seq of the last line indexed; 0: none */
    apr_uint64_t lines;         /* lines indexed in all, since the index began */
} pds_disclosure_cursor_t;

/* node's cursor; all zero (and a row made for it) when it has none yet. */
apr_status_t pds_disclosure_store_cursor(pds_consent_store_t *s, apr_pool_t *p,
                                         const char *node, pds_disclosure_cursor_t *c,
                                         pds_error_t *err);

/* In one transaction: moves node's cursor from *from to *to, and inserts rows
 * (pds_disclosure_row_t; a row already there is left as it is). APR_EAGAIN,
 * nothing written, when the cursor is no longer *from (another process
 * indexed those lines meanwhile). */
apr_status_t pds_disclosure_store_advance(pds_consent_store_t *s, apr_pool_t *p,
                                          const char *node,
                                          const pds_disclosure_cursor_t *from,
                                          const pds_disclosure_cursor_t *to,
                                          const apr_array_header_t *rows, pds_error_t *err);

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
