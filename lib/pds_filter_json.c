/* pds_filter_json.c: the filter's body codec (pds_filter_int.h): one parser
 * policy for every body the filter or the write check reads (jansson, with
 * duplicate member names, NUL in strings and nesting past the limit
 * refused, and errors that never quote the body), and one serialiser for
 * everything they write out, whose reals come back in their shortest
 * round-trip form (jansson always writes 17 digits, turning 0.1 into
 * 0.10000000000000001).
 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "pds_filter_int.h"
#include "pds_text.h"

apr_status_t pds_filter_no_memory(pds_error_t *err)
{
    pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                  "out of memory while filtering the body");
    return APR_ENOMEM;
}

/* ---- parsing -------------------------------------------------------------- */

/* Non-zero when no object or array in v is nested deeper than max; v itself
 * sits at depth. Recursion stops at max + 1 levels. */
static int depth_ok(json_t *v, int depth, int max)
{
    const char *key;
    json_t *member;
    size_t i;

    if (json_is_object(v)) {
        if (depth > max)
            return 0;
        json_object_foreach(v, key, member) {
            if (!depth_ok(member, depth + 1, max))
                return 0;
        }
    }
    else if (json_is_array(v)) {
        if (depth > max)
            return 0;
        json_array_foreach(v, i, member) {
            if (!depth_ok(member, depth + 1, max))
                return 0;
        }
    }
    return 1;
}

static apr_status_t parse_error(const json_error_t *jerr, pds_error_t *err)
{
    char what[JSON_ERROR_TEXT_LENGTH];
    char *near;
    int pos = jerr->position;

    /* jansson returns without any error text only when it cannot allocate
     * its lexer. */
    if (jerr->text[0] == '\0')
        return pds_filter_no_memory(err);
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return pds_filter_no_memory(err);
    case json_error_duplicate_key:
        pds_error_set(err, "duplicate-key", pos, PDS_BODY_SOURCE,
                      "an object has the same member name twice (line %d, "
                      "column %d)", jerr->line, jerr->column);
        return APR_EINVAL;
    case json_error_stack_overflow:
        pds_error_set(err, "too-deep", pos, PDS_BODY_SOURCE,
                      "nesting deeper than the parser allows (line %d, "
                      "column %d)", jerr->line, jerr->column);
        return APR_EINVAL;
    default:
        break;
    }
    /* jansson appends "near '<input>'": drop it, the body may be personal. */
    apr_cpystrn(what, jerr->text, sizeof(what));
    near = strstr(what, " near ");
    if (near != NULL)
        *near = '\0';
    pds_error_set(err, "invalid-json", pos, PDS_BODY_SOURCE,
                  "not valid JSON: %s (line %d, column %d)", what, jerr->line,
                  jerr->column);
    return APR_EINVAL;
}

/* Parses a body for the filter: JSON of any kind, duplicate member names and
 * NUL in strings refused (no JSON_ALLOW_NUL), nesting within max_depth
 * (<= 0: the default). *pdoc is a new reference. */
apr_status_t pds_filter_load(json_t **pdoc, const char *input, apr_size_t len,
                             int max_depth, pds_error_t *err)
{
    json_error_t jerr;
    json_t *doc;

    if (max_depth <= 0)
        max_depth = PDS_FILTER_DEFAULT_MAX_DEPTH;
    if (len == 0) {
        pds_error_set(err, "invalid-json", 0, PDS_BODY_SOURCE, "the body is empty");
        return APR_EINVAL;
    }
    /* jerr is zeroed as jansson leaves its error code unset on some paths. */
    memset(&jerr, 0, sizeof(jerr));
    doc = json_loadb(input, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL)
        return parse_error(&jerr, err);
    if (!depth_ok(doc, 1, max_depth)) {
        json_decref(doc);
        pds_error_set(err, "too-deep", -1, PDS_BODY_SOURCE,
                      "objects and arrays nest deeper than %d levels", max_depth);
        return APR_EINVAL;
    }
    *pdoc = doc;
    return APR_SUCCESS;
}

/* ---- serialising ---------------------------------------------------------- */

/* With buf NULL the sink only counts, so the body is allocated once, exactly. */
typedef struct pds_sink_t {
    char *buf;
    apr_size_t len;
} pds_sink_t;

static void put(pds_sink_t *s, const char *data, apr_size_t n)
{
    if (s->buf != NULL)
        memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void put_string(pds_sink_t *s, const char *str, apr_size_t n)
{
    put(s, "\"", 1);
    s->len += pds_text_json_escape(s->buf != NULL ? s->buf + s->len : NULL, str, n);
    put(s, "\"", 1);
}

/* A real as jansson writes it (pds_text_real). */
static void put_real(pds_sink_t *s, double d)
{
    char buf[64];

    pds_text_real(buf, sizeof(buf), d);
    put(s, buf, strlen(buf));
}

static void put_value(pds_sink_t *s, json_t *v)
{
    char buf[32];
    const char *key;
    size_t key_len, i;
    json_t *member;
    int first = 1;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put(s, "{", 1);
        json_object_keylen_foreach(v, key, key_len, member) {
            if (!first)
                put(s, ",", 1);
            first = 0;
            put_string(s, key, key_len);
            put(s, ":", 1);
            put_value(s, member);
        }
        put(s, "}", 1);
        break;
    case JSON_ARRAY:
        put(s, "[", 1);
        json_array_foreach(v, i, member) {
            if (i > 0)
                put(s, ",", 1);
            put_value(s, member);
        }
        put(s, "]", 1);
        break;
    case JSON_STRING:
        put_string(s, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        put(s, buf, strlen(buf));
        break;
    case JSON_REAL:
        put_real(s, json_real_value(v));
        break;
    case JSON_TRUE:
        put(s, "true", 4);
        break;
    case JSON_FALSE:
        put(s, "false", 5);
        break;
    case JSON_NULL:
        put(s, "null", 4);
        break;
    }
}

/* Writes v out compactly into *pbody (allocated once, exactly). */
apr_status_t pds_filter_serialise(json_t *v, char **pbody, apr_size_t *plen,
                                  apr_pool_t *p, pds_error_t *err)
{
    pds_sink_t sink;

    sink.buf = NULL;
    sink.len = 0;
    put_value(&sink, v);
    sink.buf = apr_palloc(p, sink.len + 1);
    if (sink.buf == NULL)
        return pds_filter_no_memory(err);
    sink.len = 0;
    put_value(&sink, v);
    sink.buf[sink.len] = '\0';
    *pbody = sink.buf;
    *plen = sink.len;
    return APR_SUCCESS;
}
