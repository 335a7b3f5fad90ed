/* test_artefact.c: signed consent artefacts and the trust registry.
 *
 * Keys are generated at test time with the EVP API: an Ed25519 and an EC
 * P-256 key for the issuer "brixham-trust", a second Ed25519 key for another
 * issuer, and a P-384 key (not accepted). The public PEMs go into a trust
 * registry written to a temporary directory, the EC key as a relative "file"
 * entry, and that registry is loaded once with pds_trust_registry_load_file.
 * Artefacts are minted with pds_jws_sign, so that each refusal test changes
 * exactly one thing of an otherwise valid artefact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pds_test.h"
#include "pds_artefact.h"
#include "pds_jws.h"

/* The reference time: 2023-11-14T22:13:20Z. */
#define NOW 1700000000
#define SOURCE "PDS-Consent-Artefact"

/* ---- keys, files and the registry, made once for the whole run ------------- */

enum { K_ED, K_EC, K_OTHER, K_P384, K_COUNT };

static pds_test_keypair_t keys[K_COUNT];
static char tmpdir[64];
static apr_pool_t *global_pool;
static pds_trust_registry_t *registry;
static const char *registry_path;

/* "PEM:<k>" and "PRIV:<k>" (k a digit) in a template become the key's PEM as
 * a JSON string, quotes included; "DIR" becomes the temporary directory. */
static char *fill(apr_pool_t *p, const char *templ)
{
    char *out = apr_pstrdup(p, "");
    const char *s = templ;

    while (*s != '\0') {
        int is_pub = strncmp(s, "PEM:", 4) == 0, is_priv = strncmp(s, "PRIV:", 5) == 0;

        if (is_pub || is_priv) {
            int k = s[is_pub ? 4 : 5] - '0';
            json_t *str = json_string(is_pub ? keys[k].pub : keys[k].priv);
            char *text = json_dumps(str, JSON_ENCODE_ANY);

            if (text == NULL)
                return NULL;
            out = apr_pstrcat(p, out, text, NULL);
            free(text);
            json_decref(str);
            s += is_pub ? 5 : 6;
        }
        else if (strncmp(s, "DIR", 3) == 0) {
            out = apr_pstrcat(p, out, tmpdir, NULL);
            s += 3;
        }
        else {
            out = apr_pstrcat(p, out, apr_pstrndup(p, s, 1), NULL);
            s++;
        }
    }
    return out;
}

/* Writes text to the file name under the temporary directory. 0 on success. */
static int write_in_tmpdir(const char *name, const char *text)
{
    return pds_test_write_file(global_pool, apr_pstrcat(global_pool, tmpdir, name, NULL),
                               text, strlen(text));
}

#define REGISTRY_TEMPLATE \
    "{\"issuers\":[" \
    " {\"id\":\"brixham-trust\",\"keys\":[" \
    "   {\"kid\":\"bt-2026\",\"pem\":PEM:0}," \
    "   {\"kid\":\"bt-ec\",\"file\":\"keys/ec.pem\"}]}," \
    " {\"id\":\"other-trust\",\"keys\":[{\"kid\":\"ot-1\",\"pem\":PEM:2}]}]," \
    " \"revoked\":[\"revoked-1\",\"revoked-2\"]}"

static int group_setup(void **state)
{
    pds_error_t err;
    char *text;

    (void)state;
    if (pds_test_keypair(&keys[K_ED], EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 0)
        || pds_test_keypair(&keys[K_EC], EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), 0)
        || pds_test_keypair(&keys[K_OTHER], EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 0)
        || pds_test_keypair(&keys[K_P384], EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), 0))
        return -1;
    ERR_clear_error();
    if (apr_pool_create(&global_pool, NULL) != APR_SUCCESS)
        return -1;
    strcpy(tmpdir, "/tmp/pds-test-artefact-XXXXXX");
    if (mkdtemp(tmpdir) == NULL
        || apr_dir_make(apr_pstrcat(global_pool, tmpdir, "/keys", NULL),
                        APR_FPROT_OS_DEFAULT, global_pool) != APR_SUCCESS)
        return -1;
    if (write_in_tmpdir("/keys/ec.pem", keys[K_EC].pub)
        || write_in_tmpdir("/keys/ec-priv.pem", keys[K_EC].priv)
        || write_in_tmpdir("/keys/p384.pem", keys[K_P384].pub))
        return -1;
    text = fill(global_pool, REGISTRY_TEMPLATE);
    registry_path = apr_pstrcat(global_pool, tmpdir, "/registry.json", NULL);
    if (text == NULL || pds_test_write_file(global_pool, registry_path, text, strlen(text)))
        return -1;
    pds_error_clear(&err);
    if (pds_trust_registry_load_file(&registry, global_pool, registry_path, &err)
        != APR_SUCCESS) {
        fprintf(stderr, "loading the test registry: %s: %s\n", err.code, err.text);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    static const char *const files[] = {
        "/keys/ec.pem", "/keys/ec-priv.pem", "/keys/p384.pem", "/registry.json",
        "/big.json", "/keys", ""
    };
    size_t i;
    int k;

    (void)state;
    if (tmpdir[0] != '\0') {
        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            (void)remove(apr_pstrcat(global_pool, tmpdir, files[i], NULL));
    }
    apr_pool_destroy(global_pool);
    for (k = 0; k < K_COUNT; k++)
        pds_test_keypair_free(&keys[k]);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static pds_key_t *private_key(apr_pool_t *p, int k)
{
    return pds_test_load_key(p, keys[k].priv);
}

/* Every member filled. */
static json_t *base_claims(void)
{
    return pds_test_json("{\"iss\":\"brixham-trust\",\"jti\":\"art-2026.0001:x_y\","
                   "\"sub\":\"alice-1\",\"org\":\"torbay-clinic\",\"purpose\":\"care\","
                   "\"fields\":[\"name.given\",\"contacts[*].phone\",\"dob\"],"
                   "\"iat\":1699999940,\"nbf\":1699999950,\"exp\":1700003540,"
                   "\"agreement\":\"care-2026\"}");
}

#define DEFAULT_HEADER "{\"kid\":\"bt-2026\",\"typ\":\"pds-consent+jws\"}"

/* Signs claims (stolen) with key k; header NULL for DEFAULT_HEADER. */
static char *mint(apr_pool_t *p, int k, const char *header, json_t *claims)
{
    json_t *h = pds_test_json(header != NULL ? header : DEFAULT_HEADER);
    char *token = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_jws_sign(&token, p, private_key(p, k), h, claims, &err) != APR_SUCCESS)
        fail_msg("signing: %s: %s", err.code, err.text);
    json_decref(h);
    json_decref(claims);
    assert_non_null(token);
    return token;
}

