/* test_jws.c: keys, compact JWS parsing, verification, signing and claims.
 *
 * Keys are generated at test time with the EVP API and handed to the library
 * as PEM text, as a configuration file would. Interoperability is checked
 * against tokens made by an independent implementation (Python's
 * cryptography), kept under tests/cases/jws/<alg>/ as
 *     public.pem   the signer's public key
 *     token.txt    a compact JWS (one trailing newline ignored)
 *     claims.json  the payload it must decode to
 * (tests/cases/jws/make-fixtures.py made them once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pds_test.h"
#include "pds_jws.h"

#define CASES_DIR PDS_TEST_SRCDIR "/cases/jws"

/* The reference time of the claim tests: 2023-11-14T22:13:20Z. */
#define NOW 1700000000

/* ---- keys made once for the whole run ------------------------------------- */

enum { K_ES256, K_RS256, K_EDDSA, K_ES256_B, K_RS256_B, K_EDDSA_B,
       K_P384, K_RSA1024, K_ED448, K_X25519, K_COUNT };

static pds_test_keypair_t keys[K_COUNT];

static const char *const alg_of[3] = { "ES256", "RS256", "EdDSA" };

static int group_setup(void **state)
{
    (void)state;
    if (pds_test_keypair(&keys[K_ES256], EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), 1)
        || pds_test_keypair(&keys[K_ES256_B], EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), 0)
        || pds_test_keypair(&keys[K_RS256], EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), 1)
        || pds_test_keypair(&keys[K_RS256_B], EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048), 0)
        || pds_test_keypair(&keys[K_EDDSA], EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 0)
        || pds_test_keypair(&keys[K_EDDSA_B], EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 0)
        || pds_test_keypair(&keys[K_P384], EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), 0)
        || pds_test_keypair(&keys[K_RSA1024], EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024), 0)
        || pds_test_keypair(&keys[K_ED448], EVP_PKEY_Q_keygen(NULL, NULL, "ED448"), 0)
        || pds_test_keypair(&keys[K_X25519], EVP_PKEY_Q_keygen(NULL, NULL, "X25519"), 0))
        return -1;
    ERR_clear_error();
    return 0;
}

static int group_teardown(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < K_COUNT; i++)
        pds_test_keypair_free(&keys[i]);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static char *sign_text(apr_pool_t *p, const pds_key_t *key, const char *header,
                       const char *payload)
{
    json_t *h = header != NULL ? pds_test_json(header) : NULL;
    json_t *b = pds_test_json(payload);
    char *token = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_jws_sign(&token, p, key, h, b, &err) != APR_SUCCESS)
        fail_msg("signing: %s: %s", err.code, err.text);
    json_decref(h);
    json_decref(b);
    assert_non_null(token);
    return token;
}

static char *b64(apr_pool_t *p, const char *text)
{
    return pds_base64url_encode(p, (const unsigned char *)text, strlen(text));
}

/* A token from raw header and payload texts and a signature part as given. */
static char *craft(apr_pool_t *p, const char *header, const char *payload,
                   const char *sig_b64)
{
    return apr_pstrcat(p, b64(p, header), ".", b64(p, payload), ".", sig_b64, NULL);
}

/* Parses and verifies; returns "" on success or the error code. The OpenSSL
 * error queue must be empty afterwards either way. */
static const char *verify_code(apr_pool_t *p, const char *token, const pds_key_t *key)
{
    pds_jws_t *jws = NULL;
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_jws_parse(&jws, p, token, strlen(token), &err);
    if (rv != APR_SUCCESS)
        fail_msg("parse failed: %s: %s", err.code, err.text);
    rv = pds_jws_verify(jws, key, &err);
    assert_int_equal(ERR_peek_error(), 0);
    if (rv == APR_SUCCESS) {
        assert_false(pds_error_is_set(&err));
        return "";
    }
    assert_true(pds_error_is_set(&err));
    assert_true(err.text[0] != '\0');
    return apr_pstrdup(p, err.code);
}

static void expect_malformed_len(apr_pool_t *p, const char *token, apr_size_t len,
                                 const char *why)
{
    pds_jws_t *jws = (pds_jws_t *)&jws;   /* must be reset to NULL */
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_jws_parse(&jws, p, token, len, &err) == APR_SUCCESS)
        fail_msg("parsed, but should not have: %s", why);
    if (strcmp(err.code, "malformed-token") != 0)
        fail_msg("%s: code %s (%s)", why, err.code, err.text);
    assert_null(jws);
    assert_int_equal(ERR_peek_error(), 0);
}

static void expect_malformed(apr_pool_t *p, const char *token, const char *why)
{
    expect_malformed_len(p, token, strlen(token), why);
}

/* ---- base64url ------------------------------------------------------------ */

