/* mod_pds_request.h: the access layer, the hooks' decisions (layer 6 of
 * docs/architecture.md; only mod_pds.c calls it). Each function is a hook
 * or a filter registration; mod_pds.c says where each sits and why.
 */
#ifndef MOD_PDS_REQUEST_H
#define MOD_PDS_REQUEST_H

#include "mod_pds_private.h"

/* post_config: what the request path asks of the configuration, made once
 * per server (the set of declared Query names). */
void pds_request_post_config(apr_pool_t *pconf, server_rec *s);

/* post_read_request: a raw target naming an enforced location that will be
 * refused is refused before httpd's dot-segment removal can move it. */
int pds_post_read_request(request_rec *r);

/* pre_translate_name: a path we refuse skips httpd's URL decoding (its bare
 * 404 or 400), so that the access hook refuses it properly. */
int pds_pre_translate_name(request_rec *r);

/* access_checker: the decision (identity, request shape, agreement, consent,
 * a write's body). A denial is audited and answered with problem+json. */
int pds_access_checker(request_rec *r);

/* fixups, really first: a denial ends the request whatever Satisfy said; an
 * undecided request is decided; an allowed one is made ready for the back
 * end (headers, the gate, the response filter). */
int pds_guard_fixups(request_rec *r);

/* handler, really first: nothing serves an enforced location without this
 * request's allow. */
int pds_guard_handler(request_rec *r);

/* handler, really first, always DECLINED: no interim (1xx) response of the
 * back end is relayed on an allowed request. */
int pds_proxy_handler_first(request_rec *r);

/* log_transaction, really first: the access log sees the request headers the
 * client sent, not what the back end was sent. */
int pds_restore_client_headers(request_rec *r);

/* The denial filter: an error page httpd makes for a denied request not yet
 * answered becomes the denial's problem document. */
void pds_register_denial_filter(void);
void pds_insert_denial_filter(request_rec *r);

/* The input filter that serves a write's checked body to mod_proxy. */
void pds_register_request_body_filter(void);

#endif
