/* mod_pds_disclosures.c: a person's view of who received their data.
 *
 *   <Location /my/disclosures>
 *       AuthType Basic ... Require valid-user     (or mod_auth_openidc, ...)
 *       SetHandler pds-disclosures
 *   </Location>
 *
 * The person is whoever httpd authenticated (r->user is their subject
 * identifier). The answer comes from the audit log itself, through an index
 * each child process keeps in memory and feeds incrementally: every call
 * reads only the lines written since the last one, so a disclosure shows up
 * seconds after it happened and no call scans the whole log. The files a
 * rotation renamed away (plain, gzip or xz) are part of the person's
 * history too: the parent opens them as root at every start and graceful
 * restart, and each child reads them once, before the current file, when it
 * builds its index. Disclosures an agreement marks restricted are never
 * shown; embargoed ones only from their date (the record's "visible_from").
 *
 * That in-memory index serves a gateway without a consent store. With one,
 * the view answers from the store's persistent index instead
 * (mod_pds_disclosure_index.c): a restart or a rotation neither loses
 * history nor reads the log again, and nodes sharing one PostgreSQL show a
 * person the disclosures of every node. Each node keeps its part current
 * from the background too (a mod_watchdog singleton: one process of the
 * node at a time), so that its disclosures reach the other nodes' views
 * without a request to it; an answer that may lack a node's latest ones
 * says which node and since when.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "mod_watchdog.h"

#include <errno.h>
#include <unistd.h>

#include "mod_pds_audit.h"
#include "mod_pds_consent.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_disclosure_index.h"
#include "mod_pds_disclosures.h"
#include "mod_pds_response.h"
#include "pds_disclosure.h"
#include "pds_disclosure_store.h"
#include "pds_unpack.h"
#include "apr_file_info.h"
#include "apr_tables.h"

#define DISCLOSURES_HANDLER "pds-disclosures"
#define READ_CHUNK 65536

typedef struct disclosure_t {
    const char *time;               /* RFC 3339, as recorded */
    apr_time_t visible_from;        /* PDS_AUDIT_NEVER: restricted */
    json_t *entry;                  /* what the person is shown */
} disclosure_t;

typedef struct person_index_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    const char *path;
    apr_file_t *file;               /* the file being followed (may be renamed) */
    apr_off_t offset;               /* bytes of it already indexed */
    char *partial;                  /* a line not yet complete at the last read */
    apr_size_t partial_len;
    apr_hash_t *by_subject;         /* subject as logged -> apr_array of disclosure_t */
    apr_hash_t *by_month;           /* "agreement YYYY-MM" -> apr_uint64_t *: disclosures
                                       (a collection's record counts once) */
    /* A large collection's subjects come in "subjects" lines just before its
     * record (lib/pds_audit.h): those seen so far, not yet joined. */
    pds_disclosure_parts_t parts;
    int rotated_read;               /* the rotated files are in the index */
} person_index_t;

static apr_hash_t *indexes;         /* per child: path -> person_index_t */
static apr_pool_t *index_pool;
static apr_thread_mutex_t *store_lock;  /* one catch-up of the store's index at a time */

/* Audit log path -> apr_array of pds_log_file_t a rotation renamed away,
 * oldest first; in pconf, so each (re)start lists the files again and
 * closes the old descriptors. */
static apr_hash_t *rotated_by_log;

void pds_disclosures_child_init(apr_pool_t *pchild)
{
    index_pool = pchild;
    indexes = apr_hash_make(pchild);
    store_lock = NULL;
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&store_lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS)
        store_lock = NULL;
#endif
}

