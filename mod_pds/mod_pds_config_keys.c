/* mod_pds_config_keys.c: the directives that read a key file.
 *
 * A key is a secret: its file must be readable by its owner only, and is
 * loaded (and its kind checked) when the directive is read, so that
 * `apachectl -t` names a wrong file. Each handler is in the directive
 * table of mod_pds_config.c. PDSNodeName, the other thing that tells one
 * node's audit log from another's, is here too.
 */
#include "httpd.h"
#include "http_config.h"
#include "apr_network_io.h"
#include "apr_strings.h"

#include "mod_pds_config.h"
#include "mod_pds_config_int.h"
#include "pds_error.h"
#include "pds_syntax.h"

/* Secret key files must not be readable by anyone but their owner (root,
 * where httpd starts as root): the HMAC key is what makes the log evidence.
 * arg is resolved against ServerRoot into *ppath. NULL, or why the file will
 * not do, naming what (the directive). */
static const char *secret_file(cmd_parms *cmd, const char *what, const char *arg,
                               const char **ppath)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t finfo;
    apr_status_t rv;

    if (path == NULL)
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", what, arg);
    *ppath = path;
    rv = apr_stat(&finfo, path, APR_FINFO_PROT | APR_FINFO_TYPE, cmd->temp_pool);
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

/* An HMAC key file (hex), a secret; its path into *ppath unless NULL. */
static const char *load_chain_key(cmd_parms *cmd, const char *what, const char *arg,
                                  pds_chain_key_t **pkey, const char **ppath)
{
    const char *path, *err;
    pds_error_t perr;

    if ((err = secret_file(cmd, what, arg, &path)) != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_chain_key_load(pkey, cmd->pool, path, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s (create one with "
                            "`pds-audit keygen --hmac %s`)", what, path, perr.text, path);
    if (ppath != NULL)
        *ppath = path;
    return NULL;
}

/* A PEM key file, a secret, loaded into *pkey; its path into *ppath. */
static const char *load_key_file(cmd_parms *cmd, const char *what, const char *arg,
                                 pds_key_t **pkey, const char **ppath)
{
    const char *err;
    pds_error_t perr;

    if ((err = secret_file(cmd, what, arg, ppath)) != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_key_load_file(pkey, cmd->pool, *ppath, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s", what, *ppath, perr.text);
    return NULL;
}

/* A private key file for signing (receipts, responses): owner-only, loadable,
 * and private. */
const char *pds_config_load_signing_key(cmd_parms *cmd, const char *what,
                                        const char *arg, pds_key_t **pkey)
{
    const char *path, *err;

    if ((err = load_key_file(cmd, what, arg, pkey, &path)) != NULL)
        return err;
    if (!pds_key_is_private(*pkey))
        return apr_psprintf(cmd->pool, "%s %s: a public key; signing needs the private "
                            "key (create one with `openssl genpkey -algorithm ed25519 "
                            "-out %s`)", what, path, path);
    return NULL;
}

const char *pds_cmd_audit_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    return load_chain_key(cmd, "PDSAuditKey", arg, &sc->audit_key, &sc->audit_key_path);
}

const char *pds_cmd_audit_signing_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path;

    if (err != NULL || (err = load_key_file(cmd, "PDSAuditSigningKey", arg,
                                            &sc->audit_signing_key, &path)) != NULL)
        return err;
    if (!pds_key_is_private(sc->audit_signing_key)
        || strcmp(pds_key_alg(sc->audit_signing_key), "RS256") == 0)
        return apr_psprintf(cmd->pool, "PDSAuditSigningKey %s: needs an Ed25519 or EC P-256 "
                            "private key (create one with `pds-audit keygen --signing %s`)",
                            path, path);
    return NULL;
}

const char *pds_cmd_audit_subject(cmd_parms *cmd, void *dummy, const char *mode,
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

const char *pds_cmd_pseudonym_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err != NULL)
        return err;
    return load_chain_key(cmd, "PDSPseudonymKey", arg, &sc->pseudonym_key, NULL);
}

const char *pds_cmd_response_signing_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    json_t *jwk;

    if (err != NULL || (err = pds_config_load_signing_key(cmd, "PDSResponseSigningKey", arg,
                                                          &sc->response_key)) != NULL)
        return err;
    /* The kid goes into every signature: computed once, here. */
    jwk = pds_key_public_jwk(sc->response_key, cmd->pool);
    if (jwk == NULL)
        return "PDSResponseSigningKey: cannot compute the key's thumbprint";
    sc->response_kid = apr_pstrdup(cmd->pool, json_string_value(json_object_get(jwk, "kid")));
    json_decref(jwk);
    return NULL;
}

/* PDSPublishedKey <file>...: public keys the JWKS lists beside the signing
 * keys (the previous one after a rotation, or the next before it takes
 * over). Public halves only: a private key has no business in a JWKS file. */
const char *pds_cmd_published_key(cmd_parms *cmd, void *dummy, const char *arg)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    pds_key_t *key;
    pds_error_t perr;

    if (err != NULL)
        return err;
    if (path == NULL)
        return apr_psprintf(cmd->pool, "PDSPublishedKey: bad path '%s'", arg);
    pds_error_clear(&perr);
    if (pds_key_load_file(&key, cmd->pool, path, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "PDSPublishedKey %s: %s", path, perr.text);
    if (pds_key_is_private(key))
        return apr_psprintf(cmd->pool, "PDSPublishedKey %s: a private key; publish only its "
                            "public half (`openssl pkey -in %s -pubout -out %s.pub`)",
                            path, path, path);
    APR_ARRAY_PUSH(sc->published_keys, pds_key_t *) = key;
    return NULL;
}

/* --- the node's name ------------------------------------------------------------ */

const char *pds_cmd_node_name(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL)
        return "PDSNodeName belongs in the main server configuration (one name per "
               "httpd: every virtual host's records come from the same node)";
    if (!pds_syntax_is_name(arg, PDS_SYNTAX_NAME_MAX))
        return apr_psprintf(cmd->pool, "PDSNodeName '%s': a node name is 1 to %d "
                            "characters of A-Z a-z 0-9 . _ - (e.g. PDSNodeName gw1)",
                            arg, PDS_SYNTAX_NAME_MAX);
    pds_server_conf(cmd->server)->node_name = arg;
    return NULL;
}

const char *pds_conf_node_name(server_rec *s, apr_pool_t *p, const char **why)
{
    const char *set = pds_server_conf(s)->node_name;
    char host[APRMAXHOSTLEN + 1];

    if (set != NULL)
        return set;
    memset(host, 0, sizeof(host));
    if (apr_gethostname(host, sizeof(host) - 1, p) != APR_SUCCESS) {
        *why = "cannot read the host name; name this node with PDSNodeName <name>";
        return NULL;
    }
    if (!pds_syntax_is_name(host, PDS_SYNTAX_NAME_MAX)) {
        *why = apr_psprintf(p, "the host name '%s' cannot name this node in the audit "
                            "log (1 to %d characters of A-Z a-z 0-9 . _ -); set "
                            "PDSNodeName <name>", host, PDS_SYNTAX_NAME_MAX);
        return NULL;
    }
    return apr_pstrdup(p, host);
}
