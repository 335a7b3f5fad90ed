/* pds_write.c: the Write list as a shape, and the check of a write's body
 * against it (pds_write.h). The shape is a tree of its own, not the filter's:
 * the filter stops at a path released whole, where a write goes on to check
 * what the replacing value holds.
 */
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_fieldset_tree.h"
#include "pds_filter_int.h"
#include "pds_syntax.h"
#include "pds_write.h"

typedef struct wnode_t wnode_t;
struct wnode_t {
    const char *where;      /* the place, as a path ("telecom[*].value") */
    const char *path;       /* the Write path ending here; NULL: on the way */
    int index;              /* its index in the Write list */
    apr_hash_t *children;   /* member name -> wnode_t; NULL when none */
    wnode_t *each;          /* "[*]": every element */
};

struct pds_write_shape_t {
    wnode_t *root;
    const pds_fieldset_t *write;
    int count;              /* paths in the Write list */
};

static wnode_t *wnode_create(apr_pool_t *p, const char *where)
{
    wnode_t *n = apr_pcalloc(p, sizeof(*n));

    n->where = where;
    n->index = -1;
    return n;
}

/* A Write list the shape cannot hold: err->source the path; evaluates to
 * APR_EINVAL. */
#define bad_write(err, path, ...) \
    (pds_error_set((err), "bad-write", -1, (path), __VA_ARGS__), APR_EINVAL)

/* Adds one parsed Write path to the tree. */
static apr_status_t add_path(pds_write_shape_t *s, const pds_field_path_t *fp, int index,
                             apr_pool_t *p, pds_error_t *err)
{
    wnode_t *node = s->root, *next;
    int k;

    for (k = 0; k < fp->nsteps; k++) {
        const pds_field_step_t *st = &fp->steps[k];

        if (st->name == NULL && st->npreds > 0) {
            const char *every = pds_fieldset_path_every(p, fp->text);
            const char *array = node->where;

            return bad_write(err, fp->text, "Write %s: a write cannot be held to the "
                             "elements a predicate selects: a PATCH (JSON merge patch), "
                             "PUT or POST replaces the array %s whole, elements that do "
                             "not match included. Write `Write %s %s` to let the caller "
                             "replace it (each element carrying only what is named), or "
                             "leave the path out", fp->text, array, array, every ? every : "...");
        }
        if (st->name == NULL && k == 0)
            return bad_write(err, fp->text, "Write %s: a write's body is one record (a "
                             "JSON object), so a Write path names a member of it and "
                             "cannot start with [*]", fp->text);
        if (st->name == NULL) {
            if (node->each == NULL)
                node->each = wnode_create(p, apr_pstrcat(p, node->where, "[*]", NULL));
            node = node->each;
        }
        else {
            const char *name = apr_pstrmemdup(p, st->name, st->len);

            if (node->children == NULL)
                node->children = apr_hash_make(p);
            next = apr_hash_get(node->children, st->name, (apr_ssize_t)st->len);
            if (next == NULL) {
                next = wnode_create(p, node == s->root ? name
                                    : apr_pstrcat(p, node->where, ".", name, NULL));
                apr_hash_set(node->children, name, (apr_ssize_t)st->len, next);
            }
            node = next;
        }
    }
    if (node->path == NULL) {
        node->path = fp->text;
        node->index = index;
    }
    return APR_SUCCESS;
}

/* Whether a PATCH could write the path: every step it must replace has a
 * path named at or above it (known only once every path is in:
 * "telecom[*].value" may come before "telecom"). Deep-merge replaces arrays;
 * top-level, every top-level member. */
