/* pds_audit.c: audit records as JSON Lines, written without a JSON document. */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "pds_audit.h"
#include "pds_jsonw.h"
#include "pds_text.h"
#include "pds_time.h"

static void put_strings(pds_jsonw_t *w, const apr_array_header_t *list)
{
    int i;

    pds_jsonw_open(w, '[');
    for (i = 0; list != NULL && i < list->nelts; i++)
        pds_jsonw_string(w, APR_ARRAY_IDX(list, i, const char *));
    pds_jsonw_close(w, ']');
}

/* {"label": count, ...} of labels (one per record), in first-seen order. A
 * label is configuration text; bytes that are not UTF-8 become U+FFFD as in
 * values, so two labels are the same when their escaped text is. */
static void put_counts(pds_jsonw_t *w, const apr_array_header_t *labels, apr_pool_t *p)
{
    apr_hash_t *seen = apr_hash_make(p);
    const char **first = apr_palloc(p, (labels->nelts + 1) * sizeof(*first));
    apr_int64_t *count = apr_pcalloc(p, (labels->nelts + 1) * sizeof(*count));
    int i, n = 0;

    for (i = 0; i < labels->nelts; i++) {
        const char *label = APR_ARRAY_IDX(labels, i, const char *);
        char *text = apr_palloc(p, 6 * strlen(label) + 1);
        int *at;

        text[pds_text_json_escape_ascii(text, label)] = '\0';
        at = apr_hash_get(seen, text, APR_HASH_KEY_STRING);
        if (at == NULL) {
            at = apr_palloc(p, sizeof(*at));
            *at = n;
            first[n++] = label;
            apr_hash_set(seen, text, APR_HASH_KEY_STRING, at);
        }
        count[*at]++;
    }
    pds_jsonw_open(w, '{');
    for (i = 0; i < n; i++) {
        pds_jsonw_key(w, first[i]);
        pds_jsonw_int(w, count[i]);
    }
    pds_jsonw_close(w, '}');
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

static pds_audit_line_t finish(pds_jsonw_t *w)
{
    pds_audit_line_t line;

    line.json = w->data;
    line.len = w->len;
    return line;
}

/* The subjects of a collection in parts of at most PDS_AUDIT_SUBJECTS_BYTES. */
static void subject_parts(apr_array_header_t *parts, const pds_audit_record_t *rec,
                          apr_pool_t *p)
{
    apr_array_header_t *chunks = apr_array_make(p, 8, sizeof(apr_array_header_t *));
    apr_array_header_t *chunk = NULL;
    apr_size_t used = 0;
    int i, k;

    for (i = 0; i <= rec->subjects->nelts; i++) {
        const char *s = i < rec->subjects->nelts
            ? APR_ARRAY_IDX(rec->subjects, i, const char *) : NULL;
        apr_size_t n = s ? json_text_bound(s) : 0;

        if (chunk != NULL && (s == NULL || used + n > PDS_AUDIT_SUBJECTS_BYTES)) {
            APR_ARRAY_PUSH(chunks, apr_array_header_t *) = chunk;
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
    for (k = 0; k < chunks->nelts; k++) {
        pds_jsonw_t w;

        pds_jsonw_init(&w, p, PDS_AUDIT_SUBJECTS_BYTES + 256);
        pds_jsonw_open(&w, '{');
        pds_jsonw_key(&w, "type");
        pds_jsonw_string(&w, "subjects");
        pds_jsonw_key(&w, "request_id");
        pds_jsonw_string(&w, rec->request_id);
        pds_jsonw_key(&w, "part");
        pds_jsonw_int(&w, k + 1);
        pds_jsonw_key(&w, "parts");
        pds_jsonw_int(&w, chunks->nelts);
        pds_jsonw_key(&w, "subjects");
        put_strings(&w, APR_ARRAY_IDX(chunks, k, apr_array_header_t *));
        pds_jsonw_close(&w, '}');
        APR_ARRAY_PUSH(parts, pds_audit_line_t) = finish(&w);
    }
}

static void member_string(pds_jsonw_t *w, const char *name, const char *value)
{
    pds_jsonw_key(w, name);
    pds_jsonw_string(w, value);
}

static void member_int(pds_jsonw_t *w, const char *name, apr_int64_t value)
{
    pds_jsonw_key(w, name);
    pds_jsonw_int(w, value);
}

/* The record's members, in the documented order, written straight into one
 * buffer (what json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) wrote of the
 * jansson object this used to build, byte for byte). With pparts, a
 * collection's subjects may go to parts. */
static apr_status_t record_text(pds_audit_line_t *pline, apr_array_header_t **pparts,
                                const pds_audit_record_t *rec,
                                apr_pool_t *p, pds_error_t *err)
{
    apr_array_header_t *parts = NULL;
    pds_jsonw_t w;
    const char *when;

    if (pline == NULL || rec == NULL) {
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
        parts = apr_array_make(p, 4, sizeof(pds_audit_line_t));
        if (rec->subjects != NULL && subjects_bound(rec->subjects) > PDS_AUDIT_SUBJECTS_BYTES)
            subject_parts(parts, rec, p);
        *pparts = parts;
    }
    pds_jsonw_init(&w, p, 2048);
    pds_jsonw_open(&w, '{');
    member_string(&w, "time", when);
    member_string(&w, "request_id", rec->request_id);
    member_string(&w, "client_ip", rec->client_ip);
    member_string(&w, "organisation", rec->organisation);
    member_string(&w, "agreement", rec->agreement);
    member_string(&w, "agreement_version", rec->agreement_version);
    member_string(&w, "purpose", rec->purpose);
    member_string(&w, "legal_basis", rec->legal_basis);
    member_string(&w, "subject", rec->subject);
    member_string(&w, "method", rec->method);
    member_string(&w, "path", rec->path);
    if (rec->query != NULL)
        member_string(&w, "query", rec->query);
    member_string(&w, "decision", rec->decision);
    member_string(&w, "reason", rec->reason);
    member_int(&w, "status", rec->status);
    pds_jsonw_key(&w, "fields");
    put_strings(&w, rec->fields);
    if (rec->visible_from == 0) {
        pds_jsonw_key(&w, "visible_from");
        pds_jsonw_raw(&w, "null", 4);
    }
    else
        member_string(&w, "visible_from", rec->visible_from == PDS_AUDIT_NEVER ? "never"
                      : pds_time_format_usec(p, rec->visible_from));
    if (rec->consent != NULL)
        member_string(&w, "consent", rec->consent);
    if (rec->transforms != NULL && rec->transforms->nelts > 0) {
        pds_jsonw_key(&w, "transforms");
        put_strings(&w, rec->transforms);
    }
    if (rec->deidentified) {
        pds_jsonw_key(&w, "deidentified");
        pds_jsonw_raw(&w, "true", 4);
    }
    if (rec->written != NULL) {
        pds_jsonw_key(&w, "written");
        put_strings(&w, rec->written);
    }
    if (rec->subjects != NULL) {
        member_int(&w, "records", rec->subjects->nelts);
        if (parts != NULL && parts->nelts > 0)
            member_int(&w, "subjects_parts", parts->nelts);
        else {
            pds_jsonw_key(&w, "subjects");
            put_strings(&w, rec->subjects);
        }
    }
    if (rec->dropped != NULL) {
        member_int(&w, "dropped", rec->dropped->nelts);
        pds_jsonw_key(&w, "dropped_by");
        put_counts(&w, rec->dropped, p);
    }
    if (rec->excluded != NULL) {
        member_int(&w, "excluded", rec->excluded->nelts);
        pds_jsonw_key(&w, "excluded_by");
        put_counts(&w, rec->excluded, p);
    }
    if (rec->node != NULL)
        member_string(&w, "node", rec->node);
    pds_jsonw_close(&w, '}');
    *pline = finish(&w);
    return APR_SUCCESS;
}

apr_status_t pds_audit_record_lines(pds_audit_line_t *pline, apr_array_header_t **pparts,
                                    const pds_audit_record_t *rec, apr_pool_t *p,
                                    pds_error_t *err)
{
    if (pparts == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "no place for the parts");
        return APR_EINVAL;
    }
    return record_text(pline, pparts, rec, p, err);
}

apr_status_t pds_audit_format(char **pline, apr_size_t *plen,
                              const pds_audit_record_t *rec, apr_pool_t *p,
                              pds_error_t *err)
{
    pds_audit_line_t text;
    char *line;
    apr_status_t rv;

    if (pline == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "no place for the line");
        return APR_EINVAL;
    }
    /* ASCII only: every byte of the log is printable ASCII, so reading it in
     * a terminal cannot be subverted by escape or bidi characters. */
    rv = record_text(&text, NULL, rec, p, err);
    if (rv != APR_SUCCESS)
        return rv;
    line = apr_palloc(p, text.len + 2);
    memcpy(line, text.json, text.len);
    line[text.len] = '\n';
    line[text.len + 1] = '\0';
    *pline = line;
    if (plen != NULL)
        *plen = text.len + 1;
    return APR_SUCCESS;
}