/* base_claims() with one member set (value JSON text) or, value NULL, removed. */
static json_t *claims_with(const char *name, const char *value)
{
    json_t *c = base_claims();

    if (value == NULL)
        assert_int_equal(json_object_del(c, name), 0);
    else
        assert_int_equal(json_object_set_new(c, name, json_loads(value,
                                             JSON_DECODE_ANY, NULL)), 0);
    return c;
}

static pds_artefact_expect_t base_expect(void)
{
    pds_artefact_expect_t e;

    e.subject = "alice-1";
    e.organisation = "torbay-clinic";
    e.purpose = "care";
    e.agreement = "care-2026";
    e.now = apr_time_from_sec(NOW) + 999999;   /* the sub-second part is ignored */
    e.clock_skew = 60;
    e.max_lifetime = 86400;
    return e;
}

/* Checks token; returns "" when accepted, else the error code, with err
 * copied to *perr when given. Holds the invariants of every call: on failure
 * no artefact, an error with our source and a text; on success no error; the
 * OpenSSL error queue empty either way. */
static const char *check_code(apr_pool_t *p, const pds_trust_registry_t *reg,
                              const char *token, apr_size_t len,
                              const pds_artefact_expect_t *e, pds_artefact_t **pout,
                              pds_error_t *perr)
{
    pds_artefact_t *art = (pds_artefact_t *)&art;   /* must be set */
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_artefact_check(&art, p, reg, token, len, e, &err);
    assert_int_equal(ERR_peek_error(), 0);
    if (perr != NULL)
        *perr = err;
    if (rv == APR_SUCCESS) {
        assert_false(pds_error_is_set(&err));
        assert_non_null(art);
        if (pout != NULL)
            *pout = art;
        return "";
    }
    assert_null(art);
    assert_true(pds_error_is_set(&err));
    assert_string_equal(err.source, SOURCE);
    assert_true(err.text[0] != '\0');
    return apr_pstrdup(p, err.code);
}

/* Expects code (and, if given, text containing mention). */
static void expect_code_e(apr_pool_t *p, const char *token,
                          const pds_artefact_expect_t *e, const char *code,
                          const char *mention, const char *why)
{
    pds_error_t err;
    const char *got = check_code(p, registry, token, strlen(token), e, NULL, &err);

    if (strcmp(got, code) != 0)
        fail_msg("%s: expected %s, got %s (%s)", why, code[0] ? code : "success",
                 got[0] ? got : "success", err.text);
    if (mention != NULL && strstr(err.text, mention) == NULL)
        fail_msg("%s: the text does not mention '%s': %s", why, mention, err.text);
}

static void expect_code(apr_pool_t *p, const char *token, const char *code,
                        const char *mention, const char *why)
{
    pds_artefact_expect_t e = base_expect();

    expect_code_e(p, token, &e, code, mention, why);
}

/* expect_code() for a token signed with the Ed25519 key whose claims are the
 * base ones with name set to value (claims_with()). */
static void expect_claim(apr_pool_t *p, const char *name, const char *value,
                         const char *code, const char *mention, const char *why)
{
    expect_code(p, mint(p, K_ED, NULL, claims_with(name, value)), code, mention, why);
}

static char *b64(apr_pool_t *p, const char *text)
{
    return pds_base64url_encode(p, (const unsigned char *)text, strlen(text));
}

/* ---- accepted ------------------------------------------------------------- */

static void test_valid_full(void **state)
{
    apr_pool_t *p = *state;
    pds_artefact_expect_t e = base_expect();
    char *token = mint(p, K_ED, NULL, base_claims());
    pds_artefact_t *art = NULL;

    assert_string_equal(check_code(p, registry, token, strlen(token), &e, &art, NULL), "");
    assert_string_equal(art->id, "art-2026.0001:x_y");
    assert_string_equal(art->issuer, "brixham-trust");
    assert_string_equal(art->kid, "bt-2026");
    assert_string_equal(art->subject, "alice-1");
    assert_string_equal(art->organisation, "torbay-clinic");
    assert_string_equal(art->purpose, "care");
    assert_string_equal(art->agreement, "care-2026");
    assert_int_equal(art->issued, apr_time_from_sec(1699999940));
    assert_int_equal(art->not_before, apr_time_from_sec(1699999950));
    assert_int_equal(art->expires, apr_time_from_sec(1700003540));
    assert_non_null(art->field_paths);
    assert_int_equal(art->field_paths->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(art->field_paths, 0, const char *), "name.given");
    assert_string_equal(APR_ARRAY_IDX(art->field_paths, 1, const char *), "contacts[*].phone");
    assert_string_equal(APR_ARRAY_IDX(art->field_paths, 2, const char *), "dob");
    assert_int_equal(pds_fieldset_count(art->fields), 3);
    assert_true(pds_fieldset_covers(art->fields, "name.given"));
    assert_true(pds_fieldset_covers(art->fields, "dob"));
    assert_false(pds_fieldset_covers(art->fields, "name.family"));

    /* No typ, no nbf, no agreement: all optional. The artefact's agreement is
     * NULL, and the caller's expected agreement is then not a condition. */
    {
        json_t *c = base_claims();

        assert_int_equal(json_object_del(c, "nbf"), 0);
        assert_int_equal(json_object_del(c, "agreement"), 0);
        token = mint(p, K_ED, "{\"kid\":\"bt-2026\"}", c);
        art = NULL;
        assert_string_equal(check_code(p, registry, token, strlen(token), &e, &art, NULL), "");
        assert_null(art->agreement);
        assert_int_equal(art->not_before, 0);
        e.agreement = NULL;
        assert_string_equal(check_code(p, registry, token, strlen(token), &e, NULL, NULL), "");
    }
}

