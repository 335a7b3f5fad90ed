/* pds_transform_table.h: inside the transforms; not part of the library's API
 * (that is pds_transform.h).
 *
 * Every transform is one row of pds_transform_table (pds_transform_table.c):
 * its name, how its argument is read, and its apply function. pds_transform.c
 * reads the words of a "Transform" line, finds the row, checks the number of
 * words and applies. Adding a transform is adding a row and its function
 * there (and its paragraph in pds_transform.h); nothing here changes.
 */
#ifndef PDS_TRANSFORM_TABLE_H
#define PDS_TRANSFORM_TABLE_H

#include <apr_pools.h>
#include <jansson.h>

#include "pds_error.h"
#include "pds_transform.h"

#define PDS_TRANSFORM_SOURCE "Transform"

/* A parse error: err->code "bad-transform", err->source "Transform", the
 * text from fmt; evaluates to APR_EINVAL. */
#define bad_transform(err, pos, ...) \
    (pds_error_set((err), "bad-transform", (pos), PDS_TRANSFORM_SOURCE, __VA_ARGS__), \
     APR_EINVAL)

/* One word of a Transform line, unquoted and unescaped. */
typedef struct pds_transform_word_t {
    const char *text;
    int pos;                    /* offset of the word (its quote) in the line */
    int quoted;
} pds_transform_word_t;

typedef struct pds_transform_def_t pds_transform_def_t;

/* Reads the argument w into t and sets *canonical to its canonical text
 * (allocated from p). On failure returns APR_EINVAL with err set by
 * bad_transform(). */
typedef apr_status_t pds_transform_arg_fn(pds_transform_t *t, apr_pool_t *p,
                                          const pds_transform_word_t *w,
                                          const char **canonical, pds_error_t *err);

/* Applies t to v, as pds_transform_apply() describes; called only after the
 * row's needs (flags) are met, and for null only with PDS_TRANSFORM_TAKES_NULL. */
typedef apr_status_t pds_transform_apply_fn(const pds_transform_t *t, json_t *v,
                                            const pds_transform_ctx_t *ctx,
                                            json_t **out, pds_error_t *err);

/* Row flags. */
#define PDS_TRANSFORM_REMOVES    0x01   /* the value is removed (redact); the
                                           row has no apply function */
#define PDS_TRANSFORM_NEEDS_KEY  0x02   /* apply needs ctx->key */
#define PDS_TRANSFORM_NEEDS_TIME 0x04   /* apply needs ctx (ctx->now) */
#define PDS_TRANSFORM_TAKES_NULL 0x08   /* apply sees null too; otherwise
                                           null gives null */

struct pds_transform_def_t {
    const char *name;
    pds_transform_arg_fn *read_arg;     /* NULL: the transform takes none */
    int min, max;                       /* read_count: the range */
    const char *arg_name;               /* the argument, for messages */
    const char *example;                /* with an argument: a whole example,
                                           for messages */
    const char *extra_hint;             /* added when a word too many is given */
    pds_transform_apply_fn *apply;      /* NULL only with PDS_TRANSFORM_REMOVES */
    unsigned flags;
    int keep;                           /* for a shared apply function: year
                                           and year-month keep this many
                                           characters of the date */
};

/* The table, in the order error messages list the names. */
extern const pds_transform_def_t pds_transform_table[];
extern const apr_size_t pds_transform_table_size;

struct pds_transform_t {
    const pds_transform_def_t *def;
    const char *text;           /* canonical */
    int count;                  /* mask, truncate: N; age-band: W */
    apr_uint64_t step_units;    /* round: STEP = step_units * 10^-step_scale */
    int step_scale;
    json_t *constant;           /* constant: released by a pool cleanup */
};

/* pds_pseudonym() without a pool (apply has none): "ps_" and 22 characters
 * into out, NUL-terminated. With h (key made ready once, pds_hmac_create)
 * key is not used; otherwise key is PDS_PSEUDONYM_KEY_LENGTH bytes. 0 when
 * the keyed hash fails. (pds_pseudonym.c) */
int pds_pseudonym_into(char out[32], const unsigned char *key, pds_hmac_t *h,
                       const char *value, apr_size_t len);

#endif
