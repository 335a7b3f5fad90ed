/* pds_fieldset_tree.h: the compiled field set, inside lib/ only (the API is
 * pds_filter.h).
 *
 * pds_fieldset.c parses field paths and builds a set's trees at configuration
 * time; pds_filter.c walks them to filter a document. Nothing here changes
 * once configuration is read.
 */
#ifndef PDS_FIELDSET_TREE_H
#define PDS_FIELDSET_TREE_H

#include <apr_hash.h>
#include <apr_tables.h>
#include <jansson.h>

#include "pds_filter.h"

/* Longest field path accepted; keeps error positions well inside an int. */
#define PDS_FIELD_PATH_MAX 1024

/* Bounds of one path's predicates (keep matching one pass, memory fixed). */
#define PDS_FIELD_PREDS_MAX  16     /* predicates in one path */
#define PDS_FIELD_VALUES_MAX 32     /* values in them, "in (...)" lists included */

/* A step takes at least two characters with its separator ("a." or "[*]"). */
#define PDS_FIELD_STEPS_MAX (PDS_FIELD_PATH_MAX / 2 + 1)

typedef enum {
    PDS_PRED_EQ,            /* member=value */
    PDS_PRED_NE,            /* member!=value */
    PDS_PRED_IN             /* member in (value, value) */
} pds_pred_op_t;

typedef enum {
    PDS_VALUE_STRING,       /* "quoted" or a bare word */
    PDS_VALUE_NUMBER,
    PDS_VALUE_TRUE,
    PDS_VALUE_FALSE
} pds_value_kind_t;

/* A value in a predicate. A string's text points into the path as written
 * (between the quotes, escapes still in it: escaped is set when a '\' is). */
typedef struct pds_field_value_t {
    pds_value_kind_t kind;
    const char *text;
    apr_size_t len;
    int escaped;
    double number;
} pds_field_value_t;

/* One predicate: the member of the element it tests, how, and its values
 * (values[first .. first + count - 1] of the path). */
typedef struct pds_field_pred_t {
    const char *member;
    apr_size_t member_len;
    pds_pred_op_t op;
    int first, count;
} pds_field_pred_t;

/* One step of a parsed path: a member name; or, when name is NULL, the
 * elements of an array: every one ("[*]", npreds 0) or those that satisfy
 * all of preds[first_pred .. first_pred + npreds - 1] of the path. */
typedef struct pds_field_step_t {
    const char *name;
    apr_size_t len;
    int first_pred, npreds;
    const char *sel;        /* the selector as written ("[*]", "[a=1][b=2]") */
    apr_size_t sel_len;
} pds_field_step_t;

/* A parsed path: its steps, predicates and values, all pointing into text. */
typedef struct pds_field_path_t {
    const char *text;
    const pds_field_step_t *steps;
    int nsteps;
    const pds_field_pred_t *preds;
    const pds_field_value_t *values;
} pds_field_path_t;

/* Room for any path that parses, for callers that parse on the stack. */
typedef struct pds_field_scan_t {
    pds_field_step_t steps[PDS_FIELD_STEPS_MAX];
    pds_field_pred_t preds[PDS_FIELD_PREDS_MAX];
    pds_field_value_t values[PDS_FIELD_VALUES_MAX];
    int nsteps, npreds, nvalues;
} pds_field_scan_t;

typedef struct pds_field_node_t pds_field_node_t;

/* The elements of an array selected by one step's predicates (path->steps
 * [step]), and what is released of them. */
typedef struct pds_field_branch_t {
    const pds_field_path_t *path;
    int step;
    pds_field_node_t *node;
} pds_field_branch_t;

struct pds_field_node_t {
    const char *where;          /* the path to here, for error texts */
    apr_hash_t *children;       /* member name -> node; NULL when none */
    pds_field_node_t *each;     /* "[*]": every element of an array */
    apr_array_header_t *branches; /* pds_field_branch_t: elements selected by
                                   predicates; NULL when none. An element
                                   goes through each and every branch it
                                   satisfies: it releases their union. */
    int whole;                  /* a path ends here: release all below */
};

/* The transforms of a set, as their own tree: a transform applies to the
 * values at its path in the filtered document (paths may lie below a path
 * released whole: "address" released, "address.postcode" generalised). */
