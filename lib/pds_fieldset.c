/* pds_fieldset.c: field sets (definitions in pds_filter.h; the paths they
 * are made of: pds_fieldset_path.c).
 *
 * A field set is a tree compiled at configuration time (pds_fieldset_tree.h);
 * pds_filter.c walks it. Nothing in a set changes after configuration.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "pds_fieldset_tree.h"

#define PDS_PATH_SOURCE "field path"

static pds_field_node_t *node_create(apr_pool_t *p, const char *where)
{
    pds_field_node_t *node = apr_pcalloc(p, sizeof(*node));

    node->where = where;
    return node;
}

/* Non-zero when the tree below node releases everything path names from
 * step k on: a whole node on the way. A predicated step is covered by "[*]"
 * or by the same predicates; "[*]" only by "[*]" (conservative: a predicate
 * never stands for every element). With within set, "[*]" is also covered by
 * a predicated branch: path then only has to lie inside what may be released
 * (where a transform may apply: it changes what is there, and only that). */
static int covers_from(const pds_field_node_t *node, const pds_field_path_t *path, int k,
                       int within)
{
    const pds_field_step_t *step;
    int b;

    for (; node != NULL; k++) {
        if (node->whole)
            return 1;
        if (k == path->nsteps)
            return 0;
        step = &path->steps[k];
        if (step->name != NULL) {
            node = node->children == NULL ? NULL
                : apr_hash_get(node->children, step->name, (apr_ssize_t)step->len);
            continue;
        }
        for (b = 0; (step->npreds > 0 || within) && node->branches != NULL
                    && b < node->branches->nelts; b++) {
            const pds_field_branch_t *br =
                &APR_ARRAY_IDX(node->branches, b, pds_field_branch_t);
            if ((within || pds_field_steps_same_preds(br->path, br->step, path, k))
                && covers_from(br->node, path, k + 1, within))
                return 1;
        }
        node = node->each;
    }
    return 0;
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

/* The node for the predicated step k of path below node, made if needed:
 * paths with the same predicates on a step share it. */
static pds_field_node_t *branch_node(pds_fieldset_t *set, pds_field_node_t *node,
                                     const pds_field_path_t *path, int k)
{
    pds_field_branch_t *br;
    int b;

    if (node->branches == NULL)
        node->branches = apr_array_make(set->pool, 2, sizeof(pds_field_branch_t));
    for (b = 0; b < node->branches->nelts; b++) {
        br = &APR_ARRAY_IDX(node->branches, b, pds_field_branch_t);
        if (pds_field_steps_same_preds(br->path, br->step, path, k))
            return br->node;
    }
    br = apr_array_push(node->branches);
    br->path = path;
    br->step = k;
    br->node = node_create(set->pool, apr_pstrcat(set->pool, node->where,
        apr_pstrmemdup(set->pool, path->steps[k].sel, path->steps[k].sel_len), NULL));
    return br->node;
}

apr_status_t pds_fieldset_add(pds_fieldset_t *set, const char *path,
                              pds_error_t *err)
{
    const pds_field_path_t *parsed;
    const pds_field_step_t *steps;
    pds_field_node_t *node, *next;
    const char *where;
    int n, k;

    if (set == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE,
                      "no field set to add to");
        return APR_EINVAL;
    }
    if (path != NULL && apr_hash_get(set->known, path, APR_HASH_KEY_STRING) != NULL)
        return APR_SUCCESS;         /* known, so well formed */
    parsed = pds_fieldset_parse_path(path, set->pool, err);
    if (parsed == NULL)
        return APR_EINVAL;
    steps = parsed->steps;
    n = parsed->nsteps;

    node = set->root;
    for (k = 0; k < n && !node->whole; k++) {
        if (steps[k].name == NULL && steps[k].npreds > 0) {
            node = branch_node(set, node, parsed, k);
            continue;
        }
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

    APR_ARRAY_PUSH(set->paths, pds_field_path_t) = *parsed;
    apr_hash_set(set->known, parsed->text, APR_HASH_KEY_STRING, parsed);
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
    return covers_from(set->root, path, 0, 0);
}

/* Does path lie inside what set may release ("telecom[*].value" inside
 * "telecom[system=phone].value")? Where a transform may go. */
static int within_steps(const pds_fieldset_t *set, const pds_field_path_t *path)
{
    return covers_from(set->root, path, 0, 1);
}

int pds_fieldset_covers(const pds_fieldset_t *set, const char *path)
{
    pds_field_path_t parsed;
    pds_field_scan_t *scan;
    int n, covered;

    if (set == NULL)
        return 0;
    scan = malloc(sizeof(*scan));
    if (scan == NULL)
        return 0;
    n = pds_fieldset_scan_path(path, scan, NULL);
    covered = 0;
    if (n >= 0) {
        parsed.text = path;
        parsed.steps = scan->steps;
        parsed.nsteps = n;
        parsed.preds = scan->preds;
        parsed.values = scan->values;
        covered = covers_steps(set, &parsed);
    }
    free(scan);
    return covered;
}

/* Do two parsed paths name the same place, or one a place below the other?
 * Element steps overlap whatever their predicates (one element can satisfy
 * both). */
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
    const pds_field_path_t *parsed;
    const pds_field_step_t *steps;
    pds_transform_node_t *node, *next;
    int n, k, i;

    if (set == NULL || t == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_PATH_SOURCE, "no set or transform");
        return APR_EINVAL;
    }
    parsed = pds_fieldset_parse_path(path, set->pool, err);
    if (parsed == NULL)
        return APR_EINVAL;
    steps = parsed->steps;
    n = parsed->nsteps;
    for (k = 0; k < n; k++) {
        /* Transforms run on the filtered document, where the member a
         * predicate tests may be gone: refused rather than applied to the
         * wrong elements or to none ("[*]" inside a predicated release
         * applies to what was released). */
        if (steps[k].npreds > 0) {
            pds_error_set(err, "bad-transform", 0, PDS_PATH_SOURCE,
                          "%s: a transform's path holds no predicates (it runs on the "
                          "filtered document, where the member a predicate tests may be "
                          "gone): write [*] (e.g. Transform telecom[*].value mask 4 with "
                          "Release telecom[system=phone].value transforms the phone "
                          "numbers released)", path);
            return APR_EINVAL;
        }
    }
    entry.path = *parsed;
    entry.transform = t;
    if (!within_steps(set, &entry.path)) {
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

            if (!within_steps(out, &e->path))
                continue;
            rv = pds_fieldset_set_transform(out, e->path.text, e->transform, NULL);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    *pout = out;
    return APR_SUCCESS;
}
