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

#include "pds_filter_int.h"
#include "pds_stream_int.h"

#define PDS_BODY_SOURCE "JSON body"
#define LOCAL_NODES 16


static const pds_field_path_t *path_at(const pds_stream_t *st, int i)
{
    return &APR_ARRAY_IDX(st->set->paths, i, pds_field_path_t);
}

int pds_stream_push_state(pds_stream_t *st, int path)
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

/* ---- transforms -------------------------------------------------------------- */

void pds_stream_add_applied(pds_stream_t *st, const char *label)
{
    int i;

    /* The same few labels come back for every record, so a short list of
     * the pointers seen spares hashing the text each time. */
    for (i = 0; i < st->nseen; i++)
        if (st->seen[i] == label)
            return;
    if (st->nseen < (int)(sizeof(st->seen) / sizeof(st->seen[0])))
        st->seen[st->nseen++] = label;
    apr_hash_set(st->applied, label, APR_HASH_KEY_STRING, label);
}

/* Remembers that the transform labelled label met a value: in a
 * collection's record, until the record is released. */
static void note_applied(pds_stream_t *st, const char *label)
{
    int i;

    if (st->row_applied == NULL) {
        pds_stream_add_applied(st, label);
        return;
    }
    for (i = 0; i < st->row_applied->nelts; i++)
        if (APR_ARRAY_IDX(st->row_applied, i, const char *) == label)
            return;
    APR_ARRAY_PUSH(st->row_applied, const char *) = label;
}

/* Transforms apply until the first refusal of any kind. */
static int transforming(const pds_stream_t *st, const pds_place_t *pl)
{
    return pl->tnode != NULL && pl->tnode->transform != NULL && !st->failing
        && !pds_error_is_set(&st->transform_err);
}

/* Applies tnode's transform to v (ours; released here) where the value was
 * written from mark on: the result replaces it, or *written is cleared
 * (removed). A refusal is remembered and the walk goes on without
 * transforms: a value of the wrong kind found later still wins over it, as
 * the DOM filter filters before it transforms. */
static int transform_at(pds_stream_t *st, const pds_transform_node_t *tnode, json_t *v,
                        size_t mark, int *written)
{
    json_t *out = NULL;
    apr_status_t rv;

    if (v == NULL) {
        st->nomem = 1;
        return pds_stream_fatal(st, "internal-error");
    }
    /* The first refusal ends transforming, so it can go straight into
     * transform_err, cleared once per call. */
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


static void type_error(pds_stream_t *st)
{
    st->bad_type = 1;
    st->failing = 1;
}

/* The place of member (name, n) of an object at pl; nodes into room. */
static void member_place(pds_stream_t *st, const pds_place_t *pl, const char *name, size_t n,
                         const pds_field_node_t **room, pds_place_t *child)
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
            && pds_stream_push_state(st, s) != 0)
            return;
    }
    child->nstates = st->nstates - child->states_start;
}

void pds_stream_element_place(pds_stream_t *st, const pds_place_t *pl, size_t at,
                          const pds_field_node_t **room, pds_place_t *child)
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
            if (pds_stream_element_matches(st, at, br->path, br->step))
                room[child->count++] = br->node;
        }
    }
    child->states_start = st->nstates;
    for (i = 0; i < pl->nstates; i++) {
        int s = st->states[pl->states_start + i];
        const pds_field_path_t *path = path_at(st, s);
        const pds_field_step_t *step = &path->steps[pl->step];

        if (step->name == NULL
            && (step->npreds == 0 || pds_stream_element_matches(st, at, path, pl->step))
            && pds_stream_push_state(st, s) != 0)
            return;
    }
    child->nstates = st->nstates - child->states_start;
}

/* How many nodes the members or elements of a value at pl can meet. */
static int room_for(const pds_place_t *pl, int elements)
{
    int k, room = pl->count;

    for (k = 0; elements && k < pl->count; k++)
        room += pl->nodes[k]->branches != NULL ? pl->nodes[k]->branches->nelts : 0;
    return room;
}

/* An element of a top-level array that one of a single document's Exclude
 * conditions holds for: counted, and left out (only validated). */
static int record_excluded(pds_stream_t *st)
{
    int hit;

    if (st->excluded == NULL || st->depth != 1)
        return 0;
    hit = pds_stream_peek_excluded(st, st->tok.start, st->exclude);
    if (hit < 0)
        return 0;
    APR_ARRAY_PUSH(st->excluded, const char *) = pds_rowfilter_rule(st->exclude, hit);
    return 1;
}

