/* pds_transform.c: field value transforms (definitions in pds_transform.h).
 *
 * A transform is parsed once into a small read-only struct. Applying one
 * builds a new jansson value and never touches the input, the transform, or
 * any shared reference count (constant hands out a copy), so one transform
 * serves many threads. apply takes no pool: scratch memory is malloc'd and
 * freed before returning.
 *
 * Error texts written while applying name the transform and what it expects,
 * never the value: the value is personal data and error texts reach logs.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "pds_jws.h"
#include "pds_transform.h"

#define PDS_TRANSFORM_SOURCE "Transform"

#define MASK_MAX        64
#define TRUNCATE_MAX    10000
#define AGE_BAND_MAX    50
#define AGE_MAX         150
#define STEP_DIGITS_MAX 18      /* S < 10^18: long division stays in 64 bits */

#define PSEUDONYM_PREFIX     "ps_"
#define PSEUDONYM_BYTES      16
#define PSEUDONYM_KEY_PREFIX "pds-pseudonym-v1:"

typedef enum {
    T_REDACT,
    T_NULLIFY,
    T_MASK,
    T_PSEUDONYMISE,
    T_YEAR,
    T_YEAR_MONTH,
    T_AGE_BAND,
    T_POSTCODE_DISTRICT,
    T_ROUND,
    T_TRUNCATE,
    T_CONSTANT
} transform_kind_e;

typedef enum { ARG_NONE, ARG_COUNT, ARG_STEP, ARG_VALUE } arg_kind_e;

typedef struct transform_def_t {
    const char *name;
    transform_kind_e kind;
    arg_kind_e arg;
    int min, max;               /* ARG_COUNT: the range */
    const char *arg_name;       /* for messages */
    const char *example;
} transform_def_t;

static const transform_def_t defs[] = {
    { "redact",            T_REDACT,            ARG_NONE,  0, 0, NULL, "redact" },
    { "nullify",           T_NULLIFY,           ARG_NONE,  0, 0, NULL, "nullify" },
    { "mask",              T_MASK,              ARG_COUNT, 0, MASK_MAX,
      "N, the number of characters left visible", "mask 4" },
    { "pseudonymise",      T_PSEUDONYMISE,      ARG_NONE,  0, 0, NULL, "pseudonymise" },
    { "year",              T_YEAR,              ARG_NONE,  0, 0, NULL, "year" },
    { "year-month",        T_YEAR_MONTH,        ARG_NONE,  0, 0, NULL, "year-month" },
    { "age-band",          T_AGE_BAND,          ARG_COUNT, 1, AGE_BAND_MAX,
      "W, the width of the band in years", "age-band 10" },
    { "postcode-district", T_POSTCODE_DISTRICT, ARG_NONE,  0, 0, NULL, "postcode-district" },
    { "round",             T_ROUND,             ARG_STEP,  0, 0,
      "STEP, a positive decimal number", "round 5" },
    { "truncate",          T_TRUNCATE,          ARG_COUNT, 1, TRUNCATE_MAX,
      "N, the number of characters kept", "truncate 10" },
    { "constant",          T_CONSTANT,          ARG_VALUE, 0, 0,
      "VALUE, a JSON scalar or a string", "constant \"withheld\"" },
};

#define KNOWN_NAMES "redact, nullify, mask, pseudonymise, year, year-month, " \
    "age-band, postcode-district, round, truncate, constant"

struct pds_transform_t {
    const transform_def_t *def;
    const char *text;           /* canonical */
    int count;                  /* mask, truncate: N; age-band: W */
    apr_uint64_t step_units;    /* round: STEP = step_units * 10^-step_scale */
    int step_scale;
    json_t *constant;           /* constant: released by a pool cleanup */
};

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

