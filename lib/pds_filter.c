/* pds_filter.c: the JSON allow-list filter (field sets: pds_fieldset.c).
 *
 * A field set is a tree compiled at configuration time. Filtering walks the
 * INPUT document and looks each member up in the tree, so the output keeps the
 * input's member order and lookups cost one hash probe per member. Nothing in
 * a set changes after configuration: apply only reads it (apr_hash_get is a
 * pure read; we never iterate a set's hashes, whose iterator is shared state).
 *
 * The output tree shares the input's values (json_incref) instead of copying
 * them, and is written out by our own serialiser so that reals come back in
 * their shortest round-trip form (jansson always writes 17 digits, turning
 * 0.1 into 0.10000000000000001). The body's parser policy and that
 * serialiser are in pds_filter_json.c, the transforms applied to the
 * filtered document in pds_filter_transform.c.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_fieldset_tree.h"
#include "pds_filter_int.h"
#include "pds_rowfilter.h"

/* ---- filtering ------------------------------------------------------------ */

const char *pds_filter_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER:
    case JSON_REAL:    return "a number";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    case JSON_NULL:    return "null";
    }
    return "a value";
}

static int has_elements(const pds_field_node_t *node)
{
    return node->each != NULL || node->branches != NULL;
}

/* v is not what the nodes (one place in the document) go into. */
static apr_status_t type_error_n(pds_error_t *err, const pds_field_node_t *const *nodes,
                                 int count, const json_t *v)
{
    const char *want;
    int objects = 0, arrays = 0, k;

    for (k = 0; k < count; k++) {
        objects |= nodes[k]->children != NULL;
        arrays |= has_elements(nodes[k]);
    }
    if (objects && arrays)
        want = "an object or an array";
    else if (arrays)
        want = "an array";
    else
        want = "an object";
    if (nodes[0]->where[0] == '\0')
        pds_error_set(err, "unexpected-type", -1, PDS_BODY_SOURCE,
                      "expected %s at the top level, found %s", want,
                      pds_filter_type_name(v));
    else
        pds_error_set(err, "unexpected-type", -1, PDS_BODY_SOURCE,
                      "expected %s at '%s', found %s", want, nodes[0]->where,
                      pds_filter_type_name(v));
    return APR_EINVAL;
}

static apr_status_t type_error(pds_error_t *err, const pds_field_node_t *node,
                               const json_t *v)
{
    return type_error_n(err, &node, 1, v);
}

/* Room for the nodes one place in the document goes through: on the stack
 * for a few, else on the heap (at most the nodes at one depth of a set). */
typedef struct pds_node_list_t {
    const pds_field_node_t **nodes;
    int count;
    const pds_field_node_t *local[8];
} pds_node_list_t;

static int node_list_init(pds_node_list_t *l, int room)
{
    l->count = 0;
    l->nodes = room <= 8 ? l->local : malloc(sizeof(*l->nodes) * (size_t)room);
    return l->nodes != NULL;
}

static void node_list_done(pds_node_list_t *l)
{
    if (l->nodes != l->local)
        free(l->nodes);
}

static apr_status_t filter_nodes(const pds_field_node_t *const *nodes, int count,
                                 json_t *v, json_t **out, pds_error_t *err);

/* The start of filter_members and filter_elements: result (a new container,
 * NULL when out of memory) and room for room nodes; both or neither. */
static apr_status_t begin_result(pds_node_list_t *next, int room, json_t *result,
                                 pds_error_t *err)
{
    if (result == NULL || !node_list_init(next, room)) {
        json_decref(result);
        return pds_filter_no_memory(err);
    }
    return APR_SUCCESS;
}

/* Their end: *out takes result when it holds something (size) and all went
 * well; otherwise it is dropped. Returns rv. */
static apr_status_t end_result(pds_node_list_t *next, json_t *result, size_t size,
                               apr_status_t rv, json_t **out)
{
    node_list_done(next);
    if (rv != APR_SUCCESS || size == 0)
        json_decref(result);
    else
        *out = result;
    return rv;
}

/* The members of object v that the nodes name, filtered, into a new object
 * (*out NULL when none is kept). */
