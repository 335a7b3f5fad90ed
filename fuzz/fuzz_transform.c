/* Field value transforms on hostile configuration and hostile values: the
 * first line of the input is the transform text, the rest a JSON value. Never
 * crashes; a refusal always says why; what is released is what the transform
 * promises (redact removes, pseudonymise gives "ps_" + 22 characters, every
 * result is valid JSON). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "fuzz.h"
#include "pds_transform.h"

static const unsigned char master[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t text_len = nl != NULL ? (size_t)(nl - data) : size;
    unsigned char key[32];
    pds_transform_ctx_t ctx;
    pds_transform_t *t, *again;
    pds_error_t err;
    json_t *v, *out;
    char *text, *dumped;
    apr_status_t rv;

    if (pds_pseudonym_agreement_key(key, master, sizeof(master), "fuzz") != APR_SUCCESS)
        abort();
    ctx.now = apr_time_from_sec(1772366400);     /* 2026-03-01T12:00:00Z */
    ctx.key = key;
    ctx.hmac = NULL;

    text = apr_pstrmemdup(p, (const char *)data, text_len);
    pds_error_clear(&err);
    if (pds_transform_parse(&t, p, text, &err) != APR_SUCCESS) {
        if (strcmp(err.code, "bad-transform") != 0 || err.position < 0
            || (size_t)err.position > strlen(text))
            abort();
        return 0;
    }
    /* The canonical text reads back to itself. */
    if (pds_transform_parse(&again, p, pds_transform_text(t), NULL) != APR_SUCCESS
        || strcmp(pds_transform_text(again), pds_transform_text(t)) != 0)
        abort();
    if (nl == NULL)
        return 0;

    v = json_loadb((const char *)nl + 1, size - text_len - 1,
                   JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL)
        return 0;
    out = NULL;
    pds_error_clear(&err);
    rv = pds_transform_apply(t, v, &ctx, &out, &err);
    if (rv != APR_SUCCESS) {
        if (!pds_error_is_set(&err) || out != NULL || strcmp(err.code, "transform-type") != 0)
            abort();
    }
    else if (out == NULL) {
        if (!pds_transform_removes(t))
            abort();
    }
    else {
        if (pds_transform_removes(t))
            abort();
        if (json_is_null(v) && !json_is_null(out)
            && strcmp(pds_transform_name(t), "constant") != 0)
            abort();
        if (pds_transform_needs_key(t) && !json_is_null(out)
            && (!json_is_string(out) || json_string_length(out) != 25
                || strncmp(json_string_value(out), "ps_", 3) != 0))
            abort();
        dumped = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
        if (dumped == NULL)
            abort();
        free(dumped);
        json_decref(out);
    }
    json_decref(v);
    return 0;
}