static void test_base64url_vectors(void **state)
{
    /* RFC 4648 section 10, padding dropped; then bytes that need '-' and '_'. */
    static const struct { const char *raw; apr_size_t len; const char *enc; } v[] = {
        { "", 0, "" },
        { "f", 1, "Zg" },
        { "fo", 2, "Zm8" },
        { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" },
        { "fooba", 5, "Zm9vYmE" },
        { "foobar", 6, "Zm9vYmFy" },
        { "\xfb\xff\xbf", 3, "-_-_" },
        { "\xff", 1, "_w" },
        { "\xfb\xf0", 2, "-_A" },
        { "\x00\x00\x00", 3, "AAAA" },
        { "\x03\xe0\x3f", 3, "A-A_" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char *out = NULL;
        apr_size_t outlen = 99;
        char *enc = pds_base64url_encode(p, (const unsigned char *)v[i].raw, v[i].len);

        assert_string_equal(enc, v[i].enc);
        assert_int_equal(pds_base64url_decode(&out, &outlen, p, v[i].enc,
                                              strlen(v[i].enc)), APR_SUCCESS);
        assert_int_equal(outlen, v[i].len);
        assert_memory_equal(out, v[i].raw, v[i].len);
        assert_int_equal(out[outlen], '\0');
    }
}

static void test_base64url_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    unsigned char data[70];
    apr_size_t len, i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (len = 0; len <= sizeof(data); len++) {
        unsigned char *out;
        apr_size_t outlen;
        char *enc = pds_base64url_encode(p, data, len);

        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
        assert_null(strpbrk(enc, "=+/"));
        assert_int_equal(pds_base64url_decode(&out, &outlen, p, enc, strlen(enc)),
                         APR_SUCCESS);
        assert_int_equal(outlen, len);
        assert_memory_equal(out, data, len);
    }
}

static void test_base64url_refusals(void **state)
{
    static const char *const bad[] = {
        "Zg==", "Zg=", "Zm8=", "=",          /* padding */
        "Z", "Zm9vY", "AAAAA",               /* len % 4 == 1 is impossible */
        "Zm+v", "Zm/v", "+w", "/w",          /* standard alphabet */
        "Zm9 v", " Zm9v", "Zm9v\n", "Zm\t9v", "Zm9v\r",
        "Zm.v", "Zm9v*", "\xc3\xa9" "A",     /* other characters, UTF-8 */
        "Zh", "Zm9", "_x", "AB",             /* non-zero unused bits */
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *out = (unsigned char *)"x";
        apr_size_t outlen = 5;

        if (pds_base64url_decode(&out, &outlen, p, bad[i], strlen(bad[i])) == APR_SUCCESS)
            fail_msg("decoded '%s'", bad[i]);
        assert_null(out);
        assert_int_equal(outlen, 0);
    }
    {
        /* The length given counts, not a NUL: an embedded NUL is refused, and
         * bytes past the length are not read. */
        unsigned char *out;
        apr_size_t outlen;
        assert_int_not_equal(pds_base64url_decode(&out, &outlen, p, "Zm\0v", 4), APR_SUCCESS);
        assert_int_equal(pds_base64url_decode(&out, &outlen, p, "Zm9v!!!", 4), APR_SUCCESS);
        assert_int_equal(outlen, 3);
        assert_memory_equal(out, "foo", 3);
        assert_int_equal(pds_base64url_decode(&out, &outlen, p, NULL, 0), APR_SUCCESS);
        assert_int_equal(outlen, 0);
        assert_int_not_equal(pds_base64url_decode(&out, &outlen, p, NULL, 4), APR_SUCCESS);
        assert_int_not_equal(pds_base64url_decode(NULL, &outlen, p, "Zm9v", 4), APR_SUCCESS);
    }
}

/* ---- keys ----------------------------------------------------------------- */

static void test_key_load(void **state)
{
    apr_pool_t *p = *state;
    int i;

    for (i = 0; i < 3; i++) {
        pds_key_t *pub = pds_test_load_key(p, keys[i].pub);
        pds_key_t *priv = pds_test_load_key(p, keys[i].priv);

        assert_string_equal(pds_key_alg(pub), alg_of[i]);
        assert_string_equal(pds_key_alg(priv), alg_of[i]);
        assert_false(pds_key_is_private(pub));
        assert_true(pds_key_is_private(priv));
        if (keys[i].trad != NULL) {
            pds_key_t *trad = pds_test_load_key(p, keys[i].trad);
            assert_string_equal(pds_key_alg(trad), alg_of[i]);
            assert_true(pds_key_is_private(trad));
        }
    }
    /* A public key after unrelated text, as in a commented file. */
    {
        char *pem = apr_pstrcat(p, "# the research team's key\n", keys[K_EDDSA].pub, NULL);
        assert_string_equal(pds_key_alg(pds_test_load_key(p, pem)), "EdDSA");
    }
    assert_null(pds_key_alg(NULL));
    assert_false(pds_key_is_private(NULL));
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_key_unsupported(void **state)
{
    static const struct { int k; const char *mention; } v[] = {
        { K_P384, "secp384r1" }, { K_RSA1024, "1024" }, { K_ED448, "ED448" },
        { K_X25519, "X25519" },
    };
    apr_pool_t *p = *state;
    size_t i;
    int which;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (which = 0; which < 2; which++) {
            const char *pem = which ? keys[v[i].k].pub : keys[v[i].k].priv;
            pds_key_t *key = (pds_key_t *)&key;
            pds_error_t err;

            pds_error_clear(&err);
            assert_int_not_equal(pds_key_load_pem(&key, p, pem, strlen(pem), &err),
                                 APR_SUCCESS);
            assert_null(key);
            assert_string_equal(err.code, "unsupported-key");
            /* Says what it got and what would do. */
            if (strstr(err.text, v[i].mention) == NULL || strstr(err.text, "P-256") == NULL
                || strstr(err.text, "2048") == NULL || strstr(err.text, "Ed25519") == NULL)
                fail_msg("unhelpful text: %s", err.text);
            assert_int_equal(ERR_peek_error(), 0);
        }
    }
}

static void test_key_bad_pem(void **state)
{
    apr_pool_t *p = *state;
    const char *pub = keys[K_ES256].pub;
    pds_key_t *key;
    pds_error_t err;
    char *big, *truncated, *encrypted;
    apr_size_t n;

    const char *garbage[] = {
        "not a key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    };
    for (n = 0; n < sizeof(garbage) / sizeof(garbage[0]); n++) {
        pds_error_clear(&err);
        key = (pds_key_t *)&key;
        assert_int_not_equal(pds_key_load_pem(&key, p, garbage[n], strlen(garbage[n]), &err),
                             APR_SUCCESS);
        assert_null(key);
        assert_string_equal(err.code, "bad-key");
        assert_int_equal(ERR_peek_error(), 0);
    }

    /* Cut in the middle of the base64. */
    truncated = apr_pstrndup(p, pub, strlen(pub) / 2);
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_pem(&key, p, truncated, strlen(truncated), &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-key");

    /* The length counts: a valid key cut short by len is not read whole. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_pem(&key, p, pub, strlen(pub) - 30, &err),
                         APR_SUCCESS);

    /* An encrypted private key is refused without prompting for a passphrase. */
    {
        EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        BIO *bio = BIO_new(BIO_s_mem());
        char pass[] = "secret";

        assert_non_null(pk);
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pk, EVP_aes_128_cbc(), pass,
                                                       (int)strlen(pass), NULL, NULL), 1);
        encrypted = pds_test_bio_text(bio);
        BIO_free(bio);
        EVP_PKEY_free(pk);
        assert_non_null(encrypted);
        pds_error_clear(&err);
        assert_int_not_equal(pds_key_load_pem(&key, p, encrypted, strlen(encrypted), &err),
                             APR_SUCCESS);
        free(encrypted);
        assert_string_equal(err.code, "bad-key");
        assert_non_null(strstr(err.text, "encrypted"));
        assert_int_equal(ERR_peek_error(), 0);
    }

    /* Over 64 KiB: refused before reading, even with a key at the start. */
    n = 64 * 1024 + 1;
    big = apr_palloc(p, n + 1);
    memset(big, '\n', n);
    memcpy(big, pub, strlen(pub));
    big[n] = '\0';
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_pem(&key, p, big, n, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-key");
    pds_error_clear(&err);
    assert_int_equal(pds_key_load_pem(&key, p, big, n - 1, &err), APR_SUCCESS);

    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_pem(&key, p, "", 0, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-key");
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_pem(&key, p, NULL, 10, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_int_not_equal(pds_key_load_pem(NULL, p, pub, strlen(pub), NULL), APR_SUCCESS);
}

static void test_key_load_file(void **state)
{
    apr_pool_t *p = *state;
    pds_key_t *key = NULL;
    pds_error_t err;
    char *path, *big;
    apr_size_t n = 64 * 1024 + 1;

    path = pds_test_write_temp(p, "jws", keys[K_RS256].priv, strlen(keys[K_RS256].priv));
    pds_error_clear(&err);
    assert_int_equal(pds_key_load_file(&key, p, path, &err), APR_SUCCESS);
    assert_string_equal(pds_key_alg(key), "RS256");
    assert_true(pds_key_is_private(key));
    apr_file_remove(path, p);

    /* Missing: the error names the file. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, "/nonexistent/pds/key.pem", &err),
                         APR_SUCCESS);
    assert_null(key);
    assert_string_equal(err.code, "key-unreadable");
    assert_non_null(strstr(err.text, "/nonexistent/pds/key.pem"));

    /* Not a key: still names the file, keeps the inner code. */
    path = pds_test_write_temp(p, "jws", "hello\n", 6);
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, path, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-key");
    assert_non_null(strstr(err.text, path));
    apr_file_remove(path, p);

    /* Unsupported key in a file. */
    path = pds_test_write_temp(p, "jws", keys[K_P384].pub, strlen(keys[K_P384].pub));
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, path, &err), APR_SUCCESS);
    assert_string_equal(err.code, "unsupported-key");
    assert_non_null(strstr(err.text, path));
    apr_file_remove(path, p);

    /* Too big, though it starts with a good key. */
    big = apr_palloc(p, n);
    memset(big, '\n', n);
    memcpy(big, keys[K_ES256].pub, strlen(keys[K_ES256].pub));
    path = pds_test_write_temp(p, "jws", big, n);
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, path, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-key");
    assert_non_null(strstr(err.text, path));
    apr_file_remove(path, p);
    /* One byte less is fine. */
    path = pds_test_write_temp(p, "jws", big, n - 1);
    pds_error_clear(&err);
    assert_int_equal(pds_key_load_file(&key, p, path, &err), APR_SUCCESS);
    apr_file_remove(path, p);

    /* A directory is not a key file. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, "/tmp", &err), APR_SUCCESS);
    assert_true(pds_error_is_set(&err));

    pds_error_clear(&err);
    assert_int_not_equal(pds_key_load_file(&key, p, NULL, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- sign and verify ------------------------------------------------------ */

static void roundtrip(apr_pool_t *p, int k)
{
    pds_key_t *priv = pds_test_load_key(p, keys[k].priv);
    pds_key_t *pub = pds_test_load_key(p, keys[k].pub);
    const char *payload = "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,"
                          "\"name\":\"Zo\\u00eb \\u2713\",\"n\":[1,2,{\"x\":null}]}";
    pds_jws_t *jws;
    pds_error_t err;
    json_t *expected;
    unsigned char *raw;
    apr_size_t rawlen;
    char *token, *hdr;
    int i;

    /* extra_header cannot change alg; its members follow alg in order. */
    token = sign_text(p, priv, "{\"alg\":\"none\",\"kid\":\"k-1\",\"typ\":\"JWT\"}", payload);
    hdr = pds_test_part(p, token, 0);
    assert_int_equal(pds_base64url_decode(&raw, &rawlen, p, hdr, strlen(hdr)), APR_SUCCESS);
    assert_string_equal((char *)raw, apr_psprintf(p, "{\"alg\":\"%s\",\"kid\":\"k-1\","
                                                  "\"typ\":\"JWT\"}", alg_of[k]));

    pds_error_clear(&err);
    assert_int_equal(pds_jws_parse(&jws, p, token, strlen(token), &err), APR_SUCCESS);
    assert_string_equal(pds_jws_alg(jws), alg_of[k]);
    assert_string_equal(pds_jws_kid(jws), "k-1");
    expected = pds_test_json(payload);
    assert_true(json_equal(pds_jws_payload(jws), expected));
    json_decref(expected);
    assert_int_equal(pds_jws_verify(jws, pub, &err), APR_SUCCESS);
    assert_int_equal(pds_jws_verify(jws, priv, &err), APR_SUCCESS);
    assert_false(pds_error_is_set(&err));

    /* Without extra header: exactly {"alg":...}, no typ added. */
    token = sign_text(p, priv, NULL, "{}");
    hdr = pds_test_part(p, token, 0);
    assert_int_equal(pds_base64url_decode(&raw, &rawlen, p, hdr, strlen(hdr)), APR_SUCCESS);
    assert_string_equal((char *)raw, apr_psprintf(p, "{\"alg\":\"%s\"}", alg_of[k]));
    assert_string_equal(pds_test_part(p, token, 1), "e30");
    assert_string_equal(verify_code(p, token, pub), "");

    /* Signature sizes are the algorithm's: ES256 r||s is always 64 bytes,
     * whatever the size of r and s (about 1 in 128 signatures has a short one,
     * so sign enough times to meet them). */
    for (i = 0; i < (k == K_ES256 ? 1000 : 3); i++) {
        char *sig;

        token = sign_text(p, priv, NULL, apr_psprintf(p, "{\"i\":%d}", i));
        sig = pds_test_part(p, token, 2);
        assert_int_equal(pds_base64url_decode(&raw, &rawlen, p, sig, strlen(sig)),
                         APR_SUCCESS);
        assert_int_equal(rawlen, k == K_RS256 ? 256 : 64);
        assert_string_equal(verify_code(p, token, pub), "");
    }
}

static void test_roundtrip_es256(void **state) { roundtrip(*state, K_ES256); }
static void test_roundtrip_rs256(void **state) { roundtrip(*state, K_RS256); }
static void test_roundtrip_eddsa(void **state) { roundtrip(*state, K_EDDSA); }

static void test_sign_refusals(void **state)
{
    apr_pool_t *p = *state;
    pds_key_t *pub = pds_test_load_key(p, keys[K_ES256].pub);
    pds_key_t *priv = pds_test_load_key(p, keys[K_ES256].priv);
    json_t *obj = json_object(), *arr = json_array();
    char *token = (char *)"x";
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_sign(&token, p, pub, NULL, obj, &err), APR_SUCCESS);
    assert_string_equal(err.code, "not-a-private-key");
    assert_null(token);
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_sign(&token, p, priv, NULL, arr, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_sign(&token, p, priv, arr, obj, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_sign(&token, p, priv, NULL, NULL, &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_sign(&token, p, NULL, NULL, obj, &err), APR_SUCCESS);
    json_decref(obj);
    json_decref(arr);
}

static void tampering(apr_pool_t *p, int k)
{
    pds_key_t *priv = pds_test_load_key(p, keys[k].priv);
    pds_key_t *pub = pds_test_load_key(p, keys[k].pub);
    const char *payload = "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300}";
    char *token = sign_text(p, priv, "{\"kid\":\"k\"}", payload);
    char *h = pds_test_part(p, token, 0), *b = pds_test_part(p, token, 1);
    char *s = pds_test_part(p, token, 2);
    unsigned char *sig;
    apr_size_t siglen;
    char *bad;

    assert_string_equal(verify_code(p, token, pub), "");

    /* Another payload under the same header and signature. */
    bad = apr_pstrcat(p, h, ".", b64(p, "{\"iss\":\"org-b\",\"aud\":\"pds\","
                                     "\"exp\":1700000300}"), ".", s, NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    /* Another header (same alg). */
    bad = apr_pstrcat(p, b64(p, apr_psprintf(p, "{\"alg\":\"%s\",\"kid\":\"x\"}",
                                             alg_of[k])), ".", b, ".", s, NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    /* One bit of the signature, first and last byte. */
    assert_int_equal(pds_base64url_decode(&sig, &siglen, p, s, strlen(s)), APR_SUCCESS);
    sig[0] ^= 0x01;
    bad = apr_pstrcat(p, h, ".", b, ".", pds_base64url_encode(p, sig, siglen), NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    sig[0] ^= 0x01;
    sig[siglen - 1] ^= 0x80;
    bad = apr_pstrcat(p, h, ".", b, ".", pds_base64url_encode(p, sig, siglen), NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    sig[siglen - 1] ^= 0x80;
    /* Cut short, one byte longer, empty, all zero. */
    bad = apr_pstrcat(p, h, ".", b, ".", pds_base64url_encode(p, sig, siglen - 1), NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    {
        unsigned char *longer = apr_pcalloc(p, siglen + 1);
        memcpy(longer, sig, siglen);
        bad = apr_pstrcat(p, h, ".", b, ".", pds_base64url_encode(p, longer, siglen + 1),
                          NULL);
        assert_string_equal(verify_code(p, bad, pub), "bad-signature");
        memset(longer, 0, siglen);
        bad = apr_pstrcat(p, h, ".", b, ".", pds_base64url_encode(p, longer, siglen), NULL);
        assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    }
    bad = apr_pstrcat(p, h, ".", b, ".", NULL);
    assert_string_equal(verify_code(p, bad, pub), "bad-signature");
    /* The untouched token still verifies after all that. */
    assert_string_equal(verify_code(p, token, pub), "");
}

static void test_tampered_es256(void **state) { tampering(*state, K_ES256); }
static void test_tampered_rs256(void **state) { tampering(*state, K_RS256); }
static void test_tampered_eddsa(void **state) { tampering(*state, K_EDDSA); }

/* ES256 signatures in DER (as OpenSSL produces them) are not JWS signatures. */
static void test_es256_der_signature_refused(void **state)
{
    apr_pool_t *p = *state;
    pds_key_t *pub = pds_test_load_key(p, keys[K_ES256].pub);
    const char *input;
    unsigned char der[128];
    size_t derlen = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY *pk;
    BIO *bio = BIO_new_mem_buf(keys[K_ES256].priv, -1);
    char *token;

    pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pk);
    input = apr_pstrcat(p, b64(p, "{\"alg\":\"ES256\"}"), ".", b64(p, "{}"), NULL);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)input,
                                    strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    token = apr_pstrcat(p, input, ".", pds_base64url_encode(p, der, derlen), NULL);
    assert_string_equal(verify_code(p, token, pub), "bad-signature");
}

/* (r, n - s) from an ES256 token's r||s signature part: the high-s twin. */
static char *flip_s(apr_pool_t *p, const char *sig64)
{
    static const char order_hex[] =
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
    unsigned char *raw = NULL, flipped[64];
    apr_size_t len = 0;
    BIGNUM *n = NULL, *s;

    assert_int_equal(pds_base64url_decode(&raw, &len, p, sig64, strlen(sig64)),
                     APR_SUCCESS);
    assert_int_equal(len, 64);
    assert_true(BN_hex2bn(&n, order_hex) > 0);
    s = BN_bin2bn(raw + 32, 32, NULL);
    assert_non_null(s);
    assert_int_equal(BN_sub(s, n, s), 1);
    memcpy(flipped, raw, 32);
    assert_int_equal(BN_bn2binpad(s, flipped + 32, 32), 32);
    BN_free(s);
    BN_free(n);
    return pds_base64url_encode(p, flipped, sizeof(flipped));
}

/* s's top half decides: 0x7fffffff8... is (n - 1) / 2's first bytes. */
static int s_is_high(apr_pool_t *p, const char *sig64)
{
    static const unsigned char half[32] = {
        0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00,
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42,
        0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8
    };
    unsigned char *raw = NULL;
    apr_size_t len = 0;

    assert_int_equal(pds_base64url_decode(&raw, &len, p, sig64, strlen(sig64)),
                     APR_SUCCESS);
    assert_int_equal(len, 64);
    return memcmp(raw + 32, half, 32) > 0;
}

/* ECDSA malleability: (r, n - s) verifies wherever (r, s) does. Only the low-s
 * form is accepted, and what we sign is always low-s (OpenSSL does not
 * normalise: about half its signatures are high-s, so 64 signatures all low
 * would not happen by chance). Compact and detached alike. */
static void test_es256_high_s_refused(void **state)
{
    apr_pool_t *p = *state;
    pds_key_t *priv = pds_test_load_key(p, keys[K_ES256].priv);
    pds_key_t *pub = pds_test_load_key(p, keys[K_ES256].pub);
    const unsigned char body[] = "{\"a\":1}";
    pds_error_t err;
    int i;

    for (i = 0; i < 64; i++) {
        char *token = sign_text(p, priv, NULL,
                                apr_psprintf(p, "{\"iss\":\"org-a\",\"n\":%d}", i));
        char *sig64 = pds_test_part(p, token, 2);
        char *input = apr_pstrndup(p, token, strlen(token) - strlen(sig64) - 1);
        char *twin = apr_pstrcat(p, input, ".", flip_s(p, sig64), NULL);
        char *det = NULL, *det_twin;

        if (s_is_high(p, sig64))
            fail_msg("signature %d is high-s: our signer must normalise", i);
        assert_string_equal(verify_code(p, token, pub), "");
        assert_true(s_is_high(p, pds_test_part(p, twin, 2)));
        assert_string_equal(verify_code(p, twin, pub), "bad-signature");

        pds_error_clear(&err);
        assert_int_equal(pds_jws_sign_detached(&det, p, priv, NULL, body, sizeof(body) - 1,
                                               &err), APR_SUCCESS);
        assert_false(s_is_high(p, pds_test_part(p, det, 2)));
        assert_int_equal(pds_jws_verify_detached(NULL, p, det, strlen(det), body,
                                                 sizeof(body) - 1, pub, &err), APR_SUCCESS);
        det_twin = apr_pstrcat(p, pds_test_part(p, det, 0), "..",
                               flip_s(p, pds_test_part(p, det, 2)), NULL);
        pds_error_clear(&err);
        assert_int_not_equal(pds_jws_verify_detached(NULL, p, det_twin, strlen(det_twin),
                                                     body, sizeof(body) - 1, pub, &err),
                             APR_SUCCESS);
        assert_string_equal(err.code, "bad-signature");
        assert_int_equal(ERR_peek_error(), 0);
    }
}

static void test_alg_mismatch(void **state)
{
    apr_pool_t *p = *state;
    pds_key_t *es = pds_test_load_key(p, keys[K_ES256].pub);
    pds_key_t *rs = pds_test_load_key(p, keys[K_RS256].pub);
    pds_key_t *ed = pds_test_load_key(p, keys[K_EDDSA].pub);
    const char *claims = "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":4102444800}";
    const char *sig64 = pds_base64url_encode(p, (const unsigned char *)
                                             "0123456789012345678901234567890123456789"
                                             "012345678901234567890123", 64);
    static const char *const algs[] = {
        "none", "None", "NONE", "HS256", "HS384", "HS512", "es256", "ES384", "ES512",
        "PS256", "RS384", "RS512", "rs256", "Ed25519", "EDDSA", "eddsa", "ES256 ",
        " ES256", "ES256\\u0020",
    };
    const pds_key_t *all[3] = { es, rs, ed };
    size_t i;
    int k;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *token = craft(p, apr_psprintf(p, "{\"alg\":\"%s\"}", algs[i]), claims, sig64);
        for (k = 0; k < 3; k++) {
            if (strcmp(verify_code(p, token, all[k]), "alg-mismatch") != 0)
                fail_msg("alg '%s' against a %s key", algs[i], alg_of[k]);
        }
    }
    /* Correctly signed, but presented to a key of another type. */
    for (k = 0; k < 3; k++) {
        pds_key_t *priv = pds_test_load_key(p, keys[k].priv);
        char *token = sign_text(p, priv, NULL, claims);
        int other;

        for (other = 0; other < 3; other++) {
            if (other != k)
                assert_string_equal(verify_code(p, token, all[other]), "alg-mismatch");
        }
    }
    /* The classic: HS256 with the RSA public key PEM as the HMAC secret. */
    {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t maclen = 0;
        const char *input = apr_pstrcat(p, b64(p, "{\"alg\":\"HS256\"}"), ".",
                                        b64(p, claims), NULL);
        char *token;

        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
                                  keys[K_RS256].pub, strlen(keys[K_RS256].pub),
                                  (const unsigned char *)input, strlen(input),
                                  mac, sizeof(mac), &maclen));
        token = apr_pstrcat(p, input, ".", pds_base64url_encode(p, mac, maclen), NULL);
        assert_string_equal(verify_code(p, token, rs), "alg-mismatch");
    }
    /* "none" with the empty signature of an unsecured JWS. */
    assert_string_equal(verify_code(p, craft(p, "{\"alg\":\"none\"}", claims, ""), es),
                        "alg-mismatch");
    /* The text shows an unprintable alg safely. */
    {
        pds_jws_t *jws;
        pds_error_t err;
        char *token = craft(p, "{\"alg\":\"x\\n\\u0007y\"}", claims, sig64);

        pds_error_clear(&err);
        assert_int_equal(pds_jws_parse(&jws, p, token, strlen(token), &err), APR_SUCCESS);
        assert_int_not_equal(pds_jws_verify(jws, es, &err), APR_SUCCESS);
        assert_string_equal(err.code, "alg-mismatch");
        assert_non_null(strstr(err.text, "\"x??y\""));
    }
    {
        pds_error_t err;
        pds_error_clear(&err);
        assert_int_not_equal(pds_jws_verify(NULL, es, &err), APR_SUCCESS);
        assert_string_equal(err.code, "bad-argument");
    }
}

static void test_other_key_same_type(void **state)
{
    apr_pool_t *p = *state;
    int k;

    for (k = 0; k < 3; k++) {
        pds_key_t *signer = pds_test_load_key(p, keys[k].priv);
        pds_key_t *other = pds_test_load_key(p, keys[k + K_ES256_B].pub);
        pds_key_t *other_priv = pds_test_load_key(p, keys[k + K_ES256_B].priv);
        char *token = sign_text(p, signer, NULL, "{\"iss\":\"org-a\"}");

        assert_string_equal(verify_code(p, token, other), "bad-signature");
        assert_string_equal(verify_code(p, token, other_priv), "bad-signature");
        assert_string_equal(verify_code(p, token, pds_test_load_key(p, keys[k].pub)), "");
    }
}

/* ---- parsing -------------------------------------------------------------- */

static void test_parse_accessors(void **state)
{
    apr_pool_t *p = *state;
    pds_jws_t *jws;
    pds_error_t err;
    char *token = craft(p, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", "{\"a\":1}", "AAAA");

    pds_error_clear(&err);
    assert_int_equal(pds_jws_parse(&jws, p, token, strlen(token), &err), APR_SUCCESS);
    assert_string_equal(pds_jws_alg(jws), "ES256");
    assert_null(pds_jws_kid(jws));
    assert_string_equal(json_string_value(json_object_get(pds_jws_header(jws), "typ")),
                        "JWT");
    assert_int_equal(json_integer_value(json_object_get(pds_jws_payload(jws), "a")), 1);
    assert_null(pds_jws_alg(NULL));
    assert_null(pds_jws_kid(NULL));
    assert_null(pds_jws_header(NULL));
    assert_null(pds_jws_payload(NULL));

    /* Only len bytes are read: the token may sit in a larger buffer. */
    {
        char *buf = apr_pstrcat(p, token, ".trailing junk", NULL);
        assert_int_equal(pds_jws_parse(&jws, p, buf, strlen(token), &err), APR_SUCCESS);
    }
    assert_int_not_equal(pds_jws_parse(NULL, p, token, strlen(token), &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_parse(&jws, p, NULL, 5, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
}

static void test_parse_malformed(void **state)
{
    apr_pool_t *p = *state;
    const char *claims = "{\"exp\":1}";
    char *good = craft(p, "{\"alg\":\"ES256\"}", claims, "AAAA");
    char *h = pds_test_part(p, good, 0), *b = pds_test_part(p, good, 1);
    /* 16 bytes: standard base64 would pad this with "==". */
    char *h16 = b64(p, "{\"alg\":\"ES256\" }");

    assert_int_equal(strlen(h16) % 4, 2);
    expect_malformed(p, "", "empty");
    expect_malformed(p, "abc", "no dots");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, NULL), "one dot");
    expect_malformed(p, apr_pstrcat(p, good, ".AAAA", NULL), "three dots");
    expect_malformed(p, apr_pstrcat(p, good, ".AAAA.AAAA", NULL), "four dots (JWE)");
    expect_malformed(p, "..", "all parts empty");
    expect_malformed(p, apr_pstrcat(p, ".", b, ".AAAA", NULL), "empty header");
    expect_malformed(p, apr_pstrcat(p, h, "..AAAA", NULL), "empty payload");
    expect_malformed(p, apr_pstrcat(p, h16, "==.", b, ".AAAA", NULL), "padded header");
    expect_malformed(p, apr_pstrcat(p, h16, "=.", b, ".AAAA", NULL), "half-padded header");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, "==.AAAA", NULL), "padded payload");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, ".AA==", NULL), "padded signature");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, ".AA+/", NULL), "standard alphabet");
    expect_malformed(p, apr_pstrcat(p, "+", h + 1, ".", b, ".AAAA", NULL), "'+' in header");
    expect_malformed(p, apr_pstrcat(p, " ", good, NULL), "leading space");
    expect_malformed(p, apr_pstrcat(p, good, "\n", NULL), "trailing newline");
    expect_malformed(p, apr_pstrcat(p, h, ". ", b, ".AAAA", NULL), "space in payload");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, ".AAA A", NULL), "space in signature");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, ".AAAAA", NULL), "impossible length");
    expect_malformed(p, apr_pstrcat(p, h, ".", b, ".AB", NULL), "non-canonical signature");
    expect_malformed_len(p, apr_pstrcat(p, h, ".", b, ".AAAA", NULL), strlen(h) + 2,
                         "cut by length");
    {
        /* An embedded NUL inside the given length. */
        char *t = apr_pstrdup(p, good);
        t[3] = '\0';
        expect_malformed_len(p, t, strlen(good), "embedded NUL");
    }

    /* What the parts decode to. */
    expect_malformed(p, craft(p, "[\"alg\",\"ES256\"]", claims, "AAAA"), "array header");
    expect_malformed(p, craft(p, "\"ES256\"", claims, "AAAA"), "string header");
    expect_malformed(p, craft(p, "1", claims, "AAAA"), "number header");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"", claims, "AAAA"), "truncated JSON");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"} x", claims, "AAAA"), "junk after");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"}", "[1]", "AAAA"), "array payload");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"}", "", "AAAA"), "empty payload JSON");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"}", "{\"a\":\"\xff\"}", "AAAA"),
                     "payload not UTF-8");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"}", "{\"a\":\"x\\u0000y\"}", "AAAA"),
                     "NUL in a payload string");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\",\"alg\":\"none\"}", claims, "AAAA"),
                     "duplicate header keys");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\"}", "{\"exp\":1,\"exp\":2}", "AAAA"),
                     "duplicate payload keys");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", claims, "AAAA"),
                     "crit");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\",\"crit\":[]}", claims, "AAAA"),
                     "empty crit");
    expect_malformed(p, craft(p, "{\"typ\":\"JWT\"}", claims, "AAAA"), "no alg");
    expect_malformed(p, craft(p, "{\"alg\":null}", claims, "AAAA"), "null alg");
    expect_malformed(p, craft(p, "{\"alg\":256}", claims, "AAAA"), "number alg");
    expect_malformed(p, craft(p, "{\"alg\":[\"ES256\"]}", claims, "AAAA"), "array alg");
    expect_malformed(p, craft(p, "{\"alg\":\"\"}", claims, "AAAA"), "empty alg");
    expect_malformed(p, craft(p, "{\"alg\":\"ES256\",\"kid\":7}", claims, "AAAA"),
                     "number kid");
}