static apr_status_t filter_members(const pds_field_node_t *const *nodes, int count,
                                   json_t *v, json_t **out, pds_error_t *err)
{
    pds_node_list_t next;
    apr_status_t rv = APR_SUCCESS;
    json_t *result, *member, *kept;
    const char *key;
    size_t key_len;
    int k;

    *out = NULL;
    result = json_object();
    if (begin_result(&next, count, result, err) != APR_SUCCESS)
        return APR_ENOMEM;
    json_object_keylen_foreach(v, key, key_len, member) {
        next.count = 0;
        for (k = 0; k < count; k++) {
            const pds_field_node_t *child = nodes[k]->children == NULL ? NULL
                : apr_hash_get(nodes[k]->children, key, (apr_ssize_t)key_len);
            if (child != NULL)
                next.nodes[next.count++] = child;
        }
        if (next.count == 0)
            continue;
        rv = filter_nodes(next.nodes, next.count, member, &kept, err);
        if (rv != APR_SUCCESS)
            break;
        if (kept != NULL
            && json_object_setn_new_nocheck(result, key, key_len, kept) != 0) {
            rv = pds_filter_no_memory(err);
            break;
        }
    }
    return end_result(&next, result, json_object_size(result), rv, out);
}

/* The elements of array v, each through "[*]" and the branches whose
 * predicates it satisfies (the union of what they release); an element
 * that none takes is removed, the others keep their order. */
static apr_status_t filter_elements(const pds_field_node_t *const *nodes, int count,
                                    json_t *v, json_t **out, pds_error_t *err)
{
    pds_node_list_t next;
    apr_status_t rv = APR_SUCCESS;
    json_t *result, *member, *kept;
    size_t i;
    int k, b, room = count;

    *out = NULL;
    for (k = 0; k < count; k++)
        room += nodes[k]->branches != NULL ? nodes[k]->branches->nelts : 0;
    result = json_array();
    if (begin_result(&next, room, result, err) != APR_SUCCESS)
        return APR_ENOMEM;
    json_array_foreach(v, i, member) {
        next.count = 0;
        for (k = 0; k < count; k++) {
            const apr_array_header_t *brs = nodes[k]->branches;

            if (nodes[k]->each != NULL)
                next.nodes[next.count++] = nodes[k]->each;
            for (b = 0; brs != NULL && b < brs->nelts; b++) {
                const pds_field_branch_t *br = &APR_ARRAY_IDX(brs, b, pds_field_branch_t);
                if (pds_field_step_matches(br->path, br->step, member))
                    next.nodes[next.count++] = br->node;
            }
        }
        if (next.count == 0)
            continue;
        rv = filter_nodes(next.nodes, next.count, member, &kept, err);
        if (rv != APR_SUCCESS)
            break;
        if (kept != NULL && json_array_append_new(result, kept) != 0) {
            rv = pds_filter_no_memory(err);
            break;
        }
    }
    return end_result(&next, result, json_array_size(result), rv, out);
}

/* Filters v through nodes (the places of a set that meet at v: several only
 * below elements that satisfy more than one branch). *out is a new
 * reference, or NULL when nothing below v is released. Recursion follows the
 * document, whose depth is checked. */
static apr_status_t filter_nodes(const pds_field_node_t *const *nodes, int count,
                                 json_t *v, json_t **out, pds_error_t *err)
{
    int k, objects = 0, arrays = 0;

    *out = NULL;
    for (k = 0; k < count; k++) {
        if (nodes[k]->whole) {
            *out = json_incref(v);
            return APR_SUCCESS;
        }
        objects |= nodes[k]->children != NULL;
        arrays |= has_elements(nodes[k]);
    }
    if (json_is_null(v))
        return APR_SUCCESS;
    if (json_is_object(v) && objects)
        return filter_members(nodes, count, v, out, err);
    if (json_is_array(v) && arrays)
        return filter_elements(nodes, count, v, out, err);
    return type_error_n(err, nodes, count, v);
}

static apr_status_t filter_value(const pds_field_node_t *node, json_t *v,
                                 json_t **out, pds_error_t *err)
{
    return filter_nodes(&node, 1, v, out, err);
}

/* Non-zero when path, from step k, names at least one value present in v
 * (null counts). */
