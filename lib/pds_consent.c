/* pds_consent.c: the consent record, its life cycle and the cache encoding. */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pds_agreement.h"
#include "pds_consent.h"
#include "pds_encode.h"
#include "pds_syntax.h"

#define SOURCE "consent"

static apr_status_t release_json(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

/* Printable ASCII without quotes or backslashes, 1 to 128 bytes: a notice
 * reference is shown back to people and put into receipts. */
static int is_notice(const char *s)
{
    apr_size_t n = 0;

    if (s == NULL || *s == '\0')
        return 0;
    for (; *s != '\0'; s++, n++) {
        if (n >= 128 || *s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    }
    return 1;
}

static const char *new_consent_id(apr_pool_t *p)
{
    unsigned char raw[16];
    char *hex = apr_palloc(p, 2 + 32 + 1);
    int i;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    hex[0] = 'c';
    hex[1] = '-';
    for (i = 0; i < 16; i++)
        apr_snprintf(hex + 2 + 2 * i, 3, "%02x", raw[i]);
    return hex;
}

static apr_status_t invalid(pds_error_t *err, const char *member, const char *fmt,
                            const char *arg)
{
    pds_error_set(err, "invalid-consent", -1, member, fmt, arg);
    return APR_EINVAL;
}

static apr_status_t fields_from_json(apr_array_header_t **pfields, apr_pool_t *p,
                                     json_t *arr, pds_error_t *err)
{
    apr_array_header_t *fields;
    pds_fieldset_t *check;
    pds_error_t perr;
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return invalid(err, "fields", "%s", "fields must be a non-empty array of field paths");
    if (json_array_size(arr) > PDS_CONSENT_MAX_FIELDS)
        return invalid(err, "fields", "%s", "too many fields (at most 256)");
    if (pds_fieldset_create(&check, p) != APR_SUCCESS)
        return APR_ENOMEM;
    fields = apr_array_make(p, (int)json_array_size(arr), sizeof(const char *));
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return invalid(err, "fields", "%s", "fields must hold strings");
        pds_error_clear(&perr);
        if (json_string_length(v) > 512
            || pds_fieldset_add(check, json_string_value(v), &perr) != APR_SUCCESS) {
            pds_error_set(err, "invalid-consent", perr.position, "fields",
                          "fields[%d] is not a field path: %s", (int)i,
                          perr.text[0] ? perr.text : "too long");
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(fields, const char *) = apr_pstrdup(p, json_string_value(v));
    }
    *pfields = fields;
    return APR_SUCCESS;
}

/* A consent manager's mandate lets it manage the person's consents to others,
 * never give itself access: actor "manager:<org>" may not grant or resume a
 * consent whose organisation is <org>. */
static int manager_for_itself(const char *actor, const char *organisation)
{
    static const char prefix[] = "manager:";

    return actor != NULL && organisation != NULL
        && strncmp(actor, prefix, sizeof(prefix) - 1) == 0
        && strcmp(actor + sizeof(prefix) - 1, organisation) == 0;
}

static apr_status_t refuse_self(pds_error_t *err, const char *organisation,
                                const char *what)
{
    pds_error_set(err, "mandate-not-for-self", -1, "organisation",
                  "a consent manager cannot %s a consent to itself (%s): only the person "
                  "can", what, organisation);
    return APR_EACCES;
}

/* The member of doc as a copy from p when it is a name (the rule of
 * pds_syntax_is_name), NULL when it is missing or anything else. */
static const char *name_member(json_t *doc, const char *member, apr_pool_t *p)
{
    json_t *v = json_object_get(doc, member);

    if (!json_is_string(v) || !pds_syntax_is_name(json_string_value(v), PDS_SYNTAX_NAME_MAX))
        return NULL;
    return apr_pstrdup(p, json_string_value(v));
}

static const char *const grant_members[] = {
    "organisation", "purpose", "fields", "notice", "agreement", "expires", NULL
};

apr_status_t pds_consent_from_grant(pds_consent_t **pc, apr_pool_t *p,
                                    const char *body, apr_size_t len,
                                    const char *subject, const char *actor,
                                    apr_time_t now, pds_error_t *err)
{
    pds_consent_t *c;
    json_error_t jerr;
    json_t *doc, *v;
    const char *key;
    apr_time_t expires;
    int i, known;

    if (len > PDS_CONSENT_MAX_BODY) {
        pds_error_set(err, "bad-consent-body", -1, "body", "the body is over %d bytes",
                      PDS_CONSENT_MAX_BODY);
        return APR_EINVAL;
    }
    doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES,
                     &jerr);
    if (doc == NULL) {
        pds_error_set(err, "bad-consent-body", jerr.position, "body",
                      "not JSON (line %d, column %d): %s", jerr.line, jerr.column, jerr.text);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, doc, release_json, apr_pool_cleanup_null);
    if (!json_is_object(doc)) {
        pds_error_set(err, "bad-consent-body", -1, "body", "the body must be a JSON object");
        return APR_EINVAL;
    }
    json_object_foreach(doc, key, v) {
        known = 0;
        for (i = 0; grant_members[i] != NULL; i++)
            known |= strcmp(grant_members[i], key) == 0;
        if (!known)
            return invalid(err, "body", "unknown member \"%s\" (expected organisation, "
                           "purpose, fields, notice, agreement, expires)",
                           pds_syntax_is_name(key, PDS_SYNTAX_NAME_MAX) ? key : "?");
    }

    c = apr_pcalloc(p, sizeof(*c));
    c->organisation = name_member(doc, "organisation", p);
    if (c->organisation == NULL)
        return invalid(err, "organisation", "%s", "organisation must be an organisation's "
                       "name (1 to 64 of A-Z a-z 0-9 . _ -)");
    if (manager_for_itself(actor, c->organisation))
        return refuse_self(err, c->organisation, "grant");
    c->purpose = name_member(doc, "purpose", p);
    if (c->purpose == NULL)
        return invalid(err, "purpose", "%s", "purpose must be a purpose name "
                       "(1 to 64 of A-Z a-z 0-9 . _ -)");
    v = json_object_get(doc, "agreement");
    if (v != NULL && !json_is_null(v)) {
        c->agreement = name_member(doc, "agreement", p);
        if (c->agreement == NULL)
            return invalid(err, "agreement", "%s", "agreement must be an agreement id");
    }
    v = json_object_get(doc, "notice");
    if (!json_is_string(v) || !is_notice(json_string_value(v)))
        return invalid(err, "notice", "%s", "notice must name the notice the person saw "
                       "(1 to 128 printable characters, e.g. \"privacy-notice-v3\")");
    c->notice = apr_pstrdup(p, json_string_value(v));
    if (fields_from_json(&c->fields, p, json_object_get(doc, "fields"), err) != APR_SUCCESS)
        return APR_EINVAL;

    v = json_object_get(doc, "expires");
    if (v == NULL || json_is_null(v))
        expires = now + apr_time_from_sec((apr_time_t)PDS_CONSENT_DEFAULT_DAYS * 86400);
    else if (!json_is_string(v) || pds_time_parse(&expires, json_string_value(v)) != APR_SUCCESS)
        return invalid(err, "expires", "%s", "expires must be an RFC 3339 time, e.g. "
                       "\"2027-11-30T00:00:00Z\"");
    if (expires <= now)
        return invalid(err, "expires", "%s", "expires must be in the future");
    if (expires - now > apr_time_from_sec((apr_time_t)PDS_CONSENT_MAX_DAYS * 86400))
        return invalid(err, "expires", "%s", "a consent may run for at most five years");

    c->id = new_consent_id(p);
    if (c->id == NULL) {
        pds_error_set(err, "internal-error", -1, SOURCE, "no random bytes for an id");
        return APR_EGENERAL;
    }
    c->subject = apr_pstrdup(p, subject);
    c->legal_basis = "consent";
    c->created = now;
    c->expires = expires;
    c->state = "active";
    c->version = 1;
    c->updated = now;
    c->actor = apr_pstrdup(p, actor);
    *pc = c;
    return APR_SUCCESS;
}

const char *pds_consent_state_at(const pds_consent_t *c, apr_time_t now)
{
    if (strcmp(c->state, "revoked") == 0)
        return "revoked";
    if (c->expires <= now)
        return "expired";
    return c->state;
}

apr_status_t pds_consent_transition(pds_consent_t **pnext, apr_pool_t *p,
                                    const pds_consent_t *c, const char *action,
                                    const char *actor, apr_time_t now,
                                    pds_error_t *err)
{
    const char *state = pds_consent_state_at(c, now), *to;
    pds_consent_t *next;

    if (action == NULL)
        action = "";
    if (strcmp(action, "pause") == 0)
        to = strcmp(state, "active") == 0 ? "paused" : NULL;
    else if (strcmp(action, "resume") == 0)
        to = strcmp(state, "paused") == 0 ? "active" : NULL;
    else if (strcmp(action, "revoke") == 0)
        to = strcmp(state, "active") == 0 || strcmp(state, "paused") == 0
            ? "revoked" : NULL;
    else
        return invalid(err, "action", "%s", "the action must be pause, resume or revoke");
    if (to == NULL) {
        pds_error_set(err, "consent-state-conflict", -1, "action",
                      "a consent that is %s cannot be %s", state,
                      strcmp(action, "pause") == 0 ? "paused"
                      : strcmp(action, "resume") == 0 ? "resumed" : "revoked");
        return APR_EINVAL;
    }
    /* Resuming widens access as a grant does; pausing and revoking narrow it. */
    if (strcmp(action, "resume") == 0 && manager_for_itself(actor, c->organisation))
        return refuse_self(err, c->organisation, "resume");
    next = apr_pmemdup(p, c, sizeof(*c));
    next->state = to;
    next->version = c->version + 1;
    next->updated = now;
    next->actor = apr_pstrdup(p, actor);
    *pnext = next;
    return APR_SUCCESS;
}

int pds_consent_covers(const pds_consent_t *c, const char *subject,
                       const char *organisation, const char *agreement,
                       const char *purpose, apr_time_t now)
{
    return strcmp(pds_consent_state_at(c, now), "active") == 0
        && subject != NULL && strcmp(c->subject, subject) == 0
        && organisation != NULL && strcmp(c->organisation, organisation) == 0
        && purpose != NULL && strcmp(c->purpose, purpose) == 0
        && (c->agreement == NULL
            || (agreement != NULL && strcmp(c->agreement, agreement) == 0))
        && c->created <= now;
}

apr_status_t pds_consent_fieldset(pds_fieldset_t **pset, apr_pool_t *p,
                                  const pds_consent_t *c, pds_error_t *err)
{
    pds_fieldset_t *set;
    int i;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        return APR_ENOMEM;
    for (i = 0; i < c->fields->nelts; i++) {
        if (pds_fieldset_add(set, APR_ARRAY_IDX(c->fields, i, const char *), err)
            != APR_SUCCESS)
            return APR_EINVAL;
    }
    *pset = set;
    return APR_SUCCESS;
}

static json_t *fields_json(const apr_array_header_t *fields)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; arr != NULL && i < fields->nelts; i++)
        json_array_append_new(arr, json_string(APR_ARRAY_IDX(fields, i, const char *)));
    return arr;
}

