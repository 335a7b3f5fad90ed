/* pds_audit_tool.h: what the parts of pds-audit share (tools/audit/).
 *
 * pds-audit is a table of commands (main.c), one file per command
 * (cmd_*.c), the reading of audit logs they have in common (audit_log.c),
 * option parsing (options.c) and output that is safe for a terminal or a
 * browser (output.c). A command is an audit_cmd_t: its name, the options it
 * takes, a check of them and the function that runs it; main.c lists them.
 * Memory comes from the command's pool unless said otherwise; every
 * function returning int returns an exit status (EXIT_*), having printed
 * why when it is not EXIT_OK.
 */
#ifndef PDS_AUDIT_TOOL_H
#define PDS_AUDIT_TOOL_H

#include <stdio.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* ---- exit status (docs/pds-audit.1) and limits */

#define EXIT_OK       0
#define EXIT_PROBLEM  1
#define EXIT_USAGE    2

#define MAX_LINE      (1024 * 1024)     /* longest line accepted, without "\n" */
#define READ_BLOCK    (64 * 1024)
#define MAX_WARNINGS  10                /* unreadable lines named one by one */

/* ---- what was asked: the command and its options */

/* The commands as bits, so an option can name the commands that take it. */
enum { CMD_KEYGEN = 1, CMD_VERIFY = 2, CMD_QUERY = 4, CMD_REPORT = 8,
       CMD_VERIFY_RESPONSE = 16 };
#define CMD_READ (CMD_QUERY | CMD_REPORT)

typedef struct options_t {
    int cmd;
    const char *cmd_name;
    const char *hmac_out, *signing_out, *public_out;
    const char *key, *public_key, *pseudonym_key, *expect_last_seq, *series, *anchor;
    const char *subject, *organisation, *agreement, *purpose, *decision, *reason;
    const char *since, *until, *format;
    const char *node, *nodes;
    const char *jwks, *headers, *body, *expect_request_id, *expect_agreement;
    apr_array_header_t *files;
    apr_array_header_t *keys, *public_keys;     /* every --key, --public-key */
    /* parsed from the above by the command's check */
    apr_uint64_t expect_seq;
    apr_uint64_t anchor_seq;
    unsigned char anchor_mac[32];
    apr_int64_t since_us, until_us;     /* until is exclusive */
} options_t;

/* ---- reading logs: the types (functions below) */

/* Reads lines with a buffer of fixed size, whatever the file holds. */
typedef struct line_reader_t {
    FILE *f;
    struct pds_unpack_t *unpack;    /* f's bytes, decompressed if logrotate compressed it */
    apr_pool_t *pool;               /* the reader's */
    apr_pool_t *file_pool;          /* the open file's, destroyed when it is closed */
    const char *path;           /* as given, for messages */
    char *block;
    size_t pos, end;
    char *line;                 /* NUL-terminated; at most MAX_LINE bytes kept */
    size_t len;
    long lineno;
    int complete;               /* the line ended with "\n" */
    int too_long;               /* longer than MAX_LINE: only its start is kept */
} line_reader_t;

/* Which decision records query and report read. */
typedef struct filter_t {
    const char *subject;        /* as it appears in the log (maybe a pseudonym) */
    const char *organisation, *agreement, *purpose, *decision, *reason;
    const char *node;           /* the record's "node" (PDSNodeName) */
    apr_int64_t since, until;   /* [since, until) */
    int timed;
} filter_t;

/* Called with each selected decision record; scratch is cleared after it. */
typedef int (*record_cb)(void *baton, json_t *rec, const char *line, size_t len,
                         apr_pool_t *scratch);

/* ---- the commands (main.c holds the table) */

typedef struct audit_cmd_t {
    const char *name;               /* argv[1] */
    int cmd;                        /* CMD_*: the options it takes */
    int (*check)(options_t *o);     /* usage errors, after parsing; may fill o */
    int (*run)(options_t *o, apr_pool_t *p);
    const char *help;               /* for "pds-audit <name> --help" */
} audit_cmd_t;

extern const audit_cmd_t audit_cmd_keygen;          /* cmd_keygen.c */
extern const audit_cmd_t audit_cmd_verify;          /* cmd_verify.c */
extern const audit_cmd_t audit_cmd_query;           /* cmd_query.c */
extern const audit_cmd_t audit_cmd_report;          /* cmd_report.c */
extern const audit_cmd_t audit_cmd_verify_response; /* cmd_verify_response.c */

