/* pds_agreement_match.c: the decision over compiled agreements: which
 * agreement covers a request (organisation, method and resource, purpose,
 * validity) and whose data it is about, the subject rule, and the accessors
 * that read a finished agreement. Request paths are matched against the
 * compiled templates in pds_resource.c.
 *
 * Deciding a request only compares strings and allocates nothing but the
 * detail text and the subject copy.
 */
#include <string.h>

#include <apr_strings.h>

#include "pds_agreement_int.h"
#include "pds_text.h"
#include "pds_resource.h"
#include "pds_syntax.h"

#define SUBJECT_MAX   64

#define USE_SUBJECT "1 to 64 of A-Z a-z 0-9 _ -, starting with a letter " \
                    "or digit"

/* --- subjects ---------------------------------------------------------------- */

/* Subject rule on an unterminated span, so decide can check before copying. */
static int subject_ok(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > SUBJECT_MAX)
        return 0;
    if (s[0] == '_' || s[0] == '-')
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

apr_status_t pds_subject_check(const char *subject, pds_error_t *err)
{
    if (subject != NULL && subject_ok(subject, strlen(subject)))
        return APR_SUCCESS;
    pds_error_set(err, "bad-subject", -1, "subject",
                  "the subject identifier is not valid: expected "
                  USE_SUBJECT);
    return APR_EINVAL;
}

int pds_agreement_could_match_under(const pds_agreement_t *a, const char *prefix)
{
    int i;

    for (i = 0; a != NULL && i < a->resources->nelts; i++) {
        if (pds_resource_could_match_under(&APR_ARRAY_IDX(a->resources, i, pds_resource_t),
                                           prefix))
            return 1;
    }
    return 0;
}

/* The accessors that only read the compiled agreement. */
#define GETTER(type, name, value) \
    type pds_agreement_##name(const pds_agreement_t *a) { return value; }

GETTER(const char *, record_subject, a->record_subject)
GETTER(const pds_fieldset_t *, write, a->write)
GETTER(int, write_strips, a->write_strips)
GETTER(const pds_write_shape_t *, write_shape, a->write_shape)
GETTER(const apr_array_header_t *, write_media, a->write_media)
GETTER(pds_write_mode_t, write_patch, a->patch_deep ? PDS_WRITE_DEEP_MERGE
                                                    : PDS_WRITE_TOP_LEVEL)
GETTER(int, drops_bad_records, a->drop_bad_records)
GETTER(const pds_rowfilter_t *, exclude, a->exclude)
GETTER(const pds_query_t *, query, a->query)
GETTER(int, deidentified, a->identifiers != NULL)
GETTER(const char *, id, a->id)
GETTER(const char *, version, a->version != NULL ? a->version : "1")
GETTER(const char *, party, a->party)
GETTER(const char *, legal_basis, a->legal_basis)
GETTER(const apr_array_header_t *, purposes, a->purposes)
GETTER(apr_time_t, valid_from, a->valid_from)
GETTER(apr_time_t, valid_until, a->valid_until)
GETTER(const pds_fieldset_t *, release, a->release)
GETTER(int, resource_count, a->resources->nelts)

#undef GETTER

int pds_agreement_needs_pseudonym_key(const pds_agreement_t *a)
{
    int k;

    if (a->identifiers != NULL)
        return 1;
    for (k = 0; k < pds_fieldset_transform_count(a->release); k++) {
        if (pds_transform_needs_key(pds_fieldset_transform(a->release, k, NULL)))
            return 1;
    }
    return 0;
}

apr_time_t pds_agreement_visible_from(const pds_agreement_t *a, apr_time_t disclosed)
{
    switch (a->disclosure) {
    case PDS_DISCLOSURE_RESTRICTED:
        return PDS_NEVER_VISIBLE;
    case PDS_DISCLOSURE_EMBARGO_UNTIL:
        return a->embargo_until > disclosed ? a->embargo_until : disclosed;
    case PDS_DISCLOSURE_EMBARGO_FOR:
        return disclosed + a->embargo_for;
    default:
        return disclosed;
    }
}

