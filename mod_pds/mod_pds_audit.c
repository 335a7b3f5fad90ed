/* mod_pds_audit.c: the tamper-evident audit log inside httpd.
 *
 * One chain per gateway, whatever the number of processes and threads: every
 * line is sealed (seq, hash of the previous line, HMAC; see lib/pds_chain.h)
 * and written under a global mutex, with the chain's state in shared memory.
 * The file, its shared state and the mutex belong to the httpd parent
 * process, not to one configuration, so they outlive graceful restarts: old
 * and new children keep appending to one chain. A full restart continues the
 * chain from the file's last line, after checking its MAC.
 *
 * Rotation is external, as for httpd's own logs: rename the file, then
 * restart gracefully. The parent notices the path no longer names the open
 * file, starts a new one with a file-start line, and every child reopens the
 * path before its next write (the file is owned by httpd's User for that).
 *
 * The chain's head (seq, MAC and hash of the last line; lib/pds_chain.h) is
 * kept outside the log too, in PDSAuditLog + ".head", rewritten in place
 * after every record. A start that finds the log missing, empty, shorter
 * than the head says or replaced refuses to begin a new chain (PDS00160),
 * at `apachectl -t` as at the real start: records were removed, and only the
 * operator may decide to go on (by moving the head file aside).
 *
 * A record's lines are written under the global mutex, which a rotation
 * (replacing and closing this process's descriptor) also takes. With
 * PDSAuditSync on, the request then waits, without the mutex, until its
 * lines are on disk (group commit, lib/pds_group_commit.h): one request at
 * a time, across every process, is the syncer; it takes the mutex for a
 * moment to learn the last seq written and duplicate the descriptor (no
 * rotation can close the duplicate), syncs it, and publishes that seq as
 * durable; the others sleep until a sync covering their own record has
 * completed. One fdatasync thus covers every record written before it
 * began, and still no response leaves before its record is on disk. A
 * rotation syncs the old file before it leaves it, so a sync of the new
 * file never has to cover records in the old one. The head is rewritten
 * once the lines it names are synced, so it never names a line the disk
 * may not hold.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "util_mutex.h"
#include "unixd.h"
#include "apr_atomic.h"
#include "apr_file_io.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#ifdef __linux__
#include <linux/fs.h>
#endif
#include <unistd.h>

#include "mod_pds_audit.h"
#include "mod_pds_audit_record.h"
#include "mod_pds_audit_resume.h"
#include "mod_pds_metrics.h"
#include "pds_group_commit.h"

#define PDS_AUDIT_MUTEX_TYPE "pds-audit"
#define AUDIT_MUTEX_KEY "pds-audit-mutex"
#define AUDIT_SINK_KEY  "pds-audit-sink:"

/* How long a request waits for a sync covering its record before it is
 * refused (audit-unavailable): a disk that takes longer is broken. */
#define AUDIT_SYNC_MAX_WAIT apr_time_from_sec(30)

/* What every process shares, in shared memory. */
typedef struct audit_shared_t {
    pds_chain_state_t chain;
    apr_uint64_t generation;        /* bumped when a new file replaces the old */
    volatile apr_uint64_t head_seq; /* the seq the head file names (atomic) */
    /* The audit key the current file is sealed with, for every process, old
     * children of a graceful restart too: a changed PDSAuditKey takes over
     * only with a new file, so a file is sealed with one key throughout.
     * Changed by the parent, under the mutex. */
    unsigned char file_key[PDS_CHAIN_KEY_MAX];
    apr_size_t file_key_len;
    pds_group_commit_t commit;      /* what is on disk; who syncs (PDSAuditSync on) */
} audit_shared_t;

struct pds_audit_sink_t {
    const char *path;
    const char *head_path;
    apr_file_t *file;               /* this process's handle */
    apr_file_t *head;               /* the head file, opened once by the parent */
    apr_uint64_t generation;        /* of the file this process has open */
    audit_shared_t *shared;
    /* From the current configuration; reset at every (re)start. */
    const pds_key_t *signer;
    apr_uint64_t checkpoint_lines;
    apr_interval_time_t checkpoint_interval;
    int sync;                       /* PDSAuditSync */
    /* This process's HMAC state for the sealing key, made again whenever the
     * key in shared memory is another one; used under the mutex only. */
    apr_pool_t *mac_pool;
    pds_hmac_t *mac;
    unsigned char mac_key[PDS_CHAIN_KEY_MAX];
    apr_size_t mac_key_len;
};

