/* pds_stream_peek.c: looking ahead at a value of the input before the
 * streaming filter walks it (pds_stream_int.h): the predicates of an
 * element, an Exclude condition, a record's subject. These read the input
 * by offsets with a lexer of their own and validate nothing (the walk
 * does); on a body that does not parse, what they answer does not matter,
 * as the body is refused. Duplicate member names, which would make "the
 * member" ambiguous, are refused too: the first one is read.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_stream_int.h"

/* The first token of the value at input offset at into *t, lx after it. */
static pds_tok_type_t value_at(const pds_stream_t *st, size_t at, pds_lex_t *lx,
                               pds_token_t *t)
{
    pds_lex_init(lx, (const char *)st->lx.in, st->lx.len, at);
    return pds_lex_next(lx, t);
}

static int is_scalar(pds_tok_type_t type)
{
    return type == PDS_TOK_STRING || type == PDS_TOK_INTEGER || type == PDS_TOK_REAL
        || type == PDS_TOK_TRUE || type == PDS_TOK_FALSE;
}

/* The decoded bytes of string token t, in st->scratch when escaped. NULL:
 * no memory. */
static const char *token_text(pds_stream_t *st, const pds_lex_t *lx, const pds_token_t *t,
                              size_t *plen)
{
    if (!t->escaped) {
        *plen = t->end - t->start - 2;
        return (const char *)lx->in + t->start + 1;
    }
    st->scratch.len = 0;
    if (pds_buf_reserve(&st->scratch, t->end - t->start) != 0)
        return NULL;
    *plen = pds_lex_decode(lx, t, st->scratch.data);
    return st->scratch.data;
}

int pds_stream_peek_skip(pds_lex_t *lx, pds_token_t *t)
{
    size_t depth = 0;

    for (;;) {
        switch (t->type) {
        case PDS_TOK_OBJECT:
        case PDS_TOK_ARRAY:
            depth++;
            break;
        case PDS_TOK_OBJECT_END:
        case PDS_TOK_ARRAY_END:
            if (depth == 0)
                return -1;
            depth--;
            break;
        case PDS_TOK_EOF:
        case PDS_TOK_INVALID:
            return -1;
        default:
            break;
        }
        if (depth == 0)
            return 0;
        pds_lex_next(lx, t);
    }
}

/* Does member token t (a scalar) equal value v, as pds_field_step_matches
 * compares? */
static int token_matches(pds_stream_t *st, const pds_lex_t *lx, const pds_token_t *t,
                         const pds_field_value_t *v)
{
    const char *s;
    size_t n;

    switch (v->kind) {
    case PDS_VALUE_STRING:
        if (t->type != PDS_TOK_STRING)
            return 0;
        s = token_text(st, lx, t, &n);
        return s != NULL && pds_field_value_text_equals(v, s, n);
    case PDS_VALUE_NUMBER:
        return (t->type == PDS_TOK_INTEGER && (double)t->integer == v->number)
            || (t->type == PDS_TOK_REAL && t->real == v->number);
    case PDS_VALUE_TRUE:
        return t->type == PDS_TOK_TRUE;
    case PDS_VALUE_FALSE:
        return t->type == PDS_TOK_FALSE;
    }
    return 0;
}

/* Non-zero when token t is a scalar that compares as pred says
 * (pds_field_pred_holds). */
static int token_pred_holds(pds_stream_t *st, const pds_lex_t *lx, const pds_token_t *t,
                            const pds_field_path_t *path, const pds_field_pred_t *pred)
{
    int j, hit = 0;

    if (!is_scalar(t->type))
        return 0;
    for (j = 0; j < pred->count && !hit; j++)
        hit = token_matches(st, lx, t, &path->values[pred->first + j]);
    return pred->op == PDS_PRED_NE ? !hit : hit;
}

int pds_stream_peek_member(pds_stream_t *st, size_t at, const char *name, size_t n,
                           pds_lex_t *lx, pds_token_t *t)
{
    if (value_at(st, at, lx, t) != PDS_TOK_OBJECT)
        return -1;
    if (pds_lex_next(lx, t) == PDS_TOK_OBJECT_END)
        return -1;
    for (;;) {
        const char *key;
        size_t key_len;
        int same;

        if (t->type != PDS_TOK_STRING || t->has_nul)
            return -1;
        key = token_text(st, lx, t, &key_len);
        if (key == NULL)
            return -1;
        same = key_len == n && memcmp(key, name, n) == 0;
        if (pds_lex_next(lx, t) != PDS_TOK_COLON)
            return -1;
        pds_lex_next(lx, t);
        if (same)
            return 0;
        if (pds_stream_peek_skip(lx, t) != 0)
            return -1;
        if (pds_lex_next(lx, t) != PDS_TOK_COMMA)
            return -1;
        pds_lex_next(lx, t);
    }
}

