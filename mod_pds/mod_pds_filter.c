/* mod_pds_filter.c: the response filter.
 *
 * Nothing of a back-end body reaches the client unless this filter produced
 * it. It holds the whole body (bounded by PDSMaxBodySize; in memory, or past
 * PDSSpoolThreshold in an unnamed file in PDSSpoolDirectory, lib/pds_spool.h)
 * and sends nothing before EOS, because the status cannot change once
 * headers are out. At EOS it parses and filters the body through the
 * agreement's allow-list, writes the audit record, and only then passes the
 * result on. Every problem on the way
 * (a back-end error status, the wrong content type, an encoding, a partial
 * response, an error bucket, a body over the limit, JSON it cannot parse)
 * becomes a problem+json gateway error instead.
 */
#include <stdint.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_connection.h"
#include "util_filter.h"
#include "apr_strings.h"

#include <openssl/crypto.h>

#include "mod_pds_audit.h"
#include "mod_pds_consent.h"
#include "mod_pds_filter.h"
#include "mod_pds_metrics.h"
#include "mod_pds_response.h"
#include "mod_pds_util.h"
#include "pds_spool.h"
#include "pds_stream.h"
#include "pds_syntax.h"

typedef struct pds_filter_ctx_t {
    pds_spool_t *spool;             /* the body so far (lib/pds_spool.h) */
    apr_size_t expected;            /* its declared length, 0 if none */
    apr_size_t limit;
    const char *failure;            /* reason code once the response is lost */
    const char *failure_detail;
    const char *too_large;          /* the detail of backend-too-large */
    int close;                      /* mod_proxy asked to close the client
                                       connection (an EOC bucket) */
    int started;                    /* the first brigade has been seen */
    int error_page;                 /* httpd's own error page for the
                                       request, not the back end's answer */
    request_rec *origin;            /* an ErrorDocument's internal redirect:
                                       the request whose error it is */
} pds_filter_ctx_t;

static void fail(pds_filter_ctx_t *ctx, const char *reason, const char *detail)
{
    if (ctx->failure == NULL) {     /* the first problem is the one reported */
        ctx->failure = reason;
        ctx->failure_detail = detail;
    }
}

/* fail() for a back-end response the filter itself refuses (not a back end
 * that failed to answer): counted by kind (lib/pds_metrics.h) when it is
 * the problem reported. */
static void reject(pds_filter_ctx_t *ctx, const char *kind, const char *reason,
                   const char *detail)
{
    if (ctx->failure == NULL)
        pds_metrics_filter_reject(pds_counters(), kind);
    fail(ctx, reason, detail);
}

/* What a caller is told of a record it cannot have: the same for a record
 * the back end does not hold and one an Exclude condition leaves out. */
#define NOT_FOUND_DETAIL "no such record"

/* A collection past PDSMaxBodySize is a paging question: the detail says so,
 * naming the query parameters the agreement declares (configuration, which
 * the caller, its party, knows), or saying it declares none. */
static const char *too_large_detail(request_rec *r, const pds_request_t *rq)
{
    const pds_query_t *q = rq != NULL && rq->decision.agreement != NULL
                           ? pds_agreement_query(rq->decision.agreement) : NULL;

    if (pds_query_count(q) == 0)
        return "the back end's response is larger than PDSMaxBodySize allows; a "
               "collection is read page by page, and this agreement declares no query "
               "parameters to page with (Query, see docs/minimisation.md#paging-safely)";
    return apr_psprintf(r->pool, "the back end's response is larger than PDSMaxBodySize "
                        "allows; read the collection page by page with the query "
                        "parameters its agreement declares (Query: %s; see "
                        "docs/minimisation.md#paging-safely)", pds_query_names(q, r->pool));
}