static void test_valid_ec_key_from_file(void **state)
{
    apr_pool_t *p = *state;
    pds_artefact_expect_t e = base_expect();
    char *token = mint(p, K_EC, "{\"kid\":\"bt-ec\",\"typ\":\"pds-consent+jws\"}",
                       base_claims());
    pds_artefact_t *art = NULL;
    unsigned char *hdr;
    apr_size_t hlen;
    char *h = pds_test_part(p, token, 0);

    assert_int_equal(pds_base64url_decode(&hdr, &hlen, p, h, strlen(h)), APR_SUCCESS);
    assert_non_null(strstr((char *)hdr, "\"alg\":\"ES256\""));
    assert_string_equal(check_code(p, registry, token, strlen(token), &e, &art, NULL), "");
    assert_string_equal(art->kid, "bt-ec");
    /* The length given counts, not a NUL: trailing bytes are not read. */
    {
        char *longer = apr_pstrcat(p, token, "garbage", NULL);
        assert_string_equal(check_code(p, registry, longer, strlen(token), &e, NULL, NULL), "");
    }
}

/* ---- 1. artefact-malformed ------------------------------------------------ */

static void test_missing_claims(void **state)
{
    static const char *const required[] = {
        "iss", "jti", "sub", "org", "purpose", "fields", "iat", "exp"
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        char *token = mint(p, K_ED, NULL, claims_with(required[i], NULL));
        char *mention = apr_psprintf(p, "\"%s\"", required[i]);

        expect_code(p, token, "artefact-malformed", mention, required[i]);
    }
}

static void test_bad_claim_types(void **state)
{
    static const struct { const char *name, *value, *mention; } v[] = {
        { "iss", "7", "\"iss\"" },
        { "iss", "\"\"", "\"iss\"" },
        { "sub", "null", "\"sub\"" },
        { "sub", "\"\"", "\"sub\"" },
        { "org", "[\"torbay-clinic\"]", "\"org\"" },
        { "purpose", "{}", "\"purpose\"" },
        { "agreement", "5", "\"agreement\"" },
        { "agreement", "\"\"", "\"agreement\"" },
        { "iat", "\"1699999940\"", "\"iat\"" },
        { "iat", "1699999940.5", "\"iat\"" },
        { "iat", "-1", "\"iat\"" },
        { "nbf", "true", "\"nbf\"" },
        { "exp", "1700003540.0", "\"exp\"" },
        { "exp", "253402300800", "\"exp\"" },
        { "exp", "9223372036854775807", "\"exp\"" },
        { "fields", "[]", "\"fields\"" },
        { "fields", "\"name.given\"", "\"fields\"" },
        { "fields", "{\"name\":1}", "\"fields\"" },
        { "fields", "[\"name\",1]", "\"fields\"[1]" },
        { "jti", "42", "\"jti\"" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *token = mint(p, K_ED, NULL, claims_with(v[i].name, v[i].value));

        expect_code(p, token, "artefact-malformed", v[i].mention,
                    apr_psprintf(p, "%s = %s", v[i].name, v[i].value));
    }
    /* The largest time allowed is accepted (with no lifetime limit). */
    {
        pds_artefact_expect_t e = base_expect();
        char *token = mint(p, K_ED, NULL, claims_with("exp", "253402300799"));

        e.max_lifetime = 0;
        expect_code_e(p, token, &e, "", NULL, "exp at the end of 9999");
    }
}

static void test_bad_jti(void **state)
{
    char long_id[132];
    const char *bad[] = { "\"\"", "\"a b\"", "\"a/b\"", "\"caf\\u00e9\"", "\"x\\ny\"",
                          "\"a+b\"", long_id };
    apr_pool_t *p = *state;
    size_t i;

    /* 129 characters: one too many; 128 is fine. */
    long_id[0] = '"';
    memset(long_id + 1, 'j', 129);
    long_id[130] = '"';
    long_id[131] = '\0';
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *token = mint(p, K_ED, NULL, claims_with("jti", bad[i]));

        expect_code(p, token, "artefact-malformed", "\"jti\"", bad[i]);
    }
    long_id[129] = '"';
    long_id[130] = '\0';
    expect_claim(p, "jti", long_id, "", NULL, "a 128-character jti");
}

static void test_bad_field_path(void **state)
{
    static const char *const bad[] = {
        "[\"name..given\"]", "[\"\"]", "[\"name.given\",\"a[0]\"]", "[\"a b\"]",
        "[\"name.\"]", "[\"[*\"]"
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *token = mint(p, K_ED, NULL, claims_with("fields", bad[i]));

        expect_code(p, token, "artefact-malformed", "is not a field path", bad[i]);
    }
}

static void test_bad_header(void **state)
{
    apr_pool_t *p = *state;

    expect_code(p, mint(p, K_ED, "{\"typ\":\"pds-consent+jws\"}", base_claims()),
                "artefact-malformed", "\"kid\"", "no kid");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"\"}", base_claims()),
                "artefact-malformed", "\"kid\"", "empty kid");
    expect_code(p, mint(p, K_ED, "{\"kid\":7}", base_claims()),
                "artefact-malformed", "kid", "number kid");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"bt-2026\",\"typ\":\"JWT\"}", base_claims()),
                "artefact-malformed", "\"typ\"", "typ JWT");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"bt-2026\",\"typ\":\"PDS-CONSENT+JWS\"}",
                        base_claims()),
                "artefact-malformed", "\"typ\"", "typ in capitals");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"bt-2026\",\"typ\":1}", base_claims()),
                "artefact-malformed", "\"typ\"", "number typ");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"bt-2026\",\"crit\":[\"exp\"]}", base_claims()),
                "artefact-malformed", "crit", "crit");
}

