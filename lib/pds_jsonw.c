/* pds_jsonw.c: a small JSON writer (see pds_jsonw.h). */
#include <string.h>

#include <apr_strings.h>

#include "pds_jsonw.h"
#include "pds_text.h"

void pds_jsonw_init(pds_jsonw_t *w, apr_pool_t *p, apr_size_t size)
{
    w->pool = p;
    w->cap = size < 64 ? 64 : size;
    w->data = apr_palloc(p, w->cap);
    w->data[0] = '\0';
    w->len = 0;
    w->comma = 0;
}

/* Room for more bytes and the NUL. Pool memory only grows: the old buffer
 * stays in the pool, so the first size should be a good guess. */
static char *reserve(pds_jsonw_t *w, apr_size_t more)
{
    if (w->cap - w->len <= more) {
        apr_size_t cap = w->cap * 2;
        char *data;

        while (cap - w->len <= more)
            cap *= 2;
        data = apr_palloc(w->pool, cap);
        memcpy(data, w->data, w->len);
        w->data = data;
        w->cap = cap;
    }
    return w->data + w->len;
}

static void put(pds_jsonw_t *w, const char *s, apr_size_t n)
{
    memcpy(reserve(w, n), s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void separate(pds_jsonw_t *w)
{
    if (w->comma)
        put(w, ",", 1);
    w->comma = 1;
}

static void quoted(pds_jsonw_t *w, const char *s)
{
    char *o = reserve(w, 6 * strlen(s) + 2);

    o[0] = '"';
    w->len += 1 + pds_text_json_escape_ascii(o + 1, s);
    w->data[w->len++] = '"';
    w->data[w->len] = '\0';
}

void pds_jsonw_open(pds_jsonw_t *w, char bracket)
{
    separate(w);
    put(w, &bracket, 1);
    w->comma = 0;
}

void pds_jsonw_close(pds_jsonw_t *w, char bracket)
{
    put(w, &bracket, 1);
    w->comma = 1;
}

void pds_jsonw_key(pds_jsonw_t *w, const char *name)
{
    separate(w);
    quoted(w, name);
    put(w, ":", 1);
    w->comma = 0;
}

void pds_jsonw_string(pds_jsonw_t *w, const char *s)
{
    separate(w);
    if (s == NULL)
        put(w, "null", 4);
    else
        quoted(w, s);
}

void pds_jsonw_int(pds_jsonw_t *w, apr_int64_t v)
{
    char buf[24];
    char *end = buf + sizeof(buf), *d = end;
    apr_uint64_t u = v < 0 ? (apr_uint64_t)0 - (apr_uint64_t)v : (apr_uint64_t)v;

    separate(w);
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--d = '-';
    put(w, d, (apr_size_t)(end - d));
}

void pds_jsonw_raw(pds_jsonw_t *w, const char *json, apr_size_t len)
{
    separate(w);
    put(w, json, len);
}
