/* pds_consent_store.c: the consent store on apr_dbd (sqlite3 or pgsql). */
#include <stdlib.h>
#include <string.h>

#include <apr_dbd.h>
#include <apr_strings.h>

#include "pds_consent_store.h"
#include "pds_consent_store_int.h"

#define SOURCE "consent store"


/* Schema version 1. The same text runs on SQLite and PostgreSQL. */
static const char *const schema_v1[] = {
    "CREATE TABLE pds_consents ("
    " id VARCHAR(64) PRIMARY KEY,"
    " subject VARCHAR(64) NOT NULL,"
    " organisation VARCHAR(64) NOT NULL,"
    " agreement VARCHAR(64),"
    " purpose VARCHAR(64) NOT NULL,"
    " fields TEXT NOT NULL,"
    " legal_basis VARCHAR(32) NOT NULL,"
    " notice VARCHAR(128) NOT NULL,"
    " created BIGINT NOT NULL,"
    " expires BIGINT NOT NULL,"
    " state VARCHAR(16) NOT NULL,"
    " version INTEGER NOT NULL,"
    " updated BIGINT NOT NULL,"
    " actor VARCHAR(100) NOT NULL)",
    "CREATE INDEX pds_consents_by_subject ON pds_consents (subject, organisation, purpose)",
    "CREATE TABLE pds_consent_history ("
    " consent_id VARCHAR(64) NOT NULL REFERENCES pds_consents (id),"
    " version INTEGER NOT NULL,"
    " action VARCHAR(16) NOT NULL,"
    " state VARCHAR(16) NOT NULL,"
    " actor VARCHAR(100) NOT NULL,"
    " time BIGINT NOT NULL,"
    " PRIMARY KEY (consent_id, version))",
    "CREATE TABLE pds_mandates ("
    " subject VARCHAR(64) NOT NULL,"
    " manager VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL,"
    " revoked BIGINT,"
    " PRIMARY KEY (subject, manager, granted))",
    "CREATE TABLE pds_optouts ("
    " subject VARCHAR(64) NOT NULL,"
    " purpose VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL,"
    " revoked BIGINT,"
    " PRIMARY KEY (subject, purpose, granted))",
    NULL
};

#define CONSENT_COLUMNS "id, subject, organisation, agreement, purpose, fields, " \
    "legal_basis, notice, created, expires, state, version, updated, actor"

static apr_status_t db_error(pds_consent_store_t *s, int rc, const char *what,
                             pds_error_t *err)
{
    const char *msg = s->handle ? apr_dbd_error(s->driver, s->handle, rc) : NULL;

    pds_error_set(err, "consent-store-unavailable", -1, SOURCE, "%s: %s", what,
                  msg != NULL ? msg : "the database failed");
    return APR_EGENERAL;
}

const char *pds_store_time_text(apr_pool_t *p, apr_time_t t)
{
    return apr_psprintf(p, "%" APR_TIME_T_FMT, t);
}

int pds_store_parse_int64(const char *s, apr_int64_t *out)
{
    char *end;

    if (s == NULL || *s == '\0')
        return 0;
    *out = apr_strtoi64(s, &end, 10);
    return *end == '\0';
}

/* Runs a statement that returns no rows; nrows may be NULL. */
apr_status_t pds_store_exec(pds_consent_store_t *s, apr_pool_t *p, int *nrows,
                         const char *sql, int nargs, const char **args,
                         pds_error_t *err)
{
    apr_dbd_prepared_t *stmt = NULL;
    int rc, n = 0;

    rc = apr_dbd_prepare(s->driver, p, s->handle, sql, NULL, &stmt);
    if (rc != 0)
        return db_error(s, rc, "preparing a statement", err);
    rc = apr_dbd_pquery(s->driver, p, s->handle, &n, stmt, nargs, args);
    if (rc != 0)
        return db_error(s, rc, "writing", err);
    if (nrows != NULL)
        *nrows = n;
    return APR_SUCCESS;
}


/* Runs a select and calls cb for every row (all rows are always read, so the
 * connection is left clean). */
