/* mod_pds_request.c: the request hook. Identify the caller, refuse request
 * shapes that could make the policy and the back end disagree, decide against
 * the agreements, and on allow prepare the request for the back end and put
 * the response filter in place. A denial is answered here, audited, and the
 * back end is never contacted.
 */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_pds_audit.h"
#include "mod_pds_consent.h"
#include "mod_pds_filter.h"
#include "mod_pds_identity.h"
#include "mod_pds_request.h"
#include "mod_pds_response.h"
#include "mod_pds_util.h"
#include "pds_syntax.h"
#include "pds_write.h"

static int is_write_method(const request_rec *r);

/* Writes the problem document of a denial already decided and audited. */
static void answer_denial(request_rec *r, pds_request_t *rq)
{
    if (rq->answered)
        return;
    rq->answered = 1;
    pds_answer_problem(r, rq, rq->decision.reason, rq->decision.detail);
}

/* Records and audits a denial. Where returning DONE ends the request the
 * problem is written here; under Satisfy Any httpd goes on to the
 * authentication hooks whatever the access hook returned, so the answer is
 * left to the fixups guard, which every request passes (pds_guard_fixups). */
static int deny(request_rec *r, pds_request_t *rq, const char *reason,
                const char *detail)
{
    const pds_reason_t *known = pds_reason_lookup(reason);
    int status = known ? known->status : HTTP_INTERNAL_SERVER_ERROR;

    rq->decision.allowed = 0;
    rq->decision.reason = reason;
    rq->decision.detail = detail;
    if (pds_audit_decision(r, rq, "deny", reason, status, NULL) != APR_SUCCESS) {
        /* Still a denial; the error log says the record is missing. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00021: denial %s of request %s "
                      "could not be audited", reason, rq->request_id);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "PDS00022: denied %s (%s): %s",
                  rq->request_id, reason, detail ? detail : "");
    if (rq->defer_answer)
        return HTTP_FORBIDDEN;
    answer_denial(r, rq);
    return DONE;
}

/* The request headers of the client that reach the back end of an enforced
 * location: an allow-list, so that a header some back end or framework
 * trusts for identity or routing (X-Forwarded-*, X-Original-URL, X-Real-IP,
 * Remote-User, X-Client-Cert, X-Envoy-Original-Path, and whatever spelling
 * comes next) never reaches it from a client. Everything else the client sent
 * goes: credentials, cookies, conditionals and ranges, encodings, upgrades,
 * Max-Forwards (mod_proxy would answer a 0 itself), PDS-* and underscore
 * spellings of them. docs/admin-guide.md, "What the back end receives". */
static const char *const forwarded_request_headers[] = {
    "Host",             /* replaced by the gateway's own name */
    "Connection",       /* close and keep-alive only: this hop's, never forwarded */
    NULL
};

/* A write's checked body travels with these (check_write sets both). */
static const char *const forwarded_write_headers[] = {
    "Content-Type", "Content-Length", NULL
};

typedef struct unforwarded_baton_t {
    apr_array_header_t *names;
    int write;
} unforwarded_baton_t;

static int in_list(const char *const *list, const char *key)
{
    int i;

    for (i = 0; list[i] != NULL; i++) {
        if (strcasecmp(list[i], key) == 0)
            return 1;
    }
    return 0;
}

static int collect_unforwarded_cb(void *rec, const char *key, const char *value)
{
    unforwarded_baton_t *b = rec;

    (void)value;
    if (!in_list(forwarded_request_headers, key)
        && !(b->write && in_list(forwarded_write_headers, key)))
        APR_ARRAY_PUSH(b->names, const char *) = key;
    return 1;
}

static const char *const method_override_headers[] = {
    "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", NULL
};

/* mod_proxy drops the headers a client names in Connection; keep only the
 * tokens that are about this hop, so no client can make it drop ours. */
static void limit_connection_header(request_rec *r)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    const char *kept = NULL;
    char *tok, *last, *copy;

    if (conn == NULL)
        return;
    copy = apr_pstrdup(r->pool, conn);
    for (tok = apr_strtok(copy, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        if (strcasecmp(tok, "close") == 0 || strcasecmp(tok, "keep-alive") == 0)
            kept = kept ? apr_pstrcat(r->pool, kept, ", ", tok, NULL) : tok;
    }
    if (kept != NULL)
        apr_table_setn(r->headers_in, "Connection", kept);
    else
        apr_table_unset(r->headers_in, "Connection");
}

/* The gateway's own name for itself (ServerName, and the port the request
 * came in on unless it is the scheme's default): what the back end sees as
 * Host (ProxyPreserveHost) and mod_proxy as X-Forwarded-Host, instead of a
 * name the client chose. */
static const char *gateway_host(request_rec *r)
{
    const char *name = r->server->server_hostname;
    apr_port_t port = r->connection->local_addr ? r->connection->local_addr->port : 0;

    if (name == NULL || *name == '\0')
        return NULL;
    if (port == 0 || port == ap_default_port(r))
        return name;
    return apr_psprintf(r->pool, "%s:%u", name, (unsigned)port);
}

/* The back end is asked the canonical query alone (NULL: none). mod_proxy
 * builds the back end's URL from r->filename ("proxy:http://host/path"; with
 * ProxyPass nocanon taken from the raw target, its query included) and
 * r->args: both are set to the canonical query here, before mod_proxy's
 * fixup canonicalises them. */
static void set_backend_query(request_rec *r, const char *query)
{
    const char *q;

    r->args = query != NULL ? apr_pstrdup(r->pool, query) : NULL;
    if (r->filename == NULL || strncmp(r->filename, "proxy:", 6) != 0)
        return;
    q = ap_strchr_c(r->filename, '?');
    if (q != NULL)
        r->filename = apr_pstrcat(r->pool,
                                  apr_pstrmemdup(r->pool, r->filename,
                                                 (apr_size_t)(q - r->filename)),
                                  query != NULL ? "?" : "", query, NULL);
}

static void prepare_backend_request(request_rec *r, pds_request_t *rq)
{
    unforwarded_baton_t baton;
    const pds_agreement_t *a = rq->decision.agreement;
    const char *host;
    int i;

    /* The access log (%{User-Agent}i, ...) keeps seeing what the client sent. */
    rq->client_headers = apr_table_copy(r->pool, r->headers_in);
    baton.names = apr_array_make(r->pool, 16, sizeof(const char *));
    baton.write = is_write_method(r);
    apr_table_do(collect_unforwarded_cb, &baton, r->headers_in, NULL);
    for (i = 0; i < baton.names->nelts; i++)
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(baton.names, i, const char *));
    limit_connection_header(r);
    set_backend_query(r, rq->query);
    host = gateway_host(r);
    if (host != NULL)
        apr_table_setn(r->headers_in, "Host", host);
    else
        apr_table_unset(r->headers_in, "Host");
    /* The only answer the response filter takes. */
    apr_table_setn(r->headers_in, "Accept", "application/json");

    apr_table_setn(r->headers_in, "PDS-Organisation", rq->organisation);
    apr_table_setn(r->headers_in, "PDS-Agreement",
                   apr_pstrcat(r->pool, pds_agreement_id(a), ";v=",
                               pds_agreement_version(a), NULL));
    apr_table_setn(r->headers_in, "PDS-Purpose", rq->purpose);
    if (rq->decision.subject != NULL)
        apr_table_setn(r->headers_in, "PDS-Subject", rq->decision.subject);
    apr_table_setn(r->headers_in, "PDS-Request-Id", rq->request_id);
}

/* handler, really first (before mod_proxy's): on an allowed request, no
 * interim (1xx) response of the back end is relayed. Set here rather than
 * earlier, so that no SetEnv, SetEnvIf or RewriteRule [E=] (fixups and
 * before) can undo it; mod_proxy_http reads it while it reads the answer.
 * The gate on the connection holds whatever is sent around it anyway. */
int pds_proxy_handler_first(request_rec *r)
{
    pds_request_t *rq = pds_request_get(r);

    if (rq != NULL && rq->decision.allowed && r->main == NULL)
        apr_table_setn(r->subprocess_env, "proxy-interim-response", "Suppress");
    return DECLINED;
}

int pds_restore_client_headers(request_rec *r)
{
    pds_request_t *rq = pds_request_get(r);

    if (rq != NULL && rq->client_headers != NULL)
        r->headers_in = rq->client_headers;
    return DECLINED;
}

/* The raw request target's path, without the query string. */
static const char *raw_target_path(request_rec *r)
{
    return apr_pstrmemdup(r->pool, r->unparsed_uri, strcspn(r->unparsed_uri, "?"));
}

/* pre_translate_name: httpd answers an encoded slash with a bare 404 (and
 * some malformed escapes with a 400) before any access hook runs. On an
 * enforced location a path that will be refused skips that decoding, so the
 * access hook can refuse it properly: problem+json and an audit record. */
int pds_pre_translate_name(request_rec *r)
{
    if (!pds_conf_gateway(pds_dir_conf(r)) || r->main != NULL
        || r->unparsed_uri == NULL)
        return DECLINED;
    if (r->unparsed_uri[0] != '/'
        || pds_request_path_check(raw_target_path(r), NULL) != APR_SUCCESS)
        return DONE;
    return DECLINED;
}

/* --- writes ---------------------------------------------------------------- */

/* The checked body a POST, PUT or PATCH forwards, served to mod_proxy by an
 * input filter in place of what the client sent (read and consumed here). */
typedef struct pds_body_ctx_t {
    const char *data;           /* what is left to serve */
    apr_size_t len;
} pds_body_ctx_t;

#define PDS_REQUEST_BODY_FILTER "PDS_REQUEST_BODY"

static apr_status_t request_body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                        ap_input_mode_t mode, apr_read_type_e block,
                                        apr_off_t readbytes)
{
    pds_body_ctx_t *ctx = f->ctx;
    apr_bucket_alloc_t *ba = f->c->bucket_alloc;
    apr_size_t n;

    (void)block;
    if (mode != AP_MODE_READBYTES && mode != AP_MODE_SPECULATIVE)
        return APR_ENOTIMPL;
    if (ctx->len == 0) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
        return APR_SUCCESS;
    }
    n = readbytes > 0 && (apr_size_t)readbytes < ctx->len ? (apr_size_t)readbytes
                                                          : ctx->len;
    /* The body lives in the request pool for as long as the request. */
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(ctx->data, n, ba));
    if (mode == AP_MODE_READBYTES) {
        ctx->data += n;
        ctx->len -= n;
    }
    return APR_SUCCESS;
}

