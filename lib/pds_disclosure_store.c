/* pds_disclosure_store.c: the persistent index of disclosures
 * (pds_disclosure_store.h). */
#include <string.h>

#include <apr_strings.h>

#include "pds_consent_store_int.h"
#include "pds_disclosure_store.h"
#include "pds_time.h"

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

/* Schema 3: a row is its line's (unique on line and subject, not on node
 * and seq: a renamed node's lines are the same lines), and a cursor knows
 * its file's identity and whether its node is behind. The rows of schema 2
 * keep their node and seq as their line's name ("v2 <node> <seq>"): their
 * lines were indexed once, under that name, and the cursors stay where
 * they were. */
const char *const pds_store_schema_v3[] = {
    "CREATE TABLE pds_disclosures_v3 ("
    " line TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " node TEXT NOT NULL,"
    " seq BIGINT NOT NULL,"
    " time TEXT NOT NULL,"
    " month TEXT NOT NULL,"
    " agreement TEXT NOT NULL,"
    " visible_from BIGINT NOT NULL,"
    " entry TEXT NOT NULL,"
    " PRIMARY KEY (line, subject))",
    "INSERT INTO pds_disclosures_v3 (line, subject, node, seq, time, month, agreement, "
    "visible_from, entry) SELECT 'v2 ' || node || ' ' || seq, subject, node, seq, time, "
    "month, agreement, visible_from, entry FROM pds_disclosures",
    "DROP TABLE pds_disclosures",
    "ALTER TABLE pds_disclosures_v3 RENAME TO pds_disclosures",
    "CREATE INDEX pds_disclosures_by_subject ON pds_disclosures (subject, time)",
    "CREATE INDEX pds_disclosures_by_month ON pds_disclosures (agreement, month)",
    "ALTER TABLE pds_disclosure_cursors ADD COLUMN file_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE pds_disclosure_cursors ADD COLUMN behind_since BIGINT NOT NULL DEFAULT 0",
    NULL
};

static const char *u64(apr_pool_t *p, apr_uint64_t v)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, v);
}

#define CURSOR_COLUMNS "node, file_first, file_offset, last_seq, lines, file_id, updated, " \
    "behind_since"

/* A cursor as read, with its node's name. */
typedef struct named_cursor_t {
    const char *node;
    pds_disclosure_cursor_t c;
} named_cursor_t;

static apr_status_t cursor_cb(void *baton, apr_pool_t *p, apr_dbd_row_t *row,
                              const apr_dbd_driver_t *driver, pds_error_t *err)
{
    apr_array_header_t *out = baton;
    const char *node = apr_dbd_get_entry(driver, row, 0);
    const char *id = apr_dbd_get_entry(driver, row, 5);
    named_cursor_t *nc;
    apr_int64_t v[6];
    int i;

    for (i = 0; i < 6; i++) {
        if (!pds_store_parse_int64(apr_dbd_get_entry(driver, row, i < 4 ? i + 1 : i + 2),
                                   &v[i]) || v[i] < 0) {
            pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                          "a disclosure index cursor is not readable (corrupt store?)");
            return APR_EINVAL;
        }
    }
    if (node == NULL || id == NULL || strlen(id) > PDS_DISCLOSURE_FILE_ID_LEN) {
        pds_error_set(err, "consent-store-unavailable", -1, SOURCE,
                      "a disclosure index cursor is not readable (corrupt store?)");
        return APR_EINVAL;
    }
    nc = apr_array_push(out);
    memset(nc, 0, sizeof(*nc));
    nc->node = apr_pstrdup(p, node);
    nc->c.file_first = (apr_uint64_t)v[0];
    nc->c.offset = (apr_uint64_t)v[1];
    nc->c.last_seq = (apr_uint64_t)v[2];
    nc->c.lines = (apr_uint64_t)v[3];
    apr_cpystrn(nc->c.file_id, id, sizeof(nc->c.file_id));
    nc->c.updated = (apr_time_t)v[4];
    nc->c.behind_since = (apr_time_t)v[5];
    return APR_SUCCESS;
}

