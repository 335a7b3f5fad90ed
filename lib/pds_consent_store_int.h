/* pds_consent_store_int.h: what the consent store's files share
 * (pds_consent_store.c, pds_disclosure_store.c); nothing else includes it.
 */
#ifndef PDS_CONSENT_STORE_INT_H
#define PDS_CONSENT_STORE_INT_H

#include <apr_dbd.h>

#include "pds_consent_store.h"

struct pds_consent_store_t {
    apr_pool_t *pool;
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    int sqlite;
    int schema_version;
    int broken;                 /* a transaction could not be ended */
};

typedef apr_status_t (*pds_store_row_cb)(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                         const apr_dbd_driver_t *driver, pds_error_t *err);

/* A time as the store keeps it: apr_time_t microseconds, in decimal. */
const char *pds_store_time_text(apr_pool_t *p, apr_time_t t);

/* A decimal column: 0 when s is NULL, empty or not all digits. */
int pds_store_parse_int64(const char *s, apr_int64_t *out);

/* Runs a statement that returns no rows (%s placeholders, args bound);
 * nrows, the rows it changed, may be NULL. */
apr_status_t pds_store_exec(pds_consent_store_t *s, apr_pool_t *p, int *nrows,
                            const char *sql, int nargs, const char **args, pds_error_t *err);

/* Runs a select and calls cb for every row (all are read). */
apr_status_t pds_store_select(pds_consent_store_t *s, apr_pool_t *p, const char *sql,
                              int nargs, const char **args, pds_store_row_cb cb, void *baton,
                              pds_error_t *err);

/* The first column of the first row as a number; *found 0 when no row. */
apr_status_t pds_store_select_int(pds_consent_store_t *s, apr_pool_t *p, const char *sql,
                                  int nargs, const char **args, apr_int64_t *value,
                                  int *found, pds_error_t *err);

/* BEGIN (SQLite: IMMEDIATE, its write lock taken now); end: COMMIT when ok,
 * else ROLLBACK and APR_EGENERAL. A connection whose end failed is marked
 * broken. */
apr_status_t pds_store_txn_begin(pds_consent_store_t *s, apr_pool_t *p, pds_error_t *err);
apr_status_t pds_store_txn_end(pds_consent_store_t *s, apr_pool_t *p, int ok, pds_error_t *err);

/* The statements that take a store from schema 1 to 2, and from 2 to 3
 * (pds_disclosure_store.c), NULL-terminated, the same text for SQLite and
 * PostgreSQL. */
extern const char *const pds_store_schema_v2[];
extern const char *const pds_store_schema_v3[];

#endif
