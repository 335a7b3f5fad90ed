/* test_audit_writer.c: the audit record writer (lib/pds_audit.c, pds_jsonw,
 * pds_text_json_escape_ascii) against the jansson path it replaced, kept
 * here as the oracle: many records, odd strings among them (control
 * characters, quotes, backslashes, DEL, UTF-8 of every length, bytes that
 * are not UTF-8), must give the same bytes, sealed and unsealed. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_audit.h"
#include "pds_chain.h"
#include "pds_error.h"
#include "pds_text.h"
#include "pds_time.h"

/* ---- the oracle: lib/pds_audit.c as it was, building a jansson object ---- */

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
        n = pds_text_utf8_len(in);
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


/* ---- random records -------------------------------------------------------- */

static unsigned long rnd_state = 20261203UL;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rnd_state >> 33) % n);
}

/* Pieces a string is made of: plain text, every escape, UTF-8 of each
 * length, and malformed sequences (lone continuation, overlong, surrogate,
 * above U+10FFFF, cut short). */
static const char *const pieces[] = {
    "a", "Z", "0", " ", "/", "-", "ps:", "C123", "\"", "\\", "\b", "\f", "\n", "\r",
    "\t", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xc2\x80", "\xdf\xbf", "\xe2\x82\xac",
    "\xe0\xa0\x80", "\xef\xbf\xbd", "\xef\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
    "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\x80", "\xbf", "\xc0\xaf",
    "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\xaf",
    "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe", "\xc3", "\xe2\x82", "\xf0\x9f\x98",
    "\xe2\x28\xa1", "\xe2\x82\x28", "\u202e", "\xe2\x80\xa8",
};

static const char *rnd_string(apr_pool_t *p, int may_be_null)
{
    const char *s;
    unsigned n, i;

    if (may_be_null && rnd(6) == 0)
        return NULL;
    n = rnd(4) == 0 ? 0 : rnd(12);
    s = "";
    for (i = 0; i < n; i++)
        s = apr_pstrcat(p, s, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))], NULL);
    return s;
}

static apr_array_header_t *rnd_list(apr_pool_t *p, unsigned max, int from_few)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    unsigned n = rnd(max + 1), i;
    const char *few[3];

    few[0] = rnd_string(p, 0);
    few[1] = "a\xff";
    few[2] = "a\xfe";                   /* both become "a\uFFFD": one label */
    for (i = 0; i < n; i++)
        APR_ARRAY_PUSH(a, const char *) = from_few ? few[rnd(3)] : rnd_string(p, 0);
    return a;
}

static pds_audit_record_t rnd_record(apr_pool_t *p)
{
    pds_audit_record_t rec;
    static const int statuses[] = { 200, 204, 403, 404, 451, 502, 0, -1, 2147483647 };

    memset(&rec, 0, sizeof(rec));
    rec.time = apr_time_from_sec(APR_INT64_C(1795354801)) + (apr_time_t)rnd(100000000);
    rec.request_id = rnd_string(p, 1);
    rec.client_ip = rnd_string(p, 1);
    rec.organisation = rnd_string(p, 1);
    rec.agreement = rnd_string(p, 1);
    rec.agreement_version = rnd_string(p, 1);
    rec.purpose = rnd_string(p, 1);
    rec.legal_basis = rnd_string(p, 1);
    rec.subject = rnd_string(p, 1);
    rec.method = rnd_string(p, 1);
    rec.path = rnd_string(p, 1);
    rec.query = rnd(2) ? rnd_string(p, 0) : NULL;
    rec.decision = rnd(2) ? "allow" : "deny";
    rec.reason = rnd_string(p, 1);
    rec.status = statuses[rnd(sizeof(statuses) / sizeof(statuses[0]))];
    rec.fields = rnd(5) ? rnd_list(p, 6, 0) : NULL;
    rec.visible_from = rnd(3) == 0 ? 0 : rnd(3) == 0 ? PDS_AUDIT_NEVER : rec.time + 7;
    rec.consent = rnd(2) ? rnd_string(p, 0) : NULL;
    rec.transforms = rnd(2) ? rnd_list(p, 3, 0) : NULL;
    rec.deidentified = (int)rnd(2);
    rec.written = rnd(3) == 0 ? rnd_list(p, 3, 0) : NULL;
    rec.subjects = rnd(3) == 0 ? rnd_list(p, 5, 0) : NULL;
    rec.dropped = rnd(4) == 0 ? rnd_list(p, 6, 1) : NULL;
    rec.excluded = rnd(4) == 0 ? rnd_list(p, 6, 1) : NULL;
    rec.node = rnd(4) ? rnd_string(p, 0) : NULL;
    return rec;
}

static char *dumped(apr_pool_t *p, json_t *obj)
{
    char *d = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    char *copy;

    assert_non_null(d);
    copy = apr_pstrdup(p, d);
    free(d);
    return copy;
}

/* One record both ways: the same text, the same parts, the same sealed line. */
static pds_hmac_t *ready;           /* the test key made ready once */

