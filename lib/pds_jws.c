/* pds_jws.c: compact JWS parsing, verification and signing (pds_jws.h).
 * Keys are loaded and their algorithm pinned in pds_key.c; token claims are
 * in pds_token.c.
 *
 * OpenSSL 3 EVP only. The algorithm comes from the key (see pds_jws.h): the
 * token's "alg" is compared with it and never used to choose what to run.
 * Every failure path clears the thread's OpenSSL error queue, so nothing we
 * leave there is later reported by mod_ssl or another module as its own.
 */
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "pds_jws.h"
#include "pds_jws_int.h"

/* Longest compact token accepted: far above any real bearer token, and a
 * bound on everything decoded from it. */
#define PDS_JWS_MAX_LENGTH (16 * 1024)
#define PDS_ES256_HALF     32        /* bytes of r and of s in an ES256 signature */

#define PDS_TOKEN_SOURCE "token"

struct pds_jws_t {
    const char *signing_input;   /* header.payload exactly as received */
    apr_size_t signing_input_len;
    unsigned char *sig;
    apr_size_t sig_len;
    json_t *header;
    json_t *payload;
    const char *alg;             /* owned by header */
    const char *kid;             /* owned by header; NULL if absent */
};

/* ---- small helpers -------------------------------------------------------- */

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* ---- parsing -------------------------------------------------------------- */

/* Decodes one base64url part of the token into a JSON object. */
static apr_status_t decode_object(json_t **pobj, apr_pool_t *p, const char *part,
                                  apr_size_t len, int offset, const char *what,
                                  pds_error_t *err)
{
    unsigned char *raw;
    apr_size_t rawlen;
    json_error_t jerr;
    json_t *obj;

    *pobj = NULL;
    if (pds_base64url_decode(&raw, &rawlen, p, part, len) != APR_SUCCESS) {
        pds_error_set(err, "malformed-token", offset, PDS_TOKEN_SOURCE,
                      "the token's %s is not base64url without padding", what);
        return APR_EINVAL;
    }
    obj = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        char text[100];
        pds_error_set(err, "malformed-token", offset, PDS_TOKEN_SOURCE,
                      "the token's %s is not valid JSON: %s", what,
                      pds_printable(text, sizeof(text), jerr.text));
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, obj, json_cleanup, apr_pool_cleanup_null);
    if (!json_is_object(obj)) {
        pds_error_set(err, "malformed-token", offset, PDS_TOKEN_SOURCE,
                      "the token's %s is not a JSON object", what);
        return APR_EINVAL;
    }
    *pobj = obj;
    return APR_SUCCESS;
}

