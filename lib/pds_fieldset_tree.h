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

#include "pds_filter.h"

/* Longest field path accepted; keeps error positions well inside an int. */
#define PDS_FIELD_PATH_MAX 1024

typedef struct pds_field_node_t pds_field_node_t;

struct pds_field_node_t {
    const char *where;          /* the path to here, for error texts */
    apr_hash_t *children;       /* member name -> node; NULL when none */
    pds_field_node_t *each;     /* "[*]": every element of an array */
    int whole;                  /* a path ends here: release all below */
};

/* One step of a parsed path: a member name, or "[*]" when name is NULL. */
typedef struct pds_field_step_t {
    const char *name;
    apr_size_t len;
} pds_field_step_t;

typedef struct pds_field_path_t {
    const char *text;
    const pds_field_step_t *steps;
    int nsteps;
} pds_field_path_t;

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


/* Parses path against the grammar in pds_filter.h. With steps NULL it only
 * validates and counts; otherwise it fills steps (names point into path; at
 * most PDS_FIELD_PATH_MAX / 2 + 1 of them). Returns the number of steps, or
 * -1 with err set (code "bad-field-path"). */
int pds_fieldset_scan_path(const char *path, pds_field_step_t *steps, pds_error_t *err);

#endif
