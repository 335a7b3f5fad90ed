/* pds-audit: the security team's tool for mod_pds audit logs.
 *
 *   pds-audit keygen --hmac FILE | --signing FILE [--public FILE]
 *   pds-audit verify [--key F] [--public-key F] [--expect-last-seq N] [--series] FILE...
 *   pds-audit query [filters] [--format table|jsonl|csv] FILE...
 *   pds-audit report [--subject S [--pseudonym-key F]] [--format text|json|html] FILE...
 *
 * Exit status: 0 success (verify: intact), 1 verify found a problem, 2 usage
 * or I/O error. Logs are streamed line by line; key material is never printed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pds_chain.h"
#include "pds_jws.h"

#define EXIT_OK       0
#define EXIT_PROBLEM  1
#define EXIT_USAGE    2
#define MAX_LINE      (1024 * 1024)

static const char usage_text[] =
"usage: pds-audit <command> [options] [FILE...]\n"
"\n"
"commands:\n"
"  keygen --hmac FILE                 write a new secret audit key (mode 0600)\n"
"  keygen --signing FILE [--public F] write a new Ed25519 checkpoint signing key\n"
"  verify [--key F] [--public-key F] [--expect-last-seq N] [--series] FILE...\n"
"                                     check the chain, MACs and checkpoint signatures\n"
"  query [filters] [--format table|jsonl|csv] FILE...\n"
"        filters: --subject S [--pseudonym-key F] --organisation O --agreement A\n"
"                 --purpose P --decision allow|deny --reason R --since T --until T\n"
"  report [--format text|json|html] FILE...          totals per agreement and organisation\n"
"  report --subject S [--pseudonym-key F] [--format text|json|html] FILE...\n"
"                                     a person's access report\n"
"\n"
"Files are read in the order given (oldest first); with --series, FILE names the\n"
"current log and its rotated siblings (FILE.*) are added, ordered by their first seq.\n"
"Exit status: 0 ok, 1 the log failed verification, 2 usage or I/O error.\n"
"See pds-audit(1).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pds-audit: ");
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\nTry 'pds-audit --help'.\n");
    return EXIT_USAGE;
}

/* --- options ------------------------------------------------------------------ */

typedef struct options_t {
    const char *hmac_out, *signing_out, *public_out;
    const char *key, *public_key, *pseudonym_key;
    const char *subject, *organisation, *agreement, *purpose, *decision, *reason;
    const char *since, *until, *format;
    const char *expect_last_seq;
    int series;
    apr_array_header_t *files;
} options_t;

static int parse_options(options_t *o, int argc, char **argv, apr_pool_t *p)
{
    static const struct { const char *name; size_t off; } valued[] = {
        { "--hmac", offsetof(options_t, hmac_out) },
        { "--signing", offsetof(options_t, signing_out) },
        { "--public", offsetof(options_t, public_out) },
        { "--key", offsetof(options_t, key) },
        { "--public-key", offsetof(options_t, public_key) },
        { "--pseudonym-key", offsetof(options_t, pseudonym_key) },
        { "--subject", offsetof(options_t, subject) },
        { "--organisation", offsetof(options_t, organisation) },
        { "--agreement", offsetof(options_t, agreement) },
        { "--purpose", offsetof(options_t, purpose) },
        { "--decision", offsetof(options_t, decision) },
        { "--reason", offsetof(options_t, reason) },
        { "--since", offsetof(options_t, since) },
        { "--until", offsetof(options_t, until) },
        { "--format", offsetof(options_t, format) },
        { "--expect-last-seq", offsetof(options_t, expect_last_seq) },
    };
    int i;
    size_t k;

    memset(o, 0, sizeof(*o));
    o->files = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--series") == 0) {
            o->series = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
            if (strcmp(a, "--") == 0)
                i++;
            for (; i < argc; i++)
                APR_ARRAY_PUSH(o->files, const char *) = argv[i];
            break;
        }
        for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
            if (strcmp(a, valued[k].name) == 0)
                break;
        }
        if (k == sizeof(valued) / sizeof(valued[0]))
            return usage_error("unknown option %s", a);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", a);
        *(const char **)((char *)o + valued[k].off) = argv[++i];
    }
    return EXIT_OK;
}

