/* mod_pds_disclosures.h: a person's view of who received their data (layer 5
 * of docs/architecture.md).
 */
#ifndef MOD_PDS_DISCLOSURES_H
#define MOD_PDS_DISCLOSURES_H

#include "mod_pds_private.h"

/* post_config (the parent, as root): opens the files a rotation renamed
 * away beside each audit log, for the children to read. Always OK. */
int pds_disclosures_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* child_init: this child's index of the audit log. */
void pds_disclosures_child_init(apr_pool_t *pchild);

/* handler: SetHandler pds-disclosures. The records about the person httpd
 * authenticated, as JSON or as a page; DECLINED for other handlers. */
int pds_disclosures_handler(request_rec *r);

#endif
