/* stream_compare.h: runs the DOM filter and the streaming filter on one body
 * and says whether they agree byte for byte (stream_compare.c). No cmocka:
 * the unit tests (stream_check.h) and the stream fuzz target
 * (fuzz/fuzz_stream.c) share it. */
#ifndef PDS_STREAM_COMPARE_H
#define PDS_STREAM_COMPARE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_filter.h"

/* pds_filter_apply_ex, pds_stream_apply_ex and pds_stream_filter_ex on
 * input with opts (NULL: defaults). They agree when all three release or
 * all three refuse; a refusal has the same error code, and
 * pds_stream_filter_ex gives the DOM filter's exact error; a release has
 * the same bytes (NUL-terminated), length, released and transformed paths,
 * subject_replaced and records counts, and the stream leaves subjects and
 * dropped unset. Returns 1 when they agree on a release, 0 when they agree
 * on a refusal, -1 when they differ: *pwhy (from p) then says how. */
/* Non-zero when blen bytes at body overlap the len bytes at input. */
int pds_stream_body_inside(const char *body, apr_size_t blen, const char *input,
                           apr_size_t len);

int pds_stream_compare(apr_pool_t *p, const pds_fieldset_t *set, const char *input,
                       apr_size_t len, const pds_filter_options_t *opts, const char **pwhy);

/* Non-zero when two lists of strings (either may be NULL) hold the same
 * strings in the same order. */
int pds_stream_lists_equal(const apr_array_header_t *a, const apr_array_header_t *b);

#endif