/* An object or array at pl, not covered by a whole release unless a
 * transform or a path goes on below it. */
static int walk_container(pds_stream_t *st, const pds_place_t *pl, int *kept)
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
            pds_place_t child;
            int ck = 0, cw = 0, excluded = 0;

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
            else if (!(excluded = record_excluded(st))) {
                pds_stream_element_place(st, pl, st->tok.start, nodes, &child);
                if (st->parse_error != NULL)
                    return -1;
                if (written_count > 0 && pds_stream_put(st, ",", 1) != 0)
                    return -1;
            }
            if ((excluded ? pds_stream_scan(st, 0, 1)
                          : pds_stream_walk(st, &child, !is_object, &ck, &cw)) != 0)
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

int pds_stream_walk(pds_stream_t *st, const pds_place_t *pl, int in_array, int *kept,
                    int *written)
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
    /* Nothing released here: skipped, unless a path goes on below whose
     * presence counts (in a collection's record, whose set may release
     * less than the agreement's: "released" is read on the input). */
    if (!whole && (pl->count == 0 || st->tok.type == PDS_TOK_NULL)
        && !(pl->count == 0 && under_way > 0
             && (st->tok.type == PDS_TOK_OBJECT || st->tok.type == PDS_TOK_ARRAY)))
        return pds_stream_scan(st, 0, in_array);
    if (whole && pl->tnode == NULL && under_way == 0) {
        *kept = *written = 1;
        return pds_stream_scan(st, 1, in_array);
    }
    if (pds_stream_value_begin(st, in_array) != 0)
        return -1;
    type = st->tok.type;
    if (type == PDS_TOK_OBJECT || type == PDS_TOK_ARRAY) {
        pds_place_t here = *pl;
        apr_size_t replaced = st->replaced;

        if (!whole && pl->count > 0 && !(type == PDS_TOK_OBJECT ? objects : arrays)) {
            type_error(st);
            return pds_stream_scan(st, 0, in_array);
        }
        /* Paths found already need no looking for. */
        here.whole = whole;
        here.states_start = st->nstates;
        for (i = 0; i < pl->nstates; i++) {
            int s = st->states[pl->states_start + i];
            if (!st->present[s] && pds_stream_push_state(st, s) != 0)
                return -1;
        }
        here.nstates = st->nstates - here.states_start;
        if (walk_container(st, &here, kept) != 0)
            return -1;
        st->nstates = here.states_start;
        *written = *kept;
        if (!*kept) {
            st->out.len = mark;
            st->replaced = replaced;
        }
        else if (transforming(st, pl)) {
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
    if (transforming(st, pl))
        return transform_at(st, pl->tnode, pds_stream_token_json(st), mark, written);
    *written = 1;
    return pds_stream_put_scalar(st);
}

/* ---- the API --------------------------------------------------------------------- */

int pds_stream_supported(const pds_fieldset_t *set)
{
    /* Every feature of a field set is handled: predicates and Exclude by
     * looking ahead, transforms on the token or on the kind. */
    return set != NULL && set->root != NULL && set->paths != NULL;
}

void pds_stream_init(pds_stream_t *st, const pds_fieldset_t *set, const char *input,
                     apr_size_t len, const pds_filter_options_t *opts, apr_pool_t *p)
{
    memset(st, 0, sizeof(*st));
    pds_lex_init(&st->lx, input, len, 0);
    st->max_depth = opts != NULL && opts->max_depth > 0 ? opts->max_depth
                                                        : PDS_FILTER_DEFAULT_MAX_DEPTH;
    st->set = set;
    st->pool = p;
    st->hash_seed = (uint32_t)apr_time_now() ^ (uint32_t)(uintptr_t)st;
    st->tctx = opts != NULL ? opts->transform : NULL;
    if (st->tctx == NULL) {
        st->no_ctx.now = apr_time_now();
        st->tctx = &st->no_ctx;
    }
    st->applied = apr_hash_make(p);
    st->excluded_by = -1;
    pds_error_clear(&st->transform_err);
    st->present = apr_pcalloc(p, (apr_size_t)set->paths->nelts + 1);
}

apr_status_t pds_stream_refuse(pds_stream_t *st, pds_error_t *err)
{
    const char *code = st->parse_error;

    if (code == NULL)
        code = st->too_deep ? "too-deep" : st->excluded_by >= 0 ? "record-excluded"
             : st->bad_type ? "unexpected-type" : NULL;
    if (code == NULL && pds_error_is_set(&st->transform_err)) {
        if (err != NULL)
            *err = st->transform_err;
        return st->transform_rv;
    }
    if (code == NULL)
        code = "internal-error";
    /* record-excluded says which condition held, as the DOM filter does */
    pds_error_set(err, code, strcmp(code, "record-excluded") == 0 ? st->excluded_by : -1,
                  PDS_BODY_SOURCE, "the body is refused (%s)", code);
    return st->nomem ? APR_ENOMEM : APR_EINVAL;
}

static int refused(const pds_stream_t *st)
{
    return st->failing || st->excluded_by >= 0 || pds_error_is_set(&st->transform_err);
}

/* A single document's Exclude, before its top level is walked: a record
 * (an object) a condition holds for is refused once the body is read; the
 * records of a collection (an array) are looked at one by one
 * (record_excluded). 1 when the body is only to be validated. */
static int exclude_top(pds_stream_t *st, int is_object, int is_array)
{
    if (pds_rowfilter_count(st->exclude) == 0)
        return 0;
    if (is_array)
        st->excluded = apr_array_make(st->pool, 4, sizeof(const char *));
    if (is_object)
        st->excluded_by = pds_stream_peek_excluded(st, st->tok.start, st->exclude);
    return st->excluded_by >= 0;
}

/* The top level, as pds_filter_apply_ex takes it: an object (unless the set
 * only goes into arrays) or an array (when it does). */
static int walk_top(pds_stream_t *st)
{
    const pds_field_node_t *root = st->set->root;
    pds_place_t top;
    int is_object, is_array, kept, written, i;

    pds_stream_next(st);
    if (pds_stream_value_begin(st, 0) != 0)
        return -1;
    is_object = st->tok.type == PDS_TOK_OBJECT;
    is_array = st->tok.type == PDS_TOK_ARRAY;
    if (exclude_top(st, is_object, is_array))
        return pds_stream_scan(st, 0, 0);
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
        if (pds_stream_push_state(st, i) != 0)
            return -1;
    }
    top.nstates = st->nstates;
    if (pds_stream_walk(st, &top, 0, &kept, &written) != 0)
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
    apr_array_header_t *released;
    apr_status_t rv = APR_SUCCESS;
    char *body;
    int i;

    if (set == NULL || result == NULL || p == NULL || (input == NULL && len > 0)) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "pds_stream_apply_ex called without a set, result or pool");
        return APR_EINVAL;
    }
    if (len == 0) {
        pds_error_set(err, "invalid-json", 0, PDS_BODY_SOURCE, "the body is empty");
        return APR_EINVAL;
    }
    pds_stream_init(&st, set, input, len, opts, p);
    if (opts != NULL && opts->subject != NULL && opts->subject_pseudonym != NULL
        && opts->subject[0] != '\0') {
        st.subject = opts->subject;
        st.subject_len = strlen(opts->subject);
        st.pseudonym = opts->subject_pseudonym;
    }
    st.exclude = opts != NULL ? opts->exclude : NULL;

    if (walk_top(&st) == 0 && st.parse_error == NULL) {
        pds_stream_next(&st);
        if (st.tok.type != PDS_TOK_EOF)
            (void)pds_stream_fatal(&st, "invalid-json");    /* end of file expected */
    }
    if (refused(&st)) {
        rv = pds_stream_refuse(&st, err);
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
    result->transformed = pds_fieldset_transformed(set, set->troot != NULL ? st.applied
                                                                           : NULL, p);
    result->subject_replaced = (int)st.replaced;
    result->records = -1;
    result->subjects = NULL;
    result->dropped = NULL;
    result->excluded = st.excluded;
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

    if (!pds_stream_supported(set))
        return pds_filter_apply_ex(set, input, len, opts, result, p, err);
    rv = pds_stream_apply_ex(set, input, len, opts, result, p, NULL);
    if (rv == APR_SUCCESS)
        return APR_SUCCESS;
    /* Out of memory is the stream's to say, at once: the DOM filter needs
     * more memory than the stream, and where it found it the two would
     * seem to disagree. */
    if (rv == APR_ENOMEM)
        return pds_filter_no_memory(err);
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
