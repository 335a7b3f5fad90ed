/* pds_artefact.c: signed consent artefacts and the trust registry.
 *
 * The registry is parsed once, at configuration time, into two hashes (issuer
 * id -> issuer with its kid -> key hash; revoked artefact ids) and is
 * read-only afterwards. An artefact is checked in a pool of its own that
 * holds the decoded JSON and is destroyed before returning; what the caller
 * keeps is copied into its pool. Checks run in the order pds_artefact.h
 * gives, so the code a client sees never depends on later checks.
 */
#include <stdarg.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "pds_artefact.h"
#include "pds_file.h"
#include "pds_jws.h"

#define PDS_REGISTRY_CODE   "bad-trust-registry"
#define PDS_REGISTRY_SOURCE "trust registry"

#define PDS_ARTEFACT_TYP     "pds-consent+jws"
#define PDS_ARTEFACT_ID_MAX  128     /* "jti" */
#define PDS_REGISTRY_ID_MAX  128     /* issuer ids and kids */
/* 9999-12-31T23:59:59Z: keeps every time claim far from apr_time_t overflow. */
#define PDS_ARTEFACT_TIME_MAX ((json_int_t)253402300799LL)

/* Caller input shown in an error text: at most this many bytes, escaped. */
#define PDS_SHOW_MAX 64

typedef struct pds_trust_issuer_t {
    const char *id;
    apr_hash_t *keys;            /* kid -> const pds_key_t * */
} pds_trust_issuer_t;

struct pds_trust_registry_t {
    apr_hash_t *issuers;         /* id -> pds_trust_issuer_t * */
    apr_hash_t *revoked;         /* artefact id -> "" */
    int issuer_count;
};

/* ---- small helpers -------------------------------------------------------- */

/* Renders untrusted text for an error message: printable ASCII as is, '"'
 * and '\' escaped, any other byte as \xNN; at most max bytes of that (max <
 * size - 3), then "..." when cut short. */
static const char *show_n(char *buf, apr_size_t size, apr_size_t max,
                          const char *s)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i, o = 0;

    if (s == NULL)
        s = "";
    if (max + 4 > size)
        max = size - 4;
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        char rep[4];
        apr_size_t n;

        if (c == '"' || c == '\\') {
            rep[0] = '\\';
            rep[1] = (char)c;
            n = 2;
        }
        else if (c >= 0x20 && c < 0x7f) {
            rep[0] = (char)c;
            n = 1;
        }
        else {
            rep[0] = '\\';
            rep[1] = 'x';
            rep[2] = hex[c >> 4];
            rep[3] = hex[c & 0x0f];
            n = 4;
        }
        if (o + n > max)
            break;
        memcpy(buf + o, rep, n);
        o += n;
    }
    if (s[i] != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

#define SHOW_SIZE (PDS_SHOW_MAX + 4)
#define show(buf, s) show_n((buf), sizeof(buf), PDS_SHOW_MAX, (s))

/* 1 to max bytes, each for which ok() holds. */
static int is_text_of(const char *s, apr_size_t max, int (*ok)(unsigned char))
{
    apr_size_t n;

    if (s == NULL)
        return 0;
    for (n = 0; s[n] != '\0'; n++) {
        if (n >= max || !ok((unsigned char)s[n]))
            return 0;
    }
    return n > 0;
}

static int is_jti_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
        || c == '-';
}

/* Printable ASCII without space. */
static int is_id_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int is_artefact_id(const char *s)
{
    return is_text_of(s, PDS_ARTEFACT_ID_MAX, is_jti_char);
}

/* ---- the trust registry --------------------------------------------------- */

typedef struct reg_ctx_t {
    apr_pool_t *p;
    const char *base_dir;        /* NULL: relative "file" paths refused */
    const char *path;            /* the file, for err->source; NULL if none */
    pds_error_t *err;
} reg_ctx_t;

/* Records a registry error: text "<member>: <what>"; source the file when
 * there is one, else the member. Returns APR_EINVAL. */
