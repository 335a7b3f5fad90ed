/* mod_pds_identity.c: who is calling.
 *
 * Two ways in: a TLS client certificate that mod_ssl verified (matched on
 * subject DN, a subjectAltName or the SHA-256 fingerprint), or a bearer token
 * (compact JWS) verified with the organisation's configured public key. When
 * both are present they must name the same organisation.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_optional.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "mod_ssl.h"

#include "mod_pds_identity.h"
#include "pds_encode.h"

static APR_OPTIONAL_FN_TYPE(ssl_var_lookup) *ssl_var;

void pds_identity_post_config(void)
{
    ssl_var = APR_RETRIEVE_OPTIONAL_FN(ssl_var_lookup);
}

/* Verified tokens, per child process. A caller reuses one token for many
 * requests, and verifying and parsing it is most of a request's CPU. Only a
 * token whose signature verified is remembered, keyed by the SHA-256 of its
 * exact bytes and tied to the server configuration and the identity (key)
 * that verified it, with its parsed form; the claims (exp, nbf, aud, iss,
 * lifetime) are still checked on every request, on that parsed form. The
 * cache lives and dies with the child, so a new configuration starts
 * empty. */
#define TOKEN_CACHE_MAX 4096

/* What an entry is found by: the token and the configuration it was
 * verified under (each virtual host its own entry, so two hosts sharing a
 * token do not replace each other's). */
typedef struct token_key_t {
    unsigned char digest[32];
    const pds_server_conf_t *sc;
} token_key_t;

typedef struct token_verdict_t {
    const pds_organisation_t *org;
    const pds_identity_t *id;
    pds_jws_t *jws;                 /* the token, parsed, in the cache's pool */
} token_verdict_t;

typedef struct token_cache_t {
    apr_pool_t *pool;               /* entries; cleared whole when full */
    apr_hash_t *verified;           /* token_key_t -> token_verdict_t * */
    apr_thread_mutex_t *lock;       /* NULL without threads */
} token_cache_t;

static token_cache_t *token_cache;

void pds_identity_child_init(apr_pool_t *pchild)
{
    token_cache_t *tc = apr_pcalloc(pchild, sizeof(*tc));

    if (apr_pool_create(&tc->pool, pchild) != APR_SUCCESS)
        return;                     /* no cache: every token is verified */
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&tc->lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS)
        return;
#endif
    tc->verified = apr_hash_make(tc->pool);
    token_cache = tc;
}

static int token_key(token_key_t *key, const char *token, const pds_server_conf_t *sc)
{
    memset(key, 0, sizeof(*key));
    key->sc = sc;
    return token_cache != NULL && pds_sha256(key->digest, token, strlen(token));
}

static void cache_lock(void)
{
    if (token_cache->lock)
        apr_thread_mutex_lock(token_cache->lock);
}

static void cache_unlock(void)
{
    if (token_cache->lock)
        apr_thread_mutex_unlock(token_cache->lock);
}

static void token_cache_put(const token_key_t *key, const char *token,
                            const pds_organisation_t *org, const pds_identity_t *id)
{
    token_verdict_t *v;
    pds_error_t err;

    cache_lock();
    if (apr_hash_count(token_cache->verified) >= TOKEN_CACHE_MAX) {
        apr_pool_clear(token_cache->pool);
        token_cache->verified = apr_hash_make(token_cache->pool);
    }
    /* Another thread may have put it meanwhile: the pool holds one copy. */
    if (apr_hash_get(token_cache->verified, key, sizeof(*key)) == NULL) {
        v = apr_pcalloc(token_cache->pool, sizeof(*v));
        v->org = org;
        v->id = id;
        pds_error_clear(&err);
        /* It parsed once already; parsed again into the cache's own pool. */
        if (pds_jws_parse(&v->jws, token_cache->pool, token, strlen(token), &err)
            == APR_SUCCESS)
            apr_hash_set(token_cache->verified,
                         apr_pmemdup(token_cache->pool, key, sizeof(*key)), sizeof(*key), v);
    }
    cache_unlock();
}

