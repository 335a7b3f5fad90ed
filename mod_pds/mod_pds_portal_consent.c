/* mod_pds_portal_consent.c: "My consents" (consents with their state,
 * fields, expiry and history; pause, resume, revoke; the signed receipt;
 * grant forms built from the agreements that ask for consent; the data
 * trusts the person mandates) and "My objections" (the opt-out register),
 * with their forms (mod_pds_portal_consent.h). */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_pds_consent.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_consent_ops.h"
#include "mod_pds_page.h"
#include "mod_pds_portal_consent.h"
#include "mod_pds_portal_form.h"
#include "pds_syntax.h"

/* Runs fn with the person's store connection, released afterwards. */
typedef int (*with_store_fn)(pds_portal_t *pt, pds_consent_actor_t *a, void *baton);

static int with_store(pds_portal_t *pt, with_store_fn fn, void *baton)
{
    pds_consent_actor_t a;
    int rc;

    if (!pds_consent_has_store())
        return pds_portal_error(pt, HTTP_NOT_FOUND, "not_found", NULL);
    memset(&a, 0, sizeof(a));
    a.r = pt->r;
    a.sc = pt->sc;
    a.subject = pt->person;
    a.actor = "person";
    a.h = pds_consent_conn_acquire(pt->r);
    if (a.h == NULL)
        return pds_portal_error(pt, HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL);
    rc = fn(pt, &a, baton);
    pds_consent_conn_release(a.h, a.failed);
    return rc;
}

/* An operation refused: the page says why, with the reason's status. */
static int refused(pds_portal_t *pt, const char *reason, const char *detail)
{
    const pds_reason_t *known = pds_reason_lookup(reason);

    if (strcmp(reason, "consent-store-unavailable") == 0)
        return pds_portal_error(pt, HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL);
    return pds_portal_error(pt, known ? known->status : HTTP_BAD_REQUEST, "refused", detail);
}

static void done_notice(pds_portal_t *pt)
{
    static const char *const known[] = { "grant", "pause", "resume", "revoke", "saved", NULL };
    const char *args = pt->r->args;
    int i;

    if (args == NULL || strncmp(args, "done=", 5) != 0)
        return;
    for (i = 0; known[i] != NULL; i++) {
        if (strcmp(args + 5, known[i]) == 0) {
            pds_page_puts(pt->pg, "<div class=\"notice\" role=\"status\"><p>");
            pds_page_msg(pt->pg, apr_pstrcat(pt->r->pool, "done_", known[i], NULL));
            pds_page_puts(pt->pg, "</p></div>\n");
        }
    }
}

static void field_list(pds_portal_t *pt, const apr_array_header_t *fields)
{
    int i;

    if (fields->nelts == 0) {
        pds_page_msg(pt->pg, "no_fields");
        return;
    }
    pds_page_puts(pt->pg, "<ul>");
    for (i = 0; i < fields->nelts; i++) {
        pds_page_puts(pt->pg, "<li>");
        pds_page_label(pt->pg, PDS_LABEL_FIELD, APR_ARRAY_IDX(fields, i, const char *));
        pds_page_puts(pt->pg, "</li>");
    }
    pds_page_puts(pt->pg, "</ul>");
}

static const char *day(apr_pool_t *p, apr_time_t t)
{
    const char *s = pds_time_format(p, t);

    return s != NULL ? apr_pstrndup(p, s, 10) : "?";
}