/* Renders configuration text for a message: quoted, shortened, printable. */
static const char *show(char *buf, apr_size_t size, const char *s)
{
    apr_size_t i, o = 0, limit = size - 6;   /* room for quotes, "...", NUL */

    buf[o++] = '"';
    for (i = 0; s[i] != '\0' && o < limit; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[o++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (s[i] != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* A number's decimal text as the filter writes it: the shortest of
 * %.15g..%.17g that reads back as d, "100.0" rather than "100", "1e300"
 * rather than "1e+300". buf holds at least 64 bytes. */
static void real_text(char *buf, apr_size_t size, double d)
{
    char *e, *digits, *end, *c;
    int prec;
    apr_size_t len;

    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* Whatever the C locale's decimal point, JSON's is '.'. */
    for (c = buf; *c != '\0'; c++) {
        if (*c == ',')
            *c = '.';
    }
    len = strlen(buf);
    e = strchr(buf, 'e');
    if (e == NULL) {
        if (strchr(buf, '.') == NULL && len + 2 < size)
            memcpy(buf + len, ".0", 3);
    }
    else {
        digits = e + 1;
        if (*digits == '-')
            digits++;
        end = e + 1;
        if (*end == '+' || *end == '-')
            end++;
        while (*end == '0' && end[1] != '\0')
            end++;
        memmove(digits, end, strlen(end) + 1);
    }
}

/* The decimal text of a JSON number into buf (64 bytes); 0 if not a number. */
static int number_text(char *buf, apr_size_t size, json_t *v)
{
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 1;
    }
    if (json_is_real(v)) {
        real_text(buf, size, json_real_value(v));
        return 1;
    }
    return 0;
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct word_t {
    const char *text;           /* unquoted, unescaped */
    int pos;                    /* offset of the word (its quote) in the text */
    int quoted;
} word_t;

static apr_status_t bad(pds_error_t *err, int pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static apr_status_t bad(pds_error_t *err, int pos, const char *fmt, ...)
{
    char text[PDS_ERROR_TEXT_LENGTH];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pds_error_set(err, "bad-transform", pos, PDS_TRANSFORM_SOURCE, "%s", text);
    return APR_EINVAL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits text into words: blanks between; "double quotes" with \" and \\
 * inside; no control characters but tabs inside quotes. */
static apr_status_t split_words(apr_array_header_t **pwords, apr_pool_t *p,
                                const char *text, pds_error_t *err)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(word_t));
    apr_size_t i = 0, len = strlen(text);

    for (;;) {
        word_t *w;
        char *buf, *o;

        while (is_blank(text[i]))
            i++;
        if (text[i] == '\0')
            break;
        if (len > INT_MAX / 2)
            return bad(err, 0, "the transform is too long");
        w = &APR_ARRAY_PUSH(words, word_t);
        w->pos = (int)i;
        w->quoted = text[i] == '"';
        o = buf = apr_palloc(p, len - i + 1);
        if (w->quoted) {
            for (i++; text[i] != '"'; i++) {
                unsigned char c = (unsigned char)text[i];

                if (c == '\0')
                    return bad(err, w->pos, "a quoted word has no closing quote");
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                    return bad(err, (int)i, "a control character in a quoted word");
                if (c == '\\' && (text[i + 1] == '"' || text[i + 1] == '\\'))
                    i++;
                *o++ = text[i];
            }
            i++;
            if (text[i] != '\0' && !is_blank(text[i]))
                return bad(err, (int)i, "expected a space or the end after a closing quote");
        }
        else {
            for (; text[i] != '\0' && !is_blank(text[i]); i++) {
                unsigned char c = (unsigned char)text[i];

                if (c == '"')
                    return bad(err, (int)i, "a quote can only start a word; "
                               "put the whole word in quotes");
                if (c < 0x20 || c == 0x7F)
                    return bad(err, (int)i, "a control character; "
                               "words are separated by spaces or tabs");
                *o++ = text[i];
            }
        }
        *o = '\0';
        w->text = buf;
    }
    *pwords = words;
    return APR_SUCCESS;
}

/* A count: digits only, within [def->min, def->max]. */
static apr_status_t parse_count(pds_transform_t *t, const word_t *w,
                                pds_error_t *err)
{
    const transform_def_t *def = t->def;
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
    return APR_SUCCESS;

out_of_range:
    return bad(err, w->pos, "%s: %s must be a whole number from %d to %d, e.g. `%s`",
               def->name, def->arg_name, def->min, def->max, def->example);
}

/* STEP: digits ["." digits], positive, at most STEP_DIGITS_MAX significant
 * digits once leading zeros and trailing fraction zeros are dropped. */
static apr_status_t parse_step(pds_transform_t *t, const word_t *w,
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
        if (++digits > STEP_DIGITS_MAX)
            return bad(err, w->pos, "round: STEP has more than %d significant digits",
                       STEP_DIGITS_MAX);
        units = units * 10 + (apr_uint64_t)(c - '0');
    }
    if (units == 0)
        goto bad_step;
    if (frac_len > STEP_DIGITS_MAX)
        return bad(err, w->pos, "round: STEP has more than %d decimals", STEP_DIGITS_MAX);
    t->step_units = units;
    t->step_scale = (int)frac_len;
    return APR_SUCCESS;

bad_step:
    return bad(err, w->pos, "round: STEP must be a positive number written with "
               "digits and at most one '.', e.g. `round 5` or `round 0.5`");
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

/* VALUE: quoted, a string; unquoted, a JSON scalar when it is one. */
static apr_status_t parse_constant(pds_transform_t *t, apr_pool_t *p,
                                   const word_t *w, pds_error_t *err)
{
    const char *s = w->text;
    json_t *v;

    if (!utf8_valid(s, strlen(s)))
        return bad(err, w->pos, "constant: VALUE is not valid UTF-8");
    if (w->quoted)
        v = json_string(s);
    else if (*s == '{' || *s == '[')
        return bad(err, w->pos, "constant: VALUE must be a JSON scalar (true, false, "
                   "null, a number or a \"quoted string\"), not an object or array");
    else if (strcmp(s, "true") == 0)
        v = json_true();
    else if (strcmp(s, "false") == 0)
        v = json_false();
    else if (strcmp(s, "null") == 0)
        v = json_null();
    else if (is_json_number(s)) {
        v = json_loads(s, JSON_DECODE_ANY, NULL);
        if (v == NULL)
            return bad(err, w->pos, "constant: the number is out of range "
                       "(integers have 64 bits, reals must be finite)");
    }
    else
        v = json_string(s);
    if (v == NULL)
        return bad(err, w->pos, "constant: out of memory");
    apr_pool_cleanup_register(p, v, release_json, apr_pool_cleanup_null);
    t->constant = v;
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

apr_status_t pds_transform_parse(pds_transform_t **pt, apr_pool_t *p,
                                 const char *text, pds_error_t *err)
{
    char shown[48];
    apr_array_header_t *words = NULL;
    const transform_def_t *def = NULL;
    const word_t *name, *arg = NULL;
    pds_transform_t *t;
    const char *argtext = NULL;
    apr_status_t rv;
    apr_size_t i;

    if (pt == NULL || p == NULL || text == NULL) {
        pds_error_set(err, "bad-transform", -1, PDS_TRANSFORM_SOURCE,
                      "pds_transform_parse called without a result, pool or text");
        return APR_EINVAL;
    }
    rv = split_words(&words, p, text, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (words->nelts == 0)
        return bad(err, (int)strlen(text), "expected a transform: one of " KNOWN_NAMES);
    name = &APR_ARRAY_IDX(words, 0, word_t);
    for (i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        if (strcmp(name->text, defs[i].name) == 0) {
            def = &defs[i];
            break;
        }
    }
    if (def == NULL)
        return bad(err, name->pos, "unknown transform %s; expected one of " KNOWN_NAMES,
                   show(shown, sizeof(shown), name->text));

    t = apr_pcalloc(p, sizeof(*t));
    t->def = def;
    if (def->arg == ARG_NONE) {
        if (words->nelts > 1)
            return bad(err, APR_ARRAY_IDX(words, 1, word_t).pos,
                       "%s takes no argument; remove %s", def->name,
                       show(shown, sizeof(shown), APR_ARRAY_IDX(words, 1, word_t).text));
        t->text = def->name;
        *pt = t;
        return APR_SUCCESS;
    }
    if (words->nelts < 2)
        return bad(err, (int)strlen(text), "%s needs %s, e.g. `%s`",
                   def->name, def->arg_name, def->example);
    if (words->nelts > 2)
        return bad(err, APR_ARRAY_IDX(words, 2, word_t).pos,
                   "%s takes one argument (%s); remove %s%s", def->name, def->arg_name,
                   show(shown, sizeof(shown), APR_ARRAY_IDX(words, 2, word_t).text),
                   def->arg == ARG_VALUE ? " (quote a VALUE with spaces)" : "");
    arg = &APR_ARRAY_IDX(words, 1, word_t);
    switch (def->arg) {
    case ARG_COUNT:
        rv = parse_count(t, arg, err);
        argtext = apr_itoa(p, t->count);
        break;
    case ARG_STEP:
        rv = parse_step(t, arg, err);
        if (rv == APR_SUCCESS)
            argtext = step_text(p, t->step_units, t->step_scale);
        break;
    default:
        rv = parse_constant(t, p, arg, err);
        if (rv == APR_SUCCESS)
            argtext = constant_text(p, t->constant);
        break;
    }
    if (rv != APR_SUCCESS)
        return rv;
    t->text = apr_pstrcat(p, def->name, " ", argtext, NULL);
    *pt = t;
    return APR_SUCCESS;
}

const char *pds_transform_name(const pds_transform_t *t)
{
    return t != NULL ? t->def->name : NULL;
}

const char *pds_transform_text(const pds_transform_t *t)
{
    return t != NULL ? t->text : NULL;
}

int pds_transform_removes(const pds_transform_t *t)
{
    return t != NULL && t->def->kind == T_REDACT;
}

int pds_transform_needs_key(const pds_transform_t *t)
{
    return t != NULL && t->def->kind == T_PSEUDONYMISE;
}

/* ---- pseudonyms ----------------------------------------------------------- */

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

/* The same without a pool (apply has none): into out, 3 + 22 + 1 bytes. */
static int pseudonym_into(char out[32], const unsigned char *key,
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

/* ---- dates ---------------------------------------------------------------- */

static int is_leap(int y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* n digits at s as a number, or -1. */
static int digits_at(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD", or an RFC 3339 date-time: the date, checked. */
static int parse_date(const char *s, apr_size_t len, int *py, int *pm, int *pd)
{
    int y, m, d, hh, mi, ss;
    apr_size_t i;

    if (len < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    y = digits_at(s, 4);
    m = digits_at(s + 5, 2);
    d = digits_at(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return 0;
    if (len > 10) {
        /* date-time: T HH:MM:SS[.frac] (Z | +HH:MM | -HH:MM) */
        if (len < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
            || s[13] != ':' || s[16] != ':')
            return 0;
        hh = digits_at(s + 11, 2);
        mi = digits_at(s + 14, 2);
        ss = digits_at(s + 17, 2);
        if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60)
            return 0;
        i = 19;
        if (s[i] == '.') {
            if (++i >= len || !is_digit(s[i]))
                return 0;
            while (i < len && is_digit(s[i]))
                i++;
        }
        if (i < len && (s[i] == 'Z' || s[i] == 'z'))
            i++;
        else if (i < len && (s[i] == '+' || s[i] == '-')) {
            if (len - i < 6 || s[i + 3] != ':')
                return 0;
            hh = digits_at(s + i + 1, 2);
            mi = digits_at(s + i + 4, 2);
            if (hh < 0 || hh > 23 || mi < 0 || mi > 59)
                return 0;
            i += 6;
        }
        else
            return 0;
        if (i != len)
            return 0;
    }
    *py = y;
    *pm = m;
    *pd = d;
    return 1;
}

/* ---- round: exact decimal arithmetic ------------------------------------- */

/* A decimal: sign, digits (ASCII, at least one), value digits * 10^-scale. */
typedef struct decimal_t {
    int neg;
    char *digits;               /* malloc'd */
    apr_size_t len;
    apr_size_t scale;
} decimal_t;

/* Reads ["-"] digits ["." digits] [("e"|"E") ["+"|"-"] digits] (the caller
 * has checked the grammar). 0 when out of memory or the exponent is absurd. */
static int decimal_read(decimal_t *x, const char *s)
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
    cap = (apr_size_t)(e - m) + 401 + STEP_DIGITS_MAX;
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
static int decimal_round(decimal_t *r, const decimal_t *x, apr_uint64_t units,
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
static char *decimal_text(const decimal_t *x)
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
static int is_numeric_string(const char *s, apr_size_t len)
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

/* ---- apply ---------------------------------------------------------------- */

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

static apr_status_t apply_mask(const pds_transform_t *t, json_t *v, json_t **out,
                               pds_error_t *err)
{
    char num[64];
    const char *s;
    apr_size_t len, chars, hidden, tail;
    apr_status_t rv;
    char *buf;

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    }
    else if (number_text(num, sizeof(num), v)) {
        s = num;
        len = strlen(num);
    }
    else
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

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    }
    else if (number_text(num, sizeof(num), v)) {
        s = num;
        len = strlen(num);
    }
    else
        return type_error(err, t, v, "a string or a number");
    if (!pseudonym_into(ps, ctx->key, s, len)) {
        pds_error_set(err, "internal-error", -1, t->def->name,
                      "%s: the keyed hash failed", t->def->name);
        return APR_EGENERAL;
    }
    return give_string(out, ps, strlen(ps), t, err);
}

static apr_status_t apply_date(const pds_transform_t *t, json_t *v,
                               const pds_transform_ctx_t *ctx, json_t **out,
                               pds_error_t *err)
{
    static const char expects[] = "a date: YYYY-MM-DD or an RFC 3339 date-time";
    apr_time_exp_t now;
    char buf[16];
    int y, m, d, ny, nm, nd, bm, bd, age, low;

    if (!json_is_string(v)
        || !parse_date(json_string_value(v), json_string_length(v), &y, &m, &d))
        return type_error(err, t, v, expects);
    if (t->def->kind == T_YEAR) {
        snprintf(buf, sizeof(buf), "%04d", y);
        return give_string(out, buf, strlen(buf), t, err);
    }
    if (t->def->kind == T_YEAR_MONTH) {
        snprintf(buf, sizeof(buf), "%04d-%02d", y, m);
        return give_string(out, buf, strlen(buf), t, err);
    }
    if (apr_time_exp_gmt(&now, ctx->now) != APR_SUCCESS) {
        pds_error_set(err, "internal-error", -1, t->def->name,
                      "%s: the request time cannot be read", t->def->name);
        return APR_EGENERAL;
    }
    ny = now.tm_year + 1900;
    nm = now.tm_mon + 1;
    nd = now.tm_mday;
    if (y > ny || (y == ny && (m > nm || (m == nm && d > nd))))
        return range_error(err, t, "expects a date of birth, not a date in the future");
    /* Born on 29 February: the birthday is 1 March in common years. */
    bm = m;
    bd = d;
    if (m == 2 && d == 29 && !is_leap(ny)) {
        bm = 3;
        bd = 1;
    }
    age = ny - y - ((nm < bm || (nm == bm && nd < bd)) ? 1 : 0);
    if (age > AGE_MAX)
        return range_error(err, t, "expects a date of birth giving an age of at most 150");
    low = age / t->count * t->count;
    if (t->count == 1)
        snprintf(buf, sizeof(buf), "%d", low);
    else
        snprintf(buf, sizeof(buf), "%d-%d", low, low + t->count - 1);
    return give_string(out, buf, strlen(buf), t, err);
}

static apr_status_t apply_postcode(const pds_transform_t *t, json_t *v, json_t **out,
                                   pds_error_t *err)
{
    static const char expects[] = "a UK postcode: 5 to 7 letters and digits, "
        "ending digit, letter, letter";
    char code[8];
    const char *s;
    apr_size_t len, i, n = 0;

    if (!json_is_string(v))
        return type_error(err, t, v, expects);
    s = json_string_value(v);
    len = json_string_length(v);
    for (i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (n == sizeof(code) - 1 || !(is_alpha(s[i]) || is_digit(s[i])))
            return type_error(err, t, v, expects);
        code[n++] = to_upper(s[i]);
    }
    if (n < 5 || !is_alpha(code[0]) || !is_digit(code[n - 3])
        || !is_alpha(code[n - 2]) || !is_alpha(code[n - 1]))
        return type_error(err, t, v, expects);
    return give_string(out, code, n - 3, t, err);
}

/* The C locale's decimal point, as snprintf and strtod use it. */
static char decimal_point(void)
{
    char buf[8];

    snprintf(buf, sizeof(buf), "%.1f", 0.5);
    return buf[1];
}

static apr_status_t apply_round(const pds_transform_t *t, json_t *v, json_t **out,
                                pds_error_t *err)
{
    static const char expects[] = "a number or a numeric string (digits, "
        "an optional minus sign and decimal point)";
    char num[64];
    const char *text;
    char *result = NULL;
    decimal_t x = { 0, NULL, 0, 0 }, r = { 0, NULL, 0, 0 };
    apr_status_t rv = APR_SUCCESS;

    if (json_is_string(v)) {
        if (!is_numeric_string(json_string_value(v), json_string_length(v)))
            return type_error(err, t, v, expects);
        text = json_string_value(v);
    }
    else if (number_text(num, sizeof(num), v))
        text = num;
    else
        return type_error(err, t, v, expects);

    if (!decimal_read(&x, text) || !decimal_round(&r, &x, t->step_units,
                                                  (apr_size_t)t->step_scale)
        || (result = decimal_text(&r)) == NULL) {
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

static apr_status_t apply_truncate(const pds_transform_t *t, json_t *v, json_t **out,
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

apr_status_t pds_transform_apply(const pds_transform_t *t, json_t *v,
                                 const pds_transform_ctx_t *ctx,
                                 json_t **out, pds_error_t *err)
{
    if (out != NULL)
        *out = NULL;
    if (t == NULL || v == NULL || out == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_TRANSFORM_SOURCE,
                      "pds_transform_apply called without a transform, value or result");
        return APR_EINVAL;
    }
    switch (t->def->kind) {
    case T_REDACT:
        return APR_SUCCESS;
    case T_NULLIFY:
        *out = json_null();
        return APR_SUCCESS;
    case T_CONSTANT:
        /* A copy: the configured value's reference count is never touched
         * at request time. */
        *out = json_deep_copy(t->constant);
        return *out != NULL ? APR_SUCCESS : no_memory(err, t);
    case T_PSEUDONYMISE:
        if (ctx == NULL || ctx->key == NULL) {
            pds_error_set(err, "transform-key", -1, t->def->name,
                          "pseudonymise needs the agreement's pseudonym key; "
                          "configure PDSPseudonymKey");
            return APR_EINVAL;
        }
        break;
    case T_AGE_BAND:
        if (ctx == NULL) {
            pds_error_set(err, "bad-argument", -1, t->def->name,
                          "age-band needs the request's time");
            return APR_EINVAL;
        }
        break;
    default:
        break;
    }
    if (json_is_null(v)) {
        *out = json_null();
        return APR_SUCCESS;
    }
    switch (t->def->kind) {
    case T_MASK:
        return apply_mask(t, v, out, err);
    case T_PSEUDONYMISE:
        return apply_pseudonymise(t, v, ctx, out, err);
    case T_YEAR:
    case T_YEAR_MONTH:
    case T_AGE_BAND:
        return apply_date(t, v, ctx, out, err);
    case T_POSTCODE_DISTRICT:
        return apply_postcode(t, v, out, err);
    case T_ROUND:
        return apply_round(t, v, out, err);
    case T_TRUNCATE:
        return apply_truncate(t, v, out, err);
    default:
        pds_error_set(err, "internal-error", -1, t->def->name, "unknown transform");
        return APR_EGENERAL;
    }
}
