/* mod_pds_metrics_page.c: SetHandler pds-metrics, pds-metrics-json and
 * pds-health, and the server-status section (mod_pds_metrics_page.h). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "mod_status.h"

#include "mod_pds_audit.h"
#include "mod_pds_consent_cache.h"
#include "mod_pds_metrics.h"
#include "mod_pds_metrics_page.h"
#include "mod_pds_response.h"
#include "pds_time.h"

#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* JSON when asked for: the handler's variant, ?format=json, or an Accept
 * that names application/json (and not the text format). */
static int wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    if (strcmp(r->handler, "pds-metrics-json") == 0)
        return 1;
    if (r->args != NULL) {
        if (strcmp(r->args, "format=json") == 0)
            return 1;
        if (strcmp(r->args, "format=prometheus") == 0)
            return 0;
    }
    return accept != NULL && ap_strcasestr(accept, "application/json") != NULL
        && ap_strcasestr(accept, "text/plain") == NULL;
}

int pds_metrics_handler(request_rec *r)
{
    const pds_metrics_t *m = pds_counters();
    const char *body;
    apr_size_t len = 0;
    int json;

    if (r->handler == NULL || (strcmp(r->handler, "pds-metrics") != 0
                               && strcmp(r->handler, "pds-metrics-json") != 0))
        return DECLINED;
    if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    if (r->args != NULL && strcmp(r->args, "format=json") != 0
        && strcmp(r->args, "format=prometheus") != 0)
        return pds_send_problem(r, "query-not-allowed", "the only query is format=json "
                                "or format=prometheus");
    if (m == NULL)
        return pds_send_problem(r, "internal-error", "the metrics are not set up");
    json = wants_json(r);
    body = json ? pds_metrics_json(m, r->pool, &len) : pds_metrics_prometheus(m, r->pool, &len);
    if (body == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    ap_set_content_type(r, json ? "application/json" : PROMETHEUS_TYPE);
    apr_table_mergen(r->headers_out, "Vary", "Accept");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
    return OK;
}

/* One check's result in doc's "checks", and its problem in "problems". */
static void check(json_t *checks, json_t *problems, const char *name, const char *problem)
{
    json_object_set_new(checks, name, json_string(problem == NULL ? "ok" : "fail"));
    if (problem != NULL)
        json_array_append_new(problems, json_pack("{s:s,s:s}", "check", name,
                                                  "problem", problem));
}

/* NULL when the store answers a read; else what is wrong. */
static const char *consent_store_problem(request_rec *r)
{
    pds_consent_conn_t *h;
    pds_error_t err;
    apr_status_t rv;

    if (!pds_consent_has_store())
        return NULL;
    h = pds_consent_conn_acquire(r);
    if (h == NULL)
        return "the consent store cannot be reached (no connection)";
    pds_error_clear(&err);
    rv = pds_consent_store_ping(h->store, r->pool, &err);
    pds_consent_conn_release(h, rv != APR_SUCCESS);
    /* The driver's text names tables and errors, never a record's content. */
    return rv == APR_SUCCESS ? NULL
        : apr_pstrcat(r->pool, "the consent store did not answer a read: ",
                      err.text[0] ? err.text : err.code, NULL);
}

int pds_health_handler(request_rec *r)
{
    json_t *doc, *checks, *problems;
    const char *audit, *keys = NULL;
    int ok;

    if (r->handler == NULL || strcmp(r->handler, "pds-health") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    checks = json_object();
    problems = json_array();
    doc = json_object();
    if (checks == NULL || problems == NULL || doc == NULL) {
        json_decref(checks);
        json_decref(problems);
        json_decref(doc);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    audit = pds_audit_health(r->server, r->pool, &keys);
    check(checks, problems, "audit_log", audit);
    check(checks, problems, "keys", keys);
    if (pds_consent_has_store())
        check(checks, problems, "consent_store", consent_store_problem(r));
    else
        json_object_set_new(checks, "consent_store", json_string("not configured"));
    ok = json_array_size(problems) == 0;
    json_object_set_new(doc, "status", json_string(ok ? "ok" : "fail"));
    json_object_set_new(doc, "checks", checks);
    json_object_set_new(doc, "problems", problems);
    if (!ok)
        apr_table_setn(r->err_headers_out, "Retry-After", "10");
    return pds_send_json(r, ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, doc);
}

int pds_status_hook(request_rec *r, int flags)
{
    pds_metrics_summary_t sum;
    const pds_metrics_t *m = pds_counters();
    static const char *const labels[] = {
        "Decisions allowed", "Decisions denied", "Audit write or sync errors",
        "Consent store errors", "Back-end errors", "Responses refused by the filter"
    };
    static const char *const keys[] = {
        "PDSAllowed", "PDSDenied", "PDSAuditErrors", "PDSConsentStoreErrors",
        "PDSBackendErrors", "PDSFilterRejections"
    };
    apr_uint64_t values[6];
    int k;

    pds_metrics_summary(m, &sum);
    values[0] = sum.allowed;
    values[1] = sum.denied;
    values[2] = sum.audit_errors;
    values[3] = sum.consent_errors;
    values[4] = sum.backend_errors;
    values[5] = sum.filter_rejections;
    if (flags & AP_STATUS_SHORT) {
        for (k = 0; k < 6; k++)
            ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "\n", keys[k], values[k]);
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_pds</h2>\n", r);
    if (m == NULL) {
        ap_rputs("<p>The metrics are not set up.</p>\n", r);
        return OK;
    }
    ap_rprintf(r, "<p>Counting since %s (the full metrics: SetHandler pds-metrics).</p>\n",
               ap_escape_html(r->pool, pds_time_format(r->pool, sum.reset_time)
                                       ? pds_time_format(r->pool, sum.reset_time) : "?"));
    if (flags & AP_STATUS_NOTABLE) {
        for (k = 0; k < 6; k++)
            ap_rprintf(r, "<p>%s: %" APR_UINT64_T_FMT "</p>\n", labels[k], values[k]);
        return OK;
    }
    ap_rputs("<table id=\"pds-status\">\n", r);
    for (k = 0; k < 6; k++)
        ap_rprintf(r, "<tr><th scope=\"row\">%s</th><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   labels[k], values[k]);
    ap_rputs("</table>\n", r);
    return OK;
}