apr_status_t pds_store_select(pds_consent_store_t *s, apr_pool_t *p, const char *sql,
                                int nargs, const char **args, pds_store_row_cb cb,
                                void *baton, pds_error_t *err)
{
    apr_dbd_prepared_t *stmt = NULL;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    rc = apr_dbd_prepare(s->driver, p, s->handle, sql, NULL, &stmt);
    if (rc != 0)
        return db_error(s, rc, "preparing a query", err);
    /* Random access: the whole result is fetched here, so a failure shows
     * as an error now (pgsql's sequential mode would end the rows silently). */
    rc = apr_dbd_pselect(s->driver, p, s->handle, &res, stmt, 1, nargs, args);
    if (rc != 0)
        return db_error(s, rc, "reading", err);
    while ((rc = apr_dbd_get_row(s->driver, p, res, &row, -1)) == 0) {
        if (rv == APR_SUCCESS)
            rv = cb(baton, p, row, s->driver, err);
    }
    return rv;
}

static apr_status_t first_int_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                 const apr_dbd_driver_t *driver, pds_error_t *err)
{
    apr_int64_t *out = baton;
    const char *v = apr_dbd_get_entry(driver, row, 0);

    (void)p;
    if (out[1] == 0 && pds_store_parse_int64(v, &out[0]))
        out[1] = 1;
    else if (out[1] == 0) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a number in the store is not a number");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The first column of the first row as a number; *found 0 when no row. */
apr_status_t pds_store_select_int(pds_consent_store_t *s, apr_pool_t *p, const char *sql,
                               int nargs, const char **args, apr_int64_t *value,
                               int *found, pds_error_t *err)
{
    apr_int64_t out[2] = { 0, 0 };
    apr_status_t rv = pds_store_select(s, p, sql, nargs, args, first_int_cb, out, err);

    if (rv != APR_SUCCESS)
        return rv;
    *value = out[0];
    *found = (int)out[1];
    return APR_SUCCESS;
}

static apr_status_t ignore_row_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                  const apr_dbd_driver_t *driver, pds_error_t *err)
{
    (void)baton; (void)p; (void)row; (void)driver; (void)err;
    return APR_SUCCESS;
}

/* Transactions are plain SQL rather than apr_dbd_transaction_*(): apr-util
 * 1.6's pgsql driver dereferences NULL when BEGIN fails on a broken
 * connection, and its sqlite3 driver leaves the connection pointing into the
 * caller's pool when BEGIN fails. SQLite takes its write lock at BEGIN
 * IMMEDIATE, so a locked database is waited for there and no transaction has
 * to upgrade a read lock. */
apr_status_t pds_store_txn_begin(pds_consent_store_t *s, apr_pool_t *p, pds_error_t *err)
{
    return pds_store_exec(s, p, NULL, s->sqlite ? "BEGIN IMMEDIATE" : "BEGIN", 0, NULL, err);
}

/* Commits when ok, else rolls back. A connection whose COMMIT or ROLLBACK
 * failed is in an unknown state: it is marked broken, and never reused. */
apr_status_t pds_store_txn_end(pds_consent_store_t *s, apr_pool_t *p, int ok, pds_error_t *err)
{
    apr_status_t rv = pds_store_exec(s, p, NULL, ok ? "COMMIT" : "ROLLBACK", 0, NULL, err);

    if (rv != APR_SUCCESS)
        s->broken = 1;
    return ok ? rv : APR_EGENERAL;
}

/* The steps: steps[v] takes a store from schema v to v + 1. */
static const char *const *const steps[PDS_CONSENT_SCHEMA_VERSION] = {
    schema_v1,                  /* 0 -> 1: a new store */
    pds_store_schema_v2,        /* 1 -> 2: the index of disclosures */
    pds_store_schema_v3,        /* 2 -> 3: its rows by line, its cursors by file */
};

static apr_status_t read_version(pds_consent_store_t *s, apr_pool_t *p, apr_int64_t *version,
                                 pds_error_t *err)
{
    int found = 0;
    apr_status_t rv = pds_store_select_int(s, p, "SELECT version FROM pds_schema ORDER BY "
                                           "version DESC LIMIT 1", 0, NULL, version, &found,
                                           err);

    if (rv == APR_SUCCESS && !found)
        *version = 0;
    return rv;
}

static apr_status_t too_new(apr_int64_t version, pds_error_t *err)
{
    pds_error_set(err, "consent-store-schema", -1, SOURCE,
                  "the consent store's schema is version %d, newer than this "
                  "mod_pds knows (%d): upgrade mod_pds", (int)version,
                  PDS_CONSENT_SCHEMA_VERSION);
    return APR_EINVAL;
}

