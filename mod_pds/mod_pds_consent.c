/* mod_pds_consent.c: consent in the request path, and the consent API.
 *
 * Enforcement (pds_consent_enforce, from the access hook): a request an
 * agreement with LegalBasis consent allowed goes ahead only if a live consent
 * covers subject, organisation, purpose and time, from the store or from a
 * signed artefact in PDS-Consent-Artefact; the fields released are the
 * agreement's narrowed to the consent's. Other legal bases honour the opt-out
 * register (except legal-obligation and vital-interests, which a person's
 * objection does not override in law).
 *
 * Decisions from the store are cached through a socache provider (shmcb by
 * default) for PDSConsentCache's TTL: a change made through this server's
 * API evicts the entry at once; another server sharing the store sees it
 * within the TTL. A lookup racing a change cannot put the old decision back:
 * entries carry a per-subject-bucket generation from shared memory that the
 * change bumps first (see cache_get). Any store failure fails closed (503),
 * and each request tries the store again, so the gateway recovers when the
 * store does.
 *
 * The API (SetHandler pds-consent, in a <Location> with a literal path):
 *   GET  <loc>/consents                  a person's consents
 *   POST <loc>/consents                  grant (JSON body) -> 201, receipt
 *   GET  <loc>/consents/<id>             one, with its history
 *   POST <loc>/consents/<id>/<action>    pause, resume, revoke -> receipt
 *   GET  <loc>/mandates                  the consent managers acting for me
 *   PUT|DELETE <loc>/mandates/<org>      give or withdraw a mandate
 *   GET  <loc>/opt-outs, PUT|DELETE <loc>/opt-outs/<purpose>
 *   GET  <loc>/keys                      the receipt key as a JWKS
 * and under <loc>/subjects/<subject>/ the consent and opt-out routes for a
 * consent manager (identified as an organisation) holding a mandate.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "unixd.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_reslist.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_pds_private.h"
#include "pds_artefact.h"
#include "pds_consent_store.h"

#define CONSENT_HANDLER   "pds-consent"
#define CACHE_MUTEX_TYPE  "pds-consent-cache"
#define CACHE_NAMESPACE   "mod_pds-consent-2"  /* entries carry an entry_tag_t */
#define CACHE_MAX_ENTRY   16384
#define RECEIPT_TYPE      "pds-consent-receipt+jws"
#define CHANGE_RETRIES    3

/* Fill generations (see cache_get): one table per server, in anonymous shared
 * memory every child inherits. It lives in the process pool, so a graceful
 * restart keeps it (and the server's id): children of the old and the new
 * generation see each other's changes. */
#define GEN_BUCKETS       1024
#define GEN_MAGIC         0x50445347u           /* layout version 1 */
#define GEN_USERDATA      "mod_pds-consent-generations"

typedef struct gen_table_t {
    apr_uint32_t magic, buckets;
    apr_uint64_t node;                          /* this server, at random */
    volatile apr_uint32_t gen[GEN_BUCKETS];     /* +1 at each change */
    volatile apr_uint64_t changed[GEN_BUCKETS]; /* apr_time_t of the last */
} gen_table_t;

typedef struct store_holder_t {
    apr_pool_t *pool;
    pds_consent_store_t *store;
} store_holder_t;

/* Process-wide, for the main server (consent directives are main-server only). */
typedef struct consent_rt_t {
    server_rec *s;
    const char *driver, *params;
    int timeout_ms;
    apr_reslist_t *stores;              /* per child */
    ap_socache_provider_t *cache_provider;
    ap_socache_instance_t *cache;
    apr_global_mutex_t *cache_mutex;    /* for providers that are not MP-safe */
    gen_table_t *gens;                  /* with a cache: the fill generations */
    apr_time_t skew;                    /* PDSTokenClockSkew, for other servers' fills */
    int ttl;
    const char *registry_path;
    int registry_interval;
    apr_thread_mutex_t *registry_lock;
    apr_pool_t *registry_pool;
    pds_trust_registry_t *registry;
    apr_time_t registry_checked, registry_mtime;
    apr_off_t registry_size;
} consent_rt_t;

static consent_rt_t *rt;

/* --- lifecycle ----------------------------------------------------------------- */

void pds_consent_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, CACHE_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
    rt = NULL;
}

/* The SQLite store (and its -wal and -shm) hold every person's consents: they
 * are the server's own, mode 0600. Created here before SQLite opens it, so
 * it never exists with SQLite's 0644; SQLite gives the -wal and -shm it
 * creates later the mode (and, as root, the owner) of the database file. */
static int create_sqlite_file(const char *path, server_rec *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0 && errno == EEXIST)
        return OK;                  /* tightened in give_sqlite_to_children */
    if (fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, errno, s, "PDS00140: "
                     "PDSConsentStore sqlite3: cannot create %s; its directory must exist "
                     "and be writable by the user httpd starts as", path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    close(fd);
    return OK;
}

/* SQLite keeps its journal (-wal, -shm) beside the file: children, running as
 * User, must be able to write the file and create those in its directory.
 * Each of the three that exists is made 0600 (a store an older version
 * created 0644 is tightened) and, when we are root, given to User. */
static int give_sqlite_to_children(const char *path, apr_pool_t *ptemp, server_rec *s)
{
    static const char *const suffixes[] = { "", "-wal", "-shm", NULL };
    char *dir = ap_make_dirstr_parent(ptemp, path);
    apr_finfo_t finfo;
    int i, root = geteuid() == 0;

    if (root && apr_stat(&finfo, dir, APR_FINFO_USER | APR_FINFO_GROUP | APR_FINFO_PROT,
                         ptemp) == APR_SUCCESS
        && !(finfo.user == ap_unixd_config.user_id && (finfo.protection & APR_FPROT_UWRITE))
        && !(finfo.group == ap_unixd_config.group_id && (finfo.protection & APR_FPROT_GWRITE))
        && !(finfo.protection & APR_FPROT_WWRITE)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00080: the "
                     "consent store's directory %s must be writable by User %s (SQLite "
                     "keeps its journal beside the file): chown %s %s", dir,
                     ap_unixd_config.user_name, ap_unixd_config.user_name, dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (i = 0; suffixes[i] != NULL; i++) {
        const char *f = apr_pstrcat(ptemp, path, suffixes[i], NULL);
        struct stat st;
        /* Never follow a link, never block on a FIFO: only a regular file. */
        int fd = open(f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, errno, s, "PDS00141: "
                         "cannot check the mode of the consent store file %s (it must be "
                         "a regular file, not a link)", f);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
            || ((st.st_mode & 077) != 0 && fchmod(fd, st.st_mode & 0700) != 0)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, errno, s, "PDS00142: "
                         "the consent store file %s must be a regular file that only "
                         "httpd's user can read: chmod 600 %s", f, f);
            close(fd);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (root && fchown(fd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0)
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, "PDS00081: cannot give %s "
                         "to User %s", f, ap_unixd_config.user_name);
        close(fd);
    }
    return OK;
}

static apr_status_t destroy_cache(void *data)
{
    consent_rt_t *c = data;

    if (c->cache != NULL)
        c->cache_provider->destroy(c->cache, c->s);
    c->cache = NULL;
    return APR_SUCCESS;
}

