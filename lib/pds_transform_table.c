/* pds_transform_table.c: the transforms, one row each (definitions in
 * pds_transform.h, the row in pds_transform_table.h).
 *
 * A row names a transform, says how its argument is read and gives its apply
 * function; the table is at the end of this file. Adding a transform is
 * adding its functions here and a row to the table.
 *
 * apply takes no pool: scratch memory is malloc'd and freed before
 * returning. Error texts written while applying name the transform and what
 * it expects, never the value: the value is personal data and error texts
 * reach logs.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_decimal.h"
#include "pds_text.h"
#include "pds_time.h"
#include "pds_transform_table.h"

#define MASK_MAX        64
#define TRUNCATE_MAX    10000
#define AGE_BAND_MAX    50
#define AGE_MAX         150

/* ---- small helpers -------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Characters in a UTF-8 string of len bytes (bytes that start one). */
static apr_size_t utf8_chars(const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/* Byte offset of character index k (k <= the number of characters). */
static apr_size_t utf8_offset(const char *s, apr_size_t len, apr_size_t k)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == k)
                return i;
            n++;
        }
    }
    return len;
}

/* Well-formed UTF-8: no overlong forms, surrogates or code points past
 * U+10FFFF. (jansson refuses what this refuses; configuration text comes
 * from a file, so we check before handing it over.) */
static int utf8_valid(const char *s, apr_size_t len)
{
    apr_size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        apr_uint32_t cp;
        int extra, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) { extra = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { extra = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { extra = 3; cp = c & 0x07; }
        else
            return 0;
        if (len - i <= (apr_size_t)extra)
            return 0;
        for (k = 1; k <= extra; k++) {
            unsigned char cc = (unsigned char)s[i + k];

            if ((cc & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
            || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        i += (apr_size_t)extra + 1;
    }
    return 1;
}

/* The decimal text of a JSON number into buf (64 bytes); 0 if not a number. */
static int number_text(char *buf, apr_size_t size, json_t *v)
{
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 1;
    }
    if (json_is_real(v)) {
        pds_text_real(buf, size, json_real_value(v));
        return 1;
    }
    return 0;
}

/* A string's text, or a number's decimal text written into num (64 bytes):
 * *s and *len. 0 for any other kind of value. */
static int string_or_number(json_t *v, char *num, apr_size_t size,
                            const char **s, apr_size_t *len)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }
    if (number_text(num, size, v)) {
        *s = num;
        *len = strlen(num);
        return 1;
    }
    return 0;
}

/* ---- arguments ------------------------------------------------------------ */

/* A count: digits only, within [def->min, def->max]. */
static apr_status_t read_count(pds_transform_t *t, apr_pool_t *p,
                               const pds_transform_word_t *w, const char **canonical,
                               pds_error_t *err)
{
    const pds_transform_def_t *def = t->def;
    const char *s = w->text;
    long n = 0;

    if (*s == '\0')
        goto out_of_range;
    for (; *s != '\0'; s++) {
        if (!is_digit(*s))
            goto out_of_range;
        if (n <= def->max)
            n = n * 10 + (*s - '0');
    }
    if (n < def->min || n > def->max)
        goto out_of_range;
    t->count = (int)n;
    *canonical = apr_itoa(p, t->count);
    return APR_SUCCESS;

out_of_range:
    return bad_transform(err, w->pos,
                         "%s: %s must be a whole number from %d to %d, e.g. `%s`",
                         def->name, def->arg_name, def->min, def->max, def->example);
}

/* The text of STEP in canonical form: no leading or trailing zeros. */
static const char *step_text(apr_pool_t *p, apr_uint64_t units, int scale)
{
    char digits[32], buf[64];
    apr_size_t n, z = (apr_size_t)scale;

    snprintf(digits, sizeof(digits), "%" APR_UINT64_T_FMT, units);
    n = strlen(digits);
    if (scale == 0)
        return apr_pstrdup(p, digits);
    if (n > z)
        return apr_psprintf(p, "%.*s.%s", (int)(n - z), digits, digits + n - z);
    memcpy(buf, "0.", 2);
    memset(buf + 2, '0', z - n);             /* z <= STEP_DIGITS_MAX */
    memcpy(buf + 2 + z - n, digits, n + 1);
    return apr_pstrdup(p, buf);
}

/* STEP: digits ["." digits], positive, at most PDS_DECIMAL_STEP_DIGITS_MAX significant
 * digits once leading zeros and trailing fraction zeros are dropped. */
