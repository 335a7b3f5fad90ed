/* pds_filter.h: field paths and the JSON allow-list filter.
 *
 * A field path names a place in a JSON document (ABNF; docs/minimisation.md
 * says what each part means and how it relates to JSONPath and FHIRPath):
 *
 *     path       = first *( "." segment )
 *     first      = segment / "[*]"            ("[*]" alone only at the start)
 *     segment    = name [ "[*]" / 1*predicate ]
 *     name       = 1*( ALPHA / DIGIT / "_" / "-" / "$" / "@" )
 *     predicate  = "[" *SP name *SP comparison *SP "]"
 *     comparison = ( "=" / "!=" ) *SP value
 *                / 1*SP "in" *SP "(" *SP value *( *SP "," *SP value ) *SP ")"
 *     value      = quoted / number / "true" / "false" / word
 *     quoted     = DQUOTE *( %x20-21 / %x23-5B / %x5D-7E / %x80-FF
 *                            / "\" ( DQUOTE / "\" ) ) DQUOTE
 *     word       = 1*( ALPHA / DIGIT / "_" / "-" / "$" / "@" / "." / ":" / "/" )
 *     (number as JSON's, without a leading "+"; a word is not a number)
 *
 * "name.given" is the member "given" of the object "name"; "contacts[*].phone"
 * is "phone" in every element of the array "contacts"; "[*].id" is "id" in
 * every element of a top-level array; "telecom[system=phone].value" is
 * "value" in the elements of "telecom" that are objects whose member
 * "system" is the string "phone". A path that ends on an object or array
 * releases it whole. At most 16 predicates and 32 values in a path.
 *
 * Predicates: "=" equal, "!=" not equal, "in (a, b)" one of; several on a
 * step all hold. Only a member that is a string, number or boolean
 * satisfies any ("!=" included: a missing member satisfies nothing).
 * Elements no path takes are removed (never nulled), the others keep their
 * order; an element several paths take releases the union of what they name.
 *
 * A pds_fieldset_t is the compiled allow-list of one agreement: a tree built
 * once at configuration time and read-only afterwards (safe to share between
 * threads). pds_filter_apply() builds a new document that holds only the
 * members the set names; anything else, including members the back end adds
 * later, is dropped.
 *
 * What the filter keeps, precisely:
 *   - a path that ends on a value releases it whole, whatever its type; a null
 *     there is released as null. "a" and "a.b" both added: "a" wins.
 *   - a path that crosses a null, or a member that is absent, releases nothing
 *     and is not an error.
 *   - an object or array on the way to a released value is kept only when
 *     something below it is released: {"name":{"family":"x"}} filtered by
 *     "name.given" gives {}, and "contacts[*].phone" drops the elements that
 *     hold no phone (a null element included). Whole releases keep everything.
 *   - the top level is always returned ({} or [] when nothing matched).
 *   - members keep the order they have in the input.
 *   - a path that needs an object or array and meets another kind of value
 *     (a string, number or boolean) is an error: "unexpected-type".
 * Numbers are written back in their shortest form that reads as the same
 * value (3.14 stays 3.14; 1e2 becomes 100.0); non-ASCII text stays UTF-8,
 * unescaped; control characters, '"' and '\' are escaped.
 */
#ifndef PDS_FILTER_H
#define PDS_FILTER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_error.h"
#include "pds_transform.h"

struct pds_rowfilter_t;

/* Nesting deeper than this in a back-end document is refused. */
#define PDS_FILTER_DEFAULT_MAX_DEPTH 32

typedef struct pds_fieldset_t pds_fieldset_t;

apr_status_t pds_fieldset_create(pds_fieldset_t **pset, apr_pool_t *p);

/* Parses one path and adds it. On a syntax error, err->code is "bad-field-path",
 * err->position the offset of the offending character in path, and the set is
 * left as it was. Adding a path twice is harmless. */
apr_status_t pds_fieldset_add(pds_fieldset_t *set, const char *path,
                              pds_error_t *err);

/* The paths added, in the order they were first added. pds_fieldset_path()
 * returns NULL when index is out of range. */
int pds_fieldset_count(const pds_fieldset_t *set);
const char *pds_fieldset_path(const pds_fieldset_t *set, int index);

/* path with every predicated selector written "[*]" (identifier[system=x].value
 * -> identifier[*].value): the form a Transform names for the elements a
 * predicated Release lets out. A new string in p; NULL when path does not
 * parse. */
const char *pds_fieldset_path_every(apr_pool_t *p, const char *path);

/* Non-zero when set releases everything path names: path itself, or one of
 * its ancestors ("name" covers "name.given", "contacts" covers
 * "contacts[*].phone"). A predicated step is covered by "[*]" or by the same
 * predicates (same members, operators, values, order); "[*]" is never covered
 * by a predicated step. A path that does not parse is covered by nothing. */
int pds_fieldset_covers(const pds_fieldset_t *set, const char *path);

/* The fields in both a and b, as a new set in p: a path of either set is in
 * the result when the other set covers it ("name" in a and "name.given" in b
 * give "name.given"). Paths come in a's order, then b's. Neither input is
 * changed. Used to narrow an agreement's release to what consent allows. */
apr_status_t pds_fieldset_intersect(pds_fieldset_t **pout, apr_pool_t *p,
                                    const pds_fieldset_t *a,
                                    const pds_fieldset_t *b);

/* Attaches a transform to the values at path (pds_transform.h). The path must
 * hold no predicates and lie inside what the set releases (at or below a
 * released path, "[*]" standing for a predicated step: "telecom[*].value"
 * inside "telecom[system=phone].value"); one transform per path, and none on a path inside another
 * transformed path (element steps overlap whatever their predicates). err->code
 * "bad-transform" (or "bad-field-path"). Transforms apply after the
 * allow-list, in the filtered document. */
