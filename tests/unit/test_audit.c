/* test_audit.c: audit records, the reason table, problem documents, errors. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "pds_test.h"
#include "pds_audit.h"
#include "pds_error.h"
#include "pds_reason.h"

/* 2026-11-22T13:40:01Z, from calendar.timegm. */
#define T_GOLDEN (apr_time_from_sec(APR_INT64_C(1795354801)) + 123456)

static pds_audit_record_t golden_record(apr_pool_t *p)
{
    pds_audit_record_t rec;
    apr_array_header_t *fields = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(fields, const char *) = "name.given";
    APR_ARRAY_PUSH(fields, const char *) = "dob";
    memset(&rec, 0, sizeof(rec));
    rec.time = T_GOLDEN;
    rec.request_id = "r-1";
    rec.client_ip = "192.0.2.7";
    rec.organisation = "fife";
    rec.agreement = "council-to-fife";
    rec.agreement_version = "1";
    rec.purpose = "direct-care";
    rec.legal_basis = "public-task";
    rec.subject = "C123";
    rec.method = "GET";
    rec.path = "/citizens/C123/record";
    rec.decision = "allow";
    rec.reason = NULL;
    rec.status = 200;
    rec.fields = fields;
    rec.visible_from = T_GOLDEN;
    return rec;
}

#define GOLDEN_BODY \
    "\"time\":\"2026-11-22T13:40:01.123456Z\",\"request_id\":\"r-1\"," \
    "\"client_ip\":\"192.0.2.7\",\"organisation\":\"fife\"," \
    "\"agreement\":\"council-to-fife\",\"agreement_version\":\"1\"," \
    "\"purpose\":\"direct-care\",\"legal_basis\":\"public-task\"," \
    "\"subject\":\"C123\",\"method\":\"GET\"," \
    "\"path\":\"/citizens/C123/record\",\"decision\":\"allow\"," \
    "\"reason\":null,\"status\":200,\"fields\":[\"name.given\",\"dob\"]," \
    "\"visible_from\":\"2026-11-22T13:40:01.123456Z\"}\n"

static const char *format(apr_pool_t *p, const pds_audit_record_t *rec)
{
    char *line = NULL;
    apr_size_t len = 0;
    pds_error_t err;

    pds_error_clear(&err);
    assert_int_equal(pds_audit_format(&line, &len, rec, p, &err), APR_SUCCESS);
    assert_false(pds_error_is_set(&err));
    assert_non_null(line);
    assert_int_equal(len, strlen(line));
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));   /* exactly one line */
    return line;
}

static void test_format_golden(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);

    assert_string_equal(format(p, &rec), "{" GOLDEN_BODY);
}

static void test_format_time(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);

    rec.time = apr_time_from_sec(APR_INT64_C(1795354801));
    assert_contains(format(p, &rec), "\"time\":\"2026-11-22T13:40:01.000000Z\"");
    rec.time = 0;
    assert_contains(format(p, &rec), "\"time\":\"1970-01-01T00:00:00.000000Z\"");
    rec.time = apr_time_from_sec(APR_INT64_C(951868799)) + 999999;
    assert_contains(format(p, &rec), "\"time\":\"2000-02-29T23:59:59.999999Z\"");
}

static void test_format_nulls(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec;

    memset(&rec, 0, sizeof(rec));
    rec.time = T_GOLDEN;
    rec.decision = "deny";
    rec.status = 401;
    assert_string_equal(format(p, &rec),
        "{\"time\":\"2026-11-22T13:40:01.123456Z\",\"request_id\":null,"
        "\"client_ip\":null,\"organisation\":null,\"agreement\":null,"
        "\"agreement_version\":null,\"purpose\":null,\"legal_basis\":null,"
        "\"subject\":null,\"method\":null,\"path\":null,"
        "\"decision\":\"deny\",\"reason\":null,\"status\":401,"
        "\"fields\":[],\"visible_from\":null}\n");

    /* an empty array is still an array; a deny carries its reason */
    rec.fields = apr_array_make(p, 1, sizeof(const char *));
    rec.reason = "unknown-caller";
    assert_contains(format(p, &rec), "\"reason\":\"unknown-caller\","
                                     "\"status\":401,\"fields\":[],"
                                     "\"visible_from\":null}\n");
    /* a restricted disclosure is never shown to the person */
    rec.visible_from = PDS_AUDIT_NEVER;
    assert_contains(format(p, &rec), "\"visible_from\":\"never\"}\n");
}

