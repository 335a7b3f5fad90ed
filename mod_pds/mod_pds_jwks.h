/* mod_pds_jwks.h: the gateway's public keys (layer 5 of docs/architecture.md). */
#ifndef MOD_PDS_JWKS_H
#define MOD_PDS_JWKS_H

#include "mod_pds_private.h"

/* handler: SetHandler pds-jwks. The response and receipt signing keys as a
 * JWKS (RFC 7517), a key serving both listed once; DECLINED elsewhere. */
int pds_jwks_handler(request_rec *r);

#endif
