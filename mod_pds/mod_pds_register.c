/* mod_pds_register.c: the public register (mod_pds_register.h): every
 * agreement the configuration holds, but those that say Register hidden:
 * who shares with whom, for what, on which legal basis, which data in plain
 * words, when, whether consent is needed, its version and last change, and
 * how many disclosures it made last month and this month so far (from the
 * disclosures index of the audit log: counts, never people). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_pds_consent.h"
#include "mod_pds_disclosures.h"
#include "mod_pds_page.h"
#include "mod_pds_register.h"
#include "mod_pds_response.h"
#include "mod_pds_util.h"

#define REGISTER_HANDLER "pds-register"

/* "YYYY-MM" of now and of the month before, UTC. */
static void months(char this_month[8], char last_month[8])
{
    apr_time_exp_t t;
    int y, m;

    apr_time_exp_gmt(&t, apr_time_now());
    y = t.tm_year + 1900;
    m = t.tm_mon + 1;
    apr_snprintf(this_month, 8, "%04d-%02d", y, m);
    if (m == 1)
        apr_snprintf(last_month, 8, "%04d-12", y - 1);
    else
        apr_snprintf(last_month, 8, "%04d-%02d", y, m - 1);
}

static const char *date(apr_pool_t *p, apr_time_t t)
{
    const char *s = pds_time_format(p, t);

    return s != NULL ? apr_pstrndup(p, s, 10) : "?";
}

static json_t *label_or_null(const pds_labels_t *l, pds_label_kind_e kind, const char *key,
                             const char *lang)
{
    const char *text = pds_labels_get(l, kind, key, lang);

    return text != NULL ? json_string(text) : json_null();
}

/* The paths of a field set with their labels (new reference). */
static json_t *labelled_paths(const pds_fieldset_t *set, const pds_page_t *pg)
{
    json_t *out = json_array();
    int i;

    for (i = 0; out != NULL && i < pds_fieldset_count(set); i++) {
        const char *f = pds_fieldset_path(set, i);
        json_array_append_new(out, json_pack("{s:s,s:o}", "path", f, "label",
                                             label_or_null(pg->labels, PDS_LABEL_FIELD, f,
                                                           pg->lang)));
    }
    return out;
}

/* One agreement as the register shows it (new reference). */
static json_t *entry(request_rec *r, const pds_agreement_t *a, const pds_page_t *pg,
                     const char *this_month, const char *last_month)
{
    const apr_array_header_t *purposes = pds_agreement_purposes(a);
    const pds_fieldset_t *release = pds_agreement_release(a), *write = pds_agreement_write(a);
    const char *basis = pds_agreement_legal_basis(a);
    const char *title = pds_agreement_title(a, pg->lang);
    const char *desc = pds_agreement_description(a, pg->lang);
    const char *changed = pds_agreement_changed(a);
    apr_uint64_t last = 0, now = 0;
    json_t *e, *ps, *data, *writes;
    int i;

    ps = json_array();
    for (i = 0; ps != NULL && i < purposes->nelts; i++) {
        const char *p = APR_ARRAY_IDX(purposes, i, const char *);
        json_array_append_new(ps, json_pack("{s:s,s:o}", "code", p, "label",
                                            label_or_null(pg->labels, PDS_LABEL_PURPOSE, p,
                                                          pg->lang)));
    }
    data = labelled_paths(release, pg);
    writes = labelled_paths(write, pg);
    (void)pds_disclosures_in_month(r, pds_agreement_id(a), last_month, &last);
    (void)pds_disclosures_in_month(r, pds_agreement_id(a), this_month, &now);
    e = json_pack("{s:s,s:o,s:o,s:{s:s,s:o},s:o,s:{s:s,s:o},s:o,s:o,s:{s:s,s:s},s:b,s:b,"
                  "s:s,s:o,s:{s:I,s:I}}",
                  "id", pds_agreement_id(a),
                  "title", title ? json_string(title) : json_null(),
                  "description", desc ? json_string(desc) : json_null(),
                  "shared_with", "organisation", pds_agreement_party(a), "label",
                  label_or_null(pg->labels, PDS_LABEL_ORGANISATION, pds_agreement_party(a),
                                pg->lang),
                  "purposes", ps,
                  "legal_basis", "code", basis, "words",
                  pds_legal_basis_words(pg->lang, basis)
                  ? json_string(pds_legal_basis_words(pg->lang, basis)) : json_null(),
                  "data", data,
                  "writes", writes,
                  "valid", "from", date(r->pool, pds_agreement_valid_from(a)),
                  "until", date(r->pool, pds_agreement_valid_until(a)),
                  "consent_needed", strcmp(basis, "consent") == 0,
                  "objection_possible", pds_optout_applies(basis),
                  "version", pds_agreement_version(a),
                  "changed", changed ? json_string(changed) : json_null(),
                  "disclosures", "last_month", (json_int_t)last, "this_month", (json_int_t)now);
    return e;
}