static void test_format_escaping(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);
    apr_array_header_t *fields = apr_array_make(p, 1, sizeof(const char *));
    const char *line;

    rec.request_id = "a\"b\\c";
    rec.client_ip = "line1\nline2\r\t\001";
    rec.organisation = "Caf\xc3\xa9";            /* U+00E9 */
    rec.agreement = "\xf0\x9f\x98\x80";          /* U+1F600 */
    rec.purpose = "bad\xff" "byte";              /* invalid UTF-8 */
    rec.legal_basis = "\xc3";                    /* truncated sequence */
    rec.subject = "\xed\xa0\x80";                /* a surrogate: invalid */
    rec.method = "\xe2\x80\xae" "evil";          /* U+202E RLO */
    APR_ARRAY_PUSH(fields, const char *) = "x\"y";
    rec.fields = fields;
    line = format(p, &rec);
    assert_contains(line, "\"request_id\":\"a\\\"b\\\\c\"");
    assert_contains(line, "\"client_ip\":\"line1\\nline2\\r\\t\\u0001\"");
    assert_contains(line, "\"organisation\":\"Caf\\u00E9\"");
    assert_contains(line, "\"agreement\":\"\\uD83D\\uDE00\"");
    assert_contains(line, "\"purpose\":\"bad\\uFFFDbyte\"");
    assert_contains(line, "\"legal_basis\":\"\\uFFFD\"");
    assert_contains(line, "\"subject\":\"\\uFFFD\\uFFFD\\uFFFD\"");
    assert_contains(line, "\"method\":\"\\u202Eevil\"");
    assert_contains(line, "\"fields\":[\"x\\\"y\"]");
    /* every byte printable ASCII */
    for (; *line != '\n'; line++)
        assert_true(*line >= 0x20 && *line < 0x7f);
}

static void test_format_refused(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);
    char *line = NULL;
    pds_error_t err;

    rec.decision = "maybe";
    pds_error_clear(&err);
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, &err), APR_EINVAL);
    assert_string_equal(err.code, "internal-error");
    assert_contains(err.text, "\"allow\" or \"deny\"");
    assert_null(line);
    rec.decision = NULL;
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, NULL), APR_EINVAL);
    assert_int_equal(pds_audit_format(&line, NULL, NULL, p, NULL), APR_EINVAL);
    rec.decision = "deny";
    assert_int_equal(pds_audit_format(&line, NULL, &rec, p, NULL), APR_SUCCESS);
    assert_non_null(line);
}

/* The node that decided is the last member, only when set (the gateway
 * always sets it: PDSNodeName, or the host name). */
static void test_format_node(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);
    const char *line;

    rec.node = "gw-1.example";
    line = format(p, &rec);
    assert_string_equal(line, apr_pstrcat(p, "{", apr_pstrndup(p, GOLDEN_BODY,
                                           strlen(GOLDEN_BODY) - 2),
                                          ",\"node\":\"gw-1.example\"}\n", NULL));
    rec.consent = "c-1";
    rec.deidentified = 1;
    assert_contains(format(p, &rec), "\"deidentified\":true,\"node\":\"gw-1.example\"}\n");
    rec.node = NULL;
    assert_null(strstr(format(p, &rec), "\"node\""));
}

/* --- reasons and problem documents ------------------------------------------ */

static void test_reason_table(void **state)
{
    static const struct {
        const char *code;
        int status;
    } spec[] = {
        { "unknown-caller", 401 }, { "invalid-token", 401 },
        { "identity-conflict", 401 }, { "bad-path", 400 },
        { "bad-subject", 400 }, { "query-not-allowed", 400 },
        { "method-override", 400 }, { "method-not-allowed", 405 },
        { "unexpected-body", 400 }, { "person-not-identified", 401 },
        { "login-required", 401 }, { "access-refused", 403 },
        { "purpose-missing", 400 }, { "no-agreement", 403 },
        { "purpose-mismatch", 403 }, { "agreement-expired", 403 },
        { "agreement-not-yet-valid", 403 }, { "backend-error", 502 },
        { "not-found", 404 }, { "backend-bad-response", 502 },
        { "backend-too-large", 502 }, { "audit-unavailable", 503 },
        { "internal-error", 500 },
        { "consent-missing", 403 }, { "consent-paused", 403 },
        { "consent-expired", 403 }, { "consent-revoked", 403 },
        { "opted-out", 403 }, { "artefact-malformed", 400 },
        { "artefact-unknown-issuer", 403 }, { "artefact-bad-signature", 403 },
        { "artefact-expired", 403 }, { "artefact-not-yet-valid", 403 },
        { "artefact-too-long-lived", 403 }, { "artefact-wrong-binding", 403 },
        { "artefact-revoked", 403 }, { "bad-consent-body", 400 },
        { "unsupported-media-type", 415 }, { "invalid-consent", 422 },
        { "consent-not-found", 404 }, { "consent-state-conflict", 409 },
        { "consent-conflict", 409 }, { "not-a-consent-manager", 403 },
        { "no-mandate", 403 }, { "mandate-not-for-self", 403 },
        { "consent-store-unavailable", 503 },
        { "bad-request-body", 400 }, { "request-too-large", 413 },
        { "write-not-allowed", 422 }, { "write-empty", 422 }, { "record-excluded", 404 },
        { "backend-unavailable", 503 }, { "backend-timeout", 504 },
    };
    const apr_size_t n = sizeof(spec) / sizeof(spec[0]);
    const pds_reason_t *table = pds_reason_table();
    apr_size_t i, j, count = 0;

    (void)state;
    for (i = 0; i < n; i++) {
        const pds_reason_t *r = pds_reason_lookup(spec[i].code);

        if (r == NULL)
            fail_msg("missing reason %s", spec[i].code);
        assert_string_equal(r->code, spec[i].code);
        assert_int_equal(r->status, spec[i].status);
        assert_non_null(r->title);
        assert_true(strlen(r->title) > 5);
    }
    /* exactly these, each once */
    for (; table[count].code != NULL; count++) {
        for (j = 0; j < count; j++)
            assert_string_not_equal(table[j].code, table[count].code);
    }
    assert_int_equal(count, n);
    assert_null(pds_reason_lookup("No-Agreement"));
    assert_null(pds_reason_lookup(""));
    assert_null(pds_reason_lookup(NULL));
}

