/* pds_agreement_fields.c: the keywords of an agreement that name fields of
 * a body, read from its <PDSAgreement> lines: Release (what may leave),
 * Transform (how a released field is changed on the way), Deidentified (the
 * direct identifiers that may not leave in clear), Write (what a write may
 * carry), RecordSubject (where each record of a collection names its person)
 * and Exclude (the records an answer leaves out). One rule for a refused
 * field path and its message, add_path(). The keyword table is in
 * pds_agreement.c; what needs the whole agreement (transforms attached,
 * identifiers checked) in pds_agreement_finish.c.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_agreement_int.h"
#include "pds_text.h"

#define USE_RELEASE "expected field paths such as " \
                    "`Release name.given contacts[*].phone`"

/* The path with the character at pos marked: "name.>>.<<given" ("name.>><<"
 * at the end), so a message points at it without a column count. */
static const char *mark_at(apr_pool_t *p, const char *path, int pos)
{
    apr_size_t n = strlen(path), i;
    char shown[80], *safe;

    if (pos < 0 || (apr_size_t)pos > n || n > 60)
        return apr_pstrdup(p, pds_text_show(shown, sizeof(shown), path));
    safe = apr_pstrdup(p, path);
    for (i = 0; i < n; i++) {
        if ((unsigned char)safe[i] < 0x20 || (unsigned char)safe[i] >= 0x7f)
            safe[i] = '?';
    }
    if ((apr_size_t)pos == n)
        return apr_psprintf(p, "\"%s>><<\"", safe);
    return apr_psprintf(p, "\"%.*s>>%c<<%s\"", pos, safe, safe[pos], safe + pos + 1);
}

/* How add_path() reports a refused path. */
#define PATH_POINT 1   /* position: the refused character, not the word */
#define PATH_MARK  2   /* the message shows it: "at character N: "a.>>.<<b"" */

/* Adds the field path in the word t to set, or only checks it when set is
 * NULL. A refused path is recorded as "<kw>: <path>: <why>", then with
 * PATH_MARK " at character N: <path marked>", then use (a usage hint or "");
 * its position is the word's, or with PATH_POINT the refused character's.
 * Returns APR_SUCCESS, or APR_EINVAL once the error is recorded. */
static apr_status_t add_path(pds_agreement_t *a, const char *kw, pds_fieldset_t *set,
                             const token_t *t, int how, const char *use,
                             pds_error_t *err)
{
    char shown[64];
    pds_error_t local;
    const char *why;
    int pos;

    pds_error_clear(&local);
    if ((set != NULL || pds_fieldset_create(&set, a->pool) == APR_SUCCESS)
        && pds_fieldset_add(set, t->text, &local) == APR_SUCCESS)
        return APR_SUCCESS;
    pos = (how & PATH_POINT) && local.position >= 0
          ? t->pos + (t->quoted ? 1 : 0) + local.position : t->pos;
    why = local.text[0] != '\0' ? local.text : "not a field path";
    if (how & PATH_MARK)
        return bad(err, kw, pos, "%s: %s: %s at character %d: %s%s", kw,
                   pds_text_show(shown, sizeof(shown), t->text), why,
                   local.position + 1, mark_at(a->pool, t->text, local.position), use);
    return bad(err, kw, pos, "%s: %s: %s%s", kw,
               pds_text_show(shown, sizeof(shown), t->text), why, use);
}

apr_status_t pds_agreement_set_release(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err)
{
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one field path; "
                   USE_RELEASE, kw);
    for (i = 0; i < toks->nelts; i++) {
        if (add_path(a, kw, a->release, TOK(toks, i), PATH_POINT | PATH_MARK,
                     "; " USE_RELEASE, err) != APR_SUCCESS)
            return APR_EINVAL;
    }
    return APR_SUCCESS;
}

#define USE_EXCLUDE "expected conditions such as `Exclude meta.security[code=R]` or " \
    "`Exclude active=false` (quote one with spaces: 'status in (a, b)'; see " \
    "docs/minimisation.md#row-filters)"

/* Exclude <condition> ...: records a condition holds for stay out of an
 * answer (pds_rowfilter.h); each word one condition. */
apr_status_t pds_agreement_set_exclude(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    pds_error_t local;
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one condition; " USE_EXCLUDE, kw);
    if (a->exclude == NULL && pds_rowfilter_create(&a->exclude, a->pool) != APR_SUCCESS)
        return bad(err, kw, -1, "%s: out of memory", kw);
    for (i = 0; i < toks->nelts; i++) {
        const token_t *t = TOK(toks, i);

        /* "status in (a, b)" unquoted: three words, the first a condition
         * on its own; say what was meant rather than parse "(a,". */
        if (i + 1 < toks->nelts && !t->quoted && strcmp(t->text, "in") == 0
            && TOK(toks, i + 1)->text[0] == '(')
            return bad(err, kw, t->pos, "%s: a condition with spaces (' in (') is one "
                       "word: quote it as a whole; " USE_EXCLUDE, kw);
        pds_error_clear(&local);
        if (pds_rowfilter_add(a->exclude, t->text, &local) == APR_SUCCESS)
            continue;
        return bad(err, kw, local.position >= 0
                   ? t->pos + (t->quoted ? 1 : 0) + local.position : t->pos,
                   "%s: %s: %s at character %d: %s; " USE_EXCLUDE, kw,
                   pds_text_show(shown, sizeof(shown), t->text), local.text,
                   local.position + 1, mark_at(a->pool, t->text, local.position));
    }
    return APR_SUCCESS;
}