static void test_not_a_jws(void **state)
{
    static const char *const bad[] = {
        "", "garbage", "a.b", "a.b.c.d", "e30.e30.", "W10.e30.", "e30.W10.",
        "eyJhbGciOiJFZERTQSIsImtpZCI6ImJ0LTIwMjYifQ.bm90IGpzb24.AAAA",
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_code(p, bad[i], "artefact-malformed", "not a compact JWS", bad[i]);

    /* jansson's "near '<token>'" is not passed on: it is the client's text. */
    {
        pds_artefact_expect_t e = base_expect();
        char *token = apr_pstrcat(p, b64(p, "{\"alg\":\"EdDSA\",\"kid\":\"bt-2026\"}"), ".",
                                  b64(p, "{\"sub\":secretsecretsecretsecretsecret}"),
                                  ".AAAA", NULL);
        pds_error_t err;

        assert_string_equal(check_code(p, registry, token, strlen(token), &e, NULL, &err),
                            "artefact-malformed");
        assert_non_null(strstr(err.text, "not valid JSON"));
        assert_null(strstr(err.text, "secret"));
    }
}

/* A valid signed artefact padded (an extra claim) to about size bytes. */
static char *padded(apr_pool_t *p, apr_size_t size)
{
    json_t *c = base_claims();
    apr_size_t pad = size * 3 / 4 - 600;
    char *fill = apr_palloc(p, pad + 1);

    memset(fill, 'x', pad);
    fill[pad] = '\0';
    assert_int_equal(json_object_set_new(c, "note", json_string(fill)), 0);
    return mint(p, K_ED, NULL, c);
}

static void test_oversize(void **state)
{
    apr_pool_t *p = *state;
    pds_artefact_expect_t e = base_expect();
    char *token = padded(p, 16 * 1024);
    apr_size_t n = strlen(token);
    pds_error_t err;

    /* Near the limit and signed: accepted; over it, refused before parsing. */
    assert_true(n > 15 * 1024 && n <= 16 * 1024);
    assert_string_equal(check_code(p, registry, token, n, &e, NULL, NULL), "");
    token = padded(p, 17 * 1024);
    assert_true(strlen(token) > 16 * 1024);
    assert_string_equal(check_code(p, registry, token, strlen(token), &e, NULL, &err),
                        "artefact-malformed");
    assert_non_null(strstr(err.text, "16384"));
    /* One byte over is enough (the length given counts). */
    assert_string_equal(check_code(p, registry, token, 16 * 1024 + 1, &e, NULL, &err),
                        "artefact-malformed");
    assert_non_null(strstr(err.text, "16384"));
}

/* Syntax comes first: a malformed artefact from an unknown issuer, with a
 * bad signature, is malformed. */
static void test_malformed_first(void **state)
{
    apr_pool_t *p = *state;
    json_t *c = claims_with("iss", "\"nobody\"");
    char *token;

    assert_int_equal(json_object_del(c, "exp"), 0);
    token = mint(p, K_OTHER, NULL, c);
    expect_code(p, token, "artefact-malformed", "\"exp\"", "malformed and unknown");
}

/* ---- 2. artefact-unknown-issuer ------------------------------------------- */

static void test_unknown_issuer(void **state)
{
    apr_pool_t *p = *state;

    expect_claim(p, "iss", "\"torquay-trust\"",
                 "artefact-unknown-issuer", "torquay-trust", "unknown iss");
    expect_claim(p, "iss", "\"Brixham-Trust\"",
                 "artefact-unknown-issuer", "Brixham-Trust", "iss in other case");
    expect_code(p, mint(p, K_ED, "{\"kid\":\"bt-2027\"}", base_claims()),
                "artefact-unknown-issuer", "bt-2027", "unknown kid");
    /* A key the registry holds, but for another issuer. */
    expect_code(p, mint(p, K_OTHER, "{\"kid\":\"ot-1\"}", base_claims()),
                "artefact-unknown-issuer", "ot-1", "another issuer's kid");
    /* That other issuer's own artefact is fine. */
    {
        pds_artefact_expect_t e = base_expect();
        pds_artefact_t *art = NULL;
        char *token = mint(p, K_OTHER, "{\"kid\":\"ot-1\"}",
                           claims_with("iss", "\"other-trust\""));

        assert_string_equal(check_code(p, registry, token, strlen(token), &e, &art, NULL), "");
        assert_string_equal(art->issuer, "other-trust");
    }
    /* An unknown issuer with an invalid signature is still unknown. */
    {
        char *token = mint(p, K_ED, NULL, claims_with("iss", "\"torquay-trust\""));
        token = apr_pstrcat(p, pds_test_part(p, token, 0), ".", pds_test_part(p, token, 1),
                            ".AAAA", NULL);
        expect_code(p, token, "artefact-unknown-issuer", NULL, "unknown and unsigned");
    }
}

/* ---- 3. artefact-bad-signature -------------------------------------------- */

static void test_bad_signature(void **state)
{
    apr_pool_t *p = *state;
    char *token = mint(p, K_ED, NULL, base_claims());
    char *h = pds_test_part(p, token, 0), *b = pds_test_part(p, token, 1);
    char *s = pds_test_part(p, token, 2);
    char *text, *bad;
    json_t *c = base_claims();

    /* Another payload (a wider release) under the original signature. */
    assert_int_equal(json_object_set_new(c, "fields", pds_test_json("[\"name\",\"nhs_number\"]")), 0);
    text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    assert_non_null(text);
    bad = apr_pstrcat(p, h, ".", b64(p, text), ".", s, NULL);
    free(text);
    expect_code(p, bad, "artefact-bad-signature", "bt-2026", "tampered payload");

    /* A signature by another key under our kid. */
    expect_code(p, mint(p, K_OTHER, NULL, base_claims()), "artefact-bad-signature",
                NULL, "another key");
    /* The EC key's signature presented under the Ed25519 kid: alg mismatch. */
    expect_code(p, mint(p, K_EC, NULL, base_claims()), "artefact-bad-signature",
                "ES256", "ES256 under an EdDSA kid");
    /* No signature, an empty signature, a signature cut short. */
    expect_code(p, apr_pstrcat(p, h, ".", b, ".", NULL), "artefact-bad-signature", NULL,
                "empty signature");
    expect_code(p, apr_pstrcat(p, h, ".", b, ".", apr_pstrndup(p, s, 40), NULL),
                "artefact-bad-signature", NULL, "short signature");
}

/* Header algorithms the key does not pin: refused before any signature
 * check, whatever the signature part holds. */
static void test_alg_none_and_hmac(void **state)
{
    apr_pool_t *p = *state;
    json_t *c = base_claims();
    char *text = json_dumps(c, JSON_COMPACT);
    char *body, *input, *token;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;

    json_decref(c);
    assert_non_null(text);
    body = b64(p, text);
    free(text);

    /* "none", with an empty signature part, and with a stray one. */
    token = apr_pstrcat(p, b64(p, "{\"alg\":\"none\",\"kid\":\"bt-2026\"}"), ".", body, ".",
                        NULL);
    expect_code(p, token, "artefact-bad-signature", "none", "alg none");
    token = apr_pstrcat(p, token, "AAAA", NULL);
    expect_code(p, token, "artefact-bad-signature", "none", "alg none with a signature");

    /* HS256 keyed with the issuer's public key PEM: the classic confusion. */
    input = apr_pstrcat(p, b64(p, "{\"alg\":\"HS256\",\"kid\":\"bt-2026\",\"typ\":"
                               "\"pds-consent+jws\"}"), ".", body, NULL);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
                              keys[K_ED].pub, strlen(keys[K_ED].pub),
                              (const unsigned char *)input, strlen(input),
                              mac, sizeof(mac), &maclen));
    assert_int_equal(maclen, 32);
    token = apr_pstrcat(p, input, ".", pds_base64url_encode(p, mac, maclen), NULL);
    expect_code(p, token, "artefact-bad-signature", "HS256", "alg HS256");

    /* The right name in the wrong case. */
    token = mint(p, K_ED, NULL, base_claims());
    token = apr_pstrcat(p, b64(p, "{\"alg\":\"eddsa\",\"kid\":\"bt-2026\"}"), ".",
                        pds_test_part(p, token, 1), ".", pds_test_part(p, token, 2),
                        NULL);
    expect_code(p, token, "artefact-bad-signature", NULL, "alg in lower case");
    ERR_clear_error();
}

