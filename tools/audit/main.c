/* pds-audit main.c: the security team's tool for mod_pds audit logs, and the
 * receivers' check of a response the gateway signed.
 *
 *   pds-audit keygen --hmac FILE | --signing FILE [--public FILE]
 *   pds-audit verify [--key F] [--public-key F] [--anchor SEQ:MAC] [--expect-last-seq N]
 *                    [--series] [--nodes] FILE...
 *   pds-audit query [filters] [--format table|jsonl|csv] [--series] [--nodes] FILE...
 *   pds-audit report [--subject S [--pseudonym-key F]] [filters]
 *                    [--format text|json|html] [--series] [--nodes] FILE...
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
 *
 * This file is the command table, usage and the run of one command; each
 * command is its own cmd_*.c (pds_audit_tool.h says what they share).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>

#include "pds_audit_tool.h"

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

/* The commands, in the order help_main lists them. */
static const audit_cmd_t *const commands[] = {
    &audit_cmd_keygen,
    &audit_cmd_verify,
    &audit_cmd_query,
    &audit_cmd_report,
    &audit_cmd_verify_response,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

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

static int run_command(const audit_cmd_t *cmd, int argc, char **argv)
{
    apr_pool_t *p;
    options_t o;
    int rc;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fputs("pds-audit: out of memory\n", stderr);
        return EXIT_USAGE;
    }
    memset(&o, 0, sizeof(o));
    o.cmd = cmd->cmd;
    o.cmd_name = cmd->name;
    rc = parse_options(&o, argc, argv, p);
    if (rc == EXIT_OK)
        rc = cmd->check(&o);
    if (rc == EXIT_OK)
        rc = finish_output(cmd->run(&o, p));
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
    for (c = 0; c < N_COMMANDS; c++) {
        if (strcmp(argv[1], commands[c]->name) == 0)
            break;
    }
    if (c == N_COMMANDS)
        return usage_error(NULL, "unknown command %s (keygen, verify, query, report or "
                           "verify-response)", argv[1]);
    if (wants_help(argc - 2, argv + 2)) {
        fputs(commands[c]->help, stdout);
        return finish_output(EXIT_OK);
    }
    if (apr_initialize() != APR_SUCCESS) {
        fputs("pds-audit: cannot initialise APR\n", stderr);
        return EXIT_USAGE;
    }
    rc = run_command(commands[c], argc - 2, argv + 2);
    apr_terminate();
    return rc;
}