static int path_present(json_t *v, const pds_field_path_t *path, int k)
{
    const pds_field_step_t *step;
    json_t *member;
    size_t i;

    if (k == path->nsteps)
        return 1;
    step = &path->steps[k];
    if (step->name != NULL) {
        if (!json_is_object(v))
            return 0;
        member = json_object_getn(v, step->name, step->len);
        return member != NULL && path_present(member, path, k + 1);
    }
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, member) {
        if ((step->npreds == 0 || pds_field_step_matches(path, k, member))
            && path_present(member, path, k + 1))
            return 1;
    }
    return 0;
}

/* ---- collections, record by record ----------------------------------------- */

/* What a record left out under drop_bad_records is counted by: the label
 * ("path transform") of the transform at err->source (configuration, never
 * data). */
static const char *drop_label(const pds_fieldset_t *set, const pds_error_t *err,
                              apr_pool_t *p)
{
    int i;

    for (i = 0; i < set->transforms->nelts; i++) {
        const pds_field_transform_t *e =
            &APR_ARRAY_IDX(set->transforms, i, pds_field_transform_t);
        if (strcmp(e->path.text, err->source) == 0)
            return apr_pstrcat(p, e->path.text, " ", pds_transform_text(e->transform), NULL);
    }
    return apr_pstrdup(p, err->source);
}

/* Adds the labels of row (the transforms one released record met) to all. */
static void merge_applied(apr_hash_t *all, apr_hash_t *row)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(NULL, row); hi != NULL; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;

        apr_hash_this(hi, &key, NULL, &val);
        apr_hash_set(all, key, APR_HASH_KEY_STRING, val);
    }
}

/* row_present: present, and the paths of set that row (a record of a
 * collection: "[*]" is step 0) holds a value at. */
static void record_present(const pds_fieldset_t *set, json_t *row, const char *present,
                           char *row_present)
{
    int k;

    for (k = 0; k < set->paths->nelts; k++) {
        const pds_field_path_t *path = &APR_ARRAY_IDX(set->paths, k, pds_field_path_t);

        row_present[k] = present[k]
            || (path->steps[0].name == NULL && path_present(row, path, 1));
    }
}

/* The subject a record names at path: a string, or an integer as text. A
 * predicated step picks the one element that satisfies it; none, or more
 * than one, and the record names no one (never a guess between two). */
static const char *record_subject(json_t *v, const pds_field_path_t *path, apr_pool_t *p)
{
    json_t *element, *found;
    size_t i;
    int k;

    for (k = 0; k < path->nsteps && v != NULL; k++) {
        const pds_field_step_t *step = &path->steps[k];

        if (step->name != NULL) {
            v = json_is_object(v) ? json_object_getn(v, step->name, step->len) : NULL;
            continue;
        }
        if (step->npreds == 0 || !json_is_array(v))
            return NULL;
        found = NULL;
        json_array_foreach(v, i, element) {
            if (!pds_field_step_matches(path, k, element))
                continue;
            if (found != NULL)
                return NULL;
            found = element;
        }
        v = found;
    }
    if (v == NULL)
        return NULL;
    if (json_is_string(v))
        return apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    return NULL;
}

apr_status_t pds_filter_row(const pds_fieldset_t *rowset, json_t *row,
                            const pds_transform_ctx_t *tctx, apr_array_header_t *dropped,
                            apr_hash_t *applied, json_t **pkept, apr_pool_t *p,
                            pds_error_t *err)
{
    apr_hash_t *row_applied;
    pds_error_t row_err;
    json_t *kept = NULL;
    apr_status_t rv;

    *pkept = NULL;
    rv = filter_value(rowset->root->each, row, &kept, err);
    if (rv != APR_SUCCESS || kept == NULL)
        return rv;
    if (rowset->troot == NULL || rowset->troot->each == NULL) {
        *pkept = kept;
        return APR_SUCCESS;
    }
    row_applied = apr_hash_make(p);
    pds_error_clear(&row_err);
    rv = pds_filter_transform(rowset->troot->each, kept, tctx, row_applied, &row_err);
    if (rv != APR_SUCCESS && dropped != NULL && strcmp(row_err.code, "transform-type") == 0) {
        /* A value no transform can release: this record stays out. */
        APR_ARRAY_PUSH(dropped, const char *) = drop_label(rowset, &row_err, p);
        json_decref(kept);
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        if (err != NULL && !pds_error_is_set(err))
            *err = row_err;
        json_decref(kept);
        return rv;
    }
    merge_applied(applied, row_applied);
    *pkept = kept;
    return APR_SUCCESS;
}