static apr_status_t release_json(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* One complete line of the log: remember it if it is a disclosure. */
static void index_for_subject(person_index_t *ix, const char *subject, json_t *rec,
                              json_t *entry)
{
    apr_array_header_t *list;
    disclosure_t *d;

    list = apr_hash_get(ix->by_subject, subject, APR_HASH_KEY_STRING);
    if (list == NULL) {
        list = apr_array_make(ix->pool, 4, sizeof(disclosure_t));
        apr_hash_set(ix->by_subject, apr_pstrdup(ix->pool, subject), APR_HASH_KEY_STRING,
                     list);
    }
    d = apr_array_push(list);
    d->time = apr_pstrdup(ix->pool, json_string_value(json_object_get(rec, "time")));
    /* Records written before visible_from existed were all shown. */
    d->visible_from = pds_disclosure_visible_from(rec);
    d->entry = entry;
}

/* The public register's count: one more disclosure under the record's
 * agreement in the month of its time. */
static void count_month(person_index_t *ix, json_t *rec)
{
    const char *agreement = json_string_value(json_object_get(rec, "agreement"));
    const char *time = json_string_value(json_object_get(rec, "time"));
    apr_uint64_t *n;
    char key[96];

    if (agreement == NULL || time == NULL || strlen(time) < 7 || strlen(agreement) > 64)
        return;
    apr_snprintf(key, sizeof(key), "%s %.7s", agreement, time);
    n = apr_hash_get(ix->by_month, key, APR_HASH_KEY_STRING);
    if (n == NULL) {
        n = apr_pcalloc(ix->pool, sizeof(*n));
        apr_hash_set(ix->by_month, apr_pstrdup(ix->pool, key), APR_HASH_KEY_STRING, n);
    }
    (*n)++;
}

static void index_line(person_index_t *ix, const char *line, apr_size_t len)
{
    json_t *rec = json_loadb(line, len, 0, NULL), *entry, *subjects, *v;
    const char *subject;
    size_t i;

    subjects = pds_disclosure_subjects(&ix->parts, rec);
    subject = json_string_value(json_object_get(rec, "subject"));
    /* Disclosures only (lib/pds_disclosure.h), about one person or, for a
     * collection, about each person whose record was released. */
    if (!json_is_object(rec) || !pds_disclosure_is_one(rec)
        || (subject == NULL && subjects == NULL))
        goto done;
    entry = pds_disclosure_entry(rec, 0);
    if (entry == NULL)
        goto done;
    count_month(ix, rec);
    apr_pool_cleanup_register(ix->pool, entry, release_json, apr_pool_cleanup_null);
    if (subject != NULL)
        index_for_subject(ix, subject, rec, entry);
    else {
        json_array_foreach(subjects, i, v) {
            if (json_is_string(v))
                index_for_subject(ix, json_string_value(v), rec, entry);
        }
    }
done:
    json_decref(subjects);
    json_decref(rec);
}

/* n more bytes of the file: each line is indexed once complete; an
 * incomplete tail is kept for the next chunk. */
static void index_chunk(person_index_t *ix, const char *buf, apr_size_t n, apr_pool_t *scratch)
{
    apr_size_t start = 0, i;

    for (i = 0; i < n; i++) {
        if (buf[i] != '\n')
            continue;
        if (ix->partial_len > 0) {
            char *whole = apr_palloc(scratch, ix->partial_len + i - start);
            memcpy(whole, ix->partial, ix->partial_len);
            memcpy(whole + ix->partial_len, buf + start, i - start);
            index_line(ix, whole, ix->partial_len + i - start);
            ix->partial_len = 0;
        }
        else {
            index_line(ix, buf + start, i - start);
        }
        start = i + 1;
    }
    if (start < n) {                /* keep the incomplete tail for next time */
        char *grown = apr_palloc(ix->pool, ix->partial_len + n - start);
        if (ix->partial_len > 0)
            memcpy(grown, ix->partial, ix->partial_len);
        memcpy(grown + ix->partial_len, buf + start, n - start);
        ix->partial = grown;
        ix->partial_len += n - start;
    }
}

/* Reads what was appended since the last call. pread: a descriptor
 * inherited from the parent shares its file offset with every process, so
 * nothing here may move it. */
static apr_status_t read_new_lines(person_index_t *ix, apr_pool_t *scratch)
{
    char *buf = apr_palloc(scratch, READ_CHUNK);
    apr_os_file_t fd;

    if (apr_os_file_get(&fd, ix->file) != APR_SUCCESS)
        return APR_EBADF;
    for (;;) {
        ssize_t got = pread(fd, buf, READ_CHUNK, ix->offset);

        if (got < 0)
            return errno == EINTR ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
        if (got == 0)
            return APR_SUCCESS;
        ix->offset += got;
        index_chunk(ix, buf, (apr_size_t)got, scratch);
    }
}

/* Indexes one rotated file, whole; a last line without its "\n" is no
 * record. */
static apr_status_t index_rotated_file(person_index_t *ix, const pds_log_file_t *rf,
                                       apr_pool_t *scratch, pds_error_t *err)
{
    char *buf = apr_palloc(scratch, READ_CHUNK);
    pds_pread_source_t src;
    pds_unpack_t *u;
    apr_size_t got;
    apr_status_t rv;

    if ((rv = pds_log_unpack_open(&u, &src, rf->file, 0, scratch)) != APR_SUCCESS)
        return rv;
    while ((rv = pds_unpack_read(u, buf, READ_CHUNK, &got, err)) == APR_SUCCESS && got > 0)
        index_chunk(ix, buf, got, scratch);
    pds_unpack_close(u);
    ix->partial_len = 0;
    pds_disclosure_parts_reset(&ix->parts);
    return rv;
}

/* The rotated files, oldest first, before the current one. On failure the
 * index is emptied, so that the next call starts again in order. */
static apr_status_t index_rotated(person_index_t *ix, request_rec *r)
{
    apr_array_header_t *files = rotated_by_log == NULL ? NULL
        : apr_hash_get(rotated_by_log, ix->path, APR_HASH_KEY_STRING);
    apr_pool_t *scratch;
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; files != NULL && i < files->nelts && rv == APR_SUCCESS; i++) {
        const pds_log_file_t *rf = &APR_ARRAY_IDX(files, i, pds_log_file_t);
        pds_error_t err;

        pds_error_clear(&err);
        if (apr_pool_create(&scratch, r->pool) != APR_SUCCESS)
            return APR_ENOMEM;
        rv = index_rotated_file(ix, rf, scratch, &err);
        apr_pool_destroy(scratch);
        if (rv != APR_SUCCESS)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "PDS00391: cannot read the rotated "
                          "audit log %s for a person's disclosures%s%s", rf->path,
                          err.text[0] ? ": " : "", err.text);
    }
    if (rv != APR_SUCCESS) {
        apr_hash_clear(ix->by_subject);
        return rv;
    }
    ix->rotated_read = 1;
    return APR_SUCCESS;
}