static apr_status_t read_step(pds_transform_t *t, apr_pool_t *p,
                              const pds_transform_word_t *w, const char **canonical,
                              pds_error_t *err)
{
    const char *s = w->text, *dot = strchr(s, '.');
    apr_size_t int_len = dot ? (apr_size_t)(dot - s) : strlen(s);
    apr_size_t frac_len = dot ? strlen(dot + 1) : 0, i;
    apr_uint64_t units = 0;
    int digits = 0;

    if (int_len == 0 || (dot != NULL && frac_len == 0))
        goto bad_step;
    for (i = 0; i < int_len; i++) {
        if (!is_digit(s[i]))
            goto bad_step;
    }
    for (i = 0; i < frac_len; i++) {
        if (!is_digit(dot[1 + i]))
            goto bad_step;
    }
    while (frac_len > 0 && dot[frac_len] == '0')   /* dot[frac_len]: the last */
        frac_len--;
    for (i = 0; i < int_len + frac_len; i++) {
        char c = i < int_len ? s[i] : dot[1 + i - int_len];

        if (units == 0 && c == '0')
            continue;                               /* leading zero */
        if (++digits > PDS_DECIMAL_STEP_DIGITS_MAX)
            return bad_transform(err, w->pos,
                                 "round: STEP has more than %d significant digits",
                                 PDS_DECIMAL_STEP_DIGITS_MAX);
        units = units * 10 + (apr_uint64_t)(c - '0');
    }
    if (units == 0)
        goto bad_step;
    if (frac_len > PDS_DECIMAL_STEP_DIGITS_MAX)
        return bad_transform(err, w->pos, "round: STEP has more than %d decimals",
                             PDS_DECIMAL_STEP_DIGITS_MAX);
    t->step_units = units;
    t->step_scale = (int)frac_len;
    *canonical = step_text(p, t->step_units, t->step_scale);
    return APR_SUCCESS;

bad_step:
    return bad_transform(err, w->pos, "round: STEP must be a positive number written "
                         "with digits and at most one '.', "
                         "e.g. `round 5` or `round 0.5`");
}

/* Matches the JSON number grammar exactly. */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (is_digit(*s)) {
        while (is_digit(*s))
            s++;
    }
    else
        return 0;
    if (*s == '.') {
        if (!is_digit(*++s))
            return 0;
        while (is_digit(*s))
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!is_digit(*s))
            return 0;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

static apr_status_t release_json(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

/* The canonical text of a constant. */
static const char *constant_text(apr_pool_t *p, json_t *v)
{
    char buf[64];
    const char *s;
    char *q, *o;

    if (json_is_string(v)) {
        s = json_string_value(v);
        o = q = apr_palloc(p, 2 * strlen(s) + 3);
        *o++ = '"';
        for (; *s != '\0'; s++) {
            if (*s == '"' || *s == '\\')
                *o++ = '\\';
            *o++ = *s;
        }
        *o++ = '"';
        *o = '\0';
        return q;
    }
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_null(v))
        return "null";
    number_text(buf, sizeof(buf), v);
    return apr_pstrdup(p, buf);
}

/* VALUE: quoted, a string; unquoted, a JSON scalar when it is one. */
static apr_status_t read_constant(pds_transform_t *t, apr_pool_t *p,
                                  const pds_transform_word_t *w, const char **canonical,
                                  pds_error_t *err)
{
    const char *s = w->text;
    json_t *v;

    if (!utf8_valid(s, strlen(s)))
        return bad_transform(err, w->pos, "constant: VALUE is not valid UTF-8");
    if (w->quoted)
        v = json_string(s);
    else if (*s == '{' || *s == '[')
        return bad_transform(err, w->pos, "constant: VALUE must be a JSON scalar "
                             "(true, false, null, a number or a \"quoted string\"), "
                             "not an object or array");
    else if (strcmp(s, "true") == 0)
        v = json_true();
    else if (strcmp(s, "false") == 0)
        v = json_false();
    else if (strcmp(s, "null") == 0)
        v = json_null();
    else if (is_json_number(s)) {
        v = json_loads(s, JSON_DECODE_ANY, NULL);
        if (v == NULL)
            return bad_transform(err, w->pos, "constant: the number is out of range "
                                 "(integers have 64 bits, reals must be finite)");
    }
    else
        v = json_string(s);
    if (v == NULL)
        return bad_transform(err, w->pos, "constant: out of memory");
    apr_pool_cleanup_register(p, v, release_json, apr_pool_cleanup_null);
    t->constant = v;
    *canonical = constant_text(p, v);
    return APR_SUCCESS;
}

/* ---- apply ---------------------------------------------------------------- */

/* What a transform expects, for its type errors. */
static const char date_expects[] = "a date: YYYY, YYYY-MM, YYYY-MM-DD or an RFC 3339 "
    "date-time";
