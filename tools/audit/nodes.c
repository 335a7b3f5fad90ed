/* nodes.c: several gateway nodes' logs read together (--nodes).
 *
 * Each node behind a load balancer keeps its own chain (PDSNodeName names
 * it in every record). With --nodes each FILE is one node's log: verify
 * checks each chain on its own, query and report read them all, and query
 * merges their records into one view ordered by time. Which files each
 * node's log is made of is audit_log.c's (node_inputs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_syntax.h"
#include "pds_time.h"

#include "pds_audit_tool.h"

/* A gateway's line ends ,"node":"NAME","mac":"<64 hex>"} when it has a node:
 * "node" is the last member before "mac" (docs/audit.md). */
#define MAC_TAIL   (sizeof(",\"mac\":\"") - 1 + 64 + 2)
#define NODE_HEAD  ",\"node\":\""

const char *line_node(const char *line, size_t len, apr_pool_t *p)
{
    size_t head = sizeof(NODE_HEAD) - 1, end, start;
    const char *name;

    if (len < MAC_TAIL + head + 2 || memcmp(line + len - MAC_TAIL, ",\"mac\":\"", 8) != 0)
        return NULL;
    end = len - MAC_TAIL - 1;               /* the closing quote of the name */
    if (line[end] != '"')
        return NULL;
    for (start = end; start > 0 && end - start <= PDS_SYNTAX_NAME_MAX + 1; start--) {
        if (line[start - 1] == '"')
            break;
    }
    if (start < head || memcmp(line + start - head, NODE_HEAD, head) != 0)
        return NULL;
    name = apr_pstrndup(p, line + start, end - start);
    return pds_syntax_is_name(name, PDS_SYNTAX_NAME_MAX) ? name : NULL;
}

/* ---- query --nodes: the selected records of every node, by time */

typedef struct merged_t {
    apr_int64_t time;           /* APR_INT64_MAX when unreadable: last */
    apr_size_t arrival;         /* ties keep the order read (a node's own order) */
    char *line;
    size_t len;
} merged_t;

typedef struct merge_t {
    apr_array_header_t *recs;   /* merged_t */
    apr_pool_t *p;
} merge_t;

static int merge_collect(void *baton, json_t *rec, const char *line, size_t len,
                         apr_pool_t *scratch)
{
    merge_t *m = baton;
    merged_t *e = apr_array_push(m->recs);

    (void)scratch;
    if (pds_time_parse(&e->time, str_member(rec, "time")) != APR_SUCCESS)
        e->time = APR_INT64_MAX;
    e->arrival = (apr_size_t)m->recs->nelts;
    e->line = apr_pstrmemdup(m->p, line, len);
    e->len = len;
    return EXIT_OK;
}

static int by_time(const void *a, const void *b)
{
    const merged_t *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

int scan_merged(const options_t *o, const filter_t *f, record_cb cb, void *baton,
                apr_pool_t *p)
{
    merge_t m;
    apr_pool_t *scratch;
    int i, rc;

    m.recs = apr_array_make(p, 256, sizeof(merged_t));
    m.p = p;
    if ((rc = scan(o, f, merge_collect, &m, p)) != EXIT_OK)
        return rc;
    qsort(m.recs->elts, (size_t)m.recs->nelts, sizeof(merged_t), by_time);
    if (apr_pool_create(&scratch, p) != APR_SUCCESS)
        return EXIT_USAGE;
    for (i = 0, rc = EXIT_OK; i < m.recs->nelts && rc == EXIT_OK; i++) {
        const merged_t *e = &APR_ARRAY_IDX(m.recs, i, merged_t);
        json_t *rec = json_loadb(e->line, e->len, JSON_REJECT_DUPLICATES, NULL);

        if (rec != NULL)
            rc = cb(baton, rec, e->line, e->len, scratch);
        json_decref(rec);
        apr_pool_clear(scratch);
    }
    apr_pool_destroy(scratch);
    return rc;
}