static apr_status_t reg_bad(reg_ctx_t *c, const char *member, int position,
                            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static apr_status_t reg_bad(reg_ctx_t *c, const char *member, int position,
                            const char *fmt, ...)
{
    char what[PDS_ERROR_TEXT_LENGTH];
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    pds_error_set(c->err, PDS_REGISTRY_CODE, position,
                  c->path != NULL ? c->path : member, "%s: %s", member, what);
    return APR_EINVAL;
}

/* Refuses any member of obj not in allowed (NULL-terminated). */
static apr_status_t reg_known_members(reg_ctx_t *c, json_t *obj, const char *member,
                                      const char *const *allowed,
                                      const char *expected)
{
    const char *name;
    json_t *value;

    json_object_foreach(obj, name, value) {
        const char *const *a;
        char shown[SHOW_SIZE];

        for (a = allowed; *a != NULL; a++) {
            if (strcmp(name, *a) == 0)
                break;
        }
        if (*a == NULL)
            return reg_bad(c, member, -1, "unknown member \"%s\"; expected %s",
                           show(shown, name), expected);
    }
    return APR_SUCCESS;
}

/* A required string member that is an issuer id or a kid. */
static apr_status_t reg_id(reg_ctx_t *c, const char **out, json_t *obj,
                           const char *member, const char *name)
{
    json_t *v = json_object_get(obj, name);
    char shown[SHOW_SIZE];

    if (v == NULL)
        return reg_bad(c, member, -1, "\"%s\" is missing", name);
    if (!json_is_string(v))
        return reg_bad(c, member, -1, "\"%s\" is not a string", name);
    if (!is_text_of(json_string_value(v), PDS_REGISTRY_ID_MAX, is_id_char))
        return reg_bad(c, member, -1, "\"%s\" \"%s\" must be 1 to %d printable "
                       "ASCII characters without spaces", name,
                       show(shown, json_string_value(v)), PDS_REGISTRY_ID_MAX);
    *out = apr_pstrdup(c->p, json_string_value(v));
    return APR_SUCCESS;
}

/* Loads the key of one "keys" entry into a pool of its own, so that a private
 * key given by mistake is freed at once rather than kept with the registry. */
static apr_status_t reg_key(reg_ctx_t *c, pds_trust_issuer_t *issuer, json_t *entry,
                            const char *member)
{
    static const char *const allowed[] = { "kid", "pem", "file", NULL };
    json_t *pem, *file;
    const char *kid;
    pds_key_t *key = NULL;
    pds_error_t inner;
    apr_pool_t *kp;
    apr_status_t rv;
    char shown[SHOW_SIZE];

    if (!json_is_object(entry))
        return reg_bad(c, member, -1, "a key is an object with \"kid\" and "
                       "\"pem\" or \"file\"");
    rv = reg_known_members(c, entry, member, allowed, "\"kid\" and \"pem\" or \"file\"");
    if (rv != APR_SUCCESS)
        return rv;
    rv = reg_id(c, &kid, entry, member, "kid");
    if (rv != APR_SUCCESS)
        return rv;
    if (apr_hash_get(issuer->keys, kid, APR_HASH_KEY_STRING) != NULL)
        return reg_bad(c, member, -1, "kid \"%s\" is given twice for issuer \"%s\"",
                       show(shown, kid), issuer->id);
    pem = json_object_get(entry, "pem");
    file = json_object_get(entry, "file");
    if ((pem == NULL) == (file == NULL))
        return reg_bad(c, member, -1, "give exactly one of \"pem\" (the public key "
                       "as PEM text) and \"file\" (a PEM file)");
    if (!json_is_string(pem != NULL ? pem : file) || json_string_length(pem != NULL ? pem : file) == 0)
        return reg_bad(c, member, -1, "\"%s\" is not a non-empty string",
                       pem != NULL ? "pem" : "file");

    if (apr_pool_create(&kp, c->p) != APR_SUCCESS)
        return reg_bad(c, member, -1, "out of memory");
    pds_error_clear(&inner);
    if (pem != NULL) {
        rv = pds_key_load_pem(&key, kp, json_string_value(pem),
                              json_string_length(pem), &inner);
    }
    else {
        const char *given = json_string_value(file);
        char *full = NULL;
        char shown_path[200];

        if (given[0] != '/' && c->base_dir == NULL) {
            apr_pool_destroy(kp);
            return reg_bad(c, member, -1, "relative file %s needs the registry "
                           "file's directory; give an absolute path",
                           show_n(shown_path, sizeof(shown_path), 190, given));
        }
        if (given[0] == '/')
            full = apr_pstrdup(kp, given);
        else if (apr_filepath_merge(&full, c->base_dir, given, 0, kp) != APR_SUCCESS) {
            apr_pool_destroy(kp);
            return reg_bad(c, member, -1, "cannot make a path of %s in %s",
                           show_n(shown_path, sizeof(shown_path), 190, given),
                           c->base_dir);
        }
        rv = pds_key_load_file(&key, kp, full, &inner);
        if (rv != APR_SUCCESS && APR_STATUS_IS_ENOENT(rv)) {
            apr_pool_destroy(kp);
            return reg_bad(c, member, -1, "no such file %s",
                           show_n(shown_path, sizeof(shown_path), 190, given));
        }
    }
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(kp);
        return reg_bad(c, member, -1, "%s", inner.text);
    }
    if (pds_key_is_private(key)) {
        apr_pool_destroy(kp);
        return reg_bad(c, member, -1, "kid \"%s\" is a private key; a trust registry "
                       "holds public keys only (\"openssl pkey -pubout\" gives the "
                       "public key); keep the private key with the issuer",
                       show(shown, kid));
    }
    apr_hash_set(issuer->keys, kid, APR_HASH_KEY_STRING, key);
    return APR_SUCCESS;
}