/* The checks that can be made on the headers alone, before any body. */
static void check_response_head(request_rec *r, pds_filter_ctx_t *ctx)
{
    const char *encoding = apr_table_get(r->headers_out, "Content-Encoding");
    const char *length = apr_table_get(r->headers_out, "Content-Length");

    /* Two lengths (RFC 9112 6.3: unrecoverable) mean the back end and the
     * proxy may disagree on where this response ends. */
    if (pds_header_count(r->headers_out, "Content-Length") > 1) {
        reject(ctx, "content-length", "backend-bad-response",
               "the back end sent more than one Content-Length");
        return;
    }

    if (r->status == HTTP_NOT_FOUND) {
        fail(ctx, "not-found", NOT_FOUND_DETAIL);
        return;
    }
    if (r->status == HTTP_NO_CONTENT)
        return;
    if (r->status < 200 || r->status > 299) {
        fail(ctx, "backend-error", apr_psprintf(r->pool, "the back end answered %d",
                                                r->status));
        return;
    }
    if (r->status == HTTP_PARTIAL_CONTENT
        || apr_table_get(r->headers_out, "Content-Range") != NULL) {
        reject(ctx, "partial", "backend-bad-response", "the back end sent a partial response");
        return;
    }
    if ((encoding != NULL && strcasecmp(encoding, "identity") != 0)
        || (r->content_encoding != NULL && strcasecmp(r->content_encoding, "identity") != 0)) {
        reject(ctx, "encoded", "backend-bad-response",
               "the back end sent an encoded (compressed) body");
        return;
    }
    if (!pds_syntax_is_json(r->content_type, PDS_JSON_SUFFIX)) {
        reject(ctx, "not-json", "backend-bad-response", "the back end did not send JSON");
        return;
    }
    if (length != NULL) {
        char *end;
        apr_off_t declared;

        if (apr_strtoff(&declared, length, &end, 10) != APR_SUCCESS || *end != '\0'
            || declared < 0) {
            reject(ctx, "content-length", "backend-bad-response",
                   "the back end sent a bad Content-Length");
            return;
        }
        if ((apr_uint64_t)declared > ctx->limit) {
            reject(ctx, "too-large", "backend-too-large", ctx->too_large);
            return;
        }
        /* A good first guess saves regrowing the buffer. */
        ctx->expected = (apr_size_t)declared;
    }
}

/* httpd makes an error page (its status is on r) when mod_proxy fails
 * before it can relay an answer: say what happened, from what mod_proxy
 * noted, rather than "the back end answered 503" for a back end that was
 * never reached. */
static void check_error_page(request_rec *r, const pds_request_t *rq,
                             pds_filter_ctx_t *ctx)
{
    int status;

    if (ctx->origin != NULL)
        r = ctx->origin;            /* its status and mod_proxy's notes */
    status = r->status;
    if (!ap_is_HTTP_ERROR(status))
        /* Not an error page: something redirected the request inside httpd
         * (a rewrite) after the decision; what it serves is not the agreed. */
        fail(ctx, "internal-error", "the request was redirected inside the gateway");
    else if (!rq->prepared && status == HTTP_UNAUTHORIZED)
        /* Allowed by mod_pds, then httpd's own authentication (AuthType,
         * Require valid-user) refused before the back end was asked. */
        fail(ctx, "login-required", "this location also needs the server's own sign-in "
             "(see the WWW-Authenticate challenge)");
    else if (!rq->prepared && status == HTTP_FORBIDDEN)
        fail(ctx, "access-refused", "the server's access rules (Require) refused the "
             "request before the back end was asked");
    else if (apr_table_get(r->notes, "proxy-error-override") != NULL) {
        /* ProxyErrorOverride: the status is the back end's own. */
        if (status == HTTP_NOT_FOUND)
            fail(ctx, "not-found", NOT_FOUND_DETAIL);
        else
            fail(ctx, "backend-error", apr_psprintf(r->pool, "the back end answered %d",
                                                    status));
    }
    else if (status == HTTP_GATEWAY_TIME_OUT
             || apr_table_get(r->notes, "proxy_timedout") != NULL)
        fail(ctx, "backend-timeout", "the back end did not answer in time");
    else if ((status == HTTP_SERVICE_UNAVAILABLE || status == HTTP_BAD_GATEWAY)
             && apr_table_get(r->notes, "proxy-source-port") == NULL)
        /* mod_proxy notes the port once the request is sent: it never was
         * (connection refused, name not resolved, worker in error state). */
        fail(ctx, "backend-unavailable", "the back end could not be reached");
    else if (status == HTTP_BAD_GATEWAY || status == HTTP_SERVICE_UNAVAILABLE)
        fail(ctx, "backend-error", "the back end sent no valid answer");
    else
        fail(ctx, "internal-error", apr_psprintf(r->pool, "the gateway could not forward "
                                                 "the request (%d)", status));
}