static void test_parse_length_limit(void **state)
{
    apr_pool_t *p = *state;
    const apr_size_t limit = 16 * 1024;
    pds_jws_t *jws;
    pds_error_t err;
    char *prefix, *token;
    apr_size_t pad = 0, n;

    /* Find a payload size that leaves a possible signature length. */
    do {
        char *fill = apr_palloc(p, pad + 1);
        memset(fill, 'x', pad);
        fill[pad] = '\0';
        prefix = apr_pstrcat(p, b64(p, "{\"alg\":\"ES256\"}"), ".",
                             b64(p, apr_psprintf(p, "{\"pad\":\"%s\"}", fill)), ".", NULL);
        n = limit - strlen(prefix);
        pad += 1000;
    } while (n % 4 == 1 || n > limit - 1000);
    token = apr_palloc(p, limit + 2);
    memcpy(token, prefix, strlen(prefix));
    memset(token + strlen(prefix), 'A', n + 1);
    token[limit] = '\0';

    pds_error_clear(&err);
    assert_int_equal(strlen(token), limit);
    if (pds_jws_parse(&jws, p, token, limit, &err) != APR_SUCCESS)
        fail_msg("a token of exactly %d bytes: %s: %s", (int)limit, err.code, err.text);
    token[limit] = 'A';
    token[limit + 1] = '\0';
    expect_malformed(p, token, "one byte too long");
    pds_error_clear(&err);
    assert_int_not_equal(pds_jws_parse(&jws, p, token, limit + 1, &err), APR_SUCCESS);
    assert_non_null(strstr(err.text, "16384"));
}