static apr_status_t migrate(pds_consent_store_t *s, apr_pool_t *p, int allowed,
                            pds_error_t *err)
{
    apr_int64_t version = 0;
    int i, ok;
    apr_status_t rv;

    rv = pds_store_exec(s, p, NULL, "CREATE TABLE IF NOT EXISTS pds_schema (version INTEGER "
                        "NOT NULL)", 0, NULL, err);
    if (rv != APR_SUCCESS || (rv = read_version(s, p, &version, err)) != APR_SUCCESS)
        return rv;
    if (version > PDS_CONSENT_SCHEMA_VERSION)
        return too_new(version, err);
    if (version == PDS_CONSENT_SCHEMA_VERSION) {
        s->schema_version = (int)version;
        return APR_SUCCESS;
    }
    if (!allowed) {
        pds_error_set(err, "consent-store-schema", -1, SOURCE,
                      "the consent store's schema is version %d, not %d", (int)version,
                      PDS_CONSENT_SCHEMA_VERSION);
        return APR_EINVAL;
    }
    /* Every step in one transaction: a crash leaves the old schema, never
     * half a new one. The version is read again under the lock (SQLite's
     * BEGIN IMMEDIATE; PostgreSQL's lock on pds_schema), so two gateways
     * starting together on one database do not both migrate. */
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    ok = (s->sqlite || pds_store_exec(s, p, NULL, "LOCK TABLE pds_schema IN EXCLUSIVE MODE",
                                      0, NULL, err) == APR_SUCCESS)
         && read_version(s, p, &version, err) == APR_SUCCESS;
    if (ok && version > PDS_CONSENT_SCHEMA_VERSION) {
        too_new(version, err);
        ok = 0;
    }
    for (; ok && version < PDS_CONSENT_SCHEMA_VERSION; version++) {
        for (i = 0; ok && steps[version][i] != NULL; i++)
            ok = pds_store_exec(s, p, NULL, steps[version][i], 0, NULL, err) == APR_SUCCESS;
        if (ok)
            ok = pds_store_exec(s, p, NULL, apr_psprintf(p, "INSERT INTO pds_schema (version) "
                                "VALUES (%d)", (int)version + 1), 0, NULL, err)
                 == APR_SUCCESS;
    }
    rv = pds_store_txn_end(s, p, ok, err);
    if (rv == APR_SUCCESS)
        s->schema_version = PDS_CONSENT_SCHEMA_VERSION;
    return ok ? rv : APR_EGENERAL;
}

static apr_status_t close_cleanup(void *data)
{
    pds_consent_store_t *s = data;

    if (s->handle != NULL)
        apr_dbd_close(s->driver, s->handle);
    s->handle = NULL;
    return APR_SUCCESS;
}

