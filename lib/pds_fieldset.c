/* pds_fieldset.c: field paths and field sets (definitions in pds_filter.h).
 *
 * A field set is a tree compiled at configuration time (pds_fieldset_tree.h);
 * pds_filter.c walks it. Nothing in a set changes after configuration.
 */
#include <string.h>

#include <apr_hash.h>
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

/* Checks "[*]" at path + i (path[i] is '[') and, when steps is not NULL,
 * records it as step n. Returns 0 and sets err if it is not "[*]". */
static int scan_each(const char *path, apr_size_t i, pds_field_step_t *steps, int n,
                     pds_error_t *err)
{
    if (path[i + 1] != '*') {
        path_error(err, i + 1, "'[' must be followed by '*]'", path[i + 1]);
        return 0;
    }
    if (path[i + 2] != ']') {
        path_error(err, i + 2, "'[' must be followed by '*]'", path[i + 2]);
        return 0;
    }
    if (steps != NULL) {
        steps[n].name = NULL;
        steps[n].len = 0;
    }
    return 1;
}

int pds_fieldset_scan_path(const char *path, pds_field_step_t *steps, pds_error_t *err)
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
            if (!scan_each(path, i, steps, n, err))
                return -1;
            n++;
            i += 3;
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
            if (steps != NULL) {
                steps[n].name = path + start;
                steps[n].len = i - start;
            }
            n++;
            if (path[i] == '[') {
                if (!scan_each(path, i, steps, n, err))
                    return -1;
                n++;
                i += 3;
            }
            else if (path[i] != '\0' && path[i] != '.') {
                path_error(err, i, "a name holds only letters, digits, '_', "
                           "'-', '$' and '@'", path[i]);
                return -1;
            }
        }
        first = 0;
        if (path[i] == '\0')
            return n;
        if (path[i] != '.') {
            path_error(err, i, "expected '.' or the end of the path after "
                       "'[*]'", path[i]);
            return -1;
        }
        i++;
    }
}

static pds_field_node_t *node_create(apr_pool_t *p, const char *where)
{
    pds_field_node_t *node = apr_pcalloc(p, sizeof(*node));

    node->where = where;
    return node;
}

/* The node of the tree a path ends on, or NULL; *covered is set when a whole
 * node is met on the way (or at the end). */
static const pds_field_node_t *walk(const pds_fieldset_t *set,
                                    const pds_field_step_t *steps, int n,
                                    int *covered)
{
    const pds_field_node_t *node = set->root;
    int k;

    *covered = 0;
    for (k = 0; k < n; k++) {
        if (steps[k].name == NULL)
            node = node->each;
        else if (node->children != NULL)
            node = apr_hash_get(node->children, steps[k].name,
                                (apr_ssize_t)steps[k].len);
        else
            node = NULL;
        if (node == NULL)
            return NULL;
        if (node->whole) {
            *covered = 1;
            return node;
        }
    }
    return node;
}

apr_status_t pds_fieldset_create(pds_fieldset_t **pset, apr_pool_t *p)
{
    pds_fieldset_t *set;

    if (pset == NULL || p == NULL)
        return APR_EINVAL;
    set = apr_pcalloc(p, sizeof(*set));
    set->pool = p;
    set->root = node_create(p, "");
    set->paths = apr_array_make(p, 8, sizeof(pds_field_path_t));
    set->known = apr_hash_make(p);
    set->transforms = apr_array_make(p, 2, sizeof(pds_field_transform_t));
    *pset = set;
    return APR_SUCCESS;
}