static void one_consent(pds_portal_t *pt, pds_consent_actor_t *a, const pds_consent_t *c)
{
    pds_page_t *pg = pt->pg;
    apr_pool_t *p = pt->r->pool;
    const char *state = pds_consent_state_at(c, apr_time_now());
    const char *org = pds_labels_get(pg->labels, PDS_LABEL_ORGANISATION, c->organisation,
                                     pg->lang);
    apr_array_header_t *hist = NULL;
    pds_consent_t *fresh;
    const char *detail;
    int i;

    pds_page_puts(pg, "<section class=\"card\">\n<h3>");
    pds_page_label(pg, PDS_LABEL_ORGANISATION, c->organisation);
    pds_page_puts(pg, ": ");
    pds_page_label(pg, PDS_LABEL_PURPOSE, c->purpose);
    pds_page_puts(pg, "</h3>\n<dl>\n<dt>");
    pds_page_msg(pg, "state");
    pds_page_printf(pg, "</dt><dd class=\"state\">%s</dd>\n<dt>",
                    pds_html_escape(p, pds_page_m(pg, apr_pstrcat(p, "state_", state, NULL))));
    pds_page_msg(pg, "data");
    pds_page_puts(pg, "</dt><dd>");
    field_list(pt, c->fields);
    pds_page_puts(pg, "</dd>\n<dt>");
    pds_page_msg(pg, "expires");
    pds_page_printf(pg, "</dt><dd>%s</dd>\n", day(p, c->expires));
    if (c->agreement != NULL) {
        pds_page_puts(pg, "<dt>");
        pds_page_msg(pg, "agreement");
        pds_page_puts(pg, "</dt><dd>");
        pds_portal_agreement_title(pt, pds_portal_agreement(pt, c->agreement), c->agreement);
        pds_page_puts(pg, "</dd>\n");
    }
    pds_page_puts(pg, "<dt>");
    pds_page_msg(pg, "history");
    pds_page_puts(pg, "</dt><dd><ol class=\"history\">");
    if (pds_consent_ops_load_own(a, c->id, &fresh, &hist, &detail) == NULL && hist != NULL) {
        for (i = 0; i < hist->nelts; i++) {
            const pds_consent_event_t *e = &APR_ARRAY_IDX(hist, i, pds_consent_event_t);
            int by_person = strcmp(e->actor, "person") == 0;
            pds_page_printf(pg, "<li>%s %s %s ",
                            pds_html_escape(p, pds_page_m(pg, apr_pstrcat(p, "action_",
                                                                          e->action, NULL))),
                            day(p, e->time), pds_html_escape(p, pds_page_m(pg, by_person
                                                                       ? "by_you" : "by")));
            if (!by_person)
                pds_page_label(pg, PDS_LABEL_ORGANISATION,
                               strncmp(e->actor, "manager:", 8) == 0 ? e->actor + 8 : e->actor);
            pds_page_puts(pg, "</li>");
        }
    }
    pds_page_puts(pg, "</ol></dd>\n</dl>\n<p>");
    org = apr_psprintf(p, "%s, %s", org ? org : c->organisation, c->purpose);
    if (strcmp(state, "active") == 0)
        pds_portal_button(pt, apr_pstrcat(p, "consents/", c->id, "/pause", NULL), "pause",
                          1, org, NULL);
    if (strcmp(state, "paused") == 0)
        pds_portal_button(pt, apr_pstrcat(p, "consents/", c->id, "/resume", NULL), "resume",
                          1, org, NULL);
    if (strcmp(state, "active") == 0 || strcmp(state, "paused") == 0)
        pds_portal_button(pt, apr_pstrcat(p, "consents/", c->id, "/revoke", NULL), "revoke",
                          1, org, NULL);
    if (pt->sc->consent_receipt_key != NULL) {
        pds_page_printf(pg, "<a href=\"%s/consents/%s/receipt\" download>",
                        pds_html_escape(p, pt->base), pds_html_escape(p, c->id));
        pds_page_msg(pg, "receipt");
        pds_page_puts(pg, "</a>");
    }
    pds_page_puts(pg, "</p>\n</section>\n");
}

/* One grant form per consent-based agreement and purpose: each field it
 * releases is a checkbox. */
