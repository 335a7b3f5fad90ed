/* pds_rowfilter.h: row filters (an agreement's Exclude conditions).
 *
 * A condition decides whether a whole record stays out of an answer. It is a
 * field path (grammar in pds_filter.h, the same parser) relative to one
 * record, optionally followed by a comparison of the value it reaches:
 *
 *     condition  = path [ *SP comparison ]
 *     (path and comparison as in pds_filter.h; the path does not start
 *      with "[*]": it is read inside one record)
 *
 *     meta.security[code=R]        a security label with code "R"
 *     active=false                 the member active is false
 *     deceasedBoolean=true         ... is true
 *     deceasedDateTime             present (any value but null)
 *     'status in (entered-in-error, inactive)'
 *
 * A condition holds for a record when its path reaches at least one value
 * (through "[*]" and predicates, any element that qualifies) that is not
 * null and, with a comparison, compares as it says (a string, number or
 * boolean; "!=" needs the value to be there, as in predicates). A missing or
 * null value holds nothing. In doubt it holds: where the record has another
 * kind of value than the path reads (a string where a member name needs an
 * object, an object where "[...]" needs an array, an object or array where
 * the comparison needs a scalar) the condition holds, so the record stays
 * out rather than leave on a misreading. Cost: one pass over the parts of a
 * record the path reaches, stopping at the first value that holds.
 *
 * A pds_rowfilter_t is built at configuration time and read-only afterwards
 * (safe to share between threads).
 */
#ifndef PDS_ROWFILTER_H
#define PDS_ROWFILTER_H

#include <apr_pools.h>
#include <jansson.h>

#include "pds_error.h"

/* At most this many conditions in one row filter. */
#define PDS_ROWFILTER_MAX 64

typedef struct pds_rowfilter_t pds_rowfilter_t;

apr_status_t pds_rowfilter_create(pds_rowfilter_t **prf, apr_pool_t *p);

/* Parses one condition and adds it. err->code "bad-field-path" with
 * err->position the offset of the offending character in condition; the
 * filter is left as it was. Adding a condition twice is harmless. */
apr_status_t pds_rowfilter_add(pds_rowfilter_t *rf, const char *condition,
                               pds_error_t *err);

/* The conditions added, in order (NULL out of range). */
int pds_rowfilter_count(const pds_rowfilter_t *rf);
const char *pds_rowfilter_rule(const pds_rowfilter_t *rf, int index);

/* The index of the first condition that holds for record, or -1 when none
 * does (rf NULL or empty: -1). */
int pds_rowfilter_match(const pds_rowfilter_t *rf, json_t *record);

#endif
