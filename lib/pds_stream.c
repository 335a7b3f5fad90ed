/* pds_stream.c: the streaming filter's walk (pds_stream.h; validating and
 * writing: pds_stream_scan.c).
 *
 * A place in the document is what the DOM filter's filter_nodes sees there:
 * the set's nodes that meet at it (several below elements that satisfy more
 * than one branch), whether a whole release covers it, the transform node
 * at it, and the configured paths still under way there (for "released",
 * which counts values below whole releases too). A value with nothing of
 * these is validated and skipped; a value released whole with no transform
 * and no path below is validated and copied; only the others are walked
 * member by member, so recursion is bounded by the set's depth, never the
 * document's.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_stream_int.h"

#define PDS_BODY_SOURCE "JSON body"
#define LOCAL_NODES 16

typedef struct place_t {
    const pds_field_node_t *const *nodes;
    int count;
    int whole;
    const pds_transform_node_t *tnode;
    size_t states_start, nstates;       /* st->states[...]: indices of paths */
    int step;                           /* path steps taken to get here */
} place_t;

static const pds_field_path_t *path_at(const pds_stream_t *st, int i)
{
    return &APR_ARRAY_IDX(st->set->paths, i, pds_field_path_t);
}

static int push_state(pds_stream_t *st, int path)
{
    if (st->nstates == st->states_cap) {
        size_t cap = st->states_cap < 32 ? 32 : st->states_cap * 2;
        int *s = realloc(st->states, cap * sizeof(*s));

        if (s == NULL) {
            st->nomem = 1;
            return pds_stream_fatal(st, "internal-error");
        }
        st->states = s;
        st->states_cap = cap;
    }
    st->states[st->nstates++] = path;
    return 0;
}

/* ---- predicates, by looking ahead ----------------------------------------- */

/* Skips the value at the look-ahead's token (no validation: the walk does
 * that). 0, or -1 when the input ends or breaks first. */
