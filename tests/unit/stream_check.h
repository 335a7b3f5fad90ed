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

/* A decision per record for pds_filter_apply_rows and its stream form, from
 * the subject alone (so that both get the same answers): by a hash of the
 * subject, one of sets[0 .. nsets - 1] (a NULL entry leaves the record out,
 * as a refused consent does), with pseudonyms for some when pseudonymise
 * is set; fail_on names a subject whose decision fails ("consent-store-
 * unavailable"). Every call's subject is added to calls. */
typedef struct pds_rows_decider_t {
    const pds_fieldset_t *sets[4];
    int nsets;
    int pseudonymise;
    const char *fail_on;
    apr_array_header_t *calls;
    apr_pool_t *pool;
} pds_rows_decider_t;

apr_status_t pds_rows_decide(void *baton, const char *subject, const pds_fieldset_t **pset,
                             const char **pseudonym, pds_error_t *err);

/* pds_filter_apply_rows, pds_stream_apply_rows and pds_stream_filter_rows
 * on input with d (its calls reset each time). Fails the test when they
 * differ in status, error (the glue's exactly, the stream's code), body,
 * released, transformed, records, subjects, dropped, excluded or the
 * decisions asked for. Returns 1 when released, 0 when refused. */
int pds_stream_rows_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                          const char *input, apr_size_t len, const pds_filter_options_t *opts,
                          const char *subject_path, pds_rows_decider_t *d);

#endif
