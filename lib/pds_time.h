/* pds_time.h: the one RFC 3339 writer and reader of mod_pds.
 *
 * Every time mod_pds writes (audit records, checkpoints, consent documents)
 * is UTC with "Z"; every time it reads (an API's "expires", an audit record's
 * "time" and "visible_from", pds-audit's --since and --until) goes through
 * one strict parser, so the module and the tool agree on what a time is.
 * The calendar is the proleptic Gregorian one, years 0000 to 9999 (what
 * RFC 3339 can write); apr_time_t is microseconds since 1970 and may be
 * negative for earlier years.
 */
#ifndef PDS_TIME_H
#define PDS_TIME_H

#include <apr_pools.h>
#include <apr_time.h>

/* Seconds precision: "2026-11-30T09:00:00Z" (the fraction is dropped).
 * Allocated from p; NULL when t falls outside years 0000 to 9999. */
char *pds_time_format(apr_pool_t *p, apr_time_t t);

/* Microseconds precision, always six fraction digits, so that such times
 * sort as text: "2026-11-30T09:00:00.000000Z". Allocated from p; NULL when
 * t falls outside years 0000 to 9999. */
char *pds_time_format_usec(apr_pool_t *p, apr_time_t t);

/* An RFC 3339 date-time, strictly: "YYYY-MM-DDTHH:MM:SS[.frac]" then "Z" or
 * "+hh:mm" / "-hh:mm"; "T" and "Z" in either case (RFC 3339 section 5.6),
 * no space instead of "T", nothing after the offset. The date must be a real
 * calendar day; a leap second (:60) counts as :59. Fraction digits beyond
 * the sixth are read and ignored; at most 40 characters in all. *t is UTC.
 * APR_EINVAL (and *t unchanged) for anything else, NULL included. */
apr_status_t pds_time_parse(apr_time_t *t, const char *text);

/* A calendar date "YYYY-MM-DD" (exactly ten characters, a real day), as
 * 00:00:00 UTC of that day. APR_EINVAL (and *t unchanged) otherwise. */
apr_status_t pds_time_parse_date(apr_time_t *t, const char *text);

/* How much of a calendar day a partial date gives. */
enum { PDS_DATE_YEAR = 1, PDS_DATE_MONTH = 2, PDS_DATE_DAY = 3 };

typedef struct pds_date_t {
    int year, month, day;       /* month and day 0 when not given */
    int precision;              /* PDS_DATE_YEAR, _MONTH or _DAY */
} pds_date_t;

/* A FHIR date or dateTime, as written (no conversion to UTC): "YYYY",
 * "YYYY-MM", "YYYY-MM-DD", or a day followed by "T", "t" or a space, then
 * "HH:MM:SS[.frac]" and "Z", "z", "+hh:mm" or "-hh:mm" (the time is checked,
 * then dropped: precision is PDS_DATE_DAY). Exactly len bytes, no NUL among
 * them; the month 1-12, the day within the month, a second up to 60.
 * APR_EINVAL (and *d unchanged) for anything else, NULL included. */
apr_status_t pds_time_parse_partial_date(pds_date_t *d, const char *text, apr_size_t len);

/* The first and the last day a partial date can mean (the date itself when
 * it gives a day): "1980" spans 1980-01-01 to 1980-12-31, "1980-02"
 * 1980-02-01 to 1980-02-29. Both out-parameters get precision PDS_DATE_DAY. */
void pds_time_date_span(const pds_date_t *d, pds_date_t *first, pds_date_t *last);

/* Non-zero for a leap year of the proleptic Gregorian calendar. */
int pds_time_is_leap(int year);

#endif