static void token_expect(pds_token_expect_t *expect, request_rec *r,
                         const pds_server_conf_t *sc, const pds_identity_t *id)
{
    expect->issuer = id->issuer;
    expect->audience = sc->token_audience;
    expect->now = r->request_time;
    expect->clock_skew = pds_conf_clock_skew(sc);
    expect->max_lifetime = pds_conf_max_lifetime(sc);
}

/* The claims of a token verified earlier under this configuration, checked
 * on its cached parsed form (under the lock: a full cache is cleared under
 * it). Returns 1 with the organisation or a refusal's detail set; 0 when
 * the token is not in the cache. */
static int organisation_by_cached_token(request_rec *r, const pds_server_conf_t *sc,
                                        const token_key_t *key, const char **org,
                                        const char **detail)
{
    const token_verdict_t *v;
    pds_token_expect_t expect;
    pds_error_t err;
    int found = 0;

    cache_lock();
    v = apr_hash_get(token_cache->verified, key, sizeof(*key));
    if (v != NULL) {
        found = 1;
        token_expect(&expect, r, sc, v->id);
        pds_error_clear(&err);
        if (pds_token_check_claims(v->jws, &expect, &err) == APR_SUCCESS)
            *org = v->org->name;
        else
            *detail = apr_psprintf(r->pool, "the bearer token was refused: %s", err.text);
    }
    cache_unlock();
    return found;
}

/* Parsed certificates are kept per connection: parsing a PEM on every request
 * of a keep-alive connection is wasted work. The PEM is kept too and compared,
 * so a renegotiated certificate is never matched on stale facts. */
typedef struct cert_cache_t {
    const char *pem;
    pds_cert_identity_t *identity;
} cert_cache_t;

#define CERT_CACHE_KEY "pds-cert-identity"

static pds_cert_identity_t *client_certificate(request_rec *r)
{
    conn_rec *c = r->connection;
    const char *verify, *pem;
    cert_cache_t *cache = NULL;
    pds_error_t err;

    if (ssl_var == NULL)
        return NULL;
    verify = ssl_var(r->pool, r->server, c, r, (char *)"SSL_CLIENT_VERIFY");
    if (verify == NULL || strcmp(verify, "SUCCESS") != 0)
        return NULL;
    pem = ssl_var(r->pool, r->server, c, r, (char *)"SSL_CLIENT_CERT");
    if (pem == NULL || *pem == '\0')
        return NULL;

    apr_pool_userdata_get((void **)&cache, CERT_CACHE_KEY, c->pool);
    if (cache != NULL && strcmp(cache->pem, pem) == 0)
        return cache->identity;

    cache = apr_pcalloc(c->pool, sizeof(*cache));
    cache->pem = apr_pstrdup(c->pool, pem);
    pds_error_clear(&err);
    if (pds_cert_identity_from_pem(&cache->identity, c->pool, pem, strlen(pem),
                                   &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PDS00010: client certificate "
                      "verified by mod_ssl could not be read: %s", err.text);
        return NULL;
    }
    apr_pool_userdata_set(cache, CERT_CACHE_KEY, NULL, c->pool);
    return cache->identity;
}

static int certificate_matches(const pds_identity_t *id, const pds_cert_identity_t *cert)
{
    int i;

    switch (id->kind) {
    case PDS_ID_CERT_SUBJECT:
        return strcmp(id->value, cert->subject_dn) == 0;
    case PDS_ID_CERT_SHA256:
        return strcmp(id->value, cert->sha256) == 0;
    case PDS_ID_CERT_SAN:
        for (i = 0; cert->sans && i < cert->sans->nelts; i++) {
            const char *san = APR_ARRAY_IDX(cert->sans, i, const char *);
            /* DNS names are case-insensitive; the other kinds compare exactly. */
            if (strncmp(id->value, "DNS:", 4) == 0 ? strcasecmp(id->value, san) == 0
                                                   : strcmp(id->value, san) == 0)
                return 1;
        }
        return 0;
    default:
        return 0;
    }
}