/* The spool could not hold the body (its file could not be made, written
 * or mapped): the answer is lost, and says so without the system's words. */
static void spool_failed(request_rec *r, pds_filter_ctx_t *ctx, apr_status_t rv,
                         const pds_error_t *err)
{
    if (ctx->failure == NULL)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "PDS00514: back-end response to "
                      "%s: %s (PDSSpoolDirectory)", pds_request_get(r) != NULL
                      ? pds_request_get(r)->request_id : "-",
                      err->text[0] ? err->text : "the body could not be held");
    fail(ctx, "internal-error", "the gateway could not hold the back end's response "
         "to filter it");
}

/* Where the body waits for EOS: memory up to PDSSpoolThreshold, then the
 * spool file when PDSSpoolDirectory is set; memory to the limit if not. */
static void open_spool(request_rec *r, pds_filter_ctx_t *ctx)
{
    const pds_server_conf_t *sc = pds_server_conf(r->server);
    pds_spool_options_t o;

    memset(&o, 0, sizeof(o));
    o.dir = sc->spool_dir != NULL && *sc->spool_dir != '\0' ? sc->spool_dir : NULL;
    o.threshold = (apr_size_t)pds_conf_spool_threshold(sc);
    o.limit = ctx->limit;
    o.expected = ctx->expected;
    if (pds_spool_create(&ctx->spool, r->pool, &o) != APR_SUCCESS) {
        pds_error_t err;

        pds_error_clear(&err);
        spool_failed(r, ctx, APR_EINVAL, &err);
    }
}

static void append(request_rec *r, pds_filter_ctx_t *ctx, const char *data,
                   apr_size_t n)
{
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_spool_append(ctx->spool, data, n, &err);
    if (rv == PDS_SPOOL_TOO_LARGE)
        reject(ctx, "too-large", "backend-too-large", ctx->too_large);
    else if (rv != APR_SUCCESS)
        spool_failed(r, ctx, rv, &err);
}

static apr_status_t send_body(ap_filter_t *f, const char *body, apr_size_t len)
{
    request_rec *r = f->r;
    pds_filter_ctx_t *ctx = f->ctx;
    apr_bucket_brigade *out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_status_t rv;

    if (len > 0 && !r->header_only)
        APR_BRIGADE_INSERT_TAIL(out, apr_bucket_pool_create(body, len, r->pool,
                                                            r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(r->connection->bucket_alloc));
    if (ctx != NULL && ctx->close)
        r->connection->keepalive = AP_CONN_CLOSE;   /* the answer says "close" */
    ap_remove_output_filter(f);
    pds_gate_release(pds_request_get(r));           /* this answer, and only it */
    rv = ap_pass_brigade(f->next, out);
    /* mod_proxy asked to close the connection (its back end broke off before
     * a status line). After our answer, and in a brigade of its own (data
     * sharing a brigade with an EOC is dropped), pass that on: the
     * connection closes, and the error page httpd makes next is dropped
     * instead of following ours on the stream. */
    if (ctx != NULL && ctx->close) {
        apr_bucket_brigade *eoc = apr_brigade_create(r->pool, r->connection->bucket_alloc);

        APR_BRIGADE_INSERT_TAIL(eoc, ap_bucket_eoc_create(r->connection->bucket_alloc));
        (void)ap_pass_brigade(f->next, eoc);
    }
    return rv;
}

/* Audits a denial as reason and answers the problem document of shown (the
 * same reason, or one that tells the caller less). */
static apr_status_t send_problem_as(ap_filter_t *f, pds_request_t *rq, const char *reason,
                                    const char *shown, const char *detail)
{
    request_rec *r = f->r;
    const pds_reason_t *known = pds_reason_lookup(reason);
    const char *body;
    apr_size_t len;

    if (rq != NULL && !rq->audited
        && pds_audit_decision(r, rq, "deny", reason,
                              known ? known->status : HTTP_INTERNAL_SERVER_ERROR,
                              NULL) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00030: gateway error %s of "
                      "request %s could not be audited", reason, rq->request_id);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PDS00031: request %s refused at the "
                  "response: %s (%s)", rq ? rq->request_id : "-", reason, detail);
    body = pds_problem_prepare(r, rq, shown, detail, &len);
    return send_body(f, body, len);
}