apr_status_t pds_consent_store_open(pds_consent_store_t **ps, apr_pool_t *p,
                                    const char *driver, const char *params,
                                    int timeout_ms, int migrate_allowed, pds_error_t *err)
{
    pds_consent_store_t *s;
    const char *error = NULL;
    apr_status_t rv;
    apr_pool_t *scratch;

    if (driver == NULL || (strcmp(driver, "sqlite3") != 0 && strcmp(driver, "pgsql") != 0)) {
        pds_error_set(err, "bad-argument", -1, SOURCE,
                      "the consent store's driver must be sqlite3 or pgsql");
        return APR_EINVAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->pool = p;
    s->sqlite = strcmp(driver, "sqlite3") == 0;
    rv = apr_dbd_init(p);
    if (rv == APR_SUCCESS)
        rv = apr_dbd_get_driver(p, driver, &s->driver);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "apr-util's %s driver is not available (install "
                      "libaprutil1-dbd-%s)", driver, driver);
        return rv;
    }
    rv = apr_dbd_open_ex(s->driver, p, params, &s->handle, &error);
    if (rv != APR_SUCCESS || s->handle == NULL) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "cannot open the consent store: %s",
                      error != NULL ? error : "the database refused the connection");
        s->handle = NULL;
        return rv != APR_SUCCESS ? rv : APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, s, close_cleanup, apr_pool_cleanup_null);
    if (apr_pool_create(&scratch, p) != APR_SUCCESS)
        return APR_ENOMEM;
    if (s->sqlite) {
        /* Many processes share the file: readers never block the writer
         * (WAL), and a locked database is waited for, up to the timeout. */
        /* apr-util's driver retries a busy database 15 times, 100 ms apart,
         * after SQLite's own wait: share the timeout out over the tries. */
        int busy_ms = timeout_ms / 16 - 100;

        rv = pds_store_select(s, scratch, apr_psprintf(scratch, "PRAGMA busy_timeout = %d",
                                                  busy_ms > 0 ? busy_ms : 1), 0, NULL,
                         ignore_row_cb, NULL, err);
        if (rv == APR_SUCCESS)
            rv = pds_store_select(s, scratch, "PRAGMA journal_mode = WAL", 0, NULL,
                             ignore_row_cb, NULL, err);
        if (rv == APR_SUCCESS)
            rv = pds_store_exec(s, scratch, NULL, "PRAGMA foreign_keys = ON", 0, NULL, err);
        if (rv == APR_SUCCESS)
            rv = pds_store_exec(s, scratch, NULL, "PRAGMA synchronous = FULL", 0, NULL, err);
    }
    else {
        rv = pds_store_exec(s, scratch, NULL, apr_psprintf(scratch, "SET statement_timeout = %d",
                                                 timeout_ms), 0, NULL, err);
    }
    if (rv == APR_SUCCESS)
        rv = migrate(s, scratch, migrate_allowed, err);
    apr_pool_destroy(scratch);
    if (rv != APR_SUCCESS) {
        apr_pool_cleanup_run(p, s, close_cleanup);
        return rv;
    }
    *ps = s;
    return APR_SUCCESS;
}

void pds_consent_store_close(pds_consent_store_t *s)
{
    if (s != NULL)
        apr_pool_cleanup_run(s->pool, s, close_cleanup);
}

int pds_consent_store_alive(pds_consent_store_t *s, apr_pool_t *p)
{
    return s != NULL && s->handle != NULL && !s->broken
        && apr_dbd_check_conn(s->driver, p, s->handle) == APR_SUCCESS;
}

apr_status_t pds_consent_store_ping(pds_consent_store_t *s, apr_pool_t *p, pds_error_t *err)
{
    apr_int64_t version = 0;
    int found = 0;
    apr_status_t rv = pds_store_select_int(s, p, "SELECT version FROM pds_schema ORDER BY version "
                                 "DESC LIMIT 1", 0, NULL, &version, &found, err);

    if (rv == APR_SUCCESS && (!found || version != s->schema_version)) {
        pds_error_set(err, "consent-store-schema", -1, SOURCE, "the consent store's schema "
                      "changed under the gateway");
        return APR_EINVAL;
    }
    return rv;
}

int pds_consent_store_schema_version(const pds_consent_store_t *s)
{
    return s->schema_version;
}

/* --- consents ------------------------------------------------------------------- */

static apr_status_t consent_row_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                   const apr_dbd_driver_t *driver, pds_error_t *err)
{
    apr_array_header_t *out = baton;
    pds_consent_t *c = apr_pcalloc(p, sizeof(*c));
    apr_int64_t created, expires, updated, version;
    const char *col[14];
    int i;

    for (i = 0; i < 14; i++) {
        const char *v = apr_dbd_get_entry(driver, row, i);
        col[i] = v != NULL ? apr_pstrdup(p, v) : NULL;
    }
    if (col[0] == NULL || col[1] == NULL || col[2] == NULL || col[4] == NULL
        || col[6] == NULL || col[7] == NULL || col[10] == NULL || col[13] == NULL
        || !pds_store_parse_int64(col[8], &created) || !pds_store_parse_int64(col[9], &expires)
        || !pds_store_parse_int64(col[11], &version) || !pds_store_parse_int64(col[12], &updated)
        || (strcmp(col[10], "active") != 0 && strcmp(col[10], "paused") != 0
            && strcmp(col[10], "revoked") != 0)) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a stored consent is not readable (corrupt store?)");
        return APR_EINVAL;
    }
    c->id = col[0];
    c->subject = col[1];
    c->organisation = col[2];
    /* pgsql gives "" for NULL; no agreement id is empty */
    c->agreement = col[3] != NULL && col[3][0] != '\0' ? col[3] : NULL;
    c->purpose = col[4];
    if (pds_consent_fields_decode(&c->fields, p, col[5], err) != APR_SUCCESS) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a stored consent's fields are not readable (corrupt store?)");
        return APR_EINVAL;
    }
    c->legal_basis = col[6];
    c->notice = col[7];
    c->created = (apr_time_t)created;
    c->expires = (apr_time_t)expires;
    c->state = col[10];
    c->version = (int)version;
    c->updated = (apr_time_t)updated;
    c->actor = col[13];
    APR_ARRAY_PUSH(out, pds_consent_t *) = c;
    return APR_SUCCESS;
}