static apr_status_t reg_issuer(reg_ctx_t *c, pds_trust_registry_t *reg, json_t *entry,
                               int index)
{
    static const char *const allowed[] = { "id", "keys", NULL };
    pds_trust_issuer_t *issuer;
    const char *member = apr_psprintf(c->p, "issuers[%d]", index);
    json_t *keys, *k;
    apr_status_t rv;
    size_t i;
    char shown[SHOW_SIZE];

    if (!json_is_object(entry))
        return reg_bad(c, member, -1, "an issuer is an object with \"id\" and \"keys\"");
    rv = reg_known_members(c, entry, member, allowed, "\"id\" and \"keys\"");
    if (rv != APR_SUCCESS)
        return rv;
    issuer = apr_pcalloc(c->p, sizeof(*issuer));
    rv = reg_id(c, &issuer->id, entry, member, "id");
    if (rv != APR_SUCCESS)
        return rv;
    if (apr_hash_get(reg->issuers, issuer->id, APR_HASH_KEY_STRING) != NULL)
        return reg_bad(c, member, -1, "issuer \"%s\" is listed twice; give each "
                       "issuer once with all its keys", show(shown, issuer->id));
    keys = json_object_get(entry, "keys");
    if (keys == NULL)
        return reg_bad(c, member, -1, "\"keys\" is missing");
    if (!json_is_array(keys) || json_array_size(keys) == 0)
        return reg_bad(c, member, -1, "\"keys\" must be a non-empty array of keys");
    issuer->keys = apr_hash_make(c->p);
    json_array_foreach(keys, i, k) {
        const char *kmember = apr_psprintf(c->p, "%s.keys[%d]", member, (int)i);

        rv = reg_key(c, issuer, k, kmember);
        if (rv != APR_SUCCESS)
            return rv;
    }
    apr_hash_set(reg->issuers, issuer->id, APR_HASH_KEY_STRING, issuer);
    reg->issuer_count++;
    return APR_SUCCESS;
}

