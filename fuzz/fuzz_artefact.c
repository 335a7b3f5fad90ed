/* Consent artefacts and the trust registry: whatever a client sends, or a
 * sysadmin writes, is accepted or refused with the documented codes, never a
 * crash. The first byte chooses what the rest is:
 *   '{'   a trust registry (JSON); "file" keys are skipped, so the target
 *         never opens files the input names
 *   '#'   an artefact payload (JSON), signed here with the "signed" issuer's
 *         key, so the checks after the signature are reached
 *   else  a compact artefact, checked against an issuer whose private key
 *         nobody holds: it must never be accepted
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "pds_artefact.h"
#include "pds_jws.h"

/* The "signed" issuer: a throwaway key made for this target only. */
static const char signing_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIMxGmaFZ0nDUmyA0EQKcgMPHtvPlYYjgklUP866SHcNB\n"
    "-----END PRIVATE KEY-----\n";

static const char signed_registry[] =
    "{\"issuers\":[{\"id\":\"fuzz-issuer\",\"keys\":[{\"kid\":\"k1\",\"pem\":"
    "\"-----BEGIN PUBLIC KEY-----\\n"
    "MCowBQYDK2VwAyEArio3TgOLlOMdFGx8rAhhlWBYK7tzpOddRQsGrIUoY5M=\\n"
    "-----END PUBLIC KEY-----\\n\"}]}],"
    "\"revoked\":[\"revoked-1\"]}";

/* The "sealed" issuer: its private key was thrown away when it was made. */
static const char sealed_registry[] =
    "{\"issuers\":[{\"id\":\"fuzz-issuer\",\"keys\":[{\"kid\":\"k1\",\"pem\":"
    "\"-----BEGIN PUBLIC KEY-----\\n"
    "MCowBQYDK2VwAyEALhZAxO0F6PF/G++QtgNTrelT8bq0VWRZJAEEd4anGNc=\\n"
    "-----END PUBLIC KEY-----\\n\"}]}],"
    "\"revoked\":[\"revoked-1\"]}";

/* Once, before any input: OpenSSL's one-time setup allocates memory it
 * keeps, which must not count against an input. */
static apr_pool_t *keep;
static pds_key_t *signing_key;
static pds_trust_registry_t *signed_reg, *sealed_reg;
static json_t *header;

static void release(void)
{
    json_decref(header);
    apr_pool_destroy(keep);
}

static pds_artefact_expect_t expectation(void)
{
    pds_artefact_expect_t e = {
        .subject = "alice-1", .organisation = "torbay-clinic", .purpose = "care",
        .agreement = "care-2026", .now = apr_time_from_sec(1790000000),
        .clock_skew = 60, .max_lifetime = 86400
    };

    return e;
}

static int is_artefact_code(const pds_error_t *err)
{
    return strncmp(err->code, "artefact-", 9) == 0;
}

/* Signs payload with the "signed" issuer's key and checks it. */
static void check_signed(apr_pool_t *p, json_t *payload)
{
    pds_artefact_expect_t e = expectation();
    pds_artefact_t *art;
    pds_error_t err;
    char *compact;

    if (pds_jws_sign(&compact, p, signing_key, header, payload, NULL) != APR_SUCCESS)
        return;                         /* not serialisable: not an artefact */
    pds_error_clear(&err);
    if (pds_artefact_check(&art, p, signed_reg, compact, strlen(compact), &e, &err)
        == APR_SUCCESS) {
        if (art == NULL || pds_error_is_set(&err) || art->fields == NULL
            || art->field_paths == NULL || art->field_paths->nelts < 1
            || strcmp(art->subject, e.subject) != 0
            || pds_trust_registry_is_revoked(signed_reg, art->id))
            abort();
    }
    else if (art != NULL || !is_artefact_code(&err)) {
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t *warm_up;

    (void)argc;
    (void)argv;
    pds_fuzz_pool();
    if (apr_pool_create(&keep, NULL) != APR_SUCCESS
        || pds_key_load_pem(&signing_key, keep, signing_pem, strlen(signing_pem),
                            NULL) != APR_SUCCESS
        || pds_trust_registry_parse(&signed_reg, keep, signed_registry,
                                    strlen(signed_registry), NULL, NULL) != APR_SUCCESS
        || pds_trust_registry_parse(&sealed_reg, keep, sealed_registry,
                                    strlen(sealed_registry), NULL, NULL) != APR_SUCCESS)
        abort();
    header = json_pack("{s:s, s:s}", "kid", "k1", "typ", "pds-consent+jws");
    warm_up = json_pack("{s:s}", "iss", "fuzz-issuer");
    if (header == NULL || warm_up == NULL)
        abort();
    atexit(release);
    /* One signature and one verification, so OpenSSL fetches what EdDSA needs. */
    check_signed(keep, warm_up);
    json_decref(warm_up);
    return 0;
}

static void fuzz_registry(apr_pool_t *p, const uint8_t *data, size_t size)
{
    pds_trust_registry_t *reg;
    pds_error_t err;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

    if (doc != NULL) {
        /* Member names as jansson writes them back, escapes undone. */
        char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        int names_file = text == NULL || strstr(text, "\"file\"") != NULL;

        free(text);
        json_decref(doc);
        if (names_file)
            return;
    }
    pds_error_clear(&err);
    if (pds_trust_registry_parse(&reg, p, (const char *)data, size,
                                 "/nonexistent-pds-fuzz", &err) == APR_SUCCESS) {
        if (reg == NULL || pds_error_is_set(&err)
            || pds_trust_registry_issuer_count(reg) < 0)
            abort();
        (void)pds_trust_registry_is_revoked(reg, "revoked-1");
    }
    else if (reg != NULL || strcmp(err.code, "bad-trust-registry") != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();

    if (size > 0 && data[0] == '{') {
        fuzz_registry(p, data, size);
    }
    else if (size > 0 && data[0] == '#') {
        json_t *payload = json_loadb((const char *)data + 1, size - 1,
                                     JSON_REJECT_DUPLICATES, NULL);

        if (json_is_object(payload))
            check_signed(p, payload);
        json_decref(payload);
    }
    else {
        pds_artefact_expect_t e = expectation();
        pds_artefact_t *art;
        pds_error_t err;

        pds_error_clear(&err);
        if (pds_artefact_check(&art, p, sealed_reg, (const char *)data, size, &e, &err)
            == APR_SUCCESS)
            abort();                    /* nobody holds the sealed issuer's key */
        if (art != NULL || !is_artefact_code(&err))
            abort();
    }
    return 0;
}