static void grant_forms(pds_portal_t *pt)
{
    const apr_array_header_t *as = pt->sc->agreements;
    pds_page_t *pg = pt->pg;
    apr_pool_t *p = pt->r->pool;
    int i, j, k, offered = 0;

    pds_page_puts(pg, "<h2 id=\"grant\">");
    pds_page_msg(pg, "grant_heading");
    pds_page_puts(pg, "</h2>\n");
    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);
        const pds_fieldset_t *release = pds_agreement_release(a);
        const char *desc = pds_agreement_description(a, pg->lang);

        if (strcmp(pds_agreement_legal_basis(a), "consent") != 0)
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            const char *purpose = APR_ARRAY_IDX(purposes, j, const char *);

            offered++;
            pds_page_printf(pg, "<section class=\"card\" aria-labelledby=\"g%d-%d\">\n"
                            "<h3 id=\"g%d-%d\">", i, j, i, j);
            pds_portal_agreement_title(pt, a, pds_agreement_id(a));
            pds_page_puts(pg, "</h3>\n");
            if (desc != NULL) {
                pds_page_puts(pg, "<p>");
                pds_page_text(pg, desc);
                pds_page_puts(pg, "</p>\n");
            }
            pds_page_puts(pg, "<dl><dt>");
            pds_page_msg(pg, "organisation");
            pds_page_puts(pg, "</dt><dd>");
            pds_page_label(pg, PDS_LABEL_ORGANISATION, pds_agreement_party(a));
            pds_page_puts(pg, "</dd><dt>");
            pds_page_msg(pg, "purpose");
            pds_page_puts(pg, "</dt><dd>");
            pds_page_label(pg, PDS_LABEL_PURPOSE, purpose);
            pds_page_puts(pg, "</dd></dl>\n");
            pds_page_printf(pg, "<form method=\"post\" action=\"%s/consents\">",
                            pds_html_escape(p, pt->base));
            pds_portal_token_field(pt);
            pds_page_printf(pg, "<input type=\"hidden\" name=\"agreement\" value=\"%s\">"
                            "<input type=\"hidden\" name=\"purpose\" value=\"%s\">\n"
                            "<fieldset><legend>", pds_html_escape(p, pds_agreement_id(a)),
                            pds_html_escape(p, purpose));
            pds_page_msg(pg, "grant_fields");
            pds_page_puts(pg, "</legend>\n");
            for (k = 0; k < pds_fieldset_count(release); k++) {
                const char *path = pds_fieldset_path(release, k);
                pds_page_printf(pg, "<div><input type=\"checkbox\" name=\"field\" "
                                "id=\"f%d-%d-%d\" value=\"%s\"><label for=\"f%d-%d-%d\">",
                                i, j, k, pds_html_escape(p, path), i, j, k);
                pds_page_label(pg, PDS_LABEL_FIELD, path);
                pds_page_puts(pg, "</label></div>\n");
            }
            pds_page_puts(pg, "</fieldset>\n<button type=\"submit\">");
            pds_page_msg(pg, "grant_submit");
            pds_page_puts(pg, "</button></form>\n</section>\n");
        }
    }
    if (offered == 0) {
        pds_page_puts(pg, "<p>");
        pds_page_msg(pg, "no_offers");
        pds_page_puts(pg, "</p>\n");
    }
}

static int held(const apr_array_header_t *names, const char *name, apr_time_t *since,
                const apr_array_header_t *times)
{
    int i;

    for (i = 0; names != NULL && i < names->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            *since = APR_ARRAY_IDX(times, i, apr_time_t);
            return 1;
        }
    }
    return 0;
}

static void mandates(pds_portal_t *pt, pds_consent_actor_t *a)
{
    const apr_array_header_t *managers = pt->sc->consent_managers;
    apr_array_header_t *names = NULL, *times = NULL;
    pds_page_t *pg = pt->pg;
    apr_pool_t *p = pt->r->pool;
    pds_error_t err;
    int i;

    if (managers->nelts == 0)
        return;
    pds_error_clear(&err);
    if (pds_consent_store_list_names(a->h->store, p, PDS_CONSENT_MANDATES, a->subject,
                                     &names, &times, &err) != APR_SUCCESS)
        names = NULL;
    pds_page_puts(pg, "<h2>");
    pds_page_msg(pg, "mandates_heading");
    pds_page_puts(pg, "</h2>\n<p>");
    pds_page_msg(pg, "mandates_intro");
    pds_page_puts(pg, "</p>\n");
    for (i = 0; i < managers->nelts; i++) {
        const char *m = APR_ARRAY_IDX(managers, i, const char *);
        const char *shown = pds_labels_get(pg->labels, PDS_LABEL_ORGANISATION, m, pg->lang);
        apr_time_t since = 0;
        int on = held(names, m, &since, times);

        pds_page_puts(pg, "<section class=\"card\"><h3>");
        pds_page_label(pg, PDS_LABEL_ORGANISATION, m);
        pds_page_printf(pg, "</h3><p class=\"state\">%s",
                        pds_html_escape(p, pds_page_m(pg, on ? "mandate_on" : "mandate_off")));
        if (on)
            pds_page_printf(pg, " (%s %s)", pds_html_escape(p, pds_page_m(pg, "since")),
                            day(p, since));
        pds_page_puts(pg, "</p><p>");
        pds_portal_button(pt, apr_pstrcat(p, "mandates/", m, NULL),
                          on ? "mandate_withdraw" : "mandate_give", on, shown ? shown : m,
                          "action", on ? "withdraw" : "give", NULL);
        pds_page_puts(pg, "</p></section>\n");
    }
}