static apr_global_mutex_t *audit_mutex;
static const char *audit_node;      /* every record's "node" (PDSNodeName) */

void pds_audit_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, PDS_AUDIT_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t open_file(apr_file_t **pf, const char *path, apr_pool_t *p)
{
    return apr_file_open(pf, path,
                         APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                         APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
}

/* Children run as httpd's User and must be able to reopen the file after a
 * rotation. They can already write to it through the handle they inherit, so
 * owning it gives them nothing more. */
static void give_file_to_children(const char *path, apr_pool_t *ptemp, server_rec *s)
{
    apr_finfo_t finfo;

    /* Only a regular file of our own: never a device or someone's link. */
    if (geteuid() != 0
        || apr_stat(&finfo, path, APR_FINFO_TYPE | APR_FINFO_LINK, ptemp) != APR_SUCCESS
        || finfo.filetype != APR_REG)
        return;
    if (chown(path, ap_unixd_config.user_id, -1) != 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, "PDS00050: cannot give the "
                     "audit log %s to User %s; after a rotation children cannot reopen it",
                     path, ap_unixd_config.user_name);
}

/* Rewrites the head in place: one pwrite of a fixed-size line at offset 0, so
 * a reader sees the old head or the new one. Under the mutex. Not synced on
 * its own: it is written after the log's lines were, so it never names a line
 * the disk does not hold; after a crash it may lag behind the log, which a
 * start accepts. */
static apr_status_t put_head(pds_audit_sink_t *sink, const char buf[PDS_CHAIN_HEAD_LEN])
{
    apr_os_file_t fd;
    ssize_t n;

    if (sink->head == NULL)
        return APR_SUCCESS;             /* not a regular file: nothing to cut */
    if (apr_os_file_get(&fd, sink->head) != APR_SUCCESS)
        return APR_EBADF;
    do {
        n = pwrite(fd, buf, PDS_CHAIN_HEAD_LEN, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return APR_FROM_OS_ERROR(errno);
    return n == PDS_CHAIN_HEAD_LEN ? APR_SUCCESS : APR_EGENERAL;
}

/* Under the mutex: the head as the chain stands now. */
static apr_status_t write_head(pds_audit_sink_t *sink)
{
    char buf[PDS_CHAIN_HEAD_LEN];

    pds_chain_head_format(buf, &sink->shared->chain);
    apr_atomic_set64(&sink->shared->head_seq, sink->shared->chain.seq);
    return put_head(sink, buf);
}

/* Without the mutex, once the line seq (whose head line is buf) is synced:
 * the head moves forward only. Two records published out of order can leave
 * it one behind for a moment, which a start accepts (the log is ahead). */
static apr_status_t publish_head(pds_audit_sink_t *sink, apr_uint64_t seq,
                                 const char buf[PDS_CHAIN_HEAD_LEN])
{
    apr_uint64_t cur;

    do {
        cur = apr_atomic_read64(&sink->shared->head_seq);
        if (cur >= seq)
            return APR_SUCCESS;         /* a later record's head is there */
    } while (apr_atomic_cas64(&sink->shared->head_seq, seq, cur) != cur);
    return put_head(sink, buf);
}

/* The key new lines are sealed with, in shared memory: at the first start,
 * then only when a new file begins. The parent; under the mutex once
 * children run. */
static void set_file_key(pds_audit_sink_t *sink, const pds_chain_key_t *key)
{
    apr_size_t len;
    const unsigned char *bytes = pds_chain_key_bytes(key, &len);

    memcpy(sink->shared->file_key, bytes, len);
    sink->shared->file_key_len = len;
}

/* The key to seal with now (under the mutex, or in the parent), with this
 * process's HMAC state for it: keyed once, not for every line. Without one
 * (no memory) each line is keyed as it is sealed. */
static const pds_chain_key_t *sealing_key(pds_audit_sink_t *sink, apr_pool_t *p)
{
    audit_shared_t *sh = sink->shared;
    pds_chain_key_t *key = pds_chain_key_over(p, sh->file_key, sh->file_key_len);

    if (sink->mac == NULL || sink->mac_key_len != sh->file_key_len
        || memcmp(sink->mac_key, sh->file_key, sh->file_key_len) != 0) {
        if (sink->mac_pool != NULL)
            apr_pool_clear(sink->mac_pool);
        else if (apr_pool_create(&sink->mac_pool, NULL) != APR_SUCCESS)
            sink->mac_pool = NULL;
        sink->mac = sink->mac_pool != NULL && sh->file_key_len > 0
            ? pds_hmac_create(sink->mac_pool, sh->file_key, sh->file_key_len) : NULL;
        memcpy(sink->mac_key, sh->file_key, sh->file_key_len);
        sink->mac_key_len = sink->mac != NULL ? sh->file_key_len : 0;
    }
    pds_chain_key_use_hmac(key, sink->mac);
    return key;
}

static apr_status_t create_sink(pds_audit_sink_t **psink, const char *path,
                                const pds_chain_key_t *key, apr_pool_t *ptemp,
                                server_rec *s)
{
    apr_pool_t *lifetime = s->process->pool;
    pds_audit_sink_t *sink = apr_pcalloc(lifetime, sizeof(*sink));
    apr_finfo_t finfo;
    apr_shm_t *shm;
    apr_status_t rv;

    sink->path = apr_pstrdup(lifetime, path);
    sink->head_path = apr_pstrcat(lifetime, path, PDS_AUDIT_HEAD_SUFFIX, NULL);
    rv = open_file(&sink->file, path, lifetime);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00040: cannot "
                     "open the audit log %s: check that its directory exists and is "
                     "writable by the user httpd starts as", path);
        return rv;
    }
    rv = apr_shm_create(&shm, sizeof(audit_shared_t), NULL, lifetime);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00049: cannot "
                     "create shared memory for the audit log's chain");
        return rv;
    }
    sink->shared = apr_shm_baseaddr_get(shm);
    memset(sink->shared, 0, sizeof(*sink->shared));
    pds_chain_state_init(&sink->shared->chain);
    set_file_key(sink, key);
    if ((rv = pds_audit_resume_chain(&sink->shared->chain, sink->file, path, key, ptemp, s))
        != APR_SUCCESS)
        return rv;
    /* What the file held at the start is what a sync would find there. */
    pds_group_commit_init(&sink->shared->commit, sink->shared->chain.seq);
    /* A head only beside a regular file: a device is not a log one can cut. */
    if (apr_file_info_get(&finfo, APR_FINFO_TYPE, sink->file) != APR_SUCCESS
        || finfo.filetype == APR_REG) {
        if ((rv = pds_audit_resume_check_head(&sink->shared->chain, path, sink->head_path, ptemp, s))
            != APR_SUCCESS)
            return rv;
        /* Only the parent opens it; children write through the descriptor
         * they inherit, so it stays root's, mode 0600. */
        rv = apr_file_open(&sink->head, sink->head_path,
                           APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                           APR_FPROT_UREAD | APR_FPROT_UWRITE, lifetime);
        if (rv == APR_SUCCESS)
            rv = write_head(sink);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00164: cannot "
                     "write the audit log's head file %s: check that the log's directory "
                     "is writable by the user httpd starts as", sink->head_path);
        return rv;
    }
    give_file_to_children(path, ptemp, s);
    *psink = sink;
    return APR_SUCCESS;
}

