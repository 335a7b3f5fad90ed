/* pds_pseudonym.c: keyed pseudonyms (pds_pseudonym_agreement_key and
 * pds_pseudonym in pds_transform.h; pds_pseudonym_into for the pseudonymise
 * transform in pds_transform_table.h). */
#include <string.h>

#include <apr_strings.h>
#include "pds_encode.h"
#include "pds_jws.h"
#include "pds_transform.h"
#include "pds_transform_table.h"

#define PSEUDONYM_PREFIX     "ps_"
#define PSEUDONYM_BYTES      16
#define PSEUDONYM_KEY_PREFIX "pds-pseudonym-v1:"

/* The MAC of value: with h when there is one (the key made ready once per
 * request), else keyed here. */
static int value_mac(unsigned char mac[32], const unsigned char *key, pds_hmac_t *h,
                     const char *value, apr_size_t len)
{
    if (h != NULL)
        return pds_hmac_mac(h, mac, value, len, NULL, 0);
    return key != NULL
        && pds_hmac_sha256(mac, key, PDS_PSEUDONYM_KEY_LENGTH, value, len, NULL, 0);
}

apr_status_t pds_pseudonym_agreement_key(unsigned char out[32],
                                         const unsigned char *master,
                                         apr_size_t master_len,
                                         const char *agreement_id)
{
    if (out == NULL || master == NULL || master_len < PDS_PSEUDONYM_MASTER_MIN
        || agreement_id == NULL || agreement_id[0] == '\0')
        return APR_EINVAL;
    if (!pds_hmac_sha256(out, master, master_len, PSEUDONYM_KEY_PREFIX,
                         sizeof(PSEUDONYM_KEY_PREFIX) - 1,
                         agreement_id, strlen(agreement_id)))
        return APR_EGENERAL;
    return APR_SUCCESS;
}

char *pds_pseudonym(apr_pool_t *p, const unsigned char key[32],
                    const char *value, apr_size_t len)
{
    char out[32];

    if (p == NULL || key == NULL || (value == NULL && len > 0)
        || !pds_pseudonym_into(out, key, NULL, value, len))
        return NULL;
    return apr_pstrdup(p, out);
}

char *pds_pseudonym_hmac(apr_pool_t *p, pds_hmac_t *h, const char *value, apr_size_t len)
{
    char out[32];

    if (p == NULL || h == NULL || (value == NULL && len > 0)
        || !pds_pseudonym_into(out, NULL, h, value, len))
        return NULL;
    return apr_pstrdup(p, out);
}

int pds_pseudonym_into(char out[32], const unsigned char *key, pds_hmac_t *h,
                       const char *value, apr_size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char mac[32];
    apr_size_t i;
    char *o = out;

    if (!value_mac(mac, key, h, value, len))
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
