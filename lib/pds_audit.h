/* pds_audit.h: audit records.
 *
 * One JSON object per line (JSON Lines) for every decision, allow or deny. The
 * library formats records and hands complete lines to a write callback; it
 * does no I/O of its own, so the httpd glue (under a global mutex), the tools
 * and the tests plug in their own sinks. The writer object keeps per-chain
 * state (sequence number) so that tamper evidence can be added without
 * changing callers.
 */
#ifndef PDS_AUDIT_H
#define PDS_AUDIT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <jansson.h>

#include "pds_error.h"

typedef struct pds_audit_record_t {
    apr_time_t time;
    const char *request_id;
    const char *client_ip;
    const char *organisation;      /* NULL when the caller is unknown */
    const char *agreement;         /* id; NULL when none applied */
    const char *agreement_version;
    const char *purpose;
    const char *legal_basis;
    const char *subject;
    const char *method;
    const char *path;
    const char *decision;          /* "allow" or "deny" */
    const char *reason;            /* NULL on allow */
    int status;                    /* HTTP status sent to the client */
    const apr_array_header_t *fields; /* const char *: names released; may be NULL */
} pds_audit_record_t;

/* Formats rec as one compact JSON object followed by "\n" into pool memory.
 * Keys appear in a fixed order (see docs/audit.md); NULL strings become
 * JSON null; "fields" is always an array. time is RFC 3339 UTC with six
 * fractional digits. Output is ASCII: characters beyond it are written as
 * \uXXXX escapes, and invalid UTF-8 in a value becomes U+FFFD (a record is
 * never lost to a bad byte). decision must be "allow" or "deny" (APR_EINVAL,
 * err->code "internal-error" otherwise). */
apr_status_t pds_audit_format(char **pline, apr_size_t *plen,
                              const pds_audit_record_t *rec, apr_pool_t *p,
                              pds_error_t *err);

/* The same members in the same order as pds_audit_format (no "seq"), as a
 * JSON object released by a cleanup of p: what the chain seals. */
apr_status_t pds_audit_record_json(json_t **pobj, const pds_audit_record_t *rec,
                                   apr_pool_t *p, pds_error_t *err);

typedef apr_status_t (*pds_audit_write_cb)(void *baton, const char *line,
                                           apr_size_t len);

typedef struct pds_audit_writer_t pds_audit_writer_t;

apr_status_t pds_audit_writer_create(pds_audit_writer_t **pw, apr_pool_t *p,
                                     pds_audit_write_cb write, void *baton);

/* Formats and writes one record: the callback gets exactly one complete line
 * ending in "\n". The writer puts a member "seq" first (1, 2, 3, ... for the
 * records this writer has written; a failed write takes no number, so a gap
 * in seq means a line was lost); pds_audit_format() alone writes no "seq".
 * The caller serialises calls (one writer is not thread-safe). A failing
 * write is returned as is, with err->code "audit-unavailable". */
apr_status_t pds_audit_append(pds_audit_writer_t *w,
                              const pds_audit_record_t *rec,
                              apr_pool_t *scratch, pds_error_t *err);

/* The seq of the last record the writer wrote (0: none yet). Several
 * processes appending to one file keep this in shared memory and hand it to
 * their writer under the lock that serialises their appends. */
apr_uint64_t pds_audit_writer_seq(const pds_audit_writer_t *w);
void pds_audit_writer_set_seq(pds_audit_writer_t *w, apr_uint64_t seq);

/* Reads the seq of the last complete record in tail, the last bytes of a log
 * (a partial line at the very end, from a write cut short, is skipped). *seq
 * is 0 when tail holds no line. A last line that is not a record with a seq
 * is refused (err->code "bad-audit-log"): numbering must not silently restart. */
apr_status_t pds_audit_last_seq(const char *tail, apr_size_t len,
                                apr_uint64_t *seq, pds_error_t *err);

#endif
