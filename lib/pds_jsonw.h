/* pds_jsonw.h: a small JSON writer into one pool buffer.
 *
 * Writes compact JSON the way jansson's json_dumps(JSON_COMPACT |
 * JSON_ENSURE_ASCII) does, byte for byte, without building a document:
 * strings by pds_text_json_escape_ascii, integers as "%lld". Commas between
 * members and elements are the writer's; nothing checks that keys and values
 * alternate (the caller writes a fixed shape). The buffer grows in the pool;
 * it is NUL-terminated after every call.
 */
#ifndef PDS_JSONW_H
#define PDS_JSONW_H

#include <apr_pools.h>

typedef struct pds_jsonw_t {
    apr_pool_t *pool;
    char *data;
    apr_size_t len;
    apr_size_t cap;
    int comma;                  /* a value was written: the next one needs ',' */
} pds_jsonw_t;

/* An empty writer with room for about size bytes. */
void pds_jsonw_init(pds_jsonw_t *w, apr_pool_t *p, apr_size_t size);

void pds_jsonw_open(pds_jsonw_t *w, char bracket);      /* '{' or '[' */
void pds_jsonw_close(pds_jsonw_t *w, char bracket);     /* '}' or ']' */
/* "name": (escaped as a string; the next value follows it) */
void pds_jsonw_key(pds_jsonw_t *w, const char *name);
/* A string; NULL writes null. */
void pds_jsonw_string(pds_jsonw_t *w, const char *s);
void pds_jsonw_int(pds_jsonw_t *w, apr_int64_t v);
/* A literal value as it is: "null", "true", or JSON the caller wrote. */
void pds_jsonw_raw(pds_jsonw_t *w, const char *json, apr_size_t len);

#endif
