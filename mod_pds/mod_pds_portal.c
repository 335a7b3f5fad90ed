/* mod_pds_portal.c: the portal's handler, its routes, the start page and
 * "Who got my data" (mod_pds_portal.h). The consent pages are in
 * mod_pds_portal_consent.c, the frame and forms in mod_pds_portal_form.c. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "util_script.h"

#include "mod_pds_consent.h"
#include "mod_pds_disclosures.h"
#include "mod_pds_page.h"
#include "mod_pds_portal.h"
#include "mod_pds_portal_consent.h"
#include "mod_pds_portal_form.h"
#include "mod_pds_util.h"
#include "pds_syntax.h"

#define DAY_USEC (apr_time_from_sec(86400))

static int home(pds_portal_t *pt)
{
    static const char *const pages[] = { "disclosures", "consents", "objections", NULL };
    pds_page_t *pg = pt->pg;
    int i;

    pds_portal_start(pt, "site_title", NULL);
    pds_page_puts(pg, "<p>");
    pds_page_msg(pg, "home_intro");
    pds_page_puts(pg, "</p>\n<ul>\n");
    for (i = 0; pages[i] != NULL; i++) {
        pds_page_printf(pg, "<li><a href=\"%s/%s\">", pds_html_escape(pt->r->pool, pt->base),
                        pages[i]);
        pds_page_msg(pg, apr_pstrcat(pt->r->pool, "nav_", pages[i], NULL));
        pds_page_puts(pg, "</a></li>\n");
    }
    pds_page_puts(pg, "</ul>\n");
    pds_page_end(pg);
    return pds_page_send(pg, HTTP_OK);
}

/* "2026-12-03T06:15:01.123456Z" as "2026-12-03 06:15 UTC". */
static const char *when(apr_pool_t *p, const char *t)
{
    if (t == NULL || strlen(t) < 16)
        return "?";
    /* Escaped: the text comes from the audit log or the store, not from us. */
    return pds_html_escape(p, apr_psprintf(p, "%.10s %.5s UTC", t, t + 11));
}

static void options(pds_portal_t *pt, const char *name, const char *chosen,
                    const char *const *values, const char *const *msg_ids)
{
    apr_pool_t *p = pt->r->pool;
    int i;

    pds_page_printf(pt->pg, "<select id=\"%s\" name=\"%s\">", name, name);
    for (i = 0; values[i] != NULL; i++) {
        pds_page_printf(pt->pg, "<option value=\"%s\"%s>", pds_html_escape(p, values[i]),
                        strcmp(values[i], chosen) == 0 ? " selected" : "");
        if (msg_ids != NULL)
            pds_page_msg(pt->pg, msg_ids[i]);
        else if (values[i][0] == '\0')
            pds_page_msg(pt->pg, "all_organisations");
        else
            pds_page_label(pt->pg, PDS_LABEL_ORGANISATION, values[i]);
        pds_page_puts(pt->pg, "</option>");
    }
    pds_page_puts(pt->pg, "</select>\n");
}

static void fields_cell(pds_portal_t *pt, json_t *fields)
{
    json_t *f;
    size_t i;

    if (!json_is_array(fields) || json_array_size(fields) == 0) {
        pds_page_msg(pt->pg, "no_fields");
        return;
    }
    pds_page_puts(pt->pg, "<ul>");
    json_array_foreach(fields, i, f) {
        pds_page_puts(pt->pg, "<li>");
        pds_page_label(pt->pg, PDS_LABEL_FIELD, json_string_value(f));
        pds_page_puts(pt->pg, "</li>");
    }
    pds_page_puts(pt->pg, "</ul>");
}

/* When the list may lack a node's latest disclosures: says so, in plain
 * words, with the nodes and since when (UTC). */
static void incomplete_notice(pds_portal_t *pt, json_t *behind)
{
    pds_page_t *pg = pt->pg;
    json_t *b;
    size_t i;

    if (json_array_size(behind) == 0)
        return;
    pds_page_puts(pg, "<div class=\"problem\" id=\"incomplete\" role=\"status\"><p>");
    pds_page_msg(pg, "disclosures_incomplete");
    pds_page_puts(pg, "</p>\n<ul>\n");
    json_array_foreach(behind, i, b) {
        const char *since = json_string_value(json_object_get(b, "since"));

        pds_page_puts(pg, "<li>");
        pds_page_msg(pg, "incomplete_node");
        pds_page_puts(pg, " ");
        pds_page_text(pg, json_string_value(json_object_get(b, "node")));
        if (since != NULL) {
            pds_page_puts(pg, ", ");
            pds_page_msg(pg, "incomplete_since");
            pds_page_printf(pg, " %s", when(pt->r->pool, since));
        }
        pds_page_puts(pg, "</li>\n");
    }
    pds_page_puts(pg, "</ul>\n<p>");
    pds_page_msg(pg, "incomplete_later");
    pds_page_puts(pg, "</p></div>\n");
}

