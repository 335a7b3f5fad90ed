/* pds_agreement_text.c: an agreement's words for people, read from its
 * <PDSAgreement> lines: Title and Description (each with an optional
 * language), Register (listed in the public register or hidden) and Changed
 * (the date of its last change). The portal and the register show them; the
 * decision never reads them. */
#include <string.h>

#include <apr_strings.h>

#include "pds_agreement_int.h"
#include "pds_labels.h"
#include "pds_text.h"
#include "pds_time.h"

#define USE_TITLE "expected `Title \"<text>\" [<language>]` with language one of " PDS_LANGS
#define USE_DESCRIPTION "expected `Description \"<text>\" [<language>]` with language " \
                        "one of " PDS_LANGS
#define USE_REGISTER "expected `Register listed` (the default) or `Register hidden`"
#define USE_CHANGED "expected `Changed YYYY-MM-DD`, the date of the agreement's last change"

static apr_status_t set_words(pds_agreement_t *a, const char *kw, apr_array_header_t *toks,
                              pds_label_kind_e kind, const char *use, pds_error_t *err)
{
    pds_error_t local;

    if (toks->nelts < 1 || toks->nelts > 2)
        return bad(err, kw, toks->nelts > 2 ? TOK(toks, 2)->pos : -1,
                   "%s: %s; quote text that has spaces", kw, use);
    if (a->words == NULL && pds_labels_create(&a->words, a->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    pds_error_clear(&local);
    if (pds_labels_set(a->words, kind, "", TOK(toks, 0)->text,
                       toks->nelts == 2 ? TOK(toks, 1)->text : NULL, &local) != APR_SUCCESS)
        return bad(err, kw, toks->nelts == 2 && !pds_lang_known(TOK(toks, 1)->text)
                   ? TOK(toks, 1)->pos : TOK(toks, 0)->pos, "%s: %s; %s", kw, local.text, use);
    return APR_SUCCESS;
}

apr_status_t pds_agreement_set_title(pds_agreement_t *a, const char *kw,
                                     apr_array_header_t *toks, pds_error_t *err)
{
    return set_words(a, kw, toks, PDS_LABEL_TITLE, USE_TITLE, err);
}

apr_status_t pds_agreement_set_description(pds_agreement_t *a, const char *kw,
                                           apr_array_header_t *toks, pds_error_t *err)
{
    return set_words(a, kw, toks, PDS_LABEL_DESCRIPTION, USE_DESCRIPTION, err);
}

apr_status_t pds_agreement_set_register(pds_agreement_t *a, const char *kw,
                                        apr_array_header_t *toks, pds_error_t *err)
{
    if (a->register_set)
        return bad(err, kw, -1, "%s given twice; " USE_REGISTER, kw);
    if (toks->nelts != 1 || (strcasecmp(TOK(toks, 0)->text, "listed") != 0
                             && strcasecmp(TOK(toks, 0)->text, "hidden") != 0))
        return bad(err, kw, toks->nelts > 0 ? TOK(toks, 0)->pos : -1, "%s: " USE_REGISTER,
                   kw);
    a->register_hidden = strcasecmp(TOK(toks, 0)->text, "hidden") == 0;
    a->register_set = 1;
    return APR_SUCCESS;
}

apr_status_t pds_agreement_set_changed(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    apr_time_t day;

    if (a->changed_text[0] != '\0')
        return bad(err, kw, -1, "%s given twice; " USE_CHANGED, kw);
    if (toks->nelts != 1)
        return bad(err, kw, -1, "%s: " USE_CHANGED, kw);
    if (pds_time_parse_date(&day, TOK(toks, 0)->text) != APR_SUCCESS || day < 0
        || strlen(TOK(toks, 0)->text) != 10)
        return bad(err, kw, TOK(toks, 0)->pos, "%s: %s is not a date; " USE_CHANGED, kw,
                   pds_text_show(shown, sizeof(shown), TOK(toks, 0)->text));
    a->changed = day;
    apr_cpystrn(a->changed_text, TOK(toks, 0)->text, sizeof(a->changed_text));
    return APR_SUCCESS;
}

const char *pds_agreement_title(const pds_agreement_t *a, const char *lang)
{
    return pds_labels_get(a->words, PDS_LABEL_TITLE, "", lang);
}

const char *pds_agreement_description(const pds_agreement_t *a, const char *lang)
{
    return pds_labels_get(a->words, PDS_LABEL_DESCRIPTION, "", lang);
}

int pds_agreement_hidden(const pds_agreement_t *a)
{
    return a->register_hidden;
}

const char *pds_agreement_changed(const pds_agreement_t *a)
{
    return a->changed_text[0] != '\0' ? a->changed_text : NULL;
}

int pds_agreement_disclosure(const pds_agreement_t *a)
{
    return a->disclosure;
}
