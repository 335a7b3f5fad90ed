/* mod_pds_private.h: what every file of the glue shares.
 *
 * The glue translates httpd's world into lib/ calls. Every glue file
 * includes this: the module record, the lib/ headers, and the configuration
 * objects built from directives (layer 1 of docs/architecture.md). Nothing
 * here is exported from mod_pds.so.
 */
#ifndef MOD_PDS_PRIVATE_H
#define MOD_PDS_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_filter.h"
#include "apr_global_mutex.h"

#include "pds_agreement.h"
#include "pds_audit.h"
#include "pds_cert.h"
#include "pds_chain.h"
#include "pds_consent.h"
#include "pds_error.h"
#include "pds_filter.h"
#include "pds_jws.h"
#include "pds_reason.h"

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(pds);
#endif

extern module AP_MODULE_DECLARE_DATA pds_module;

/* --- configuration -------------------------------------------------------- */

typedef enum {
    PDS_ID_CERT_SUBJECT,
    PDS_ID_CERT_SAN,
    PDS_ID_CERT_SHA256,
    PDS_ID_JWT_KEY
} pds_identity_kind_e;

typedef struct pds_identity_t {
    pds_identity_kind_e kind;
    const char *value;        /* DN, "DNS:x", 64 hex digits, or the key's path */
    const char *issuer;       /* jwt-key: the "iss" tokens must carry */
    pds_key_t *key;           /* jwt-key: loaded at configuration time */
    const char *file;         /* where it was declared, for messages */
    unsigned line;
} pds_identity_t;

typedef struct pds_organisation_t {
    const char *name;
    apr_array_header_t *identities;   /* pds_identity_t */
} pds_organisation_t;

typedef struct pds_audit_sink_t pds_audit_sink_t;

/* Server-wide: organisations, agreements and the audit log. Unset values are
 * -1 / NULL; defaults are applied by the getters below. */
typedef struct pds_server_conf_t {
    apr_array_header_t *organisations;  /* pds_organisation_t *, declaration order */
    apr_array_header_t *agreements;     /* const pds_agreement_t *, config order */
    const char *audit_log_path;         /* resolved against ServerRoot */
    const char *audit_log_where;        /* "line N of FILE", for messages */
    pds_chain_key_t *audit_key;         /* PDSAuditKey: the chain's HMAC key */
    const char *audit_key_path;
    pds_key_t *audit_signing_key;       /* PDSAuditSigningKey: checkpoints */
    long audit_checkpoint_lines;        /* -1 unset */
    long audit_checkpoint_seconds;      /* -1 unset */
    int audit_subject_mode;             /* -1 unset, 0 clear, 1 pseudonym */
    pds_chain_key_t *audit_pseudonym_key;
    int audit_on_failure;               /* -1 unset, 0 deny, 1 allow */
    int audit_sync;                     /* -1 unset, 0 off, 1 on */
    pds_chain_key_t *pseudonym_key;     /* PDSPseudonymKey: transforms' master secret */
    pds_key_t *response_key;            /* PDSResponseSigningKey */
    const char *response_kid;           /* its RFC 7638 thumbprint */
    const char *token_audience;
    int token_clock_skew;
    int token_max_lifetime;
    pds_audit_sink_t *audit;            /* set in post_config; NULL before */

    /* Consent (main server only; virtual hosts share it). */
    const char *consent_driver;         /* PDSConsentStore: "sqlite3", "pgsql"; NULL none */
    const char *consent_params;         /* its file or conninfo */
    const char *consent_where;          /* "line N of FILE", for messages */
    int consent_timeout_ms;             /* -1 unset */
    const char *consent_cache_name;     /* PDSConsentCache provider; NULL unset */
    const char *consent_cache_args;
    const char *consent_cache_where;    /* "line N of FILE", for messages */
    int consent_cache_ttl;              /* -1 unset; 0 no caching */
    pds_key_t *consent_receipt_key;     /* PDSConsentReceiptKey */
    const char *consent_receipt_issuer; /* PDSConsentReceiptIssuer, or NULL */
    apr_array_header_t *consent_managers; /* const char *: PDSConsentManager */
    apr_array_header_t *consent_manager_where; /* const char *: "line N of FILE" */
    const char *trust_registry_path;    /* PDSConsentTrustRegistry */
    int trust_registry_interval;        /* -1 unset: seconds between checks */
} pds_server_conf_t;

