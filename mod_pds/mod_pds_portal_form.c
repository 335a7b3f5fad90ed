/* mod_pds_portal_form.c: the portal's frame, error pages and forms with
 * their CSRF check (mod_pds_portal_form.h). */
#include <stdarg.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_pds_page.h"
#include "mod_pds_portal_form.h"
#include "pds_csrf.h"

#define FORM_FIELDS_MAX 64
#define FORM_BYTES_MAX  16384
#define TOKEN_FIELD     "csrf"

/* Set once in the parent (post_config) and read-only in the children. */
static unsigned char form_key[PDS_CSRF_KEY_LEN];
static int form_key_set;

apr_status_t pds_portal_post_config(apr_pool_t *pconf, server_rec *s)
{
    const pds_server_conf_t *sc = pds_server_conf(s);
    unsigned char random[PDS_CSRF_KEY_LEN];
    const unsigned char *secret = random;
    apr_size_t len = sizeof(random);
    apr_status_t rv;

    (void)pconf;
    if (sc->audit_key != NULL)
        secret = pds_chain_key_bytes(sc->audit_key, &len);
    else if ((rv = apr_generate_random_bytes(random, sizeof(random))) != APR_SUCCESS)
        return rv;
    if (pds_csrf_derive_key(form_key, secret, len) != 0)
        return APR_EGENERAL;
    form_key_set = 1;
    return APR_SUCCESS;
}

void pds_portal_start(pds_portal_t *pt, const char *title_id, const char *current)
{
    static const char *const pages[] = { "disclosures", "consents", "objections", NULL };
    pds_page_t *pg = pt->pg;
    char *nav;
    int i;

    nav = apr_psprintf(pt->r->pool, "<p class=\"who\">%s %s</p>\n<nav aria-label=\"%s\">"
                       "<ul>\n", pds_html_escape(pt->r->pool, pds_page_m(pg, "signed_in_as")),
                       pds_html_escape(pt->r->pool, pt->person),
                       pds_html_escape(pt->r->pool, pds_page_m(pg, "nav_label")));
    for (i = 0; pages[i] != NULL; i++)
        nav = apr_psprintf(pt->r->pool, "%s<li><a href=\"%s/%s\"%s>%s</a></li>\n", nav,
                           pds_html_escape(pt->r->pool, pt->base), pages[i],
                           current && strcmp(current, pages[i]) == 0
                           ? " aria-current=\"page\"" : "",
                           pds_html_escape(pt->r->pool, pds_page_m(pg, apr_pstrcat(
                               pt->r->pool, "nav_", pages[i], NULL))));
    nav = apr_pstrcat(pt->r->pool, nav, "</ul></nav>\n", NULL);
    pds_page_start(pg, pds_page_m(pg, title_id),
                   apr_pstrcat(pt->r->pool, pt->base, "/" PDS_PAGE_STYLESHEET, NULL),
                   pds_page_m(pg, "site_title"), nav);
}

int pds_portal_error(pds_portal_t *pt, int status, const char *message_id,
                     const char *detail)
{
    pds_page_t *pg = pt->pg;

    if (pt->person != NULL)
        pds_portal_start(pt, "error_title", NULL);
    else
        pds_page_start(pg, pds_page_m(pg, "error_title"),
                       apr_pstrcat(pt->r->pool, pt->base, "/" PDS_PAGE_STYLESHEET, NULL),
                       pds_page_m(pg, "site_title"), NULL);
    pds_page_puts(pg, "<div class=\"problem\" role=\"alert\"><p>");
    pds_page_msg(pg, message_id);
    if (detail != NULL) {
        pds_page_puts(pg, " ");
        pds_page_text(pg, detail);
    }
    pds_page_puts(pg, "</p></div>\n");
    if (pt->person != NULL) {
        pds_page_printf(pg, "<p><a href=\"%s/consents\">",
                        pds_html_escape(pt->r->pool, pt->base));
        pds_page_msg(pg, "back");
        pds_page_puts(pg, "</a></p>\n");
    }
    pds_page_end(pg);
    return pds_page_send(pg, status);
}

void pds_portal_token_field(pds_portal_t *pt)
{
    const char *token = form_key_set
        ? pds_csrf_token(pt->r->pool, form_key, sizeof(form_key), pt->person, apr_time_now())
        : NULL;

    /* Without a key no form can be accepted: the field is empty, and the
     * check refuses it. */
    pds_page_printf(pt->pg, "<input type=\"hidden\" name=\"" TOKEN_FIELD "\" value=\"%s\">",
                    token ? token : "");
}

