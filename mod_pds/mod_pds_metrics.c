/* mod_pds_metrics.c: the counters' shared memory, and the decision log.
 *
 * The block lives in the httpd parent's process pool, named by the pool's
 * userdata, so it outlives a configuration: a restart whose configuration
 * gives the same layout (lib/pds_metrics's fingerprint) keeps counting in
 * it; another layout gets a new block, and the old one is released (children
 * of the old generation still finishing their requests keep their own
 * mapping until they exit). An anonymous mapping where the platform has one,
 * else a file in DefaultRuntimeDir.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <string.h>

#include "mod_pds_metrics.h"

#define METRICS_USERDATA "pds-metrics-block"

/* What the parent keeps across restarts (process pool memory). */
typedef struct kept_t {
    apr_shm_t *shm;
    char fingerprint[128];
} kept_t;

/* This generation's model; children inherit it from the parent. */
static pds_metrics_t *metrics;

pds_metrics_t *pds_counters(void)
{
    return metrics;
}

apr_interval_time_t pds_counters_since(apr_time_t start)
{
    apr_interval_time_t took = apr_time_now() - start;

    return took > 0 ? took : 0;
}

/* Every server's organisations and agreements (a virtual host's after the
 * main server's; the model counts each name once). */
static void collect(server_rec *s, apr_pool_t *p, apr_array_header_t *ids,
                    apr_array_header_t *parties, apr_array_header_t *orgs)
{
    server_rec *sv;
    int i;

    for (sv = s; sv != NULL; sv = sv->next) {
        pds_server_conf_t *sc = pds_server_conf(sv);

        if (sc == NULL)
            continue;
        for (i = 0; sc->organisations != NULL && i < sc->organisations->nelts; i++)
            APR_ARRAY_PUSH(orgs, const char *) =
                APR_ARRAY_IDX(sc->organisations, i, pds_organisation_t *)->name;
        for (i = 0; sc->agreements != NULL && i < sc->agreements->nelts; i++) {
            const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i,
                                                     const pds_agreement_t *);

            APR_ARRAY_PUSH(ids, const char *) = pds_agreement_id(a);
            APR_ARRAY_PUSH(parties, const char *) = pds_agreement_party(a);
        }
    }
}

static apr_status_t make_block(apr_shm_t **pshm, apr_size_t size, apr_pool_t *pproc)
{
    const char *fname;
    apr_status_t rv = apr_shm_create(pshm, size, NULL, pproc);

    if (rv != APR_ENOTIMPL)
        return rv;
    fname = ap_runtime_dir_relative(pproc, "pds-metrics.shm");
    if (fname == NULL)
        return APR_EBADPATH;
    apr_shm_remove(fname, pproc);
    return apr_shm_create(pshm, size, fname, pproc);
}

int pds_counters_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_array_header_t *ids = apr_array_make(ptemp, 8, sizeof(const char *));
    apr_array_header_t *parties = apr_array_make(ptemp, 8, sizeof(const char *));
    apr_array_header_t *orgs = apr_array_make(ptemp, 8, sizeof(const char *));
    pds_metrics_t *m;
    kept_t *kept = NULL;
    void *data = NULL;
    pds_error_t err;
    apr_status_t rv;
    const char *fp;

    metrics = NULL;
    pds_error_clear(&err);
    collect(s, ptemp, ids, parties, orgs);
    rv = pds_metrics_create(&m, pconf, ids, parties, orgs, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00412: cannot "
                     "lay out the metrics: %s", err.text);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    fp = pds_metrics_fingerprint(m);
    apr_pool_userdata_get(&data, METRICS_USERDATA, pproc);
    kept = data;
    if (kept != NULL && kept->shm != NULL && strcmp(kept->fingerprint, fp) == 0
        && apr_shm_size_get(kept->shm) >= pds_metrics_size(m)) {
        pds_metrics_attach(m, apr_shm_baseaddr_get(kept->shm), 0, apr_time_now());
        metrics = m;
        return OK;
    }
    if (kept == NULL) {
        kept = apr_pcalloc(pproc, sizeof(*kept));
        apr_pool_userdata_set(kept, METRICS_USERDATA, apr_pool_cleanup_null, pproc);
    }
    else if (kept->shm != NULL) {
        /* Another layout: the old block's counts cannot be read with it. */
        apr_shm_destroy(kept->shm);
        kept->shm = NULL;
    }
    rv = make_block(&kept->shm, pds_metrics_size(m), pproc);
    if (rv != APR_SUCCESS) {
        kept->shm = NULL;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00410: cannot "
                     "create %" APR_SIZE_T_FMT " bytes of shared memory for the metrics "
                     "(%d organisations and agreements)", pds_metrics_size(m),
                     orgs->nelts + ids->nelts);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_cpystrn(kept->fingerprint, fp, sizeof(kept->fingerprint));
    pds_metrics_attach(m, apr_shm_baseaddr_get(kept->shm), 1, apr_time_now());
    metrics = m;
    return OK;
}

void pds_count_decision(request_rec *r, const pds_request_t *rq, const char *decision,
                        const char *reason)
{
    const pds_agreement_t *a = rq->decision.agreement;
    const char *agreement = a != NULL ? pds_agreement_id(a) : NULL;
    int allowed = strcmp(decision, "allow") == 0;
    int level = pds_conf_decision_log(pds_server_conf(r->server));

    pds_metrics_decision(metrics, agreement, rq->organisation, allowed,
                         allowed ? NULL : reason, pds_counters_since(r->request_time));
    if (level == PDS_DECISION_LOG_OFF)
        return;
    /* Names from the configuration and our own request id only: no subject,
     * no path, nothing the caller wrote. */
    ap_log_rerror(APLOG_MARK, level, 0, r, "PDS00411: decision request=%s "
                  "organisation=%s agreement=%s decision=%s reason=%s",
                  rq->request_id ? rq->request_id : "-",
                  rq->organisation ? rq->organisation : "-",
                  agreement ? agreement : "-", decision,
                  !allowed && reason ? reason : "-");
}