/* Per location. */
typedef struct pds_dir_conf_t {
    int gateway;                        /* -1 unset, 0 off, 1 on */
    const char *purpose_header;
    apr_off_t max_body;                 /* -1 unset */
    int max_depth;                      /* -1 unset */
    const char *location;               /* the <Location> path (for handlers) */
    const char *person_subject;         /* PDSPersonSubject: "user" or "env:NAME"; NULL unset */
    int sign_responses;                 /* PDSSignResponses: -1 unset, 0 off, 1 on */
} pds_dir_conf_t;

#define PDS_DEFAULT_PURPOSE_HEADER  "PDS-Purpose"
#define PDS_DEFAULT_MAX_BODY        ((apr_off_t)1048576)
#define PDS_DEFAULT_CLOCK_SKEW      60
#define PDS_DEFAULT_MAX_LIFETIME    3600
#define PDS_DEFAULT_CHECKPOINT_LINES   1000
#define PDS_DEFAULT_CHECKPOINT_SECONDS 60
#define PDS_DEFAULT_CONSENT_TIMEOUT_MS 2000
#define PDS_DEFAULT_CONSENT_CACHE_TTL  5
#define PDS_DEFAULT_TRUST_INTERVAL     30

extern const command_rec pds_directives[];

void *pds_create_server_conf(apr_pool_t *p, server_rec *s);
void *pds_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
void *pds_create_dir_conf(apr_pool_t *p, char *dir);
void *pds_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Cross-checks once the whole configuration is read (runs under -t too). */
int pds_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s);
void pds_config_reset(void);
/* What the start will open (audit log, consent store, cache provider), as
 * far as the file system tells (mod_pds_startcheck.c). Non-zero: failed. */
int pds_start_check(apr_pool_t *ptemp, server_rec *s);

pds_server_conf_t *pds_server_conf(const server_rec *s);
pds_dir_conf_t *pds_dir_conf(const request_rec *r);
int pds_conf_gateway(const pds_dir_conf_t *dc);
const char *pds_conf_purpose_header(const pds_dir_conf_t *dc);
apr_off_t pds_conf_max_body(const pds_dir_conf_t *dc);
int pds_conf_max_depth(const pds_dir_conf_t *dc);
int pds_conf_clock_skew(const pds_server_conf_t *sc);
int pds_conf_max_lifetime(const pds_server_conf_t *sc);
long pds_conf_checkpoint_lines(const pds_server_conf_t *sc);
long pds_conf_checkpoint_seconds(const pds_server_conf_t *sc);
int pds_conf_audit_pseudonymous(const pds_server_conf_t *sc);
int pds_conf_audit_fail_open(const pds_server_conf_t *sc);
int pds_conf_audit_sync(const pds_server_conf_t *sc);
int pds_conf_consent_timeout(const pds_server_conf_t *sc);
int pds_conf_consent_cache_ttl(const pds_server_conf_t *sc);
/* The receipts' "iss": PDSConsentReceiptIssuer, else main's ServerName (both
 * from configuration, never from a request's Host). */
const char *pds_conf_receipt_issuer(const pds_server_conf_t *sc, const server_rec *main);
int pds_conf_trust_interval(const pds_server_conf_t *sc);
int pds_conf_is_consent_manager(const pds_server_conf_t *sc, const char *organisation);
const char *pds_conf_person_subject(const pds_dir_conf_t *dc);
int pds_conf_sign_responses(const pds_dir_conf_t *dc);

/* --- per request ---------------------------------------------------------- */

/* The per-request record (pds_request_t) and the glue's answers are in
 * mod_pds_response.h; what each file offers the layers above it, in its own
 * header (docs/architecture.md names the layers). */

#endif