/* --- reading logs -------------------------------------------------------------- */

typedef int (*line_cb)(void *baton, const char *file, long lineno, const char *line,
                       size_t len);

/* Streams the lines of one file (without "\n"). Returns EXIT_USAGE on I/O
 * problems; *truncated tells whether the last line lacked its "\n". */
static int each_line(const char *path, line_cb cb, void *baton, int *truncated)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = EXIT_OK;

    *truncated = 0;
    if (f == NULL) {
        fprintf(stderr, "pds-audit: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] != '\n') {
            /* A write cut short: not a record; the caller says so. */
            *truncated = 1;
            break;
        }
        line[--n] = '\0';
        if (n > MAX_LINE) {
            fprintf(stderr, "pds-audit: %s:%ld: line longer than %d bytes\n", path, lineno,
                    MAX_LINE);
            rc = EXIT_PROBLEM;
            break;
        }
        rc = cb(baton, path, lineno, line, (size_t)n);
        if (rc != EXIT_OK)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "pds-audit: error reading %s\n", path);
        rc = EXIT_USAGE;
    }
    free(line);
    fclose(f);
    return rc;
}

static long long first_seq_of(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    long long seq = -1;

    if (f != NULL && getline(&line, &cap, f) > 0) {
        json_t *doc = json_loads(line, 0, NULL);
        if (json_is_integer(json_object_get(doc, "seq")))
            seq = json_integer_value(json_object_get(doc, "seq"));
        json_decref(doc);
    }
    free(line);
    if (f != NULL)
        fclose(f);
    return seq;
}

typedef struct series_entry_t {
    const char *path;
    long long first;
} series_entry_t;

static int by_first_seq(const void *a, const void *b)
{
    const series_entry_t *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* FILE plus its rotated siblings FILE.*, ordered by the seq they start at. */
static apr_array_header_t *expand_series(const char *current, apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 8, sizeof(series_entry_t));
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(const char *));
    const char *slash = strrchr(current, '/');
    const char *dir = slash ? apr_pstrndup(p, current, slash - current + 1) : "./";
    const char *base = slash ? slash + 1 : current;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *e;
    series_entry_t *se;
    int i;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, blen) != 0
            || (e->d_name[blen] != '\0' && e->d_name[blen] != '.'))
            continue;
        se = apr_array_push(entries);
        se->path = apr_pstrcat(p, slash ? dir : "", e->d_name, NULL);
        se->first = first_seq_of(se->path);
    }
    if (d != NULL)
        closedir(d);
    qsort(entries->elts, entries->nelts, sizeof(series_entry_t), by_first_seq);
    for (i = 0; i < entries->nelts; i++) {
        se = &APR_ARRAY_IDX(entries, i, series_entry_t);
        if (se->first >= 0)
            APR_ARRAY_PUSH(out, const char *) = se->path;
    }
    return out;
}

static apr_array_header_t *input_files(options_t *o, apr_pool_t *p)
{
    if (o->series && o->files->nelts == 1)
        return expand_series(APR_ARRAY_IDX(o->files, 0, const char *), p);
    return o->files;
}

/* --- keygen ----------------------------------------------------------------------- */

