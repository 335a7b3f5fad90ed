/* cmd_report.c: pds-audit report, totals per agreement and organisation as
 * text, JSON or HTML; with --subject a person's view (report_person.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "pds_audit_tool.h"

static const char help_report[] =
"usage: pds-audit report [filters] [--format text|json|html] [--series] [--nodes] FILE...\n"
"       pds-audit report --subject S [--pseudonym-key FILE] [--format text|json|html] FILE...\n"
"\n"
"Without --subject: per agreement and organisation, the requests allowed and\n"
"refused, refusals by reason, and which fields were released how often; and\n"
"the decisions of each gateway node (the records' node, PDSNodeName).\n"
"With --subject: a person's access report, every allowed disclosure about S:\n"
"who received which fields, when, for which purpose, under which agreement\n"
"(and consent, when recorded); html is one self-contained page with a timeline.\n"
"The filters of 'pds-audit query' (--organisation, --agreement, --purpose,\n"
"--decision, --reason, --since, --until) narrow the records counted.\n"
"--series: FILE is the current log, its rotated siblings are added.\n"
"--nodes: each FILE is another gateway node's log (with --series, each with its\n"
"siblings); they are counted together, a person's report in order of time.\n"
"The log is read as it is: run 'pds-audit verify' first.\n"
"Exit status: 0 ok, 2 usage or read error.\n";

typedef struct counter_t {
    const char *name;
    apr_uint64_t n;
} counter_t;

typedef struct pair_total_t {
    const char *agreement, *organisation;   /* NULL: null in the log */
    apr_uint64_t allowed, refused;
    apr_hash_t *reasons, *fields;           /* name -> counter_t */
} pair_total_t;

typedef struct totals_t {
    apr_pool_t *p;
    apr_hash_t *pairs;                      /* key -> pair_total_t */
    apr_hash_t *fields;                     /* every pair's fields together */
    apr_hash_t *nodes;                      /* decisions per "node" ("-": none) */
    apr_uint64_t decisions, allowed, refused;
    char first_time[40], last_time[40];
} totals_t;

static void count(apr_hash_t *h, const char *name, apr_pool_t *p)
{
    counter_t *c = apr_hash_get(h, name, APR_HASH_KEY_STRING);

    if (c == NULL) {
        c = apr_pcalloc(p, sizeof(*c));
        c->name = apr_pstrdup(p, name);
        apr_hash_set(h, c->name, APR_HASH_KEY_STRING, c);
    }
    c->n++;
}

/* One key for a pair of members that may be null, unambiguous whatever they hold. */
static const char *pair_key(const char *a, const char *o, apr_pool_t *scratch)
{
    return apr_psprintf(scratch, "%c%lu:%s|%c%lu:%s", a ? 's' : 'n',
                        (unsigned long)(a ? strlen(a) : 0), a ? a : "", o ? 's' : 'n',
                        (unsigned long)(o ? strlen(o) : 0), o ? o : "");
}

static pair_total_t *pair_of(totals_t *t, json_t *rec, apr_pool_t *scratch)
{
    const char *a = str_member(rec, "agreement"), *o = str_member(rec, "organisation");
    const char *key = pair_key(a, o, scratch);
    pair_total_t *pt = apr_hash_get(t->pairs, key, APR_HASH_KEY_STRING);

    if (pt == NULL) {
        pt = apr_pcalloc(t->p, sizeof(*pt));
        pt->agreement = a ? apr_pstrdup(t->p, a) : NULL;
        pt->organisation = o ? apr_pstrdup(t->p, o) : NULL;
        pt->reasons = apr_hash_make(t->p);
        pt->fields = apr_hash_make(t->p);
        apr_hash_set(t->pairs, apr_pstrdup(t->p, key), APR_HASH_KEY_STRING, pt);
    }
    return pt;
}

