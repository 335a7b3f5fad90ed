/* <PDSAgreement> lines: each input line is "Keyword args"; whatever a
 * sysadmin writes is accepted or refused with a message, never a crash. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_agreement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    char *text = apr_pstrmemdup(p, (const char *)data, size);
    char *line, *last;
    pds_agreement_t *a;
    pds_error_t err;

    if (pds_agreement_create(&a, p, "fuzz", NULL) != APR_SUCCESS)
        abort();
    for (line = apr_strtok(text, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        char *sp = strchr(line, ' ');
        const char *args = "";

        if (sp != NULL) {
            *sp = '\0';
            args = sp + 1;
        }
        pds_error_clear(&err);
        if (pds_agreement_set(a, line, args, &err) != APR_SUCCESS && !pds_error_is_set(&err))
            abort();
    }
    pds_error_clear(&err);
    if (pds_agreement_finish(a, &err) == APR_SUCCESS) {
        pds_request_facts_t facts = { "org", "GET", "/citizens/123/record", "care",
                                      apr_time_from_sec(1790000000) };
        apr_array_header_t *all = apr_array_make(p, 1, sizeof(pds_agreement_t *));
        pds_decision_t d;

        APR_ARRAY_PUSH(all, pds_agreement_t *) = a;
        pds_agreements_decide(all, &facts, &d, p);
        if (d.allowed && d.agreement != a)
            abort();
    }
    else if (!pds_error_is_set(&err)) {
        abort();
    }
    (void)pds_request_path_check(text, NULL);
    return 0;
}