/* The timeline: newest first, filtered by organisation and period. */
static int disclosures(pds_portal_t *pt)
{
    static const char *const periods[] = { "30", "365", "all", NULL };
    static const char *const period_ids[] = { "period_30", "period_365", "period_all", NULL };
    request_rec *r = pt->r;
    pds_page_t *pg = pt->pg;
    apr_table_t *args = NULL;
    const char *org, *period, **orgs;
    apr_array_header_t *org_list;
    apr_hash_t *seen = apr_hash_make(r->pool);
    apr_time_t since = 0;
    json_t *list, *behind, *e;
    size_t i;
    int shown = 0;

    ap_args_to_table(r, &args);
    org = args ? apr_table_get(args, "organisation") : NULL;
    period = args ? apr_table_get(args, "period") : NULL;
    if (org == NULL)
        org = "";
    if (period == NULL)
        period = "all";
    if ((org[0] != '\0' && !pds_syntax_is_name(org, PDS_SYNTAX_NAME_MAX))
        || (strcmp(period, "30") != 0 && strcmp(period, "365") != 0
            && strcmp(period, "all") != 0))
        return pds_portal_error(pt, HTTP_BAD_REQUEST, "not_found", NULL);
    if (strcmp(period, "all") != 0)
        since = apr_time_now() - (apr_time_t)atoi(period) * DAY_USEC;
    if (pds_disclosures_of(r, pt->person, &list, &behind) != APR_SUCCESS)
        return pds_portal_error(pt, HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL);

    /* The organisations to filter by: those in the person's own list. */
    org_list = apr_array_make(r->pool, 8, sizeof(const char *));
    APR_ARRAY_PUSH(org_list, const char *) = "";
    json_array_foreach(list, i, e) {
        const char *o = json_string_value(json_object_get(e, "organisation"));
        if (o != NULL && apr_hash_get(seen, o, APR_HASH_KEY_STRING) == NULL) {
            apr_hash_set(seen, o, APR_HASH_KEY_STRING, "");
            APR_ARRAY_PUSH(org_list, const char *) = o;
        }
    }
    APR_ARRAY_PUSH(org_list, const char *) = NULL;
    orgs = (const char **)org_list->elts;

    pds_portal_start(pt, "nav_disclosures", "disclosures");
    pds_page_puts(pg, "<p>");
    pds_page_msg(pg, "disclosures_intro");
    pds_page_puts(pg, "</p>\n");
    incomplete_notice(pt, behind);
    json_decref(behind);
    pds_page_printf(pg, "<form method=\"get\" action=\"%s/disclosures\">"
                    "<fieldset><legend>", pds_html_escape(r->pool, pt->base));
    pds_page_msg(pg, "filter");
    pds_page_puts(pg, "</legend>\n<label for=\"organisation\">");
    pds_page_msg(pg, "organisation");
    pds_page_puts(pg, "</label>");
    options(pt, "organisation", org, orgs, NULL);
    pds_page_puts(pg, "<label for=\"period\">");
    pds_page_msg(pg, "period");
    pds_page_puts(pg, "</label>");
    options(pt, "period", period, periods, period_ids);
    pds_page_puts(pg, "<button type=\"submit\">");
    pds_page_msg(pg, "apply");
    pds_page_puts(pg, "</button></fieldset></form>\n");

    pds_page_puts(pg, "<table>\n<caption>");
    pds_page_msg(pg, "nav_disclosures");
    pds_page_puts(pg, "</caption>\n<thead><tr>");
    {
        static const char *const heads[] = { "when", "organisation", "purpose", "legal_basis",
                                             "data", "agreement", NULL };
        int h;
        for (h = 0; heads[h] != NULL; h++) {
            pds_page_puts(pg, "<th scope=\"col\">");
            pds_page_msg(pg, heads[h]);
            pds_page_puts(pg, "</th>");
        }
    }
    pds_page_puts(pg, "</tr></thead>\n<tbody>\n");
    for (i = json_array_size(list); i-- > 0;) {
        const char *time, *o, *id, *version;
        apr_time_t t;

        e = json_array_get(list, i);
        time = json_string_value(json_object_get(e, "time"));
        o = json_string_value(json_object_get(e, "organisation"));
        id = json_string_value(json_object_get(e, "agreement"));
        version = json_string_value(json_object_get(e, "agreement_version"));
        if ((org[0] != '\0' && (o == NULL || strcmp(o, org) != 0))
            || (since != 0 && (time == NULL || pds_time_parse(&t, time) != APR_SUCCESS
                               || t < since)))
            continue;
        shown++;
        pds_page_printf(pg, "<tr><td>%s</td><td>", when(r->pool, time));
        pds_page_label(pg, PDS_LABEL_ORGANISATION, o);
        pds_page_puts(pg, "</td><td>");
        pds_page_label(pg, PDS_LABEL_PURPOSE, json_string_value(json_object_get(e, "purpose")));
        pds_page_puts(pg, "</td><td>");
        pds_page_basis(pg, json_string_value(json_object_get(e, "legal_basis")));
        pds_page_puts(pg, "</td><td>");
        fields_cell(pt, json_object_get(e, "fields"));
        pds_page_puts(pg, "</td><td>");
        pds_portal_agreement_title(pt, pds_portal_agreement(pt, id), id);
        if (version != NULL) {
            pds_page_printf(pg, " (%s ", pds_html_escape(r->pool, pds_page_m(pg, "version")));
            pds_page_text(pg, version);
            pds_page_puts(pg, ")");
        }
        pds_page_puts(pg, "</td></tr>\n");
    }
    pds_page_puts(pg, "</tbody>\n</table>\n");
    if (shown == 0) {
        pds_page_puts(pg, "<p>");
        pds_page_msg(pg, "no_disclosures");
        pds_page_puts(pg, "</p>\n");
    }
    json_decref(list);
    pds_page_end(pg);
    return pds_page_send(pg, HTTP_OK);
}

