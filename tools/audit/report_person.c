/* report_person.c: pds-audit report --subject, a person's access report:
 * every allowed disclosure about them, oldest first, as text, JSON or HTML. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_disclosure.h"

#include "pds_audit_tool.h"

typedef struct person_t {
    json_t *events;             /* one object per allowed disclosure */
} person_t;

static int person_cb(void *baton, json_t *rec, const char *line, size_t len,
                     apr_pool_t *scratch)
{
    person_t *pr = baton;

    if (!matches("allow", str_member(rec, "decision")))
        return EXIT_OK;
    /* what the person is shown, with the audit trail (lib/pds_disclosure.h) */
    json_array_append_new(pr->events, pds_disclosure_entry(rec, 1));
    return EXIT_OK;
}

/* Oldest first: records are appended in completion order, not time order. */
static int by_event_time(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    const char *ta = str_member(a, "time"), *tb = str_member(b, "time");
    int c = strcmp(ta ? ta : "", tb ? tb : "");
    json_int_t sa = json_integer_value(json_object_get(a, "seq"));
    json_int_t sb = json_integer_value(json_object_get(b, "seq"));

    return c ? c : (sa > sb) - (sa < sb);
}

static json_t *sorted_events(json_t *events, apr_pool_t *p)
{
    size_t n = json_array_size(events), i;
    json_t **v = apr_palloc(p, (n + 1) * sizeof(*v)), *out = json_array();

    for (i = 0; i < n; i++)
        v[i] = json_array_get(events, i);
    qsort(v, n, sizeof(*v), by_event_time);
    for (i = 0; i < n; i++)
        json_array_append(out, v[i]);
    return out;
}

/* A member as text: a string as it is, anything else as compact JSON. */
static const char *member_text(json_t *e, const char *name, apr_pool_t *p)
{
    json_t *v = json_object_get(e, name);
    char *dump;
    const char *out;

    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    dump = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    out = dump ? apr_pstrdup(p, dump) : NULL;
    free(dump);
    return out;
}

/* What the person's own view shows of this disclosure (visible_from). */
static const char *visibility_note(json_t *e)
{
    const char *vis = str_member(e, "visible_from"), *time = str_member(e, "time");

    if (vis == NULL)
        return NULL;
    if (strcmp(vis, "never") == 0)
        return "not shown to the person (restricted agreement)";
    if (time != NULL && strcmp(vis, time) > 0)
        return "embargoed: shown to the person from ";
    return NULL;
}

static void person_text_event(json_t *e, apr_pool_t *p)
{
    const char *note = visibility_note(e), *consent = member_text(e, "consent", p);

    printf("%s  %s received %s\n", tty_or_dash(p, str_member(e, "time")),
           tty_or_dash(p, str_member(e, "organisation")),
           *strings_joined(e, "fields", ", ", p) ? tty_safe(p, strings_joined(e, "fields", ", ", p))
                                      : "no fields (an empty answer)");
    printf("    purpose %s; agreement %s version %s; legal basis %s\n",
           tty_or_dash(p, str_member(e, "purpose")),
           tty_or_dash(p, str_member(e, "agreement")),
           tty_or_dash(p, member_text(e, "agreement_version", p)),
           tty_or_dash(p, str_member(e, "legal_basis")));
    if (consent != NULL)
        printf("    consent %s\n", tty_safe(p, consent));
    printf("    request %s, seq %s\n", tty_or_dash(p, str_member(e, "request_id")),
           or_dash(int_member(e, "seq", p)));
    if (note != NULL)
        printf("    %s%s\n", note, strcmp(note, "embargoed: shown to the person from ") == 0
               ? tty_safe(p, str_member(e, "visible_from")) : "");
}

static void person_text(const char *subject, const char *in_log, json_t *events, apr_pool_t *p)
{
    json_t *e;
    size_t i;

    printf("Disclosures about %s: %lu", tty_safe(p, subject),
           (unsigned long)json_array_size(events));
    if (strcmp(subject, in_log) != 0)
        printf(" (recorded under the pseudonym %s)", in_log);
    printf("%s\n", json_array_size(events) ? ", oldest first" : "");
    json_array_foreach(events, i, e) {
        putchar('\n');
        person_text_event(e, p);
    }
}

