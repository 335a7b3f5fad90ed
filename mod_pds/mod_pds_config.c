/* mod_pds_config.c: every directive, create and merge, the configuration
 * cross-checks, and the typed getters that apply defaults.
 *
 * Rules (STYLE.md): create sets "unset" (-1 / NULL), merge allocates a new
 * struct and never writes to its inputs, defaults are applied late in the
 * getters, and directive handlers compile what they are given so that
 * `apachectl -t` fails rather than the first request.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "apr_strings.h"
#include "apr_hash.h"
#include "apr_lib.h"

#include "mod_pds_private.h"
#include "pds_artefact.h"

/* Where things were declared, for the cross-checks in check_config. Reset in
 * pre_config, since httpd reads the configuration again on every restart. */
typedef struct pds_origin_t {
    const pds_agreement_t *agreement;   /* NULL for a PDSGateway line */
    const ap_directive_t *directive;    /* the line itself, where known */
    const char *file;
    unsigned line;
    const char *location;               /* PDSGateway on: its <Location> path, or NULL */
} pds_origin_t;

static apr_array_header_t *agreement_origins;   /* pds_origin_t */
static apr_array_header_t *gateway_origins;     /* pds_origin_t */
static apr_array_header_t *signing_origins;     /* pds_origin_t: PDSSignResponses on */

void pds_config_reset(void)
{
    agreement_origins = NULL;
    gateway_origins = NULL;
    signing_origins = NULL;
}

static void remember_origin(apr_array_header_t **list, apr_pool_t *p,
                            const pds_agreement_t *a, const cmd_parms *cmd)
{
    pds_origin_t *o;

    if (*list == NULL)
        *list = apr_array_make(p, 8, sizeof(pds_origin_t));
    o = apr_array_push(*list);
    o->agreement = a;
    o->directive = cmd->directive;
    o->file = cmd->directive ? cmd->directive->filename : "?";
    o->line = cmd->directive ? cmd->directive->line_num : 0;
    o->location = NULL;
}

static const pds_origin_t *origin_of(const pds_agreement_t *a)
{
    int i;

    for (i = 0; agreement_origins && i < agreement_origins->nelts; i++) {
        const pds_origin_t *o = &APR_ARRAY_IDX(agreement_origins, i, pds_origin_t);
        if (o->agreement == a)
            return o;
    }
    return NULL;
}

/* --- create and merge ----------------------------------------------------- */

void *pds_create_server_conf(apr_pool_t *p, server_rec *s)
{
    pds_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->organisations = apr_array_make(p, 4, sizeof(pds_organisation_t *));
    sc->agreements = apr_array_make(p, 8, sizeof(const pds_agreement_t *));
    sc->audit_log_path = NULL;
    sc->token_audience = NULL;
    sc->token_clock_skew = -1;
    sc->token_max_lifetime = -1;
    sc->audit_checkpoint_lines = -1;
    sc->audit_checkpoint_seconds = -1;
    sc->audit_subject_mode = -1;
    sc->audit_on_failure = -1;
    sc->audit_sync = -1;
    sc->audit = NULL;
    sc->consent_timeout_ms = -1;
    sc->consent_cache_ttl = -1;
    sc->consent_managers = apr_array_make(p, 2, sizeof(const char *));
    sc->consent_manager_where = apr_array_make(p, 2, sizeof(const char *));
    sc->trust_registry_interval = -1;
    return sc;
}

/* Organisations and agreements of a virtual host come after the main
 * server's: the main server's agreements keep their precedence. */
void *pds_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const pds_server_conf_t *base = basev;
    const pds_server_conf_t *add = addv;
    pds_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->organisations = apr_array_append(p, base->organisations, add->organisations);
    sc->agreements = apr_array_append(p, base->agreements, add->agreements);
    if (add->audit_log_path != NULL) {
        sc->audit_log_path = add->audit_log_path;
        sc->audit_log_where = add->audit_log_where;
    }
    else {
        sc->audit_log_path = base->audit_log_path;
        sc->audit_log_where = base->audit_log_where;
    }
    sc->token_audience = add->token_audience ? add->token_audience : base->token_audience;
    sc->token_clock_skew = add->token_clock_skew != -1 ? add->token_clock_skew
                                                       : base->token_clock_skew;
    sc->token_max_lifetime = add->token_max_lifetime != -1 ? add->token_max_lifetime
                                                           : base->token_max_lifetime;
    if (add->audit_key != NULL) {
        sc->audit_key = add->audit_key;
        sc->audit_key_path = add->audit_key_path;
    }
    else {
        sc->audit_key = base->audit_key;
        sc->audit_key_path = base->audit_key_path;
    }
    sc->audit_signing_key = add->audit_signing_key ? add->audit_signing_key
                                                   : base->audit_signing_key;
    sc->audit_checkpoint_lines = add->audit_checkpoint_lines != -1
        ? add->audit_checkpoint_lines : base->audit_checkpoint_lines;
    sc->audit_checkpoint_seconds = add->audit_checkpoint_seconds != -1
        ? add->audit_checkpoint_seconds : base->audit_checkpoint_seconds;
    if (add->audit_subject_mode != -1) {
        sc->audit_subject_mode = add->audit_subject_mode;
        sc->audit_pseudonym_key = add->audit_pseudonym_key;
    }
    else {
        sc->audit_subject_mode = base->audit_subject_mode;
        sc->audit_pseudonym_key = base->audit_pseudonym_key;
    }
    sc->audit_on_failure = add->audit_on_failure != -1 ? add->audit_on_failure
                                                       : base->audit_on_failure;
    sc->audit_sync = add->audit_sync != -1 ? add->audit_sync : base->audit_sync;
    sc->pseudonym_key = add->pseudonym_key ? add->pseudonym_key : base->pseudonym_key;
    if (add->response_key != NULL) {
        sc->response_key = add->response_key;
        sc->response_kid = add->response_kid;
    }
    else {
        sc->response_key = base->response_key;
        sc->response_kid = base->response_kid;
    }
    sc->audit = NULL;
    /* Consent directives are main-server only: a virtual host inherits them. */
    if (add->consent_driver != NULL) {
        sc->consent_driver = add->consent_driver;
        sc->consent_params = add->consent_params;
        sc->consent_where = add->consent_where;
    }
    else {
        sc->consent_driver = base->consent_driver;
        sc->consent_params = base->consent_params;
        sc->consent_where = base->consent_where;
    }
    sc->consent_timeout_ms = add->consent_timeout_ms != -1 ? add->consent_timeout_ms
                                                           : base->consent_timeout_ms;
    if (add->consent_cache_name != NULL) {
        sc->consent_cache_name = add->consent_cache_name;
        sc->consent_cache_args = add->consent_cache_args;
        sc->consent_cache_where = add->consent_cache_where;
    }
    else {
        sc->consent_cache_name = base->consent_cache_name;
        sc->consent_cache_args = base->consent_cache_args;
        sc->consent_cache_where = base->consent_cache_where;
    }
    sc->consent_cache_ttl = add->consent_cache_ttl != -1 ? add->consent_cache_ttl
                                                         : base->consent_cache_ttl;
    sc->consent_receipt_key = add->consent_receipt_key ? add->consent_receipt_key
                                                       : base->consent_receipt_key;
    sc->consent_receipt_issuer = add->consent_receipt_issuer ? add->consent_receipt_issuer
                                                             : base->consent_receipt_issuer;
    sc->consent_managers = apr_array_append(p, base->consent_managers,
                                            add->consent_managers);
    sc->consent_manager_where = apr_array_append(p, base->consent_manager_where,
                                                 add->consent_manager_where);
    sc->trust_registry_path = add->trust_registry_path ? add->trust_registry_path
                                                       : base->trust_registry_path;
    sc->trust_registry_interval = add->trust_registry_interval != -1
        ? add->trust_registry_interval : base->trust_registry_interval;
    return sc;
}

void *pds_create_dir_conf(apr_pool_t *p, char *dir)
{
    pds_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->gateway = -1;
    dc->purpose_header = NULL;
    dc->max_body = -1;
    dc->max_depth = -1;
    /* <If> and <Files> sections pass no path (or a marker such as "*If"):
     * only a real path names where a handler is mounted. */
    dc->location = dir != NULL && dir[0] == '/' ? apr_pstrdup(p, dir) : NULL;
    dc->person_subject = NULL;
    dc->sign_responses = -1;
    return dc;
}