apr_status_t pds_jws_parse(pds_jws_t **pjws, apr_pool_t *p,
                           const char *compact, apr_size_t len,
                           pds_error_t *err)
{
    apr_size_t i, dot1 = 0, dot2 = 0;
    int dots = 0;
    pds_jws_t *jws;
    json_t *alg, *kid;
    apr_status_t rv;

    if (pjws == NULL || p == NULL || (compact == NULL && len > 0)) {
        pds_error_set(err, "bad-argument", -1, PDS_TOKEN_SOURCE, "no token given");
        return APR_EINVAL;
    }
    *pjws = NULL;
    if (len > PDS_JWS_MAX_LENGTH) {
        pds_error_set(err, "malformed-token", -1, PDS_TOKEN_SOURCE,
                      "the token is longer than %d bytes", PDS_JWS_MAX_LENGTH);
        return APR_EINVAL;
    }
    for (i = 0; i < len; i++) {
        if (compact[i] != '.')
            continue;
        if (++dots == 1)
            dot1 = i;
        else if (dots == 2)
            dot2 = i;
        else
            break;
    }
    if (dots != 2) {
        pds_error_set(err, "malformed-token", -1, PDS_TOKEN_SOURCE,
                      "a compact JWS has three parts separated by two dots; this "
                      "token has %s", dots < 2 ? "fewer" : "more");
        return APR_EINVAL;
    }

    jws = apr_pcalloc(p, sizeof(*jws));
    rv = decode_object(&jws->header, p, compact, dot1, 0, "header", err);
    if (rv != APR_SUCCESS)
        return rv;
    rv = decode_object(&jws->payload, p, compact + dot1 + 1, dot2 - dot1 - 1,
                       (int)(dot1 + 1), "payload", err);
    if (rv != APR_SUCCESS)
        return rv;
    if (pds_base64url_decode(&jws->sig, &jws->sig_len, p, compact + dot2 + 1,
                             len - dot2 - 1) != APR_SUCCESS) {
        pds_error_set(err, "malformed-token", (int)(dot2 + 1), PDS_TOKEN_SOURCE,
                      "the token's signature is not base64url without padding");
        return APR_EINVAL;
    }

    alg = json_object_get(jws->header, "alg");
    if (!json_is_string(alg) || json_string_length(alg) == 0) {
        pds_error_set(err, "malformed-token", 0, PDS_TOKEN_SOURCE,
                      "the token's header has no \"alg\" string");
        return APR_EINVAL;
    }
    /* We understand no extensions, so a token that demands some is refused
     * (RFC 7515, 4.1.11). */
    if (json_object_get(jws->header, "crit") != NULL) {
        pds_error_set(err, "malformed-token", 0, PDS_TOKEN_SOURCE,
                      "the token's header has \"crit\"; no extensions are supported");
        return APR_EINVAL;
    }
    kid = json_object_get(jws->header, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        pds_error_set(err, "malformed-token", 0, PDS_TOKEN_SOURCE,
                      "the token's header \"kid\" is not a string");
        return APR_EINVAL;
    }
    jws->alg = json_string_value(alg);
    jws->kid = kid != NULL ? json_string_value(kid) : NULL;
    jws->signing_input = apr_pstrmemdup(p, compact, dot2);
    jws->signing_input_len = dot2;
    *pjws = jws;
    return APR_SUCCESS;
}

const char *pds_jws_alg(const pds_jws_t *jws)
{
    return jws != NULL ? jws->alg : NULL;
}

const char *pds_jws_kid(const pds_jws_t *jws)
{
    return jws != NULL ? jws->kid : NULL;
}

json_t *pds_jws_header(const pds_jws_t *jws)
{
    return jws != NULL ? jws->header : NULL;
}

json_t *pds_jws_payload(const pds_jws_t *jws)
{
    return jws != NULL ? jws->payload : NULL;
}

/* ---- verification --------------------------------------------------------- */

/* (n - 1) / 2 for P-256, big-endian: the largest s of a low-s signature.
 * ECDSA signatures are malleable: if (r, s) verifies, so does (r, n - s). We
 * accept only s <= n / 2, so each signature has one form (as a token's
 * base64url has one spelling) and a changed signature is never the "same"
 * token to anything downstream. */
static const unsigned char p256_half_order[PDS_ES256_HALF] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
    0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8
};

/* Is s (PDS_ES256_HALF bytes, big-endian) above (n - 1) / 2? Constant time
 * is not needed: s is public. */
static int es256_s_is_high(const unsigned char *s)
{
    return memcmp(s, p256_half_order, PDS_ES256_HALF) > 0;
}

/* ES256 carries r||s (RFC 7518, 3.4); OpenSSL wants a DER ECDSA-Sig-Value.
 * A high s is refused here (see p256_half_order). Returns the DER length
 * (> 0) with *pder to OPENSSL_free, or 0. */
static int es256_raw_to_der(unsigned char **pder, const unsigned char *raw,
                            apr_size_t len)
{
    ECDSA_SIG *sig;
    BIGNUM *r, *s;
    int derlen;

    *pder = NULL;
    if (len != 2 * PDS_ES256_HALF || es256_s_is_high(raw + PDS_ES256_HALF))
        return 0;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, PDS_ES256_HALF, NULL);
    s = BN_bin2bn(raw + PDS_ES256_HALF, PDS_ES256_HALF, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return 0;
    }
    derlen = i2d_ECDSA_SIG(sig, pder);
    ECDSA_SIG_free(sig);
    if (derlen <= 0) {
        OPENSSL_free(*pder);
        *pder = NULL;
        return 0;
    }
    return derlen;
}

/* The digest for the key's algorithm: SHA-256, or none for EdDSA (Ed25519
 * hashes internally and is one-shot only). */