/* ---- claims --------------------------------------------------------------- */

typedef struct claim_case_t {
    const char *payload;
    int skew;
    int max_lifetime;
    const char *code;      /* "" for accepted */
} claim_case_t;

static void test_claims(void **state)
{
    static const claim_case_t cases[] = {
        /* the normal case, and each bound of the exp check (skew 60) */
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":1700000000}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000000}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1699999970}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1699999940}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1699999939}", 60, 3600, "token-expired" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1699999999}", 0, 3600, "token-expired" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1699999999}", -100, 3600, "token-expired" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":0}", 60, 3600, "token-expired" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":-9223372036854775807}", 60, 3600, "token-expired" },
        /* required claims and their types */
        { "{\"iss\":\"org-a\",\"aud\":\"pds\"}", 60, 3600, "missing-claim" },
        { "{\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "missing-claim" },
        { "{\"iss\":\"org-a\",\"exp\":1700000300}", 60, 3600, "missing-claim" },
        { "{}", 60, 3600, "missing-claim" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":\"1700000300\"}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300.0}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":null}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":true}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":[1700000300]}", 60, 3600, "bad-claim" },
        { "{\"iss\":1,\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "bad-claim" },
        { "{\"iss\":null,\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "bad-claim" },
        /* issuer: exact, case-sensitive */
        { "{\"iss\":\"org-b\",\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "wrong-issuer" },
        { "{\"iss\":\"ORG-A\",\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "wrong-issuer" },
        { "{\"iss\":\"org-a \",\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "wrong-issuer" },
        { "{\"iss\":\"\",\"aud\":\"pds\",\"exp\":1700000300}", 60, 3600, "wrong-issuer" },
        /* audience: a string or an array of strings holding ours */
        { "{\"iss\":\"org-a\",\"aud\":[\"x\",\"pds\"],\"exp\":1700000300}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":[\"pds\"],\"exp\":1700000300}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"other\",\"exp\":1700000300}", 60, 3600, "wrong-audience" },
        { "{\"iss\":\"org-a\",\"aud\":\"PDS\",\"exp\":1700000300}", 60, 3600, "wrong-audience" },
        { "{\"iss\":\"org-a\",\"aud\":[\"x\",\"y\"],\"exp\":1700000300}", 60, 3600, "wrong-audience" },
        { "{\"iss\":\"org-a\",\"aud\":[],\"exp\":1700000300}", 60, 3600, "wrong-audience" },
        { "{\"iss\":\"org-a\",\"aud\":[\"pds\",1],\"exp\":1700000300}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":[[\"pds\"]],\"exp\":1700000300}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":5,\"exp\":1700000300}", 60, 3600, "bad-claim" },
        { "{\"iss\":\"org-a\",\"aud\":{\"pds\":1},\"exp\":1700000300}", 60, 3600, "bad-claim" },
        /* nbf, with skew */
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1700000000}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1700000060}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1700000061}", 60, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1700000001}", 0, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1700000060.5}", 60, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":1699999999.5}", 0, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"nbf\":\"1700000000\"}", 60, 3600, "bad-claim" },
        /* iat in the future, with skew */
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":1700000060}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":1700000061}", 60, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":1700000001}", 0, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":9223372036854775807}", 60, 3600, "token-not-yet-valid" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300,\"iat\":false}", 60, 3600, "bad-claim" },
        /* lifetime: exp - iat, or exp - now without iat */
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700003600,\"iat\":1700000000}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700003601,\"iat\":1700000000}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000700,\"iat\":1699997000}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700003600}", 60, 3600, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700003601}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700003600,\"iat\":1699999999.5}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":9223372036854775807,\"iat\":1700000000}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000010,\"iat\":-9223372036854775807}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":9223372036854775807}", 60, 3600, "token-too-long-lived" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":9223372036854775807}", 60, 0, "" },
        { "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":4102444800,\"iat\":1700000000}", 60, 0, "" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = craft(p, "{\"alg\":\"ES256\"}", cases[i].payload, "AAAA");
        pds_token_expect_t expect;
        pds_jws_t *jws;
        pds_error_t err;
        apr_status_t rv;

        pds_error_clear(&err);
        if (pds_jws_parse(&jws, p, token, strlen(token), &err) != APR_SUCCESS)
            fail_msg("case %d: parse: %s", (int)i, err.text);
        expect.issuer = "org-a";
        expect.audience = "pds";
        expect.now = apr_time_from_sec(NOW) + 999999;  /* sub-second part ignored */
        expect.clock_skew = cases[i].skew;
        expect.max_lifetime = cases[i].max_lifetime;
        rv = pds_token_check_claims(jws, &expect, &err);
        if (cases[i].code[0] == '\0') {
            if (rv != APR_SUCCESS)
                fail_msg("case %d %s: refused: %s: %s", (int)i, cases[i].payload,
                         err.code, err.text);
        }
        else if (rv == APR_SUCCESS || strcmp(err.code, cases[i].code) != 0) {
            fail_msg("case %d %s: expected %s, got %s (%s)", (int)i, cases[i].payload,
                     cases[i].code, rv == APR_SUCCESS ? "success" : err.code, err.text);
        }
    }
}

