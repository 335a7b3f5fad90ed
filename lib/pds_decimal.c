/* pds_decimal.c: exact decimal rounding (see pds_decimal.h). */
#include <stdlib.h>
#include <string.h>

#include "pds_decimal.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int pds_decimal_read(pds_decimal_t *x, const char *s)
{
    const char *m = s, *e;
    apr_size_t n = 0, frac = 0, cap;
    long exp10 = 0, scale;
    int in_frac = 0;

    x->neg = *m == '-';
    if (*m == '-' || *m == '+')
        m++;
    e = m + strcspn(m, "eE");
    if (*e != '\0') {
        exp10 = strtol(e + 1, NULL, 10);
        if (exp10 > 400 || exp10 < -400)
            return 0;
    }
    cap = (apr_size_t)(e - m) + 401 + PDS_DECIMAL_STEP_DIGITS_MAX;
    x->digits = malloc(cap + 1);
    if (x->digits == NULL)
        return 0;
    for (; m < e; m++) {
        if (*m == '.') {
            in_frac = 1;
            continue;
        }
        x->digits[n++] = *m;
        frac += (apr_size_t)in_frac;
    }
    scale = (long)frac - exp10;
    while (scale < 0) {
        x->digits[n++] = '0';
        scale++;
    }
    x->len = n;
    x->scale = (apr_size_t)scale;
    x->digits[n] = '\0';
    return 1;
}

/* Rounds x to a multiple of units * 10^-scale, halves away from zero. The
 * result has the step's scale: r = q * units * 10^-scale. */
int pds_decimal_round(pds_decimal_t *r, const pds_decimal_t *x, apr_uint64_t units,
                      apr_size_t scale)
{
    apr_size_t nlen, i, k = 0, rlen;
    apr_uint64_t rem = 0, carry;
    char dropped = '0', *q;
    int up;

    /* x / step = digits * 10^(scale - x->scale) / units: the numerator N is
     * x's digits with zeros added, or with its last k digits dropped (the
     * first of them, with the remainder, decides a half). */
    if (scale >= x->scale)
        nlen = x->len + (scale - x->scale);
    else {
        k = x->scale - scale;
        nlen = x->len > k ? x->len - k : 0;
        dropped = x->len > k ? x->digits[x->len - k] : (x->len == k ? x->digits[0] : '0');
    }
    /* q = N / units, room for one more digit from rounding up, then for
     * q * units (up to 19 digits more). */
    rlen = nlen + 1 + 20;
    q = malloc(rlen + 1);
    if (q == NULL)
        return 0;
    memset(q, '0', rlen);
    for (i = 0; i < nlen; i++) {
        char c = i < x->len ? x->digits[i] : '0';

        rem = rem * 10 + (apr_uint64_t)(c - '0');       /* < 10 * 10^18 */
        q[rlen - nlen + i] = (char)('0' + rem / units);
        rem %= units;
    }
    up = 2 * rem >= units || (2 * rem == units - 1 && dropped >= '5');
    if (up) {
        for (i = rlen; i-- > 0;) {
            if (q[i] == '9')
                q[i] = '0';
            else {
                q[i]++;
                break;
            }
        }
    }
    /* q *= units, in place from the right. */
    carry = 0;
    for (i = rlen; i-- > 0;) {
        apr_uint64_t d = (apr_uint64_t)(q[i] - '0') * units + carry; /* < 10^19 + 10^18 */

        q[i] = (char)('0' + d % 10);
        carry = d / 10;
    }
    /* carry is 0: rlen has room for all of q * units. */
    for (i = 0; i + 1 < rlen && q[i] == '0'; i++)
        ;
    memmove(q, q + i, rlen - i);
    r->len = rlen - i;
    q[r->len] = '\0';
    r->digits = q;
    r->scale = scale;
    r->neg = x->neg && !(r->len == 1 && q[0] == '0');
    return 1;
}

/* Plain decimal text ["-"] int ["." scale digits] into a malloc'd string. */
char *pds_decimal_text(const pds_decimal_t *x)
{
    apr_size_t int_len = x->len > x->scale ? x->len - x->scale : 0;
    char *s = malloc(x->len + x->scale + 4), *o = s;
    apr_size_t i;

    if (s == NULL)
        return NULL;
    if (x->neg)
        *o++ = '-';
    if (int_len == 0)
        *o++ = '0';
    memcpy(o, x->digits, int_len);
    o += int_len;
    if (x->scale > 0) {
        *o++ = '.';
        for (i = x->len; i < x->scale; i++)
            *o++ = '0';                     /* leading zeros of the fraction */
        memcpy(o, x->digits + int_len, x->len - int_len);
        o += x->len - int_len;
    }
    *o = '\0';
    return s;
}

/* A numeric string: ["-"] digits ["." digits]. */
int pds_decimal_is_numeric(const char *s, apr_size_t len)
{
    apr_size_t i = 0, start;

    if (i < len && s[i] == '-')
        i++;
    start = i;
    while (i < len && is_digit(s[i]))
        i++;
    if (i == start)
        return 0;
    if (i < len && s[i] == '.') {
        start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return 0;
    }
    return i == len;
}

