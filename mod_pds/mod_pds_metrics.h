/* mod_pds_metrics.h: the operator's counters in shared memory, and the
 * decision log (layer 2 of docs/architecture.md: every layer that decides or
 * does something worth counting calls down to it; it calls only
 * configuration and lib/).
 *
 * The model (names, labels, buckets, renderings) is lib/pds_metrics.h; this
 * file gives it its shared memory. The block is made in the real post_config,
 * sized from the configuration (organisations and agreements of every
 * server), and kept in the httpd parent across graceful and plain restarts
 * while the layout stays the same; a configuration with other organisations
 * or agreements starts a new block from zero (pds_metrics_reset_time_seconds
 * says when). Children inherit the mapping; counting is atomic adds only.
 */
#ifndef MOD_PDS_METRICS_H
#define MOD_PDS_METRICS_H

#include "mod_pds_private.h"
#include "mod_pds_response.h"
#include "pds_metrics.h"

/* post_config (the real one): the model and its shared block. OK, or an HTTP
 * error status that stops the start (logged PDS00410/PDS00412). */
int pds_counters_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* The model attached to the shared block, or NULL before post_config (and
 * under `apachectl -t`): lib/pds_metrics's counting functions take NULL
 * and then count nothing. Read-only; safe from any thread. */
pds_metrics_t *pds_counters(void);

/* Microseconds since start (for the counting functions' took). */
apr_interval_time_t pds_counters_since(apr_time_t start);

/* One decision whose audit record is written: counted in
 * pds_requests_total (with its agreement, organisation, decision and
 * reason) and, under PDSDecisionLog <level>, one error-log line at that
 * level (PDS00411) with the request id, organisation, agreement, decision
 * and reason: never the subject or the path. */
void pds_count_decision(request_rec *r, const pds_request_t *rq, const char *decision,
                        const char *reason);

#endif
