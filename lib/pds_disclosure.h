/* pds_disclosure.h: a person's view of the audit log, shared by the
 * disclosures page (mod_pds_disclosures.c) and pds-audit report --subject.
 *
 * Both read the log line by line, in order, and need the same three things:
 * who a record is about (a large collection's subjects come in "subjects"
 * lines just before its record, lib/pds_audit.h), what of a record the
 * person is shown, and from when (the record's "visible_from").
 */
#ifndef PDS_DISCLOSURE_H
#define PDS_DISCLOSURE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

/* Longest request_id a run of "subjects" lines may carry (the gateway's are
 * under 64 bytes); a longer one breaks the run. */
#define PDS_DISCLOSURE_REQUEST_ID_MAX 128

/* The run of "subjects" lines read so far. Caller-owned (on the stack or in
 * a pool); zero it, or call pds_disclosure_parts_reset, before the first
 * line; reset it to release what it holds. */
typedef struct pds_disclosure_parts_t {
    json_t *subjects;           /* the run's subjects so far; NULL: no run */
    char request_id[PDS_DISCLOSURE_REQUEST_ID_MAX];
    json_int_t part, seq;       /* the last part's number and seq */
} pds_disclosure_parts_t;

/* Ends any run and releases its subjects. */
void pds_disclosure_parts_reset(pds_disclosure_parts_t *dp);

/* Feeds the next line of the log: rec the parsed line, or NULL for a line
 * that is not a JSON object (it breaks a run). A "subjects" line (part i of
 * K, right after part i-1 of the same request, seq one more) is taken into
 * the run, and NULL returned. Any other record ends the run and gives the
 * people a collection record released: its own "subjects", or, when it says
 * "subjects_parts": K, those of the K parts just before it (same request,
 * seq following on). New reference; NULL when the record is not a
 * collection's, or its parts are not all there. */
json_t *pds_disclosure_subjects(pds_disclosure_parts_t *dp, json_t *rec);

/* A disclosure: an allowed decision record under an agreement (consent API
 * changes are audited too, without one), not a "type"d line. */
int pds_disclosure_is_one(json_t *rec);

/* What the person is shown of a record (new reference, NULL when out of
 * memory): "time", "organisation", "agreement", "agreement_version",
 * "purpose", "legal_basis", "fields" in that order, null where the record
 * has none. With trail, also "request_id" and "seq" (null where absent),
 * then "consent" and "visible_from" where the record has them: the security
 * team's report of the same disclosure. */
json_t *pds_disclosure_entry(json_t *rec, int trail);

/* When the person may see it: 0 when the record has no visible_from (or it
 * is null: shown at once), PDS_AUDIT_NEVER for "never" (a restricted
 * agreement) and for one that is not an RFC 3339 time (a damaged date must
 * not lift an embargo), else that time. */
apr_time_t pds_disclosure_visible_from(json_t *rec);

/* One disclosure about one person, as the persistent index keeps it
 * (pds_disclosure_store.h). */
typedef struct pds_disclosure_row_t {
    const char *line;           /* the record's line: SHA-256 of its bytes, in hex (the
                                   next line's "prev"), which no other line has, in this
                                   chain or another; set by the caller */
    apr_uint64_t seq;           /* the record's seq in its chain */
    const char *subject;        /* as logged (a pseudonym under PDSAuditSubject pseudonym) */
    const char *time;           /* the record's RFC 3339 time */
    const char *agreement;
    apr_time_t visible_from;    /* pds_disclosure_visible_from */
    const char *entry;          /* pds_disclosure_entry(rec, 0), compact JSON text */
} pds_disclosure_row_t;

/* Feeds the next line of the log (rec the parsed line, NULL when it is not
 * JSON; dp as for pds_disclosure_subjects) and appends to rows
 * (pds_disclosure_row_t, strings in p; line NULL) one row per person the line
 * discloses data about: none for a line that is no disclosure, one for a
 * record about one person, one per subject for a collection. APR_SUCCESS, or APR_ENOMEM
 * (rows then holds what was appended before). */
apr_status_t pds_disclosure_rows(pds_disclosure_parts_t *dp, json_t *rec, apr_pool_t *p,
                                 apr_array_header_t *rows);

#endif
