/* pds_html.c: the one escaping rule of the module's pages (pds_html.h). */
#include <string.h>

#include <apr_strings.h>

#include "pds_html.h"

char *pds_html_escape(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0, i;
    char *out, *o;

    if (s == NULL)
        return apr_pstrdup(p, "");
    for (i = 0; s[i] != '\0'; i++) {
        switch (s[i]) {
        case '&': n += 5; break;            /* &amp; */
        case '<': case '>': n += 4; break;  /* &lt; &gt; */
        case '"': case '\'': n += 6; break; /* &quot; &#39; (5, 6 bytes) */
        default: n += 1; break;
        }
    }
    out = o = apr_palloc(p, n + 1);
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '&': memcpy(o, "&amp;", 5); o += 5; break;
        case '<': memcpy(o, "&lt;", 4); o += 4; break;
        case '>': memcpy(o, "&gt;", 4); o += 4; break;
        case '"': memcpy(o, "&quot;", 6); o += 6; break;
        case '\'': memcpy(o, "&#39;", 5); o += 5; break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                break;
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

int pds_html_is_plain_text(const char *s, apr_size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0;

    if (s == NULL)
        return 0;
    while (u[i] != '\0') {
        unsigned long cp;
        int more, k;

        if (i >= max_bytes)
            return 0;
        if (u[i] < 0x80) {
            if (u[i] < 0x20 || u[i] == 0x7f)
                return 0;
            i++;
            continue;
        }
        if (u[i] >= 0xc2 && u[i] <= 0xdf) { cp = u[i] & 0x1f; more = 1; }
        else if (u[i] >= 0xe0 && u[i] <= 0xef) { cp = u[i] & 0x0f; more = 2; }
        else if (u[i] >= 0xf0 && u[i] <= 0xf4) { cp = u[i] & 0x07; more = 3; }
        else
            return 0;
        for (k = 1; k <= more; k++) {
            if ((u[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += (apr_size_t)more + 1;
        if (i > max_bytes)
            return 0;
    }
    return i > 0;
}