apr_status_t pds_fieldset_add(pds_fieldset_t *set, const char *path,
                              pds_error_t *err)
{
    pds_field_step_t *steps;
    pds_field_path_t *entry;
    pds_field_node_t *node, *next;
    const char *text, *where;
    int n, k;

    if (set == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE,
                      "no field set to add to");
        return APR_EINVAL;
    }
    n = pds_fieldset_scan_path(path, NULL, err);
    if (n < 0)
        return APR_EINVAL;
    if (apr_hash_get(set->known, path, APR_HASH_KEY_STRING) != NULL)
        return APR_SUCCESS;

    text = apr_pstrdup(set->pool, path);
    steps = apr_palloc(set->pool, sizeof(*steps) * (apr_size_t)n);
    (void)pds_fieldset_scan_path(text, steps, NULL);

    node = set->root;
    for (k = 0; k < n && !node->whole; k++) {
        if (steps[k].name == NULL) {
            if (node->each == NULL) {
                where = apr_pstrcat(set->pool, node->where, "[*]", NULL);
                node->each = node_create(set->pool, where);
            }
            node = node->each;
            continue;
        }
        next = NULL;
        if (node->children == NULL)
            node->children = apr_hash_make(set->pool);
        else
            next = apr_hash_get(node->children, steps[k].name,
                                (apr_ssize_t)steps[k].len);
        if (next == NULL) {
            const char *name = apr_pstrmemdup(set->pool, steps[k].name,
                                              steps[k].len);

            where = node->where[0] == '\0'
                ? name : apr_pstrcat(set->pool, node->where, ".", name, NULL);
            next = node_create(set->pool, where);
            apr_hash_set(node->children, steps[k].name,
                         (apr_ssize_t)steps[k].len, next);
        }
        node = next;
    }
    node->whole = 1;

    entry = apr_array_push(set->paths);
    entry->text = text;
    entry->steps = steps;
    entry->nsteps = n;
    apr_hash_set(set->known, text, APR_HASH_KEY_STRING, entry);
    return APR_SUCCESS;
}

int pds_fieldset_count(const pds_fieldset_t *set)
{
    return set != NULL ? set->paths->nelts : 0;
}

const char *pds_fieldset_path(const pds_fieldset_t *set, int index)
{
    if (set == NULL || index < 0 || index >= set->paths->nelts)
        return NULL;
    return APR_ARRAY_IDX(set->paths, index, pds_field_path_t).text;
}

static int covers_steps(const pds_fieldset_t *set,
                        const pds_field_path_t *path)
{
    int covered;

    (void)walk(set, path->steps, path->nsteps, &covered);
    return covered;
}

int pds_fieldset_covers(const pds_fieldset_t *set, const char *path)
{
    /* A step takes at least two characters with its separator ("a." or
     * "[*]"), so a path that scans has at most this many. */
    pds_field_step_t steps[PDS_FIELD_PATH_MAX / 2 + 1];
    pds_field_path_t parsed;
    int n;

    if (set == NULL)
        return 0;
    n = pds_fieldset_scan_path(path, NULL, NULL);
    if (n < 0)
        return 0;
    (void)pds_fieldset_scan_path(path, steps, NULL);
    parsed.text = path;
    parsed.steps = steps;
    parsed.nsteps = n;
    return covers_steps(set, &parsed);
}

/* Do two parsed paths name the same place, or one a place below the other? */
static int paths_overlap(const pds_field_path_t *a, const pds_field_path_t *b)
{
    int k, n = a->nsteps < b->nsteps ? a->nsteps : b->nsteps;

    for (k = 0; k < n; k++) {
        if ((a->steps[k].name == NULL) != (b->steps[k].name == NULL))
            return 0;
        if (a->steps[k].name != NULL
            && (a->steps[k].len != b->steps[k].len
                || memcmp(a->steps[k].name, b->steps[k].name, a->steps[k].len) != 0))
            return 0;
    }
    return 1;
}

