/* pds_key.c: the keys of pds_jws.h: a PEM public or private key loaded,
 * from memory or from a file, its one algorithm pinned (EC P-256 for ES256,
 * RSA of 2048 bits or more for RS256, Ed25519 for EdDSA), and its public
 * half as a JWK with its RFC 7638 thumbprint as kid. A JWK read back as a
 * key is in pds_jwk.c; signing and verifying with a key in pds_jws.c.
 *
 * As in pds_jws.c, every failure path clears the thread's OpenSSL error
 * queue.
 */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pds_file.h"
#include "pds_jws.h"
#include "pds_jws_int.h"

/* A key file or PEM text larger than this is not a key. */
#define PDS_KEY_MAX_PEM   (64 * 1024)
#define PDS_RSA_MIN_BITS   2048

#define PDS_ACCEPTED_KEYS "accepted keys are EC P-256 (ES256), RSA of 2048 bits " \
                          "or more (RS256) and Ed25519 (EdDSA)"

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* ---- keys ----------------------------------------------------------------- */

/* Never prompt on a terminal for a passphrase (OpenSSL's default callback
 * would): note that one was asked for and refuse. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (u != NULL)
        *(int *)u = 1;
    return -1;
}

/* Decides the one algorithm this key may be used with, or sets an error. */
static apr_status_t pin_alg(pds_key_t *key, pds_error_t *err)
{
    EVP_PKEY *pkey = key->pkey;
    const char *type = EVP_PKEY_get0_type_name(pkey);

    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen = 0;

        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1
            && (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
            key->kind = PDS_ALG_ES256;
            key->alg = "ES256";
            return APR_SUCCESS;
        }
        ERR_clear_error();
        pds_error_set(err, "unsupported-key", -1, PDS_KEY_SOURCE,
                      "EC key on curve %s is not accepted; " PDS_ACCEPTED_KEYS,
                      glen > 0 ? group : "(unnamed)");
        return APR_EINVAL;
    }
    /* RSA only: an RSA-PSS key is bound to PSS, which RS256 is not. */
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);

        if (bits >= PDS_RSA_MIN_BITS) {
            key->kind = PDS_ALG_RS256;
            key->alg = "RS256";
            return APR_SUCCESS;
        }
        pds_error_set(err, "unsupported-key", -1, PDS_KEY_SOURCE,
                      "RSA key of %d bits is too small; " PDS_ACCEPTED_KEYS, bits);
        return APR_EINVAL;
    }
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        key->kind = PDS_ALG_EDDSA;
        key->alg = "EdDSA";
        return APR_SUCCESS;
    }
    pds_error_set(err, "unsupported-key", -1, PDS_KEY_SOURCE,
                  "%s key is not accepted; " PDS_ACCEPTED_KEYS,
                  type != NULL ? type : "this type of");
    return APR_EINVAL;
}

apr_status_t pds_key_load_pem(pds_key_t **pkey, apr_pool_t *p,
                              const char *pem, apr_size_t len,
                              pds_error_t *err)
{
    pds_key_t *key;
    EVP_PKEY *evp;
    BIO *bio;
    int is_private = 0, asked_passphrase = 0;

    if (pkey == NULL || p == NULL || pem == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_KEY_SOURCE, "no key given");
        return APR_EINVAL;
    }
    *pkey = NULL;
    if (len == 0 || len > PDS_KEY_MAX_PEM) {
        pds_error_set(err, "bad-key", -1, PDS_KEY_SOURCE,
                      "a PEM key must be between 1 and %d bytes, this is %" APR_SIZE_T_FMT,
                      PDS_KEY_MAX_PEM, len);
        return APR_EINVAL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        ERR_clear_error();
        pds_error_set(err, "no-memory", -1, PDS_KEY_SOURCE, "out of memory reading a key");
        return APR_ENOMEM;
    }
    evp = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase_cb, &asked_passphrase);
    if (evp == NULL) {
        /* Not a public key: start again and look for a private one. */
        ERR_clear_error();
        if (BIO_reset(bio) == 1) {
            evp = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &asked_passphrase);
            is_private = evp != NULL;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (evp == NULL) {
        if (asked_passphrase)
            pds_error_set(err, "bad-key", -1, PDS_KEY_SOURCE,
                          "the private key is encrypted; give the public key "
                          "(PEM \"PUBLIC KEY\") or an unencrypted private key");
        else
            pds_error_set(err, "bad-key", -1, PDS_KEY_SOURCE,
                          "no PEM public key (\"PUBLIC KEY\") or private key found");
        return APR_EINVAL;
    }

    key = apr_pcalloc(p, sizeof(*key));
    key->pkey = evp;
    key->is_private = is_private;
    if (pin_alg(key, err) != APR_SUCCESS) {
        EVP_PKEY_free(evp);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, evp, pkey_cleanup, apr_pool_cleanup_null);
    *pkey = key;
    return APR_SUCCESS;
}