static apr_status_t load_registry(consent_rt_t *c, apr_pool_t *ptemp, pds_error_t *err)
{
    apr_pool_t *pool;
    pds_trust_registry_t *reg;
    apr_finfo_t finfo;
    apr_status_t rv;

    rv = apr_stat(&finfo, c->registry_path, APR_FINFO_MTIME | APR_FINFO_SIZE, ptemp);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "bad-trust-registry", -1, c->registry_path,
                      "cannot read the file");
        return rv;
    }
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return APR_ENOMEM;
    rv = pds_trust_registry_load_file(&reg, pool, c->registry_path, err);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    if (c->registry_pool != NULL)
        apr_pool_destroy(c->registry_pool);
    c->registry_pool = pool;
    c->registry = reg;
    c->registry_mtime = finfo.mtime;
    c->registry_size = finfo.size;
    return APR_SUCCESS;
}

static apr_status_t destroy_registry(void *data)
{
    consent_rt_t *c = data;

    if (c->registry_pool != NULL)
        apr_pool_destroy(c->registry_pool);
    c->registry_pool = NULL;
    c->registry = NULL;
    return APR_SUCCESS;
}

/* The fill generations: made once per httpd process tree, kept across restarts. */
static apr_status_t attach_generations(gen_table_t **pt, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    apr_shm_t *shm = NULL;
    gen_table_t *t;
    void *data = NULL;
    const char *fname;
    apr_status_t rv;

    apr_pool_userdata_get(&data, GEN_USERDATA, pproc);
    if (data != NULL && apr_shm_size_get(data) >= sizeof(*t)) {
        t = apr_shm_baseaddr_get(data);
        if (t->magic == GEN_MAGIC && t->buckets == GEN_BUCKETS) {
            *pt = t;
            return APR_SUCCESS;
        }
    }
    /* A first start, or a module of another layout: a fresh table. */
    rv = apr_shm_create(&shm, sizeof(*t), NULL, pproc);
    if (rv == APR_ENOTIMPL) {
        fname = ap_runtime_dir_relative(pproc, "pds-consent-generations.shm");
        if (fname == NULL)
            return APR_EBADPATH;
        apr_shm_remove(fname, pproc);
        rv = apr_shm_create(&shm, sizeof(*t), fname, pproc);
    }
    if (rv != APR_SUCCESS)
        return rv;
    t = apr_shm_baseaddr_get(shm);
    memset(t, 0, sizeof(*t));
    rv = apr_generate_random_bytes((unsigned char *)&t->node, sizeof(t->node));
    if (rv != APR_SUCCESS)
        return rv;
    t->buckets = GEN_BUCKETS;
    t->magic = GEN_MAGIC;
    apr_pool_userdata_set(shm, GEN_USERDATA, apr_pool_cleanup_null, pproc);
    *pt = t;
    return APR_SUCCESS;
}

int pds_consent_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    pds_server_conf_t *sc = pds_server_conf(s);
    pds_consent_store_t *store;
    pds_error_t err;
    const char *cache_name;
    apr_status_t rv;

    if (sc->consent_driver == NULL && sc->trust_registry_path == NULL)
        return OK;
    rt = apr_pcalloc(pconf, sizeof(*rt));
    rt->s = s;
    rt->driver = sc->consent_driver;
    rt->params = sc->consent_params;
    rt->timeout_ms = pds_conf_consent_timeout(sc);
    rt->ttl = pds_conf_consent_cache_ttl(sc);
    rt->registry_path = sc->trust_registry_path;
    rt->registry_interval = pds_conf_trust_interval(sc);

    if (rt->registry_path != NULL) {
        pds_error_clear(&err);
        if (load_registry(rt, ptemp, &err) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00082: "
                         "PDSConsentTrustRegistry %s: %s", rt->registry_path, err.text);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_cleanup_register(pconf, rt, destroy_registry, apr_pool_cleanup_null);
        rt->registry_checked = apr_time_now();
    }
    if (rt->driver == NULL)
        return OK;

    if (strcmp(rt->driver, "sqlite3") == 0 && create_sqlite_file(rt->params, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* Create or upgrade the schema once, here, before any child runs. */
    pds_error_clear(&err);
    rv = pds_consent_store_open(&store, ptemp, rt->driver, rt->params, rt->timeout_ms, 1,
                                &err);
    if (rv == APR_SUCCESS)
        pds_consent_store_close(store);
    else if (strcmp(rt->driver, "sqlite3") == 0 || strcmp(err.code, "consent-store-schema") == 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00083: "
                     "PDSConsentStore %s %s: %s", rt->driver, rt->params, err.text);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    else {
        /* A database server may come up later: start, and fail closed until then. */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "PDS00084: the consent store is "
                     "unavailable (%s); consent requests get 503 until it is back", err.text);
    }
    if (strcmp(rt->driver, "sqlite3") == 0
        && give_sqlite_to_children(rt->params, ptemp, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;

    if (rt->ttl > 0) {
        struct ap_socache_hints hints = { 64, CACHE_MAX_ENTRY, 60 };
        const char *create_err;

        cache_name = sc->consent_cache_name ? sc->consent_cache_name : "shmcb";
        rt->cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, cache_name,
                                                AP_SOCACHE_PROVIDER_VERSION);
        if (rt->cache_provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00085: "
                         "PDSConsentCache: no cache provider '%s'; load it (LoadModule "
                         "socache_%s_module modules/mod_socache_%s.so), or turn caching "
                         "off with PDSConsentCache %s 0", cache_name, cache_name,
                         cache_name, cache_name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        create_err = rt->cache_provider->create(&rt->cache, sc->consent_cache_args, ptemp,
                                                pconf);
        if (create_err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "PDS00086: "
                         "PDSConsentCache %s: %s", cache_name, create_err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (rt->cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
            rv = ap_global_mutex_create(&rt->cache_mutex, NULL, CACHE_MUTEX_TYPE, NULL, s,
                                        pconf, 0);
            if (rv != APR_SUCCESS)
                return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = rt->cache_provider->init(rt->cache, CACHE_NAMESPACE, &hints, s, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00087: "
                         "cannot initialise the consent cache (%s)", cache_name);
            rt->cache = NULL;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_cleanup_register(pconf, rt, destroy_cache, apr_pool_cleanup_null);
        rv = attach_generations(&rt->gens, s);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, rv, s, "PDS00143: "
                         "cannot create the consent cache's shared memory (%" APR_SIZE_T_FMT
                         " bytes)", sizeof(gen_table_t));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rt->skew = apr_time_from_sec(pds_conf_clock_skew(sc));
    }
    return OK;
}

static apr_status_t store_construct(void **resource, void *params, apr_pool_t *pool)
{
    consent_rt_t *c = params;
    store_holder_t *h;
    apr_pool_t *hp;
    pds_error_t err;
    apr_status_t rv;

    (void)pool;
    /* Unmanaged: constructors run on many threads at once. */
    if (apr_pool_create_unmanaged_ex(&hp, NULL, NULL) != APR_SUCCESS)
        return APR_ENOMEM;
    h = apr_pcalloc(hp, sizeof(*h));
    h->pool = hp;
    pds_error_clear(&err);
    rv = pds_consent_store_open(&h->store, hp, c->driver, c->params, c->timeout_ms, 1, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, c->s, "PDS00088: cannot open the consent "
                     "store: %s", err.text);
        apr_pool_destroy(hp);
        return rv;
    }
    *resource = h;
    return APR_SUCCESS;
}

static apr_status_t store_destruct(void *resource, void *params, apr_pool_t *pool)
{
    store_holder_t *h = resource;

    (void)params; (void)pool;
    apr_pool_destroy(h->pool);      /* closes the connection */
    return APR_SUCCESS;
}

void pds_consent_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1;
    apr_status_t rv;

    if (rt == NULL)
        return;
    if (rt->cache_mutex != NULL) {
        rv = apr_global_mutex_child_init(&rt->cache_mutex,
                                         apr_global_mutex_lockfile(rt->cache_mutex), pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "PDS00089: cannot attach to the "
                         "consent cache's mutex");
    }
    apr_thread_mutex_create(&rt->registry_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rt->driver == NULL)
        return;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS || threads < 1)
        threads = 1;
    /* At most one connection per thread; none kept open when idle beyond one. */
    rv = apr_reslist_create(&rt->stores, 0, 1, threads, 0, store_construct, store_destruct,
                            rt, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "PDS00090: cannot create the consent "
                     "store's connection pool");
        rt->stores = NULL;
        return;
    }
    apr_reslist_timeout_set(rt->stores, apr_time_from_msec(rt->timeout_ms));
}

