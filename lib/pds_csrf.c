/* pds_csrf.c: form tokens bound to a person and a time window (pds_csrf.h). */
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>

#include "pds_csrf.h"
#include "pds_encode.h"

/* The MAC of person in window, as base64url into out (44 bytes). */
static int window_mac(char out[44], const unsigned char *key, apr_size_t keylen,
                      const char *person, apr_int64_t window)
{
    unsigned char msg[256], mac[32];
    apr_size_t plen = strlen(person), n;
    char num[24];
    apr_pool_t *p;
    char *b64;

    apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT, window);
    if (plen > 200)
        return 0;
    memcpy(msg, "pds-csrf", 9);                 /* with its NUL */
    memcpy(msg + 9, person, plen + 1);          /* with its NUL */
    n = 9 + plen + 1;
    memcpy(msg + n, num, strlen(num));
    n += strlen(num);
    if (!pds_hmac_sha256(mac, key, keylen, msg, n, NULL, 0)
        || apr_pool_create(&p, NULL) != APR_SUCCESS)
        return 0;
    b64 = pds_base64url_encode(p, mac, sizeof(mac));
    if (b64 != NULL)
        apr_cpystrn(out, b64, 44);
    apr_pool_destroy(p);
    return b64 != NULL;
}

char *pds_csrf_token(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                     const char *person, apr_time_t now)
{
    apr_int64_t window = apr_time_sec(now) / PDS_CSRF_WINDOW;
    char mac[44];

    if (person == NULL || !window_mac(mac, key, keylen, person, window))
        return NULL;
    return apr_psprintf(p, "%" APR_INT64_T_FMT ".%s", window, mac);
}

int pds_csrf_check(const unsigned char *key, apr_size_t keylen, const char *person,
                   const char *token, apr_time_t now)
{
    apr_int64_t current = apr_time_sec(now) / PDS_CSRF_WINDOW, window = 0;
    const char *dot, *s;
    char mac[44];

    if (person == NULL || token == NULL || strlen(token) > PDS_CSRF_TOKEN_MAX)
        return 0;
    dot = strchr(token, '.');
    if (dot == NULL || dot == token || dot - token > 15)
        return 0;
    for (s = token; s < dot; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        window = window * 10 + (*s - '0');
    }
    if (window != current && window != current - 1)
        return 0;
    if (!window_mac(mac, key, keylen, person, window) || strlen(dot + 1) != strlen(mac))
        return 0;
    return CRYPTO_memcmp(mac, dot + 1, strlen(mac)) == 0;
}

int pds_csrf_derive_key(unsigned char out[PDS_CSRF_KEY_LEN], const unsigned char *secret,
                        apr_size_t len)
{
    static const char label[] = "mod_pds portal form tokens";

    return pds_hmac_sha256(out, secret, len, label, sizeof(label) - 1, NULL, 0) ? 0 : -1;
}
