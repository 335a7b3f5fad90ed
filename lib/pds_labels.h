/* pds_labels.h: the plain words people read on the portal and the public
 * register: labels from configuration, and the pages' own message
 * catalogue, in each language the pages speak.
 *
 * Labels are what a sysadmin writes (PDSOrganisationLabel, PDSFieldLabel,
 * PDSPurposeLabel, PDSRegisterPublisher, an agreement's Title and
 * Description), each with an optional language; one without a language is
 * the default text, shown in every language that has none of its own. The
 * message catalogue is built in (English and Welsh). A missing label is
 * never a blank: the pages show the configuration's own name, marked.
 */
#ifndef PDS_LABELS_H
#define PDS_LABELS_H

#include <apr_pools.h>
#include <apr_hash.h>

#include "pds_error.h"

/* The languages with a message catalogue: "en" (the default) and "cy". */
#define PDS_LANG_DEFAULT "en"
#define PDS_LANGS "en, cy"
#define PDS_LABEL_MAX 400          /* bytes of one label's text */
#define PDS_DESCRIPTION_MAX 2000   /* bytes of a Description */

typedef enum {
    PDS_LABEL_ORGANISATION,
    PDS_LABEL_FIELD,
    PDS_LABEL_PURPOSE,
    PDS_LABEL_PUBLISHER,           /* key "" */
    PDS_LABEL_TITLE,               /* an agreement's: key "" */
    PDS_LABEL_DESCRIPTION,         /* key "" */
    PDS_LABEL_KINDS
} pds_label_kind_e;

typedef struct pds_labels_t pds_labels_t;

/* An empty set in p. */
apr_status_t pds_labels_create(pds_labels_t **pl, apr_pool_t *p);

/* Adds text for key in lang (NULL: the default text). APR_EINVAL with
 * err->code "bad-label" when text is empty, longer than the kind allows
 * (PDS_LABEL_MAX, PDS_DESCRIPTION_MAX), not UTF-8 or holds control
 * characters; when lang is not one of PDS_LANGS; or when the same key
 * already has a text in that language. text is copied. */
apr_status_t pds_labels_set(pds_labels_t *l, pds_label_kind_e kind, const char *key,
                            const char *text, const char *lang, pds_error_t *err);

/* The text for key: lang's own, else the default text, else NULL. l NULL is
 * an empty set. */
const char *pds_labels_get(const pds_labels_t *l, pds_label_kind_e kind, const char *key,
                           const char *lang);

/* Calls cb for each key of kind that has a text (any language), in no
 * particular order, until cb returns non-zero (then returns that). */
int pds_labels_each_key(const pds_labels_t *l, pds_label_kind_e kind,
                        int (*cb)(void *baton, const char *key), void *baton);

/* Is lang one of PDS_LANGS (exactly, lowercase)? */
int pds_lang_known(const char *lang);

/* The language to speak for an Accept-Language header (RFC 9110 12.5.4):
 * the supported language with the highest q (a tag matches by its primary
 * subtag, case-insensitively: "cy-GB" is cy; "*" is the default; q=0 is
 * "not this"), the earlier one on a tie; PDS_LANG_DEFAULT when the header
 * is NULL, malformed or names none. Returns a static string. */
const char *pds_lang_negotiate(const char *accept_language);

/* The pages' message id in lang: the catalogue's text, the English text
 * when lang has none, and "[message missing]" (visible) for an unknown id.
 * Static strings, UTF-8, not escaped (escape them for HTML). */
const char *pds_msg(const char *lang, const char *id);

/* Is every message of the catalogue given in every language? For the unit
 * test; returns the first id missing one, or NULL. */
const char *pds_msg_missing(void);

/* A legal basis in plain words ("consent" -> "your consent"), in lang;
 * NULL for a word that is not a legal basis. */
const char *pds_legal_basis_words(const char *lang, const char *basis);

#endif