/* --- store and cache ------------------------------------------------------------ */

static store_holder_t *store_acquire(request_rec *r)
{
    void *res = NULL;

    if (rt == NULL || rt->stores == NULL
        || apr_reslist_acquire(rt->stores, &res) != APR_SUCCESS)
        return NULL;
    return res;
}

/* A connection that failed is dropped: the next request opens a fresh one. */
static void store_release(store_holder_t *h, int failed)
{
    if (h == NULL)
        return;
    if (failed || !pds_consent_store_alive(h->store, h->pool))
        apr_reslist_invalidate(rt->stores, h);
    else
        apr_reslist_release(rt->stores, h);
}

static int cache_lock(request_rec *r)
{
    return rt->cache_mutex == NULL || apr_global_mutex_lock(rt->cache_mutex) == APR_SUCCESS;
}

static void cache_unlock(void)
{
    if (rt->cache_mutex != NULL)
        apr_global_mutex_unlock(rt->cache_mutex);
}

/* A fill that read the store before a change committed must never be believed
 * after the change's answer is sent (the change clears the entry, but the
 * fill could put it back). So every server keeps, in shared memory, a
 * generation per bucket of subjects: a change bumps it after the store
 * committed and before the entry is cleared; a fill notes it before reading
 * the store, skips the put when it moved, and tags the entry with it. An
 * entry of this server whose tag is not the bucket's generation now is a
 * miss. An entry another server put (a cache they share) is believed only
 * if its fill began later than this server's last change in the bucket plus
 * PDSTokenClockSkew: a late fill racing our change cannot pass for new. */
typedef struct entry_tag_t {
    apr_uint64_t node;          /* the filling server's gen_table_t.node */
    apr_uint64_t filled;        /* apr_time_t its store read began */
    apr_uint32_t gen;           /* the bucket's generation before that read */
    apr_uint32_t magic;
} entry_tag_t;

typedef struct fill_t {
    apr_uint32_t bucket, gen;
    apr_time_t started;
} fill_t;

static apr_uint32_t gen_bucket(const char *subject)
{
    apr_ssize_t len = APR_HASH_KEY_STRING;

    return apr_hashfunc_default(subject, &len) % GEN_BUCKETS;
}

/* A full barrier: the generation is read before the store is. */
static apr_uint32_t gen_read(apr_uint32_t bucket)
{
    return apr_atomic_add32(&rt->gens->gen[bucket], 0);
}

static void fill_begin(fill_t *f, const char *subject)
{
    f->bucket = gen_bucket(subject);
    f->gen = rt->gens != NULL ? gen_read(f->bucket) : 0;
    f->started = apr_time_now();
}

/* Called after a change to subject's consents or opt-outs committed, before
 * its cache entry is removed: fills that began before now are not believed. */
static void fills_invalidate(const char *subject)
{
    apr_uint32_t b;

    if (rt == NULL || rt->gens == NULL)
        return;
    b = gen_bucket(subject);
    apr_atomic_set64(&rt->gens->changed[b], (apr_uint64_t)apr_time_now());
    apr_atomic_inc32(&rt->gens->gen[b]);
}

static int tag_believed(const entry_tag_t *tag, apr_uint32_t bucket)
{
    if (tag->magic != GEN_MAGIC)
        return 0;
    if (tag->node == rt->gens->node)
        return tag->gen == gen_read(bucket);
    return (apr_time_t)tag->filled
        > (apr_time_t)apr_atomic_read64(&rt->gens->changed[bucket]) + rt->skew;
}

/* The entry's data (after its tag) in buf, or NULL for a miss. */
static const unsigned char *cache_get(request_rec *r, const char *subject, const char *key,
                                      unsigned char *buf, unsigned int *len)
{
    entry_tag_t tag;
    apr_status_t rv;

    if (rt->cache == NULL || rt->gens == NULL || !cache_lock(r))
        return NULL;
    rv = rt->cache_provider->retrieve(rt->cache, r->server, (const unsigned char *)key,
                                      (unsigned int)strlen(key), buf, len, r->pool);
    cache_unlock();
    if (rv != APR_SUCCESS || *len < sizeof(tag))
        return NULL;
    memcpy(&tag, buf, sizeof(tag));
    if (!tag_believed(&tag, gen_bucket(subject)))
        return NULL;
    *len -= (unsigned int)sizeof(tag);
    return buf + sizeof(tag);
}

static void cache_put(request_rec *r, const fill_t *f, const char *key, const char *data,
                      apr_size_t len, apr_time_t expiry)
{
    entry_tag_t tag;
    unsigned char *entry;

    if (rt->cache == NULL || rt->gens == NULL || len > CACHE_MAX_ENTRY - sizeof(tag))
        return;
    /* A change since the fill began: what we read may be older than it. */
    if (gen_read(f->bucket) != f->gen)
        return;
    memset(&tag, 0, sizeof(tag));
    tag.node = rt->gens->node;
    tag.filled = (apr_uint64_t)f->started;
    tag.gen = f->gen;
    tag.magic = GEN_MAGIC;
    entry = apr_palloc(r->pool, sizeof(tag) + len);
    memcpy(entry, &tag, sizeof(tag));
    memcpy(entry + sizeof(tag), data, len);
    if (!cache_lock(r))
        return;
    rt->cache_provider->store(rt->cache, r->server, (const unsigned char *)key,
                              (unsigned int)strlen(key), expiry, entry,
                              (unsigned int)(sizeof(tag) + len), r->pool);
    cache_unlock();
}

static void cache_remove(request_rec *r, const char *key)
{
    if (rt == NULL || rt->cache == NULL || !cache_lock(r))
        return;
    rt->cache_provider->remove(rt->cache, r->server, (const unsigned char *)key,
                               (unsigned int)strlen(key), r->pool);
    cache_unlock();
}

/* After a change committed: first no fill older than it is believed, then
 * the entry goes (for the other servers sharing the cache, too). */
static void cache_changed(request_rec *r, const char *subject, const char *key)
{
    fills_invalidate(subject);
    cache_remove(r, key);
}

