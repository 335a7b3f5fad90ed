/* mod_pds_startcheck.c: what the start will open, checked by `httpd -t`.
 *
 * The start (post_config) opens the audit log, the consent store and the
 * consent cache; when one of them cannot be opened httpd exits, and on a
 * graceful restart that takes the running server down (httpd cannot go back
 * to the old configuration). Everything about them that can be known from
 * the file system is checked here, in the check_config hook, so that
 * `apachectl -t` (which `apachectl graceful` runs first) refuses instead.
 * Kept apart from mod_pds_config.c, whose unit test runs without httpd's
 * core functions.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "unixd.h"
#include "apr_hash.h"
#include "apr_strings.h"

#include <errno.h>
#include <unistd.h>

#include "mod_pds_private.h"

/* Can the User children run as write into a directory with these bits?
 * (Owner, group and other bits; ACLs and supplementary groups are not
 * looked at, as in the start's own check.) */
static int user_can_write_dir(const apr_finfo_t *finfo)
{
    if (finfo->user == ap_unixd_config.user_id)
        return (finfo->protection & (APR_FPROT_UWRITE | APR_FPROT_UEXECUTE))
               == (APR_FPROT_UWRITE | APR_FPROT_UEXECUTE);
    if (finfo->group == ap_unixd_config.group_id)
        return (finfo->protection & (APR_FPROT_GWRITE | APR_FPROT_GEXECUTE))
               == (APR_FPROT_GWRITE | APR_FPROT_GEXECUTE);
    return (finfo->protection & (APR_FPROT_WWRITE | APR_FPROT_WEXECUTE))
           == (APR_FPROT_WWRITE | APR_FPROT_WEXECUTE);
}

/* The first directory on the way to dir (itself included) that User cannot
 * search, or NULL when the children can reach dir. */
static const char *user_cannot_reach(const char *dir, apr_pool_t *ptemp)
{
    char *prefix = apr_pstrdup(ptemp, dir);
    apr_size_t n = strlen(prefix), i;

    for (i = 1; i <= n; i++) {
        apr_finfo_t finfo;
        char saved = prefix[i];
        int ok;

        if (i < n && prefix[i] != '/')
            continue;
        prefix[i] = '\0';
        if (apr_stat(&finfo, prefix, APR_FINFO_USER | APR_FINFO_GROUP | APR_FINFO_PROT,
                     ptemp) != APR_SUCCESS)
            return prefix;
        if (finfo.user == ap_unixd_config.user_id)
            ok = (finfo.protection & APR_FPROT_UEXECUTE) != 0;
        else if (finfo.group == ap_unixd_config.group_id)
            ok = (finfo.protection & APR_FPROT_GEXECUTE) != 0;
        else
            ok = (finfo.protection & APR_FPROT_WEXECUTE) != 0;
        if (!ok)
            return prefix;
        prefix[i] = saved;
    }
    return NULL;
}

/* The audit log is opened (created) by the parent, as the user httpd starts
 * as, which is the user running this check. */
static int check_audit_log_file(server_rec *s, const pds_server_conf_t *sc,
                                apr_pool_t *ptemp)
{
    const char *path = sc->audit_log_path;
    const char *where = sc->audit_log_where ? sc->audit_log_where : "?";
    char *dir = ap_make_dirstr_parent(ptemp, path);
    apr_finfo_t finfo;
    apr_status_t rv;

    rv = apr_stat(&finfo, dir, APR_FINFO_TYPE, ptemp);
    if (rv != APR_SUCCESS || finfo.filetype != APR_DIR) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00180: PDSAuditLog "
                     "%s (%s): the directory %s %s; create it (mkdir -p %s) or point "
                     "PDSAuditLog at a file in an existing directory", path, where, dir,
                     rv != APR_SUCCESS ? "does not exist" : "is not a directory", dir);
        return 1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, errno, s, "PDS00181: "
                     "PDSAuditLog %s (%s): the directory %s is not writable by the user "
                     "httpd starts as (uid %ld), which creates the file; make it "
                     "writable (chmod u+wx %s) or choose another directory", path, where,
                     dir, (long)geteuid(), dir);
        return 1;
    }
    /* What cannot be opened for reading and appending (a directory, a file
     * without the permission). A device opens (the tests use /dev/full). */
    rv = apr_stat(&finfo, path, APR_FINFO_TYPE, ptemp);
    if (rv == APR_SUCCESS
        && (finfo.filetype == APR_DIR || access(path, R_OK | W_OK) != 0)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00182: PDSAuditLog "
                     "%s (%s): %s; point PDSAuditLog at a regular file (it is created "
                     "when missing)", path, where, finfo.filetype == APR_DIR
                     ? "a directory, not a file" : "the file cannot be read and written "
                     "by the user httpd starts as");
        return 1;
    }
    return 0;
}

