/* cmd_verify.c: pds-audit verify, that a log is whole and unchanged: every
 * line's MAC, seq and prev, checkpoint signatures, the anchor and the end. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "pds_chain.h"
#include "pds_encode.h"
#include "pds_jws.h"

#include "pds_audit_tool.h"

static const char help_verify[] =
"usage: pds-audit verify [--key FILE]... [--public-key FILE]... [--anchor SEQ:MAC]\n"
"                        [--expect-last-seq N] FILE...\n"
"       pds-audit verify [--key FILE]... [--public-key FILE]... [--series] --nodes FILE...\n"
"       pds-audit verify [--key FILE]... [--public-key FILE]... [--anchor SEQ:MAC]\n"
"                        [--expect-last-seq N] --series FILE\n"
"\n"
"Checks every line: its MAC (with --key), that its seq follows the line before and\n"
"that its prev is the hash of the line before, and checkpoint signatures (with\n"
"--public-key). At least one of --key and --public-key is needed.\n"
"  --key FILE            the secret audit key (PDSAuditKey): every line is checked\n"
"  --public-key FILE     the checkpoint public key: the chain is checked up to the\n"
"                        last checkpoint; the summary says which seqs it covers\n"
"Give --key or --public-key more than once when keys were rotated over the files:\n"
"each file must be sealed with one audit key throughout (a key changes only with\n"
"the file), and each checkpoint signed by one of the public keys.\n"
"  --anchor SEQ:MAC      the seq and MAC of a line kept elsewhere (printed by an\n"
"                        earlier verify): the log must hold that line, and may\n"
"                        begin at it instead of at seq 1 (older files removed)\n"
"  --expect-last-seq N   fail unless the last seq is N (a value kept elsewhere, such\n"
"                        as a SIEM's): finds lines removed from the end\n"
"A log must begin at the chain's first line (seq 1) or at the anchor: lines\n"
"removed from its head fail as missing-head.\n"
"  --series              FILE is the current log: its rotated siblings FILE.* are\n"
"                        added and all are ordered by the seq of their first line\n"
"  --nodes               each FILE is another gateway node's log, its own chain\n"
"                        (with --series, each with its siblings): each is checked\n"
"                        on its own and reported with the node its records name,\n"
"                        then the overall result (no --anchor, --expect-last-seq)\n"
"Files are one chain, checked in the order given (oldest first); '-' is standard input.\n"
"The first bad line is printed as FILE:LINE: seq N: CODE: WHY, then a summary.\n"
"Exit status: 0 intact, 1 a check failed, 2 usage or read error.\n";

/* SEQ:MAC, as verify prints it: a seq of 1 or more, 64 hex digits. */
static int parse_anchor(options_t *o)
{
    const char *colon = strchr(o->anchor, ':');
    char *end;

    if (colon == NULL || !isdigit((unsigned char)*o->anchor) || strlen(colon + 1) != 64)
        return 0;
    errno = 0;
    o->anchor_seq = strtoull(o->anchor, &end, 10);
    if (end != colon || errno != 0 || o->anchor_seq == 0)
        return 0;
    return pds_hex_decode(o->anchor_mac, colon + 1, sizeof(o->anchor_mac)) == 0;
}

static int check_verify_options(options_t *o)
{
    char *end;

    if (o->anchor != NULL && !parse_anchor(o))
        return usage_error("verify", "--anchor takes SEQ:MAC, a seq and the 64 hex digits "
                           "of that line's mac, as verify prints them; not %s", o->anchor);

    if (o->nodes != NULL && (o->anchor != NULL || o->expect_last_seq != NULL))
        return usage_error("verify", "--anchor and --expect-last-seq are one chain's: "
                           "verify each node's log on its own to use them");
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

typedef struct file_span_t {
    const char *path;
    apr_uint64_t lines, first, last;
    char first_mac[65];                 /* of its first line: its anchor */
} file_span_t;

typedef struct verify_t {
    pds_chain_verifier_t *v;
    pds_chain_key_t *key;               /* the first --key, NULL without */
    pds_key_t *pub;                     /* the first --public-key, NULL without */
    pds_chain_key_t **keys;             /* every --key ... */
    pds_key_t **pubs;                   /* ... and --public-key */
    int nkeys, npubs;
    line_reader_t reader;
    apr_array_header_t *spans;          /* file_span_t, one per file read */
    apr_array_header_t *nodes;          /* const char *: the node names lines carry */
    apr_pool_t *p;
} verify_t;

/* Notes the node a verified line names (once per name). */
static void note_node(verify_t *vt)
{
    const char *name = line_node(vt->reader.line, vt->reader.len, vt->p);
    int i;

    for (i = 0; name != NULL && i < vt->nodes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(vt->nodes, i, const char *), name) == 0)
            return;
    }
    if (name != NULL)
        APR_ARRAY_PUSH(vt->nodes, const char *) = name;
}

