/* audit_log.c: reading audit logs for pds-audit: lines with a bounded
 * buffer (from plain, gzip or xz files: lib/pds_unpack.h), the rotated files
 * of a series in chain order, each node's files under --nodes, and the
 * decision records that pass a filter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "pds_chain.h"
#include "pds_disclosure.h"
#include "pds_time.h"
#include "pds_unpack.h"

#include "pds_audit_tool.h"

static apr_status_t file_read(void *baton, void *buf, apr_size_t cap, apr_size_t *got)
{
    FILE *f = baton;

    *got = fread(buf, 1, cap, f);
    return *got == 0 && ferror(f) ? APR_FROM_OS_ERROR(errno) : APR_SUCCESS;
}

void reader_init(line_reader_t *r, apr_pool_t *p)
{
    memset(r, 0, sizeof(*r));
    r->pool = p;
    r->block = apr_palloc(p, READ_BLOCK);
    r->line = apr_palloc(p, MAX_LINE + 1);
}

int reader_open(line_reader_t *r, const char *path, apr_pool_t *p)
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
    if (apr_pool_create(&r->file_pool, r->pool) != APR_SUCCESS
        || pds_unpack_open(&r->unpack, r->file_pool, file_read, r->f) != APR_SUCCESS) {
        reader_close(r);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

void reader_close(line_reader_t *r)
{
    if (r->file_pool != NULL)
        apr_pool_destroy(r->file_pool);     /* the decompressor with it */
    r->file_pool = NULL;
    r->unpack = NULL;
    if (r->f != NULL && r->f != stdin)
        fclose(r->f);
    r->f = NULL;
}

/* The next block of plain bytes into r->block: 1 some, 0 the end, -1 an
 * error (reported). */
static int reader_fill(line_reader_t *r, apr_pool_t *p)
{
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_unpack_read(r->unpack, r->block, READ_BLOCK, &r->end, &err);
    if (rv != APR_SUCCESS) {
        char buf[120];

        fprintf(stderr, "pds-audit: error reading %s: %s\n", tty_safe(p, r->path),
                err.text[0] ? err.text : apr_strerror(rv, buf, sizeof(buf)));
        return -1;
    }
    return r->end > 0;
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
int reader_next(line_reader_t *r, apr_pool_t *p)
{
    int have = 0;

    r->len = 0;
    r->complete = r->too_long = 0;
    for (;;) {
        char *nl;
        size_t n;

        if (r->pos == r->end) {
            int filled;

            r->pos = 0;
            if ((filled = reader_fill(r, p)) < 0)
                return -1;
            if (filled == 0)
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
    se->first = pds_chain_line_seq(r->line, r->len);
    if (se->first == 0) {
        fprintf(stderr, "pds-audit: cannot place %s in the series: its first line has no "
                "seq (not an audit log? give the files in order without --series)\n",
                tty_safe(p, path));
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

int input_files(apr_array_header_t **pfiles, const options_t *o, line_reader_t *r,
                apr_pool_t *p)
{
    if (o->series == NULL) {
        *pfiles = o->files;
        return EXIT_OK;
    }
    return expand_series(pfiles, APR_ARRAY_IDX(o->files, 0, const char *), r, p);
}

int node_inputs(apr_array_header_t **plists, const options_t *o, line_reader_t *r,
                apr_pool_t *p)
{
    apr_array_header_t *lists = apr_array_make(p, 4, sizeof(apr_array_header_t *));
    int i, rc;

    if (o->nodes == NULL) {
        apr_array_header_t *files;
        if ((rc = input_files(&files, o, r, p)) != EXIT_OK)
            return rc;
        APR_ARRAY_PUSH(lists, apr_array_header_t *) = files;
        *plists = lists;
        return EXIT_OK;
    }
    for (i = 0; i < o->files->nelts; i++) {
        options_t one = *o;
        apr_array_header_t *files;

        /* the same expansion as one log's: FILE, or its series */
        one.files = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(one.files, const char *) = APR_ARRAY_IDX(o->files, i, const char *);
        if ((rc = input_files(&files, &one, r, p)) != EXIT_OK)
            return rc;
        APR_ARRAY_PUSH(lists, apr_array_header_t *) = files;
    }
    *plists = lists;
    return EXIT_OK;
}

int all_input_files(apr_array_header_t **pfiles, const options_t *o, line_reader_t *r,
                    apr_pool_t *p)
{
    apr_array_header_t *lists, *all;
    int i, rc;

    if (o->nodes == NULL)
        return input_files(pfiles, o, r, p);
    if ((rc = node_inputs(&lists, o, r, p)) != EXIT_OK)
        return rc;
    all = apr_array_make(p, 8, sizeof(const char *));
    for (i = 0; i < lists->nelts; i++)
        apr_array_cat(all, APR_ARRAY_IDX(lists, i, apr_array_header_t *));
    *pfiles = all;
    return EXIT_OK;
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
        || !matches(f->node, str_member(rec, "node"))
        || !matches(f->decision, str_member(rec, "decision"))
        || !matches(f->reason, str_member(rec, "reason")))
        return 0;
    if (!f->timed)
        return 1;
    return pds_time_parse(&t, str_member(rec, "time")) == APR_SUCCESS && t >= f->since
           && t < f->until;
}

int setup_filter(filter_t *f, const options_t *o, apr_pool_t *p)
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
    f->node = o->node;
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
int scan(const options_t *o, const filter_t *f, record_cb cb, void *baton,
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
    if ((rc = all_input_files(&files, o, &s.reader, p)) != EXIT_OK)
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