/* Follows the file the path names: the rest of a file renamed away by a
 * rotation is read before the new file is started. Where httpd's User cannot
 * open the path (a log directory only root may enter), the descriptor the
 * parent opened is read instead: the current file only. */
static apr_status_t catch_up(person_index_t *ix, apr_file_t *inherited, apr_pool_t *scratch)
{
    apr_finfo_t by_path, by_handle;
    apr_file_t *fresh;
    apr_status_t rv;

    if (ix->file != NULL && (rv = read_new_lines(ix, scratch)) != APR_SUCCESS)
        return rv;
    if (apr_stat(&by_path, ix->path, APR_FINFO_IDENT, scratch) != APR_SUCCESS)
        by_path.inode = 0;
    if (ix->file != NULL
        && apr_file_info_get(&by_handle, APR_FINFO_IDENT, ix->file) == APR_SUCCESS
        && (by_path.inode == 0
            || (by_handle.inode == by_path.inode && by_handle.device == by_path.device)))
        return APR_SUCCESS;
    rv = apr_file_open(&fresh, ix->path, APR_FOPEN_READ, 0, ix->pool);
    if (rv != APR_SUCCESS) {
        if (ix->file != NULL || inherited == NULL)
            return ix->file != NULL ? APR_SUCCESS : rv;
        fresh = inherited;
    }
    if (ix->file != NULL && ix->file != inherited)
        apr_file_close(ix->file);
    ix->file = fresh;
    ix->offset = 0;
    ix->partial_len = 0;
    return read_new_lines(ix, scratch);
}