/* ---- 4. times ------------------------------------------------------------- */

static void test_times(void **state)
{
    static const struct {
        long long iat, nbf, exp;     /* nbf < 0: absent */
        int skew, max_lifetime;
        const char *code;
    } v[] = {
        /* exp, with a skew of 60 */
        { NOW - 100, -1, NOW - 60, 60, 86400, "" },
        { NOW - 100, -1, NOW - 61, 60, 86400, "artefact-expired" },
        { NOW - 100, -1, NOW - 1, 0, 86400, "artefact-expired" },
        { NOW - 100, -1, NOW, 0, 86400, "" },
        { NOW - 100, -1, NOW - 1, -30, 86400, "artefact-expired" },
        { 0, -1, 0, 60, 0, "artefact-expired" },
        /* nbf */
        { NOW - 100, NOW + 60, NOW + 600, 60, 86400, "" },
        { NOW - 100, NOW + 61, NOW + 600, 60, 86400, "artefact-not-yet-valid" },
        { NOW - 100, NOW + 1, NOW + 600, 0, 86400, "artefact-not-yet-valid" },
        { NOW - 100, 0, NOW + 600, 0, 86400, "" },
        /* iat */
        { NOW + 60, -1, NOW + 600, 60, 86400, "" },
        { NOW + 61, -1, NOW + 600, 60, 86400, "artefact-not-yet-valid" },
        { NOW + 1, -1, NOW + 600, 0, 86400, "artefact-not-yet-valid" },
        { 253402300799LL, -1, 253402300799LL, 60, 0, "artefact-not-yet-valid" },
        /* exp - iat against max_lifetime; 0 is no limit */
        { NOW - 100, -1, NOW - 100 + 86400, 60, 86400, "" },
        { NOW - 100, -1, NOW - 100 + 86401, 60, 86400, "artefact-too-long-lived" },
        { 0, -1, NOW + 10, 60, 86400, "artefact-too-long-lived" },
        { 0, -1, 253402300799LL, 60, 86400, "artefact-too-long-lived" },
        { 0, -1, 253402300799LL, 60, 0, "" },
        { NOW - 100, -1, NOW - 100 + 86401, 60, -5, "" },
        /* expired wins over too long lived */
        { 0, -1, NOW - 3600, 60, 60, "artefact-expired" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        pds_artefact_expect_t e = base_expect();
        json_t *c = base_claims();
        char *token;

        assert_int_equal(json_object_set_new(c, "iat", json_integer(v[i].iat)), 0);
        assert_int_equal(json_object_set_new(c, "exp", json_integer(v[i].exp)), 0);
        if (v[i].nbf < 0)
            assert_int_equal(json_object_del(c, "nbf"), 0);
        else
            assert_int_equal(json_object_set_new(c, "nbf", json_integer(v[i].nbf)), 0);
        e.clock_skew = v[i].skew;
        e.max_lifetime = v[i].max_lifetime;
        token = mint(p, K_ED, NULL, c);
        expect_code_e(p, token, &e, v[i].code, NULL,
                      apr_psprintf(p, "time case %d", (int)i));
    }
}

static void test_times_texts(void **state)
{
    apr_pool_t *p = *state;

    expect_claim(p, "exp", "1699990000",
                 "artefact-expired", "10000 seconds ago", "expired");
    expect_claim(p, "nbf", "1700000500", "artefact-not-yet-valid", "\"nbf\"", "nbf");
    expect_claim(p, "iat", "1700000500", "artefact-not-yet-valid", "\"iat\"", "iat");
    expect_claim(p, "exp", "1700100000", "artefact-too-long-lived", "86400", "too long");
}

/* A bad signature is found before the times: an expired forgery is a forgery. */
static void test_signature_before_times(void **state)
{
    apr_pool_t *p = *state;
    char *token = mint(p, K_OTHER, NULL, claims_with("exp", "1600000000"));

    expect_code(p, token, "artefact-bad-signature", NULL, "expired forgery");
}

/* ---- 5. artefact-wrong-binding -------------------------------------------- */

static void test_wrong_binding(void **state)
{
    static const struct { const char *name, *value; } v[] = {
        { "sub", "\"bob-2\"" },
        { "sub", "\"Alice-1\"" },
        { "sub", "\"alice-1 \"" },
        { "org", "\"paignton-lab\"" },
        { "purpose", "\"research\"" },
        { "agreement", "\"care-2025\"" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *token = mint(p, K_ED, NULL, claims_with(v[i].name, v[i].value));

        expect_code(p, token, "artefact-wrong-binding",
                    apr_psprintf(p, "\"%s\" claim", v[i].name),
                    apr_psprintf(p, "%s = %s", v[i].name, v[i].value));
    }
}

static void test_wrong_binding_expectations(void **state)
{
    apr_pool_t *p = *state;
    char *token = mint(p, K_ED, NULL, base_claims());
    pds_artefact_expect_t e = base_expect();

    e.subject = "bob-2";
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"sub\"", "other subject");
    e = base_expect();
    e.organisation = "paignton-lab";
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"org\"", "other org");
    e = base_expect();
    e.purpose = "research";
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"purpose\"", "other purpose");
    e = base_expect();
    e.agreement = "research-2026";
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"agreement\"",
                  "agreement mismatch");
    /* The artefact names an agreement, the request applies none. */
    e = base_expect();
    e.agreement = NULL;
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"agreement\"",
                  "agreement named, none applied");
    /* The subject is checked before the purpose: the first difference is named. */
    e = base_expect();
    e.subject = "bob-2";
    e.purpose = "research";
    expect_code_e(p, token, &e, "artefact-wrong-binding", "\"sub\"", "two differences");
}