void *pds_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const pds_dir_conf_t *base = basev;
    const pds_dir_conf_t *add = addv;
    pds_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->gateway = add->gateway != -1 ? add->gateway : base->gateway;
    dc->purpose_header = add->purpose_header ? add->purpose_header : base->purpose_header;
    dc->max_body = add->max_body != -1 ? add->max_body : base->max_body;
    dc->max_depth = add->max_depth != -1 ? add->max_depth : base->max_depth;
    dc->location = add->location ? add->location : base->location;
    dc->person_subject = add->person_subject ? add->person_subject : base->person_subject;
    dc->sign_responses = add->sign_responses != -1 ? add->sign_responses
                                                   : base->sign_responses;
    return dc;
}

/* --- getters: defaults live here ------------------------------------------ */

pds_server_conf_t *pds_server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &pds_module);
}

pds_dir_conf_t *pds_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &pds_module);
}

int pds_conf_gateway(const pds_dir_conf_t *dc)
{
    return dc != NULL && dc->gateway == 1;
}

const char *pds_conf_purpose_header(const pds_dir_conf_t *dc)
{
    return dc->purpose_header ? dc->purpose_header : PDS_DEFAULT_PURPOSE_HEADER;
}

apr_off_t pds_conf_max_body(const pds_dir_conf_t *dc)
{
    return dc->max_body != -1 ? dc->max_body : PDS_DEFAULT_MAX_BODY;
}

int pds_conf_max_depth(const pds_dir_conf_t *dc)
{
    return dc->max_depth != -1 ? dc->max_depth : PDS_FILTER_DEFAULT_MAX_DEPTH;
}

int pds_conf_clock_skew(const pds_server_conf_t *sc)
{
    return sc->token_clock_skew != -1 ? sc->token_clock_skew : PDS_DEFAULT_CLOCK_SKEW;
}

int pds_conf_max_lifetime(const pds_server_conf_t *sc)
{
    return sc->token_max_lifetime != -1 ? sc->token_max_lifetime
                                        : PDS_DEFAULT_MAX_LIFETIME;
}

long pds_conf_checkpoint_lines(const pds_server_conf_t *sc)
{
    return sc->audit_checkpoint_lines != -1 ? sc->audit_checkpoint_lines
                                            : PDS_DEFAULT_CHECKPOINT_LINES;
}

long pds_conf_checkpoint_seconds(const pds_server_conf_t *sc)
{
    return sc->audit_checkpoint_seconds != -1 ? sc->audit_checkpoint_seconds
                                              : PDS_DEFAULT_CHECKPOINT_SECONDS;
}

int pds_conf_audit_pseudonymous(const pds_server_conf_t *sc)
{
    return sc->audit_subject_mode == 1;
}

int pds_conf_audit_fail_open(const pds_server_conf_t *sc)
{
    return sc->audit_on_failure == 1;
}

int pds_conf_audit_sync(const pds_server_conf_t *sc)
{
    return sc->audit_sync != 0;
}

int pds_conf_consent_timeout(const pds_server_conf_t *sc)
{
    return sc->consent_timeout_ms != -1 ? sc->consent_timeout_ms
                                        : PDS_DEFAULT_CONSENT_TIMEOUT_MS;
}

int pds_conf_consent_cache_ttl(const pds_server_conf_t *sc)
{
    return sc->consent_cache_ttl != -1 ? sc->consent_cache_ttl
                                       : PDS_DEFAULT_CONSENT_CACHE_TTL;
}

const char *pds_conf_receipt_issuer(const pds_server_conf_t *sc, const server_rec *main)
{
    if (sc->consent_receipt_issuer != NULL)
        return sc->consent_receipt_issuer;
    return main != NULL && main->server_hostname != NULL ? main->server_hostname : "";
}

int pds_conf_trust_interval(const pds_server_conf_t *sc)
{
    return sc->trust_registry_interval != -1 ? sc->trust_registry_interval
                                             : PDS_DEFAULT_TRUST_INTERVAL;
}

int pds_conf_is_consent_manager(const pds_server_conf_t *sc, const char *organisation)
{
    int i;

    for (i = 0; organisation != NULL && i < sc->consent_managers->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(sc->consent_managers, i, const char *), organisation) == 0)
            return 1;
    }
    return 0;
}

int pds_conf_sign_responses(const pds_dir_conf_t *dc)
{
    return dc->sign_responses == 1;
}

const char *pds_conf_person_subject(const pds_dir_conf_t *dc)
{
    return dc->person_subject ? dc->person_subject : "user";
}

/* --- helpers -------------------------------------------------------------- */

/* Secret key files must not be readable by anyone but their owner (root,
 * where httpd starts as root): the HMAC key is what makes the log evidence. */
static const char *check_secret_file(cmd_parms *cmd, const char *what, const char *path)
{
    apr_finfo_t finfo;
    apr_status_t rv = apr_stat(&finfo, path, APR_FINFO_PROT | APR_FINFO_TYPE, cmd->temp_pool);

    if (rv != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: cannot read the file (%pm)", what, path, &rv);
    if (finfo.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "%s %s: not a regular file", what, path);
    if (finfo.protection & (APR_FPROT_GREAD | APR_FPROT_GWRITE | APR_FPROT_WREAD
                            | APR_FPROT_WWRITE))
        return apr_psprintf(cmd->pool, "%s %s: the file can be read by group or others; "
                            "make it readable by its owner only (chmod 600 %s)",
                            what, path, path);
    return NULL;
}

static const char *load_chain_key(cmd_parms *cmd, const char *what, const char *arg,
                                  pds_chain_key_t **pkey, const char **ppath)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *err;
    pds_error_t perr;

    if (path == NULL)
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", what, arg);
    if ((err = check_secret_file(cmd, what, path)) != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_chain_key_load(pkey, cmd->pool, path, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s (create one with "
                            "`pds-audit keygen --hmac %s`)", what, path, perr.text, path);
    if (ppath != NULL)
        *ppath = path;
    return NULL;
}

static const char *load_signing_key(cmd_parms *cmd, const char *what, const char *arg,
                                    pds_key_t **pkey);

/* Names are tokens a sysadmin types and an audit record carries. */
static int is_name(const char *s)
{
    apr_size_t n = 0;

    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++, n++) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    }
    return n <= 64;
}

static const char *parse_int(cmd_parms *cmd, const char *arg, long min,
                             long max, long *out)
{
    char *end = NULL;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %ld to %ld",
                            cmd->cmd->name, arg, min, max);
    *out = (long)v;
    return NULL;
}

static pds_organisation_t *find_organisation(apr_array_header_t *orgs,
                                             const char *name)
{
    int i;

    for (i = 0; i < orgs->nelts; i++) {
        pds_organisation_t *o = APR_ARRAY_IDX(orgs, i, pds_organisation_t *);
        if (strcmp(o->name, name) == 0)
            return o;
    }
    return NULL;
}

/* --- server-wide directives ----------------------------------------------- */

