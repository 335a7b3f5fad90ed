/* pds_agreement.c: agreements from <PDSAgreement> lines, and the decision.
 * Request paths and resource templates are checked, compiled and matched in
 * pds_resource.c.
 *
 * Everything is parsed and compiled when the configuration is read (tokens
 * checked, dates converted, templates split into segments), so deciding a
 * request only compares strings and allocates nothing but the detail text
 * and the subject copy.
 */
#include <stdio.h>
#include <string.h>

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pds_agreement.h"
#include "pds_resource.h"
#include "pds_syntax.h"
#include "pds_text.h"
#include "pds_time.h"

#define ID_MAX        64   /* agreement id, party, purpose */
#define VERSION_MAX   32
#define TEMPLATE_MAX  1024
#define SUBJECT_MAX   64

#define TOKEN_CHARS "A-Z a-z 0-9 . _ -"
#define BASES "consent, contract, legal-obligation, vital-interests, " \
              "public-task, legitimate-interests"
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
#define USE_RELEASE "expected field paths such as " \
                    "`Release name.given contacts[*].phone`"
#define USE_SUBJECT "1 to 64 of A-Z a-z 0-9 _ -, starting with a letter " \
                    "or digit"

struct pds_agreement_t {
    apr_pool_t *pool;
    const char *id;
    const char *version;         /* NULL: default "1" */
    const char *party;
    const char *legal_basis;
    apr_array_header_t *purposes;   /* const char * */
    const char *purpose_list;       /* "a, b": built by finish for details */
    int valid_set;
    apr_time_t valid_from;
    apr_time_t valid_until;         /* inclusive: 23:59:59.999999 */
    char from_text[11];             /* "YYYY-MM-DD" for details */
    char until_text[11];
    apr_array_header_t *resources;  /* pds_resource_t */
    pds_fieldset_t *release;
    int disclosure_set;
    int disclosure;                 /* PDS_DISCLOSURE_* */
    apr_time_t embargo_until;       /* PDS_DISCLOSURE_EMBARGO_UNTIL */
    apr_interval_time_t embargo_for;/* PDS_DISCLOSURE_EMBARGO_FOR */
    apr_array_header_t *transforms; /* pending_transform_t: applied by finish,
                                       when every Release line is in */
    apr_array_header_t *identifiers;/* const char *: Deidentified's direct
                                       identifiers; NULL: not de-identified */
    pds_fieldset_t *write;          /* Write: what POST/PUT/PATCH may carry */
    const char *record_subject;     /* RecordSubject: in each record of a
                                       collection, the path to its person */
    int write_unknown_set;
    int write_strips;               /* WriteUnknown strip */
    int finished;
};

typedef struct pending_transform_t {
    const char *path;
    const pds_transform_t *transform;
} pending_transform_t;

typedef struct token_t {
    const char *text;
    int pos;            /* offset of the token in the argument string */
    int quoted;
} token_t;

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

/* Records a configuration error (code "bad-agreement", source the keyword)
 * and evaluates to APR_EINVAL. */
#define bad(err, keyword, pos, ...) \
    (pds_error_set((err), "bad-agreement", (pos), (keyword), __VA_ARGS__), APR_EINVAL)

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

#define TOK(toks, i) (&APR_ARRAY_IDX((toks), (i), token_t))

/* --- subjects ---------------------------------------------------------------- */

/* Subject rule on an unterminated span, so decide can check before copying. */
static int subject_ok(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > SUBJECT_MAX)
        return 0;
    if (s[0] == '_' || s[0] == '-')
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

