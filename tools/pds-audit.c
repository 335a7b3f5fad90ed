/* pds-audit: the security team's tool for mod_pds audit logs, and the
 * receivers' check of a response the gateway signed.
 *
 *   pds-audit keygen --hmac FILE | --signing FILE [--public FILE]
 *   pds-audit verify [--key F] [--public-key F] [--anchor SEQ:MAC] [--expect-last-seq N]
 *                    [--series] FILE...
 *   pds-audit query [filters] [--format table|jsonl|csv] [--series] FILE...
 *   pds-audit report [--subject S [--pseudonym-key F]] [filters]
 *                    [--format text|json|html] [--series] FILE...
 *   pds-audit verify-response (--jwks F | --public-key F) --headers F --body F
 *                    [--expect-request-id ID] [--expect-agreement A]
 *
 * Exit status: 0 success (verify: intact; verify-response: valid), 1 verify or
 * verify-response found a problem, 2 usage or I/O error (a key that cannot be
 * used included). The chain format is lib/pds_chain.h; the record members are
 * docs/audit.md. Logs are streamed line by line with a bounded line buffer (a
 * log can be gigabytes; a line longer than 1 MiB is not one the gateway
 * writes). Key material is never printed. Text meant for a terminal shows
 * anything but printable ASCII as \uXXXX, as the log itself does, so a
 * tampered log cannot carry escape sequences into the reader's terminal;
 * HTML output escapes every value that came from a log.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "pds_chain.h"
#include "pds_disclosure.h"
#include "pds_jws.h"
#include "pds_reason.h"
#include "pds_time.h"

#define EXIT_OK       0
#define EXIT_PROBLEM  1
#define EXIT_USAGE    2

#define MAX_LINE      (1024 * 1024)     /* longest line accepted, without "\n" */
#define READ_BLOCK    (64 * 1024)
#define MAX_WARNINGS  10                /* unreadable lines named one by one */

/* ------------------------------------------------------------------- usage */

static const char help_main[] =
"usage: pds-audit <command> [options] FILE...\n"
"\n"
"The security team's tool for the mod_pds audit log (PDSAuditLog).\n"
"\n"
"commands:\n"
"  keygen   write a new secret audit key or checkpoint signing key\n"
"  verify   check that a log is whole and unchanged\n"
"  query    list the decision records that match filters (table, jsonl, csv)\n"
"  report   totals per agreement and organisation, or one person's access report\n"
"  verify-response\n"
"           check a response the gateway signed (PDSSignResponses): its body,\n"
"           request id and agreement, with the gateway's published keys\n"
"\n"
"Run 'pds-audit <command> --help' for a command's options; see pds-audit(1).\n"
"Exit status: 0 ok (verify: intact; verify-response: valid), 1 verify or\n"
"verify-response found a problem, 2 usage or I/O error.\n";

static const char help_keygen[] =
"usage: pds-audit keygen --hmac FILE\n"
"       pds-audit keygen --signing FILE [--public FILE]\n"
"\n"
"Writes a new key to a file that must not exist yet (a key is never overwritten).\n"
"  --hmac FILE      secret audit key for PDSAuditKey: 32 random bytes as hex, mode 0600\n"
"  --signing FILE   Ed25519 private key (PEM, mode 0600) for PDSAuditSigningKey\n"
"  --public FILE    with --signing: its public key (PEM), for verify --public-key\n"
"Exit status: 0 written, 2 usage error or the file could not be created.\n";

static const char help_verify[] =
"usage: pds-audit verify [--key FILE] [--public-key FILE] [--anchor SEQ:MAC]\n"
"                        [--expect-last-seq N] FILE...\n"
"       pds-audit verify [--key FILE] [--public-key FILE] [--anchor SEQ:MAC]\n"
"                        [--expect-last-seq N] --series FILE\n"
"\n"
"Checks every line: its MAC (with --key), that its seq follows the line before and\n"
"that its prev is the hash of the line before, and checkpoint signatures (with\n"
"--public-key). At least one of --key and --public-key is needed.\n"
"  --key FILE            the secret audit key (PDSAuditKey): every line is checked\n"
"  --public-key FILE     the checkpoint public key: the chain is checked up to the\n"
"                        last checkpoint; the summary says which seqs it covers\n"
"  --anchor SEQ:MAC      the seq and MAC of a line kept elsewhere (printed by an\n"
"                        earlier verify): the log must hold that line, and may\n"
"                        begin at it instead of at seq 1 (older files removed)\n"
"  --expect-last-seq N   fail unless the last seq is N (a value kept elsewhere, such\n"
"                        as a SIEM's): finds lines removed from the end\n"
"A log must begin at the chain's first line (seq 1) or at the anchor: lines\n"
"removed from its head fail as missing-head.\n"
"  --series              FILE is the current log: its rotated siblings FILE.* are\n"
"                        added and all are ordered by the seq of their first line\n"
"Files are one chain, checked in the order given (oldest first); '-' is standard input.\n"
"The first bad line is printed as FILE:LINE: seq N: CODE: WHY, then a summary.\n"
"Exit status: 0 intact, 1 a check failed, 2 usage or read error.\n";

static const char help_query[] =
"usage: pds-audit query [filters] [--format table|jsonl|csv] [--series] FILE...\n"
"\n"
"Prints the decision records that match every filter (checkpoint and file-start\n"
"lines are left out). The log is read as it is: run 'pds-audit verify' first.\n"
"filters:\n"
"  --subject S             the subject; with --pseudonym-key FILE (the key of\n"
"                          PDSAuditSubject pseudonym) S is pseudonymised first\n"
"  --organisation O  --agreement A  --purpose P  --decision allow|deny  --reason R\n"
"  --since T  --until T    time bounds, both included: RFC 3339\n"
"                          (2026-11-22T13:40:00Z, +01:00 offsets) or a whole day YYYY-MM-DD\n"
"  --format F              table (default), jsonl (the lines as they are, the\n"
"                          evidence) or csv (RFC 4180; fields joined with ';')\n"
"  --series                FILE is the current log; add its rotated siblings\n"
"Exit status: 0 ok, 2 usage or read error.\n";

static const char help_report[] =
"usage: pds-audit report [filters] [--format text|json|html] [--series] FILE...\n"
"       pds-audit report --subject S [--pseudonym-key FILE] [--format text|json|html] FILE...\n"
"\n"
"Without --subject: per agreement and organisation, the requests allowed and\n"
"refused, refusals by reason, and which fields were released how often.\n"
"With --subject: a person's access report, every allowed disclosure about S:\n"
"who received which fields, when, for which purpose, under which agreement\n"
"(and consent, when recorded); html is one self-contained page with a timeline.\n"
"The filters of 'pds-audit query' (--organisation, --agreement, --purpose,\n"
"--decision, --reason, --since, --until) narrow the records counted.\n"
"The log is read as it is: run 'pds-audit verify' first.\n"
"Exit status: 0 ok, 2 usage or read error.\n";

static const char help_verify_response[] =
"usage: pds-audit verify-response --jwks FILE --headers FILE --body FILE\n"
"                                 [--expect-request-id ID] [--expect-agreement A]\n"
"       pds-audit verify-response --public-key FILE --headers FILE --body FILE ...\n"
"\n"
"Checks a response a gateway signed (PDSSignResponses on): its PDS-Signature\n"
"header is a JWS with a detached payload over the exact body bytes, whose\n"
"protected header names the request id and the agreement.\n"
"  --jwks FILE               the gateway's public keys (SetHandler pds-jwks); the\n"
"                            key whose kid the signature names is used\n"
"  --public-key FILE         or: the gateway's public key (PEM)\n"
"  --headers FILE            the response headers as saved by curl -D FILE (the\n"
"                            last response in the file counts)\n"
"  --body FILE               the body bytes as saved by curl -o FILE (64 MiB at most)\n"
"  --expect-request-id ID    fail unless the response is for request ID\n"
"  --expect-agreement A      fail unless it was released under agreement A\n"
"                            (\"id\", any version, or \"id;v=N\")\n"
"'-' reads standard input (for one of --headers, --body and --jwks).\n"
"On success prints the signature's algorithm and kid, the request id, the\n"
"agreement and when it was signed; otherwise NOT VERIFIED: CODE: WHY.\n"
"The body itself is never printed.\n"
"Exit status: 0 valid, 1 a check failed, 2 usage or read error, or a key that\n"
"cannot be used.\n";

static int usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("pds-audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pds-audit %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* --------------------------------------------------- safe text for output */

/* Appends "\uXXXX" for one code point (a surrogate pair above U+FFFF). */
static void push_escape(apr_array_header_t *out, unsigned long cp)
{
    char buf[16];
    int i, n;

    if (cp > 0xFFFF) {
        cp -= 0x10000;
        n = snprintf(buf, sizeof(buf), "\\u%04lx\\u%04lx", 0xD800 + (cp >> 10),
                     0xDC00 + (cp & 0x3FF));
    }
    else {
        n = snprintf(buf, sizeof(buf), "\\u%04lx", cp);
    }
    for (i = 0; i < n; i++)
        APR_ARRAY_PUSH(out, char) = buf[i];
}

/* Decodes one UTF-8 sequence at s (at most len bytes): its length, or 0 when
 * the bytes are not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
    size_t n, i;
    unsigned long c;

    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (n > len)
        return 0;
    c = s[0] & (0x7F >> n);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF))
        || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Text for a terminal: printable ASCII as it is, everything else as \uXXXX
 * (a byte that is not UTF-8 as \xNN). */
static const char *tty_safe(apr_pool_t *p, const char *s)
{
    const unsigned char *c;
    apr_array_header_t *out;
    size_t len;

    for (c = (const unsigned char *)s; *c >= 0x20 && *c < 0x7F; c++)
        ;
    if (*c == '\0')
        return s;                       /* the usual case: nothing to escape */
    len = strlen(s);
    out = apr_array_make(p, (int)len + 16, 1);
    for (c = (const unsigned char *)s; *c; ) {
        unsigned long cp;
        size_t n;

        if (*c >= 0x20 && *c < 0x7F) {
            APR_ARRAY_PUSH(out, char) = (char)*c++;
        }
        else if (*c < 0x80) {
            push_escape(out, *c++);
        }
        else if ((n = utf8_decode(c, strlen((const char *)c), &cp)) > 0) {
            push_escape(out, cp);
            c += n;
        }
        else {
            char buf[8];
            int i, k = snprintf(buf, sizeof(buf), "\\x%02x", *c++);
            for (i = 0; i < k; i++)
                APR_ARRAY_PUSH(out, char) = buf[i];
        }
    }
    APR_ARRAY_PUSH(out, char) = '\0';
    return out->elts;
}

/* tty_safe for a member that may be null: "-" then. */
static const char *tty_or_dash(apr_pool_t *p, const char *s)
{
    return s ? tty_safe(p, s) : "-";
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

/* HTML text or attribute value: every value that came from a log goes
 * through here. Control characters become U+FFFD. */
static void html_put(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '&': fputs("&amp;", stdout); break;
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&#39;", stdout); break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                fputs("&#xfffd;", stdout);
            else
                putchar(c);
        }
    }
}

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

