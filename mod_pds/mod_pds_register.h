/* mod_pds_register.h: the public register of data sharing agreements
 * (layer 5 of docs/architecture.md; docs/portal.md). No sign-in: it says
 * what the configuration says, and counts disclosures, never people.
 *
 *   <Location /register>  (a literal path)
 *       SetHandler pds-register
 *   </Location>
 *
 *   GET <loc>                   the register as a page
 *   GET <loc>/agreements.json   the same as JSON
 *   GET <loc>/style.css         the pages' stylesheet
 */
#ifndef MOD_PDS_REGISTER_H
#define MOD_PDS_REGISTER_H

#include "mod_pds_private.h"

/* handler: SetHandler pds-register. DECLINED for other handlers. */
int pds_register_handler(request_rec *r);

#endif