/* Writes one sealed line, advancing the chain only once it is written. A
 * write cut short (disk full) is cut back off, so the next line does not
 * land glued to half a record: under the mutex nobody else appends, so the
 * file ended `written` bytes before where it ends now. (Asking for the size
 * before every write cost a system call per record.) */
static apr_status_t append_line(pds_audit_sink_t *sink, const char *line, apr_size_t len,
                                apr_time_t now)
{
    apr_size_t written = 0;
    apr_status_t rv = apr_file_write_full(sink->file, line, len, &written);
    apr_finfo_t after;

    if (rv == APR_SUCCESS) {
        pds_chain_commit(&sink->shared->chain, line, len, now);
        return APR_SUCCESS;
    }
    if (written > 0 && apr_file_info_get(&after, APR_FINFO_SIZE, sink->file) == APR_SUCCESS
        && after.size >= (apr_off_t)written)
        apr_file_trunc(sink->file, after.size - (apr_off_t)written);
    return rv;
}

/* The renamed file's last line: a signed checkpoint over everything in it
 * (when PDSAuditSigningKey is set and lines were written since the last
 * one), so that an archived file verifies to its end with the public key
 * alone. Under the mutex, before the new file is started. A failure costs
 * only that coverage: the new file's first line continues the chain. */
static void seal_old_file(pds_audit_sink_t *sink, apr_pool_t *ptemp, server_rec *s)
{
    apr_time_t now = apr_time_now();
    apr_status_t rv = APR_SUCCESS;
    pds_error_t err;
    char *line;
    apr_size_t len;

    if (sink->signer == NULL || !pds_chain_checkpoint_due(&sink->shared->chain, 1, 0, now))
        return;
    pds_error_clear(&err);
    /* still the old file's key: a new PDSAuditKey takes over after this */
    rv = pds_chain_checkpoint(&line, &len, &sink->shared->chain, sealing_key(sink, ptemp),
                              sink->signer, now, ptemp, &err);
    if (rv == APR_SUCCESS)
        rv = append_line(sink, line, len, now);
    if (rv == APR_SUCCESS && sink->sync)
        rv = apr_file_datasync(sink->file);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "PDS00390: cannot end the rotated "
                     "audit log with a checkpoint%s%s; its last lines are covered by the "
                     "next file's signatures only", err.text[0] ? ": " : "", err.text);
}