/* ------------------------------------------------------------------- times */

/* "YYYY-MM-DD" (returns 1) or an RFC 3339 date-time (returns 2), as
 * microseconds since the epoch, UTC; 0 when s is neither (lib/pds_time.h). */
static int parse_time(const char *s, apr_int64_t *usec)
{
    if (pds_time_parse_date(usec, s) == APR_SUCCESS)
        return 1;
    return pds_time_parse(usec, s) == APR_SUCCESS ? 2 : 0;
}

/* ----------------------------------------------------------------- options */

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
    const char *jwks, *headers, *body, *expect_request_id, *expect_agreement;
    apr_array_header_t *files;
    /* parsed from the above by check_options */
    apr_uint64_t expect_seq;
    apr_uint64_t anchor_seq;
    unsigned char anchor_mac[32];
    apr_int64_t since_us, until_us;     /* until is exclusive */
} options_t;

typedef struct option_spec_t {
    const char *name;
    int takes_value;
    size_t offset;
    int cmds;
} option_spec_t;

#define OPT(name, value, member, cmds) { name, value, offsetof(options_t, member), cmds }
static const option_spec_t option_specs[] = {
    OPT("--hmac", 1, hmac_out, CMD_KEYGEN),
    OPT("--signing", 1, signing_out, CMD_KEYGEN),
    OPT("--public", 1, public_out, CMD_KEYGEN),
    OPT("--key", 1, key, CMD_VERIFY),
    OPT("--public-key", 1, public_key, CMD_VERIFY | CMD_VERIFY_RESPONSE),
    OPT("--expect-last-seq", 1, expect_last_seq, CMD_VERIFY),
    OPT("--anchor", 1, anchor, CMD_VERIFY),
    OPT("--series", 0, series, CMD_VERIFY | CMD_READ),
    OPT("--subject", 1, subject, CMD_READ),
    OPT("--pseudonym-key", 1, pseudonym_key, CMD_READ),
    OPT("--organisation", 1, organisation, CMD_READ),
    OPT("--agreement", 1, agreement, CMD_READ),
    OPT("--purpose", 1, purpose, CMD_READ),
    OPT("--decision", 1, decision, CMD_READ),
    OPT("--reason", 1, reason, CMD_READ),
    OPT("--since", 1, since, CMD_READ),
    OPT("--until", 1, until, CMD_READ),
    OPT("--format", 1, format, CMD_READ),
    OPT("--jwks", 1, jwks, CMD_VERIFY_RESPONSE),
    OPT("--headers", 1, headers, CMD_VERIFY_RESPONSE),
    OPT("--body", 1, body, CMD_VERIFY_RESPONSE),
    OPT("--expect-request-id", 1, expect_request_id, CMD_VERIFY_RESPONSE),
    OPT("--expect-agreement", 1, expect_agreement, CMD_VERIFY_RESPONSE),
};
#undef OPT

static const option_spec_t *find_option(const char *name)
{
    size_t k;

    for (k = 0; k < sizeof(option_specs) / sizeof(option_specs[0]); k++) {
        if (strcmp(option_specs[k].name, name) == 0)
            return &option_specs[k];
    }
    return NULL;
}

/* One "--name[=value]" at argv[*i]; may consume the next argument. */
static int parse_one_option(options_t *o, int argc, char **argv, int *i, apr_pool_t *p)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    const char *name = eq ? apr_pstrndup(p, arg, (apr_size_t)(eq - arg)) : arg;
    const option_spec_t *spec = find_option(name);
    const char **slot;

    if (spec == NULL)
        return usage_error(o->cmd_name, "unknown option %s", tty_safe(p, name));
    if (!(spec->cmds & o->cmd))
        return usage_error(o->cmd_name, "%s does not take %s", o->cmd_name, name);
    slot = (const char **)(void *)((char *)o + spec->offset);
    if (*slot != NULL)
        return usage_error(o->cmd_name, "%s is given twice", name);
    if (!spec->takes_value) {
        if (eq != NULL)
            return usage_error(o->cmd_name, "%s takes no value", name);
        *slot = "on";
        return EXIT_OK;
    }
    if (eq == NULL && *i + 1 >= argc)
        return usage_error(o->cmd_name, "%s needs a value", name);
    *slot = eq ? eq + 1 : argv[++*i];
    if (**slot == '\0')
        return usage_error(o->cmd_name, "%s needs a non-empty value", name);
    return EXIT_OK;
}

/* Options may come before or after the files; "--" ends the options. */
static int parse_options(options_t *o, int argc, char **argv, apr_pool_t *p)
{
    int i, rc, only_files = 0;

    o->files = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        }
        else if (!only_files && a[0] == '-' && a[1] != '\0') {
            if (a[1] != '-')
                return usage_error(o->cmd_name, "unknown option %s", tty_safe(p, a));
            if ((rc = parse_one_option(o, argc, argv, &i, p)) != EXIT_OK)
                return rc;
        }
        else {
            APR_ARRAY_PUSH(o->files, const char *) = a;
        }
    }
    return EXIT_OK;
}

static int check_keygen_options(options_t *o)
{
    if ((o->hmac_out == NULL) == (o->signing_out == NULL))
        return usage_error("keygen", "keygen needs exactly one of --hmac FILE and "
                           "--signing FILE");
    if (o->public_out != NULL && o->signing_out == NULL)
        return usage_error("keygen", "--public goes with --signing");
    if (o->public_out != NULL && strcmp(o->public_out, o->signing_out) == 0)
        return usage_error("keygen", "--public must name another file than --signing");
    if (o->files->nelts > 0)
        return usage_error("keygen", "keygen takes no file arguments (got %s)",
                           APR_ARRAY_IDX(o->files, 0, const char *));
    return EXIT_OK;
}

static int check_files(options_t *o)
{
    int i, stdin_seen = 0;

    if (o->files->nelts == 0)
        return usage_error(o->cmd_name, "%s needs at least one log file", o->cmd_name);
    if (o->series != NULL && o->files->nelts != 1)
        return usage_error(o->cmd_name, "--series takes exactly one file, the current log");
    for (i = 0; i < o->files->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(o->files, i, const char *), "-") == 0 && stdin_seen++)
            return usage_error(o->cmd_name, "standard input ('-') can be read once only");
    }
    if (o->series != NULL && stdin_seen)
        return usage_error(o->cmd_name, "--series needs a file name, not '-'");
    if (o->series != NULL) {
        const char *f = APR_ARRAY_IDX(o->files, 0, const char *);
        if (f[strlen(f) - 1] == '/')
            return usage_error(o->cmd_name, "--series takes the current log's file name, "
                               "not a directory");
    }
    return EXIT_OK;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* SEQ:MAC, as verify prints it: a seq of 1 or more, 64 hex digits. */
