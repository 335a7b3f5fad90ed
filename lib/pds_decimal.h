/* pds_decimal.h: exact decimal rounding on decimal text, for the round
 * transform (pds_transform.h). Internal to lib/.
 *
 * A decimal is sign, digits and scale: its value is digits * 10^-scale. The
 * digits are malloc'd (the transforms run without a pool) and the caller
 * frees them with free(x->digits). Every function returns 0 when memory runs
 * out, never a partial result.
 */
#ifndef PDS_DECIMAL_H
#define PDS_DECIMAL_H

#include <apr.h>

/* A step has at most this many significant digits: S < 10^18, so the long
 * division stays in 64 bits. */
#define PDS_DECIMAL_STEP_DIGITS_MAX 18

typedef struct pds_decimal_t {
    int neg;
    char *digits;               /* ASCII, at least one; malloc'd */
    apr_size_t len;
    apr_size_t scale;
} pds_decimal_t;

/* Reads ["-"] digits ["." digits] [("e"|"E") ["+"|"-"] digits] into x (the
 * caller has checked the grammar). 0 when out of memory or the exponent is
 * beyond +-400. */
int pds_decimal_read(pds_decimal_t *x, const char *s);

/* Rounds x to a multiple of units * 10^-scale, halves away from zero, into r
 * (units > 0, at most PDS_DECIMAL_STEP_DIGITS_MAX digits). r has the step's
 * scale. */
int pds_decimal_round(pds_decimal_t *r, const pds_decimal_t *x, apr_uint64_t units,
                      apr_size_t scale);

/* Plain decimal text ["-"] int ["." scale digits]; a malloc'd string the
 * caller frees, NULL when out of memory. */
char *pds_decimal_text(const pds_decimal_t *x);

/* Non-zero when s (len bytes) is ["-"] digits ["." digits]. */
int pds_decimal_is_numeric(const char *s, apr_size_t len);

#endif
