/* mod_pds_portal.h: the citizen's portal in the browser (layer 5 of
 * docs/architecture.md; docs/portal.md): server-rendered HTML pages, no
 * script, for the person httpd authenticated (PDSPersonSubject).
 *
 *   <Location /portal>  (a literal path; any authentication module)
 *       SetHandler pds-portal
 *   </Location>
 *
 *   GET  <loc>/                       the start page
 *   GET  <loc>/disclosures            who got my data (?organisation=, ?period=)
 *   GET  <loc>/consents               my consents, grant forms, data trusts
 *   POST <loc>/consents               grant (form)
 *   POST <loc>/consents/<id>/<action> pause, resume, revoke (form)
 *   GET  <loc>/consents/<id>/receipt  the signed receipt, as a file
 *   POST <loc>/mandates/<org>         give or withdraw a mandate (form)
 *   GET  <loc>/objections             my objections (the opt-out register)
 *   POST <loc>/objections/<purpose>   object or withdraw (form)
 *   GET  <loc>/style.css              the pages' stylesheet
 */
#ifndef MOD_PDS_PORTAL_H
#define MOD_PDS_PORTAL_H

#include "mod_pds_private.h"

/* handler: SetHandler pds-portal. DECLINED for other handlers. */
int pds_portal_handler(request_rec *r);

#endif
