/* pds_disclosure_store.c: the persistent index of disclosures
 * (pds_disclosure_store.h). */
#include <string.h>

#include <apr_strings.h>

#include "pds_consent_store_int.h"
#include "pds_disclosure_store.h"

#define SOURCE "consent store"

/* Schema 2: schema 1 and these. Every text column is TEXT: a long subject
 * or node name must not stop the index at one line. */
const char *const pds_store_schema_v2[] = {
    "CREATE TABLE pds_disclosures ("
    " node TEXT NOT NULL,"
    " seq BIGINT NOT NULL,"
    " subject TEXT NOT NULL,"
    " time TEXT NOT NULL,"
    " month TEXT NOT NULL,"
    " agreement TEXT NOT NULL,"
    " visible_from BIGINT NOT NULL,"
    " entry TEXT NOT NULL,"
    " PRIMARY KEY (node, seq, subject))",
    "CREATE INDEX pds_disclosures_by_subject ON pds_disclosures (subject, time)",
    "CREATE INDEX pds_disclosures_by_month ON pds_disclosures (agreement, month)",
    "CREATE TABLE pds_disclosure_cursors ("
    " node TEXT PRIMARY KEY,"
    " file_first BIGINT NOT NULL,"
    " file_offset BIGINT NOT NULL,"
    " last_seq BIGINT NOT NULL,"
    " lines BIGINT NOT NULL,"
    " updated BIGINT NOT NULL)",
    NULL
};

static const char *u64(apr_pool_t *p, apr_uint64_t v)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, v);
}

typedef struct cursor_read_t {
    pds_disclosure_cursor_t *c;
    int found;
} cursor_read_t;

static apr_status_t cursor_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                              const apr_dbd_driver_t *driver, pds_error_t *err)
{
    cursor_read_t *cr = baton;
    apr_int64_t v[4];
    int i;

    (void)p;
    for (i = 0; i < 4; i++) {
        if (!pds_store_parse_int64(apr_dbd_get_entry(driver, row, i), &v[i]) || v[i] < 0) {
            pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                          "a disclosure index cursor is not readable (corrupt store?)");
            return APR_EINVAL;
        }
    }
    cr->c->file_first = (apr_uint64_t)v[0];
    cr->c->offset = (apr_uint64_t)v[1];
    cr->c->last_seq = (apr_uint64_t)v[2];
    cr->c->lines = (apr_uint64_t)v[3];
    cr->found = 1;
    return APR_SUCCESS;
}

apr_status_t pds_disclosure_store_cursor(pds_consent_store_t *s, apr_pool_t *p,
                                         const char *node, pds_disclosure_cursor_t *c,
                                         pds_error_t *err)
{
    const char *args[2];
    cursor_read_t cr;
    apr_status_t rv;

    memset(c, 0, sizeof(*c));
    cr.c = c;
    cr.found = 0;
    args[0] = node;
    rv = pds_store_select(s, p, "SELECT file_first, file_offset, last_seq, lines FROM "
                          "pds_disclosure_cursors WHERE node = %s", 1, args, cursor_cb, &cr,
                          err);
    if (rv != APR_SUCCESS || cr.found)
        return rv;
    /* A first read: the row every later advance compares and sets. */
    args[1] = pds_store_time_text(p, apr_time_now());
    return pds_store_exec(s, p, NULL, "INSERT INTO pds_disclosure_cursors (node, file_first, "
                          "file_offset, last_seq, lines, updated) VALUES (%s, 0, 0, 0, 0, %s) "
                          "ON CONFLICT DO NOTHING", 2, args, err);
}

static apr_status_t insert_row(pds_consent_store_t *s, apr_pool_t *p, const char *node,
                               const pds_disclosure_row_t *row, pds_error_t *err)
{
    const char *args[8];

    args[0] = node;
    args[1] = u64(p, row->seq);
    args[2] = row->subject;
    args[3] = row->time;
    args[4] = apr_pstrndup(p, row->time, 7);
    args[5] = row->agreement;
    args[6] = pds_store_time_text(p, row->visible_from);
    args[7] = row->entry;
    return pds_store_exec(s, p, NULL, "INSERT INTO pds_disclosures (node, seq, subject, time, "
                          "month, agreement, visible_from, entry) VALUES (%s, %s, %s, %s, %s, "
                          "%s, %s, %s) ON CONFLICT DO NOTHING", 8, args, err);
}

