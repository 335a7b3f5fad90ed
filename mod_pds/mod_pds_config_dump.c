/* mod_pds_config_dump.c: `apachectl -t -D DUMP_PDS`, the way -D DUMP_VHOSTS
 * lists virtual hosts (mod_pds_config.h). What each server enforces comes
 * from its configuration objects; which sections do what comes from the
 * configuration tree httpd read (ap_conftree), so every line names where it
 * was written. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "util_cfgtree.h"
#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include "mod_pds_config.h"
#include "pds_time.h"
#include "pds_transform.h"

static const char *identity_kind(pds_identity_kind_e k)
{
    switch (k) {
    case PDS_ID_CERT_SUBJECT: return "cert-subject";
    case PDS_ID_CERT_SAN:     return "cert-san";
    case PDS_ID_CERT_SHA256:  return "cert-sha256";
    case PDS_ID_JWT_KEY:      return "jwt-key";
    }
    return "?";
}

/* A date of an agreement's validity (the day, as written). */
static const char *day(apr_pool_t *p, apr_time_t t)
{
    const char *text = pds_time_format(p, t);

    return text != NULL ? apr_pstrndup(p, text, 10) : "?";
}

static void paths(apr_file_t *out, const char *what, const pds_fieldset_t *set)
{
    int i, n = set ? pds_fieldset_count(set) : 0;

    apr_file_printf(out, "        %-12s", what);
    if (n == 0)
        apr_file_printf(out, " (nothing)");
    for (i = 0; i < n; i++)
        apr_file_printf(out, " %s", pds_fieldset_path(set, i));
    apr_file_printf(out, "\n");
}

static void agreement(apr_file_t *out, apr_pool_t *p, const pds_agreement_t *a)
{
    const apr_array_header_t *purposes = pds_agreement_purposes(a);
    const pds_fieldset_t *release = pds_agreement_release(a);
    int i, n;

    apr_file_printf(out, "    %s (version %s)\n", pds_agreement_id(a),
                    pds_agreement_version(a));
    apr_file_printf(out, "        %-12s %s\n", "party", pds_agreement_party(a));
    apr_file_printf(out, "        %-12s", "purpose");
    for (i = 0; purposes != NULL && i < purposes->nelts; i++)
        apr_file_printf(out, " %s", APR_ARRAY_IDX(purposes, i, const char *));
    apr_file_printf(out, "\n        %-12s %s\n", "legal basis", pds_agreement_legal_basis(a));
    apr_file_printf(out, "        %-12s %s to %s\n", "valid",
                    day(p, pds_agreement_valid_from(a)), day(p, pds_agreement_valid_until(a)));
    for (i = 0, n = pds_agreement_resource_count(a); i < n; i++)
        apr_file_printf(out, "        %-12s %s\n", i == 0 ? "resource" : "",
                        pds_agreement_resource(a, i));
    if (pds_agreement_record_subject(a) != NULL)
        apr_file_printf(out, "        %-12s %s\n", "records by", pds_agreement_record_subject(a));
    paths(out, "releases", release);
    for (i = 0, n = release ? pds_fieldset_transform_count(release) : 0; i < n; i++) {
        const char *path = NULL;
        const pds_transform_t *t = pds_fieldset_transform(release, i, &path);

        if (t != NULL)
            apr_file_printf(out, "        %-12s %s %s\n", i == 0 ? "transforms" : "",
                            path, pds_transform_text(t));
    }
    if (pds_agreement_deidentified(a))
        apr_file_printf(out, "        %-12s yes (the subject is replaced by a pseudonym)\n",
                        "deidentified");
    paths(out, "writes", pds_agreement_write(a));
}

/* The agreements of every server that could match under prefix. */
static void reachable(apr_file_t *out, server_rec *main_s, const char *prefix)
{
    server_rec *v;
    apr_hash_t *seen = apr_hash_make(main_s->process->pconf);
    int k, any = 0;

    apr_file_printf(out, "        %-12s", "agreements");
    for (v = main_s; v != NULL; v = v->next) {
        const apr_array_header_t *as = pds_server_conf(v)->agreements;

        for (k = 0; as != NULL && k < as->nelts; k++) {
            const pds_agreement_t *a = APR_ARRAY_IDX(as, k, const pds_agreement_t *);

            if (!pds_agreement_could_match_under(a, prefix)
                || apr_hash_get(seen, pds_agreement_id(a), APR_HASH_KEY_STRING) != NULL)
                continue;
            apr_hash_set(seen, pds_agreement_id(a), APR_HASH_KEY_STRING, "");
            apr_file_printf(out, " %s", pds_agreement_id(a));
            any = 1;
        }
    }
    apr_file_printf(out, any ? "\n" : " (none: every request is refused, no-agreement)\n");
}