static apr_status_t send_problem(ap_filter_t *f, pds_request_t *rq,
                                 const char *reason, const char *detail)
{
    return send_problem_as(f, rq, reason, reason, detail);
}

/* A detached JWS over the exact body released, whose protected header binds
 * the request id, the agreement (with its version) and the time. */
static const char *sign_body(request_rec *r, pds_request_t *rq, const char *body,
                             apr_size_t len)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const pds_agreement_t *a = rq->decision.agreement;
    json_t *members;
    char *out = NULL;
    pds_error_t err;

    if (sc->response_key == NULL || sc->response_kid == NULL)
        return NULL;
    members = json_pack("{s:s,s:s,s:s,s:s,s:I}", "typ", "pds-response+jws",
                        "kid", sc->response_kid,
                        "pds_request_id", rq->request_id,
                        "pds_agreement", apr_pstrcat(r->pool, pds_agreement_id(a), ";v=",
                                                     pds_agreement_version(a), NULL),
                        "iat", (json_int_t)apr_time_sec(apr_time_now()));
    pds_error_clear(&err);
    if (members == NULL
        || pds_jws_sign_detached(&out, r->pool, sc->response_key, members,
                                 (const unsigned char *)body, len, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00034: cannot sign the response to "
                      "%s: %s", rq->request_id, err.text);
        out = NULL;
    }
    json_decref(members);
    return out;
}

