/* pds_agreement.c: reading an agreement from its <PDSAgreement> lines: the
 * keyword table and one setter per keyword, but for the keywords that name
 * fields of a body (pds_agreement_fields.c) and the agreement's words for
 * people (pds_agreement_text.c). The cross-checks once every line is in are
 * in pds_agreement_finish.c; the decision over the compiled agreement in
 * pds_agreement_match.c. Resource templates are checked and compiled in
 * pds_resource.c.
 *
 * Everything is parsed and compiled when the configuration is read (tokens
 * checked, dates converted, templates split into segments), so deciding a
 * request only compares strings.
 */
#include <stdio.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pds_agreement_int.h"
#include "pds_resource.h"
#include "pds_syntax.h"
#include "pds_text.h"
#include "pds_time.h"

#define VERSION_MAX   32
#define TEMPLATE_MAX  1024

#define METHODS "GET POST PUT PATCH DELETE"
#define USE_PARTY "expected `Party <organisation>` (1 to 64 of " TOKEN_CHARS ")"
#define USE_PURPOSE "expected `Purpose <purpose> [<purpose> ...]` " \
                    "(each 1 to 64 of " TOKEN_CHARS ")"
#define USE_BASIS "expected one of " BASES
#define USE_VALID "expected two dates YYYY-MM-DD YYYY-MM-DD " \
                  "(UTC, both days included)"
#define USE_VERSION "expected `Version <token>` (1 to 32 of " TOKEN_CHARS ")"
#define USE_DISCLOSURE "expected `Disclosure shown`, `Disclosure restricted`, " \
    "`Disclosure embargoed-until YYYY-MM-DD` or `Disclosure embargoed-for <days>`"
#define USE_RESOURCE "expected `Resource <METHOD> <template>` with METHOD " \
                     "one of " METHODS ", e.g. " \
                     "`Resource GET /citizens/{subject}/record`"

static const char *const legal_bases[] = {
    "consent", "contract", "legal-obligation", "vital-interests",
    "public-task", "legitimate-interests", NULL
};

static const char *const methods[] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", NULL
};

/* --- small helpers ---------------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'
        || c == '\f';
}


/* Splits args the way httpd splits directive arguments (ap_getword_conf):
 * words separated by white space; a word may be in double or single quotes,
 * inside which \" (or \') and \\ stand for the character. Stricter than
 * httpd: an unterminated quote, or a closing quote glued to more text, is an
 * error rather than guessed at. */
static apr_status_t tokenize(apr_array_header_t **ptoks, apr_pool_t *p,
                             const char *keyword, const char *args,
                             pds_error_t *err)
{
    apr_array_header_t *toks = apr_array_make(p, 4, sizeof(token_t));
    const char *s = args != NULL ? args : "";
    /* Words are separated by at least one byte, so all of them with their
     * NULs fit in the length of the line plus one. */
    char *buf = apr_palloc(p, strlen(s) + 2);
    apr_size_t i = 0, used = 0;

    for (;;) {
        token_t *t;
        char *out;
        apr_size_t start, o = 0;
        char quote = 0;

        while (is_space(s[i]))
            i++;
        if (s[i] == '\0')
            break;
        start = i;
        if (s[i] == '"' || s[i] == '\'')
            quote = s[i++];
        out = buf + used;
        for (;;) {
            char c = s[i];

            if (c == '\0') {
                if (quote != 0)
                    return bad(err, keyword, (int)start,
                               "%s: the quote at offset %d is never closed; "
                               "end the value with %c", keyword, (int)start,
                               quote);
                break;
            }
            if (quote != 0 && c == quote) {
                i++;
                if (s[i] != '\0' && !is_space(s[i]))
                    return bad(err, keyword, (int)i,
                               "%s: text follows a closing quote at offset "
                               "%d; put a space between values", keyword,
                               (int)i);
                break;
            }
            if (quote == 0 && is_space(c))
                break;
            if (c == '\\' && (s[i + 1] == '\\'
                              || (quote != 0 && s[i + 1] == quote)))
                i++;
            out[o++] = s[i++];
        }
        out[o] = '\0';
        used += o + 1;
        t = &APR_ARRAY_PUSH(toks, token_t);
        t->text = out;
        t->pos = (int)start;
        t->quoted = quote != 0;
    }
    *ptoks = toks;
    return APR_SUCCESS;
}

