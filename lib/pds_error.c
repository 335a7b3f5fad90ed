/* pds_error.c: first-error-wins error reports. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pds_error.h"

void pds_error_clear(pds_error_t *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->position = -1;
}

int pds_error_is_set(const pds_error_t *err)
{
    return err != NULL && err->code[0] != '\0';
}

static void copy_bounded(char *dst, apr_size_t size, const char *src)
{
    apr_size_t n;

    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void pds_error_set(pds_error_t *err, const char *code, int position,
                   const char *source, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL || pds_error_is_set(err))
        return;
    copy_bounded(err->code, sizeof(err->code), code != NULL ? code : "error");
    copy_bounded(err->source, sizeof(err->source), source);
    err->position = position < 0 ? -1 : position;
    va_start(ap, fmt);
    n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    if (n < 0)
        copy_bounded(err->text, sizeof(err->text), "(the error text could not be formatted)");
    else if ((apr_size_t)n >= sizeof(err->text))
        memcpy(err->text + sizeof(err->text) - 4, "...", 4);
}
