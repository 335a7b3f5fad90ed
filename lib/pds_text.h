/* pds_text.h: small text helpers shared inside lib/.
 *
 * Pure functions on caller-owned buffers: no pool, no allocation, safe from
 * any thread.
 */
#ifndef PDS_TEXT_H
#define PDS_TEXT_H

#include <apr.h>

/* Renders configuration text s for an error message into buf (size at least
 * 8): in double quotes, non-printable bytes as '?', cut with "..." when it
 * does not fit. Returns buf. */
const char *pds_text_show(char *buf, apr_size_t size, const char *s);

/* The decimal text of a JSON real the way the filter writes it (jansson's
 * style): the shortest of %.15g..%.17g that reads back as d, "100.0" rather
 * than "100", "1e300" rather than "1e+300", '.' whatever the locale. buf
 * holds at least 64 bytes. */
void pds_text_real(char *buf, apr_size_t size, double d);

/* The n bytes at s as the inside of a JSON string the way the filter writes
 * it: '"', '\\' and control characters escaped (\b \f \n \r \t, else
 * \u00xx), every other byte as it is. Writes into out (room for 6 * n
 * bytes) unless out is NULL; returns the length either way. */
apr_size_t pds_text_json_escape(char *out, const char *s, apr_size_t n);

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), or 0 if it is not one. s is
 * NUL-terminated: a NUL ends any sequence. */
apr_size_t pds_text_utf8_len(const unsigned char *s);

/* The NUL-terminated string s as the inside of a JSON string the way the
 * audit log writes it (jansson's JSON_ENSURE_ASCII, byte for byte): '"', '\\'
 * and control characters escaped (\b \f \n \r \t, else \u00XX), every
 * character beyond ASCII as \uXXXX (a surrogate pair above U+FFFF), upper
 * case hex; each byte that is not part of well-formed UTF-8 as \uFFFD. Writes
 * into out (room for 6 * strlen(s) bytes) unless out is NULL; returns the
 * length either way. */
apr_size_t pds_text_json_escape_ascii(char *out, const char *s);

#endif