static const char postcode_expects[] = "a UK postcode: 5 to 7 letters and digits, "
    "ending digit, letter, letter";
static const char round_expects[] = "a number or a numeric string (digits, "
    "an optional minus sign and decimal point)";

static const char *kind_of(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:    return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    default:           return "null";
    }
}

/* The value is not what t takes. Never puts any of the value in the text. */
static apr_status_t type_error(pds_error_t *err, const pds_transform_t *t,
                               json_t *v, const char *expects)
{
    pds_error_set(err, "transform-type", -1, t->def->name,
                  "%s expects %s; the value is %s%s", t->def->name, expects, kind_of(v),
                  json_is_string(v) ? " in another form" : "");
    return APR_EINVAL;
}

static apr_status_t range_error(pds_error_t *err, const pds_transform_t *t,
                                const char *what)
{
    pds_error_set(err, "transform-type", -1, t->def->name, "%s: %s", t->def->name, what);
    return APR_EINVAL;
}

static apr_status_t no_memory(pds_error_t *err, const pds_transform_t *t)
{
    pds_error_set(err, "internal-error", -1, t->def->name,
                  "%s: out of memory", t->def->name);
    return APR_ENOMEM;
}

/* Sets *out to a new string of len bytes, or reports no memory. */
static apr_status_t give_string(json_t **out, const char *s, apr_size_t len,
                                const pds_transform_t *t, pds_error_t *err)
{
    *out = json_stringn(s, len);
    return *out != NULL ? APR_SUCCESS : no_memory(err, t);
}

static apr_status_t apply_nullify(const pds_transform_t *t, json_t *v,
                                  const pds_transform_ctx_t *ctx, json_t **out,
                                  pds_error_t *err)
{
    *out = json_null();
    return APR_SUCCESS;
}

static apr_status_t apply_constant(const pds_transform_t *t, json_t *v,
                                   const pds_transform_ctx_t *ctx, json_t **out,
                                   pds_error_t *err)
{
    /* A copy: the configured value's reference count is never touched at
     * request time. */
    *out = json_deep_copy(t->constant);
    return *out != NULL ? APR_SUCCESS : no_memory(err, t);
}

static apr_status_t apply_mask(const pds_transform_t *t, json_t *v,
                               const pds_transform_ctx_t *ctx, json_t **out,
                               pds_error_t *err)
{
    char num[64];
    const char *s;
    apr_size_t len, chars, hidden, tail;
    apr_status_t rv;
    char *buf;

    if (!string_or_number(v, num, sizeof(num), &s, &len))
        return type_error(err, t, v, "a string or a number");
    chars = utf8_chars(s, len);
    hidden = chars <= (apr_size_t)t->count ? chars : chars - (apr_size_t)t->count;
    tail = utf8_offset(s, len, hidden);
    buf = malloc(hidden + (len - tail) + 1);
    if (buf == NULL)
        return no_memory(err, t);
    memset(buf, '*', hidden);
    memcpy(buf + hidden, s + tail, len - tail);
    rv = give_string(out, buf, hidden + (len - tail), t, err);
    free(buf);
    return rv;
}

static apr_status_t apply_pseudonymise(const pds_transform_t *t, json_t *v,
                                       const pds_transform_ctx_t *ctx, json_t **out,
                                       pds_error_t *err)
{
    char num[64], ps[32];
    const char *s;
    apr_size_t len;

    if (!string_or_number(v, num, sizeof(num), &s, &len))
        return type_error(err, t, v, "a string or a number");
    if (!pds_pseudonym_into(ps, ctx->key, ctx->hmac, s, len)) {
        pds_error_set(err, "internal-error", -1, t->def->name,
                      "%s: the keyed hash failed", t->def->name);
        return APR_EGENERAL;
    }
    return give_string(out, ps, strlen(ps), t, err);
}

/* v as a checked, possibly partial, date, or the type error. */
static apr_status_t date_of(const pds_transform_t *t, json_t *v, pds_date_t *date,
                            pds_error_t *err)
{
    if (!json_is_string(v)
        || pds_time_parse_partial_date(date, json_string_value(v), json_string_length(v))
           != APR_SUCCESS)
        return type_error(err, t, v, date_expects);
    return APR_SUCCESS;
}

/* year and year-month: the checked date's first def->keep characters
 * ("YYYY", "YYYY-MM"), as written. A date coarser than that ("1980" under
 * year-month) cannot be made finer: refused, never padded. */
