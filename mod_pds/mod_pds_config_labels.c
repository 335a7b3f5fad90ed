/* mod_pds_config_labels.c: the directives that give the portal and the
 * public register their plain words (PDSOrganisationLabel, PDSFieldLabel,
 * PDSPurposeLabel, PDSRegisterPublisher) and the portal's language
 * (PDSPortalLanguage), with their cross-checks once the whole configuration
 * is read: a label for an organisation, a purpose or a field no agreement
 * knows is a typo, and fails `apachectl -t`.
 *
 * Labels are one set for the whole server (main server only): the pages of
 * every virtual host read the same words.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "mod_pds_config.h"
#include "mod_pds_config_int.h"
#include "pds_labels.h"
#include "pds_syntax.h"

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(pds);
#endif

/* Label directives: <key> "<text>" [<language>]; PDSRegisterPublisher has no key. */
static const char *set_label(cmd_parms *cmd, pds_label_kind_e kind, const char *key,
                             const char *text, const char *lang)
{
    pds_server_conf_t *sc = pds_server_conf(cmd->server);
    pds_origin_t *o;
    pds_error_t perr;

    if (sc->labels == NULL && pds_labels_create(&sc->labels, cmd->pool) != APR_SUCCESS)
        return "out of memory";
    pds_error_clear(&perr);
    if (pds_labels_set(sc->labels, kind, key, text, lang, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, key[0] ? key : "",
                            perr.text);
    o = pds_config_remember(PDS_ORIGIN_LABEL, cmd->pool, NULL, cmd);
    o->label_kind = (int)kind;
    o->label_key = apr_pstrdup(cmd->pool, key);
    return NULL;
}

/* The labels are one set for the whole server. */
static const char *main_only(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s belongs in the main server configuration (the "
                        "pages of every virtual host share one set of labels)",
                        cmd->cmd->name);
}

/* Splits "<key> <text> [<lang>]" (or "<text> [<lang>]" when keyed is 0). */
static const char *label_args(cmd_parms *cmd, const char *args, int keyed, const char **key,
                              const char **text, const char **lang, const char *use)
{
    const char *rest;

    *key = keyed ? ap_getword_conf(cmd->pool, &args) : "";
    *text = ap_getword_conf(cmd->pool, &args);
    *lang = ap_getword_conf(cmd->pool, &args);
    rest = ap_getword_conf(cmd->pool, &args);
    if ((keyed && **key == '\0') || **text == '\0' || *rest != '\0')
        return apr_psprintf(cmd->pool, "%s takes %s", cmd->cmd->name, use);
    if (**lang == '\0')
        *lang = NULL;
    return NULL;
}

const char *pds_cmd_organisation_label(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *key, *text, *lang;
    const char *err = label_args(cmd, args, 1, &key, &text, &lang, "an organisation's name, "
                                 "its label and optionally a language, e.g. "
                                 "PDSOrganisationLabel nhs-fife \"Fife Health Board\"");

    if (ap_check_cmd_context(cmd, GLOBAL_ONLY) != NULL)
        return main_only(cmd);
    if (err != NULL)
        return err;
    if (!pds_syntax_is_name(key, PDS_SYNTAX_NAME_MAX))
        return apr_psprintf(cmd->pool, "PDSOrganisationLabel: '%s' is not an "
                            "organisation's name", key);
    return set_label(cmd, PDS_LABEL_ORGANISATION, key, text, lang);
}

const char *pds_cmd_purpose_label(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *key, *text, *lang;
    const char *err = label_args(cmd, args, 1, &key, &text, &lang, "a purpose, its label "
                                 "and optionally a language, e.g. "
                                 "PDSPurposeLabel direct-care \"Your care and treatment\"");

    if (ap_check_cmd_context(cmd, GLOBAL_ONLY) != NULL)
        return main_only(cmd);
    if (err != NULL)
        return err;
    if (!pds_syntax_is_name(key, PDS_SYNTAX_NAME_MAX))
        return apr_psprintf(cmd->pool, "PDSPurposeLabel: '%s' is not a purpose name", key);
    return set_label(cmd, PDS_LABEL_PURPOSE, key, text, lang);
}

const char *pds_cmd_field_label(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *key, *text, *lang;
    const char *err = label_args(cmd, args, 1, &key, &text, &lang, "a field path, its label "
                                 "and optionally a language, e.g. "
                                 "PDSFieldLabel care.needs \"Care needs\"");
    pds_fieldset_t *check;
    pds_error_t perr;

    if (ap_check_cmd_context(cmd, GLOBAL_ONLY) != NULL)
        return main_only(cmd);
    if (err != NULL)
        return err;
    pds_error_clear(&perr);
    if (pds_fieldset_create(&check, cmd->temp_pool) != APR_SUCCESS
        || pds_fieldset_add(check, key, &perr) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "PDSFieldLabel %s: not a field path: %s", key,
                            perr.text);
    return set_label(cmd, PDS_LABEL_FIELD, key, text, lang);
}

const char *pds_cmd_register_publisher(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *key, *text, *lang;
    const char *err = label_args(cmd, args, 0, &key, &text, &lang, "the publisher's name "
                                 "and optionally a language, e.g. "
                                 "PDSRegisterPublisher \"Fife Council\"");

    if (ap_check_cmd_context(cmd, GLOBAL_ONLY) != NULL)
        return main_only(cmd);
    return err != NULL ? err : set_label(cmd, PDS_LABEL_PUBLISHER, "", text, lang);
}

const char *pds_cmd_portal_language(cmd_parms *cmd, void *dcv, const char *arg)
{
    pds_dir_conf_t *dc = dcv;

    if (strcmp(arg, "auto") != 0 && !pds_lang_known(arg))
        return apr_psprintf(cmd->pool, "PDSPortalLanguage: '%s' is neither auto (the "
                            "browser's Accept-Language) nor a language the pages speak (%s)",
                            arg, PDS_LANGS);
    dc->portal_language = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* --- cross-checks ------------------------------------------------------------- */

/* Does any agreement of any server name this organisation, purpose or field? */
static int known_anywhere(server_rec *s, pds_label_kind_e kind, const char *key,
                          apr_pool_t *ptemp)
{
    pds_fieldset_t *one = NULL, *both;
    server_rec *v;
    int i, j;

    if (kind == PDS_LABEL_FIELD
        && (pds_fieldset_create(&one, ptemp) != APR_SUCCESS
            || pds_fieldset_add(one, key, NULL) != APR_SUCCESS))
        return 0;
    for (v = s; v != NULL; v = v->next) {
        const pds_server_conf_t *sc = pds_server_conf(v);

        if (kind == PDS_LABEL_ORGANISATION
            && pds_config_find_organisation(sc->organisations, key) != NULL)
            return 1;
        for (i = 0; i < sc->agreements->nelts; i++) {
            const pds_agreement_t *a = APR_ARRAY_IDX(sc->agreements, i, const pds_agreement_t *);
            const apr_array_header_t *purposes = pds_agreement_purposes(a);

            if (kind == PDS_LABEL_PURPOSE) {
                for (j = 0; j < purposes->nelts; j++) {
                    if (strcmp(APR_ARRAY_IDX(purposes, j, const char *), key) == 0)
                        return 1;
                }
            }
            if (kind == PDS_LABEL_FIELD
                && ((pds_fieldset_intersect(&both, ptemp, pds_agreement_release(a), one)
                     == APR_SUCCESS && pds_fieldset_count(both) > 0)
                    || (pds_fieldset_intersect(&both, ptemp, pds_agreement_write(a), one)
                        == APR_SUCCESS && pds_fieldset_count(both) > 0)))
                return 1;
        }
    }
    return 0;
}

int pds_config_check_labels(server_rec *s, apr_pool_t *ptemp)
{
    const apr_array_header_t *labels = pds_config_origins(PDS_ORIGIN_LABEL);
    static const char *const what[] = {
        "organisation (PDSOrganisation)", "field that no agreement releases or writes",
        "purpose that no agreement names"
    };
    int i, failed = 0;

    for (i = 0; labels != NULL && i < labels->nelts; i++) {
        const pds_origin_t *o = &APR_ARRAY_IDX(labels, i, pds_origin_t);

        if (o->label_kind > PDS_LABEL_PURPOSE
            || known_anywhere(s, (pds_label_kind_e)o->label_kind, o->label_key, ptemp))
            continue;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00440: %s %s (line "
                     "%u of %s): no such %s; is it misspelt? Labels name what the "
                     "configuration declares", o->directive ? o->directive->directive
                     : "label", o->label_key, o->line, o->file, what[o->label_kind]);
        failed = 1;
    }
    return failed;
}