static apr_status_t reg_revoked(reg_ctx_t *c, pds_trust_registry_t *reg, json_t *list)
{
    json_t *v;
    size_t i;
    char shown[SHOW_SIZE];

    if (!json_is_array(list))
        return reg_bad(c, "revoked", -1, "must be an array of artefact ids");
    json_array_foreach(list, i, v) {
        const char *member = apr_psprintf(c->p, "revoked[%d]", (int)i);
        const char *id;

        if (!json_is_string(v))
            return reg_bad(c, member, -1, "is not a string; give artefact ids "
                           "(\"jti\") as strings");
        id = json_string_value(v);
        if (!is_artefact_id(id))
            return reg_bad(c, member, -1, "\"%s\" is not an artefact id (1 to %d of "
                           "A-Z a-z 0-9 . _ : -)", show(shown, id), PDS_ARTEFACT_ID_MAX);
        id = apr_pstrdup(c->p, id);
        apr_hash_set(reg->revoked, id, APR_HASH_KEY_STRING, "");
    }
    return APR_SUCCESS;
}

static apr_status_t reg_parse(pds_trust_registry_t **preg, reg_ctx_t *c,
                              const char *json, apr_size_t len)
{
    static const char *const allowed[] = { "issuers", "revoked", NULL };
    const char *top = c->path != NULL ? c->path : PDS_REGISTRY_SOURCE;
    pds_trust_registry_t *reg;
    json_error_t jerr;
    json_t *root, *issuers, *revoked, *entry;
    apr_status_t rv;
    size_t i;

    if (len > PDS_TRUST_REGISTRY_MAX_SIZE)
        return reg_bad(c, top, -1, "larger than %d bytes", PDS_TRUST_REGISTRY_MAX_SIZE);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char shown[SHOW_SIZE + 40];

        return reg_bad(c, top, jerr.position, "not valid JSON at line %d column %d: %s",
                       jerr.line, jerr.column,
                       show_n(shown, sizeof(shown), sizeof(shown) - 4, jerr.text));
    }
    rv = APR_EINVAL;
    if (!json_is_object(root)) {
        reg_bad(c, top, -1, "the registry is a JSON object with \"issuers\" and "
                "optionally \"revoked\"");
        goto done;
    }
    if (reg_known_members(c, root, top, allowed,
                          "\"issuers\" and \"revoked\"") != APR_SUCCESS)
        goto done;
    issuers = json_object_get(root, "issuers");
    if (issuers == NULL) {
        reg_bad(c, top, -1, "\"issuers\" is missing");
        goto done;
    }
    if (!json_is_array(issuers)) {
        reg_bad(c, "issuers", -1, "must be an array of issuers");
        goto done;
    }
    reg = apr_pcalloc(c->p, sizeof(*reg));
    reg->issuers = apr_hash_make(c->p);
    reg->revoked = apr_hash_make(c->p);
    json_array_foreach(issuers, i, entry) {
        if (reg_issuer(c, reg, entry, (int)i) != APR_SUCCESS)
            goto done;
    }
    revoked = json_object_get(root, "revoked");
    if (revoked != NULL && reg_revoked(c, reg, revoked) != APR_SUCCESS)
        goto done;
    *preg = reg;
    rv = APR_SUCCESS;
done:
    json_decref(root);
    return rv;
}

/* The start of both entry points: *preg cleared and the context set up;
 * given says whether the caller's own input is there. 0: a bad argument,
 * reported as missing. */
static int reg_start(reg_ctx_t *c, pds_trust_registry_t **preg, apr_pool_t *p,
                     const char *path, int given, const char *missing, pds_error_t *err)
{
    if (preg != NULL)
        *preg = NULL;
    c->p = p;
    c->base_dir = NULL;
    c->path = path;
    c->err = err;
    if (preg != NULL && p != NULL && given)
        return 1;
    pds_error_set(err, "bad-argument", -1, PDS_REGISTRY_SOURCE, "%s", missing);
    return 0;
}

apr_status_t pds_trust_registry_parse(pds_trust_registry_t **preg, apr_pool_t *p,
                                      const char *json, apr_size_t len,
                                      const char *base_dir, pds_error_t *err)
{
    reg_ctx_t c;

    if (!reg_start(&c, preg, p, NULL, json != NULL || len == 0, "no trust registry given",
                   err))
        return APR_EINVAL;
    c.base_dir = base_dir;
    return reg_parse(preg, &c, json != NULL ? json : "", len);
}