/* At EOS: filter, audit, release. */
static apr_status_t finish(ap_filter_t *f, pds_filter_ctx_t *ctx, pds_request_t *rq)
{
    request_rec *r = f->r;
    const pds_agreement_t *a = rq->decision.agreement;
    pds_filter_result_t result;
    pds_error_t err;
    const char *body = "";
    apr_size_t len = 0;
    const apr_array_header_t *fields = NULL;
    int status = r->status;
    apr_status_t rv_filter;
    const char *signature = NULL;
    const char *input = "";                 /* the whole back-end body */
    apr_size_t input_len = 0;

    memset(&result, 0, sizeof(result));     /* what no filter sets reads as none */
    if (ctx->failure == NULL && ctx->spool != NULL) {
        /* The whole body, from memory or mapped from the spool file. */
        pds_error_clear(&err);
        rv_filter = pds_spool_map(ctx->spool, &input, &input_len, &err);
        if (rv_filter != APR_SUCCESS)
            spool_failed(r, ctx, rv_filter, &err);
    }
    if (ctx->failure != NULL)
        return send_problem(f, rq, ctx->failure, ctx->failure_detail);

    if (status != HTTP_NO_CONTENT) {
        pds_server_conf_t *sc = pds_server_conf(r->server);
        pds_filter_options_t opts;
        pds_transform_ctx_t tctx;
        unsigned char key[32];
        const unsigned char *master = NULL, *derived;
        apr_size_t master_len = 0;

        memset(&opts, 0, sizeof(opts));
        memset(&tctx, 0, sizeof(tctx));
        opts.max_depth = pds_conf_max_depth(pds_dir_conf(r));
        opts.transform = &tctx;
        tctx.now = r->request_time;
        /* The agreement's key, only for agreements that pseudonymise: made in
         * post_config, derived here only if that failed. */
        derived = sc->agreement_keys != NULL
            ? apr_hash_get(sc->agreement_keys, &a, sizeof(a)) : NULL;
        if (sc->pseudonym_key != NULL && pds_agreement_needs_pseudonym_key(a))
            master = pds_chain_key_bytes(sc->pseudonym_key, &master_len);
        if (master != NULL && derived != NULL)
            memcpy(key, derived, sizeof(key));
        if (master != NULL
            && (derived != NULL
                || pds_pseudonym_agreement_key(key, master, master_len, pds_agreement_id(a))
                   == APR_SUCCESS)) {
            tctx.key = key;
            /* Keyed once for the request: each value then costs only its hash. */
            tctx.hmac = pds_hmac_create(r->pool, key, sizeof(key));
        }
        /* check_config makes this impossible; if it happens, release nothing. */
        if (pds_agreement_deidentified(a) && tctx.key == NULL)
            return send_problem(f, rq, "internal-error", "no pseudonym key for a "
                                "de-identified agreement");
        if (pds_agreement_deidentified(a) && rq->decision.subject != NULL) {
            opts.subject = rq->decision.subject;
            opts.subject_pseudonym = tctx.hmac != NULL
                ? pds_pseudonym_hmac(r->pool, tctx.hmac, rq->decision.subject,
                                     strlen(rq->decision.subject))
                : pds_pseudonym(r->pool, key, rq->decision.subject,
                                strlen(rq->decision.subject));
        }
        pds_error_clear(&err);
        if (pds_agreement_record_subject(a) != NULL) {
            pds_row_baton_t baton;

            baton.r = r;
            baton.rq = rq;
            baton.key = tctx.key;
            baton.hmac = tctx.hmac;
            opts.subject = NULL;            /* each record has its own */
            opts.drop_bad_records = pds_agreement_drops_bad_records(a);
            opts.exclude = pds_agreement_exclude(a);
            /* Record by record without a document tree (pds_stream.h): the
             * body is validated whole before any record is decided. */
            rv_filter = pds_stream_filter_rows(pds_agreement_release(a),
                                               input, input_len, &opts,
                                               pds_agreement_record_subject(a),
                                               pds_consent_row_decide, &baton, &result,
                                               r->pool, &err);
            if (rv_filter == PDS_STREAM_DISAGREE)
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00500: back-end collection "
                              "to %s refused: the streaming filter and the DOM filter "
                              "disagree on it (a bug: please report it)", rq->request_id);
            if (rv_filter != APR_SUCCESS
                && strcmp(err.code, "consent-store-unavailable") == 0) {
                OPENSSL_cleanse(key, sizeof(key));
                return send_problem(f, rq, "consent-store-unavailable",
                                    "the consent store cannot be reached; try again later");
            }
        }
        else {
            opts.exclude = pds_agreement_exclude(a);
            /* One pass without a document tree (pds_stream.h); the body is
             * whole here and nothing has been sent, so a refusal found at
             * its last byte still fails closed. A body the stream refuses
             * gets the DOM filter's own error. */
            rv_filter = pds_stream_filter_ex(rq->release ? rq->release
                                                         : pds_agreement_release(a),
                                             input, input_len, &opts,
                                             &result, r->pool, &err);
            if (rv_filter == APR_EGENERAL)
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00370: back-end response "
                              "to %s refused: the streaming filter refuses what the DOM "
                              "filter accepts (a bug: please report it)", rq->request_id);
        }
        OPENSSL_cleanse(key, sizeof(key));
        if (rv_filter != APR_SUCCESS && strcmp(err.code, "record-excluded") == 0) {
            /* Audited as what it is, with the condition; answered as a
             * record that is not there. */
            apr_array_header_t *by = apr_array_make(r->pool, 1, sizeof(const char *));
            const char *rule = pds_rowfilter_rule(pds_agreement_exclude(a), err.position);

            APR_ARRAY_PUSH(by, const char *) = rule != NULL ? rule : "Exclude";
            rq->excluded = by;
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PDS00330: back-end response to "
                          "%s: the record is one `Exclude %s` leaves out; answered as "
                          "not found", rq->request_id, APR_ARRAY_IDX(by, 0, const char *));
            return send_problem_as(f, rq, "record-excluded", "not-found", NOT_FOUND_DETAIL);
        }
        if (rv_filter != APR_SUCCESS)
            pds_metrics_filter_reject(pds_counters(), err.code);
        if (rv_filter != APR_SUCCESS && strcmp(err.code, "transform-type") == 0) {
            /* The message names the field and the transform, never the value. */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PDS00033: back-end response "
                          "to %s refused: %s: %s%s", rq->request_id, err.source, err.text,
                          pds_agreement_record_subject(a) != NULL
                          ? " (in a collection, `OnBadRecord drop` in the agreement "
                            "leaves such records out)" : "");
            return send_problem(f, rq, "backend-bad-response",
                                apr_psprintf(r->pool, "a value at %s is not what its "
                                             "transform takes", err.source));
        }
        if (rv_filter != APR_SUCCESS) {
            /* The parser's own text may quote the body: log the code only. */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PDS00032: back-end response "
                          "to %s refused: %s", rq->request_id, err.code);
            return send_problem(f, rq, strcmp(err.code, "too-deep") == 0 ||
                                strcmp(err.code, "duplicate-key") == 0 ||
                                strcmp(err.code, "unexpected-type") == 0 ||
                                strcmp(err.code, "invalid-json") == 0
                                ? "backend-bad-response" : "internal-error",
                                apr_psprintf(r->pool, "the back end's response could not "
                                             "be filtered (%s)", err.code));
        }
        body = result.body;
        len = result.length;
        /* The answer leaves in a pool bucket, which httpd may hold past
         * pds_spool_close() (write completion): it must not be a view of the
         * spool's mapping. No filter returns one (the unit tests' comparison
         * checks it on every case); should one, it is copied first. */
        if (len > 0 && input_len > 0 && (uintptr_t)body < (uintptr_t)input + input_len
            && (uintptr_t)input < (uintptr_t)body + len)
            body = apr_pmemdup(r->pool, body, len);
        fields = result.released;
        rq->transforms = result.transformed;
        rq->deidentified = pds_agreement_deidentified(a);
        rq->subjects = result.subjects;
        rq->dropped = result.dropped;
        rq->excluded = result.excluded;
        if (result.excluded != NULL && result.excluded->nelts > 0)
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "PDS00331: back-end response to "
                          "%s: %d record(s) left out under Exclude (first: %s)",
                          rq->request_id, result.excluded->nelts,
                          APR_ARRAY_IDX(result.excluded, 0, const char *));
        if (result.dropped != NULL && result.dropped->nelts > 0)
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PDS00300: back-end response to %s: "
                          "%d record(s) left out under OnBadRecord drop (first: %s)",
                          rq->request_id, result.dropped->nelts,
                          APR_ARRAY_IDX(result.dropped, 0, const char *));
    }

    /* Signed before the record is written: a failure leaves no "allow". */
    if (pds_conf_sign_responses(pds_dir_conf(r))
        && (signature = sign_body(r, rq, body, len)) == NULL)
        return send_problem(f, rq, "internal-error", "the response could not be signed");

    if (pds_audit_decision(r, rq, "allow", NULL, status, fields) != APR_SUCCESS)
        return send_problem(f, rq, "audit-unavailable",
                            "the decision could not be recorded, so nothing is released");

    pds_scrub_response_headers(r);
    r->status_line = NULL;
    apr_table_setn(r->err_headers_out, "PDS-Request-Id", rq->request_id);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "PDS-Agreement",
                   apr_pstrcat(r->pool, pds_agreement_id(a), ";v=",
                               pds_agreement_version(a), NULL));
    if (status != HTTP_NO_CONTENT) {
        ap_set_content_type(r, "application/json");
        ap_set_content_length(r, len);
    }
    else {
        r->content_type = NULL;
    }
    if (signature != NULL)
        apr_table_setn(r->headers_out, "PDS-Signature", signature);
    rv_filter = send_body(f, body, len);
    pds_spool_close(ctx->spool);            /* the spool file is gone from here */
    return rv_filter;
}