static const EVP_MD *alg_md(const pds_key_t *key)
{
    return key->kind == PDS_ALG_EDDSA ? NULL : EVP_sha256();
}

/* RS256 is PKCS#1 v1.5; say so rather than rely on the default. */
static int set_padding(const pds_key_t *key, EVP_PKEY_CTX *pctx)
{
    if (key->kind != PDS_ALG_RS256)
        return 1;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
}

apr_status_t pds_jws_verify(const pds_jws_t *jws, const pds_key_t *key,
                            pds_error_t *err)
{
    const unsigned char *sig;
    unsigned char *der = NULL;
    apr_size_t sig_len;
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (jws == NULL || key == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_TOKEN_SOURCE,
                      "no token or no key to verify with");
        return APR_EINVAL;
    }
    /* Pinned: the key decides, the header can only agree. Case matters. */
    if (strcmp(jws->alg, key->alg) != 0) {
        char alg[24];
        pds_error_set(err, "alg-mismatch", 0, PDS_TOKEN_SOURCE,
                      "the token names algorithm \"%s\" but the key is for %s only",
                      pds_printable(alg, sizeof(alg), jws->alg), key->alg);
        return APR_EINVAL;
    }

    sig = jws->sig;
    sig_len = jws->sig_len;
    if (key->kind == PDS_ALG_ES256) {
        int derlen = es256_raw_to_der(&der, jws->sig, jws->sig_len);
        if (derlen <= 0) {
            ERR_clear_error();
            pds_error_set(err, "bad-signature", -1, PDS_TOKEN_SOURCE,
                          jws->sig_len != 2 * PDS_ES256_HALF
                          ? "the ES256 signature is not 64 bytes (r||s)"
                          : "the ES256 signature's s is above half the group order "
                            "(only the low-s form is accepted)");
            return APR_EINVAL;
        }
        sig = der;
        sig_len = (apr_size_t)derlen;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx != NULL
        && EVP_DigestVerifyInit(ctx, &pctx, alg_md(key), NULL, key->pkey) == 1
        && set_padding(key, pctx)
        && EVP_DigestVerify(ctx, sig, sig_len,
                            (const unsigned char *)jws->signing_input,
                            jws->signing_input_len) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    if (!ok) {
        ERR_clear_error();
        pds_error_set(err, "bad-signature", -1, PDS_TOKEN_SOURCE,
                      "the token's %s signature does not verify with the key", key->alg);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- signing -------------------------------------------------------------- */

/* The P-256 group order n, big-endian. */
static const unsigned char p256_order[PDS_ES256_HALF] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
    0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51
};

/* Writes n - s into out (PDS_ES256_HALF bytes): the low-s twin of s. */
static apr_status_t es256_negate_s(unsigned char *out, const BIGNUM *s)
{
    BIGNUM *n = BN_bin2bn(p256_order, PDS_ES256_HALF, NULL);
    BIGNUM *low = BN_new();
    apr_status_t rv = APR_EGENERAL;

    if (n != NULL && low != NULL && BN_sub(low, n, s) == 1 && !BN_is_negative(low)
        && BN_bn2binpad(low, out, PDS_ES256_HALF) == PDS_ES256_HALF
        && !es256_s_is_high(out))
        rv = APR_SUCCESS;
    BN_free(n);
    BN_free(low);
    return rv;
}

/* Signs data; for ES256 turns OpenSSL's DER into r||s padded to 32 bytes each,
 * with s in its low form (n - s when OpenSSL gave s > n / 2: it does not
 * normalise, and our verifier accepts only low s). */
static apr_status_t sign_raw(unsigned char **psig, apr_size_t *psiglen,
                             apr_pool_t *p, const pds_key_t *key,
                             const unsigned char *data, apr_size_t len)
{
    EVP_MD_CTX *ctx;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    apr_status_t rv = APR_EGENERAL;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL
        || EVP_DigestSignInit(ctx, &pctx, alg_md(key), NULL, key->pkey) != 1
        || !set_padding(key, pctx)
        || EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1
        || siglen == 0)
        goto done;
    sig = apr_palloc(p, siglen);
    if (EVP_DigestSign(ctx, sig, &siglen, data, len) != 1)
        goto done;

    if (key->kind == PDS_ALG_ES256) {
        const unsigned char *q = sig;
        const BIGNUM *r, *s;
        unsigned char *raw = apr_palloc(p, 2 * PDS_ES256_HALF);
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);

        if (es == NULL)
            goto done;
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, raw, PDS_ES256_HALF) != PDS_ES256_HALF
            || BN_bn2binpad(s, raw + PDS_ES256_HALF, PDS_ES256_HALF) != PDS_ES256_HALF
            || (es256_s_is_high(raw + PDS_ES256_HALF)
                && es256_negate_s(raw + PDS_ES256_HALF, s) != APR_SUCCESS)) {
            ECDSA_SIG_free(es);
            goto done;
        }
        ECDSA_SIG_free(es);
        sig = raw;
        siglen = 2 * PDS_ES256_HALF;
    }
    *psig = sig;
    *psiglen = siglen;
    rv = APR_SUCCESS;