typedef struct pds_transform_node_t pds_transform_node_t;
typedef struct pds_transform_child_t {
    const char *name;
    apr_size_t len;
    pds_transform_node_t *node;
} pds_transform_child_t;

struct pds_transform_node_t {
    apr_hash_t *children;             /* member name -> node; NULL when none */
    apr_array_header_t *child_list;   /* pds_transform_child_t: the same, for
                                         walking (a shared hash has a single
                                         built-in iterator: not for threads) */
    pds_transform_node_t *each;       /* "[*]" */
    const pds_transform_t *transform; /* applied here; NULL on the way */
    const char *path;                 /* the configured path (with transform) */
    const char *label;                /* "path transform-text", for results */
};

typedef struct pds_field_transform_t {
    pds_field_path_t path;
    const pds_transform_t *transform;
} pds_field_transform_t;

struct pds_fieldset_t {
    apr_pool_t *pool;
    pds_field_node_t *root;
    apr_array_header_t *paths;  /* pds_field_path_t, in order first added */
    apr_hash_t *known;          /* path text -> its pds_field_path_t */
    pds_transform_node_t *troot;     /* NULL: no transforms */
    apr_array_header_t *transforms;  /* pds_field_transform_t, in order added */
};


/* Parses path against the grammar in pds_filter.h into scan (NULL: only
 * validate). Names and values point into path. Returns the number of steps,
 * or -1 with err set (code "bad-field-path", position the offending
 * character). */
int pds_fieldset_scan_path(const char *path, pds_field_scan_t *scan, pds_error_t *err);

/* The same, with the result as a path in p (text copied). NULL with err set. */
pds_field_path_t *pds_fieldset_parse_path(const char *path, apr_pool_t *p,
                                          pds_error_t *err);

/* A row filter's condition (Exclude): a path and, optionally, a comparison
 * of the value it reaches (path.preds[test], member NULL; test -1: none). */
typedef struct pds_field_condition_t {
    pds_field_path_t path;
    int test;
} pds_field_condition_t;

/* Parses "path [comparison]" (grammar in pds_rowfilter.h) into scan; *ptest
 * is the comparison's index in scan->preds, or -1 when there is none.
 * Returns the number of steps, or -1 with err set ("bad-field-path"). */
int pds_fieldset_scan_condition(const char *text, pds_field_scan_t *scan, int *ptest,
                                pds_error_t *err);

/* The same, as a condition in p (text copied). NULL with err set. */
pds_field_condition_t *pds_fieldset_parse_condition(const char *text, apr_pool_t *p,
                                                    pds_error_t *err);

/* Non-zero when the condition holds for record (pds_rowfilter.h says when). */
int pds_field_condition_holds(const pds_field_condition_t *c, json_t *record);

/* The index-th condition of a row filter (pds_rowfilter.h), or NULL. */
struct pds_rowfilter_t;
const pds_field_condition_t *pds_rowfilter_condition(const struct pds_rowfilter_t *rf,
                                                     int index);

/* Non-zero when m (a member, or NULL when absent) is a string, number or
 * boolean that compares as pred says. */
int pds_field_pred_holds(const pds_field_path_t *path, const pds_field_pred_t *pred,
                         json_t *m);

/* Non-zero when v (an element of an array) satisfies every predicate of
 * path->steps[step]: an object whose named members are scalars that compare
 * as the predicates say. A missing, null or non-scalar member satisfies
 * nothing, "!=" included. One pass over the predicates' values. */
int pds_field_step_matches(const pds_field_path_t *path, int step, json_t *element);

/* Non-zero when the text of predicate value v (a string; escapes decoded
 * as it goes) is the n bytes at s. */
int pds_field_value_text_equals(const pds_field_value_t *v, const char *s, apr_size_t n);

/* The labels ("path transform-text") of set's transforms found in applied
 * (label -> label; NULL: none), in configuration order: what a filter
 * result's "transformed" lists. */
apr_array_header_t *pds_fieldset_transformed(const pds_fieldset_t *set, apr_hash_t *applied,
                                             apr_pool_t *p);

/* Non-zero when the predicates of step sa of a and of step sb of b are the
 * same (same members, operators and values, in the same order). */
int pds_field_steps_same_preds(const pds_field_path_t *a, int sa,
                               const pds_field_path_t *b, int sb);

#endif