static int consents_page(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    apr_array_header_t *list;
    pds_page_t *pg = pt->pg;
    pds_error_t err;
    int i;

    (void)baton;
    pds_error_clear(&err);
    if (pds_consent_store_list(a->h->store, pt->r->pool, a->subject, &list, &err)
        != APR_SUCCESS) {
        const char *detail, *reason = pds_consent_ops_store_problem(a, &err, &detail);
        return refused(pt, reason, detail);
    }
    pds_portal_start(pt, "nav_consents", "consents");
    done_notice(pt);
    pds_page_puts(pg, "<p>");
    pds_page_msg(pg, "consents_intro");
    pds_page_puts(pg, "</p>\n<h2>");
    pds_page_msg(pg, "your_consents");
    pds_page_puts(pg, "</h2>\n");
    if (list->nelts == 0) {
        pds_page_puts(pg, "<p>");
        pds_page_msg(pg, "no_consents");
        pds_page_puts(pg, "</p>\n");
    }
    for (i = 0; i < list->nelts; i++)
        one_consent(pt, a, APR_ARRAY_IDX(list, i, pds_consent_t *));
    grant_forms(pt);
    mandates(pt, a);
    pds_page_end(pg);
    return pds_page_send(pg, HTTP_OK);
}

/* The grant form's fields, as the consent API's grant body, through the
 * same parser and checks. */
static int grant(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    request_rec *r = pt->r;
    const char *id = apr_table_get(pt->form, "agreement");
    const char *purpose = apr_table_get(pt->form, "purpose");
    const pds_agreement_t *ag = pds_portal_agreement(pt, id);
    const apr_array_header_t *elts = apr_table_elts(pt->form);
    const char *reason, *detail;
    json_t *body, *fields;
    pds_consent_t *c;
    pds_error_t err;
    char *text;
    int i;

    (void)baton;
    if (ag == NULL || purpose == NULL || !pds_syntax_is_name(purpose, PDS_SYNTAX_NAME_MAX))
        return pds_portal_error(pt, HTTP_BAD_REQUEST, "refused", "no such agreement");
    fields = json_array();
    for (i = 0; fields != NULL && i < elts->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(elts, i, apr_table_entry_t);
        if (strcmp(e->key, "field") == 0)
            json_array_append_new(fields, json_string(e->val));
    }
    if (fields == NULL || json_array_size(fields) == 0) {
        json_decref(fields);
        return pds_portal_error(pt, HTTP_UNPROCESSABLE_ENTITY, "no_fields_ticked", NULL);
    }
    body = json_pack("{s:s,s:s,s:o,s:s,s:s}", "organisation", pds_agreement_party(ag),
                     "purpose", purpose, "fields", fields,
                     "notice", apr_psprintf(r->pool, "portal:%s;v=%s", pds_agreement_id(ag),
                                            pds_agreement_version(ag)),
                     "agreement", pds_agreement_id(ag));
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return pds_portal_error(pt, HTTP_INTERNAL_SERVER_ERROR, "unavailable", NULL);
    pds_error_clear(&err);
    i = pds_consent_from_grant(&c, r->pool, text, strlen(text), a->subject, a->actor,
                               apr_time_now(), &err) == APR_SUCCESS;
    free(text);
    if (!i)
        return refused(pt, err.code, err.text);
    if ((reason = pds_consent_ops_grant(a, c, &detail)) != NULL)
        return refused(pt, reason, detail);
    return pds_portal_redirect(pt, "consents", "grant");
}

typedef struct change_t {
    const char *id, *action;
} change_t;

static int change(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    const change_t *ch = baton;
    apr_array_header_t *hist;
    pds_consent_t *next;
    const char *reason, *detail;

    reason = pds_consent_ops_change(a, ch->id, ch->action, &next, &hist, &detail);
    if (reason != NULL)
        return refused(pt, reason, detail);
    return pds_portal_redirect(pt, "consents", ch->action);
}