static const char *organisation_by_certificate(const pds_server_conf_t *sc,
                                               const pds_cert_identity_t *cert)
{
    int i, j;

    for (i = 0; i < sc->organisations->nelts; i++) {
        const pds_organisation_t *org = APR_ARRAY_IDX(sc->organisations, i, pds_organisation_t *);
        for (j = 0; j < org->identities->nelts; j++) {
            if (certificate_matches(&APR_ARRAY_IDX(org->identities, j, pds_identity_t), cert))
                return org->name;
        }
    }
    return NULL;
}

/* The bearer token, or NULL when the request carries none. */
static const char *bearer_token(request_rec *r)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");

    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return auth;
}

/* Verifies the token against every key of the organisations whose issuer it
 * names. Returns the organisation or NULL with a detail for the client. */
static const char *organisation_by_token(request_rec *r, const pds_server_conf_t *sc,
                                         const char *token, const char **detail)
{
    pds_jws_t *jws;
    pds_error_t err;
    json_t *iss;
    const char *issuer, *org_name = NULL;
    const char *last_failure = NULL;
    token_key_t key;
    int i, j, issuer_known = 0, have_key;

    have_key = token_key(&key, token, sc);
    if (have_key && organisation_by_cached_token(r, sc, &key, &org_name, detail))
        return org_name;
    pds_error_clear(&err);
    if (pds_jws_parse(&jws, r->pool, token, strlen(token), &err) != APR_SUCCESS) {
        *detail = apr_psprintf(r->pool, "the bearer token is malformed: %s", err.text);
        return NULL;
    }
    iss = json_object_get(pds_jws_payload(jws), "iss");
    issuer = json_is_string(iss) ? json_string_value(iss) : NULL;
    if (issuer == NULL) {
        *detail = "the bearer token has no issuer (iss)";
        return NULL;
    }

    for (i = 0; i < sc->organisations->nelts; i++) {
        const pds_organisation_t *org = APR_ARRAY_IDX(sc->organisations, i, pds_organisation_t *);
        for (j = 0; j < org->identities->nelts; j++) {
            const pds_identity_t *id = &APR_ARRAY_IDX(org->identities, j, pds_identity_t);
            pds_token_expect_t expect;

            if (id->kind != PDS_ID_JWT_KEY || strcmp(id->issuer, issuer) != 0)
                continue;
            issuer_known = 1;
            pds_error_clear(&err);
            if (pds_jws_verify(jws, id->key, &err) != APR_SUCCESS) {
                last_failure = err.text;
                continue;
            }
            if (have_key)
                token_cache_put(&key, token, org, id);
            token_expect(&expect, r, sc, id);
            pds_error_clear(&err);
            if (pds_token_check_claims(jws, &expect, &err) != APR_SUCCESS) {
                *detail = apr_psprintf(r->pool, "the bearer token was refused: %s", err.text);
                return NULL;
            }
            return org->name;
        }
    }
    if (!issuer_known)
        *detail = "the bearer token's issuer is not a known organisation";
    else
        *detail = apr_psprintf(r->pool, "the bearer token does not verify with the "
                               "configured key: %s", last_failure ? last_failure : "no key");
    return NULL;
}

const char *pds_identify(request_rec *r, const pds_server_conf_t *sc,
                         const char **reason, const char **detail)
{
    pds_cert_identity_t *cert = client_certificate(r);
    const char *by_cert = cert ? organisation_by_certificate(sc, cert) : NULL;
    const char *token = bearer_token(r);
    const char *by_token = NULL;

    if (token != NULL) {
        by_token = organisation_by_token(r, sc, token, detail);
        if (by_token == NULL) {
            *reason = "invalid-token";
            return NULL;
        }
    }
    if (by_cert != NULL && by_token != NULL && strcmp(by_cert, by_token) != 0) {
        *reason = "identity-conflict";
        *detail = "the client certificate and the bearer token identify different "
                  "organisations";
        return NULL;
    }
    if (by_cert != NULL)
        return by_cert;
    if (by_token != NULL)
        return by_token;

    *reason = "unknown-caller";
    *detail = cert != NULL
        ? "the client certificate is valid but belongs to no organisation this gateway knows"
        : "present a client certificate or a bearer token of a known organisation";
    return NULL;
}
