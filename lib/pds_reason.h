/* pds_reason.h: the stable reason codes of every decision, with the HTTP status
 * and the title a client sees in the problem+json body. One table, so the
 * docs, the audit log and the responses cannot drift apart. */
#ifndef PDS_REASON_H
#define PDS_REASON_H

#include <apr_pools.h>

typedef struct pds_reason_t {
    const char *code;     /* "no-agreement" */
    int status;           /* 403 */
    const char *title;    /* "No agreement covers this request" */
} pds_reason_t;

/* NULL if code is unknown. */
const pds_reason_t *pds_reason_lookup(const char *code);

/* The whole table, terminated by an entry with code NULL (for docs checks). */
const pds_reason_t *pds_reason_table(void);

/* An RFC 9457 problem document:
 * {"type":"urn:pds:problem:<code>","title":...,"status":...,"detail":...,
 *  "reason":"<code>","request_id":...}
 * Status and title come from the table (500 "internal-error" for an unknown
 * code). detail and request_id may be NULL. Returns pool memory; *plen set. */
char *pds_problem_json(apr_pool_t *p, const char *code, const char *detail,
                       const char *request_id, apr_size_t *plen);

#endif
