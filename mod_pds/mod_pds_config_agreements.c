/* mod_pds_config_agreements.c: the organisations and the agreements they
 * are party to: PDSOrganisation (how a caller is recognised: certificate
 * subject, SAN or fingerprint, or a token key) and <PDSAgreement> (each line
 * read and checked by lib/pds_agreement, errors naming the line that is
 * wrong). Their rows are in the directive table of mod_pds_config.c; the
 * cross-checks between them (an agreement's Party declared) in
 * mod_pds_config_check.c.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"
#include "apr_hash.h"

#include "mod_pds_config.h"
#include "mod_pds_config_int.h"
#include "pds_cert.h"
#include "pds_error.h"
#include "pds_syntax.h"

pds_organisation_t *pds_config_find_organisation(const apr_array_header_t *orgs,
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

/* PDSOrganisation <name> <kind> <value> [issuer=<iss>] */
const char *pds_cmd_organisation(cmd_parms *cmd, void *dummy, const char *args)
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
    if (!pds_syntax_is_name(name, PDS_SYNTAX_NAME_MAX))
        return apr_psprintf(cmd->pool, "PDSOrganisation: '%s' is not a valid name; "
                            "use 1 to 64 of letters, digits, '-', '_' and '.'", name);

    org = pds_config_find_organisation(sc->organisations, name);
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
const char *pds_cmd_agreement(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *endp, *id;
    char *idarg;
    const ap_directive_t *line, *party_line = NULL;
    apr_array_header_t *resource_lines;     /* const ap_directive_t *, by index */
    apr_array_header_t *write_lines;        /* const ap_directive_t *, by index */
    apr_hash_t *keyword_lines;              /* once_keywords[i] -> its line */
    static const char *const once_keywords[] = {"WritePut", "WritePatch", "WriteUnknown",
                                                NULL};
    pds_agreement_t *a;
    pds_origin_t *o;
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
    /* Per Write path (in the Write list's order), the line that added it. */
    write_lines = apr_array_make(cmd->temp_pool, 4, sizeof(const ap_directive_t *));
    keyword_lines = apr_hash_make(cmd->temp_pool);
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
        while (write_lines->nelts < pds_fieldset_count(pds_agreement_write(a)))
            APR_ARRAY_PUSH(write_lines, const ap_directive_t *) = line;
        for (i = 0; once_keywords[i] != NULL; i++) {
            if (strcasecmp(line->directive, once_keywords[i]) == 0)
                apr_hash_set(keyword_lines, once_keywords[i], APR_HASH_KEY_STRING, line);
        }
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
        /* So does a problem with one Write path, or with a write keyword
         * given once. */
        line = NULL;
        if (strcmp(perr.source, "Write") == 0 && perr.position >= 0
            && perr.position < write_lines->nelts)
            line = APR_ARRAY_IDX(write_lines, perr.position, const ap_directive_t *);
        else
            line = apr_hash_get(keyword_lines, perr.source, APR_HASH_KEY_STRING);
        if (line != NULL)
            return apr_psprintf(cmd->pool, "<PDSAgreement %s>, line %d of %s: %s",
                                id, line->line_num, line->filename, perr.text);
        return apr_psprintf(cmd->pool, "<PDSAgreement %s>: %s", id, perr.text);
    }

    APR_ARRAY_PUSH(sc->agreements, const pds_agreement_t *) = a;
    /* The Party line is what a later "unknown organisation" error points at. */
    o = pds_config_remember(PDS_ORIGIN_AGREEMENT, cmd->pool, a, cmd);
    if (party_line != NULL) {
        o->file = party_line->filename;
        o->line = party_line->line_num;
    }
    return NULL;
}
