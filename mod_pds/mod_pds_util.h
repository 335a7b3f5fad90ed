/* mod_pds_util.h: small request helpers of the glue (layer 2 of
 * docs/architecture.md: every layer above may call them; they call only
 * configuration and lib/). The syntax rules they share with lib/ (names,
 * JSON media types) are lib/pds_syntax.h.
 */
#ifndef MOD_PDS_UTIL_H
#define MOD_PDS_UTIL_H

#include "mod_pds_private.h"

/* How many times the header name occurs in t (case-insensitive). */
int pds_header_count(apr_table_t *t, const char *name);

/* What pds_body_read found. Each caller words its own answer. */
typedef enum {
    PDS_BODY_READ,              /* the whole body is in *pbuf */
    PDS_BODY_DECLARED_TOO_LARGE,/* Content-Length over the limit: nothing read */
    PDS_BODY_TOO_LARGE,         /* more than limit bytes arrived */
    PDS_BODY_UNREADABLE,        /* the input filters failed (bad chunking, a
                                   client gone, a bad Content-Length) */
    PDS_BODY_NO_MEMORY          /* logged PDS00200 */
} pds_body_result_e;

/* Reads the whole request body of r, at most limit bytes. Memory follows
 * what has arrived (never the limit up front: many small writes under a
 * large limit must not each hold it), and a declared Content-Length over
 * the limit is refused before anything is read (*pdeclared is then that
 * length). On PDS_BODY_READ, *pbuf is NUL-terminated, *plen bytes long,
 * and the request pool frees it. The connection is left as it is: a caller
 * that refuses a body without reading the rest closes it itself. */
pds_body_result_e pds_body_read(request_rec *r, apr_off_t limit, char **pbuf,
                                apr_size_t *plen, apr_off_t *pdeclared);

/* Where a handler is mounted: the innermost <Location>'s literal path (core
 * keeps it for every section). NULL when the innermost section is no
 * literal path (<If>, a regular expression). */
const char *pds_handler_location(request_rec *r);

/* The path below location, split at "/": NULL when r->uri is not under
 * location or holds an empty segment ("//"). Pool memory, const char *. */
apr_array_header_t *pds_handler_segments(request_rec *r, const char *location);

#endif