/* After a rename and a graceful restart: a new file whose first line names
 * the old one, sealed from its first line with the configured key (a
 * rotated PDSAuditKey takes over here). Runs in the parent, under the mutex. */
static apr_status_t start_new_file(pds_audit_sink_t *sink, const pds_chain_key_t *key,
                                   apr_pool_t *ptemp, server_rec *s)
{
    apr_file_t *fresh;
    char *line;
    apr_size_t len;
    pds_error_t err;
    apr_status_t rv;

    rv = open_file(&fresh, sink->path, s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00051: cannot "
                     "create the new audit log %s after rotation", sink->path);
        return rv;
    }
    give_file_to_children(sink->path, ptemp, s);
    seal_old_file(sink, ptemp, s);
    pds_error_clear(&err);
    /* Records still waiting for a sync of the old file: sync them here, as
     * syncs from now on are of the new one. */
    if (sink->sync && (rv = apr_file_datasync(sink->file)) != APR_SUCCESS) {
        apr_file_close(fresh);
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00350: cannot "
                     "sync the rotated audit log before starting %s", sink->path);
        return rv;
    }
    if (sink->sync)
        pds_group_commit_publish(&sink->shared->commit, sink->shared->chain.seq);
    apr_file_close(sink->file);
    sink->file = fresh;
    set_file_key(sink, key);
    rv = pds_chain_file_start(&line, &len, &sink->shared->chain, sealing_key(sink, ptemp),
                              sink->path, apr_time_now(), ptemp, &err);
    if (rv == APR_SUCCESS)
        rv = append_line(sink, line, len, apr_time_now());
    if (rv == APR_SUCCESS && sink->sync)
        rv = apr_file_datasync(sink->file);
    if (rv == APR_SUCCESS && sink->sync)
        pds_group_commit_publish(&sink->shared->commit, sink->shared->chain.seq);
    if (rv == APR_SUCCESS)
        rv = write_head(sink);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00052: cannot "
                     "start the new audit log %s: %s", sink->path, err.text);
        return rv;
    }
    sink->shared->generation++;
    sink->generation = sink->shared->generation;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "PDS00053: audit log %s was rotated; "
                 "the new file continues the chain at seq %" APR_UINT64_T_FMT,
                 sink->path, sink->shared->chain.seq);
    return APR_SUCCESS;
}

/* Has the path been renamed away from the file this process holds? */
static int file_was_rotated(pds_audit_sink_t *sink, apr_pool_t *ptemp)
{
    apr_finfo_t by_path, by_handle;

    if (apr_stat(&by_path, sink->path, APR_FINFO_IDENT, ptemp) != APR_SUCCESS)
        return 1;
    if (apr_file_info_get(&by_handle, APR_FINFO_IDENT, sink->file) != APR_SUCCESS)
        return 0;
    return by_path.inode != by_handle.inode || by_path.device != by_handle.device;
}

