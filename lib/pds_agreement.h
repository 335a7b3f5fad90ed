/* pds_agreement.h: data sharing agreements and the access decision.
 *
 * An agreement is built from the lines of a <PDSAgreement id> block: the glue
 * hands each line's keyword and raw argument string to pds_agreement_set(),
 * which parses and validates it, so everything a sysadmin can get wrong is
 * found here, with a position, and unit-tested without httpd. Once
 * pds_agreement_finish() has accepted it, an agreement is read-only.
 *
 * Keywords (case-insensitive, each documented in docs/directives.md):
 *   Party       <organisation>               exactly once
 *   Purpose     <purpose> [<purpose> ...]    at least once; may repeat
 *   LegalBasis  consent | contract | legal-obligation | vital-interests |
 *               public-task | legitimate-interests          exactly once
 *   Valid       <YYYY-MM-DD> <YYYY-MM-DD>    exactly once; UTC, both days
 *                                            included (from 00:00:00 to 23:59:59)
 *   Version     <token>                      at most once; default "1"
 *   Resource    <METHOD> <template>          at least once; may repeat
 *   Release     <field path> [<path> ...]    may repeat; needed for GET
 *   Disclosure  shown | restricted | embargoed-until <YYYY-MM-DD> |
 *               embargoed-for <days>         at most once; default shown:
 *                                            what the person may see of it
 *   Transform   <field path> <transform> [<argument>]
 *                                            may repeat; the path must be
 *                                            released (pds_transform.h)
 *   Write       <field path> ...             may repeat; needed (only) with a
 *                                            POST, PUT or PATCH resource: what
 *                                            the body may carry
 *   WriteUnknown refuse | strip              at most once; default refuse
 *                                            (strip never applies to a PUT)
 *   WritePut    replace-record               at most once; required with a PUT
 *                                            resource (and only then): a PUT
 *                                            replaces the whole record
 *   WritePatch  top-level | deep-merge       at most once, only with a PATCH
 *                                            resource; default top-level: how
 *                                            the back end merges a PATCH
 *                                            (pds_write.h)
 *   WriteMediaType <type>+json ...           may repeat: media types a write
 *                                            may also be sent as (pds_write.h)
 *   RecordSubject <field path>               at most once: the response is a
 *                                            collection (Release paths start
 *                                            with [*]) and each record names
 *                                            its person at this path
 *   OnBadRecord drop | fail                  at most once; default fail: a
 *                                            record of a collection with a
 *                                            value its transform cannot take
 *                                            fails the answer, or (drop, only
 *                                            with RecordSubject) is left out
 *   Query       <name> int <lo>..<hi> | <name> token | <name> date |
 *               <name> enum <a>|<b>...       may repeat, once per name: a
 *                                            query parameter the request may
 *                                            carry (pds_query.h); none: no
 *                                            query string is accepted
 *   Title       "<text>" [<language>]        at most once per language: what
 *                                            the portal and the register call
 *                                            it (pds_labels.h's languages)
 *   Description "<text>" [<language>]        likewise: a few plain sentences
 *   Register    listed | hidden              at most once; default listed:
 *                                            whether the public register
 *                                            (SetHandler pds-register) shows it
 *   Changed     <YYYY-MM-DD>                 at most once: the date of the
 *                                            agreement's last change, shown
 *                                            with its Version in the register
 *   Exclude     <condition> ...              may repeat: records a condition
 *                                            holds for stay out of answers
 *                                            (pds_rowfilter.h): left out of a
 *                                            collection and counted, or a
 *                                            single record refused
 *   Deidentified <field path> ...            at most once: the agreement is
 *                                            de-identified and these direct
 *                                            identifiers never leave in clear
 *                                            (each released part must be under
 *                                            a transform; checked by finish)
 *
 * A resource template is an absolute path whose segments are literals,
 * exactly "{subject}" (at most once: "/citizens/{subject}/record"), or a
 * parameter "{name}" (name 1 to 32 of a-z 0-9 _ -, starting with a letter)
 * that takes any one segment without '&' or '=' (bad-path otherwise):
 * "/districts/{district}/residents". Methods are
 * GET, POST, PUT, PATCH and DELETE (HEAD is never matched: see docs).
 *
 * Arguments are split as httpd splits directive arguments (double or single
 * quotes; \" \' \\ inside them), but an unterminated quote is an error.
 * Party, purposes and the agreement id are 1 to 64 of [A-Za-z0-9._-]; a
 * Version 1 to 32 of them. Repeated Purpose words and Resource lines are
 * harmless. err->position is an offset into the argument string.
 *
 * Matching: methods, literals, parties and purposes compare exactly (case
 * matters); {subject} takes one whole, non-empty segment; segment counts must
 * agree, so a trailing "/" matters.
 */