void pds_register_request_body_filter(void)
{
    ap_register_input_filter(PDS_REQUEST_BODY_FILTER, request_body_filter, NULL,
                             AP_FTYPE_RESOURCE);
}

/* A write's body lib/pds_filter could not read. The parser's text may quote
 * the body: the client is given the code only. */
static const char *uncheckable_body(request_rec *r, const pds_error_t *err,
                                    const char **detail)
{
    *detail = apr_psprintf(r->pool, "the body is not a JSON document the agreement "
                           "can check (%s)", err->code);
    return "bad-request-body";
}

/* For an allowed POST, PUT or PATCH: reads the body, checks it against the
 * agreement's Write (pds_write.h: its shape, what it does not cover, refused
 * or stripped, and a body that would change nothing), and puts the checked
 * body in place for the back end. A PUT replaces the whole record, so it is
 * never stripped. NULL when it may go ahead. */
static const char *check_write(request_rec *r, pds_request_t *rq, const char **detail)
{
    const pds_agreement_t *a = rq->decision.agreement;
    int put = r->method_number == M_PUT, patch = r->method_number == M_PATCH;
    pds_write_result_t result;
    pds_body_ctx_t *ctx;
    pds_error_t err;
    apr_off_t limit = pds_conf_max_body(pds_dir_conf(r)), declared = 0;
    char *body = NULL;
    apr_size_t len = 0;

    *detail = pds_write_media_check(apr_table_get(r->headers_in, "Content-Type"), patch,
                                    pds_agreement_write_media(a));
    if (*detail != NULL)
        return "unsupported-media-type";
    switch (pds_body_read(r, limit, &body, &len, &declared)) {
    case PDS_BODY_READ:
        break;
    case PDS_BODY_DECLARED_TOO_LARGE:
        /* As httpd does for 413: close rather than read (to discard) the
         * body refused. */
        r->connection->keepalive = AP_CONN_CLOSE;
        *detail = apr_psprintf(r->pool, "the body is larger than %" APR_OFF_T_FMT
                               " bytes (Content-Length %" APR_OFF_T_FMT ")", limit, declared);
        return "request-too-large";
    case PDS_BODY_TOO_LARGE:
        r->connection->keepalive = AP_CONN_CLOSE;
        *detail = apr_psprintf(r->pool, "the body is larger than %" APR_OFF_T_FMT " bytes",
                               limit);
        return "request-too-large";
    case PDS_BODY_UNREADABLE:
        *detail = "the request body could not be read";
        return "bad-request-body";
    default:
        *detail = "the gateway could not hold the request body";
        return "internal-error";
    }
    pds_error_clear(&err);
    if (pds_write_check(pds_agreement_write_shape(a), body, len,
                        pds_conf_max_depth(pds_dir_conf(r)),
                        patch ? pds_agreement_write_patch(a) : PDS_WRITE_RECORD,
                        pds_agreement_write_strips(a) && !put, &result, r->pool,
                        &err) != APR_SUCCESS)
        return uncheckable_body(r, &err, detail);
    if (result.verdict != NULL) {
        /* A write-empty's audit record says so: "written": []. */
        if (strcmp(result.verdict, "write-empty") == 0)
            rq->written = result.written;
        *detail = result.detail;
        if (*detail == NULL) {
            /* Named to the client that sent them, and to no one else. */
            const apr_array_header_t *extra = result.uncovered;
            int i, shown = extra->nelts < 10 ? extra->nelts : 10;
            const char *list = "";

            for (i = 0; i < shown; i++)
                list = apr_pstrcat(r->pool, list, i ? ", " : "",
                                   APR_ARRAY_IDX(extra, i, const char *), NULL);
            *detail = apr_psprintf(r->pool, "the agreement does not let %s write: %s%s%s",
                                   rq->organisation, list, extra->nelts > shown ? ", ..." : "",
                                   put && pds_agreement_write_strips(a)
                                   ? " (a PUT is never stripped: it would erase them at "
                                     "the back end)" : "");
        }
        return result.verdict;
    }
    rq->written = result.written;
    ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    ctx->data = result.body;
    ctx->len = result.length;
    ap_add_input_filter(PDS_REQUEST_BODY_FILTER, ctx, r, r->connection);
    apr_table_setn(r->headers_in, "Content-Length",
                   apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, result.length));
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    apr_table_setn(r->headers_in, "Content-Type", "application/json");
    return NULL;
}