static int by_first_seq(const void *a, const void *b)
{
    const pds_log_file_t *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Opens the files beside the log (path.*, not its head, not the log itself
 * under another name) that begin with a chained line, ordered by that seq. */
static apr_array_header_t *open_rotated(const char *path, apr_pool_t *pconf,
                                        apr_pool_t *ptemp, server_rec *s)
{
    apr_array_header_t *files = apr_array_make(pconf, 8, sizeof(pds_log_file_t));
    const char *slash = strrchr(path, '/');
    const char *dir = slash ? apr_pstrndup(ptemp, path, (apr_size_t)(slash - path + 1)) : "./";
    const char *base = slash ? slash + 1 : path;
    apr_size_t base_len = strlen(base);
    apr_finfo_t e, current;
    apr_status_t rv;
    apr_dir_t *d;
    int i;

    if (apr_stat(&current, path, APR_FINFO_IDENT, ptemp) != APR_SUCCESS)
        current.inode = 0;
    if (apr_dir_open(&d, dir, ptemp) != APR_SUCCESS)
        return files;
    /* APR_INCOMPLETE: a field could not be had; filetype says what is known */
    while ((rv = apr_dir_read(&e, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_IDENT, d))
           == APR_SUCCESS || rv == APR_INCOMPLETE) {
        pds_log_file_t rf;

        if (e.filetype != APR_REG || strncmp(e.name, base, base_len) != 0
            || e.name[base_len] != '.' || strcmp(e.name + base_len, ".head") == 0
            || (e.inode == current.inode && e.device == current.device))
            continue;
        rf.path = apr_pstrcat(pconf, dir, e.name, NULL);
        if (apr_file_open(&rf.file, rf.path, APR_FOPEN_READ, 0, pconf) != APR_SUCCESS)
            continue;
        if (pds_log_file_probe(&rf, ptemp) == 0) {
            apr_file_close(rf.file);
            continue;
        }
        APR_ARRAY_PUSH(files, pds_log_file_t) = rf;
    }
    apr_dir_close(d);
    qsort(files->elts, (size_t)files->nelts, sizeof(pds_log_file_t), by_first_seq);
    for (i = 1; i < files->nelts; i++) {
        const pds_log_file_t *rf = &APR_ARRAY_IDX(files, i, pds_log_file_t);

        if (rf[-1].first == rf->first)
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "PDS00392: %s and %s both begin "
                         "at seq %" APR_UINT64_T_FMT ": a person's view lists their "
                         "disclosures twice; move the copy out of the log's directory",
                         rf[-1].path, rf->path, rf->first);
    }
    return files;
}

int pds_disclosures_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;

    rotated_by_log = apr_hash_make(pconf);
    for (vs = s; vs != NULL; vs = vs->next) {
        const char *path = pds_server_conf(vs)->audit_log_path;

        if (path != NULL && apr_hash_get(rotated_by_log, path, APR_HASH_KEY_STRING) == NULL)
            apr_hash_set(rotated_by_log, path, APR_HASH_KEY_STRING,
                         open_rotated(path, pconf, ptemp, s));
    }
    return OK;
}

static person_index_t *index_for(const char *path)
{
    person_index_t *ix = apr_hash_get(indexes, path, APR_HASH_KEY_STRING);

    if (ix != NULL)
        return ix;
    ix = apr_pcalloc(index_pool, sizeof(*ix));
    if (apr_pool_create(&ix->pool, index_pool) != APR_SUCCESS)
        return NULL;
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&ix->lock, APR_THREAD_MUTEX_DEFAULT, ix->pool) != APR_SUCCESS)
        return NULL;
#endif
    ix->path = apr_pstrdup(ix->pool, path);
    ix->by_subject = apr_hash_make(ix->pool);
    ix->by_month = apr_hash_make(ix->pool);
    apr_hash_set(indexes, ix->path, APR_HASH_KEY_STRING, ix);
    return ix;
}

/* This process's index of the server's audit log, caught up with what was
 * written since the last call; NULL (logged, PDS00060) when it cannot be
 * read. Returned locked: call index_unlock. */
static person_index_t *index_locked(request_rec *r, apr_status_t *prv)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    person_index_t *ix;

    *prv = APR_ENOENT;
    if (sc->audit_log_path == NULL || indexes == NULL
        || (ix = index_for(sc->audit_log_path)) == NULL)
        return NULL;
    if (ix->lock)
        apr_thread_mutex_lock(ix->lock);
    /* the rotated files once per process (opened by the parent), then the current one */
    *prv = ix->rotated_read ? APR_SUCCESS : index_rotated(ix, r);
    if (*prv == APR_SUCCESS)
        *prv = catch_up(ix, pds_audit_file(r->server), r->pool);
    if (*prv != APR_SUCCESS) {
        if (ix->lock)
            apr_thread_mutex_unlock(ix->lock);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, *prv, r, "PDS00060: cannot read the audit log "
                      "%s for a person's disclosures", sc->audit_log_path);
        return NULL;
    }
    return ix;
}

static void index_unlock(person_index_t *ix)
{
    if (ix->lock)
        apr_thread_mutex_unlock(ix->lock);
}

/* --- with a consent store: its persistent index ------------------------------ */