static apr_status_t apply_date_prefix(const pds_transform_t *t, json_t *v,
                                      const pds_transform_ctx_t *ctx, json_t **out,
                                      pds_error_t *err)
{
    pds_date_t date;

    if (date_of(t, v, &date, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (t->def->keep > 4 && date.precision < PDS_DATE_MONTH)
        return range_error(err, t, "expects a date that gives at least the month "
                           "(a year alone cannot be made finer)");
    return give_string(out, json_string_value(v), (apr_size_t)t->def->keep, t, err);
}

/* Day order of two full dates: <0, 0, >0. */
static int day_cmp(const pds_date_t *a, const pds_date_t *b)
{
    if (a->year != b->year)
        return a->year < b->year ? -1 : 1;
    if (a->month != b->month)
        return a->month < b->month ? -1 : 1;
    return a->day < b->day ? -1 : a->day > b->day;
}

/* The age in whole years on day `on` of someone born on `born` (both full,
 * born not after on). Born on 29 February: the birthday is 1 March in
 * common years. */
static int age_on(const pds_date_t *born, const pds_date_t *on)
{
    int bm = born->month, bd = born->day;

    if (bm == 2 && bd == 29 && !pds_time_is_leap(on->year)) {
        bm = 3;
        bd = 1;
    }
    return on->year - born->year
           - ((on->month < bm || (on->month == bm && on->day < bd)) ? 1 : 0);
}

/* A partial date of birth ("1980", "1980-06") means any of its days up to
 * today: the band is given only when every one of them falls in it. */
static apr_status_t apply_age_band(const pds_transform_t *t, json_t *v,
                                   const pds_transform_ctx_t *ctx, json_t **out,
                                   pds_error_t *err)
{
    apr_time_exp_t now;
    pds_date_t date, first, last, today;
    char buf[16];
    int oldest, youngest, low;

    if (date_of(t, v, &date, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (apr_time_exp_gmt(&now, ctx->now) != APR_SUCCESS) {
        pds_error_set(err, "internal-error", -1, t->def->name,
                      "%s: the request time cannot be read", t->def->name);
        return APR_EGENERAL;
    }
    today.year = now.tm_year + 1900;
    today.month = now.tm_mon + 1;
    today.day = now.tm_mday;
    pds_time_date_span(&date, &first, &last);
    if (day_cmp(&first, &today) > 0)
        return range_error(err, t, "expects a date of birth, not a date in the future");
    if (day_cmp(&last, &today) > 0)
        last = today;
    oldest = age_on(&first, &today);
    youngest = age_on(&last, &today);
    if (oldest > AGE_MAX)
        return range_error(err, t, "expects a date of birth giving an age of at most 150");
    low = youngest / t->count * t->count;
    if (oldest / t->count * t->count != low)
        return range_error(err, t, "expects a date of birth in one band on every day "
                           "it may mean");
    if (t->count == 1)
        snprintf(buf, sizeof(buf), "%d", low);
    else
        snprintf(buf, sizeof(buf), "%d-%d", low, low + t->count - 1);
    return give_string(out, buf, strlen(buf), t, err);
}

static apr_status_t apply_postcode(const pds_transform_t *t, json_t *v,
                                   const pds_transform_ctx_t *ctx, json_t **out,
                                   pds_error_t *err)
{
    char code[8];
    const char *s;
    apr_size_t len, i, n = 0;

    if (!json_is_string(v))
        return type_error(err, t, v, postcode_expects);
    s = json_string_value(v);
    len = json_string_length(v);
    for (i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (n == sizeof(code) - 1 || !(is_alpha(s[i]) || is_digit(s[i])))
            return type_error(err, t, v, postcode_expects);
        code[n++] = to_upper(s[i]);
    }
    if (n < 5 || !is_alpha(code[0]) || !is_digit(code[n - 3])
        || !is_alpha(code[n - 2]) || !is_alpha(code[n - 1]))
        return type_error(err, t, v, postcode_expects);
    return give_string(out, code, n - 3, t, err);
}

/* The C locale's decimal point, as snprintf and strtod use it. */
static char decimal_point(void)
{
    char buf[8];

    snprintf(buf, sizeof(buf), "%.1f", 0.5);
    return buf[1];
}

static apr_status_t apply_round(const pds_transform_t *t, json_t *v,
                                const pds_transform_ctx_t *ctx, json_t **out,
                                pds_error_t *err)
{
    char num[64];
    const char *text;
    char *result = NULL;
    pds_decimal_t x = { 0, NULL, 0, 0 }, r = { 0, NULL, 0, 0 };
    apr_status_t rv = APR_SUCCESS;

    if (json_is_string(v)) {
        if (!pds_decimal_is_numeric(json_string_value(v), json_string_length(v)))
            return type_error(err, t, v, round_expects);
        text = json_string_value(v);
    }
    else if (number_text(num, sizeof(num), v))
        text = num;
    else
        return type_error(err, t, v, round_expects);

    if (!pds_decimal_read(&x, text)
        || !pds_decimal_round(&r, &x, t->step_units, (apr_size_t)t->step_scale)
        || (result = pds_decimal_text(&r)) == NULL) {
        rv = no_memory(err, t);
        goto done;
    }
    if (json_is_string(v)) {
        rv = give_string(out, result, strlen(result), t, err);
    }
    else if (json_is_integer(v) && t->step_scale == 0) {
        /* Stays an integer: within 64 bits, or refused. */
        apr_uint64_t mag = 0, limit = (apr_uint64_t)LLONG_MAX + (r.neg ? 1 : 0);
        apr_size_t i;
        json_int_t iv;

        for (i = 0; i < r.len; i++) {
            apr_uint64_t c = (apr_uint64_t)(r.digits[i] - '0');

            if (mag > (limit - c) / 10) {
                rv = range_error(err, t, "the rounded integer is beyond 64 bits");
                goto done;
            }
            mag = mag * 10 + c;
        }
        iv = r.neg ? (mag == limit ? (json_int_t)LLONG_MIN
                                   : -(json_int_t)mag)
                   : (json_int_t)mag;
        *out = json_integer(iv);
        if (*out == NULL)
            rv = no_memory(err, t);
    }
    else {
        /* A real. strtod reads the C locale's decimal point; the text is
         * exact decimal digits, so the double is the nearest one. */
        double d;
        char *c;

        for (c = result; *c != '\0'; c++) {
            if (*c == '.')
                *c = decimal_point();
        }
        errno = 0;
        d = strtod(result, NULL);
        if (!isfinite(d) || (errno == ERANGE && d != 0.0)) {
            rv = range_error(err, t, "the rounded number is beyond the range of reals");
            goto done;
        }
        *out = json_real(d);
        if (*out == NULL)
            rv = no_memory(err, t);
    }

done:
    free(x.digits);
    free(r.digits);
    free(result);
    return rv;
}

static apr_status_t apply_truncate(const pds_transform_t *t, json_t *v,
                                   const pds_transform_ctx_t *ctx, json_t **out,
                                   pds_error_t *err)
{
    const char *s;
    apr_size_t len;

    if (!json_is_string(v))
        return type_error(err, t, v, "a string");
    s = json_string_value(v);
    len = json_string_length(v);
    return give_string(out, s, utf8_offset(s, len, (apr_size_t)t->count), t, err);
}

/* ---- the table ------------------------------------------------------------ */

/* Error messages list the names in this order. */
const pds_transform_def_t pds_transform_table[] = {
    { .name = "redact", .flags = PDS_TRANSFORM_REMOVES },
    { .name = "nullify", .apply = apply_nullify, .flags = PDS_TRANSFORM_TAKES_NULL },
    { .name = "mask", .example = "mask 4",
      .read_arg = read_count, .min = 0, .max = MASK_MAX,
      .arg_name = "N, the number of characters left visible",
      .apply = apply_mask },
    { .name = "pseudonymise",
      .apply = apply_pseudonymise, .flags = PDS_TRANSFORM_NEEDS_KEY },
    { .name = "year", .apply = apply_date_prefix, .keep = 4 },
    { .name = "year-month", .apply = apply_date_prefix, .keep = 7 },
    { .name = "age-band", .example = "age-band 10",
      .read_arg = read_count, .min = 1, .max = AGE_BAND_MAX,
      .arg_name = "W, the width of the band in years",
      .apply = apply_age_band, .flags = PDS_TRANSFORM_NEEDS_TIME },
    { .name = "postcode-district", .apply = apply_postcode },
    { .name = "round", .example = "round 5",
      .read_arg = read_step, .arg_name = "STEP, a positive decimal number",
      .apply = apply_round },
    { .name = "truncate", .example = "truncate 10",
      .read_arg = read_count, .min = 1, .max = TRUNCATE_MAX,
      .arg_name = "N, the number of characters kept",
      .apply = apply_truncate },
    { .name = "constant", .example = "constant \"withheld\"",
      .read_arg = read_constant, .arg_name = "VALUE, a JSON scalar or a string",
      .extra_hint = " (quote a VALUE with spaces)",
      .apply = apply_constant, .flags = PDS_TRANSFORM_TAKES_NULL },
};

const apr_size_t pds_transform_table_size =
    sizeof(pds_transform_table) / sizeof(pds_transform_table[0]);