int pds_portal_handler(request_rec *r)
{
    const char *location, *const *seg;
    apr_array_header_t *segs;
    pds_portal_t pt;
    apr_size_t len;
    int n, rc;

    if (r->handler == NULL || strcmp(r->handler, PDS_PORTAL_HANDLER) != 0)
        return DECLINED;
    memset(&pt, 0, sizeof(pt));
    pt.r = r;
    pt.sc = pds_server_conf(r->server);
    pt.pg = pds_page_create(r, 1);
    location = pds_handler_location(r);
    segs = pds_handler_segments(r, location);
    if (location == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00442: SetHandler pds-portal must "
                      "be in a <Location> with a literal path (not inside <If>, <Files> or "
                      "a regular expression section)");
        return HTTP_NOT_FOUND;
    }
    len = strlen(location);
    while (len > 0 && location[len - 1] == '/')
        len--;
    pt.base = apr_pstrndup(r->pool, location, len);
    if (segs == NULL)
        return pds_portal_error(&pt, HTTP_NOT_FOUND, "not_found", NULL);
    seg = (const char *const *)segs->elts;
    n = segs->nelts;
    if (n == 1 && (rc = pds_page_asset(r, seg[0])) != DECLINED)
        return rc;
    if (r->method_number != M_GET && r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "GET, POST");
        return pds_portal_error(&pt, HTTP_METHOD_NOT_ALLOWED, "not_found", NULL);
    }
    if ((pt.person = pds_person_subject(r)) == NULL)
        return pds_portal_error(&pt, HTTP_FORBIDDEN, "not_signed_in", NULL);
    if (n >= 1 && (strcmp(seg[0], "consents") == 0 || strcmp(seg[0], "mandates") == 0
                   || strcmp(seg[0], "objections") == 0))
        return pds_portal_consent_route(&pt, seg, n);
    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET");
        return pds_portal_error(&pt, HTTP_METHOD_NOT_ALLOWED, "not_found", NULL);
    }
    if (n == 0)
        return home(&pt);
    if (n == 1 && strcmp(seg[0], "disclosures") == 0)
        return disclosures(&pt);
    return pds_portal_error(&pt, HTTP_NOT_FOUND, "not_found", NULL);
}