/* A log file not yet among files (by its first seq) is added. */
static void add_file(apr_array_header_t *files, pds_log_file_t *lf, apr_pool_t *p)
{
    int i;

    if (lf->file == NULL || pds_log_file_probe(lf, p) == 0)
        return;
    for (i = 0; i < files->nelts; i++) {
        if (APR_ARRAY_IDX(files, i, pds_log_file_t).first == lf->first)
            return;
    }
    APR_ARRAY_PUSH(files, pds_log_file_t) = *lf;
}

/* The log's files, oldest first: those a rotation renamed away (opened by
 * the parent), the one the path names, and the one this process writes
 * (the same, but between a rotation's rename and its graceful restart). */
static apr_array_header_t *log_files(server_rec *s, apr_pool_t *p, const char *path)
{
    apr_array_header_t *rotated = rotated_by_log == NULL ? NULL
        : apr_hash_get(rotated_by_log, path, APR_HASH_KEY_STRING);
    apr_array_header_t *files = apr_array_make(p, 8, sizeof(pds_log_file_t));
    pds_log_file_t lf;

    if (rotated != NULL)
        apr_array_cat(files, rotated);
    memset(&lf, 0, sizeof(lf));
    lf.path = path;
    if (apr_file_open(&lf.file, path, APR_FOPEN_READ, 0, p) == APR_SUCCESS)
        add_file(files, &lf, p);
    lf.file = pds_audit_file(s);
    add_file(files, &lf, p);
    qsort(files->elts, (size_t)files->nelts, sizeof(pds_log_file_t), by_first_seq);
    return files;
}

/* The name the index knows this log by: the node's name (PDSNodeName), and
 * for a virtual host's own audit log its path too (each log is one chain). */
static const char *index_node(apr_pool_t *p, const char *path)
{
    server_rec *main_s = pds_consent_server();
    const char *why = NULL, *node, *main_path;

    if (main_s == NULL || (node = pds_conf_node_name(main_s, p, &why)) == NULL)
        return NULL;
    main_path = pds_server_conf(main_s)->audit_log_path;
    if (main_path == NULL || strcmp(main_path, path) != 0)
        node = apr_pstrcat(p, node, " ", path, NULL);
    return node;
}

#define CAUGHT_UP_NOTE "mod_pds-disclosure-index-caught-up"

/* The store's index caught up (one batch), then the person's disclosures
 * (pout) and the nodes it may lack (pbehind), or the month's count
 * (agreement, month, pcount). This node's catch-up failing (its log cannot
 * be read, or the index written) leaves the answer to what is indexed,
 * with this node among those behind; the store not answering, none. */
static apr_status_t from_store(request_rec *r, const char *logged_as, json_t **pout,
                               json_t **pbehind, const char *agreement, const char *month,
                               apr_uint64_t *pcount)
{
    const char *path = pds_server_conf(r->server)->audit_log_path;
    const char *node = index_node(r->pool, path);
    pds_index_run_t run;
    pds_consent_conn_t *h;
    pds_error_t err;
    apr_status_t rv, caught;
    void *caught_up = NULL;
    int complete = 0;

    if (node == NULL || (h = pds_consent_conn_acquire(r)) == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00535: the index of disclosures is "
                      "in the consent store, which cannot be reached");
        return APR_EGENERAL;
    }
    /* Once per request: the register asks for many counts. */
    apr_pool_userdata_get(&caught_up, CAUGHT_UP_NOTE, r->pool);
    caught = APR_SUCCESS;
    if (caught_up == NULL) {
        memset(&run, 0, sizeof(run));
        run.r = r;
        run.s = r->server;
        run.pool = r->pool;
        if (store_lock != NULL)
            apr_thread_mutex_lock(store_lock);
        caught = pds_disclosure_index_catch_up(&run, h->store, node,
                                               log_files(r->server, r->pool, path), &complete);
        if (store_lock != NULL)
            apr_thread_mutex_unlock(store_lock);
        if (caught == APR_SUCCESS)
            apr_pool_userdata_setn("", CAUGHT_UP_NOTE, NULL, r->pool);
    }
    pds_error_clear(&err);
    if (pout != NULL) {
        rv = pds_disclosure_store_of(h->store, r->pool, logged_as, apr_time_now(), pout, &err);
        if (rv == APR_SUCCESS && pbehind != NULL) {
            rv = pds_disclosure_store_behind(h->store, r->pool, apr_time_now(),
                                             apr_time_from_sec(PDS_DISCLOSURE_INDEX_STALE_SEC),
                                             caught != APR_SUCCESS ? node : NULL, pbehind,
                                             &err);
            if (rv != APR_SUCCESS) {
                json_decref(*pout);
                *pout = NULL;
            }
        }
    }
    else
        rv = pds_disclosure_store_in_month(h->store, r->pool, agreement, month, pcount, &err);
    if (rv != APR_SUCCESS && err.text[0])
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00536: cannot read the index of "
                      "disclosures: %s", err.text);
    pds_consent_conn_release(h, rv != APR_SUCCESS || caught != APR_SUCCESS);
    return rv;
}

