/* mod_pds_portal_consent.h: the portal's "My consents" and "My objections"
 * pages and their forms (layer 5 of docs/architecture.md). Every change
 * goes through mod_pds_consent_ops.h, as the JSON consent API's do.
 */
#ifndef MOD_PDS_PORTAL_CONSENT_H
#define MOD_PDS_PORTAL_CONSENT_H

#include "mod_pds_portal_form.h"

/* Routes below <portal>/consents, /mandates and /objections (segs after
 * the portal's location, n of them; seg[0] is one of those). A POST's
 * form is checked (pds_portal_form_read) before anything is done. OK with
 * the page or redirect sent, or an HTTP status. */
int pds_portal_consent_route(pds_portal_t *pt, const char *const *seg, int n);

#endif
