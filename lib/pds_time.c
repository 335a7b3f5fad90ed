/* pds_time.c: RFC 3339 times, written and read (pds_time.h). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pds_time.h"

#define SECS_PER_DAY 86400
/* longest date-time read: room for a fraction of up to 20 digits and an offset */
#define PDS_TIME_MAX_TEXT 40
/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z, seconds since 1970 */
#define FIRST_SEC (-62167219200LL)
#define END_SEC   253402300800LL

static int digits(const char *s, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int pds_time_is_leap(int year)
{
    return is_leap(year);
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static apr_int64_t days_from_civil(int y, int m, int d)
{
    apr_int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(apr_int64_t z, int *y, int *m, int *d)
{
    apr_int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* v (0 <= v < 10^n) as n decimal digits, zeros first. */
static void put_digits(char *o, int v, int n)
{
    while (n-- > 0) {
        o[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

static char *format(apr_pool_t *p, apr_time_t t, int usec)
{
    apr_int64_t secs, days, rem, frac;
    int y, m, d;
    char *out, *o;

    /* floor division: a time before 1970 has a negative quotient */
    secs = t / APR_USEC_PER_SEC;
    frac = t % APR_USEC_PER_SEC;
    if (frac < 0) {
        frac += APR_USEC_PER_SEC;
        secs--;
    }
    if (secs < FIRST_SEC || secs >= END_SEC)
        return NULL;
    days = secs / SECS_PER_DAY;
    rem = secs % SECS_PER_DAY;
    if (rem < 0) {
        rem += SECS_PER_DAY;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    /* By hand: the audit log formats two per record, and apr_psprintf is the
     * costly part of it. "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" */
    out = apr_palloc(p, 28);
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (int)(rem / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (int)(rem / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (int)(rem % 60), 2);
    o = out + 19;
    if (usec) {
        *o++ = '.';
        put_digits(o, (int)frac, 6);
        o += 6;
    }
    *o++ = 'Z';
    *o = '\0';
    return out;
}

char *pds_time_format(apr_pool_t *p, apr_time_t t)
{
    return format(p, t, 0);
}

char *pds_time_format_usec(apr_pool_t *p, apr_time_t t)
{
    return format(p, t, 1);
}

/* "YYYY-MM-DD" at s, a real day: its day number since 1970. */
static int parse_day(const char *s, apr_int64_t *days)
{
    int y, m, d;

    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-'
        || !digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return 0;
    *days = days_from_civil(y, m, d);
    return 1;
}

apr_status_t pds_time_parse_date(apr_time_t *t, const char *text)
{
    apr_int64_t days;

    if (text == NULL || strlen(text) != 10 || !parse_day(text, &days))
        return APR_EINVAL;
    *t = apr_time_from_sec(days * SECS_PER_DAY);
    return APR_SUCCESS;
}

apr_status_t pds_time_parse(apr_time_t *t, const char *text)
{
    int hour, min, sec, off_h = 0, off_m = 0, sign = 0, scale = 100000;
    apr_int64_t days, frac = 0, value;
    const char *s = text;

    if (text == NULL || strlen(text) > PDS_TIME_MAX_TEXT || !parse_day(s, &days)
        || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &hour) || s[13] != ':'
        || !digits(s + 14, 2, &min) || s[16] != ':' || !digits(s + 17, 2, &sec) || hour > 23 || min > 59 || sec > 60)
        return APR_EINVAL;
    s += 19;
    if (*s == '.') {
        if (!apr_isdigit(s[1]))
            return APR_EINVAL;
        for (s++; apr_isdigit(*s); s++, scale /= 10)
            frac += scale > 0 ? (*s - '0') * scale : 0;
    }
    if (*s == 'Z' || *s == 'z')
        s++;
    else if (*s == '+' || *s == '-') {
        sign = *s == '+' ? 1 : -1;
        if (!digits(s + 1, 2, &off_h) || s[3] != ':' || !digits(s + 4, 2, &off_m)
            || off_h > 23 || off_m > 59)
            return APR_EINVAL;
        s += 6;
    }
    else
        return APR_EINVAL;
    if (*s != '\0')
        return APR_EINVAL;
    if (sec == 60)
        sec = 59;
    value = days * SECS_PER_DAY + hour * 3600 + min * 60 + sec
            - (apr_int64_t)sign * (off_h * 3600 + off_m * 60);
    *t = apr_time_from_sec(value) + frac;
    return APR_SUCCESS;
}

/* "HH:MM:SS[.frac]" then "Z", "z" or "+hh:mm" / "-hh:mm", exactly n bytes at s. */
static int time_of_day(const char *s, apr_size_t n)
{
    int hour, min, sec, off_h, off_m;
    apr_size_t i = 8;

    if (n < 9 || !digits(s, 2, &hour) || s[2] != ':' || !digits(s + 3, 2, &min)
        || s[5] != ':' || !digits(s + 6, 2, &sec) || hour > 23 || min > 59 || sec > 60)
        return 0;
    if (s[i] == '.') {
        if (++i >= n || !apr_isdigit(s[i]))
            return 0;
        while (i < n && apr_isdigit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        return n - i == 6 && digits(s + i + 1, 2, &off_h) && s[i + 3] == ':'
               && digits(s + i + 4, 2, &off_m) && off_h <= 23 && off_m <= 59;
    return 0;
}

apr_status_t pds_time_parse_partial_date(pds_date_t *d, const char *text, apr_size_t len)
{
    pds_date_t got = { 0, 0, 0, PDS_DATE_YEAR };

    if (text == NULL || memchr(text, '\0', len) != NULL || len < 4
        || !digits(text, 4, &got.year))
        return APR_EINVAL;
    if (len > 4) {
        if (len < 7 || text[4] != '-' || !digits(text + 5, 2, &got.month)
            || got.month < 1 || got.month > 12)
            return APR_EINVAL;
        got.precision = PDS_DATE_MONTH;
    }
    if (len > 7) {
        if (len < 10 || text[7] != '-' || !digits(text + 8, 2, &got.day) || got.day < 1
            || got.day > days_in_month(got.year, got.month))
            return APR_EINVAL;
        got.precision = PDS_DATE_DAY;
    }
    if (len > 10 && ((text[10] != 'T' && text[10] != 't' && text[10] != ' ')
                     || !time_of_day(text + 11, len - 11)))
        return APR_EINVAL;
    *d = got;
    return APR_SUCCESS;
}

void pds_time_date_span(const pds_date_t *d, pds_date_t *first, pds_date_t *last)
{
    first->year = last->year = d->year;
    first->month = d->precision >= PDS_DATE_MONTH ? d->month : 1;
    last->month = d->precision >= PDS_DATE_MONTH ? d->month : 12;
    first->day = d->precision == PDS_DATE_DAY ? d->day : 1;
    last->day = d->precision == PDS_DATE_DAY ? d->day : days_in_month(last->year, last->month);
    first->precision = last->precision = PDS_DATE_DAY;
}
