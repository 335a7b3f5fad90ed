/* cmd_query.c: pds-audit query, the decision records that match the
 * filters as a table, the lines themselves (jsonl) or CSV. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_audit_tool.h"

static const char help_query[] =
"usage: pds-audit query [filters] [--format table|jsonl|csv] [--series] [--nodes]\n"
"                       FILE...\n"
"\n"
"Prints the decision records that match every filter (checkpoint and file-start\n"
"lines are left out). The log is read as it is: run 'pds-audit verify' first.\n"
"filters:\n"
"  --subject S             the subject; with --pseudonym-key FILE (the key of\n"
"                          PDSAuditSubject pseudonym) S is pseudonymised first\n"
"  --organisation O  --agreement A  --purpose P  --decision allow|deny  --reason R\n"
"  --node N                records the gateway node N decided (PDSNodeName)\n"
"  --since T  --until T    time bounds, both included: RFC 3339\n"
"                          (2026-11-22T13:40:00Z, +01:00 offsets) or a whole day YYYY-MM-DD\n"
"  --format F              table (default), jsonl (the lines as they are, the\n"
"                          evidence) or csv (RFC 4180; fields joined with ';')\n"
"  --series                FILE is the current log; add its rotated siblings\n"
"  --nodes                 each FILE is another gateway node's log: the records of\n"
"                          all are merged into one view ordered by time (held in\n"
"                          memory to be sorted); each names its node\n"
"Exit status: 0 ok, 2 usage or read error.\n";

/* One CSV field, RFC 4180: quoted when it holds a comma, quote, CR or LF. */
static void csv_put(const char *s, int last)
{
    if (s != NULL && strpbrk(s, ",\"\r\n") != NULL) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    }
    else if (s != NULL) {
        fputs(s, stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

static const char *const csv_columns[] = {
    "time", "seq", "request_id", "client_ip", "organisation", "agreement",
    "agreement_version", "purpose", "legal_basis", "subject", "method", "path",
    "decision", "reason", "status", "fields", "visible_from", "node",
    "query", "written", "records", "dropped", "excluded", NULL
};

static void query_csv(json_t *rec, apr_pool_t *scratch)
{
    int i;

    for (i = 0; csv_columns[i] != NULL; i++) {
        const char *c = csv_columns[i], *v;

        if (strcmp(c, "fields") == 0 || strcmp(c, "written") == 0)
            v = json_is_array(json_object_get(rec, c)) ? strings_joined(rec, c, ";", scratch)
                                                       : NULL;
        else if (strcmp(c, "seq") == 0 || strcmp(c, "status") == 0
                 || strcmp(c, "records") == 0 || strcmp(c, "dropped") == 0
                 || strcmp(c, "excluded") == 0)
            v = int_member(rec, c, scratch);
        else
            v = str_member(rec, c);
        csv_put(v, csv_columns[i + 1] == NULL);
    }
}

#define TABLE_ROW "%-27s %-12s %8s %-8s %-22s %-16s %-28s %-16s %-14s %6s %6s\n"

static void query_table(json_t *rec, apr_pool_t *p)
{
    printf(TABLE_ROW, tty_or_dash(p, str_member(rec, "time")),
           tty_or_dash(p, str_member(rec, "node")),
           or_dash(int_member(rec, "seq", p)),
           tty_or_dash(p, str_member(rec, "decision")),
           tty_or_dash(p, str_member(rec, "reason")),
           tty_or_dash(p, str_member(rec, "organisation")),
           tty_or_dash(p, str_member(rec, "agreement")),
           tty_or_dash(p, str_member(rec, "purpose")),
           tty_or_dash(p, str_member(rec, "subject")),
           or_dash(int_member(rec, "status", p)),
           apr_psprintf(p, "%lu", (unsigned long)json_array_size(
                        json_object_get(rec, "fields"))));
}

static int query_cb(void *baton, json_t *rec, const char *line, size_t len,
                    apr_pool_t *scratch)
{
    const char *format = baton;

    if (strcmp(format, "jsonl") == 0) {
        fwrite(line, 1, len, stdout);   /* the evidence, byte for byte */
        putchar('\n');
    }
    else if (strcmp(format, "csv") == 0) {
        query_csv(rec, scratch);
    }
    else {
        query_table(rec, scratch);
    }
    return EXIT_OK;
}

static int cmd_query(options_t *o, apr_pool_t *p)
{
    const char *format = o->format ? o->format : "table";
    filter_t f;
    int rc, i;

    if ((rc = setup_filter(&f, o, p)) != EXIT_OK)
        return rc;
    if (strcmp(format, "csv") == 0) {
        for (i = 0; csv_columns[i] != NULL; i++)
            csv_put(csv_columns[i], csv_columns[i + 1] == NULL);
    }
    else if (strcmp(format, "table") == 0) {
        printf(TABLE_ROW, "TIME", "NODE", "SEQ", "DECISION", "REASON", "ORGANISATION", "AGREEMENT",
               "PURPOSE", "SUBJECT", "STATUS", "FIELDS");
    }
    if (o->nodes != NULL)
        return scan_merged(o, &f, query_cb, (void *)format, p);
    return scan(o, &f, query_cb, (void *)format, p);
}

const audit_cmd_t audit_cmd_query = {
    "query", CMD_QUERY, check_read_options, cmd_query, help_query
};