/* --- the agreement ---------------------------------------------------------- */

apr_status_t pds_agreement_create(pds_agreement_t **pa, apr_pool_t *p,
                                  const char *id, pds_error_t *err)
{
    pds_agreement_t *a;
    char shown[64];
    apr_status_t rv;

    if (!pds_syntax_is_name(id, ID_MAX))
        return bad(err, "PDSAgreement", -1,
                   "PDSAgreement: %s is not a valid agreement id; expected "
                   "1 to 64 of " TOKEN_CHARS,
                   pds_text_show(shown, sizeof(shown), id != NULL ? id : ""));
    a = apr_pcalloc(p, sizeof(*a));
    a->pool = p;
    a->id = apr_pstrdup(p, id);
    a->purposes = apr_array_make(p, 2, sizeof(const char *));
    a->resources = apr_array_make(p, 2, sizeof(pds_resource_t));
    a->transforms = apr_array_make(p, 2, sizeof(pending_transform_t));
    rv = pds_fieldset_create(&a->write, p);
    if (rv == APR_SUCCESS)
        rv = pds_fieldset_create(&a->release, p);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "internal-error", -1, "PDSAgreement",
                      "cannot create the Release set of agreement '%s'", id);
        return rv;
    }
    *pa = a;
    return APR_SUCCESS;
}

/* The one word of a keyword an agreement has once (given: it was seen
 * before), or NULL with the error recorded: "given twice; an agreement has
 * <once>", or "needs exactly one <noun>, got N; <use>". */
static token_t *single_word(const char *kw, apr_array_header_t *toks, int given,
                            const char *once, const char *noun, const char *use,
                            pds_error_t *err)
{
    if (given) {
        (void)bad(err, kw, -1, "%s given twice; an agreement has %s", kw, once);
        return NULL;
    }
    if (toks->nelts != 1) {
        (void)bad(err, kw, toks->nelts > 1 ? TOK(toks, 1)->pos : -1,
                  "%s: needs exactly one %s, got %d; %s", kw, noun, toks->nelts, use);
        return NULL;
    }
    return TOK(toks, 0);
}

static apr_status_t set_party(pds_agreement_t *a, const char *kw,
                              apr_array_header_t *toks, pds_error_t *err)
{
    token_t *t;
    char shown[64];

    t = single_word(kw, toks, a->party != NULL, "exactly one party",
                    "organisation name", USE_PARTY, err);
    if (t == NULL)
        return APR_EINVAL;
    if (!pds_syntax_is_name(t->text, ID_MAX))
        return bad(err, kw, t->pos, "%s: %s is not an organisation name; "
                   USE_PARTY, kw, pds_text_show(shown, sizeof(shown), t->text));
    a->party = t->text;
    return APR_SUCCESS;
}

static apr_status_t set_purpose(pds_agreement_t *a, const char *kw,
                                apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    int i, j;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one purpose; "
                   USE_PURPOSE, kw);
    /* All or nothing: check every word before keeping any. */
    for (i = 0; i < toks->nelts; i++) {
        token_t *t = TOK(toks, i);

        if (!pds_syntax_is_name(t->text, ID_MAX))
            return bad(err, kw, t->pos, "%s: %s is not a purpose name; "
                       USE_PURPOSE, kw, pds_text_show(shown, sizeof(shown), t->text));
    }
    for (i = 0; i < toks->nelts; i++) {
        const char *name = TOK(toks, i)->text;

        for (j = 0; j < a->purposes->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(a->purposes, j, const char *), name) == 0)
                break;
        }
        if (j == a->purposes->nelts)  /* a repeat is harmless */
            APR_ARRAY_PUSH(a->purposes, const char *) = name;
    }
    return APR_SUCCESS;
}