/* ---- options (options.c) */

/* Fills o from argv (the arguments after the command): options before or
 * after the files, "--" ends them; o->cmd says which options are taken. */
int parse_options(options_t *o, int argc, char **argv, apr_pool_t *p);
/* The log files named: at least one, '-' once, --series with one file. */
int check_files(options_t *o);
/* The log files, then the filters and --format of query and report. */
int check_read_options(options_t *o);

/* ---- output (output.c) */

/* "pds-audit: <message>" and where to find help, on standard error;
 * returns EXIT_USAGE. cmd NULL: no command yet. */
int usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Text for a terminal: printable ASCII as it is, everything else as \uXXXX
 * (a byte that is not UTF-8 as \xNN); s itself when nothing is escaped. */
const char *tty_safe(apr_pool_t *p, const char *s);
/* tty_safe, or "-" for NULL. */
const char *tty_or_dash(apr_pool_t *p, const char *s);
/* s, or "-" for NULL. */
const char *or_dash(const char *s);
/* HTML text or attribute value, escaped, on standard output. */
void html_put(const char *s);
/* An HTML page's head with the title prefix+value (both escaped), and its end. */
void html_begin(const char *title_prefix, const char *title_value);
void html_end(void);
/* Prints a JSON document (indented, ASCII) and releases it. */
void print_json(json_t *doc);

/* ---- a record's members (output.c) */

/* The member if it is a string, else NULL. */
const char *str_member(json_t *rec, const char *name);
/* want NULL (no filter), or have equal to it. */
int matches(const char *want, const char *have);
/* The strings of the array member ("fields", "written") joined with sep
 * ("" for none). */
const char *strings_joined(json_t *rec, const char *member, const char *sep, apr_pool_t *p);
/* An integer member as decimal text, or NULL. */
const char *int_member(json_t *rec, const char *name, apr_pool_t *p);

/* ---- reading logs (audit_log.c) */

/* A reader's buffers come from p; open, read lines with next, close. '-'
 * is standard input. next: 1 a line (check complete and too_long), 0 end of
 * file, -1 a read error (reported). */
void reader_init(line_reader_t *r, apr_pool_t *p);
int reader_open(line_reader_t *r, const char *path, apr_pool_t *p);
int reader_next(line_reader_t *r, apr_pool_t *p);
void reader_close(line_reader_t *r);
/* The files to read, oldest first: the files given, or with --series the
 * current log and its rotated siblings ordered by their first seq. */
int input_files(apr_array_header_t **pfiles, const options_t *o, line_reader_t *r,
                apr_pool_t *p);
/* One list of files per log to read, in the order given: with --nodes one
 * per FILE (each node's log, with its rotated siblings under --series),
 * else the one list of input_files. */
int node_inputs(apr_array_header_t **plists, const options_t *o, line_reader_t *r,
                apr_pool_t *p);
/* Every file to read: node_inputs' lists one after the other. */
int all_input_files(apr_array_header_t **pfiles, const options_t *o, line_reader_t *r,
                    apr_pool_t *p);
/* The filter of query and report from the options (the subject pseudonymised
 * with --pseudonym-key). */
int setup_filter(filter_t *f, const options_t *o, apr_pool_t *p);
/* Streams every file's decision records that pass the filter to cb; lines
 * that are not records are counted and named on standard error. */
int scan(const options_t *o, const filter_t *f, record_cb cb, void *baton, apr_pool_t *p);

/* ---- several nodes' logs, --nodes (nodes.c) */

/* The "node" member of a line the gateway wrote (the last before "mac", a
 * PDSNodeName), or NULL when it has none. */
const char *line_node(const char *line, size_t len, apr_pool_t *p);
/* scan, the records held in memory and given to cb ordered by time (ties
 * in the order read): one view of several nodes' logs. */
int scan_merged(const options_t *o, const filter_t *f, record_cb cb, void *baton,
                apr_pool_t *p);

/* ---- report --subject (report_person.c, called by cmd_report.c) */

int report_person(options_t *o, const filter_t *f, const char *format, apr_pool_t *p);

#endif
