/* mod_pds_config.h: the configuration layer's contract.
 *
 * What directives build (per server and per location), how a virtual host
 * or a location inherits it, and the typed getters that apply defaults. The
 * layer sits under every other glue file and over lib/ only: it includes no
 * other mod_pds_*.h.
 *
 * Each configuration struct is written once, as a member list (an X-macro:
 * PDS_SERVER_MEMBERS, PDS_DIR_MEMBERS). The struct, its create function
 * ("unset" everywhere: -1 or NULL), its merge and the getters with defaults
 * are expanded from that list (mod_pds_config_merge.c), so a directive's new
 * member is one line here plus its handler in mod_pds_config.c. The kinds:
 *
 *   VALUE(type, member, getter, default)   a number, -1 unset; merge: add if
 *       set, else base; `type getter(conf)` returns it, or default if unset.
 *   FLAG(member, getter, default)          an int, -1 unset, 0 off, 1 on;
 *       merge as VALUE; `int getter(conf)` returns 1 for on, 0 for off, and
 *       default when unset.
 *   STRING(member, getter, default)        a const char *, NULL unset; merge
 *       as VALUE; `const char *getter(conf)` applies default.
 *   PTR(type, member)                      NULL unset; merge as VALUE; no getter.
 *   WITH(type, member, leader, unset)      belongs to leader (where a key was
 *       read from, the line a directive was on): merged from the side leader
 *       is taken from (add when add->leader != unset), never on its own.
 *   ARRAY(elt_type, member, nalloc)        an apr_array_header_t * of elt_type,
 *       empty when unset; merge: base's elements, then add's.
 *   RUNTIME(type, member)                  set after configuration (post_config);
 *       NULL after create and after merge.
 *
 * The getters take NULL for the struct (a request outside mod_pds's sections)
 * and then return the default. Memory: every struct lives in the pool it was
 * created or merged in; merge allocates a new struct and never writes to its
 * inputs.
 */
#ifndef MOD_PDS_CONFIG_H
#define MOD_PDS_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_tables.h"

#include "pds_agreement.h"
#include "pds_chain.h"
#include "pds_filter.h"
#include "pds_jws.h"
#include "pds_labels.h"

/* The module record (mod_pds.c). No APLOG_USE_MODULE here: it defines a
 * static, so each .c file that logs says it once (mod_pds_private.h does for
 * the files above this layer). */
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

#define PDS_DEFAULT_PURPOSE_HEADER  "PDS-Purpose"
#define PDS_DEFAULT_MAX_BODY        ((apr_off_t)1048576)
#define PDS_DEFAULT_CLOCK_SKEW      60
#define PDS_DEFAULT_MAX_LIFETIME    3600
#define PDS_DEFAULT_CHECKPOINT_LINES   1000
#define PDS_DEFAULT_CHECKPOINT_SECONDS 60
#define PDS_DEFAULT_CONSENT_TIMEOUT_MS 2000
#define PDS_DEFAULT_CONSENT_CACHE_TTL  5
#define PDS_DEFAULT_TRUST_INTERVAL     30
#define PDS_DEFAULT_PERSON_SUBJECT  "user"
#define PDS_DEFAULT_PORTAL_LANGUAGE "auto"
#define PDS_DEFAULT_SPOOL_THRESHOLD 65536   /* bytes of a body held in memory */
/* PDSDecisionLog off; otherwise the member is an APLOG_* level. */
#define PDS_DECISION_LOG_OFF        (-2)

/* Server-wide: organisations, agreements, the audit log, keys, tokens. The
 * consent members are main-server only (their directives refuse a virtual
 * host), so a virtual host inherits them. Organisations and agreements of a
 * virtual host come after the main server's: the main server's agreements
 * keep their precedence. */