/* The signed receipt of the consent as it stands, as a file to keep. */
static int receipt(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    request_rec *r = pt->r;
    apr_array_header_t *hist = NULL;
    const char *reason, *detail, *action = "grant";
    pds_consent_t *c;
    json_t *jws;

    reason = pds_consent_ops_load_own(a, baton, &c, &hist, &detail);
    if (reason != NULL)
        return refused(pt, reason, detail);
    if (hist != NULL && hist->nelts > 0)
        action = APR_ARRAY_IDX(hist, hist->nelts - 1, pds_consent_event_t).action;
    if (pt->sc->consent_receipt_key == NULL
        || (jws = pds_consent_ops_receipt(a, c, action)) == NULL)
        return pds_portal_error(pt, HTTP_NOT_FOUND, "not_found", NULL);
    pds_page_headers(r, 1);
    apr_table_setn(r->headers_out, "Content-Disposition",
                   apr_psprintf(r->pool, "attachment; filename=\"consent-%s-receipt.jws\"",
                                c->id));
    ap_set_content_type(r, "application/jose");
    ap_set_content_length(r, (apr_off_t)strlen(json_string_value(jws)));
    if (!r->header_only)
        ap_rputs(json_string_value(jws), r);
    json_decref(jws);
    return OK;
}

/* Does some agreement whose legal basis allows an objection name purpose? */
static int objection_allowed(const pds_portal_t *pt, const char *purpose)
{
    const apr_array_header_t *as = pt->sc->agreements;
    int i, j;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);

        if (!pds_optout_applies(pds_agreement_legal_basis(a)))
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(purposes, j, const char *), purpose) == 0)
                return 1;
        }
    }
    return 0;
}

typedef struct name_change_t {
    int mandates;
    const char *name;
} name_change_t;

static int set_name(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    const name_change_t *nc = baton;
    const char *action = apr_table_get(pt->form, "action");
    const char *reason, *detail;
    int on;

    if (action == NULL
        || (strcmp(action, nc->mandates ? "give" : "object") != 0
            && strcmp(action, "withdraw") != 0))
        return pds_portal_error(pt, HTTP_BAD_REQUEST, "refused", "no such choice");
    on = strcmp(action, "withdraw") != 0;
    if (!nc->mandates && on && !objection_allowed(pt, nc->name))
        return pds_portal_error(pt, HTTP_BAD_REQUEST, "refused", "no agreement lets you "
                                "object to this purpose");
    if ((reason = pds_consent_ops_set_name(a, nc->mandates, nc->name, on, &detail)) != NULL)
        return refused(pt, reason, detail);
    return pds_portal_redirect(pt, nc->mandates ? "consents" : "objections", "saved");
}

/* One card per purpose an objection can refuse: who receives data for it,
 * whether the person objects, and the button to change that. */
static int objections_page(pds_portal_t *pt, pds_consent_actor_t *a, void *baton)
{
    const apr_array_header_t *as = pt->sc->agreements;
    apr_array_header_t *names = NULL, *times = NULL;
    apr_hash_t *seen = apr_hash_make(pt->r->pool);
    pds_page_t *pg = pt->pg;
    apr_pool_t *p = pt->r->pool;
    pds_error_t err;
    int i, j, k, shown = 0;

    (void)baton;
    pds_error_clear(&err);
    if (pds_consent_store_list_names(a->h->store, p, PDS_CONSENT_OPTOUTS, a->subject,
                                     &names, &times, &err) != APR_SUCCESS) {
        const char *detail, *reason = pds_consent_ops_store_problem(a, &err, &detail);
        return refused(pt, reason, detail);
    }
    pds_portal_start(pt, "nav_objections", "objections");
    done_notice(pt);
    pds_page_puts(pg, "<p>");
    pds_page_msg(pg, "objections_intro");
    pds_page_puts(pg, "</p>\n");
    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *ag = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(ag);

        if (!pds_optout_applies(pds_agreement_legal_basis(ag)))
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            const char *purpose = APR_ARRAY_IDX(purposes, j, const char *);
            const char *plain = pds_labels_get(pg->labels, PDS_LABEL_PURPOSE, purpose,
                                               pg->lang);
            apr_hash_t *parties = apr_hash_make(p);
            apr_time_t since = 0;
            int on = held(names, purpose, &since, times);

            if (apr_hash_get(seen, purpose, APR_HASH_KEY_STRING) != NULL)
                continue;
            apr_hash_set(seen, purpose, APR_HASH_KEY_STRING, "");
            shown++;
            pds_page_puts(pg, "<section class=\"card\"><h2>");
            pds_page_label(pg, PDS_LABEL_PURPOSE, purpose);
            pds_page_puts(pg, "</h2>\n<dl><dt>");
            pds_page_msg(pg, "recipients");
            pds_page_puts(pg, "</dt><dd><ul>");
            for (k = i; k < as->nelts; k++) {
                const pds_agreement_t *b = APR_ARRAY_IDX(as, k, const pds_agreement_t *);
                const apr_array_header_t *bp = pds_agreement_purposes(b);
                int m, names_it = 0;

                for (m = 0; m < bp->nelts; m++)
                    names_it |= strcmp(APR_ARRAY_IDX(bp, m, const char *), purpose) == 0;
                if (!names_it || !pds_optout_applies(pds_agreement_legal_basis(b))
                    || apr_hash_get(parties, pds_agreement_party(b), APR_HASH_KEY_STRING))
                    continue;
                apr_hash_set(parties, pds_agreement_party(b), APR_HASH_KEY_STRING, "");
                pds_page_puts(pg, "<li>");
                pds_page_label(pg, PDS_LABEL_ORGANISATION, pds_agreement_party(b));
                pds_page_puts(pg, " (");
                pds_page_basis(pg, pds_agreement_legal_basis(b));
                pds_page_puts(pg, ")</li>");
            }
            pds_page_printf(pg, "</ul></dd></dl>\n<p class=\"state\">%s",
                            pds_html_escape(p, pds_page_m(pg, on ? "objecting"
                                                                 : "not_objecting")));
            if (on)
                pds_page_printf(pg, " (%s %s)", pds_html_escape(p, pds_page_m(pg, "since")),
                                day(p, since));
            pds_page_puts(pg, "</p><p>");
            pds_portal_button(pt, apr_pstrcat(p, "objections/", purpose, NULL),
                              on ? "withdraw_objection" : "object", on,
                              plain ? plain : purpose, "action", on ? "withdraw" : "object",
                              NULL);
            pds_page_puts(pg, "</p></section>\n");
        }
    }
    if (shown == 0) {
        pds_page_puts(pg, "<p>");
        pds_page_msg(pg, "no_objections");
        pds_page_puts(pg, "</p>\n");
    }
    pds_page_end(pg);
    return pds_page_send(pg, HTTP_OK);
}

