/* mod_pds_private.h: what every file of the glue shares.
 *
 * The glue translates httpd's world into lib/ calls. Every glue file
 * includes this: the module record, the lib/ headers, and the configuration
 * objects built from directives (layer 1 of docs/architecture.md). Nothing
 * here is exported from mod_pds.so.
 */
#ifndef MOD_PDS_PRIVATE_H
#define MOD_PDS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_filter.h"
#include "apr_global_mutex.h"

#include "pds_agreement.h"
#include "pds_audit.h"
#include "pds_cert.h"
#include "pds_chain.h"
#include "pds_consent.h"
#include "pds_error.h"
#include "pds_filter.h"
#include "pds_jws.h"
#include "pds_reason.h"

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(pds);
#endif

extern module AP_MODULE_DECLARE_DATA pds_module;

#include "mod_pds_config.h"

/* The per-request record (pds_request_t) and the glue's answers are in
 * mod_pds_response.h; what each file offers the layers above it, in its own
 * header (docs/architecture.md names the layers). */

#endif