static void test_claims_arguments(void **state)
{
    apr_pool_t *p = *state;
    char *token = craft(p, "{\"alg\":\"ES256\"}",
                        "{\"iss\":\"org-a\",\"aud\":\"pds\",\"exp\":1700000300}", "AAAA");
    pds_token_expect_t expect = { "org-a", "pds", 0, 60, 3600 };
    pds_jws_t *jws;
    pds_error_t err;

    expect.now = apr_time_from_sec(NOW);
    pds_error_clear(&err);
    assert_int_equal(pds_jws_parse(&jws, p, token, strlen(token), &err), APR_SUCCESS);
    assert_int_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    /* No expectation is never a pass. */
    expect.audience = NULL;
    assert_int_not_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    expect.audience = "pds";
    expect.issuer = NULL;
    pds_error_clear(&err);
    assert_int_not_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_token_check_claims(NULL, &expect, &err), APR_SUCCESS);
    assert_int_not_equal(pds_token_check_claims(jws, NULL, NULL), APR_SUCCESS);
    /* The wrong issuer's text shows it safely. */
    token = craft(p, "{\"alg\":\"ES256\"}",
                  "{\"iss\":\"evil\\n\\u001b[31m\",\"aud\":\"pds\",\"exp\":1700000300}", "AAAA");
    assert_int_equal(pds_jws_parse(&jws, p, token, strlen(token), &err), APR_SUCCESS);
    expect.issuer = "org-a";
    pds_error_clear(&err);
    assert_int_not_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    assert_string_equal(err.code, "wrong-issuer");
    assert_non_null(strstr(err.text, "evil??[31m"));
}