/* The consents that decide (subject, organisation, purpose): cached, or read. */
static apr_status_t consent_lookup(request_rec *r, const char *subject,
                                   const char *organisation, const char *purpose,
                                   pds_consent_lookup_t **pl, pds_error_t *err)
{
    const char *key = pds_consent_cache_key(r->pool, subject, organisation, purpose);
    unsigned char *buf = apr_palloc(r->pool, CACHE_MAX_ENTRY);
    const unsigned char *hit;
    unsigned int len = CACHE_MAX_ENTRY;
    store_holder_t *h;
    apr_status_t rv;
    apr_time_t expiry;
    fill_t fill;
    char *data;
    apr_size_t dlen;
    int i;

    hit = cache_get(r, subject, key, buf, &len);
    if (hit != NULL
        && pds_consent_lookup_decode(pl, r->pool, (const char *)hit, len, NULL) == APR_SUCCESS)
        return APR_SUCCESS;
    fill_begin(&fill, subject);
    h = store_acquire(r);
    if (h == NULL) {
        pds_error_set(err, "consent-store-unavailable", -1, "consent store",
                      "cannot connect to the consent store");
        return APR_EGENERAL;
    }
    rv = pds_consent_store_lookup(h->store, r->pool, subject, organisation, purpose, pl, err);
    store_release(h, rv != APR_SUCCESS);
    if (rv != APR_SUCCESS)
        return rv;
    /* Never cache past a consent's expiry: the entry would outlive it. */
    expiry = apr_time_now() + apr_time_from_sec(rt->ttl);
    for (i = 0; i < (*pl)->consents->nelts; i++) {
        const pds_consent_t *c = APR_ARRAY_IDX((*pl)->consents, i, const pds_consent_t *);
        if (c->expires > apr_time_now() && c->expires < expiry)
            expiry = c->expires;
    }
    data = pds_consent_lookup_encode(r->pool, *pl, &dlen);
    if (data != NULL)
        cache_put(r, &fill, key, data, dlen, expiry);
    return APR_SUCCESS;
}

static apr_status_t optout_lookup(request_rec *r, const char *subject, const char *purpose,
                                  int *opted_out, pds_error_t *err)
{
    const char *key = pds_optout_cache_key(r->pool, subject, purpose);
    unsigned char buf[sizeof(entry_tag_t) + 2];
    const unsigned char *hit;
    unsigned int len = sizeof(buf);
    store_holder_t *h;
    apr_status_t rv;
    fill_t fill;

    hit = cache_get(r, subject, key, buf, &len);
    if (hit != NULL && len == 1 && (hit[0] == '0' || hit[0] == '1')) {
        *opted_out = hit[0] == '1';
        return APR_SUCCESS;
    }
    fill_begin(&fill, subject);
    h = store_acquire(r);
    if (h == NULL) {
        pds_error_set(err, "consent-store-unavailable", -1, "consent store",
                      "cannot connect to the consent store");
        return APR_EGENERAL;
    }
    rv = pds_consent_store_opted_out(h->store, r->pool, subject, purpose, opted_out, err);
    store_release(h, rv != APR_SUCCESS);
    if (rv == APR_SUCCESS)
        cache_put(r, &fill, key, *opted_out ? "1" : "0", 1,
                  apr_time_now() + apr_time_from_sec(rt->ttl));
    return rv;
}

/* --- enforcement ------------------------------------------------------------------ */

static const char *narrow(request_rec *r, pds_request_t *rq, const pds_fieldset_t *allowed,
                          const char **detail)
{
    pds_fieldset_t *both;

    if (pds_fieldset_intersect(&both, r->pool, pds_agreement_release(rq->decision.agreement),
                               allowed) != APR_SUCCESS) {
        *detail = "the consent's fields cannot be applied";
        return "internal-error";
    }
    if (pds_fieldset_count(both) == 0) {
        *detail = "the consent covers none of the fields this agreement releases";
        return "consent-missing";
    }
    rq->release = both;
    return NULL;
}

static const char *check_artefact(request_rec *r, pds_request_t *rq, const char *compact,
                                  const char **detail)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const pds_agreement_t *a = rq->decision.agreement;
    pds_artefact_expect_t expect;
    pds_artefact_t *art = NULL;
    pds_error_t err;
    apr_status_t rv;
    apr_time_t now = apr_time_now();

    if (rt == NULL || rt->registry_path == NULL) {
        *detail = "this gateway trusts no consent artefact issuer";
        return "artefact-unknown-issuer";
    }
    memset(&expect, 0, sizeof(expect));
    expect.subject = rq->decision.subject;
    expect.organisation = rq->organisation;
    expect.purpose = rq->purpose;
    expect.agreement = pds_agreement_id(a);
    expect.now = r->request_time;
    expect.clock_skew = pds_conf_clock_skew(sc);
    expect.max_lifetime = 0;
    pds_error_clear(&err);

    apr_thread_mutex_lock(rt->registry_lock);
    /* Revocations must reach every child: check the file for changes at most
     * every PDSConsentTrustRegistry interval. A bad edit keeps the last good
     * registry in force, and says so. */
    if (now - rt->registry_checked >= apr_time_from_sec(rt->registry_interval)) {
        apr_finfo_t finfo;
        rt->registry_checked = now;
        if (apr_stat(&finfo, rt->registry_path, APR_FINFO_MTIME | APR_FINFO_SIZE, r->pool)
            == APR_SUCCESS
            && (finfo.mtime != rt->registry_mtime || finfo.size != rt->registry_size)) {
            pds_error_t lerr;
            pds_error_clear(&lerr);
            if (load_registry(rt, r->pool, &lerr) == APR_SUCCESS)
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "PDS00091: trust registry %s "
                              "reloaded", rt->registry_path);
            else {
                rt->registry_mtime = finfo.mtime;
                rt->registry_size = finfo.size;
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00092: trust registry %s "
                              "not reloaded, the previous one stays in force: %s",
                              rt->registry_path, lerr.text);
            }
        }
    }
    rv = pds_artefact_check(&art, r->pool, rt->registry, compact, strlen(compact), &expect,
                            &err);
    apr_thread_mutex_unlock(rt->registry_lock);
    if (rv != APR_SUCCESS) {
        *detail = apr_pstrdup(r->pool, err.text);
        return pds_reason_lookup(err.code) ? apr_pstrdup(r->pool, err.code)
                                           : "artefact-malformed";
    }
    rq->consent = apr_pstrcat(r->pool, "artefact:", art->id, NULL);
    return narrow(r, rq, art->fields, detail);
}

static int count_headers_cb(void *baton, const char *key, const char *value)
{
    (void)key; (void)value;
    (*(int *)baton)++;
    return 1;
}

