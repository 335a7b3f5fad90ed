/* pds_transform.h: field value transforms for data minimisation.
 *
 * An agreement may declare, per released field, a transform applied to every
 * value found at that path ("Transform dob age-band 10"). A transform is
 * parsed once at configuration time and read-only afterwards (safe to share
 * between threads); pds_transform_apply() never changes its input.
 *
 * The transforms (names exactly as written; arguments are required where
 * shown):
 *
 *   redact               removes the value (the member, or the array element)
 *   nullify              replaces it with null
 *   mask N               N 0..64. Strings keep their last N characters and
 *                        show "*" for each earlier one; a string of N or fewer
 *                        characters is masked entirely, so a short value is
 *                        never shown whole. Numbers are masked as their
 *                        decimal text (see below) and give a string.
 *   pseudonymise         strings, and numbers as their decimal text:
 *                        pds_pseudonym(key, text). Needs ctx->key.
 *   year                 a FHIR date "YYYY", "YYYY-MM" or "YYYY-MM-DD", or an
 *                        RFC 3339 date-time (T, t or a space between date and
 *                        time): "YYYY". The date is taken as written (no
 *                        conversion to UTC) and checked (month 1-12, day
 *                        within the month, leap years; pds_time.h).
 *   year-month           the same input: "YYYY-MM"; a year alone ("1980") is
 *                        refused (a value is never made finer than it is)
 *   age-band W           W 1..50. A date of birth as for year; the age in
 *                        whole years on ctx->now's UTC date (someone born on
 *                        29 February turns a year older on 1 March in common
 *                        years) gives "L-H", L = floor(age/W)*W, H = L+W-1;
 *                        just "L" when W is 1. A partial date means any of its
 *                        days up to ctx->now's date: the band is given only
 *                        when all of them give the same one ("1980" with W 10
 *                        in 2026 gives "40-49"; with W 1 it is refused).
 *                        Refused: a date after ctx->now's date, a possible age
 *                        over 150.
 *   postcode-district    a UK postcode in any case and spacing ("ky99 8eu"):
 *                        its outward code in upper case ("KY99"). Without its
 *                        spaces it must have 5 to 7 letters and digits only,
 *                        start with a letter and end digit, letter, letter.
 *   round STEP           STEP a positive decimal ("5", "0.5"; at most 18
 *                        digits, no exponent). Numbers and numeric strings
 *                        (["-"] digits ["." digits]) go to the nearest multiple
 *                        of STEP, halves away from zero, computed exactly on
 *                        the decimal text (0.15 round 0.1 gives 0.2). An
 *                        integer with a whole STEP stays an integer, other
 *                        numbers give reals; a numeric string gives a string
 *                        with as many decimals as STEP has ("42.7" round 1
 *                        gives "43", "42" round 0.5 gives "42.0"). A result
 *                        beyond the range of its type is refused.
 *   truncate N           N 1..10000. Strings: their first N characters.
 *   constant VALUE       any value (null too) becomes VALUE: an unquoted word
 *                        that is a JSON scalar (true, false, null, a number)
 *                        is that scalar, a quoted word is always a string,
 *                        any other word is taken as a string. Unquoted words
 *                        starting with "{" or "[" are refused.
 *
 * Characters are UTF-8 characters, not bytes. A number's decimal text is the
 * form the filter writes it in: integers as they are ("42"), reals in their
 * shortest round-trip form in jansson's style ("3.14", "100.0", "1e300").
 *
 * null gives null for every transform except redact (removed) and constant
 * (the constant). Any other kind of value, or a string of the wrong form, is
 * refused with err->code "transform-type". Objects and arrays are taken by
 * their kind alone, never by what they hold (the streaming filter,
 * pds_stream.c, hands a transform an empty one of the same kind).
 */
#ifndef PDS_TRANSFORM_H
#define PDS_TRANSFORM_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "pds_encode.h"
#include "pds_error.h"