apr_status_t pds_disclosure_store_advance(pds_consent_store_t *s, apr_pool_t *p,
                                          const char *node,
                                          const pds_disclosure_cursor_t *from,
                                          const pds_disclosure_cursor_t *to,
                                          const apr_array_header_t *rows, pds_error_t *err)
{
    const char *args[10];
    apr_status_t rv;
    int ok, nrows = 0, i;

    args[0] = u64(p, to->file_first);
    args[1] = u64(p, to->offset);
    args[2] = u64(p, to->last_seq);
    args[3] = u64(p, to->lines);
    args[4] = pds_store_time_text(p, apr_time_now());
    args[5] = node;
    args[6] = u64(p, from->file_first);
    args[7] = u64(p, from->offset);
    args[8] = u64(p, from->last_seq);
    args[9] = u64(p, from->lines);
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    /* The cursor first: SQLite's lock is taken, PostgreSQL's row locked, and
     * a racing process that moved it already makes this one give way. */
    ok = pds_store_exec(s, p, &nrows, "UPDATE pds_disclosure_cursors SET file_first = %s, "
                        "file_offset = %s, last_seq = %s, lines = %s, updated = %s WHERE "
                        "node = %s AND file_first = %s AND file_offset = %s AND last_seq = %s "
                        "AND lines = %s", 10, args, err) == APR_SUCCESS;
    if (ok && nrows != 1) {
        pds_error_set(err, "disclosure-index-moved", -1, SOURCE,
                      "the disclosure index moved meanwhile");
        ok = 0;
        rv = APR_EAGAIN;
    }
    for (i = 0; ok && rows != NULL && i < rows->nelts; i++)
        ok = insert_row(s, p, node, &APR_ARRAY_IDX(rows, i, pds_disclosure_row_t), err)
             == APR_SUCCESS;
    if (pds_store_txn_end(s, p, ok, err) != APR_SUCCESS)
        return rv == APR_EAGAIN ? rv : APR_EGENERAL;
    return APR_SUCCESS;
}

static apr_status_t entry_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                             const apr_dbd_driver_t *driver, pds_error_t *err)
{
    json_t *out = baton, *e;
    const char *text = apr_dbd_get_entry(driver, row, 0);

    (void)p;
    e = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(e) || json_array_append_new(out, e) != 0) {
        json_decref(e);
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "an indexed disclosure is not readable (corrupt store?)");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t pds_disclosure_store_of(pds_consent_store_t *s, apr_pool_t *p, const char *subject,
                                     apr_time_t now, json_t **pout, pds_error_t *err)
{
    const char *args[2];
    json_t *out = json_array();
    apr_status_t rv;

    *pout = NULL;
    if (out == NULL)
        return APR_ENOMEM;
    args[0] = subject;
    args[1] = pds_store_time_text(p, now);
    rv = pds_store_select(s, p, "SELECT entry FROM pds_disclosures WHERE subject = %s AND "
                          "visible_from <= %s ORDER BY time, node, seq", 2, args, entry_cb,
                          out, err);
    if (rv != APR_SUCCESS) {
        json_decref(out);
        return rv;
    }
    *pout = out;
    return APR_SUCCESS;
}

apr_status_t pds_disclosure_store_in_month(pds_consent_store_t *s, apr_pool_t *p,
                                           const char *agreement, const char *month,
                                           apr_uint64_t *pcount, pds_error_t *err)
{
    const char *args[2];
    apr_int64_t n = 0;
    int found = 0;
    apr_status_t rv;

    *pcount = 0;
    args[0] = agreement;
    args[1] = apr_pstrndup(p, month, 7);
    rv = pds_store_select_int(s, p, "SELECT COUNT(*) FROM (SELECT DISTINCT node, seq FROM "
                              "pds_disclosures WHERE agreement = %s AND month = %s) d", 2,
                              args, &n, &found, err);
    if (rv == APR_SUCCESS && found && n > 0)
        *pcount = (apr_uint64_t)n;
    return rv;
}