static const char *enforce_consent(request_rec *r, pds_request_t *rq, const char **detail)
{
    const pds_agreement_t *a = rq->decision.agreement;
    const char *artefact, *reason = NULL;
    const pds_consent_t *c;
    pds_consent_lookup_t *l;
    pds_fieldset_t *fields;
    pds_error_t err;
    int n = 0;

    apr_table_do(count_headers_cb, &n, r->headers_in, PDS_ARTEFACT_HEADER, NULL);
    if (n > 1) {
        *detail = "send at most one " PDS_ARTEFACT_HEADER " header";
        return "artefact-malformed";
    }
    artefact = apr_table_get(r->headers_in, PDS_ARTEFACT_HEADER);
    if (artefact != NULL)
        return check_artefact(r, rq, artefact, detail);

    if (rt == NULL || rt->driver == NULL) {
        *detail = "this agreement needs consent: send a consent artefact in "
                  PDS_ARTEFACT_HEADER;
        return "consent-missing";
    }
    pds_error_clear(&err);
    if (consent_lookup(r, rq->decision.subject, rq->organisation, rq->purpose, &l, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00093: consent store: %s", err.text);
        *detail = "the consent store cannot be reached; try again later";
        return "consent-store-unavailable";
    }
    c = pds_consent_lookup_decide(l, rq->decision.subject, rq->organisation,
                                  pds_agreement_id(a), rq->purpose, r->request_time, &reason);
    if (c == NULL) {
        *detail = apr_psprintf(r->pool, "no live consent of this person covers %s for "
                               "purpose %s", rq->organisation, rq->purpose);
        return reason;
    }
    rq->consent = c->id;
    pds_error_clear(&err);
    if (pds_consent_fieldset(&fields, r->pool, c, &err) != APR_SUCCESS) {
        *detail = "a stored consent's fields are not readable";
        return "consent-store-unavailable";
    }
    return narrow(r, rq, fields, detail);
}

/* Art. 21 GDPR: a person may object to processing on these bases. */
static int optout_applies(const char *basis)
{
    return strcmp(basis, "legal-obligation") != 0 && strcmp(basis, "vital-interests") != 0
        && strcmp(basis, "consent") != 0;
}

/* "[*].<path>" for each of a consent's fields: a collection's record paths. */
static apr_status_t record_fieldset(pds_fieldset_t **pset, apr_pool_t *p,
                                    const apr_array_header_t *fields)
{
    pds_fieldset_t *set;
    int i;

    if (pds_fieldset_create(&set, p) != APR_SUCCESS)
        return APR_ENOMEM;
    for (i = 0; i < fields->nelts; i++) {
        if (pds_fieldset_add(set, apr_pstrcat(p, "[*].", APR_ARRAY_IDX(fields, i,
                                                                        const char *),
                                              NULL), NULL) != APR_SUCCESS)
            return APR_EINVAL;
    }
    *pset = set;
    return APR_SUCCESS;
}

apr_status_t pds_consent_row_decide(void *baton, const char *subject,
                                    const pds_fieldset_t **pset, const char **pseudonym,
                                    pds_error_t *err)
{
    pds_row_baton_t *b = baton;
    request_rec *r = b->r;
    pds_request_t *rq = b->rq;
    const pds_agreement_t *a = rq->decision.agreement;
    const char *basis = pds_agreement_legal_basis(a), *reason = NULL;

    *pset = NULL;
    *pseudonym = NULL;
    if (pds_subject_check(subject, NULL) != APR_SUCCESS)
        return APR_SUCCESS;                 /* not a subject we can ask about */
    if (strcmp(basis, "consent") == 0) {
        pds_consent_lookup_t *l;
        const pds_consent_t *c;
        pds_fieldset_t *fields, *both;

        if (rt == NULL || rt->driver == NULL)
            return APR_SUCCESS;             /* artefacts name one person: none here */
        if (consent_lookup(r, subject, rq->organisation, rq->purpose, &l, err)
            != APR_SUCCESS)
            return APR_EGENERAL;
        c = pds_consent_lookup_decide(l, subject, rq->organisation, pds_agreement_id(a),
                                      rq->purpose, r->request_time, &reason);
        if (c == NULL)
            return APR_SUCCESS;             /* no live consent: left out */
        /* Whose record it is stays (when the agreement releases it): a
         * collection without it could not be told apart. Added before the
         * intersection, so the agreement's transform of it still applies. */
        if (record_fieldset(&fields, r->pool, c->fields) != APR_SUCCESS
            || pds_fieldset_add(fields, apr_pstrcat(r->pool, "[*].",
                                                    pds_agreement_record_subject(a), NULL),
                                NULL) != APR_SUCCESS
            || pds_fieldset_intersect(&both, r->pool, pds_agreement_release(a), fields)
               != APR_SUCCESS) {
            pds_error_set(err, "internal-error", -1, "consent", "cannot narrow a record");
            return APR_EGENERAL;
        }
        *pset = both;
    }
    else {
        int opted_out = 0;

        if (rt != NULL && rt->driver != NULL && optout_applies(basis)) {
            if (optout_lookup(r, subject, rq->purpose, &opted_out, err) != APR_SUCCESS)
                return APR_EGENERAL;
            if (opted_out)
                return APR_SUCCESS;
        }
        *pset = pds_agreement_release(a);
    }
    if (b->key != NULL && pds_agreement_deidentified(a))
        *pseudonym = pds_pseudonym(r->pool, b->key, subject, strlen(subject));
    return APR_SUCCESS;
}

const char *pds_consent_enforce(request_rec *r, pds_request_t *rq, const char **detail)
{
    const pds_agreement_t *a = rq->decision.agreement;
    const char *basis = pds_agreement_legal_basis(a);
    pds_error_t err;
    int opted_out = 0;

    rq->release = pds_agreement_release(a);
    /* A collection read is decided record by record, in the response filter;
     * a write names no one, so a consent agreement cannot allow it. */
    if (rq->decision.subject == NULL && pds_agreement_record_subject(a) != NULL
        && r->method_number == M_GET)
        return NULL;
    if (strcmp(basis, "consent") == 0 && rq->decision.subject == NULL) {
        *detail = "a consent agreement must name whose data is asked for";
        return "consent-missing";
    }
    if (strcmp(basis, "consent") == 0)
        return enforce_consent(r, rq, detail);
    if (rt == NULL || rt->driver == NULL || rq->decision.subject == NULL
        || !optout_applies(basis))
        return NULL;
    pds_error_clear(&err);
    if (optout_lookup(r, rq->decision.subject, rq->purpose, &opted_out, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00094: consent store: %s", err.text);
        *detail = "the opt-out register cannot be reached; try again later";
        return "consent-store-unavailable";
    }
    if (opted_out) {
        *detail = apr_psprintf(r->pool, "the person has objected to purpose %s", rq->purpose);
        return "opted-out";
    }
    return NULL;
}

/* --- the person --------------------------------------------------------------------- */

const char *pds_person_subject(request_rec *r)
{
    const char *how = pds_conf_person_subject(pds_dir_conf(r));
    const char *subject;

    if (strncmp(how, "env:", 4) == 0) {
        subject = r->user != NULL ? apr_table_get(r->subprocess_env, how + 4) : NULL;
        if (subject == NULL && r->user != NULL)
            subject = apr_table_get(r->notes, how + 4);
    }
    else
        subject = r->user;
    if (subject == NULL || pds_subject_check(subject, NULL) != APR_SUCCESS)
        return NULL;
    return subject;
}

/* --- the API -------------------------------------------------------------------------- */

typedef struct api_t {
    request_rec *r;
    pds_server_conf_t *sc;
    const char *subject;
    const char *actor;              /* "person" or "manager:<org>" */
    const char *manager;            /* the organisation acting, or NULL */
    store_holder_t *h;
    int failed;                     /* the connection failed: drop it */
} api_t;

static int store_problem(api_t *api, const pds_error_t *err)
{
    const pds_reason_t *known = pds_reason_lookup(err->code);

    if (known == NULL || strcmp(err->code, "consent-store-unavailable") == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, api->r, "PDS00095: consent store: %s",
                      err->text);
        api->failed = 1;
        return pds_send_problem(api->r, "consent-store-unavailable",
                            "the consent store cannot be reached; nothing was changed");
    }
    return pds_send_problem(api->r, err->code, err->text);
}

/* Reads a JSON request body of at most PDS_CONSENT_MAX_BODY bytes. */
static int read_body(request_rec *r, char **pbody, apr_size_t *plen, const char **problem)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t len = 0;
    char *buf;
    long n;

    *problem = NULL;
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0
        || (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
        *problem = "send the body as application/json";
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        *problem = "the body cannot be read";
        return HTTP_BAD_REQUEST;
    }
    buf = apr_palloc(r->pool, PDS_CONSENT_MAX_BODY + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + len, PDS_CONSENT_MAX_BODY + 1 - len)) > 0) {
            len += (apr_size_t)n;
            if (len > PDS_CONSENT_MAX_BODY) {
                *problem = "the body is larger than 64 KiB";
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (n < 0) {
            *problem = "the body cannot be read";
            return HTTP_BAD_REQUEST;
        }
    }
    buf[len] = '\0';
    *pbody = buf;
    *plen = len;
    return OK;
}

