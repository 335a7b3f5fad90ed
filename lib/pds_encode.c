/* pds_encode.c: bytes as text, hex and base64url (pds_encode.h). */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <apr_atomic.h>

#include "pds_encode.h"

/* ---- hex ------------------------------------------------------------------ */

void pds_hex_encode(char *out, const unsigned char *in, apr_size_t n)
{
    static const char digits[] = "0123456789abcdef";
    apr_size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int pds_hex_value(char c)
{
    static const char digits[] = "0123456789abcdefABCDEF";
    const char *hit = c != '\0' ? strchr(digits, c) : NULL;

    if (hit == NULL)
        return -1;
    return hit - digits < 16 ? (int)(hit - digits) : (int)(hit - digits) - 6;
}

int pds_hex_decode(unsigned char *out, const char *in, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        int hi = pds_hex_value(in[2 * i]), lo = hi < 0 ? -1 : pds_hex_value(in[2 * i + 1]);

        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* ---- text for messages --------------------------------------------------- */

const char *pds_printable(char *buf, apr_size_t size, const char *s)
{
    apr_size_t i = 0;

    if (s == NULL)
        s = "";
    for (; *s != '\0' && i + 1 < size; s++)
        buf[i++] = (*s > 0x1f && *s < 0x7f) ? *s : '?';
    buf[i] = '\0';
    if (*s != '\0' && size > 4)
        memcpy(buf + size - 4, "...", 3);   /* cut short: say so */
    return buf;
}

/* ---- base64url (RFC 4648 section 5, no padding) --------------------------- */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *pds_base64url_encode(apr_pool_t *p, const unsigned char *data,
                           apr_size_t len)
{
    apr_size_t i, o = 0;
    char *out;

    if (data == NULL)
        len = 0;
    if (len > APR_SIZE_MAX / 2)
        return NULL;
    out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = ((unsigned long)data[i] << 16)
                        | ((unsigned long)data[i + 1] << 8) | data[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
        out[o++] = b64url_alphabet[v & 0x3f];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)data[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
    }
    else if (len - i == 2) {
        unsigned long v = ((unsigned long)data[i] << 16)
                        | ((unsigned long)data[i + 1] << 8);
        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict: only the 64 URL-safe characters, no padding, no whitespace, and the
 * unused low bits of the last character must be zero, so every byte string
 * has exactly one encoding (a token cannot be re-spelt with the same
 * signature). The output is NUL-terminated for convenience. */
apr_status_t pds_base64url_decode(unsigned char **out, apr_size_t *outlen,
                                  apr_pool_t *p, const char *in,
                                  apr_size_t inlen)
{
    apr_size_t i, o = 0, rem;
    unsigned char *buf;
    unsigned long acc = 0;
    int bits = 0;

    if (out == NULL || outlen == NULL || p == NULL || (in == NULL && inlen > 0))
        return APR_EINVAL;
    *out = NULL;
    *outlen = 0;
    rem = inlen % 4;
    if (rem == 1)
        return APR_EINVAL;
    buf = apr_palloc(p, inlen / 4 * 3 + (rem ? rem - 1 : 0) + 1);
    for (i = 0; i < inlen; i++) {
        int v = b64url_value(in[i]);

        if (v < 0)
            return APR_EINVAL;
        acc = ((acc << 6) | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* Leftover bits (2 or 4) must be zero for the encoding to be canonical. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        return APR_EINVAL;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return APR_SUCCESS;
}

/* Fetched by the first caller; a racing second fetch is freed. Lives as
 * long as the process. */
static EVP_MD *volatile sha256_md;

int pds_sha256(unsigned char out[32], const void *data, apr_size_t len)
{
    EVP_MD *md = (EVP_MD *)apr_atomic_casptr((volatile void **)&sha256_md, NULL, NULL);
    unsigned int n = 0;

    if (md == NULL) {
        EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);

        if (fetched == NULL)
            return 0;
        md = apr_atomic_casptr((volatile void **)&sha256_md, fetched, NULL);
        if (md != NULL)
            EVP_MD_free(fetched);       /* another thread's is there */
        else
            md = fetched;
    }
    return EVP_Digest(data, len, out, &n, md, NULL) == 1 && n == 32;
}

/* ---- random bytes for identifiers ------------------------------------------ */

#define ID_BYTES_BUFFER 1024

static __thread unsigned char id_bytes[ID_BYTES_BUFFER];
static __thread apr_size_t id_bytes_left;
static pthread_once_t id_bytes_once = PTHREAD_ONCE_INIT;

/* In a fork's child, whose one thread is a copy of the forking one: its
 * buffer is the parent's too, so it is dropped. (glibc unregisters the
 * handler when the module is unloaded.) */
static void id_bytes_forget(void)
{
    id_bytes_left = 0;
}

static void id_bytes_register(void)
{
    pthread_atfork(NULL, NULL, id_bytes_forget);
}

int pds_random_id_bytes(unsigned char *out, apr_size_t n)
{
    unsigned char *from;

    if (n > ID_BYTES_BUFFER)
        return n <= (apr_size_t)INT_MAX && RAND_bytes(out, (int)n) == 1;
    pthread_once(&id_bytes_once, id_bytes_register);
    if (id_bytes_left < n) {
        if (RAND_bytes(id_bytes, (int)sizeof(id_bytes)) != 1)
            return 0;
        id_bytes_left = sizeof(id_bytes);
    }
    from = id_bytes + sizeof(id_bytes) - id_bytes_left;
    memcpy(out, from, n);
    memset(from, 0, n);                 /* handed out once */
    id_bytes_left -= n;
    return 1;
}

int pds_hmac_sha256(unsigned char out[32], const unsigned char *key, apr_size_t keylen,
                    const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];
    size_t n = 0;
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && key != NULL && keylen > 0
        && EVP_MAC_init(ctx, key, keylen, params) == 1
        && EVP_MAC_update(ctx, a, alen) == 1
        && (blen == 0 || EVP_MAC_update(ctx, b, blen) == 1)
        && EVP_MAC_final(ctx, out, &n, 32) == 1 && n == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

struct pds_hmac_t {
    EVP_MAC_CTX *ctx;           /* keyed; reset before each MAC */
};

static apr_status_t free_hmac(void *data)
{
    pds_hmac_t *h = data;

    EVP_MAC_CTX_free(h->ctx);
    h->ctx = NULL;
    return APR_SUCCESS;
}

pds_hmac_t *pds_hmac_create(apr_pool_t *p, const unsigned char *key, apr_size_t keylen)
{
    EVP_MAC *mac;
    OSSL_PARAM params[2];
    pds_hmac_t *h;

    if (key == NULL || keylen == 0 || (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
        return NULL;
    h = apr_pcalloc(p, sizeof(*h));
    h->ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);                  /* the context holds its own reference */
    if (h->ctx == NULL)
        return NULL;
    apr_pool_cleanup_register(p, h, free_hmac, apr_pool_cleanup_null);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(h->ctx, key, keylen, params) != 1)
        return NULL;
    return h;
}

int pds_hmac_mac(pds_hmac_t *h, unsigned char out[32], const void *a, apr_size_t alen,
                 const void *b, apr_size_t blen)
{
    size_t n = 0;

    /* No key: HMAC starts again from the keyed state it keeps. */
    return h != NULL && h->ctx != NULL
        && EVP_MAC_init(h->ctx, NULL, 0, NULL) == 1
        && (alen == 0 || EVP_MAC_update(h->ctx, a, alen) == 1)
        && (blen == 0 || EVP_MAC_update(h->ctx, b, blen) == 1)
        && EVP_MAC_final(h->ctx, out, &n, 32) == 1 && n == 32;
}
