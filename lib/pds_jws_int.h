/* pds_jws_int.h: what the files behind pds_jws.h share, inside lib/ only:
 * the key a pds_key_t holds and the one algorithm it is pinned to, set by
 * pds_key.c when the key is loaded and read by pds_jws.c to sign and verify.
 */
#ifndef PDS_JWS_INT_H
#define PDS_JWS_INT_H

#include <openssl/evp.h>

/* The source a key's errors name. */
#define PDS_KEY_SOURCE   "key"

typedef enum {
    PDS_ALG_ES256,
    PDS_ALG_RS256,
    PDS_ALG_EDDSA
} pds_alg_e;

struct pds_key_t {
    EVP_PKEY *pkey;
    pds_alg_e kind;
    const char *alg;
    int is_private;
};

#endif
