/* options.c: pds-audit's options, one table for every command: each option
 * names the commands that take it; the checks shared by query and report. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_reason.h"
#include "pds_time.h"

#include "pds_audit_tool.h"

/* "YYYY-MM-DD" (returns 1) or an RFC 3339 date-time (returns 2), as
 * microseconds since the epoch, UTC; 0 when s is neither (lib/pds_time.h). */
static int parse_time(const char *s, apr_int64_t *usec)
{
    if (pds_time_parse_date(usec, s) == APR_SUCCESS)
        return 1;
    return pds_time_parse(usec, s) == APR_SUCCESS ? 2 : 0;
}

typedef struct option_spec_t {
    const char *name;
    int takes_value;
    size_t offset;
    int cmds;
    int repeats;                /* the commands that may be given it more than once */
    size_t list_offset;         /* ... which collect every value there */
} option_spec_t;

#define OPT(name, value, member, cmds) { name, value, offsetof(options_t, member), cmds, 0, 0 }
/* The first value in o->member, every value in o->list. */
#define OPT_LIST(name, member, list, cmds, rcmds) \
    { name, 1, offsetof(options_t, member), cmds, rcmds, offsetof(options_t, list) }
static const option_spec_t option_specs[] = {
    OPT("--hmac", 1, hmac_out, CMD_KEYGEN),
    OPT("--signing", 1, signing_out, CMD_KEYGEN),
    OPT("--public", 1, public_out, CMD_KEYGEN),
    OPT_LIST("--key", key, keys, CMD_VERIFY, CMD_VERIFY),
    OPT_LIST("--public-key", public_key, public_keys, CMD_VERIFY | CMD_VERIFY_RESPONSE,
             CMD_VERIFY),
    OPT("--expect-last-seq", 1, expect_last_seq, CMD_VERIFY),
    OPT("--anchor", 1, anchor, CMD_VERIFY),
    OPT("--series", 0, series, CMD_VERIFY | CMD_READ),
    OPT("--nodes", 0, nodes, CMD_VERIFY | CMD_READ),
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
    OPT("--node", 1, node, CMD_READ),
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
    const char **slot, *value;

    if (spec == NULL)
        return usage_error(o->cmd_name, "unknown option %s", tty_safe(p, name));
    if (!(spec->cmds & o->cmd))
        return usage_error(o->cmd_name, "%s does not take %s", o->cmd_name, name);
    slot = (const char **)(void *)((char *)o + spec->offset);
    if (*slot != NULL && !(spec->repeats & o->cmd))
        return usage_error(o->cmd_name, "%s is given twice", name);
    if (!spec->takes_value) {
        if (eq != NULL)
            return usage_error(o->cmd_name, "%s takes no value", name);
        *slot = "on";
        return EXIT_OK;
    }
    if (eq == NULL && *i + 1 >= argc)
        return usage_error(o->cmd_name, "%s needs a value", name);
    value = eq ? eq + 1 : argv[++*i];
    if (*value == '\0')
        return usage_error(o->cmd_name, "%s needs a non-empty value", name);
    if (*slot == NULL)
        *slot = value;
    if (spec->list_offset != 0) {
        apr_array_header_t *list =
            *(apr_array_header_t **)(void *)((char *)o + spec->list_offset);
        APR_ARRAY_PUSH(list, const char *) = value;
    }
    return EXIT_OK;
}

/* Options may come before or after the files; "--" ends the options. */
int parse_options(options_t *o, int argc, char **argv, apr_pool_t *p)
{
    int i, rc, only_files = 0;

    o->files = apr_array_make(p, 4, sizeof(const char *));
    o->keys = apr_array_make(p, 2, sizeof(const char *));
    o->public_keys = apr_array_make(p, 2, sizeof(const char *));
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

int check_files(options_t *o)
{
    int i, stdin_seen = 0;

    if (o->files->nelts == 0)
        return usage_error(o->cmd_name, "%s needs at least one log file", o->cmd_name);
    if (o->series != NULL && o->files->nelts != 1 && o->nodes == NULL)
        return usage_error(o->cmd_name, "--series takes exactly one file, the current log "
                           "(with --nodes, one per node)");
    for (i = 0; i < o->files->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(o->files, i, const char *), "-") == 0 && stdin_seen++)
            return usage_error(o->cmd_name, "standard input ('-') can be read once only");
    }
    if (o->series != NULL && stdin_seen)
        return usage_error(o->cmd_name, "--series needs a file name, not '-'");
    for (i = 0; o->series != NULL && i < o->files->nelts; i++) {
        const char *f = APR_ARRAY_IDX(o->files, i, const char *);
        if (f[strlen(f) - 1] == '/')
            return usage_error(o->cmd_name, "--series takes the current log's file name, "
                               "not a directory");
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

int check_read_options(options_t *o)
{
    int query = o->cmd == CMD_QUERY, rc;
    const char *f = o->format;

    if ((rc = check_files(o)) != EXIT_OK)
        return rc;
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