static void compare(apr_pool_t *p, const pds_audit_record_t *rec,
                    const pds_chain_key_t *key, const pds_chain_state_t *st)
{
    json_t *obj = NULL, *one = NULL;
    const char *want_fmt;
    apr_array_header_t *want_parts = NULL, *got_parts = NULL;
    pds_audit_line_t got;
    char *want, *line, *want_line, *fmt;
    apr_size_t len, want_len, fmt_len;
    int k;

    assert_int_equal(record_object(&obj, &want_parts, rec, p, NULL), APR_SUCCESS);
    assert_int_equal(pds_audit_record_lines(&got, &got_parts, rec, p, NULL), APR_SUCCESS);
    want = dumped(p, obj);
    assert_int_equal(got.len, strlen(got.json));
    assert_string_equal(got.json, want);
    assert_int_equal(got_parts->nelts, want_parts->nelts);
    for (k = 0; k < got_parts->nelts; k++)
        assert_string_equal(APR_ARRAY_IDX(got_parts, k, pds_audit_line_t).json,
                            dumped(p, APR_ARRAY_IDX(want_parts, k, json_t *)));
    assert_int_equal(pds_audit_format(&fmt, &fmt_len, rec, p, NULL), APR_SUCCESS);
    /* one line, no parts: the oracle's pds_audit_format */
    assert_int_equal(record_object(&one, NULL, rec, p, NULL), APR_SUCCESS);
    want_fmt = apr_pstrcat(p, dumped(p, one), "\n", NULL);
    assert_string_equal(fmt, want_fmt);
    assert_int_equal(fmt_len, strlen(want_fmt));
    assert_int_equal(pds_chain_seal(&want_line, &want_len, st, key, obj, p, NULL),
                     APR_SUCCESS);
    assert_int_equal(pds_chain_seal_text(&line, &len, st, key, got.json, got.len, p, NULL),
                     APR_SUCCESS);
    assert_int_equal(len, want_len);
    assert_string_equal(line, want_line);
    /* the key made ready once: the same MAC, line after line */
    pds_chain_key_use_hmac((pds_chain_key_t *)key, ready);
    assert_int_equal(pds_chain_seal_text(&line, &len, st, key, got.json, got.len, p, NULL),
                     APR_SUCCESS);
    pds_chain_key_use_hmac((pds_chain_key_t *)key, NULL);
    assert_string_equal(line, want_line);
}

static void test_writer_equals_jansson(void **state)
{
    apr_pool_t *p = *state, *iter;
    pds_chain_key_t *key;
    pds_chain_state_t st;
    apr_size_t klen;
    int i;

    assert_int_equal(pds_chain_key_from_hex(&key, p, "00112233445566778899aabbccddeeff"
                                            "00112233445566778899aabbccddeeff", 64, NULL),
                     APR_SUCCESS);
    ready = pds_hmac_create(p, pds_chain_key_bytes(key, &klen), 32);
    assert_non_null(ready);
    pds_chain_state_init(&st);
    apr_pool_create(&iter, p);
    for (i = 0; i < 5000; i++) {
        pds_audit_record_t rec = rnd_record(iter);

        st.seq = i % 7 == 0 ? APR_UINT64_MAX - 1 : (apr_uint64_t)i;
        st.prev[i % 32] = (unsigned char)i;
        compare(iter, &rec, key, &st);
        apr_pool_clear(iter);
    }
    apr_pool_destroy(iter);
}

/* A collection large enough for parts, with odd subjects among many. */
static void test_writer_parts_equal(void **state)
{
    apr_pool_t *p = *state;
    pds_chain_key_t *key;
    pds_chain_state_t st;
    apr_size_t klen;
    int round, k;

    assert_int_equal(pds_chain_key_from_hex(&key, p, "ffeeddccbbaa99887766554433221100"
                                            "ffeeddccbbaa99887766554433221100", 64, NULL),
                     APR_SUCCESS);
    ready = pds_hmac_create(p, pds_chain_key_bytes(key, &klen), 32);
    assert_non_null(ready);
    pds_chain_state_init(&st);
    for (round = 0; round < 4; round++) {
        pds_audit_record_t rec = rnd_record(p);
        apr_array_header_t *subjects = apr_array_make(p, 4000, sizeof(const char *));

        for (k = 0; k < 3000 + round * 1000; k++)
            APR_ARRAY_PUSH(subjects, const char *) = k % 5 == 0 ? rnd_string(p, 0)
                : apr_psprintf(p, "%010d", k);
        rec.subjects = subjects;
        compare(p, &rec, key, &st);
    }
}

/* The writer refuses what the oracle refused. */
static void test_writer_refuses(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = rnd_record(p);
    pds_audit_line_t line;
    apr_array_header_t *parts;
    pds_chain_state_t st;
    pds_chain_key_t *key;
    char *out;
    apr_size_t len;

    rec.decision = "maybe";
    assert_int_equal(pds_audit_record_lines(&line, &parts, &rec, p, NULL), APR_EINVAL);
    assert_int_equal(pds_audit_record_lines(&line, NULL, &rec, p, NULL), APR_EINVAL);
    pds_chain_state_init(&st);
    assert_int_equal(pds_chain_key_from_hex(&key, p, "00112233445566778899aabbccddeeff"
                                            "00112233445566778899aabbccddeeff", 64, NULL),
                     APR_SUCCESS);
    assert_int_equal(pds_chain_seal_text(&out, &len, &st, key, "[]", 2, p, NULL), APR_EINVAL);
    assert_int_equal(pds_chain_seal_text(&out, &len, &st, key, "{", 1, p, NULL), APR_EINVAL);
    assert_int_equal(pds_chain_seal_text(&out, &len, &st, NULL, "{}", 2, p, NULL), APR_EINVAL);
    assert_int_equal(pds_chain_seal_text(&out, &len, &st, key, "{}", 2, p, NULL), APR_SUCCESS);
    assert_int_equal(len, strlen(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_writer_equals_jansson),
        pds_test_with_pool(test_writer_parts_equal),
        pds_test_with_pool(test_writer_refuses),
    };

    return pds_test_main(tests, NULL, NULL);
}