/* Audits a change made through the API (after it is committed). */
static void audit_change(api_t *api, const char *action, const char *consent_id,
                         const char *purpose, int status)
{
    request_rec *r = api->r;
    pds_request_t *rq = apr_pcalloc(r->pool, sizeof(*rq));

    rq->request_id = pds_make_request_id(r);
    rq->organisation = api->manager;
    rq->purpose = purpose;
    rq->path = apr_pstrcat(r->pool, r->uri, NULL);
    rq->decision.subject = api->subject;
    rq->consent = consent_id;
    if (pds_audit_decision(r, rq, "allow", NULL, status, NULL) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00096: the consent change %s of "
                      "%s was made but could not be audited", action,
                      consent_id ? consent_id : "(mandate or opt-out)");
}

static json_t *receipt_for(api_t *api, const pds_consent_t *c, const char *action)
{
    request_rec *r = api->r;
    json_t *jwk = pds_key_public_jwk(api->sc->consent_receipt_key, r->pool);
    json_t *header, *payload;
    char *compact = NULL;
    pds_error_t err;
    unsigned char raw[16];
    apr_status_t rv;

    if (jwk == NULL || apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        json_decref(jwk);
        return NULL;
    }
    header = json_pack("{s:s,s:O}", "typ", RECEIPT_TYPE, "kid", json_object_get(jwk, "kid"));
    payload = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}",
                        /* configured, never the request's Host */
                        "iss", pds_conf_receipt_issuer(api->sc, rt->s),
                        "jti", apr_pstrcat(r->pool, "r-",
                                           pds_base64url_encode(r->pool, raw, sizeof(raw)),
                                           NULL),
                        "iat", (json_int_t)apr_time_sec(apr_time_now()),
                        "action", action,
                        "actor", api->actor,
                        "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool));
    json_decref(jwk);
    pds_error_clear(&err);
    rv = header && payload
        ? pds_jws_sign(&compact, r->pool, api->sc->consent_receipt_key, header, payload, &err)
        : APR_ENOMEM;
    json_decref(header);
    json_decref(payload);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00097: cannot sign a consent "
                      "receipt: %s", err.text);
        return NULL;
    }
    return json_string(compact);
}

/* Is the organisation of the grant one an agreement asks consent for? */
static const char *grant_fits_agreements(api_t *api, const pds_consent_t *c)
{
    const apr_array_header_t *as = api->sc->agreements;
    int i, j, k, found = 0;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);
        int purpose_ok = 0;

        if (strcmp(pds_agreement_party(a), c->organisation) != 0
            || strcmp(pds_agreement_legal_basis(a), "consent") != 0
            || (c->agreement != NULL && strcmp(pds_agreement_id(a), c->agreement) != 0))
            continue;
        for (j = 0; j < purposes->nelts; j++)
            purpose_ok |= strcmp(APR_ARRAY_IDX(purposes, j, const char *), c->purpose) == 0;
        if (!purpose_ok)
            continue;
        found = 1;
        for (k = 0; k < c->fields->nelts; k++) {
            const char *f = APR_ARRAY_IDX(c->fields, k, const char *);
            pds_fieldset_t *one, *both;
            if (pds_fieldset_create(&one, api->r->pool) != APR_SUCCESS
                || pds_fieldset_add(one, f, NULL) != APR_SUCCESS
                || pds_fieldset_intersect(&both, api->r->pool, pds_agreement_release(a), one)
                   != APR_SUCCESS
                || pds_fieldset_count(both) == 0)
                return apr_psprintf(api->r->pool, "field %s is not released by agreement %s",
                                    f, pds_agreement_id(a));
        }
        return NULL;
    }
    if (!found)
        return apr_psprintf(api->r->pool, "no agreement with %s asks for consent for purpose "
                            "%s%s%s", c->organisation, c->purpose,
                            c->agreement ? " under " : "", c->agreement ? c->agreement : "");
    return NULL;
}

static int api_grant(api_t *api)
{
    request_rec *r = api->r;
    const char *problem, *misfit;
    pds_consent_t *c;
    pds_error_t err;
    char *body;
    apr_size_t len;
    json_t *receipt;
    int status;

    status = read_body(r, &body, &len, &problem);
    if (status == HTTP_UNSUPPORTED_MEDIA_TYPE)
        return pds_send_problem(r, "unsupported-media-type", problem);
    if (status != OK)
        return pds_send_problem(r, "bad-consent-body", problem);
    pds_error_clear(&err);
    if (pds_consent_from_grant(&c, r->pool, body, len, api->subject, api->actor,
                               apr_time_now(), &err) != APR_SUCCESS)
        return pds_send_problem(r, err.code, err.text);
    if ((misfit = grant_fits_agreements(api, c)) != NULL)
        return pds_send_problem(r, "invalid-consent", misfit);
    if (pds_consent_store_insert(api->h->store, r->pool, c, &err) != APR_SUCCESS)
        return store_problem(api, &err);
    cache_changed(r, c->subject,
                  pds_consent_cache_key(r->pool, c->subject, c->organisation, c->purpose));
    audit_change(api, "grant", c->id, c->purpose, HTTP_CREATED);
    receipt = receipt_for(api, c, "grant");
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, r->uri, "/", c->id, NULL));
    return pds_send_json(r, HTTP_CREATED, json_pack("{s:o,s:o}",
                     "consent", pds_consent_to_json(c, NULL, apr_time_now(), r->pool),
                     "receipt", receipt ? receipt : json_null()));
}

/* Reads a consent of this subject; others' consents do not exist for them. */
static int load_own(api_t *api, const char *id, pds_consent_t **pc,
                    apr_array_header_t **phist, int *handled)
{
    pds_error_t err;
    apr_status_t rv;

    pds_error_clear(&err);
    rv = pds_consent_store_get(api->h->store, api->r->pool, id, pc, phist, &err);
    *handled = 1;
    if (rv == APR_NOTFOUND || (rv == APR_SUCCESS && strcmp((*pc)->subject, api->subject) != 0))
        return pds_send_problem(api->r, "consent-not-found", "no consent of yours has this id");
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    *handled = 0;
    return OK;
}

