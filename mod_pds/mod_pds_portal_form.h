/* mod_pds_portal_form.h: what the portal's pages share (layer 5 of
 * docs/architecture.md; mod_pds_portal.c and mod_pds_portal_consent.c call
 * it, it calls neither): the request's portal context, the frame and
 * navigation of its pages, their error pages, and the forms: reading a
 * posted form and its CSRF check, and the token every form carries.
 */
#ifndef MOD_PDS_PORTAL_FORM_H
#define MOD_PDS_PORTAL_FORM_H

#include "mod_pds_private.h"
#include "mod_pds_page.h"

#define PDS_PORTAL_HANDLER "pds-portal"

typedef struct pds_portal_t {
    request_rec *r;
    pds_server_conf_t *sc;
    const char *base;               /* the <Location> path, no trailing "/" */
    const char *person;             /* the person signed in */
    pds_page_t *pg;                 /* the page being written */
    apr_table_t *form;              /* a POST's fields (after pds_portal_form_read) */
} pds_portal_t;

/* post_config: the key of the forms' tokens, derived from PDSAuditKey when
 * there is one (so every process and node that shares it accepts the
 * forms of the others, across restarts), else random for this start. */
apr_status_t pds_portal_post_config(apr_pool_t *pconf, server_rec *s);

/* Starts a personal page: the frame with the portal's navigation, current
 * naming the page the person is on ("disclosures", "consents",
 * "objections", or NULL). */
void pds_portal_start(pds_portal_t *pt, const char *title_id, const char *current);

/* An error page with status: message id's text and, when given, detail
 * (escaped). OK. */
int pds_portal_error(pds_portal_t *pt, int status, const char *message_id,
                     const char *detail);

/* A hidden input carrying this person's form token. */
void pds_portal_token_field(pds_portal_t *pt);

/* Reads a POSTed form (application/x-www-form-urlencoded, at most 64
 * fields and 16 KiB) into pt->form and checks it came from this site and
 * this person: the token field matches (constant time), and the browser's
 * Origin and Sec-Fetch-Site, when sent, name this site. OK, or an error
 * page already sent (403 for a failed check, PDS00441 logged at info;
 * nothing is changed) with *sent set. */
int pds_portal_form_read(pds_portal_t *pt, int *sent);

/* A small form posting to action (below the portal) with the token and a
 * button: label_id's text, its class "secondary" when secondary, and an
 * aria-label naming what it acts on (escaped). Extra hidden fields (name,
 * value pairs, NULL-terminated) may follow. */
void pds_portal_button(pds_portal_t *pt, const char *action, const char *label_id,
                       int secondary, const char *about, ...);

/* After a change: 303 See Other to page (below the portal) with ?done=what. */
int pds_portal_redirect(pds_portal_t *pt, const char *page, const char *what);

/* The configured agreement called id, or NULL. */
const pds_agreement_t *pds_portal_agreement(const pds_portal_t *pt, const char *id);

/* Writes an agreement's title, or its id marked as having none. */
void pds_portal_agreement_title(pds_portal_t *pt, const pds_agreement_t *a, const char *id);

#endif