static apr_status_t history_row_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                   const apr_dbd_driver_t *driver, pds_error_t *err)
{
    apr_array_header_t *out = baton;
    pds_consent_event_t *e = &APR_ARRAY_PUSH(out, pds_consent_event_t);
    apr_int64_t version, time;
    const char *action = apr_dbd_get_entry(driver, row, 1);
    const char *state = apr_dbd_get_entry(driver, row, 2);
    const char *actor = apr_dbd_get_entry(driver, row, 3);

    if (!pds_store_parse_int64(apr_dbd_get_entry(driver, row, 0), &version)
        || !pds_store_parse_int64(apr_dbd_get_entry(driver, row, 4), &time)
        || action == NULL || state == NULL || actor == NULL) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a consent's history is not readable (corrupt store?)");
        return APR_EINVAL;
    }
    e->version = (int)version;
    e->action = apr_pstrdup(p, action);
    e->state = apr_pstrdup(p, state);
    e->actor = apr_pstrdup(p, actor);
    e->time = (apr_time_t)time;
    return APR_SUCCESS;
}

static apr_status_t write_history(pds_consent_store_t *s, apr_pool_t *p,
                                  const pds_consent_t *c, const char *action,
                                  pds_error_t *err)
{
    const char *args[6];

    args[0] = c->id;
    args[1] = apr_itoa(p, c->version);
    args[2] = action;
    args[3] = c->state;
    args[4] = c->actor;
    args[5] = pds_store_time_text(p, c->updated);
    return pds_store_exec(s, p, NULL, "INSERT INTO pds_consent_history (consent_id, version, "
                          "action, state, actor, time) VALUES (%s, %s, %s, %s, %s, %s)", 6,
                          args, err);
}

apr_status_t pds_consent_store_insert(pds_consent_store_t *s, apr_pool_t *p,
                                      const pds_consent_t *c, pds_error_t *err)
{
    const char *args[14];
    const char *fields = pds_consent_fields_encode(p, c->fields);
    apr_status_t rv;
    int ok;

    if (fields == NULL)
        return APR_ENOMEM;
    args[0] = c->id;
    args[1] = c->subject;
    args[2] = c->organisation;
    args[3] = c->agreement;         /* NULL binds SQL NULL */
    args[4] = c->purpose;
    args[5] = fields;
    args[6] = c->legal_basis;
    args[7] = c->notice;
    args[8] = pds_store_time_text(p, c->created);
    args[9] = pds_store_time_text(p, c->expires);
    args[10] = c->state;
    args[11] = apr_itoa(p, c->version);
    args[12] = pds_store_time_text(p, c->updated);
    args[13] = c->actor;
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    ok = pds_store_exec(s, p, NULL, "INSERT INTO pds_consents (" CONSENT_COLUMNS ") VALUES "
              "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", 14, args, err)
        == APR_SUCCESS
        && write_history(s, p, c, "grant", err) == APR_SUCCESS;
    return pds_store_txn_end(s, p, ok, err);
}

apr_status_t pds_consent_store_get(pds_consent_store_t *s, apr_pool_t *p,
                                   const char *id, pds_consent_t **pc,
                                   apr_array_header_t **phistory, pds_error_t *err)
{
    apr_array_header_t *found = apr_array_make(p, 1, sizeof(pds_consent_t *));
    const char *args[1];
    apr_status_t rv;

    args[0] = id;
    rv = pds_store_select(s, p, "SELECT " CONSENT_COLUMNS " FROM pds_consents WHERE id = %s",
                     1, args, consent_row_cb, found, err);
    if (rv != APR_SUCCESS)
        return rv;
    if (found->nelts == 0) {
        pds_error_set(err, "consent-not-found", -1, SOURCE, "no consent with this id");
        return APR_NOTFOUND;
    }
    *pc = APR_ARRAY_IDX(found, 0, pds_consent_t *);
    if (phistory != NULL) {
        *phistory = apr_array_make(p, 4, sizeof(pds_consent_event_t));
        rv = pds_store_select(s, p, "SELECT version, action, state, actor, time FROM "
                         "pds_consent_history WHERE consent_id = %s ORDER BY version",
                         1, args, history_row_cb, *phistory, err);
    }
    return rv;
}

