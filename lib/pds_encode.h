/* pds_encode.h: bytes as text: hex, base64url and untrusted text made safe
 * for a message; one copy for lib/, the module and the tools. Nothing here
 * allocates except from the pool given. */
#ifndef PDS_ENCODE_H
#define PDS_ENCODE_H

#include <apr_pools.h>

/* n bytes as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void pds_hex_encode(char *out, const unsigned char *in, apr_size_t n);

/* The value of one hex digit, either case; -1 for anything else. */
int pds_hex_value(char c);

/* Exactly 2n hex digits (either case) at in into n bytes; -1 when one of
 * them is not a hex digit (out then holds part of the result). in must
 * have 2n characters before any NUL; a NUL among them is not a digit. */
int pds_hex_decode(unsigned char *out, const char *in, apr_size_t n);

/* Untrusted text for an error message, into buf (size bytes, NUL-terminated):
 * printable ASCII as it is, any other byte as '?', cut short with "..."
 * when it does not fit. s NULL is "". Returns buf. */
const char *pds_printable(char *buf, apr_size_t size, const char *s);

/* base64url without padding (RFC 7515 section 2), into pool memory; NULL
 * when len is too large. data NULL encodes nothing (""). */
char *pds_base64url_encode(apr_pool_t *p, const unsigned char *data,
                           apr_size_t len);
/* Strict: the 64 URL-safe characters only, no padding or whitespace, the
 * unused bits of the last character zero (each byte string has exactly one
 * spelling). *out is NUL-terminated, from p. APR_EINVAL otherwise. */
apr_status_t pds_base64url_decode(unsigned char **out, apr_size_t *outlen,
                                  apr_pool_t *p, const char *in,
                                  apr_size_t inlen);

/* n random bytes for identifiers (request ids): unpredictable and never
 * the same in two processes, but never for keys or other secrets, since
 * they wait in a per-thread buffer. One RAND_bytes per kilobyte, not per
 * call. 1 on success, 0 when OpenSSL has no random bytes. */
int pds_random_id_bytes(unsigned char *out, apr_size_t n);

/* SHA-256 of len bytes at data into out. 1 on success, 0 when OpenSSL
 * fails. The one SHA-256 of lib/ and the module: the implementation is
 * fetched once per process, not on every call (OpenSSL 3's implicit fetch
 * cost about a third of a 1 KB digest). */
int pds_sha256(unsigned char out[32], const void *data, apr_size_t len);

/* HMAC-SHA256 with key over a then b (b may be NULL with blen 0) into out.
 * 1 on success, 0 when OpenSSL fails or the key is empty. The one HMAC of
 * lib/: the audit chain's line MACs and the portal's form tokens. */
int pds_hmac_sha256(unsigned char out[32], const unsigned char *key, apr_size_t keylen,
                    const void *a, apr_size_t alen, const void *b, apr_size_t blen);

/* An HMAC-SHA256 key made ready once (its inner and outer hash state), for
 * many MACs under it: each MAC then costs only the hashing of its data. Not
 * for two threads at once (each MAC resets its state): one per request, made
 * when the request needs it. Released with p; NULL when OpenSSL fails or the
 * key is empty. */
typedef struct pds_hmac_t pds_hmac_t;
pds_hmac_t *pds_hmac_create(apr_pool_t *p, const unsigned char *key, apr_size_t keylen);
/* pds_hmac_sha256 with h's key: the same 32 bytes. 1 on success, 0 when
 * OpenSSL fails. */
int pds_hmac_mac(pds_hmac_t *h, unsigned char out[32], const void *a, apr_size_t alen,
                 const void *b, apr_size_t blen);

#endif