static int write_new_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    ssize_t n;

    if (fd < 0) {
        fprintf(stderr, "pds-audit: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (refusing to overwrite a key)" : "");
        return EXIT_USAGE;
    }
    n = write(fd, data, len);
    if (n != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "pds-audit: cannot write %s\n", path);
        unlink(path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static char *pem_of(EVP_PKEY *key, int private_part, size_t *plen, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
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

static int cmd_keygen(options_t *o, apr_pool_t *p)
{
    pds_error_t err;

    if ((o->hmac_out == NULL) == (o->signing_out == NULL))
        return usage_error("keygen needs exactly one of --hmac FILE or --signing FILE%s", NULL);
    if (o->hmac_out != NULL) {
        char *hex;
        int rc;

        pds_error_clear(&err);
        if (pds_chain_key_generate(&hex, p, &err) != APR_SUCCESS) {
            fprintf(stderr, "pds-audit: %s\n", err.text);
            return EXIT_USAGE;
        }
        rc = write_new_file(o->hmac_out, hex, strlen(hex), 0600);
        OPENSSL_cleanse(hex, strlen(hex));
        if (rc == EXIT_OK)
            printf("wrote a new audit key to %s (mode 0600): use it with PDSAuditKey\n",
                   o->hmac_out);
        return rc;
    }
    else {
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
            fprintf(stderr, "pds-audit: cannot encode the key\n");
            return EXIT_USAGE;
        }
        rc = write_new_file(o->signing_out, priv, plen, 0600);
        OPENSSL_cleanse(priv, plen);
        if (rc == EXIT_OK && o->public_out != NULL)
            rc = write_new_file(o->public_out, pub, publen, 0644);
        if (rc == EXIT_OK)
            printf("wrote a new Ed25519 signing key to %s (mode 0600)%s%s: use it with "
                   "PDSAuditSigningKey\n", o->signing_out,
                   o->public_out ? " and its public key to " : "",
                   o->public_out ? o->public_out : "");
        return rc;
    }
}

/* --- verify ------------------------------------------------------------------------ */

typedef struct verify_state_t {
    pds_chain_verifier_t *v;
    int bad;
} verify_state_t;

static int verify_cb(void *baton, const char *file, long lineno, const char *line,
                     size_t len)
{
    verify_state_t *vs = baton;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_chain_verify_line(vs->v, line, len, &err) != APR_SUCCESS) {
        json_t *doc = json_loadb(line, len, 0, NULL);
        json_t *seq = json_object_get(doc, "seq");

        if (json_is_integer(seq))
            printf("%s:%ld: seq %" JSON_INTEGER_FORMAT ": %s: %s\n", file, lineno,
                   json_integer_value(seq), err.code, err.text);
        else
            printf("%s:%ld: %s: %s\n", file, lineno, err.code, err.text);
        json_decref(doc);
        vs->bad = 1;
        return EXIT_PROBLEM;
    }
    return EXIT_OK;
}

