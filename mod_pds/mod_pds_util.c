/* mod_pds_util.c: header counting and the one request-body reader
 * (mod_pds_util.h).
 */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "util_filter.h"
#include "apr_strings.h"

#include "mod_pds_util.h"

static int count_header_cb(void *rec, const char *key, const char *value)
{
    (void)key; (void)value;
    (*(int *)rec)++;
    return 1;
}

int pds_header_count(apr_table_t *t, const char *name)
{
    int n = 0;

    apr_table_do(count_header_cb, &n, t, name, NULL);
    return n;
}

/* The body as it is read: malloc'd so that growing frees the smaller copy,
 * and freed with the request pool. */
typedef struct pds_body_buf_t {
    char *data;
    apr_size_t cap;
} pds_body_buf_t;

static apr_status_t body_buf_free(void *data)
{
    pds_body_buf_t *b = data;

    free(b->data);
    b->data = NULL;
    return APR_SUCCESS;
}

/* First allocation for a body; it doubles from there as data arrives. */
#define PDS_BODY_INITIAL 8192

pds_body_result_e pds_body_read(request_rec *r, apr_off_t limit, char **pbuf,
                                apr_size_t *plen, apr_off_t *pdeclared)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    pds_body_buf_t *buf = apr_pcalloc(r->pool, sizeof(*buf));
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t len = 0, max = (apr_size_t)limit;
    int seen_eos = 0;
    apr_status_t rv;

    apr_pool_cleanup_register(r->pool, buf, body_buf_free, apr_pool_cleanup_null);
    /* Only ever an early refusal: a length that does not parse is left to
     * HTTP_IN, and with Transfer-Encoding httpd ignores the header. */
    if (cl != NULL && apr_table_get(r->headers_in, "Transfer-Encoding") == NULL) {
        apr_off_t declared = 0;
        char *end = NULL;

        if (apr_strtoff(&declared, cl, &end, 10) == APR_SUCCESS && end != cl
            && *end == '\0' && declared > limit) {
            *pdeclared = declared;
            return PDS_BODY_DECLARED_TOO_LARGE;
        }
    }

    do {
        apr_bucket *b;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                            HUGE_STRING_LEN);
        if (rv != APR_SUCCESS)
            return PDS_BODY_UNREADABLE;
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS)
                return PDS_BODY_UNREADABLE;
            /* The limit first, so nothing over it is ever held. */
            if (n > max - len)
                return PDS_BODY_TOO_LARGE;
            /* len + n <= max here, so the room needed (one more for the
             * NUL) is at most max + 1 and doubling stops there. */
            if (buf->cap - len < n + 1) {
                apr_size_t want = buf->cap > 0 ? buf->cap : PDS_BODY_INITIAL;
                char *grown;

                while (want - len < n + 1)
                    want = want <= max / 2 ? want * 2 : max + 1;
                if (want > max + 1)
                    want = max + 1;
                grown = realloc(buf->data, want);
                if (grown == NULL) {
                    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00200: no memory for "
                                  "a request body of %" APR_SIZE_T_FMT " bytes", want);
                    return PDS_BODY_NO_MEMORY;
                }
                buf->data = grown;
                buf->cap = want;
            }
            memcpy(buf->data + len, data, n);
            len += n;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    if (buf->data == NULL) {
        /* An empty body: a pool string, nothing to free. */
        *pbuf = apr_pstrdup(r->pool, "");
        *plen = 0;
        return PDS_BODY_READ;
    }
    buf->data[len] = '\0';
    *pbuf = buf->data;
    *plen = len;
    return PDS_BODY_READ;
}

apr_array_header_t *pds_handler_segments(request_rec *r, const char *location)
{
    apr_array_header_t *segs = apr_array_make(r->pool, 6, sizeof(const char *));
    apr_size_t loclen = location ? strlen(location) : 0;
    const char *rest;
    char *copy, *tok, *state;

    while (loclen > 0 && location[loclen - 1] == '/')
        loclen--;
    if (location == NULL || strncmp(r->uri, location, loclen) != 0
        || (r->uri[loclen] != '\0' && r->uri[loclen] != '/'))
        return NULL;
    rest = r->uri + loclen;
    if (strstr(rest, "//") != NULL)
        return NULL;
    copy = apr_pstrdup(r->pool, rest);
    for (tok = apr_strtok(copy, "/", &state); tok != NULL; tok = apr_strtok(NULL, "/", &state))
        APR_ARRAY_PUSH(segs, const char *) = tok;
    return segs;
}

const char *pds_handler_location(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);

    if (core == NULL || core->d == NULL || core->d[0] != '/' || core->d_is_fnmatch
        || core->r != NULL)
        return NULL;
    return core->d;
}
