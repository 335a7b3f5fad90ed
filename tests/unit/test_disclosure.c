/* test_disclosure.c: a person's view of the audit log (lib/pds_disclosure.h),
 * shared by the disclosures page and pds-audit report --subject. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_audit.h"
#include "pds_disclosure.h"
#include "pds_test.h"

/* Feeds one line (NULL: a line that is not JSON) and gives the subjects as
 * compact JSON text, or NULL. */
static char *feed(pds_disclosure_parts_t *dp, const char *line)
{
    json_t *rec = line ? pds_test_json(line) : NULL;
    json_t *subjects = pds_disclosure_subjects(dp, rec);
    char *out = subjects ? json_dumps(subjects, JSON_COMPACT) : NULL;

    json_decref(subjects);
    json_decref(rec);
    return out;
}

static void assert_feed(pds_disclosure_parts_t *dp, const char *line, const char *want)
{
    char *got = feed(dp, line);

    if (want == NULL && got != NULL)
        fail_msg("%s gave %s", line, got);
    if (want != NULL && (got == NULL || strcmp(got, want) != 0))
        fail_msg("%s gave %s, not %s", line, got ? got : "NULL", want);
    free(got);
}

#define PART(req, i, seq, subjects) \
    "{\"type\":\"subjects\",\"request_id\":\"" req "\",\"part\":" #i ",\"parts\":2," \
    "\"seq\":" #seq ",\"subjects\":" subjects "}"
#define JOINED(req, k, seq) \
    "{\"request_id\":\"" req "\",\"seq\":" #seq ",\"decision\":\"allow\"," \
    "\"agreement\":\"a\",\"records\":3,\"subjects_parts\":" #k "}"

static void test_subjects_inline_and_single(void **state)
{
    pds_disclosure_parts_t dp;

    (void)state;
    memset(&dp, 0, sizeof(dp));
    assert_feed(&dp, "{\"seq\":1,\"subjects\":[\"a\",\"b\"]}", "[\"a\",\"b\"]");
    assert_feed(&dp, "{\"seq\":2,\"subject\":\"a\"}", NULL);
    assert_feed(&dp, "{\"seq\":3,\"subjects\":\"a\"}", NULL);
    assert_feed(&dp, NULL, NULL);
}

static void test_subjects_joined_from_parts(void **state)
{
    pds_disclosure_parts_t dp;

    (void)state;
    memset(&dp, 0, sizeof(dp));
    assert_feed(&dp, PART("r1", 1, 10, "[\"a\",\"b\"]"), NULL);
    assert_feed(&dp, PART("r1", 2, 11, "[\"c\"]"), NULL);
    assert_feed(&dp, JOINED("r1", 2, 12), "[\"a\",\"b\",\"c\"]");
    /* the run ended with its record */
    assert_feed(&dp, JOINED("r1", 2, 13), NULL);
    assert_null(dp.subjects);
}

#define NOT_JSON "(not JSON)"

/* Runs of parts whose record gets no subjects: each ends with that record. */
static const struct {
    const char *why;
    const char *lines[5];
} broken[] = {
    { "a part missing", { PART("r1", 1, 10, "[\"a\"]"), JOINED("r1", 2, 11), NULL } },
    { "a gap in seq", { PART("r1", 1, 10, "[\"a\"]"), PART("r1", 2, 12, "[\"b\"]"),
                        JOINED("r1", 2, 13), NULL } },
    { "another request's parts", { PART("r1", 1, 10, "[\"a\"]"),
                                   PART("r2", 2, 11, "[\"b\"]"), JOINED("r2", 2, 12),
                                   NULL } },
    { "the record of another request", { PART("r1", 1, 10, "[\"a\"]"),
                                         PART("r1", 2, 11, "[\"b\"]"),
                                         JOINED("r2", 2, 12), NULL } },
    { "a line that is not JSON before the record", { PART("r1", 1, 10, "[\"a\"]"),
                                                     PART("r1", 2, 11, "[\"b\"]"),
                                                     NOT_JSON, JOINED("r1", 2, 12),
                                                     NULL } },
};