const char *pds_agreement_resource(const pds_agreement_t *a, int index)
{
    if (index < 0 || index >= a->resources->nelts)
        return NULL;
    return APR_ARRAY_IDX(a->resources, index, pds_resource_t).text;
}

/* --- the decision ----------------------------------------------------------- */

/* The first of a's resources matching method and path, or NULL. */
static const pds_resource_t *agreement_match(const pds_agreement_t *a,
                                             const char *method,
                                             const char *path,
                                             const char **subject,
                                             apr_size_t *subject_len)
{
    int i;

    for (i = 0; i < a->resources->nelts; i++) {
        const pds_resource_t *r =
            &APR_ARRAY_IDX(a->resources, i, pds_resource_t);

        if (strcmp(r->method, method) == 0
            && pds_resource_match(r, path, subject, subject_len))
            return r;
    }
    return NULL;
}

static int has_purpose(const pds_agreement_t *a, const char *purpose)
{
    int i;

    for (i = 0; i < a->purposes->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->purposes, i, const char *), purpose) == 0)
            return 1;
    }
    return 0;
}

/* A refused request about a well-formed subject still names it: the audit
 * record then shows whose data someone asked for without right. */
static void refused_subject(pds_decision_t *d, const char *s, apr_size_t len,
                            apr_pool_t *p)
{
    if (s != NULL && subject_ok(s, len))
        d->subject = apr_pstrmemdup(p, s, len);
}

static void deny(pds_decision_t *d, const char *reason,
                 const pds_agreement_t *a, const char *detail)
{
    d->allowed = 0;
    d->reason = reason;
    d->agreement = a;
    d->detail = detail;
    d->subject = NULL;
}

