/* pds_json_lex.c: the strict tokenizer (pds_json_lex.h). It mirrors jansson
 * 2.14's lexer (load.c, utf.c) rule by rule, so that the streaming filter
 * and the DOM filter accept and refuse the same bodies; the fuzz target
 * fuzz_stream.c checks that they do.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pds_json_lex.h"

void pds_lex_init(pds_lex_t *lx, const char *in, size_t len, size_t pos)
{
    lx->in = (const unsigned char *)in;
    lx->len = len;
    lx->pos = pos;
}

/* The length of the valid UTF-8 sequence at in[pos] (1 for ASCII), or 0. */
static size_t utf8_at(const unsigned char *in, size_t len, size_t pos)
{
    unsigned char u = in[pos];
    size_t size, i;
    long value;

    if (u < 0x80)
        return 1;
    if (u >= 0xC2 && u <= 0xDF) {
        size = 2;
        value = u & 0x1F;
    }
    else if (u >= 0xE0 && u <= 0xEF) {
        size = 3;
        value = u & 0x0F;
    }
    else if (u >= 0xF0 && u <= 0xF4) {
        size = 4;
        value = u & 0x07;
    }
    else
        return 0;       /* a continuation byte, 0xC0, 0xC1, 0xF5 and above */
    if (len - pos < size)
        return 0;
    for (i = 1; i < size; i++) {
        u = in[pos + i];
        if (u < 0x80 || u > 0xBF)
            return 0;
        value = (value << 6) + (u & 0x3F);
    }
    if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)
        || (size == 2 && value < 0x80) || (size == 3 && value < 0x800)
        || (size == 4 && value < 0x10000))
        return 0;
    return size;
}