json_t *pds_consent_to_json(const pds_consent_t *c, const apr_array_header_t *history,
                            apr_time_t now, apr_pool_t *p)
{
    json_t *obj, *hist;
    int i;

    obj = json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s}",
                    "id", c->id,
                    "subject", c->subject,
                    "organisation", c->organisation,
                    "agreement", c->agreement ? json_string(c->agreement) : json_null(),
                    "purpose", c->purpose,
                    "fields", fields_json(c->fields),
                    "legal_basis", c->legal_basis,
                    "notice", c->notice,
                    "created", pds_time_format(p, c->created),
                    "expires", pds_time_format(p, c->expires),
                    "state", pds_consent_state_at(c, now),
                    "version", c->version,
                    "updated", pds_time_format(p, c->updated),
                    "actor", c->actor);
    if (obj == NULL || history == NULL)
        return obj;
    hist = json_array();
    for (i = 0; hist != NULL && i < history->nelts; i++) {
        const pds_consent_event_t *e = &APR_ARRAY_IDX(history, i, pds_consent_event_t);
        json_array_append_new(hist, json_pack("{s:i,s:s,s:s,s:s,s:s}",
                                              "version", e->version, "action", e->action,
                                              "state", e->state, "actor", e->actor,
                                              "time", pds_time_format(p, e->time)));
    }
    json_object_set_new(obj, "history", hist);
    return obj;
}