static apr_status_t check_patch(pds_write_shape_t *s, const pds_field_path_t *fp,
                                pds_write_mode_t patch, pds_error_t *err)
{
    wnode_t *node = s->root;
    const char *top = "";
    int k, replaceable = 0;

    for (k = 0; k < fp->nsteps; k++) {
        const pds_field_step_t *st = &fp->steps[k];

        if (k > 0 && !replaceable && st->name == NULL)
            return bad_write(err, fp->text, "Write %s: a PATCH can change an element of "
                             "%s only by replacing the whole array, which the Write list "
                             "does not allow: add `Write %s` (%s may then be replaced, "
                             "its elements carrying only the members named)", fp->text,
                             node->where, node->where, node->where);
        if (k > 0 && !replaceable && patch == PDS_WRITE_TOP_LEVEL)
            return bad_write(err, fp->text, "Write %s: a PATCH carrying %s replaces %s "
                             "whole at a back end that merges only top-level members "
                             "(WritePatch top-level, the default, as json-server does), "
                             "which the Write list does not allow: add `Write %s` (%s may "
                             "then be replaced, carrying only the members named), or, if "
                             "the back end merges nested objects as RFC 7396 says, write "
                             "`WritePatch deep-merge`", fp->text, top, top, top, top);
        if (st->name == NULL)
            node = node->each;
        else
            node = apr_hash_get(node->children, st->name, (apr_ssize_t)st->len);
        if (k == 0)
            top = node->where;
        if (node->path != NULL)
            replaceable = 1;
    }
    return APR_SUCCESS;
}

apr_status_t pds_write_shape_compile(pds_write_shape_t **pshape,
                                     const pds_fieldset_t *write, pds_write_mode_t patch,
                                     apr_pool_t *p, pds_error_t *err)
{
    pds_write_shape_t *s;
    pds_field_path_t **parsed;
    int i, n = write != NULL ? pds_fieldset_count(write) : 0;

    s = apr_pcalloc(p, sizeof(*s));
    s->root = wnode_create(p, "");
    s->write = write;
    s->count = n;
    parsed = apr_pcalloc(p, sizeof(*parsed) * (apr_size_t)(n + 1));
    for (i = 0; i < n; i++) {
        parsed[i] = pds_fieldset_parse_path(pds_fieldset_path(write, i), p, err);
        if (parsed[i] == NULL)
            return APR_EINVAL;
        /* The PATCH check waits for every path: see check_patch. */
        if (add_path(s, parsed[i], i, p, err) != APR_SUCCESS)
            return APR_EINVAL;
    }
    for (i = 0; patch != PDS_WRITE_RECORD && i < n; i++) {
        if (check_patch(s, parsed[i], patch, err) != APR_SUCCESS)
            return APR_EINVAL;
    }
    *pshape = s;
    return APR_SUCCESS;
}

/* ---- the check ------------------------------------------------------------ */

typedef struct wcheck_t {
    apr_pool_t *p;
    pds_write_mode_t mode;
    int strip;
    apr_array_header_t *uncovered;
    apr_hash_t *seen;
    char *written;              /* per Write path: written by the body */
    const char *refusal;        /* the first shape refusal's text */
} wcheck_t;

static void note_uncovered(wcheck_t *c, const char *where)
{
    if (apr_hash_get(c->seen, where, APR_HASH_KEY_STRING) != NULL)
        return;
    apr_hash_set(c->seen, where, APR_HASH_KEY_STRING, where);
    APR_ARRAY_PUSH(c->uncovered, const char *) = where;
}

static int refuse(wcheck_t *c, const char *text)
{
    c->refusal = text;
    return 0;
}

/* Checks v at the place n; inside: v is part of a new value (a replaced one,
 * or a POST or PUT record), not merged into what the back end holds. Members
 * the list does not cover are noted (and removed from v when stripping).
 * 0 on a shape refusal (c->refusal). Recursion follows the document, whose
 * depth was checked when it was read. */