#define PDS_SERVER_MEMBERS(VALUE, FLAG, STRING, PTR, WITH, ARRAY, RUNTIME) \
    ARRAY(pds_organisation_t *, organisations, 4)   /* declaration order */ \
    ARRAY(const pds_agreement_t *, agreements, 8)   /* config order */ \
    PTR(const char *, audit_log_path)               /* resolved against ServerRoot */ \
    WITH(const char *, audit_log_where, audit_log_path, NULL) /* "line N of FILE" */ \
    PTR(pds_chain_key_t *, audit_key)               /* PDSAuditKey: the chain's HMAC key */ \
    WITH(const char *, audit_key_path, audit_key, NULL) \
    PTR(pds_key_t *, audit_signing_key)             /* PDSAuditSigningKey: checkpoints */ \
    VALUE(long, audit_checkpoint_lines, pds_conf_checkpoint_lines, \
          PDS_DEFAULT_CHECKPOINT_LINES) \
    VALUE(long, audit_checkpoint_seconds, pds_conf_checkpoint_seconds, \
          PDS_DEFAULT_CHECKPOINT_SECONDS) \
    FLAG(audit_subject_mode, pds_conf_audit_pseudonymous, 0) /* 0 clear, 1 pseudonym */ \
    WITH(pds_chain_key_t *, audit_pseudonym_key, audit_subject_mode, -1) \
    FLAG(audit_on_failure, pds_conf_audit_fail_open, 0)   /* 0 deny, 1 allow */ \
    FLAG(audit_sync, pds_conf_audit_sync, 1) \
    VALUE(int, decision_log, pds_conf_decision_log, PDS_DECISION_LOG_OFF) /* a level */ \
    PTR(pds_chain_key_t *, pseudonym_key)           /* PDSPseudonymKey: transforms' secret */ \
    PTR(pds_key_t *, response_key)                  /* PDSResponseSigningKey */ \
    WITH(const char *, response_kid, response_key, NULL) /* its RFC 7638 thumbprint */ \
    ARRAY(pds_key_t *, published_keys, 2)           /* PDSPublishedKey, public keys only */ \
    PTR(const char *, token_audience) \
    VALUE(int, token_clock_skew, pds_conf_clock_skew, PDS_DEFAULT_CLOCK_SKEW) \
    VALUE(int, token_max_lifetime, pds_conf_max_lifetime, PDS_DEFAULT_MAX_LIFETIME) \
    RUNTIME(pds_audit_sink_t *, audit)              /* set in post_config */ \
    RUNTIME(apr_hash_t *, query_names)              /* post_config: every Query name */ \
    PTR(const char *, consent_driver)               /* PDSConsentStore: "sqlite3", "pgsql" */ \
    WITH(const char *, consent_params, consent_driver, NULL) /* its file or conninfo */ \
    WITH(const char *, consent_where, consent_driver, NULL)  /* "line N of FILE" */ \
    VALUE(int, consent_timeout_ms, pds_conf_consent_timeout, PDS_DEFAULT_CONSENT_TIMEOUT_MS) \
    PTR(const char *, consent_cache_name)           /* PDSConsentCache provider */ \
    WITH(const char *, consent_cache_args, consent_cache_name, NULL) \
    WITH(const char *, consent_cache_where, consent_cache_name, NULL) /* "line N of FILE" */ \
    VALUE(int, consent_cache_ttl, pds_conf_consent_cache_ttl, \
          PDS_DEFAULT_CONSENT_CACHE_TTL)            /* 0: no caching */ \
    PTR(pds_key_t *, consent_receipt_key)           /* PDSConsentReceiptKey */ \
    PTR(const char *, consent_receipt_issuer)       /* see pds_conf_receipt_issuer() */ \
    ARRAY(const char *, consent_managers, 2)        /* PDSConsentManager */ \
    ARRAY(const char *, consent_manager_where, 2)   /* "line N of FILE", one per manager */ \
    PTR(const char *, trust_registry_path)          /* PDSConsentTrustRegistry */ \
    VALUE(int, trust_registry_interval, pds_conf_trust_interval, \
          PDS_DEFAULT_TRUST_INTERVAL)               /* seconds between checks */ \
    PTR(const char *, node_name)                    /* PDSNodeName; main server only */ \
    PTR(const char *, spool_dir)                    /* PDSSpoolDirectory; main server only */ \
    WITH(const char *, spool_where, spool_dir, NULL) /* "line N of FILE" */ \
    VALUE(int, spool_threshold, pds_conf_spool_threshold, \
          PDS_DEFAULT_SPOOL_THRESHOLD)              /* PDSSpoolThreshold */ \
    PTR(pds_labels_t *, labels)                     /* PDS*Label, PDSRegisterPublisher */

/* Per location. `location` is set by create (the section's path), not by a
 * directive. */
#define PDS_DIR_MEMBERS(VALUE, FLAG, STRING, PTR, WITH, ARRAY, RUNTIME) \
    FLAG(gateway, pds_conf_gateway, 0)              /* PDSGateway */ \
    STRING(purpose_header, pds_conf_purpose_header, PDS_DEFAULT_PURPOSE_HEADER) \
    VALUE(apr_off_t, max_body, pds_conf_max_body, PDS_DEFAULT_MAX_BODY) \
    VALUE(int, max_depth, pds_conf_max_depth, PDS_FILTER_DEFAULT_MAX_DEPTH) \
    PTR(const char *, location)                     /* the <Location> path (for handlers) */ \
    STRING(person_subject, pds_conf_person_subject, \
           PDS_DEFAULT_PERSON_SUBJECT)              /* "user" or "env:NAME" */ \
    FLAG(sign_responses, pds_conf_sign_responses, 0) /* PDSSignResponses */ \
    STRING(portal_language, pds_conf_portal_language, \
           PDS_DEFAULT_PORTAL_LANGUAGE)             /* "auto" or a language */