/* A directive that belongs in the listing of a section. */
static int interesting(const ap_directive_t *d)
{
    return strncasecmp(d->directive, "PDS", 3) == 0
        || (strcasecmp(d->directive, "SetHandler") == 0 && d->args != NULL
            && strncasecmp(d->args, "pds-", 4) == 0)
        || strcasecmp(d->directive, "ProxyPass") == 0
        || strcasecmp(d->directive, "Require") == 0
        || strcasecmp(d->directive, "AuthType") == 0;
}

static int is_section(const ap_directive_t *d)
{
    return d->directive[0] == '<' && d->first_child != NULL;
}

/* The sections (at any depth) that hold a directive worth listing. */
static void sections(apr_file_t *out, server_rec *main_s, const ap_directive_t *d,
                     const char *within)
{
    for (; d != NULL; d = d->next) {
        const ap_directive_t *c;
        int listed = 0, gateway = 0;

        if (!is_section(d) || strncasecmp(d->directive, "<PDS", 4) == 0)
            continue;
        for (c = d->first_child; c != NULL; c = c->next) {
            if (is_section(c) || !interesting(c))
                continue;
            if (!listed) {
                apr_file_printf(out, "    %s%s %s> (line %d of %s)\n", within, d->directive,
                                d->args ? apr_pstrndup(main_s->process->pconf, d->args,
                                                       strcspn(d->args, ">")) : "",
                                d->line_num, d->filename);
                listed = 1;
            }
            apr_file_printf(out, "        %s %s\n", c->directive, c->args ? c->args : "");
            if (strcasecmp(c->directive, "PDSGateway") == 0 && c->args != NULL
                && strcasecmp(c->args, "on") == 0)
                gateway = 1;
        }
        if (gateway && strcasecmp(d->directive, "<Location") == 0 && d->args != NULL
            && d->args[0] == '/')
            reachable(out, main_s, apr_pstrndup(main_s->process->pconf, d->args,
                                                strcspn(d->args, ">")));
        sections(out, main_s, d->first_child,
                 strcasecmp(d->directive, "<VirtualHost") == 0
                 ? apr_pstrcat(main_s->process->pconf, "<VirtualHost ",
                               apr_pstrndup(main_s->process->pconf, d->args,
                                            strcspn(d->args, ">")), "> ", NULL)
                 : within);
    }
}

void pds_config_dump(apr_pool_t *p, server_rec *s)
{
    apr_file_t *out;
    server_rec *v;
    apr_hash_t *shown = apr_hash_make(p);
    int i, k;

    if (apr_file_open_stdout(&out, p) != APR_SUCCESS)
        return;
    apr_file_printf(out, "mod_pds configuration:\n");
    for (v = s; v != NULL; v = v->next) {
        pds_server_conf_t *sc = pds_server_conf(v);

        /* A virtual host without mod_pds directives shares the main
         * server's configuration: shown once. */
        if (apr_hash_get(shown, &sc, sizeof(sc)) != NULL)
            continue;
        apr_hash_set(shown, apr_pmemdup(p, &sc, sizeof(sc)), sizeof(sc), "");
        if (v == s) {
            const char *why = NULL, *node = pds_conf_node_name(s, p, &why);

            apr_file_printf(out, "Server (main) %s\n", v->server_hostname
                            ? v->server_hostname : "");
            apr_file_printf(out, "  Node name: %s%s\n", node ? node : why,
                            pds_server_conf(s)->node_name == NULL && node
                            ? " (the host name; set PDSNodeName)" : "");
        }
        else
            apr_file_printf(out, "Virtual host %s:%u (line %u of %s)\n",
                            v->server_hostname ? v->server_hostname : "", v->port,
                            v->defn_line_number, v->defn_name ? v->defn_name : "?");
        apr_file_printf(out, "  Audit log: %s\n", sc->audit_log_path
                        ? sc->audit_log_path : "(none: PDSAuditLog is not set)");
        apr_file_printf(out, "  Organisations:\n");
        if (sc->organisations->nelts == 0)
            apr_file_printf(out, "    (none)\n");
        for (i = 0; i < sc->organisations->nelts; i++) {
            const pds_organisation_t *o = APR_ARRAY_IDX(sc->organisations, i,
                                                        pds_organisation_t *);

            apr_file_printf(out, "    %s\n", o->name);
            for (k = 0; o->identities != NULL && k < o->identities->nelts; k++) {
                const pds_identity_t *id = &APR_ARRAY_IDX(o->identities, k, pds_identity_t);

                apr_file_printf(out, "        %-12s %s%s%s (line %u of %s)\n",
                                identity_kind(id->kind), id->value,
                                id->issuer ? " issuer=" : "", id->issuer ? id->issuer : "",
                                id->line, id->file ? id->file : "?");
            }
        }
        apr_file_printf(out, "  Agreements:\n");
        if (sc->agreements->nelts == 0)
            apr_file_printf(out, "    (none)\n");
        for (i = 0; i < sc->agreements->nelts; i++)
            agreement(out, p, APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *));
    }
    apr_file_printf(out, "Sections with mod_pds directives or handlers:\n");
    sections(out, s, ap_conftree, "");
}
