/* pds_reason.c: the reason table and RFC 9457 problem documents. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "pds_reason.h"

/* The codes are a public interface (clients, audit readers, docs): add new
 * ones at the end of their group, never rename one. */
static const pds_reason_t reasons[] = {
    /* who is calling */
    { "unknown-caller",          401, "Caller not identified" },
    { "invalid-token",           401, "Bearer token not accepted" },
    { "identity-conflict",       401, "Certificate and token name different organisations" },
    { "person-not-identified",   401, "Person not signed in" },
    { "login-required",          401, "The server's own sign-in is required" },
    { "access-refused",          403, "Refused by the server's access rules" },
    /* what is asked */
    { "bad-path",                400, "Request path not accepted" },
    { "bad-subject",             400, "Subject identifier not accepted" },
    { "query-not-allowed",       400, "This query string is not accepted here" },
    { "method-override",         400, "Method override headers are not accepted" },
    { "method-not-allowed",      405, "Method not allowed" },
    { "unexpected-body",         400, "Request body not accepted" },
    { "purpose-missing",         400, "No purpose declared" },
    { "bad-request-body",        400, "Request body not accepted" },
    { "request-too-large",       413, "Request body too large" },
    /* is it allowed */
    { "no-agreement",            403, "No agreement covers this request" },
    { "purpose-mismatch",        403, "Purpose not covered by the agreement" },
    { "agreement-expired",       403, "Agreement has expired" },
    { "agreement-not-yet-valid", 403, "Agreement is not yet valid" },
    { "write-not-allowed",       422, "Fields the agreement does not let you write" },
    { "write-empty",             422, "The write would change nothing" },
    /* Answered to the caller exactly as "not-found" (mod_pds_filter.c): a
     * restricted record is not told apart from a missing one. */
    { "record-excluded",         404, "Not found" },
    /* consent */
    { "consent-missing",         403, "No consent covers this request" },
    { "consent-paused",          403, "The person has paused this consent" },
    { "consent-expired",         403, "The consent has expired" },
    { "consent-revoked",         403, "The person has revoked this consent" },
    { "opted-out",               403, "The person has objected to this purpose" },
    { "artefact-malformed",      400, "Consent artefact not readable" },
    { "artefact-unknown-issuer", 403, "Consent artefact from an issuer not trusted" },
    { "artefact-bad-signature",  403, "Consent artefact signature does not verify" },
    { "artefact-expired",        403, "Consent artefact has expired" },
    { "artefact-not-yet-valid",  403, "Consent artefact is not yet valid" },
    { "artefact-too-long-lived", 403, "Consent artefact is valid for too long" },
    { "artefact-wrong-binding",  403, "Consent artefact is for another request" },
    { "artefact-revoked",        403, "Consent artefact has been revoked" },
    /* the consent API */
    { "bad-consent-body",        400, "Request body not accepted" },
    { "unsupported-media-type",  415, "Unsupported media type" },
    { "invalid-consent",         422, "Consent not valid" },
    { "consent-not-found",       404, "No such consent" },
    { "consent-state-conflict",  409, "Consent cannot make this change" },
    { "consent-conflict",        409, "Consent changed meanwhile" },
    { "not-a-consent-manager",   403, "Not a consent manager" },
    { "no-mandate",              403, "No mandate from this person" },
    { "mandate-not-for-self",    403, "A mandate does not cover the manager itself" },
    /* what the back end did */
    { "backend-error",           502, "Back end failed" },
    { "not-found",               404, "Not found" },
    { "backend-bad-response",    502, "Back end response not accepted" },
    { "backend-too-large",       502, "Back end response too large" },
    { "backend-unavailable",     503, "Back end could not be reached" },
    { "backend-timeout",         504, "Back end did not answer in time" },
    /* our own failures */
    { "audit-unavailable",       503, "Audit log unavailable" },
    { "consent-store-unavailable", 503, "Consent store unavailable" },
    { "internal-error",          500, "Internal error" },
    { NULL, 0, NULL }
};

const pds_reason_t *pds_reason_lookup(const char *code)
{
    const pds_reason_t *r;

    if (code == NULL)
        return NULL;
    for (r = reasons; r->code != NULL; r++) {
        if (strcmp(r->code, code) == 0)
            return r;
    }
    return NULL;
}

const pds_reason_t *pds_reason_table(void)
{
    return reasons;
}

/* A JSON string for text that should be UTF-8 but comes from outside (a
 * request id, a detail built from headers). jansson refuses invalid UTF-8;
 * rather than lose the member, bytes >= 0x80 become '?' in that case. */
static json_t *safe_string(apr_pool_t *p, const char *s)
{
    json_t *js;
    char *copy, *c;

    js = json_string(s);
    if (js != NULL)
        return js;
    copy = apr_pstrdup(p, s);
    for (c = copy; *c != '\0'; c++) {
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    }
    return json_string(copy);
}

/* Adds key: value, taking the reference; returns 0 on any failure. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(obj, key, value) == 0;
}

char *pds_problem_json(apr_pool_t *p, const char *code, const char *detail,
                       const char *request_id, apr_size_t *plen)
{
    const pds_reason_t *r;
    json_t *obj;
    char *dumped, *out = NULL;
    int ok;

    r = pds_reason_lookup(code);
    if (r == NULL)
        r = pds_reason_lookup("internal-error");

    obj = json_object();
    if (obj == NULL)
        goto fallback;
    /* jansson keeps insertion order: members appear as documented. */
    ok = put(obj, "type", json_string(apr_pstrcat(p, "urn:pds:problem:",
                                                  r->code, NULL)))
        && put(obj, "title", json_string(r->title))
        && put(obj, "status", json_integer(r->status))
        && (detail == NULL || put(obj, "detail", safe_string(p, detail)))
        && put(obj, "reason", json_string(r->code))
        && (request_id == NULL
            || put(obj, "request_id", safe_string(p, request_id)));
    if (ok) {
        dumped = json_dumps(obj, JSON_COMPACT);
        if (dumped != NULL) {
            out = apr_pstrdup(p, dumped);
            free(dumped);
        }
    }
    json_decref(obj);
    if (out != NULL) {
        if (plen != NULL)
            *plen = strlen(out);
        return out;
    }

fallback:
    /* Out of memory inside jansson: still answer with a valid document. */
    out = apr_psprintf(p, "{\"type\":\"urn:pds:problem:internal-error\","
                          "\"title\":\"Internal error\",\"status\":500,"
                          "\"reason\":\"internal-error\"}");
    if (plen != NULL)
        *plen = strlen(out);
    return out;
}