/* PDSOrganisation <name> <kind> <value> [issuer=<iss>] */
static const char *cmd_organisation(cmd_parms *cmd, void *dummy, const char *args)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *name, *kind, *value, *extra;
    pds_organisation_t *org;
    pds_identity_t *id;

    if (err != NULL)
        return err;
    name = ap_getword_conf(cmd->pool, &args);
    kind = ap_getword_conf(cmd->pool, &args);
    value = ap_getword_conf(cmd->pool, &args);
    extra = ap_getword_conf(cmd->pool, &args);
    if (*name == '\0' || *kind == '\0' || *value == '\0')
        return "PDSOrganisation needs a name, a kind and a value, e.g. "
               "PDSOrganisation nhs-fife cert-subject \"CN=api.example,O=Example\"; "
               "kinds: cert-subject, cert-san, cert-sha256, jwt-key";
    if (!is_name(name))
        return apr_psprintf(cmd->pool, "PDSOrganisation: '%s' is not a valid name; "
                            "use 1 to 64 of letters, digits, '-', '_' and '.'", name);

    org = find_organisation(sc->organisations, name);
    if (org == NULL) {
        org = apr_pcalloc(cmd->pool, sizeof(*org));
        org->name = name;
        org->identities = apr_array_make(cmd->pool, 2, sizeof(pds_identity_t));
        APR_ARRAY_PUSH(sc->organisations, pds_organisation_t *) = org;
    }
    id = apr_array_push(org->identities);
    memset(id, 0, sizeof(*id));
    id->file = cmd->directive->filename;
    id->line = cmd->directive->line_num;

    if (*extra != '\0' && strcasecmp(kind, "jwt-key") != 0)
        return apr_psprintf(cmd->pool, "PDSOrganisation %s %s: unexpected '%s' after "
                            "the value (quote values that contain spaces)", name, kind, extra);

    if (strcasecmp(kind, "cert-subject") == 0) {
        const char *normal;
        pds_error_t perr;

        pds_error_clear(&perr);
        if (ap_strchr_c(value, '=') == NULL
            || pds_cert_subject_normalise(&normal, cmd->pool, value, &perr) != APR_SUCCESS)
            return apr_psprintf(cmd->pool, "PDSOrganisation %s cert-subject: '%s' is not "
                                "a distinguished name%s%s; write it in RFC 2253 form as "
                                "`openssl x509 -noout -subject -nameopt RFC2253` prints it, "
                                "e.g. \"CN=api.example,O=Example\"", name, value,
                                perr.text[0] ? " (" : "", perr.text[0] ? perr.text : "");
        /* Certificates are matched on their RFC 2253 form, exactly: any other
         * spelling of the same name would never match. */
        if (strcmp(normal, value) != 0)
            return apr_psprintf(cmd->pool, "PDSOrganisation %s cert-subject: '%s' is not "
                                "in RFC 2253 form (most specific first, as "
                                "`openssl x509 -noout -subject -nameopt RFC2253` prints "
                                "it), so no certificate would ever match; write "
                                "PDSOrganisation %s cert-subject \"%s\"", name, value,
                                name, normal);
        id->kind = PDS_ID_CERT_SUBJECT;
        id->value = value;
    }
    else if (strcasecmp(kind, "cert-san") == 0) {
        const char *colon = ap_strchr_c(value, ':');
        const char *type = colon ? apr_pstrndup(cmd->pool, value, colon - value) : "";

        if (colon == NULL || colon[1] == '\0'
            || (strcasecmp(type, "DNS") != 0 && strcasecmp(type, "email") != 0
                && strcasecmp(type, "URI") != 0 && strcasecmp(type, "IP") != 0))
            return apr_psprintf(cmd->pool, "PDSOrganisation %s cert-san: '%s' must be "
                                "TYPE:value with TYPE one of DNS, email, URI, IP "
                                "(e.g. DNS:api.example.org)", name, value);
        id->kind = PDS_ID_CERT_SAN;
        /* The type is matched case-insensitively: store it as the library prints it. */
        if (strcasecmp(type, "DNS") == 0)
            id->value = apr_pstrcat(cmd->pool, "DNS:", colon + 1, NULL);
        else if (strcasecmp(type, "email") == 0)
            id->value = apr_pstrcat(cmd->pool, "email:", colon + 1, NULL);
        else if (strcasecmp(type, "URI") == 0)
            id->value = apr_pstrcat(cmd->pool, "URI:", colon + 1, NULL);
        else
            id->value = apr_pstrcat(cmd->pool, "IP:", colon + 1, NULL);
    }
    else if (strcasecmp(kind, "cert-sha256") == 0) {
        char *hex = apr_palloc(cmd->pool, 65);

        if (pds_cert_fingerprint_normalise(hex, value) != 0)
            return apr_psprintf(cmd->pool, "PDSOrganisation %s cert-sha256: '%s' is not a "
                                "SHA-256 fingerprint (64 hex digits, colons allowed), as "
                                "`openssl x509 -noout -fingerprint -sha256` prints it",
                                name, value);
        id->kind = PDS_ID_CERT_SHA256;
        id->value = hex;
    }
    else if (strcasecmp(kind, "jwt-key") == 0) {
        const char *path = ap_server_root_relative(cmd->pool, value);
        pds_error_t perr;

        if (path == NULL)
            return apr_psprintf(cmd->pool, "PDSOrganisation %s jwt-key: bad path '%s'",
                                name, value);
        id->kind = PDS_ID_JWT_KEY;
        id->value = path;
        id->issuer = name;
        if (*extra != '\0') {
            if (strncmp(extra, "issuer=", 7) != 0 || extra[7] == '\0')
                return apr_psprintf(cmd->pool, "PDSOrganisation %s jwt-key: unexpected '%s'; "
                                    "the only option is issuer=<iss>", name, extra);
            id->issuer = extra + 7;
        }
        if (*args != '\0')
            return apr_psprintf(cmd->pool, "PDSOrganisation %s jwt-key: unexpected '%s'",
                                name, args);
        pds_error_clear(&perr);
        if (pds_key_load_file(&id->key, cmd->pool, path, &perr) != APR_SUCCESS)
            return apr_psprintf(cmd->pool, "PDSOrganisation %s jwt-key %s: %s", name,
                                path, perr.text);
        /* The organisation signs; the gateway only verifies. A private key
         * here is one that has left the organisation (and it would verify
         * the same): refuse it rather than make it look normal. */
        if (pds_key_is_private(id->key))
            return apr_psprintf(cmd->pool, "PDSOrganisation %s jwt-key %s: this is a "
                                "private key; jwt-key takes the organisation's public "
                                "key: write it with `openssl pkey -in %s -pubout -out "
                                "%s.pub.pem`, point jwt-key at that, and remove the "
                                "private key from this server", name, path, path, path);
    }
    else {
        return apr_psprintf(cmd->pool, "PDSOrganisation %s: unknown kind '%s'; use "
                            "cert-subject, cert-san, cert-sha256 or jwt-key", name, kind);
    }
    if (*args != '\0')
        return apr_psprintf(cmd->pool, "PDSOrganisation %s %s: unexpected '%s' at the end "
                            "(quote values that contain spaces)", name, kind, args);
    return NULL;
}

/* <PDSAgreement id> ... </PDSAgreement>: httpd has already read the block
 * into cmd->directive's children; each line is parsed and validated by the
 * library, and errors name the line that is wrong. */