static apr_status_t attach_mutex(server_rec *s)
{
    apr_pool_t *lifetime = s->process->pool;
    apr_status_t rv;

    audit_mutex = NULL;
    apr_pool_userdata_get((void **)&audit_mutex, AUDIT_MUTEX_KEY, lifetime);
    if (audit_mutex != NULL)
        return APR_SUCCESS;
    rv = ap_global_mutex_create(&audit_mutex, NULL, PDS_AUDIT_MUTEX_TYPE, NULL, s,
                                lifetime, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00041: cannot "
                     "create the audit log mutex; see the Mutex directive");
        return rv;
    }
    apr_pool_userdata_set(audit_mutex, AUDIT_MUTEX_KEY, NULL, lifetime);
    return APR_SUCCESS;
}

static apr_status_t setup_sink(pds_server_conf_t *sc, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *lifetime = s->process->pool;
    const char *key = apr_pstrcat(ptemp, AUDIT_SINK_KEY, sc->audit_log_path, NULL);
    pds_audit_sink_t *sink = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&sink, key, lifetime);
    if (sink == NULL) {
        if ((rv = create_sink(&sink, sc->audit_log_path, sc->audit_key, ptemp, s))
            != APR_SUCCESS)
            return rv;
        apr_pool_userdata_set(sink, apr_pstrdup(lifetime, key), NULL, lifetime);
    }
    /* The configuration's memory is new at every restart: point at it again. */
    sink->signer = sc->audit_signing_key;
    sink->checkpoint_lines = (apr_uint64_t)pds_conf_checkpoint_lines(sc);
    sink->checkpoint_interval = apr_time_from_sec(pds_conf_checkpoint_seconds(sc));
    sink->sync = pds_conf_audit_sync(sc);
    sc->audit = sink;

    if (file_was_rotated(sink, ptemp)) {
        if ((rv = apr_global_mutex_lock(audit_mutex)) != APR_SUCCESS)
            return rv;
        rv = start_new_file(sink, sc->audit_key, ptemp, s);
        apr_global_mutex_unlock(audit_mutex);
        return rv;
    }
    if (!pds_chain_key_equal(sealing_key(sink, ptemp), sc->audit_key))
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "PDS00490: PDSAuditKey changed: %s "
                     "stays sealed with the key it began with, and the new key seals the "
                     "next file: rename the log and restart gracefully to rotate it now",
                     sink->path);
    sink->generation = sink->shared->generation;
    return APR_SUCCESS;
}

/* check_config (also `apachectl -t`): a log whose head says records were
 * removed fails here, before anything is opened for writing. A server whose
 * sink already lives in this parent (a graceful restart, a rotation) goes
 * on with the chain it holds and is not checked again. */