#define PDS_PSEUDONYM_KEY_LENGTH 32
/* A master secret shorter than this is refused. */
#define PDS_PSEUDONYM_MASTER_MIN 16

typedef struct pds_transform_t pds_transform_t;

/* Parses the words after the field path of a "Transform <path> <name> [args]"
 * line, e.g. "age-band 5", "mask 4", "constant \"withheld\"", "year". Words
 * are separated by spaces and tabs; a word may be in double quotes, with \"
 * and \\ inside (any other backslash is kept as it is). On failure err->code
 * is "bad-transform", err->source "Transform", err->position the offset in
 * text of the offending word or character (the end of text for a missing
 * argument), and err->text says what is expected (for an unknown name, the
 * names known). *pt is set only on success. */
apr_status_t pds_transform_parse(pds_transform_t **pt, apr_pool_t *p,
                                 const char *text, pds_error_t *err);

/* The transform's name ("age-band"). */
const char *pds_transform_name(const pds_transform_t *t);
/* Its canonical text ("age-band 5", "round 0.5", "constant \"withheld\""),
 * which pds_transform_parse() reads back to the same transform. */
const char *pds_transform_text(const pds_transform_t *t);
/* Non-zero for redact: the value is removed, not replaced. */
int pds_transform_removes(const pds_transform_t *t);
/* Non-zero for pseudonymise: apply needs ctx->key. */
int pds_transform_needs_key(const pds_transform_t *t);

typedef struct pds_transform_ctx_t {
    apr_time_t now;                    /* the request's time (age bands) */
    const unsigned char *key;          /* the agreement's pseudonym key
                                          (32 bytes), NULL if none */
    pds_hmac_t *hmac;                  /* optional: key made ready once for
                                          the request (pds_hmac_create), so a
                                          value costs only its own hash; the
                                          request's, one thread at a time */
} pds_transform_ctx_t;

/* Applies t to v (borrowed, not changed). On success *out is a new reference
 * to the replacement value, or NULL meaning "remove the member or element"
 * (redact only). On failure *out is NULL and err->source is the transform's
 * name; err->code:
 *   "transform-type"  v is of a kind or form t does not take; the text names
 *                     the transform and what it expects, and never holds any
 *                     part of the value (it is personal data)
 *   "transform-key"   pseudonymise without ctx or ctx->key (checked before
 *                     the value is looked at, so null values fail too)
 *   "bad-argument"    t or out NULL, or age-band without ctx
 *   "internal-error"  out of memory (APR_ENOMEM), or the keyed hash or the
 *                     clock failing (APR_EGENERAL)
 * Safe to call from many threads on one transform. */
apr_status_t pds_transform_apply(const pds_transform_t *t, json_t *v,
                                 const pds_transform_ctx_t *ctx,
                                 json_t **out, pds_error_t *err);

/* The per-agreement pseudonym key: HMAC-SHA-256(master,
 * "pds-pseudonym-v1:" || agreement_id), so different agreements get
 * unlinkable pseudonyms for the same value. APR_EINVAL when master is shorter
 * than PDS_PSEUDONYM_MASTER_MIN bytes or agreement_id is NULL or empty;
 * APR_EGENERAL when the hash fails. */
apr_status_t pds_pseudonym_agreement_key(unsigned char out[32],
                                         const unsigned char *master,
                                         apr_size_t master_len,
                                         const char *agreement_id);

/* "ps_" + base64url (no padding) of the first 16 bytes of
 * HMAC-SHA-256(key, value), value exactly len bytes (25 characters in all).
 * NULL when the hash fails or memory runs out. */
char *pds_pseudonym(apr_pool_t *p, const unsigned char key[32],
                    const char *value, apr_size_t len);
/* The same with the key made ready once (pds_hmac_create over its 32
 * bytes): for many values under one key. */
char *pds_pseudonym_hmac(apr_pool_t *p, pds_hmac_t *h, const char *value, apr_size_t len);

#endif