#define USE_TRANSFORM "use `Transform <field path> <transform> [<argument>]`, e.g. " \
    "`Transform dob year` (see docs/minimisation.md)"

/* Transform <path> <name> [args]: parsed now, attached by finish. */
apr_status_t pds_agreement_set_transform(pds_agreement_t *a, const char *kw,
                                         apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    pending_transform_t *pt;
    pds_transform_t *t;
    pds_error_t local;
    const char *text = "";
    token_t *path;
    int i;

    if (toks->nelts < 2)
        return bad(err, kw, -1, "%s: needs a field path and a transform; " USE_TRANSFORM,
                   kw);
    path = TOK(toks, 0);
    if (add_path(a, kw, NULL, path, PATH_POINT, "; " USE_TRANSFORM, err) != APR_SUCCESS)
        return APR_EINVAL;
    /* The words after the path, as written (quoted words quoted again). */
    for (i = 1; i < toks->nelts; i++) {
        token_t *w = TOK(toks, i);
        const char *word = w->text;

        if (w->quoted) {
            char *q = apr_palloc(a->pool, 2 * strlen(word) + 3), *o = q;
            *o++ = '"';
            for (; *word != '\0'; word++) {
                if (*word == '"' || *word == '\\')
                    *o++ = '\\';
                *o++ = *word;
            }
            *o++ = '"';
            *o = '\0';
            word = q;
        }
        text = i == 1 ? word : apr_pstrcat(a->pool, text, " ", word, NULL);
    }
    pds_error_clear(&local);
    if (pds_transform_parse(&t, a->pool, text, &local) != APR_SUCCESS)
        return bad(err, kw, TOK(toks, 1)->pos, "%s %s: %s", kw,
                   pds_text_show(shown, sizeof(shown), path->text), local.text);
    pt = &APR_ARRAY_PUSH(a->transforms, pending_transform_t);
    pt->path = path->text;
    pt->transform = t;
    return APR_SUCCESS;
}

/* Deidentified <direct identifier> ...: the agreement shares de-identified
 * data; none of these fields may leave in clear (checked by finish). */
apr_status_t pds_agreement_set_deidentified(pds_agreement_t *a, const char *kw,
                                            apr_array_header_t *toks, pds_error_t *err)
{
    pds_fieldset_t *check;
    int i;

    if (a->identifiers != NULL)
        return bad(err, kw, -1, "%s given twice: list every direct identifier on one "
                   "line", kw);
    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: list the fields that identify a person directly, "
                   "e.g. `Deidentified name nhs_number phone email address.line1`", kw);
    if (pds_fieldset_create(&check, a->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    a->identifiers = apr_array_make(a->pool, toks->nelts, sizeof(const char *));
    for (i = 0; i < toks->nelts; i++) {
        if (add_path(a, kw, check, TOK(toks, i), 0, "", err) != APR_SUCCESS)
            return APR_EINVAL;
        APR_ARRAY_PUSH(a->identifiers, const char *) = TOK(toks, i)->text;
    }
    return APR_SUCCESS;
}

/* Write <path> ...: the fields a POST, PUT or PATCH body may carry. */
apr_status_t pds_agreement_set_write(pds_agreement_t *a, const char *kw,
                                     apr_array_header_t *toks, pds_error_t *err)
{
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one field path, e.g. "
                   "`Write contact.phone contact.email`", kw);
    for (i = 0; i < toks->nelts; i++) {
        if (add_path(a, kw, a->write, TOK(toks, i), PATH_POINT | PATH_MARK, "", err)
            != APR_SUCCESS)
            return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* RecordSubject <path>: where each record of a collection names its person. */
apr_status_t pds_agreement_set_record_subject(pds_agreement_t *a, const char *kw,
                                              apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    pds_fieldset_t *check;
    pds_error_t local;
    token_t *t;

    if (a->record_subject != NULL)
        return bad(err, kw, -1, "%s given twice", kw);
    if (toks->nelts != 1)
        return bad(err, kw, -1, "%s: needs one field path, relative to each record, "
                   "e.g. `RecordSubject id`", kw);
    t = TOK(toks, 0);
    pds_error_clear(&local);
    if (pds_fieldset_create(&check, a->pool) != APR_SUCCESS
        || pds_fieldset_add(check, t->text, &local) != APR_SUCCESS || t->text[0] == '[')
        return bad(err, kw, t->pos, "%s: %s: %s", kw,
                   pds_text_show(shown, sizeof(shown), t->text),
                   local.text[0] != '\0' ? local.text
                   : "a path inside one record (without the leading [*])");
    a->record_subject = t->text;
    return APR_SUCCESS;
}
