/* test_jwk.c: a public JWK back to a key (pds_key_from_jwk), the inverse of
 * pds_key_public_jwk: key -> public JWK -> key -> verifies the first key's
 * signature; and the JWKs it refuses. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "pds_jws.h"
#include "pds_test.h"

/* A fresh private key of the given OpenSSL type, as a pds_key_t. */
static pds_key_t *private_key(apr_pool_t *p, const char *type)
{
    pds_test_keypair_t kp = { NULL, NULL, NULL };
    EVP_PKEY *evp = NULL;
    pds_key_t *key;

    if (strcmp(type, "EC") == 0)
        evp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(type, "RSA") == 0)
        evp = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        evp = EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(evp);
    assert_int_equal(pds_test_keypair(&kp, evp, 0), 0);
    key = pds_test_load_key(p, kp.priv);
    pds_test_keypair_free(&kp);
    return key;
}

/* One key type's round trip, in the test's pool p. */
static void round_trip(apr_pool_t *p, const char *type, const char *alg)
{
    pds_key_t *priv, *pub = NULL, *again = NULL;
    json_t *jwk, *payload, *jwk2;
    pds_jws_t *jws;
    pds_error_t err;
    char *compact;

    priv = private_key(p, type);
    jwk = pds_key_public_jwk(priv, p);
    assert_non_null(jwk);
    pds_error_clear(&err);
    assert_int_equal(pds_key_from_jwk(&pub, p, jwk, &err), APR_SUCCESS);
    assert_non_null(pub);
    assert_string_equal(pds_key_alg(pub), alg);
    assert_false(pds_key_is_private(pub));

    /* the imported key verifies what the original signed */
    payload = json_pack("{s:s,s:i}", "sub", "person-1", "n", 7);
    assert_int_equal(pds_jws_sign(&compact, p, priv, NULL, payload, &err), APR_SUCCESS);
    json_decref(payload);
    assert_int_equal(pds_jws_parse(&jws, p, compact, strlen(compact), &err), APR_SUCCESS);
    assert_int_equal(pds_jws_verify(jws, pub, &err), APR_SUCCESS);
    /* and only that: one byte of the signature changed is refused */
    compact[strlen(compact) - 2] = compact[strlen(compact) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(pds_jws_parse(&jws, p, compact, strlen(compact), &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_verify(jws, pub, &err), APR_SUCCESS);

    /* the imported key's own JWK is the same document, kid included */
    jwk2 = pds_key_public_jwk(pub, p);
    assert_true(json_equal(jwk, jwk2));
    /* a JWK without alg and use is taken too */
    json_object_del(jwk2, "alg");
    json_object_del(jwk2, "use");
    assert_int_equal(pds_key_from_jwk(&again, p, jwk2, &err), APR_SUCCESS);
    assert_string_equal(pds_key_alg(again), alg);
    json_decref(jwk2);
    json_decref(jwk);
}

static void test_round_trip_ed25519(void **state)
{
    round_trip(*state, "ED25519", "EdDSA");
}

static void test_round_trip_es256(void **state)
{
    round_trip(*state, "EC", "ES256");
}

static void test_round_trip_rs256(void **state)
{
    round_trip(*state, "RSA", "RS256");
}

/* jwk with member set to value (a JSON text; NULL deletes it): refused with
 * code, and the message holds want. */
static void refused(apr_pool_t *p, const json_t *jwk, const char *member, const char *value,
                    const char *code, const char *want)
{
    json_t *bad = json_deep_copy(jwk);
    pds_key_t *key = NULL;
    pds_error_t err;

    if (value == NULL)
        json_object_del(bad, member);
    else
        json_object_set_new(bad, member, json_loads(value, JSON_DECODE_ANY, NULL));
    pds_error_clear(&err);
    assert_int_equal(pds_key_from_jwk(&key, p, bad, &err), APR_EINVAL);
    assert_null(key);
    assert_string_equal(err.code, code);
    if (strstr(err.text, want) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.text, want);
    json_decref(bad);
}

/* The "n" of a fresh 1024-bit RSA key, as a JSON string text. */
static const char *small_modulus(apr_pool_t *p)
{
    EVP_PKEY *evp = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    unsigned char buf[128];
    BIGNUM *n = NULL;
    int len;

    assert_non_null(evp);
    assert_int_equal(EVP_PKEY_get_bn_param(evp, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    len = BN_bn2bin(n, buf);
    assert_int_equal(len, 128);
    BN_free(n);
    EVP_PKEY_free(evp);
    return apr_pstrcat(p, "\"", pds_base64url_encode(p, buf, (apr_size_t)len), "\"", NULL);
}

static void test_refused(void **state)
{
    apr_pool_t *p = *state;
    json_t *ed, *ec, *rsa;
    pds_key_t *key = NULL;
    pds_error_t err;

    ed = pds_key_public_jwk(private_key(p, "ED25519"), p);
    ec = pds_key_public_jwk(private_key(p, "EC"), p);
    rsa = pds_key_public_jwk(private_key(p, "RSA"), p);

    refused(p, ed, "kty", NULL, "unsupported-key", "(no \"kty\")");
    refused(p, ed, "kty", "\"oct\"", "unsupported-key", "key type oct is not accepted");
    refused(p, ed, "crv", "\"X25519\"", "unsupported-key", "OKP curve X25519");
    refused(p, ed, "crv", NULL, "unsupported-key", "OKP curve (none)");
    refused(p, ed, "x", "\"AAAA\"", "bad-key", "\"x\" is not 32 bytes");
    refused(p, ed, "x", "42", "bad-key", "\"x\" is not 32 bytes");
    refused(p, ed, "alg", "\"ES256\"", "unsupported-key", "only be used with EdDSA");
    refused(p, ed, "use", "\"enc\"", "unsupported-key", "\"use\" is enc, not sig");
    refused(p, ec, "crv", "\"P-384\"", "unsupported-key", "EC curve P-384");
    refused(p, ec, "y", NULL, "bad-key", "must each be 32 bytes");
    /* 32 bytes each, but not a point on the curve */
    refused(p, ec, "y", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "bad-key",
            "not a point on P-256");
    refused(p, rsa, "e", "\"AQ\"", "bad-key", "must be odd and greater than 1");
    refused(p, rsa, "e", "\"Ag\"", "bad-key", "must be odd and greater than 1");
    refused(p, rsa, "e", "\"AQAAAAAAAAAB\"", "bad-key", "big-endian integers");
    refused(p, rsa, "n", "\"not base64url!\"", "bad-key", "big-endian integers");
    /* a 1024-bit modulus is a key, but not one pds_key_load_pem accepts */
    refused(p, rsa, "n", small_modulus(p), "unsupported-key", "");
    /* not even an object */
    pds_error_clear(&err);
    assert_int_equal(pds_key_from_jwk(&key, p, NULL, &err), APR_EINVAL);
    assert_string_equal(err.code, "unsupported-key");
    json_decref(ed);
    json_decref(ec);
    json_decref(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_round_trip_ed25519),
        pds_test_with_pool(test_round_trip_es256),
        pds_test_with_pool(test_round_trip_rs256),
        pds_test_with_pool(test_refused),
    };

    return pds_test_main(tests, NULL, NULL);
}
