/* pds_stream_rows.c: a collection decided record by record without a
 * document tree (pds_stream.h): the stream form of pds_filter_apply_rows.
 *
 * Two passes over the body. The first validates all of it as the DOM
 * filter's parser does, so that a body the DOM filter refuses is refused
 * before any record is decided (decide is called for the same records in
 * the same order as there, or not at all). The second takes the records
 * one by one: each is looked ahead at for Exclude and for its subject,
 * decided, then walked through the set decide gave (pds_stream.c's walk),
 * straight into the output; it trusts the first (names are not checked
 * for duplicates again, values passed over are only tokenized). "released"
 * is read on the input of the records released, against the agreement's
 * set.
 *
 * A record the walk refuses (a value of the wrong kind, one a transform
 * cannot take) is handed to the DOM filter alone (pds_filter_row): its
 * error is then the DOM filter's own, text and all, and under
 * drop_bad_records the label the record is dropped by is the one the DOM
 * filter names (the first transform in its order, not the input's). Such
 * records are rare; the others never meet jansson.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_filter_int.h"
#include "pds_stream_int.h"

#define PDS_BODY_SOURCE "JSON body"

typedef struct rows_t {
    pds_stream_t st;
    const pds_fieldset_t *set;          /* the agreement's */
    const pds_rowfilter_t *exclude;
    const pds_field_path_t *subject_at;
    pds_row_decide_fn decide;
    void *baton;
    char *present;                      /* set's paths met in a released record;
                                           st.present: in the record at hand */
    apr_array_header_t *subjects, *dropped, *excluded;
    apr_pool_t *pool;
} rows_t;

static apr_status_t disagree(pds_error_t *err)
{
    pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                  "the streaming and the tree filter disagree on this body");
    return PDS_STREAM_DISAGREE;
}

/* The first pass: the body as the DOM filter's parser takes it, then a
 * top-level array. 0, or -1 with the refusal in st. */
static int validate_body(pds_stream_t *st)
{
    int is_array;

    pds_stream_next(st);
    is_array = st->tok.type == PDS_TOK_ARRAY;
    if (pds_stream_scan(st, 0, 0) == 0 && st->parse_error == NULL) {
        pds_stream_next(st);
        if (st->tok.type != PDS_TOK_EOF)
            (void)pds_stream_fatal(st, "invalid-json");    /* end of file expected */
    }
    if (!st->failing && !is_array) {
        st->bad_type = 1;
        st->failing = 1;
    }
    return st->failing ? -1 : 0;
}

/* The record st->tok starts, left out: only passed over. */
static apr_status_t skip_record(rows_t *rw, pds_error_t *err)
{
    return pds_stream_scan(&rw->st, 0, 1) == 0 ? APR_SUCCESS : pds_filter_no_memory(err);
}

/* The stream refused the record at offset at (rowset's walk): the DOM
 * filter's word on the record alone. Dropped (drop_bad_records), or its
 * error; were it to release the record, the two filters disagree. */