/* What can be wrong with a directory the children (User) make files in. */
typedef enum {
    USER_DIR_OK = 0,
    USER_DIR_MISSING,               /* does not exist (or cannot be looked at) */
    USER_DIR_NOT_A_DIR,
    USER_DIR_OPEN_TO_ALL,           /* others can write, no sticky bit */
    USER_DIR_NOT_WRITABLE,          /* by User (by this user when not root) */
    USER_DIR_UNREACHABLE            /* *blocked is not searchable by User */
} user_dir_problem_t;

/* The first problem of dir for files the children make there, in the order
 * the messages report them. Running as root, User's own access is worked
 * out from the owner and bits; otherwise the user running the check is the
 * one the children run as. `refuse_open_to_all`: a directory anyone can
 * write without the sticky bit is a problem too. */
static user_dir_problem_t check_user_dir(const char *dir, int refuse_open_to_all,
                                         const char **blocked, apr_pool_t *ptemp)
{
    apr_finfo_t finfo;

    *blocked = NULL;
    if (apr_stat(&finfo, dir, APR_FINFO_TYPE | APR_FINFO_USER | APR_FINFO_GROUP
                 | APR_FINFO_PROT, ptemp) != APR_SUCCESS)
        return USER_DIR_MISSING;
    if (finfo.filetype != APR_DIR)
        return USER_DIR_NOT_A_DIR;
    if (refuse_open_to_all && (finfo.protection & APR_FPROT_WWRITE)
        && !(finfo.protection & APR_FPROT_WSTICKY))
        return USER_DIR_OPEN_TO_ALL;
    if (geteuid() == 0 ? !user_can_write_dir(&finfo) : access(dir, W_OK | X_OK) != 0)
        return USER_DIR_NOT_WRITABLE;
    if (geteuid() == 0 && (*blocked = user_cannot_reach(dir, ptemp)) != NULL)
        return USER_DIR_UNREACHABLE;
    return USER_DIR_OK;
}

/* SQLite keeps its journal beside the database, and the children (running
 * as User) open it: its directory must exist and be theirs to write. */
static int check_sqlite_store(server_rec *s, const pds_server_conf_t *sc,
                              apr_pool_t *ptemp)
{
    const char *path = sc->consent_params, *blocked;
    char *dir = ap_make_dirstr_parent(ptemp, path);
    const char *user = ap_unixd_config.user_name;
    user_dir_problem_t problem = check_user_dir(dir, 0, &blocked, ptemp);
    apr_finfo_t finfo;
    apr_status_t rv;

    switch (problem) {
    case USER_DIR_OK:
    case USER_DIR_OPEN_TO_ALL:      /* not asked for */
        break;
    case USER_DIR_MISSING:
    case USER_DIR_NOT_A_DIR:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00183: "
                     "PDSConsentStore sqlite3 %s (%s): the directory %s %s; create it "
                     "for User %s (mkdir -p %s && chown %s %s)", path, sc->consent_where,
                     dir, problem == USER_DIR_MISSING ? "does not exist"
                     : "is not a directory", user, dir, user, dir);
        return 1;
    case USER_DIR_NOT_WRITABLE:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00184: "
                     "PDSConsentStore sqlite3 %s (%s): the directory %s must be writable "
                     "by User %s (SQLite keeps its journal beside the file): chown %s %s",
                     path, sc->consent_where, dir, user, user, dir);
        return 1;
    case USER_DIR_UNREACHABLE:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00188: "
                     "PDSConsentStore sqlite3 %s (%s): User %s cannot reach the database: "
                     "%s is not searchable by it; allow it (chmod o+x %s) or keep the "
                     "store elsewhere", path, sc->consent_where, user, blocked, blocked);
        return 1;
    }
    rv = apr_stat(&finfo, path, APR_FINFO_TYPE, ptemp);
    if (rv == APR_SUCCESS && finfo.filetype != APR_REG) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00185: "
                     "PDSConsentStore sqlite3 %s (%s): not a regular file; point it at "
                     "a database file (it is created when missing)", path,
                     sc->consent_where);
        return 1;
    }
    return 0;
}

