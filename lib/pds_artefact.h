/* pds_artefact.h: signed consent artefacts and the trust registry.
 *
 * A consent artefact is a compact JWS, carried in the request header
 * PDS-Consent-Artefact, issued by a consent manager the sysadmin trusts (a
 * personal data store or a data trust). It says that the person "sub"
 * consents to the organisation "org" receiving "fields" for "purpose" during
 * a window of time.
 *
 *   header   "alg"   pinned to the issuer's key (pds_jws_verify): never trusted
 *            "kid"   required; names one of the issuer's keys
 *            "typ"   optional; if present exactly "pds-consent+jws"
 *   payload  "iss"        issuer id, a string                       required
 *            "jti"        artefact id, 1 to 128 of [A-Za-z0-9._:-]  required
 *            "sub"        the person, a non-empty string            required
 *            "org"        the organisation, a non-empty string      required
 *            "purpose"    a non-empty string                        required
 *            "fields"     a non-empty array of field paths (the
 *                         syntax of pds_filter.h)                   required
 *            "iat", "exp" integer seconds since the epoch           required
 *            "nbf"        integer seconds since the epoch           optional
 *            "agreement"  a string: the agreement it is bound to    optional
 *   Times must lie between 0 and 253402300799 (the end of year 9999).
 *   Other payload members are ignored, as JWT does.
 *
 * The trust registry is a JSON file the sysadmin keeps:
 *
 *   { "issuers": [ { "id": "brixham-trust",
 *                    "keys": [ { "kid": "bt-2026", "pem": "-----BEGIN PUBLIC KEY-----\n..." },
 *                              { "kid": "bt-old", "file": "keys/bt-old.pem" } ] } ],
 *     "revoked": [ "artefact-id-1" ] }
 *
 * "issuers" is required (an empty list trusts no one); "revoked" is optional
 * and holds artefact ids ("jti" syntax). An issuer has an "id" and a
 * non-empty "keys" list; ids and kids are 1 to 128 printable ASCII characters
 * without spaces. A key has a "kid" and exactly one of "pem" (the PEM text)
 * or "file" (a path, relative to the registry file's directory, or
 * absolute). Keys are public keys of the kinds pds_jws.h accepts; a private
 * key is refused (a registry holding one is a mistake). Unknown members,
 * duplicate issuer ids, duplicate kids within an issuer and files over 4 MiB
 * are refused. Every error has err->code "bad-trust-registry", err->source
 * the registry's path (pds_trust_registry_load_file) or the member at fault
 * (pds_trust_registry_parse), and err->text starting with that member, as in
 * "issuers[1].keys[0]: no such file keys/x.pem".
 *
 * A loaded registry is read-only: safe to share between threads.
 */
#ifndef PDS_ARTEFACT_H
#define PDS_ARTEFACT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pds_error.h"
#include "pds_filter.h"

/* The request header an artefact travels in; err->source of every
 * pds_artefact_check() error. */
#define PDS_ARTEFACT_HEADER "PDS-Consent-Artefact"

/* Longest compact artefact accepted, in bytes. */
#define PDS_ARTEFACT_MAX_LENGTH (16 * 1024)

/* Largest trust registry file or text accepted, in bytes. */
#define PDS_TRUST_REGISTRY_MAX_SIZE (4 * 1024 * 1024)

typedef struct pds_trust_registry_t pds_trust_registry_t;

/* Parses registry JSON text (exactly len bytes; need not be NUL-terminated).
 * base_dir is where relative "file" paths are found; NULL refuses them. */
apr_status_t pds_trust_registry_parse(pds_trust_registry_t **preg, apr_pool_t *p,
                                      const char *json, apr_size_t len,
                                      const char *base_dir, pds_error_t *err);

/* Reads and parses the registry file at path; relative "file" paths are
 * taken from path's directory. */
apr_status_t pds_trust_registry_load_file(pds_trust_registry_t **preg,
                                          apr_pool_t *p, const char *path,
                                          pds_error_t *err);

/* Number of issuers; 0 for NULL. */
int pds_trust_registry_issuer_count(const pds_trust_registry_t *reg);

/* Non-zero when artefact_id is in the "revoked" list (a hash lookup). */
int pds_trust_registry_is_revoked(const pds_trust_registry_t *reg,
                                  const char *artefact_id);

typedef struct pds_artefact_t {
    const char *id;              /* "jti" */
    const char *issuer;          /* "iss" */
    const char *kid;             /* the header's "kid" */
    const char *subject;         /* "sub" */
    const char *organisation;    /* "org" */
    const char *purpose;         /* "purpose" */
    const char *agreement;       /* "agreement"; NULL if absent */
    pds_fieldset_t *fields;      /* compiled from "fields" */
    apr_array_header_t *field_paths; /* const char *, as given */
    apr_time_t issued;           /* "iat" */
    apr_time_t not_before;       /* "nbf"; 0 if absent */
    apr_time_t expires;          /* "exp" */
} pds_artefact_t;

typedef struct pds_artefact_expect_t {
    const char *subject;         /* "sub" must equal this */
    const char *organisation;    /* "org" must equal this */
    const char *purpose;         /* "purpose" must equal this */
    const char *agreement;       /* the agreement applied; checked only if the
                                    artefact names one (NULL then refuses it) */
    apr_time_t now;
    int clock_skew;              /* seconds of leeway on nbf, iat and exp */
    int max_lifetime;            /* seconds; exp - iat above this is refused;
                                    0 for no limit */
} pds_artefact_expect_t;

/* Checks a compact artefact (exactly len bytes) against the registry and the
 * request, in this order, stopping at the first failure (err->code):
 *   1. "artefact-malformed"      longer than PDS_ARTEFACT_MAX_LENGTH, not a
 *                                compact JWS, no "kid", a wrong "typ", a claim
 *                                missing or of the wrong type, a bad "jti",
 *                                a field path that does not parse
 *   2. "artefact-unknown-issuer" "iss" not in the registry, or "kid" not one
 *                                of that issuer's keys
 *   3. "artefact-bad-signature"  the signature does not verify with that key
 *                                (a header "alg" other than the key's too)
 *   4. "artefact-expired"        exp before now - skew
 *      "artefact-not-yet-valid"  nbf or iat after now + skew
 *      "artefact-too-long-lived" exp - iat above max_lifetime
 *   5. "artefact-wrong-binding"  sub, org, purpose or agreement differ from
 *                                expect (the text names the claim)
 *   6. "artefact-revoked"        "jti" is in the registry's revoked list
 * "bad-argument" when reg, compact or expect (or its subject, organisation or
 * purpose) is missing: never a pass; "no-memory" when out of memory.
 * err->source is PDS_ARTEFACT_HEADER. A text names the claim at fault and
 * shows any value from the artefact or the request escaped (\" \\ \xNN)
 * and cut to 64 characters.
 * The token is decoded in a pool of its own, destroyed before returning; on
 * success *part and everything it points to is allocated from p (nothing is
 * allocated from p on failure, and *part is NULL). Safe to call from many
 * threads on one registry, each with its own pool. */
apr_status_t pds_artefact_check(pds_artefact_t **part, apr_pool_t *p,
                                const pds_trust_registry_t *reg,
                                const char *compact, apr_size_t len,
                                const pds_artefact_expect_t *expect,
                                pds_error_t *err);

#endif