static int is_write_method(const request_rec *r)
{
    return r->method_number == M_POST || r->method_number == M_PUT
        || r->method_number == M_PATCH;
}

/* The shape of the request's query string (pds_query_parse), and its names
 * against every Query the gateway's agreements declare: refused here, before
 * any other check, whatever agreement the request will meet; the one that
 * applies checks the values once it is decided. NULL with *pparams when it
 * may go on; otherwise the reason code and *detail. */
static const char *query_shape(request_rec *r, const pds_server_conf_t *sc,
                               apr_array_header_t **pparams, const char **detail)
{
    const char *raw = ap_strchr_c(r->unparsed_uri, '?');
    pds_error_t err;

    if (raw == NULL) {
        *detail = "the query string is not the one the client sent";
        return "query-not-allowed";
    }
    pds_error_clear(&err);
    if (pds_query_parse(pparams, raw + 1, r->pool, &err) != APR_SUCCESS) {
        *detail = apr_pstrdup(r->pool, err.text);
        return "query-not-allowed";
    }
    pds_error_clear(&err);
    if ((sc->query_names != NULL
         ? pds_query_names_declared(sc->query_names, *pparams, &err)
         : pds_agreements_query_declared(sc->agreements, *pparams, &err)) != APR_SUCCESS) {
        *detail = apr_pstrdup(r->pool, err.text);
        return "query-not-allowed";
    }
    return NULL;
}