apr_status_t pds_agreements_query_declared(const apr_array_header_t *agreements,
                                           const apr_array_header_t *params,
                                           pds_error_t *err)
{
    char shown[48];
    int i, k;

    for (k = 0; params != NULL && k < params->nelts; k++) {
        const char *name = APR_ARRAY_IDX(params, k, pds_query_param_t).name;

        for (i = 0; agreements != NULL && i < agreements->nelts; i++) {
            const pds_agreement_t *a = APR_ARRAY_IDX(agreements, i, const pds_agreement_t *);

            if (a != NULL && a->finished && pds_query_declares(a->query, name))
                break;
        }
        if (agreements == NULL || i == agreements->nelts) {
            pds_error_set(err, "query-not-allowed", -1, "query", "parameter %s is not "
                          "accepted: no agreement on this gateway declares it (Query)",
                          pds_text_show(shown, sizeof(shown), name));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_hash_t *pds_agreements_query_names(const apr_array_header_t *agreements, apr_pool_t *p)
{
    apr_hash_t *names = apr_hash_make(p);
    int i, k;

    for (i = 0; agreements != NULL && i < agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(agreements, i, const pds_agreement_t *);

        if (a == NULL || !a->finished)
            continue;
        for (k = 0; k < pds_query_count(a->query); k++) {
            const char *name = apr_pstrdup(p, pds_query_name(a->query, k));

            apr_hash_set(names, name, APR_HASH_KEY_STRING, name);
        }
    }
    return names;
}

apr_status_t pds_query_names_declared(const apr_hash_t *names,
                                      const apr_array_header_t *params, pds_error_t *err)
{
    char shown[48];
    int k;

    for (k = 0; params != NULL && k < params->nelts; k++) {
        const char *name = APR_ARRAY_IDX(params, k, pds_query_param_t).name;

        if (names == NULL || name == NULL
            || apr_hash_get((apr_hash_t *)names, name, APR_HASH_KEY_STRING) == NULL) {
            pds_error_set(err, "query-not-allowed", -1, "query", "parameter %s is not "
                          "accepted: no agreement on this gateway declares it (Query)",
                          pds_text_show(shown, sizeof(shown), name ? name : ""));
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

void pds_agreements_decide(const apr_array_header_t *agreements,
                           const pds_request_facts_t *facts,
                           pds_decision_t *d, apr_pool_t *p)
{
    const pds_agreement_t *first = NULL, *first_purpose = NULL, *chosen = NULL;
    const pds_resource_t *chosen_res = NULL;
    const char *subject = NULL, *first_subject = NULL;
    apr_size_t subject_len = 0, first_subject_len = 0;
    int purpose_given, purpose_valid, i;

    memset(d, 0, sizeof(*d));
    if (facts == NULL || facts->organisation == NULL || facts->method == NULL
        || facts->path == NULL) {
        deny(d, "no-agreement", NULL, facts == NULL || facts->organisation
             == NULL ? "the caller is not identified"
                     : "the request has no method or path");
        return;
    }
    purpose_given = facts->purpose != NULL && facts->purpose[0] != '\0';
    purpose_valid = purpose_given && pds_syntax_is_name(facts->purpose, ID_MAX);

    for (i = 0; agreements != NULL && i < agreements->nelts; i++) {
        const pds_agreement_t *a =
            APR_ARRAY_IDX(agreements, i, const pds_agreement_t *);
        const pds_resource_t *r;
        const char *s = NULL;
        apr_size_t slen = 0;

        /* An agreement finish() has not accepted never applies. */
        if (a == NULL || !a->finished
            || strcmp(a->party, facts->organisation) != 0)
            continue;
        r = agreement_match(a, facts->method, facts->path, &s, &slen);
        if (r == NULL)
            continue;
        if (first == NULL) {
            first = a;
            first_subject = s;
            first_subject_len = slen;
        }
        if (!purpose_valid)
            break;   /* the outcome is already known */
        if (!has_purpose(a, facts->purpose))
            continue;
        if (first_purpose == NULL)
            first_purpose = a;
        if (facts->now < a->valid_from || facts->now > a->valid_until)
            continue;
        chosen = a;
        chosen_res = r;
        subject = s;
        subject_len = slen;
        break;
    }

    if (first == NULL) {
        deny(d, "no-agreement", NULL, pds_syntax_is_name(facts->method, 16)
             ? apr_psprintf(p, "no agreement gives organisation '%s' %s "
                            "access to this path", facts->organisation,
                            facts->method)
             : apr_psprintf(p, "no agreement gives organisation '%s' "
                            "access to this path with this method",
                            facts->organisation));
        return;
    }
    if (!purpose_given) {
        deny(d, "purpose-missing", first,
             apr_psprintf(p, "declare the purpose of this request; "
                          "agreement '%s' covers purposes %s", first->id,
                          first->purpose_list));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (first_purpose == NULL) {
        /* Only a well-formed purpose is echoed back. */
        deny(d, "purpose-mismatch", first, purpose_valid
             ? apr_psprintf(p, "agreement '%s' covers purposes %s; this "
                            "request declared %s", first->id,
                            first->purpose_list, facts->purpose)
             : apr_psprintf(p, "agreement '%s' covers purposes %s; the "
                            "declared purpose is not a purpose name (1 to "
                            "64 of " TOKEN_CHARS ")", first->id,
                            first->purpose_list));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (chosen == NULL) {
        if (facts->now > first_purpose->valid_until)
            deny(d, "agreement-expired", first_purpose,
                 apr_psprintf(p, "agreement '%s' was valid until the end of "
                              "%s (UTC)", first_purpose->id,
                              first_purpose->until_text));
        else
            deny(d, "agreement-not-yet-valid", first_purpose,
                 apr_psprintf(p, "agreement '%s' is valid from %s (UTC)",
                              first_purpose->id, first_purpose->from_text));
        refused_subject(d, first_subject, first_subject_len, p);
        return;
    }
    if (chosen_res->has_subject) {
        if (!subject_ok(subject, subject_len)) {
            deny(d, "bad-subject", chosen, "the subject identifier in the "
                 "path is not valid: expected " USE_SUBJECT);
            return;
        }
        d->subject = apr_pstrmemdup(p, subject, subject_len);
    }
    if (pds_resource_parameter_problem(chosen_res, facts->path) != NULL) {
        deny(d, "bad-path", chosen, pds_resource_parameter_problem(chosen_res,
                                                                   facts->path));
        return;
    }
    d->allowed = 1;
    d->reason = NULL;
    d->detail = NULL;
    d->agreement = chosen;
}
