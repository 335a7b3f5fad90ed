/* pds_syntax.h: the small syntax rules more than one part of mod_pds checks,
 * each in one place so that no two copies can drift apart.
 *
 * Names. Organisation, purpose, agreement and version names (and the
 * consent API's path segments naming them) are tokens of 1 to max bytes of
 * [A-Za-z0-9._-], ASCII only, case kept. PDS_SYNTAX_NAME_MAX (64) is the
 * limit for every name but a version's.
 *
 * JSON media types. A Content-Type value is read as RFC 9110 8.3.1 writes
 * it: optional whitespace (SP, HTAB), type "/" subtype (each one or more
 * token characters, compared without regard to case), optional whitespace,
 * then nothing or ";" and parameters. Parameters are not looked into (a
 * charset of a JSON text is UTF-8 whatever it says, RFC 8259 8.1). A value
 * with anything else after the subtype ("application/json x",
 * "application/jsonx") is not a media type of ours. On that one reading two
 * policies decide:
 *
 *   PDS_JSON_EXACT   application/json only. For request bodies: the body
 *                    is checked as a plain JSON document and forwarded as
 *                    application/json; a +json type (merge-patch,
 *                    json-patch) gives the same text another meaning.
 *   PDS_JSON_SUFFIX  application/json, or application/<name>+json with a
 *                    non-empty name (RFC 6839 3.1). For back-end responses:
 *                    any JSON document is filtered alike, and released as
 *                    application/json.
 *
 * No function here allocates, logs or keeps state.
 */
#ifndef PDS_SYNTAX_H
#define PDS_SYNTAX_H

#include <apr.h>

#define PDS_SYNTAX_NAME_MAX 64

/* 1 when s is 1 to max bytes of [A-Za-z0-9._-]; 0 otherwise (NULL too). */
int pds_syntax_is_name(const char *s, apr_size_t max);

/* A media type's type and subtype, pointing into the value read (not
 * NUL-terminated). */
typedef struct pds_media_type_t {
    const char *type;
    apr_size_t type_len;
    const char *subtype;
    apr_size_t subtype_len;
} pds_media_type_t;

/* Reads value as a media type (the rule above) into *mt. 1 when it is one;
 * 0 when value is NULL or not a media type (*mt is then undefined). */
int pds_syntax_media_type(const char *value, pds_media_type_t *mt);

typedef enum {
    PDS_JSON_EXACT,         /* application/json */
    PDS_JSON_SUFFIX         /* application/json or application/<name>+json */
} pds_json_policy_e;

/* 1 when the Content-Type value names JSON under policy; 0 otherwise, and
 * for NULL (no Content-Type). */
int pds_syntax_is_json(const char *value, pds_json_policy_e policy);

#endif