/* --- from the background: mod_watchdog ---------------------------------------- */

#define INDEX_WATCHDOG "mod_pds-disclosure-index"

/* While the background's catch-up fails, it tries again after 2, 4, 8...
 * seconds, at most this many: a store that is down is not asked (nor its
 * failure logged) every interval. */
#define INDEX_BACKOFF_MAX_SEC 60

/* An audit log the background indexes. */
typedef struct background_log_t {
    server_rec *s;
    const char *path;
    int failing;                    /* its last catch-up failed (and said so) */
    int backoff;                    /* seconds to wait after a failure; 0: none */
    apr_time_t next_try;
} background_log_t;

static void index_in_background(background_log_t *bl, apr_pool_t *p)
{
    const char *node = index_node(p, bl->path);
    pds_consent_conn_t *h = NULL;
    pds_index_run_t run;
    apr_status_t rv = APR_EGENERAL;
    int complete = 0;

    if (apr_time_now() < bl->next_try)
        return;
    memset(&run, 0, sizeof(run));
    run.s = bl->s;
    run.pool = p;
    run.quiet = bl->failing;
    if (node != NULL && (h = pds_consent_conn_acquire(NULL)) != NULL) {
        if (store_lock != NULL)
            apr_thread_mutex_lock(store_lock);
        rv = pds_disclosure_index_catch_up(&run, h->store, node, log_files(bl->s, p, bl->path),
                                           &complete);
        if (store_lock != NULL)
            apr_thread_mutex_unlock(store_lock);
        pds_consent_conn_release(h, rv != APR_SUCCESS);
    }
    if (rv != APR_SUCCESS && !bl->failing)
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, bl->s, "PDS00540: the index of disclosures "
                     "of %s is not kept current%s; other nodes' views will say so after %d s; "
                     "trying again, at least every %d s", bl->path, h == NULL
                     ? ": the consent store cannot be reached" : " (see the error before)",
                     PDS_DISCLOSURE_INDEX_STALE_SEC, INDEX_BACKOFF_MAX_SEC);
    else if (rv == APR_SUCCESS && bl->failing)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, bl->s, "PDS00541: the index of disclosures "
                     "of %s is kept current again", bl->path);
    bl->failing = rv != APR_SUCCESS;
    if (rv == APR_SUCCESS)
        bl->backoff = 0;
    else
        bl->backoff = bl->backoff == 0 ? PDS_DISCLOSURE_INDEX_INTERVAL_SEC
            : bl->backoff * 2 > INDEX_BACKOFF_MAX_SEC ? INDEX_BACKOFF_MAX_SEC : bl->backoff * 2;
    bl->next_try = bl->backoff == 0 ? 0 : apr_time_now() + apr_time_from_sec(bl->backoff);
}

static apr_status_t index_tick(int state, void *data, apr_pool_t *p)
{
    apr_array_header_t *logs = data;
    int i;

    /* Not at STARTING: the child's connections to the store may not be
     * made yet (mod_watchdog starts its thread in its own child_init). */
    if (state != AP_WATCHDOG_STATE_RUNNING)
        return APR_SUCCESS;
    for (i = 0; i < logs->nelts; i++)
        index_in_background(&APR_ARRAY_IDX(logs, i, background_log_t), p);
    return APR_SUCCESS;
}

