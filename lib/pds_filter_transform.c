/* pds_filter_transform.c: the Transform lines applied to a filtered
 * document (pds_filter_int.h): the transform tree compiled with the field set
 * (pds_fieldset_tree.h) walked over the document the allow-list kept,
 * changing it in place, and the labels of the transforms that met a value.
 * The allow-list walk is in pds_filter.c; the transforms themselves in
 * pds_transform.c.
 */
#include <apr_hash.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_fieldset_tree.h"
#include "pds_filter_int.h"

/* Transforms the value held at parent[key] or parent[index]. */
static apr_status_t transform_slot(const pds_transform_node_t *node, json_t *parent,
                                   const char *key, size_t key_len, size_t index,
                                   const pds_transform_ctx_t *ctx, apr_hash_t *applied,
                                   int *removed, pds_error_t *err)
{
    json_t *v = key != NULL ? json_object_getn(parent, key, key_len)
                            : json_array_get(parent, index);
    json_t *out = NULL;
    apr_status_t rv;

    *removed = 0;
    if (node->transform == NULL)
        return pds_filter_transform(node, v, ctx, applied, err);
    rv = pds_transform_apply(node->transform, v, ctx, &out, err);
    if (rv != APR_SUCCESS) {
        /* Say where (the path is configuration, never data). */
        if (err != NULL)
            apr_cpystrn(err->source, node->path, sizeof(err->source));
        return rv;
    }
    apr_hash_set(applied, node->label, APR_HASH_KEY_STRING, node->label);
    if (out == NULL) {
        *removed = 1;
        return key != NULL
               ? (json_object_deln(parent, key, key_len) == 0 ? APR_SUCCESS
                                                              : pds_filter_no_memory(err))
               : (json_array_remove(parent, index) == 0 ? APR_SUCCESS
                                                        : pds_filter_no_memory(err));
    }
    if ((key != NULL ? json_object_setn_nocheck(parent, key, key_len, out)
                     : json_array_set(parent, index, out)) != 0) {
        json_decref(out);
        return pds_filter_no_memory(err);
    }
    json_decref(out);
    return APR_SUCCESS;
}

apr_status_t pds_filter_transform(const pds_transform_node_t *node, json_t *v,
                                  const pds_transform_ctx_t *ctx, apr_hash_t *applied,
                                  pds_error_t *err)
{
    apr_status_t rv;
    size_t i;
    int removed;

    if (json_is_object(v) && node->child_list != NULL) {
        int c;
        /* Walk the configured names, not the document: a member can be
         * removed while we go. */
        for (c = 0; c < node->child_list->nelts; c++) {
            const pds_transform_child_t *child =
                &APR_ARRAY_IDX(node->child_list, c, pds_transform_child_t);

            if (json_object_getn(v, child->name, child->len) == NULL)
                continue;
            rv = transform_slot(child->node, v, child->name, child->len, 0, ctx, applied,
                                &removed, err);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    else if (json_is_array(v) && node->each != NULL) {
        for (i = json_array_size(v); i-- > 0; ) {
            rv = transform_slot(node->each, v, NULL, 0, i, ctx, applied, &removed, err);
            if (rv != APR_SUCCESS)
                return rv;
        }
    }
    /* Anything else (absent, null, another kind on the way): the filter has
     * already decided what is released, and nothing of it is at this path. */
    return APR_SUCCESS;
}

/* The labels ("path transform-text") of the set's transforms found in
 * applied (NULL: none), in configuration order. */
apr_array_header_t *pds_fieldset_transformed(const pds_fieldset_t *set, apr_hash_t *applied,
                                             apr_pool_t *p)
{
    apr_array_header_t *list = apr_array_make(p, 2, sizeof(const char *));
    int i;

    for (i = 0; applied != NULL && i < set->transforms->nelts; i++) {
        const pds_field_transform_t *e =
            &APR_ARRAY_IDX(set->transforms, i, pds_field_transform_t);
        const char *label = apr_pstrcat(p, e->path.text, " ",
                                        pds_transform_text(e->transform), NULL);
        if (apr_hash_get(applied, label, APR_HASH_KEY_STRING) != NULL)
            APR_ARRAY_PUSH(list, const char *) = label;
    }
    return list;
}