apr_status_t pds_trust_registry_load_file(pds_trust_registry_t **preg,
                                          apr_pool_t *p, const char *path,
                                          pds_error_t *err)
{
    apr_pool_t *tmp;
    int opened;
    apr_size_t n = 0;
    apr_status_t rv;
    const char *slash;
    char *buf, errbuf[120];
    reg_ctx_t c;

    if (!reg_start(&c, preg, p, path, path != NULL && path[0] != '\0',
                   "no trust registry file given", err))
        return APR_EINVAL;
    slash = strrchr(path, '/');
    if (slash == NULL)
        c.base_dir = ".";
    else if (slash == path)
        c.base_dir = "/";
    else
        c.base_dir = apr_pstrmemdup(p, path, (apr_size_t)(slash - path));

    if (apr_pool_create(&tmp, p) != APR_SUCCESS)
        return reg_bad(&c, path, -1, "out of memory");
    /* One byte past the limit: reg_parse refuses a larger file. */
    rv = pds_file_read_bounded(&buf, &n, tmp, path, PDS_TRUST_REGISTRY_MAX_SIZE, &opened);
    if (rv != APR_SUCCESS) {
        reg_bad(&c, path, -1, "cannot %s the trust registry: %s", opened ? "read" : "open",
                apr_strerror(rv, errbuf, sizeof(errbuf)));
        apr_pool_destroy(tmp);
        return rv;
    }
    rv = reg_parse(preg, &c, buf, n);
    /* A registry that (wrongly) holds a private key: do not leave it about. */
    OPENSSL_cleanse(buf, n);
    apr_pool_destroy(tmp);
    return rv;
}

int pds_trust_registry_issuer_count(const pds_trust_registry_t *reg)
{
    return reg != NULL ? reg->issuer_count : 0;
}

int pds_trust_registry_is_revoked(const pds_trust_registry_t *reg,
                                  const char *artefact_id)
{
    if (reg == NULL || artefact_id == NULL)
        return 0;
    return apr_hash_get(reg->revoked, artefact_id, APR_HASH_KEY_STRING) != NULL;
}

/* ---- artefacts ------------------------------------------------------------ */

/* What the checks collect before the result is built; everything here lives
 * in the check's own pool. */
typedef struct claims_t {
    const char *iss, *jti, *sub, *org, *purpose, *agreement, *kid;
    json_int_t iat, nbf, exp;
    int has_nbf;
    apr_array_header_t *field_paths;   /* const char *, each one parsed */
} claims_t;