void pds_request_post_config(apr_pool_t *pconf, server_rec *s)
{
    for (; s != NULL; s = s->next) {
        pds_server_conf_t *sc = pds_server_conf(s);

        sc->query_names = pds_agreements_query_names(sc->agreements, pconf);
    }
}

/* This request's decision record, made once. */
static pds_request_t *new_request(request_rec *r)
{
    pds_request_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->request_id = pds_make_request_id(r);
    ap_set_module_config(r->request_config, &pds_module, rq);
    apr_table_setn(r->err_headers_out, "PDS-Request-Id", rq->request_id);
    return rq;
}

/* The decision on a request to an enforced location (dc): identify the
 * caller, refuse request shapes the policy and the back end could read
 * differently, decide against the agreements and consent, and on allow
 * prepare the request for the back end. OK on allow; otherwise deny()'s
 * answer. defer_answer: see deny(). */
static int enforce(request_rec *r, pds_dir_conf_t *dc, int defer_answer)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    pds_request_t *rq;
    pds_request_facts_t facts;
    apr_array_header_t *params = NULL;
    pds_error_t err;
    const char *reason = NULL, *detail = NULL, *purpose_header, *raw_path;
    int i, n;

    rq = new_request(r);
    rq->defer_answer = defer_answer;

    rq->organisation = pds_identify(r, sc, &reason, &detail);
    if (rq->organisation == NULL)
        return deny(r, rq, reason, detail);

    if (r->header_only || (r->method_number != M_GET && !is_write_method(r)))
        return deny(r, rq, "method-not-allowed", apr_psprintf(r->pool,
                    "%s is not served on this gateway; use GET (or POST, PUT, PATCH "
                    "where an agreement allows writing)", r->method));

    /* The policy decides on the raw target; anything that decodes or
     * normalises differently on the way to the back end is refused. */
    if (r->unparsed_uri == NULL || r->unparsed_uri[0] != '/')
        return deny(r, rq, "bad-path", "the request target must be an absolute path");
    /* The target as the client sent it: httpd has already merged slashes,
     * removed dot segments and decoded some escapes in r->parsed_uri.path. */
    raw_path = raw_target_path(r);
    pds_error_clear(&err);
    if (pds_request_path_check(raw_path, &err) != APR_SUCCESS)
        return deny(r, rq, "bad-path", err.text);
    /* What mod_proxy forwards is built from r->uri: it must be the same. */
    if (strcmp(raw_path, r->uri) != 0)
        return deny(r, rq, "bad-path", "the request path is not in canonical form");
    rq->path = raw_path;
    if (r->args != NULL || ap_strchr_c(r->unparsed_uri, '?') != NULL) {
        reason = query_shape(r, sc, &params, &detail);
        if (reason != NULL)
            return deny(r, rq, reason, detail);
    }
    for (i = 0; method_override_headers[i] != NULL; i++) {
        if (apr_table_get(r->headers_in, method_override_headers[i]) != NULL)
            return deny(r, rq, "method-override", apr_psprintf(r->pool,
                        "the %s header is refused", method_override_headers[i]));
    }
    if (r->method_number == M_GET && ap_request_has_body(r))
        return deny(r, rq, "unexpected-body", "a GET request must not carry a body");
    if (is_write_method(r) && !ap_request_has_body(r))
        return deny(r, rq, "bad-request-body", apr_psprintf(r->pool,
                    "a %s needs a JSON body", r->method));

    purpose_header = pds_conf_purpose_header(dc);
    n = pds_header_count(r->headers_in, purpose_header);
    if (n > 1)
        return deny(r, rq, "purpose-mismatch", apr_psprintf(r->pool,
                    "declare exactly one purpose in %s", purpose_header));
    rq->purpose = apr_table_get(r->headers_in, purpose_header);
    if (rq->purpose != NULL && !pds_syntax_is_name(rq->purpose, PDS_SYNTAX_NAME_MAX))
        return deny(r, rq, "purpose-mismatch", apr_psprintf(r->pool,
                    "%s must be a single purpose name", purpose_header));

    facts.organisation = rq->organisation;
    facts.method = r->method;
    facts.path = rq->path;
    facts.purpose = rq->purpose;
    facts.now = r->request_time;
    pds_agreements_decide(sc->agreements, &facts, &rq->decision, r->pool);
    if (!rq->decision.allowed)
        return deny(r, rq, rq->decision.reason, rq->decision.detail);
    /* The agreement applied decides what the query may carry. */
    pds_error_clear(&err);
    if (pds_query_accept(pds_agreement_query(rq->decision.agreement), params, &rq->query,
                         r->pool, &err) != APR_SUCCESS) {
        rq->decision.allowed = 0;
        return deny(r, rq, "query-not-allowed", err.text);
    }
    /* Consent (or the opt-out register) may still refuse, or narrow the fields. */
    reason = pds_consent_enforce(r, rq, &detail);
    if (reason == NULL && is_write_method(r))
        reason = check_write(r, rq, &detail);
    if (reason != NULL) {
        rq->decision.allowed = 0;
        return deny(r, rq, reason, detail);
    }

    /* The request is made ready for the back end in the fixups guard, after
     * the authentication hooks have read what they need (Authorization). */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "PDS00023: %s allowed under %s for %s",
                  rq->request_id, pds_agreement_id(rq->decision.agreement),
                  rq->organisation);
    return OK;
}

