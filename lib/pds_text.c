/* pds_text.c: small text helpers (see pds_text.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pds_text.h"

const char *pds_text_show(char *buf, apr_size_t size, const char *s)
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

void pds_text_real(char *buf, apr_size_t size, double d)
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

/* The two-character escape JSON has for c, or NULL. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"':  return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default:   return NULL;
    }
}

apr_size_t pds_text_json_escape(char *out, const char *str, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i, len = 0, run = 0;
    char esc[6];

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)str[i];
        const char *e = short_escape(c);
        apr_size_t elen = 2;

        if (e == NULL && c < 0x20) {
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf];
            e = esc;
            elen = 6;
        }
        if (e == NULL) {
            run++;
            continue;
        }
        if (out != NULL) {
            memcpy(out + len, str + i - run, run);
            memcpy(out + len + run, e, elen);
        }
        len += run + elen;
        run = 0;
    }
    if (out != NULL)
        memcpy(out + len, str + n - run, run);
    return len + run;
}

apr_size_t pds_text_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0;
        return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return 0;
        return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80
            && (s[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* \uXXXX of one UTF-16 unit into out (6 bytes). */
static void put_u16(char *out, unsigned long u)
{
    static const char hex[] = "0123456789ABCDEF";

    out[0] = '\\';
    out[1] = 'u';
    out[2] = hex[(u >> 12) & 0xf];
    out[3] = hex[(u >> 8) & 0xf];
    out[4] = hex[(u >> 4) & 0xf];
    out[5] = hex[u & 0xf];
}

apr_size_t pds_text_json_escape_ascii(char *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    apr_size_t len = 0, n;
    char esc[12];

    for (; *s != '\0'; s += n) {
        unsigned char c = *s;
        const char *e = NULL;
        apr_size_t elen = 2;
        unsigned long u;

        n = 1;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            if (out != NULL)
                out[len] = (char)c;
            len++;
            continue;
        }
        e = short_escape(c);
        if (e == NULL) {
            n = c < 0x80 ? 1 : pds_text_utf8_len(s);
            if (n == 0) {
                u = 0xFFFD;             /* not UTF-8: the replacement character */
                n = 1;
            }
            else if (n == 1)
                u = c;
            else if (n == 2)
                u = ((unsigned long)(c & 0x1F) << 6) | (s[1] & 0x3F);
            else if (n == 3)
                u = ((unsigned long)(c & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6)
                    | (s[2] & 0x3F);
            else
                u = ((unsigned long)(c & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12)
                    | ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
            if (u < 0x10000) {
                put_u16(esc, u);
                elen = 6;
            }
            else {
                u -= 0x10000;
                put_u16(esc, 0xD800 | (u >> 10));
                put_u16(esc + 6, 0xDC00 | (u & 0x3FF));
                elen = 12;
            }
            e = esc;
        }
        if (out != NULL)
            memcpy(out + len, e, elen);
        len += elen;
    }
    return len;
}
