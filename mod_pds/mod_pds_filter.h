/* mod_pds_filter.h: the response filter and the gate on the client
 * connection (layer 5 of docs/architecture.md).
 */
#ifndef MOD_PDS_FILTER_H
#define MOD_PDS_FILTER_H

#include "mod_pds_private.h"
#include "mod_pds_response.h"

/* The response filter (registered by mod_pds.c as a resource filter that
 * changes the body and its length and never sees a byte range): buffers the
 * back end's answer, filters it through the agreement (and consent, record
 * by record), audits, and releases the result or a problem document. */
#define PDS_RESPONSE_FILTER "PDS_RESPONSE"
apr_status_t pds_response_filter(ap_filter_t *f, apr_bucket_brigade *bb);

/* insert_error_filter: puts the response filter back on httpd's error page
 * for an allowed request not yet audited (mod_proxy's 502/503/504). */
void pds_insert_error_filter(request_rec *r);

/* post_config: each agreement's pseudonym key, derived once from
 * PDSPseudonymKey (it depends on nothing else) for the response filter. */
void pds_filter_post_config(apr_pool_t *pconf, server_rec *s);

/* insert_filter: an internal redirect (a local ErrorDocument) of an allowed
 * request answers with the problem, under the same decision and record. */
void pds_insert_redirect_filter(request_rec *r);

/* The gate on the client connection of an allowed request: nothing reaches
 * the client before the response filter releases its answer (interim 1xx
 * responses included). pds_gate_install: APR_EGENERAL when the filter
 * cannot be added (the request must then be refused). pds_gate_release:
 * rq may be NULL or have no gate. */
void pds_register_interim_gate(void);
apr_status_t pds_gate_install(request_rec *r, pds_request_t *rq);
void pds_gate_release(pds_request_t *rq);

#endif
