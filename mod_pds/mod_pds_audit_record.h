/* mod_pds_audit_record.h: the audit record of one decision (layer 3 of
 * docs/architecture.md; only mod_pds_audit.c calls it). */
#ifndef MOD_PDS_AUDIT_RECORD_H
#define MOD_PDS_AUDIT_RECORD_H

#include "mod_pds_private.h"
#include "mod_pds_response.h"

/* Fills *rec (lib/pds_audit.h) from the request and its decision: who asked,
 * under which agreement, what was released, written, left out; node names
 * this gateway. Under PDSAuditSubject pseudonym the subject, the path's
 * subject segment, the subjects of a collection and the query's token and
 * date values are pseudonyms. Pool memory of r. */
void pds_audit_record_of(pds_audit_record_t *rec, request_rec *r, const pds_request_t *rq,
                         const char *decision, const char *reason, int status,
                         const apr_array_header_t *fields, const char *node);

#endif