/* The cache provider must be loaded and accept its arguments (creating an
 * instance only parses them; the start initialises it). */
static int check_consent_cache(server_rec *s, const pds_server_conf_t *sc,
                               apr_pool_t *ptemp)
{
    const char *name = sc->consent_cache_name ? sc->consent_cache_name : "shmcb";
    ap_socache_provider_t *provider;
    ap_socache_instance_t *instance = NULL;
    const char *err;

    if (sc->consent_driver == NULL || pds_conf_consent_cache_ttl(sc) == 0)
        return 0;
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (provider == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00186: "
                     "PDSConsentCache (%s): no cache provider '%s' for the consent "
                     "store's decisions; load it (LoadModule socache_%s_module "
                     "modules/mod_socache_%s.so), or turn caching off with "
                     "PDSConsentCache %s 0",
                     sc->consent_cache_where ? sc->consent_cache_where
                     : apr_pstrcat(ptemp, "the default; PDSConsentStore on ",
                                   sc->consent_where, NULL), name, name, name, name);
        return 1;
    }
    err = provider->create(&instance, sc->consent_cache_args, ptemp, ptemp);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00187: "
                     "PDSConsentCache %s%s%s (%s): %s", name,
                     sc->consent_cache_args ? ":" : "",
                     sc->consent_cache_args ? sc->consent_cache_args : "",
                     sc->consent_cache_where ? sc->consent_cache_where : "the default",
                     err);
        return 1;
    }
    return 0;
}

/* The children (User) make their unnamed files in PDSSpoolDirectory: it
 * must be theirs to write and reach, and nobody else's to write (a
 * directory others can write without the sticky bit lets them replace it
 * under its name, or swap it between check and use). */
static int check_spool_dir(server_rec *s, const pds_server_conf_t *sc, apr_pool_t *ptemp)
{
    const char *dir = sc->spool_dir, *blocked;
    const char *user = ap_unixd_config.user_name;
    user_dir_problem_t problem = check_user_dir(dir, 1, &blocked, ptemp);

    switch (problem) {
    case USER_DIR_OK:
        return 0;
    case USER_DIR_MISSING:
    case USER_DIR_NOT_A_DIR:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00510: "
                     "PDSSpoolDirectory %s (%s): %s; create it for User %s (mkdir -m 0700 "
                     "%s && chown %s %s) or use PDSSpoolDirectory off", dir, sc->spool_where,
                     problem == USER_DIR_MISSING ? "does not exist" : "not a directory",
                     user, dir, user, dir);
        break;
    case USER_DIR_OPEN_TO_ALL:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00511: "
                     "PDSSpoolDirectory %s (%s): anyone can write there and it has no "
                     "sticky bit; give it to User alone (chmod 0700 %s)", dir,
                     sc->spool_where, dir);
        break;
    case USER_DIR_NOT_WRITABLE:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00512: "
                     "PDSSpoolDirectory %s (%s): not writable by User %s, who makes the "
                     "files: chown %s %s", dir, sc->spool_where, user, user, dir);
        break;
    case USER_DIR_UNREACHABLE:
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, "PDS00513: "
                     "PDSSpoolDirectory %s (%s): User %s cannot reach it: %s is not "
                     "searchable by it", dir, sc->spool_where, user, blocked);
        break;
    }
    return 1;
}

int pds_start_check(apr_pool_t *ptemp, server_rec *main_s)
{
    apr_hash_t *seen = apr_hash_make(ptemp);
    server_rec *v;
    int failed = 0;

    for (v = main_s; v != NULL; v = v->next) {
        const pds_server_conf_t *sc = pds_server_conf(v);

        if (sc->audit_log_path == NULL
            || apr_hash_get(seen, sc->audit_log_path, APR_HASH_KEY_STRING) != NULL)
            continue;
        apr_hash_set(seen, sc->audit_log_path, APR_HASH_KEY_STRING, "");
        failed |= check_audit_log_file(v, sc, ptemp);
    }
    /* Consent and spool directives are main-server only. */
    {
        const pds_server_conf_t *sc = pds_server_conf(main_s);

        if (sc->consent_driver != NULL && strcmp(sc->consent_driver, "sqlite3") == 0)
            failed |= check_sqlite_store(main_s, sc, ptemp);
        failed |= check_consent_cache(main_s, sc, ptemp);
        if (sc->spool_dir != NULL && *sc->spool_dir != '\0')
            failed |= check_spool_dir(main_s, sc, ptemp);
    }
    return failed;
}