static void html_dd(const char *term, const char *value)
{
    if (value == NULL)
        return;
    fputs("<dt>", stdout);
    html_put(term);
    fputs("</dt><dd>", stdout);
    html_put(value);
    fputs("</dd>\n", stdout);
}

static void person_html_event(json_t *e, apr_pool_t *p)
{
    const char *note = visibility_note(e);
    json_t *v;
    size_t i;

    fputs("<li><time datetime=\"", stdout);
    html_put(str_member(e, "time"));
    fputs("\">", stdout);
    html_put(or_dash(str_member(e, "time")));
    fputs("</time>\n<strong>", stdout);
    html_put(or_dash(str_member(e, "organisation")));
    fputs("</strong> received", stdout);
    fputs(json_array_size(json_object_get(e, "fields")) ? ":\n<ul class=\"fields\">"
          : " no fields (an empty answer)\n<ul class=\"fields\">", stdout);
    json_array_foreach(json_object_get(e, "fields"), i, v) {
        fputs("<li>", stdout);
        html_put(json_is_string(v) ? json_string_value(v) : "?");
        fputs("</li>", stdout);
    }
    fputs("</ul>\n<dl>\n", stdout);
    html_dd("Purpose", str_member(e, "purpose"));
    html_dd("Agreement", str_member(e, "agreement"));
    html_dd("Version", member_text(e, "agreement_version", p));
    html_dd("Legal basis", str_member(e, "legal_basis"));
    html_dd("Consent", member_text(e, "consent", p));
    html_dd("Request id", str_member(e, "request_id"));
    fputs("</dl>\n", stdout);
    if (note != NULL) {
        fputs("<p class=\"restricted\">", stdout);
        html_put(note);
        if (strcmp(note, "embargoed: shown to the person from ") == 0)
            html_put(str_member(e, "visible_from"));
        fputs("</p>\n", stdout);
    }
    fputs("</li>\n", stdout);
}

static void person_html(const char *subject, const char *in_log, json_t *events, apr_pool_t *p)
{
    json_t *e;
    size_t i;

    html_begin("Disclosures about ", subject);
    fputs("<h1>Who received data about ", stdout);
    html_put(subject);
    fputs("</h1>\n<p>", stdout);
    printf("%lu disclosure(s), oldest first.", (unsigned long)json_array_size(events));
    if (strcmp(subject, in_log) != 0) {
        fputs(" Recorded in the log under the pseudonym ", stdout);
        html_put(in_log);
        fputs(".", stdout);
    }
    fputs("</p>\n", stdout);
    if (json_array_size(events) > 0) {
        fputs("<ol class=\"timeline\">\n", stdout);
        json_array_foreach(events, i, e)
            person_html_event(e, p);
        fputs("</ol>\n", stdout);
    }
    html_end();
}

int report_person(options_t *o, const filter_t *f, const char *format, apr_pool_t *p)
{
    person_t pr;
    json_t *events;
    int rc;

    pr.events = json_array();
    /* several nodes' logs: the person's report stays in order of time */
    rc = o->nodes != NULL ? scan_merged(o, f, person_cb, &pr, p)
                          : scan(o, f, person_cb, &pr, p);
    events = sorted_events(pr.events, p);
    json_decref(pr.events);
    if (rc == EXIT_OK && strcmp(format, "json") == 0) {
        json_t *doc = json_pack("{s:s,s:O}", "subject", o->subject, "disclosures", events);

        if (strcmp(o->subject, f->subject) != 0)
            json_object_set_new(doc, "pseudonym", json_string(f->subject));
        print_json(doc);
    }
    else if (rc == EXIT_OK && strcmp(format, "html") == 0) {
        person_html(o->subject, f->subject, events, p);
    }
    else if (rc == EXIT_OK) {
        person_text(o->subject, f->subject, events, p);
    }
    json_decref(events);
    return rc;
}