int pds_audit_check_config(apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    const char *why = NULL;
    int failed = 0;

    if (pds_conf_node_name(s, ptemp, &why) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00470: %s", why);
        failed = 1;
    }

    for (vs = s; vs != NULL; vs = vs->next) {
        pds_server_conf_t *sc = pds_server_conf(vs);
        const char *key;
        void *sink = NULL;

        if (sc->audit_log_path == NULL || sc->audit_key == NULL)
            continue;
        key = apr_pstrcat(ptemp, AUDIT_SINK_KEY, sc->audit_log_path, NULL);
        apr_pool_userdata_get(&sink, key, s->process->pool);
        if (sink == NULL && pds_audit_resume_check_log(sc->audit_log_path, sc->audit_key, ptemp, vs)
            != APR_SUCCESS)
            failed = 1;
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

int pds_audit_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    const char *why = NULL;
    int needed = 0;

    /* Checked by check_config; the host name is read once per start. */
    audit_node = pds_conf_node_name(s, pconf, &why);
    if (audit_node == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00471: %s", why);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    for (vs = s; vs != NULL; vs = vs->next) {
        if (pds_server_conf(vs)->audit_log_path != NULL)
            needed = 1;
    }
    if (!needed)
        return OK;
    if (attach_mutex(s) != APR_SUCCESS)
        return HTTP_INTERNAL_SERVER_ERROR;
    for (vs = s; vs != NULL; vs = vs->next) {
        pds_server_conf_t *sc = pds_server_conf(vs);

        if (sc->audit_log_path == NULL || sc->audit != NULL)
            continue;
        if (setup_sink(sc, ptemp, s) != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void pds_audit_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (audit_mutex == NULL)
        return;
    rv = apr_global_mutex_child_init(&audit_mutex,
                                     apr_global_mutex_lockfile(audit_mutex), pchild);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "PDS00042: cannot attach to the "
                     "audit log mutex in this child; its requests will be refused");
}

/* Under the mutex: follow a rotation another process made. */
static apr_status_t follow_rotation(pds_audit_sink_t *sink, server_rec *s)
{
    apr_file_t *fresh;
    apr_status_t rv;

    if (sink->generation == sink->shared->generation)
        return APR_SUCCESS;
    rv = open_file(&fresh, sink->path, s->process->pool);
    if (rv != APR_SUCCESS)
        return rv;
    apr_file_close(sink->file);
    sink->file = fresh;
    sink->generation = sink->shared->generation;
    return APR_SUCCESS;
}

/* What a record written under the mutex still needs after it. */
typedef struct written_t {
    int must_sync;                  /* PDSAuditSync on: wait for a sync */
    apr_uint64_t seq;               /* of the last line written */
} written_t;

/* Under the mutex: seal and write a collection's subject lines, then the
 * record, then a checkpoint when one is due. With PDSAuditSync on, w says
 * which seq finish_record must see synced once the mutex is released; with
 * it off the head is rewritten here. */
static apr_status_t write_record(pds_audit_sink_t *sink, const apr_array_header_t *parts,
                                 const pds_audit_line_t *record, request_rec *r,
                                 written_t *w,
                                 pds_error_t *err)
{
    apr_time_t now = apr_time_now();
    const pds_chain_key_t *key;
    char *line;
    apr_size_t len;
    apr_status_t rv;
    int k;

    w->must_sync = 0;
    if ((rv = follow_rotation(sink, r->server)) != APR_SUCCESS) {
        pds_error_set(err, "audit-unavailable", -1, "audit", "cannot reopen the rotated "
                      "audit log");
        return rv;
    }
    key = sealing_key(sink, r->pool);
    for (k = 0; parts != NULL && k < parts->nelts; k++) {
        const pds_audit_line_t *part = &APR_ARRAY_IDX(parts, k, pds_audit_line_t);

        rv = pds_chain_seal_text(&line, &len, &sink->shared->chain, key, part->json,
                                 part->len, r->pool, err);
        if (rv == APR_SUCCESS)
            rv = append_line(sink, line, len, now);
        if (rv != APR_SUCCESS)
            return rv;
    }
    rv = pds_chain_seal_text(&line, &len, &sink->shared->chain, key, record->json,
                             record->len, r->pool, err);
    if (rv == APR_SUCCESS)
        rv = append_line(sink, line, len, now);
    if (rv != APR_SUCCESS)
        return rv;
    if (sink->signer != NULL
        && pds_chain_checkpoint_due(&sink->shared->chain, sink->checkpoint_lines,
                                    sink->checkpoint_interval, now)) {
        pds_error_t cerr;

        /* The record is written; a failed checkpoint is logged, and retried
         * with the next record. */
        pds_error_clear(&cerr);
        if (pds_chain_checkpoint(&line, &len, &sink->shared->chain, key, sink->signer,
                                 now, r->pool, &cerr) != APR_SUCCESS
            || append_line(sink, line, len, now) != APR_SUCCESS)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00054: cannot write an audit "
                          "checkpoint%s%s", cerr.text[0] ? ": " : "", cerr.text);
    }
    if (!sink->sync) {
        if ((rv = write_head(sink)) != APR_SUCCESS)
            pds_error_set(err, "audit-unavailable", -1, "audit", "the chain's head file "
                          "%s could not be written", sink->head_path);
        return rv;
    }
    w->seq = sink->shared->chain.seq;
    w->must_sync = 1;
    return APR_SUCCESS;
}

/* The group commit's sync, run by one request at a time (the syncer). */
typedef struct syncer_t {
    pds_audit_sink_t *sink;
    request_rec *r;
    pds_error_t *err;
} syncer_t;

/* Under the mutex for a moment: the last seq written, its head line and a
 * duplicate of the descriptor it was written to (a rotation may close
 * sink->file, never the duplicate). Then, without it: the sync, and the
 * head naming what is now on disk. A head that cannot be written fails the
 * sync: the records it covered are refused, as before group commit. */
static apr_status_t sync_written(void *baton, apr_uint64_t *covered)
{
    syncer_t *sy = baton;
    pds_audit_sink_t *sink = sy->sink;
    apr_file_t *dup = NULL;
    char head[PDS_CHAIN_HEAD_LEN];
    apr_uint64_t seq;
    apr_time_t start;
    apr_status_t rv, close_rv;

    *covered = 0;
    if ((rv = apr_global_mutex_lock(audit_mutex)) != APR_SUCCESS) {
        pds_error_set(sy->err, "audit-unavailable", -1, "audit", "cannot lock the audit "
                      "log to sync it");
        return rv;
    }
    rv = follow_rotation(sink, sy->r->server);
    if (rv == APR_SUCCESS)
        rv = apr_file_dup(&dup, sink->file, sy->r->pool);
    seq = sink->shared->chain.seq;
    pds_chain_head_format(head, &sink->shared->chain);
    apr_global_mutex_unlock(audit_mutex);
    if (rv != APR_SUCCESS) {
        pds_error_set(sy->err, "audit-unavailable", -1, "audit", "cannot hold the audit "
                      "log open to sync it");
        return rv;
    }
    *covered = seq;
    pds_group_commit_target(&sink->shared->commit, seq);
    start = apr_time_now();
    rv = apr_file_datasync(dup);
    close_rv = apr_file_close(dup);
    if (rv == APR_SUCCESS)
        rv = close_rv;
    pds_metrics_audit_sync(pds_counters(), rv == APR_SUCCESS, pds_counters_since(start));
    if (rv != APR_SUCCESS) {
        pds_error_set(sy->err, "audit-unavailable", -1, "audit", "the record could not be "
                      "synced to disk");
        return rv;
    }
    if ((rv = publish_head(sink, seq, head)) != APR_SUCCESS)
        pds_error_set(sy->err, "audit-unavailable", -1, "audit", "the chain's head file %s "
                      "could not be written", sink->head_path);
    return rv;
}

/* After the mutex: durable before release (the caller sends nothing until
 * this returns). */
static apr_status_t finish_record(pds_audit_sink_t *sink, written_t *w, request_rec *r,
                                  pds_error_t *err)
{
    syncer_t sy;
    apr_status_t rv;

    if (!w->must_sync)
        return APR_SUCCESS;
    sy.sink = sink;
    sy.r = r;
    sy.err = err;
    rv = pds_group_commit_wait(&sink->shared->commit, w->seq, sync_written, &sy,
                               AUDIT_SYNC_MAX_WAIT, NULL);
    if (rv != APR_SUCCESS && err->text[0] == '\0')
        pds_error_set(err, "audit-unavailable", -1, "audit", rv == APR_TIMEUP
                      ? "no sync covered the record in time"
                      : "a sync meant to cover the record failed");
    return rv;
}

apr_status_t pds_audit_decision(request_rec *r, pds_request_t *rq,
                                const char *decision, const char *reason,
                                int status, const apr_array_header_t *fields)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    pds_audit_record_t rec;
    pds_audit_line_t record;
    apr_array_header_t *parts = NULL;
    written_t written;
    pds_error_t err;
    apr_status_t rv, unlock_rv;
    apr_time_t started;

    if (rq->audited)
        return APR_SUCCESS;             /* one record per decision */
    pds_error_clear(&err);
    if (sc->audit == NULL || audit_mutex == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00043: no audit log is open "
                      "for this server; set PDSAuditLog");
        rv = APR_EINIT;
        goto failed;
    }

    pds_audit_record_of(&rec, r, rq, decision, reason, status, fields, audit_node);

    rv = pds_audit_record_lines(&record, &parts, &rec, r->pool, &err);
    if (rv != APR_SUCCESS)
        goto failed;
    started = apr_time_now();
    rv = apr_global_mutex_lock(audit_mutex);
    if (rv != APR_SUCCESS) {
        pds_error_set(&err, "audit-unavailable", -1, "audit", "cannot lock the audit log");
        pds_metrics_audit_write(pds_counters(), 0, pds_counters_since(started));
        goto failed;
    }
    rv = write_record(sc->audit, parts, &record, r, &written, &err);
    unlock_rv = apr_global_mutex_unlock(audit_mutex);
    if (unlock_rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, unlock_rv, r, "PDS00046: cannot unlock "
                      "the audit log");
    pds_metrics_audit_write(pds_counters(), rv == APR_SUCCESS, pds_counters_since(started));
    if (rv == APR_SUCCESS)
        rv = finish_record(sc->audit, &written, r, &err);
    if (rv != APR_SUCCESS)
        goto failed;
    rq->audited = 1;
    pds_count_decision(r, rq, decision, reason);
    return APR_SUCCESS;