apr_status_t pds_consent_store_update(pds_consent_store_t *s, apr_pool_t *p,
                                      const pds_consent_t *prev,
                                      const pds_consent_t *next, const char *action,
                                      pds_error_t *err)
{
    const char *args[6];
    apr_status_t rv;
    int ok, nrows = 0;

    args[0] = next->state;
    args[1] = apr_itoa(p, next->version);
    args[2] = pds_store_time_text(p, next->updated);
    args[3] = next->actor;
    args[4] = prev->id;
    args[5] = apr_itoa(p, prev->version);
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    /* The write comes first, so SQLite takes its write lock at once (waiting
     * up to the busy timeout) instead of failing to upgrade a read lock. */
    ok = pds_store_exec(s, p, &nrows, "UPDATE pds_consents SET state = %s, version = %s, "
              "updated = %s, actor = %s WHERE id = %s AND version = %s", 6, args, err)
        == APR_SUCCESS;
    if (ok && nrows != 1) {
        pds_error_set(err, "consent-conflict", -1, SOURCE,
                      "the consent changed meanwhile; read it again");
        ok = 0;
        rv = APR_EAGAIN;
    }
    if (ok)
        ok = write_history(s, p, next, action, err) == APR_SUCCESS;
    if (pds_store_txn_end(s, p, ok, err) != APR_SUCCESS)
        return rv == APR_EAGAIN ? rv : APR_EGENERAL;
    return APR_SUCCESS;
}

apr_status_t pds_consent_store_list(pds_consent_store_t *s, apr_pool_t *p,
                                    const char *subject, apr_array_header_t **pcs,
                                    pds_error_t *err)
{
    const char *args[1];

    args[0] = subject;
    *pcs = apr_array_make(p, 8, sizeof(pds_consent_t *));
    return pds_store_select(s, p, "SELECT " CONSENT_COLUMNS " FROM pds_consents WHERE "
                       "subject = %s ORDER BY updated DESC, id", 1, args,
                       consent_row_cb, *pcs, err);
}

apr_status_t pds_consent_store_lookup(pds_consent_store_t *s, apr_pool_t *p,
                                      const char *subject, const char *organisation,
                                      const char *purpose, pds_consent_lookup_t **pl,
                                      pds_error_t *err)
{
    pds_consent_lookup_t *l = apr_pcalloc(p, sizeof(*l));
    const char *args[3];
    apr_status_t rv;

    args[0] = subject;
    args[1] = organisation;
    args[2] = purpose;
    l->consents = apr_array_make(p, 4, sizeof(pds_consent_t *));
    /* Bounded: a person has few consents for one organisation and purpose;
     * the newest 32 decide (a revoked one older than those changes nothing). */
    rv = pds_store_select(s, p, "SELECT " CONSENT_COLUMNS " FROM pds_consents WHERE "
                     "subject = %s AND organisation = %s AND purpose = %s "
                     "ORDER BY updated DESC, id LIMIT 32", 3, args,
                     consent_row_cb, l->consents, err);
    if (rv == APR_SUCCESS)
        *pl = l;
    return rv;
}

/* --- mandates and opt-outs -------------------------------------------------------- */

/* Each list is a table with its name column. */
static const struct {
    const char *table, *column;
} lists[] = {
    { "pds_mandates", "manager" },      /* PDS_CONSENT_MANDATES */
    { "pds_optouts", "purpose" },       /* PDS_CONSENT_OPTOUTS */
};

/* The list's table and column; 0 (with err set) for an unknown list. */
static int list_table(pds_consent_list_e list, const char **table, const char **column,
                      pds_error_t *err)
{
    if ((unsigned)list >= sizeof(lists) / sizeof(lists[0])) {
        pds_error_set(err, "bad-argument", -1, SOURCE, "no such list");
        return 0;
    }
    *table = lists[list].table;
    *column = lists[list].column;
    return 1;
}