static apr_status_t set_legal_basis(pds_agreement_t *a, const char *kw,
                                    apr_array_header_t *toks,
                                    pds_error_t *err)
{
    char shown[64];
    token_t *t;
    int i;

    t = single_word(kw, toks, a->legal_basis != NULL, "exactly one legal basis",
                    "legal basis", USE_BASIS, err);
    if (t == NULL)
        return APR_EINVAL;
    for (i = 0; legal_bases[i] != NULL; i++) {
        if (apr_cstr_casecmp(t->text, legal_bases[i]) == 0) {
            a->legal_basis = legal_bases[i];
            return APR_SUCCESS;
        }
    }
    return bad(err, kw, t->pos, "%s: %s is not a legal basis; " USE_BASIS,
               kw, pds_text_show(shown, sizeof(shown), t->text));
}

static int is_digits(const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

/* "YYYY-MM-DD" (a real calendar day, 1970 to 9999) to 00:00:00 UTC. */
static int parse_date(const char *s, apr_time_t *t)
{
    apr_time_t day;

    if (pds_time_parse_date(&day, s) != APR_SUCCESS || day < 0)
        return 0;
    *t = day;
    return 1;
}

static apr_status_t set_valid(pds_agreement_t *a, const char *kw,
                              apr_array_header_t *toks, pds_error_t *err)
{
    apr_time_t from, until;
    char shown[64];
    int i;

    if (a->valid_set)
        return bad(err, kw, -1, "%s given twice; an agreement has exactly "
                   "one validity period", kw);
    if (toks->nelts != 2)
        return bad(err, kw, toks->nelts > 2 ? TOK(toks, 2)->pos : -1,
                   "%s: needs two dates, got %d; " USE_VALID, kw,
                   toks->nelts);
    for (i = 0; i < 2; i++) {
        token_t *t = TOK(toks, i);

        if (!parse_date(t->text, i == 0 ? &from : &until))
            return bad(err, kw, t->pos, "%s: %s is not a date; " USE_VALID,
                       kw, pds_text_show(shown, sizeof(shown), t->text));
    }
    if (from > until)
        return bad(err, kw, TOK(toks, 1)->pos, "%s: the period ends (%s) "
                   "before it starts (%s); " USE_VALID, kw,
                   TOK(toks, 1)->text, TOK(toks, 0)->text);
    a->valid_from = from;
    /* Inclusive: through the last microsecond of the last day. */
    a->valid_until = until + apr_time_from_sec(86400) - 1;
    memcpy(a->from_text, TOK(toks, 0)->text, 11);
    memcpy(a->until_text, TOK(toks, 1)->text, 11);
    a->valid_set = 1;
    return APR_SUCCESS;
}

static apr_status_t set_version(pds_agreement_t *a, const char *kw,
                                apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    token_t *t;

    t = single_word(kw, toks, a->version != NULL, "one version", "version",
                    USE_VERSION, err);
    if (t == NULL)
        return APR_EINVAL;
    if (!pds_syntax_is_name(t->text, VERSION_MAX))
        return bad(err, kw, t->pos, "%s: %s is not a version; " USE_VERSION,
                   kw, pds_text_show(shown, sizeof(shown), t->text));
    a->version = t->text;
    return APR_SUCCESS;
}

static apr_status_t set_resource(pds_agreement_t *a, const char *kw,
                                 apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    token_t *m, *t;
    const char *method = NULL, *problem, *text;
    pds_resource_t *r;
    apr_size_t pos;
    int i;

    if (toks->nelts != 2)
        return bad(err, kw, toks->nelts > 2 ? TOK(toks, 2)->pos : -1,
                   "%s: needs a method and a template, got %d value%s; "
                   USE_RESOURCE, kw, toks->nelts,
                   toks->nelts == 1 ? "" : "s");
    m = TOK(toks, 0);
    t = TOK(toks, 1);
    for (i = 0; methods[i] != NULL; i++) {
        if (strcmp(m->text, methods[i]) == 0)
            method = methods[i];
    }
    if (method == NULL) {
        if (apr_cstr_casecmp(m->text, "HEAD") == 0)
            return bad(err, kw, m->pos, "%s: HEAD cannot be covered: HEAD is "
                       "never forwarded on an enforced location (clients use "
                       "GET); expected one of " METHODS, kw);
        for (i = 0; methods[i] != NULL; i++) {
            if (apr_cstr_casecmp(m->text, methods[i]) == 0)
                return bad(err, kw, m->pos, "%s: methods are case-sensitive: "
                           "write %s; expected one of " METHODS, kw,
                           methods[i]);
        }
        return bad(err, kw, m->pos, "%s: %s is not a method an agreement can "
                   "cover; expected one of " METHODS, kw,
                   pds_text_show(shown, sizeof(shown), m->text));
    }
    if (strlen(t->text) > TEMPLATE_MAX)
        return bad(err, kw, t->pos, "%s: the template is longer than %d "
                   "bytes", kw, TEMPLATE_MAX);
    problem = pds_path_problem(t->text, 1, &pos);
    if (problem != NULL)
        return bad(err, kw, t->pos + (t->quoted ? 1 : 0) + (int)pos,
                   "%s: template %s: %s (at offset %d of the template); "
                   "expected an absolute path whose segments are literals "
                   "or {subject}, e.g. /citizens/{subject}/record", kw,
                   pds_text_show(shown, sizeof(shown), t->text), problem, (int)pos);
    text = apr_pstrcat(a->pool, method, " ", t->text, NULL);
    for (i = 0; i < a->resources->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->resources, i, pds_resource_t).text,
                   text) == 0)
            return APR_SUCCESS;   /* a repeat is harmless */
    }
    r = &APR_ARRAY_PUSH(a->resources, pds_resource_t);
    r->text = text;
    r->method = method;
    pds_resource_compile(r, t->text, a->pool);
    return APR_SUCCESS;
}


