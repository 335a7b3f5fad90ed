/* mod_pds_config_check.c: the configuration's cross-checks, once the
 * whole configuration is read (check_config; runs under `apachectl -t` too).
 *
 * What one directive cannot see alone: a Party no PDSOrganisation declares,
 * a consent agreement with no store, a key a directive needs and nobody
 * configured, agreements that shadow each other, Satisfy Any over a
 * gateway, a gateway no agreement can reach. Each problem is logged once,
 * with its tag and the lines involved.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "apr_strings.h"
#include "apr_hash.h"

#include "mod_pds_config.h"
#include "mod_pds_config_int.h"

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(pds);
#endif

/* Where agreement a was declared (its Party line), or NULL. */
static const pds_origin_t *origin_of(const pds_agreement_t *a)
{
    const apr_array_header_t *agreements = pds_config_origins(PDS_ORIGIN_AGREEMENT);
    int i;

    for (i = 0; agreements != NULL && i < agreements->nelts; i++) {
        const pds_origin_t *o = &APR_ARRAY_IDX(agreements, i, pds_origin_t);
        if (o->agreement == a)
            return o;
    }
    return NULL;
}

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

        if (pds_config_find_organisation(sc->organisations, pds_agreement_party(a)) == NULL) {
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
            declared = pds_config_find_organisation(pds_server_conf(v)->organisations, m) != NULL;
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
    const apr_array_header_t *gateways = pds_config_origins(PDS_ORIGIN_GATEWAY);
    int failed = 0, i;

    for (; d != NULL; d = d->next) {
        if (d->first_child != NULL)
            failed |= check_satisfy_tree(d->first_child, ptemp);
        if (!is_satisfy_any(d, ptemp))
            continue;
        for (i = 0; i < gateways->nelts; i++) {
            const pds_origin_t *o = &APR_ARRAY_IDX(gateways, i, pds_origin_t);

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
    const apr_array_header_t *gateways = pds_config_origins(PDS_ORIGIN_GATEWAY);
    int i, k;

    for (i = 0; gateways != NULL && i < gateways->nelts; i++) {
        const pds_origin_t *o = &APR_ARRAY_IDX(gateways, i, pds_origin_t);
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
    const apr_array_header_t *gateways = pds_config_origins(PDS_ORIGIN_GATEWAY);
    const apr_array_header_t *signing = pds_config_origins(PDS_ORIGIN_SIGNING);
    const char *gateway_where = NULL;
    int failed = 0;

    checked_main = s;
    if (gateways != NULL && gateways->nelts > 0) {
        const pds_origin_t *o = &APR_ARRAY_IDX(gateways, 0, pds_origin_t);
        gateway_where = apr_psprintf(ptemp, "line %u of %s", o->line, o->file);
    }
    if (signing != NULL && signing->nelts > 0) {
        const pds_origin_t *o = &APR_ARRAY_IDX(signing, 0, pds_origin_t);
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
    if (gateways != NULL && gateways->nelts > 0)
        failed |= check_satisfy_tree(ap_conftree, ptemp);
    warn_unreachable_gateways(s);
    failed |= pds_config_check_labels(s, ptemp);
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

