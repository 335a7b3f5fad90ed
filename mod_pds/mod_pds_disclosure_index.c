/* mod_pds_disclosure_index.c: the persistent index of a person's
 * disclosures (mod_pds_disclosure_index.h).
 *
 * With a consent store, a person's view answers from the store's index
 * (lib/pds_disclosure_store.h), which each node keeps up with its own audit
 * log: every PDS_DISCLOSURE_INDEX_INTERVAL_SEC from the background, and on
 * a view's request before it reads the person's rows, a catch-up indexes
 * the lines written after the node's cursor, at most
 * PDS_DISCLOSURE_INDEX_BATCH of them. The cursor names the file it is in by
 * the seq of its first line, so it is found again after a restart, a
 * rotation (the file renamed away) or a compression (the same lines, gzip'd
 * or xz'd): nothing is read twice and nothing is lost while the file is
 * there. It also holds that file's identity (the SHA-256 of its first line),
 * by which a renamed node finds it again.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "mod_pds_disclosure_index.h"
#include "pds_disclosure.h"
#include "pds_disclosure_store.h"
#include "pds_encode.h"

#define READ_CHUNK 65536
#define LINE_MAX_BYTES (64 * 1024 * 1024)   /* a line longer is no record of ours */

static apr_status_t pread_read(void *baton, void *buf, apr_size_t cap, apr_size_t *got)
{
    pds_pread_source_t *src = baton;
    ssize_t n;

    do {
        n = pread(src->fd, buf, cap, src->offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return APR_FROM_OS_ERROR(errno);
    src->offset += n;
    *got = (apr_size_t)n;
    return APR_SUCCESS;
}

apr_status_t pds_log_unpack_open(pds_unpack_t **pu, pds_pread_source_t *src, apr_file_t *f,
                                 apr_off_t from, apr_pool_t *p)
{
    src->offset = from;
    if (apr_os_file_get(&src->fd, f) != APR_SUCCESS)
        return APR_EBADF;
    return pds_unpack_open(pu, p, pread_read, src);
}

apr_uint64_t pds_log_file_probe(pds_log_file_t *lf, apr_pool_t *ptemp)
{
    char *buf = apr_palloc(ptemp, PDS_DISCLOSURE_FILE_ID_BYTES);
    apr_size_t len = 0, got, idlen;
    unsigned char hash[32];
    pds_pread_source_t src;
    pds_unpack_t *u;
    pds_error_t err;
    const char *nl;

    lf->first = 0;
    lf->plain = 0;
    lf->id[0] = '\0';
    if (pds_log_unpack_open(&u, &src, lf->file, 0, ptemp) != APR_SUCCESS)
        return 0;
    while (len < PDS_DISCLOSURE_FILE_ID_BYTES
           && pds_unpack_read(u, buf + len, PDS_DISCLOSURE_FILE_ID_BYTES - len, &got, &err)
              == APR_SUCCESS && got > 0)
        len += got;
    lf->plain = pds_unpack_format(u) == PDS_UNPACK_PLAIN;
    pds_unpack_close(u);
    lf->first = pds_chain_line_seq(buf, len);
    /* Its identity: the first line, or as much of it as a probe reads. */
    nl = memchr(buf, '\n', len);
    idlen = nl != NULL ? (apr_size_t)(nl - buf) : len;
    if (lf->first > 0 && (nl != NULL || len == PDS_DISCLOSURE_FILE_ID_BYTES)
        && pds_sha256(hash, buf, idlen))
        pds_hex_encode(lf->id, hash, sizeof(hash));
    return lf->first;
}

/* Logs for the request, or for the server; a quiet run's errors at debug. */
static void run_log(const pds_index_run_t *run, int level, apr_status_t rv, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
static void run_log(const pds_index_run_t *run, int level, apr_status_t rv, const char *fmt,
                    ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = apr_pvsprintf(run->pool, fmt, ap);
    va_end(ap);
    if (run->quiet && level < APLOG_INFO)
        level = APLOG_DEBUG;
    if (run->r != NULL)
        ap_log_rerror(APLOG_MARK, level, rv, run->r, "%s", msg);
    else
        ap_log_error(APLOG_MARK, level, rv, run->s, "%s", msg);
}

/* One catch-up's walk through the lines after the cursor. */
typedef struct walk_t {
    const pds_index_run_t *run;
    apr_pool_t *p;
    pds_disclosure_cursor_t at;         /* after the last line taken */
    pds_disclosure_cursor_t run_at;     /* before the open run of "subjects" lines */
    int run_rows;                       /* rows->nelts then */
    pds_disclosure_parts_t parts;
    apr_array_header_t *rows;           /* pds_disclosure_row_t */
    apr_uint64_t taken;                 /* lines this walk */
} walk_t;

/* A complete line: its rows, and the cursor past it. Non-zero: the batch is
 * full (never inside a run of "subjects" lines: those are one disclosure). */
static int take_line(walk_t *w, const char *line, apr_size_t len)
{
    pds_disclosure_cursor_t before = w->at;
    int rows_before = w->rows->nelts, in_run = w->parts.subjects != NULL;
    apr_uint64_t seq = pds_chain_line_seq(line, len);
    json_t *rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);

    apr_status_t rv = pds_disclosure_rows(&w->parts, rec, w->p, w->rows);
    unsigned char hash[32];
    char *id;
    int i;

    json_decref(rec);
    if (rv == APR_SUCCESS && w->rows->nelts > rows_before) {
        /* The rows are the line's: named by its hash, whatever the node. */
        id = apr_palloc(w->p, 2 * sizeof(hash) + 1);
        if (!pds_sha256(hash, line, len))
            rv = APR_ENOMEM;
        else {
            pds_hex_encode(id, hash, sizeof(hash));
            for (i = rows_before; i < w->rows->nelts; i++)
                APR_ARRAY_IDX(w->rows, i, pds_disclosure_row_t).line = id;
        }
    }
    if (rv != APR_SUCCESS) {            /* out of memory: this line again next time */
        w->rows->nelts = rows_before;
        return 1;
    }
    if (!in_run && w->parts.subjects != NULL) {
        w->run_at = before;
        w->run_rows = rows_before;
    }
    w->at.offset += len + 1;
    w->at.lines++;
    if (seq > 0)
        w->at.last_seq = seq;
    w->taken++;
    return w->taken >= PDS_DISCLOSURE_INDEX_BATCH && w->parts.subjects == NULL;
}

/* line (len bytes held) with room for need bytes in all. */
static char *room(char *line, apr_size_t len, apr_size_t *cap, apr_size_t need, apr_pool_t *p)
{
    char *grown;

    if (need <= *cap)
        return line;
    *cap = 2 * need;
    grown = apr_palloc(p, *cap);
    if (len > 0)
        memcpy(grown, line, len);
    return grown;
}

/* The file's complete lines from w->at.offset on; *full when the batch is. */
static apr_status_t walk_file(walk_t *w, const pds_log_file_t *lf, int *full, apr_pool_t *scratch)
{
    char *buf = apr_palloc(scratch, READ_CHUNK), *line = NULL;
    apr_size_t line_len = 0, line_cap = 0, got, start, i;
    apr_uint64_t skip = lf->plain ? 0 : w->at.offset;
    pds_pread_source_t src;
    pds_unpack_t *u = NULL;
    pds_error_t err;
    apr_status_t rv;

    *full = 0;
    pds_error_clear(&err);
    rv = pds_log_unpack_open(&u, &src, lf->file, lf->plain ? (apr_off_t)w->at.offset : 0,
                             scratch);
    while (rv == APR_SUCCESS && !*full
           && (rv = pds_unpack_read(u, buf, READ_CHUNK, &got, &err)) == APR_SUCCESS && got > 0) {
        start = 0;
        if (skip > 0) {                 /* a compressed file: up to the cursor */
            start = skip < got ? (apr_size_t)skip : got;
            skip -= start;
        }
        for (i = start; i < got && !*full; i++) {
            if (buf[i] != '\n')
                continue;
            if (line_len > 0) {
                line = room(line, line_len, &line_cap, line_len + (i - start), scratch);
                memcpy(line + line_len, buf + start, i - start);
                *full = take_line(w, line, line_len + (i - start));
                line_len = 0;
            }
            else
                *full = take_line(w, buf + start, i - start);
            start = i + 1;
        }
        if (!*full && start < got) {    /* an incomplete line: keep it */
            apr_size_t more = got - start;
            if (line_len + more > LINE_MAX_BYTES) {
                rv = APR_EGENERAL;
                apr_cpystrn(err.text, "a line longer than any record", sizeof(err.text));
                break;
            }
            line = room(line, line_len, &line_cap, line_len + more, scratch);
            memcpy(line + line_len, buf + start, more);
            line_len += more;
        }
    }
    if (u != NULL)
        pds_unpack_close(u);
    if (rv != APR_SUCCESS)
        run_log(w->run, APLOG_ERR, rv, "PDS00531: cannot read the audit log %s for the index "
                "of disclosures%s%s", lf->path, err.text[0] ? ": " : "", err.text);
    return rv;
}

/* Where the cursor is: the file it names, or (that file gone) the first one
 * after the last line indexed; -1 when there is nothing newer. */
static int find_file(const pds_index_run_t *run, const apr_array_header_t *files,
                     const pds_disclosure_cursor_t *c)
{
    int i;

    if (c->file_first == 0)
        return files->nelts > 0 ? 0 : -1;
    for (i = 0; i < files->nelts; i++) {
        if (APR_ARRAY_IDX(files, i, pds_log_file_t).first == c->file_first)
            return i;
    }
    for (i = 0; i < files->nelts; i++) {
        const pds_log_file_t *lf = &APR_ARRAY_IDX(files, i, pds_log_file_t);

        if (lf->first <= c->last_seq)
            continue;
        if (lf->first > c->last_seq + 1)
            run_log(run, APLOG_WARNING, 0, "PDS00532: the audit log file the index of "
                    "disclosures was reading (first seq %" APR_UINT64_T_FMT ") is gone: seq %"
                    APR_UINT64_T_FMT " to %" APR_UINT64_T_FMT " are not in a person's view; "
                    "indexing goes on with %s", c->file_first, c->last_seq + 1,
                    lf->first - 1, lf->path);
        return i;
    }
    return -1;
}

/* Is one of the files (a pds_disclosure_mine_cb) the one named? */
static int is_mine(void *baton, apr_uint64_t first, const char *id)
{
    const apr_array_header_t *files = baton;
    int i;

    for (i = 0; i < files->nelts; i++) {
        const pds_log_file_t *lf = &APR_ARRAY_IDX(files, i, pds_log_file_t);

        if (lf->first == first && lf->id[0] != '\0' && strcmp(lf->id, id) == 0)
            return 1;
    }
    return 0;
}

static int same_place(const pds_disclosure_cursor_t *a, const pds_disclosure_cursor_t *b)
{
    return a->file_first == b->file_first && a->offset == b->offset
           && a->last_seq == b->last_seq && a->lines == b->lines
           && strcmp(a->file_id, b->file_id) == 0;
}

/* The cursor names this file: its identity with it, once the file has one. */
static void name_file(pds_disclosure_cursor_t *at, const pds_log_file_t *lf)
{
    if (at->file_first != lf->first) {
        at->file_first = lf->first;
        at->offset = 0;
        at->file_id[0] = '\0';
    }
    if (lf->id[0] != '\0')
        apr_cpystrn(at->file_id, lf->id, sizeof(at->file_id));
}

apr_status_t pds_disclosure_index_catch_up(const pds_index_run_t *run, pds_consent_store_t *st,
                                           const char *node, const apr_array_header_t *files,
                                           int *complete)
{
    pds_disclosure_cursor_t from;
    const char *adopted = NULL;
    apr_pool_t *scratch;
    pds_error_t err;
    apr_status_t rv;
    walk_t w;
    int idx, full = 0, moved, mark;

    *complete = 0;
    pds_error_clear(&err);
    if ((rv = pds_disclosure_store_cursor(st, run->pool, node, is_mine, (void *)files, &from,
                                          &adopted, &err)) != APR_SUCCESS) {
        run_log(run, APLOG_ERR, 0, "PDS00533: cannot read the index of disclosures: %s",
                err.text);
        return rv;
    }
    if (adopted != NULL)
        run_log(run, APLOG_NOTICE, 0, "PDS00542: the index of disclosures of this audit log "
                "goes on under the name %s (it was %s): its file seq %" APR_UINT64_T_FMT
                " is the one the index was reading", node, adopted, from.file_first);
    if (apr_pool_create(&scratch, run->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    memset(&w, 0, sizeof(w));
    w.run = run;
    w.p = scratch;
    w.at = from;
    w.rows = apr_array_make(scratch, 64, sizeof(pds_disclosure_row_t));
    if ((idx = find_file(run, files, &from)) < 0)
        *complete = 1;
    for (; idx >= 0;) {
        const pds_log_file_t *lf = &APR_ARRAY_IDX(files, idx, pds_log_file_t);

        if (w.at.file_first != lf->first)
            pds_disclosure_parts_reset(&w.parts);    /* a run never spans two files */
        name_file(&w.at, lf);
        if ((rv = walk_file(&w, lf, &full, scratch)) != APR_SUCCESS || full)
            break;
        if (idx + 1 >= files->nelts) {
            *complete = 1;
            break;
        }
        idx++;
    }
    if (w.parts.subjects != NULL) {     /* a run not ended yet: again next time */
        w.at = w.run_at;
        w.rows->nelts = w.run_rows;
        *complete = 0;
    }
    pds_disclosure_parts_reset(&w.parts);
    /* Moved, or to say it looked: when it turns behind or current, and
     * every PDS_DISCLOSURE_INDEX_TOUCH_SEC when idle. */
    moved = !same_place(&w.at, &from);
    mark = (from.behind_since == 0) != *complete
           || apr_time_now() - from.updated >= apr_time_from_sec(PDS_DISCLOSURE_INDEX_TOUCH_SEC);
    if (rv == APR_SUCCESS && (moved || mark)) {
        rv = pds_disclosure_store_advance(st, scratch, node, &from, &w.at, *complete,
                                          moved ? w.rows : NULL, &err);
        if (rv == APR_EAGAIN)           /* another process indexed them: fine */
            rv = APR_SUCCESS;
        else if (rv != APR_SUCCESS)
            run_log(run, APLOG_ERR, 0, "PDS00534: cannot write the index of disclosures: %s",
                    err.text);
        else if (moved)
            run_log(run, APLOG_INFO, 0, "PDS00530: indexed %" APR_UINT64_T_FMT " lines of the "
                    "audit log (%d disclosures to people), up to seq %" APR_UINT64_T_FMT "%s",
                    w.at.lines - from.lines, w.rows->nelts, w.at.last_seq,
                    *complete ? "" : "; more next time");
    }
    apr_pool_destroy(scratch);
    return rv;
}