apr_status_t pds_key_load_file(pds_key_t **pkey, apr_pool_t *p,
                               const char *path, pds_error_t *err)
{
    apr_pool_t *tmp;
    int opened;
    apr_size_t n = 0;
    apr_status_t rv;
    char *buf;
    char errbuf[120];
    pds_error_t inner;

    if (pkey == NULL || p == NULL || path == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_KEY_SOURCE, "no key file given");
        return APR_EINVAL;
    }
    *pkey = NULL;
    if (apr_pool_create(&tmp, p) != APR_SUCCESS) {
        pds_error_set(err, "no-memory", -1, path, "out of memory reading %s", path);
        return APR_ENOMEM;
    }
    rv = pds_file_read_bounded(&buf, &n, tmp, path, PDS_KEY_MAX_PEM, &opened);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "key-unreadable", -1, path, "cannot %s key file %s: %s",
                      opened ? "read" : "open", path,
                      apr_strerror(rv, errbuf, sizeof(errbuf)));
        apr_pool_destroy(tmp);
        return rv;
    }
    if (n > PDS_KEY_MAX_PEM) {
        pds_error_set(err, "bad-key", -1, path,
                      "key file %s is larger than %d bytes; it is not a PEM key",
                      path, PDS_KEY_MAX_PEM);
        apr_pool_destroy(tmp);
        return APR_EINVAL;
    }
    pds_error_clear(&inner);
    rv = pds_key_load_pem(pkey, p, buf, n, &inner);
    /* The PEM copy may hold a private key: do not leave it in pool memory. */
    OPENSSL_cleanse(buf, n);
    apr_pool_destroy(tmp);
    if (rv != APR_SUCCESS)
        pds_error_set(err, inner.code, -1, path, "key file %s: %s", path, inner.text);
    return rv;
}

const char *pds_key_alg(const pds_key_t *key)
{
    return key != NULL ? key->alg : NULL;
}

int pds_key_is_private(const pds_key_t *key)
{
    return key != NULL && key->is_private;
}

/* The public half as JWK members (without kid), in the lexicographic order
 * RFC 7638 needs for the thumbprint. */
static json_t *public_jwk_members(const pds_key_t *key, apr_pool_t *p)
{
    unsigned char buf[1024];
    size_t len = sizeof(buf);
    BIGNUM *n = NULL, *e = NULL;
    json_t *jwk = NULL;

    if (key->kind == PDS_ALG_EDDSA) {
        if (EVP_PKEY_get_raw_public_key(key->pkey, buf, &len) == 1)
            jwk = json_pack("{s:s,s:s,s:s}", "crv", "Ed25519", "kty", "OKP",
                            "x", pds_base64url_encode(p, buf, len));
    }
    else if (key->kind == PDS_ALG_ES256) {
        /* uncompressed point: 0x04 || x (32) || y (32) */
        if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                            buf, sizeof(buf), &len) == 1
            && len == 65 && buf[0] == 0x04)
            jwk = json_pack("{s:s,s:s,s:s,s:s}", "crv", "P-256", "kty", "EC",
                            "x", pds_base64url_encode(p, buf + 1, 32),
                            "y", pds_base64url_encode(p, buf + 33, 32));
    }
    else if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1
             && EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1
             && BN_num_bytes(n) <= (int)sizeof(buf)) {
        int nlen = BN_bn2bin(n, buf);
        const char *n64 = pds_base64url_encode(p, buf, (apr_size_t)nlen);
        int elen = BN_bn2bin(e, buf);
        jwk = json_pack("{s:s,s:s,s:s}", "e", pds_base64url_encode(p, buf, (apr_size_t)elen),
                        "kty", "RSA", "n", n64);
    }
    BN_free(n);
    BN_free(e);
    ERR_clear_error();
    return jwk;
}

json_t *pds_key_public_jwk(const pds_key_t *key, apr_pool_t *p)
{
    json_t *jwk;
    char *canonical;
    unsigned char digest[32];

    if (key == NULL || (jwk = public_jwk_members(key, p)) == NULL)
        return NULL;
    canonical = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    if (canonical == NULL
        || !pds_sha256(digest, canonical, strlen(canonical))) {
        free(canonical);
        json_decref(jwk);
        return NULL;
    }
    free(canonical);
    json_object_set_new(jwk, "kid", json_string(pds_base64url_encode(p, digest, sizeof(digest))));
    json_object_set_new(jwk, "alg", json_string(key->alg));
    json_object_set_new(jwk, "use", json_string("sig"));
    return jwk;
}