static void test_problem_json(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t len = 0;
    const char *doc;

    doc = pds_problem_json(p, "purpose-mismatch",
                           "agreement 'council-to-fife' covers purposes "
                           "direct-care; this request declared research",
                           "r-42", &len);
    assert_string_equal(doc,
        "{\"type\":\"urn:pds:problem:purpose-mismatch\","
        "\"title\":\"Purpose not covered by the agreement\",\"status\":403,"
        "\"detail\":\"agreement 'council-to-fife' covers purposes "
        "direct-care; this request declared research\","
        "\"reason\":\"purpose-mismatch\",\"request_id\":\"r-42\"}");
    assert_int_equal(len, strlen(doc));

    /* detail and request_id omitted when NULL */
    doc = pds_problem_json(p, "no-agreement", NULL, NULL, &len);
    assert_string_equal(doc,
        "{\"type\":\"urn:pds:problem:no-agreement\","
        "\"title\":\"No agreement covers this request\",\"status\":403,"
        "\"reason\":\"no-agreement\"}");
    doc = pds_problem_json(p, "method-not-allowed", NULL, "r-1", NULL);
    assert_contains(doc, "\"status\":405,\"reason\":\"method-not-allowed\","
                         "\"request_id\":\"r-1\"}");

    /* an unknown code is an internal error */
    doc = pds_problem_json(p, "made-up", "d", "r", &len);
    assert_string_equal(doc,
        "{\"type\":\"urn:pds:problem:internal-error\","
        "\"title\":\"Internal error\",\"status\":500,\"detail\":\"d\","
        "\"reason\":\"internal-error\",\"request_id\":\"r\"}");
    doc = pds_problem_json(p, NULL, NULL, NULL, &len);
    assert_contains(doc, "\"status\":500");

    /* escaping, and invalid UTF-8 never breaks the document */
    doc = pds_problem_json(p, "bad-path", "a \"q\"\n\\ caf\xc3\xa9",
                           "id\xff", &len);
    assert_contains(doc, "\"detail\":\"a \\\"q\\\"\\n\\\\ caf\xc3\xa9\"");
    assert_contains(doc, "\"request_id\":\"id?\"");
    assert_int_equal(len, strlen(doc));
}

/* --- a collection's subjects: bounded lines (issue #10 item 5) -------------- */

