/* pds_jws.h: public keys, compact JWS verification and signing, token claims.
 *
 * The algorithm is pinned to the key, never taken from the token: an EC P-256
 * key verifies ES256 only, an RSA key (2048 bits or more) RS256 only, an
 * Ed25519 key EdDSA only. A token whose header names another algorithm
 * (including "none" and any HMAC) is refused before any signature check.
 *
 * ES256 signatures are accepted in their low-s form only (s <= n/2, n the
 * P-256 group order): (r, n - s) verifies wherever (r, s) does, and refusing
 * one of the two makes every signature unique. Our own ES256 signatures are
 * always made low-s.
 */
#ifndef PDS_JWS_H
#define PDS_JWS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "pds_encode.h"    /* base64url, which JWS is written in */
#include "pds_error.h"

typedef struct pds_key_t pds_key_t;

/* Loads a PEM public key (SubjectPublicKeyInfo) or private key (PKCS#8 or
 * traditional); a private key can both sign and verify. Keys of other types or
 * sizes are refused with err->code "unsupported-key"; text that holds no key
 * (or an encrypted one) with "bad-key". Files over 64 KiB are refused; a file
 * that cannot be read gives "key-unreadable"; errors name the path. */
apr_status_t pds_key_load_pem(pds_key_t **pkey, apr_pool_t *p,
                              const char *pem, apr_size_t len,
                              pds_error_t *err);
apr_status_t pds_key_load_file(pds_key_t **pkey, apr_pool_t *p,
                               const char *path, pds_error_t *err);

/* "ES256", "RS256" or "EdDSA". */
const char *pds_key_alg(const pds_key_t *key);
int pds_key_is_private(const pds_key_t *key);

/* The key's public half as a JWK (RFC 7517; new reference) with "kid" its
 * RFC 7638 SHA-256 thumbprint, "alg" and "use": "sig". NULL on failure. */
json_t *pds_key_public_jwk(const pds_key_t *key, apr_pool_t *p);

/* The inverse (lib/pds_jwk.c): a public JWK, OKP Ed25519, EC P-256 or RSA,
 * as a key allocated from p, held to every rule of pds_key_load_pem; its
 * "alg" and "use", when present, must be the key's and "sig". Private
 * members are ignored (a caller refuses a published JWK holding them).
 * APR_EINVAL with err->code "unsupported-key" (a type, curve or size not
 * accepted, "alg" or "use" that do not fit) or "bad-key" (members that are
 * not a key). err->text quotes the JWK's own kty, crv, alg or use as given:
 * escape it before showing it on a terminal. */
apr_status_t pds_key_from_jwk(pds_key_t **pkey, apr_pool_t *p, json_t *jwk,
                              pds_error_t *err);

typedef struct pds_jws_t pds_jws_t;

/* Splits and decodes a compact JWS (header.payload.signature, base64url
 * without padding). Header and payload must be JSON objects (duplicate keys
 * refused); "crit" is refused; the header's "alg" must be present.
 * err->code "malformed-token" on any syntax problem. Nothing is verified. */
apr_status_t pds_jws_parse(pds_jws_t **pjws, apr_pool_t *p,
                           const char *compact, apr_size_t len,
                           pds_error_t *err);

const char *pds_jws_alg(const pds_jws_t *jws);
const char *pds_jws_kid(const pds_jws_t *jws);        /* NULL if absent */
/* Borrowed references, released by a pool cleanup. */
json_t *pds_jws_header(const pds_jws_t *jws);
json_t *pds_jws_payload(const pds_jws_t *jws);

/* Checks the header's alg equals the key's pinned alg ("alg-mismatch") and the
 * signature over the signing input ("bad-signature"). */
apr_status_t pds_jws_verify(const pds_jws_t *jws, const pds_key_t *key,
                            pds_error_t *err);

/* Signs payload (a JSON object) with a private key into a compact JWS.
 * extra_header may be NULL; "alg" is always the key's. A public key gives
 * "not-a-private-key". */
apr_status_t pds_jws_sign(char **pcompact, apr_pool_t *p,
                          const pds_key_t *key, json_t *extra_header,
                          json_t *payload, pds_error_t *err);

/* Detached payload (RFC 7515 appendix F): signs payload (len bytes, any
 * content) and gives "header..signature"; the header holds "alg" (the key's)
 * and header_members (may be NULL). The verifier rebuilds the signing input
 * from the payload it has. */
apr_status_t pds_jws_sign_detached(char **pcompact, apr_pool_t *p, const pds_key_t *key,
                                   json_t *header_members, const unsigned char *payload,
                                   apr_size_t len, pds_error_t *err);
/* Verifies a detached signature over payload with key (alg pinned as for
 * pds_jws_verify). *pheader (may be NULL) gets the decoded header, released
 * with p. Codes: "malformed-token", "alg-mismatch", "bad-signature". */
apr_status_t pds_jws_verify_detached(json_t **pheader, apr_pool_t *p, const char *compact,
                                     apr_size_t len, const unsigned char *payload,
                                     apr_size_t plen, const pds_key_t *key,
                                     pds_error_t *err);

typedef struct pds_token_expect_t {
    const char *issuer;      /* "iss" must equal this */
    const char *audience;    /* "aud" (string, or array holding it) must match */
    apr_time_t now;
    int clock_skew;          /* seconds of leeway for exp, nbf and iat */
    int max_lifetime;        /* seconds; exp - iat (or exp - now) above this is
                                refused; 0 for no limit */
} pds_token_expect_t;

/* Checks the registered claims of a verified token (lib/pds_token.c).
 * Codes: "token-expired", "token-not-yet-valid", "wrong-issuer",
 * "wrong-audience", "missing-claim" (exp is required; so are iss and aud),
 * "bad-claim" (exp not an integer, nbf/iat not numbers, iss not a string,
 * aud not a string or array of strings), "token-too-long-lived";
 * "bad-argument" when expect has no issuer or audience (never a pass). */
apr_status_t pds_token_check_claims(const pds_jws_t *jws,
                                    const pds_token_expect_t *expect,
                                    pds_error_t *err);


#endif