apr_status_t pds_fieldset_set_transform(pds_fieldset_t *set, const char *path,
                                        const pds_transform_t *t, pds_error_t *err)
{
    pds_field_transform_t entry;
    pds_field_step_t *steps;
    pds_transform_node_t *node, *next;
    int n, k, i;

    if (set == NULL || t == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE, "no set or transform");
        return APR_EINVAL;
    }
    n = pds_fieldset_scan_path(path, NULL, err);
    if (n < 0)
        return APR_EINVAL;
    steps = apr_palloc(set->pool, sizeof(*steps) * (apr_size_t)n);
    entry.path.text = apr_pstrdup(set->pool, path);
    (void)pds_fieldset_scan_path(entry.path.text, steps, NULL);
    entry.path.steps = steps;
    entry.path.nsteps = n;
    entry.transform = t;
    if (!covers_steps(set, &entry.path)) {
        pds_error_set(err, "bad-transform", 0, PDS_PATH_SOURCE,
                      "%s is not released by this agreement: a transform applies to "
                      "released fields (add it to Release)", path);
        return APR_EINVAL;
    }
    for (i = 0; i < set->transforms->nelts; i++) {
        const pds_field_transform_t *other =
            &APR_ARRAY_IDX(set->transforms, i, pds_field_transform_t);
        if (paths_overlap(&other->path, &entry.path)) {
            pds_error_set(err, "bad-transform", 0, PDS_PATH_SOURCE,
                          "%s already has a transform (%s on %s): one transform per "
                          "field, and none on a field inside another's", path,
                          pds_transform_text(other->transform), other->path.text);
            return APR_EINVAL;
        }
    }
    if (set->troot == NULL)
        set->troot = apr_pcalloc(set->pool, sizeof(*set->troot));
    node = set->troot;
    for (k = 0; k < n; k++) {
        if (steps[k].name == NULL) {
            if (node->each == NULL)
                node->each = apr_pcalloc(set->pool, sizeof(*node));
            node = node->each;
            continue;
        }
        if (node->children == NULL) {
            node->children = apr_hash_make(set->pool);
            node->child_list = apr_array_make(set->pool, 2, sizeof(pds_transform_child_t));
        }
        next = apr_hash_get(node->children, steps[k].name, (apr_ssize_t)steps[k].len);
        if (next == NULL) {
            pds_transform_child_t *c = &APR_ARRAY_PUSH(node->child_list,
                                                       pds_transform_child_t);
            next = apr_pcalloc(set->pool, sizeof(*next));
            c->name = apr_pstrmemdup(set->pool, steps[k].name, steps[k].len);
            c->len = steps[k].len;
            c->node = next;
            apr_hash_set(node->children, c->name, (apr_ssize_t)c->len, next);
        }
        node = next;
    }
    node->transform = t;
    node->path = entry.path.text;
    node->label = apr_pstrcat(set->pool, entry.path.text, " ", pds_transform_text(t), NULL);
    APR_ARRAY_PUSH(set->transforms, pds_field_transform_t) = entry;
    return APR_SUCCESS;
}

int pds_fieldset_transform_count(const pds_fieldset_t *set)
{
    return set != NULL ? set->transforms->nelts : 0;
}

const pds_transform_t *pds_fieldset_transform(const pds_fieldset_t *set, int index,
                                              const char **ppath)
{
    const pds_field_transform_t *e;

    if (set == NULL || index < 0 || index >= set->transforms->nelts)
        return NULL;
    e = &APR_ARRAY_IDX(set->transforms, index, pds_field_transform_t);
    if (ppath != NULL)
        *ppath = e->path.text;
    return e->transform;
}

apr_status_t pds_fieldset_intersect(pds_fieldset_t **pout, apr_pool_t *p,
                                    const pds_fieldset_t *a,
                                    const pds_fieldset_t *b)
{
    const pds_fieldset_t *from[2], *other[2];
    pds_fieldset_t *out;
    apr_status_t rv;
    int s, i;

    if (pout == NULL || p == NULL || a == NULL || b == NULL)
        return APR_EINVAL;
    rv = pds_fieldset_create(&out, p);
    if (rv != APR_SUCCESS)
        return rv;
    from[0] = a; other[0] = b;
    from[1] = b; other[1] = a;
    for (s = 0; s < 2; s++) {
        for (i = 0; i < from[s]->paths->nelts; i++) {
            const pds_field_path_t *path =
                &APR_ARRAY_IDX(from[s]->paths, i, pds_field_path_t);

            if (!covers_steps(other[s], path))
                continue;
            rv = pds_fieldset_add(out, path->text, NULL);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    /* The agreement's transforms go with the fields that remain: narrowing
     * by consent never releases a value in clear that the agreement
     * transforms. */
    for (s = 0; s < 2; s++) {
        for (i = 0; i < from[s]->transforms->nelts; i++) {
            const pds_field_transform_t *e =
                &APR_ARRAY_IDX(from[s]->transforms, i, pds_field_transform_t);

            if (!covers_steps(out, &e->path))
                continue;
            rv = pds_fieldset_set_transform(out, e->path.text, e->transform, NULL);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    *pout = out;
    return APR_SUCCESS;
}