/* What a client put in its artefact reaches an error text escaped and cut
 * to 64 characters. */
static void test_wrong_binding_text_escaped(void **state)
{
    apr_pool_t *p = *state;
    char *longsub = apr_palloc(p, 301);
    pds_error_t err;
    pds_artefact_expect_t e = base_expect();
    json_t *c = base_claims();
    char *token, *run;

    memset(longsub, 'z', 300);
    longsub[300] = '\0';
    assert_int_equal(json_object_set_new(c, "sub", json_string(longsub)), 0);
    token = mint(p, K_ED, NULL, c);
    assert_string_equal(check_code(p, registry, token, strlen(token), &e, NULL, &err),
                        "artefact-wrong-binding");
    run = strstr(err.text, "zzz");
    assert_non_null(run);
    assert_int_equal(strspn(run, "z"), 64);
    assert_memory_equal(run + 64, "...", 3);

    c = base_claims();
    assert_int_equal(json_object_set_new(c, "org", json_string("evil\n\x1b[31m\"\\")), 0);
    token = mint(p, K_ED, NULL, c);
    assert_string_equal(check_code(p, registry, token, strlen(token), &e, NULL, &err),
                        "artefact-wrong-binding");
    assert_non_null(strstr(err.text, "evil\\x0a\\x1b[31m\\\"\\\\"));
    assert_null(strchr(err.text, '\n'));
    assert_null(strchr(err.text, '\x1b'));
}

/* ---- 6. artefact-revoked -------------------------------------------------- */

static void test_revoked(void **state)
{
    apr_pool_t *p = *state;
    pds_artefact_expect_t e = base_expect();
    char *token = mint(p, K_ED, NULL, claims_with("jti", "\"revoked-1\""));

    expect_code(p, token, "artefact-revoked", "revoked-1", "revoked-1");
    expect_claim(p, "jti", "\"revoked-2\"", "artefact-revoked", "revoked-2", "revoked-2");
    /* Last in order: a revoked artefact for another subject is a wrong binding. */
    e.subject = "bob-2";
    expect_code_e(p, token, &e, "artefact-wrong-binding", NULL, "revoked, other subject");
    /* Ids compare exactly. */
    expect_claim(p, "jti", "\"revoked-10\"", "", NULL, "revoked-10 is not revoked-1");
}

static void test_revocation_lookup(void **state)
{
    (void)state;
    assert_true(pds_trust_registry_is_revoked(registry, "revoked-1"));
    assert_true(pds_trust_registry_is_revoked(registry, "revoked-2"));
    assert_false(pds_trust_registry_is_revoked(registry, "revoked-3"));
    assert_false(pds_trust_registry_is_revoked(registry, "Revoked-1"));
    assert_false(pds_trust_registry_is_revoked(registry, "revoked-"));
    assert_false(pds_trust_registry_is_revoked(registry, ""));
    assert_false(pds_trust_registry_is_revoked(registry, NULL));
    assert_false(pds_trust_registry_is_revoked(NULL, "revoked-1"));
    assert_int_equal(pds_trust_registry_issuer_count(registry), 2);
    assert_int_equal(pds_trust_registry_issuer_count(NULL), 0);
}

/* ---- arguments ------------------------------------------------------------ */

