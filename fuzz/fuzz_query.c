/* Query strings: any text given to pds_query_parse is either split into
 * parameters or refused; accepted parameters are either refused by the
 * declarations or rebuilt into a canonical query that parses again to the
 * same parameters, and is its own canonical form. The first line of the
 * input may declare parameters ("name type [bounds]" separated by ','),
 * so the declaration reader is fuzzed too. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_query.h"

static pds_query_t *declarations(apr_pool_t *p, char *line)
{
    pds_query_t *q;
    char *decl, *state = NULL;

    if (pds_query_create(&q, p) != APR_SUCCESS)
        abort();
    for (decl = apr_strtok(line, ",", &state); decl != NULL;
         decl = apr_strtok(NULL, ",", &state)) {
        const char *words[4];
        char *w, *ws = NULL;
        int n = 0, before = pds_query_count(q);
        pds_error_t err;

        for (w = apr_strtok(decl, " ", &ws); w != NULL && n < 4;
             w = apr_strtok(NULL, " ", &ws))
            words[n++] = w;
        pds_error_clear(&err);
        if (pds_query_declare(q, words, n, &err) != APR_SUCCESS) {
            if (!pds_error_is_set(&err) || err.position >= n
                || pds_query_count(q) != before)
                abort();
        }
        else if (pds_query_count(q) != before + 1) {
            abort();
        }
    }
    return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    char *text = apr_pstrmemdup(p, (const char *)data, size);
    char *nl = strchr(text, '\n');
    const char *raw = text, *canonical, *again;
    apr_array_header_t *params, *reparsed;
    pds_query_t *q;
    pds_error_t err;

    if (nl != NULL) {
        *nl = '\0';
        raw = nl + 1;
        q = declarations(p, text);
    }
    else {
        static const char *const page[] = { "_page", "int", "1..1000" };
        static const char *const name[] = { "name_like", "token" };

        if (pds_query_create(&q, p) != APR_SUCCESS
            || pds_query_declare(q, page, 3, NULL) != APR_SUCCESS
            || pds_query_declare(q, name, 2, NULL) != APR_SUCCESS)
            abort();
    }
    pds_error_clear(&err);
    if (pds_query_parse(&params, raw, p, &err) != APR_SUCCESS) {
        if (strcmp(err.code, "query-not-allowed") != 0)
            abort();
        return 0;
    }
    pds_error_clear(&err);
    if (pds_query_accept(q, params, &canonical, p, &err) != APR_SUCCESS) {
        if (strcmp(err.code, "query-not-allowed") != 0)
            abort();
        return 0;
    }
    if (canonical == NULL || strlen(canonical) > strlen(raw))
        abort();
    /* canonical parses to the same parameters and is its own canonical form */
    if (pds_query_parse(&reparsed, canonical, p, NULL) != APR_SUCCESS
        || reparsed->nelts != params->nelts
        || pds_query_accept(q, reparsed, &again, p, NULL) != APR_SUCCESS
        || strcmp(again, canonical) != 0)
        abort();
    return 0;
}
