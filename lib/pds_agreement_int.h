/* pds_agreement_int.h: what the agreement's own files share (not a contract
 * for anyone else; include pds_agreement.h outside lib/pds_agreement*.c).
 *
 * The agreement is read in pds_agreement.c (the keyword table and one setter
 * per keyword; the setters of the keywords that name fields are in
 * pds_agreement_fields.c, those of its words for people in
 * pds_agreement_text.c) and pds_agreement_finish.c (the cross-checks once
 * every line is in), and decided on in pds_agreement_match.c, which only
 * reads the compiled struct below.
 */
#ifndef PDS_AGREEMENT_INT_H
#define PDS_AGREEMENT_INT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "pds_agreement.h"
#include "pds_error.h"
#include "pds_labels.h"
#include "pds_query.h"
#include "pds_write.h"
#include "pds_rowfilter.h"

#define ID_MAX        64   /* agreement id, party, purpose */

#define TOKEN_CHARS "A-Z a-z 0-9 . _ -"
#define BASES "consent, contract, legal-obligation, vital-interests, " \
              "public-task, legitimate-interests"

struct pds_agreement_t {
    apr_pool_t *pool;
    const char *id;
    const char *version;         /* NULL: default "1" */
    const char *party;
    const char *legal_basis;
    apr_array_header_t *purposes;   /* const char * */
    const char *purpose_list;       /* "a, b": built by finish for details */
    int valid_set;
    apr_time_t valid_from;
    apr_time_t valid_until;         /* inclusive: 23:59:59.999999 */
    char from_text[11];             /* "YYYY-MM-DD" for details */
    char until_text[11];
    apr_array_header_t *resources;  /* pds_resource_t */
    pds_fieldset_t *release;
    int disclosure_set;
    int disclosure;                 /* PDS_DISCLOSURE_* */
    apr_time_t embargo_until;       /* PDS_DISCLOSURE_EMBARGO_UNTIL */
    apr_interval_time_t embargo_for;/* PDS_DISCLOSURE_EMBARGO_FOR */
    apr_array_header_t *transforms; /* pending_transform_t: applied by finish,
                                       when every Release line is in */
    apr_array_header_t *identifiers;/* const char *: Deidentified's direct
                                       identifiers; NULL: not de-identified */
    pds_fieldset_t *write;          /* Write: what POST/PUT/PATCH may carry */
    const char *record_subject;     /* RecordSubject: in each record of a
                                       collection, the path to its person */
    int write_unknown_set;
    int write_strips;               /* WriteUnknown strip */
    pds_write_shape_t *write_shape; /* Write compiled by finish (pds_write.h) */
    int write_put_set;
    int put_replaces;               /* WritePut replace-record */
    int write_patch_set;
    int patch_deep;                 /* WritePatch deep-merge */
    apr_array_header_t *write_media;/* const char *: WriteMediaType's types,
                                       lower case; NULL when none */
    int on_bad_record_set;
    int drop_bad_records;           /* OnBadRecord drop */
    pds_query_t *query;             /* Query: the parameters a query string may
                                       carry (none declared: no query at all) */
    pds_labels_t *words;            /* Title, Description, by language */
    int register_set;
    int register_hidden;            /* Register hidden */
    apr_time_t changed;             /* Changed: 0 when not given */
    char changed_text[11];          /* "YYYY-MM-DD" */
    pds_rowfilter_t *exclude;       /* Exclude: records left out of answers
                                       (NULL: none) */
    int finished;
};

typedef struct pending_transform_t {
    const char *path;
    const pds_transform_t *transform;
} pending_transform_t;

/* One word of a keyword's line (pds_agreement.c splits them). */
typedef struct token_t {
    const char *text;
    int pos;            /* offset of the token in the argument string */
    int quoted;
} token_t;

#define TOK(toks, i) (&APR_ARRAY_IDX((toks), (i), token_t))

/* The setters of the keywords that name fields of a body: Release,
 * Transform, Deidentified, Write, RecordSubject, Exclude
 * (pds_agreement_fields.c). */
apr_status_t pds_agreement_set_release(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_transform(pds_agreement_t *a, const char *kw,
                                         apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_deidentified(pds_agreement_t *a, const char *kw,
                                            apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_write(pds_agreement_t *a, const char *kw,
                                     apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_record_subject(pds_agreement_t *a, const char *kw,
                                              apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_exclude(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err);

/* The setters of the agreement's words for people (pds_agreement_text.c). */
apr_status_t pds_agreement_set_title(pds_agreement_t *a, const char *kw,
                                     apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_description(pds_agreement_t *a, const char *kw,
                                           apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_register(pds_agreement_t *a, const char *kw,
                                        apr_array_header_t *toks, pds_error_t *err);
apr_status_t pds_agreement_set_changed(pds_agreement_t *a, const char *kw,
                                       apr_array_header_t *toks, pds_error_t *err);

/* Records a configuration error (code "bad-agreement", source the keyword)
 * and evaluates to APR_EINVAL. */
#define bad(err, keyword, pos, ...) \
    (pds_error_set((err), "bad-agreement", (pos), (keyword), __VA_ARGS__), APR_EINVAL)

#endif