static void test_arguments(void **state)
{
    apr_pool_t *p = *state;
    char *token = mint(p, K_ED, NULL, base_claims());
    apr_size_t n = strlen(token);
    pds_artefact_expect_t e = base_expect();
    pds_artefact_t *art;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_not_equal(pds_artefact_check(&art, p, NULL, token, n, &e, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_null(art);
    pds_error_clear(&err);
    assert_int_not_equal(pds_artefact_check(&art, p, registry, token, n, NULL, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    pds_error_clear(&err);
    assert_int_not_equal(pds_artefact_check(&art, p, registry, NULL, 0, &e, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    /* No expected subject, organisation or purpose is never a pass. */
    e.subject = NULL;
    pds_error_clear(&err);
    assert_int_not_equal(pds_artefact_check(&art, p, registry, token, n, &e, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    e = base_expect();
    e.organisation = NULL;
    assert_int_not_equal(pds_artefact_check(&art, p, registry, token, n, &e, NULL),
                         APR_SUCCESS);
    e = base_expect();
    e.purpose = NULL;
    assert_int_not_equal(pds_artefact_check(&art, p, registry, token, n, &e, NULL),
                         APR_SUCCESS);
    e = base_expect();
    assert_int_not_equal(pds_artefact_check(NULL, p, registry, token, n, &e, NULL),
                         APR_SUCCESS);
    /* The first error wins. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_artefact_check(&art, p, registry, "x", 1, &e, &err),
                         APR_SUCCESS);
    assert_int_not_equal(pds_artefact_check(&art, p, NULL, token, n, &e, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "artefact-malformed");
    /* And the same artefact still passes with everything given. */
    assert_int_equal(pds_artefact_check(&art, p, registry, token, n, &e, NULL), APR_SUCCESS);
    assert_non_null(art);
}

/* ---- the trust registry --------------------------------------------------- */

typedef struct reg_case_t {
    const char *templ;       /* fill() template */
    const char *source;      /* expected err.source */
    const char *mention;     /* expected in err.text */
} reg_case_t;

static void test_registry_errors(void **state)
{
    static const reg_case_t v[] = {
        /* not JSON, not an object, duplicate member names */
        { "", "trust registry", "not valid JSON" },
        { "{\"issuers\":[]", "trust registry", "not valid JSON" },
        { "[]", "trust registry", "JSON object" },
        { "{\"issuers\":[],\"issuers\":[]}", "trust registry", "not valid JSON" },
        /* top level */
        { "{\"issuers\":[],\"revoke\":[]}", "trust registry", "unknown member \"revoke\"" },
        { "{\"issuer\":[]}", "trust registry", "unknown member \"issuer\"" },
        { "{\"revoked\":[]}", "trust registry", "\"issuers\" is missing" },
        { "{\"issuers\":{}}", "issuers", "issuers: must be an array" },
        /* issuers */
        { "{\"issuers\":[\"brixham-trust\"]}", "issuers[0]", "issuers[0]: an issuer is an object" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}],\"name\":\"A\"}]}",
          "issuers[0]", "issuers[0]: unknown member \"name\"" },
        { "{\"issuers\":[{\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]}]}",
          "issuers[0]", "issuers[0]: \"id\" is missing" },
        { "{\"issuers\":[{\"id\":5,\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]}]}",
          "issuers[0]", "\"id\" is not a string" },
        { "{\"issuers\":[{\"id\":\"a b\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]}]}",
          "issuers[0]", "printable" },
        { "{\"issuers\":[{\"id\":\"\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]}]}",
          "issuers[0]", "printable" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]},"
          "{\"id\":\"a\",\"keys\":[{\"kid\":\"k2\",\"pem\":PEM:2}]}]}",
          "issuers[1]", "issuers[1]: issuer \"a\" is listed twice" },
        { "{\"issuers\":[{\"id\":\"a\"}]}", "issuers[0]", "\"keys\" is missing" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[]}]}", "issuers[0]", "non-empty array" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":{\"kid\":\"k\"}}]}", "issuers[0]",
          "non-empty array" },
        /* keys */
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[\"k\"]}]}", "issuers[0].keys[0]",
          "issuers[0].keys[0]: a key is an object" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pen\":PEM:0}]}]}",
          "issuers[0].keys[0]", "issuers[0].keys[0]: unknown member \"pen\"" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"pem\":PEM:0}]}]}",
          "issuers[0].keys[0]", "\"kid\" is missing" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":[],\"pem\":PEM:0}]}]}",
          "issuers[0].keys[0]", "\"kid\" is not a string" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0},"
          "{\"kid\":\"k\",\"pem\":PEM:2}]}]}",
          "issuers[0].keys[1]", "issuers[0].keys[1]: kid \"k\" is given twice" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\"}]}]}",
          "issuers[0].keys[0]", "exactly one of \"pem\"" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0,"
          "\"file\":\"keys/ec.pem\"}]}]}",
          "issuers[0].keys[0]", "exactly one of \"pem\"" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":\"\"}]}]}",
          "issuers[0].keys[0]", "\"pem\" is not a non-empty string" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"file\":7}]}]}",
          "issuers[0].keys[0]", "\"file\" is not a non-empty string" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":\"not a key\"}]}]}",
          "issuers[0].keys[0]", "issuers[0].keys[0]: no PEM public key" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:3}]}]}",
          "issuers[0].keys[0]", "secp384r1" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"file\":\"keys/p384.pem\"}]}]}",
          "issuers[0].keys[0]", "secp384r1" },
        /* private keys, as text or file */
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PRIV:0}]}]}",
          "issuers[0].keys[0]", "issuers[0].keys[0]: kid \"k\" is a private key" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]},"
          "{\"id\":\"b\",\"keys\":[{\"kid\":\"k\",\"file\":\"keys/ec-priv.pem\"}]}]}",
          "issuers[1].keys[0]", "issuers[1].keys[0]: kid \"k\" is a private key" },
        /* files */
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"pem\":PEM:0}]},"
          "{\"id\":\"b\",\"keys\":[{\"kid\":\"k\",\"file\":\"keys/x.pem\"}]}]}",
          "issuers[1].keys[0]", "issuers[1].keys[0]: no such file keys/x.pem" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"file\":\"DIR/keys/x.pem\"}]}]}",
          "issuers[0].keys[0]", "no such file /tmp/pds-test-artefact-" },
        { "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"file\":\"keys\"}]}]}",
          "issuers[0].keys[0]", "issuers[0].keys[0]: " },
        /* revoked */
        { "{\"issuers\":[],\"revoked\":\"art-1\"}", "revoked", "revoked: must be an array" },
        { "{\"issuers\":[],\"revoked\":[\"art-1\",2]}", "revoked[1]",
          "revoked[1]: is not a string" },
        { "{\"issuers\":[],\"revoked\":[null]}", "revoked[0]", "revoked[0]: is not a string" },
        { "{\"issuers\":[],\"revoked\":[\"art 1\"]}", "revoked[0]",
          "revoked[0]: \"art 1\" is not an artefact id" },
        { "{\"issuers\":[],\"revoked\":[\"\"]}", "revoked[0]", "is not an artefact id" },
    };
    apr_pool_t *p = *state;
    const char *base = apr_pstrdup(p, tmpdir);
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *json = fill(p, v[i].templ);
        pds_trust_registry_t *reg = (pds_trust_registry_t *)&reg;
        pds_error_t err;

        assert_non_null(json);
        pds_error_clear(&err);
        if (pds_trust_registry_parse(&reg, p, json, strlen(json), base, &err) == APR_SUCCESS)
            fail_msg("case %d parsed: %s", (int)i, v[i].templ);
        assert_null(reg);
        if (strcmp(err.code, "bad-trust-registry") != 0
            || strcmp(err.source, v[i].source) != 0
            || strstr(err.text, v[i].mention) == NULL)
            fail_msg("case %d %s: got %s [%s] %s", (int)i, v[i].templ, err.code,
                     err.source, err.text);
        assert_int_equal(ERR_peek_error(), 0);
    }
}