/* A verifier with every key: one per chain (a node's log). */
static apr_status_t new_verifier(verify_t *vt, pds_error_t *err)
{
    apr_status_t rv = pds_chain_verifier_create(&vt->v, vt->p, vt->key, vt->pub, err);
    int i;

    for (i = 1; rv == APR_SUCCESS && i < vt->nkeys; i++)
        rv = pds_chain_verifier_add_key(vt->v, vt->keys[i], err);
    for (i = 1; rv == APR_SUCCESS && i < vt->npubs; i++)
        rv = pds_chain_verifier_add_public_key(vt->v, vt->pubs[i], err);
    return rv;
}

/* Every --key and --public-key (several when keys were rotated over the
 * series); the first of each also in vt->key and vt->pub for the summary. */
static int verify_load_keys(verify_t *vt, options_t *o)
{
    pds_error_t err;
    int i;

    vt->nkeys = o->keys->nelts;
    vt->npubs = o->public_keys->nelts;
    vt->keys = apr_pcalloc(vt->p, sizeof(*vt->keys) * (apr_size_t)(vt->nkeys + 1));
    vt->pubs = apr_pcalloc(vt->p, sizeof(*vt->pubs) * (apr_size_t)(vt->npubs + 1));
    pds_error_clear(&err);
    for (i = 0; i < vt->nkeys; i++) {
        const char *path = APR_ARRAY_IDX(o->keys, i, const char *);

        if (pds_chain_key_load(&vt->keys[i], vt->p, path, &err) != APR_SUCCESS) {
            fprintf(stderr, "pds-audit: --key %s: %s\n", tty_safe(vt->p, path), err.text);
            return EXIT_USAGE;
        }
    }
    for (i = 0; i < vt->npubs; i++) {
        if (pds_key_load_file(&vt->pubs[i], vt->p,
                              APR_ARRAY_IDX(o->public_keys, i, const char *), &err)
            != APR_SUCCESS) {
            fprintf(stderr, "pds-audit: --public-key: %s\n", err.text);
            return EXIT_USAGE;
        }
    }
    vt->key = vt->keys[0];
    vt->pub = vt->pubs[0];
    if (new_verifier(vt, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The first bad line: FILE:LINE: seq N: CODE: WHY (seq when the line has one). */
static void report_bad_line(verify_t *vt, const char *code, const char *why)
{
    line_reader_t *r = &vt->reader;
    apr_uint64_t seq = pds_chain_line_seq(r->line, r->len);

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
        if (rc == EXIT_OK)
            note_node(vt);
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
    if (s.key_changes > 0)
        printf("audit key: changed %" APR_UINT64_T_FMT " time(s), each at the start of a "
               "file\n", s.key_changes);
    print_signature_coverage(vt, &s);
}

/* One chain, its files oldest first: checked, and its summary printed. */
static int verify_chain(verify_t *vt, const options_t *o, const apr_array_header_t *files)
{
    pds_chain_summary_t sum;
    int i, rc;

    if (o->anchor != NULL)
        pds_chain_verifier_anchor(vt->v, o->anchor_seq, o->anchor_mac);
    for (i = 0, rc = EXIT_OK; i < files->nelts && rc == EXIT_OK; i++)
        rc = verify_file(vt, APR_ARRAY_IDX(files, i, const char *), i);
    if (rc == EXIT_USAGE)
        return rc;
    if (rc == EXIT_OK)
        rc = verify_finish(vt);
    pds_chain_verifier_summary(vt->v, &sum);
    if (rc == EXIT_OK)
        rc = verify_expected_last(o, &sum);
    print_verify_summary(vt, rc);
    return rc;
}

/* "gw1" or "gw1,gw1-old" (renamed mid-chain); only verified lines count,
 * so a log whose first line fails names none */
static const char *node_names(const verify_t *vt)
{
    return vt->nodes->nelts > 0 ? apr_array_pstrcat(vt->p, vt->nodes, ',')
                                : "(no verified line names a node)";
}

/* --nodes: each node's chain on its own, then the overall result. */
static int verify_nodes(verify_t *vt, const options_t *o, const apr_array_header_t *lists)
{
    apr_array_header_t *bad = apr_array_make(vt->p, 2, sizeof(const char *));
    apr_array_header_t *all = apr_array_make(vt->p, 4, sizeof(const char *));
    apr_hash_t *seen = apr_hash_make(vt->p);
    pds_error_t err;
    int i, rc, worst = EXIT_OK;

    for (i = 0; i < lists->nelts; i++) {
        const char *log = APR_ARRAY_IDX(o->files, i, const char *), *names, *other;

        printf("%snode log %s:\n", i > 0 ? "\n" : "", tty_safe(vt->p, log));
        pds_error_clear(&err);
        vt->spans = apr_array_make(vt->p, 4, sizeof(file_span_t));
        vt->nodes = apr_array_make(vt->p, 2, sizeof(const char *));
        if (i > 0 && new_verifier(vt, &err) != APR_SUCCESS) {
            fprintf(stderr, "pds-audit: %s\n", err.text);
            return EXIT_USAGE;
        }
        rc = verify_chain(vt, o, APR_ARRAY_IDX(lists, i, const apr_array_header_t *));
        names = node_names(vt);
        printf("node: %s\n", tty_safe(vt->p, names));
        if (vt->nodes->nelts > 0 && (other = apr_hash_get(seen, names, APR_HASH_KEY_STRING)))
            fprintf(stderr, "pds-audit: note: %s and %s both name node %s: give each "
                    "gateway its own PDSNodeName\n", tty_safe(vt->p, other),
                    tty_safe(vt->p, log), tty_safe(vt->p, names));
        apr_hash_set(seen, names, APR_HASH_KEY_STRING, log);
        APR_ARRAY_PUSH(all, const char *) = apr_psprintf(vt->p, "%s (%s)",
            tty_safe(vt->p, names), tty_safe(vt->p, log));
        if (rc != EXIT_OK)
            APR_ARRAY_PUSH(bad, const char *) = APR_ARRAY_IDX(all, all->nelts - 1,
                                                              const char *);
        if (rc > worst)
            worst = rc;
    }
    if (bad->nelts == 0)
        printf("\nall %d node logs intact: %s\n", lists->nelts,
               apr_array_pstrcat(vt->p, all, ' '));
    else
        printf("\nNOT INTACT: %d of %d node logs: %s\n", bad->nelts, lists->nelts,
               apr_array_pstrcat(vt->p, bad, ' '));
    return worst;
}

static int cmd_verify(options_t *o, apr_pool_t *p)
{
    apr_array_header_t *lists;
    verify_t vt;
    int rc;

    memset(&vt, 0, sizeof(vt));
    vt.p = p;
    vt.spans = apr_array_make(p, 4, sizeof(file_span_t));
    vt.nodes = apr_array_make(p, 2, sizeof(const char *));
    reader_init(&vt.reader, p);
    if ((rc = verify_load_keys(&vt, o)) != EXIT_OK
        || (rc = node_inputs(&lists, o, &vt.reader, p)) != EXIT_OK)
        return rc;
    if (o->nodes == NULL)
        return verify_chain(&vt, o, APR_ARRAY_IDX(lists, 0, const apr_array_header_t *));
    return verify_nodes(&vt, o, lists);
}

/* The files, then the keys and the anchor. */
static int check_verify(options_t *o)
{
    int rc = check_files(o);

    return rc != EXIT_OK ? rc : check_verify_options(o);
}

const audit_cmd_t audit_cmd_verify = {
    "verify", CMD_VERIFY, check_verify, cmd_verify, help_verify
};
