/* mod_pds_jwks.h: the gateway's public keys (layer 5 of docs/architecture.md). */
#ifndef MOD_PDS_JWKS_H
#define MOD_PDS_JWKS_H

#include "mod_pds_private.h"

/* The public JWKs of the response signing key (when asked), the receipt
 * key and every PDSPublishedKey, each kid once; NULL when out of memory. */
json_t *pds_jwks_keys(const pds_server_conf_t *sc, int with_response_key, apr_pool_t *p);

/* handler: SetHandler pds-jwks. pds_jwks_keys(with the response key) as a
 * JWKS (RFC 7517); DECLINED elsewhere. */
int pds_jwks_handler(request_rec *r);

#endif
