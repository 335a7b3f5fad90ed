/* mod_pds_page.c: the frame, headers and escaping of the module's HTML
 * pages, and their one stylesheet (mod_pds_page.h). */
#include <stdarg.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_pds_page.h"
#include "pds_html.h"

/* Colours meet WCAG 2.2 AA contrast on their backgrounds (4.5:1 for text);
 * focus is always visible; no web fonts. */
static const char stylesheet[] =
    ":root{--ink:#1b1b1b;--muted:#4a4a4a;--paper:#ffffff;--band:#0b3d61;--link:#0b5394;"
    "--line:#b1b4b6;--soft:#f3f2f1;--ok:#00703c;--warn:#8a1538}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;"
    "font-size:1.1rem;line-height:1.5;color:var(--ink);background:var(--paper)}\n"
    "a{color:var(--link)}a:hover{text-decoration-thickness:3px}\n"
    ":focus-visible{outline:3px solid #ffbf47;outline-offset:2px;box-shadow:0 0 0 5px #1b1b1b}\n"
    ".skip{position:absolute;left:-9999px;top:0;background:#ffbf47;color:#1b1b1b;padding:.5rem}\n"
    ".skip:focus{left:0}\n"
    "header.site{background:var(--band);color:#fff;padding:1rem 1.5rem}\n"
    "header.site a{color:#fff}\n"
    ".site-name{font-size:1.5rem;font-weight:700;margin:0}\n"
    ".who{margin:.25rem 0 0;font-size:1rem}\n"
    "nav ul{list-style:none;margin:.75rem 0 0;padding:0;display:flex;flex-wrap:wrap;gap:1.25rem}\n"
    "nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}\n"
    "main{max-width:60rem;margin:0 auto;padding:1.5rem}\n"
    "h1{font-size:2rem;margin-top:0}\n"
    "table{border-collapse:collapse;width:100%;margin:1rem 0}\n"
    "caption{text-align:left;font-weight:700;padding:.5rem 0}\n"
    "th,td{border-bottom:1px solid var(--line);padding:.5rem;text-align:left;vertical-align:top}\n"
    "th{background:var(--soft)}\n"
    "td ul,dd ul{margin:0;padding-left:1.25rem}\n"
    ".unlabelled{font-family:ui-monospace,monospace;background:var(--soft);"
    "border:1px dashed var(--muted);padding:0 .25rem}\n"
    ".unlabelled small{font-family:system-ui,sans-serif;color:var(--muted)}\n"
    ".card{border:1px solid var(--line);border-left:6px solid var(--band);padding:1rem;"
    "margin:1rem 0}\n"
    ".card h2,.card h3{margin-top:0}\n"
    ".state{font-weight:700}\n"
    ".notice{border-left:6px solid var(--ok);background:#e8f5ee;padding:1rem;margin:1rem 0}\n"
    ".problem{border-left:6px solid var(--warn);background:#fbeef1;padding:1rem;margin:1rem 0}\n"
    "fieldset{border:1px solid var(--line);margin:1rem 0;padding:.75rem 1rem}\n"
    "legend{font-weight:700;padding:0 .25rem}\n"
    "label{display:inline-block;margin:.25rem 0}\n"
    "input[type=checkbox]{width:1.25rem;height:1.25rem;margin-right:.5rem;vertical-align:middle}\n"
    "select{font-size:1rem;padding:.25rem;margin:0 1rem .5rem .5rem}\n"
    "button{font-size:1rem;padding:.5rem 1rem;border:2px solid var(--band);border-radius:0;"
    "background:var(--band);color:#fff;cursor:pointer;margin:.25rem .5rem .25rem 0}\n"
    "button.secondary{background:#fff;color:var(--band)}\n"
    "form.inline{display:inline}\n"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}\n"
    "dt{font-weight:700}dd{margin:0}\n"
    "ol.history{margin:.25rem 0;padding-left:1.5rem}\n"
    "footer{max-width:60rem;margin:2rem auto;padding:0 1.5rem;color:var(--muted);font-size:.95rem}\n";

pds_page_t *pds_page_create(request_rec *r, int personal)
{
    pds_page_t *pg = apr_pcalloc(r->pool, sizeof(*pg));
    const char *chosen = pds_conf_portal_language(pds_dir_conf(r));

    pg->r = r;
    pg->personal = personal;
    pg->labels = pds_server_conf(r->server)->labels;
    pg->out = apr_array_make(r->pool, 256, sizeof(const char *));
    if (strcmp(chosen, "auto") == 0) {
        pg->lang = pds_lang_negotiate(apr_table_get(r->headers_in, "Accept-Language"));
        apr_table_mergen(r->headers_out, "Vary", "Accept-Language");
    }
    else
        pg->lang = chosen;
    return pg;
}

void pds_page_puts(pds_page_t *pg, const char *s)
{
    if (s != NULL && s[0] != '\0')
        APR_ARRAY_PUSH(pg->out, const char *) = apr_pstrdup(pg->r->pool, s);
}

void pds_page_printf(pds_page_t *pg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(pg->out, const char *) = apr_pvsprintf(pg->r->pool, fmt, ap);
    va_end(ap);
}

