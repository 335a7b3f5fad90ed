/* pds_stream_scan.c: validating and writing JSON for the streaming filter
 * (pds_stream_int.h says what is where).
 *
 * Writing follows pds_filter_json.c's serialiser exactly: strings with '"', '\'
 * and control characters escaped (\b \f \n \r \t, else \u00xx), everything
 * else as UTF-8; integers as "%lld"; reals by pds_text_real.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pds_stream_int.h"
#include "pds_text.h"

#define NAMES_LINEAR_MAX 8      /* an object's names compared one by one up to
                                   this many, then through a hash */

int pds_buf_reserve(pds_buf_t *b, size_t more)
{
    size_t cap;
    char *data;

    if (b->cap - b->len >= more)
        return 0;
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap - b->len < more) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Room for n more elements of size each in *parr (capacity *pcap, used). */
static int grow(void **parr, size_t *pcap, size_t used, size_t n, size_t size)
{
    size_t cap = *pcap < 16 ? 16 : *pcap;
    void *arr;

    if (*pcap - used >= n)
        return 0;
    while (cap - used < n) {
        if (cap > ((size_t)-1) / (2 * size))
            return -1;
        cap *= 2;
    }
    arr = realloc(*parr, cap * size);
    if (arr == NULL)
        return -1;
    *parr = arr;
    *pcap = cap;
    return 0;
}

static int no_memory(pds_stream_t *st)
{
    st->nomem = 1;
    return pds_stream_fatal(st, "internal-error");
}

int pds_stream_put_slow(pds_stream_t *st, const char *data, size_t n)
{
    if (pds_buf_reserve(&st->out, n) != 0)
        return no_memory(st);
    memcpy(st->out.data + st->out.len, data, n);
    st->out.len += n;
    return 0;
}


void pds_stream_free(pds_stream_t *st)
{
    free(st->out.data);
    free(st->names.data);
    free(st->scratch.data);
    free(st->frames);
    free(st->keys);
    free(st->tab);
    free(st->states);
    st->out.data = st->names.data = st->scratch.data = NULL;
    st->frames = NULL;
    st->keys = NULL;
    st->tab = NULL;
    st->states = NULL;
}


int pds_stream_fatal(pds_stream_t *st, const char *code)
{
    if (st->parse_error == NULL)
        st->parse_error = code;
    st->failing = 1;
    return -1;
}

int pds_stream_value_begin(pds_stream_t *st, int in_array)
{
    const pds_token_t *t = &st->tok;

    if (in_array && t->type == PDS_TOK_EOF)
        return pds_stream_fatal(st, "invalid-json");
    if (st->depth + 1 > PDS_STREAM_PARSER_MAX_DEPTH) {
        /* jansson checks its depth before the token's kind: an error its
         * lexer has already reported wins, nothing else does. */
        if (t->type == PDS_TOK_INVALID && t->reported)
            return pds_stream_fatal(st, "invalid-json");
        if ((t->type == PDS_TOK_INTEGER || t->type == PDS_TOK_REAL || t->type == PDS_TOK_TRUE
             || t->type == PDS_TOK_FALSE || t->type == PDS_TOK_NULL)
            && pds_lex_bad_utf8_at(&st->lx, t->end))
            return pds_stream_fatal(st, "invalid-json");
        return pds_stream_fatal(st, "too-deep");
    }
    switch (t->type) {
    case PDS_TOK_EOF:
    case PDS_TOK_INVALID:
    case PDS_TOK_OBJECT_END:
    case PDS_TOK_ARRAY_END:
    case PDS_TOK_COLON:
    case PDS_TOK_COMMA:
        return pds_stream_fatal(st, "invalid-json");
    case PDS_TOK_STRING:
        if (t->has_nul)
            return pds_stream_fatal(st, "invalid-json");
        return 0;
    default:
        return 0;
    }
}

int pds_stream_open(pds_stream_t *st, int is_object)
{
    pds_frame_t *f;

    if (grow((void **)&st->frames, &st->frames_cap, (size_t)st->depth, 1,
             sizeof(*st->frames)) != 0)
        return no_memory(st);
    f = &st->frames[st->depth++];
    f->is_object = is_object;
    f->count = 0;
    f->keys_start = st->nkeys;
    f->names_start = st->names.len;
    f->tab_off = st->tab_len;
    f->tab_cap = 0;
    if (st->depth > st->max_depth) {
        st->too_deep = 1;
        st->failing = 1;
    }
    return 0;
}

