/* pds_fieldset_path.c: field paths and their predicates (grammar in
 * pds_filter.h): parsing at configuration time into bounded arrays, and
 * matching an array element against a step's predicates in one pass.
 * The field sets built from them are in pds_fieldset.c.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_fieldset_tree.h"

#define PDS_PATH_SOURCE "field path"

/* ---- field paths ---------------------------------------------------------- */

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '_' || c == '-' || c == '$' || c == '@';
}

/* "'x'", "the end" or "byte 0xNN": safe to print whatever the byte. */
static const char *describe_char(char c, char *buf, apr_size_t size)
{
    unsigned char u = (unsigned char)c;

    if (u == 0)
        return "the end";
    if (u > 0x20 && u < 0x7f)
        apr_snprintf(buf, size, "'%c'", c);
    else
        apr_snprintf(buf, size, "byte 0x%02X", (unsigned)u);
    return buf;
}

static void path_error(pds_error_t *err, apr_size_t pos, const char *what,
                       char found)
{
    char buf[16];

    pds_error_set(err, "bad-field-path", (int)pos, PDS_PATH_SOURCE,
                  "%s, found %s", what, describe_char(found, buf, sizeof(buf)));
}

/* "'[' must be followed by '*]', found X, <more>". */
static void bracket_error(pds_error_t *err, apr_size_t pos, char found, const char *more)
{
    char buf[16];

    pds_error_set(err, "bad-field-path", (int)pos, PDS_PATH_SOURCE,
                  "'[' must be followed by '*]', found %s, %s",
                  describe_char(found, buf, sizeof(buf)), more);
}

static int is_value_char(char c)
{
    return is_name_char(c) || c == '.' || c == ':' || c == '/';
}

static apr_size_t skip_spaces(const char *path, apr_size_t i)
{
    while (path[i] == ' ')
        i++;
    return i;
}

