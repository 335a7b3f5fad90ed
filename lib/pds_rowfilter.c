/* pds_rowfilter.c: an agreement's Exclude conditions (pds_rowfilter.h). The
 * grammar and the matching live with the field paths (pds_fieldset_path.c):
 * one parser for paths, predicates and conditions. */
#include <string.h>

#include <apr_tables.h>

#include "pds_fieldset_tree.h"
#include "pds_rowfilter.h"

struct pds_rowfilter_t {
    apr_pool_t *pool;
    apr_array_header_t *conditions;     /* pds_field_condition_t * */
};

apr_status_t pds_rowfilter_create(pds_rowfilter_t **prf, apr_pool_t *p)
{
    pds_rowfilter_t *rf = apr_pcalloc(p, sizeof(*rf));

    rf->pool = p;
    rf->conditions = apr_array_make(p, 2, sizeof(pds_field_condition_t *));
    *prf = rf;
    return APR_SUCCESS;
}

apr_status_t pds_rowfilter_add(pds_rowfilter_t *rf, const char *condition,
                               pds_error_t *err)
{
    pds_field_condition_t *c;
    int i;

    if (rf == NULL || condition == NULL) {
        pds_error_set(err, "internal-error", -1, "condition",
                      "pds_rowfilter_add needs a row filter and a condition");
        return APR_EINVAL;
    }
    if (condition[0] == '[') {
        pds_error_set(err, "bad-field-path", 0, "condition",
                      "a condition is read inside each record: start it with a "
                      "member name (e.g. meta.security[code=R]), not '['");
        return APR_EINVAL;
    }
    for (i = 0; i < rf->conditions->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(rf->conditions, i, pds_field_condition_t *)->path.text,
                   condition) == 0)
            return APR_SUCCESS;
    if (rf->conditions->nelts >= PDS_ROWFILTER_MAX) {
        pds_error_set(err, "bad-field-path", 0, "condition",
                      "at most %d conditions exclude records", PDS_ROWFILTER_MAX);
        return APR_EINVAL;
    }
    c = pds_fieldset_parse_condition(condition, rf->pool, err);
    if (c == NULL)
        return APR_EINVAL;
    APR_ARRAY_PUSH(rf->conditions, pds_field_condition_t *) = c;
    return APR_SUCCESS;
}

int pds_rowfilter_count(const pds_rowfilter_t *rf)
{
    return rf != NULL ? rf->conditions->nelts : 0;
}

const char *pds_rowfilter_rule(const pds_rowfilter_t *rf, int index)
{
    if (rf == NULL || index < 0 || index >= rf->conditions->nelts)
        return NULL;
    return APR_ARRAY_IDX(rf->conditions, index, pds_field_condition_t *)->path.text;
}

const pds_field_condition_t *pds_rowfilter_condition(const pds_rowfilter_t *rf, int index)
{
    if (rf == NULL || index < 0 || index >= rf->conditions->nelts)
        return NULL;
    return APR_ARRAY_IDX(rf->conditions, index, pds_field_condition_t *);
}

int pds_rowfilter_match(const pds_rowfilter_t *rf, json_t *record)
{
    int i;

    if (rf == NULL)
        return -1;
    for (i = 0; i < rf->conditions->nelts; i++) {
        const pds_field_condition_t *c =
            APR_ARRAY_IDX(rf->conditions, i, pds_field_condition_t *);

        if (pds_field_condition_holds(c, record))
            return i;
    }
    return -1;
}