static const char *cmd_agreement(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *endp, *id;
    char *idarg;
    const ap_directive_t *line, *party_line = NULL;
    apr_array_header_t *resource_lines;     /* const ap_directive_t *, by index */
    pds_agreement_t *a;
    pds_error_t perr;
    int i;

    if (err != NULL)
        return err;
    endp = ap_strrchr_c(arg, '>');
    if (endp == NULL)
        return "<PDSAgreement> is missing its closing '>'";
    idarg = apr_pstrmemdup(cmd->temp_pool, arg, endp - arg);
    id = ap_getword_conf(cmd->pool, (const char **)&idarg);
    if (*id == '\0' || *idarg != '\0')
        return "<PDSAgreement> takes exactly one argument, the agreement's id: "
               "<PDSAgreement council-to-fife-direct-care>";

    for (i = 0; i < sc->agreements->nelts; i++) {
        const pds_agreement_t *other = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        if (strcmp(pds_agreement_id(other), id) == 0)
            return apr_psprintf(cmd->pool, "<PDSAgreement %s>: an agreement with this id "
                                "is already declared; ids must be unique", id);
    }

    pds_error_clear(&perr);
    if (pds_agreement_create(&a, cmd->pool, id, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "<PDSAgreement %s>: %s", id, perr.text);

    resource_lines = apr_array_make(cmd->temp_pool, 4, sizeof(const ap_directive_t *));
    for (line = cmd->directive->first_child; line != NULL; line = line->next) {
        const char *refused = NULL;
        int resources = pds_agreement_resource_count(a);

        pds_error_clear(&perr);
        if (pds_agreement_set(a, line->directive, line->args, &perr) != APR_SUCCESS)
            refused = perr.text;
        /* A DELETE has no body to check and nothing to release: refuse it
         * rather than forward a destructive request on a name alone. */
        else if (pds_agreement_resource_count(a) > resources
                 && strncmp(pds_agreement_resource(a, resources), "DELETE ", 7) == 0)
            refused = apr_psprintf(cmd->temp_pool, "Resource %s: DELETE is not supported "
                                   "(GET reads; POST, PUT and PATCH write the fields Write "
                                   "lists)", pds_agreement_resource(a, resources));
        if (refused != NULL)
            return apr_psprintf(cmd->pool, "<PDSAgreement %s>, line %d of %s: %s",
                                id, line->line_num, line->filename, refused);
        if (strcasecmp(line->directive, "Party") == 0)
            party_line = line;
        if (pds_agreement_resource_count(a) > resources)
            APR_ARRAY_PUSH(resource_lines, const ap_directive_t *) = line;
    }
    pds_error_clear(&perr);
    if (pds_agreement_finish(a, &perr) != APR_SUCCESS) {
        /* A problem with one resource names its line. */
        if (strcmp(perr.source, "Resource") == 0 && perr.position >= 0
            && perr.position < resource_lines->nelts) {
            line = APR_ARRAY_IDX(resource_lines, perr.position, const ap_directive_t *);
            return apr_psprintf(cmd->pool, "<PDSAgreement %s>, line %d of %s: %s",
                                id, line->line_num, line->filename, perr.text);
        }
        return apr_psprintf(cmd->pool, "<PDSAgreement %s>: %s", id, perr.text);
    }

    APR_ARRAY_PUSH(sc->agreements, const pds_agreement_t *) = a;
    /* The Party line is what a later "unknown organisation" error points at. */
    remember_origin(&agreement_origins, cmd->pool, a, cmd);
    if (party_line != NULL) {
        pds_origin_t *o = &APR_ARRAY_IDX(agreement_origins,
                                         agreement_origins->nelts - 1, pds_origin_t);
        o->file = party_line->filename;
        o->line = party_line->line_num;
    }
    return NULL;
}

static const char *cmd_audit_log(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (*arg == '|' || *arg == '\0')
        return "PDSAuditLog takes a file path (piped logs are not supported: "
               "a record must be durable before data is released)";
    sc->audit_log_path = ap_server_root_relative(cmd->pool, arg);
    if (sc->audit_log_path == NULL)
        return apr_psprintf(cmd->pool, "PDSAuditLog: bad path '%s'", arg);
    sc->audit_log_where = apr_psprintf(cmd->pool, "line %d of %s",
                                       cmd->directive->line_num, cmd->directive->filename);
    return NULL;
}

static const char *cmd_audit_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    return load_chain_key(cmd, "PDSAuditKey", arg, &sc->audit_key, &sc->audit_key_path);
}

static const char *cmd_audit_signing_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    pds_error_t perr;

    if (err != NULL)
        return err;
    if (path == NULL)
        return apr_psprintf(cmd->pool, "PDSAuditSigningKey: bad path '%s'", arg);
    if ((err = check_secret_file(cmd, "PDSAuditSigningKey", path)) != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_key_load_file(&sc->audit_signing_key, cmd->pool, path, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "PDSAuditSigningKey %s: %s", path, perr.text);
    if (!pds_key_is_private(sc->audit_signing_key)
        || strcmp(pds_key_alg(sc->audit_signing_key), "RS256") == 0)
        return apr_psprintf(cmd->pool, "PDSAuditSigningKey %s: needs an Ed25519 or EC P-256 "
                            "private key (create one with `pds-audit keygen --signing %s`)",
                            path, path);
    return NULL;
}

static const char *cmd_audit_checkpoint(cmd_parms *cmd, void *dummy, const char *lines,
                                        const char *seconds)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    long v;

    if (err != NULL || (err = parse_int(cmd, lines, 0, 100000000L, &v)) != NULL)
        return err;
    sc->audit_checkpoint_lines = v;
    if (seconds != NULL) {
        if ((err = parse_int(cmd, seconds, 0, 86400, &v)) != NULL)
            return err;
        sc->audit_checkpoint_seconds = v;
    }
    return NULL;
}

static const char *cmd_audit_subject(cmd_parms *cmd, void *dummy, const char *mode,
                                     const char *keyfile)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (strcasecmp(mode, "clear") == 0 && keyfile == NULL) {
        sc->audit_subject_mode = 0;
        sc->audit_pseudonym_key = NULL;
        return NULL;
    }
    if (strcasecmp(mode, "pseudonym") == 0 && keyfile != NULL) {
        sc->audit_subject_mode = 1;
        return load_chain_key(cmd, "PDSAuditSubject pseudonym", keyfile,
                              &sc->audit_pseudonym_key, NULL);
    }
    return "PDSAuditSubject takes `clear` or `pseudonym <key file>`";
}

static const char *cmd_audit_on_failure(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (strcasecmp(arg, "deny") == 0)
        sc->audit_on_failure = 0;
    else if (strcasecmp(arg, "allow") == 0)
        sc->audit_on_failure = 1;
    else
        return "PDSAuditOnFailure takes deny (the default: refuse with 503) or allow "
               "(release without a record; see docs/audit.md before choosing it)";
    return NULL;
}

static const char *cmd_audit_sync(cmd_parms *cmd, void *dummy, int on)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    sc->audit_sync = on ? 1 : 0;
    return NULL;
}

static const char *cmd_pseudonym_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    return load_chain_key(cmd, "PDSPseudonymKey", arg, &sc->pseudonym_key, NULL);
}

static const char *cmd_response_signing_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    json_t *jwk;

    if (err != NULL)
        return err;
    if ((err = load_signing_key(cmd, "PDSResponseSigningKey", arg, &sc->response_key)) != NULL)
        return err;
    /* The kid goes into every signature: computed once, here. */
    jwk = pds_key_public_jwk(sc->response_key, cmd->pool);
    if (jwk == NULL)
        return "PDSResponseSigningKey: cannot compute the key's thumbprint";
    sc->response_kid = apr_pstrdup(cmd->pool, json_string_value(json_object_get(jwk, "kid")));
    json_decref(jwk);
    return NULL;
}

static const char *cmd_sign_responses(cmd_parms *cmd, void *dcv, int on)
{
    ((pds_dir_conf_t *)dcv)->sign_responses = on;
    if (on)
        remember_origin(&signing_origins, cmd->pool, NULL, cmd);
    return NULL;
}

static const char *cmd_token_audience(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    if (*arg == '\0')
        return "PDSTokenAudience needs a value, e.g. https://gateway.council.example";
    sc->token_audience = arg;
    return NULL;
}

static const char *cmd_token_clock_skew(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    long v;

    if (err != NULL || (err = parse_int(cmd, arg, 0, 600, &v)) != NULL)
        return err;
    sc->token_clock_skew = (int)v;
    return NULL;
}

static const char *cmd_token_max_lifetime(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    long v;

    if (err != NULL || (err = parse_int(cmd, arg, 0, 86400 * 7, &v)) != NULL)
        return err;
    sc->token_max_lifetime = (int)v;
    return NULL;
}

/* --- per-location directives ---------------------------------------------- */

/* --- consent ------------------------------------------------------------------ */

static const char *main_server_only(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL)
        return apr_psprintf(cmd->pool, "%s belongs in the main server configuration "
                            "(one consent store serves every virtual host)", cmd->cmd->name);
    return NULL;
}

/* PDSConsentStore sqlite3 <file> | pgsql "<conninfo>" */
static const char *cmd_consent_store(cmd_parms *cmd, void *dummy, const char *driver,
                                     const char *params)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    if (strcmp(driver, "sqlite3") == 0) {
        if (*params == '\0' || strcmp(params, ":memory:") == 0)
            return "PDSConsentStore sqlite3 takes a database file, e.g. "
                   "PDSConsentStore sqlite3 /var/lib/pds/consent.db (an in-memory "
                   "database would be one per process)";
        params = ap_server_root_relative(cmd->pool, params);
        if (params == NULL)
            return "PDSConsentStore sqlite3: bad path";
    }
    else if (strcmp(driver, "pgsql") == 0) {
        if (*params == '\0')
            return "PDSConsentStore pgsql takes a libpq connection string, e.g. "
                   "PDSConsentStore pgsql \"host=db.internal dbname=pds user=pds\"";
    }
    else
        return apr_psprintf(cmd->pool, "PDSConsentStore: unknown driver '%s'; use sqlite3 "
                            "(a file, the default for one server) or pgsql (for several)",
                            driver);
    sc->consent_driver = driver;
    sc->consent_params = params;
    sc->consent_where = apr_psprintf(cmd->pool, "line %d of %s",
                                     cmd->directive->line_num, cmd->directive->filename);
    return NULL;
}