/* Where the access checker and the fixups guard begin: DECLINED when r is
 * not on an enforced location, HTTP_FORBIDDEN for a subrequest into one
 * (nothing inside httpd has a reason to look there, and a subrequest has no
 * client of its own to answer or audit); otherwise OK, with *pdc and *prq
 * (NULL while the request is undecided). */
static int enforced_request(request_rec *r, pds_dir_conf_t **pdc, pds_request_t **prq)
{
    *pdc = pds_dir_conf(r);
    if (!pds_conf_gateway(*pdc))
        return DECLINED;
    if (r->main != NULL)
        return HTTP_FORBIDDEN;
    *prq = pds_request_get(r);
    return OK;
}

/* access_checker: runs first among the access hooks, after mod_ssl's (so a
 * per-directory client certificate is verified), and before any handler, so
 * a denial never reaches mod_proxy. */
int pds_access_checker(request_rec *r)
{
    pds_dir_conf_t *dc;
    pds_request_t *rq;
    int rc = enforced_request(r, &dc, &rq);

    if (rc != OK)
        return rc;
    if (rq != NULL)             /* decided already: the decision stands */
        return rq->decision.allowed ? OK : rq->answered ? DONE : HTTP_FORBIDDEN;
    /* Under Satisfy Any httpd would go on to authentication after a DONE,
     * and could send its own error after a written problem: decide here,
     * answer in the fixups guard. */
    return enforce(r, dc, ap_satisfies(r) == SATISFY_ANY);
}