/* A JSON number at text (len bytes, nothing else): -?int[.digits][e[+-]digits]. */
static int is_number(const char *t, apr_size_t len)
{
    apr_size_t i = 0, d;

    if (i < len && t[i] == '-')
        i++;
    if (i < len && t[i] == '0')
        i++;
    else if (i < len && t[i] >= '1' && t[i] <= '9')
        while (i < len && t[i] >= '0' && t[i] <= '9')
            i++;
    else
        return 0;
    if (i < len && t[i] == '.') {
        for (d = ++i; i < len && t[i] >= '0' && t[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < len && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < len && (t[i] == '+' || t[i] == '-'))
            i++;
        for (d = i; i < len && t[i] >= '0' && t[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    return i == len;
}

/* One value at path + *pi into v; *pi moves past it. Returns 0 with err set. */
static int scan_value(const char *path, apr_size_t *pi, pds_field_value_t *v,
                      pds_error_t *err)
{
    apr_size_t i = *pi, start;
    char digits[64];

    memset(v, 0, sizeof(*v));
    if (path[i] == '"') {
        start = ++i;
        for (;;) {
            unsigned char c = (unsigned char)path[i];

            if (c == '"')
                break;
            if (c == '\0') {
                path_error(err, i, "a quoted value ends with '\"'", path[i]);
                return 0;
            }
            if (c < 0x20 || c == 0x7f) {
                path_error(err, i, "a quoted value holds no control characters",
                           path[i]);
                return 0;
            }
            if (c == '\\') {
                if (path[i + 1] != '"' && path[i + 1] != '\\') {
                    path_error(err, i + 1, "in a quoted value '\\' is followed by "
                               "'\"' or '\\'", path[i + 1]);
                    return 0;
                }
                v->escaped = 1;
                i++;
            }
            i++;
        }
        v->kind = PDS_VALUE_STRING;
        v->text = path + start;
        v->len = i - start;
        *pi = i + 1;
        return 1;
    }
    start = i;
    while (is_value_char(path[i]))
        i++;
    if (i == start) {
        path_error(err, i, "expected a value: a \"quoted string\", a word, a number, "
                   "true or false", path[i]);
        return 0;
    }
    v->text = path + start;
    v->len = i - start;
    if (path[start] == '-' || (path[start] >= '0' && path[start] <= '9')) {
        if (!is_number(v->text, v->len) || v->len >= sizeof(digits)) {
            pds_error_set(err, "bad-field-path", (int)start, PDS_PATH_SOURCE,
                          "a value starting with a digit or '-' is a number (e.g. 42, "
                          "-1.5): put text in double quotes, e.g. [code=\"%.*s\"]",
                          (int)(v->len < 40 ? v->len : 40), v->text);
            return 0;
        }
        memcpy(digits, v->text, v->len);
        digits[v->len] = '\0';
        v->kind = PDS_VALUE_NUMBER;
        v->number = strtod(digits, NULL);
    }
    else if (v->len == 4 && memcmp(v->text, "true", 4) == 0)
        v->kind = PDS_VALUE_TRUE;
    else if (v->len == 5 && memcmp(v->text, "false", 5) == 0)
        v->kind = PDS_VALUE_FALSE;
    else
        v->kind = PDS_VALUE_STRING;
    *pi = i;
    return 1;
}

/* Takes one more value into scan; 0 with err set when there is no room. */
static int push_value(pds_field_scan_t *scan, apr_size_t pos, pds_error_t *err)
{
    if (scan->nvalues >= PDS_FIELD_VALUES_MAX) {
        pds_error_set(err, "bad-field-path", (int)pos, PDS_PATH_SOURCE,
                      "a field path holds at most %d values in its predicates",
                      PDS_FIELD_VALUES_MAX);
        return 0;
    }
    scan->nvalues++;
    return 1;
}

/* The comparison of a predicate or a condition at path + *pi: "=" value,
 * "!=" value or "in (value, ...)", into pred (op, first, count); *pi moves
 * past it. spaced: white space came before it (" in" needs some). */
static int scan_comparison(const char *path, apr_size_t *pi, pds_field_scan_t *scan,
                           pds_field_pred_t *pred, int spaced, pds_error_t *err)
{
    apr_size_t i = *pi;

    pred->first = scan->nvalues;
    pred->count = 0;
    if (path[i] == '=' || (path[i] == '!' && path[i + 1] == '=')) {
        pred->op = path[i] == '=' ? PDS_PRED_EQ : PDS_PRED_NE;
        i = skip_spaces(path, i + (path[i] == '=' ? 1 : 2));
        if (!push_value(scan, i, err)
            || !scan_value(path, &i, &scan->values[scan->nvalues - 1], err))
            return 0;
        pred->count = 1;
    }
    else if (path[i] == 'i' && path[i + 1] == 'n' && spaced
             && (path[i + 2] == ' ' || path[i + 2] == '(')) {
        pred->op = PDS_PRED_IN;
        i = skip_spaces(path, i + 2);
        if (path[i] != '(') {
            path_error(err, i, "'in' is followed by a list: in (a, b)", path[i]);
            return 0;
        }
        for (;;) {
            i = skip_spaces(path, i + 1);
            if (!push_value(scan, i, err)
                || !scan_value(path, &i, &scan->values[scan->nvalues - 1], err))
                return 0;
            pred->count++;
            i = skip_spaces(path, i);
            if (path[i] == ')')
                break;
            if (path[i] != ',') {
                path_error(err, i, "expected ',' or ')' in the list after 'in'", path[i]);
                return 0;
            }
        }
        i++;
    }
    else {
        path_error(err, i, "expected '=', '!=' or ' in (' after the member name in a "
                   "predicate, e.g. [system=phone]", path[i]);
        return 0;
    }
    *pi = i;
    return 1;
}

/* One predicate "[member=value]", "[member!=value]" or "[member in (v, v)]"
 * at path + *pi (path[*pi] is '['); *pi moves past its ']'. */
static int scan_pred(const char *path, apr_size_t *pi, pds_field_scan_t *scan,
                     pds_error_t *err)
{
    apr_size_t i = skip_spaces(path, *pi + 1), start = i;
    pds_field_pred_t *pred;

    if (scan->npreds >= PDS_FIELD_PREDS_MAX) {
        pds_error_set(err, "bad-field-path", (int)*pi, PDS_PATH_SOURCE,
                      "a field path holds at most %d predicates", PDS_FIELD_PREDS_MAX);
        return 0;
    }
    while (is_name_char(path[i]))
        i++;
    if (i == start || path[skip_spaces(path, i)] == ']' || path[skip_spaces(path, i)] == '\0') {
        bracket_error(err, *pi + 1, path[*pi + 1], "or by a predicate such as "
                      "[system=phone]");
        return 0;
    }
    pred = &scan->preds[scan->npreds++];
    pred->member = path + start;
    pred->member_len = i - start;
    i = skip_spaces(path, i);
    if (!scan_comparison(path, &i, scan, pred, i > start + pred->member_len, err))
        return 0;
    i = skip_spaces(path, i);
    if (path[i] != ']') {
        path_error(err, i, "expected ']' to end the predicate (one comparison per "
                   "[...]: write [a=1][b=2] for both)", path[i]);
        return 0;
    }
    *pi = i + 1;
    return 1;
}

/* The selector after a name at path + *pi (path[*pi] is '['): "[*]" or one or
 * more predicates, recorded as step n. */
static int scan_selector(const char *path, apr_size_t *pi, pds_field_scan_t *scan,
                         int n, pds_error_t *err)
{
    pds_field_step_t *step = &scan->steps[n];
    apr_size_t i = *pi;

    step->name = NULL;
    step->len = 0;
    step->first_pred = scan->npreds;
    step->npreds = 0;
    step->sel = path + i;
    if (path[i + 1] == '*') {
        if (path[i + 2] != ']') {
            path_error(err, i + 2, "'[' must be followed by '*]'", path[i + 2]);
            return 0;
        }
        step->sel_len = 3;
        *pi = i + 3;
        return 1;
    }
    while (path[i] == '[') {
        if (!scan_pred(path, &i, scan, err))
            return 0;
        step->npreds++;
    }
    step->sel_len = (apr_size_t)(path + i - step->sel);
    *pi = i;
    return 1;
}

/* Where a condition's path may end and its comparison begin. */
static int starts_test(char c)
{
    return c == '=' || c == '!' || c == ' ';
}

/* The steps of path into scan (already emptied). With test_end non-NULL the
 * path may stop before a comparison ('=', '!=' or " in"): *test_end is then
 * where it stopped (path's length when there is none). Returns the number of
 * steps, or -1 with err set. */
static int scan_steps(const char *path, pds_field_scan_t *scan, apr_size_t *test_end,
                      pds_error_t *err)
{
    apr_size_t i = 0, start;
    int n = 0, first = 1;

    if (path == NULL || path[0] == '\0') {
        pds_error_set(err, "bad-field-path", 0, PDS_PATH_SOURCE,
                      "empty path: name a field, e.g. \"name.given\"");
        return -1;
    }
    if (strlen(path) > PDS_FIELD_PATH_MAX) {
        pds_error_set(err, "bad-field-path", PDS_FIELD_PATH_MAX, PDS_PATH_SOURCE,
                      "a field path is at most %d characters",
                      PDS_FIELD_PATH_MAX);
        return -1;
    }
    for (;;) {
        if (path[i] == '[') {
            if (!first) {
                path_error(err, i, "expected a name after '.' ('[*]' follows "
                           "a name, or starts the path)", path[i]);
                return -1;
            }
            if (path[i + 1] != '*') {
                bracket_error(err, i + 1, path[i + 1], "at the start of a path (a "
                              "predicate follows a name: telecom[system=phone])");
                return -1;
            }
            if (!scan_selector(path, &i, scan, n, err))
                return -1;
            n++;
        }
        else {
            start = i;
            while (is_name_char(path[i]))
                i++;
            if (i == start) {
                if (first)
                    path_error(err, i, "expected a name or '[*]'", path[i]);
                else
                    path_error(err, i, "expected a name after '.'", path[i]);
                return -1;
            }
            scan->steps[n].name = path + start;
            scan->steps[n].len = i - start;
            scan->steps[n].first_pred = scan->steps[n].npreds = 0;
            scan->steps[n].sel = NULL;
            scan->steps[n].sel_len = 0;
            n++;
            if (path[i] == '[') {
                if (!scan_selector(path, &i, scan, n, err))
                    return -1;
                n++;
            }
            else if (path[i] != '\0' && path[i] != '.'
                     && !(test_end != NULL && starts_test(path[i]))) {
                path_error(err, i, test_end != NULL
                           ? "a name holds only letters, digits, '_', '-', '$' and "
                             "'@' (a comparison is '=', '!=' or ' in (')"
                           : "a name holds only letters, digits, '_', "
                             "'-', '$' and '@'", path[i]);
                return -1;
            }
        }
        first = 0;
        if (path[i] == '\0' || (test_end != NULL && starts_test(path[i]))) {
            if (test_end != NULL)
                *test_end = i;
            scan->nsteps = n;
            return n;
        }
        if (path[i] != '.') {
            path_error(err, i, test_end != NULL
                       ? "expected '.', a comparison ('=', '!=', ' in (') or the end "
                         "of the condition after '[*]' or a predicate"
                       : "expected '.' or the end of the path after "
                         "'[*]' or a predicate", path[i]);
            return -1;
        }
        i++;
    }
}

int pds_fieldset_scan_path(const char *path, pds_field_scan_t *out, pds_error_t *err)
{
    pds_field_scan_t local, *scan = out != NULL ? out : &local;

    scan->nsteps = scan->npreds = scan->nvalues = 0;
    return scan_steps(path, scan, NULL, err);
}

int pds_fieldset_scan_condition(const char *text, pds_field_scan_t *out, int *ptest,
                                pds_error_t *err)
{
    pds_field_scan_t local, *scan = out != NULL ? out : &local;
    apr_size_t i = 0;
    pds_field_pred_t *test;
    int n, spaced;

    scan->nsteps = scan->npreds = scan->nvalues = 0;
    *ptest = -1;
    n = scan_steps(text, scan, &i, err);
    if (n < 0)
        return -1;
    if (text[i] == '\0')
        return n;
    spaced = text[i] == ' ';
    i = skip_spaces(text, i);
    if (text[i] == '\0') {
        path_error(err, i, "a condition ends with its path or its comparison, "
                   "not with a space", text[i]);
        return -1;
    }
    if (scan->npreds >= PDS_FIELD_PREDS_MAX) {
        pds_error_set(err, "bad-field-path", (int)i, PDS_PATH_SOURCE,
                      "a field path holds at most %d predicates", PDS_FIELD_PREDS_MAX);
        return -1;
    }
    test = &scan->preds[scan->npreds];
    test->member = NULL;        /* the value at the path itself */
    test->member_len = 0;
    if (!scan_comparison(text, &i, scan, test, spaced, err))
        return -1;
    i = skip_spaces(text, i);
    if (text[i] != '\0') {
        path_error(err, i, "expected the end of the condition after its comparison "
                   "(one comparison per condition)", text[i]);
        return -1;
    }
    *ptest = scan->npreds++;
    return n;
}

pds_field_path_t *pds_fieldset_parse_path(const char *path, apr_pool_t *p,
                                          pds_error_t *err)
{
    pds_field_scan_t *scan;
    pds_field_path_t *out;
    const char *text;
    int n;

    /* Scanned twice: once to check it (into a scratch buffer: no pool memory
     * for paths refused), once into the copy the result points into. */
    scan = malloc(sizeof(*scan));
    if (scan == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE, "out of memory");
        return NULL;
    }
    n = pds_fieldset_scan_path(path, scan, err);
    if (n < 0) {
        free(scan);
        return NULL;
    }
    text = apr_pstrdup(p, path);
    (void)pds_fieldset_scan_path(text, scan, NULL);
    out = apr_palloc(p, sizeof(*out));
    out->text = text;
    out->nsteps = n;
    out->steps = apr_pmemdup(p, scan->steps, sizeof(scan->steps[0]) * (apr_size_t)n);
    out->preds = scan->npreds == 0 ? NULL
        : apr_pmemdup(p, scan->preds, sizeof(scan->preds[0]) * (apr_size_t)scan->npreds);
    out->values = scan->nvalues == 0 ? NULL
        : apr_pmemdup(p, scan->values, sizeof(scan->values[0]) * (apr_size_t)scan->nvalues);
    free(scan);
    return out;
}

pds_field_condition_t *pds_fieldset_parse_condition(const char *text, apr_pool_t *p,
                                                    pds_error_t *err)
{
    pds_field_scan_t *scan;
    pds_field_condition_t *out;
    const char *copy;
    int n, test;

    scan = malloc(sizeof(*scan));
    if (scan == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE, "out of memory");
        return NULL;
    }
    n = pds_fieldset_scan_condition(text, scan, &test, err);
    if (n < 0) {
        free(scan);
        return NULL;
    }
    copy = apr_pstrdup(p, text);
    (void)pds_fieldset_scan_condition(copy, scan, &test, NULL);
    out = apr_palloc(p, sizeof(*out));
    out->path.text = copy;
    out->path.nsteps = n;
    out->path.steps = apr_pmemdup(p, scan->steps, sizeof(scan->steps[0]) * (apr_size_t)n);
    out->path.preds = scan->npreds == 0 ? NULL
        : apr_pmemdup(p, scan->preds, sizeof(scan->preds[0]) * (apr_size_t)scan->npreds);
    out->path.values = scan->nvalues == 0 ? NULL
        : apr_pmemdup(p, scan->values, sizeof(scan->values[0]) * (apr_size_t)scan->nvalues);
    out->test = test;
    free(scan);
    return out;
}

/* Does the condition hold below v, from step k on? Each value of the
 * document is visited at most once (a path only goes down), and the walk
 * stops at the first value that makes it hold. */
static int condition_holds_at(const pds_field_condition_t *c, int k, json_t *v)
{
    const pds_field_step_t *step;
    json_t *element;
    size_t i;

    if (v == NULL || json_is_null(v))
        return 0;                           /* absent: nothing to hold on */
    if (k == c->path.nsteps) {
        if (c->test < 0)
            return 1;                       /* present, and no comparison */
        if (json_is_object(v) || json_is_array(v))
            return 1;                       /* cannot be compared: in doubt */
        return pds_field_pred_holds(&c->path, &c->path.preds[c->test], v);
    }
    step = &c->path.steps[k];
    if (step->name != NULL) {
        if (!json_is_object(v))
            return 1;                       /* not the shape the rule reads */
        return condition_holds_at(c, k + 1, json_object_getn(v, step->name, step->len));
    }
    if (!json_is_array(v))
        return 1;
    json_array_foreach(v, i, element) {
        if ((step->npreds == 0 || pds_field_step_matches(&c->path, k, element))
            && condition_holds_at(c, k + 1, element))
            return 1;
    }
    return 0;
}

int pds_field_condition_holds(const pds_field_condition_t *c, json_t *record)
{
    return condition_holds_at(c, 0, record);
}

/* ---- predicates ------------------------------------------------------------ */

int pds_field_value_text_equals(const pds_field_value_t *v, const char *s, apr_size_t n)
{
    apr_size_t i, k = 0;

    if (!v->escaped)
        return v->len == n && memcmp(v->text, s, n) == 0;
    for (i = 0; i < v->len; i++, k++) {
        if (v->text[i] == '\\')
            i++;
        if (k >= n || v->text[i] != s[k])
            return 0;
    }
    return k == n;
}

static int value_matches(const pds_field_value_t *v, json_t *m)
{
    switch (v->kind) {
    case PDS_VALUE_STRING:
        return json_is_string(m) && pds_field_value_text_equals(v, json_string_value(m),
                                                json_string_length(m));
    case PDS_VALUE_NUMBER:
        return json_is_number(m) && json_number_value(m) == v->number;
    case PDS_VALUE_TRUE:
        return json_is_true(m);
    case PDS_VALUE_FALSE:
        return json_is_false(m);
    }
    return 0;
}

int pds_field_pred_holds(const pds_field_path_t *path, const pds_field_pred_t *pred,
                         json_t *m)
{
    int j, hit = 0;

    if (m == NULL || !(json_is_string(m) || json_is_number(m) || json_is_boolean(m)))
        return 0;
    for (j = 0; j < pred->count && !hit; j++)
        hit = value_matches(&path->values[pred->first + j], m);
    return pred->op == PDS_PRED_NE ? !hit : hit;
}

int pds_field_step_matches(const pds_field_path_t *path, int step, json_t *element)
{
    const pds_field_step_t *s = &path->steps[step];
    int k;

    if (!json_is_object(element))
        return 0;
    for (k = 0; k < s->npreds; k++) {
        const pds_field_pred_t *pred = &path->preds[s->first_pred + k];

        if (!pds_field_pred_holds(path, pred,
                                  json_object_getn(element, pred->member, pred->member_len)))
            return 0;
    }
    return 1;
}

/* Do two values say the same? Compares decoded text. */
static int values_same(const pds_field_value_t *a, const pds_field_value_t *b)
{
    apr_size_t i, j;

    if (a->kind != b->kind)
        return 0;
    if (a->kind == PDS_VALUE_NUMBER)
        return a->number == b->number;
    if (a->kind != PDS_VALUE_STRING)
        return 1;
    for (i = 0, j = 0; i < a->len && j < b->len; i++, j++) {
        if (a->text[i] == '\\')
            i++;
        if (b->text[j] == '\\')
            j++;
        if (a->text[i] != b->text[j])
            return 0;
    }
    return i == a->len && j == b->len;
}

int pds_field_steps_same_preds(const pds_field_path_t *a, int sa,
                               const pds_field_path_t *b, int sb)
{
    const pds_field_step_t *x = &a->steps[sa], *y = &b->steps[sb];
    int k, j;

    if (x->npreds != y->npreds)
        return 0;
    for (k = 0; k < x->npreds; k++) {
        const pds_field_pred_t *p = &a->preds[x->first_pred + k];
        const pds_field_pred_t *q = &b->preds[y->first_pred + k];

        if (p->op != q->op || p->count != q->count || p->member_len != q->member_len
            || memcmp(p->member, q->member, p->member_len) != 0)
            return 0;
        for (j = 0; j < p->count; j++)
            if (!values_same(&a->values[p->first + j], &b->values[q->first + j]))
                return 0;
    }
    return 1;
}

const char *pds_fieldset_path_every(apr_pool_t *p, const char *path)
{
    const pds_field_path_t *fp;
    const char *from, *out = "";
    int i;

    fp = pds_fieldset_parse_path(path, p, NULL);
    if (fp == NULL)
        return NULL;
    from = fp->text;
    for (i = 0; i < fp->nsteps; i++) {
        const pds_field_step_t *st = &fp->steps[i];

        if (st->name != NULL || st->npreds == 0)
            continue;
        /* sel points into fp->text: copy up to it, then "[*]" for it. */
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, from, (apr_size_t)(st->sel - from)),
                          "[*]", NULL);
        from = st->sel + st->sel_len;
    }
    return apr_pstrcat(p, out, from, NULL);
}