static int peek_skip(pds_lex_t *lx, pds_token_t *t)
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
    switch (v->kind) {
    case PDS_VALUE_STRING:
        if (t->type != PDS_TOK_STRING)
            return 0;
        if (!t->escaped)
            return pds_field_value_text_equals(v, (const char *)lx->in + t->start + 1,
                                               t->end - t->start - 2);
        st->scratch.len = 0;
        if (pds_buf_reserve(&st->scratch, t->end - t->start) != 0)
            return 0;
        return pds_field_value_text_equals(v, st->scratch.data,
                                           pds_lex_decode(lx, t, st->scratch.data));
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

/* The member named (name, n) of the object at input offset at: its value's
 * first token in *t. 0 when found. */
static int peek_member(pds_stream_t *st, size_t at, const char *name, size_t n,
                       pds_lex_t *lx, pds_token_t *t)
{
    pds_lex_init(lx, (const char *)st->lx.in, st->lx.len, at);
    if (pds_lex_next(lx, t) != PDS_TOK_OBJECT)
        return -1;
    if (pds_lex_next(lx, t) == PDS_TOK_OBJECT_END)
        return -1;
    for (;;) {
        int same;

        if (t->type != PDS_TOK_STRING || t->has_nul)
            return -1;
        if (!t->escaped)
            same = t->end - t->start - 2 == n
                   && memcmp(lx->in + t->start + 1, name, n) == 0;
        else {
            st->scratch.len = 0;
            if (pds_buf_reserve(&st->scratch, t->end - t->start) != 0)
                return -1;
            same = pds_lex_decode(lx, t, st->scratch.data) == n
                   && memcmp(st->scratch.data, name, n) == 0;
        }
        if (pds_lex_next(lx, t) != PDS_TOK_COLON)
            return -1;
        pds_lex_next(lx, t);
        if (same)
            return 0;
        if (peek_skip(lx, t) != 0)
            return -1;
        if (pds_lex_next(lx, t) != PDS_TOK_COMMA)
            return -1;
        pds_lex_next(lx, t);
    }
}

/* Non-zero when the element at input offset at satisfies every predicate of
 * path->steps[step], as pds_field_step_matches decides on a tree. */
static int element_matches(pds_stream_t *st, size_t at, const pds_field_path_t *path,
                           int step)
{
    const pds_field_step_t *s = &path->steps[step];
    pds_lex_t lx;
    pds_token_t t;
    int k, j;

    for (k = 0; k < s->npreds; k++) {
        const pds_field_pred_t *pred = &path->preds[s->first_pred + k];
        int hit = 0;

        if (peek_member(st, at, pred->member, pred->member_len, &lx, &t) != 0)
            return 0;
        if (t.type != PDS_TOK_STRING && t.type != PDS_TOK_INTEGER && t.type != PDS_TOK_REAL
            && t.type != PDS_TOK_TRUE && t.type != PDS_TOK_FALSE)
            return 0;
        for (j = 0; j < pred->count && !hit; j++)
            hit = token_matches(st, &lx, &t, &path->values[pred->first + j]);
        if (pred->op == PDS_PRED_NE ? hit : !hit)
            return 0;
    }
    return 1;
}

/* ---- transforms -------------------------------------------------------------- */

/* Remembers that the transform labelled label met a value: the same few
 * labels come back for every record, so a short list of the pointers seen
 * spares hashing the text each time. */
static void note_applied(pds_stream_t *st, const char *label)
{
    int i;

    for (i = 0; i < st->nseen; i++)
        if (st->seen[i] == label)
            return;
    if (st->nseen < (int)(sizeof(st->seen) / sizeof(st->seen[0])))
        st->seen[st->nseen++] = label;
    apr_hash_set(st->applied, label, APR_HASH_KEY_STRING, label);
}

/* Applies tnode's transform to v (ours; released here) where the value was
 * written from mark on: the result replaces it, or *written is cleared
 * (removed). A refusal is remembered and the pass goes on validating. */
static int transform_at(pds_stream_t *st, const pds_transform_node_t *tnode, json_t *v,
                        size_t mark, int *written)
{
    json_t *out = NULL;
    apr_status_t rv;

    if (v == NULL) {
        st->nomem = 1;
        return pds_stream_fatal(st, "internal-error");
    }
    /* The first refusal ends transforming (failing is set), so it can go
     * straight into transform_err, cleared once per call. */
    rv = pds_transform_apply(tnode->transform, v, st->tctx, &out, &st->transform_err);
    json_decref(v);
    st->out.len = mark;
    *written = 0;
    if (rv != APR_SUCCESS) {
        if (!pds_error_is_set(&st->transform_err))
            pds_error_set(&st->transform_err, "internal-error", -1, PDS_BODY_SOURCE,
                          "a transform failed");
        apr_cpystrn(st->transform_err.source, tnode->path, sizeof(st->transform_err.source));
        st->transform_rv = rv;
        st->failing = 1;
        return 0;
    }
    note_applied(st, tnode->label);
    if (out == NULL)
        return 0;
    *written = 1;
    rv = pds_stream_put_json(st, out) == 0 ? APR_SUCCESS : APR_ENOMEM;
    json_decref(out);
    return rv == APR_SUCCESS ? 0 : -1;
}

/* ---- the walk ------------------------------------------------------------------- */

static int walk(pds_stream_t *st, const place_t *pl, int in_array, int *kept, int *written);

static void type_error(pds_stream_t *st)
{
    st->bad_type = 1;
    st->failing = 1;
}

/* The place of member (name, n) of an object at pl; nodes into room. */
static void member_place(pds_stream_t *st, const place_t *pl, const char *name, size_t n,
                         const pds_field_node_t **room, place_t *child)
{
    size_t i;
    int k;

    child->nodes = room;
    child->count = 0;
    child->whole = pl->whole;
    child->step = pl->step + 1;
    child->tnode = pl->tnode != NULL && pl->tnode->children != NULL
        ? apr_hash_get(pl->tnode->children, name, (apr_ssize_t)n) : NULL;
    for (k = 0; !pl->whole && k < pl->count; k++) {
        const pds_field_node_t *c = pl->nodes[k]->children == NULL ? NULL
            : apr_hash_get(pl->nodes[k]->children, name, (apr_ssize_t)n);
        if (c != NULL)
            room[child->count++] = c;
    }
    child->states_start = st->nstates;
    for (i = 0; i < pl->nstates; i++) {
        int s = st->states[pl->states_start + i];
        const pds_field_step_t *step = &path_at(st, s)->steps[pl->step];

        if (step->name != NULL && step->len == n && memcmp(step->name, name, n) == 0
            && push_state(st, s) != 0)
            return;
    }
    child->nstates = st->nstates - child->states_start;
}

/* The place of the element of an array at pl that starts at offset at. */
static void element_place(pds_stream_t *st, const place_t *pl, size_t at,
                          const pds_field_node_t **room, place_t *child)
{
    size_t i;
    int k, b;

    child->nodes = room;
    child->count = 0;
    child->whole = pl->whole;
    child->step = pl->step + 1;
    child->tnode = pl->tnode != NULL ? pl->tnode->each : NULL;
    for (k = 0; !pl->whole && k < pl->count; k++) {
        const apr_array_header_t *brs = pl->nodes[k]->branches;

        if (pl->nodes[k]->each != NULL)
            room[child->count++] = pl->nodes[k]->each;
        for (b = 0; brs != NULL && b < brs->nelts; b++) {
            const pds_field_branch_t *br = &APR_ARRAY_IDX(brs, b, pds_field_branch_t);
            if (element_matches(st, at, br->path, br->step))
                room[child->count++] = br->node;
        }
    }
    child->states_start = st->nstates;
    for (i = 0; i < pl->nstates; i++) {
        int s = st->states[pl->states_start + i];
        const pds_field_path_t *path = path_at(st, s);
        const pds_field_step_t *step = &path->steps[pl->step];

        if (step->name == NULL
            && (step->npreds == 0 || element_matches(st, at, path, pl->step))
            && push_state(st, s) != 0)
            return;
    }
    child->nstates = st->nstates - child->states_start;
}

/* How many nodes the members or elements of a value at pl can meet. */
static int room_for(const place_t *pl, int elements)
{
    int k, room = pl->count;

    for (k = 0; elements && k < pl->count; k++)
        room += pl->nodes[k]->branches != NULL ? pl->nodes[k]->branches->nelts : 0;
    return room;
}

/* An object or array at pl, not covered by a whole release unless a
 * transform or a path goes on below it. */
static int walk_container(pds_stream_t *st, const place_t *pl, int *kept)
{
    int is_object = st->tok.type == PDS_TOK_OBJECT, any = 0;
    int room = room_for(pl, !is_object);
    const pds_field_node_t *local[LOCAL_NODES], **nodes = local;
    size_t written_count = 0;

    if (room > LOCAL_NODES)
        nodes = apr_palloc(st->pool, sizeof(*nodes) * (size_t)room);
    if (pds_stream_open(st, is_object) != 0
        || pds_stream_put(st, is_object ? "{" : "[", 1) != 0)
        return -1;
    pds_stream_next(st);
    if (st->tok.type != (is_object ? PDS_TOK_OBJECT_END : PDS_TOK_ARRAY_END)) {
        for (;;) {
            size_t mark = st->out.len, states_mark = st->nstates;
            place_t child;
            int ck = 0, cw = 0;

            if (is_object) {
                const char *name;
                size_t n;

                if (st->tok.type != PDS_TOK_STRING)
                    return pds_stream_fatal(st, "invalid-json");
                if (pds_stream_key(st, &name, &n) != 0)
                    return -1;
                member_place(st, pl, name, n, nodes, &child);
                if (st->parse_error != NULL)
                    return -1;
                if ((written_count > 0 && pds_stream_put(st, ",", 1) != 0)
                    || pds_stream_put_string(st, name, n) != 0
                    || pds_stream_put(st, ":", 1) != 0)
                    return -1;
                pds_stream_next(st);
                if (st->tok.type != PDS_TOK_COLON)
                    return pds_stream_fatal(st, "invalid-json");
                pds_stream_next(st);
            }
            else {
                element_place(st, pl, st->tok.start, nodes, &child);
                if (st->parse_error != NULL)
                    return -1;
                if (written_count > 0 && pds_stream_put(st, ",", 1) != 0)
                    return -1;
            }
            if (walk(st, &child, !is_object, &ck, &cw) != 0)
                return -1;
            st->nstates = states_mark;
            if (cw)
                written_count++;
            else
                st->out.len = mark;
            any |= ck;
            pds_stream_frame(st)->count++;
            pds_stream_next(st);
            if (st->tok.type == PDS_TOK_COMMA) {
                pds_stream_next(st);
                continue;
            }
            if (st->tok.type != (is_object ? PDS_TOK_OBJECT_END : PDS_TOK_ARRAY_END))
                return pds_stream_fatal(st, "invalid-json");
            break;
        }
    }
    pds_stream_close(st);
    if (pds_stream_put(st, is_object ? "}" : "]", 1) != 0)
        return -1;
    *kept = pl->whole || any;
    return 0;
}

/* The value st->tok starts, at place pl. *kept: the DOM filter keeps it
 * (before transforms); *written: something of it is in the output. */
static int walk(pds_stream_t *st, const place_t *pl, int in_array, int *kept, int *written)
{
    size_t i, mark = st->out.len, under_way = 0;
    int k, whole = pl->whole, objects = 0, arrays = 0;
    pds_tok_type_t type;

    *kept = *written = 0;
    if (st->failing)
        return pds_stream_scan(st, 0, in_array);
    for (i = 0; i < pl->nstates; i++) {
        int s = st->states[pl->states_start + i];

        if (path_at(st, s)->nsteps == pl->step)
            st->present[s] = 1;
        else if (!st->present[s])
            under_way++;
    }
    for (k = 0; k < pl->count; k++) {
        whole |= pl->nodes[k]->whole;
        objects |= pl->nodes[k]->children != NULL;
        arrays |= pl->nodes[k]->each != NULL || pl->nodes[k]->branches != NULL;
    }
    if (!whole && (pl->count == 0 || st->tok.type == PDS_TOK_NULL))
        return pds_stream_scan(st, 0, in_array);
    if (whole && pl->tnode == NULL && under_way == 0) {
        *kept = *written = 1;
        return pds_stream_scan(st, 1, in_array);
    }
    if (pds_stream_value_begin(st, in_array) != 0)
        return -1;
    type = st->tok.type;
    if (type == PDS_TOK_OBJECT || type == PDS_TOK_ARRAY) {
        place_t here = *pl;
        apr_size_t replaced = st->replaced;

        if (!whole && !(type == PDS_TOK_OBJECT ? objects : arrays)) {
            type_error(st);
            return pds_stream_scan(st, 0, in_array);
        }
        /* Paths found already need no looking for. */
        here.whole = whole;
        here.states_start = st->nstates;
        for (i = 0; i < pl->nstates; i++) {
            int s = st->states[pl->states_start + i];
            if (!st->present[s] && push_state(st, s) != 0)
                return -1;
        }
        here.nstates = st->nstates - here.states_start;
        if (walk_container(st, &here, kept) != 0)
            return -1;
        st->nstates = here.states_start;
        *written = *kept;
        if (!*kept)
            st->out.len = mark;
        else if (pl->tnode != NULL && pl->tnode->transform != NULL && !st->failing) {
            /* Transforms take an object or array by its kind alone (redact,
             * nullify, constant; the others refuse it), so an empty one
             * stands for it; subject replacement runs after transforms, so
             * what was replaced in what is dropped does not count. */
            st->replaced = replaced;
            return transform_at(st, pl->tnode, type == PDS_TOK_OBJECT ? json_object()
                                                                     : json_array(),
                                mark, written);
        }
        return 0;
    }
    if (!whole) {
        type_error(st);             /* a scalar where the set goes into it */
        return 0;
    }
    *kept = 1;
    if (pl->tnode != NULL && pl->tnode->transform != NULL)
        return transform_at(st, pl->tnode, pds_stream_token_json(st), mark, written);
    *written = 1;
    return pds_stream_put_scalar(st);
}

/* ---- the API --------------------------------------------------------------------- */

int pds_stream_supported(const pds_fieldset_t *set)
{
    /* Every feature of a field set is handled (predicates by looking
     * ahead, transforms on the token or on the kind); what is not is a
     * collection decided record by record (pds_filter_apply_rows), which
     * has no stream form and keeps the DOM filter. */
    return set != NULL && set->root != NULL && set->paths != NULL;
}

static apr_status_t refuse(pds_stream_t *st, pds_error_t *err)
{
    const char *code = st->parse_error;

    if (code == NULL)
        code = st->too_deep ? "too-deep" : st->bad_type ? "unexpected-type" : NULL;
    if (code == NULL && pds_error_is_set(&st->transform_err)) {
        if (err != NULL)
            *err = st->transform_err;
        return st->transform_rv;
    }
    if (code == NULL)
        code = "internal-error";
    pds_error_set(err, code, -1, PDS_BODY_SOURCE, "the body is refused (%s)", code);
    return st->nomem ? APR_ENOMEM : APR_EINVAL;
}

/* The top level, as pds_filter_apply_ex takes it: an object (unless the set
 * only goes into arrays) or an array (when it does). */
static int walk_top(pds_stream_t *st)
{
    const pds_field_node_t *root = st->set->root;
    place_t top;
    int is_object, is_array, kept, written, i;

    pds_stream_next(st);
    if (pds_stream_value_begin(st, 0) != 0)
        return -1;
    is_object = st->tok.type == PDS_TOK_OBJECT;
    is_array = st->tok.type == PDS_TOK_ARRAY;
    if (!(is_object && (root->children != NULL || root->each == NULL))
        && !(is_array && root->each != NULL)) {
        type_error(st);
        return pds_stream_scan(st, 0, 0);
    }
    if (is_object && root->children == NULL) {
        if (pds_stream_scan(st, 0, 0) != 0)
            return -1;
        return pds_stream_put(st, "{}", 2);     /* an empty set releases nothing */
    }
    memset(&top, 0, sizeof(top));
    top.nodes = &root;
    top.count = 1;
    top.tnode = st->set->troot;
    for (i = 0; i < st->set->paths->nelts; i++) {
        if (push_state(st, i) != 0)
            return -1;
    }
    top.nstates = st->nstates;
    if (walk(st, &top, 0, &kept, &written) != 0)
        return -1;
    if (!written && pds_stream_put(st, is_object ? "{}" : "[]", 2) != 0)
        return -1;
    return 0;
}

apr_status_t pds_stream_apply_ex(const pds_fieldset_t *set, const char *input,
                                 apr_size_t len, const pds_filter_options_t *opts,
                                 pds_filter_result_t *result, apr_pool_t *p,
                                 pds_error_t *err)
{
    pds_stream_t st;
    pds_transform_ctx_t no_ctx;
    apr_array_header_t *released;
    apr_status_t rv = APR_SUCCESS;
    char *body;
    int i;

    if (set == NULL || result == NULL || p == NULL || (input == NULL && len > 0)) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "pds_stream_apply_ex called without a set, result or pool");
        return APR_EINVAL;
    }
    if (opts != NULL && opts->exclude != NULL) {
        /* never a record released that a row filter would have held */
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "the streaming filter does not do row filters (Exclude)");
        return APR_EINVAL;
    }
    if (len == 0) {
        pds_error_set(err, "invalid-json", 0, PDS_BODY_SOURCE, "the body is empty");
        return APR_EINVAL;
    }
    memset(&st, 0, sizeof(st));
    pds_lex_init(&st.lx, input, len, 0);
    st.max_depth = opts != NULL && opts->max_depth > 0 ? opts->max_depth
                                                       : PDS_FILTER_DEFAULT_MAX_DEPTH;
    st.set = set;
    st.pool = p;
    st.hash_seed = (uint32_t)apr_time_now() ^ (uint32_t)(uintptr_t)&st;
    st.tctx = opts != NULL ? opts->transform : NULL;
    if (set->troot != NULL && st.tctx == NULL) {
        memset(&no_ctx, 0, sizeof(no_ctx));
        no_ctx.now = apr_time_now();
        st.tctx = &no_ctx;
    }
    st.applied = set->troot != NULL ? apr_hash_make(p) : NULL;
    if (opts != NULL && opts->subject != NULL && opts->subject_pseudonym != NULL
        && opts->subject[0] != '\0') {
        st.subject = opts->subject;
        st.subject_len = strlen(opts->subject);
        st.pseudonym = opts->subject_pseudonym;
    }
    pds_error_clear(&st.transform_err);
    st.present = apr_pcalloc(p, (apr_size_t)set->paths->nelts + 1);

    if (walk_top(&st) == 0 && st.parse_error == NULL) {
        pds_stream_next(&st);
        if (st.tok.type != PDS_TOK_EOF)
            (void)pds_stream_fatal(&st, "invalid-json");    /* end of file expected */
    }
    if (st.failing) {
        rv = refuse(&st, err);
        pds_stream_free(&st);
        return rv;
    }
    body = apr_palloc(p, st.out.len + 1);
    memcpy(body, st.out.data, st.out.len);
    body[st.out.len] = '\0';
    released = apr_array_make(p, set->paths->nelts > 0 ? set->paths->nelts : 1,
                              sizeof(const char *));
    for (i = 0; i < set->paths->nelts; i++) {
        if (st.present[i])
            APR_ARRAY_PUSH(released, const char *) = path_at(&st, i)->text;
    }
    memset(result, 0, sizeof(*result));     /* members it does not set stay empty */
    result->body = body;
    result->length = st.out.len;
    result->released = released;
    result->transformed = pds_fieldset_transformed(set, st.applied, p);
    result->subject_replaced = (int)st.replaced;
    result->records = -1;
    result->subjects = NULL;
    result->dropped = NULL;
    pds_stream_free(&st);
    return APR_SUCCESS;
}

apr_status_t pds_stream_filter_ex(const pds_fieldset_t *set, const char *input,
                                  apr_size_t len, const pds_filter_options_t *opts,
                                  pds_filter_result_t *result, apr_pool_t *p,
                                  pds_error_t *err)
{
    pds_filter_result_t dom;
    apr_status_t rv;

    /* Row filters (Exclude) read a whole record before deciding it: the
     * tree filter does them. */
    if (!pds_stream_supported(set) || (opts != NULL && opts->exclude != NULL))
        return pds_filter_apply_ex(set, input, len, opts, result, p, err);
    rv = pds_stream_apply_ex(set, input, len, opts, result, p, NULL);
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    /* Refused: the DOM filter says why in its own words (refusals are rare
     * and their texts are part of the contract). It refuses too; should it
     * not, nothing is released (fail closed). */
    rv = pds_filter_apply_ex(set, input, len, opts, &dom, p, err);
    if (rv == APR_SUCCESS) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "the streaming and the tree filter disagree on this body");
        return APR_EGENERAL;
    }
    return rv;
}
