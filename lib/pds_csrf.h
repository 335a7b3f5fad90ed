/* pds_csrf.h: the tokens that protect the portal's forms from cross-site
 * requests.
 *
 * A token is bound to the person signed in and to a time window: it is
 * "<window>.<MAC>" with MAC = base64url(HMAC-SHA256(key, "pds-csrf" NUL
 * person NUL window)), the window the number of PDS_CSRF_WINDOW periods
 * since the epoch. A form's token is accepted in its own window and the
 * next one, so a form is good for one to two windows after it was shown.
 * The key is the server's, never sent anywhere. No state is kept.
 */
#ifndef PDS_CSRF_H
#define PDS_CSRF_H

#include <apr_pools.h>
#include <apr_time.h>

#define PDS_CSRF_WINDOW   3600          /* seconds */
#define PDS_CSRF_KEY_LEN  32
#define PDS_CSRF_TOKEN_MAX 80           /* longest token text, without NUL */

/* The token for person at now, in pool memory; NULL when HMAC fails. */
char *pds_csrf_token(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                     const char *person, apr_time_t now);

/* 1 when token is one pds_csrf_token gave for person in now's window or the
 * one before, with a constant-time comparison of the MAC; 0 otherwise
 * (NULL, malformed, another person's, expired, from the future). */
int pds_csrf_check(const unsigned char *key, apr_size_t keylen, const char *person,
                   const char *token, apr_time_t now);

/* Derives a key for the forms from a server secret (HMAC-SHA256 of a fixed
 * label), so that no other use of the secret can produce a token. 0 on
 * success. */
int pds_csrf_derive_key(unsigned char out[PDS_CSRF_KEY_LEN], const unsigned char *secret,
                        apr_size_t len);

#endif