done:
    EVP_MD_CTX_free(ctx);
    if (rv != APR_SUCCESS)
        ERR_clear_error();
    return rv;
}

/* Compact JSON, base64url-encoded; NULL if it cannot be serialised. */
static char *encode_json(apr_pool_t *p, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    char *out;

    if (text == NULL)
        return NULL;
    out = pds_base64url_encode(p, (const unsigned char *)text, strlen(text));
    free(text);
    return out;
}

/* The protected header, base64url: "alg" first and always the key's, then
 * the extra members in their order. Checks the key can sign. */
static apr_status_t encode_header(char **ph64, apr_pool_t *p, const pds_key_t *key,
                                  json_t *extra_header, pds_error_t *err)
{
    json_t *header, *value;
    const char *name;

    if (!key->is_private) {
        pds_error_set(err, "not-a-private-key", -1, PDS_KEY_SOURCE,
                      "signing needs a private key; this is a public key");
        return APR_EINVAL;
    }
    header = json_object();
    if (header == NULL || json_object_set_new(header, "alg", json_string(key->alg)) != 0) {
        json_decref(header);
        pds_error_set(err, "no-memory", -1, PDS_TOKEN_SOURCE, "out of memory signing");
        return APR_ENOMEM;
    }
    if (extra_header != NULL) {
        json_object_foreach(extra_header, name, value) {
            if (strcmp(name, "alg") != 0 && json_object_set(header, name, value) != 0) {
                json_decref(header);
                pds_error_set(err, "no-memory", -1, PDS_TOKEN_SOURCE,
                              "out of memory signing");
                return APR_ENOMEM;
            }
        }
    }
    *ph64 = encode_json(p, header);
    json_decref(header);
    if (*ph64 == NULL) {
        pds_error_set(err, "sign-failed", -1, PDS_TOKEN_SOURCE,
                      "the header cannot be serialised");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Signs "header.payload", the payload a JSON object or, detached, any bytes;
 * a detached payload is left out of the result ("header..signature"). */
static apr_status_t sign_compact(char **pcompact, apr_pool_t *p, const pds_key_t *key,
                                 json_t *header_members, json_t *payload,
                                 const unsigned char *bytes, apr_size_t len, int detached,
                                 pds_error_t *err)
{
    char *h64, *p64, *input;
    unsigned char *sig = NULL;
    apr_size_t siglen = 0;

    if (pcompact == NULL || p == NULL || key == NULL
        || (detached ? bytes == NULL && len > 0 : !json_is_object(payload))
        || (header_members != NULL && !json_is_object(header_members))) {
        pds_error_set(err, "bad-argument", -1, PDS_TOKEN_SOURCE, "%s", detached
                      ? "detached signing needs a key, a payload and, if any, a JSON "
                        "object of header members"
                      : "signing needs a key, a JSON object payload and, if any, "
                        "a JSON object of extra header members");
        return APR_EINVAL;
    }
    *pcompact = NULL;
    if (encode_header(&h64, p, key, header_members, err) != APR_SUCCESS)
        return APR_EGENERAL;
    p64 = detached ? pds_base64url_encode(p, bytes, len) : encode_json(p, payload);
    if (p64 == NULL) {
        pds_error_set(err, "sign-failed", -1, PDS_TOKEN_SOURCE,
                      "the token's payload cannot be serialised");
        return APR_EGENERAL;
    }
    input = apr_pstrcat(p, h64, ".", p64, NULL);
    if (sign_raw(&sig, &siglen, p, key, (const unsigned char *)input,
                 strlen(input)) != APR_SUCCESS) {
        pds_error_set(err, "sign-failed", -1, PDS_TOKEN_SOURCE,
                      "signing with the %s key failed", key->alg);
        return APR_EGENERAL;
    }
    *pcompact = apr_pstrcat(p, detached ? h64 : input, detached ? ".." : ".",
                            pds_base64url_encode(p, sig, siglen), NULL);
    return APR_SUCCESS;
}

apr_status_t pds_jws_sign(char **pcompact, apr_pool_t *p,
                          const pds_key_t *key, json_t *extra_header,
                          json_t *payload, pds_error_t *err)
{
    return sign_compact(pcompact, p, key, extra_header, payload, NULL, 0, 0, err);
}

/* ---- detached payloads (RFC 7515 appendix F) ------------------------------ */

apr_status_t pds_jws_sign_detached(char **pcompact, apr_pool_t *p, const pds_key_t *key,
                                   json_t *header_members, const unsigned char *payload,
                                   apr_size_t len, pds_error_t *err)
{
    return sign_compact(pcompact, p, key, header_members, NULL, payload, len, 1, err);
}

apr_status_t pds_jws_verify_detached(json_t **pheader, apr_pool_t *p, const char *compact,
                                     apr_size_t len, const unsigned char *payload,
                                     apr_size_t plen, const pds_key_t *key,
                                     pds_error_t *err)
{
    pds_jws_t jws;
    const char *dot1, *dot2;
    json_t *header, *alg;
    apr_status_t rv;

    if (pheader != NULL)
        *pheader = NULL;
    if (compact == NULL || key == NULL || (payload == NULL && plen > 0)) {
        pds_error_set(err, "bad-argument", -1, PDS_TOKEN_SOURCE,
                      "no signature, payload or key to verify with");
        return APR_EINVAL;
    }
    if (len > PDS_JWS_MAX_LENGTH) {
        pds_error_set(err, "malformed-token", -1, PDS_TOKEN_SOURCE,
                      "the signature is longer than %d bytes", PDS_JWS_MAX_LENGTH);
        return APR_EINVAL;
    }
    dot1 = memchr(compact, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - compact)) : NULL;
    if (dot1 == NULL || dot2 != dot1 + 1
        || memchr(dot2 + 1, '.', len - (apr_size_t)(dot2 + 1 - compact)) != NULL) {
        pds_error_set(err, "malformed-token", -1, PDS_TOKEN_SOURCE,
                      "a detached signature is header..signature (an empty middle part)");
        return APR_EINVAL;
    }
    rv = decode_object(&header, p, compact, (apr_size_t)(dot1 - compact), 0, "header", err);
    if (rv != APR_SUCCESS)
        return rv;
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || json_object_get(header, "crit") != NULL) {
        pds_error_set(err, "malformed-token", 0, PDS_TOKEN_SOURCE,
                      "the signature's header needs \"alg\" and may not have \"crit\"");
        return APR_EINVAL;
    }
    memset(&jws, 0, sizeof(jws));
    jws.header = header;
    jws.alg = json_string_value(alg);
    if (pds_base64url_decode(&jws.sig, &jws.sig_len, p, dot2 + 1,
                             len - (apr_size_t)(dot2 + 1 - compact)) != APR_SUCCESS) {
        pds_error_set(err, "malformed-token", -1, PDS_TOKEN_SOURCE,
                      "the signature is not base64url without padding");
        return APR_EINVAL;
    }
    jws.signing_input = apr_pstrcat(p, apr_pstrmemdup(p, compact, (apr_size_t)(dot1 - compact)),
                                    ".", pds_base64url_encode(p, payload != NULL ? payload
                                                              : (const unsigned char *)"",
                                                              plen), NULL);
    jws.signing_input_len = strlen(jws.signing_input);
    rv = pds_jws_verify(&jws, key, err);
    if (rv == APR_SUCCESS && pheader != NULL)
        *pheader = header;
    return rv;
}