int pds_stream_element_matches(pds_stream_t *st, size_t at, const pds_field_path_t *path,
                               int step)
{
    const pds_field_step_t *s = &path->steps[step];
    pds_lex_t lx;
    pds_token_t t;
    int k;

    for (k = 0; k < s->npreds; k++) {
        const pds_field_pred_t *pred = &path->preds[s->first_pred + k];

        if (pds_stream_peek_member(st, at, pred->member, pred->member_len, &lx, &t) != 0
            || !token_pred_holds(st, &lx, &t, path, pred))
            return 0;
    }
    return 1;
}

/* The elements of the array whose '[' lx has just read: *pat the offset of
 * the next one. 0, or -1 when there is none (or the input breaks). */
static int next_element(pds_lex_t *lx, pds_token_t *t, int first, size_t *pat)
{
    if (!first) {
        if (pds_stream_peek_skip(lx, t) != 0 || pds_lex_next(lx, t) != PDS_TOK_COMMA)
            return -1;
    }
    if (pds_lex_next(lx, t) == PDS_TOK_ARRAY_END || t->type == PDS_TOK_EOF
        || t->type == PDS_TOK_INVALID)
        return -1;
    *pat = t->start;
    return 0;
}

/* ---- Exclude --------------------------------------------------------------- */

/* Does condition c hold below the value at offset at, from step k on? As
 * pds_fieldset_path.c's condition_holds_at decides on a tree. */
static int condition_holds_at(pds_stream_t *st, const pds_field_condition_t *c, int k,
                              size_t at)
{
    const pds_field_step_t *step;
    pds_lex_t lx;
    pds_token_t t;
    size_t e;
    int first;

    value_at(st, at, &lx, &t);
    if (t.type == PDS_TOK_NULL)
        return 0;                           /* absent: nothing to hold on */
    if (k == c->path.nsteps)
        return c->test < 0 || !is_scalar(t.type)
            || token_pred_holds(st, &lx, &t, &c->path, &c->path.preds[c->test]);
    step = &c->path.steps[k];
    if (step->name != NULL) {
        if (t.type != PDS_TOK_OBJECT)
            return 1;                       /* not the shape the rule reads */
        return pds_stream_peek_member(st, at, step->name, step->len, &lx, &t) == 0
            && condition_holds_at(st, c, k + 1, t.start);
    }
    if (t.type != PDS_TOK_ARRAY)
        return 1;
    for (first = 1; next_element(&lx, &t, first, &e) == 0; first = 0) {
        if ((step->npreds == 0 || pds_stream_element_matches(st, e, &c->path, k))
            && condition_holds_at(st, c, k + 1, e))
            return 1;
    }
    return 0;
}

int pds_stream_peek_excluded(pds_stream_t *st, size_t at, const pds_rowfilter_t *rf)
{
    int i;

    for (i = 0; i < pds_rowfilter_count(rf); i++)
        if (condition_holds_at(st, pds_rowfilter_condition(rf, i), 0, at))
            return i;
    return -1;
}

/* ---- a record's subject --------------------------------------------------- */

/* The one element of the array at offset at that satisfies the predicates
 * of path->steps[k]: its offset in *pat. 0, or -1 for none or several. */
static int only_element(pds_stream_t *st, size_t at, const pds_field_path_t *path, int k,
                        size_t *pat)
{
    pds_lex_t lx;
    pds_token_t t;
    size_t e;
    int first, found = 0;

    if (value_at(st, at, &lx, &t) != PDS_TOK_ARRAY)
        return -1;
    for (first = 1; next_element(&lx, &t, first, &e) == 0; first = 0) {
        if (!pds_stream_element_matches(st, e, path, k))
            continue;
        if (found++)
            return -1;                      /* never a guess between two */
        *pat = e;
    }
    return found == 1 ? 0 : -1;
}

const char *pds_stream_peek_subject(pds_stream_t *st, size_t at,
                                    const pds_field_path_t *path, apr_pool_t *p)
{
    pds_lex_t lx;
    pds_token_t t;
    const char *s;
    size_t n;
    int k;

    for (k = 0; k < path->nsteps; k++) {
        const pds_field_step_t *step = &path->steps[k];

        if (step->name != NULL) {
            if (pds_stream_peek_member(st, at, step->name, step->len, &lx, &t) != 0)
                return NULL;
            at = t.start;
        }
        else if (step->npreds == 0 || only_element(st, at, path, k, &at) != 0)
            return NULL;
    }
    switch (value_at(st, at, &lx, &t)) {
    case PDS_TOK_STRING:
        s = token_text(st, &lx, &t, &n);
        return s != NULL ? apr_pstrmemdup(p, s, n) : NULL;
    case PDS_TOK_INTEGER:
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)t.integer);
    default:
        return NULL;
    }
}
