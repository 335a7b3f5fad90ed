/* pds_agreement_finish.c: pds_agreement_finish(), the cross-checks of an
 * agreement once every line is read (what no single line can show: a keyword
 * missing, Write without a write method, a resource whose person is not
 * named, a direct identifier released in clear), and the transforms
 * attached to the Release set. The lines themselves are read in
 * pds_agreement.c.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_agreement_int.h"
#include "pds_resource.h"

/* Does the path a name the same place as b, or a place above it? */
static int path_covers(apr_pool_t *p, const char *a, const char *b)
{
    pds_fieldset_t *set;

    return pds_fieldset_create(&set, p) == APR_SUCCESS
        && pds_fieldset_add(set, a, NULL) == APR_SUCCESS
        && pds_fieldset_covers(set, b);
}

/* In a de-identified agreement, every part of a direct identifier that is
 * released must be under one transform. */
static apr_status_t check_identifiers(pds_agreement_t *a, pds_error_t *err)
{
    int i, j, k;

    for (i = 0; a->identifiers != NULL && i < a->identifiers->nelts; i++) {
        const char *d = APR_ARRAY_IDX(a->identifiers, i, const char *);

        for (j = 0; j < pds_fieldset_count(a->release); j++) {
            const char *r = pds_fieldset_path(a->release, j), *region, *every;
            int covered = 0;

            if (path_covers(a->pool, r, d))
                region = d;                 /* releases the whole identifier */
            else if (path_covers(a->pool, d, r))
                region = r;                 /* releases part of it */
            else
                continue;
            for (k = 0; k < pds_fieldset_transform_count(a->release) && !covered; k++) {
                const char *tp;
                (void)pds_fieldset_transform(a->release, k, &tp);
                covered = path_covers(a->pool, tp, region);
            }
            if (covered)
                continue;
            /* The suggestion must be a line that works when pasted: redact
             * takes any value (pseudonymise only a string or a number, and an
             * identifier such as name is often an object), and a transform
             * may not contain another. */
            for (k = 0; k < pds_fieldset_transform_count(a->release); k++) {
                const char *tp;
                (void)pds_fieldset_transform(a->release, k, &tp);
                if (path_covers(a->pool, region, tp))
                    return bad(err, "Deidentified", -1, "agreement '%s' is de-identified "
                               "but releases the direct identifier %s in clear (Release "
                               "%s), and %s holds a transform already (on %s): release "
                               "the parts of %s one by one, each with a transform, "
                               "instead of %s", a->id, d, r, region, tp, region, r);
            }
            /* A Transform names "[*]", never a predicate: the suggestion is
             * the region with its predicated selectors written "[*]". */
            every = pds_fieldset_path_every(a->pool, region);
            if (every == NULL)
                every = region;
            return bad(err, "Deidentified", -1, "agreement '%s' is de-identified but "
                       "releases the direct identifier %s in clear (Release %s): add "
                       "`Transform %s redact` (left out of the answer), or, for a "
                       "single string or number, `Transform %s pseudonymise`",
                       a->id, d, r, every, every);
        }
    }
    return APR_SUCCESS;
}

/* Is this parameter name within two edits of "subject" (or begins "subj")?
 * Then it is a misspelt {subject}, not a parameter. */
static int looks_like_subject(const char *name, apr_size_t len)
{
    static const char subject[] = "subject";
    apr_size_t prev[40], cur[40], i, j, m = sizeof(subject) - 1;

    if (len >= 4 && memcmp(name, "subj", 4) == 0)
        return 1;
    if (len + 1 > sizeof(prev) / sizeof(prev[0]))
        return 0;
    for (j = 0; j <= m; j++)
        prev[j] = j;
    for (i = 1; i <= len; i++) {
        cur[0] = i;
        for (j = 1; j <= m; j++) {
            apr_size_t best = prev[j - 1] + (name[i - 1] == subject[j - 1] ? 0 : 1);

            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(cur[0]) * (m + 1));
    }
    return prev[m] <= 2;
}

/* Whose data a resource is must be said: {subject} names the person; a
 * resource without it answers a collection (RecordSubject names each
 * record's person) or de-identified data. Anything else would release a
 * person's data recorded as nobody's: the audit record says "subject": null
 * and the person never sees it. Errors have source "Resource" and, as
 * position, the resource's index (the glue names its line). */
