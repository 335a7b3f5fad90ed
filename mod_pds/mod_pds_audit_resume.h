/* mod_pds_audit_resume.h: continuing the audit log's chain at a start
 * (layer 3 of docs/architecture.md; only mod_pds_audit.c calls it).
 *
 * A start continues the chain from the log's last complete line, checking
 * its MAC, and refuses to go on when the log is not what its head file
 * (PDSAuditLog + PDS_AUDIT_HEAD_SUFFIX) says was written: records were
 * removed or replaced. Every refusal is logged at startup (PDS00048,
 * PDS00160 to PDS00163) with what the operator can do.
 */
#ifndef MOD_PDS_AUDIT_RESUME_H
#define MOD_PDS_AUDIT_RESUME_H

#include "mod_pds_private.h"

#define PDS_AUDIT_HEAD_SUFFIX ".head"

/* Restores *st from the last complete line of f (the log at path), checking
 * its MAC with key. An empty log leaves a fresh chain. Not APR_SUCCESS when
 * the file cannot be read or the line does not continue (logged). */
apr_status_t pds_audit_resume_chain(pds_chain_state_t *st, apr_file_t *f, const char *path,
                                    const pds_chain_key_t *key, apr_pool_t *ptemp,
                                    server_rec *s);

/* Is the log at path (restored into *st) still what its head file says was
 * written? APR_SUCCESS also when there is no head file yet; APR_EINVAL
 * when records were removed or the head file is damaged (logged). */
apr_status_t pds_audit_resume_check_head(const pds_chain_state_t *st, const char *path,
                                         const char *head_path, apr_pool_t *ptemp,
                                         server_rec *s);

/* The log at path against its head, opening nothing for writing: what
 * `apachectl -t` can decide before the real start. A log that does not
 * exist yet, a device, or one that cannot be opened here passes (the real
 * start says why it cannot open it); so does a log renamed away by a
 * rotation, when a file beside it (path.*) ends where the head says: the
 * running parent continues the chain at the graceful restart that follows,
 * while a cold start still refuses (pds_audit_resume_check_head). */
apr_status_t pds_audit_resume_check_log(const char *path, const pds_chain_key_t *key,
                                        apr_pool_t *ptemp, server_rec *s);

#endif
