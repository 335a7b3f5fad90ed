/* mod_pds_disclosures.h: a person's view of who received their data (layer 5
 * of docs/architecture.md).
 */
#ifndef MOD_PDS_DISCLOSURES_H
#define MOD_PDS_DISCLOSURES_H

#include "mod_pds_private.h"

/* child_init: this child's index of the audit log. */
void pds_disclosures_child_init(apr_pool_t *pchild);

/* handler: SetHandler pds-disclosures. The records about the person httpd
 * authenticated, as JSON or as a page; DECLINED for other handlers. */
int pds_disclosures_handler(request_rec *r);

#endif
