/* output.c: pds-audit's output, safe for a terminal (tty_safe) and a
 * browser (html_put), and the members of a record as text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_audit_tool.h"

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("pds-audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pds-audit %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* Appends "\uXXXX" for one code point (a surrogate pair above U+FFFF). */
static void push_escape(apr_array_header_t *out, unsigned long cp)
{
    char buf[16];
    int i, n;

    if (cp > 0xFFFF) {
        cp -= 0x10000;
        n = snprintf(buf, sizeof(buf), "\\u%04lx\\u%04lx", 0xD800 + (cp >> 10),
                     0xDC00 + (cp & 0x3FF));
    }
    else {
        n = snprintf(buf, sizeof(buf), "\\u%04lx", cp);
    }
    for (i = 0; i < n; i++)
        APR_ARRAY_PUSH(out, char) = buf[i];
}

/* Decodes one UTF-8 sequence at s (at most len bytes): its length, or 0 when
 * the bytes are not valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
    size_t n, i;
    unsigned long c;

    if (s[0] < 0xC2 || s[0] > 0xF4)
        return 0;
    n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (n > len)
        return 0;
    c = s[0] & (0x7F >> n);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF))
        || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Text for a terminal: printable ASCII as it is, everything else as \uXXXX
 * (a byte that is not UTF-8 as \xNN). */
const char *tty_safe(apr_pool_t *p, const char *s)
{
    const unsigned char *c;
    apr_array_header_t *out;
    size_t len;

    for (c = (const unsigned char *)s; *c >= 0x20 && *c < 0x7F; c++)
        ;
    if (*c == '\0')
        return s;                       /* the usual case: nothing to escape */
    len = strlen(s);
    out = apr_array_make(p, (int)len + 16, 1);
    for (c = (const unsigned char *)s; *c; ) {
        unsigned long cp;
        size_t n;

        if (*c >= 0x20 && *c < 0x7F) {
            APR_ARRAY_PUSH(out, char) = (char)*c++;
        }
        else if (*c < 0x80) {
            push_escape(out, *c++);
        }
        else if ((n = utf8_decode(c, strlen((const char *)c), &cp)) > 0) {
            push_escape(out, cp);
            c += n;
        }
        else {
            char buf[8];
            int i, k = snprintf(buf, sizeof(buf), "\\x%02x", *c++);
            for (i = 0; i < k; i++)
                APR_ARRAY_PUSH(out, char) = buf[i];
        }
    }
    APR_ARRAY_PUSH(out, char) = '\0';
    return out->elts;
}

/* tty_safe for a member that may be null: "-" then. */
const char *tty_or_dash(apr_pool_t *p, const char *s)
{
    return s ? tty_safe(p, s) : "-";
}

const char *or_dash(const char *s)
{
    return s ? s : "-";
}

/* HTML text or attribute value: every value that came from a log goes
 * through here. Control characters become U+FFFD. */
void html_put(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;

        switch (c) {
        case '&': fputs("&amp;", stdout); break;
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&#39;", stdout); break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F)
                fputs("&#xfffd;", stdout);
            else
                putchar(c);
        }
    }
}

const char *str_member(json_t *rec, const char *name)
{
    json_t *v = json_object_get(rec, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

int matches(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

const char *strings_joined(json_t *rec, const char *member, const char *sep, apr_pool_t *p)
{
    json_t *v;
    size_t i;
    const char *out = "";

    json_array_foreach(json_object_get(rec, member), i, v) {
        if (json_is_string(v))
            out = *out ? apr_pstrcat(p, out, sep, json_string_value(v), NULL)
                       : json_string_value(v);
    }
    return out;
}

const char *int_member(json_t *rec, const char *name, apr_pool_t *p)
{
    json_t *v = json_object_get(rec, name);

    return json_is_integer(v) ? apr_psprintf(p, "%" APR_INT64_T_FMT,
                                             (apr_int64_t)json_integer_value(v)) : NULL;
}

/* Prints a JSON document and frees it. */
void print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);

    puts(text ? text : "null");
    free(text);
    json_decref(doc);
}

static const char html_style[] =
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n<style>\n"
    "body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.4}\n"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
    "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f2f2f2}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".null{color:#888}.note{color:#555}\n"
    "ol.timeline{list-style:none;border-left:3px solid #36c;margin:1.5em 0 1.5em 1em;"
    "padding-left:1.5em}\n"
    "ol.timeline>li{margin:0 0 1.4em 0;position:relative}\n"
    "ol.timeline>li:before{content:'';position:absolute;left:-2.05em;top:.35em;width:.8em;"
    "height:.8em;border-radius:50%;background:#36c}\n"
    "time{color:#555;font-size:.9em;display:block}\n"
    "ul.fields{margin:.3em 0;padding-left:1.2em}dl{margin:.3em 0}dt{float:left;clear:left;"
    "width:9em;color:#555}dd{margin-left:9.5em}\n"
    ".restricted{color:#a40}\n</style>\n";

void html_begin(const char *title_prefix, const char *title_value)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", stdout);
    fputs(html_style, stdout);
    fputs("<title>", stdout);
    html_put(title_prefix);
    html_put(title_value);
    fputs("</title>\n</head>\n<body>\n", stdout);
}

void html_end(void)
{
    fputs("<p class=\"note\">Made by pds-audit from the log as it is: run "
          "<code>pds-audit verify</code> to check that it is whole and unchanged.</p>\n"
          "</body>\n</html>\n", stdout);
}
