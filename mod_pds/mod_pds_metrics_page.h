/* mod_pds_metrics_page.h: the operator's pages (layer 5 of
 * docs/architecture.md): the metrics, the health check and mod_pds's
 * section of mod_status's server-status. The counters are in
 * mod_pds_metrics.h; the model and renderings in lib/pds_metrics.h.
 */
#ifndef MOD_PDS_METRICS_PAGE_H
#define MOD_PDS_METRICS_PAGE_H

#include "mod_pds_private.h"

/* handler: SetHandler pds-metrics (Prometheus text format 0.0.4; JSON when
 * the Accept header asks for application/json or the query is
 * format=json) and SetHandler pds-metrics-json (always JSON). GET and HEAD
 * only. DECLINED elsewhere. */
int pds_metrics_handler(request_rec *r);

/* handler: SetHandler pds-health. 200 {"status":"ok",...} when the audit log
 * can take a record, its keys are loaded and the consent store (when one is
 * configured) answers a read; otherwise 503 {"status":"fail", "problems":
 * [...]} naming what is wrong, without secrets. Never cached. DECLINED
 * elsewhere. */
int pds_health_handler(request_rec *r);

/* mod_status's status_hook (registered as an optional hook: it runs only
 * where mod_status is loaded): a mod_pds section, HTML or, with ?auto,
 * "PDS...: value" lines. Always OK. */
int pds_status_hook(request_rec *r, int flags);

#endif