/* A keyword given at most once with one of two words: the default word
 * (usual, meaning usual_means) or the other; *other says which was given. */
static apr_status_t set_either(const char *kw, apr_array_header_t *toks, int *given,
                               const char *usual, const char *usual_means,
                               const char *word, const char *word_means, int *other,
                               pds_error_t *err)
{
    if (*given)
        return bad(err, kw, -1, "%s given twice", kw);
    if (toks->nelts != 1 || (strcasecmp(TOK(toks, 0)->text, usual) != 0
                             && strcasecmp(TOK(toks, 0)->text, word) != 0))
        return bad(err, kw, toks->nelts > 0 ? TOK(toks, 0)->pos : -1,
                   "%s: expected `%s %s` (the default: %s) or `%s %s` (%s)", kw, kw, usual,
                   usual_means, kw, word, word_means);
    *other = strcasecmp(TOK(toks, 0)->text, word) == 0;
    *given = 1;
    return APR_SUCCESS;
}

/* WriteUnknown refuse|strip: what to do with a body carrying other fields. */
static apr_status_t set_write_unknown(pds_agreement_t *a, const char *kw,
                                      apr_array_header_t *toks, pds_error_t *err)
{
    return set_either(kw, toks, &a->write_unknown_set, "refuse",
                      "a body with other fields is refused", "strip",
                      "other fields are removed", &a->write_strips, err);
}

/* WritePut replace-record: the agreement knows a PUT replaces the record. */
static apr_status_t set_write_put(pds_agreement_t *a, const char *kw,
                                  apr_array_header_t *toks, pds_error_t *err)
{
    if (a->write_put_set)
        return bad(err, kw, -1, "%s given twice", kw);
    if (toks->nelts != 1 || strcasecmp(TOK(toks, 0)->text, "replace-record") != 0)
        return bad(err, kw, toks->nelts > 0 ? TOK(toks, 0)->pos : -1, "%s: expected "
                   "`%s replace-record` (a PUT replaces the whole record at the back end)",
                   kw, kw);
    a->write_put_set = a->put_replaces = 1;
    return APR_SUCCESS;
}

/* WritePatch top-level|deep-merge: how the back end merges a PATCH. */
static apr_status_t set_write_patch(pds_agreement_t *a, const char *kw,
                                    apr_array_header_t *toks, pds_error_t *err)
{
    return set_either(kw, toks, &a->write_patch_set, "top-level",
                      "each top-level member a PATCH carries replaces that member",
                      "deep-merge", "the back end merges nested objects (RFC 7396)",
                      &a->patch_deep, err);
}

