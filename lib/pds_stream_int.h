/* pds_stream_int.h: the streaming filter's state, shared by its two files
 * (inside lib/ only; the API is pds_stream.h).
 *
 * pds_stream_scan.c holds what validates and writes JSON: the output
 * buffer, objects' member names (duplicates), depth, scalars written in the
 * DOM filter's forms, and an iterative pass over a value that is skipped or
 * released whole. pds_stream.c walks the field set's tree over the input.
 *
 * Buffers grow by doubling and are freed when the call ends; nothing is
 * allocated per member or per value.
 */
#ifndef PDS_STREAM_INT_H
#define PDS_STREAM_INT_H

#include <stdint.h>
#include <string.h>

#include <apr_hash.h>
#include <jansson.h>

#include "pds_fieldset_tree.h"
#include "pds_json_lex.h"
#include "pds_rowfilter.h"
#include "pds_stream.h"

/* jansson's own nesting bound (JSON_PARSER_MAX_DEPTH): values, scalars
 * included. */
#define PDS_STREAM_PARSER_MAX_DEPTH 2048

/* A growable byte buffer. */
typedef struct pds_buf_t {
    char *data;
    size_t len, cap;
} pds_buf_t;

/* A member name of an open object: its decoded bytes at offset off, in the
 * input (raw) or in the names buffer (escaped). */
typedef struct pds_key_t {
    size_t off;
    uint32_t len, hash;
    int escaped;
} pds_key_t;

/* An open object or array. */
typedef struct pds_frame_t {
    int is_object;
    size_t count;               /* members or elements so far */
    size_t keys_start;          /* its names: keys[keys_start ..] */
    size_t names_start;         /* its escaped names' bytes */
    size_t tab_off, tab_cap;    /* its hash of names (tab_cap 0: none yet) */
} pds_frame_t;

typedef struct pds_stream_t {
    pds_lex_t lx;
    pds_token_t tok;
    int max_depth;
    int depth;                  /* objects and arrays open */

    /* Failures, in the DOM filter's order of precedence: a parse error
     * (fatal, ends the pass), then too-deep, unexpected-type, then a
     * transform's. Once any is seen, failing is set: the pass only
     * validates the rest. */
    const char *parse_error;
    int too_deep, bad_type, nomem;
    pds_error_t transform_err;
    apr_status_t transform_rv;
    int failing;
    int validated;              /* the body is known valid (a second pass):
                                   names are not checked for duplicates and
                                   values skipped are only tokenized */

    pds_buf_t out;
    pds_buf_t names;            /* escaped member names, decoded */
    pds_buf_t scratch;          /* a string value, decoded */
    pds_frame_t *frames;
    size_t frames_cap;
    pds_key_t *keys;
    size_t nkeys, keys_cap;
    uint32_t hash_seed;         /* for the names' hash, per call */
    uint32_t *tab;
    size_t tab_len, tab_cap;
    int *states;                /* presence: paths under way (pds_stream.c) */
    size_t nstates, states_cap;

    const pds_fieldset_t *set;
    char *present;              /* per path of set: present in the input */
    const pds_transform_ctx_t *tctx;
    pds_transform_ctx_t no_ctx; /* tctx when the caller gave none */
    apr_hash_t *applied;        /* labels of the transforms that met a value */
    const char *seen[16];       /* ... the first of them, by pointer */
    int nseen;
    apr_array_header_t *row_applied; /* collections: the labels one record
                                   met, added to applied once it is released */
    const pds_rowfilter_t *exclude;  /* a single document's Exclude */
    apr_array_header_t *excluded;    /* ... the conditions that held for the
                                   records of a top-level array */
    int excluded_by;            /* ... the one that held for a top-level
                                   object, or -1 */
    const char *subject, *pseudonym;
    size_t subject_len;
    apr_size_t replaced;
    apr_pool_t *pool;
} pds_stream_t;

/* A place in the document (pds_stream.c): what the DOM filter's
 * filter_nodes sees there. */
typedef struct pds_place_t {
    const pds_field_node_t *const *nodes;
    int count;
    int whole;
    const pds_transform_node_t *tnode;
    size_t states_start, nstates;       /* st->states[...]: indices of paths */
    int step;                           /* path steps taken to get here */
} pds_place_t;

/* ---- pds_stream.c ---------------------------------------------------------- */

/* Sets st up to filter len bytes of input through set with opts (NULL:
 * defaults); every path of set is looked for. */
void pds_stream_init(pds_stream_t *st, const pds_fieldset_t *set, const char *input,
                     apr_size_t len, const pds_filter_options_t *opts, apr_pool_t *p);
int pds_stream_push_state(pds_stream_t *st, int path);
/* The place of the element of an array at pl that starts at input offset
 * at; its nodes go into room (room_for them). */
void pds_stream_element_place(pds_stream_t *st, const pds_place_t *pl, size_t at,
                              const pds_field_node_t **room, pds_place_t *child);