static apr_status_t record_by_dom(rows_t *rw, const pds_fieldset_t *rowset, size_t at,
                                  pds_error_t *err)
{
    pds_stream_t *st = &rw->st;
    int dropped_before = rw->dropped != NULL ? rw->dropped->nelts : 0;
    json_t *row, *kept = NULL;
    apr_status_t rv;

    if (!st->bad_type && st->transform_rv == APR_ENOMEM)
        return pds_filter_no_memory(err);   /* the stream's own want, not the record's */
    row = json_loadb((const char *)st->lx.in + at, st->tok.end - at,
                     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (row == NULL)
        return pds_filter_no_memory(err);   /* the body is valid: memory */
    rv = pds_filter_row(rowset, row, st->tctx, rw->dropped, st->applied, &kept, rw->pool,
                        err);
    json_decref(row);
    if (rv != APR_SUCCESS)
        return rv;
    json_decref(kept);
    if (kept != NULL || rw->dropped == NULL || rw->dropped->nelts == dropped_before)
        return disagree(err);
    st->failing = st->bad_type = 0;
    pds_error_clear(&st->transform_err);
    return APR_SUCCESS;
}

/* A record released: its subject, the paths and transforms it met. */
static void record_released(rows_t *rw, const char *subject)
{
    pds_stream_t *st = &rw->st;
    int i;

    APR_ARRAY_PUSH(rw->subjects, const char *) = subject;
    memcpy(rw->present, st->present, (size_t)rw->set->paths->nelts);
    for (i = 0; i < st->row_applied->nelts; i++)
        pds_stream_add_applied(st, APR_ARRAY_IDX(st->row_applied, i, const char *));
}

/* The record at offset at (st->tok its first token) through rowset, its
 * subject's value replaced by pseudonym (when not NULL). */
static apr_status_t walk_record(rows_t *rw, const pds_fieldset_t *rowset, size_t at,
                                const char *subject, const char *pseudonym,
                                pds_error_t *err)
{
    pds_stream_t *st = &rw->st;
    const pds_field_node_t *root = rowset->root, *local[16], **room = local;
    pds_transform_node_t each;
    size_t mark = st->out.len, npaths = (size_t)rw->set->paths->nelts;
    pds_place_t top, record;
    int kept, written, nroom = 1 + (root->branches != NULL ? root->branches->nelts : 0);

    if (nroom > 16)
        room = apr_palloc(rw->pool, sizeof(*room) * (size_t)nroom);
    memcpy(st->present, rw->present, npaths);     /* found already: not looked for */
    st->row_applied->nelts = 0;
    st->subject = pseudonym != NULL ? subject : NULL;
    st->subject_len = strlen(subject);
    st->pseudonym = pseudonym;
    if (rw->subjects->nelts > 0 && pds_stream_put(st, ",", 1) != 0)
        return pds_filter_no_memory(err);
    memset(&top, 0, sizeof(top));
    top.nodes = &root;
    top.count = 1;
    top.tnode = rowset->troot;
    top.nstates = npaths;                       /* st->states[0 ..]: every path */
    pds_stream_element_place(st, &top, at, room, &record);
    if (record.tnode != NULL) {
        /* The DOM filter transforms within a record, never the record. */
        each = *record.tnode;
        each.transform = NULL;
        record.tnode = &each;
    }
    if (pds_stream_walk(st, &record, 1, &kept, &written) != 0)
        return pds_filter_no_memory(err);
    st->nstates = npaths;
    if (st->failing || pds_error_is_set(&st->transform_err)) {
        st->out.len = mark;
        return record_by_dom(rw, rowset, at, err);
    }
    if (!kept) {
        st->out.len = mark;
        return APR_SUCCESS;
    }
    record_released(rw, subject);
    return APR_SUCCESS;
}

/* The record st->tok starts: Exclude, its subject, decide, the walk. */
static apr_status_t one_record(rows_t *rw, pds_error_t *err)
{
    pds_stream_t *st = &rw->st;
    size_t at = st->tok.start;
    const pds_fieldset_t *rowset = NULL;
    const char *subject, *pseudonym = NULL;
    apr_status_t rv;
    int hit = pds_stream_peek_excluded(st, at, rw->exclude);

    if (hit >= 0) {
        APR_ARRAY_PUSH(rw->excluded, const char *) = pds_rowfilter_rule(rw->exclude, hit);
        return skip_record(rw, err);
    }
    subject = pds_stream_peek_subject(st, at, rw->subject_at, rw->pool);
    if (subject == NULL)
        return skip_record(rw, err);      /* a record that names no one is no one's */
    rv = rw->decide(rw->baton, subject, &rowset, &pseudonym, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (rowset == NULL || rowset->root->each == NULL)
        return skip_record(rw, err);
    return walk_record(rw, rowset, at, subject, pseudonym, err);
}

/* The second pass: the top-level array, record by record. */
static apr_status_t walk_records(rows_t *rw, pds_error_t *err)
{
    pds_stream_t *st = &rw->st;
    int i;
    apr_status_t rv;

    for (i = 0; i < rw->set->paths->nelts; i++)
        if (pds_stream_push_state(st, i) != 0)
            return pds_filter_no_memory(err);
    pds_stream_next(st);
    if (pds_stream_open(st, 0) != 0 || pds_stream_put(st, "[", 1) != 0)
        return pds_filter_no_memory(err);
    for (pds_stream_next(st); st->tok.type != PDS_TOK_ARRAY_END; pds_stream_next(st)) {
        rv = one_record(rw, err);
        if (rv != APR_SUCCESS)
            return rv;
        pds_stream_frame(st)->count++;
        pds_stream_next(st);
        if (st->tok.type != PDS_TOK_COMMA)
            break;                          /* the body is valid: ']' */
    }
    pds_stream_close(st);
    return pds_stream_put(st, "]", 1) == 0 ? APR_SUCCESS : pds_filter_no_memory(err);
}

static void rows_result(rows_t *rw, pds_filter_result_t *result)
{
    pds_stream_t *st = &rw->st;
    int i;

    memset(result, 0, sizeof(*result));
    result->body = apr_pstrmemdup(rw->pool, st->out.data, st->out.len);
    result->length = st->out.len;
    result->released = apr_array_make(rw->pool, rw->set->paths->nelts + 1,
                                      sizeof(const char *));
    for (i = 0; i < rw->set->paths->nelts; i++)
        if (rw->present[i])
            APR_ARRAY_PUSH(result->released, const char *)
                = APR_ARRAY_IDX(rw->set->paths, i, pds_field_path_t).text;
    result->transformed = pds_fieldset_transformed(rw->set, st->applied, rw->pool);
    result->subject_replaced = 0;
    result->records = rw->subjects->nelts;
    result->subjects = rw->subjects;
    result->dropped = rw->dropped;
    result->excluded = rw->excluded;
}

/* Both passes. *body_refused: the refusal came before any record was
 * decided (its error, code only, in body_err), as the DOM filter's would. */
static apr_status_t rows_apply(rows_t *rw, const char *input, apr_size_t len,
                               const pds_filter_options_t *opts,
                               pds_filter_result_t *result, pds_error_t *err,
                               pds_error_t *body_err, int *body_refused)
{
    pds_stream_t *st = &rw->st;
    apr_status_t rv;

    *body_refused = 1;
    if (len == 0) {
        pds_error_set(body_err, "invalid-json", 0, PDS_BODY_SOURCE, "the body is empty");
        return APR_EINVAL;
    }
    pds_stream_init(st, rw->set, input, len, opts, rw->pool);
    if (validate_body(st) != 0) {
        *body_refused = !st->nomem;         /* out of memory is the stream's to say */
        rv = pds_stream_refuse(st, st->nomem ? err : body_err);
        pds_stream_free(st);
        return rv;
    }
    *body_refused = 0;
    pds_lex_init(&st->lx, input, len, 0);
    st->validated = 1;
    rw->present = apr_pcalloc(rw->pool, (apr_size_t)rw->set->paths->nelts + 1);
    rw->subjects = apr_array_make(rw->pool, 8, sizeof(const char *));
    rw->dropped = opts != NULL && opts->drop_bad_records
        ? apr_array_make(rw->pool, 4, sizeof(const char *)) : NULL;
    rw->excluded = pds_rowfilter_count(rw->exclude) > 0
        ? apr_array_make(rw->pool, 4, sizeof(const char *)) : NULL;
    st->row_applied = apr_array_make(rw->pool, 4, sizeof(const char *));
    rv = walk_records(rw, err);
    if (rv == APR_SUCCESS)
        rows_result(rw, result);
    pds_stream_free(st);
    return rv;
}

/* The arguments pds_filter_apply_rows takes, into rw (the subject path
 * parsed). */
static apr_status_t rows_start(rows_t *rw, const pds_fieldset_t *set, const char *input,
                               apr_size_t len, const pds_filter_options_t *opts,
                               const char *subject_path, pds_row_decide_fn decide,
                               void *baton, pds_filter_result_t *result, apr_pool_t *p,
                               pds_error_t *err)
{
    if (set == NULL || result == NULL || p == NULL || decide == NULL
        || subject_path == NULL || (input == NULL && len > 0) || set->root->each == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "pds_stream_apply_rows needs a collection set, a subject path and "
                      "a decision");
        return APR_EINVAL;
    }
    memset(rw, 0, sizeof(*rw));
    rw->set = set;
    rw->exclude = opts != NULL ? opts->exclude : NULL;
    rw->decide = decide;
    rw->baton = baton;
    rw->pool = p;
    rw->subject_at = pds_fieldset_parse_path(subject_path, p, err);
    return rw->subject_at != NULL ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t pds_stream_apply_rows(const pds_fieldset_t *set, const char *input,
                                   apr_size_t len, const pds_filter_options_t *opts,
                                   const char *subject_path, pds_row_decide_fn decide,
                                   void *baton, pds_filter_result_t *result,
                                   apr_pool_t *p, pds_error_t *err)
{
    rows_t rw;
    int body_refused;

    if (rows_start(&rw, set, input, len, opts, subject_path, decide, baton, result, p, err)
        != APR_SUCCESS)
        return APR_EINVAL;
    return rows_apply(&rw, input, len, opts, result, err, err, &body_refused);
}

apr_status_t pds_stream_filter_rows(const pds_fieldset_t *set, const char *input,
                                    apr_size_t len, const pds_filter_options_t *opts,
                                    const char *subject_path, pds_row_decide_fn decide,
                                    void *baton, pds_filter_result_t *result,
                                    apr_pool_t *p, pds_error_t *err)
{
    pds_filter_result_t dom;
    rows_t rw;
    apr_status_t rv;
    int body_refused;

    if (!pds_stream_supported(set)
        || rows_start(&rw, set, input, len, opts, subject_path, decide, baton, result, p,
                      NULL) != APR_SUCCESS)
        return pds_filter_apply_rows(set, input, len, opts, subject_path, decide, baton,
                                     result, p, err);
    rv = rows_apply(&rw, input, len, opts, result, err, NULL, &body_refused);
    if (rv == APR_SUCCESS || !body_refused)
        return rv;
    /* Refused before any record was decided: the DOM filter says why in its
     * own words, and refuses before deciding any too. */
    rv = pds_filter_apply_rows(set, input, len, opts, subject_path, decide, baton, &dom, p,
                               err);
    return rv == APR_SUCCESS ? disagree(err) : rv;
}