char *pds_consent_fields_encode(apr_pool_t *p, const apr_array_header_t *fields)
{
    json_t *arr = fields_json(fields);
    char *dumped, *out;

    if (arr == NULL)
        return NULL;
    dumped = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (dumped == NULL)
        return NULL;
    out = apr_pstrdup(p, dumped);
    free(dumped);
    return out;
}

apr_status_t pds_consent_fields_decode(apr_array_header_t **pfields, apr_pool_t *p,
                                       const char *text, pds_error_t *err)
{
    json_t *arr = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, NULL);
    apr_status_t rv;

    if (arr == NULL) {
        pds_error_set(err, "bad-consent-store", -1, "fields",
                      "a stored consent's fields are not JSON");
        return APR_EINVAL;
    }
    rv = fields_from_json(pfields, p, arr, err);
    json_decref(arr);
    return rv;
}

/* --- the decision cache ------------------------------------------------------ */

/* prefix and the SHA-256 (hex) of the components joined by "/": no subject
 * in a key a cache provider may log (mod_socache_memcache logs the key of
 * every put that fails) or a cache server shows, and a key of fixed length
 * (memcached takes at most 250 bytes). Should the digest fail, the key is
 * the components themselves under another prefix: still a correct key. */
static char *hashed_key(apr_pool_t *p, const char *prefix, const char *joined,
                        const char *plain_prefix)
{
    unsigned char digest[32];
    char hex[65];

    if (!pds_sha256(digest, joined, strlen(joined)))
        return apr_pstrcat(p, plain_prefix, joined, NULL);
    pds_hex_encode(hex, digest, sizeof(digest));
    return apr_pstrcat(p, prefix, hex, NULL);
}