/* fixups, first: every request that is to reach a handler passes here,
 * whatever Satisfy, Require or an authentication module made of the access
 * phase. A denial is answered and ends the request; a request that reached
 * this point without a decision (an access hook ahead of mod_pds's refused
 * it, and Satisfy Any let a login stand in) is decided now. */
int pds_guard_fixups(request_rec *r)
{
    pds_dir_conf_t *dc;
    pds_request_t *rq;
    int status = enforced_request(r, &dc, &rq);

    if (status == OK && rq == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PDS00100: %s reached the fixups "
                      "without mod_pds's access decision (another access hook answered "
                      "first and Satisfy Any let the request on); deciding now", r->uri);
        status = enforce(r, dc, 0);
        rq = pds_request_get(r);
    }
    if (status != OK)
        return status;
    if (!rq->decision.allowed) {
        answer_denial(r, rq);
        return DONE;
    }
    if (!rq->prepared) {
        /* The gate first: without it, nothing is proxied. */
        if (pds_gate_install(r, rq) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00122: cannot hold the client "
                          "connection of %s; refusing it", rq->request_id);
            rq->defer_answer = 0;
            return deny(r, rq, "internal-error",
                        "the gateway could not prepare the request");
        }
        rq->prepared = 1;
        prepare_backend_request(r, rq);
        ap_add_output_filter(PDS_RESPONSE_FILTER, NULL, r, r->connection);
    }
    return OK;
}

/* handler, really first: the last guard before mod_proxy (or any handler)
 * serves an enforced location. Only this request's allow lets it through;
 * anything else fails closed. */
