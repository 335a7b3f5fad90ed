/* mod_pds_config_merge.c: create, merge and the getters with defaults, all
 * expanded from the member lists in mod_pds_config.h.
 *
 * Rules (STYLE.md): create sets "unset" (-1 / NULL), merge allocates a new
 * struct and never writes to its inputs, defaults are applied late in the
 * getters. The kinds' rules are written once here; a member follows its
 * kind's rule and nothing else.
 */
#include "apr_strings.h"

#include "mod_pds_config.h"

/* --- create: every member unset -------------------------------------------- */

#define CREATE_UNSET(member)                    c->member = -1;
#define CREATE_VALUE(type, member, getter, dflt) CREATE_UNSET(member)
#define CREATE_FLAG(member, getter, dflt)       CREATE_UNSET(member)
#define CREATE_STRING(member, getter, dflt)     c->member = NULL;
#define CREATE_PTR(type, member)                c->member = NULL;
#define CREATE_WITH(type, member, leader, unset) c->member = NULL;
#define CREATE_ARRAY(elt_type, member, nalloc) \
    c->member = apr_array_make(p, nalloc, sizeof(elt_type));
#define CREATE_RUNTIME(type, member)            c->member = NULL;
#define CREATE(LIST) \
    LIST(CREATE_VALUE, CREATE_FLAG, CREATE_STRING, CREATE_PTR, CREATE_WITH, \
         CREATE_ARRAY, CREATE_RUNTIME)

void *pds_create_server_conf(apr_pool_t *p, server_rec *s)
{
    pds_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    CREATE(PDS_SERVER_MEMBERS)
    return c;
}

void *pds_create_dir_conf(apr_pool_t *p, char *dir)
{
    pds_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    CREATE(PDS_DIR_MEMBERS)
    /* <If> and <Files> sections pass no path (or a marker such as "*If"):
     * only a real path names where a handler is mounted. */
    c->location = dir != NULL && dir[0] == '/' ? apr_pstrdup(p, dir) : NULL;
    return c;
}

/* --- merge: add if set, else base; arrays concatenate ----------------------- */

#define MERGE_SET(member, unset) \
    c->member = add->member != (unset) ? add->member : base->member;
#define MERGE_VALUE(type, member, getter, dflt) MERGE_SET(member, -1)
#define MERGE_FLAG(member, getter, dflt)        MERGE_SET(member, -1)
#define MERGE_STRING(member, getter, dflt)      MERGE_SET(member, NULL)
#define MERGE_PTR(type, member)                 MERGE_SET(member, NULL)
#define MERGE_WITH(type, member, leader, unset) \
    c->member = add->leader != (unset) ? add->member : base->member;
#define MERGE_ARRAY(elt_type, member, nalloc) \
    c->member = apr_array_append(p, base->member, add->member);
#define MERGE_RUNTIME(type, member)             c->member = NULL;
#define MERGE(LIST) \
    LIST(MERGE_VALUE, MERGE_FLAG, MERGE_STRING, MERGE_PTR, MERGE_WITH, \
         MERGE_ARRAY, MERGE_RUNTIME)

/* httpd's merge callback for one struct: a new struct, from the list. */
#define MERGE_FUNCTION(fn, T, LIST) \
    void *fn(apr_pool_t *p, void *basev, void *addv) \
    { \
        const T *base = basev; \
        const T *add = addv; \
        T *c = apr_pcalloc(p, sizeof(*c)); \
        \
        MERGE(LIST) \
        return c; \
    }

MERGE_FUNCTION(pds_merge_server_conf, pds_server_conf_t, PDS_SERVER_MEMBERS)
MERGE_FUNCTION(pds_merge_dir_conf, pds_dir_conf_t, PDS_DIR_MEMBERS)

/* --- getters: defaults live here -------------------------------------------- */

#define GET_VALUE(type, member, getter, dflt) \
    type getter(const PDS_CONF_T *c) \
    { \
        return c != NULL && c->member != -1 ? c->member : (dflt); \
    }
#define GET_FLAG(member, getter, dflt) \
    int getter(const PDS_CONF_T *c) \
    { \
        return c != NULL && c->member != -1 ? c->member == 1 : (dflt); \
    }
#define GET_STRING(member, getter, dflt) \
    const char *getter(const PDS_CONF_T *c) \
    { \
        return c != NULL && c->member != NULL ? c->member : (dflt); \
    }

#define PDS_CONF_T pds_server_conf_t
PDS_CONF_GETTERS(PDS_SERVER_MEMBERS, GET_VALUE, GET_FLAG, GET_STRING)
#undef PDS_CONF_T
#define PDS_CONF_T pds_dir_conf_t
PDS_CONF_GETTERS(PDS_DIR_MEMBERS, GET_VALUE, GET_FLAG, GET_STRING)
#undef PDS_CONF_T

pds_server_conf_t *pds_server_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &pds_module);
}

pds_dir_conf_t *pds_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &pds_module);
}

const char *pds_conf_receipt_issuer(const pds_server_conf_t *sc, const server_rec *main)
{
    if (sc->consent_receipt_issuer != NULL)
        return sc->consent_receipt_issuer;
    return main != NULL && main->server_hostname != NULL ? main->server_hostname : "";
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
