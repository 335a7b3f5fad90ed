/* mod_pds_config_int.h: what the configuration layer's own files share
 * (mod_pds_config.c, mod_pds_config_agreements.c, mod_pds_config_keys.c,
 * mod_pds_config_labels.c and mod_pds_config_check.c); no file outside the
 * layer includes it.
 */
#ifndef MOD_PDS_CONFIG_INT_H
#define MOD_PDS_CONFIG_INT_H

#include "mod_pds_config.h"

/* Where a directive was declared, for the cross-checks' messages. */
typedef struct pds_origin_t {
    const pds_agreement_t *agreement;   /* NULL for a PDSGateway line */
    const ap_directive_t *directive;    /* the line itself, where known */
    const char *file;
    unsigned line;
    const char *location;               /* PDSGateway on: its <Location> path, or NULL */
    int label_kind;                     /* a label: its pds_label_kind_e */
    const char *label_key;              /* and what it labels */
} pds_origin_t;

typedef enum {
    PDS_ORIGIN_AGREEMENT,               /* a <PDSAgreement> block */
    PDS_ORIGIN_GATEWAY,                 /* PDSGateway on */
    PDS_ORIGIN_SIGNING,                 /* PDSSignResponses on */
    PDS_ORIGIN_LABEL,                   /* a label directive (mod_pds_config_labels.c) */
    PDS_ORIGIN_LISTS
} pds_origin_list_e;

/* Remembers cmd's line in the list (until pds_config_reset()) and returns
 * the record, in p, for the caller to refine (a Party line, a <Location>
 * path) before it remembers another. Never NULL. (mod_pds_config.c) */
pds_origin_t *pds_config_remember(pds_origin_list_e list, apr_pool_t *p,
                                  const pds_agreement_t *a, const cmd_parms *cmd);
/* What the list holds (pds_origin_t), or NULL when nothing was remembered. */
const apr_array_header_t *pds_config_origins(pds_origin_list_e list);

/* --- organisations and agreements (mod_pds_config_agreements.c) --- */

/* The organisation called name among orgs (pds_organisation_t *), or NULL. */
pds_organisation_t *pds_config_find_organisation(const apr_array_header_t *orgs,
                                                 const char *name);

/* Directive handlers for the table in mod_pds_config.c:
 * PDSOrganisation <name> <kind> <value> [issuer=<iss>] (RAW_ARGS), and
 * <PDSAgreement id>, whose lines httpd has read into cmd->directive's
 * children. Each returns NULL or httpd's message. */
const char *pds_cmd_organisation(cmd_parms *cmd, void *dummy, const char *args);
const char *pds_cmd_agreement(cmd_parms *cmd, void *dummy, const char *arg);

/* --- the directives that read a key file (mod_pds_config_keys.c) --- */

/* Loads arg (resolved against ServerRoot) into *pkey as a private key for
 * signing: the file must be owner-only. NULL, or the message for httpd,
 * naming what (the directive). */
const char *pds_config_load_signing_key(cmd_parms *cmd, const char *what,
                                        const char *arg, pds_key_t **pkey);

/* Directive handlers for the table in mod_pds_config.c: PDSAuditKey,
 * PDSAuditSigningKey, PDSAuditSubject, PDSPseudonymKey and
 * PDSResponseSigningKey. Each returns NULL or httpd's message. */
const char *pds_cmd_audit_key(cmd_parms *cmd, void *dummy, const char *arg);
const char *pds_cmd_audit_signing_key(cmd_parms *cmd, void *dummy, const char *arg);
const char *pds_cmd_audit_subject(cmd_parms *cmd, void *dummy, const char *mode,
                                  const char *keyfile);
const char *pds_cmd_pseudonym_key(cmd_parms *cmd, void *dummy, const char *arg);
const char *pds_cmd_response_signing_key(cmd_parms *cmd, void *dummy, const char *arg);
const char *pds_cmd_published_key(cmd_parms *cmd, void *dummy, const char *arg);

/* PDSNodeName <name>: main server only, a name of pds_syntax_is_name. */
const char *pds_cmd_node_name(cmd_parms *cmd, void *dummy, const char *arg);

/* --- the portal's words (mod_pds_config_labels.c) --- */

/* PDSOrganisationLabel, PDSFieldLabel, PDSPurposeLabel, PDSRegisterPublisher
 * (RAW_ARGS: <key> "<text>" [<language>]) and PDSPortalLanguage. */
const char *pds_cmd_organisation_label(cmd_parms *cmd, void *dummy, const char *args);
const char *pds_cmd_field_label(cmd_parms *cmd, void *dummy, const char *args);
const char *pds_cmd_purpose_label(cmd_parms *cmd, void *dummy, const char *args);
const char *pds_cmd_register_publisher(cmd_parms *cmd, void *dummy, const char *args);
const char *pds_cmd_portal_language(cmd_parms *cmd, void *dcv, const char *arg);
/* Each label names something the configuration declares; logs each that
 * does not (PDS00440) and returns non-zero then. */
int pds_config_check_labels(server_rec *s, apr_pool_t *ptemp);

#endif