failed:
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "PDS00045: cannot write the audit record "
                  "of request %s to %s%s%s", rq->request_id,
                  sc->audit ? sc->audit->path : "(no audit log)",
                  err.text[0] ? ": " : "", err.text);
    if (pds_conf_audit_fail_open(sc)) {
        /* The operator chose availability over the record (PDSAuditOnFailure allow). */
        ap_log_rerror(APLOG_MARK, APLOG_CRIT, 0, r, "PDS00055: request %s proceeds "
                      "WITHOUT an audit record (PDSAuditOnFailure allow)", rq->request_id);
        rq->audited = 1;
        pds_count_decision(r, rq, decision, reason);
        return APR_SUCCESS;
    }
    return rv;
}

const char *pds_audit_health(server_rec *s, apr_pool_t *p, const char **keys)
{
    pds_server_conf_t *sc = pds_server_conf(s);
    pds_audit_sink_t *sink = sc->audit;
    apr_finfo_t open_info, path_info;
    struct statvfs vfs;
    apr_os_file_t fd;
    apr_status_t rv;
    char buf[120];

    *keys = NULL;
    if (sink == NULL || audit_mutex == NULL || sink->file == NULL)
        return "no audit log is open for this server (PDSAuditLog)";
    if (sink->shared->file_key_len == 0)
        *keys = "the audit chain's key (PDSAuditKey) is not loaded";
    else if (sc->audit_signing_key != NULL && sink->signer == NULL)
        *keys = "the checkpoint signing key (PDSAuditSigningKey) is not loaded";
    /* The file this process writes records to... */
    if ((rv = apr_file_info_get(&open_info, APR_FINFO_TYPE | APR_FINFO_INODE | APR_FINFO_DEV,
                                sink->file)) != APR_SUCCESS
        || apr_os_file_get(&fd, sink->file) != APR_SUCCESS)
        return apr_psprintf(p, "the audit log %s cannot be examined: %s", sink->path,
                            apr_strerror(rv, buf, sizeof(buf)));
    if (fstatvfs(fd, &vfs) == 0) {
        if (vfs.f_flag & ST_RDONLY)
            return apr_psprintf(p, "the audit log %s is on a read-only file system",
                                sink->path);
        if (open_info.filetype == APR_REG && vfs.f_bavail == 0)
            return apr_psprintf(p, "the file system of the audit log %s is full", sink->path);
    }
#if defined(__linux__) && defined(FS_IOC_GETFLAGS)
    {
        int flags = 0;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL))
            return apr_psprintf(p, "the audit log %s is immutable (chattr +i)", sink->path);
    }