/* Every cursor, or node's alone (node NULL: all), by name. */
static apr_status_t read_cursors(pds_consent_store_t *s, apr_pool_t *p, const char *node,
                                 apr_array_header_t **pout, pds_error_t *err)
{
    *pout = apr_array_make(p, 4, sizeof(named_cursor_t));
    if (node == NULL)
        return pds_store_select(s, p, "SELECT " CURSOR_COLUMNS " FROM pds_disclosure_cursors "
                                "ORDER BY node", 0, NULL, cursor_cb, *pout, err);
    return pds_store_select(s, p, "SELECT " CURSOR_COLUMNS " FROM pds_disclosure_cursors "
                            "WHERE node = %s", 1, &node, cursor_cb, *pout, err);
}

/* Renames the cursor nc to node if it is still where it was read. */
static int adopt(pds_consent_store_t *s, apr_pool_t *p, const char *node,
                 const named_cursor_t *nc)
{
    const char *args[6];
    pds_error_t ignored;
    int nrows = 0;

    args[0] = node;
    args[1] = nc->node;
    args[2] = u64(p, nc->c.file_first);
    args[3] = u64(p, nc->c.offset);
    args[4] = u64(p, nc->c.last_seq);
    args[5] = u64(p, nc->c.lines);
    pds_error_clear(&ignored);
    /* A failure (another process made node's row meanwhile) is no harm:
     * the cursor is then read again by name. */
    return pds_store_exec(s, p, &nrows, "UPDATE pds_disclosure_cursors SET node = %s WHERE "
                          "node = %s AND file_first = %s AND file_offset = %s AND last_seq = %s "
                          "AND lines = %s", 6, args, &ignored) == APR_SUCCESS && nrows == 1;
}

apr_status_t pds_disclosure_store_cursor(pds_consent_store_t *s, apr_pool_t *p,
                                         const char *node, pds_disclosure_mine_cb mine,
                                         void *baton, pds_disclosure_cursor_t *c,
                                         const char **adopted, pds_error_t *err)
{
    apr_array_header_t *all;
    const char *args[2];
    apr_status_t rv;
    int i;

    memset(c, 0, sizeof(*c));
    if (adopted != NULL)
        *adopted = NULL;
    if ((rv = read_cursors(s, p, NULL, &all, err)) != APR_SUCCESS)
        return rv;
    for (i = 0; i < all->nelts; i++) {
        const named_cursor_t *nc = &APR_ARRAY_IDX(all, i, named_cursor_t);

        if (strcmp(nc->node, node) == 0) {
            *c = nc->c;
            return APR_SUCCESS;
        }
    }
    /* A name not known: the cursor of the chain this node's files are of,
     * if the index has one under another name. */
    for (i = 0; mine != NULL && i < all->nelts; i++) {
        const named_cursor_t *nc = &APR_ARRAY_IDX(all, i, named_cursor_t);

        if (nc->c.file_first == 0 || strlen(nc->c.file_id) != PDS_DISCLOSURE_FILE_ID_LEN
            || !mine(baton, nc->c.file_first, nc->c.file_id))
            continue;
        if (adopt(s, p, node, nc)) {
            *c = nc->c;
            if (adopted != NULL)
                *adopted = nc->node;
            return APR_SUCCESS;
        }
        break;
    }
    if ((rv = read_cursors(s, p, node, &all, err)) != APR_SUCCESS)
        return rv;
    if (all->nelts > 0) {               /* another process adopted or made it */
        *c = APR_ARRAY_IDX(all, 0, named_cursor_t).c;
        return APR_SUCCESS;
    }
    /* A first read: the row every later advance compares and sets. */
    args[0] = node;
    args[1] = pds_store_time_text(p, apr_time_now());
    return pds_store_exec(s, p, NULL, "INSERT INTO pds_disclosure_cursors (node, file_first, "
                          "file_offset, last_seq, lines, updated, file_id, behind_since) "
                          "VALUES (%s, 0, 0, 0, 0, %s, '', 0) ON CONFLICT DO NOTHING", 2, args,
                          err);
}

static apr_status_t insert_row(pds_consent_store_t *s, apr_pool_t *p, const char *node,
                               const pds_disclosure_row_t *row, pds_error_t *err)
{
    const char *args[9];

    if (row->line == NULL) {
        pds_error_set(err, "bad-argument", -1, SOURCE, "an indexed disclosure without its line");
        return APR_EINVAL;
    }
    args[0] = row->line;
    args[1] = node;
    args[2] = u64(p, row->seq);
    args[3] = row->subject;
    args[4] = row->time;
    args[5] = apr_pstrndup(p, row->time, 7);
    args[6] = row->agreement;
    args[7] = pds_store_time_text(p, row->visible_from);
    args[8] = row->entry;
    return pds_store_exec(s, p, NULL, "INSERT INTO pds_disclosures (line, node, seq, subject, "
                          "time, month, agreement, visible_from, entry) VALUES (%s, %s, %s, %s, "
                          "%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", 9, args, err);
}

