/* pds_html.h: text for HTML pages (the portal and the public register).
 *
 * Every piece of text a page shows that is not a literal of the page's own
 * source (configuration labels, audit records, field paths, names) goes
 * through pds_html_escape, the one escaping rule of the module's pages.
 */
#ifndef PDS_HTML_H
#define PDS_HTML_H

#include <apr_pools.h>

/* s escaped for HTML element content and for attribute values in double or
 * single quotes: & < > " ' become character references; C0 control bytes
 * other than tab and newline, and DEL, are dropped (they have no business
 * on a page and some browsers mishandle them). Bytes >= 0x80 are copied as
 * they are: the text is UTF-8 from configuration or from the audit log,
 * which the pages declare as their charset. NULL gives "". Pool memory. */
char *pds_html_escape(apr_pool_t *p, const char *s);

/* Is s valid UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) with no control characters (C0, DEL, C1)? For label text read
 * from configuration, which is shown on pages as it is. */
int pds_html_is_plain_text(const char *s, apr_size_t max_bytes);

#endif