apr_status_t pds_subject_check(const char *subject, pds_error_t *err)
{
    if (subject != NULL && subject_ok(subject, strlen(subject)))
        return APR_SUCCESS;
    pds_error_set(err, "bad-subject", -1, "subject",
                  "the subject identifier is not valid: expected "
                  USE_SUBJECT);
    return APR_EINVAL;
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

static apr_status_t set_party(pds_agreement_t *a, const char *kw,
                              apr_array_header_t *toks, pds_error_t *err)
{
    token_t *t;
    char shown[64];

    if (a->party != NULL)
        return bad(err, kw, -1, "%s given twice; an agreement has exactly "
                   "one party", kw);
    if (toks->nelts != 1)
        return bad(err, kw, toks->nelts > 1 ? TOK(toks, 1)->pos : -1,
                   "%s: needs exactly one organisation name, got %d; "
                   USE_PARTY, kw, toks->nelts);
    t = TOK(toks, 0);
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

    if (a->legal_basis != NULL)
        return bad(err, kw, -1, "%s given twice; an agreement has exactly "
                   "one legal basis", kw);
    if (toks->nelts != 1)
        return bad(err, kw, toks->nelts > 1 ? TOK(toks, 1)->pos : -1,
                   "%s: needs exactly one legal basis, got %d; " USE_BASIS,
                   kw, toks->nelts);
    t = TOK(toks, 0);
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

    if (a->version != NULL)
        return bad(err, kw, -1, "%s given twice; an agreement has one "
                   "version", kw);
    if (toks->nelts != 1)
        return bad(err, kw, toks->nelts > 1 ? TOK(toks, 1)->pos : -1,
                   "%s: needs exactly one version, got %d; " USE_VERSION,
                   kw, toks->nelts);
    t = TOK(toks, 0);
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

static apr_status_t set_release(pds_agreement_t *a, const char *kw,
                                apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one field path; "
                   USE_RELEASE, kw);
    for (i = 0; i < toks->nelts; i++) {
        token_t *t = TOK(toks, i);
        pds_error_t local;
        apr_status_t rv;

        pds_error_clear(&local);
        rv = pds_fieldset_add(a->release, t->text, &local);
        if (rv != APR_SUCCESS)
            return bad(err, kw, local.position >= 0
                                ? t->pos + (t->quoted ? 1 : 0) + local.position
                                : t->pos,
                       "%s: %s: %s at character %d: %s; " USE_RELEASE, kw,
                       pds_text_show(shown, sizeof(shown), t->text),
                       local.text[0] != '\0' ? local.text : "not a field path",
                       local.position + 1, mark_at(a->pool, t->text, local.position));
    }
    return APR_SUCCESS;
}

#define USE_TRANSFORM "use `Transform <field path> <transform> [<argument>]`, e.g. " \
    "`Transform dob year` (see docs/minimisation.md)"

/* Transform <path> <name> [args]: parsed now, attached by finish. */
static apr_status_t set_transform(pds_agreement_t *a, const char *kw,
                                  apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    pending_transform_t *pt;
    pds_fieldset_t *check;
    pds_transform_t *t;
    pds_error_t local;
    const char *text = "";
    token_t *path;
    int i;

    if (toks->nelts < 2)
        return bad(err, kw, -1, "%s: needs a field path and a transform; " USE_TRANSFORM,
                   kw);
    path = TOK(toks, 0);
    pds_error_clear(&local);
    if (pds_fieldset_create(&check, a->pool) != APR_SUCCESS
        || pds_fieldset_add(check, path->text, &local) != APR_SUCCESS)
        return bad(err, kw, local.position >= 0
                            ? path->pos + (path->quoted ? 1 : 0) + local.position : path->pos,
                   "%s: %s: %s; " USE_TRANSFORM, kw,
                   pds_text_show(shown, sizeof(shown), path->text),
                   local.text[0] != '\0' ? local.text : "not a field path");
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
static apr_status_t set_deidentified(pds_agreement_t *a, const char *kw,
                                     apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
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
        token_t *t = TOK(toks, i);
        pds_error_t local;

        pds_error_clear(&local);
        if (pds_fieldset_add(check, t->text, &local) != APR_SUCCESS)
            return bad(err, kw, t->pos, "%s: %s: %s", kw,
                       pds_text_show(shown, sizeof(shown), t->text),
                       local.text[0] != '\0' ? local.text : "not a field path");
        APR_ARRAY_PUSH(a->identifiers, const char *) = t->text;
    }
    return APR_SUCCESS;
}

/* Does the path a name the same place as b, or a place above it? */
static int path_covers(apr_pool_t *p, const char *a, const char *b)
{
    pds_fieldset_t *set;

    return pds_fieldset_create(&set, p) == APR_SUCCESS
        && pds_fieldset_add(set, a, NULL) == APR_SUCCESS
        && pds_fieldset_covers(set, b);
}

/* In a de-identified agreement, every part of a direct identifier that is
 * released must be under one transform. */
static apr_status_t check_identifiers(pds_agreement_t *a, pds_error_t *err)
{
    int i, j, k;

    for (i = 0; a->identifiers != NULL && i < a->identifiers->nelts; i++) {
        const char *d = APR_ARRAY_IDX(a->identifiers, i, const char *);

        for (j = 0; j < pds_fieldset_count(a->release); j++) {
            const char *r = pds_fieldset_path(a->release, j), *region;
            int covered = 0;

            if (path_covers(a->pool, r, d))
                region = d;                 /* releases the whole identifier */
            else if (path_covers(a->pool, d, r))
                region = r;                 /* releases part of it */
            else
                continue;
            for (k = 0; k < pds_fieldset_transform_count(a->release) && !covered; k++) {
                const char *tp;
                (void)pds_fieldset_transform(a->release, k, &tp);
                covered = path_covers(a->pool, tp, region);
            }
            if (covered)
                continue;
            /* The suggestion must be a line that works when pasted: redact
             * takes any value (pseudonymise only a string or a number, and an
             * identifier such as name is often an object), and a transform
             * may not contain another. */
            for (k = 0; k < pds_fieldset_transform_count(a->release); k++) {
                const char *tp;
                (void)pds_fieldset_transform(a->release, k, &tp);
                if (path_covers(a->pool, region, tp))
                    return bad(err, "Deidentified", -1, "agreement '%s' is de-identified "
                               "but releases the direct identifier %s in clear (Release "
                               "%s), and %s holds a transform already (on %s): release "
                               "the parts of %s one by one, each with a transform, "
                               "instead of %s", a->id, d, r, region, tp, region, r);
            }
            return bad(err, "Deidentified", -1, "agreement '%s' is de-identified but "
                       "releases the direct identifier %s in clear (Release %s): add "
                       "`Transform %s redact` (left out of the answer), or, when %s is a "
                       "single string or number, `Transform %s pseudonymise`",
                       a->id, d, r, region, region, region);
        }
    }
    return APR_SUCCESS;
}

/* Write <path> ...: the fields a POST, PUT or PATCH body may carry. */
static apr_status_t set_write(pds_agreement_t *a, const char *kw,
                              apr_array_header_t *toks, pds_error_t *err)
{
    char shown[64];
    int i;

    if (toks->nelts == 0)
        return bad(err, kw, -1, "%s: needs at least one field path, e.g. "
                   "`Write contact.phone contact.email`", kw);
    for (i = 0; i < toks->nelts; i++) {
        token_t *t = TOK(toks, i);
        pds_error_t local;

        pds_error_clear(&local);
        if (pds_fieldset_add(a->write, t->text, &local) != APR_SUCCESS)
            return bad(err, kw, local.position >= 0
                                ? t->pos + (t->quoted ? 1 : 0) + local.position : t->pos,
                       "%s: %s: %s at character %d: %s", kw,
                       pds_text_show(shown, sizeof(shown), t->text),
                       local.text[0] != '\0' ? local.text : "not a field path",
                       local.position + 1, mark_at(a->pool, t->text, local.position));
    }
    return APR_SUCCESS;
}

/* RecordSubject <path>: where each record of a collection names its person. */
static apr_status_t set_record_subject(pds_agreement_t *a, const char *kw,
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

/* WriteUnknown refuse|strip: what to do with a body carrying other fields. */
static apr_status_t set_write_unknown(pds_agreement_t *a, const char *kw,
                                      apr_array_header_t *toks, pds_error_t *err)
{
    if (a->write_unknown_set)
        return bad(err, kw, -1, "%s given twice", kw);
    if (toks->nelts != 1 || (strcasecmp(TOK(toks, 0)->text, "refuse") != 0
                             && strcasecmp(TOK(toks, 0)->text, "strip") != 0))
        return bad(err, kw, toks->nelts > 0 ? TOK(toks, 0)->pos : -1,
                   "%s: expected `%s refuse` (the default: a body with other fields is "
                   "refused) or `%s strip` (other fields are removed)", kw, kw, kw);
    a->write_strips = strcasecmp(TOK(toks, 0)->text, "strip") == 0;
    a->write_unknown_set = 1;
    return APR_SUCCESS;
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

typedef apr_status_t (*setter_fn)(pds_agreement_t *a, const char *kw,
                                  apr_array_header_t *toks, pds_error_t *err);

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
    { "Release",    set_release },
    { "Disclosure", set_disclosure },
    { "Transform",  set_transform },
    { "Deidentified", set_deidentified },
    { "Write",      set_write },
    { "WriteUnknown", set_write_unknown },
    { "RecordSubject", set_record_subject },
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
                   "WriteUnknown, RecordSubject",
                   pds_text_show(shown, sizeof(shown), keyword));
    rv = tokenize(&toks, a->pool, keyword, args, err);
    if (rv != APR_SUCCESS)
        return rv;
    return keywords[i].set(a, keyword, toks, err);
}

int pds_agreement_could_match_under(const pds_agreement_t *a, const char *prefix)
{
    int i;

    for (i = 0; a != NULL && i < a->resources->nelts; i++) {
        if (pds_resource_could_match_under(&APR_ARRAY_IDX(a->resources, i, pds_resource_t),
                                           prefix))
            return 1;
    }
    return 0;
}

/* Is this parameter name within two edits of "subject" (or begins "subj")?
 * Then it is a misspelt {subject}, not a parameter. */
static int looks_like_subject(const char *name, apr_size_t len)
{
    static const char subject[] = "subject";
    apr_size_t prev[40], cur[40], i, j, m = sizeof(subject) - 1;

    if (len >= 4 && memcmp(name, "subj", 4) == 0)
        return 1;
    if (len + 1 > sizeof(prev) / sizeof(prev[0]))
        return 0;
    for (j = 0; j <= m; j++)
        prev[j] = j;
    for (i = 1; i <= len; i++) {
        cur[0] = i;
        for (j = 1; j <= m; j++) {
            apr_size_t best = prev[j - 1] + (name[i - 1] == subject[j - 1] ? 0 : 1);

            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(cur[0]) * (m + 1));
    }
    return prev[m] <= 2;
}

/* Whose data a resource is must be said: {subject} names the person; a
 * resource without it answers a collection (RecordSubject names each
 * record's person) or de-identified data. Anything else would release a
 * person's data recorded as nobody's: the audit record says "subject": null
 * and the person never sees it. Errors have source "Resource" and, as
 * position, the resource's index (the glue names its line). */
static apr_status_t check_resources(pds_agreement_t *a, pds_error_t *err)
{
    int i, k;

    for (i = 0; i < a->resources->nelts; i++) {
        const pds_resource_t *r = &APR_ARRAY_IDX(a->resources, i, pds_resource_t);
        const char *s = strchr(r->text, '/');

        for (k = 0; k < r->nseg && s != NULL; k++) {
            const char *seg = s + 1;
            apr_size_t len = r->seglen[k];

            if (r->seg[k] == NULL && k != r->subject_at
                && looks_like_subject(seg + 1, len - 2)) {
                pds_error_set(err, "bad-agreement", i, "Resource", "agreement '%s': "
                              "Resource %s: %.*s is not a placeholder mod_pds knows; the "
                              "person a resource is about is written {subject}", a->id,
                              r->text, (int)len, seg);
                return APR_EINVAL;
            }
            s = strchr(seg, '/');
        }
        if (!r->has_subject && a->record_subject == NULL && a->identifiers == NULL) {
            pds_error_set(err, "bad-agreement", i, "Resource", "agreement '%s': Resource "
                          "%s has no {subject}, so its data would be recorded as released "
                          "about nobody: name the person with {subject} (e.g. "
                          "/citizens/{subject}/record), or say what it answers: a "
                          "collection (RecordSubject <path of each record's person>) or "
                          "de-identified data (Deidentified <direct identifiers>)",
                          a->id, r->text);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t pds_agreement_finish(pds_agreement_t *a, pds_error_t *err)
{
    int i, has_get = 0, has_write = 0;
    const char *missing = NULL, *hint = NULL;
    char *list, *o;
    apr_size_t len = 0;

    if (a == NULL)
        return bad(err, "PDSAgreement", -1, "no agreement to finish");
    if (a->finished)
        return APR_SUCCESS;
    if (a->party == NULL) {
        missing = "Party";
        hint = "`Party <organisation>`";
    }
    else if (a->purposes->nelts == 0) {
        missing = "Purpose";
        hint = "`Purpose <purpose> [<purpose> ...]`";
    }
    else if (a->legal_basis == NULL) {
        missing = "LegalBasis";
        hint = "`LegalBasis <basis>` (one of " BASES ")";
    }
    else if (!a->valid_set) {
        missing = "Valid";
        hint = "`Valid <YYYY-MM-DD> <YYYY-MM-DD>` (UTC, both days included)";
    }
    else if (a->resources->nelts == 0) {
        missing = "Resource";
        hint = "`Resource <METHOD> <template>`, e.g. "
               "`Resource GET /citizens/{subject}/record`";
    }
    if (missing != NULL)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has no %s: add %s",
                   a->id, missing, hint);
    for (i = 0; i < a->resources->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->resources, i, pds_resource_t).method,
                   "GET") == 0)
            has_get = 1;
        else if (strcmp(APR_ARRAY_IDX(a->resources, i, pds_resource_t).method,
                        "DELETE") != 0)
            has_write = 1;
    }
    if (has_write && pds_fieldset_count(a->write) == 0)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has a POST, PUT or PATCH "
                   "resource but no Write, so no body could ever be accepted: add "
                   "`Write <field path> ...`", a->id);
    if (!has_write && (pds_fieldset_count(a->write) > 0 || a->write_unknown_set))
        return bad(err, "PDSAgreement", -1, "agreement '%s' has Write or WriteUnknown "
                   "but no POST, PUT or PATCH resource", a->id);
    if (check_resources(a, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (has_get && pds_fieldset_count(a->release) == 0)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has a GET "
                   "resource but no Release, so nothing could ever be "
                   "released: add `Release <field path> ...`", a->id);
    for (i = 0; i < a->transforms->nelts; i++) {
        const pending_transform_t *pt = &APR_ARRAY_IDX(a->transforms, i,
                                                       pending_transform_t);
        pds_error_t local;

        pds_error_clear(&local);
        if (pds_fieldset_set_transform(a->release, pt->path, pt->transform, &local)
            != APR_SUCCESS)
            return bad(err, "Transform", -1, "agreement '%s': Transform %s %s: %s", a->id,
                       pt->path, pds_transform_text(pt->transform), local.text);
    }
    if (check_identifiers(a, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (a->record_subject != NULL) {
        for (i = 0; i < pds_fieldset_count(a->release); i++) {
            if (strncmp(pds_fieldset_path(a->release, i), "[*]", 3) != 0)
                return bad(err, "RecordSubject", -1, "agreement '%s': RecordSubject is for "
                           "collections (the back end answers an array of records), so "
                           "every Release path starts with [*]; %s does not", a->id,
                           pds_fieldset_path(a->release, i));
        }
    }

    /* "a, b, c" once, for the details of purpose denials. */
    for (i = 0; i < a->purposes->nelts; i++)
        len += strlen(APR_ARRAY_IDX(a->purposes, i, const char *)) + 2;
    list = o = apr_palloc(a->pool, len + 1);
    for (i = 0; i < a->purposes->nelts; i++) {
        const char *name = APR_ARRAY_IDX(a->purposes, i, const char *);
        apr_size_t n = strlen(name);

        if (i > 0) {
            memcpy(o, ", ", 2);
            o += 2;
        }
        memcpy(o, name, n);
        o += n;
    }
    *o = '\0';
    a->purpose_list = list;
    a->finished = 1;
    return APR_SUCCESS;
}

/* The accessors that only read the compiled agreement. */
#define GETTER(type, name, value) \
    type pds_agreement_##name(const pds_agreement_t *a) { return value; }

GETTER(const char *, record_subject, a->record_subject)
GETTER(const pds_fieldset_t *, write, a->write)
GETTER(int, write_strips, a->write_strips)
GETTER(int, deidentified, a->identifiers != NULL)
GETTER(const char *, id, a->id)
GETTER(const char *, version, a->version != NULL ? a->version : "1")
GETTER(const char *, party, a->party)
GETTER(const char *, legal_basis, a->legal_basis)
GETTER(const apr_array_header_t *, purposes, a->purposes)
GETTER(apr_time_t, valid_from, a->valid_from)
GETTER(apr_time_t, valid_until, a->valid_until)
GETTER(const pds_fieldset_t *, release, a->release)
GETTER(int, resource_count, a->resources->nelts)

#undef GETTER

int pds_agreement_needs_pseudonym_key(const pds_agreement_t *a)
{
    int k;

    if (a->identifiers != NULL)
        return 1;
    for (k = 0; k < pds_fieldset_transform_count(a->release); k++) {
        if (pds_transform_needs_key(pds_fieldset_transform(a->release, k, NULL)))
            return 1;
    }
    return 0;
}

apr_time_t pds_agreement_visible_from(const pds_agreement_t *a, apr_time_t disclosed)
{
    switch (a->disclosure) {
    case PDS_DISCLOSURE_RESTRICTED:
        return PDS_NEVER_VISIBLE;
    case PDS_DISCLOSURE_EMBARGO_UNTIL:
        return a->embargo_until > disclosed ? a->embargo_until : disclosed;
    case PDS_DISCLOSURE_EMBARGO_FOR:
        return disclosed + a->embargo_for;
    default:
        return disclosed;
    }
}

const char *pds_agreement_resource(const pds_agreement_t *a, int index)
{
    if (index < 0 || index >= a->resources->nelts)
        return NULL;
    return APR_ARRAY_IDX(a->resources, index, pds_resource_t).text;
}

/* --- the decision ----------------------------------------------------------- */

/* The first of a's resources matching method and path, or NULL. */
static const pds_resource_t *agreement_match(const pds_agreement_t *a,
                                             const char *method,
                                             const char *path,
                                             const char **subject,
                                             apr_size_t *subject_len)
{
    int i;

    for (i = 0; i < a->resources->nelts; i++) {
        const pds_resource_t *r =
            &APR_ARRAY_IDX(a->resources, i, pds_resource_t);

        if (strcmp(r->method, method) == 0
            && pds_resource_match(r, path, subject, subject_len))
            return r;
    }
    return NULL;
}

static int has_purpose(const pds_agreement_t *a, const char *purpose)
{
    int i;

    for (i = 0; i < a->purposes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->purposes, i, const char *), purpose) == 0)
            return 1;
    }
    return 0;
}

