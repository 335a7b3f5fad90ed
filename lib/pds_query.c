/* pds_query.c: Query declarations, and a request's query string checked
 * against them and rebuilt in canonical form (the contract is pds_query.h).
 *
 * The accepted form is deliberately narrow: every value a declaration can
 * take is made of RFC 3986 unreserved characters, so nothing needs a '%'
 * escape and none is accepted. What a back end's parser would decode,
 * split or merge differently from ours (escapes, '+', ';', brackets,
 * repeats) therefore never passes.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_chain.h"
#include "pds_query.h"
#include "pds_syntax.h"
#include "pds_text.h"
#include "pds_time.h"

#define VALUE_MAX    64
#define ENUM_MAX     16
#define INT_MAX_BOUND 2147483647L

#define USE_QUERY "expected `Query <name> int <lo>..<hi>`, `Query <name> token`, " \
    "`Query <name> date` or `Query <name> enum <a>|<b>|...`, e.g. " \
    "`Query _page int 1..1000`"

typedef enum { Q_INT, Q_TOKEN, Q_DATE, Q_ENUM } query_type_e;

typedef struct query_decl_t {
    const char *name;
    query_type_e type;
    long lo, hi;                    /* Q_INT */
    apr_array_header_t *words;      /* Q_ENUM: const char * */
} query_decl_t;

struct pds_query_t {
    apr_pool_t *pool;
    apr_array_header_t *decls;      /* query_decl_t, in declared order */
};

#define bad_decl(err, pos, ...) \
    (pds_error_set((err), "bad-agreement", (pos), "Query", __VA_ARGS__), APR_EINVAL)