static apr_status_t fail(pds_error_t *err, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static apr_status_t fail(pds_error_t *err, const char *code, const char *fmt, ...)
{
    char text[PDS_ERROR_TEXT_LENGTH];
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    pds_error_set(err, code, -1, PDS_ARTEFACT_HEADER, "%s", text);
    return APR_EINVAL;
}

#define MALFORMED "artefact-malformed"

/* A non-empty string claim; *out NULL when absent and not required. */
static apr_status_t claim_string(const char **out, json_t *claims, const char *name,
                                 int required, pds_error_t *err)
{
    json_t *v = json_object_get(claims, name);

    *out = NULL;
    if (v == NULL) {
        if (!required)
            return APR_SUCCESS;
        return fail(err, MALFORMED, "the artefact has no \"%s\" claim, which is "
                    "required", name);
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(err, MALFORMED, "the artefact's \"%s\" claim is not a "
                    "non-empty string", name);
    *out = json_string_value(v);
    return APR_SUCCESS;
}

/* An integer time claim within [0, PDS_ARTEFACT_TIME_MAX]. */
static apr_status_t claim_time(json_int_t *out, int *present, json_t *claims,
                               const char *name, int required, pds_error_t *err)
{
    json_t *v = json_object_get(claims, name);
    json_int_t t;

    *out = 0;
    if (present != NULL)
        *present = 0;
    if (v == NULL) {
        if (!required)
            return APR_SUCCESS;
        return fail(err, MALFORMED, "the artefact has no \"%s\" claim, which is "
                    "required", name);
    }
    if (!json_is_integer(v))
        return fail(err, MALFORMED, "the artefact's \"%s\" claim is not an "
                    "integer number of seconds", name);
    t = json_integer_value(v);
    if (t < 0 || t > PDS_ARTEFACT_TIME_MAX)
        return fail(err, MALFORMED, "the artefact's \"%s\" claim is not a time "
                    "between 1970 and 9999", name);
    *out = t;
    if (present != NULL)
        *present = 1;
    return APR_SUCCESS;
}

/* Step 1: everything that needs no key. The field paths are compiled into a
 * throwaway set in tmp, only to see that each one parses. */
static apr_status_t check_syntax(claims_t *c, const pds_jws_t *jws, apr_pool_t *tmp,
                                 pds_error_t *err)
{
    json_t *header = pds_jws_header(jws);
    json_t *claims = pds_jws_payload(jws);
    json_t *typ, *fields, *f;
    pds_fieldset_t *set;
    size_t i;
    char shown[SHOW_SIZE];

    c->kid = pds_jws_kid(jws);
    if (c->kid == NULL || c->kid[0] == '\0')
        return fail(err, MALFORMED, "the artefact's header has no \"kid\"; it must "
                    "name the issuer's key");
    typ = json_object_get(header, "typ");
    if (typ != NULL && (!json_is_string(typ)
                        || strcmp(json_string_value(typ), PDS_ARTEFACT_TYP) != 0))
        return fail(err, MALFORMED, "the artefact's header \"typ\" is not \""
                    PDS_ARTEFACT_TYP "\"");

    if (claim_string(&c->iss, claims, "iss", 1, err) != APR_SUCCESS
        || claim_string(&c->jti, claims, "jti", 1, err) != APR_SUCCESS
        || claim_string(&c->sub, claims, "sub", 1, err) != APR_SUCCESS
        || claim_string(&c->org, claims, "org", 1, err) != APR_SUCCESS
        || claim_string(&c->purpose, claims, "purpose", 1, err) != APR_SUCCESS
        || claim_string(&c->agreement, claims, "agreement", 0, err) != APR_SUCCESS
        || claim_time(&c->iat, NULL, claims, "iat", 1, err) != APR_SUCCESS
        || claim_time(&c->nbf, &c->has_nbf, claims, "nbf", 0, err) != APR_SUCCESS
        || claim_time(&c->exp, NULL, claims, "exp", 1, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (!is_artefact_id(c->jti))
        return fail(err, MALFORMED, "the artefact's \"jti\" \"%s\" is not 1 to %d of "
                    "A-Z a-z 0-9 . _ : -", show(shown, c->jti), PDS_ARTEFACT_ID_MAX);

    fields = json_object_get(claims, "fields");
    if (fields == NULL)
        return fail(err, MALFORMED, "the artefact has no \"fields\" claim, which is "
                    "required");
    if (!json_is_array(fields) || json_array_size(fields) == 0)
        return fail(err, MALFORMED, "the artefact's \"fields\" claim is not a "
                    "non-empty array of field paths");
    if (pds_fieldset_create(&set, tmp) != APR_SUCCESS)
        return fail(err, "no-memory", "out of memory reading the artefact");
    c->field_paths = apr_array_make(tmp, (int)json_array_size(fields), sizeof(const char *));
    json_array_foreach(fields, i, f) {
        pds_error_t inner;

        if (!json_is_string(f))
            return fail(err, MALFORMED, "the artefact's \"fields\"[%d] is not a "
                        "string", (int)i);
        pds_error_clear(&inner);
        if (pds_fieldset_add(set, json_string_value(f), &inner) != APR_SUCCESS)
            return fail(err, MALFORMED, "the artefact's \"fields\"[%d] is not a field "
                        "path: at %d: %s", (int)i, inner.position, inner.text);
        APR_ARRAY_PUSH(c->field_paths, const char *) = json_string_value(f);
    }
    return APR_SUCCESS;
}

/* Step 4. now and skew are small, and every claim is within
 * [0, PDS_ARTEFACT_TIME_MAX], so nothing here can overflow. */
static apr_status_t check_times(const claims_t *c, const pds_artefact_expect_t *expect,
                                pds_error_t *err)
{
    json_int_t now = (json_int_t)apr_time_sec(expect->now);
    json_int_t skew = expect->clock_skew > 0 ? expect->clock_skew : 0;

    if (c->exp < now - skew)
        return fail(err, "artefact-expired", "the artefact expired %" APR_INT64_T_FMT
                    " seconds ago", (apr_int64_t)(now - c->exp));
    if (c->has_nbf && c->nbf > now + skew)
        return fail(err, "artefact-not-yet-valid", "the artefact is not valid for "
                    "another %" APR_INT64_T_FMT " seconds (\"nbf\")",
                    (apr_int64_t)(c->nbf - now));
    if (c->iat > now + skew)
        return fail(err, "artefact-not-yet-valid", "the artefact was issued %"
                    APR_INT64_T_FMT " seconds in the future (\"iat\")",
                    (apr_int64_t)(c->iat - now));
    if (expect->max_lifetime > 0 && c->exp - c->iat > expect->max_lifetime)
        return fail(err, "artefact-too-long-lived", "the artefact lives %"
                    APR_INT64_T_FMT " seconds (exp - iat); at most %d are allowed",
                    (apr_int64_t)(c->exp - c->iat), expect->max_lifetime);
    return APR_SUCCESS;
}

static apr_status_t binding(pds_error_t *err, const char *claim, const char *got,
                            const char *want)
{
    char g[SHOW_SIZE], w[SHOW_SIZE];

    if (want == NULL)
        return fail(err, "artefact-wrong-binding", "the artefact's \"%s\" claim is "
                    "\"%s\", but this request has none", claim, show(g, got));
    return fail(err, "artefact-wrong-binding", "the artefact's \"%s\" claim is \"%s\", "
                "not \"%s\" as this request needs", claim, show(g, got), show(w, want));
}

/* Step 5. */
static apr_status_t check_binding(const claims_t *c, const pds_artefact_expect_t *expect,
                                  pds_error_t *err)
{
    if (strcmp(c->sub, expect->subject) != 0)
        return binding(err, "sub", c->sub, expect->subject);
    if (strcmp(c->org, expect->organisation) != 0)
        return binding(err, "org", c->org, expect->organisation);
    if (strcmp(c->purpose, expect->purpose) != 0)
        return binding(err, "purpose", c->purpose, expect->purpose);
    if (c->agreement != NULL
        && (expect->agreement == NULL || strcmp(c->agreement, expect->agreement) != 0))
        return binding(err, "agreement", c->agreement, expect->agreement);
    return APR_SUCCESS;
}

/* The result, copied into p; the field paths are compiled again there (they
 * all parsed in step 1). */
static apr_status_t build(pds_artefact_t **part, apr_pool_t *p, const claims_t *c)
{
    pds_artefact_t *art = apr_pcalloc(p, sizeof(*art));
    int i;

    if (pds_fieldset_create(&art->fields, p) != APR_SUCCESS)
        return APR_ENOMEM;
    art->field_paths = apr_array_make(p, c->field_paths->nelts, sizeof(const char *));
    for (i = 0; i < c->field_paths->nelts; i++) {
        const char *path = apr_pstrdup(p, APR_ARRAY_IDX(c->field_paths, i, const char *));

        if (pds_fieldset_add(art->fields, path, NULL) != APR_SUCCESS)
            return APR_EGENERAL;
        APR_ARRAY_PUSH(art->field_paths, const char *) = path;
    }
    art->id = apr_pstrdup(p, c->jti);
    art->issuer = apr_pstrdup(p, c->iss);
    art->kid = apr_pstrdup(p, c->kid);
    art->subject = apr_pstrdup(p, c->sub);
    art->organisation = apr_pstrdup(p, c->org);
    art->purpose = apr_pstrdup(p, c->purpose);
    art->agreement = c->agreement != NULL ? apr_pstrdup(p, c->agreement) : NULL;
    art->issued = apr_time_from_sec(c->iat);
    art->not_before = c->has_nbf ? apr_time_from_sec(c->nbf) : 0;
    art->expires = apr_time_from_sec(c->exp);
    *part = art;
    return APR_SUCCESS;
}

/* Steps 1 to 6, with the decoded token in tmp and the result in p. */
static apr_status_t check(pds_artefact_t **part, apr_pool_t *p, apr_pool_t *tmp,
                          const pds_trust_registry_t *reg,
                          const char *compact, apr_size_t len,
                          const pds_artefact_expect_t *expect, pds_error_t *err)
{
    const pds_trust_issuer_t *issuer;
    const pds_key_t *key;
    pds_artefact_t *art;
    pds_jws_t *jws;
    pds_error_t inner;
    claims_t c;
    char s1[SHOW_SIZE];

    memset(&c, 0, sizeof(c));
    pds_error_clear(&inner);
    if (pds_jws_parse(&jws, tmp, compact, len, &inner) != APR_SUCCESS) {
        /* jansson's messages end with the token it stopped at ("... near
         * 'xyz'"): the artefact's own text, which is not repeated. */
        char *near = strstr(inner.text, " near ");

        if (near != NULL)
            *near = '\0';
        return fail(err, MALFORMED, "the artefact is not a compact JWS: %s", inner.text);
    }
    if (check_syntax(&c, jws, tmp, err) != APR_SUCCESS)
        return APR_EINVAL;

    issuer = apr_hash_get(reg->issuers, c.iss, APR_HASH_KEY_STRING);
    if (issuer == NULL)
        return fail(err, "artefact-unknown-issuer", "the artefact's issuer \"%s\" is "
                    "not in the trust registry", show(s1, c.iss));
    key = apr_hash_get(issuer->keys, c.kid, APR_HASH_KEY_STRING);
    if (key == NULL)
        return fail(err, "artefact-unknown-issuer", "the trust registry has no key "
                    "\"%s\" for issuer \"%s\"", show(s1, c.kid), issuer->id);

    pds_error_clear(&inner);
    if (pds_jws_verify(jws, key, &inner) != APR_SUCCESS)
        return fail(err, "artefact-bad-signature", "the artefact's signature does not "
                    "verify with key \"%s\" of issuer \"%s\": %s", c.kid, issuer->id,
                    inner.text);

    if (check_times(&c, expect, err) != APR_SUCCESS
        || check_binding(&c, expect, err) != APR_SUCCESS)
        return APR_EINVAL;

    if (pds_trust_registry_is_revoked(reg, c.jti))
        return fail(err, "artefact-revoked", "the artefact \"%s\" has been revoked",
                    show(s1, c.jti));

    /* Everything has passed: only now is anything allocated from p. */
    if (build(&art, p, &c) != APR_SUCCESS)
        return fail(err, "no-memory", "out of memory keeping the artefact");
    *part = art;
    return APR_SUCCESS;
}

apr_status_t pds_artefact_check(pds_artefact_t **part, apr_pool_t *p,
                                const pds_trust_registry_t *reg,
                                const char *compact, apr_size_t len,
                                const pds_artefact_expect_t *expect,
                                pds_error_t *err)
{
    apr_pool_t *tmp;
    apr_status_t rv;

    if (part != NULL)
        *part = NULL;
    if (part == NULL || p == NULL || reg == NULL || compact == NULL || expect == NULL
        || expect->subject == NULL || expect->organisation == NULL
        || expect->purpose == NULL) {
        /* Nothing to check against is a refusal, never a pass. */
        pds_error_set(err, "bad-argument", -1, PDS_ARTEFACT_HEADER,
                      "no artefact, trust registry or expected subject, "
                      "organisation and purpose to check it against");
        return APR_EINVAL;
    }
    if (len > PDS_ARTEFACT_MAX_LENGTH)
        return fail(err, MALFORMED, "the artefact is longer than %d bytes",
                    PDS_ARTEFACT_MAX_LENGTH);
    if (apr_pool_create(&tmp, p) != APR_SUCCESS)
        return fail(err, "no-memory", "out of memory checking the artefact");
    rv = check(part, p, tmp, reg, compact, len, expect, err);
    apr_pool_destroy(tmp);
    return rv;
}