static const char *cmd_consent_store_timeout(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    long v;

    if (err != NULL || (err = parse_int(cmd, arg, 10, 60000, &v)) != NULL)
        return err;
    sc->consent_timeout_ms = (int)v;
    return NULL;
}

/* PDSConsentCache <provider>[:<args>] [<ttl seconds>] */
static const char *cmd_consent_cache(cmd_parms *cmd, void *dummy, const char *spec,
                                     const char *ttl)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    const char *colon;
    long v;

    if (err != NULL)
        return err;
    colon = ap_strchr_c(spec, ':');
    sc->consent_cache_name = colon ? apr_pstrmemdup(cmd->pool, spec, (apr_size_t)(colon - spec))
                                   : apr_pstrdup(cmd->pool, spec);
    sc->consent_cache_args = colon ? apr_pstrdup(cmd->pool, colon + 1) : NULL;
    sc->consent_cache_where = apr_psprintf(cmd->pool, "line %d of %s",
                                           cmd->directive->line_num,
                                           cmd->directive->filename);
    if (!is_name(sc->consent_cache_name))
        return apr_psprintf(cmd->pool, "PDSConsentCache: '%s' is not a cache provider "
                            "name (shmcb, redis, memcache, ...)", spec);
    if (ttl != NULL) {
        if ((err = parse_int(cmd, ttl, 0, 3600, &v)) != NULL)
            return err;
        sc->consent_cache_ttl = (int)v;
    }
    return NULL;
}

/* A private key file for signing (receipts, responses): owner-only, loadable,
 * and private. */
static const char *load_signing_key(cmd_parms *cmd, const char *what, const char *arg,
                                    pds_key_t **pkey)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *err;
    pds_error_t perr;

    if (path == NULL)
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", what, arg);
    if ((err = check_secret_file(cmd, what, path)) != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_key_load_file(pkey, cmd->pool, path, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s", what, path, perr.text);
    if (!pds_key_is_private(*pkey))
        return apr_psprintf(cmd->pool, "%s %s: a public key; signing needs the private "
                            "key (create one with `openssl genpkey -algorithm ed25519 "
                            "-out %s`)", what, path, path);
    return NULL;
}

static const char *cmd_consent_receipt_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    return load_signing_key(cmd, "PDSConsentReceiptKey", arg, &sc->consent_receipt_key);
}

/* PDSConsentReceiptIssuer <iss>: 1 to 255 visible ASCII characters, e.g. a URL. */
static const char *cmd_consent_receipt_issuer(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    apr_size_t n;

    if (err != NULL)
        return err;
    for (n = 0; arg[n] != '\0'; n++) {
        if (n >= 255 || (unsigned char)arg[n] <= 0x20 || (unsigned char)arg[n] >= 0x7f)
            return "PDSConsentReceiptIssuer: the issuer must be 1 to 255 visible ASCII "
                   "characters, e.g. https://gateway.council.example";
    }
    if (n == 0)
        return "PDSConsentReceiptIssuer needs a value, e.g. https://gateway.council.example";
    sc->consent_receipt_issuer = arg;
    return NULL;
}

static const char *cmd_consent_manager(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);

    if (err != NULL)
        return err;
    if (!is_name(arg))
        return apr_psprintf(cmd->pool, "PDSConsentManager: '%s' is not an organisation's "
                            "name", arg);
    APR_ARRAY_PUSH(sc->consent_managers, const char *) = apr_pstrdup(cmd->pool, arg);
    APR_ARRAY_PUSH(sc->consent_manager_where, const char *) =
        apr_psprintf(cmd->pool, "line %d of %s", cmd->directive->line_num,
                     cmd->directive->filename);
    return NULL;
}

/* PDSConsentTrustRegistry <file> [<seconds between checks>] */
static const char *cmd_trust_registry(cmd_parms *cmd, void *dummy, const char *file,
                                      const char *interval)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = main_server_only(cmd);
    pds_trust_registry_t *reg;
    pds_error_t perr;
    long v;

    if (err != NULL)
        return err;
    sc->trust_registry_path = ap_server_root_relative(cmd->pool, file);
    if (sc->trust_registry_path == NULL)
        return apr_psprintf(cmd->pool, "PDSConsentTrustRegistry: bad path '%s'", file);
    /* Read it now, as the start will: a file that is missing or wrong stops
     * `apachectl -t` (and so a graceful restart) instead of the server. */
    pds_error_clear(&perr);
    if (pds_trust_registry_load_file(&reg, cmd->temp_pool, sc->trust_registry_path, &perr)
        != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "PDSConsentTrustRegistry %s: %s; fix the file (its "
                            "format is in docs/consent.md) or remove the directive",
                            sc->trust_registry_path, perr.text[0] ? perr.text
                            : "cannot read the file");
    if (interval != NULL) {
        if ((err = parse_int(cmd, interval, 1, 86400, &v)) != NULL)
            return err;
        sc->trust_registry_interval = (int)v;
    }
    return NULL;
}

static const char *cmd_person_subject(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;

    if (strcmp(arg, "user") != 0
        && !(strncmp(arg, "env:", 4) == 0 && arg[4] != '\0' && is_name(arg + 4)))
        return apr_psprintf(cmd->pool, "PDSPersonSubject: '%s' is neither 'user' (the "
                            "authenticated user name) nor 'env:NAME' (a variable an "
                            "authentication module sets, e.g. env:OIDC_CLAIM_sub)", arg);
    dc->person_subject = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *cmd_gateway(cmd_parms *cmd, void *dcv, int on)
{
    pds_dir_conf_t *dc = dcv;

    const ap_directive_t *section = cmd->directive ? cmd->directive->parent : NULL;

    dc->gateway = on ? 1 : 0;
    if (on) {
        remember_origin(&gateway_origins, cmd->pool, NULL, cmd);
        /* A literal <Location> path (not a regular expression, not a
         * <Directory>): check_config looks for an agreement under it. */
        if (section != NULL && strcasecmp(section->directive, "<Location") == 0
            && cmd->path != NULL && cmd->path[0] == '/')
            APR_ARRAY_IDX(gateway_origins, gateway_origins->nelts - 1,
                          pds_origin_t).location = apr_pstrdup(cmd->pool, cmd->path);
    }
    return NULL;
}

static const char *cmd_purpose_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;
    const char *c;

    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != '_')
            break;
    }
    if (*arg == '\0' || *c != '\0')
        return apr_psprintf(cmd->pool, "PDSPurposeHeader: '%s' is not a header name; "
                            "use letters, digits and '-'", arg);
    dc->purpose_header = arg;
    return NULL;
}

static const char *cmd_max_body(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;
    const char *err;
    long v;

    if ((err = parse_int(cmd, arg, 1, 256L * 1024 * 1024, &v)) != NULL)
        return err;
    dc->max_body = v;
    return NULL;
}

static const char *cmd_max_depth(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;
    const char *err;
    long v;

    if ((err = parse_int(cmd, arg, 2, 1000, &v)) != NULL)
        return err;
    dc->max_depth = (int)v;
    return NULL;
}

