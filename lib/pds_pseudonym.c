/* pds_pseudonym.c: keyed pseudonyms (pds_pseudonym_agreement_key and
 * pds_pseudonym in pds_transform.h; pds_pseudonym_into for the pseudonymise
 * transform in pds_transform_table.h). */
#include <string.h>

#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "pds_jws.h"
#include "pds_transform.h"
#include "pds_transform_table.h"

#define PSEUDONYM_PREFIX     "ps_"
#define PSEUDONYM_BYTES      16
#define PSEUDONYM_KEY_PREFIX "pds-pseudonym-v1:"

/* HMAC-SHA-256 over a then b. */
static int hmac_sha256(const unsigned char *key, apr_size_t key_len,
                       const void *a, apr_size_t a_len,
                       const void *b, apr_size_t b_len, unsigned char out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t n = 0;
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL
        && EVP_MAC_init(ctx, key, key_len, params) == 1
        && (a_len == 0 || EVP_MAC_update(ctx, a, a_len) == 1)
        && (b_len == 0 || EVP_MAC_update(ctx, b, b_len) == 1)
        && EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

apr_status_t pds_pseudonym_agreement_key(unsigned char out[32],
                                         const unsigned char *master,
                                         apr_size_t master_len,
                                         const char *agreement_id)
{
    if (out == NULL || master == NULL || master_len < PDS_PSEUDONYM_MASTER_MIN
        || agreement_id == NULL || agreement_id[0] == '\0')
        return APR_EINVAL;
    if (!hmac_sha256(master, master_len, PSEUDONYM_KEY_PREFIX,
                     sizeof(PSEUDONYM_KEY_PREFIX) - 1,
                     agreement_id, strlen(agreement_id), out))
        return APR_EGENERAL;
    return APR_SUCCESS;
}

char *pds_pseudonym(apr_pool_t *p, const unsigned char key[32],
                    const char *value, apr_size_t len)
{
    unsigned char mac[32];
    char *b64;

    if (p == NULL || key == NULL || (value == NULL && len > 0)
        || !hmac_sha256(key, PDS_PSEUDONYM_KEY_LENGTH, value, len, NULL, 0, mac))
        return NULL;
    b64 = pds_base64url_encode(p, mac, PSEUDONYM_BYTES);
    return b64 != NULL ? apr_pstrcat(p, PSEUDONYM_PREFIX, b64, NULL) : NULL;
}

int pds_pseudonym_into(char out[32], const unsigned char *key,
                       const char *value, apr_size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char mac[32];
    apr_size_t i;
    char *o = out;

    if (!hmac_sha256(key, PDS_PSEUDONYM_KEY_LENGTH, value, len, NULL, 0, mac))
        return 0;
    memcpy(o, PSEUDONYM_PREFIX, sizeof(PSEUDONYM_PREFIX) - 1);
    o += sizeof(PSEUDONYM_PREFIX) - 1;
    for (i = 0; i + 3 <= PSEUDONYM_BYTES; i += 3) {
        apr_uint32_t x = ((apr_uint32_t)mac[i] << 16) | ((apr_uint32_t)mac[i + 1] << 8)
                         | mac[i + 2];

        *o++ = alphabet[(x >> 18) & 63];
        *o++ = alphabet[(x >> 12) & 63];
        *o++ = alphabet[(x >> 6) & 63];
        *o++ = alphabet[x & 63];
    }
    /* 16 = 5 * 3 + 1: one byte left, two characters, no padding. */
    *o++ = alphabet[mac[15] >> 2];
    *o++ = alphabet[(mac[15] & 3) << 4];
    *o = '\0';
    return 1;
}