/* A line the writer made, as a document (released with p). */
static apr_status_t release_json(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

static json_t *parsed(apr_pool_t *p, const pds_audit_line_t *line)
{
    json_t *doc = json_loadb(line->json, line->len, JSON_REJECT_DUPLICATES, NULL);

    assert_true(json_is_object(doc));
    apr_pool_cleanup_register(p, doc, release_json, apr_pool_cleanup_null);
    return doc;
}

static void test_collection_subjects(void **state)
{
    apr_pool_t *p = *state;
    pds_audit_record_t rec = golden_record(p);
    apr_array_header_t *subjects = apr_array_make(p, 8, sizeof(const char *)), *parts;
    pds_audit_line_t line;
    json_t *obj, *v;
    char *dump;
    size_t i;
    int k, seen = 0;

    rec.subject = NULL;
    APR_ARRAY_PUSH(subjects, const char *) = "a";
    APR_ARRAY_PUSH(subjects, const char *) = "b";
    rec.subjects = subjects;
    /* a small collection keeps its subjects in the record */
    assert_int_equal(pds_audit_record_lines(&line, &parts, &rec, p, NULL), APR_SUCCESS);
    obj = parsed(p, &line);
    assert_int_equal(parts->nelts, 0);
    assert_int_equal(json_integer_value(json_object_get(obj, "records")), 2);
    assert_int_equal(json_array_size(json_object_get(obj, "subjects")), 2);
    assert_null(json_object_get(obj, "subjects_parts"));

    /* 7,000 people: parts of bounded size, every person once, in order */
    subjects = apr_array_make(p, 7000, sizeof(const char *));
    for (k = 0; k < 7000; k++)
        APR_ARRAY_PUSH(subjects, const char *) = apr_psprintf(p, "%010d", k);
    /* one subject longer than a part: a line of its own */
    APR_ARRAY_PUSH(subjects, const char *) = apr_pstrcat(p, "long-",
        apr_psprintf(p, "%0*d", PDS_AUDIT_SUBJECTS_BYTES + 10, 7), NULL);
    rec.subjects = subjects;
    assert_int_equal(pds_audit_record_lines(&line, &parts, &rec, p, NULL), APR_SUCCESS);
    obj = parsed(p, &line);
    assert_true(parts->nelts >= 6);
    assert_int_equal(json_integer_value(json_object_get(obj, "records")), 7001);
    assert_int_equal(json_integer_value(json_object_get(obj, "subjects_parts")), parts->nelts);
    assert_null(json_object_get(obj, "subjects"));
    assert_true(line.len < 4096);
    for (k = 0; k < parts->nelts; k++) {
        json_t *part = parsed(p, &APR_ARRAY_IDX(parts, k, pds_audit_line_t));
        json_t *list = json_object_get(part, "subjects");

        assert_string_equal(json_string_value(json_object_get(part, "type")), "subjects");
        assert_string_equal(json_string_value(json_object_get(part, "request_id")), "r-1");
        assert_int_equal(json_integer_value(json_object_get(part, "part")), k + 1);
        assert_int_equal(json_integer_value(json_object_get(part, "parts")), parts->nelts);
        dump = json_dumps(list, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (k < parts->nelts - 1)
            assert_true(strlen(dump) <= PDS_AUDIT_SUBJECTS_BYTES);
        else
            assert_int_equal(json_array_size(list), 1);     /* the long one */
        free(dump);
        json_array_foreach(list, i, v) {
            assert_string_equal(json_string_value(v),
                                APR_ARRAY_IDX(subjects, seen, const char *));
            seen++;
        }
    }
    assert_int_equal(seen, 7001);
    /* pds_audit_format (one line, no parts) is unchanged */
    rec.subjects = apr_array_make(p, 1, sizeof(const char *));
    assert_contains(format(p, &rec), "\"records\":0,\"subjects\":[]");
}

/* --- pds_error -------------------------------------------------------------- */

static void test_error(void **state)
{
    pds_error_t err;
    char long_text[1000];

    (void)state;
    memset(&err, 0x7f, sizeof(err));
    pds_error_clear(&err);
    assert_false(pds_error_is_set(&err));
    assert_int_equal(err.position, -1);
    assert_string_equal(err.text, "");

    pds_error_set(&err, "bad-path", 7, "path", "first %d", 1);
    pds_error_set(&err, "other", 9, "x", "second");
    assert_true(pds_error_is_set(&err));
    assert_string_equal(err.code, "bad-path");
    assert_int_equal(err.position, 7);
    assert_string_equal(err.source, "path");
    assert_string_equal(err.text, "first 1");

    pds_error_clear(&err);
    pds_error_set(&err, NULL, -5, NULL, "%s", "x");
    assert_string_equal(err.code, "error");
    assert_int_equal(err.position, -1);
    assert_string_equal(err.source, "");

    pds_error_clear(&err);
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    pds_error_set(&err, long_text, 0, long_text, "%s", long_text);
    assert_int_equal(strlen(err.code), PDS_ERROR_CODE_LENGTH - 1);
    assert_int_equal(strlen(err.source), PDS_ERROR_SOURCE_LENGTH - 1);
    assert_int_equal(strlen(err.text), PDS_ERROR_TEXT_LENGTH - 1);

    /* NULL is accepted everywhere */
    pds_error_clear(NULL);
    pds_error_set(NULL, "x", 0, "y", "z");
    assert_false(pds_error_is_set(NULL));
}



int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_format_golden),
        pds_test_with_pool(test_format_time),
        pds_test_with_pool(test_format_nulls),
        pds_test_with_pool(test_format_escaping),
        pds_test_with_pool(test_format_refused),
        pds_test_with_pool(test_format_node),
        cmocka_unit_test(test_reason_table),
        pds_test_with_pool(test_problem_json),
        cmocka_unit_test(test_error),
        pds_test_with_pool(test_collection_subjects),
    };

    return pds_test_main(tests, NULL, NULL);
}