/* The value st->tok starts, at place pl. *kept: the DOM filter keeps it
 * (before transforms); *written: something of it is in the output. 0, or
 * -1 when fatal. A value of the wrong kind sets st->bad_type, a value a
 * transform refuses st->transform_err (the walk goes on validating). */
int pds_stream_walk(pds_stream_t *st, const pds_place_t *pl, int in_array, int *kept,
                    int *written);
/* Adds label to the transforms that met a released value. */
void pds_stream_add_applied(pds_stream_t *st, const char *label);
/* The refusal st holds, in the DOM filter's order of precedence (the code
 * is the DOM filter's, the text the stream's own). */
apr_status_t pds_stream_refuse(pds_stream_t *st, pds_error_t *err);

/* ---- pds_stream_peek.c: looking ahead, without validating ------------------- */

/* Skips the value at the look-ahead's token. 0, or -1 when the input ends
 * or breaks first. */
int pds_stream_peek_skip(pds_lex_t *lx, pds_token_t *t);
/* The member (name, n) of the object at input offset at: its value's first
 * token in *t, lx after it. 0 when found. */
int pds_stream_peek_member(pds_stream_t *st, size_t at, const char *name, size_t n,
                           pds_lex_t *lx, pds_token_t *t);
/* Non-zero when the element at input offset at satisfies every predicate
 * of path->steps[step], as pds_field_step_matches decides on a tree. */
int pds_stream_element_matches(pds_stream_t *st, size_t at, const pds_field_path_t *path,
                               int step);
/* The index of the first condition of rf that holds for the value at input
 * offset at (pds_rowfilter_match), or -1. */
int pds_stream_peek_excluded(pds_stream_t *st, size_t at, const pds_rowfilter_t *rf);
/* The subject the record at input offset at names at path, as
 * pds_filter_apply_rows reads it (a string, or an integer as text; a
 * predicated step picks its one element), in p; NULL when none. */
const char *pds_stream_peek_subject(pds_stream_t *st, size_t at,
                                    const pds_field_path_t *path, apr_pool_t *p);

/* ---- pds_stream_scan.c ---------------------------------------------------- */

int pds_buf_reserve(pds_buf_t *b, size_t more);
int pds_stream_put_slow(pds_stream_t *st, const char *data, size_t n);
void pds_stream_free(pds_stream_t *st);

/* Appends n bytes to the output. 0, or -1 (no memory: fatal). */
static inline int pds_stream_put(pds_stream_t *st, const char *data, size_t n)
{
    if (st->out.cap - st->out.len < n)
        return pds_stream_put_slow(st, data, n);
    memcpy(st->out.data + st->out.len, data, n);
    st->out.len += n;
    return 0;
}

/* Reads the next token into st->tok. */
static inline void pds_stream_next(pds_stream_t *st)
{
    (void)pds_lex_next(&st->lx, &st->tok);
}
/* A parse error (code as the DOM filter's): returns -1. */
int pds_stream_fatal(pds_stream_t *st, const char *code);
/* st->tok starts a value (in_array: an array's element, where jansson
 * checks for the end of input before its depth). 0, or -1 when fatal. */
int pds_stream_value_begin(pds_stream_t *st, int in_array);
/* Opens the object or array st->tok starts; closes the innermost one. */
int pds_stream_open(pds_stream_t *st, int is_object);
void pds_stream_close(pds_stream_t *st);
static inline pds_frame_t *pds_stream_frame(pds_stream_t *st)
{
    return st->depth > 0 ? &st->frames[st->depth - 1] : NULL;
}
/* st->tok is a member name of the innermost object: refused when it holds
 * NUL or is there already; *pname (valid until the next name is read) and
 * *plen its decoded bytes. 0, or -1 when fatal. */
int pds_stream_key(pds_stream_t *st, const char **pname, size_t *plen);
/* The decoded bytes of string token st->tok, in st->scratch. NULL: no memory. */
const char *pds_stream_string(pds_stream_t *st, size_t *plen);

/* Writes the current scalar token as the DOM filter writes it (a string
 * value equal to the subject as its pseudonym). 0 or -1 (no memory). */
int pds_stream_put_scalar(pds_stream_t *st);
/* Writes a member name (decoded bytes) as a JSON string. */
int pds_stream_put_string(pds_stream_t *st, const char *s, size_t n);
/* Writes a jansson value (a transform's result) as the DOM filter would,
 * string values equal to the subject replaced. */
int pds_stream_put_json(pds_stream_t *st, json_t *v);
/* The current scalar token as a new jansson value (NULL: no memory). */
json_t *pds_stream_token_json(pds_stream_t *st);

/* Validates the value st->tok starts (its first token not yet checked by
 * pds_stream_value_begin) to its end, writing it when emit is set. Objects
 * and arrays are walked without recursion. 0, or -1 when fatal. */
int pds_stream_scan(pds_stream_t *st, int emit, int in_array);

#endif
