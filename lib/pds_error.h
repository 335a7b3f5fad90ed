/* pds_error.h: error reports the jansson way.
 *
 * A pds_error_t is a caller-owned struct with fixed buffers. Library functions
 * fill it on failure; the first error wins (later calls leave it alone), and a
 * NULL pointer is accepted wherever an error is taken.
 */
#ifndef PDS_ERROR_H
#define PDS_ERROR_H

#include <apr.h>

#define PDS_ERROR_CODE_LENGTH   48
#define PDS_ERROR_SOURCE_LENGTH 96
#define PDS_ERROR_TEXT_LENGTH   640

typedef struct pds_error_t {
    char code[PDS_ERROR_CODE_LENGTH];     /* stable, machine-readable: "bad-path" */
    int position;                         /* offset into the source, -1 if none */
    char source[PDS_ERROR_SOURCE_LENGTH]; /* what was being read: "Release", "token" */
    char text[PDS_ERROR_TEXT_LENGTH];     /* for people: what is wrong, what to do */
} pds_error_t;

void pds_error_clear(pds_error_t *err);
int pds_error_is_set(const pds_error_t *err);

/* Records an error unless one is already recorded. position < 0: none.
 * A text too long for the buffer ends in "...", so a cut is visible. */
void pds_error_set(pds_error_t *err, const char *code, int position,
                   const char *source, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#endif
