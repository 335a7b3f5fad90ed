/* pds_disclosure.c: a person's view of the audit log (pds_disclosure.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "pds_audit.h"
#include "pds_disclosure.h"
#include "pds_time.h"

static const char *str_member(json_t *rec, const char *name)
{
    json_t *v = json_object_get(rec, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_type(json_t *rec, const char *type)
{
    const char *t = str_member(rec, "type");

    return t != NULL && strcmp(t, type) == 0;
}

void pds_disclosure_parts_reset(pds_disclosure_parts_t *dp)
{
    json_decref(dp->subjects);
    memset(dp, 0, sizeof(*dp));
}

/* Does this "subjects" line carry on the run dp holds? */
static int continues(const pds_disclosure_parts_t *dp, const char *request, json_int_t part,
                     json_int_t seq)
{
    return dp->subjects != NULL && part == dp->part + 1 && seq == dp->seq + 1
           && strcmp(request, dp->request_id) == 0;
}

static void take_part(pds_disclosure_parts_t *dp, json_t *rec)
{
    const char *request = str_member(rec, "request_id");
    json_int_t part = json_integer_value(json_object_get(rec, "part"));
    json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
    json_t *subjects = json_object_get(rec, "subjects");

    if (request == NULL || strlen(request) >= sizeof(dp->request_id)
        || !json_is_array(subjects) || (part != 1 && !continues(dp, request, part, seq))) {
        pds_disclosure_parts_reset(dp);
        return;
    }
    if (part == 1) {
        pds_disclosure_parts_reset(dp);
        if ((dp->subjects = json_array()) == NULL)
            return;
        apr_cpystrn(dp->request_id, request, sizeof(dp->request_id));
    }
    if (json_array_extend(dp->subjects, subjects) != 0) {
        pds_disclosure_parts_reset(dp);
        return;
    }
    dp->part = part;
    dp->seq = seq;
}

json_t *pds_disclosure_subjects(pds_disclosure_parts_t *dp, json_t *rec)
{
    json_t *parts, *out = NULL;
    const char *request;

    if (!json_is_object(rec)) {
        pds_disclosure_parts_reset(dp);
        return NULL;
    }
    if (is_type(rec, "subjects")) {
        take_part(dp, rec);
        return NULL;
    }
    parts = json_object_get(rec, "subjects_parts");
    request = str_member(rec, "request_id");
    if (parts == NULL) {
        out = json_object_get(rec, "subjects");
        out = json_is_array(out) ? json_incref(out) : NULL;
    }
    else if (dp->subjects != NULL && json_integer_value(parts) > 0
             && json_integer_value(parts) == dp->part
             && json_integer_value(json_object_get(rec, "seq")) == dp->seq + 1
             && request != NULL && strcmp(request, dp->request_id) == 0) {
        out = json_incref(dp->subjects);
    }
    pds_disclosure_parts_reset(dp);
    return out;
}

int pds_disclosure_is_one(json_t *rec)
{
    const char *decision = str_member(rec, "decision");

    return json_object_get(rec, "type") == NULL && decision != NULL
           && strcmp(decision, "allow") == 0 && json_is_string(json_object_get(rec, "agreement"));
}

static const char *const shown[] = {
    "time", "organisation", "agreement", "agreement_version", "purpose", "legal_basis",
    "fields", NULL
};
static const char *const trail_members[] = { "request_id", "seq", NULL };
static const char *const trail_optional[] = { "consent", "visible_from", NULL };

/* names[i] of rec into e, null where rec has none. */
static int copy_members(json_t *e, json_t *rec, const char *const *names)
{
    json_t *v;
    int i;

    for (i = 0; names[i] != NULL; i++) {
        v = json_object_get(rec, names[i]);
        if (json_object_set(e, names[i], v != NULL ? v : json_null()) != 0)
            return 0;
    }
    return 1;
}

json_t *pds_disclosure_entry(json_t *rec, int trail)
{
    json_t *e = json_object(), *v;
    int i, ok;

    if (e == NULL)
        return NULL;
    ok = copy_members(e, rec, shown) && (!trail || copy_members(e, rec, trail_members));
    for (i = 0; ok && trail && trail_optional[i] != NULL; i++) {
        if ((v = json_object_get(rec, trail_optional[i])) != NULL)
            ok = json_object_set(e, trail_optional[i], v) == 0;
    }
    if (!ok) {
        json_decref(e);
        return NULL;
    }
    return e;
}

apr_time_t pds_disclosure_visible_from(json_t *rec)
{
    const char *s = str_member(rec, "visible_from");
    apr_time_t t;

    if (s == NULL)
        return 0;
    if (strcmp(s, "never") == 0 || pds_time_parse(&t, s) != APR_SUCCESS)
        return PDS_AUDIT_NEVER;
    return t;
}

static void push_row(apr_array_header_t *rows, const pds_disclosure_row_t *proto,
                     const char *subject, apr_pool_t *p)
{
    pds_disclosure_row_t *row = apr_array_push(rows);

    *row = *proto;
    row->subject = apr_pstrdup(p, subject);
}

apr_status_t pds_disclosure_rows(pds_disclosure_parts_t *dp, json_t *rec, apr_pool_t *p,
                                 apr_array_header_t *rows)
{
    json_t *subjects = pds_disclosure_subjects(dp, rec), *entry, *v;
    const char *subject = str_member(rec, "subject");
    pds_disclosure_row_t proto;
    char *text;
    size_t i;

    /* Disclosures only, about one person or, for a collection, about each
     * person whose record was released. */
    if (!json_is_object(rec) || !pds_disclosure_is_one(rec)
        || (subject == NULL && subjects == NULL) || str_member(rec, "time") == NULL) {
        json_decref(subjects);
        return APR_SUCCESS;
    }
    if ((entry = pds_disclosure_entry(rec, 0)) == NULL) {
        json_decref(subjects);
        return APR_ENOMEM;
    }
    text = json_dumps(entry, JSON_COMPACT);
    json_decref(entry);
    if (text == NULL) {
        json_decref(subjects);
        return APR_ENOMEM;
    }
    memset(&proto, 0, sizeof(proto));
    v = json_object_get(rec, "seq");
    proto.seq = json_is_integer(v) && json_integer_value(v) > 0
        ? (apr_uint64_t)json_integer_value(v) : 0;
    proto.time = apr_pstrdup(p, str_member(rec, "time"));
    proto.agreement = apr_pstrdup(p, str_member(rec, "agreement"));
    proto.visible_from = pds_disclosure_visible_from(rec);
    proto.entry = apr_pstrdup(p, text);
    free(text);
    if (subject != NULL)
        push_row(rows, &proto, subject, p);
    else {
        json_array_foreach(subjects, i, v) {
            if (json_is_string(v))
                push_row(rows, &proto, json_string_value(v), p);
        }
    }
    json_decref(subjects);
    return APR_SUCCESS;
}
