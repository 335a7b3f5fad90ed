/* mod_pds_consent_api.h: the consent API (layer 5 of docs/architecture.md;
 * routes in mod_pds_consent_api.c and docs/consent.md).
 */
#ifndef MOD_PDS_CONSENT_API_H
#define MOD_PDS_CONSENT_API_H

#include "mod_pds_private.h"

/* handler: SetHandler pds-consent, in a <Location> with a literal path.
 * DECLINED for other handlers; otherwise OK with the JSON answer or the
 * problem document written. */
int pds_consent_handler(request_rec *r);

#endif
