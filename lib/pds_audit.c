/* pds_audit.c: audit records as JSON Lines. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "pds_audit.h"
#include "pds_time.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not one. */
static apr_size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
            return 0;
        return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return 0;
        return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80
            && (s[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* A JSON value for a string that came from outside (headers, addresses).
 * An audit record must never be lost to a bad byte, so invalid UTF-8 is
 * replaced by U+FFFD rather than refused; NULL becomes null. */
static json_t *audit_string(const char *s, apr_pool_t *p)
{
    json_t *js;
    const unsigned char *in;
    char *out, *o;
    apr_size_t n;

    if (s == NULL)
        return json_null();
    js = json_string(s);
    if (js != NULL)
        return js;
    /* Each bad byte grows to at most 3 bytes. */
    out = apr_palloc(p, strlen(s) * 3 + 1);
    o = out;
    for (in = (const unsigned char *)s; *in != '\0'; in += n) {
        n = utf8_sequence(in);
        if (n == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            n = 1;
        }
        else {
            memcpy(o, in, n);
            o += n;
        }
    }
    *o = '\0';
    return json_string(out);
}

/* Adds key: value, taking the reference; returns 0 on any failure. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(obj, key, value) == 0;
}

static json_t *audit_fields(const apr_array_header_t *fields, apr_pool_t *p)
{
    json_t *arr;
    int i;

    arr = json_array();
    if (arr == NULL || fields == NULL)
        return arr;
    for (i = 0; i < fields->nelts; i++) {
        json_t *v = audit_string(APR_ARRAY_IDX(fields, i, const char *), p);

        if (v == NULL || json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* {"label": count, ...} of labels (one per record), in first-seen order. */
static json_t *audit_counts(const apr_array_header_t *labels, apr_pool_t *p)
{
    json_t *obj = json_object();
    int i;

    for (i = 0; obj != NULL && i < labels->nelts; i++) {
        /* A label is configuration text; bytes that are not UTF-8 become
         * U+FFFD as in values, so the record is never lost to them. */
        json_t *text = audit_string(APR_ARRAY_IDX(labels, i, const char *), p);
        const char *label = json_string_value(text);
        json_t *seen = label != NULL ? json_object_get(obj, label) : NULL;

        if (label == NULL
            || (seen != NULL ? json_integer_set(seen, json_integer_value(seen) + 1) != 0
                             : !put(obj, label, json_integer(1)))) {
            json_decref(text);
            json_decref(obj);
            return NULL;
        }
        json_decref(text);
    }
    return obj;
}

static apr_status_t release_json(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* An upper bound of the bytes a string takes in a line written with
 * JSON_ENSURE_ASCII: quotes and a comma, then at most 6 per byte (\u00XX for
 * a control character; a \uXXXX escape per 2 to 4 bytes beyond ASCII). */
static apr_size_t json_text_bound(const char *s)
{
    apr_size_t n = 3;

    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        n += c < 0x20 || c >= 0x80 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
    }
    return n;
}

static apr_size_t subjects_bound(const apr_array_header_t *subjects)
{
    apr_size_t n = 0;
    int i;

    for (i = 0; i < subjects->nelts; i++)
        n += json_text_bound(APR_ARRAY_IDX(subjects, i, const char *));
    return n;
}

static apr_status_t release_json(void *data);

/* The subjects of a collection in parts of at most PDS_AUDIT_SUBJECTS_BYTES. */
static int subject_parts(apr_array_header_t *parts, const pds_audit_record_t *rec,
                         apr_pool_t *p)
{
    apr_array_header_t *chunk = NULL;
    apr_size_t used = 0;
    int i, k;

    for (i = 0; i <= rec->subjects->nelts; i++) {
        const char *s = i < rec->subjects->nelts
            ? APR_ARRAY_IDX(rec->subjects, i, const char *) : NULL;
        apr_size_t n = s ? json_text_bound(s) : 0;

        if (chunk != NULL && (s == NULL || used + n > PDS_AUDIT_SUBJECTS_BYTES)) {
            APR_ARRAY_PUSH(parts, apr_array_header_t *) = chunk;
            chunk = NULL;
        }
        if (s == NULL)
            break;
        if (chunk == NULL) {
            chunk = apr_array_make(p, 64, sizeof(const char *));
            used = 0;
        }
        APR_ARRAY_PUSH(chunk, const char *) = s;
        used += n;
    }
    /* Each chunk becomes its line's object, in place. */
    for (k = 0; k < parts->nelts; k++) {
        apr_array_header_t *c = APR_ARRAY_IDX(parts, k, apr_array_header_t *);
        json_t *line = json_object();

        if (line == NULL
            || !put(line, "type", json_string("subjects"))
            || !put(line, "request_id", audit_string(rec->request_id, p))
            || !put(line, "part", json_integer(k + 1))
            || !put(line, "parts", json_integer(parts->nelts))
            || !put(line, "subjects", audit_fields(c, p))) {
            json_decref(line);
            parts->nelts = k;           /* the lines made so far are released */
            return 0;
        }
        apr_pool_cleanup_register(p, line, release_json, apr_pool_cleanup_null);
        APR_ARRAY_IDX(parts, k, json_t *) = line;
    }
    return 1;
}

/* The record's members, in the documented order. The object is released by
 * a cleanup of p. With pparts, a collection's subjects may go to parts. */
static apr_status_t record_object(json_t **pobj, apr_array_header_t **pparts,
                                  const pds_audit_record_t *rec,
                                  apr_pool_t *p, pds_error_t *err)
{
    apr_array_header_t *parts = NULL;
    json_t *obj;
    const char *when;
    int ok;

    if (pobj == NULL || rec == NULL) {
        pds_error_set(err, "internal-error", -1, "audit",
                      "audit record missing");
        return APR_EINVAL;
    }
    /* A record that says neither allow nor deny cannot be read back. */
    if (rec->decision == NULL || (strcmp(rec->decision, "allow") != 0
                                  && strcmp(rec->decision, "deny") != 0)) {
        pds_error_set(err, "internal-error", -1, "audit",
                      "audit record decision must be \"allow\" or \"deny\"");
        return APR_EINVAL;
    }
    when = pds_time_format_usec(p, rec->time);
    if (when == NULL) {
        pds_error_set(err, "internal-error", -1, "audit",
                      "audit record time cannot be expressed as a date");
        return APR_EINVAL;
    }

    if (pparts != NULL) {
        parts = apr_array_make(p, 4, sizeof(void *));
        if (rec->subjects != NULL && subjects_bound(rec->subjects) > PDS_AUDIT_SUBJECTS_BYTES
            && !subject_parts(parts, rec, p))
            goto nomem;
        *pparts = parts;
    }
    obj = json_object();
    if (obj == NULL)
        goto nomem;
    /* jansson keeps insertion order: this is the documented key order. */
    ok = put(obj, "time", json_string(when))
        && put(obj, "request_id", audit_string(rec->request_id, p))
        && put(obj, "client_ip", audit_string(rec->client_ip, p))
        && put(obj, "organisation", audit_string(rec->organisation, p))
        && put(obj, "agreement", audit_string(rec->agreement, p))
        && put(obj, "agreement_version",
               audit_string(rec->agreement_version, p))
        && put(obj, "purpose", audit_string(rec->purpose, p))
        && put(obj, "legal_basis", audit_string(rec->legal_basis, p))
        && put(obj, "subject", audit_string(rec->subject, p))
        && put(obj, "method", audit_string(rec->method, p))
        && put(obj, "path", audit_string(rec->path, p))
        && (rec->query == NULL || put(obj, "query", audit_string(rec->query, p)))
        && put(obj, "decision", json_string(rec->decision))
        && put(obj, "reason", audit_string(rec->reason, p))
        && put(obj, "status", json_integer(rec->status))
        && put(obj, "fields", audit_fields(rec->fields, p))
        && put(obj, "visible_from", rec->visible_from == 0 ? json_null()
               : rec->visible_from == PDS_AUDIT_NEVER ? json_string("never")
               : audit_string(pds_time_format_usec(p, rec->visible_from), p))
        && (rec->consent == NULL || put(obj, "consent", audit_string(rec->consent, p)))
        && (rec->transforms == NULL || rec->transforms->nelts == 0
            || put(obj, "transforms", audit_fields(rec->transforms, p)))
        && (!rec->deidentified || put(obj, "deidentified", json_true()))
        && (rec->written == NULL || put(obj, "written", audit_fields(rec->written, p)))
        && (rec->subjects == NULL
            || (put(obj, "records", json_integer(rec->subjects->nelts))
                && (parts != NULL && parts->nelts > 0
                    ? put(obj, "subjects_parts", json_integer(parts->nelts))
                    : put(obj, "subjects", audit_fields(rec->subjects, p)))))
        && (rec->dropped == NULL
            || (put(obj, "dropped", json_integer(rec->dropped->nelts))
                && put(obj, "dropped_by", audit_counts(rec->dropped, p))))
        && (rec->excluded == NULL
            || (put(obj, "excluded", json_integer(rec->excluded->nelts))
                && put(obj, "excluded_by", audit_counts(rec->excluded, p))))
        && (rec->node == NULL || put(obj, "node", audit_string(rec->node, p)));
    if (!ok) {
        json_decref(obj);
        goto nomem;
    }
    apr_pool_cleanup_register(p, obj, release_json, apr_pool_cleanup_null);
    *pobj = obj;
    return APR_SUCCESS;

nomem:
    pds_error_set(err, "internal-error", -1, "audit",
                  "out of memory formatting an audit record");
    return APR_ENOMEM;
}

apr_status_t pds_audit_record_json(json_t **pobj, const pds_audit_record_t *rec,
                                   apr_pool_t *p, pds_error_t *err)
{
    return record_object(pobj, NULL, rec, p, err);
}

apr_status_t pds_audit_record_lines(json_t **pobj, apr_array_header_t **pparts,
                                    const pds_audit_record_t *rec, apr_pool_t *p,
                                    pds_error_t *err)
{
    if (pparts == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "no place for the parts");
        return APR_EINVAL;
    }
    return record_object(pobj, pparts, rec, p, err);
}

apr_status_t pds_audit_format(char **pline, apr_size_t *plen,
                              const pds_audit_record_t *rec, apr_pool_t *p,
                              pds_error_t *err)
{
    json_t *obj;
    char *dumped;
    apr_size_t len;
    apr_status_t rv;

    if (pline == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "no place for the line");
        return APR_EINVAL;
    }
    rv = record_object(&obj, NULL, rec, p, err);
    if (rv != APR_SUCCESS)
        return rv;
    /* ENSURE_ASCII: every byte of the log is printable ASCII, so reading it
     * in a terminal cannot be subverted by escape or bidi characters. */
    dumped = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (dumped == NULL) {
        pds_error_set(err, "internal-error", -1, "audit",
                      "out of memory formatting an audit record");
        return APR_ENOMEM;
    }
    len = strlen(dumped);
    *pline = apr_palloc(p, len + 2);
    memcpy(*pline, dumped, len);
    (*pline)[len] = '\n';
    (*pline)[len + 1] = '\0';
    free(dumped);
    if (plen != NULL)
        *plen = len + 1;
    return APR_SUCCESS;
}