char *pds_consent_cache_key(apr_pool_t *p, const char *subject,
                            const char *organisation, const char *purpose)
{
    return hashed_key(p, "consent/2/",
                      apr_pstrcat(p, subject, "/", organisation, "/", purpose, NULL),
                      "consent/1/");
}

char *pds_optout_cache_key(apr_pool_t *p, const char *subject, const char *purpose)
{
    return hashed_key(p, "optout/2/", apr_pstrcat(p, subject, "/", purpose, NULL),
                      "optout/1/");
}

char *pds_consent_lookup_encode(apr_pool_t *p, const pds_consent_lookup_t *l,
                                apr_size_t *plen)
{
    json_t *arr = json_array();
    char *dumped, *out = NULL;
    int i;

    for (i = 0; arr != NULL && i < l->consents->nelts; i++) {
        const pds_consent_t *c = APR_ARRAY_IDX(l->consents, i, const pds_consent_t *);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:s,s:I,s:I,s:s,s:i,s:I,s:s}",
            "id", c->id, "subject", c->subject, "organisation", c->organisation,
            "agreement", c->agreement ? json_string(c->agreement) : json_null(),
            "purpose", c->purpose, "fields", fields_json(c->fields),
            "notice", c->notice, "created", (json_int_t)c->created,
            "expires", (json_int_t)c->expires, "state", c->state,
            "version", c->version, "updated", (json_int_t)c->updated,
            "actor", c->actor));
    }
    if (arr == NULL)
        return NULL;
    dumped = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (dumped != NULL) {
        out = apr_pstrdup(p, dumped);
        free(dumped);
        *plen = strlen(out);
    }
    return out;
}