const command_rec pds_directives[] = {
    AP_INIT_RAW_ARGS("PDSOrganisation", cmd_organisation, NULL, RSRC_CONF,
        "Declares how an organisation is recognised: <name> cert-subject|cert-san|"
        "cert-sha256|jwt-key <value> [issuer=<iss>]"),
    AP_INIT_RAW_ARGS("<PDSAgreement", cmd_agreement, NULL, RSRC_CONF,
        "A data sharing agreement: <PDSAgreement id> Party, Purpose, LegalBasis, "
        "Valid, Version, Resource, Release </PDSAgreement>"),
    AP_INIT_TAKE1("PDSAuditLog", cmd_audit_log, NULL, RSRC_CONF,
        "The JSON Lines file every decision is recorded in"),
    AP_INIT_TAKE1("PDSAuditKey", cmd_audit_key, NULL, RSRC_CONF,
        "The secret key file (hex) the audit records are chained with"),
    AP_INIT_TAKE1("PDSAuditSigningKey", cmd_audit_signing_key, NULL, RSRC_CONF,
        "Ed25519 or EC P-256 private key that signs audit checkpoints"),
    AP_INIT_TAKE12("PDSAuditCheckpoint", cmd_audit_checkpoint, NULL, RSRC_CONF,
        "A signed checkpoint every <lines> records [or <seconds>] (default 1000 60)"),
    AP_INIT_TAKE12("PDSAuditSubject", cmd_audit_subject, NULL, RSRC_CONF,
        "How subjects appear in the audit log: clear, or pseudonym <key file>"),
    AP_INIT_TAKE1("PDSAuditOnFailure", cmd_audit_on_failure, NULL, RSRC_CONF,
        "When a record cannot be written: deny (default) or allow"),
    AP_INIT_FLAG("PDSAuditSync", cmd_audit_sync, NULL, RSRC_CONF,
        "On (default): each record is on disk (fdatasync) before data is released"),
    AP_INIT_TAKE1("PDSPseudonymKey", cmd_pseudonym_key, NULL, RSRC_CONF,
                  "secret key file (64 hex digits) from which each agreement's "
                  "pseudonym key is derived"),
    AP_INIT_TAKE1("PDSResponseSigningKey", cmd_response_signing_key, NULL, RSRC_CONF,
                  "private key (PEM) that signs released bodies (PDSSignResponses)"),
    AP_INIT_FLAG("PDSSignResponses", cmd_sign_responses, NULL, ACCESS_CONF,
                 "on: each released body carries a detached JWS in PDS-Signature"),
    AP_INIT_TAKE1("PDSTokenAudience", cmd_token_audience, NULL, RSRC_CONF,
        "The audience (aud) bearer tokens must be issued for"),
    AP_INIT_TAKE1("PDSTokenClockSkew", cmd_token_clock_skew, NULL, RSRC_CONF,
        "Seconds of clock difference tolerated on token times (default 60)"),
    AP_INIT_TAKE1("PDSTokenMaxLifetime", cmd_token_max_lifetime, NULL, RSRC_CONF,
        "Longest token lifetime accepted, in seconds (default 3600)"),
    AP_INIT_TAKE2("PDSConsentStore", cmd_consent_store, NULL, RSRC_CONF,
                  "sqlite3 <file> or pgsql \"<conninfo>\": where consents are kept"),
    AP_INIT_TAKE1("PDSConsentStoreTimeout", cmd_consent_store_timeout, NULL, RSRC_CONF,
                  "milliseconds to wait for a locked or slow consent store (default 2000)"),
    AP_INIT_TAKE12("PDSConsentCache", cmd_consent_cache, NULL, RSRC_CONF,
                   "<provider>[:<args>] [<ttl seconds>]: the consent decision cache "
                   "(default shmcb, 5 seconds)"),
    AP_INIT_TAKE1("PDSConsentReceiptKey", cmd_consent_receipt_key, NULL, RSRC_CONF,
                  "private key (PEM) that signs consent receipts"),
    AP_INIT_TAKE1("PDSConsentReceiptIssuer", cmd_consent_receipt_issuer, NULL, RSRC_CONF,
                  "the receipts' iss (default: the main server's ServerName)"),
    AP_INIT_ITERATE("PDSConsentManager", cmd_consent_manager, NULL, RSRC_CONF,
                    "organisations that may act for people who gave them a mandate"),
    AP_INIT_TAKE12("PDSConsentTrustRegistry", cmd_trust_registry, NULL, RSRC_CONF,
                   "<file> [<seconds>]: trusted consent artefact issuers and revocations, "
                   "checked for changes at most every <seconds> (default 30)"),
    AP_INIT_TAKE1("PDSPersonSubject", cmd_person_subject, NULL, ACCESS_CONF,
                  "user or env:NAME: how the authenticated person's subject id is found"),
    AP_INIT_FLAG("PDSGateway", cmd_gateway, NULL, ACCESS_CONF,
        "On: enforce agreements on this location (default off)"),
    AP_INIT_TAKE1("PDSPurposeHeader", cmd_purpose_header, NULL, ACCESS_CONF,
        "The request header callers declare their purpose in (default PDS-Purpose)"),
    AP_INIT_TAKE1("PDSMaxBodySize", cmd_max_body, NULL, ACCESS_CONF,
        "Largest back-end or write body buffered for filtering, in bytes (default 1048576)"),
    AP_INIT_TAKE1("PDSMaxDepth", cmd_max_depth, NULL, ACCESS_CONF,
        "Deepest JSON nesting accepted in back-end and write bodies (default 32)"),
    { NULL }
};

/* --- cross-checks ----------------------------------------------------------- */

static const server_rec *checked_main;      /* set by pds_config_check */

/* "GET /a/{subject}/b" with every {...} as "{}": templates that match the
 * same requests compare equal. */
static const char *resource_shape(apr_pool_t *p, const char *resource)
{
    char *out = apr_pstrdup(p, resource), *o = out;
    const char *c;

    for (c = resource; *c != '\0'; c++) {
        *o++ = *c;
        if (*c == '{') {
            while (*c != '\0' && *c != '}')
                c++;
            if (*c == '\0')
                break;
            *o++ = '}';
        }
    }
    *o = '\0';
    return out;
}

static int in_main(const pds_agreement_t *a)
{
    const apr_array_header_t *as = pds_server_conf(checked_main)->agreements;
    int i;

    for (i = 0; i < as->nelts; i++) {
        if (APR_ARRAY_IDX(as, i, const pds_agreement_t *) == a)
            return 1;
    }
    return 0;
}

/* Two agreements of one party covering the same request shape for a shared
 * purpose at overlapping times: the first in configuration order always
 * wins there, which is rarely what was meant. A warning, with both lines. */
static void warn_overlaps(server_rec *s, const pds_server_conf_t *sc, apr_pool_t *ptemp)
{
    int i, j, ri, rj, pi, pj;

    for (i = 0; i < sc->agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        for (j = i + 1; j < sc->agreements->nelts; j++) {
            const pds_agreement_t *b = APR_ARRAY_IDX(sc->agreements, j,
                                                     const pds_agreement_t *);
            const char *shared = NULL, *shape = NULL;

            /* A virtual host repeats the main server's agreements: say it once. */
            if (s != checked_main && in_main(a) && in_main(b))
                continue;
            if (strcmp(pds_agreement_party(a), pds_agreement_party(b)) != 0
                || pds_agreement_valid_until(a) < pds_agreement_valid_from(b)
                || pds_agreement_valid_until(b) < pds_agreement_valid_from(a))
                continue;
            for (pi = 0; pi < pds_agreement_purposes(a)->nelts && !shared; pi++) {
                const char *pa = APR_ARRAY_IDX(pds_agreement_purposes(a), pi, const char *);
                for (pj = 0; pj < pds_agreement_purposes(b)->nelts && !shared; pj++) {
                    if (strcmp(pa, APR_ARRAY_IDX(pds_agreement_purposes(b), pj,
                                                 const char *)) == 0)
                        shared = pa;
                }
            }
            for (ri = 0; shared && ri < pds_agreement_resource_count(a) && !shape; ri++) {
                const char *ra = resource_shape(ptemp, pds_agreement_resource(a, ri));
                for (rj = 0; rj < pds_agreement_resource_count(b) && !shape; rj++) {
                    if (strcmp(ra, resource_shape(ptemp, pds_agreement_resource(b, rj))) == 0)
                        shape = pds_agreement_resource(b, rj);
                }
            }
            if (shared != NULL && shape != NULL) {
                const pds_origin_t *oa = origin_of(a), *ob = origin_of(b);
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, s, "PDS00078: "
                             "<PDSAgreement %s> (line %u of %s) never applies to %s for "
                             "purpose %s while <PDSAgreement %s> (line %u of %s) is valid: "
                             "the first in configuration order wins; give them different "
                             "purposes, resources or dates", pds_agreement_id(b),
                             ob ? ob->line : 0, ob ? ob->file : "?", shape, shared,
                             pds_agreement_id(a), oa ? oa->line : 0, oa ? oa->file : "?");
            }
        }
    }
}