static int check_value(wcheck_t *c, const wnode_t *n, json_t *v, const char *where,
                       int inside)
{
    int leaf = n->path != NULL && n->children == NULL && n->each == NULL;
    const char *key;
    json_t *member;
    void *tmp;
    size_t i;

    if (json_is_null(v)) {
        if (n->path == NULL && !inside)
            return refuse(c, apr_psprintf(c->p, "%s is null, which removes %s whole at "
                          "the back end; the agreement lets only members of it be "
                          "written", where, where));
    }
    else if (json_is_object(v) || json_is_array(v)) {
        if (leaf)
            return refuse(c, apr_psprintf(c->p, "%s is %s; the agreement lets %s be "
                          "written only as a single value (a string, number, "
                          "boolean or null)", where, pds_filter_type_name(v), where));
        if (json_is_object(v) && n->children == NULL)
            return refuse(c, apr_psprintf(c->p, "%s is an object; the agreement lets "
                          "%s be written only as an array", where, where));
        if (json_is_array(v) && n->each == NULL)
            return refuse(c, apr_psprintf(c->p, "%s is an array; the agreement lets "
                          "%s be written only as an object", where, where));
        if (json_is_array(v) && n->path == NULL && !inside)
            return refuse(c, apr_psprintf(c->p, "%s is an array, which replaces %s "
                          "whole at the back end; the agreement does not let %s be "
                          "replaced", where, where, where));
        /* Top-level, a member's object replaces the member. */
        if (n->path == NULL && !inside && where[0] != '\0'
            && c->mode == PDS_WRITE_TOP_LEVEL)
            return refuse(c, apr_psprintf(c->p, "%s is an object, which replaces %s "
                          "whole at the back end; the agreement does not let %s be "
                          "replaced", where, where, where));
        if (json_is_object(v)) {
            json_object_foreach_safe(v, tmp, key, member) {
                const wnode_t *child = apr_hash_get(n->children, key, APR_HASH_KEY_STRING);
                const char *here = where[0] == '\0' ? apr_pstrdup(c->p, key)
                                   : apr_pstrcat(c->p, where, ".", key, NULL);

                if (child == NULL) {
                    note_uncovered(c, here);
                    if (c->strip)
                        json_object_del(v, key);
                    continue;
                }
                if (!check_value(c, child, member, here, inside || n->path != NULL))
                    return 0;
            }
        }
        else {
            const char *here = apr_pstrcat(c->p, where, "[*]", NULL);

            json_array_foreach(v, i, member) {
                if (!check_value(c, n->each, member, here, 1))
                    return 0;
            }
        }
    }
    else if (!leaf) {
        int elements = n->each != NULL && n->children == NULL;

        return refuse(c, apr_psprintf(c->p, "%s is %s; the agreement lets only %s of "
                      "%s be written", where, pds_filter_type_name(v),
                      elements ? "elements" : "members", where));
    }
    if (n->path != NULL)
        c->written[n->index] = 1;
    return 1;
}

apr_status_t pds_write_check(const pds_write_shape_t *shape, const char *input,
                             apr_size_t len, int max_depth, pds_write_mode_t mode,
                             int strip, pds_write_result_t *res, apr_pool_t *p,
                             pds_error_t *err)
{
    wcheck_t c;
    json_t *doc;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (shape == NULL || res == NULL || p == NULL || (input == NULL && len > 0)) {
        pds_error_set(err, "internal-error", -1, "JSON body",
                      "pds_write_check called without a shape, result or pool");
        return APR_EINVAL;
    }
    if (pds_filter_load(&doc, input, len, max_depth, err) != APR_SUCCESS)
        return APR_EINVAL;
    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.mode = mode;
    c.strip = strip;
    c.uncovered = apr_array_make(p, 4, sizeof(const char *));
    c.seen = apr_hash_make(p);
    c.written = apr_pcalloc(p, (apr_size_t)shape->count + 1);
    res->uncovered = c.uncovered;
    res->written = apr_array_make(p, shape->count > 0 ? shape->count : 1,
                                  sizeof(const char *));

    if (!json_is_object(doc)) {
        res->verdict = "write-not-allowed";
        res->detail = apr_psprintf(p, "the body is %s; a write's body is one record, a "
                                   "JSON object", pds_filter_type_name(doc));
        goto done;
    }
    if (!check_value(&c, shape->root, doc, "", mode == PDS_WRITE_RECORD)) {
        res->verdict = "write-not-allowed";
        res->detail = c.refusal;
        goto done;
    }
    if (c.uncovered->nelts > 0 && !strip) {
        res->verdict = "write-not-allowed";
        goto done;
    }
    for (i = 0; i < shape->count; i++) {
        if (c.written[i])
            APR_ARRAY_PUSH(res->written, const char *) = pds_fieldset_path(shape->write, i);
    }
    if (res->written->nelts == 0) {
        res->verdict = "write-empty";
        res->detail = c.uncovered->nelts > 0
            ? "once the fields the agreement does not let you write are removed "
              "(WriteUnknown strip), the body writes none of the fields it does: it "
              "would change nothing"
            : "the body writes none of the fields the agreement lets you write: it "
              "would change nothing";
        goto done;
    }
    rv = pds_filter_serialise(doc, &res->body, &res->length, p, err);
done:
    json_decref(doc);
    return rv;
}