static void note_time(totals_t *t, const char *time)
{
    if (time == NULL || strlen(time) >= sizeof(t->first_time))
        return;
    if (t->first_time[0] == '\0' || strcmp(time, t->first_time) < 0)
        apr_cpystrn(t->first_time, time, sizeof(t->first_time));
    if (strcmp(time, t->last_time) > 0)
        apr_cpystrn(t->last_time, time, sizeof(t->last_time));
}

static int totals_cb(void *baton, json_t *rec, const char *line, size_t len,
                     apr_pool_t *scratch)
{
    totals_t *t = baton;
    pair_total_t *pt = pair_of(t, rec, scratch);
    json_t *v;
    size_t i;

    t->decisions++;
    note_time(t, str_member(rec, "time"));
    count(t->nodes, or_dash(str_member(rec, "node")), t->p);
    if (!matches("allow", str_member(rec, "decision"))) {
        t->refused++;
        pt->refused++;
        count(pt->reasons, or_dash(str_member(rec, "reason")), t->p);
        return EXIT_OK;
    }
    t->allowed++;
    pt->allowed++;
    json_array_foreach(json_object_get(rec, "fields"), i, v) {
        if (json_is_string(v)) {
            count(pt->fields, json_string_value(v), t->p);
            count(t->fields, json_string_value(v), t->p);
        }
    }
    return EXIT_OK;
}

static int cmp_nullable(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a == NULL) - (b == NULL);   /* null (unidentified) last */
    return strcmp(a, b);
}

static int by_pair(const void *x, const void *y)
{
    const pair_total_t *a = *(pair_total_t *const *)x, *b = *(pair_total_t *const *)y;
    int c = cmp_nullable(a->agreement, b->agreement);

    return c ? c : cmp_nullable(a->organisation, b->organisation);
}

static int by_name(const void *x, const void *y)
{
    return strcmp((*(counter_t *const *)x)->name, (*(counter_t *const *)y)->name);
}

static int by_count(const void *x, const void *y)
{
    const counter_t *a = *(counter_t *const *)x, *b = *(counter_t *const *)y;

    return a->n != b->n ? (a->n < b->n ? 1 : -1) : strcmp(a->name, b->name);
}

/* A hash's values as a sorted array of pointers. */
static apr_array_header_t *sorted_values(apr_hash_t *h, int (*cmp)(const void *, const void *),
                                         apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, (int)apr_hash_count(h) + 1, sizeof(void *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, h); hi; hi = apr_hash_next(hi))
        APR_ARRAY_PUSH(a, void *) = apr_hash_this_val(hi);
    qsort(a->elts, (size_t)a->nelts, sizeof(void *), cmp);
    return a;
}

static json_t *counters_json(apr_hash_t *h, int (*cmp)(const void *, const void *),
                             apr_pool_t *p)
{
    apr_array_header_t *a = sorted_values(h, cmp, p);
    json_t *obj = json_object();
    int i;

    for (i = 0; i < a->nelts; i++) {
        counter_t *c = APR_ARRAY_IDX(a, i, counter_t *);
        json_object_set_new(obj, c->name, json_integer((json_int_t)c->n));
    }
    return obj;
}

static json_t *nullable_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *counters_text(apr_hash_t *h, apr_pool_t *p)
{
    apr_array_header_t *a = sorted_values(h, by_name, p);
    const char *out = "";
    int i;

    for (i = 0; i < a->nelts; i++) {
        counter_t *c = APR_ARRAY_IDX(a, i, counter_t *);
        out = apr_psprintf(p, "%s%s%s=%" APR_UINT64_T_FMT, out, i ? ", " : "", c->name, c->n);
    }
    return out;
}