/* ---- interoperability ----------------------------------------------------- */

static void interop(apr_pool_t *p, int k)
{
    const char *dir = apr_pstrcat(p, CASES_DIR "/", alg_of[k], NULL);
    char *pem = pds_test_case_file(p, dir, "public.pem", NULL);
    char *token = pds_test_case_file(p, dir, "token.txt", NULL);
    char *claims_text = pds_test_case_file(p, dir, "claims.json", NULL);
    const char *iss = apr_pstrcat(p, "interop-", alg_of[k], NULL);
    pds_key_t *key = pds_test_load_key(p, pem);
    pds_token_expect_t expect;
    pds_jws_t *jws;
    pds_error_t err;
    json_t *claims;
    apr_size_t n = strlen(token);
    char *bad;

    if (n > 0 && token[n - 1] == '\n')
        token[--n] = '\0';
    iss = apr_pstrdup(p, iss);
    for (bad = (char *)iss; *bad; bad++)
        *bad = (char)apr_tolower(*bad);

    assert_string_equal(pds_key_alg(key), alg_of[k]);
    pds_error_clear(&err);
    if (pds_jws_parse(&jws, p, token, n, &err) != APR_SUCCESS)
        fail_msg("%s fixture: %s: %s", alg_of[k], err.code, err.text);
    assert_string_equal(pds_jws_alg(jws), alg_of[k]);
    assert_string_equal(pds_jws_kid(jws), iss);
    if (pds_jws_verify(jws, key, &err) != APR_SUCCESS)
        fail_msg("%s fixture does not verify: %s: %s", alg_of[k], err.code, err.text);
    claims = pds_test_json(claims_text);
    assert_true(json_equal(claims, pds_jws_payload(jws)));
    json_decref(claims);

    expect.issuer = iss;
    expect.audience = "pds-gateway";
    expect.now = apr_time_from_sec(NOW + 100);
    expect.clock_skew = 60;
    expect.max_lifetime = 0;
    assert_int_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    expect.max_lifetime = 3600;
    assert_int_not_equal(pds_token_check_claims(jws, &expect, &err), APR_SUCCESS);
    assert_string_equal(err.code, "token-too-long-lived");

    /* Not with our key of the same type; not once a byte of the payload changes. */
    assert_string_equal(verify_code(p, token, pds_test_load_key(p, keys[k].pub)), "bad-signature");
    {
        char *text = json_dumps(pds_jws_payload(jws), JSON_COMPACT);
        char *team;

        assert_non_null(text);
        team = strstr(text, "research-team");
        assert_non_null(team);
        team[strlen("research-tea")] = 'l';
        bad = apr_pstrcat(p, pds_test_part(p, token, 0), ".", b64(p, text), ".",
                          pds_test_part(p, token, 2), NULL);
        free(text);
        assert_string_equal(verify_code(p, bad, key), "bad-signature");
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static void test_interop_es256(void **state) { interop(*state, K_ES256); }
static void test_interop_rs256(void **state) { interop(*state, K_RS256); }
static void test_interop_eddsa(void **state) { interop(*state, K_EDDSA); }

/* RFC 8037 appendix A.3: the Ed25519 key's RFC 7638 thumbprint. */
static void test_public_jwk_thumbprint(void **state)
{
    apr_pool_t *p = *state;
    static const char pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n";
    pds_key_t *key;
    json_t *jwk;
    int k;

    assert_int_equal(pds_key_load_pem(&key, p, pem, strlen(pem), NULL), APR_SUCCESS);
    jwk = pds_key_public_jwk(key, p);
    assert_non_null(jwk);
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "OKP");
    assert_string_equal(json_string_value(json_object_get(jwk, "x")),
                        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")),
                        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "EdDSA");
    assert_null(json_object_get(jwk, "d"));
    json_decref(jwk);
    /* every kind of key this module takes has one, with no private member */
    for (k = 0; k < 3; k++) {
        pds_key_t *priv = pds_test_load_key(p, keys[k == 0 ? K_ES256 : k == 1 ? K_RS256 : K_EDDSA].priv);
        jwk = pds_key_public_jwk(priv, p);
        assert_non_null(jwk);
        assert_non_null(json_object_get(jwk, "kid"));
        assert_null(json_object_get(jwk, "d"));
        json_decref(jwk);
    }
}

/* Detached payloads: any bytes, bound by the signature; a changed byte, a
 * changed header, another key or an attached payload all fail. */
static void test_detached(void **state)
{
    apr_pool_t *p = *state;
    static const unsigned char body[] = "[{\"id\":1},\"\xc3\xa1\"]";
    int k;

    for (k = 0; k < 3; k++) {
        pds_key_t *priv = pds_test_load_key(p, keys[k == 0 ? K_ES256 : k == 1 ? K_RS256 : K_EDDSA].priv);
        pds_key_t *other = pds_test_load_key(p, keys[k == 0 ? K_ES256_B : k == 1 ? K_RS256_B
                                                               : K_EDDSA_B].pub);
        json_t *members = json_pack("{s:s,s:s}", "typ", "pds-response+jws", "kid", "k1");
        json_t *hdr = NULL;
        char *sig = NULL, *bad;
        pds_error_t err;

        pds_error_clear(&err);
        assert_int_equal(pds_jws_sign_detached(&sig, p, priv, members, body,
                                               sizeof(body) - 1, &err), APR_SUCCESS);
        json_decref(members);
        assert_non_null(strstr(sig, ".."));
        assert_int_equal(pds_jws_verify_detached(&hdr, p, sig, strlen(sig), body,
                                                 sizeof(body) - 1, priv, &err), APR_SUCCESS);
        assert_string_equal(json_string_value(json_object_get(hdr, "typ")),
                            "pds-response+jws");
        assert_string_equal(json_string_value(json_object_get(hdr, "alg")), alg_of[k]);
        /* one byte of the body changed */
        pds_error_clear(&err);
        assert_int_equal(pds_jws_verify_detached(NULL, p, sig, strlen(sig),
                                                 (const unsigned char *)"[{\"id\":2},\"\xc3\xa1\"]",
                                                 sizeof(body) - 1, priv, &err), APR_EINVAL);
        assert_string_equal(err.code, "bad-signature");
        /* another key */
        pds_error_clear(&err);
        assert_int_equal(pds_jws_verify_detached(NULL, p, sig, strlen(sig), body,
                                                 sizeof(body) - 1, other, &err), APR_EINVAL);
        /* not detached, or a header changed */
        bad = apr_pstrdup(p, sig);
        bad[strstr(bad, "..") - bad + 1] = 'x';
        pds_error_clear(&err);
        assert_int_equal(pds_jws_verify_detached(NULL, p, bad, strlen(bad), body,
                                                 sizeof(body) - 1, priv, &err), APR_EINVAL);
        assert_string_equal(err.code, "malformed-token");
        bad = apr_pstrcat(p, "eyJhbGciOiJub25lIn0", strstr(sig, ".."), NULL);
        pds_error_clear(&err);
        assert_int_equal(pds_jws_verify_detached(NULL, p, bad, strlen(bad), body,
                                                 sizeof(body) - 1, priv, &err), APR_EINVAL);
        assert_string_equal(err.code, "alg-mismatch");
    }
}

int main(void)
{
#define T(f) pds_test_with_pool(f)
    const struct CMUnitTest tests[] = {
        T(test_base64url_vectors),
        T(test_public_jwk_thumbprint),
        T(test_detached),
        T(test_base64url_roundtrip),
        T(test_base64url_refusals),
        T(test_key_load),
        T(test_key_unsupported),
        T(test_key_bad_pem),
        T(test_key_load_file),
        T(test_roundtrip_es256),
        T(test_roundtrip_rs256),
        T(test_roundtrip_eddsa),
        T(test_sign_refusals),
        T(test_tampered_es256),
        T(test_tampered_rs256),
        T(test_tampered_eddsa),
        T(test_es256_der_signature_refused),
        T(test_es256_high_s_refused),
        T(test_alg_mismatch),
        T(test_other_key_same_type),
        T(test_parse_accessors),
        T(test_parse_malformed),
        T(test_parse_length_limit),
        T(test_claims),
        T(test_claims_arguments),
        T(test_interop_es256),
        T(test_interop_rs256),
        T(test_interop_eddsa),
    };
#undef T

    return pds_test_main(tests, group_setup, group_teardown);
}