int pds_lex_bad_utf8_at(const pds_lex_t *lx, size_t pos)
{
    return pos < lx->len && utf8_at(lx->in, lx->len, pos) == 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at in[pos]: their value, or -1. */
static long hex4(const unsigned char *in, size_t len, size_t pos)
{
    long v = 0;
    int i, h;

    if (len - pos < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        h = hexval(in[pos + i]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* Bytes that stand for themselves inside a string: printable ASCII but
 * '"' and '\\'. */
static const unsigned char plain[256] = {
    ['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,      /* 0x20-0x2f, '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x30-0x3f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x40-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                  /* 0x50-0x5f, '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x60-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x70-0x7f */
};

static pds_tok_type_t invalid(pds_token_t *t, int reported)
{
    t->type = PDS_TOK_INVALID;
    t->reported = reported;
    return PDS_TOK_INVALID;
}

/* A string from its opening quote at t->start. jansson first scans to the
 * closing quote (control characters, escapes' letters, UTF-8), then decodes
 * (surrogates, NUL): every failure of either is an error it reports. */
static pds_tok_type_t scan_string(pds_lex_t *lx, pds_token_t *t)
{
    const unsigned char *in = lx->in;
    size_t len = lx->len, i = t->start + 1, n;
    long u, u2;

    t->type = PDS_TOK_STRING;
    for (;;) {
        unsigned char c;

        /* The common case: plain printable ASCII. */
        while (i < len && plain[in[i]])
            i++;
        if (i >= len) {
            lx->pos = len;
            return invalid(t, 1);               /* premature end of input */
        }
        c = in[i];
        if (c == '"')
            break;
        if (c < 0x20) {
            lx->pos = i;
            return invalid(t, 1);               /* control character */
        }
        if (c >= 0x80) {
            n = utf8_at(in, len, i);
            if (n == 0) {
                lx->pos = i;
                return invalid(t, 1);           /* unable to decode byte */
            }
            i += n;
            continue;
        }
        /* A backslash. */
        t->escaped = 1;
        i++;
        if (i >= len)
            return invalid(t, 1);
        c = in[i];
        if (c == 'u') {
            u = hex4(in, len, i + 1);
            if (u < 0) {
                lx->pos = i;
                return invalid(t, 1);           /* invalid escape */
            }
            i += 5;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (len - i >= 2 && in[i] == '\\' && in[i + 1] == 'u') {
                    u2 = hex4(in, len, i + 2);
                    /* A bad second escape is the scan's error (next turn);
                     * a bad pair the decoding pass's. */
                    if (u2 < 0)
                        continue;
                    if (u2 < 0xDC00 || u2 > 0xDFFF)
                        t->reported = 2;
                    i += 6;
                    continue;
                }
                t->reported = 2;                /* no second surrogate */
            }
            else if (u >= 0xDC00 && u <= 0xDFFF)
                t->reported = 2;
            else if (u == 0)
                t->has_nul = 1;
            continue;
        }
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n'
            || c == 'r' || c == 't') {
            i++;
            continue;
        }
        lx->pos = i;
        return invalid(t, 1);                   /* invalid escape */
    }
    t->end = i + 1;
    lx->pos = i + 1;
    if (t->reported == 2)
        return invalid(t, 1);
    return PDS_TOK_STRING;
}

/* strtod as jansson's jsonp_strtod: the text with '.' as the locale's
 * decimal point; refused only on overflow. */
static int parse_real(const unsigned char *text, size_t n, double *out)
{
    char local[64], *buf = local, *end;
    const char *point = localeconv()->decimal_point;
    size_t i;
    double d;
    int bad;

    if (n >= sizeof(local)) {
        buf = malloc(n + 1);
        if (buf == NULL)
            return -1;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (point != NULL && point[0] != '.' && point[0] != '\0' && point[1] == '\0') {
        for (i = 0; i < n; i++)
            if (buf[i] == '.')
                buf[i] = point[0];
    }
    errno = 0;
    d = strtod(buf, &end);
    bad = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    if (buf != local)
        free(buf);
    *out = d;
    return bad ? -1 : 0;
}

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

static pds_tok_type_t scan_number(pds_lex_t *lx, pds_token_t *t)
{
    const unsigned char *in = lx->in;
    size_t len = lx->len, i = t->start, digits;
    int neg = 0;
    unsigned long long v = 0, limit;

    if (in[i] == '-') {
        neg = 1;
        i++;
    }
    if (i < len && in[i] == '0') {
        i++;
        if (i < len && IS_DIGIT(in[i])) {
            lx->pos = i;
            return invalid(t, pds_lex_bad_utf8_at(lx, i));
        }
    }
    else if (i < len && IS_DIGIT(in[i])) {
        while (i < len && IS_DIGIT(in[i]))
            i++;
    }
    else {
        lx->pos = i;
        return invalid(t, pds_lex_bad_utf8_at(lx, i));
    }
    if (i >= len || (in[i] != '.' && in[i] != 'e' && in[i] != 'E')) {
        /* An integer: strtoll's range, ERANGE refused. */
        size_t k = t->start + (size_t)neg;

        t->end = i;
        lx->pos = i;
        digits = i - k;
        limit = neg ? (unsigned long long)LLONG_MAX + 1ULL : (unsigned long long)LLONG_MAX;
        if (digits > 19)
            return invalid(t, 1);
        for (; k < i; k++) {
            unsigned d = (unsigned)(in[k] - '0');
            if (v > (limit - d) / 10)
                return invalid(t, 1);
            v = v * 10 + d;
        }
        t->integer = neg ? (v == limit ? LLONG_MIN : -(long long)v) : (long long)v;
        t->type = PDS_TOK_INTEGER;
        return PDS_TOK_INTEGER;
    }
    if (in[i] == '.') {
        i++;
        if (i >= len || !IS_DIGIT(in[i])) {
            lx->pos = i;
            return invalid(t, pds_lex_bad_utf8_at(lx, i));
        }
        while (i < len && IS_DIGIT(in[i]))
            i++;
    }
    if (i < len && (in[i] == 'e' || in[i] == 'E')) {
        i++;
        if (i < len && (in[i] == '+' || in[i] == '-'))
            i++;
        if (i >= len || !IS_DIGIT(in[i])) {
            lx->pos = i;
            return invalid(t, pds_lex_bad_utf8_at(lx, i));
        }
        while (i < len && IS_DIGIT(in[i]))
            i++;
    }
    t->end = i;
    lx->pos = i;
    if (parse_real(in + t->start, i - t->start, &t->real) != 0)
        return invalid(t, 1);               /* real number overflow */
    t->type = PDS_TOK_REAL;
    return PDS_TOK_REAL;
}

/* jansson reads one character past a number or a keyword and puts it
 * back; a NUL put back is lost (its stream takes a NUL in its one-character
 * buffer for "empty"), so one NUL right after such a token is skipped as if
 * it were not there: "[1\0,2]" is [1,2] to it, and so to us. */
static pds_tok_type_t skip_lost_nul(pds_lex_t *lx, pds_tok_type_t type)
{
    if (type != PDS_TOK_INVALID && lx->pos < lx->len && lx->in[lx->pos] == '\0')
        lx->pos++;
    return type;
}

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))

pds_tok_type_t pds_lex_next(pds_lex_t *lx, pds_token_t *t)
{
    const unsigned char *in = lx->in;
    size_t len = lx->len, i = lx->pos;
    unsigned char c;

    while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r'))
        i++;
    t->start = i;
    t->end = i + 1;
    t->escaped = 0;
    t->has_nul = 0;
    t->reported = 0;
    if (i >= len) {
        lx->pos = len;
        t->end = len;
        t->type = PDS_TOK_EOF;
        return PDS_TOK_EOF;
    }
    c = in[i];
    lx->pos = i + 1;
    switch (c) {
    case '{': t->type = PDS_TOK_OBJECT; return t->type;
    case '}': t->type = PDS_TOK_OBJECT_END; return t->type;
    case '[': t->type = PDS_TOK_ARRAY; return t->type;
    case ']': t->type = PDS_TOK_ARRAY_END; return t->type;
    case ':': t->type = PDS_TOK_COLON; return t->type;
    case ',': t->type = PDS_TOK_COMMA; return t->type;
    case '"': return scan_string(lx, t);
    default:
        break;
    }
    if (IS_DIGIT(c) || c == '-')
        return skip_lost_nul(lx, scan_number(lx, t));
    if (IS_ALPHA(c)) {
        size_t k = i;

        while (k < len && IS_ALPHA(in[k]))
            k++;
        t->end = k;
        lx->pos = k;
        if (k - i == 4 && memcmp(in + i, "true", 4) == 0)
            t->type = PDS_TOK_TRUE;
        else if (k - i == 5 && memcmp(in + i, "false", 5) == 0)
            t->type = PDS_TOK_FALSE;
        else if (k - i == 4 && memcmp(in + i, "null", 4) == 0)
            t->type = PDS_TOK_NULL;
        else
            return invalid(t, pds_lex_bad_utf8_at(lx, k));
        return skip_lost_nul(lx, t->type);
    }
    /* Any other byte: jansson reports bad UTF-8 as it reads it, and an
     * unexpected character silently as an invalid token. */
    return invalid(t, utf8_at(in, len, i) == 0);
}

/* Appends code point u as UTF-8. */
static size_t put_utf8(char *out, long u)
{
    if (u < 0x80) {
        out[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (char)(0xC0 | (u >> 6));
        out[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (char)(0xE0 | (u >> 12));
        out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        out[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (u >> 18));
    out[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    out[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

size_t pds_lex_decode(const pds_lex_t *lx, const pds_token_t *t, char *out)
{
    const unsigned char *in = lx->in;
    size_t i = t->start + 1, end = t->end - 1, n = 0;
    long u, u2;

    if (!t->escaped) {
        memcpy(out, in + i, end - i);
        return end - i;
    }
    while (i < end) {
        size_t run = i;

        while (i < end && in[i] != '\\')
            i++;
        memcpy(out + n, in + run, i - run);
        n += i - run;
        if (i >= end)
            break;
        i++;
        switch (in[i]) {
        case 'b': out[n++] = '\b'; i++; break;
        case 'f': out[n++] = '\f'; i++; break;
        case 'n': out[n++] = '\n'; i++; break;
        case 'r': out[n++] = '\r'; i++; break;
        case 't': out[n++] = '\t'; i++; break;
        case 'u':
            u = hex4(in, lx->len, i + 1);
            i += 5;
            if (u >= 0xD800 && u <= 0xDBFF) {
                u2 = hex4(in, lx->len, i + 2);
                i += 6;
                u = ((u - 0xD800) << 10) + (u2 - 0xDC00) + 0x10000;
            }
            n += put_utf8(out + n, u);
            break;
        default:                    /* '"', '\\', '/' */
            out[n++] = (char)in[i];
            i++;
            break;
        }
    }
    return n;
}
