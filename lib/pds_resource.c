/* pds_resource.c: request paths and resource templates (see pds_resource.h;
 * pds_request_path_check is declared in pds_agreement.h). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pds_agreement.h"
#include "pds_resource.h"

/* RFC 3986 pchar without pct-encoded and ';': what a path segment may hold. */
static int is_path_char(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("-._~!$&'()*+,=:@", c) != NULL;
}

static const char *char_problem(unsigned char c)
{
    if (c == '%')
        return "percent-escapes are not accepted";
    if (c == '\\')
        return "backslashes are not accepted";
    if (c == ';')
        return "';' (path parameters) is not accepted";
    if (c >= 0x80)
        return "bytes outside ASCII are not accepted";
    if (c < 0x20 || c == 0x7F)
        return "control characters are not accepted";
    if (c == '?' || c == '#')
        return "'?' and '#' do not belong in a path";
    return "only A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , = : @ are accepted "
           "in a path segment";
}

/* "{name}": a template parameter other than {subject}, name 1 to 32 of
 * a-z 0-9 _ -, starting with a letter. */
static int is_parameter(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len < 3 || len > 34 || s[0] != '{' || s[len - 1] != '}' || !apr_islower(s[1]))
        return 0;
    for (i = 1; i < len - 1; i++) {
        if (!apr_islower(s[i]) && !apr_isdigit(s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    }
    return 1;
}

const char *pds_path_problem(const char *path, int is_template, apr_size_t *pos)
{
    apr_size_t start = 1, i;
    int subjects = 0;

    *pos = 0;
    if (path == NULL || path[0] == '\0')
        return "the path is empty";
    if (path[0] != '/')
        return "the path must start with '/'";
    for (;;) {
        apr_size_t len;

        for (i = start; path[i] != '\0' && path[i] != '/'; i++)
            ;
        len = i - start;
        if (len == 0 && path[i] == '/') {
            *pos = start;
            return "empty segments ('//') are not accepted";
        }
        if (is_template && len == sizeof(PDS_SUBJECT_SEGMENT) - 1
            && memcmp(path + start, PDS_SUBJECT_SEGMENT, len) == 0) {
            if (subjects++ > 0) {
                *pos = start;
                return "{subject} may appear only once";
            }
        }
        else if (is_template && is_parameter(path + start, len)) {
            /* {name}: any one segment, e.g. /districts/{district}/residents */
        }
        else {
            apr_size_t j;

            for (j = start; j < i; j++) {
                unsigned char c = (unsigned char)path[j];

                if (is_template && (c == '{' || c == '}')) {
                    *pos = j;
                    return "'{' and '}' are only accepted as a whole "
                           "segment: {subject}, or a parameter such as {district}";
                }
                if (!is_path_char(c)) {
                    *pos = j;
                    return char_problem(c);
                }
            }
            if ((len == 1 && path[start] == '.')
                || (len == 2 && path[start] == '.' && path[start + 1] == '.')) {
                *pos = start;
                return "dot segments ('.' and '..') are not accepted";
            }
        }
        if (path[i] == '\0')
            return NULL;
        start = i + 1;
    }
}

apr_status_t pds_request_path_check(const char *path, pds_error_t *err)
{
    apr_size_t pos;
    const char *problem = pds_path_problem(path, 0, &pos);

    if (problem == NULL)
        return APR_SUCCESS;
    pds_error_set(err, "bad-path", (int)pos, "path", "%s (at offset %d)",
                  problem, (int)pos);
    return APR_EINVAL;
}

void pds_resource_compile(pds_resource_t *r, const char *templ, apr_pool_t *p)
{
    const char *s;
    int n = 1, i;

    for (s = templ + 1; *s != '\0'; s++) {
        if (*s == '/')
            n++;
    }
    r->nseg = n;
    r->seg = apr_pcalloc(p, sizeof(*r->seg) * n);
    r->seglen = apr_pcalloc(p, sizeof(*r->seglen) * n);
    r->has_subject = 0;
    r->subject_at = -1;
    s = templ + 1;
    for (i = 0; i < n; i++) {
        apr_size_t len = strcspn(s, "/");

        if (len == sizeof(PDS_SUBJECT_SEGMENT) - 1
            && memcmp(s, PDS_SUBJECT_SEGMENT, len) == 0) {
            r->seg[i] = NULL;
            r->has_subject = 1;
            r->subject_at = i;
        }
        else if (is_parameter(s, len)) {
            r->seg[i] = NULL;
        }
        else {
            r->seg[i] = apr_pstrmemdup(p, s, len);
        }
        r->seglen[i] = len;
        s += len + 1;
    }
}

/* What follows the leading '/' of path; NULL when path does not start with one. */
static const char *below_root(const char *path)
{
    return path != NULL && path[0] == '/' ? path + 1 : NULL;
}

/* The length of the segment at s; *slash is the '/' ending it, NULL for the last. */
static apr_size_t segment(const char *s, const char **slash)
{
    *slash = strchr(s, '/');
    return *slash != NULL ? (apr_size_t)(*slash - s) : strlen(s);
}

/* Whether literal segment k of r is exactly the len bytes at s. */
static int is_literal(const pds_resource_t *r, int k, const char *s, apr_size_t len)
{
    return len == r->seglen[k] && memcmp(s, r->seg[k], len) == 0;
}

/* Segment by segment; literals compare exactly, {subject} takes a whole
 * non-empty segment; the counts must agree (so a trailing '/' matters). */
int pds_resource_match(const pds_resource_t *r, const char *path,
                       const char **subject, apr_size_t *subject_len)
{
    const char *s = below_root(path);
    int i;

    for (i = 0; s != NULL && i < r->nseg; i++) {
        const char *slash;
        apr_size_t len = segment(s, &slash);
        int last = i == r->nseg - 1;

        if ((last && slash != NULL) || (!last && slash == NULL))
            return 0;
        if (r->seg[i] == NULL) {
            if (len == 0 || (i != r->subject_at && len > 64))
                return 0;
            if (i == r->subject_at) {
                *subject = s;
                *subject_len = len;
            }
        }
        else if (!is_literal(r, i, s, len)) {
            return 0;
        }
        s += len + 1;
    }
    return s != NULL;
}

const char *pds_resource_parameter_problem(const pds_resource_t *r, const char *path)
{
    const char *s = below_root(path);
    int i;

    for (i = 0; s != NULL && i < r->nseg; i++) {
        const char *slash;
        apr_size_t len = segment(s, &slash);

        if (r->seg[i] == NULL && i != r->subject_at
            && (memchr(s, '&', len) != NULL || memchr(s, '=', len) != NULL))
            return "a path parameter's value may not hold '&' or '=' (a back end could "
                   "read it as a query string)";
        if (slash == NULL)
            break;
        s = slash + 1;
    }
    return NULL;
}

int pds_resource_could_match_under(const pds_resource_t *r, const char *prefix)
{
    const char *s = below_root(prefix);
    int k;

    for (k = 0; s != NULL && k < r->nseg; k++) {
        const char *slash;
        apr_size_t len = segment(s, &slash);

        if (slash == NULL)      /* the last, partial segment: a beginning */
            return r->seg[k] == NULL || (len <= r->seglen[k]
                                         && memcmp(s, r->seg[k], len) == 0);
        if (r->seg[k] == NULL ? len == 0 : !is_literal(r, k, s, len))
            return 0;
        s = slash + 1;
    }
    return 0;                   /* not a path, or longer than the template */
}
