/* mod_pds_jwks.c: SetHandler pds-jwks (mod_pds_jwks.h). */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

#include "mod_pds_jwks.h"
#include "mod_pds_response.h"

/* Appends key's public JWK unless a key with its kid is there already. */
static void add_key(json_t *keys, const pds_key_t *key, apr_pool_t *p)
{
    json_t *jwk = key != NULL ? pds_key_public_jwk(key, p) : NULL;
    json_t *kid = json_object_get(jwk, "kid"), *other;
    size_t i;

    if (jwk == NULL)
        return;
    json_array_foreach(keys, i, other) {
        if (json_equal(json_object_get(other, "kid"), kid)) {
            json_decref(jwk);
            return;
        }
    }
    json_array_append_new(keys, jwk);
}

json_t *pds_jwks_keys(const pds_server_conf_t *sc, int with_response_key, apr_pool_t *p)
{
    json_t *keys = json_array();
    int i;

    if (keys == NULL)
        return NULL;
    if (with_response_key)
        add_key(keys, sc->response_key, p);
    add_key(keys, sc->consent_receipt_key, p);
    for (i = 0; i < sc->published_keys->nelts; i++)
        add_key(keys, APR_ARRAY_IDX(sc->published_keys, i, pds_key_t *), p);
    return keys;
}

/* The public keys a receiver needs to check what the gateway signs
 * (released bodies, consent receipts), as a JWKS (RFC 7517). */
int pds_jwks_handler(request_rec *r)
{
    json_t *keys;

    if (r->handler == NULL || strcmp(r->handler, "pds-jwks") != 0)
        return DECLINED;
    if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    keys = pds_jwks_keys(pds_server_conf(r->server), 1, r->pool);
    if (keys == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* Public keys change rarely: an hour's caching saves receivers the trip. */
    return pds_send_json_as(r, HTTP_OK, json_pack("{s:o}", "keys", keys),
                            "application/jwk-set+json", "public, max-age=3600");
}