/* A virtual host repeats the main server's agreements, organisations and
 * consent settings (or shares its whole configuration): each problem is
 * reported once, for the object it is about, not once per server. `tag` is
 * the message's number (0 for "this server configuration was checked"). */
static apr_hash_t *reported;    /* "tag:pointer" -> "" (in ptemp) */

static int first_report(const void *obj, int tag)
{
    apr_pool_t *p = apr_hash_pool_get(reported);
    const char *key = apr_psprintf(p, "%d:%pp", tag, obj);

    if (apr_hash_get(reported, key, APR_HASH_KEY_STRING) != NULL)
        return 0;
    apr_hash_set(reported, key, APR_HASH_KEY_STRING, "");
    return 1;
}

static int check_server(server_rec *s, const char **gateway_where, apr_pool_t *ptemp)
{
    pds_server_conf_t *sc = pds_server_conf(s);
    const pds_identity_t *jwt = NULL;
    int i, j, failed = 0;

    for (i = 0; i < sc->agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        const pds_origin_t *o = origin_of(a);

        if (find_organisation(sc->organisations, pds_agreement_party(a)) == NULL) {
            if (first_report(a, 1))
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00001: "
                             "<PDSAgreement %s>: Party '%s' (line %u of %s) is not a declared "
                             "organisation; declare it with PDSOrganisation %s <kind> <value>",
                             pds_agreement_id(a), pds_agreement_party(a), o ? o->line : 0,
                             o ? o->file : "?", pds_agreement_party(a));
            failed = 1;
        }
        for (j = i + 1; j < sc->agreements->nelts; j++) {
            const pds_agreement_t *b = APR_ARRAY_IDX(sc->agreements, j, const pds_agreement_t *);
            if (a != b && strcmp(pds_agreement_id(a), pds_agreement_id(b)) == 0) {
                if (first_report(b, 2))
                    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00002: "
                                 "<PDSAgreement %s> is declared twice (line %u of %s and again "
                                 "in a virtual host); agreement ids must be unique",
                                 pds_agreement_id(a), o ? o->line : 0, o ? o->file : "?");
                failed = 1;
            }
        }
    }
    for (i = 0; i < sc->organisations->nelts && jwt == NULL; i++) {
        const pds_organisation_t *org = APR_ARRAY_IDX(sc->organisations, i, pds_organisation_t *);
        for (j = 0; j < org->identities->nelts && jwt == NULL; j++) {
            if (APR_ARRAY_IDX(org->identities, j, pds_identity_t).kind == PDS_ID_JWT_KEY)
                jwt = &APR_ARRAY_IDX(org->identities, j, pds_identity_t);
        }
    }
    if (jwt != NULL && sc->token_audience == NULL) {
        if (first_report(jwt, 3))
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00003: "
                         "PDSOrganisation ... jwt-key on line %u of %s needs PDSTokenAudience: "
                         "set it to the audience tokens are issued for (e.g. "
                         "PDSTokenAudience https://gateway.council.example)",
                         jwt->line, jwt->file);
        failed = 1;
    }
    for (i = 0; i < sc->agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        const pds_origin_t *o = origin_of(a);
        int r;

        if (strcmp(pds_agreement_legal_basis(a), "consent") != 0)
            continue;
        if (sc->consent_driver == NULL && sc->trust_registry_path == NULL) {
            if (first_report(a, 71))
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00071: "
                             "<PDSAgreement %s> (line %u of %s) has LegalBasis consent but there "
                             "is no way to check consent: add PDSConsentStore (e.g. "
                             "PDSConsentStore sqlite3 /var/lib/pds/consent.db) or "
                             "PDSConsentTrustRegistry", pds_agreement_id(a), o ? o->line : 0,
                             o ? o->file : "?");
            failed = 1;
        }
        for (r = 0; r < pds_agreement_resource_count(a); r++) {
            if (strstr(pds_agreement_resource(a, r), "{subject}") == NULL
                && pds_agreement_record_subject(a) == NULL) {
                if (first_report(pds_agreement_resource(a, r), 72))
                    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00072: "
                                 "<PDSAgreement %s> (line %u of %s): Resource %s has no "
                                 "{subject}; consent is a person's, so every resource of a "
                                 "consent agreement must name whose data it is (or, for a "
                                 "collection, say with RecordSubject where each record does)",
                                 pds_agreement_id(a), o ? o->line : 0, o ? o->file : "?",
                                 pds_agreement_resource(a, r));
                failed = 1;
            }
        }
    }
    for (i = 0; i < sc->agreements->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
        const pds_origin_t *o = origin_of(a);

        if (pds_agreement_needs_pseudonym_key(a) && sc->pseudonym_key == NULL) {
            if (first_report(a, 76))
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00076: "
                             "<PDSAgreement %s> (line %u of %s) pseudonymises (Deidentified or "
                             "Transform ... pseudonymise) but there is no PDSPseudonymKey: "
                             "create one with `pds-audit keygen --hmac /etc/pds/pseudonym.key` "
                             "and add PDSPseudonymKey /etc/pds/pseudonym.key",
                             pds_agreement_id(a), o ? o->line : 0, o ? o->file : "?");
            failed = 1;
        }
    }
    if (sc->consent_driver != NULL && sc->consent_receipt_key == NULL) {
        if (first_report(sc->consent_where, 73))
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00073: "
                         "PDSConsentStore (%s) needs PDSConsentReceiptKey: every grant and "
                         "revocation returns a signed receipt; create a key with `openssl "
                         "genpkey -algorithm ed25519 -out /etc/pds/receipt.key` (mode 0600)",
                         sc->consent_where);
        failed = 1;
    }
    for (i = 0; i < sc->consent_managers->nelts; i++) {
        const char *m = APR_ARRAY_IDX(sc->consent_managers, i, const char *);
        const server_rec *v;
        int declared = 0;

        /* The manager may be declared in any virtual host: it is identified
         * wherever it calls from. */
        for (v = checked_main; v != NULL && !declared; v = v->next)
            declared = find_organisation(pds_server_conf(v)->organisations, m) != NULL;
        if (!declared) {
            if (first_report(m, 74))
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00074: "
                             "PDSConsentManager %s (%s) is not a declared organisation; declare "
                             "it with PDSOrganisation %s <kind> <value>", m,
                             APR_ARRAY_IDX(sc->consent_manager_where, i, const char *), m);
            failed = 1;
        }
    }
    if (sc->consent_managers->nelts > 0 && sc->consent_driver == NULL) {
        if (first_report(sc->consent_manager_where, 75))
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00075: "
                         "PDSConsentManager (%s) needs PDSConsentStore: mandates are kept there",
                         APR_ARRAY_IDX(sc->consent_manager_where, 0, const char *));
        failed = 1;
    }
    warn_overlaps(s, sc, ptemp);
    if (sc->audit_log_path != NULL && sc->audit_key == NULL) {
        if (first_report(sc->audit_log_path, 5))
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00005: PDSAuditLog "
                         "%s needs PDSAuditKey: the records are chained with a secret key; "
                         "create one with `pds-audit keygen --hmac /etc/pds/audit.key` and add "
                         "PDSAuditKey /etc/pds/audit.key", sc->audit_log_path);
        failed = 1;
    }
    if (*gateway_where != NULL && sc->audit_log_path == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00004: "
                     "PDSGateway on (%s) needs an audit log: add PDSAuditLog <file> to the "
                     "server configuration", *gateway_where);
        failed = 1;
        *gateway_where = NULL;          /* say it once */
    }
    return failed;
}

/* --- Satisfy Any ------------------------------------------------------------
 * Under mod_access_compat's Satisfy Any, httpd treats a successful login (or
 * an Allow) as enough whatever the access hooks said, mod_pds's included. The
 * runtime guards make a denial final anyway (mod_pds_request.c); a Satisfy Any
 * that can apply to an enforced location is also a configuration mistake, and
 * refused here. Where the relation cannot be worked out from the sections
 * (patterns, <Proxy>, <If> at server level), it is refused too. */

enum { SCOPE_SERVER, SCOPE_LOCATION, SCOPE_DIRECTORY, SCOPE_PROXY, SCOPE_OTHER };

