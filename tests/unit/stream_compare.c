/* stream_compare.c: the DOM filter against the streaming filter on one body
 * (stream_compare.h). */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_stream.h"
#include "stream_compare.h"

int pds_stream_lists_equal(const apr_array_header_t *a, const apr_array_header_t *b)
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

int pds_stream_body_inside(const char *body, apr_size_t blen, const char *input,
                           apr_size_t len)
{
    uintptr_t b = (uintptr_t)body, i = (uintptr_t)input;

    return body != NULL && blen > 0 && b < i + len && i < b + blen;
}

static int count(const apr_array_header_t *a)
{
    return a == NULL ? -1 : a->nelts;
}

int pds_stream_compare(apr_pool_t *p, const pds_fieldset_t *set, const char *input,
                       apr_size_t len, const pds_filter_options_t *opts, const char **pwhy)
{
    pds_filter_result_t dom, st, glue;
    pds_error_t derr, serr, gerr;
    apr_status_t drv, srv, grv;

    *pwhy = NULL;
    memset(&dom, 0, sizeof(dom));
    memset(&st, 0, sizeof(st));
    memset(&glue, 0, sizeof(glue));
    pds_error_clear(&derr);
    pds_error_clear(&serr);
    pds_error_clear(&gerr);
    drv = pds_filter_apply_ex(set, input, len, opts, &dom, p, &derr);
    srv = pds_stream_apply_ex(set, input, len, opts, &st, p, &serr);
    if ((drv == APR_SUCCESS) != (srv == APR_SUCCESS)) {
        *pwhy = apr_psprintf(p, "DOM %s, stream %s", drv == APR_SUCCESS ? dom.body : derr.code,
                             srv == APR_SUCCESS ? st.body : serr.code);
        return -1;
    }
    /* What the glue calls gives the DOM filter's error exactly. */
    grv = pds_stream_filter_ex(set, input, len, opts, &glue, p, &gerr);
    if (grv != drv) {
        *pwhy = apr_psprintf(p, "pds_stream_filter_ex status %d, DOM %d", grv, drv);
        return -1;
    }
    if (drv != APR_SUCCESS) {
        if (strcmp(derr.code, serr.code) != 0)
            *pwhy = apr_psprintf(p, "DOM refuses with %s (%s), stream with %s", derr.code,
                                 derr.text, serr.code);
        else if (memcmp(&derr, &gerr, sizeof(derr)) != 0)
            *pwhy = apr_psprintf(p, "pds_stream_filter_ex error %s: %s, DOM %s: %s", gerr.code,
                                 gerr.text, derr.code, derr.text);
        return *pwhy == NULL ? 0 : -1;
    }
    if (dom.length != st.length || memcmp(dom.body, st.body, dom.length) != 0
        || st.body[st.length] != '\0')
        *pwhy = apr_psprintf(p, "bodies differ\n  DOM    %s\n  stream %s", dom.body, st.body);
    else if (!pds_stream_lists_equal(dom.released, st.released))
        *pwhy = apr_psprintf(p, "released differs (DOM %d paths, stream %d)",
                             count(dom.released), count(st.released));
    else if (!pds_stream_lists_equal(dom.transformed, st.transformed))
        *pwhy = apr_psprintf(p, "transformed differs (DOM %d, stream %d)",
                             count(dom.transformed), count(st.transformed));
    else if (dom.subject_replaced != st.subject_replaced || dom.records != st.records
             || st.subjects != NULL || st.dropped != NULL)
        *pwhy = apr_psprintf(p, "counts differ: replaced %d/%d, records %d/%d",
                             dom.subject_replaced, st.subject_replaced, dom.records, st.records);
    else if (glue.length != dom.length || memcmp(glue.body, dom.body, dom.length) != 0)
        *pwhy = "pds_stream_filter_ex body differs";
    /* The module sends the answer after the input (perhaps a mapping of a
     * spool file) is gone: an answer is never a view of the input. */
    else if (pds_stream_body_inside(dom.body, dom.length, input, len)
             || pds_stream_body_inside(st.body, st.length, input, len)
             || pds_stream_body_inside(glue.body, glue.length, input, len))
        *pwhy = "an answer points into the input";
    return *pwhy == NULL ? 1 : -1;
}