apr_status_t pds_response_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    pds_filter_ctx_t *ctx = f->ctx;
    pds_request_t *rq = pds_request_get(r);
    apr_bucket *b;
    int eos = 0;

    if (APR_BRIGADE_EMPTY(bb))
        return APR_SUCCESS;

    if (ctx == NULL)
        ctx = f->ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    if (!ctx->started) {
        ctx->started = 1;
        ctx->limit = (apr_size_t)pds_conf_max_body(pds_dir_conf(r));
        ctx->too_large = too_large_detail(r, rq);
        /* A back end that broke off before answering is that, whatever the
         * made-up head that comes with it says. */
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            if (AP_BUCKET_IS_ERROR(b))
                fail(ctx, "backend-error", "the back end broke off before answering");
        }
        if (rq == NULL || !rq->decision.allowed || rq->decision.agreement == NULL)
            fail(ctx, "internal-error", "the response filter ran without a decision");
        else if (ctx->error_page)
            check_error_page(r, rq, ctx);
        else
            check_response_head(r, ctx);
        if (ctx->failure == NULL)
            open_spool(r, ctx);
    }

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;
        apr_status_t rv;

        if (APR_BUCKET_IS_EOS(b)) {
            eos = 1;
            break;
        }
        if (AP_BUCKET_IS_ERROR(b)) {
            fail(ctx, "backend-error", "the back end's response broke off");
            continue;
        }
        if (AP_BUCKET_IS_EOC(b)) {
            ctx->close = 1;
            continue;
        }
        if (APR_BUCKET_IS_METADATA(b) || ctx->failure != NULL)
            continue;                   /* flushes wait; a lost body is dropped */
        rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            fail(ctx, "backend-error", "the back end's response could not be read");
            continue;
        }
        append(r, ctx, data, n);
    }
    apr_brigade_cleanup(bb);

    if (!eos)
        return APR_SUCCESS;
    if (rq == NULL || rq->decision.agreement == NULL)
        return send_problem(f, rq, ctx->failure, ctx->failure_detail);
    return finish(f, ctx, rq);
}