apr_status_t pds_consent_store_list_set(pds_consent_store_t *s, apr_pool_t *p,
                                        pds_consent_list_e list, const char *subject,
                                        const char *name, int on, apr_time_t now,
                                        int *changed, pds_error_t *err)
{
    const char *args[3], *table, *column;
    int nrows = 0, ok;
    apr_status_t rv;

    *changed = 0;
    if (!list_table(list, &table, &column, err))
        return APR_EINVAL;
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    if (on) {
        /* Insert only if none is open. Under PostgreSQL's read committed two
         * racing grants may both insert; closing closes every open row, so
         * the duplicate changes nothing a person can observe. */
        const char *iargs[5];

        iargs[0] = subject;
        iargs[1] = name;
        iargs[2] = pds_store_time_text(p, now);
        iargs[3] = subject;
        iargs[4] = name;
        ok = pds_store_exec(s, p, &nrows, apr_psprintf(p,
                  "INSERT INTO %s (subject, %s, granted, revoked) SELECT %%s, %%s, "
                  "CAST(%%s AS BIGINT), CAST(NULL AS BIGINT) WHERE NOT EXISTS (SELECT 1 "
                  "FROM %s WHERE subject = %%s AND %s = %%s AND revoked IS NULL)",
                  table, column, table, column), 5, iargs, err) == APR_SUCCESS;
    }
    else {
        args[0] = pds_store_time_text(p, now);
        args[1] = subject;
        args[2] = name;
        ok = pds_store_exec(s, p, &nrows, apr_psprintf(p, "UPDATE %s SET revoked = %%s WHERE "
                  "subject = %%s AND %s = %%s AND revoked IS NULL", table, column),
                  3, args, err) == APR_SUCCESS;
    }
    rv = pds_store_txn_end(s, p, ok, err);
    if (rv == APR_SUCCESS)
        *changed = nrows > 0;
    return rv;
}

apr_status_t pds_consent_store_list_held(pds_consent_store_t *s, apr_pool_t *p,
                                         pds_consent_list_e list, const char *subject,
                                         const char *name, int *held, pds_error_t *err)
{
    const char *args[2], *table, *column;
    apr_int64_t n = 0;
    int found = 0;
    apr_status_t rv;

    if (!list_table(list, &table, &column, err))
        return APR_EINVAL;
    args[0] = subject;
    args[1] = name;
    rv = pds_store_select_int(s, p, apr_psprintf(p, "SELECT COUNT(*) FROM %s WHERE subject = %%s "
                                       "AND %s = %%s AND revoked IS NULL", table, column),
                    2, args, &n, &found, err);
    if (rv == APR_SUCCESS)
        *held = found && n > 0;
    return rv;
}

typedef struct names_t {
    apr_array_header_t *names, *times;
} names_t;

static apr_status_t name_row_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                                const apr_dbd_driver_t *driver, pds_error_t *err)
{
    names_t *n = baton;
    const char *name = apr_dbd_get_entry(driver, row, 0);
    apr_int64_t t;

    if (name == NULL || !pds_store_parse_int64(apr_dbd_get_entry(driver, row, 1), &t)) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a stored row is not readable (corrupt store?)");
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(n->names, const char *) = apr_pstrdup(p, name);
    APR_ARRAY_PUSH(n->times, apr_time_t) = (apr_time_t)t;
    return APR_SUCCESS;
}

apr_status_t pds_consent_store_list_names(pds_consent_store_t *s, apr_pool_t *p,
                                          pds_consent_list_e list, const char *subject,
                                          apr_array_header_t **pnames,
                                          apr_array_header_t **ptimes, pds_error_t *err)
{
    names_t n;
    const char *args[1], *table, *column;

    if (!list_table(list, &table, &column, err))
        return APR_EINVAL;
    args[0] = subject;
    n.names = apr_array_make(p, 4, sizeof(const char *));
    n.times = apr_array_make(p, 4, sizeof(apr_time_t));
    *pnames = n.names;
    if (ptimes != NULL)
        *ptimes = n.times;
    return pds_store_select(s, p, apr_psprintf(p, "SELECT %s, granted FROM %s WHERE subject = %%s "
                                          "AND revoked IS NULL ORDER BY %s", column, table,
                                          column), 1, args, name_row_cb, &n, err);
}