/* WriteMediaType <type> ...: more media types a write may be sent as. */
static apr_status_t set_write_media_type(pds_agreement_t *a, const char *kw,
                                         apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one media type, e.g. "
                   "`%s application/vnd.example+json`", kw, kw);
    if (a->write_media == NULL)
        a->write_media = apr_array_make(a->pool, 2, sizeof(const char *));
    for (i = 0; i < toks->nelts; i++) {
        const char *why = pds_write_media_declarable(TOK(toks, i)->text);
        char *type, *c;

        if (why != NULL)
            return bad(err, kw, TOK(toks, i)->pos, "%s: %s: %s", kw,
                       pds_text_show(shown, sizeof(shown), TOK(toks, i)->text), why);
        type = apr_pstrdup(a->pool, TOK(toks, i)->text);
        for (c = type; *c != '\0'; c++)
            *c = (char)apr_tolower(*c);
        APR_ARRAY_PUSH(a->write_media, const char *) = type;
    }
    return APR_SUCCESS;
}

/* OnBadRecord drop|fail: what a collection does with a record holding a
 * value its transform cannot take. */
static apr_status_t set_on_bad_record(pds_agreement_t *a, const char *kw,
                                      apr_array_header_t *toks, pds_error_t *err)
{
    return set_either(kw, toks, &a->on_bad_record_set, "fail",
                      "the whole answer is refused", "drop",
                      "the record is left out and counted in the audit record",
                      &a->drop_bad_records, err);
}

/* Disclosure: what the person the data is about may see of it. */
static apr_status_t set_disclosure(pds_agreement_t *a, const char *kw,
                                   apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    const char *mode;

    if (a->disclosure_set)
        return bad(err, kw, -1, "%s given twice; " USE_DISCLOSURE, kw);
    if (toks->nelts < 1)
        return bad(err, kw, -1, "%s: " USE_DISCLOSURE, kw);
    mode = TOK(toks, 0)->text;
    if ((strcasecmp(mode, "shown") == 0 || strcasecmp(mode, "restricted") == 0)
        && toks->nelts == 1) {
        a->disclosure = strcasecmp(mode, "shown") == 0 ? PDS_DISCLOSURE_SHOWN
                                                        : PDS_DISCLOSURE_RESTRICTED;
    }
    else if (strcasecmp(mode, "embargoed-until") == 0 && toks->nelts == 2) {
        if (!parse_date(TOK(toks, 1)->text, &a->embargo_until))
            return bad(err, kw, TOK(toks, 1)->pos, "%s: %s is not a date; "
                       USE_DISCLOSURE, kw,
                       pds_text_show(shown, sizeof(shown), TOK(toks, 1)->text));
        a->disclosure = PDS_DISCLOSURE_EMBARGO_UNTIL;
    }
    else if (strcasecmp(mode, "embargoed-for") == 0 && toks->nelts == 2) {
        const char *d = TOK(toks, 1)->text;
        apr_size_t n = strlen(d);
        int days = 0;

        if (n > 0 && (d[n - 1] == 'd' || d[n - 1] == 'D'))
            n--;
        if (n == 0 || n > 5 || !is_digits(d, (int)n))
            return bad(err, kw, TOK(toks, 1)->pos, "%s: %s is not a number of days "
                       "(1 to 99999); " USE_DISCLOSURE, kw,
                       pds_text_show(shown, sizeof(shown), d));
        for (; n > 0; d++, n--)
            days = days * 10 + (*d - '0');
        if (days < 1)
            return bad(err, kw, TOK(toks, 1)->pos, "%s: an embargo lasts at least one "
                       "day; " USE_DISCLOSURE, kw);
        a->embargo_for = apr_time_from_sec((apr_int64_t)days * 86400);
        a->disclosure = PDS_DISCLOSURE_EMBARGO_FOR;
    }
    else {
        return bad(err, kw, TOK(toks, 0)->pos, "%s: %s; " USE_DISCLOSURE, kw,
                   toks->nelts > 2 ? "too many words" : "unknown form");
    }
    a->disclosure_set = 1;
    return APR_SUCCESS;
}