apr_status_t pds_disclosure_store_advance(pds_consent_store_t *s, apr_pool_t *p,
                                          const char *node,
                                          const pds_disclosure_cursor_t *from,
                                          const pds_disclosure_cursor_t *to, int complete,
                                          const apr_array_header_t *rows, pds_error_t *err)
{
    apr_time_t now = apr_time_now();
    const char *args[12];
    apr_status_t rv;
    int ok, nrows = 0, i;

    args[0] = u64(p, to->file_first);
    args[1] = u64(p, to->offset);
    args[2] = u64(p, to->last_seq);
    args[3] = u64(p, to->lines);
    args[4] = to->file_id;
    args[5] = pds_store_time_text(p, now);
    args[6] = pds_store_time_text(p, complete ? 0
                                  : from->behind_since != 0 ? from->behind_since : now);
    args[7] = node;
    args[8] = u64(p, from->file_first);
    args[9] = u64(p, from->offset);
    args[10] = u64(p, from->last_seq);
    args[11] = u64(p, from->lines);
    if ((rv = pds_store_txn_begin(s, p, err)) != APR_SUCCESS)
        return rv;
    /* The cursor first: SQLite's lock is taken, PostgreSQL's row locked, and
     * a racing process that moved it already makes this one give way. */
    ok = pds_store_exec(s, p, &nrows, "UPDATE pds_disclosure_cursors SET file_first = %s, "
                        "file_offset = %s, last_seq = %s, lines = %s, file_id = %s, "
                        "updated = %s, behind_since = %s WHERE node = %s AND file_first = %s "
                        "AND file_offset = %s AND last_seq = %s AND lines = %s", 12, args,
                        err) == APR_SUCCESS;
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

static int add_behind(json_t *out, apr_pool_t *p, const char *node, apr_time_t since,
                      const char *reason)
{
    return json_array_append_new(out, json_pack("{s:s,s:s?,s:s}", "node", node, "since",
                                                since > 0 ? pds_time_format(p, since) : NULL,
                                                "reason", reason)) == 0;
}

apr_status_t pds_disclosure_store_behind(pds_consent_store_t *s, apr_pool_t *p, apr_time_t now,
                                         apr_interval_time_t stale, const char *failed,
                                         json_t **pout, pds_error_t *err)
{
    apr_array_header_t *all;
    json_t *out;
    apr_status_t rv;
    int i, ok = 1, failed_listed = 0;

    *pout = NULL;
    if ((rv = read_cursors(s, p, NULL, &all, err)) != APR_SUCCESS)
        return rv;
    if ((out = json_array()) == NULL)
        return APR_ENOMEM;
    for (i = 0; ok && i < all->nelts; i++) {
        const named_cursor_t *nc = &APR_ARRAY_IDX(all, i, named_cursor_t);
        const char *reason = NULL;
        apr_time_t since = 0;

        if (failed != NULL && strcmp(nc->node, failed) == 0) {
            reason = "unreadable";
            since = nc->c.updated;
            failed_listed = 1;
        }
        else if (nc->c.behind_since != 0) {
            reason = "indexing";
            since = nc->c.behind_since;
        }
        else if (now - nc->c.updated > stale) {
            reason = "not-checked";
            since = nc->c.updated;
        }
        if (reason != NULL)
            ok = add_behind(out, p, nc->node, since, reason);
    }
    if (ok && failed != NULL && !failed_listed)
        ok = add_behind(out, p, failed, 0, "unreadable");
    if (!ok) {
        json_decref(out);
        return APR_ENOMEM;
    }
    *pout = out;
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
    rv = pds_store_select_int(s, p, "SELECT COUNT(*) FROM (SELECT DISTINCT line FROM "
                              "pds_disclosures WHERE agreement = %s AND month = %s) d", 2,
                              args, &n, &found, err);
    if (rv == APR_SUCCESS && found && n > 0)
        *pcount = (apr_uint64_t)n;
    return rv;
}
