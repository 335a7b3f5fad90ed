/* mod_pds_audit.h: the tamper-evident audit log inside httpd (layer 3 of
 * docs/architecture.md). One hash chain per gateway across processes and
 * graceful restarts; mod_pds_audit.c says how.
 */
#ifndef MOD_PDS_AUDIT_H
#define MOD_PDS_AUDIT_H

#include "mod_pds_private.h"
#include "mod_pds_response.h"

/* Lifecycle. pre_config registers the audit mutex type (before Mutex is
 * read); check_config checks that the existing log can be continued (fails
 * `apachectl -t`); post_config opens the log as root and creates its shared
 * state and mutex; child_init attaches the child to them. The int returns
 * are OK or an HTTP error status that stops the start. */
void pds_audit_pre_config(apr_pool_t *pconf);
int pds_audit_check_config(apr_pool_t *ptemp, server_rec *s);
int pds_audit_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void pds_audit_child_init(apr_pool_t *pchild, server_rec *s);

/* Writes the record for this request's decision (once: rq->audited). Returns
 * APR_SUCCESS once the line is in the file (or PDSAuditOnFailure allow let a
 * failure pass, logged PDS00055); anything else means the record is lost and
 * the caller must not release data. fields may be NULL. */
apr_status_t pds_audit_decision(request_rec *r, pds_request_t *rq,
                                const char *decision, const char *reason,
                                int status, const apr_array_header_t *fields);

/* For the health check: NULL when this process can put a record in the
 * server's audit log (its handle open, the file system writable and not
 * full, the file not immutable, and the path still naming that file), else
 * what is wrong, in words without secrets (pool p). *keys likewise for the
 * audit keys (the chain's key, the checkpoint key when configured). */
const char *pds_audit_health(server_rec *s, apr_pool_t *p, const char **keys);

/* This process's handle on the server's audit log (NULL if none): opened by
 * the parent, readable even where the path is not. */
apr_file_t *pds_audit_file(server_rec *s);

/* log_transaction: the last chance for a decision that reached no audit
 * record. Always DECLINED. */
int pds_audit_log_transaction(request_rec *r);

#endif