apr_status_t pds_consent_lookup_decode(pds_consent_lookup_t **pl, apr_pool_t *p,
                                       const char *data, apr_size_t len,
                                       pds_error_t *err)
{
    pds_consent_lookup_t *l;
    json_t *arr, *v;
    size_t i;
    apr_status_t rv = APR_SUCCESS;

    arr = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        pds_error_set(err, "bad-consent-cache", -1, "cache", "a cache entry is not readable");
        return APR_EINVAL;
    }
    l = apr_pcalloc(p, sizeof(*l));
    l->consents = apr_array_make(p, (int)json_array_size(arr) + 1, sizeof(pds_consent_t *));
    json_array_foreach(arr, i, v) {
        pds_consent_t *c = apr_pcalloc(p, sizeof(*c));
        const char *id, *sub, *org, *pur, *notice, *state, *actor;
        json_int_t created, expires, updated;
        json_t *fields, *agr = NULL;
        int version;

        if (json_unpack(v, "{s:s,s:s,s:s,s?o,s:s,s:o,s:s,s:I,s:I,s:s,s:i,s:I,s:s}",
                        "id", &id, "subject", &sub, "organisation", &org,
                        "agreement", &agr, "purpose", &pur, "fields", &fields,
                        "notice", &notice, "created", &created, "expires", &expires,
                        "state", &state, "version", &version, "updated", &updated,
                        "actor", &actor) != 0
            || (agr != NULL && !json_is_null(agr) && !json_is_string(agr))) {
            pds_error_set(err, "bad-consent-cache", -1, "cache",
                          "a cache entry is not readable");
            rv = APR_EINVAL;
            break;
        }
        c->id = apr_pstrdup(p, id);
        c->subject = apr_pstrdup(p, sub);
        c->organisation = apr_pstrdup(p, org);
        c->agreement = json_is_string(agr) ? apr_pstrdup(p, json_string_value(agr)) : NULL;
        c->purpose = apr_pstrdup(p, pur);
        c->notice = apr_pstrdup(p, notice);
        c->legal_basis = "consent";
        c->created = (apr_time_t)created;
        c->expires = (apr_time_t)expires;
        c->state = apr_pstrdup(p, state);
        c->version = version;
        c->updated = (apr_time_t)updated;
        c->actor = apr_pstrdup(p, actor);
        if (fields_from_json(&c->fields, p, fields, err) != APR_SUCCESS) {
            rv = APR_EINVAL;
            break;
        }
        APR_ARRAY_PUSH(l->consents, pds_consent_t *) = c;
    }
    json_decref(arr);
    if (rv == APR_SUCCESS)
        *pl = l;
    return rv;
}

const pds_consent_t *pds_consent_lookup_decide(const pds_consent_lookup_t *l,
                                               const char *subject,
                                               const char *organisation,
                                               const char *agreement,
                                               const char *purpose, apr_time_t now,
                                               const char **reason)
{
    const pds_consent_t *latest = NULL;
    int i;

    for (i = 0; i < l->consents->nelts; i++) {
        const pds_consent_t *c = APR_ARRAY_IDX(l->consents, i, const pds_consent_t *);
        if (pds_consent_covers(c, subject, organisation, agreement, purpose, now))
            return c;
        if (latest == NULL && strcmp(c->subject, subject) == 0
            && strcmp(c->organisation, organisation) == 0
            && strcmp(c->purpose, purpose) == 0
            && (c->agreement == NULL
                || (agreement != NULL && strcmp(c->agreement, agreement) == 0)))
            latest = c;
    }
    if (latest == NULL)
        *reason = "consent-missing";
    else {
        const char *state = pds_consent_state_at(latest, now);
        *reason = strcmp(state, "paused") == 0 ? "consent-paused"
            : strcmp(state, "expired") == 0 ? "consent-expired"
            : strcmp(state, "revoked") == 0 ? "consent-revoked" : "consent-missing";
    }
    return NULL;
}