static void test_subjects_broken_runs(void **state)
{
    pds_disclosure_parts_t dp;
    size_t i;

    (void)state;
    memset(&dp, 0, sizeof(dp));
    for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        const char *const *line;

        for (line = broken[i].lines; *line != NULL; line++)
            assert_feed(&dp, strcmp(*line, NOT_JSON) == 0 ? NULL : *line, NULL);
        assert_null(dp.subjects);
    }
    /* a run starting again at part 1 forgets the first */
    assert_feed(&dp, PART("r1", 1, 10, "[\"a\"]"), NULL);
    assert_feed(&dp, PART("r1", 1, 11, "[\"x\"]"), NULL);
    assert_feed(&dp, PART("r1", 2, 12, "[\"y\"]"), NULL);
    assert_feed(&dp, JOINED("r1", 2, 13), "[\"x\",\"y\"]");
    /* parts that are not arrays, or have no request id */
    assert_feed(&dp, "{\"type\":\"subjects\",\"request_id\":\"r\",\"part\":1,\"seq\":1,"
                "\"subjects\":\"a\"}", NULL);
    assert_null(dp.subjects);
    assert_feed(&dp, "{\"type\":\"subjects\",\"part\":1,\"seq\":1,\"subjects\":[\"a\"]}",
                NULL);
    assert_null(dp.subjects);
    /* a request id longer than a run may carry */
    {
        char line[512];
        char id[PDS_DISCLOSURE_REQUEST_ID_MAX + 1];

        memset(id, 'r', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';
        snprintf(line, sizeof(line), "{\"type\":\"subjects\",\"request_id\":\"%s\","
                 "\"part\":1,\"seq\":1,\"subjects\":[\"a\"]}", id);
        assert_feed(&dp, line, NULL);
        assert_null(dp.subjects);
    }
    pds_disclosure_parts_reset(&dp);
}

