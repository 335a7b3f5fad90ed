/* mod_pds_response.h: the per-request record and the answers the glue
 * sends (layer 2 of docs/architecture.md: every layer above may call it; it
 * calls only configuration and lib/).
 *
 * A request mod_pds decides on carries one pds_request_t in its
 * request_config, made by the access hook (mod_pds_request.c) and read by
 * consent, audit and the response filter. Answers written here never carry
 * a back end's headers: problem documents and JSON answers scrub them.
 */
#ifndef MOD_PDS_RESPONSE_H
#define MOD_PDS_RESPONSE_H

#include <jansson.h>

#include "mod_pds_private.h"

struct pds_gate_t;                  /* mod_pds_filter.h */

typedef struct pds_request_t {
    const char *request_id;
    const char *organisation;       /* NULL until identified */
    const char *purpose;
    const char *path;               /* the raw path decided on, once accepted */
    const char *query;              /* the accepted query in canonical form, as
                                       forwarded; NULL when none */
    pds_decision_t decision;
    const pds_fieldset_t *release;  /* what may be released: the agreement's,
                                       narrowed by consent; NULL until allowed */
    const char *consent;            /* the consent (or "artefact:<jti>") relied on */
    const apr_array_header_t *transforms; /* "path transform" applied (audit) */
    int deidentified;               /* the subject was replaced by a pseudonym */
    const apr_array_header_t *written; /* Write paths a POST/PUT/PATCH carried */
    const apr_array_header_t *subjects; /* a collection's released subjects */
    const apr_array_header_t *dropped;  /* OnBadRecord drop: a label per
                                           record left out (audit) */
    const apr_array_header_t *excluded; /* Exclude: the condition of each
                                           record left out (audit) */
    int audited;                    /* a record for this request is written */
    int defer_answer;               /* a denial is answered by the guards, not
                                       where it is decided (Satisfy Any) */
    int answered;                   /* the problem document has been written */
    int prepared;                   /* an allowed request is ready for the back
                                       end (headers, response filter) */
    struct pds_gate_t *gate;        /* holds the client connection until the
                                       response filter releases the answer */
    apr_table_t *client_headers;    /* the request headers as the client sent
                                       them, for the access log */
} pds_request_t;

/* This request's record, or NULL before the access hook made one. The
 * request pool owns it. */
pds_request_t *pds_request_get(const request_rec *r);

/* mod_unique_id's id when it is loaded; otherwise 128 random bits (time and
 * connection id, logged PDS00020, should the random source fail). Request
 * pool memory. */
const char *pds_make_request_id(request_rec *r);

/* Sets status and headers of a problem+json response for reason and returns
 * its body (request pool; *plen its length). Scrubs whatever headers are
 * already set: used for denials in the request hook and for gateway errors
 * in the output filter. rq may be NULL (no request id, no Bearer challenge). */
const char *pds_problem_prepare(request_rec *r, pds_request_t *rq,
                                const char *reason, const char *detail,
                                apr_size_t *plen);

/* Handler answers. pds_send_json writes doc as JSON with Cache-Control:
 * no-store; pds_send_json_as with the given media type and Cache-Control.
 * Both take doc's reference (NULL allowed: a 500) and return OK, or
 * HTTP_INTERNAL_SERVER_ERROR when doc is NULL or cannot be written out. */
int pds_send_json(request_rec *r, int status, json_t *doc);
int pds_send_json_as(request_rec *r, int status, json_t *doc, const char *content_type,
                     const char *cache_control);

/* Writes the problem document for reason as the answer to r, under rq's
 * request id; the request body is read and dropped first (or, when it
 * cannot be, the connection is closed). */
void pds_answer_problem(request_rec *r, pds_request_t *rq, const char *reason,
                        const char *detail);

/* pds_answer_problem with a fresh request id (handlers). Returns OK. */
int pds_send_problem(request_rec *r, const char *reason, const char *detail);

/* Removes every header a back end may have set on r (headers_out, and the
 * identifying ones from err_headers_out). */
void pds_scrub_response_headers(request_rec *r);

#endif