static void totals_json(totals_t *t, apr_array_header_t *pairs)
{
    json_t *doc = json_object(), *list = json_array();
    int i;

    json_object_set_new(doc, "decisions", json_integer((json_int_t)t->decisions));
    json_object_set_new(doc, "allowed", json_integer((json_int_t)t->allowed));
    json_object_set_new(doc, "refused", json_integer((json_int_t)t->refused));
    json_object_set_new(doc, "first_time", nullable_json(*t->first_time ? t->first_time : NULL));
    json_object_set_new(doc, "last_time", nullable_json(*t->last_time ? t->last_time : NULL));
    json_object_set_new(doc, "decisions_by_node", counters_json(t->nodes, by_name, t->p));
    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);
        json_t *e = json_object();

        json_object_set_new(e, "agreement", nullable_json(pt->agreement));
        json_object_set_new(e, "organisation", nullable_json(pt->organisation));
        json_object_set_new(e, "allowed", json_integer((json_int_t)pt->allowed));
        json_object_set_new(e, "refused", json_integer((json_int_t)pt->refused));
        json_object_set_new(e, "refused_by_reason", counters_json(pt->reasons, by_name, t->p));
        json_object_set_new(e, "fields_released", counters_json(pt->fields, by_count, t->p));
        json_array_append_new(list, e);
    }
    json_object_set_new(doc, "agreements", list);
    json_object_set_new(doc, "fields_released", counters_json(t->fields, by_count, t->p));
    print_json(doc);
}

/* Column widths for the text tables: the widest value or heading. */
static int widest(apr_array_header_t *pairs, int agreement, int floor_, apr_pool_t *p)
{
    int i, w = floor_;

    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);
        const char *s = tty_or_dash(p, agreement ? pt->agreement : pt->organisation);
        if ((int)strlen(s) > w)
            w = (int)strlen(s);
    }
    return w;
}

static void totals_text(totals_t *t, apr_array_header_t *pairs)
{
    apr_pool_t *p = t->p;
    int wa = widest(pairs, 1, 9, p), wo = widest(pairs, 0, 12, p), wf = 14, i, j;

    printf("Decisions: %" APR_UINT64_T_FMT " (%" APR_UINT64_T_FMT " allowed, %"
           APR_UINT64_T_FMT " refused)", t->decisions, t->allowed, t->refused);
    if (t->decisions > 0)
        printf(", %s to %s", tty_safe(p, t->first_time), tty_safe(p, t->last_time));
    if (t->decisions > 0)
        printf("\nBy node: %s", tty_safe(p, counters_text(t->nodes, p)));
    printf("\n\n%-*s  %-*s  %7s  %7s  %s\n", wa, "AGREEMENT", wo, "ORGANISATION", "ALLOWED",
           "REFUSED", "REFUSED BY REASON");
    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);
        printf("%-*s  %-*s  %7" APR_UINT64_T_FMT "  %7" APR_UINT64_T_FMT "  %s\n", wa,
               tty_or_dash(p, pt->agreement), wo, tty_or_dash(p, pt->organisation),
               pt->allowed, pt->refused, pt->refused ? tty_safe(p, counters_text(pt->reasons, p))
                                                     : "-");
    }
    for (i = 0; i < pairs->nelts; i++) {
        apr_array_header_t *f = sorted_values(APR_ARRAY_IDX(pairs, i, pair_total_t *)->fields,
                                              by_count, p);
        for (j = 0; j < f->nelts; j++) {
            int w = (int)strlen(tty_safe(p, APR_ARRAY_IDX(f, j, counter_t *)->name));
            wf = w > wf ? w : wf;
        }
    }
    printf("\n%-*s  %-*s  %-*s  %7s\n", wa, "AGREEMENT", wo, "ORGANISATION", wf,
           "FIELD RELEASED", "TIMES");
    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);
        apr_array_header_t *f = sorted_values(pt->fields, by_count, p);

        for (j = 0; j < f->nelts; j++) {
            counter_t *c = APR_ARRAY_IDX(f, j, counter_t *);
            printf("%-*s  %-*s  %-*s  %7" APR_UINT64_T_FMT "\n", wa,
                   tty_or_dash(p, pt->agreement), wo,
                   tty_or_dash(p, pt->organisation), wf, tty_safe(p, c->name), c->n);
        }
    }
}

static void html_cell(const char *s, int numeric)
{
    fputs(numeric ? "<td class=\"n\">" : "<td>", stdout);
    if (s == NULL)
        fputs("<span class=\"null\">(none)</span>", stdout);
    else
        html_put(s);
    fputs("</td>", stdout);
}