/* A refused request about a well-formed subject still names it: the audit
 * record then shows whose data someone asked for without right. */
static void refused_subject(pds_decision_t *d, const char *s, apr_size_t len,
                            apr_pool_t *p)
{
    if (s != NULL && subject_ok(s, len))
        d->subject = apr_pstrmemdup(p, s, len);
}

static void deny(pds_decision_t *d, const char *reason,
                 const pds_agreement_t *a, const char *detail)
{
    d->allowed = 0;
    d->reason = reason;
    d->agreement = a;
    d->detail = detail;
    d->subject = NULL;
}

void pds_agreements_decide(const apr_array_header_t *agreements,
                           const pds_request_facts_t *facts,
                           pds_decision_t *d, apr_pool_t *p)
{
    const pds_agreement_t *first = NULL, *first_purpose = NULL, *chosen = NULL;
    const pds_resource_t *chosen_res = NULL;
    const char *subject = NULL, *first_subject = NULL;
    apr_size_t subject_len = 0, first_subject_len = 0;
    int purpose_given, purpose_valid, i;

    memset(d, 0, sizeof(*d));
    if (facts == NULL || facts->organisation == NULL || facts->method == NULL
        || facts->path == NULL) {
        deny(d, "no-agreement", NULL, facts == NULL || facts->organisation
             == NULL ? "the caller is not identified"
                     : "the request has no method or path");
        return;
    }
    purpose_given = facts->purpose != NULL && facts->purpose[0] != '\0';
    purpose_valid = purpose_given && pds_syntax_is_name(facts->purpose, ID_MAX);

    for (i = 0; agreements != NULL && i < agreements->nelts; i++) {
        const pds_agreement_t *a =
            APR_ARRAY_IDX(agreements, i, const pds_agreement_t *);
        const pds_resource_t *r;
        const char *s = NULL;
        apr_size_t slen = 0;

        /* An agreement finish() has not accepted never applies. */
        if (a == NULL || !a->finished
            || strcmp(a->party, facts->organisation) != 0)
            continue;
        r = agreement_match(a, facts->method, facts->path, &s, &slen);
        if (r == NULL)
            continue;
        if (first == NULL) {
            first = a;
            first_subject = s;
            first_subject_len = slen;
        }
        if (!purpose_valid)
            break;   /* the outcome is already known */
        if (!has_purpose(a, facts->purpose))
            continue;
        if (first_purpose == NULL)
            first_purpose = a;
        if (facts->now < a->valid_from || facts->now > a->valid_until)
            continue;
        chosen = a;
        chosen_res = r;
        subject = s;
        subject_len = slen;
        break;
    }

    if (first == NULL) {
        deny(d, "no-agreement", NULL, pds_syntax_is_name(facts->method, 16)
             ? apr_psprintf(p, "no agreement gives organisation '%s' %s "
                            "access to this path", facts->organisation,
                            facts->method)
             : apr_psprintf(p, "no agreement gives organisation '%s' "
                            "access to this path with this method",
                            facts->organisation));
        return;
    }
    if (!purpose_given) {
        deny(d, "purpose-missing", first,
             apr_psprintf(p, "declare the purpose of this request; "
                          "agreement '%s' covers purposes %s", first->id,
                          first->purpose_list));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (first_purpose == NULL) {
        /* Only a well-formed purpose is echoed back. */
        deny(d, "purpose-mismatch", first, purpose_valid
             ? apr_psprintf(p, "agreement '%s' covers purposes %s; this "
                            "request declared %s", first->id,
                            first->purpose_list, facts->purpose)
             : apr_psprintf(p, "agreement '%s' covers purposes %s; the "
                            "declared purpose is not a purpose name (1 to "
                            "64 of " TOKEN_CHARS ")", first->id,
                            first->purpose_list));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (chosen == NULL) {
        if (facts->now > first_purpose->valid_until)
            deny(d, "agreement-expired", first_purpose,
                 apr_psprintf(p, "agreement '%s' was valid until the end of "
                              "%s (UTC)", first_purpose->id,
                              first_purpose->until_text));
        else
            deny(d, "agreement-not-yet-valid", first_purpose,
                 apr_psprintf(p, "agreement '%s' is valid from %s (UTC)",
                              first_purpose->id, first_purpose->from_text));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (chosen_res->has_subject) {
        if (!subject_ok(subject, subject_len)) {
            deny(d, "bad-subject", chosen, "the subject identifier in the "
                 "path is not valid: expected " USE_SUBJECT);
            return;
        }
        d->subject = apr_pstrmemdup(p, subject, subject_len);
    }
    d->allowed = 1;
    d->reason = NULL;
    d->detail = NULL;
    d->agreement = chosen;
}
