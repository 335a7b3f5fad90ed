/* pds_resource.h: request paths and an agreement's resource templates,
 * inside lib/ (pds_agreement.c reads and decides with them; the API is
 * pds_agreement.h).
 *
 * A template is "/a/{subject}/b": literal segments, at most one {subject}
 * and parameters such as {district}. It is checked and split into segments
 * once, when the configuration is read; matching compares strings only and
 * allocates nothing.
 */
#ifndef PDS_RESOURCE_H
#define PDS_RESOURCE_H

#include <apr_pools.h>

#define PDS_SUBJECT_SEGMENT "{subject}"

typedef struct pds_resource_t {
    const char *text;        /* "GET /citizens/{subject}/record" */
    const char *method;      /* "GET" */
    int nseg;                /* "/a/b" has 2, "/a/" 2 (the last empty), "/" 1 */
    const char **seg;        /* literal segments; NULL for {subject} or {name} */
    apr_size_t *seglen;
    int has_subject;
    int subject_at;          /* the {subject} segment's index, -1 if none */
} pds_resource_t;

/* Why path is not acceptable, or NULL; *pos is where. In a template
 * (is_template non-zero) a segment may also be exactly "{subject}", once, or
 * a parameter "{name}". The text is static. */
const char *pds_path_problem(const char *path, int is_template, apr_size_t *pos);

/* Splits a checked template into r's segments (arrays from p). Sets
 * has_subject and subject_at. */
void pds_resource_compile(pds_resource_t *r, const char *templ, apr_pool_t *p);

/* Non-zero when path matches r; then *subject and *subject_len are the
 * {subject} segment's span inside path (untouched when r has none). */
int pds_resource_match(const pds_resource_t *r, const char *path,
                       const char **subject, apr_size_t *subject_len);

/* For a path r matches: why the value a parameter ({district}, not
 * {subject}) takes is refused, or NULL. A parameter's value may not hold '&'
 * or '=': a back end that maps a path segment into its query string
 * (json-server's routes, "/Patient/page/:page" to "?_page=:page") would
 * otherwise be handed parameters the agreement never declared. ('?', '#' and
 * ';' never reach this far: pds_request_path_check refuses them.) The text
 * is static. */
const char *pds_resource_parameter_problem(const pds_resource_t *r, const char *path);

/* Non-zero when some path beginning with prefix could match r (prefix ends
 * inside or at the start of a segment). */
int pds_resource_could_match_under(const pds_resource_t *r, const char *prefix);

#endif
