/* pds_audit.h: audit records.
 *
 * One JSON object per line (JSON Lines) for every decision, allow or deny.
 * This file builds a record's members; pds_chain.h seals them into a line of
 * the tamper-evident log (seq, prev and mac around them). No I/O here.
 */
#ifndef PDS_AUDIT_H
#define PDS_AUDIT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

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
    const char *query;             /* the accepted query, canonical; the member
                                      is present only when set */
    const char *decision;          /* "allow" or "deny" */
    const char *reason;            /* NULL on allow */
    int status;                    /* HTTP status sent to the client */
    const apr_array_header_t *fields; /* const char *: names released; may be NULL */
    apr_time_t visible_from;       /* when the person may see this disclosure:
                                      0 not a disclosure (null), PDS_AUDIT_NEVER
                                      restricted ("never"), else the time */
    const char *consent;           /* the consent relied on, or "artefact:<id>";
                                      the member is present only when set */
    const apr_array_header_t *transforms; /* const char *: "path transform"
                                      applied; present only when not empty */
    int deidentified;              /* "deidentified": true, only when set */
    const apr_array_header_t *written; /* const char *: Write paths a POST, PUT
                                      or PATCH carried; present only for writes */
    const apr_array_header_t *subjects; /* const char *: for a collection, the
                                      people whose records were released
                                      ("records" is their count); present only
                                      for collections */
    const apr_array_header_t *dropped; /* const char *: for a collection under
                                      OnBadRecord drop, the "path transform" of
                                      each record left out ("dropped" is their
                                      count, "dropped_by" counts per label);
                                      present only when set */
    const apr_array_header_t *excluded; /* const char *: with an agreement's
                                      Exclude, the condition of each record
                                      left out ("excluded" is their count,
                                      "excluded_by" counts per condition);
                                      present only when set */
    const char *node;              /* the gateway node that decided
                                      (PDSNodeName), the last member; the
                                      gateway always sets it, the member is
                                      present only when set */
} pds_audit_record_t;

#define PDS_AUDIT_NEVER APR_INT64_MAX

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

/* A record's (or a part's) members as one compact JSON object, "{...}",
 * without "\n": what the chain seals (pds_chain_seal_text). Pool memory. */
typedef struct pds_audit_line_t {
    const char *json;
    apr_size_t len;
} pds_audit_line_t;

/* Lines stay bounded however many people a collection released: when its
 * subjects would take more than PDS_AUDIT_SUBJECTS_BYTES of the record's
 * line, the record holds "records" and "subjects_parts": K instead of
 * "subjects", and *pparts (pds_audit_line_t, in p) holds K
 * lines to be written just before it, in order, none of which takes more than
 * PDS_AUDIT_SUBJECTS_BYTES for its subjects (one subject longer than that
 * has a line of its own):
 *
 *   {"type":"subjects","request_id":"...","part":i,"parts":K,"subjects":[...]}
 *
 * The record is then the line right after part K: readers join them by seq
 * (parts S-K..S-1 for the record at seq S) and request_id. *pparts is an
 * empty array otherwise. */
#define PDS_AUDIT_SUBJECTS_BYTES 16384
apr_status_t pds_audit_record_lines(pds_audit_line_t *pline, apr_array_header_t **pparts,
                                    const pds_audit_record_t *rec, apr_pool_t *p,
                                    pds_error_t *err);

#endif