static int api_change(api_t *api, const char *id, const char *action)
{
    request_rec *r = api->r;
    pds_consent_t *c, *next;
    apr_array_header_t *hist;
    pds_error_t err;
    json_t *receipt;
    int handled, attempt, rc;
    apr_status_t rv = APR_EGENERAL;

    if (ap_discard_request_body(r) != OK)
        return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
    /* Compare and set: a concurrent change makes us read again, not overwrite. */
    for (attempt = 0; attempt < CHANGE_RETRIES; attempt++) {
        rc = load_own(api, id, &c, NULL, &handled);
        if (handled)
            return rc;
        pds_error_clear(&err);
        if (pds_consent_transition(&next, r->pool, c, action, api->actor, apr_time_now(), &err)
            != APR_SUCCESS)
            return pds_send_problem(r, err.code, err.text);
        pds_error_clear(&err);
        rv = pds_consent_store_update(api->h->store, r->pool, c, next, action, &err);
        if (rv != APR_EAGAIN)
            break;
    }
    /* Even a failed write may have committed: the entry goes either way. */
    cache_changed(r, c->subject,
                  pds_consent_cache_key(r->pool, c->subject, c->organisation, c->purpose));
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    audit_change(api, action, c->id, c->purpose, HTTP_OK);
    rc = load_own(api, id, &next, &hist, &handled);
    if (handled)
        return rc;
    receipt = receipt_for(api, next, action);
    return pds_send_json(r, HTTP_OK, json_pack("{s:o,s:o}",
                     "consent", pds_consent_to_json(next, hist, apr_time_now(), r->pool),
                     "receipt", receipt ? receipt : json_null()));
}

static int api_list(api_t *api)
{
    apr_array_header_t *list;
    pds_error_t err;
    json_t *arr;
    int i;

    pds_error_clear(&err);
    if (pds_consent_store_list(api->h->store, api->r->pool, api->subject, &list, &err)
        != APR_SUCCESS)
        return store_problem(api, &err);
    arr = json_array();
    for (i = 0; arr != NULL && i < list->nelts; i++)
        json_array_append_new(arr, pds_consent_to_json(APR_ARRAY_IDX(list, i, pds_consent_t *),
                                                       NULL, apr_time_now(), api->r->pool));
    return pds_send_json(api->r, HTTP_OK, json_pack("{s:s,s:o}", "subject", api->subject,
                                                "consents", arr));
}

/* Does organisation have an agreement for purpose that an opt-out refuses?
 * Then withdrawing the person's objection to purpose would widen its own
 * access: a consent manager may not do that for itself (as with grants). */
static int optout_guards(const pds_server_conf_t *sc, const char *organisation,
                         const char *purpose)
{
    const apr_array_header_t *as = sc->agreements;
    int i, j;

    for (i = 0; i < as->nelts; i++) {
        const pds_agreement_t *a = APR_ARRAY_IDX(as, i, const pds_agreement_t *);
        const apr_array_header_t *purposes = pds_agreement_purposes(a);

        if (strcmp(pds_agreement_party(a), organisation) != 0
            || !optout_applies(pds_agreement_legal_basis(a)))
            continue;
        for (j = 0; j < purposes->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(purposes, j, const char *), purpose) == 0)
                return 1;
        }
    }
    return 0;
}

/* Mandates and opt-outs share a shape: a set of names a person turns on and off. */
static int api_names(api_t *api, int mandates, const char *name)
{
    request_rec *r = api->r;
    apr_array_header_t *names, *times;
    pds_error_t err;
    apr_status_t rv;
    json_t *arr;
    int i, changed = 0;

    pds_error_clear(&err);
    if (name != NULL) {
        int on = r->method_number == M_PUT;
        if (r->method_number != M_PUT && r->method_number != M_DELETE)
            return pds_send_problem(r, "method-not-allowed", "use PUT to add, DELETE to remove");
        if (mandates && on && (!pds_conf_is_consent_manager(api->sc, name)))
            return pds_send_problem(r, "invalid-consent", apr_psprintf(r->pool, "%s is not a "
                                "consent manager this gateway knows", name));
        if (!mandates && !on && api->manager != NULL
            && optout_guards(api->sc, api->manager, name))
            return pds_send_problem(r, "mandate-not-for-self", apr_psprintf(r->pool, "a "
                                "consent manager cannot withdraw an objection to %s: it "
                                "would release data to %s itself; only the person can",
                                name, api->manager));
        if (ap_discard_request_body(r) != OK)
            return pds_send_problem(r, "bad-consent-body", "the body cannot be read");
        rv = mandates
            ? pds_consent_store_mandate_set(api->h->store, r->pool, api->subject, name, on,
                                            apr_time_now(), &changed, &err)
            : pds_consent_store_optout_set(api->h->store, r->pool, api->subject, name, on,
                                           apr_time_now(), &changed, &err);
        if (!mandates)      /* even a failed write may have committed */
            cache_changed(r, api->subject, pds_optout_cache_key(r->pool, api->subject, name));
        if (rv != APR_SUCCESS)
            return store_problem(api, &err);
        if (changed)
            audit_change(api, apr_pstrcat(r->pool, mandates ? "mandate-" : "opt-out-",
                                          on ? "on" : "off", NULL), NULL,
                         mandates ? NULL : name, HTTP_OK);
    }
    else if (r->method_number != M_GET)
        return pds_send_problem(r, "method-not-allowed", "use GET");
    rv = mandates
        ? pds_consent_store_mandates(api->h->store, r->pool, api->subject, &names, &times, &err)
        : pds_consent_store_optouts(api->h->store, r->pool, api->subject, &names, &times, &err);
    if (rv != APR_SUCCESS)
        return store_problem(api, &err);
    arr = json_array();
    for (i = 0; arr != NULL && i < names->nelts; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}",
                              mandates ? "manager" : "purpose",
                              APR_ARRAY_IDX(names, i, const char *),
                              "since", pds_time_format(r->pool,
                                                       APR_ARRAY_IDX(times, i, apr_time_t))));
    return pds_send_json(r, HTTP_OK, json_pack("{s:s,s:o}", "subject", api->subject,
                                           mandates ? "mandates" : "opt_outs", arr));
}

static int api_keys(request_rec *r, pds_server_conf_t *sc)
{
    json_t *jwk = pds_key_public_jwk(sc->consent_receipt_key, r->pool);

    if (jwk == NULL)
        return pds_send_problem(r, "internal-error", "the receipt key cannot be published");
    return pds_send_json(r, HTTP_OK, json_pack("{s:[o]}", "keys", jwk));
}