int pds_disclosures_index_post_config(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback;
    apr_array_header_t *logs = apr_array_make(pconf, 2, sizeof(background_log_t));
    apr_hash_t *seen = apr_hash_make(pconf);
    ap_watchdog_t *wd;
    server_rec *vs;
    apr_status_t rv;

    if (!pds_consent_has_store())
        return OK;
    for (vs = s; vs != NULL; vs = vs->next) {
        const char *path = pds_server_conf(vs)->audit_log_path;
        background_log_t *bl;

        if (path == NULL || apr_hash_get(seen, path, APR_HASH_KEY_STRING) != NULL)
            continue;
        apr_hash_set(seen, path, APR_HASH_KEY_STRING, "");
        bl = apr_array_push(logs);
        bl->s = vs;
        bl->path = path;
        bl->failing = 0;
        bl->backoff = 0;
        bl->next_try = 0;
    }
    if (logs->nelts == 0)
        return OK;
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (get_instance == NULL || register_callback == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "PDS00543: mod_watchdog is not loaded: "
                     "this node indexes its audit log for people's views only when one is "
                     "asked here, so the other nodes' views may lack its disclosures; load "
                     "it (LoadModule watchdog_module)");
        return OK;
    }
    rv = get_instance(&wd, INDEX_WATCHDOG, 0, 1, pconf);
    if (rv == APR_SUCCESS)
        rv = register_callback(wd, apr_time_from_sec(PDS_DISCLOSURE_INDEX_INTERVAL_SEC), logs,
                               index_tick);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "PDS00544: cannot start the background "
                     "index of disclosures (mod_watchdog)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

apr_status_t pds_disclosures_of(request_rec *r, const char *person, json_t **pout,
                                json_t **pbehind)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const char *logged_as;
    apr_array_header_t *list;
    apr_time_t now = apr_time_now();
    person_index_t *ix;
    apr_status_t rv;
    json_t *out;
    int i;

    *pout = NULL;
    *pbehind = NULL;
    /* How the log names this person: clear, or the pseudonym. */
    logged_as = pds_conf_audit_pseudonymous(sc)
        ? pds_chain_pseudonym(r->pool, sc->audit_pseudonym_key, person) : person;
    if (pds_consent_has_store())
        return from_store(r, logged_as, pout, pbehind, NULL, NULL, NULL);
    if ((ix = index_locked(r, &rv)) == NULL)
        return rv;
    out = json_array();
    list = apr_hash_get(ix->by_subject, logged_as, APR_HASH_KEY_STRING);
    for (i = 0; out != NULL && list != NULL && i < list->nelts; i++) {
        const disclosure_t *d = &APR_ARRAY_IDX(list, i, disclosure_t);
        if (d->visible_from != PDS_AUDIT_NEVER && d->visible_from <= now)
            json_array_append(out, d->entry);
    }
    index_unlock(ix);
    /* This process read the whole log: nothing is behind. */
    *pbehind = json_array();
    if (out == NULL || *pbehind == NULL) {
        json_decref(out);
        json_decref(*pbehind);
        *pbehind = NULL;
        return APR_ENOMEM;
    }
    *pout = out;
    return APR_SUCCESS;
}

apr_status_t pds_disclosures_in_month(request_rec *r, const char *agreement, const char *month,
                                      apr_uint64_t *pcount)
{
    person_index_t *ix;
    apr_uint64_t *n;
    apr_status_t rv;
    char key[96];

    *pcount = 0;
    if (pds_consent_has_store())
        return from_store(r, NULL, NULL, NULL, agreement, month, pcount);
    if ((ix = index_locked(r, &rv)) == NULL)
        return rv;
    apr_snprintf(key, sizeof(key), "%s %.7s", agreement, month);
    n = apr_hash_get(ix->by_month, key, APR_HASH_KEY_STRING);
    *pcount = n != NULL ? *n : 0;
    index_unlock(ix);
    return APR_SUCCESS;
}

int pds_disclosures_handler(request_rec *r)
{
    const char *person;
    json_t *out, *behind;

    if (r->handler == NULL || strcmp(r->handler, DISCLOSURES_HANDLER) != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    if ((person = pds_person_subject(r)) == NULL)
        return pds_send_problem(r, "person-not-identified", "sign in first: this page shows "
                            "the disclosures about the person httpd authenticated");
    if (pds_server_conf(r->server)->audit_log_path == NULL || indexes == NULL)
        return pds_send_problem(r, "audit-unavailable", "no audit log to read");
    if (pds_disclosures_of(r, person, &out, &behind) != APR_SUCCESS)
        return pds_send_problem(r, "audit-unavailable", "the record of disclosures cannot be "
                            "read just now");
    /* "complete": false when a node's latest disclosures may be missing
     * ("behind" says which, since when and why): never a partial answer
     * that looks whole. */
    return pds_send_json(r, HTTP_OK, json_pack("{s:s,s:o,s:b,s:o}", "subject", person,
                                           "disclosures", out, "complete",
                                           json_array_size(behind) == 0, "behind", behind));
}