void pds_portal_button(pds_portal_t *pt, const char *action, const char *label_id,
                       int secondary, const char *about, ...)
{
    pds_page_t *pg = pt->pg;
    apr_pool_t *p = pt->r->pool;
    const char *name, *value;
    va_list ap;

    pds_page_printf(pg, "<form class=\"inline\" method=\"post\" action=\"%s/%s\">",
                    pds_html_escape(p, pt->base), pds_html_escape(p, action));
    pds_portal_token_field(pt);
    va_start(ap, about);
    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        pds_page_printf(pg, "<input type=\"hidden\" name=\"%s\" value=\"%s\">",
                        pds_html_escape(p, name), pds_html_escape(p, value));
    }
    va_end(ap);
    pds_page_printf(pg, "<button type=\"submit\"%s aria-label=\"%s: %s\">%s</button></form>\n",
                    secondary ? " class=\"secondary\"" : "",
                    pds_html_escape(p, pds_page_m(pg, label_id)), pds_html_escape(p, about),
                    pds_html_escape(p, pds_page_m(pg, label_id)));
}

/* Does the browser say the form came from another site? Origin (when sent)
 * must be this request's own scheme and host; Sec-Fetch-Site (when sent)
 * must be same-origin (or none: typed by the person). */
static const char *cross_site(request_rec *r)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *host = apr_table_get(r->headers_in, "Host");

    if (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return "Sec-Fetch-Site is not same-origin";
    if (origin != NULL
        && (host == NULL
            || strcmp(origin, apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL)) != 0))
        return "Origin is another site";
    return NULL;
}

static int refuse(pds_portal_t *pt, const char *why, int *sent)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, pt->r, "PDS00441: a portal form was refused "
                  "(%s); nothing was changed", why);
    *sent = 1;
    return pds_portal_error(pt, HTTP_FORBIDDEN, "csrf_failed", NULL);
}

int pds_portal_form_read(pds_portal_t *pt, int *sent)
{
    request_rec *r = pt->r;
    apr_array_header_t *pairs = NULL;
    const char *why;
    int i, rc;

    *sent = 0;
    pt->form = apr_table_make(r->pool, 8);
    if ((why = cross_site(r)) != NULL) {
        (void)ap_discard_request_body(r);
        return refuse(pt, why, sent);
    }
    rc = ap_parse_form_data(r, NULL, &pairs, FORM_FIELDS_MAX, FORM_BYTES_MAX);
    if (rc != OK || pairs == NULL)
        return refuse(pt, "the form cannot be read", sent);
    for (i = 0; i < pairs->nelts; i++) {
        ap_form_pair_t *pair = &APR_ARRAY_IDX(pairs, i, ap_form_pair_t);
        apr_off_t len = 0;
        apr_size_t size;
        char *value;

        if (apr_brigade_length(pair->value, 1, &len) != APR_SUCCESS || len < 0
            || len > FORM_BYTES_MAX)
            return refuse(pt, "a field cannot be read", sent);
        size = (apr_size_t)len;
        value = apr_palloc(r->pool, size + 1);
        if (apr_brigade_flatten(pair->value, value, &size) != APR_SUCCESS)
            return refuse(pt, "a field cannot be read", sent);
        value[size] = '\0';
        apr_table_add(pt->form, pair->name, value);
    }
    if (!form_key_set || !pds_csrf_check(form_key, sizeof(form_key), pt->person,
                                         apr_table_get(pt->form, TOKEN_FIELD),
                                         apr_time_now()))
        return refuse(pt, apr_table_get(pt->form, TOKEN_FIELD) == NULL
                      ? "no form token" : "the form token is wrong or expired", sent);
    return OK;
}

int pds_portal_redirect(pds_portal_t *pt, const char *page, const char *what)
{
    request_rec *r = pt->r;
    const char *to = apr_pstrcat(r->pool, pt->base, "/", page, "?done=", what, NULL);
    const char *body = apr_psprintf(r->pool, "<!DOCTYPE html>\n<html lang=\"%s\"><head>"
                                    "<meta charset=\"utf-8\"><title>303</title></head><body>"
                                    "<p><a href=\"%s\">%s</a></p></body></html>\n",
                                    pt->pg->lang, pds_html_escape(r->pool, to),
                                    pds_html_escape(r->pool, to));

    /* Sent as our own answer (not httpd's error page), so that the
     * page headers stay on it. */
    r->status = HTTP_SEE_OTHER;
    pds_page_headers(r, 1);
    apr_table_setn(r->headers_out, "Location", to);
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only)
        ap_rputs(body, r);
    return OK;
}

const pds_agreement_t *pds_portal_agreement(const pds_portal_t *pt, const char *id)
{
    const apr_array_header_t *as = pt->sc->agreements;
    int i;

    for (i = 0; id != NULL && i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        if (strcmp(pds_agreement_id(a), id) == 0)
            return a;
    }
    return NULL;
}

void pds_portal_agreement_title(pds_portal_t *pt, const pds_agreement_t *a, const char *id)
{
    const char *title = a != NULL ? pds_agreement_title(a, pt->pg->lang) : NULL;

    if (title != NULL) {
        pds_page_text(pt->pg, title);
        return;
    }
    pds_page_puts(pt->pg, "<span class=\"unlabelled\">");
    pds_page_text(pt->pg, id != NULL ? id : "?");
    pds_page_puts(pt->pg, " <small>(");
    pds_page_msg(pt->pg, "unlabelled");
    pds_page_puts(pt->pg, ")</small></span>");
}
