/* mod_pds_page.h: HTML pages the module serves to people (layer 2 of
 * docs/architecture.md): the portal (mod_pds_portal.c) and the public
 * register (mod_pds_register.c) build their pages with these, so every page
 * has the same frame, the same headers and the same one escaping rule
 * (lib/pds_html.h).
 *
 * A page is written into memory and sent whole with its length: nothing
 * leaves before the page is complete, so a failure half way answers an
 * error, not half a page. Headers on every page: a Content-Security-Policy
 * that allows no script at all and only the module's own stylesheet,
 * frame-ancestors 'none' and X-Frame-Options DENY, nosniff, referrers only to this site;
 * and Cache-Control no-store on personal pages.
 */
#ifndef MOD_PDS_PAGE_H
#define MOD_PDS_PAGE_H

#include "mod_pds_private.h"
#include "pds_html.h"
#include "pds_labels.h"

#define PDS_PAGE_CSP "default-src 'none'; script-src 'none'; style-src 'self'; " \
                     "img-src 'self'; form-action 'self'; frame-ancestors 'none'; " \
                     "base-uri 'none'"
#define PDS_PAGE_STYLESHEET "style.css"
#define PDS_PAGE_ICON "icon.svg"

typedef struct pds_page_t {
    request_rec *r;
    const char *lang;               /* the language of the page: "en", "cy" */
    const pds_labels_t *labels;     /* the server's labels (may be NULL) */
    apr_array_header_t *out;        /* the page so far (bytes) */
    int personal;                   /* no-store, and never shared */
} pds_page_t;

/* A page for r in the language PDSPortalLanguage or (auto) Accept-Language
 * chooses (then with Vary: Accept-Language). */
pds_page_t *pds_page_create(request_rec *r, int personal);

/* Appends text as it is (the page's own markup), or printf-formatted. */
void pds_page_puts(pds_page_t *pg, const char *s);
void pds_page_printf(pds_page_t *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s escaped (pds_html_escape). */
void pds_page_text(pds_page_t *pg, const char *s);
/* Appends message id of the catalogue, escaped, in the page's language. */
void pds_page_msg(pds_page_t *pg, const char *id);
/* The catalogue's text for id (not escaped). */
const char *pds_page_m(const pds_page_t *pg, const char *id);

/* Appends the label of key (escaped), or, when none is configured, key
 * itself in a marked span: never a blank. */
void pds_page_label(pds_page_t *pg, pds_label_kind_e kind, const char *key);
/* The legal basis in plain words (escaped), or the word itself, marked. */
void pds_page_basis(pds_page_t *pg, const char *basis);

/* The frame: doctype, <html lang>, head with title and the stylesheet at
 * css_href, a skip link, the header with site name and nav_html (markup,
 * may be NULL), and <main id="main">. The end closes main and the page. */
void pds_page_start(pds_page_t *pg, const char *title, const char *css_href,
                    const char *site, const char *nav_html);
void pds_page_end(pds_page_t *pg);

/* Sends the page with status, its headers and its length. OK. */
int pds_page_send(pds_page_t *pg, int status);

/* Sets the headers every page of the module carries (CSP and the rest, and
 * no-store when personal): for answers that are not pds_page_t pages
 * (a redirect after a form, a receipt download). */
void pds_page_headers(request_rec *r, int personal);

/* Serves the asset called name (PDS_PAGE_STYLESHEET, PDS_PAGE_ICON) beside
 * a handler's pages; DECLINED for another name. */
int pds_page_asset(request_rec *r, const char *name);

/* Serves the pages' stylesheet (GET; cacheable for an hour). */
int pds_page_stylesheet(request_rec *r);

#endif