#endif
    /* ...is still the one its path names: the next start, a rotation and
     * every reader go by the path. A path this process may not look into
     * (a directory only root can enter) is not a fault. */
    rv = apr_stat(&path_info, sink->path, APR_FINFO_TYPE | APR_FINFO_INODE | APR_FINFO_DEV, p);
    if (rv == APR_SUCCESS && open_info.filetype == APR_REG
        && (path_info.inode != open_info.inode || path_info.device != open_info.device))
        return apr_psprintf(p, "the audit log's path %s names another file than the one "
                            "records are written to (rotated without a graceful restart?)",
                            sink->path);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EACCES(rv))
        return apr_psprintf(p, "the audit log is no longer at %s (%s): moved, removed, or "
                            "its directory replaced", sink->path,
                            apr_strerror(rv, buf, sizeof(buf)));
    return NULL;
}

apr_file_t *pds_audit_file(server_rec *s)
{
    pds_server_conf_t *sc = pds_server_conf(s);

    return sc->audit != NULL ? sc->audit->file : NULL;
}

/* log_transaction: a decision that reached no record (the response filter
 * never saw the end of the response) still gets one, marked as an error. */
int pds_audit_log_transaction(request_rec *r)
{
    pds_request_t *rq = pds_request_get(r);

    if (rq == NULL || rq->audited)
        return DECLINED;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PDS00047: request %s ended without "
                  "an audit record; recording it as an internal error", rq->request_id);
    pds_audit_decision(r, rq, "deny", "internal-error", r->status, NULL);
    return DECLINED;
}