static apr_status_t replace_strings(json_t *v, const char *from, apr_size_t from_len,
                                    const char *to, apr_size_t *count, pds_error_t *err);

/* Exclude: a single record (an object) a condition holds for is refused
 * ("record-excluded", err->position the condition); from a collection (an
 * array) the records it holds for are taken out of *pdoc, and the condition
 * of each goes to *pexcluded (NULL without conditions). */
static apr_status_t exclude_records(const pds_filter_options_t *opts, json_t **pdoc,
                                    apr_array_header_t **pexcluded, apr_pool_t *p,
                                    pds_error_t *err)
{
    const pds_rowfilter_t *rf = opts != NULL ? opts->exclude : NULL;
    json_t *kept, *row;
    size_t i;
    int hit;

    *pexcluded = NULL;
    if (pds_rowfilter_count(rf) == 0)
        return APR_SUCCESS;
    if (json_is_object(*pdoc)) {
        hit = pds_rowfilter_match(rf, *pdoc);
        if (hit >= 0) {
            pds_error_set(err, "record-excluded", hit, "Exclude",
                          "the record is one an Exclude condition leaves out");
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    }
    if (!json_is_array(*pdoc))
        return APR_SUCCESS;
    *pexcluded = apr_array_make(p, 4, sizeof(const char *));
    kept = json_array();
    if (kept == NULL)
        return pds_filter_no_memory(err);
    json_array_foreach(*pdoc, i, row) {
        hit = pds_rowfilter_match(rf, row);
        if (hit >= 0)
            APR_ARRAY_PUSH(*pexcluded, const char *) = pds_rowfilter_rule(rf, hit);
        else if (json_array_append(kept, row) != 0) {
            json_decref(kept);
            return pds_filter_no_memory(err);
        }
    }
    json_decref(*pdoc);
    *pdoc = kept;
    return APR_SUCCESS;
}

apr_status_t pds_filter_apply_rows(const pds_fieldset_t *set, const char *input,
                                   apr_size_t len, const pds_filter_options_t *opts,
                                   const char *subject_path, pds_row_decide_fn decide,
                                   void *baton, pds_filter_result_t *result,
                                   apr_pool_t *p, pds_error_t *err)
{
    const pds_transform_ctx_t *tctx = opts != NULL ? opts->transform : NULL;
    int max_depth = opts != NULL && opts->max_depth > 0 ? opts->max_depth
                                                        : PDS_FILTER_DEFAULT_MAX_DEPTH;
    pds_transform_ctx_t no_ctx;
    const pds_field_path_t *subject_at;
    apr_hash_t *applied;
    json_t *doc, *out = NULL, *row;
    apr_array_header_t *subjects, *dropped = NULL, *excluded = NULL;
    char *present, *row_present;
    apr_status_t rv = APR_SUCCESS;
    size_t i;
    int k;

    if (set == NULL || result == NULL || p == NULL || decide == NULL
        || subject_path == NULL || (input == NULL && len > 0) || set->root->each == NULL) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "pds_filter_apply_rows needs a collection set, a subject path and "
                      "a decision");
        return APR_EINVAL;
    }
    subject_at = pds_fieldset_parse_path(subject_path, p, err);
    if (subject_at == NULL)
        return APR_EINVAL;
    rv = pds_filter_load(&doc, input, len, max_depth, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (!json_is_array(doc)) {
        rv = type_error(err, set->root, doc);
        goto done;
    }
    rv = exclude_records(opts, &doc, &excluded, p, err);
    if (rv != APR_SUCCESS)
        goto done;
    if (tctx == NULL) {
        memset(&no_ctx, 0, sizeof(no_ctx));
        no_ctx.now = apr_time_now();
        tctx = &no_ctx;
    }
    out = json_array();
    present = apr_pcalloc(p, (apr_size_t)set->paths->nelts + 1);
    row_present = apr_pcalloc(p, (apr_size_t)set->paths->nelts + 1);
    subjects = apr_array_make(p, 8, sizeof(const char *));
    applied = apr_hash_make(p);
    if (opts != NULL && opts->drop_bad_records)
        dropped = apr_array_make(p, 4, sizeof(const char *));
    if (out == NULL) {
        rv = pds_filter_no_memory(err);
        goto done;
    }
    json_array_foreach(doc, i, row) {
        const pds_fieldset_t *rowset = NULL;
        const char *subject = record_subject(row, subject_at, p), *pseudonym = NULL;
        json_t *kept = NULL;

        if (subject == NULL)
            continue;               /* a record that names no one is no one's */
        rv = decide(baton, subject, &rowset, &pseudonym, err);
        if (rv != APR_SUCCESS)
            goto done;
        if (rowset == NULL || rowset->root->each == NULL)
            continue;
        /* read before transforms, which change values the record shares */
        record_present(set, row, present, row_present);
        rv = pds_filter_row(rowset, row, tctx, dropped, applied, &kept, p, err);
        if (rv != APR_SUCCESS)
            goto done;
        if (kept == NULL)
            continue;
        if (pseudonym != NULL) {
            apr_size_t replaced = 0;
            rv = replace_strings(kept, subject, strlen(subject), pseudonym, &replaced, err);
            if (rv != APR_SUCCESS) {
                json_decref(kept);
                goto done;
            }
        }
        if (json_array_append_new(out, kept) != 0) {
            rv = pds_filter_no_memory(err);
            goto done;
        }
        memcpy(present, row_present, (size_t)set->paths->nelts);
        APR_ARRAY_PUSH(subjects, const char *) = subject;
    }

    rv = pds_filter_serialise(out, &result->body, &result->length, p, err);
    if (rv != APR_SUCCESS)
        goto done;
    result->released = apr_array_make(p, set->paths->nelts + 1, sizeof(const char *));
    for (k = 0; k < set->paths->nelts; k++)
        if (present[k])
            APR_ARRAY_PUSH(result->released, const char *)
                = APR_ARRAY_IDX(set->paths, k, pds_field_path_t).text;
    result->transformed = pds_fieldset_transformed(set, applied, p);
    result->subject_replaced = 0;
    result->records = (int)json_array_size(out);
    result->subjects = subjects;
    result->dropped = dropped;
    result->excluded = excluded;

done:
    json_decref(out);
    json_decref(doc);
    return rv;
}