apr_status_t pds_fieldset_set_transform(pds_fieldset_t *set, const char *path,
                                        const pds_transform_t *t, pds_error_t *err);
int pds_fieldset_transform_count(const pds_fieldset_t *set);
/* The index-th transform and its path (*ppath), or NULL. */
const pds_transform_t *pds_fieldset_transform(const pds_fieldset_t *set, int index,
                                              const char **ppath);

typedef struct pds_filter_result_t {
    char *body;                  /* compact JSON, NUL-terminated, pool memory */
    apr_size_t length;           /* bytes in body, without the NUL */
    apr_array_header_t *released;/* const char *: configured paths that matched
                                    at least one value present in the input */
    apr_array_header_t *transformed; /* const char *: "path transform" of each
                                    transform that met at least one value */
    int subject_replaced;        /* string values replaced by the pseudonym */
    int records;                 /* pds_filter_apply_rows: records released;
                                    -1 otherwise */
    apr_array_header_t *subjects;/* const char *: their subjects; NULL otherwise */
    apr_array_header_t *dropped; /* const char *: pds_filter_apply_rows with
                                    drop_bad_records: for each record left out,
                                    the "path transform" whose value it could
                                    not take; NULL otherwise */
    apr_array_header_t *excluded;/* const char *: with opts->exclude, for each
                                    record of a collection left out, the
                                    condition that held; NULL otherwise */
} pds_filter_result_t;

/* Parses input (exactly len bytes; need not be NUL-terminated), keeps only the
 * members in set, and serialises the result compactly into pool memory.
 *
 * Refused, with err->code:
 *   "invalid-json"    not JSON, trailing garbage, NUL in a string, invalid UTF-8,
 *                     an integer beyond 64 bits, an empty body
 *   "duplicate-key"   an object with the same member name twice
 *   "too-deep"        nesting beyond max_depth (objects and arrays both count)
 *   "unexpected-type" the top level is not an object (or not an array when the
 *                     set starts with "[*]"), or a path crosses a value of the
 *                     wrong kind (e.g. "name.given" where name is a string)
 *   "internal-error"  out of memory (APR_ENOMEM)
 * Other failures return APR_EINVAL. max_depth <= 0 means
 * PDS_FILTER_DEFAULT_MAX_DEPTH; {} has depth 1, {"a":[]} depth 2. Error texts
 * give the line and column, never any of the input's content.
 * On failure *result is untouched and nothing of the input is returned.
 * Safe to call from many threads on one set (each with its own pool).
 */
apr_status_t pds_filter_apply(const pds_fieldset_t *set,
                              const char *input, apr_size_t len,
                              int max_depth,
                              pds_filter_result_t *result,
                              apr_pool_t *p, pds_error_t *err);

typedef struct pds_filter_options_t {
    int max_depth;                          /* <= 0: the default */
    const pds_transform_ctx_t *transform;   /* the request's time, the
                                               agreement's pseudonym key;
                                               NULL: now, no key */
    const char *subject;                    /* de-identification: every string
                                               value equal to subject ... */
    const char *subject_pseudonym;          /* ... becomes this (both or neither) */
    int drop_bad_records;                   /* pds_filter_apply_rows: a record
                                               with a value a transform cannot
                                               take is left out and counted
                                               (result->dropped), not an error */
    const struct pds_rowfilter_t *exclude;  /* Exclude (pds_rowfilter.h):
                                               the records of a collection
                                               (a top-level array) a condition
                                               holds for are left out, each
                                               counted in result->excluded; a
                                               single record (a top-level
                                               object) it holds for is refused
                                               with err->code "record-excluded",
                                               err->position the condition's
                                               index (pds_rowfilter_rule).
                                               Read on the input, before the
                                               allow-list and the transforms */
} pds_filter_options_t;

/* The same, with options. A value a transform cannot take gives err->code
 * "transform-type" (err->source the field path; the text never holds the
 * value). Subject replacement runs after the transforms. */
apr_status_t pds_filter_apply_ex(const pds_fieldset_t *set,
                                 const char *input, apr_size_t len,
                                 const pds_filter_options_t *opts,
                                 pds_filter_result_t *result,
                                 apr_pool_t *p, pds_error_t *err);

/* For a collection (a top-level array of records, set's paths all start with
 * "[*]"), record by record: decide gets each record's subject (the string or
 * integer at subject_path inside the record; a record without one is left
 * out) and sets *pset to the fields that record may release (a set like set,
 * e.g. narrowed by that person's consent) or NULL to leave the record out,
 * and *pseudonym (optional) to replace the subject's value within the record.
 * decide returning anything but APR_SUCCESS stops the whole response (with
 * its err). result->records and ->subjects say what was released. A record
 * with a value a transform cannot take ("transform-type") fails the whole
 * response, unless opts->drop_bad_records: then it is left out and its
 * transform's label goes to result->dropped (other errors still fail). */
typedef apr_status_t (*pds_row_decide_fn)(void *baton, const char *subject,
                                          const pds_fieldset_t **pset,
                                          const char **pseudonym, pds_error_t *err);
apr_status_t pds_filter_apply_rows(const pds_fieldset_t *set, const char *input,
                                   apr_size_t len, const pds_filter_options_t *opts,
                                   const char *subject_path, pds_row_decide_fn decide,
                                   void *baton, pds_filter_result_t *result,
                                   apr_pool_t *p, pds_error_t *err);

#endif
