/* mod_pds_jwks.c: SetHandler pds-jwks (mod_pds_jwks.h). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

#include "mod_pds_jwks.h"
#include "mod_pds_response.h"

/* The public keys a receiver needs to check what the gateway signs
 * (released bodies, consent receipts), as a JWKS (RFC 7517). */
int pds_jwks_handler(request_rec *r)
{
    pds_server_conf_t *sc;
    json_t *keys, *jwk;

    if (r->handler == NULL || strcmp(r->handler, "pds-jwks") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    sc = pds_server_conf(r->server);
    keys = json_array();
    if (keys == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (sc->response_key != NULL && (jwk = pds_key_public_jwk(sc->response_key, r->pool)))
        json_array_append_new(keys, jwk);
    if (sc->consent_receipt_key != NULL
        && (jwk = pds_key_public_jwk(sc->consent_receipt_key, r->pool))) {
        /* One key may serve both: list it once. */
        json_t *first = json_array_get(keys, 0);
        if (first != NULL && json_equal(json_object_get(first, "kid"),
                                        json_object_get(jwk, "kid")))
            json_decref(jwk);
        else
            json_array_append_new(keys, jwk);
    }
    /* Public keys change rarely: an hour's caching saves receivers the trip. */
    return pds_send_json_as(r, HTTP_OK, json_pack("{s:o}", "keys", keys),
                            "application/jwk-set+json", "public, max-age=3600");
}