#ifndef PDS_AGREEMENT_H
#define PDS_AGREEMENT_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pds_error.h"
#include "pds_filter.h"
#include "pds_query.h"
#include "pds_write.h"
#include "pds_rowfilter.h"

typedef struct pds_agreement_t pds_agreement_t;

apr_status_t pds_agreement_create(pds_agreement_t **pa, apr_pool_t *p,
                                  const char *id, pds_error_t *err);

/* One line of the block. err->code "bad-agreement"; err->source the keyword;
 * err->text says what is wrong and what is expected. */
apr_status_t pds_agreement_set(pds_agreement_t *a, const char *keyword,
                               const char *args, pds_error_t *err);

/* Checks the block is complete (missing keywords are named); a GET resource
 * needs at least one Release path; every resource names its person with
 * {subject}, unless the agreement says it answers a collection
 * (RecordSubject) or de-identified data (Deidentified); a parameter that is a
 * misspelt {subject} ({subjct}, {subject_id}) is refused. An error about one
 * resource has err->source "Resource" and err->position its index (as in
 * pds_agreement_resource()), so that the caller can name its line.
 * Afterwards pds_agreement_set() refuses changes, and only finished
 * agreements are ever applied by decide. */
apr_status_t pds_agreement_finish(pds_agreement_t *a, pds_error_t *err);

/* Could a path starting with prefix (a <Location> path) match one of the
 * agreement's resources? Segment by segment: prefix's whole segments equal
 * the template's literals (any non-empty one where the template has a
 * placeholder), and its last, partial segment begins the template's next
 * one. Over-approximates, for a configuration warning. */
int pds_agreement_could_match_under(const pds_agreement_t *a, const char *prefix);

const char *pds_agreement_id(const pds_agreement_t *a);
const char *pds_agreement_version(const pds_agreement_t *a);
const char *pds_agreement_party(const pds_agreement_t *a);
const char *pds_agreement_legal_basis(const pds_agreement_t *a); /* "consent", ... */
const apr_array_header_t *pds_agreement_purposes(const pds_agreement_t *a);
apr_time_t pds_agreement_valid_from(const pds_agreement_t *a);
apr_time_t pds_agreement_valid_until(const pds_agreement_t *a);  /* inclusive */
const pds_fieldset_t *pds_agreement_release(const pds_agreement_t *a);
/* RecordSubject's path (NULL when none). */
const char *pds_agreement_record_subject(const pds_agreement_t *a);
/* Query's declarations (NULL when none: no query string is accepted). */
const pds_query_t *pds_agreement_query(const pds_agreement_t *a);
/* Write's fields (empty when none) and WriteUnknown strip. */
const pds_fieldset_t *pds_agreement_write(const pds_agreement_t *a);
int pds_agreement_write_strips(const pds_agreement_t *a);
/* Write as a shape, for pds_write_check (NULL before finish). */
const pds_write_shape_t *pds_agreement_write_shape(const pds_agreement_t *a);
/* How a PATCH of a merges (WritePatch): PDS_WRITE_TOP_LEVEL or
 * PDS_WRITE_DEEP_MERGE. */
pds_write_mode_t pds_agreement_write_patch(const pds_agreement_t *a);
/* WriteMediaType's types (lower case; NULL when none). */
const apr_array_header_t *pds_agreement_write_media(const pds_agreement_t *a);
/* OnBadRecord drop: pds_filter_options_t.drop_bad_records for its collections. */
int pds_agreement_drops_bad_records(const pds_agreement_t *a);
/* Exclude's conditions (NULL when none): pds_filter_options_t.exclude. */
const pds_rowfilter_t *pds_agreement_exclude(const pds_agreement_t *a);
/* De-identified (Deidentified given): the subject identifier in released
 * data is replaced by the agreement's pseudonym. */
int pds_agreement_deidentified(const pds_agreement_t *a);
/* Needs PDSPseudonymKey: de-identified, or a pseudonymise transform. */
int pds_agreement_needs_pseudonym_key(const pds_agreement_t *a);
int pds_agreement_resource_count(const pds_agreement_t *a);
/* Title and Description in lang (their own, else the one without a
 * language), NULL when none was given; Register hidden; Changed's date as
 * written ("YYYY-MM-DD"), NULL when not given; Disclosure's
 * PDS_DISCLOSURE_* (pds_agreement_text.c). */
