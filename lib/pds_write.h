/* pds_write.h: what a POST, PUT or PATCH body may carry (an agreement's
 * Write list), and the check that makes a write do what it says.
 *
 * Every object, array or null in a body replaces a whole value at the back
 * end, so the Write list says, for each place, what may stand there. A POST
 * or PUT body is the whole record. A PATCH is merged into the record, in one
 * of two ways the agreement says (WritePatch):
 *
 *   top-level   (the default) each top-level member the body carries
 *               replaces that member whole, as json-server and back ends
 *               built on a shallow object merge do;
 *   deep-merge  a JSON merge patch (RFC 7396): an object merges into the
 *               object there, member by member; any other value (an array,
 *               null) replaces or removes it.
 *
 * The places:
 *
 *   - a path named with nothing named below it ("phone", "name.family") is a
 *     single value: a string, number, boolean, or null (which removes it).
 *     An object or array there is refused, naming the place: whatever it
 *     held would reach the back end unchecked.
 *   - a path named with paths below it ("telecom" beside "telecom[*].system"
 *     and "telecom[*].value") may be replaced whole, by an object or an
 *     array (empty ones included) or null, whose contents are checked in turn
 *     against the paths below: each element of telecom may carry system and
 *     value, nothing else.
 *   - a place only on the way to named paths ("name" under "name.given" alone)
 *     may hold an object where that object merges (deep-merge), or where it
 *     is part of a new value (POST, PUT, inside a replaced value); an array
 *     or null there, or in a top-level PATCH any object, would replace or
 *     remove what the list does not let be replaced: refused.
 *
 * Compiled once, at configuration time, from the Write field set; refused
 * then: a predicate (a merge replaces an array whole, so a write cannot be
 * held to the elements a predicate selects), a path starting with "[*]" (a
 * body is one record, an object), and, for an agreement with a PATCH
 * resource, a path no PATCH could write without replacing what the list
 * does not name: an element path whose array is not named ("telecom[*]
 * .value" without "telecom"), and, top-level, any path below a top-level
 * member that is not named ("address.line1" without "address"). Read-only
 * afterwards; safe to share between threads.
 */
#ifndef PDS_WRITE_H
#define PDS_WRITE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_error.h"
#include "pds_filter.h"

typedef struct pds_write_shape_t pds_write_shape_t;

typedef enum {
    PDS_WRITE_RECORD = 0,   /* POST, PUT: the body is the whole record */
    PDS_WRITE_TOP_LEVEL,    /* PATCH, WritePatch top-level */
    PDS_WRITE_DEEP_MERGE    /* PATCH, WritePatch deep-merge (RFC 7396) */
} pds_write_mode_t;

/* Compiles the Write list `write` (NULL or empty: nothing may be written).
 * patch: how the agreement's PATCH resources merge; PDS_WRITE_RECORD when
 * it has none. err->code "bad-write", err->source the offending path,
 * err->text what is wrong and what to write instead. */
apr_status_t pds_write_shape_compile(pds_write_shape_t **pshape,
                                     const pds_fieldset_t *write, pds_write_mode_t patch,
                                     apr_pool_t *p, pds_error_t *err);

typedef struct pds_write_result_t {
    const char *verdict;    /* NULL: forward body; else the reason code
                               ("write-not-allowed", "write-empty") */
    const char *detail;     /* with a verdict, for the client who sent the
                               body (it may name members of the body); NULL
                               when only uncovered says why */
    char *body;             /* the checked body, compact JSON (pool memory) */
    apr_size_t length;
    apr_array_header_t *written;   /* const char *: Write paths the checked
                                      body writes, in the Write list's order */
    apr_array_header_t *uncovered; /* const char *: places the list does not
                                      cover ("internal.notes", "telecom[*]
                                      .extension"), each once, in document
                                      order; removed when strip, otherwise the
                                      verdict is "write-not-allowed". Member
                                      names come from the body: for its
                                      sender only */
} pds_write_result_t;

/* Checks input (exactly len bytes) against shape, in the order: parse
 * (errors as pds_filter_apply's, APR_EINVAL), shape (an object, array or
 * null where the list does not let one stand, or a single value where it
 * names members below: "write-not-allowed" with a detail naming the place),
 * members beyond the list (removed with strip, otherwise "write-not-
 * allowed" with uncovered), and then a body that writes none of the Write
 * paths ({} , {"name":{}}, everything stripped): "write-empty". APR_SUCCESS
 * whenever the body could be read, with res->verdict saying whether it may
 * go ahead; res->body is then set only when it may. */
apr_status_t pds_write_check(const pds_write_shape_t *shape, const char *input,
                             apr_size_t len, int max_depth, pds_write_mode_t mode,
                             int strip, pds_write_result_t *res, apr_pool_t *p,
                             pds_error_t *err);

/* Media types. A write is read when sent as application/json,
 * application/fhir+json, application/merge-patch+json (PATCH only: RFC 7396
 * is a patch format) or a type the agreement lists (WriteMediaType), with
 * any parameters; JSON Patch (application/json-patch+json, RFC 6902) is not
 * supported. NULL when content_type may be read; otherwise the detail of a
 * 415 (no Content-Type: NULL content_type). extra: the agreement's
 * WriteMediaType types, lower case (NULL: none). */
const char *pds_write_media_check(const char *content_type, int patch,
                                  const apr_array_header_t *extra);

/* NULL when type may be listed with WriteMediaType: exactly
 * application/<name>+json, without parameters, neither one read already nor
 * JSON Patch; otherwise why not. */
const char *pds_write_media_declarable(const char *type);

#endif