/* The path below the handler's <Location>, split at "/" (empty segments refused). */
static apr_array_header_t *route_segments(request_rec *r, const char *location)
{
    apr_array_header_t *segs = apr_array_make(r->pool, 6, sizeof(const char *));
    apr_size_t loclen = location ? strlen(location) : 0;
    const char *rest;
    char *copy, *tok, *state;

    while (loclen > 0 && location[loclen - 1] == '/')
        loclen--;
    if (location == NULL || strncmp(r->uri, location, loclen) != 0
        || (r->uri[loclen] != '\0' && r->uri[loclen] != '/'))
        return NULL;
    rest = r->uri + loclen;
    if (strstr(rest, "//") != NULL)
        return NULL;
    copy = apr_pstrdup(r->pool, rest);
    for (tok = apr_strtok(copy, "/", &state); tok != NULL; tok = apr_strtok(NULL, "/", &state))
        APR_ARRAY_PUSH(segs, const char *) = tok;
    return segs;
}

/* 1 to 64 of [A-Za-z0-9._-]: organisation and purpose names. */
static int is_name_token(const char *s)
{
    apr_size_t n = 0;

    for (; *s != '\0'; s++, n++) {
        if (n >= 64 || !(apr_isalnum(*s) || *s == '.' || *s == '_' || *s == '-'))
            return 0;
    }
    return n > 0;
}

/* Where the handler is mounted: the innermost <Location>'s literal path (core
 * keeps it for every section; our own config only where a mod_pds directive
 * is). NULL when the innermost section is no literal path (<If>, a regex). */
static const char *handler_location(request_rec *r)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);

    if (core == NULL || core->d == NULL || core->d[0] != '/' || core->d_is_fnmatch
        || core->r != NULL)
        return NULL;
    return core->d;
}

static int is_consent_id(const char *s)
{
    int i;

    if (strlen(s) != 34 || s[0] != 'c' || s[1] != '-')
        return 0;
    for (i = 2; i < 34; i++) {
        if (!apr_isxdigit(s[i]) || apr_isupper(s[i]))
            return 0;
    }
    return 1;
}

int pds_consent_handler(request_rec *r)
{
    pds_server_conf_t *sc;
    apr_array_header_t *segs;
    const char **seg;
    api_t api;
    int n, base = 0, rc, delegated;

    if (r->handler == NULL || strcmp(r->handler, CONSENT_HANDLER) != 0)
        return DECLINED;
    sc = pds_server_conf(r->server);
    if (r->args != NULL)
        return pds_send_problem(r, "query-not-allowed", "the consent API takes no query string");
    segs = route_segments(r, handler_location(r));
    if (segs == NULL) {
        if (handler_location(r) == NULL)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PDS00098: SetHandler pds-consent "
                          "must be in a <Location> with a literal path (not inside <If>, "
                          "<Files> or a regular expression section)");
        return pds_send_problem(r, "not-found", "no such consent API resource");
    }
    seg = (const char **)segs->elts;
    n = segs->nelts;

    if (n == 1 && strcmp(seg[0], "keys") == 0 && sc->consent_receipt_key != NULL) {
        if (r->method_number != M_GET)
            return pds_send_problem(r, "method-not-allowed", "use GET");
        return api_keys(r, sc);
    }
    if (rt == NULL || rt->driver == NULL)
        return pds_send_problem(r, "not-found", "this server keeps no consents (PDSConsentStore)");

    memset(&api, 0, sizeof(api));
    api.r = r;
    api.sc = sc;
    delegated = n >= 2 && strcmp(seg[0], "subjects") == 0;
    if (delegated) {
        const char *why = NULL, *detail = NULL;
        pds_error_t err;
        int held = 0;

        api.manager = pds_identify(r, sc, &why, &detail);
        if (api.manager == NULL)
            return pds_send_problem(r, why, detail);
        if (!pds_conf_is_consent_manager(sc, api.manager))
            return pds_send_problem(r, "not-a-consent-manager", apr_psprintf(r->pool, "%s is not "
                                "a consent manager (PDSConsentManager)", api.manager));
        if (pds_subject_check(seg[1], NULL) != APR_SUCCESS)
            return pds_send_problem(r, "bad-subject", "the subject identifier is not valid");
        api.subject = seg[1];
        api.actor = apr_pstrcat(r->pool, "manager:", api.manager, NULL);
        base = 2;
        api.h = store_acquire(r);
        if (api.h == NULL)
            return pds_send_problem(r, "consent-store-unavailable",
                                "the consent store cannot be reached");
        pds_error_clear(&err);
        if (pds_consent_store_mandate_held(api.h->store, r->pool, api.subject, api.manager,
                                           &held, &err) != APR_SUCCESS) {
            rc = store_problem(&api, &err);
            store_release(api.h, api.failed);
            return rc;
        }
        if (!held) {
            store_release(api.h, 0);
            return pds_send_problem(r, "no-mandate", apr_psprintf(r->pool, "%s holds no mandate "
                                "from this person", api.manager));
        }
    }
    else {
        api.subject = pds_person_subject(r);
        if (api.subject == NULL)
            return pds_send_problem(r, "person-not-identified", "sign in first: the consent API "
                                "acts for the person httpd authenticated");
        api.actor = "person";
        api.h = store_acquire(r);
        if (api.h == NULL)
            return pds_send_problem(r, "consent-store-unavailable",
                                "the consent store cannot be reached");
    }

    seg += base;
    n -= base;
    if (n == 1 && strcmp(seg[0], "consents") == 0 && r->method_number == M_GET)
        rc = api_list(&api);
    else if (n == 1 && strcmp(seg[0], "consents") == 0 && r->method_number == M_POST)
        rc = api_grant(&api);
    else if (n == 2 && strcmp(seg[0], "consents") == 0 && is_consent_id(seg[1])
             && r->method_number == M_GET) {
        pds_consent_t *c;
        apr_array_header_t *hist;
        int handled;
        rc = load_own(&api, seg[1], &c, &hist, &handled);
        if (!handled)
            rc = pds_send_json(r, HTTP_OK, pds_consent_to_json(c, hist, apr_time_now(), r->pool));
    }
    else if (n == 3 && strcmp(seg[0], "consents") == 0 && is_consent_id(seg[1])
             && r->method_number == M_POST
             && (strcmp(seg[2], "pause") == 0 || strcmp(seg[2], "resume") == 0
                 || strcmp(seg[2], "revoke") == 0))
        rc = api_change(&api, seg[1], seg[2]);
    else if (delegated && n >= 1 && strcmp(seg[0], "mandates") == 0)
        rc = pds_send_problem(r, "not-found", "mandates are given by the person only");
    else if ((n == 1 || n == 2) && strcmp(seg[0], "mandates") == 0)
        rc = n == 2 && !is_name_token(seg[1])
            ? pds_send_problem(r, "invalid-consent", "not an organisation's name")
            : api_names(&api, 1, n == 2 ? seg[1] : NULL);
    else if ((n == 1 || n == 2) && strcmp(seg[0], "opt-outs") == 0)
        rc = n == 2 && !is_name_token(seg[1])
            ? pds_send_problem(r, "invalid-consent", "not a purpose name")
            : api_names(&api, 0, n == 2 ? seg[1] : NULL);
    else if (n >= 1 && (strcmp(seg[0], "consents") == 0 || strcmp(seg[0], "mandates") == 0
                        || strcmp(seg[0], "opt-outs") == 0) && n <= 3)
        rc = pds_send_problem(r, "method-not-allowed", "see docs/consent.md for the API");
    else
        rc = pds_send_problem(r, "not-found", "no such consent API resource");
    store_release(api.h, api.failed);
    return rc;
}