#define refuse(err, ...) \
    (pds_error_set((err), "query-not-allowed", -1, "query", __VA_ARGS__), APR_EINVAL)

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 3986 unreserved. */
static int is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_declared_name(const char *s)
{
    apr_size_t i;

    if (s == NULL || !(is_alpha(s[0]) || s[0] == '_'))
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (i >= PDS_QUERY_NAME_MAX
            || !(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
            return 0;
    }
    return 1;
}

/* A whole number without sign or leading zeros, at most 2147483647. */
static int read_number(const char *s, apr_size_t len, long *out)
{
    long v = 0;
    apr_size_t i;

    if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
        return 0;
    for (i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT_MAX_BOUND)
        return 0;
    *out = v;
    return 1;
}

apr_status_t pds_query_create(pds_query_t **pq, apr_pool_t *p)
{
    pds_query_t *q = apr_pcalloc(p, sizeof(*q));

    q->pool = p;
    q->decls = apr_array_make(p, 4, sizeof(query_decl_t));
    *pq = q;
    return APR_SUCCESS;
}

static const query_decl_t *find_decl(const pds_query_t *q, const char *name)
{
    int i;

    for (i = 0; q != NULL && i < q->decls->nelts; i++) {
        const query_decl_t *d = &APR_ARRAY_IDX(q->decls, i, query_decl_t);

        if (strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}

/* "lo..hi" into d. */
static apr_status_t declare_int(query_decl_t *d, const char *bounds, pds_error_t *err)
{
    const char *dots = bounds != NULL ? strstr(bounds, "..") : NULL;

    if (dots == NULL
        || !read_number(bounds, (apr_size_t)(dots - bounds), &d->lo)
        || !read_number(dots + 2, strlen(dots + 2), &d->hi))
        return bad_decl(err, 2, "Query %s int: the bounds must be two whole numbers "
                        "lo..hi (0 to 2147483647, no sign), e.g. `Query %s int 1..100`",
                        d->name, d->name);
    if (d->lo > d->hi)
        return bad_decl(err, 2, "Query %s int: the lower bound %ld is above the upper "
                        "bound %ld; write lo..hi with lo <= hi", d->name, d->lo, d->hi);
    return APR_SUCCESS;
}

/* "a|b|c" into d. */
static apr_status_t declare_enum(query_decl_t *d, const char *list, apr_pool_t *p,
                                 pds_error_t *err)
{
    char *copy = apr_pstrdup(p, list), *word, *state = NULL;
    char shown[64];
    int i;

    d->words = apr_array_make(p, 4, sizeof(const char *));
    if (copy[0] == '\0' || copy[0] == '|' || copy[strlen(copy) - 1] == '|'
        || strstr(copy, "||") != NULL)
        return bad_decl(err, 2, "Query %s enum: an empty word in %s; list the words "
                        "separated by '|', e.g. `Query %s enum male|female|other|unknown`",
                        d->name, pds_text_show(shown, sizeof(shown), list), d->name);
    for (word = apr_strtok(copy, "|", &state); word != NULL;
         word = apr_strtok(NULL, "|", &state)) {
        if (!pds_syntax_is_name(word, VALUE_MAX))
            return bad_decl(err, 2, "Query %s enum: %s is not a word (1 to 64 of "
                            "A-Z a-z 0-9 . _ -)", d->name,
                            pds_text_show(shown, sizeof(shown), word));
        for (i = 0; i < d->words->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(d->words, i, const char *), word) == 0)
                return bad_decl(err, 2, "Query %s enum: %s is listed twice", d->name,
                                pds_text_show(shown, sizeof(shown), word));
        }
        if (d->words->nelts == ENUM_MAX)
            return bad_decl(err, 2, "Query %s enum: more than %d words", d->name,
                            ENUM_MAX);
        APR_ARRAY_PUSH(d->words, const char *) = word;
    }
    return APR_SUCCESS;
}

apr_status_t pds_query_declare(pds_query_t *q, const char *const *words, int nwords,
                               pds_error_t *err)
{
    query_decl_t d;
    char shown[64];
    const char *type;
    int wants_arg;

    if (nwords < 2)
        return bad_decl(err, -1, "Query: needs a parameter name and a type; " USE_QUERY);
    memset(&d, 0, sizeof(d));
    if (!is_declared_name(words[0]))
        return bad_decl(err, 0, "Query: %s is not a parameter name (1 to 32 of A-Z a-z "
                        "0-9 _ -, starting with a letter or '_'); " USE_QUERY,
                        pds_text_show(shown, sizeof(shown), words[0]));
    d.name = apr_pstrdup(q->pool, words[0]);
    if (find_decl(q, d.name) != NULL)
        return bad_decl(err, 0, "Query %s is declared twice; declare each parameter "
                        "once", d.name);
    if (q->decls->nelts >= PDS_QUERY_DECL_MAX)
        return bad_decl(err, 0, "Query: an agreement declares at most %d parameters",
                        PDS_QUERY_DECL_MAX);
    type = words[1];
    if (strcmp(type, "int") == 0)
        d.type = Q_INT;
    else if (strcmp(type, "token") == 0)
        d.type = Q_TOKEN;
    else if (strcmp(type, "date") == 0)
        d.type = Q_DATE;
    else if (strcmp(type, "enum") == 0)
        d.type = Q_ENUM;
    else
        return bad_decl(err, 1, "Query %s: %s is not a type; the types are int, token, "
                        "date and enum; " USE_QUERY, d.name,
                        pds_text_show(shown, sizeof(shown), type));
    wants_arg = d.type == Q_INT || d.type == Q_ENUM;
    if (wants_arg && nwords != 3)
        return bad_decl(err, nwords > 3 ? 3 : -1, "Query %s %s: needs %s after the type; "
                        USE_QUERY, d.name, type,
                        d.type == Q_INT ? "its bounds lo..hi" : "its words a|b|c");
    if (!wants_arg && nwords != 2)
        return bad_decl(err, 2, "Query %s %s: takes nothing after the type; " USE_QUERY,
                        d.name, type);
    if (d.type == Q_INT && declare_int(&d, words[2], err) != APR_SUCCESS)
        return APR_EINVAL;
    if (d.type == Q_ENUM && declare_enum(&d, words[2], q->pool, err) != APR_SUCCESS)
        return APR_EINVAL;
    APR_ARRAY_PUSH(q->decls, query_decl_t) = d;
    return APR_SUCCESS;
}

int pds_query_count(const pds_query_t *q)
{
    return q != NULL ? q->decls->nelts : 0;
}

int pds_query_declares(const pds_query_t *q, const char *name)
{
    return name != NULL && find_decl(q, name) != NULL;
}

const char *pds_query_names(const pds_query_t *q, apr_pool_t *p)
{
    const char *list = "";
    int i;

    for (i = 0; q != NULL && i < q->decls->nelts; i++)
        list = apr_pstrcat(p, list, i ? ", " : "",
                           APR_ARRAY_IDX(q->decls, i, query_decl_t).name, NULL);
    return list;
}

/* Why the byte c cannot stand in a query string, or NULL when it can. */
static const char *char_problem(char c)
{
    if (is_unreserved(c) || c == '=' || c == '&')
        return NULL;
    if (c == '%')
        return "percent-escapes are not accepted (no declared parameter's name or "
               "value needs one)";
    if (c == '+')
        return "'+' is not accepted (a space to some servers, a plus to others)";
    if (c == '[' || c == ']')
        return "arrays (a[]=, a[0]=) are not accepted; give each parameter once";
    if (c == ';')
        return "';' does not separate parameters here; use '&'";
    return "only A-Z a-z 0-9 - . _ ~ are accepted in a parameter's name and value";
}

/* The name of the pair at s (len bytes), shown for a message: up to its
 * '=' or '[', quoted and cut. */
static const char *pair_name(char *buf, apr_size_t size, const char *s, apr_size_t len,
                             apr_pool_t *p)
{
    apr_size_t n = 0;

    while (n < len && s[n] != '=' && s[n] != '[')
        n++;
    return pds_text_show(buf, size, apr_pstrmemdup(p, s, n));
}

apr_status_t pds_query_parse(apr_array_header_t **pparams, const char *raw,
                             apr_pool_t *p, pds_error_t *err)
{
    apr_array_header_t *params;
    const char *s = raw;
    char shown[48];
    apr_size_t i, n;

    if (raw == NULL || raw[0] == '\0')
        return refuse(err, "an empty query string is not accepted; leave out the '?'");
    n = strlen(raw);
    if (n > PDS_QUERY_TEXT_MAX)
        return refuse(err, "the query string is longer than %d bytes",
                      PDS_QUERY_TEXT_MAX);
    params = apr_array_make(p, 4, sizeof(pds_query_param_t));
    for (;;) {
        apr_size_t len = strcspn(s, "&");
        const char *eq = memchr(s, '=', len);
        pds_query_param_t *param;
        int k;

        if (len == 0)
            return refuse(err, "an empty parameter ('&&', or '&' at either end) is "
                          "not accepted");
        for (i = 0; i < len; i++) {
            const char *why = char_problem(s[i]);

            if (why != NULL)
                return refuse(err, "parameter %s: %s",
                              pair_name(shown, sizeof(shown), s, len, p), why);
        }
        if (eq == NULL || eq == s || eq == s + len - 1)
            return refuse(err, "parameter %s: write it as name=value, with a name and "
                          "a value", pair_name(shown, sizeof(shown), s, len, p));
        if (memchr(eq + 1, '=', (apr_size_t)(s + len - eq - 1)) != NULL)
            return refuse(err, "parameter %s: '=' is not accepted inside a value",
                          pair_name(shown, sizeof(shown), s, len, p));
        if (params->nelts >= PDS_QUERY_DECL_MAX)
            return refuse(err, "more than %d parameters", PDS_QUERY_DECL_MAX);
        param = &APR_ARRAY_PUSH(params, pds_query_param_t);
        param->name = apr_pstrmemdup(p, s, (apr_size_t)(eq - s));
        param->value = apr_pstrmemdup(p, eq + 1, (apr_size_t)(s + len - eq - 1));
        for (k = 0; k < params->nelts - 1; k++) {
            if (strcmp(APR_ARRAY_IDX(params, k, pds_query_param_t).name,
                       param->name) == 0)
                return refuse(err, "parameter %s is given twice; give each parameter "
                              "once", pds_text_show(shown, sizeof(shown), param->name));
        }
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    *pparams = params;
    return APR_SUCCESS;
}

/* Why value is not of d's type, or NULL. */
static const char *value_problem(const query_decl_t *d, const char *value, apr_pool_t *p)
{
    apr_time_t day;
    long v;
    int i;

    switch (d->type) {
    case Q_INT:
        if (!read_number(value, strlen(value), &v) || v < d->lo || v > d->hi)
            return apr_psprintf(p, "a whole number from %ld to %ld (no sign, no "
                                "leading zeros)", d->lo, d->hi);
        return NULL;
    case Q_TOKEN:
        return pds_syntax_is_name(value, VALUE_MAX) ? NULL
               : "1 to 64 of A-Z a-z 0-9 . _ -";
    case Q_DATE:
        return pds_time_parse_date(&day, value) == APR_SUCCESS ? NULL
               : "a date YYYY-MM-DD";
    case Q_ENUM:
        for (i = 0; i < d->words->nelts; i++) {
            if (strcmp(APR_ARRAY_IDX(d->words, i, const char *), value) == 0)
                return NULL;
        }
        {
            const char *list = "";

            for (i = 0; i < d->words->nelts; i++)
                list = apr_pstrcat(p, list, i ? ", " : "",
                                   APR_ARRAY_IDX(d->words, i, const char *), NULL);
            return apr_pstrcat(p, "one of ", list, NULL);
        }
    }
    return "a declared value";
}

/* s with every byte but unreserved ones as %XX (RFC 3986 2.1, upper case). */
static const char *encode(const char *s, apr_pool_t *p)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, 3 * strlen(s) + 1), *o = out;

    for (; *s != '\0'; s++) {
        if (is_unreserved(*s)) {
            *o++ = *s;
        }
        else {
            *o++ = '%';
            *o++ = hex[(unsigned char)*s >> 4];
            *o++ = hex[(unsigned char)*s & 0xF];
        }
    }
    *o = '\0';
    return out;
}

