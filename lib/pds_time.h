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

#endif
