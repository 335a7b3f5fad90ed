/* pds_syntax.c: names and JSON media types (see pds_syntax.h). */
#include <string.h>

#include <strings.h>

#include "pds_syntax.h"

/* ASCII only, whatever the locale. */
static int is_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int pds_syntax_is_name(const char *s, apr_size_t max)
{
    apr_size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        if (n >= max || !is_name_char((unsigned char)s[n]))
            return 0;
    }
    return n > 0;
}

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static apr_size_t token_len(const char *s)
{
    apr_size_t n = 0;

    while (is_tchar((unsigned char)s[n]))
        n++;
    return n;
}

int pds_syntax_media_type(const char *value, pds_media_type_t *mt)
{
    const char *s, *rest;

    if (value == NULL)
        return 0;
    s = skip_ows(value);
    mt->type = s;
    mt->type_len = token_len(s);
    if (mt->type_len == 0 || s[mt->type_len] != '/')
        return 0;
    mt->subtype = s + mt->type_len + 1;
    mt->subtype_len = token_len(mt->subtype);
    if (mt->subtype_len == 0)
        return 0;
    rest = skip_ows(mt->subtype + mt->subtype_len);
    return *rest == '\0' || *rest == ';';
}

static int same(const char *s, apr_size_t n, const char *literal)
{
    return strlen(literal) == n && strncasecmp(s, literal, n) == 0;
}

int pds_syntax_is_json(const char *value, pds_json_policy_e policy)
{
    pds_media_type_t mt;

    if (!pds_syntax_media_type(value, &mt) || !same(mt.type, mt.type_len, "application"))
        return 0;
    if (same(mt.subtype, mt.subtype_len, "json"))
        return 1;
    /* <name>+json, the name not empty */
    return policy == PDS_JSON_SUFFIX && mt.subtype_len > 5
        && same(mt.subtype + mt.subtype_len - 5, 5, "+json");
}