apr_status_t pds_query_accept(const pds_query_t *q, const apr_array_header_t *params,
                              const char **pcanonical, apr_pool_t *p, pds_error_t *err)
{
    const char *canonical = NULL;
    char shown[48];
    int i, k;

    for (k = 0; params != NULL && k < params->nelts; k++) {
        const pds_query_param_t *param = &APR_ARRAY_IDX(params, k, pds_query_param_t);
        const query_decl_t *d = find_decl(q, param->name);
        const char *why;

        if (d == NULL)
            return pds_query_count(q) == 0
                ? refuse(err, "parameter %s is not accepted: the agreement accepts no "
                         "query parameters", pds_text_show(shown, sizeof(shown),
                                                           param->name))
                : refuse(err, "parameter %s is not accepted; the agreement accepts %s",
                         pds_text_show(shown, sizeof(shown), param->name),
                         pds_query_names(q, p));
        why = value_problem(d, param->value, p);
        if (why != NULL)
            return refuse(err, "parameter %s: expected %s", d->name, why);
    }
    /* Rebuilt in declared order from the checked values. */
    for (i = 0; q != NULL && i < q->decls->nelts; i++) {
        const char *name = APR_ARRAY_IDX(q->decls, i, query_decl_t).name;

        for (k = 0; params != NULL && k < params->nelts; k++) {
            const pds_query_param_t *param = &APR_ARRAY_IDX(params, k, pds_query_param_t);

            if (strcmp(param->name, name) == 0)
                canonical = apr_pstrcat(p, canonical != NULL ? canonical : "",
                                        canonical != NULL ? "&" : "", encode(name, p),
                                        "=", encode(param->value, p), NULL);
        }
    }
    *pcanonical = canonical;
    return APR_SUCCESS;
}

const char *pds_query_pseudonymised(const pds_query_t *q, const char *canonical,
                                    const pds_chain_key_t *key, apr_pool_t *p)
{
    apr_array_header_t *params;
    const char *out = NULL;
    int k;

    if (canonical == NULL)
        return NULL;
    if (key == NULL || pds_query_parse(&params, canonical, p, NULL) != APR_SUCCESS)
        return "-";                     /* never the values in clear */
    for (k = 0; k < params->nelts; k++) {
        const pds_query_param_t *param = &APR_ARRAY_IDX(params, k, pds_query_param_t);
        const query_decl_t *d = find_decl(q, param->name);
        const char *value = param->value;

        if (d == NULL || (d->type != Q_INT && d->type != Q_ENUM))
            value = pds_chain_pseudonym(p, key, param->value);
        if (value == NULL)
            return "-";
        out = apr_pstrcat(p, out != NULL ? out : "", out != NULL ? "&" : "", param->name,
                          "=", value, NULL);
    }
    return out;
}
