/* pds_stream.h: the JSON allow-list filter without a document tree.
 *
 * The same contract as pds_filter_apply_ex (pds_filter.h), reached in one
 * pass over the body: a strict tokenizer (pds_json_lex.h) validates every
 * byte as jansson does for the DOM filter, the walk follows the set's
 * compiled tree and writes what it releases straight into one growing
 * output buffer, in the DOM filter's exact forms (member order as in the
 * input, the same escapes and number forms). Nothing is built per value:
 * the only allocations are a few buffers that double as they fill, freed
 * when the call returns, and the result in the pool.
 *
 * What needs more than the token at hand:
 *   - predicates ("telecom[system=phone]"): each element of such an array is
 *     looked ahead at (its own members, to its end) before it is walked;
 *     so are a record for the Exclude conditions (pds_rowfilter.h) and, in
 *     a collection decided record by record, for its subject;
 *   - transforms: applied to the scalar token; on an object or array, to
 *     an empty one of its kind (transforms take those by kind alone);
 *   - "released" (which paths met a value in the input, below whole
 *     releases too) and subject replacement: kept while walking.
 *
 * Output is byte for byte the DOM filter's, and every body is accepted or
 * refused as the DOM filter does it, with the same error code: a refusal
 * is decided only after the whole body was read, and a later parse error
 * takes precedence over an earlier type error as it does there
 * (tests/unit/test_stream.c, test_filter_differential.c and
 * fuzz/fuzz_stream.c hold the two to that).
 */
#ifndef PDS_STREAM_H
#define PDS_STREAM_H

#include <apr_errno.h>
#include <apr_pools.h>

#include "pds_filter.h"

/* Non-zero when pds_stream_filter_ex (and pds_stream_filter_rows) filter
 * set without a tree; zero when they go to the DOM filter. Every set that
 * pds_filter_apply_ex takes is supported today (predicates, transforms,
 * subject replacement, Exclude included). Depends on set alone: decide it
 * once per set. */
int pds_stream_supported(const pds_fieldset_t *set);

/* The streaming filter alone: as pds_filter_apply_ex, except that on a
 * refusal only err->code is the DOM filter's (the text is the stream's
 * own, without line and column). For tests and measurements. */
apr_status_t pds_stream_apply_ex(const pds_fieldset_t *set, const char *input,
                                 apr_size_t len, const pds_filter_options_t *opts,
                                 pds_filter_result_t *result, apr_pool_t *p,
                                 pds_error_t *err);

/* What the glue calls: the streaming filter when the set is supported, the
 * DOM filter otherwise; a body the stream refuses is handed to the DOM
 * filter for its error, so that *err is exactly what pds_filter_apply_ex
 * gives (text, position and source included). Out of memory in the stream
 * is not handed on (the DOM filter needs more): it is refused at once as
 * pds_filter_apply_ex refuses for memory, APR_ENOMEM and "internal-error"
 * ("out of memory while filtering the body"). */
apr_status_t pds_stream_filter_ex(const pds_fieldset_t *set, const char *input,
                                  apr_size_t len, const pds_filter_options_t *opts,
                                  pds_filter_result_t *result, apr_pool_t *p,
                                  pds_error_t *err);

/* A collection decided record by record, as pds_filter_apply_rows
 * (pds_filter.h) with the same arguments: the same output bytes, the same
 * released, transformed, records, subjects, dropped and excluded, decide
 * called for the same records in the same order (none when the body is
 * refused). Two passes: the first validates the whole body (so that a body
 * the DOM filter refuses is refused before any record is decided), the
 * second looks ahead at each record for Exclude and its subject, decides
 * it, and walks it through the set decide gave. A record the walk refuses
 * gets the DOM filter's word on that record alone (pds_filter_row), so
 * that errors after a record was decided, and the labels records are
 * dropped by, are exactly the DOM filter's. A body refused before any
 * record was decided gets only the DOM filter's err->code. For tests and
 * measurements. */
apr_status_t pds_stream_apply_rows(const pds_fieldset_t *set, const char *input,
                                   apr_size_t len, const pds_filter_options_t *opts,
                                   const char *subject_path, pds_row_decide_fn decide,
                                   void *baton, pds_filter_result_t *result,
                                   apr_pool_t *p, pds_error_t *err);

/* What the glue calls for a collection decided record by record: the
 * streaming form when the set is supported, pds_filter_apply_rows
 * otherwise; a body refused before any record was decided is handed to
 * pds_filter_apply_rows for its error (which refuses it before deciding
 * any record too), so that *err is exactly the DOM filter's. Should the
 * two disagree (a bug), nothing is released: PDS_STREAM_DISAGREE,
 * "internal-error" (a status of its own: decide may return APR_EGENERAL). */
#define PDS_STREAM_DISAGREE (APR_OS_START_USERERR + 370)
apr_status_t pds_stream_filter_rows(const pds_fieldset_t *set, const char *input,
                                    apr_size_t len, const pds_filter_options_t *opts,
                                    const char *subject_path, pds_row_decide_fn decide,
                                    void *baton, pds_filter_result_t *result,
                                    apr_pool_t *p, pds_error_t *err);

#endif