/* Query <name> <type> [<bounds>]: a parameter the query string may carry. */
static apr_status_t set_query(pds_agreement_t *a, const char *kw,
                              apr_array_header_t *toks, pds_error_t *err)
{
    const char *words[4];
    pds_error_t local;
    int i;

    if (toks->nelts > 3)
        return bad(err, kw, TOK(toks, 3)->pos, "%s: too many words; expected "
                   "`Query <name> <type> [<bounds>]`, e.g. `Query _page int 1..1000`", kw);
    for (i = 0; i < toks->nelts; i++)
        words[i] = TOK(toks, i)->text;
    if (a->query == NULL && pds_query_create(&a->query, a->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    pds_error_clear(&local);
    if (pds_query_declare(a->query, words, toks->nelts, &local) != APR_SUCCESS)
        return bad(err, kw, local.position >= 0 && local.position < toks->nelts
                   ? TOK(toks, local.position)->pos : -1, "%s", local.text);
    return APR_SUCCESS;
}

typedef apr_status_t (*setter_fn)(pds_agreement_t *a, const char *kw,
                                  apr_array_header_t *toks, pds_error_t *err);

/* pds_agreement_set_*: the keywords that name fields (pds_agreement_fields.c)
 * and, at the end, the agreement's words for people (pds_agreement_text.c). */
static const struct {
    const char *name;
    setter_fn set;
} keywords[] = {
    { "Party",      set_party },
    { "Purpose",    set_purpose },
    { "LegalBasis", set_legal_basis },
    { "Valid",      set_valid },
    { "Version",    set_version },
    { "Resource",   set_resource },
    { "Release",    pds_agreement_set_release },
    { "Disclosure", set_disclosure },
    { "Transform",  pds_agreement_set_transform },
    { "Deidentified", pds_agreement_set_deidentified },
    { "Write",      pds_agreement_set_write },
    { "WriteUnknown", set_write_unknown },
    { "WritePut",   set_write_put },
    { "WritePatch", set_write_patch },
    { "WriteMediaType", set_write_media_type },
    { "RecordSubject", pds_agreement_set_record_subject },
    { "OnBadRecord", set_on_bad_record },
    { "Query",      set_query },
    /* the agreement's words for people (pds_agreement_text.c) */
    { "Title",      pds_agreement_set_title },
    { "Description", pds_agreement_set_description },
    { "Register",   pds_agreement_set_register },
    { "Changed",    pds_agreement_set_changed },
    { "Exclude",    pds_agreement_set_exclude },
    { NULL, NULL }
};

apr_status_t pds_agreement_set(pds_agreement_t *a, const char *keyword,
                               const char *args, pds_error_t *err)
{
    apr_array_header_t *toks = NULL;
    apr_status_t rv;
    char shown[64];
    int i;

    if (a == NULL || keyword == NULL || keyword[0] == '\0')
        return bad(err, keyword != NULL ? keyword : "", -1,
                   "a line of the agreement has no keyword");
    if (a->finished)
        return bad(err, keyword, -1, "agreement '%s' is complete and cannot "
                   "be changed", a->id);
    for (i = 0; keywords[i].name != NULL; i++) {
        if (apr_cstr_casecmp(keyword, keywords[i].name) == 0)
            break;
    }
    if (keywords[i].name == NULL)
        return bad(err, keyword, -1, "%s is not an agreement keyword; known: "
                   "Party, Purpose, LegalBasis, Valid, Version, Resource, "
                   "Release, Disclosure, Transform, Deidentified, Write, "
                   "WriteUnknown, WritePut, WritePatch, WriteMediaType, "
                   "RecordSubject, "
                   "OnBadRecord, Query, Exclude, Title, Description, Register, Changed",
                   pds_text_show(shown, sizeof(shown), keyword));
    rv = tokenize(&toks, a->pool, keyword, args, err);
    if (rv != APR_SUCCESS)
        return rv;
    return keywords[i].set(a, keyword, toks, err);
}