void pds_stream_close(pds_stream_t *st)
{
    pds_frame_t *f = &st->frames[--st->depth];

    st->nkeys = f->keys_start;
    st->names.len = f->names_start;
    st->tab_len = f->tab_off;
}


/* FNV-1a from a seed that changes per call (not a keyed hash: it makes
 * names that collide in every call harder to line up, as jansson's seeded
 * hash does for the DOM filter). */
static uint32_t hash_bytes(uint32_t seed, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ seed;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static const char *key_bytes(const pds_stream_t *st, const pds_key_t *k)
{
    return k->escaped ? st->names.data + k->off : (const char *)st->lx.in + k->off;
}

static int key_same(const pds_stream_t *st, const pds_key_t *k, const char *s, size_t n,
                    uint32_t h)
{
    return k->hash == h && k->len == n && memcmp(key_bytes(st, k), s, n) == 0;
}

/* Puts key index i of frame f into its hash (which has room). Returns 1
 * when a same name is there already. */
static int tab_insert(pds_stream_t *st, const pds_frame_t *f, size_t i)
{
    const pds_key_t *k = &st->keys[i];
    uint32_t *tab = st->tab + f->tab_off;
    size_t mask = f->tab_cap - 1, slot = k->hash & mask;

    while (tab[slot] != 0) {
        if (key_same(st, &st->keys[tab[slot] - 1], key_bytes(st, k), k->len, k->hash))
            return 1;
        slot = (slot + 1) & mask;
    }
    tab[slot] = (uint32_t)(i + 1);
    return 0;
}

/* (Re)builds frame f's hash with room for its names and one more. */
static int tab_build(pds_stream_t *st, pds_frame_t *f)
{
    size_t n = st->nkeys - f->keys_start, cap = f->tab_cap < 32 ? 32 : f->tab_cap, i;

    while (cap < 2 * (n + 1))
        cap *= 2;
    if (grow((void **)&st->tab, &st->tab_cap, f->tab_off, cap, sizeof(*st->tab)) != 0)
        return -1;
    f->tab_cap = cap;
    st->tab_len = f->tab_off + cap;
    memset(st->tab + f->tab_off, 0, cap * sizeof(*st->tab));
    for (i = f->keys_start; i < st->nkeys; i++) {
        if (st->keys[i].hash == 0)
            st->keys[i].hash = hash_bytes(st->hash_seed, key_bytes(st, &st->keys[i]),
                                          st->keys[i].len);
        (void)tab_insert(st, f, i);
    }
    return 0;
}

/* A member name of a body known valid: decoded, not remembered. */
static int validated_key(pds_stream_t *st, const char **pname, size_t *plen)
{
    const pds_token_t *t = &st->tok;

    if (!t->escaped) {
        *pname = (const char *)st->lx.in + t->start + 1;
        *plen = t->end - t->start - 2;
        return 0;
    }
    if (pds_buf_reserve(&st->names, t->end - t->start) != 0)
        return no_memory(st);
    *pname = st->names.data + st->names.len;
    *plen = pds_lex_decode(&st->lx, t, st->names.data + st->names.len);
    return 0;
}

int pds_stream_key(pds_stream_t *st, const char **pname, size_t *plen)
{
    pds_frame_t *f = pds_stream_frame(st);
    const pds_token_t *t = &st->tok;
    pds_key_t *k;
    const char *name;
    size_t n, i, count;

    if (t->has_nul)
        return pds_stream_fatal(st, "invalid-json");   /* NUL byte in object key */
    if (st->validated)
        return validated_key(st, pname, plen);
    if (grow((void **)&st->keys, &st->keys_cap, st->nkeys, 1, sizeof(*st->keys)) != 0)
        return no_memory(st);
    k = &st->keys[st->nkeys];
    if (t->escaped) {
        if (pds_buf_reserve(&st->names, t->end - t->start) != 0)
            return no_memory(st);
        n = pds_lex_decode(&st->lx, t, st->names.data + st->names.len);
        k->off = st->names.len;
        k->escaped = 1;
        st->names.len += n;
        name = st->names.data + k->off;
    }
    else {
        n = t->end - t->start - 2;
        k->off = t->start + 1;
        k->escaped = 0;
        name = (const char *)st->lx.in + k->off;
    }
    if (n > UINT32_MAX)
        return pds_stream_fatal(st, "invalid-json");
    k->len = (uint32_t)n;
    count = st->nkeys - f->keys_start;
    if (f->tab_cap == 0 && count < NAMES_LINEAR_MAX) {
        /* A few names: compared as they are; hashed only if more come. */
        k->hash = 0;
        for (i = f->keys_start; i < st->nkeys; i++) {
            const pds_key_t *o = &st->keys[i];
            if (o->len == n && memcmp(key_bytes(st, o), name, n) == 0)
                return pds_stream_fatal(st, "duplicate-key");
        }
    }
    else {
        k->hash = hash_bytes(st->hash_seed, name, n);
        if ((f->tab_cap == 0 || 2 * (count + 1) > f->tab_cap) && tab_build(st, f) != 0)
            return no_memory(st);
        if (tab_insert(st, f, st->nkeys))
            return pds_stream_fatal(st, "duplicate-key");
    }
    st->nkeys++;
    *pname = name;
    *plen = n;
    return 0;
}

const char *pds_stream_string(pds_stream_t *st, size_t *plen)
{
    const pds_token_t *t = &st->tok;

    if (!t->escaped) {
        *plen = t->end - t->start - 2;
        return (const char *)st->lx.in + t->start + 1;
    }
    st->scratch.len = 0;
    if (pds_buf_reserve(&st->scratch, t->end - t->start) != 0)
        return NULL;
    *plen = pds_lex_decode(&st->lx, t, st->scratch.data);
    return st->scratch.data;
}

int pds_stream_put_string(pds_stream_t *st, const char *str, size_t n)
{
    if (n > ((size_t)-1 - 2) / 6 || pds_buf_reserve(&st->out, 6 * n + 2) != 0)
        return no_memory(st);
    st->out.data[st->out.len++] = '"';
    st->out.len += pds_text_json_escape(st->out.data + st->out.len, str, n);
    st->out.data[st->out.len++] = '"';
    return 0;
}

static int is_subject(const pds_stream_t *st, const char *s, size_t n)
{
    return st->subject != NULL && n == st->subject_len && memcmp(s, st->subject, n) == 0;
}

static int put_pseudonym(pds_stream_t *st)
{
    st->replaced++;
    return pds_stream_put_string(st, st->pseudonym, strlen(st->pseudonym));
}

static int put_real(pds_stream_t *st, double d)
{
    char buf[64];

    pds_text_real(buf, sizeof(buf), d);
    return pds_stream_put(st, buf, strlen(buf));
}

int pds_stream_put_scalar(pds_stream_t *st)
{
    const pds_token_t *t = &st->tok;
    const char *raw = (const char *)st->lx.in + t->start;
    const char *s;
    size_t n;

    switch (t->type) {
    case PDS_TOK_STRING:
        if (st->subject != NULL || t->escaped) {
            s = pds_stream_string(st, &n);
            if (s == NULL)
                return no_memory(st);
            if (is_subject(st, s, n))
                return put_pseudonym(st);
            if (t->escaped)
                return pds_stream_put_string(st, s, n);
        }
        /* Unescaped, the input's bytes are the output's: nothing in them
         * needs an escape (a raw control character is refused). */
        return pds_stream_put(st, raw, t->end - t->start);
    case PDS_TOK_INTEGER:
        if (t->integer == 0)
            return pds_stream_put(st, "0", 1);      /* "-0" is 0 */
        return pds_stream_put(st, raw, t->end - t->start);
    case PDS_TOK_REAL:
        return put_real(st, t->real);
    case PDS_TOK_TRUE:
        return pds_stream_put(st, "true", 4);
    case PDS_TOK_FALSE:
        return pds_stream_put(st, "false", 5);
    default:
        return pds_stream_put(st, "null", 4);
    }
}

int pds_stream_put_json(pds_stream_t *st, json_t *v)
{
    char buf[32];
    const char *key;
    size_t key_len, i;
    json_t *member;
    int first = 1;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (pds_stream_put(st, "{", 1) != 0)
            return -1;
        json_object_keylen_foreach(v, key, key_len, member) {
            if ((!first && pds_stream_put(st, ",", 1) != 0)
                || pds_stream_put_string(st, key, key_len) != 0
                || pds_stream_put(st, ":", 1) != 0 || pds_stream_put_json(st, member) != 0)
                return -1;
            first = 0;
        }
        return pds_stream_put(st, "}", 1);
    case JSON_ARRAY:
        if (pds_stream_put(st, "[", 1) != 0)
            return -1;
        json_array_foreach(v, i, member) {
            if ((i > 0 && pds_stream_put(st, ",", 1) != 0) || pds_stream_put_json(st, member) != 0)
                return -1;
        }
        return pds_stream_put(st, "]", 1);
    case JSON_STRING:
        if (is_subject(st, json_string_value(v), json_string_length(v)))
            return put_pseudonym(st);
        return pds_stream_put_string(st, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return pds_stream_put(st, buf, strlen(buf));
    case JSON_REAL:
        return put_real(st, json_real_value(v));
    case JSON_TRUE:
        return pds_stream_put(st, "true", 4);
    case JSON_FALSE:
        return pds_stream_put(st, "false", 5);
    case JSON_NULL:
        return pds_stream_put(st, "null", 4);
    }
    return 0;
}

json_t *pds_stream_token_json(pds_stream_t *st)
{
    const char *s;
    size_t n;

    switch (st->tok.type) {
    case PDS_TOK_STRING:
        s = pds_stream_string(st, &n);
        return s != NULL ? json_stringn_nocheck(s, n) : NULL;
    case PDS_TOK_INTEGER:
        return json_integer((json_int_t)st->tok.integer);
    case PDS_TOK_REAL:
        return json_real(st->tok.real);
    case PDS_TOK_TRUE:
        return json_true();
    case PDS_TOK_FALSE:
        return json_false();
    default:
        return json_null();
    }
}

/* A member name as the output writes it: an unescaped name's bytes as
 * they are, an escaped one decoded and escaped again. */
static int put_name(pds_stream_t *st, const char *name, size_t n)
{
    const pds_token_t *t = &st->tok;

    if (!t->escaped)
        return pds_stream_put(st, (const char *)st->lx.in + t->start, t->end - t->start);
    return pds_stream_put_string(st, name, n);
}

typedef enum { AT_VALUE, AFTER_VALUE, AT_NAME } scan_state_t;

int pds_stream_scan(pds_stream_t *st, int emit, int in_array)
{
    int base = st->depth;
    scan_state_t state = AT_VALUE;
    pds_frame_t *f;
    const char *name;
    size_t n;

    if (st->validated && !emit)
        return pds_stream_peek_skip(&st->lx, &st->tok) == 0 ? 0
               : pds_stream_fatal(st, "invalid-json");
    for (;;) {
        switch (state) {
        case AT_VALUE:
            if (pds_stream_value_begin(st, in_array) != 0)
                return -1;
            state = AFTER_VALUE;
            if (st->tok.type == PDS_TOK_OBJECT || st->tok.type == PDS_TOK_ARRAY) {
                int is_object = st->tok.type == PDS_TOK_OBJECT;

                if (pds_stream_open(st, is_object) != 0
                    || (emit && pds_stream_put(st, is_object ? "{" : "[", 1) != 0))
                    return -1;
                pds_stream_next(st);
                if (st->tok.type == (is_object ? PDS_TOK_OBJECT_END : PDS_TOK_ARRAY_END)) {
                    pds_stream_close(st);
                    if (emit && pds_stream_put(st, is_object ? "}" : "]", 1) != 0)
                        return -1;
                    break;
                }
                in_array = !is_object;
                state = is_object ? AT_NAME : AT_VALUE;
                break;
            }
            if (emit && pds_stream_put_scalar(st) != 0)
                return -1;
            break;
        case AFTER_VALUE:
            if (st->depth == base)
                return 0;
            f = pds_stream_frame(st);
            f->count++;
            pds_stream_next(st);
            if (st->tok.type == PDS_TOK_COMMA) {
                if (emit && pds_stream_put(st, ",", 1) != 0)
                    return -1;
                pds_stream_next(st);
                in_array = !f->is_object;
                state = f->is_object ? AT_NAME : AT_VALUE;
                break;
            }
            if (st->tok.type != (f->is_object ? PDS_TOK_OBJECT_END : PDS_TOK_ARRAY_END))
                return pds_stream_fatal(st, "invalid-json");
            pds_stream_close(st);
            if (emit && pds_stream_put(st, f->is_object ? "}" : "]", 1) != 0)
                return -1;
            break;
        case AT_NAME:
            if (st->tok.type != PDS_TOK_STRING)
                return pds_stream_fatal(st, "invalid-json");
            if (pds_stream_key(st, &name, &n) != 0)
                return -1;
            if (emit && (put_name(st, name, n) != 0 || pds_stream_put(st, ":", 1) != 0))
                return -1;
            pds_stream_next(st);
            if (st->tok.type != PDS_TOK_COLON)
                return pds_stream_fatal(st, "invalid-json");
            pds_stream_next(st);
            in_array = 0;
            state = AT_VALUE;
            break;
        }
    }
}
