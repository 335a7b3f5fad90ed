/* mod_pds_identity.h: who is calling (layer 3 of docs/architecture.md). An
 * organisation proves itself by a client certificate mod_ssl verified
 * (subject, SAN or SHA-256 fingerprint) or by a bearer token signed with its
 * configured key; both present must name the same organisation.
 */
#ifndef MOD_PDS_IDENTITY_H
#define MOD_PDS_IDENTITY_H

#include "mod_pds_private.h"

/* Identifies the caller. Returns the organisation's name, or NULL with
 * *reason ("unknown-caller", "invalid-token", "identity-conflict") and a
 * *detail for the client. */
const char *pds_identify(request_rec *r, const pds_server_conf_t *sc,
                         const char **reason, const char **detail);

/* post_config: finds mod_ssl's variable lookup. child_init: this child's
 * cache of verified token signatures (none if it cannot be made: every
 * token is then verified). */
void pds_identity_post_config(void);
void pds_identity_child_init(apr_pool_t *pchild);

#endif