/* ---- media types ---------------------------------------------------------- */

#define JSON_PATCH "application/json-patch+json"
#define MERGE_PATCH "application/merge-patch+json"

/* "type/subtype" of mt, lower case, in buf (NULL when it does not fit). */
static const char *type_text(const pds_media_type_t *mt, char *buf, apr_size_t size)
{
    apr_size_t i, n = mt->type_len + 1 + mt->subtype_len;

    if (n + 1 > size)
        return NULL;
    memcpy(buf, mt->type, mt->type_len);
    buf[mt->type_len] = '/';
    memcpy(buf + mt->type_len + 1, mt->subtype, mt->subtype_len);
    buf[n] = '\0';
    for (i = 0; i < n; i++)
        buf[i] = (char)apr_tolower(buf[i]);
    return buf;
}

const char *pds_write_media_check(const char *content_type, int patch,
                                  const apr_array_header_t *extra)
{
    static const char *const usual = "send the body as application/json (or "
        "application/fhir+json; application/merge-patch+json for a PATCH)";
    pds_media_type_t mt;
    char buf[160];
    const char *type;
    int i;

    if (!pds_syntax_media_type(content_type, &mt)
        || (type = type_text(&mt, buf, sizeof(buf))) == NULL)
        return usual;
    if (strcmp(type, "application/json") == 0 || strcmp(type, "application/fhir+json") == 0)
        return NULL;
    if (strcmp(type, MERGE_PATCH) == 0)
        return patch ? NULL : "application/merge-patch+json is a PATCH body (RFC 7396); "
                              "send a POST or PUT body as application/json";
    if (strcmp(type, JSON_PATCH) == 0)
        return "JSON Patch (application/json-patch+json) is not supported: send a JSON "
               "merge patch (application/merge-patch+json, RFC 7396) holding the fields "
               "to change";
    for (i = 0; extra != NULL && i < extra->nelts; i++) {
        if (strcmp(type, APR_ARRAY_IDX(extra, i, const char *)) == 0)
            return NULL;
    }
    return usual;
}

const char *pds_write_media_declarable(const char *type)
{
    pds_media_type_t mt;
    char buf[160];
    const char *t;

    if (type == NULL || strchr(type, ';') != NULL || !pds_syntax_media_type(type, &mt)
        || (t = type_text(&mt, buf, sizeof(buf))) == NULL
        || strncmp(t, "application/", 12) != 0 || mt.subtype_len <= 5
        || strcmp(t + strlen(t) - 5, "+json") != 0)
        return "expected a media type application/<name>+json without parameters, "
               "e.g. application/vnd.example+json";
    if (strcmp(t, JSON_PATCH) == 0)
        return "JSON Patch is not supported (its operations name places the Write list "
               "cannot check); clients send a JSON merge patch "
               "(application/merge-patch+json) instead";
    if (strcmp(t, "application/fhir+json") == 0 || strcmp(t, MERGE_PATCH) == 0)
        return "accepted without being listed: leave it out";
    return NULL;
}