int pds_portal_consent_route(pds_portal_t *pt, const char *const *seg, int n)
{
    request_rec *r = pt->r;
    int post = r->method_number == M_POST, sent = 0, rc;

    if (n == 1 && strcmp(seg[0], "consents") == 0 && !post)
        return with_store(pt, consents_page, NULL);
    if (n == 1 && strcmp(seg[0], "objections") == 0 && !post)
        return with_store(pt, objections_page, NULL);
    if (n == 3 && strcmp(seg[0], "consents") == 0 && pds_consent_ops_is_id(seg[1])
        && strcmp(seg[2], "receipt") == 0 && !post)
        return with_store(pt, receipt, (void *)seg[1]);
    if (!post) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        if (n > 3 || (n == 2 && strcmp(seg[0], "consents") == 0))
            return pds_portal_error(pt, HTTP_NOT_FOUND, "not_found", NULL);
        return pds_portal_error(pt, HTTP_METHOD_NOT_ALLOWED, "not_found", NULL);
    }
    /* Every change: the form's origin and token first, then the change. */
    if (n == 1 && strcmp(seg[0], "consents") == 0) {
        if ((rc = pds_portal_form_read(pt, &sent)) != OK || sent)
            return rc;
        return with_store(pt, grant, NULL);
    }
    if (n == 3 && strcmp(seg[0], "consents") == 0 && pds_consent_ops_is_id(seg[1])
        && (strcmp(seg[2], "pause") == 0 || strcmp(seg[2], "resume") == 0
            || strcmp(seg[2], "revoke") == 0)) {
        change_t ch;
        if ((rc = pds_portal_form_read(pt, &sent)) != OK || sent)
            return rc;
        ch.id = seg[1];
        ch.action = seg[2];
        return with_store(pt, change, &ch);
    }
    if (n == 2 && (strcmp(seg[0], "mandates") == 0 || strcmp(seg[0], "objections") == 0)
        && pds_syntax_is_name(seg[1], PDS_SYNTAX_NAME_MAX)) {
        name_change_t nc;
        if ((rc = pds_portal_form_read(pt, &sent)) != OK || sent)
            return rc;
        nc.mandates = strcmp(seg[0], "mandates") == 0;
        nc.name = seg[1];
        return with_store(pt, set_name, &nc);
    }
    return pds_portal_error(pt, HTTP_NOT_FOUND, "not_found", NULL);
}