static int named(const ap_directive_t *d, const char *name)
{
    return d->directive != NULL && strcasecmp(d->directive, name) == 0;
}

static const ap_directive_t *vhost_of(const ap_directive_t *d)
{
    for (d = d->parent; d != NULL; d = d->parent) {
        if (named(d, "<VirtualHost"))
            return d;
    }
    return NULL;
}

/* The section that decides which requests a directive applies to: <Limit>
 * and <If> only narrow it, so look through them. NULL: the whole server. */
static const ap_directive_t *scope_section(const ap_directive_t *d)
{
    for (d = d->parent; d != NULL; d = d->parent) {
        if (named(d, "<Limit") || named(d, "<LimitExcept") || named(d, "<If")
            || named(d, "<ElseIf") || named(d, "<Else"))
            continue;
        if (named(d, "<VirtualHost"))
            return NULL;
        return d;
    }
    return NULL;
}

/* A section's kind, and its path when it is a plain (non-pattern) one. */
static int scope_kind(const ap_directive_t *sec, apr_pool_t *p, const char **path)
{
    const char *args, *word;
    apr_size_t n;

    *path = NULL;
    if (sec == NULL)
        return SCOPE_SERVER;
    args = sec->args ? sec->args : "";
    n = strlen(args);
    if (n > 0 && args[n - 1] == '>')
        args = apr_pstrmemdup(p, args, n - 1);
    word = ap_getword_conf(p, &args);
    if (named(sec, "<Location") || named(sec, "<Directory") || named(sec, "<Files")) {
        if (*word != '\0' && strcmp(word, "~") != 0 && strpbrk(word, "*?[") == NULL)
            *path = word;
    }
    if (named(sec, "<Location") || named(sec, "<LocationMatch"))
        return SCOPE_LOCATION;
    if (named(sec, "<Directory") || named(sec, "<DirectoryMatch") || named(sec, "<Files")
        || named(sec, "<FilesMatch"))
        return SCOPE_DIRECTORY;
    if (named(sec, "<Proxy") || named(sec, "<ProxyMatch"))
        return SCOPE_PROXY;
    return SCOPE_OTHER;
}

static int is_ancestor(const ap_directive_t *a, const ap_directive_t *d)
{
    for (; d != NULL; d = d->parent) {
        if (d == a)
            return 1;
    }
    return 0;
}

/* Can the Satisfy line sat apply to requests the PDSGateway line gw enforces? */
static int satisfy_may_apply(const ap_directive_t *sat, const ap_directive_t *gw,
                             apr_pool_t *p)
{
    const ap_directive_t *vs = vhost_of(sat), *vg = vhost_of(gw);
    const ap_directive_t *ss = scope_section(sat), *gs = scope_section(gw);
    const char *sp, *gp;
    int sk, gk;
    apr_size_t n;

    /* The main server's sections are inherited by every virtual host. */
    if (vs != NULL && vg != NULL && vs != vg)
        return 0;
    if (ss == NULL || gs == NULL)
        return 1;
    if (is_ancestor(ss, gw) || is_ancestor(gs, sat))
        return 1;
    sk = scope_kind(ss, p, &sp);
    gk = scope_kind(gs, p, &gp);
    /* A gateway is proxied: <Proxy> sections apply to it. */
    if (sk == SCOPE_PROXY || sk == SCOPE_OTHER || gk != SCOPE_LOCATION)
        return 1;
    /* A proxied request never walks <Directory> or <Files>. */
    if (sk == SCOPE_DIRECTORY)
        return 0;
    if (sp == NULL || gp == NULL)
        return 1;               /* a pattern: it may match */
    n = strlen(sp) < strlen(gp) ? strlen(sp) : strlen(gp);
    return strncmp(sp, gp, n) == 0;
}

static int is_satisfy_any(const ap_directive_t *d, apr_pool_t *p)
{
    const char *args;

    if (!named(d, "Satisfy") || d->args == NULL)
        return 0;
    args = d->args;
    return strcasecmp(ap_getword_conf(p, &args), "any") == 0;
}

static int check_satisfy_tree(const ap_directive_t *d, apr_pool_t *ptemp)
{
    int failed = 0, i;

    for (; d != NULL; d = d->next) {
        if (d->first_child != NULL)
            failed |= check_satisfy_tree(d->first_child, ptemp);
        if (!is_satisfy_any(d, ptemp))
            continue;
        for (i = 0; i < gateway_origins->nelts; i++) {
            const pds_origin_t *o = &APR_ARRAY_IDX(gateway_origins, i, pds_origin_t);

            if (o->directive == NULL || !satisfy_may_apply(d, o->directive, ptemp))
                continue;
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL, "PDS00102: "
                         "Satisfy Any (line %d of %s) can apply to the location enforced "
                         "by PDSGateway on at line %u of %s: under Satisfy Any httpd lets "
                         "a login or an Allow stand in for mod_pds's decision. Remove it "
                         "(Satisfy All is the default) or move it to a section that does "
                         "not cover the gateway", d->line_num, d->filename, o->line,
                         o->file);
            failed = 1;
            break;
        }
    }
    return failed;
}

/* PDSGateway on where no agreement has a Resource that could match a path
 * under the <Location>: every request there is refused (no-agreement), which
 * is almost always a template written for the back end's path, or a
 * location moved. Agreements of every server count (a warning must not be
 * wrong); the rule is pds_agreement_could_match_under(). */
static void warn_unreachable_gateways(server_rec *main_s)
{
    int i, k;

    for (i = 0; gateway_origins != NULL && i < gateway_origins->nelts; i++) {
        const pds_origin_t *o = &APR_ARRAY_IDX(gateway_origins, i, pds_origin_t);
        const server_rec *v;
        int found = 0;

        if (o->location == NULL)
            continue;
        for (v = main_s; v != NULL && !found; v = v->next) {
            const apr_array_header_t *as = pds_server_conf(v)->agreements;

            for (k = 0; k < as->nelts && !found; k++)
                found = pds_agreement_could_match_under(
                    APR_ARRAY_IDX(as, k, const pds_agreement_t *), o->location);
        }
        if (!found)
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, main_s, "PDS00189: "
                         "PDSGateway on (line %u of %s) in <Location %s>: no agreement has "
                         "a Resource under %s, so every request there is refused "
                         "(no-agreement); templates match the path the client asks for, "
                         "before ProxyPass maps it: e.g. Resource GET %s%s{subject}",
                         o->line, o->file, o->location, o->location, o->location,
                         o->location[strlen(o->location) - 1] == '/' ? "" : "/");
    }
}

int pds_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s)
{
    const char *gateway_where = NULL;
    int failed = 0;

    checked_main = s;
    if (gateway_origins != NULL && gateway_origins->nelts > 0) {
        const pds_origin_t *o = &APR_ARRAY_IDX(gateway_origins, 0, pds_origin_t);
        gateway_where = apr_psprintf(ptemp, "line %u of %s", o->line, o->file);
    }
    if (signing_origins != NULL && signing_origins->nelts > 0) {
        const pds_origin_t *o = &APR_ARRAY_IDX(signing_origins, 0, pds_origin_t);
        server_rec *v;

        for (v = s; v != NULL; v = v->next) {
            if (pds_server_conf(v)->response_key == NULL) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, v, "PDS00077: "
                             "PDSSignResponses on (line %u of %s) needs "
                             "PDSResponseSigningKey: create a key with `openssl genpkey "
                             "-algorithm ed25519 -out /etc/pds/response.key` (mode 0600) "
                             "and add PDSResponseSigningKey /etc/pds/response.key",
                             o->line, o->file);
                failed = 1;
                break;
            }
        }
    }
    if (gateway_origins != NULL && gateway_origins->nelts > 0)
        failed |= check_satisfy_tree(ap_conftree, ptemp);
    warn_unreachable_gateways(s);
    reported = apr_hash_make(ptemp);
    for (; s != NULL; s = s->next) {
        /* A virtual host without mod_pds directives shares the main
         * server's configuration: checking it again would only repeat. */
        if (first_report(pds_server_conf(s), 0))
            failed |= check_server(s, &gateway_where, ptemp);
    }
    reported = NULL;
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}