const char *pds_agreement_title(const pds_agreement_t *a, const char *lang);
const char *pds_agreement_description(const pds_agreement_t *a, const char *lang);
int pds_agreement_hidden(const pds_agreement_t *a);
const char *pds_agreement_changed(const pds_agreement_t *a);
int pds_agreement_disclosure(const pds_agreement_t *a);
/* What the person the data is about may see of a disclosure (Disclosure). */
enum {
    PDS_DISCLOSURE_SHOWN = 0,
    PDS_DISCLOSURE_RESTRICTED,       /* never shown to the person */
    PDS_DISCLOSURE_EMBARGO_UNTIL,    /* shown from a date */
    PDS_DISCLOSURE_EMBARGO_FOR       /* shown a period after the disclosure */
};
#define PDS_NEVER_VISIBLE APR_INT64_MAX

/* When a disclosure made at `disclosed` under a becomes visible to the person
 * (PDS_NEVER_VISIBLE for a restricted agreement). */
apr_time_t pds_agreement_visible_from(const pds_agreement_t *a, apr_time_t disclosed);

/* "GET /citizens/{subject}/record", as configured. */
const char *pds_agreement_resource(const pds_agreement_t *a, int index);

/* Is this raw request path safe to decide on? Refuses (err->code "bad-path")
 * anything that could make the policy and the back end see different
 * resources: no leading "/", any "%" escape, "\", ";", NUL or control bytes,
 * bytes >= 0x80, empty segments ("//"), and "." or ".." segments. The query
 * string must already be split off. Segments hold only RFC 3986 pchar without
 * escapes and ';' (A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , = : @), so a space,
 * '?', '#', braces and the like are refused too. A trailing "/" is allowed. */
apr_status_t pds_request_path_check(const char *path, pds_error_t *err);

/* Is this subject identifier acceptable? 1 to 64 of [A-Za-z0-9_-], starting
 * with a letter or digit. err->code "bad-subject". */
apr_status_t pds_subject_check(const char *subject, pds_error_t *err);

typedef struct pds_request_facts_t {
    const char *organisation;  /* who is calling (already authenticated) */
    const char *method;        /* "GET", ... as received */
    const char *path;          /* raw path, already accepted by pds_request_path_check */
    const char *purpose;       /* declared by the caller; NULL if none */
    apr_time_t now;
} pds_request_facts_t;

typedef struct pds_decision_t {
    int allowed;
    const char *reason;                 /* NULL when allowed; a code in pds_reasons */
    const char *detail;                 /* for people; never holds secrets;
                                           NULL when allowed */
    const pds_agreement_t *agreement;   /* the agreement applied, or the closest
                                           candidate for a denial (may be NULL) */
    const char *subject;                /* from {subject}; NULL if the template has none.
                                           A denial after a resource matched
                                           (purpose-missing, purpose-mismatch,
                                           agreement-expired, -not-yet-valid)
                                           names a well-formed subject too, so the
                                           audit shows whose data was asked for */
} pds_decision_t;

/* Decides a request against agreements (an array of const pds_agreement_t *,
 * in configuration order). The rule, documented in docs/admin-guide.md:
 *   1. candidates: agreements whose Party is the organisation and one of whose
 *      resources matches method and path; none -> "no-agreement"
 *   2. no purpose declared -> "purpose-missing"
 *   3. keep candidates listing that purpose; none -> "purpose-mismatch"
 *   4. keep candidates valid at now; none -> "agreement-expired" or
 *      "agreement-not-yet-valid" (from the first candidate)
 *   5. the first remaining candidate in configuration order applies; the
 *      subject it captures must pass pds_subject_check -> else "bad-subject"
 *   6. a parameter's value must hold no '&' or '=' -> else "bad-path"
 *      (pds_resource_parameter_problem)
 * Allocates detail strings from p. */
void pds_agreements_decide(const apr_array_header_t *agreements,
                           const pds_request_facts_t *facts,
                           pds_decision_t *decision, apr_pool_t *p);

/* Is every parameter of a parsed query (pds_query_param_t, from
 * pds_query_parse) declared by a Query of at least one of the agreements?
 * The first check of a query, before any agreement is chosen. APR_EINVAL
 * with err->code "query-not-allowed" naming the first one that is not. */
apr_status_t pds_agreements_query_declared(const apr_array_header_t *agreements,
                                           const apr_array_header_t *params,
                                           pds_error_t *err);

/* The same question asked of a set made once, at configuration time: every
 * parameter name a Query of a finished agreement declares (name -> name, in
 * p). A request then costs a hash lookup per parameter instead of a walk of
 * parameters x agreements x declarations. */
apr_hash_t *pds_agreements_query_names(const apr_array_header_t *agreements, apr_pool_t *p);

/* pds_agreements_query_declared() against such a set; the same answers. */
apr_status_t pds_query_names_declared(const apr_hash_t *names,
                                      const apr_array_header_t *params, pds_error_t *err);

#endif
