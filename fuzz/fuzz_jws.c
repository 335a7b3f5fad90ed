/* Compact JWS: parsing and verification of arbitrary tokens never crash and
 * never verify without the key's signature. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pds_jws.h"

static const char key_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";

static pds_key_t *key;

/* Once, before any input: OpenSSL's one-time setup (decoders, providers)
 * allocates memory it keeps, which must not count against an input. */
static apr_pool_t *keep;

static void release_key(void)
{
    apr_pool_destroy(keep);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char warm_up[] =
        "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJpc3N1ZXIifQ."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    pds_jws_t *jws;

    pds_fuzz_pool();
    if (apr_pool_create(&keep, NULL) != APR_SUCCESS
        || pds_key_load_pem(&key, keep, key_pem, strlen(key_pem), NULL) != APR_SUCCESS)
        abort();
    atexit(release_key);
    /* One verification, so OpenSSL fetches and caches what EdDSA needs. */
    if (pds_jws_parse(&jws, keep, warm_up, strlen(warm_up), NULL) == APR_SUCCESS)
        (void)pds_jws_verify(jws, key, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    pds_jws_t *jws;
    pds_token_expect_t expect = { "issuer", "aud", 0, 60, 3600 };

    if (pds_jws_parse(&jws, p, (const char *)data, size, NULL) != APR_SUCCESS)
        return 0;
    (void)pds_jws_alg(jws);
    (void)pds_jws_kid(jws);
    if (pds_jws_verify(jws, key, NULL) == APR_SUCCESS)
        abort();                        /* nobody here holds the private key */
    expect.now = apr_time_from_sec(1790000000);
    (void)pds_token_check_claims(jws, &expect, NULL);
    return 0;
}
