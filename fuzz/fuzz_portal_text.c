/* What the portal reads from a browser, on arbitrary bytes: an
 * Accept-Language header always gives a language the pages speak; a form
 * token is accepted only when it is the one made for that person and time;
 * escaped text never holds a character that could open markup or end an
 * attribute. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_csrf.h"
#include "pds_html.h"
#include "pds_labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[PDS_CSRF_KEY_LEN] = { 1, 2, 3 };
    apr_pool_t *p = pds_fuzz_pool();
    apr_time_t now = apr_time_from_sec(1790000000);
    char *text = apr_pstrmemdup(p, (const char *)data, size);
    const char *lang, *made, *esc;

    lang = pds_lang_negotiate(text);
    if (!pds_lang_known(lang))
        abort();
    made = pds_csrf_token(p, key, sizeof(key), "9836900608", now);
    if (made == NULL || !pds_csrf_check(key, sizeof(key), "9836900608", made, now))
        abort();
    if (pds_csrf_check(key, sizeof(key), "9836900608", text, now) && strcmp(text, made) != 0)
        abort();
    esc = pds_html_escape(p, text);
    if (strpbrk(esc, "<>\"'") != NULL)
        abort();
    (void)pds_html_is_plain_text(text, PDS_LABEL_MAX);
    return 0;
}