/* ---- apply ---------------------------------------------------------------- */

apr_status_t pds_filter_apply(const pds_fieldset_t *set,
                              const char *input, apr_size_t len,
                              int max_depth,
                              pds_filter_result_t *result,
                              apr_pool_t *p, pds_error_t *err)
{
    pds_filter_options_t opts;

    memset(&opts, 0, sizeof(opts));
    opts.max_depth = max_depth;
    return pds_filter_apply_ex(set, input, len, &opts, result, p, err);
}

/* One member of v (key in an object, index i in an array): replaced by to
 * when it is the string from, else searched. */
static apr_status_t replace_member(json_t *v, const char *key, size_t i, json_t *member,
                                   const char *from, apr_size_t from_len, const char *to,
                                   apr_size_t *count, pds_error_t *err)
{
    if (json_is_string(member) && json_string_length(member) == from_len
        && memcmp(json_string_value(member), from, from_len) == 0) {
        if ((key != NULL ? json_object_set_new_nocheck(v, key, json_string(to))
                         : json_array_set_new(v, i, json_string(to))) != 0)
            return pds_filter_no_memory(err);
        (*count)++;
        return APR_SUCCESS;
    }
    return replace_strings(member, from, from_len, to, count, err);
}

/* Replaces every string value equal to from (anywhere in v) by to. */
static apr_status_t replace_strings(json_t *v, const char *from, apr_size_t from_len,
                                    const char *to, apr_size_t *count, pds_error_t *err)
{
    const char *key;
    json_t *member;
    size_t i;
    void *tmp;

    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, key, member) {
            if (replace_member(v, key, 0, member, from, from_len, to, count, err)
                != APR_SUCCESS)
                return APR_ENOMEM;
        }
    }
    else if (json_is_array(v)) {
        json_array_foreach(v, i, member) {
            if (replace_member(v, NULL, i, member, from, from_len, to, count, err)
                != APR_SUCCESS)
                return APR_ENOMEM;
        }
    }
    return APR_SUCCESS;
}