/* httpd drops resource filters before it sends an error page (mod_proxy's
 * 502/503/504 for a back end that is down or too slow). Put ours back, so the
 * client gets problem+json and the decision its audit record. */
void pds_insert_error_filter(request_rec *r)
{
    pds_request_t *rq = pds_request_get(r);

    if (rq != NULL && rq->decision.allowed && !rq->audited) {
        pds_filter_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

        ctx->error_page = 1;
        ap_add_output_filter(PDS_RESPONSE_FILTER, ctx, r, r->connection);
    }
}

/* insert_filter: an ErrorDocument with a local URL (or a rewrite) makes httpd
 * serve another request in place of an allowed one: an internal redirect,
 * whose answer would go out around the response filter (and be withheld by
 * the gate). For an allowed request not answered yet, the redirected request
 * answers with the problem instead, under the same decision and record. */
void pds_insert_redirect_filter(request_rec *r)
{
    request_rec *origin;
    pds_request_t *rq = NULL;
    pds_filter_ctx_t *ctx;

    if (r->prev == NULL || pds_request_get(r) != NULL)
        return;             /* not a redirect, or one mod_pds decides itself */
    for (origin = r->prev; origin != NULL; origin = origin->prev) {
        if ((rq = pds_request_get(origin)) != NULL)
            break;
    }
    if (rq == NULL || !rq->decision.allowed || rq->audited)
        return;
    ap_set_module_config(r->request_config, &pds_module, rq);
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->error_page = 1;
    ctx->origin = origin;
    ap_add_output_filter(PDS_RESPONSE_FILTER, ctx, r, r->connection);
}

/* --- the gate on the client connection --------------------------------------
 *
 * mod_proxy_http relays a back end's interim responses (103 Early Hints, 102
 * Processing, with their headers and reason phrases) by writing them to the
 * client connection directly, around every request filter; mod_proxy_http2
 * and any module calling ap_send_interim_response can do the same. The
 * handler hook tells mod_proxy_http not to; this gate makes sure: a
 * connection filter, put on the connection of an allowed request, that
 * withholds every data bucket until the response filter releases its answer,
 * and takes itself off the connection at the end of the request (EOR).
 * It lives in the connection's pool, as httpd puts the filter there too. */
