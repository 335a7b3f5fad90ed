/* test_time.c: the one RFC 3339 writer and reader (lib/pds_time.h). */
#include <stdlib.h>
#include <string.h>

#include "pds_test.h"
#include "pds_time.h"

#define SEC(s) apr_time_from_sec(APR_INT64_C(s))

static apr_time_t parsed(const char *text)
{
    apr_time_t t = -1;

    assert_int_equal(pds_time_parse(&t, text), APR_SUCCESS);
    return t;
}

static void test_format(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(pds_time_format(p, 0), "1970-01-01T00:00:00Z");
    assert_string_equal(pds_time_format_usec(p, 0), "1970-01-01T00:00:00.000000Z");
    assert_string_equal(pds_time_format(p, SEC(1795996800) + 999999), "2026-11-30T00:00:00Z");
    assert_string_equal(pds_time_format_usec(p, SEC(1795996800) + 7),
                        "2026-11-30T00:00:00.000007Z");
    assert_string_equal(pds_time_format(p, SEC(951782400)), "2000-02-29T00:00:00Z");
    assert_string_equal(pds_time_format(p, SEC(4107542399)), "2100-02-28T23:59:59Z");
    /* before 1970: the fraction still counts forward from the second */
    assert_string_equal(pds_time_format_usec(p, -1), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(pds_time_format(p, SEC(-62167219200)), "0000-01-01T00:00:00Z");
    assert_string_equal(pds_time_format_usec(p, SEC(253402300799) + 999999),
                        "9999-12-31T23:59:59.999999Z");
    /* what RFC 3339 cannot write */
    assert_null(pds_time_format(p, SEC(253402300800)));
    assert_null(pds_time_format_usec(p, SEC(-62167219200) - 1));
    assert_null(pds_time_format(p, APR_INT64_MAX));
    assert_null(pds_time_format(p, APR_INT64_MIN));
}

static void test_parse(void **state)
{
    (void)state;
    assert_true(parsed("2026-11-30T00:00:00Z") == SEC(1795996800));
    assert_true(parsed("2026-11-30t00:00:00z") == SEC(1795996800));
    assert_true(parsed("2026-11-30T01:30:00+01:30") == SEC(1795996800));
    assert_true(parsed("2026-11-29T22:30:00-01:30") == SEC(1795996800));
    assert_true(parsed("2026-11-30T00:00:00.5Z") == SEC(1795996800) + 500000);
    assert_true(parsed("2026-11-30T00:00:00.123456Z") == SEC(1795996800) + 123456);
    assert_true(parsed("2026-11-30T00:00:00.1234567891Z") == SEC(1795996800) + 123456);
    assert_true(parsed("2026-11-30T00:00:00.000001+00:00") == SEC(1795996800) + 1);
    /* a leap second is the last second of its minute */
    assert_true(parsed("2016-12-31T23:59:60Z") == SEC(1483228799));
    /* leap years */
    assert_true(parsed("2028-02-29T00:00:00Z") == SEC(1835395200));
    assert_true(parsed("2000-02-29T00:00:00Z") == SEC(951782400));
    /* the ends of the calendar */
    assert_true(parsed("1970-01-01T00:00:00Z") == 0);
    assert_true(parsed("1969-12-31T23:59:59.999999Z") == -1);
    assert_true(parsed("0000-01-01T00:00:00Z") == SEC(-62167219200));
    assert_true(parsed("9999-12-31T23:59:59Z") == SEC(253402300799));
}

/* Every text in bad (NULL-ended), and NULL itself, is refused; *t untouched. */
static void assert_refused(apr_status_t (*parse)(apr_time_t *, const char *),
                           const char *const *bad)
{
    apr_time_t t = 42;
    size_t i;

    for (i = 0; bad[i] != NULL; i++) {
        if (parse(&t, bad[i]) != APR_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(parse(&t, NULL), APR_EINVAL);
    assert_true(t == 42);
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "", "2026", "2026-11-30", "2026-11-30T", "2026-11-30T00:00Z",
        "2026-11-30T00:00:00", "2026-11-30 00:00:00Z", "2026-11-30T00:00:00Zjunk",
        "2026-11-30T00:00:00.Z", "2026-11-30T00:00:00,5Z", "2026-11-30T00:00:00+01",
        "2026-11-30T00:00:00+0100", "2026-11-30T00:00:00+24:00", "2026-11-30T00:00:00+01:60",
        "2026-11-30T24:00:00Z", "2026-11-30T23:60:00Z", "2026-11-30T23:59:61Z",
        "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z",
        "+2026-11-30T00:00:00Z", "20261-11-30T00:00:00Z", "2026-1-30T00:00:00Z",
        "2026-11-30T0:00:00Z", " 2026-11-30T00:00:00Z", "2026-11-30T00:00:00Z ",
        "2026-11-30T00:00:00.12345678901234567890Z", "2026-11-3aT00:00:00Z",
        "2026-11-30T00:00:00.000000Z\n", NULL
    };

    (void)state;
    assert_refused(pds_time_parse, bad);
}

static void test_parse_date(void **state)
{
    static const char *const bad[] = {
        "", "2026-11-3", "2026-11-300", "2026-11-30T00:00:00Z", "2027-02-29",
        "2026-13-01", "2026-04-31", "26-11-30", "2026/11/30", NULL
    };
    apr_time_t t = 42;

    (void)state;
    assert_int_equal(pds_time_parse_date(&t, "2026-11-30"), APR_SUCCESS);
    assert_true(t == SEC(1795996800));
    assert_int_equal(pds_time_parse_date(&t, "2028-02-29"), APR_SUCCESS);
    assert_true(t == SEC(1835395200));
    assert_int_equal(pds_time_parse_date(&t, "1969-12-31"), APR_SUCCESS);
    assert_true(t == -SEC(86400));
    assert_refused(pds_time_parse_date, bad);
}

static void partial(const char *text, int y, int m, int d, int precision)
{
    pds_date_t got = { -1, -1, -1, -1 };

    if (pds_time_parse_partial_date(&got, text, strlen(text)) != APR_SUCCESS)
        fail_msg("'%s' refused", text);
    assert_int_equal(got.year, y);
    assert_int_equal(got.month, m);
    assert_int_equal(got.day, d);
    assert_int_equal(got.precision, precision);
}

/* FHIR date and dateTime: as written, as precise as they are. */
static void test_parse_partial_date(void **state)
{
    static const char *const bad[] = {
        "", "198", "19800", "1980-", "1980-6", "1980-13", "1980-00", "1980-06-",
        "1980-06-1", "1980-02-30", "1981-02-29", "1980-06-15T", "1980-06-15Z",
        "1980-06-15T10:20Z", "1980-06-15T10:20:30", "1980-06-15T24:00:00Z",
        "1980-06-15T10:20:61Z", "1980-06-15T10:20:30.Z", "1980-06-15T10:20:30+0100",
        "1980-06-15T10:20:30+01:60", "1980-06-15T10:20:30Zx", "1980-06-15x10:20:30Z",
        "1980T10:20:30Z", "1980-06T10:20:30Z", "+1980", " 1980", "1980 ", "80-06", NULL
    };
    pds_date_t d = { 7, 7, 7, 7 }, first, last;
    int i;

    (void)state;
    partial("1980", 1980, 0, 0, PDS_DATE_YEAR);
    partial("1980-06", 1980, 6, 0, PDS_DATE_MONTH);
    partial("1980-06-15", 1980, 6, 15, PDS_DATE_DAY);
    partial("2000-02-29", 2000, 2, 29, PDS_DATE_DAY);
    partial("1980-06-15T10:20:30Z", 1980, 6, 15, PDS_DATE_DAY);
    partial("1980-06-15t23:59:60.123456789z", 1980, 6, 15, PDS_DATE_DAY);
    partial("1980-06-15 10:20:30-05:00", 1980, 6, 15, PDS_DATE_DAY);
    partial("1980-12-31T23:30:00+14:00", 1980, 12, 31, PDS_DATE_DAY);
    for (i = 0; bad[i] != NULL; i++) {
        if (pds_time_parse_partial_date(&d, bad[i], strlen(bad[i])) != APR_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(d.year, 7);
    }
    /* Exactly len bytes: a NUL inside, or more after them, is not read. */
    assert_int_equal(pds_time_parse_partial_date(&d, "1980\0", 5), APR_EINVAL);
    assert_int_equal(pds_time_parse_partial_date(&d, "1980-06-15", 4), APR_SUCCESS);
    assert_int_equal(d.precision, PDS_DATE_YEAR);
    assert_int_equal(pds_time_parse_partial_date(&d, NULL, 0), APR_EINVAL);

    /* The days a partial date can mean. */
    partial("1980", 1980, 0, 0, PDS_DATE_YEAR);
    assert_int_equal(pds_time_parse_partial_date(&d, "1980", 4), APR_SUCCESS);
    pds_time_date_span(&d, &first, &last);
    assert_true(first.year == 1980 && first.month == 1 && first.day == 1);
    assert_true(last.year == 1980 && last.month == 12 && last.day == 31);
    assert_int_equal(first.precision, PDS_DATE_DAY);
    assert_int_equal(pds_time_parse_partial_date(&d, "1980-02", 7), APR_SUCCESS);
    pds_time_date_span(&d, &first, &last);
    assert_true(first.month == 2 && first.day == 1 && last.month == 2 && last.day == 29);
    assert_int_equal(pds_time_parse_partial_date(&d, "1900-02", 7), APR_SUCCESS);
    pds_time_date_span(&d, &first, &last);
    assert_int_equal(last.day, 28);
    assert_int_equal(pds_time_parse_partial_date(&d, "1980-06-15", 10), APR_SUCCESS);
    pds_time_date_span(&d, &first, &last);
    assert_true(first.day == 15 && last.day == 15 && last.month == 6);
    assert_true(pds_time_is_leap(2000) && pds_time_is_leap(2024));
    assert_false(pds_time_is_leap(1900) || pds_time_is_leap(2026));
}

/* Every second written reads back as itself, across leap days and centuries. */
static void test_round_trip(void **state)
{
    apr_pool_t *p = *state;
    apr_int64_t s;

    for (s = APR_INT64_C(-62167219200); s < APR_INT64_C(253402300800);
         s += APR_INT64_C(86399) * 37 + 1) {
        apr_time_t t = apr_time_from_sec(s) + (s & 0xfffff) % 1000000, back = 0;
        const char *text = pds_time_format_usec(p, t);

        assert_non_null(text);
        assert_int_equal(strlen(text), 27);
        assert_int_equal(pds_time_parse(&back, text), APR_SUCCESS);
        assert_true(back == t);
        text = pds_time_format(p, t);
        assert_int_equal(pds_time_parse(&back, text), APR_SUCCESS);
        assert_true(back == apr_time_from_sec(s));
    }
}

/* Six-digit times sort as text in time order. */
static void test_sortable(void **state)
{
    apr_pool_t *p = *state;
    const char *a = pds_time_format_usec(p, SEC(1795996800) + 9);
    const char *b = pds_time_format_usec(p, SEC(1795996800) + 10);

    assert_true(strcmp(a, b) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_parse_partial_date),
        pds_test_with_pool(test_round_trip),
        pds_test_with_pool(test_sortable),
    };

    return pds_test_main(tests, NULL, NULL);
}
