/* stream_check.c: pds_stream_compare as a cmocka check (stream_check.h). */
#include "pds_test.h"
#include "stream_check.h"
#include "stream_compare.h"

int pds_stream_check(apr_pool_t *p, const char *label, const pds_fieldset_t *set,
                     const char *input, apr_size_t len, const pds_filter_options_t *opts)
{
    const char *why;
    int agreed = pds_stream_compare(p, set, input, len, opts, &why);

    if (agreed < 0)
        fail_msg("%s: %s\n  input  %.*s", label, why, len > 300 ? 300 : (int)len, input);
    return agreed;
}