static void totals_html_pairs(totals_t *t, apr_array_header_t *pairs)
{
    int i;

    fputs("<h2>Decisions by agreement and organisation</h2>\n<table>\n<tr><th>Agreement</th>"
          "<th>Organisation</th><th>Allowed</th><th>Refused</th><th>Refused by reason</th>"
          "</tr>\n", stdout);
    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);

        fputs("<tr>", stdout);
        html_cell(pt->agreement, 0);
        html_cell(pt->organisation, 0);
        html_cell(apr_psprintf(t->p, "%" APR_UINT64_T_FMT, pt->allowed), 1);
        html_cell(apr_psprintf(t->p, "%" APR_UINT64_T_FMT, pt->refused), 1);
        html_cell(counters_text(pt->reasons, t->p), 0);
        fputs("</tr>\n", stdout);
    }
    fputs("</table>\n", stdout);
}

static void totals_html_fields(totals_t *t, apr_array_header_t *pairs)
{
    int i, j;

    fputs("<h2>Fields released</h2>\n<table>\n<tr><th>Agreement</th><th>Organisation</th>"
          "<th>Field</th><th>Times</th></tr>\n", stdout);
    for (i = 0; i < pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(pairs, i, pair_total_t *);
        apr_array_header_t *f = sorted_values(pt->fields, by_count, t->p);

        for (j = 0; j < f->nelts; j++) {
            counter_t *c = APR_ARRAY_IDX(f, j, counter_t *);
            fputs("<tr>", stdout);
            html_cell(pt->agreement, 0);
            html_cell(pt->organisation, 0);
            html_cell(c->name, 0);
            html_cell(apr_psprintf(t->p, "%" APR_UINT64_T_FMT, c->n), 1);
            fputs("</tr>\n", stdout);
        }
    }
    fputs("</table>\n", stdout);
}

static void totals_html(totals_t *t, apr_array_header_t *pairs)
{
    html_begin("mod_pds audit report", NULL);
    fputs("<h1>mod_pds audit report</h1>\n<p>", stdout);
    printf("%" APR_UINT64_T_FMT " decision(s): %" APR_UINT64_T_FMT " allowed, %"
           APR_UINT64_T_FMT " refused", t->decisions, t->allowed, t->refused);
    if (t->decisions > 0) {
        fputs(", from ", stdout);
        html_put(t->first_time);
        fputs(" to ", stdout);
        html_put(t->last_time);
    }
    fputs(".</p>\n", stdout);
    if (t->decisions > 0) {
        fputs("<p>By node: ", stdout);
        html_put(counters_text(t->nodes, t->p));
        fputs("</p>\n", stdout);
    }
    totals_html_pairs(t, pairs);
    totals_html_fields(t, pairs);
    html_end();
}

static int report_totals(options_t *o, const filter_t *f, const char *format, apr_pool_t *p)
{
    apr_array_header_t *pairs;
    totals_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.p = p;
    t.pairs = apr_hash_make(p);
    t.fields = apr_hash_make(p);
    t.nodes = apr_hash_make(p);
    if ((rc = scan(o, f, totals_cb, &t, p)) != EXIT_OK)
        return rc;
    pairs = sorted_values(t.pairs, by_pair, p);
    if (strcmp(format, "json") == 0)
        totals_json(&t, pairs);
    else if (strcmp(format, "html") == 0)
        totals_html(&t, pairs);
    else
        totals_text(&t, pairs);
    return EXIT_OK;
}

static int cmd_report(options_t *o, apr_pool_t *p)
{
    const char *format = o->format ? o->format : "text";
    filter_t f;
    int rc;

    if ((rc = setup_filter(&f, o, p)) != EXIT_OK)
        return rc;
    if (o->subject != NULL)
        return report_person(o, &f, format, p);
    return report_totals(o, &f, format, p);
}

const audit_cmd_t audit_cmd_report = {
    "report", CMD_REPORT, check_read_options, cmd_report, help_report
};