typedef struct pds_gate_t {
    ap_filter_t *f;
    const char *request_id;
    apr_size_t dropped;         /* data buckets withheld */
    int released;
    int removed;
} pds_gate_t;

static ap_filter_rec_t *gate_handle;

static void gate_remove(pds_gate_t *g)
{
    if (!g->removed) {
        g->removed = 1;
        ap_remove_output_filter(g->f);
    }
}

/* The end of the request normally takes the gate off; should it ever not. */
static apr_status_t gate_cleanup(void *data)
{
    gate_remove(data);
    return APR_SUCCESS;
}

static apr_status_t gate_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    pds_gate_t *g = f->ctx;
    apr_bucket *b, *next;
    apr_size_t dropped = 0;
    int eor = 0;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = next) {
        next = APR_BUCKET_NEXT(b);
        if (AP_BUCKET_IS_EOR(b))
            eor = 1;
        else if (!g->released && !g->removed && !APR_BUCKET_IS_METADATA(b)) {
            apr_bucket_delete(b);
            dropped++;
        }
    }
    if (dropped > 0) {
        g->dropped += dropped;
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, f->c, "PDS00120: request %s: withheld "
                      "output sent before the gateway's answer (an interim response of "
                      "the back end?)", g->request_id);
    }
    if (eor && !g->removed) {
        if (!g->released && g->dropped > 0) {
            /* The answer itself went around the response filter: the client
             * gets nothing, and a closed connection rather than a wait. */
            ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, f->c, "PDS00121: request %s: "
                          "an answer bypassed the response filter and was withheld; "
                          "closing the connection", g->request_id);
            f->c->keepalive = AP_CONN_CLOSE;
        }
        gate_remove(g);
    }
    return ap_pass_brigade(f->next, bb);
}

void pds_register_interim_gate(void)
{
    /* A connection filter, ahead of TLS: it sees what the client would. */
    gate_handle = ap_register_output_filter("PDS_INTERIM_GATE", gate_filter, NULL,
                                            AP_FTYPE_CONNECTION);
}

apr_status_t pds_gate_install(request_rec *r, pds_request_t *rq)
{
    conn_rec *c = r->connection;
    pds_gate_t *g = apr_pcalloc(c->pool, sizeof(*g));

    g->request_id = apr_pstrdup(c->pool, rq->request_id);
    g->f = ap_add_output_filter_handle(gate_handle, g, r, c);
    if (g->f == NULL)
        return APR_EGENERAL;
    rq->gate = g;
    apr_pool_cleanup_register(r->pool, g, gate_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

void pds_gate_release(pds_request_t *rq)
{
    if (rq != NULL && rq->gate != NULL)
        rq->gate->released = 1;
}

static apr_status_t cleanse_agreement_key(void *data)
{
    OPENSSL_cleanse(data, 32);
    return APR_SUCCESS;
}

void pds_filter_post_config(apr_pool_t *pconf, server_rec *s)
{
    for (; s != NULL; s = s->next) {
        pds_server_conf_t *sc = pds_server_conf(s);
        const unsigned char *master;
        apr_size_t master_len;
        int i;

        sc->agreement_keys = apr_hash_make(pconf);
        if (sc->pseudonym_key == NULL)
            continue;
        master = pds_chain_key_bytes(sc->pseudonym_key, &master_len);
        for (i = 0; i < sc->agreements->nelts; i++) {
            const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i,
                                                     const pds_agreement_t *);
            const pds_agreement_t **pa;
            unsigned char *key;

            if (!pds_agreement_needs_pseudonym_key(a))
                continue;
            key = apr_palloc(pconf, 32);
            apr_pool_cleanup_register(pconf, key, cleanse_agreement_key,
                                      apr_pool_cleanup_null);
            /* A failure leaves the agreement out: the request derives it. */
            if (pds_pseudonym_agreement_key(key, master, master_len, pds_agreement_id(a))
                != APR_SUCCESS)
                continue;
            pa = apr_palloc(pconf, sizeof(*pa));
            *pa = a;
            apr_hash_set(sc->agreement_keys, pa, sizeof(*pa), key);
        }
    }
}
