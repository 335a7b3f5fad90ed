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

apr_size_t pds_text_json_escape(char *out, const char *str, apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i, len = 0, run = 0;
    char esc[6];

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)str[i];
        const char *e = NULL;
        apr_size_t elen = 2;

        switch (c) {
        case '"':  e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default:
            if (c < 0x20) {
                esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = hex[c >> 4]; esc[5] = hex[c & 0xf];
                e = esc;
                elen = 6;
            }
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
