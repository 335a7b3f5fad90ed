/* pds_transform.c: compiling and applying field value transforms
 * (definitions in pds_transform.h).
 *
 * The transforms themselves are rows of pds_transform_table
 * (pds_transform_table.c); this file reads a Transform line into words, finds
 * the row by name, checks the words against the row and applies. A transform
 * is parsed once into a small read-only struct. Applying one builds a new
 * jansson value and never touches the input, the transform, or any shared
 * reference count, so one transform serves many threads.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "pds_text.h"
#include "pds_transform.h"
#include "pds_transform_table.h"

/* ---- parsing -------------------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits text into words: blanks between; "double quotes" with \" and \\
 * inside; no control characters but tabs inside quotes. */
static apr_status_t split_words(apr_array_header_t **pwords, apr_pool_t *p,
                                const char *text, pds_error_t *err)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(pds_transform_word_t));
    apr_size_t i = 0, len = strlen(text);

    for (;;) {
        pds_transform_word_t *w;
        char *buf, *o;

        while (is_blank(text[i]))
            i++;
        if (text[i] == '\0')
            break;
        if (len > INT_MAX / 2)
            return bad_transform(err, 0, "the transform is too long");
        w = &APR_ARRAY_PUSH(words, pds_transform_word_t);
        w->pos = (int)i;
        w->quoted = text[i] == '"';
        o = buf = apr_palloc(p, len - i + 1);
        if (w->quoted) {
            for (i++; text[i] != '"'; i++) {
                unsigned char c = (unsigned char)text[i];

                if (c == '\0')
                    return bad_transform(err, w->pos,
                                         "a quoted word has no closing quote");
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                    return bad_transform(err, (int)i,
                                         "a control character in a quoted word");
                if (c == '\\' && (text[i + 1] == '"' || text[i + 1] == '\\'))
                    i++;
                *o++ = text[i];
            }
            i++;
            if (text[i] != '\0' && !is_blank(text[i]))
                return bad_transform(err, (int)i,
                                     "expected a space or the end after a closing quote");
        }
        else {
            for (; text[i] != '\0' && !is_blank(text[i]); i++) {
                unsigned char c = (unsigned char)text[i];

                if (c == '"')
                    return bad_transform(err, (int)i, "a quote can only start a word; "
                                         "put the whole word in quotes");
                if (c < 0x20 || c == 0x7F)
                    return bad_transform(err, (int)i, "a control character; "
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

/* The names of the table, ", " between: "redact, nullify, ...". */
static const char *known_names(char *buf, apr_size_t size)
{
    apr_size_t i, o = 0;

    buf[0] = '\0';
    for (i = 0; i < pds_transform_table_size; i++) {
        int n = snprintf(buf + o, size - o, "%s%s", i > 0 ? ", " : "",
                         pds_transform_table[i].name);

        if (n < 0 || (apr_size_t)n >= size - o)
            break;
        o += (apr_size_t)n;
    }
    return buf;
}

static const pds_transform_def_t *find_def(const char *name)
{
    apr_size_t i;

    for (i = 0; i < pds_transform_table_size; i++) {
        if (strcmp(name, pds_transform_table[i].name) == 0)
            return &pds_transform_table[i];
    }
    return NULL;
}

apr_status_t pds_transform_parse(pds_transform_t **pt, apr_pool_t *p,
                                 const char *text, pds_error_t *err)
{
    char shown[48], names[PDS_ERROR_TEXT_LENGTH];
    apr_array_header_t *words = NULL;
    const pds_transform_def_t *def;
    const pds_transform_word_t *name, *extra;
    pds_transform_t *t;
    const char *argtext = NULL;
    apr_status_t rv;

    if (pt == NULL || p == NULL || text == NULL) {
        pds_error_set(err, "bad-transform", -1, PDS_TRANSFORM_SOURCE,
                      "pds_transform_parse called without a result, pool or text");
        return APR_EINVAL;
    }
    rv = split_words(&words, p, text, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (words->nelts == 0)
        return bad_transform(err, (int)strlen(text), "expected a transform: one of %s",
                             known_names(names, sizeof(names)));
    name = &APR_ARRAY_IDX(words, 0, pds_transform_word_t);
    def = find_def(name->text);
    if (def == NULL)
        return bad_transform(err, name->pos, "unknown transform %s; expected one of %s",
                             pds_text_show(shown, sizeof(shown), name->text),
                             known_names(names, sizeof(names)));

    t = apr_pcalloc(p, sizeof(*t));
    t->def = def;
    if (def->read_arg == NULL) {
        if (words->nelts > 1) {
            extra = &APR_ARRAY_IDX(words, 1, pds_transform_word_t);
            return bad_transform(err, extra->pos, "%s takes no argument; remove %s",
                                 def->name, pds_text_show(shown, sizeof(shown),
                                 extra->text));
        }
        t->text = def->name;
        *pt = t;
        return APR_SUCCESS;
    }
    if (words->nelts < 2)
        return bad_transform(err, (int)strlen(text), "%s needs %s, e.g. `%s`",
                             def->name, def->arg_name, def->example);
    if (words->nelts > 2) {
        extra = &APR_ARRAY_IDX(words, 2, pds_transform_word_t);
        return bad_transform(err, extra->pos, "%s takes one argument (%s); remove %s%s",
                             def->name, def->arg_name,
                             pds_text_show(shown, sizeof(shown), extra->text),
                             def->extra_hint != NULL ? def->extra_hint : "");
    }
    rv = def->read_arg(t, p, &APR_ARRAY_IDX(words, 1, pds_transform_word_t), &argtext,
                       err);
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
    return t != NULL && (t->def->flags & PDS_TRANSFORM_REMOVES) != 0;
}

int pds_transform_needs_key(const pds_transform_t *t)
{
    return t != NULL && (t->def->flags & PDS_TRANSFORM_NEEDS_KEY) != 0;
}

/* ---- apply ---------------------------------------------------------------- */

apr_status_t pds_transform_apply(const pds_transform_t *t, json_t *v,
                                 const pds_transform_ctx_t *ctx,
                                 json_t **out, pds_error_t *err)
{
    unsigned flags;

    if (out != NULL)
        *out = NULL;
    if (t == NULL || v == NULL || out == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_TRANSFORM_SOURCE,
                      "pds_transform_apply called without a transform, value or result");
        return APR_EINVAL;
    }
    flags = t->def->flags;
    if (flags & PDS_TRANSFORM_REMOVES)
        return APR_SUCCESS;             /* *out stays NULL: removed */
    /* Checked before the value is looked at, so null values fail too. */
    if ((flags & PDS_TRANSFORM_NEEDS_KEY) && (ctx == NULL || ctx->key == NULL)) {
        pds_error_set(err, "transform-key", -1, t->def->name,
                      "%s needs the agreement's pseudonym key; "
                      "configure PDSPseudonymKey", t->def->name);
        return APR_EINVAL;
    }
    if ((flags & PDS_TRANSFORM_NEEDS_TIME) && ctx == NULL) {
        pds_error_set(err, "bad-argument", -1, t->def->name,
                      "%s needs the request's time", t->def->name);
        return APR_EINVAL;
    }
    if (json_is_null(v) && !(flags & PDS_TRANSFORM_TAKES_NULL)) {
        *out = json_null();
        return APR_SUCCESS;
    }
    return t->def->apply(t, v, ctx, out, err);
}