/* The struct members of each kind. */
#define PDS_CONF_FIELD_VALUE(type, member, getter, dflt)   type member;
#define PDS_CONF_FIELD_FLAG(member, getter, dflt)          int member;
#define PDS_CONF_FIELD_STRING(member, getter, dflt)        const char *member;
#define PDS_CONF_FIELD_PTR(type, member)                   type member;
#define PDS_CONF_FIELD_WITH(type, member, leader, unset)   type member;
#define PDS_CONF_FIELD_ARRAY(elt_type, member, nalloc)     apr_array_header_t *member;
#define PDS_CONF_FIELD_RUNTIME(type, member)               type member;
#define PDS_CONF_FIELDS(LIST) \
    LIST(PDS_CONF_FIELD_VALUE, PDS_CONF_FIELD_FLAG, PDS_CONF_FIELD_STRING, \
         PDS_CONF_FIELD_PTR, PDS_CONF_FIELD_WITH, PDS_CONF_FIELD_ARRAY, \
         PDS_CONF_FIELD_RUNTIME)

typedef struct pds_server_conf_t {
    PDS_CONF_FIELDS(PDS_SERVER_MEMBERS)
} pds_server_conf_t;

typedef struct pds_dir_conf_t {
    PDS_CONF_FIELDS(PDS_DIR_MEMBERS)
} pds_dir_conf_t;

/* The getters' declarations, from the lists (PDS_CONF_T names the struct). */
#define PDS_CONF_DECLARE_VALUE(type, member, getter, dflt) type getter(const PDS_CONF_T *c);
#define PDS_CONF_DECLARE_FLAG(member, getter, dflt)        int getter(const PDS_CONF_T *c);
#define PDS_CONF_DECLARE_STRING(member, getter, dflt) \
    const char *getter(const PDS_CONF_T *c);
#define PDS_CONF_NONE_2(a, b)
#define PDS_CONF_NONE_3(a, b, c)
#define PDS_CONF_NONE_4(a, b, c, d)
#define PDS_CONF_GETTERS(LIST, DO_VALUE, DO_FLAG, DO_STRING) \
    LIST(DO_VALUE, DO_FLAG, DO_STRING, PDS_CONF_NONE_2, PDS_CONF_NONE_4, \
         PDS_CONF_NONE_3, PDS_CONF_NONE_2)

#define PDS_CONF_T pds_server_conf_t
PDS_CONF_GETTERS(PDS_SERVER_MEMBERS, PDS_CONF_DECLARE_VALUE, PDS_CONF_DECLARE_FLAG,
                 PDS_CONF_DECLARE_STRING)
#undef PDS_CONF_T
#define PDS_CONF_T pds_dir_conf_t
PDS_CONF_GETTERS(PDS_DIR_MEMBERS, PDS_CONF_DECLARE_VALUE, PDS_CONF_DECLARE_FLAG,
                 PDS_CONF_DECLARE_STRING)
#undef PDS_CONF_T

/* The name of this gateway node in its audit records: PDSNodeName of the
 * main server s, else the host name. NULL, with *why (pool p) saying what
 * to write, when the host name is not a usable name (1 to 64 characters of
 * [A-Za-z0-9._-]). */
const char *pds_conf_node_name(server_rec *s, apr_pool_t *p, const char **why);

/* The directive table (mod_pds_config.c). */
extern const command_rec pds_directives[];

/* httpd's create and merge callbacks (mod_pds_config_merge.c). create gives
 * every member "unset" (arrays empty; a dir conf's location is dir when it
 * is a path). merge follows the member list's rules. */
void *pds_create_server_conf(apr_pool_t *p, server_rec *s);
void *pds_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
void *pds_create_dir_conf(apr_pool_t *p, char *dir);
void *pds_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Cross-checks once the whole configuration is read (runs under -t too):
 * logs each problem once with its tag and line; returns OK, or
 * HTTP_INTERNAL_SERVER_ERROR when a problem stops the start
 * (mod_pds_config_check.c). */
int pds_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s);
/* `apachectl -t -D DUMP_PDS` (test_config): the effective configuration on
 * stdout: each server's organisations, its agreements with what each
 * releases, transforms and lets write, and the sections that hold mod_pds
 * directives or handlers, with the agreements an enforced one can reach
 * (mod_pds_config_dump.c). Prints paths of key files, never a key. */
void pds_config_dump(apr_pool_t *p, server_rec *s);
/* Forgets where directives were read (pre_config: httpd reads the
 * configuration again on every restart; mod_pds_config.c). */
void pds_config_reset(void);
/* What the start will open (audit log, consent store, cache provider), as
 * far as the file system tells (mod_pds_startcheck.c). Non-zero: failed. */
int pds_start_check(apr_pool_t *ptemp, server_rec *s);

/* The module's configuration of a server, or of a request's location. */
pds_server_conf_t *pds_server_conf(const server_rec *s);
pds_dir_conf_t *pds_dir_conf(const request_rec *r);
/* The receipts' "iss": PDSConsentReceiptIssuer, else main's ServerName (both
 * from configuration, never from a request's Host). */
const char *pds_conf_receipt_issuer(const pds_server_conf_t *sc, const server_rec *main);
/* 1 if organisation is named by PDSConsentManager; NULL is none. */
int pds_conf_is_consent_manager(const pds_server_conf_t *sc, const char *organisation);

#endif