apr_status_t pds_filter_apply_ex(const pds_fieldset_t *set,
                                 const char *input, apr_size_t len,
                                 const pds_filter_options_t *opts,
                                 pds_filter_result_t *result,
                                 apr_pool_t *p, pds_error_t *err)
{
    apr_hash_t *applied = NULL;
    pds_transform_ctx_t no_ctx;
    const pds_transform_ctx_t *tctx = opts != NULL ? opts->transform : NULL;
    int max_depth = opts != NULL ? opts->max_depth : 0;
    apr_size_t replaced = 0;
    const pds_field_node_t *root;
    apr_array_header_t *released, *excluded = NULL;
    json_t *doc, *out = NULL;
    apr_status_t rv;
    int i;

    if (set == NULL || result == NULL || p == NULL
        || (input == NULL && len > 0)) {
        pds_error_set(err, "internal-error", -1, PDS_BODY_SOURCE,
                      "pds_filter_apply called without a set, result or pool");
        return APR_EINVAL;
    }
    rv = pds_filter_load(&doc, input, len, max_depth, err);
    if (rv != APR_SUCCESS)
        return rv;
    rv = exclude_records(opts, &doc, &excluded, p, err);
    if (rv != APR_SUCCESS)
        goto done;

    root = set->root;
    if (!(json_is_object(doc) && (root->children != NULL || root->each == NULL))
        && !(json_is_array(doc) && root->each != NULL)) {
        rv = type_error(err, root, doc);
        goto done;
    }
    if (json_is_object(doc) && root->children == NULL) {
        out = json_object();         /* an empty set releases nothing */
        rv = out != NULL ? APR_SUCCESS : pds_filter_no_memory(err);
    }
    else {
        rv = filter_value(root, doc, &out, err);
        if (rv == APR_SUCCESS && out == NULL) {
            out = json_is_object(doc) ? json_object() : json_array();
            if (out == NULL)
                rv = pds_filter_no_memory(err);
        }
    }
    if (rv != APR_SUCCESS)
        goto done;

    /* What was released is decided on the input, before any transform. */
    released = apr_array_make(p, set->paths->nelts > 0 ? set->paths->nelts : 1,
                              sizeof(const char *));
    for (i = 0; i < set->paths->nelts; i++) {
        const pds_field_path_t *path =
            &APR_ARRAY_IDX(set->paths, i, pds_field_path_t);

        if (path_present(doc, path, 0))
            APR_ARRAY_PUSH(released, const char *) = path->text;
    }

    if (set->troot != NULL) {
        /* The filtered document shares values with doc, which is ours and
         * dropped afterwards: transforms change it in place. */
        if (tctx == NULL) {
            memset(&no_ctx, 0, sizeof(no_ctx));
            no_ctx.now = apr_time_now();
            tctx = &no_ctx;
        }
        applied = apr_hash_make(p);
        rv = pds_filter_transform(set->troot, out, tctx, applied, err);
        if (rv != APR_SUCCESS)
            goto done;
    }
    if (opts != NULL && opts->subject != NULL && opts->subject_pseudonym != NULL
        && opts->subject[0] != '\0') {
        rv = replace_strings(out, opts->subject, strlen(opts->subject),
                             opts->subject_pseudonym, &replaced, err);
        if (rv != APR_SUCCESS)
            goto done;
    }

    rv = pds_filter_serialise(out, &result->body, &result->length, p, err);
    if (rv != APR_SUCCESS)
        goto done;
    result->released = released;
    result->records = -1;
    result->subjects = NULL;
    result->dropped = NULL;
    result->excluded = excluded;
    result->subject_replaced = (int)replaced;
    result->transformed = pds_fieldset_transformed(set, applied, p);
    rv = APR_SUCCESS;

done:
    json_decref(out);
    json_decref(doc);
    return rv;
}