static void page_fields(pds_page_t *pg, json_t *list)
{
    json_t *f;
    size_t i;

    if (json_array_size(list) == 0) {
        pds_page_msg(pg, "no_fields");
        return;
    }
    pds_page_puts(pg, "<ul>");
    json_array_foreach(list, i, f) {
        pds_page_puts(pg, "<li>");
        pds_page_label(pg, PDS_LABEL_FIELD, json_string_value(json_object_get(f, "path")));
        pds_page_puts(pg, "</li>");
    }
    pds_page_puts(pg, "</ul>");
}

static void dt(pds_page_t *pg, const char *id)
{
    pds_page_puts(pg, "<dt>");
    pds_page_msg(pg, id);
    pds_page_puts(pg, "</dt><dd>");
}

static void page_entry(pds_page_t *pg, const char *publisher, json_t *e)
{
    const char *title = json_string_value(json_object_get(e, "title"));
    const char *desc = json_string_value(json_object_get(e, "description"));
    const char *changed = json_string_value(json_object_get(e, "changed"));
    json_t *p, *disc = json_object_get(e, "disclosures");
    size_t i;

    pds_page_puts(pg, "<section class=\"card\">\n<h2>");
    if (title != NULL)
        pds_page_text(pg, title);
    else
        pds_page_label(pg, PDS_LABEL_TITLE, json_string_value(json_object_get(e, "id")));
    pds_page_puts(pg, "</h2>\n");
    if (desc != NULL) {
        pds_page_puts(pg, "<p>");
        pds_page_text(pg, desc);
        pds_page_puts(pg, "</p>\n");
    }
    pds_page_puts(pg, "<dl>");
    dt(pg, "shared_by");
    pds_page_puts(pg, publisher);
    pds_page_puts(pg, "</dd>");
    dt(pg, "shared_with");
    pds_page_label(pg, PDS_LABEL_ORGANISATION,
                   json_string_value(json_object_get(json_object_get(e, "shared_with"),
                                                     "organisation")));
    pds_page_puts(pg, "</dd>");
    dt(pg, "purpose");
    json_array_foreach(json_object_get(e, "purposes"), i, p) {
        if (i > 0)
            pds_page_puts(pg, "; ");
        pds_page_label(pg, PDS_LABEL_PURPOSE, json_string_value(json_object_get(p, "code")));
    }
    pds_page_puts(pg, "</dd>");
    dt(pg, "legal_basis");
    pds_page_basis(pg, json_string_value(json_object_get(json_object_get(e, "legal_basis"),
                                                         "code")));
    pds_page_puts(pg, "</dd>");
    dt(pg, "data");
    page_fields(pg, json_object_get(e, "data"));
    pds_page_puts(pg, "</dd>");
    dt(pg, "valid");
    pds_page_text(pg, json_string_value(json_object_get(json_object_get(e, "valid"), "from")));
    pds_page_printf(pg, " %s ", pds_html_escape(pg->r->pool, pds_page_m(pg, "to")));
    pds_page_text(pg, json_string_value(json_object_get(json_object_get(e, "valid"), "until")));
    pds_page_puts(pg, "</dd>");
    dt(pg, "consent_needed");
    pds_page_msg(pg, json_is_true(json_object_get(e, "consent_needed")) ? "yes" : "no");
    pds_page_puts(pg, "</dd>");
    dt(pg, "objection_possible");
    pds_page_msg(pg, json_is_true(json_object_get(e, "objection_possible")) ? "yes" : "no");
    pds_page_puts(pg, "</dd>");
    dt(pg, "version");
    pds_page_text(pg, json_string_value(json_object_get(e, "version")));
    pds_page_puts(pg, "</dd>");
    dt(pg, "changed");
    if (changed != NULL)
        pds_page_text(pg, changed);
    else
        pds_page_msg(pg, "not_stated");
    pds_page_puts(pg, "</dd>");
    dt(pg, "disclosures_last_month");
    pds_page_printf(pg, "%" JSON_INTEGER_FORMAT "</dd>",
                    json_integer_value(json_object_get(disc, "last_month")));
    dt(pg, "disclosures_this_month");
    pds_page_printf(pg, "%" JSON_INTEGER_FORMAT "</dd>",
                    json_integer_value(json_object_get(disc, "this_month")));
    pds_page_puts(pg, "</dl>\n</section>\n");
}