static apr_status_t check_resources(pds_agreement_t *a, pds_error_t *err)
{
    int i, k;

    for (i = 0; i < a->resources->nelts; i++) {
        const pds_resource_t *r = &APR_ARRAY_IDX(a->resources, i, pds_resource_t);
        const char *s = strchr(r->text, '/');

        for (k = 0; k < r->nseg && s != NULL; k++) {
            const char *seg = s + 1;
            apr_size_t len = r->seglen[k];

            if (r->seg[k] == NULL && k != r->subject_at
                && looks_like_subject(seg + 1, len - 2)) {
                pds_error_set(err, "bad-agreement", i, "Resource", "agreement '%s': "
                              "Resource %s: %.*s is not a placeholder mod_pds knows; the "
                              "person a resource is about is written {subject}", a->id,
                              r->text, (int)len, seg);
                return APR_EINVAL;
            }
            s = strchr(seg, '/');
        }
        if (!r->has_subject && a->record_subject == NULL && a->identifiers == NULL) {
            pds_error_set(err, "bad-agreement", i, "Resource", "agreement '%s': Resource "
                          "%s has no {subject}, so its data would be recorded as released "
                          "about nobody: name the person with {subject} (e.g. "
                          "/citizens/{subject}/record), or say what it answers: a "
                          "collection (RecordSubject <path of each record's person>) or "
                          "de-identified data (Deidentified <direct identifiers>)",
                          a->id, r->text);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* What the write keywords say must fit the resources: a PUT replaces the
 * record (WritePut replace-record says the agreement knows), and is never
 * stripped; Write compiles as a shape (pds_write.h). A Write error has
 * err->position the index of its path in the Write list (the glue names its
 * line); a resource's, the resource's index. */
static apr_status_t check_writes(pds_agreement_t *a, pds_error_t *err)
{
    int i, put = -1, others = 0, patch = 0;
    pds_error_t local;

    for (i = 0; i < a->resources->nelts; i++) {
        const char *m = APR_ARRAY_IDX(a->resources, i, pds_resource_t).method;

        if (strcmp(m, "PUT") == 0 && put < 0)
            put = i;
        else if (strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0)
            others = 1;
        patch |= strcmp(m, "PATCH") == 0;
    }
    if (put >= 0 && !a->put_replaces) {
        pds_error_set(err, "bad-agreement", put, "Resource", "agreement '%s': Resource %s: "
                      "a PUT replaces the whole record at the back end, so whatever the "
                      "agreement does not let %s write would be erased: write `WritePut "
                      "replace-record` in the agreement to accept that, or use PATCH (a "
                      "JSON merge patch changes only the fields it carries)", a->id,
                      APR_ARRAY_IDX(a->resources, put, pds_resource_t).text, a->party);
        return APR_EINVAL;
    }
    if (!patch && a->write_patch_set)
        return bad(err, "WritePatch", -1, "agreement '%s' has WritePatch but no PATCH "
                   "resource: remove it", a->id);
    if (put < 0 && a->write_put_set)
        return bad(err, "WritePut", -1, "agreement '%s' has WritePut but no PUT resource: "
                   "remove it", a->id);
    if (put >= 0 && !others && a->write_strips)
        return bad(err, "WriteUnknown", -1, "agreement '%s' writes only with PUT, and "
                   "WriteUnknown strip never applies to a PUT (the members removed would "
                   "be erased at the back end): remove `WriteUnknown strip`; a PUT "
                   "carrying other fields is refused", a->id);
    pds_error_clear(&local);
    if (pds_write_shape_compile(&a->write_shape, a->write, !patch ? PDS_WRITE_RECORD
                                : a->patch_deep ? PDS_WRITE_DEEP_MERGE : PDS_WRITE_TOP_LEVEL,
                                a->pool, &local)
        != APR_SUCCESS) {
        int at = -1;

        for (i = 0; i < pds_fieldset_count(a->write); i++) {
            if (strcmp(pds_fieldset_path(a->write, i), local.source) == 0)
                at = i;
        }
        pds_error_set(err, "bad-agreement", at, "Write", "agreement '%s': %s", a->id,
                      local.text);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t pds_agreement_finish(pds_agreement_t *a, pds_error_t *err)
{
    int i, has_get = 0, has_write = 0;
    const char *missing = NULL, *hint = NULL;
    char *list, *o;
    apr_size_t len = 0;

    if (a == NULL)
        return bad(err, "PDSAgreement", -1, "no agreement to finish");
    if (a->finished)
        return APR_SUCCESS;
    if (a->party == NULL) {
        missing = "Party";
        hint = "`Party <organisation>`";
    }
    else if (a->purposes->nelts == 0) {
        missing = "Purpose";
        hint = "`Purpose <purpose> [<purpose> ...]`";
    }
    else if (a->legal_basis == NULL) {
        missing = "LegalBasis";
        hint = "`LegalBasis <basis>` (one of " BASES ")";
    }
    else if (!a->valid_set) {
        missing = "Valid";
        hint = "`Valid <YYYY-MM-DD> <YYYY-MM-DD>` (UTC, both days included)";
    }
    else if (a->resources->nelts == 0) {
        missing = "Resource";
        hint = "`Resource <METHOD> <template>`, e.g. "
               "`Resource GET /citizens/{subject}/record`";
    }
    if (missing != NULL)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has no %s: add %s",
                   a->id, missing, hint);
    for (i = 0; i < a->resources->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->resources, i, pds_resource_t).method,
                   "GET") == 0)
            has_get = 1;
        else if (strcmp(APR_ARRAY_IDX(a->resources, i, pds_resource_t).method,
                        "DELETE") != 0)
            has_write = 1;
    }
    if (has_write && pds_fieldset_count(a->write) == 0)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has a POST, PUT or PATCH "
                   "resource but no Write, so no body could ever be accepted: add "
                   "`Write <field path> ...`", a->id);
    if (!has_write && (pds_fieldset_count(a->write) > 0 || a->write_unknown_set
                       || a->write_put_set || a->write_patch_set || a->write_media != NULL))
        return bad(err, "PDSAgreement", -1, "agreement '%s' has Write, WriteUnknown, "
                   "WritePut, WritePatch or WriteMediaType but no POST, PUT or PATCH "
                   "resource", a->id);
    if (has_write && check_writes(a, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (check_resources(a, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (!has_get && pds_query_count(a->query) > 0)
        return bad(err, "Query", -1, "agreement '%s' declares Query parameters but has "
                   "no GET resource; a query string pages or searches what GET reads: "
                   "add `Resource GET <template>` or remove the Query lines", a->id);
    if (has_get && pds_fieldset_count(a->release) == 0)
        return bad(err, "PDSAgreement", -1, "agreement '%s' has a GET "
                   "resource but no Release, so nothing could ever be "
                   "released: add `Release <field path> ...`", a->id);
    for (i = 0; i < a->transforms->nelts; i++) {
        const pending_transform_t *pt = &APR_ARRAY_IDX(a->transforms, i,
                                                       pending_transform_t);
        pds_error_t local;

        pds_error_clear(&local);
        if (pds_fieldset_set_transform(a->release, pt->path, pt->transform, &local)
            != APR_SUCCESS)
            return bad(err, "Transform", -1, "agreement '%s': Transform %s %s: %s", a->id,
                       pt->path, pds_transform_text(pt->transform), local.text);
    }
    if (check_identifiers(a, err) != APR_SUCCESS)
        return APR_EINVAL;
    if (a->drop_bad_records && a->record_subject == NULL)
        return bad(err, "OnBadRecord", -1, "agreement '%s': OnBadRecord drop is for "
                   "collections, whose records are released one by one: add "
                   "`RecordSubject <path of each record's person>` or write "
                   "`OnBadRecord fail`", a->id);
    if (a->record_subject != NULL) {
        for (i = 0; i < pds_fieldset_count(a->release); i++) {
            if (strncmp(pds_fieldset_path(a->release, i), "[*]", 3) != 0)
                return bad(err, "RecordSubject", -1, "agreement '%s': RecordSubject is for "
                           "collections (the back end answers an array of records), so "
                           "every Release path starts with [*]; %s does not", a->id,
                           pds_fieldset_path(a->release, i));
        }
    }

    /* "a, b, c" once, for the details of purpose denials. */
    for (i = 0; i < a->purposes->nelts; i++)
        len += strlen(APR_ARRAY_IDX(a->purposes, i, const char *)) + 2;
    list = o = apr_palloc(a->pool, len + 1);
    for (i = 0; i < a->purposes->nelts; i++) {
        const char *name = APR_ARRAY_IDX(a->purposes, i, const char *);
        apr_size_t n = strlen(name);

        if (i > 0) {
            memcpy(o, ", ", 2);
            o += 2;
        }
        memcpy(o, name, n);
        o += n;
    }
    *o = '\0';
    a->purpose_list = list;
    a->finished = 1;
    return APR_SUCCESS;
}