static void test_is_one(void **state)
{
    static const struct { const char *rec; int want; } cases[] = {
        { "{\"decision\":\"allow\",\"agreement\":\"a\"}", 1 },
        { "{\"decision\":\"deny\",\"agreement\":\"a\"}", 0 },
        { "{\"decision\":\"allow\",\"agreement\":null}", 0 },
        { "{\"decision\":\"allow\"}", 0 },
        { "{\"type\":\"checkpoint\",\"decision\":\"allow\",\"agreement\":\"a\"}", 0 },
        { "{\"agreement\":\"a\"}", 0 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *rec = pds_test_json(cases[i].rec);

        if (pds_disclosure_is_one(rec) != cases[i].want)
            fail_msg("%s", cases[i].rec);
        json_decref(rec);
    }
}

static void assert_entry(const char *rec_text, int trail, const char *want)
{
    json_t *rec = pds_test_json(rec_text), *e = pds_disclosure_entry(rec, trail);
    char *got = json_dumps(e, JSON_COMPACT);

    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("got  %s\nwant %s", got, want);
    free(got);
    json_decref(e);
    json_decref(rec);
}

#define FULL "{\"time\":\"2026-11-22T09:00:00.000000Z\",\"request_id\":\"r\"," \
    "\"client_ip\":\"192.0.2.1\",\"organisation\":\"o\",\"agreement\":\"a\"," \
    "\"agreement_version\":3,\"purpose\":\"p\",\"legal_basis\":\"consent\"," \
    "\"subject\":\"s\",\"method\":\"GET\",\"path\":\"/x\",\"decision\":\"allow\"," \
    "\"reason\":null,\"status\":200,\"fields\":[\"name\"]," \
    "\"visible_from\":\"never\",\"consent\":\"c1\",\"seq\":7,\"mac\":\"m\"}"

static void test_entry(void **state)
{
    (void)state;
    /* what the person is shown, in this order, and nothing else */
    assert_entry(FULL, 0, "{\"time\":\"2026-11-22T09:00:00.000000Z\",\"organisation\":\"o\","
                 "\"agreement\":\"a\",\"agreement_version\":3,\"purpose\":\"p\","
                 "\"legal_basis\":\"consent\",\"fields\":[\"name\"]}");
    /* the security team's report: the trail too */
    assert_entry(FULL, 1, "{\"time\":\"2026-11-22T09:00:00.000000Z\",\"organisation\":\"o\","
                 "\"agreement\":\"a\",\"agreement_version\":3,\"purpose\":\"p\","
                 "\"legal_basis\":\"consent\",\"fields\":[\"name\"],\"request_id\":\"r\","
                 "\"seq\":7,\"consent\":\"c1\",\"visible_from\":\"never\"}");
    /* absent members are null; the optional ones are left out */
    assert_entry("{\"decision\":\"allow\"}", 0, "{\"time\":null,\"organisation\":null,"
                 "\"agreement\":null,\"agreement_version\":null,\"purpose\":null,"
                 "\"legal_basis\":null,\"fields\":null}");
    assert_entry("{\"decision\":\"allow\"}", 1, "{\"time\":null,\"organisation\":null,"
                 "\"agreement\":null,\"agreement_version\":null,\"purpose\":null,"
                 "\"legal_basis\":null,\"fields\":null,\"request_id\":null,\"seq\":null}");
    assert_entry("{\"visible_from\":null}", 1, "{\"time\":null,\"organisation\":null,"
                 "\"agreement\":null,\"agreement_version\":null,\"purpose\":null,"
                 "\"legal_basis\":null,\"fields\":null,\"request_id\":null,\"seq\":null,"
                 "\"visible_from\":null}");
}

static apr_time_t visible(const char *rec_text)
{
    json_t *rec = pds_test_json(rec_text);
    apr_time_t t = pds_disclosure_visible_from(rec);

    json_decref(rec);
    return t;
}

static void test_visible_from(void **state)
{
    (void)state;
    assert_true(visible("{}") == 0);
    assert_true(visible("{\"visible_from\":null}") == 0);
    assert_true(visible("{\"visible_from\":17}") == 0);
    assert_true(visible("{\"visible_from\":\"never\"}") == PDS_AUDIT_NEVER);
    assert_true(visible("{\"visible_from\":\"2026-11-30T00:00:00.000000Z\"}")
                == apr_time_from_sec(1795996800));
    assert_true(visible("{\"visible_from\":\"2026-11-30T00:00:00.5Z\"}")
                == apr_time_from_sec(1795996800) + 500000);
    /* a damaged date keeps it hidden */
    assert_true(visible("{\"visible_from\":\"2026-11-31T00:00:00.000000Z\"}")
                == PDS_AUDIT_NEVER);
    assert_true(visible("{\"visible_from\":\"soon\"}") == PDS_AUDIT_NEVER);
    assert_true(visible("{\"visible_from\":\"2026-11-30T00:00:00.000000Zx\"}")
                == PDS_AUDIT_NEVER);
}

/* Feeds lines to pds_disclosure_rows; the rows as "seq subject" words. */
static const char *rows_of(const char *const *lines)
{
    apr_pool_t *p = pds_test_root();
    apr_array_header_t *rows = apr_array_make(p, 4, sizeof(pds_disclosure_row_t));
    pds_disclosure_parts_t dp;
    const char *out = "";
    int i;

    memset(&dp, 0, sizeof(dp));
    for (i = 0; lines[i] != NULL; i++) {
        json_t *rec = lines[i][0] ? pds_test_json(lines[i]) : NULL;
        assert_int_equal(pds_disclosure_rows(&dp, rec, p, rows), APR_SUCCESS);
        json_decref(rec);
    }
    pds_disclosure_parts_reset(&dp);
    for (i = 0; i < rows->nelts; i++) {
        const pds_disclosure_row_t *r = &APR_ARRAY_IDX(rows, i, pds_disclosure_row_t);
        out = apr_psprintf(p, "%s%s%" APR_UINT64_T_FMT " %s", out, i ? "," : "", r->seq,
                           r->subject);
    }
    return out;
}

#define ALLOWED(seq, who) \
    "{\"seq\":" #seq ",\"time\":\"2026-12-01T10:00:00.000000Z\",\"decision\":\"allow\"," \
    "\"agreement\":\"a\"," who "}"

static void test_rows(void **state)
{
    static const char *const single[] = {
        ALLOWED(1, "\"subject\":\"alice\",\"visible_from\":\"never\""),
        "{\"seq\":2,\"decision\":\"deny\",\"agreement\":\"a\",\"subject\":\"bob\"}",
        "", "{\"seq\":3,\"type\":\"checkpoint\"}", NULL
    };
    static const char *const collection[] = {
        PART("r1", 1, 10, "[\"a\",\"b\"]"), PART("r1", 2, 11, "[\"c\"]"),
        "{\"request_id\":\"r1\",\"seq\":12,\"time\":\"2026-12-01T10:00:00Z\","
        "\"decision\":\"allow\",\"agreement\":\"a\",\"subjects_parts\":2}",
        ALLOWED(13, "\"subjects\":[\"d\",7]"), NULL
    };
    apr_array_header_t *rows = apr_array_make(pds_test_root(), 1, sizeof(pds_disclosure_row_t));
    pds_disclosure_parts_t dp;
    pds_disclosure_row_t *r;
    json_t *rec;

    (void)state;
    assert_string_equal(rows_of(single), "1 alice");
    assert_string_equal(rows_of(collection), "12 a,12 b,12 c,13 d");
    /* what the person is shown, and from when */
    memset(&dp, 0, sizeof(dp));
    rec = pds_test_json(ALLOWED(1, "\"subject\":\"alice\",\"visible_from\":\"never\""));
    assert_int_equal(pds_disclosure_rows(&dp, rec, pds_test_root(), rows), APR_SUCCESS);
    json_decref(rec);
    r = &APR_ARRAY_IDX(rows, 0, pds_disclosure_row_t);
    assert_true(r->visible_from == PDS_AUDIT_NEVER);
    assert_string_equal(r->agreement, "a");
    assert_string_equal(r->time, "2026-12-01T10:00:00.000000Z");
    assert_string_equal(r->entry, "{\"time\":\"2026-12-01T10:00:00.000000Z\","
                        "\"organisation\":null,\"agreement\":\"a\",\"agreement_version\":null,"
                        "\"purpose\":null,\"legal_basis\":null,\"fields\":null}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subjects_inline_and_single),
        cmocka_unit_test(test_subjects_joined_from_parts),
        cmocka_unit_test(test_subjects_broken_runs),
        cmocka_unit_test(test_is_one),
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_visible_from),
        cmocka_unit_test(test_rows),
    };

    return pds_test_main(tests, NULL, NULL);
}
