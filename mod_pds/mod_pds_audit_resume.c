/* mod_pds_audit_resume.c: continuing an audit chain at a start
 * (mod_pds_audit_resume.h). Runs in the parent, before any child: from the
 * log's last line and the head file beside it.
 */
#include "httpd.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_pds_audit_resume.h"

#define AUDIT_READ_CHUNK 65536

/* The file's last complete line, whatever its length: read backwards in
 * chunks to the "\n" that ends it, then to the one before it (or the start of
 * the file). *pbuf gets that line with its "\n" (pool memory); *plen 0 when
 * the file holds no complete line. Bytes after the last "\n" (a write cut
 * short) are not part of it. */
static apr_status_t read_last_line(apr_file_t *f, apr_pool_t *p, char **pbuf,
                                   apr_size_t *plen)
{
    apr_finfo_t finfo;
    apr_off_t pos, end = -1, start = 0, off;
    char *chunk = apr_palloc(p, AUDIT_READ_CHUNK), *buf;
    apr_size_t n, len;
    apr_status_t rv;

    *pbuf = NULL;
    *plen = 0;
    if ((rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, f)) != APR_SUCCESS)
        return rv;
    /* end: offset of the last "\n"; then start: just after the one before */
    for (pos = finfo.size; pos > 0; ) {
        apr_off_t from = pos > AUDIT_READ_CHUNK ? pos - AUDIT_READ_CHUNK : 0;
        apr_size_t i;

        n = (apr_size_t)(pos - from);
        off = from;
        if ((rv = apr_file_seek(f, APR_SET, &off)) != APR_SUCCESS
            || (rv = apr_file_read_full(f, chunk, n, &n)) != APR_SUCCESS)
            return rv;
        for (i = n; i > 0; i--) {
            if (chunk[i - 1] != '\n')
                continue;
            if (end < 0) {
                end = from + (apr_off_t)i - 1;
                continue;
            }
            start = from + (apr_off_t)i;
            break;
        }
        if (i > 0 && end >= 0 && start > 0)
            break;
        pos = from;
    }
    if (end < 0)
        return APR_SUCCESS;             /* no complete line */
    len = (apr_size_t)(end - start + 1);
    buf = apr_palloc(p, len + 1);
    off = start;
    if ((rv = apr_file_seek(f, APR_SET, &off)) != APR_SUCCESS
        || (rv = apr_file_read_full(f, buf, len, &len)) != APR_SUCCESS)
        return rv;
    buf[len] = '\0';
    *pbuf = buf;
    *plen = len;
    return APR_SUCCESS;
}

apr_status_t pds_audit_resume_chain(pds_chain_state_t *st, apr_file_t *f, const char *path,
                                    const pds_chain_key_t *key, apr_pool_t *ptemp,
                                    server_rec *s)
{
    char *line;
    apr_size_t len;
    pds_error_t err;
    apr_status_t rv;

    rv = read_last_line(f, ptemp, &line, &len);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00163: cannot "
                     "read the audit log %s to continue its chain", path);
        return rv;
    }
    pds_error_clear(&err);
    rv = pds_chain_recover(st, line ? line : "", len, key, &err);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00048: the audit "
                     "log %s cannot be continued: %s. If PDSAuditKey was changed, put "
                     "the old key back and start: a new key takes over with a new file "
                     "(rename the log, then restart gracefully). If the file was damaged, "
                     "keep it for the auditors (docs/audit.md, \"The chain's head\")",
                     path, err.text);
    return rv;
}

/* Reads the head file beside the log: *found 0 when there is none. */
static apr_status_t read_head(pds_chain_head_t *h, int *found, const char *head_path,
                              apr_pool_t *ptemp, server_rec *s)
{
    apr_file_t *f;
    char buf[PDS_CHAIN_HEAD_LEN + 1];
    apr_size_t n = sizeof(buf);
    pds_error_t err;
    apr_status_t rv;

    *found = 0;
    rv = apr_file_open(&f, head_path, APR_FOPEN_READ, 0, ptemp);
    if (APR_STATUS_IS_ENOENT(rv))
        return APR_SUCCESS;
    if (rv == APR_SUCCESS) {
        rv = apr_file_read_full(f, buf, sizeof(buf), &n);
        apr_file_close(f);
        if (APR_STATUS_IS_EOF(rv))
            rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00161: cannot "
                     "read the audit log's head file %s", head_path);
        return rv;
    }
    pds_error_clear(&err);
    if (n == 0)
        return APR_SUCCESS;             /* created, never written: no record yet */
    if (pds_chain_head_parse(h, buf, n, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00162: the audit "
                     "log's head file %s is damaged (%s): the gateway cannot tell whether "
                     "records were removed from the log. Check the log with pds-audit "
                     "verify, then move the head file aside (keep it for the auditors) to "
                     "go on", head_path, err.text);
        return APR_EINVAL;
    }
    *found = 1;
    return APR_SUCCESS;
}

apr_status_t pds_audit_resume_check_head(const pds_chain_state_t *st, const char *path,
                                         const char *head_path, apr_pool_t *ptemp,
                                         server_rec *s)
{
    pds_chain_head_t h;
    pds_error_t err;
    int found;
    apr_status_t rv;

    if ((rv = read_head(&h, &found, head_path, ptemp, s)) != APR_SUCCESS || !found)
        return rv;
    pds_error_clear(&err);
    if (pds_chain_head_check(&h, st, &err) == APR_SUCCESS)
        return APR_SUCCESS;
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00160: refusing to "
                 "start a new audit chain in %s: %s (its head file %s says so). Records "
                 "were removed or replaced: keep what is left, and the head file, for the "
                 "auditors. If you renamed the log to rotate it, put it back and rotate "
                 "with a graceful restart instead. To begin a new chain anyway, move %s "
                 "aside",
                 path, err.text, head_path, head_path);
    return APR_EINVAL;
}

apr_status_t pds_audit_resume_check_log(const char *path, const pds_chain_key_t *key,
                                        apr_pool_t *ptemp, server_rec *s)
{
    const char *head_path = apr_pstrcat(ptemp, path, PDS_AUDIT_HEAD_SUFFIX, NULL);
    pds_chain_state_t st;
    apr_finfo_t finfo;
    apr_file_t *f;
    apr_status_t rv;

    pds_chain_state_init(&st);
    if (apr_stat(&finfo, path, APR_FINFO_TYPE, ptemp) == APR_SUCCESS
        && finfo.filetype != APR_REG)
        return APR_SUCCESS;             /* a device (/dev/full...): no head */
    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, ptemp);
    if (rv == APR_SUCCESS) {
        rv = pds_audit_resume_chain(&st, f, path, key, ptemp, s);
        apr_file_close(f);
        if (rv != APR_SUCCESS)
            return rv;
    }
    else if (!APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;             /* not ours to read here: post_config says why */
    }
    return pds_audit_resume_check_head(&st, path, head_path, ptemp, s);
}
