/* pds_jwk.c: a public JWK (RFC 7517) as a pds_key_t, the inverse of
 * pds_key_public_jwk (pds_jws.h). The key goes through its PEM, so every
 * rule pds_key_load_pem applies (types, sizes, the pinned algorithm) holds
 * for JWKs as well. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "pds_jws.h"

#define SOURCE "JWK"

static const char *str_member(json_t *jwk, const char *name)
{
    json_t *v = json_object_get(jwk, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A base64url member: its bytes, or NULL when absent or malformed. */
static unsigned char *jwk_bytes(json_t *jwk, const char *name, apr_size_t *len,
                                apr_pool_t *p)
{
    json_t *v = json_object_get(jwk, name);
    unsigned char *out;

    if (!json_is_string(v)
        || pds_base64url_decode(&out, len, p, json_string_value(v),
                                json_string_length(v)) != APR_SUCCESS)
        return NULL;
    return out;
}

static EVP_PKEY *jwk_okp(json_t *jwk, const char **why, const char **code,
                               apr_pool_t *p)
{
    const char *crv = str_member(jwk, "crv");
    unsigned char *x;
    apr_size_t xlen = 0;

    if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
        *code = "unsupported-key";
        *why = apr_psprintf(p, "OKP curve %s is not accepted (Ed25519 only)",
                            crv ? crv : "(none)");
        return NULL;
    }
    if ((x = jwk_bytes(jwk, "x", &xlen, p)) == NULL || xlen != 32) {
        *why = "\"x\" is not 32 bytes of base64url";
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
}

/* A public key made from OSSL_PARAMs, checked (an EC point on its curve). */
static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL), *check = NULL;
    EVP_PKEY *key = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1
        || (check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL
        || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static EVP_PKEY *jwk_ec(json_t *jwk, const char **why, const char **code,
                              apr_pool_t *p)
{
    const char *crv = str_member(jwk, "crv");
    unsigned char *x, *y, point[65];
    apr_size_t xlen = 0, ylen = 0;
    char group[] = "P-256";
    OSSL_PARAM params[3];
    EVP_PKEY *key;

    if (crv == NULL || strcmp(crv, "P-256") != 0) {
        *code = "unsupported-key";
        *why = apr_psprintf(p, "EC curve %s is not accepted (P-256 only)",
                            crv ? crv : "(none)");
        return NULL;
    }
    x = jwk_bytes(jwk, "x", &xlen, p);
    y = jwk_bytes(jwk, "y", &ylen, p);
    if (x == NULL || y == NULL || xlen != 32 || ylen != 32) {
        *why = "\"x\" and \"y\" must each be 32 bytes of base64url";
        return NULL;
    }
    point[0] = 0x04;            /* uncompressed: 04 || x || y */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    if ((key = key_from_params("EC", params)) == NULL)
        *why = "\"x\" and \"y\" are not a point on P-256";
    return key;
}

static EVP_PKEY *jwk_rsa(json_t *jwk, const char **why, const char **code,
                               apr_pool_t *p)
{
    unsigned char *nb, *eb;
    apr_size_t nlen = 0, elen = 0;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *key = NULL;

    (void)code;                 /* every refusal here is "bad-key" */
    nb = jwk_bytes(jwk, "n", &nlen, p);
    eb = jwk_bytes(jwk, "e", &elen, p);
    if (nb == NULL || eb == NULL || nlen == 0 || elen == 0 || elen > 8) {
        *why = "\"n\" and \"e\" must be base64url big-endian integers";
        return NULL;
    }
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    /* e = 1 would make every "signature" of a padded message valid */
    if (n != NULL && e != NULL && (!BN_is_odd(e) || BN_cmp(e, BN_value_one()) <= 0))
        *why = "the public exponent \"e\" must be odd and greater than 1";
    else if (n == NULL || e == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL
             || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
             || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1
             || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
             || (key = key_from_params("RSA", params)) == NULL)
        *why = "\"n\" and \"e\" are not an RSA public key";
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return key;
}

/* The public key as PEM (SubjectPublicKeyInfo) in pool memory. */
static char *public_pem(EVP_PKEY *key, apr_size_t *plen, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_PUBKEY(bio, key) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0) {
        out = apr_pmemdup(p, data, (apr_size_t)n);
        *plen = (apr_size_t)n;
    }
    BIO_free(bio);
    return out;
}

apr_status_t pds_key_from_jwk(pds_key_t **pkey, apr_pool_t *p, json_t *jwk,
                              pds_error_t *err)
{
    const char *kty = str_member(jwk, "kty"), *alg = str_member(jwk, "alg");
    const char *use = str_member(jwk, "use"), *why = NULL, *code = "bad-key";
    pds_error_t load_err;
    pds_key_t *key = NULL;
    EVP_PKEY *evp = NULL;
    apr_size_t plen = 0;
    char *pem = NULL;

    if (kty != NULL && strcmp(kty, "OKP") == 0)
        evp = jwk_okp(jwk, &why, &code, p);
    else if (kty != NULL && strcmp(kty, "EC") == 0)
        evp = jwk_ec(jwk, &why, &code, p);
    else if (kty != NULL && strcmp(kty, "RSA") == 0)
        evp = jwk_rsa(jwk, &why, &code, p);
    else {
        code = "unsupported-key";
        why = apr_psprintf(p, "key type %s is not accepted (OKP Ed25519, EC P-256 or RSA)",
                           kty ? kty : "(no \"kty\")");
    }
    if (evp != NULL) {
        pem = public_pem(evp, &plen, p);
        EVP_PKEY_free(evp);
    }
    ERR_clear_error();
    pds_error_clear(&load_err);
    if (why == NULL && pem == NULL)
        why = "the key cannot be read";
    else if (why == NULL && pds_key_load_pem(&key, p, pem, plen, &load_err) != APR_SUCCESS) {
        why = load_err.text;
        code = load_err.code;
    }
    else if (why == NULL && alg != NULL && strcmp(alg, pds_key_alg(key)) != 0) {
        code = "unsupported-key";
        why = apr_psprintf(p, "\"alg\" is %s, but this key can only be used with %s",
                           alg, pds_key_alg(key));
    }
    else if (why == NULL && use != NULL && strcmp(use, "sig") != 0) {
        code = "unsupported-key";
        why = apr_psprintf(p, "\"use\" is %s, not sig", use);
    }
    if (why != NULL) {
        pds_error_set(err, code, -1, SOURCE, "%s", why);
        return APR_EINVAL;
    }
    *pkey = key;
    return APR_SUCCESS;
}
