/* mod_pds_audit.c: the audit log inside httpd.
 *
 * The file is opened by the parent in post_config (as root, like httpd's own
 * logs) and inherited by the children. Every record is written under a global
 * mutex, so lines from many processes and threads never interleave and a
 * chained (tamper-evident) format can be added without changing callers. The
 * mutex follows httpd's lifecycle: registered in pre_config, created in the
 * real post_config, re-attached in child_init. Each record carries a "seq"
 * kept in shared memory under that mutex, continued from the file's last
 * record when httpd starts.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "util_mutex.h"
#include "apr_file_io.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "mod_pds_private.h"

#define PDS_AUDIT_MUTEX_TYPE "pds-audit"

struct pds_audit_sink_t {
    const char *path;
    apr_file_t *file;
    pds_audit_writer_t *writer;
    apr_uint64_t *shared_seq;       /* the last seq written, in shared memory */
};

/* The audit log, its sequence and its mutex live as long as the httpd parent
 * process, not one configuration: on a graceful restart old and new children
 * append to the same file at the same time and must share one numbering. */
static apr_global_mutex_t *audit_mutex;

#define AUDIT_MUTEX_KEY "pds-audit-mutex"
#define AUDIT_SINK_KEY  "pds-audit-sink:"
#define AUDIT_TAIL_SIZE 65536

void pds_audit_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, PDS_AUDIT_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t write_to_file(void *baton, const char *line, apr_size_t len)
{
    pds_audit_sink_t *sink = baton;

    return apr_file_write_full(sink->file, line, len, NULL);
}

/* The seq of the last record already in the file, so numbering continues
 * across restarts. */
static apr_status_t read_last_seq(pds_audit_sink_t *sink, apr_pool_t *ptemp,
                                  server_rec *s)
{
    apr_finfo_t finfo;
    apr_off_t offset;
    apr_size_t len;
    char *tail;
    pds_error_t err;
    apr_status_t rv;

    rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, sink->file);
    if (rv != APR_SUCCESS)
        return rv;
    offset = finfo.size > AUDIT_TAIL_SIZE ? finfo.size - AUDIT_TAIL_SIZE : 0;
    len = (apr_size_t)(finfo.size - offset);
    tail = apr_palloc(ptemp, len + 1);
    if (len > 0) {
        rv = apr_file_seek(sink->file, APR_SET, &offset);
        if (rv == APR_SUCCESS)
            rv = apr_file_read_full(sink->file, tail, len, &len);
        if (rv != APR_SUCCESS)
            return rv;
    }
    pds_error_clear(&err);
    rv = pds_audit_last_seq(tail, len, sink->shared_seq, &err);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00048: the audit "
                     "log %s cannot be continued: %s; move it aside (keep it for the "
                     "auditors) and start again", sink->path, err.text);
    return rv;
}

static apr_status_t open_sink(pds_audit_sink_t **psink, const char *path,
                              apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *lifetime = s->process->pool;
    const char *key = apr_pstrcat(ptemp, AUDIT_SINK_KEY, path, NULL);
    pds_audit_sink_t *sink = NULL;
    apr_shm_t *shm;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&sink, key, lifetime);
    if (sink != NULL) {
        *psink = sink;
        return APR_SUCCESS;
    }
    sink = apr_pcalloc(lifetime, sizeof(*sink));
    sink->path = apr_pstrdup(lifetime, path);
    rv = apr_file_open(&sink->file, path,
                       APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, lifetime);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00040: cannot "
                     "open the audit log %s: check that its directory exists and is "
                     "writable by the user httpd starts as", path);
        return rv;
    }
    rv = apr_shm_create(&shm, sizeof(apr_uint64_t), NULL, lifetime);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00049: cannot "
                     "create shared memory for the audit log's sequence");
        return rv;
    }
    sink->shared_seq = apr_shm_baseaddr_get(shm);
    *sink->shared_seq = 0;
    if ((rv = read_last_seq(sink, ptemp, s)) != APR_SUCCESS)
        return rv;
    rv = pds_audit_writer_create(&sink->writer, lifetime, write_to_file, sink);
    if (rv != APR_SUCCESS)
        return rv;
    apr_pool_userdata_set(sink, apr_pstrdup(lifetime, key), NULL, lifetime);
    *psink = sink;
    return APR_SUCCESS;
}

int pds_audit_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *lifetime = s->process->pool;
    server_rec *vs;
    apr_status_t rv;
    int needed = 0;

    for (vs = s; vs != NULL; vs = vs->next) {
        pds_server_conf_t *sc = pds_server_conf(vs);

        if (sc->audit_log_path == NULL)
            continue;
        needed = 1;
        if (open_sink(&sc->audit, sc->audit_log_path, ptemp, s) != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!needed)
        return OK;
    audit_mutex = NULL;
    apr_pool_userdata_get((void **)&audit_mutex, AUDIT_MUTEX_KEY, lifetime);
    if (audit_mutex != NULL)
        return OK;
    rv = ap_global_mutex_create(&audit_mutex, NULL, PDS_AUDIT_MUTEX_TYPE, NULL, s,
                                lifetime, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00041: cannot "
                     "create the audit log mutex; see the Mutex directive");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_userdata_set(audit_mutex, AUDIT_MUTEX_KEY, NULL, lifetime);
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

apr_status_t pds_audit_decision(request_rec *r, pds_request_t *rq,
                                const char *decision, const char *reason,
                                int status, const apr_array_header_t *fields)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const pds_agreement_t *a = rq->decision.agreement;
    pds_audit_record_t rec;
    pds_error_t err;
    apr_status_t rv, unlock_rv;

    if (rq->audited)
        return APR_SUCCESS;             /* one record per decision */
    if (sc->audit == NULL || audit_mutex == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00043: no audit log is open "
                      "for this server; set PDSAuditLog");
        return APR_EINIT;
    }

    memset(&rec, 0, sizeof(rec));
    rec.time = r->request_time;
    rec.request_id = rq->request_id;
    rec.client_ip = r->useragent_ip;
    rec.organisation = rq->organisation;
    rec.agreement = a ? pds_agreement_id(a) : NULL;
    rec.agreement_version = a ? pds_agreement_version(a) : NULL;
    rec.purpose = rq->purpose;
    rec.legal_basis = a ? pds_agreement_legal_basis(a) : NULL;
    rec.subject = rq->decision.subject;
    rec.method = r->method;
    /* The path as decided on; before it was accepted, the raw target. */
    rec.path = rq->path ? rq->path : r->unparsed_uri;
    rec.decision = decision;
    rec.reason = reason;
    rec.status = status;
    rec.fields = fields;

    pds_error_clear(&err);
    rv = apr_global_mutex_lock(audit_mutex);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "PDS00044: cannot lock the audit log");
        return rv;
    }
    pds_audit_writer_set_seq(sc->audit->writer, *sc->audit->shared_seq);
    rv = pds_audit_append(sc->audit->writer, &rec, r->pool, &err);
    *sc->audit->shared_seq = pds_audit_writer_seq(sc->audit->writer);
    unlock_rv = apr_global_mutex_unlock(audit_mutex);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "PDS00045: cannot write to the audit "
                      "log %s%s%s", sc->audit->path, err.text[0] ? ": " : "", err.text);
        return rv;
    }
    if (unlock_rv != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, unlock_rv, r, "PDS00046: cannot unlock "
                      "the audit log");
    rq->audited = 1;
    return APR_SUCCESS;
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
