/* pds_query.h: the query parameters an agreement accepts (its Query lines),
 * and the check of a request's query string against them.
 *
 * A query string is refused unless every parameter in it is declared, has
 * one value of its declared type within its bounds, and is written in the
 * one plain form this file accepts (below). What the back end receives is
 * rebuilt from the checked values (pds_query_accept), never the raw text.
 *
 * Declarations (the words of one `Query` line):
 *   <name> int <lo>..<hi>    a whole number, 0 <= lo <= hi <= 2147483647,
 *                            written without sign or leading zeros
 *   <name> token             1 to 64 of A-Z a-z 0-9 . _ -
 *   <name> date              YYYY-MM-DD, a real calendar day
 *   <name> enum <a>|<b>...   one of the listed words (each a token), at most
 *                            16 of them
 * A name is 1 to 32 of A-Z a-z 0-9 _ -, starting with a letter or '_'; an
 * agreement declares at most 32, each once.
 *
 * The plain form of a query string: name=value pairs joined by '&'; names
 * and values of A-Z a-z 0-9 - . _ ~ only. Refused: an empty query ("?"),
 * empty pairs ("a=1&&b=2", a trailing '&'), a pair without '=' or with a
 * second one, an empty value, '%' escapes (no declared value needs one, so
 * "%26", "%3D", "%00" and overlong or invalid UTF-8 never reach a parser),
 * '+' (a space to some servers, a plus to others), ';' as a separator,
 * arrays ("a[]=", "a[0]=") and a parameter given twice. Errors have
 * err->code "query-not-allowed" and a text that may be shown to the caller
 * (names are shown quoted and cut; values never are).
 */
#ifndef PDS_QUERY_H
#define PDS_QUERY_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_chain.h"
#include "pds_error.h"

#define PDS_QUERY_NAME_MAX   32
#define PDS_QUERY_DECL_MAX   32
#define PDS_QUERY_TEXT_MAX   2048   /* a longer query string is refused */

typedef struct pds_query_t pds_query_t;

/* One parameter of a query string, pointing into pool memory. */
typedef struct pds_query_param_t {
    const char *name;
    const char *value;
} pds_query_param_t;

/* An empty set of declarations, owned by p. APR_ENOMEM only. */
apr_status_t pds_query_create(pds_query_t **pq, apr_pool_t *p);

/* Adds one declaration from the words of a Query line (name, type, and the
 * bounds or values int and enum need). APR_EINVAL with err->code
 * "bad-agreement", err->position the index of the word at fault (-1: the
 * line as a whole) and err->text what is wrong and what to write. The words
 * are copied into q's pool. */
apr_status_t pds_query_declare(pds_query_t *q, const char *const *words, int nwords,
                               pds_error_t *err);

/* How many parameters q declares (0 for NULL). */
int pds_query_count(const pds_query_t *q);

/* Non-zero when q declares name (q may be NULL). */
int pds_query_declares(const pds_query_t *q, const char *name);

/* The declared names, "_page, _limit", in declared order (pool memory). */
const char *pds_query_names(const pds_query_t *q, apr_pool_t *p);

/* Splits a raw query string (what follows '?', NUL-terminated) into its
 * parameters, checking the plain form above. *pparams is an array of
 * pds_query_param_t from p. APR_EINVAL with err->code "query-not-allowed". */
apr_status_t pds_query_parse(apr_array_header_t **pparams, const char *raw,
                             apr_pool_t *p, pds_error_t *err);

/* Checks parsed parameters against q: each declared, its value of its type
 * and within its bounds. *pcanonical is the query to forward: the
 * parameters in declared order as name=value joined by '&', percent-encoded
 * per RFC 3986 (anything but unreserved characters as %XX), from p; NULL
 * when params is empty. APR_EINVAL with err->code "query-not-allowed", the
 * text naming the parameter and what it accepts. */
apr_status_t pds_query_accept(const pds_query_t *q, const apr_array_header_t *params,
                              const char **pcanonical, apr_pool_t *p, pds_error_t *err);

/* The accepted (canonical) query as the audit log records it when subjects
 * are pseudonymous: int and enum values as they are (numbers and words the
 * agreement lists), token and date values, which may name a person (a
 * surname, a date of birth), as pds_chain_pseudonym(key, value): equal
 * values stay equal, none is readable. NULL for NULL; "-" when it cannot be
 * made (never the values in clear). Pool memory. */
const char *pds_query_pseudonymised(const pds_query_t *q, const char *canonical,
                                    const pds_chain_key_t *key, apr_pool_t *p);

#endif
