/* stream_check.c: the DOM filter against the streaming filter on one body
 * (stream_check.h). */
#include <stdio.h>
#include <string.h>

#include "pds_test.h"
#include "pds_stream.h"
#include "stream_check.h"

static int lists_equal(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if ((a == NULL) != (b == NULL))
        return 0;
    if (a == NULL)
        return 1;
    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *), APR_ARRAY_IDX(b, i, const char *)) != 0)
            return 0;
    }
    return 1;
}

int pds_stream_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                     const char *input, apr_size_t len, const pds_filter_options_t *opts)
{
    pds_filter_result_t dom, st, glue;
    pds_error_t derr, serr, gerr;
    apr_status_t drv, srv, grv;
    int shown = len > 300 ? 300 : (int)len;

    memset(&dom, 0, sizeof(dom));
    memset(&st, 0, sizeof(st));
    memset(&glue, 0, sizeof(glue));
    pds_error_clear(&derr);
    pds_error_clear(&serr);
    pds_error_clear(&gerr);
    drv = pds_filter_apply_ex(set, input, len, opts, &dom, p, &derr);
    srv = pds_stream_apply_ex(set, input, len, opts, &st, p, &serr);
    if ((drv == APR_SUCCESS) != (srv == APR_SUCCESS))
        fail_msg("%s: DOM %s, stream %s; body %.*s", label,
                 drv == APR_SUCCESS ? dom.body : derr.code,
                 srv == APR_SUCCESS ? st.body : serr.code, shown, input);
    /* What the glue calls gives the DOM filter's error exactly. */
    grv = pds_stream_filter_ex(set, input, len, opts, &glue, p, &gerr);
    if (grv != drv)
        fail_msg("%s: pds_stream_filter_ex status %d, DOM %d", label, grv, drv);
    if (drv != APR_SUCCESS) {
        if (strcmp(derr.code, serr.code) != 0)
            fail_msg("%s: DOM refuses with %s (%s), stream with %s; body %.*s", label,
                     derr.code, derr.text, serr.code, shown, input);
        if (memcmp(&derr, &gerr, sizeof(derr)) != 0)
            fail_msg("%s: pds_stream_filter_ex error %s: %s, DOM %s: %s", label, gerr.code,
                     gerr.text, derr.code, derr.text);
        return 0;
    }
    if (dom.length != st.length || memcmp(dom.body, st.body, dom.length) != 0
        || st.body[st.length] != '\0')
        fail_msg("%s: bodies differ\n  DOM    %s\n  stream %s\n  input  %.*s", label,
                 dom.body, st.body, shown, input);
    if (!lists_equal(dom.released, st.released))
        fail_msg("%s: released differs (DOM %d paths, stream %d)", label,
                 dom.released->nelts, st.released->nelts);
    if (!lists_equal(dom.transformed, st.transformed))
        fail_msg("%s: transformed differs (DOM %d, stream %d)", label,
                 dom.transformed->nelts, st.transformed->nelts);
    if (dom.subject_replaced != st.subject_replaced || dom.records != st.records
        || st.subjects != NULL || st.dropped != NULL)
        fail_msg("%s: counts differ: replaced %d/%d, records %d/%d", label,
                 dom.subject_replaced, st.subject_replaced, dom.records, st.records);
    if (glue.length != dom.length || memcmp(glue.body, dom.body, dom.length) != 0)
        fail_msg("%s: pds_stream_filter_ex body differs", label);
    return 1;
}