static void test_registry_parse_ok(void **state)
{
    apr_pool_t *p = *state;
    pds_trust_registry_t *reg = NULL;
    pds_error_t err;
    char *json;

    /* An absolute file path, whatever the base directory; no "revoked". */
    json = fill(p, "{\"issuers\":[{\"id\":\"https://trust.example/\",\"keys\":["
                   "{\"kid\":\"a\",\"file\":\"DIR/keys/ec.pem\"},"
                   "{\"kid\":\"b\",\"pem\":PEM:0}]}]}");
    pds_error_clear(&err);
    if (pds_trust_registry_parse(&reg, p, json, strlen(json), "/nonexistent", &err)
        != APR_SUCCESS)
        fail_msg("%s: %s", err.code, err.text);
    assert_int_equal(pds_trust_registry_issuer_count(reg), 1);
    assert_false(pds_trust_registry_is_revoked(reg, "revoked-1"));
    /* The length counts: the text need not end with a NUL. */
    reg = NULL;
    json = fill(p, "{\"issuers\":[]}trailing");
    assert_int_equal(pds_trust_registry_parse(&reg, p, json, strlen(json) - 8, NULL, NULL),
                     APR_SUCCESS);
    /* No issuers trusts no one: every artefact is from an unknown issuer. */
    assert_int_equal(pds_trust_registry_issuer_count(reg), 0);
    {
        pds_artefact_expect_t e = base_expect();
        char *token = mint(p, K_ED, NULL, base_claims());

        assert_string_equal(check_code(p, reg, token, strlen(token), &e, NULL, &err),
                            "artefact-unknown-issuer");
    }
    /* A relative file with no base directory cannot be found. */
    json = fill(p, "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\",\"file\":\"keys/ec.pem\"}]}]}");
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_parse(&reg, p, json, strlen(json), NULL, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-trust-registry");
    assert_non_null(strstr(err.text, "absolute path"));
    /* Bad arguments. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_parse(&reg, p, NULL, 5, NULL, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_int_not_equal(pds_trust_registry_parse(NULL, p, "{}", 2, NULL, NULL), APR_SUCCESS);
}

static void test_registry_load_file(void **state)
{
    apr_pool_t *p = *state;
    pds_trust_registry_t *reg = (pds_trust_registry_t *)&reg;
    const char *big_path = apr_pstrcat(p, tmpdir, "/big.json", NULL);
    const char *missing = apr_pstrcat(p, tmpdir, "/nothing.json", NULL);
    apr_size_t n = 4 * 1024 * 1024 + 1;
    char *big;
    pds_error_t err;

    /* The registry of the other tests, loaded again: the "file" key is read
     * relative to the registry's directory. */
    pds_error_clear(&err);
    assert_int_equal(pds_trust_registry_load_file(&reg, p, registry_path, &err), APR_SUCCESS);
    assert_int_equal(pds_trust_registry_issuer_count(reg), 2);
    assert_true(pds_trust_registry_is_revoked(reg, "revoked-2"));

    /* Missing: names the file. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_load_file(&reg, p, missing, &err), APR_SUCCESS);
    assert_null(reg);
    assert_string_equal(err.code, "bad-trust-registry");
    assert_string_equal(err.source, missing);
    assert_non_null(strstr(err.text, "cannot open"));

    /* Over 4 MiB: refused, though it starts with a valid registry. */
    big = apr_palloc(p, n);
    memset(big, ' ', n);
    memcpy(big, "{\"issuers\":[]}", 14);
    assert_int_equal(pds_test_write_file(p, big_path, big, n), 0);
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_load_file(&reg, p, big_path, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-trust-registry");
    assert_non_null(strstr(err.text, "4194304"));
    /* One byte less is fine. */
    assert_int_equal(pds_test_write_file(p, big_path, big, n - 1), 0);
    pds_error_clear(&err);
    assert_int_equal(pds_trust_registry_load_file(&reg, p, big_path, &err), APR_SUCCESS);
    assert_int_equal(pds_trust_registry_issuer_count(reg), 0);
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_parse(&reg, p, big, n, NULL, &err), APR_SUCCESS);
    assert_non_null(strstr(err.text, "4194304"));

    /* A member error in a file: the source is the file, the text the member. */
    {
        char *json = fill(p, "{\"issuers\":[{\"id\":\"a\",\"keys\":[{\"kid\":\"k\","
                             "\"file\":\"keys/x.pem\"}]}]}");
        assert_int_equal(pds_test_write_file(p, big_path, json, strlen(json)), 0);
        pds_error_clear(&err);
        assert_int_not_equal(pds_trust_registry_load_file(&reg, p, big_path, &err),
                             APR_SUCCESS);
        assert_string_equal(err.code, "bad-trust-registry");
        assert_string_equal(err.source, big_path);
        assert_string_equal(err.text, "issuers[0].keys[0]: no such file keys/x.pem");
    }
    /* Not JSON in a file: the text gives line and column. */
    {
        static const char bad_json[] = "{\n  \"issuers\": [,]\n}\n";
        assert_int_equal(pds_test_write_file(p, big_path, bad_json, strlen(bad_json)), 0);
    }
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_load_file(&reg, p, big_path, &err), APR_SUCCESS);
    assert_non_null(strstr(err.text, "line 2"));
    /* A directory is not a registry. */
    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_load_file(&reg, p, tmpdir, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-trust-registry");

    pds_error_clear(&err);
    assert_int_not_equal(pds_trust_registry_load_file(&reg, p, NULL, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
#define T(f) pds_test_with_pool(f)
    const struct CMUnitTest tests[] = {
        T(test_valid_full),
        T(test_valid_ec_key_from_file),
        T(test_missing_claims),
        T(test_bad_claim_types),
        T(test_bad_jti),
        T(test_bad_field_path),
        T(test_bad_header),
        T(test_not_a_jws),
        T(test_oversize),
        T(test_malformed_first),
        T(test_unknown_issuer),
        T(test_bad_signature),
        T(test_alg_none_and_hmac),
        T(test_times),
        T(test_times_texts),
        T(test_signature_before_times),
        T(test_wrong_binding),
        T(test_wrong_binding_expectations),
        T(test_wrong_binding_text_escaped),
        T(test_revoked),
        T(test_revocation_lookup),
        T(test_arguments),
        T(test_registry_errors),
        T(test_registry_parse_ok),
        T(test_registry_load_file),
    };
#undef T

    return pds_test_main(tests, group_setup, group_teardown);
}