int pds_guard_handler(request_rec *r)
{
    pds_request_t *rq;

    if (!pds_conf_gateway(pds_dir_conf(r)))
        return DECLINED;
    rq = pds_request_get(r);
    if (r->main == NULL && rq != NULL && rq->decision.allowed && rq->prepared)
        return DECLINED;
    if (rq != NULL && rq->answered)
        return DONE;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00101: a handler was about to serve "
                  "the enforced location %s without mod_pds's allow; refused", r->uri);
    if (r->main != NULL)
        return HTTP_FORBIDDEN;
    if (rq == NULL)
        rq = new_request(r);
    rq->defer_answer = 0;
    if (rq->decision.reason == NULL || rq->decision.allowed)
        return deny(r, rq, "internal-error", "the request was not decided");
    answer_denial(r, rq);
    return DONE;
}

/* An error page httpd sends for a request mod_pds has denied but not yet
 * answered (under Satisfy Any an authentication or authorisation hook refused
 * first): the client gets the denial's problem document in its place. */
#define PDS_DENIAL_FILTER "PDS_DENIAL"

static apr_status_t denial_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    pds_request_t *rq = pds_request_get(r);
    apr_bucket_alloc_t *ba = f->c->bucket_alloc;
    apr_bucket_brigade *out;
    apr_bucket *b;
    int eos = 0;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b))
            eos = 1;
    }
    apr_brigade_cleanup(bb);            /* httpd's page is never sent */
    if (!eos)
        return APR_SUCCESS;
    ap_remove_output_filter(f);
    out = apr_brigade_create(r->pool, ba);
    if (rq != NULL && !rq->answered && rq->decision.reason != NULL) {
        apr_size_t len;
        const char *body = pds_problem_prepare(r, rq, rq->decision.reason,
                                               rq->decision.detail, &len);

        rq->answered = 1;
        if (!r->header_only)
            APR_BRIGADE_INSERT_TAIL(out, apr_bucket_pool_create(body, len, r->pool, ba));
    }
    APR_BRIGADE_INSERT_TAIL(out, apr_bucket_eos_create(ba));
    return ap_pass_brigade(f->next, out);
}

void pds_register_denial_filter(void)
{
    ap_register_output_filter(PDS_DENIAL_FILTER, denial_filter, NULL, AP_FTYPE_RESOURCE);
}

void pds_insert_denial_filter(request_rec *r)
{
    pds_request_t *rq = pds_request_get(r);

    if (rq != NULL && !rq->decision.allowed && !rq->answered && rq->decision.reason != NULL)
        ap_add_output_filter(PDS_DENIAL_FILTER, NULL, r, r->connection);
}

/* post_read_request: the raw target as the client sent it. httpd removes dot
 * segments (decoding %2e first) before it looks for the location, so a target
 * written inside an enforced location can be moved out of it, and one that
 * climbs above the root is refused with a bare 400. A raw target that names
 * an enforced location and would be refused is refused here, where the
 * location it names still applies: problem+json, request id, audit record. */
int pds_post_read_request(request_rec *r)
{
    ap_conf_vector_t *saved = r->per_dir_config;
    pds_dir_conf_t *dc;
    int status;

    if (r->main != NULL || r->prev != NULL || r->uri == NULL || r->uri[0] != '/'
        || r->unparsed_uri == NULL)
        return DECLINED;
    /* A scheme other than http(s) httpd refuses itself, right after this hook. */
    if (r->parsed_uri.scheme != NULL && strcasecmp(r->parsed_uri.scheme, "http") != 0
        && strcasecmp(r->parsed_uri.scheme, "https") != 0)
        return DECLINED;
    /* r->uri is still the target's path as sent (no dot segments removed,
     * nothing decoded); the walk is redone on the normalised path later. */
    if (ap_location_walk(r) != OK) {
        r->per_dir_config = saved;
        return DECLINED;
    }
    dc = pds_dir_conf(r);
    r->per_dir_config = saved;
    if (!pds_conf_gateway(dc)
        || (r->unparsed_uri[0] == '/'
            && pds_request_path_check(raw_target_path(r), NULL) == APR_SUCCESS))
        return DECLINED;
    /* httpd reads no further request on a connection whose request ended in
     * this hook: say so in the answer. */
    r->connection->keepalive = AP_CONN_CLOSE;
    status = enforce(r, dc, 0);
    if (status == DONE)
        return DONE;
    /* The path check above refuses this target; enforce must have too. */
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00103: %s was not refused as a bad "
                  "path; refusing it", r->unparsed_uri);
    return deny(r, pds_request_get(r), "internal-error", "the request target was refused");
}