void pds_page_text(pds_page_t *pg, const char *s)
{
    APR_ARRAY_PUSH(pg->out, const char *) = pds_html_escape(pg->r->pool, s);
}

const char *pds_page_m(const pds_page_t *pg, const char *id)
{
    return pds_msg(pg->lang, id);
}

void pds_page_msg(pds_page_t *pg, const char *id)
{
    pds_page_text(pg, pds_msg(pg->lang, id));
}

/* A configuration name with no plain words: shown, marked, never blank. */
static void unlabelled(pds_page_t *pg, const char *key)
{
    pds_page_puts(pg, "<span class=\"unlabelled\">");
    pds_page_text(pg, key != NULL && key[0] ? key : "?");
    pds_page_puts(pg, " <small>(");
    pds_page_msg(pg, "unlabelled");
    pds_page_puts(pg, ")</small></span>");
}

void pds_page_label(pds_page_t *pg, pds_label_kind_e kind, const char *key)
{
    const char *text = pds_labels_get(pg->labels, kind, key, pg->lang);

    if (text != NULL)
        pds_page_text(pg, text);
    else
        unlabelled(pg, key);
}

void pds_page_basis(pds_page_t *pg, const char *basis)
{
    const char *words = pds_legal_basis_words(pg->lang, basis);

    if (words != NULL)
        pds_page_text(pg, words);
    else
        unlabelled(pg, basis);
}

void pds_page_start(pds_page_t *pg, const char *title, const char *css_href,
                    const char *site, const char *nav_html)
{
    pds_page_printf(pg, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>", pg->lang);
    pds_page_text(pg, title);
    pds_page_puts(pg, " \xe2\x80\x93 ");
    pds_page_text(pg, site);
    pds_page_puts(pg, "</title>\n<link rel=\"stylesheet\" href=\"");
    pds_page_text(pg, css_href);
    pds_page_puts(pg, "\">\n<link rel=\"icon\" href=\"");
    /* the icon beside the stylesheet, so that no request goes elsewhere */
    pds_page_text(pg, apr_pstrndup(pg->r->pool, css_href,
                                   strlen(css_href) - (strlen(css_href) >= 9
                                                       && strcmp(css_href + strlen(css_href)
                                                                 - 9, "style.css") == 0
                                                       ? 9 : 0)));
    pds_page_puts(pg, PDS_PAGE_ICON "\">\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">");
    pds_page_msg(pg, "skip");
    pds_page_puts(pg, "</a>\n<header class=\"site\">\n<p class=\"site-name\">");
    pds_page_text(pg, site);
    pds_page_puts(pg, "</p>\n");
    if (nav_html != NULL)
        pds_page_puts(pg, nav_html);
    pds_page_puts(pg, "</header>\n<main id=\"main\" tabindex=\"-1\">\n<h1>");
    pds_page_text(pg, title);
    pds_page_puts(pg, "</h1>\n");
}

void pds_page_end(pds_page_t *pg)
{
    pds_page_puts(pg, "</main>\n</body>\n</html>\n");
}

void pds_page_headers(request_rec *r, int personal)
{
    apr_table_setn(r->headers_out, "Content-Security-Policy", PDS_PAGE_CSP);
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    /* same-origin, not no-referrer: with no-referrer browsers send "Origin:
     * null" on the pages' own forms, which the CSRF check must refuse. */
    apr_table_setn(r->headers_out, "Referrer-Policy", "same-origin");
    apr_table_setn(r->headers_out, "Cache-Control", personal ? "no-store" : "max-age=300");
    if (personal)
        apr_table_setn(r->headers_out, "Pragma", "no-cache");
}

int pds_page_send(pds_page_t *pg, int status)
{
    request_rec *r = pg->r;
    const char *body = apr_array_pstrcat(r->pool, pg->out, 0);
    apr_size_t len = strlen(body);

    r->status = status;
    pds_page_headers(r, pg->personal);
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
    return OK;
}

/* A plain square in the header's colour: an icon the pages can point at,
 * so that browsers do not ask the server root for /favicon.ico. */
static const char icon[] =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
    "<rect width=\"16\" height=\"16\" fill=\"#0b3d61\"/></svg>\n";

int pds_page_asset(request_rec *r, const char *name)
{
    if (strcmp(name, PDS_PAGE_ICON) == 0) {
        if (r->method_number != M_GET)
            return HTTP_METHOD_NOT_ALLOWED;
        apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
        apr_table_setn(r->headers_out, "Cache-Control", "max-age=86400");
        ap_set_content_type(r, "image/svg+xml");
        ap_set_content_length(r, (apr_off_t)(sizeof(icon) - 1));
        if (!r->header_only)
            ap_rwrite(icon, (int)(sizeof(icon) - 1), r);
        return OK;
    }
    if (strcmp(name, PDS_PAGE_STYLESHEET) == 0)
        return pds_page_stylesheet(r);
    return DECLINED;
}

int pds_page_stylesheet(request_rec *r)
{
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Cache-Control", "max-age=3600");
    ap_set_content_type(r, "text/css; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)(sizeof(stylesheet) - 1));
    if (!r->header_only)
        ap_rwrite(stylesheet, (int)(sizeof(stylesheet) - 1), r);
    return OK;
}