static int parse_anchor(options_t *o)
{
    const char *colon = strchr(o->anchor, ':');
    char *end;
    int i;

    if (colon == NULL || !isdigit((unsigned char)*o->anchor) || strlen(colon + 1) != 64)
        return 0;
    errno = 0;
    o->anchor_seq = strtoull(o->anchor, &end, 10);
    if (end != colon || errno != 0 || o->anchor_seq == 0)
        return 0;
    for (i = 0; i < 32; i++) {
        int hi = hex_digit(colon[1 + 2 * i]), lo = hex_digit(colon[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return 0;
        o->anchor_mac[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

static int check_verify_options(options_t *o)
{
    char *end;

    if (o->anchor != NULL && !parse_anchor(o))
        return usage_error("verify", "--anchor takes SEQ:MAC, a seq and the 64 hex digits "
                           "of that line's mac, as verify prints them; not %s", o->anchor);

    if (o->key == NULL && o->public_key == NULL)
        return usage_error("verify", "verify needs --key FILE (the audit key), "
                           "--public-key FILE (the checkpoint public key), or both");
    if (o->expect_last_seq != NULL) {
        errno = 0;
        o->expect_seq = strtoull(o->expect_last_seq, &end, 10);
        if (!isdigit((unsigned char)*o->expect_last_seq) || *end != '\0' || errno != 0
            || o->expect_seq == 0)
            return usage_error("verify", "--expect-last-seq takes a seq (1, 2, ...), not %s",
                               o->expect_last_seq);
    }
    return EXIT_OK;
}

static int check_time_options(options_t *o)
{
    int kind;

    o->since_us = APR_INT64_MIN;
    o->until_us = APR_INT64_MAX;
    if (o->since != NULL && !parse_time(o->since, &o->since_us))
        return usage_error(o->cmd_name, "--since takes an RFC 3339 time or YYYY-MM-DD, "
                           "not %s", o->since);
    if (o->until != NULL) {
        if (!(kind = parse_time(o->until, &o->until_us)))
            return usage_error(o->cmd_name, "--until takes an RFC 3339 time or YYYY-MM-DD, "
                               "not %s", o->until);
        /* a day includes all of it; a time includes that microsecond */
        o->until_us += kind == 1 ? 86400 * APR_USEC_PER_SEC : 1;
    }
    if (o->since_us >= o->until_us)
        return usage_error(o->cmd_name, "--since %s is after --until %s", o->since, o->until);
    return EXIT_OK;
}

static int check_read_options(options_t *o)
{
    int query = o->cmd == CMD_QUERY;
    const char *f = o->format;

    if (f != NULL && (query ? strcmp(f, "table") && strcmp(f, "jsonl") && strcmp(f, "csv")
                            : strcmp(f, "text") && strcmp(f, "json") && strcmp(f, "html")))
        return usage_error(o->cmd_name, "%s --format is %s, not %s", o->cmd_name,
                           query ? "table, jsonl or csv" : "text, json or html", f);
    if (o->decision != NULL && strcmp(o->decision, "allow") != 0
        && strcmp(o->decision, "deny") != 0)
        return usage_error(o->cmd_name, "--decision is allow or deny, not %s", o->decision);
    if (o->pseudonym_key != NULL && o->subject == NULL)
        return usage_error(o->cmd_name, "--pseudonym-key goes with --subject");
    if (o->cmd == CMD_REPORT && o->subject != NULL && (o->decision || o->reason))
        return usage_error("report", "report --subject lists allowed disclosures: "
                           "--decision and --reason do not apply");
    if (o->reason != NULL && pds_reason_lookup(o->reason) == NULL)
        fprintf(stderr, "pds-audit: note: %s is not a reason code this version knows "
                "(see docs/problems.md)\n", o->reason);
    return check_time_options(o);
}

static int check_response_options(options_t *o)
{
    int stdin_uses = 0;

    if ((o->jwks == NULL) == (o->public_key == NULL))
        return usage_error("verify-response", "verify-response needs exactly one of "
                           "--jwks FILE (the gateway's published keys) and --public-key "
                           "FILE");
    if (o->headers == NULL || o->body == NULL)
        return usage_error("verify-response", "verify-response needs --headers FILE (as "
                           "saved by curl -D) and --body FILE (as saved by curl -o)");
    if (o->files->nelts > 0)
        return usage_error("verify-response", "verify-response takes no file arguments "
                           "(got %s): name the files with --headers and --body",
                           APR_ARRAY_IDX(o->files, 0, const char *));
    stdin_uses += strcmp(o->headers, "-") == 0;
    stdin_uses += strcmp(o->body, "-") == 0;
    stdin_uses += o->jwks != NULL && strcmp(o->jwks, "-") == 0;
    if (stdin_uses > 1)
        return usage_error("verify-response", "standard input ('-') can be read once only");
    if (strcmp(o->headers, o->body) == 0 && stdin_uses == 0)
        return usage_error("verify-response", "--headers and --body name the same file: "
                           "save them apart (curl -D HEADERS -o BODY)");
    return EXIT_OK;
}

static int check_options(options_t *o)
{
    int rc;

    if (o->cmd == CMD_KEYGEN)
        return check_keygen_options(o);
    if (o->cmd == CMD_VERIFY_RESPONSE)
        return check_response_options(o);
    if ((rc = check_files(o)) != EXIT_OK)
        return rc;
    if (o->cmd == CMD_VERIFY)
        return check_verify_options(o);
    return check_read_options(o);
}

/* ------------------------------------------------------------ reading lines */

/* Reads lines with a buffer of fixed size, whatever the file holds. */
typedef struct line_reader_t {
    FILE *f;
    const char *path;           /* as given, for messages */
    char *block;
    size_t pos, end;
    char *line;                 /* NUL-terminated; at most MAX_LINE bytes kept */
    size_t len;
    long lineno;
    int complete;               /* the line ended with "\n" */
    int too_long;               /* longer than MAX_LINE: only its start is kept */
} line_reader_t;

static void reader_init(line_reader_t *r, apr_pool_t *p)
{
    memset(r, 0, sizeof(*r));
    r->block = apr_palloc(p, READ_BLOCK);
    r->line = apr_palloc(p, MAX_LINE + 1);
}

static int reader_open(line_reader_t *r, const char *path, apr_pool_t *p)
{
    struct stat st;

    r->path = path;
    r->pos = r->end = 0;
    r->lineno = 0;
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (r->f == NULL || fstat(fileno(r->f), &st) != 0) {
        fprintf(stderr, "pds-audit: cannot read %s: %s\n", tty_safe(p, path),
                strerror(errno));
        return EXIT_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pds-audit: %s is a directory: give the log files, or the current "
                "log with --series\n", tty_safe(p, path));
        fclose(r->f);
        r->f = NULL;
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static void reader_close(line_reader_t *r)
{
    if (r->f != NULL && r->f != stdin)
        fclose(r->f);
    r->f = NULL;
}

/* Appends the next n bytes of the block to the line, as far as they fit. */
static void reader_take(line_reader_t *r, size_t n)
{
    size_t room = MAX_LINE - r->len;

    if (n > room) {
        r->too_long = 1;
        n = room;
    }
    memcpy(r->line + r->len, r->block + r->pos, n);
    r->len += n;
}

/* 1: a line is in r->line (check complete and too_long); 0: end of file;
 * -1: read error (reported). */
static int reader_next(line_reader_t *r, apr_pool_t *p)
{
    int have = 0;

    r->len = 0;
    r->complete = r->too_long = 0;
    for (;;) {
        char *nl;
        size_t n;

        if (r->pos == r->end) {
            r->pos = 0;
            r->end = fread(r->block, 1, READ_BLOCK, r->f);
            if (r->end == 0 && ferror(r->f)) {
                fprintf(stderr, "pds-audit: error reading %s: %s\n", tty_safe(p, r->path),
                        strerror(errno));
                return -1;
            }
            if (r->end == 0)
                break;
        }
        have = 1;
        nl = memchr(r->block + r->pos, '\n', r->end - r->pos);
        n = nl ? (size_t)(nl - (r->block + r->pos)) : r->end - r->pos;
        reader_take(r, n);
        r->pos += n;
        if (nl != NULL) {
            r->pos++;
            r->complete = 1;
            break;
        }
    }
    r->line[r->len] = '\0';
    if (have)
        r->lineno++;
    return have;
}

/* The seq a line starts with: every chained line begins {"seq":N, so it can
 * be read from a line that is too long or cut short. 0 if there is none. */
static apr_uint64_t seq_prefix(const char *line, size_t len)
{
    apr_uint64_t seq = 0;
    size_t i;

    if (len < 8 || memcmp(line, "{\"seq\":", 7) != 0)
        return 0;
    for (i = 7; i < len && i < 27 && isdigit((unsigned char)line[i]); i++)
        seq = seq * 10 + (apr_uint64_t)(line[i] - '0');
    return i < len && line[i] == ',' ? seq : 0;
}

/* ------------------------------------------------------------ file series */

typedef struct series_entry_t {
    const char *path;
    apr_uint64_t first;
} series_entry_t;

static int by_first_seq(const void *a, const void *b)
{
    const series_entry_t *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Is name the log's base name or base + "." + something? (Not base.head,
 * the gateway's copy of the chain's head, which is no part of the log.) */
static int is_sibling(const char *name, const char *base)
{
    size_t n = strlen(base);

    return strncmp(name, base, n) == 0
           && (name[n] == '\0' || (name[n] == '.' && name[n + 1] != '\0'
                                    && strcmp(name + n, ".head") != 0));
}

/* Adds path to the series, placed by the seq of its first line. */
static int series_add(apr_array_header_t *entries, line_reader_t *r, const char *path,
                      apr_pool_t *p)
{
    series_entry_t *se;
    int got;

    if (reader_open(r, path, p) != EXIT_OK)
        return EXIT_USAGE;
    got = reader_next(r, p);
    reader_close(r);
    if (got < 0)
        return EXIT_USAGE;
    if (got == 0) {
        fprintf(stderr, "pds-audit: note: %s is empty, left out\n", tty_safe(p, path));
        return EXIT_OK;
    }
    se = apr_array_push(entries);
    se->path = path;
    se->first = seq_prefix(r->line, r->len);
    if (se->first == 0) {
        fprintf(stderr, "pds-audit: cannot place %s in the series: its first line has no "
                "seq (compressed? decompress it, or give the files in order without "
                "--series)\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int series_sort(apr_array_header_t *entries, apr_array_header_t *out, apr_pool_t *p)
{
    int i;

    qsort(entries->elts, (size_t)entries->nelts, sizeof(series_entry_t), by_first_seq);
    for (i = 0; i < entries->nelts; i++) {
        series_entry_t *se = &APR_ARRAY_IDX(entries, i, series_entry_t);

        if (i > 0 && se[-1].first == se->first) {
            fprintf(stderr, "pds-audit: %s and %s both begin at seq %" APR_UINT64_T_FMT
                    ": move the copy aside, or give the files in order without --series\n",
                    tty_safe(p, se[-1].path), tty_safe(p, se->path), se->first);
            return EXIT_USAGE;
        }
        APR_ARRAY_PUSH(out, const char *) = se->path;
    }
    return EXIT_OK;
}

/* The current log and its rotated siblings (any name current.*), ordered by
 * the seq of their first line: rotated names are the sysadmin's choice. */
static int expand_series(apr_array_header_t **pfiles, const char *current,
                         line_reader_t *r, apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 8, sizeof(series_entry_t));
    const char *slash = strrchr(current, '/');
    const char *dir = slash ? apr_pstrndup(p, current, (apr_size_t)(slash - current + 1)) : ".";
    const char *base = slash ? slash + 1 : current;
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    int rc = EXIT_OK;

    if (d == NULL) {
        fprintf(stderr, "pds-audit: cannot list %s: %s\n", tty_safe(p, dir), strerror(errno));
        return EXIT_USAGE;
    }
    while (rc == EXIT_OK && (e = readdir(d)) != NULL) {
        const char *path = apr_pstrcat(p, slash ? dir : "", e->d_name, NULL);

        if (is_sibling(e->d_name, base) && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = series_add(entries, r, path, p);
    }
    closedir(d);
    if (rc != EXIT_OK)
        return rc;
    if (entries->nelts == 0) {
        fprintf(stderr, "pds-audit: no log file %s or %s.* with records\n",
                tty_safe(p, current), tty_safe(p, current));
        return EXIT_USAGE;
    }
    *pfiles = apr_array_make(p, entries->nelts, sizeof(const char *));
    return series_sort(entries, *pfiles, p);
}

static int input_files(apr_array_header_t **pfiles, const options_t *o, line_reader_t *r,
                       apr_pool_t *p)
{
    if (o->series == NULL) {
        *pfiles = o->files;
        return EXIT_OK;
    }
    return expand_series(pfiles, APR_ARRAY_IDX(o->files, 0, const char *), r, p);
}

/* ------------------------------------------------------------------ keygen */

/* Creates path, which must not exist. */
static int create_new(const char *path, mode_t mode, int *pfd, apr_pool_t *p)
{
    *pfd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (*pfd >= 0)
        return EXIT_OK;
    if (errno == EEXIST)
        fprintf(stderr, "pds-audit: %s exists: refusing to overwrite it (a key in use "
                "would be lost); move it aside or choose another name\n", tty_safe(p, path));
    else
        fprintf(stderr, "pds-audit: cannot create %s: %s\n", tty_safe(p, path),
                strerror(errno));
    return EXIT_USAGE;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return fsync(fd);
}

/* Writes and closes fd; on failure removes path. */
static int finish_file(int fd, const char *path, const char *data, size_t len, apr_pool_t *p)
{
    int failed = write_all(fd, data, len) != 0;

    failed |= close(fd) != 0;
    if (failed) {
        fprintf(stderr, "pds-audit: cannot write %s: %s\n", tty_safe(p, path),
                strerror(errno));
        unlink(path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int keygen_hmac(const char *path, apr_pool_t *p)
{
    pds_error_t err;
    char *hex;
    int fd, rc;

    pds_error_clear(&err);
    if (pds_chain_key_generate(&hex, p, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    rc = create_new(path, 0600, &fd, p);
    if (rc == EXIT_OK)
        rc = finish_file(fd, path, hex, strlen(hex), p);
    OPENSSL_cleanse(hex, strlen(hex));
    if (rc == EXIT_OK)
        printf("wrote a new audit key to %s (mode 0600): name it in PDSAuditKey, and keep "
               "a copy where the auditors can reach it\n", tty_safe(p, path));
    return rc;
}

/* A key as PEM text in pool memory (the private part cleansed from the BIO). */
static char *pem_of(EVP_PKEY *key, int private_part, size_t *plen, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if ((private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                      : PEM_write_bio_PUBKEY(bio, key)) == 1
        && (n = BIO_get_mem_data(bio, &data)) > 0) {
        out = apr_pmemdup(p, data, (apr_size_t)n);
        *plen = (size_t)n;
    }
    BIO_free(bio);
    return out;
}

/* Both files are created before either is written, so a refusal to
 * overwrite one leaves nothing behind. */
static int keygen_write_pair(const char *priv_path, const char *priv, size_t plen,
                             const char *pub_path, const char *pub, size_t publen,
                             apr_pool_t *p)
{
    int fd, pubfd = -1, rc;

    if ((rc = create_new(priv_path, 0600, &fd, p)) != EXIT_OK)
        return rc;
    if (pub_path != NULL && (rc = create_new(pub_path, 0644, &pubfd, p)) != EXIT_OK) {
        close(fd);
        unlink(priv_path);
        return rc;
    }
    rc = finish_file(fd, priv_path, priv, plen, p);
    if (pubfd >= 0 && rc != EXIT_OK) {
        close(pubfd);
        unlink(pub_path);
    }
    else if (pubfd >= 0 && (rc = finish_file(pubfd, pub_path, pub, publen, p)) != EXIT_OK) {
        unlink(priv_path);
    }
    return rc;
}

static int keygen_signing(const char *priv_path, const char *pub_path, apr_pool_t *p)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t plen = 0, publen = 0;
    char *priv, *pub;
    int rc;

    if (key == NULL) {
        fprintf(stderr, "pds-audit: cannot generate an Ed25519 key\n");
        return EXIT_USAGE;
    }
    priv = pem_of(key, 1, &plen, p);
    pub = pem_of(key, 0, &publen, p);
    EVP_PKEY_free(key);
    if (priv == NULL || pub == NULL) {
        fprintf(stderr, "pds-audit: cannot encode the new key as PEM\n");
        return EXIT_USAGE;
    }
    rc = keygen_write_pair(priv_path, priv, plen, pub_path, pub, publen, p);
    OPENSSL_cleanse(priv, plen);
    if (rc != EXIT_OK)
        return rc;
    printf("wrote a new Ed25519 signing key to %s (mode 0600): name it in "
           "PDSAuditSigningKey\n", tty_safe(p, priv_path));
    if (pub_path != NULL)
        printf("wrote its public key to %s: give it to whoever verifies the log "
               "(pds-audit verify --public-key)\n", tty_safe(p, pub_path));
    else
        printf("its public key: openssl pkey -in %s -pubout\n", tty_safe(p, priv_path));
    return EXIT_OK;
}

static int cmd_keygen(options_t *o, apr_pool_t *p)
{
    if (o->hmac_out != NULL)
        return keygen_hmac(o->hmac_out, p);
    return keygen_signing(o->signing_out, o->public_out, p);
}

/* ------------------------------------------------------------------ verify */

typedef struct file_span_t {
    const char *path;
    apr_uint64_t lines, first, last;
    char first_mac[65];                 /* of its first line: its anchor */
} file_span_t;

typedef struct verify_t {
    pds_chain_verifier_t *v;
    pds_chain_key_t *key;
    pds_key_t *pub;
    line_reader_t reader;
    apr_array_header_t *spans;          /* file_span_t, one per file read */
    apr_pool_t *p;
} verify_t;

static int verify_load_keys(verify_t *vt, options_t *o)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (o->key != NULL && pds_chain_key_load(&vt->key, vt->p, o->key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --key %s: %s\n", tty_safe(vt->p, o->key), err.text);
        return EXIT_USAGE;
    }
    if (o->public_key != NULL
        && pds_key_load_file(&vt->pub, vt->p, o->public_key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --public-key: %s\n", err.text);
        return EXIT_USAGE;
    }
    if (pds_chain_verifier_create(&vt->v, vt->p, vt->key, vt->pub, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The first bad line: FILE:LINE: seq N: CODE: WHY (seq when the line has one). */
static void report_bad_line(verify_t *vt, const char *code, const char *why)
{
    line_reader_t *r = &vt->reader;
    apr_uint64_t seq = seq_prefix(r->line, r->len);

    printf("%s:%ld: ", tty_safe(vt->p, r->path), r->lineno);
    if (seq > 0)
        printf("seq %" APR_UINT64_T_FMT ": ", seq);
    printf("%s: %s\n", code, why);
}

static int verify_current_line(verify_t *vt)
{
    line_reader_t *r = &vt->reader;
    pds_error_t err;

    if (r->too_long) {
        report_bad_line(vt, "line-too-long", apr_psprintf(vt->p, "the line is longer than "
                        "%d bytes: not a line the gateway writes", MAX_LINE));
        return EXIT_PROBLEM;
    }
    if (!r->complete) {
        report_bad_line(vt, "truncated", "truncated last line: the file ends without a "
                        "newline (a write was cut short, or the file was cut)");
        return EXIT_PROBLEM;
    }
    pds_error_clear(&err);
    if (pds_chain_verify_line(vt->v, r->line, r->len, &err) != APR_SUCCESS) {
        report_bad_line(vt, err.code, err.text);
        return EXIT_PROBLEM;
    }
    return EXIT_OK;
}

static int verify_file(verify_t *vt, const char *path, int index)
{
    pds_chain_summary_t before, after;
    file_span_t *span;
    int got, rc = EXIT_OK;

    if (index > 0)
        pds_chain_verifier_next_file(vt->v);
    if (reader_open(&vt->reader, path, vt->p) != EXIT_OK)
        return EXIT_USAGE;
    pds_chain_verifier_summary(vt->v, &before);
    span = apr_array_push(vt->spans);
    memset(span, 0, sizeof(*span));
    while (rc == EXIT_OK && (got = reader_next(&vt->reader, vt->p)) == 1) {
        rc = verify_current_line(vt);
        /* a verified line ends with ,"mac":"<64 hex>"} */
        if (rc == EXIT_OK && span->first_mac[0] == '\0' && vt->reader.len >= 66)
            memcpy(span->first_mac, vt->reader.line + vt->reader.len - 66, 64);
    }
    if (rc == EXIT_OK && got < 0)
        rc = EXIT_USAGE;
    reader_close(&vt->reader);
    pds_chain_verifier_summary(vt->v, &after);
    span->path = path;
    span->lines = after.lines - before.lines;
    span->first = span->lines ? (before.lines ? before.last_seq + 1 : after.first_seq) : 0;
    span->last = after.last_seq;
    return rc;
}

/* The whole log read: does it begin where a chain begins (or at the anchor),
 * and does it hold the anchor's line? */
static int verify_finish(verify_t *vt)
{
    pds_chain_summary_t s;
    pds_error_t err;
    const file_span_t *f = NULL;
    int i;

    pds_error_clear(&err);
    if (pds_chain_verifier_finish(vt->v, &err) == APR_SUCCESS)
        return EXIT_OK;
    pds_chain_verifier_summary(vt->v, &s);
    if (strcmp(err.code, "missing-head") == 0) {
        for (i = 0; f == NULL && i < vt->spans->nelts; i++) {
            if (APR_ARRAY_IDX(vt->spans, i, file_span_t).lines > 0)
                f = &APR_ARRAY_IDX(vt->spans, i, file_span_t);
        }
        printf("%s:1: seq %" APR_UINT64_T_FMT ": %s: %s\n", tty_safe(vt->p, f->path),
               s.first_seq, err.code, err.text);
    }
    else {
        printf("%s: %s\n", err.code, err.text);
    }
    return EXIT_PROBLEM;
}

static int verify_expected_last(const options_t *o, const pds_chain_summary_t *sum)
{
    if (o->expect_last_seq == NULL || sum->last_seq == o->expect_seq)
        return EXIT_OK;
    if (sum->last_seq < o->expect_seq)
        printf("last seq is %" APR_UINT64_T_FMT ", expected %" APR_UINT64_T_FMT
               ": %" APR_UINT64_T_FMT " line(s) are missing at the end\n", sum->last_seq,
               o->expect_seq, o->expect_seq - sum->last_seq);
    else
        printf("last seq is %" APR_UINT64_T_FMT ", expected %" APR_UINT64_T_FMT
               ": the log goes on past the expected end (an older anchor?)\n",
               sum->last_seq, o->expect_seq);
    return EXIT_PROBLEM;
}

/* "seq 5" or "seq 5..9" */
static const char *seq_range(apr_uint64_t first, apr_uint64_t last, apr_pool_t *p)
{
    if (first == last)
        return apr_psprintf(p, "seq %" APR_UINT64_T_FMT, first);
    return apr_psprintf(p, "seq %" APR_UINT64_T_FMT "..%" APR_UINT64_T_FMT, first, last);
}

static void print_signature_coverage(const verify_t *vt, const pds_chain_summary_t *s)
{
    apr_uint64_t covered;

    if (vt->pub == NULL) {
        printf("checkpoints: %" APR_UINT64_T_FMT ", signatures not checked (no "
               "--public-key)\n", s->checkpoints);
        return;
    }
    printf("checkpoints: %" APR_UINT64_T_FMT " signature(s) verified\n", s->checkpoints);
    if (s->last_checkpoint_seq == 0) {
        printf("lines covered by a verified signature: none%s\n",
               vt->key ? "" : ": without --key no line of this log is authenticated");
        return;
    }
    covered = s->last_checkpoint_seq - s->first_seq + 1;
    printf("lines covered by a verified signature: %s (%" APR_UINT64_T_FMT " of %"
           APR_UINT64_T_FMT ")", seq_range(s->first_seq, s->last_checkpoint_seq, vt->p),
           covered, s->lines);
    if (s->last_seq > s->last_checkpoint_seq && vt->key == NULL)
        printf("; %s after the last checkpoint: NOT authenticated (only --key can check "
               "them)", seq_range(s->last_checkpoint_seq + 1, s->last_seq, vt->p));
    putchar('\n');
}

static void print_verify_summary(const verify_t *vt, int rc)
{
    pds_chain_summary_t s;
    int i;

    pds_chain_verifier_summary(vt->v, &s);
    printf("%s: %d file(s), %" APR_UINT64_T_FMT " line(s)", rc == EXIT_OK ? "intact"
           : "NOT INTACT", vt->spans->nelts, s.lines);
    if (s.lines > 0)
        printf(", %s", seq_range(s.first_seq, s.last_seq, vt->p));
    printf("%s\n", rc != EXIT_OK ? " checked before the problem"
                   : s.lines == 0 ? ": the log holds no lines, nothing was checked" : "");
    if (s.starts_mid_chain && s.starts_at_anchor)
        printf("the first line is seq %" APR_UINT64_T_FMT ", the anchor's: the lines before "
               "it were not checked here\n", s.first_seq);
    else if (s.starts_mid_chain)
        printf("the first line is seq %" APR_UINT64_T_FMT ": it continues an earlier file, "
               "which was not checked here\n", s.first_seq);
    for (i = 0; vt->spans->nelts > 1 && i < vt->spans->nelts; i++) {
        const file_span_t *f = &APR_ARRAY_IDX(vt->spans, i, file_span_t);

        printf("  %s: %" APR_UINT64_T_FMT " line(s)", tty_safe(vt->p, f->path), f->lines);
        if (f->lines > 0)
            printf(", %s, anchor %" APR_UINT64_T_FMT ":%s",
                   seq_range(f->first, f->last, vt->p), f->first, f->first_mac);
        putchar('\n');
    }
    if (rc == EXIT_OK && vt->spans->nelts == 1 && s.lines > 0)
        printf("anchor of the first line: %" APR_UINT64_T_FMT ":%s (with --anchor, what is "
               "left verifies once the lines before it are gone)\n", s.first_seq,
               APR_ARRAY_IDX(vt->spans, 0, file_span_t).first_mac);
    printf("MACs: %s\n", vt->key ? "checked on every line (--key)"
                                 : "not checked (no --key)");
    print_signature_coverage(vt, &s);
}

static int cmd_verify(options_t *o, apr_pool_t *p)
{
    apr_array_header_t *files;
    pds_chain_summary_t sum;
    verify_t vt;
    int i, rc;

    memset(&vt, 0, sizeof(vt));
    vt.p = p;
    vt.spans = apr_array_make(p, 4, sizeof(file_span_t));
    reader_init(&vt.reader, p);
    if ((rc = verify_load_keys(&vt, o)) != EXIT_OK
        || (rc = input_files(&files, o, &vt.reader, p)) != EXIT_OK)
        return rc;
    if (o->anchor != NULL)
        pds_chain_verifier_anchor(vt.v, o->anchor_seq, o->anchor_mac);
    for (i = 0, rc = EXIT_OK; i < files->nelts && rc == EXIT_OK; i++)
        rc = verify_file(&vt, APR_ARRAY_IDX(files, i, const char *), i);
    if (rc == EXIT_USAGE)
        return rc;
    if (rc == EXIT_OK)
        rc = verify_finish(&vt);
    pds_chain_verifier_summary(vt.v, &sum);
    if (rc == EXIT_OK)
        rc = verify_expected_last(o, &sum);
    print_verify_summary(&vt, rc);
    return rc;
}

/* ---------------------------------------------------------- record reading */

typedef struct filter_t {
    const char *subject;        /* as it appears in the log (maybe a pseudonym) */
    const char *organisation, *agreement, *purpose, *decision, *reason;
    apr_int64_t since, until;   /* [since, until) */
    int timed;
} filter_t;

static const char *str_member(json_t *rec, const char *name)
{
    json_t *v = json_object_get(rec, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int matches(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/* in_collection: the record is a collection's and f->subject is one of the
 * people it released (in its "subjects", or in the "subjects" lines before it). */
static int record_selected(const filter_t *f, json_t *rec, int in_collection)
{
    apr_int64_t t;

    if (!(matches(f->subject, str_member(rec, "subject")) || in_collection)
        || !matches(f->organisation, str_member(rec, "organisation"))
        || !matches(f->agreement, str_member(rec, "agreement"))
        || !matches(f->purpose, str_member(rec, "purpose"))
        || !matches(f->decision, str_member(rec, "decision"))
        || !matches(f->reason, str_member(rec, "reason")))
        return 0;
    if (!f->timed)
        return 1;
    return parse_time(str_member(rec, "time"), &t) == 2 && t >= f->since && t < f->until;
}

static int setup_filter(filter_t *f, const options_t *o, apr_pool_t *p)
{
    pds_chain_key_t *key;
    pds_error_t err;

    memset(f, 0, sizeof(*f));
    f->subject = o->subject;
    f->organisation = o->organisation;
    f->agreement = o->agreement;
    f->purpose = o->purpose;
    f->decision = o->decision;
    f->reason = o->reason;
    f->since = o->since_us;
    f->until = o->until_us;
    f->timed = o->since != NULL || o->until != NULL;
    if (o->pseudonym_key == NULL)
        return EXIT_OK;
    pds_error_clear(&err);
    if (pds_chain_key_load(&key, p, o->pseudonym_key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --pseudonym-key %s: %s\n", tty_safe(p, o->pseudonym_key),
                err.text);
        return EXIT_USAGE;
    }
    f->subject = pds_chain_pseudonym(p, key, o->subject);
    if (f->subject == NULL) {
        fprintf(stderr, "pds-audit: cannot compute the subject's pseudonym\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Called with each selected decision record; scratch is cleared after it. */
typedef int (*record_cb)(void *baton, json_t *rec, const char *line, size_t len,
                         apr_pool_t *scratch);

typedef struct scan_t {
    const filter_t *f;
    record_cb cb;
    void *baton;
    line_reader_t reader;
    apr_uint64_t unreadable;
    apr_pool_t *p;
    /* A large collection's "subjects" lines come just before its record
     * (docs/audit.md): the run of parts read so far. */
    pds_disclosure_parts_t parts;
} scan_t;

static int array_has(json_t *arr, const char *s)
{
    json_t *v;
    size_t i;

    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* Is s->f->subject among the people this collection record released (in
 * its "subjects", or in the "subjects" lines before it)? */
static int scan_in_collection(scan_t *s, json_t *rec)
{
    json_t *subjects = pds_disclosure_subjects(&s->parts, rec);
    int in = s->f->subject != NULL && subjects != NULL && array_has(subjects, s->f->subject);

    json_decref(subjects);
    return in;
}

static void scan_warn(scan_t *s, const char *why)
{
    if (++s->unreadable <= MAX_WARNINGS)
        fprintf(stderr, "pds-audit: %s:%ld: %s, skipped (run pds-audit verify)\n",
                tty_safe(s->p, s->reader.path), s->reader.lineno, why);
}

static int scan_line(scan_t *s, apr_pool_t *scratch)
{
    line_reader_t *r = &s->reader;
    json_t *rec;
    int rc = EXIT_OK, in_collection;

    if (r->too_long || !r->complete) {
        pds_disclosure_parts_reset(&s->parts);
        scan_warn(s, r->too_long ? "line too long" : "incomplete last line");
        return EXIT_OK;
    }
    rec = json_loadb(r->line, r->len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(rec))
        scan_warn(s, "not a JSON object");
    /* every line goes by the run of parts: a "subjects" line joins it */
    in_collection = scan_in_collection(s, rec);
    if (json_is_object(rec) && json_object_get(rec, "type") == NULL
        && record_selected(s->f, rec, in_collection))
        rc = s->cb(s->baton, rec, r->line, r->len, scratch);
    json_decref(rec);           /* checkpoints and file starts are not decisions */
    return rc;
}

static int scan_file(scan_t *s, const char *path, apr_pool_t *scratch)
{
    int got, rc = EXIT_OK;

    if (reader_open(&s->reader, path, s->p) != EXIT_OK)
        return EXIT_USAGE;
    while (rc == EXIT_OK && (got = reader_next(&s->reader, s->p)) == 1) {
        rc = scan_line(s, scratch);
        apr_pool_clear(scratch);
    }
    reader_close(&s->reader);
    return rc == EXIT_OK && got < 0 ? EXIT_USAGE : rc;
}

/* Streams every file's decision records that pass the filter to cb. */
static int scan(const options_t *o, const filter_t *f, record_cb cb, void *baton,
                apr_pool_t *p)
{
    apr_array_header_t *files;
    apr_pool_t *scratch;
    scan_t s;
    int i, rc;

    memset(&s, 0, sizeof(s));
    s.f = f;
    s.cb = cb;
    s.baton = baton;
    s.p = p;
    reader_init(&s.reader, p);
    if ((rc = input_files(&files, o, &s.reader, p)) != EXIT_OK)
        return rc;
    if (apr_pool_create(&scratch, p) != APR_SUCCESS)
        return EXIT_USAGE;
    for (i = 0; i < files->nelts && rc == EXIT_OK; i++)
        rc = scan_file(&s, APR_ARRAY_IDX(files, i, const char *), scratch);
    pds_disclosure_parts_reset(&s.parts);
    apr_pool_destroy(scratch);
    if (s.unreadable > 0)
        fprintf(stderr, "pds-audit: %" APR_UINT64_T_FMT " line(s) were not records and "
                "were skipped: the log may be damaged (run pds-audit verify)\n",
                s.unreadable);
    return rc;
}

static const char *fields_joined(json_t *rec, const char *sep, apr_pool_t *p)
{
    json_t *v;
    size_t i;
    const char *out = "";

    json_array_foreach(json_object_get(rec, "fields"), i, v) {
        if (json_is_string(v))
            out = *out ? apr_pstrcat(p, out, sep, json_string_value(v), NULL)
                       : json_string_value(v);
    }
    return out;
}

static const char *int_member(json_t *rec, const char *name, apr_pool_t *p)
{
    json_t *v = json_object_get(rec, name);

    return json_is_integer(v) ? apr_psprintf(p, "%" APR_INT64_T_FMT,
                                             (apr_int64_t)json_integer_value(v)) : NULL;
}

/* ------------------------------------------------------------------- query */

static const char *const csv_columns[] = {
    "time", "seq", "request_id", "client_ip", "organisation", "agreement",
    "agreement_version", "purpose", "legal_basis", "subject", "method", "path",
    "decision", "reason", "status", "fields", "visible_from", NULL
};

static void query_csv(json_t *rec, apr_pool_t *scratch)
{
    int i;

    for (i = 0; csv_columns[i] != NULL; i++) {
        const char *c = csv_columns[i], *v;

        if (strcmp(c, "fields") == 0)
            v = fields_joined(rec, ";", scratch);
        else if (strcmp(c, "seq") == 0 || strcmp(c, "status") == 0)
            v = int_member(rec, c, scratch);
        else
            v = str_member(rec, c);
        csv_put(v, csv_columns[i + 1] == NULL);
    }
}

#define TABLE_ROW "%-27s %8s %-8s %-22s %-16s %-28s %-16s %-14s %6s %6s\n"

static void query_table(json_t *rec, apr_pool_t *p)
{
    printf(TABLE_ROW, tty_or_dash(p, str_member(rec, "time")),
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
        printf(TABLE_ROW, "TIME", "SEQ", "DECISION", "REASON", "ORGANISATION", "AGREEMENT",
               "PURPOSE", "SUBJECT", "STATUS", "FIELDS");
    }
    return scan(o, &f, query_cb, (void *)format, p);
}

/* ----------------------------------------------------------- report: totals */

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

/* Prints a JSON document and frees it. */
static void print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);

    puts(text ? text : "null");
    free(text);
    json_decref(doc);
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

static const char html_style[] =
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n<style>\n"
    "body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.4}\n"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f2f2f2}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".null{color:#888}.note{color:#555}\n"
    "ol.timeline{list-style:none;border-left:3px solid #36c;margin:1.5em 0 1.5em 1em;"
    "padding-left:1.5em}\n"
    "ol.timeline>li{margin:0 0 1.4em 0;position:relative}\n"
    "ol.timeline>li:before{content:'';position:absolute;left:-2.05em;top:.35em;width:.8em;"
    "height:.8em;border-radius:50%;background:#36c}\n"
    "time{color:#555;font-size:.9em;display:block}\n"
    "ul.fields{margin:.3em 0;padding-left:1.2em}dl{margin:.3em 0}dt{float:left;clear:left;"
    "width:9em;color:#555}dd{margin-left:9.5em}\n"
    ".restricted{color:#a40}\n</style>\n";

static void html_begin(const char *title_prefix, const char *title_value)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", stdout);
    fputs(html_style, stdout);
    fputs("<title>", stdout);
    html_put(title_prefix);
    html_put(title_value);
    fputs("</title>\n</head>\n<body>\n", stdout);
}

static void html_end(void)
{
    fputs("<p class=\"note\">Made by pds-audit from the log as it is: run "
          "<code>pds-audit verify</code> to check that it is whole and unchanged.</p>\n"
          "</body>\n</html>\n", stdout);
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

/* ------------------------------------------------- report: a person's view */

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
           *fields_joined(e, ", ", p) ? tty_safe(p, fields_joined(e, ", ", p))
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

static int report_person(options_t *o, const filter_t *f, const char *format, apr_pool_t *p)
{
    person_t pr;
    json_t *events;
    int rc;

    pr.events = json_array();
    rc = scan(o, f, person_cb, &pr, p);
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

/* --------------------------------------------------------- verify-response */

/* A receiver's check of a response the gateway signed (PDSSignResponses):
 * PDS-Signature is a JWS with a detached payload (RFC 7515 appendix F) over
 * the exact body bytes; its protected header binds the request id and the
 * agreement. Nothing taken from the response is trusted before the signature
 * verifies, except the kid that picks the key (and the key's thumbprint must
 * be that kid). Values from the response are printed through tty_safe; the
 * body is never printed. */

#define MAX_BODY        (64 * 1024 * 1024)  /* bytes of body read, at most */
#define MAX_SMALL_FILE  (1024 * 1024)       /* a header file, a JWKS */
#define MAX_SIGNATURE   (16 * 1024)         /* lib/pds_jws.c's limit on a JWS */
#define MAX_IAT         APR_INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */
#define RESPONSE_TYP    "pds-response+jws"

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

static apr_status_t json_pool_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* Reads all of path ('-': standard input), NUL-terminated, into memory the
 * pool releases; more than max bytes is an error. opt names the option. */
static int read_all(char **pdata, size_t *plen, const char *opt, const char *path,
                    size_t max, apr_pool_t *p)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    size_t len = 0, cap = READ_BLOCK;
    char *buf = NULL, *more;
    struct stat st;
    int rc = EXIT_OK;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "pds-audit: %s %s: cannot read it: %s\n", opt, tty_safe(p, path),
                strerror(errno));
        return EXIT_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pds-audit: %s %s is a directory\n", opt, tty_safe(p, path));
        rc = EXIT_USAGE;
    }
    while (rc == EXIT_OK) {
        size_t n;

        if (buf == NULL || len == cap) {
            cap = buf == NULL ? cap : cap * 2;
            if (cap > max + 1)
                cap = max + 1;
            if ((more = realloc(buf, cap + 1)) == NULL) {
                fprintf(stderr, "pds-audit: out of memory reading %s\n", opt);
                rc = EXIT_USAGE;
                break;
            }
            buf = more;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len > max) {
            fprintf(stderr, "pds-audit: %s %s: larger than %lu bytes; refusing to read it\n",
                    opt, tty_safe(p, path), (unsigned long)max);
            rc = EXIT_USAGE;
        }
        else if (n == 0 && ferror(f)) {
            fprintf(stderr, "pds-audit: %s %s: error reading it: %s\n", opt,
                    tty_safe(p, path), strerror(errno));
            rc = EXIT_USAGE;
        }
        else if (n == 0) {
            break;
        }
    }
    if (!from_stdin)
        fclose(f);
    if (rc != EXIT_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    apr_pool_cleanup_register(p, buf, free_cleanup, apr_pool_cleanup_null);
    *pdata = buf;
    *plen = len;
    return EXIT_OK;
}

/* The headers of the last response in a `curl -D` file. */
typedef struct response_headers_t {
    int status;                 /* of the last response; 0 when not a number */
    const char *signature, *request_id, *agreement, *encoding;
    int n_signature, n_request_id, n_agreement;
} response_headers_t;

static int header_name_ok(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return 0;
    }
    return n > 0;
}

/* Takes one "Name: value" line of a response. */
static void take_header(response_headers_t *h, char *line, char *colon)
{
    char *v = colon + 1, *end = v + strlen(v);

    *colon = '\0';
    while (*v == ' ' || *v == '\t')
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (strcasecmp(line, "PDS-Signature") == 0) {
        h->signature = v;
        h->n_signature++;
    }
    else if (strcasecmp(line, "PDS-Request-Id") == 0) {
        h->request_id = v;
        h->n_request_id++;
    }
    else if (strcasecmp(line, "PDS-Agreement") == 0) {
        h->agreement = v;
        h->n_agreement++;
    }
    else if (strcasecmp(line, "Content-Encoding") == 0) {
        h->encoding = v;
    }
}

/* A `curl -D` file holds one block per response received (1xx responses,
 * redirects, a proxy's CONNECT): a status line "HTTP/...", header lines, an
 * empty line. The last block is the response whose body was saved; lines
 * between blocks (trailers) are not headers of it. */
static int parse_headers(response_headers_t *h, const char *path, char *data, size_t len,
                         apr_pool_t *p)
{
    size_t pos = 0;
    long lineno = 0;
    int in_block = 0, blocks = 0;

    memset(h, 0, sizeof(*h));
    while (pos < len) {
        char *line = data + pos, *nl = memchr(line, '\n', len - pos), *colon;
        size_t n = nl ? (size_t)(nl - line) : len - pos;

        pos += n + (nl != NULL);
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (memchr(line, '\0', n) != NULL) {
            fprintf(stderr, "pds-audit: --headers %s:%ld: a NUL byte: not response headers "
                    "as saved by curl -D\n", tty_safe(p, path), lineno);
            return EXIT_USAGE;
        }
        line[n] = '\0';
        if (!in_block) {
            if (strncmp(line, "HTTP/", 5) == 0) {
                const char *sp = strchr(line, ' ');
                memset(h, 0, sizeof(*h));
                h->status = sp != NULL ? atoi(sp + 1) : 0;
                in_block = 1;
                blocks++;
            }
            continue;
        }
        if (n == 0) {
            in_block = 0;
            continue;
        }
        colon = strchr(line, ':');
        if (colon == NULL || !header_name_ok(line, (size_t)(colon - line))) {
            fprintf(stderr, "pds-audit: --headers %s:%ld: not a header line (Name: value)%s\n",
                    tty_safe(p, path), lineno, line[0] == ' ' || line[0] == '\t'
                    ? "; folded header lines are not accepted" : "");
            return EXIT_USAGE;
        }
        take_header(h, line, colon);
    }
    if (blocks == 0) {
        fprintf(stderr, "pds-audit: --headers %s holds no response headers (no status line "
                "HTTP/...): save them with curl -D FILE\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    if (in_block) {
        fprintf(stderr, "pds-audit: --headers %s ends inside the headers of a response (no "
                "empty line after them): the file was cut short\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- JWK to key */

static const char *const jwk_private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

/* A public JWK as a key (lib: pds_key_from_jwk). Messages name the JWKS and kid. */
static int jwk_to_key(pds_key_t **pkey, json_t *jwk, const char *path, const char *kid,
                      apr_pool_t *p)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_key_from_jwk(pkey, p, jwk, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --jwks %s: the key with kid %s: %s\n", tty_safe(p, path),
                tty_safe(p, kid), tty_safe(p, err.text));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The JWKS's "keys"; a document holding private key material is refused as
 * a whole: it must not have been published. */
static int jwks_load(json_t **pkeys, const char *path, apr_pool_t *p)
{
    json_t *doc, *keys, *jwk;
    json_error_t jerr;
    char *data;
    size_t len, i;
    int k;

    if (read_all(&data, &len, "--jwks", path, MAX_SMALL_FILE, p) != EXIT_OK)
        return EXIT_USAGE;
    doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "pds-audit: --jwks %s: not JSON (%s, line %d)\n", tty_safe(p, path),
                tty_safe(p, jerr.text), jerr.line);
        return EXIT_USAGE;
    }
    apr_pool_cleanup_register(p, doc, json_pool_cleanup, apr_pool_cleanup_null);
    keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        fprintf(stderr, "pds-audit: --jwks %s: not a JWKS (a JSON object with a \"keys\" "
                "array)\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    json_array_foreach(keys, i, jwk) {
        if (!json_is_object(jwk)) {
            fprintf(stderr, "pds-audit: --jwks %s: key %lu is not a JSON object\n",
                    tty_safe(p, path), (unsigned long)i + 1);
            return EXIT_USAGE;
        }
        for (k = 0; jwk_private_members[k] != NULL; k++) {
            if (json_object_get(jwk, jwk_private_members[k]) != NULL) {
                fprintf(stderr, "pds-audit: --jwks %s: key %lu (kid %s) holds private key "
                        "material (\"%s\"): a JWKS for verifying holds public keys only; "
                        "refusing it (and that key is no longer secret)\n",
                        tty_safe(p, path), (unsigned long)i + 1,
                        tty_or_dash(p, str_member(jwk, "kid")), jwk_private_members[k]);
                return EXIT_USAGE;
            }
        }
    }
    *pkeys = keys;
    return EXIT_OK;
}

/* ---- the signature */

typedef struct response_sig_t {
    const char *alg, *typ, *kid, *request_id, *agreement;
    apr_int64_t iat;
} response_sig_t;

static const char *sig_string(json_t *header, const char *name, const char **out,
                              apr_pool_t *p)
{
    json_t *v = json_object_get(header, name);

    if (!json_is_string(v) || json_string_length(v) == 0
        || strlen(json_string_value(v)) != json_string_length(v))
        return apr_psprintf(p, "the protected header has no \"%s\" (a non-empty string)",
                            name);
    *out = json_string_value(v);
    return NULL;
}

/* Decodes the protected header of "<protected>..<signature>" without
 * trusting it: NULL when well formed, else why not. */
static const char *parse_signature(response_sig_t *s, const char *compact, apr_pool_t *p)
{
    const char *dots = strstr(compact, ".."), *why;
    unsigned char *raw;
    apr_size_t rawlen;
    json_t *header, *iat, *typ;

    memset(s, 0, sizeof(*s));
    if (strlen(compact) > MAX_SIGNATURE)
        return apr_psprintf(p, "longer than %d bytes", MAX_SIGNATURE);
    if (dots == NULL || dots == compact || dots[2] == '\0' || strchr(dots + 2, '.') != NULL
        || memchr(compact, '.', (size_t)(dots - compact)) != NULL)
        return "not <protected>..<signature> (a JWS with a detached payload, RFC 7515 "
               "appendix F)";
    if (pds_base64url_decode(&raw, &rawlen, p, compact, (apr_size_t)(dots - compact))
        != APR_SUCCESS)
        return "the protected header is not base64url without padding";
    header = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(header)) {
        json_decref(header);
        return "the protected header is not a JSON object (or repeats a member)";
    }
    apr_pool_cleanup_register(p, header, json_pool_cleanup, apr_pool_cleanup_null);
    if ((why = sig_string(header, "alg", &s->alg, p)) != NULL
        || (why = sig_string(header, "kid", &s->kid, p)) != NULL
        || (why = sig_string(header, "pds_request_id", &s->request_id, p)) != NULL
        || (why = sig_string(header, "pds_agreement", &s->agreement, p)) != NULL)
        return why;
    if (json_object_get(header, "crit") != NULL)
        return "the protected header has \"crit\": no extension is understood here";
    iat = json_object_get(header, "iat");
    if (!json_is_integer(iat) || json_integer_value(iat) < 0
        || json_integer_value(iat) > MAX_IAT)
        return "the protected header has no \"iat\" (seconds since 1970, an integer)";
    s->iat = (apr_int64_t)json_integer_value(iat);
    typ = json_object_get(header, "typ");
    s->typ = json_is_string(typ) ? json_string_value(typ) : NULL;
    return NULL;
}

static int response_problem(const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* NOT VERIFIED: CODE: WHY on standard output, as verify reports its lines. */
static int response_problem(const char *code, const char *fmt, ...)
{
    va_list ap;

    printf("NOT VERIFIED: %s: ", code);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return EXIT_PROBLEM;
}

/* The key the signature names: from the JWKS by kid, or the one given,
 * whose RFC 7638 thumbprint (the gateway's kid) must be the kid. */
static int response_key(pds_key_t **pkey, const options_t *o, json_t *jwks,
                        pds_key_t *given, const response_sig_t *s, apr_pool_t *p)
{
    json_t *jwk, *found = NULL, *mine;
    const char *thumb;
    size_t i;
    int rc;

    if (given == NULL) {
        json_array_foreach(jwks, i, jwk) {
            const char *kid = str_member(jwk, "kid");
            if (found == NULL && kid != NULL && strcmp(kid, s->kid) == 0)
                found = jwk;
        }
        if (found == NULL)
            return response_problem("unknown-key", "the signature names key %s, which is "
                                    "not in %s (%lu key(s)): signed with another key, or "
                                    "the JWKS is out of date", tty_safe(p, s->kid),
                                    tty_safe(p, o->jwks),
                                    (unsigned long)json_array_size(jwks));
        if ((rc = jwk_to_key(&given, found, o->jwks, s->kid, p)) != EXIT_OK)
            return rc;
    }
    mine = pds_key_public_jwk(given, p);
    thumb = mine ? apr_pstrdup(p, str_member(mine, "kid")) : NULL;
    json_decref(mine);
    if (thumb == NULL) {
        fprintf(stderr, "pds-audit: cannot compute the key's thumbprint\n");
        return EXIT_USAGE;
    }
    if (o->jwks != NULL && strcmp(thumb, s->kid) != 0) {
        fprintf(stderr, "pds-audit: --jwks %s: the key listed with kid %s is key %s (its "
                "RFC 7638 thumbprint): the JWKS is mislabelled\n", tty_safe(p, o->jwks),
                tty_safe(p, s->kid), thumb);
        return EXIT_USAGE;
    }
    if (strcmp(thumb, s->kid) != 0)
        return response_problem("wrong-key", "the signature names key %s; --public-key %s "
                                "is key %s", tty_safe(p, s->kid),
                                tty_safe(p, o->public_key), thumb);
    *pkey = given;
    return EXIT_OK;
}

/* pds_jws_verify_detached over the body, its codes told apart. */
static int response_signature(const response_headers_t *h, const response_sig_t *s,
                              const pds_key_t *key, const char *body, size_t blen,
                              apr_pool_t *p)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_jws_verify_detached(NULL, p, h->signature, strlen(h->signature),
                                (const unsigned char *)body, blen, key, &err) == APR_SUCCESS)
        return EXIT_OK;
    if (strcmp(err.code, "alg-mismatch") == 0)
        return response_problem("alg-mismatch", "the signature says alg %s; key %s "
                                "verifies %s only", tty_safe(p, s->alg), tty_safe(p, s->kid),
                                pds_key_alg(key));
    if (strcmp(err.code, "bad-signature") == 0)
        return response_problem("bad-signature", "the signature does not verify over the "
                                "body (%lu bytes) with key %s: the body or the signed header "
                                "was changed%s", (unsigned long)blen, tty_safe(p, s->kid),
                                h->encoding == NULL ? ""
                                : apr_psprintf(p, " (or the body was saved still encoded: "
                                               "the response was Content-Encoding %s and "
                                               "the signature covers the decoded body; "
                                               "save it with curl --compressed)",
                                               tty_safe(p, h->encoding)));
    return response_problem("malformed-signature", "PDS-Signature: %s",
                            tty_safe(p, err.text));
}

/* The id part of "id;v=N". */
static int agreement_matches(const char *want, const char *have)
{
    size_t n = strlen(want);

    if (strstr(want, ";v=") != NULL)
        return strcmp(want, have) == 0;
    return strncmp(want, have, n) == 0 && strncmp(have + n, ";v=", 3) == 0;
}

/* What the verified header binds, against the response's own headers and
 * what the receiver expected. */
static int response_bindings(const options_t *o, const response_headers_t *h,
                             const response_sig_t *s, apr_pool_t *p)
{
    if (h->n_request_id != 1)
        return response_problem("request-id-mismatch", "the signature names request %s; "
                                "the response has %s", tty_safe(p, s->request_id),
                                h->n_request_id ? apr_psprintf(p, "%d PDS-Request-Id headers",
                                                               h->n_request_id)
                                                : "no PDS-Request-Id header");
    if (strcmp(h->request_id, s->request_id) != 0)
        return response_problem("request-id-mismatch", "the signature names request %s; "
                                "the response's PDS-Request-Id is %s: the signature was "
                                "taken from another response", tty_safe(p, s->request_id),
                                tty_safe(p, h->request_id));
    if (h->n_agreement != 1)
        return response_problem("agreement-mismatch", "the signature names agreement %s; "
                                "the response has %s", tty_safe(p, s->agreement),
                                h->n_agreement ? apr_psprintf(p, "%d PDS-Agreement headers",
                                                              h->n_agreement)
                                               : "no PDS-Agreement header");
    if (strcmp(h->agreement, s->agreement) != 0)
        return response_problem("agreement-mismatch", "the signature names agreement %s; "
                                "the response's PDS-Agreement is %s",
                                tty_safe(p, s->agreement), tty_safe(p, h->agreement));
    if (o->expect_request_id != NULL && strcmp(o->expect_request_id, s->request_id) != 0)
        return response_problem("unexpected-request-id", "the response is for request %s, "
                                "not %s", tty_safe(p, s->request_id),
                                tty_safe(p, o->expect_request_id));
    if (o->expect_agreement != NULL && !agreement_matches(o->expect_agreement, s->agreement))
        return response_problem("unexpected-agreement", "the response was released under "
                                "agreement %s, not %s", tty_safe(p, s->agreement),
                                tty_safe(p, o->expect_agreement));
    return EXIT_OK;
}

/* A JWS "iat": seconds since 1970 as RFC 3339, or as the number itself
 * where RFC 3339 cannot write it (before year 0000, after 9999). */
static const char *rfc3339_utc(apr_int64_t secs, apr_pool_t *p)
{
    const char *t = NULL;

    if (secs > -APR_INT64_C(62167219201) && secs < APR_INT64_C(253402300800))
        t = pds_time_format(p, apr_time_from_sec(secs));
    return t ? t : apr_psprintf(p, "%" APR_INT64_T_FMT " (seconds since 1970)", secs);
}

/* Everything the command reads, read before any check: a file that cannot be
 * read, or a key that cannot be used, is exit 2 whatever the response holds. */
static int response_inputs(response_headers_t *h, char **body, size_t *blen,
                           json_t **jwks, pds_key_t **given, const options_t *o,
                           apr_pool_t *p)
{
    pds_error_t err;
    char *hdata;
    size_t hlen;

    if (read_all(&hdata, &hlen, "--headers", o->headers, MAX_SMALL_FILE, p) != EXIT_OK
        || parse_headers(h, o->headers, hdata, hlen, p) != EXIT_OK
        || read_all(body, blen, "--body", o->body, MAX_BODY, p) != EXIT_OK)
        return EXIT_USAGE;
    pds_error_clear(&err);
    if (o->public_key != NULL
        && pds_key_load_file(given, p, o->public_key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --public-key: %s\n", err.text);
        return EXIT_USAGE;
    }
    if (o->jwks != NULL)
        return jwks_load(jwks, o->jwks, p);
    return EXIT_OK;
}

static int cmd_verify_response(options_t *o, apr_pool_t *p)
{
    response_headers_t h;
    response_sig_t s;
    pds_key_t *given = NULL, *key = NULL;
    json_t *jwks = NULL;
    const char *why;
    char *body;
    size_t blen;
    int rc;

    if ((rc = response_inputs(&h, &body, &blen, &jwks, &given, o, p)) != EXIT_OK)
        return rc;
    if (h.n_signature == 0)
        return response_problem("no-signature", "the response (status %d) has no "
                                "PDS-Signature header: only bodies a gateway released from a "
                                "location with PDSSignResponses on are signed, refusals "
                                "never", h.status);
    if (h.n_signature > 1)
        return response_problem("duplicate-signature", "the response has %d PDS-Signature "
                                "headers; a gateway sends one", h.n_signature);
    if ((why = parse_signature(&s, h.signature, p)) != NULL)
        return response_problem("malformed-signature", "PDS-Signature: %s", why);
    if (s.typ == NULL || strcmp(s.typ, RESPONSE_TYP) != 0)
        return response_problem("wrong-type", "the signature's typ is %s, not "
                                RESPONSE_TYP ": it was not made for a response",
                                s.typ ? tty_safe(p, s.typ) : "missing");
    if ((rc = response_key(&key, o, jwks, given, &s, p)) != EXIT_OK
        || (rc = response_signature(&h, &s, key, body, blen, p)) != EXIT_OK
        || (rc = response_bindings(o, &h, &s, p)) != EXIT_OK)
        return rc;
    printf("signature: valid (%s, kid %s)\n", pds_key_alg(key), tty_safe(p, s.kid));
    printf("request: %s\n", tty_safe(p, s.request_id));
    printf("agreement: %s\n", tty_safe(p, s.agreement));
    printf("signed at: %s\n", rfc3339_utc(s.iat, p));
    return EXIT_OK;
}

/* -------------------------------------------------------------------- main */

static const struct {
    const char *name;
    int cmd;
    int (*run)(options_t *, apr_pool_t *);
    const char *help;
} commands[] = {
    { "keygen", CMD_KEYGEN, cmd_keygen, help_keygen },
    { "verify", CMD_VERIFY, cmd_verify, help_verify },
    { "query", CMD_QUERY, cmd_query, help_query },
    { "report", CMD_REPORT, cmd_report, help_report },
    { "verify-response", CMD_VERIFY_RESPONSE, cmd_verify_response, help_verify_response },
};

static int wants_help(int argc, char **argv)
{
    int i;

    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

/* Output that could not be written (a full disk, a closed pipe) is an error. */
static int finish_output(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "pds-audit: cannot write the output: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}

static int run_command(size_t c, int argc, char **argv)
{
    apr_pool_t *p;
    options_t o;
    int rc;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fputs("pds-audit: out of memory\n", stderr);
        return EXIT_USAGE;
    }
    memset(&o, 0, sizeof(o));
    o.cmd = commands[c].cmd;
    o.cmd_name = commands[c].name;
    rc = parse_options(&o, argc, argv, p);
    if (rc == EXIT_OK)
        rc = check_options(&o);
    if (rc == EXIT_OK)
        rc = finish_output(commands[c].run(&o, p));
    apr_pool_destroy(p);
    return rc;
}

int main(int argc, char **argv)
{
    size_t c;
    int rc;

    if (argc < 2) {
        fputs(help_main, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        fputs(help_main, stdout);
        return finish_output(EXIT_OK);
    }
    for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[1], commands[c].name) == 0)
            break;
    }
    if (c == sizeof(commands) / sizeof(commands[0]))
        return usage_error(NULL, "unknown command %s (keygen, verify, query, report or "
                           "verify-response)", argv[1]);
    if (wants_help(argc - 2, argv + 2)) {
        fputs(commands[c].help, stdout);
        return finish_output(EXIT_OK);
    }
    if (apr_initialize() != APR_SUCCESS) {
        fputs("pds-audit: cannot initialise APR\n", stderr);
        return EXIT_USAGE;
    }
    rc = run_command(c, argc - 2, argv + 2);
    apr_terminate();
    return rc;
}
