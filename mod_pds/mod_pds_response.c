/* mod_pds_response.c: the per-request record, request ids, problem
 * documents, JSON answers and the scrubbing of a back end's headers
 * (mod_pds_response.h).
 */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_pds_response.h"

pds_request_t *pds_request_get(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &pds_module);
}

/* mod_unique_id's id when it is loaded (it is what the access log shows);
 * otherwise 128 random bits (from a per-thread buffer: asking the kernel
 * for 16 bytes cost a system call per request). */
const char *pds_make_request_id(request_rec *r)
{
    const char *unique = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    unsigned char raw[16];

    if (unique != NULL && *unique != '\0')
        return unique;
    if (!pds_random_id_bytes(raw, sizeof(raw))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00020: no random bytes for a "
                      "request id; using time and connection id");
        return apr_psprintf(r->pool, "%" APR_TIME_T_FMT "-%ld", r->request_time,
                            r->connection->id);
    }
    return pds_base64url_encode(r->pool, raw, sizeof(raw));
}

/* Headers a back end sets that identify it, or that would let a client
 * revalidate or re-fetch around the filter. headers_out is cleared whole;
 * from err_headers_out (where httpd's own "always" headers live) these go. */
static const char *const identifying_headers[] = {
    "Server", "X-Powered-By", "Via", "Set-Cookie", "Set-Cookie2", "Location",
    "Content-Location", "ETag", "Last-Modified", "Link", "Refresh",
    "WWW-Authenticate", "Content-MD5", "Content-Range", "Content-Encoding",
    "Content-Disposition", "Vary", "Expires", "Age", "Accept-Ranges", NULL
};

void pds_scrub_response_headers(request_rec *r)
{
    int i;

    apr_table_clear(r->headers_out);
    for (i = 0; identifying_headers[i] != NULL; i++)
        apr_table_unset(r->err_headers_out, identifying_headers[i]);
    r->content_encoding = NULL;
    r->content_languages = NULL;
    /* What leaves is the gateway's JSON, never a type a browser should guess. */
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
}

const char *pds_problem_prepare(request_rec *r, pds_request_t *rq,
                                const char *reason, const char *detail,
                                apr_size_t *plen)
{
    const pds_reason_t *known = pds_reason_lookup(reason);
    const char *body = pds_problem_json(r->pool, reason, detail,
                                        rq ? rq->request_id : NULL, plen);
    /* login-required: httpd's own authentication refused before the back end
     * was asked, so the challenge is the server's, and the client needs it
     * (an error page has moved it to headers_out). */
    const char *challenge = NULL;

    if (strcmp(reason, "login-required") == 0) {
        challenge = apr_table_get(r->err_headers_out, "WWW-Authenticate");
        if (challenge == NULL)
            challenge = apr_table_get(r->headers_out, "WWW-Authenticate");
    }

    pds_scrub_response_headers(r);
    if (challenge != NULL)
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", challenge);
    if (rq != NULL)     /* an error page may have moved it out of err_headers_out */
        apr_table_setn(r->err_headers_out, "PDS-Request-Id", rq->request_id);
    r->status = known ? known->status : HTTP_INTERNAL_SERVER_ERROR;
    r->status_line = NULL;          /* never a back end's reason phrase */
    ap_set_content_type(r, "application/problem+json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    /* The Bearer challenge is for organisations; a person's sign-in is the
     * authentication module's to ask for. */
    if (r->status == HTTP_UNAUTHORIZED && rq != NULL && rq->organisation == NULL
        && strcmp(reason, "person-not-identified") != 0)
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"pds\"");
    if (r->status == HTTP_METHOD_NOT_ALLOWED)
        apr_table_setn(r->err_headers_out, "Allow", "GET, POST, PUT, PATCH");
    ap_set_content_length(r, *plen);
    return body;
}

/* The handlers' answers (consent API, a person's view): JSON that no cache
 * keeps, or a problem document. */
int pds_send_json(request_rec *r, int status, json_t *doc)
{
    return pds_send_json_as(r, status, doc, "application/json", "no-store");
}

int pds_send_json_as(request_rec *r, int status, json_t *doc, const char *content_type,
                     const char *cache_control)
{
    char *text;
    apr_size_t len;

    if (doc == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (text == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    len = strlen(text);
    r->status = status;
    ap_set_content_type(r, content_type);
    apr_table_setn(r->headers_out, "Cache-Control", cache_control);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(text, (int)len, r);
    free(text);
    return OK;
}

void pds_answer_problem(request_rec *r, pds_request_t *rq, const char *reason,
                        const char *detail)
{
    const char *body;
    apr_size_t len;

    /* Read and drop any body so the connection can be reused. */
    if (ap_discard_request_body(r) != OK)
        r->connection->keepalive = AP_CONN_CLOSE;
    body = pds_problem_prepare(r, rq, reason, detail, &len);
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
}

int pds_send_problem(request_rec *r, const char *reason, const char *detail)
{
    pds_request_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->request_id = pds_make_request_id(r);
    pds_answer_problem(r, rq, reason, detail);
    return OK;
}
