/* stream_check.h: runs the DOM filter and the streaming filter on one body
 * and fails the test unless they agree byte for byte (stream_compare.h says
 * what agreeing covers). */
#ifndef PDS_STREAM_CHECK_H
#define PDS_STREAM_CHECK_H

#include <apr_pools.h>

#include "pds_filter.h"

/* Both filters on input with opts (NULL: defaults). Fails the test (with
 * label and the body in the message) when they differ. Returns 1 when both
 * released, 0 when both refused. */
int pds_stream_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                     const char *input, apr_size_t len, const pds_filter_options_t *opts);

#endif
