/* mod_pds_disclosures.h: a person's view of who received their data (layer 5
 * of docs/architecture.md).
 */
#ifndef MOD_PDS_DISCLOSURES_H
#define MOD_PDS_DISCLOSURES_H

#include "mod_pds_private.h"

/* post_config (the parent, as root): opens the files a rotation renamed
 * away beside each audit log, for the children to read. Always OK. */
int pds_disclosures_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* post_config, after the consent store's: with a consent store, each
 * audit log indexed from the background every
 * PDS_DISCLOSURE_INDEX_INTERVAL_SEC, in one process of the node at a time
 * (a mod_watchdog singleton). OK, or an error status that stops the start
 * (logged). */
int pds_disclosures_index_post_config(apr_pool_t *pconf, server_rec *s);

/* child_init: this child's index of the audit log. */
void pds_disclosures_child_init(apr_pool_t *pchild);

/* handler: SetHandler pds-disclosures. The records about the person httpd
 * authenticated, as JSON or as a page; DECLINED for other handlers. */
int pds_disclosures_handler(request_rec *r);

/* The disclosures about person the person may see now (restricted ones
 * never, embargoed ones from their date), oldest first, as a new JSON array
 * of pds_disclosure_entry objects; collections that released the person's
 * record included. *pbehind, a new JSON array too, lists the nodes whose
 * latest disclosures the answer may lack (pds_disclosure_store_behind;
 * empty: the answer is whole). APR_SUCCESS, or the error reading the audit
 * log or the store (logged, PDS00060, PDS00535, PDS00536; *pout and
 * *pbehind NULL). The portal's timeline and this page's JSON. */
apr_status_t pds_disclosures_of(request_rec *r, const char *person, json_t **pout,
                                json_t **pbehind);

/* How many disclosures were made under agreement in month ("YYYY-MM", UTC)
 * by the records this process has indexed (a collection's record counts
 * once): the public register's count, never a person. */
apr_status_t pds_disclosures_in_month(request_rec *r, const char *agreement, const char *month,
                                      apr_uint64_t *pcount);

#endif