int pds_register_handler(request_rec *r)
{
    const pds_server_conf_t *sc;
    const char *location, *publisher, *base, *pub_html;
    apr_array_header_t *segs;
    char this_month[8], last_month[8];
    pds_page_t *pg;
    json_t *list, *e;
    apr_size_t len;
    size_t k;
    int i, json;

    if (r->handler == NULL || strcmp(r->handler, REGISTER_HANDLER) != 0)
        return DECLINED;
    location = pds_handler_location(r);
    if (location == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00444: SetHandler pds-register must "
                      "be in a <Location> with a literal path");
        return HTTP_NOT_FOUND;
    }
    segs = pds_handler_segments(r, location);
    if (segs == NULL || segs->nelts > 1)
        return HTTP_NOT_FOUND;
    if (segs->nelts == 1
        && (i = pds_page_asset(r, APR_ARRAY_IDX(segs, 0, const char *))) != DECLINED)
        return i;
    json = segs->nelts == 1;
    if (json && strcmp(APR_ARRAY_IDX(segs, 0, const char *), "agreements.json") != 0)
        return HTTP_NOT_FOUND;
    if (r->method_number != M_GET)
        return json ? pds_send_problem(r, "method-not-allowed", "use GET")
                    : HTTP_METHOD_NOT_ALLOWED;
    sc = pds_server_conf(r->server);
    pg = pds_page_create(r, 0);
    months(this_month, last_month);
    publisher = pds_labels_get(pg->labels, PDS_LABEL_PUBLISHER, "", pg->lang);
    list = json_array();
    for (i = 0; list != NULL && i < sc->agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        if (!pds_agreement_hidden(a))
            json_array_append_new(list, entry(r, a, pg, this_month, last_month));
    }
    if (list == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (json) {
        pds_page_headers(r, 0);
        return pds_send_json(r, HTTP_OK, json_pack("{s:s,s:o,s:s,s:s,s:o}", "language",
                                                  pg->lang, "publisher",
                                                  publisher ? json_string(publisher)
                                                            : json_null(),
                                                  "this_month", this_month,
                                                  "last_month", last_month,
                                                  "agreements", list));
    }
    len = strlen(location);
    while (len > 0 && location[len - 1] == '/')
        len--;
    base = apr_pstrndup(r->pool, location, len);
    pub_html = publisher != NULL ? pds_html_escape(r->pool, publisher)
        : apr_pstrcat(r->pool, "<span class=\"unlabelled\">",
                      pds_html_escape(r->pool, r->server->server_hostname), " <small>(",
                      pds_html_escape(r->pool, pds_page_m(pg, "unlabelled")),
                      ")</small></span>", NULL);
    pds_page_start(pg, pds_page_m(pg, "register_title"),
                   apr_pstrcat(r->pool, base, "/" PDS_PAGE_STYLESHEET, NULL),
                   publisher ? publisher : pds_page_m(pg, "register_title"), NULL);
    pds_page_puts(pg, "<p>");
    pds_page_msg(pg, "register_intro");
    pds_page_printf(pg, "</p>\n<p><a href=\"%s/agreements.json\">",
                    pds_html_escape(r->pool, base));
    pds_page_msg(pg, "register_json");
    pds_page_puts(pg, "</a></p>\n");
    if (json_array_size(list) == 0) {
        pds_page_puts(pg, "<p>");
        pds_page_msg(pg, "no_agreements");
        pds_page_puts(pg, "</p>\n");
    }
    json_array_foreach(list, k, e)
        page_entry(pg, pub_html, e);
    json_decref(list);
    pds_page_end(pg);
    return pds_page_send(pg, HTTP_OK);
}