static int cmd_verify(options_t *o, apr_pool_t *p)
{
    apr_array_header_t *files = input_files(o, p);
    pds_chain_key_t *key = NULL;
    pds_key_t *pub = NULL;
    pds_chain_summary_t sum;
    verify_state_t vs;
    pds_error_t err;
    int i, rc = EXIT_OK, truncated;

    if (files->nelts == 0)
        return usage_error("verify needs at least one log file%s", NULL);
    if (o->key == NULL && o->public_key == NULL)
        return usage_error("verify needs --key (the audit key) or --public-key (the "
                           "checkpoint public key), or both%s", NULL);
    pds_error_clear(&err);
    if (o->key != NULL && pds_chain_key_load(&key, p, o->key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s: %s\n", o->key, err.text);
        return EXIT_USAGE;
    }
    if (o->public_key != NULL
        && pds_key_load_file(&pub, p, o->public_key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    memset(&vs, 0, sizeof(vs));
    if (pds_chain_verifier_create(&vs.v, p, key, pub, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    for (i = 0; i < files->nelts && rc == EXIT_OK; i++) {
        const char *f = APR_ARRAY_IDX(files, i, const char *);

        if (i > 0)
            pds_chain_verifier_next_file(vs.v);
        rc = each_line(f, verify_cb, &vs, &truncated);
        if (rc == EXIT_OK && truncated) {
            printf("%s: truncated last line (a write was cut short or the file was cut)\n", f);
            rc = EXIT_PROBLEM;
        }
    }
    pds_chain_verifier_summary(vs.v, &sum);
    if (rc == EXIT_OK && o->expect_last_seq != NULL) {
        char *end;
        unsigned long long want = strtoull(o->expect_last_seq, &end, 10);

        if (*o->expect_last_seq == '\0' || *end != '\0')
            return usage_error("--expect-last-seq takes a number, not %s", o->expect_last_seq);
        if (sum.last_seq != want) {
            printf("last seq is %" APR_UINT64_T_FMT ", expected %llu: records are missing "
                   "at the end (or the log went on)\n", sum.last_seq, want);
            rc = EXIT_PROBLEM;
        }
    }
    printf("%s: %d file(s), %" APR_UINT64_T_FMT " line(s), seq %" APR_UINT64_T_FMT
           "..%" APR_UINT64_T_FMT "%s; MACs %s; %" APR_UINT64_T_FMT
           " checkpoint(s)%s; lines covered by a verified signature: up to seq %"
           APR_UINT64_T_FMT "\n",
           rc == EXIT_OK ? "intact" : "NOT INTACT", files->nelts, sum.lines, sum.first_seq,
           sum.last_seq, sum.starts_mid_chain ? " (starts after an earlier file)" : "",
           key ? "checked" : "not checked (no --key)", sum.checkpoints,
           pub ? "" : " (signatures not checked: no --public-key)", sum.last_checkpoint_seq);
    return rc == EXIT_USAGE ? EXIT_USAGE : rc;
}

/* --- records -------------------------------------------------------------------------- */

typedef struct filter_t {
    options_t *o;
    const char *subject;        /* as it appears in the log */
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

static int record_selected(const filter_t *f, json_t *rec)
{
    const options_t *o = f->o;
    const char *time = str_member(rec, "time");

    if (json_object_get(rec, "type") != NULL)
        return 0;               /* checkpoints and file starts are not decisions */
    if (!matches(f->subject, str_member(rec, "subject"))
        || !matches(o->organisation, str_member(rec, "organisation"))
        || !matches(o->agreement, str_member(rec, "agreement"))
        || !matches(o->purpose, str_member(rec, "purpose"))
        || !matches(o->decision, str_member(rec, "decision"))
        || !matches(o->reason, str_member(rec, "reason")))
        return 0;
    if (o->since != NULL && (time == NULL || strncmp(time, o->since, strlen(o->since)) < 0))
        return 0;
    if (o->until != NULL && (time == NULL || strncmp(time, o->until, strlen(o->until)) > 0))
        return 0;
    return 1;
}

static int setup_filter(filter_t *f, options_t *o, apr_pool_t *p)
{
    pds_error_t err;
    pds_chain_key_t *key;

    f->o = o;
    f->subject = o->subject;
    if (o->pseudonym_key != NULL) {
        if (o->subject == NULL)
            return usage_error("--pseudonym-key goes with --subject%s", NULL);
        pds_error_clear(&err);
        if (pds_chain_key_load(&key, p, o->pseudonym_key, &err) != APR_SUCCESS) {
            fprintf(stderr, "pds-audit: %s: %s\n", o->pseudonym_key, err.text);
            return EXIT_USAGE;
        }
        f->subject = pds_chain_pseudonym(p, key, o->subject);
    }
    return EXIT_OK;
}

typedef int (*record_cb)(void *baton, json_t *rec, const char *line, size_t len);

typedef struct scan_t {
    filter_t *f;
    record_cb cb;
    void *baton;
} scan_t;

static int scan_cb(void *baton, const char *file, long lineno, const char *line, size_t len)
{
    scan_t *s = baton;
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = EXIT_OK;

    if (!json_is_object(rec)) {
        fprintf(stderr, "pds-audit: %s:%ld: not a record (run pds-audit verify)\n", file,
                lineno);
        json_decref(rec);
        return EXIT_OK;
    }
    if (record_selected(s->f, rec))
        rc = s->cb(s->baton, rec, line, len);
    json_decref(rec);
    return rc;
}

static int scan(options_t *o, filter_t *f, record_cb cb, void *baton, apr_pool_t *p)
{
    apr_array_header_t *files = input_files(o, p);
    scan_t s = { f, cb, baton };
    int i, rc = EXIT_OK, truncated;

    if (files->nelts == 0)
        return usage_error("give at least one log file%s", NULL);
    for (i = 0; i < files->nelts && rc == EXIT_OK; i++) {
        const char *path = APR_ARRAY_IDX(files, i, const char *);

        rc = each_line(path, scan_cb, &s, &truncated);
        if (truncated)
            fprintf(stderr, "pds-audit: %s: the last line is incomplete and was skipped "
                    "(run pds-audit verify)\n", path);
    }
    return rc;
}

static const char *fields_joined(json_t *rec, const char *sep, apr_pool_t *p)
{
    json_t *fields = json_object_get(rec, "fields"), *v;
    const char *out = "";
    size_t i;

    json_array_foreach(fields, i, v) {
        if (json_is_string(v))
            out = apr_pstrcat(p, out, i ? sep : "", json_string_value(v), NULL);
    }
    return out;
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

/* --- query --------------------------------------------------------------------------------- */

typedef struct query_t {
    const char *format;
    apr_pool_t *p;
} query_t;

static void csv_field(const char *s, int last)
{
    const char *c;

    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") != NULL) {
        putchar('"');
        for (c = s; *c; c++) {
            if (*c == '"')
                putchar('"');
            putchar(*c);
        }
        putchar('"');
    }
    else {
        fputs(s, stdout);
    }
    fputs(last ? "\r\n" : ",", stdout);
}

static int query_cb(void *baton, json_t *rec, const char *line, size_t len)
{
    query_t *q = baton;
    json_t *status = json_object_get(rec, "status");
    char seq[32], st[16];

    snprintf(seq, sizeof(seq), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(rec, "seq")));
    snprintf(st, sizeof(st), "%" JSON_INTEGER_FORMAT, json_integer_value(status));
    if (strcmp(q->format, "jsonl") == 0) {
        fwrite(line, 1, len, stdout);
        putchar('\n');
    }
    else if (strcmp(q->format, "csv") == 0) {
        csv_field(str_member(rec, "time"), 0);
        csv_field(seq, 0);
        csv_field(str_member(rec, "request_id"), 0);
        csv_field(str_member(rec, "decision"), 0);
        csv_field(str_member(rec, "reason"), 0);
        csv_field(str_member(rec, "organisation"), 0);
        csv_field(str_member(rec, "agreement"), 0);
        csv_field(str_member(rec, "purpose"), 0);
        csv_field(str_member(rec, "subject"), 0);
        csv_field(str_member(rec, "path"), 0);
        csv_field(st, 0);
        csv_field(fields_joined(rec, ";", q->p), 1);
    }
    else {
        printf("%-27s %6s %-5s %-22s %-18s %-28s %-16s %-12s %3s %s\n",
               or_dash(str_member(rec, "time")), seq, or_dash(str_member(rec, "decision")),
               or_dash(str_member(rec, "reason")), or_dash(str_member(rec, "organisation")),
               or_dash(str_member(rec, "agreement")), or_dash(str_member(rec, "purpose")),
               or_dash(str_member(rec, "subject")), st,
               fields_joined(rec, ",", q->p));
    }
    return EXIT_OK;
}

static int cmd_query(options_t *o, apr_pool_t *p)
{
    filter_t f;
    query_t q;
    int rc;

    q.format = o->format ? o->format : "table";
    q.p = p;
    if (strcmp(q.format, "table") != 0 && strcmp(q.format, "jsonl") != 0
        && strcmp(q.format, "csv") != 0)
        return usage_error("query --format is table, jsonl or csv, not %s", q.format);
    if ((rc = setup_filter(&f, o, p)) != EXIT_OK)
        return rc;
    if (strcmp(q.format, "csv") == 0)
        fputs("time,seq,request_id,decision,reason,organisation,agreement,purpose,subject,"
              "path,status,fields\r\n", stdout);
    else if (strcmp(q.format, "table") == 0)
        printf("%-27s %6s %-5s %-22s %-18s %-28s %-16s %-12s %3s %s\n", "TIME", "SEQ",
               "DECISION", "REASON", "ORGANISATION", "AGREEMENT", "PURPOSE", "SUBJECT",
               "STATUS", "FIELDS");
    return scan(o, &f, query_cb, &q, p);
}

/* --- report: totals ------------------------------------------------------------------------- */

typedef struct pair_total_t {
    const char *agreement, *organisation;
    long allowed, refused;
    apr_hash_t *reasons;        /* reason -> long * */
} pair_total_t;

typedef struct totals_t {
    apr_pool_t *p;
    apr_array_header_t *pairs;  /* pair_total_t *, first-seen order */
    apr_hash_t *by_pair;
    apr_hash_t *fields;         /* field -> long * */
    apr_array_header_t *field_order;
} totals_t;

static void bump(apr_hash_t *h, apr_array_header_t *order, const char *key, apr_pool_t *p)
{
    long *n = apr_hash_get(h, key, APR_HASH_KEY_STRING);

    if (n == NULL) {
        n = apr_pcalloc(p, sizeof(*n));
        key = apr_pstrdup(p, key);
        apr_hash_set(h, key, APR_HASH_KEY_STRING, n);
        if (order != NULL)
            APR_ARRAY_PUSH(order, const char *) = key;
    }
    (*n)++;
}

static int totals_cb(void *baton, json_t *rec, const char *line, size_t len)
{
    totals_t *t = baton;
    const char *a = or_dash(str_member(rec, "agreement"));
    const char *o = or_dash(str_member(rec, "organisation"));
    const char *key = apr_pstrcat(t->p, a, "\n", o, NULL);
    pair_total_t *pt = apr_hash_get(t->by_pair, key, APR_HASH_KEY_STRING);
    json_t *v;
    size_t i;

    if (pt == NULL) {
        pt = apr_pcalloc(t->p, sizeof(*pt));
        pt->agreement = apr_pstrdup(t->p, a);
        pt->organisation = apr_pstrdup(t->p, o);
        pt->reasons = apr_hash_make(t->p);
        apr_hash_set(t->by_pair, key, APR_HASH_KEY_STRING, pt);
        APR_ARRAY_PUSH(t->pairs, pair_total_t *) = pt;
    }
    if (matches("allow", str_member(rec, "decision"))) {
        pt->allowed++;
        json_array_foreach(json_object_get(rec, "fields"), i, v) {
            if (json_is_string(v))
                bump(t->fields, t->field_order, json_string_value(v), t->p);
        }
    }
    else {
        pt->refused++;
        bump(pt->reasons, NULL, or_dash(str_member(rec, "reason")), t->p);
    }
    return EXIT_OK;
}

/* HTML-escapes everything that came from a log. */
static void html(const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", stdout); break;
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&#39;", stdout); break;
        default: putchar(*s);
        }
    }
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n<title>%s</title>\n<style>\n"
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left}\n"
    ".timeline{border-left:3px solid #36c;margin-left:1em;padding-left:1.5em}\n"
    ".event{margin:0 0 1.2em 0;position:relative}\n"
    ".event:before{content:'';position:absolute;left:-2.05em;top:.3em;width:.8em;"
    "height:.8em;border-radius:50%%;background:#36c}\n"
    ".when{color:#666;font-size:.9em}\n</style></head><body>\n";

static char *json_text(json_t *doc)
{
    return json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
}

static int print_totals(totals_t *t, const char *format)
{
    apr_hash_index_t *hi;
    int i;

    if (strcmp(format, "json") == 0) {
        json_t *doc = json_object(), *pairs = json_array(), *fields = json_object();
        char *text;

        for (i = 0; i < t->pairs->nelts; i++) {
            pair_total_t *pt = APR_ARRAY_IDX(t->pairs, i, pair_total_t *);
            json_t *reasons = json_object();

            for (hi = apr_hash_first(t->p, pt->reasons); hi; hi = apr_hash_next(hi)) {
                const void *k;
                void *v;
                apr_hash_this(hi, &k, NULL, &v);
                json_object_set_new(reasons, k, json_integer(*(long *)v));
            }
            json_array_append_new(pairs, json_pack("{s:s,s:s,s:i,s:i,s:o}", "agreement",
                                  pt->agreement, "organisation", pt->organisation,
                                  "allowed", (int)pt->allowed, "refused", (int)pt->refused,
                                  "refused_by_reason", reasons));
        }
        for (i = 0; i < t->field_order->nelts; i++) {
            const char *f = APR_ARRAY_IDX(t->field_order, i, const char *);
            json_object_set_new(fields, f, json_integer(
                *(long *)apr_hash_get(t->fields, f, APR_HASH_KEY_STRING)));
        }
        json_object_set_new(doc, "agreements", pairs);
        json_object_set_new(doc, "fields_released", fields);
        text = json_text(doc);
        puts(text ? text : "{}");
        free(text);
        json_decref(doc);
        return EXIT_OK;
    }
    if (strcmp(format, "html") == 0)
        printf(html_head, "mod_pds audit report");
    if (strcmp(format, "html") == 0)
        puts("<h1>Disclosures by agreement and organisation</h1>\n<table><tr><th>agreement"
             "</th><th>organisation</th><th>allowed</th><th>refused</th><th>refused by "
             "reason</th></tr>");
    else
        printf("%-40s %-22s %8s %8s  %s\n", "AGREEMENT", "ORGANISATION", "ALLOWED",
               "REFUSED", "REFUSED BY REASON");
    for (i = 0; i < t->pairs->nelts; i++) {
        pair_total_t *pt = APR_ARRAY_IDX(t->pairs, i, pair_total_t *);
        const char *reasons = "";

        for (hi = apr_hash_first(t->p, pt->reasons); hi; hi = apr_hash_next(hi)) {
            const void *k;
            void *v;
            apr_hash_this(hi, &k, NULL, &v);
            reasons = apr_psprintf(t->p, "%s%s%s=%ld", reasons, *reasons ? " " : "",
                                   (const char *)k, *(long *)v);
        }
        if (strcmp(format, "html") == 0) {
            fputs("<tr><td>", stdout);
            html(pt->agreement);
            fputs("</td><td>", stdout);
            html(pt->organisation);
            printf("</td><td>%ld</td><td>%ld</td><td>", pt->allowed, pt->refused);
            html(reasons);
            puts("</td></tr>");
        }
        else {
            printf("%-40s %-22s %8ld %8ld  %s\n", pt->agreement, pt->organisation,
                   pt->allowed, pt->refused, reasons);
        }
    }
    if (strcmp(format, "html") == 0)
        puts("</table>\n<h1>Fields released</h1>\n<table><tr><th>field</th><th>times</th></tr>");
    else
        printf("\n%-40s %8s\n", "FIELD RELEASED", "TIMES");
    for (i = 0; i < t->field_order->nelts; i++) {
        const char *f = APR_ARRAY_IDX(t->field_order, i, const char *);
        long n = *(long *)apr_hash_get(t->fields, f, APR_HASH_KEY_STRING);

        if (strcmp(format, "html") == 0) {
            fputs("<tr><td>", stdout);
            html(f);
            printf("</td><td>%ld</td></tr>\n", n);
        }
        else {
            printf("%-40s %8ld\n", f, n);
        }
    }
    if (strcmp(format, "html") == 0)
        puts("</table></body></html>");
    return EXIT_OK;
}

/* --- report: one person's accesses ------------------------------------------------------------ */

typedef struct person_t {
    const char *format;
    const char *subject;
    json_t *events;
    apr_pool_t *p;
} person_t;

static int person_cb(void *baton, json_t *rec, const char *line, size_t len)
{
    person_t *pr = baton;

    if (!matches("allow", str_member(rec, "decision")))
        return EXIT_OK;
    json_array_append_new(pr->events, json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:O,s:s?,s:O?}",
        "time", str_member(rec, "time"),
        "organisation", str_member(rec, "organisation"),
        "agreement", str_member(rec, "agreement"),
        "agreement_version", str_member(rec, "agreement_version"),
        "purpose", str_member(rec, "purpose"),
        "legal_basis", str_member(rec, "legal_basis"),
        "fields", json_object_get(rec, "fields") ? json_object_get(rec, "fields")
                                                   : json_array(),
        "request_id", str_member(rec, "request_id"),
        "consent", json_object_get(rec, "consent")));
    return EXIT_OK;
}

static int print_person(person_t *pr)
{
    json_t *e;
    size_t i;

    if (strcmp(pr->format, "json") == 0) {
        json_t *doc = json_pack("{s:s,s:O}", "subject", pr->subject, "disclosures", pr->events);
        char *text = json_text(doc);

        puts(text ? text : "{}");
        free(text);
        json_decref(doc);
        return EXIT_OK;
    }
    if (strcmp(pr->format, "html") == 0) {
        printf(html_head, "Who received your data");
        fputs("<h1>Who received data about ", stdout);
        html(pr->subject);
        printf("</h1>\n<p>%zu disclosure(s), newest last.</p>\n<div class=\"timeline\">\n",
               json_array_size(pr->events));
        json_array_foreach(pr->events, i, e) {
            fputs("<div class=\"event\"><div class=\"when\">", stdout);
            html(str_member(e, "time"));
            fputs("</div><strong>", stdout);
            html(str_member(e, "organisation"));
            fputs("</strong> received <em>", stdout);
            html(fields_joined(e, ", ", pr->p));
            fputs("</em><br>for ", stdout);
            html(str_member(e, "purpose"));
            fputs(" under agreement ", stdout);
            html(str_member(e, "agreement"));
            fputs(" (legal basis: ", stdout);
            html(str_member(e, "legal_basis"));
            fputs(")</div>\n", stdout);
        }
        puts("</div></body></html>");
        return EXIT_OK;
    }
    printf("Disclosures about %s: %zu\n\n", pr->subject, json_array_size(pr->events));
    json_array_foreach(pr->events, i, e) {
        printf("%s  %s received %s\n    purpose %s, agreement %s (v%s), legal basis %s, "
               "request %s\n",
               or_dash(str_member(e, "time")), or_dash(str_member(e, "organisation")),
               fields_joined(e, ", ", pr->p), or_dash(str_member(e, "purpose")),
               or_dash(str_member(e, "agreement")),
               or_dash(str_member(e, "agreement_version")),
               or_dash(str_member(e, "legal_basis")), or_dash(str_member(e, "request_id")));
    }
    return EXIT_OK;
}

static int cmd_report(options_t *o, apr_pool_t *p)
{
    const char *format = o->format ? o->format : "text";
    filter_t f;
    int rc;

    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0
        && strcmp(format, "html") != 0)
        return usage_error("report --format is text, json or html, not %s", format);
    if ((rc = setup_filter(&f, o, p)) != EXIT_OK)
        return rc;
    if (o->subject != NULL) {
        person_t pr = { format, o->subject, json_array(), p };

        rc = scan(o, &f, person_cb, &pr, p);
        if (rc == EXIT_OK)
            rc = print_person(&pr);
        json_decref(pr.events);
        return rc;
    }
    else {
        totals_t t;

        t.p = p;
        t.pairs = apr_array_make(p, 8, sizeof(pair_total_t *));
        t.by_pair = apr_hash_make(p);
        t.fields = apr_hash_make(p);
        t.field_order = apr_array_make(p, 8, sizeof(const char *));
        rc = scan(o, &f, totals_cb, &t, p);
        return rc == EXIT_OK ? print_totals(&t, format) : rc;
    }
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    options_t o;
    const char *cmd;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    cmd = argv[1];
    if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if ((rc = parse_options(&o, argc - 2, argv + 2, p)) != EXIT_OK)
        return rc;
    if (strcmp(cmd, "keygen") == 0)
        rc = cmd_keygen(&o, p);
    else if (strcmp(cmd, "verify") == 0)
        rc = cmd_verify(&o, p);
    else if (strcmp(cmd, "query") == 0)
        rc = cmd_query(&o, p);
    else if (strcmp(cmd, "report") == 0)
        rc = cmd_report(&o, p);
    else
        rc = usage_error("unknown command %s", cmd);
    fflush(stdout);
    apr_pool_destroy(p);
    return rc;
}
