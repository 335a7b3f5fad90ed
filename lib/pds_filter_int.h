/* pds_filter_int.h: what the filter's files share and lend the write check
 * (pds_write.c) and the streaming filter, inside lib/ only: one parser
 * policy and one serialiser for everything that reads a body or writes one
 * out (pds_filter_json.c), the transforms applied to a filtered document
 * (pds_filter_transform.c), and the walk's word on one record (pds_filter.c).
 */
#ifndef PDS_FILTER_INT_H
#define PDS_FILTER_INT_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <jansson.h>

#include "pds_error.h"
#include "pds_fieldset_tree.h"
#include "pds_filter.h"

/* The source every error about a body names. */
#define PDS_BODY_SOURCE "JSON body"

/* Records "internal-error" (out of memory while filtering the body) and
 * returns APR_ENOMEM. (pds_filter_json.c) */
apr_status_t pds_filter_no_memory(pds_error_t *err);

/* Parses a body as the filter does: JSON of any kind, duplicate member names
 * and NUL in strings refused, nesting within max_depth (<= 0: the default).
 * Errors as pds_filter_apply's. *pdoc is a new reference. */
apr_status_t pds_filter_load(json_t **pdoc, const char *input, apr_size_t len,
                             int max_depth, pds_error_t *err);

/* v written out compactly, as the filter writes its results (pool memory,
 * NUL-terminated; *plen without the NUL). */
apr_status_t pds_filter_serialise(json_t *v, char **pbody, apr_size_t *plen,
                                  apr_pool_t *p, pds_error_t *err);

/* Applies the transforms below node to v (a filtered value we own: changed
 * in place). *applied collects the labels of transforms that met a value.
 * (pds_filter_transform.c) */
apr_status_t pds_filter_transform(const pds_transform_node_t *node, json_t *v,
                                  const pds_transform_ctx_t *ctx, apr_hash_t *applied,
                                  pds_error_t *err);

/* What kind of value v is, for error texts: "an object", "a string", ... */
const char *pds_filter_type_name(const json_t *v);

/* One record of a collection through rowset, as pds_filter_apply_rows
 * takes it (also the streaming filter's word on a record it refuses):
 * *pkept the record filtered and transformed, a new reference, or NULL
 * when nothing of it is released or (dropped not NULL: drop_bad_records)
 * it was dropped, its label added to dropped. The labels of the
 * transforms it met go to applied. Errors as pds_filter_apply_rows's. */
apr_status_t pds_filter_row(const pds_fieldset_t *rowset, json_t *row,
                            const pds_transform_ctx_t *tctx, apr_array_header_t *dropped,
                            apr_hash_t *applied, json_t **pkept, apr_pool_t *p,
                            pds_error_t *err);

#endif
