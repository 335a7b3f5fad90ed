/* mod_pds_consent_cache.c: the consent store, its cache and the trust
 * registry, from start to each request (mod_pds_consent_cache.h).
 *
 * Decisions from the store are cached through a socache provider (shmcb by
 * default) for PDSConsentCache's TTL: a change made through this server's
 * API evicts the entry at once; another server sharing the store sees it
 * within the TTL. A lookup racing a change cannot put the old decision back:
 * entries carry a per-subject-bucket generation from shared memory that the
 * change bumps first (see cache_get). Any store failure fails closed (503),
 * and each request tries the store again, so the gateway recovers when the
 * store does.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "unixd.h"
#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_reslist.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_pds_consent_cache.h"
#include "mod_pds_metrics.h"

#define CACHE_MUTEX_TYPE  "pds-consent-cache"
#define CACHE_NAMESPACE   "mod_pds-consent-2"  /* entries carry an entry_tag_t */
#define CACHE_MAX_ENTRY   16384

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

/* Loads the registry file anew; the one in force stays on any failure. */
static apr_status_t load_registry(consent_rt_t *c, apr_pool_t *ptemp, pds_error_t *err)
{
    apr_finfo_t finfo;
    apr_status_t rv = apr_stat(&finfo, c->registry_path, APR_FINFO_MTIME | APR_FINFO_SIZE,
                               ptemp);
    apr_pool_t *pool;
    pds_trust_registry_t *reg;

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
    pds_consent_conn_t *h;
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
    pds_consent_conn_t *h = resource;

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

pds_consent_conn_t *pds_consent_conn_acquire(request_rec *r)
{
    void *res = NULL;

    if (rt == NULL || rt->stores == NULL
        || apr_reslist_acquire(rt->stores, &res) != APR_SUCCESS)
        return NULL;
    return res;
}

/* A connection that failed is dropped: the next request opens a fresh one. */
void pds_consent_conn_release(pds_consent_conn_t *h, int failed)
{
    if (h == NULL)
        return;
    if (failed || !pds_consent_store_alive(h->store, h->pool))
        apr_reslist_invalidate(rt->stores, h);
    else
        apr_reslist_release(rt->stores, h);
}

/* A cache server that accepts connections and never answers (a hung or
 * stopped memcached: apr_memcache reads without a timeout) would hold every
 * request that asks it. So each process counts its cache calls in flight:
 * once calls have been pending for CACHE_HUNG_MS with none finishing, the
 * others leave the cache out (a miss; no put, no remove: the TTL bounds what
 * stays in it) and read the store, until a call finishes again. Per process,
 * so that a call in flight goes with its process. */
#define CACHE_HUNG_MS 1000
static volatile apr_uint32_t calls_pending;
static volatile apr_uint64_t calls_progress;    /* last finish, or start after idle */
static volatile apr_uint32_t cache_left_out;    /* logged once per episode */

static int cache_call_begin(request_rec *r)
{
    apr_time_t now = apr_time_now();

    if (apr_atomic_read32(&calls_pending) > 0
        && now - (apr_time_t)apr_atomic_read64(&calls_progress)
           > apr_time_from_msec(CACHE_HUNG_MS)) {
        if (apr_atomic_cas32(&cache_left_out, 1, 0) == 0)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "PDS00472: the consent cache "
                          "has not answered for more than %d ms; consent lookups read the "
                          "store until it does", CACHE_HUNG_MS);
        return 0;
    }
    if (apr_atomic_inc32(&calls_pending) == 0)
        apr_atomic_set64(&calls_progress, (apr_uint64_t)now);
    return 1;
}

static void cache_call_end(request_rec *r)
{
    apr_atomic_set64(&calls_progress, (apr_uint64_t)apr_time_now());
    apr_atomic_dec32(&calls_pending);
    if (apr_atomic_cas32(&cache_left_out, 0, 1) == 1)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "PDS00473: the consent cache answers "
                      "again");
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
 * PDSTokenClockSkew: a late fill racing our change cannot pass for new.
 * No entry is believed once its fill is older than the TTL (by this
 * server's clock, so the servers' clocks must agree: docs/deployment.md). */
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
    /* The TTL is the revocation bound whatever the provider does with the
     * expiry it is given (memcached counts whole seconds; an entry another
     * server could not remove while the cache was out of its reach stays
     * until it expires): an entry filled longer ago than the TTL is a miss. */
    if (apr_time_now() - (apr_time_t)tag->filled >= apr_time_from_sec(rt->ttl))
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

    if (rt->cache == NULL || rt->gens == NULL || !cache_call_begin(r))
        return NULL;
    if (!cache_lock(r)) {
        cache_call_end(r);
        return NULL;
    }
    rv = rt->cache_provider->retrieve(rt->cache, r->server, (const unsigned char *)key,
                                      (unsigned int)strlen(key), buf, len, r->pool);
    cache_unlock();
    cache_call_end(r);
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
    if (!cache_call_begin(r))
        return;
    if (cache_lock(r)) {
        rt->cache_provider->store(rt->cache, r->server, (const unsigned char *)key,
                                  (unsigned int)strlen(key), expiry, entry,
                                  (unsigned int)(sizeof(tag) + len), r->pool);
        cache_unlock();
    }
    cache_call_end(r);
}

static void cache_remove(request_rec *r, const char *key)
{
    if (rt == NULL || rt->cache == NULL || !cache_call_begin(r))
        return;
    if (cache_lock(r)) {
        rt->cache_provider->remove(rt->cache, r->server, (const unsigned char *)key,
                                   (unsigned int)strlen(key), r->pool);
        cache_unlock();
    }
    cache_call_end(r);
}

/* After a change committed: first no fill older than it is believed, then
 * the entry goes (for the other servers sharing the cache, too). */
void pds_consent_cache_changed(request_rec *r, const char *subject, const char *key)
{
    fills_invalidate(subject);
    cache_remove(r, key);
}

/* A fill begins (its generation noted), then a connection to the store:
 * NULL, with err set, when none can be had. */
static pds_consent_conn_t *fill_acquire(request_rec *r, fill_t *fill, const char *subject,
                                        pds_error_t *err)
{
    pds_consent_conn_t *h;

    fill_begin(fill, subject);
    h = pds_consent_conn_acquire(r);
    if (h == NULL)
        pds_error_set(err, "consent-store-unavailable", -1, "consent store",
                      "cannot connect to the consent store");
    return h;
}

/* The consents that decide (subject, organisation, purpose): cached, or read. */
apr_status_t pds_consent_lookup_cached(request_rec *r, const char *subject,
                                       const char *organisation, const char *purpose,
                                       pds_consent_lookup_t **pl, pds_error_t *err)
{
    const char *key = pds_consent_cache_key(r->pool, subject, organisation, purpose);
    unsigned char *buf = apr_palloc(r->pool, CACHE_MAX_ENTRY);
    const unsigned char *hit;
    unsigned int len = CACHE_MAX_ENTRY;
    pds_consent_conn_t *h;
    apr_status_t rv;
    apr_time_t expiry;
    fill_t fill;
    char *data;
    apr_size_t dlen;
    apr_time_t started;
    int i;

    hit = cache_get(r, subject, key, buf, &len);
    if (hit != NULL
        && pds_consent_lookup_decode(pl, r->pool, (const char *)hit, len, NULL) == APR_SUCCESS) {
        pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_CONSENTS, PDS_METRICS_HIT, 0);
        return APR_SUCCESS;
    }
    started = apr_time_now();
    h = fill_acquire(r, &fill, subject, err);
    if (h == NULL) {
        pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_CONSENTS, PDS_METRICS_ERROR,
                                   pds_counters_since(started));
        return APR_EGENERAL;
    }
    rv = pds_consent_store_lookup(h->store, r->pool, subject, organisation, purpose, pl, err);
    pds_consent_conn_release(h, rv != APR_SUCCESS);
    pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_CONSENTS,
                               rv == APR_SUCCESS ? PDS_METRICS_MISS : PDS_METRICS_ERROR,
                               pds_counters_since(started));
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

apr_status_t pds_optout_lookup_cached(request_rec *r, const char *subject,
                                      const char *purpose, int *opted_out, pds_error_t *err)
{
    const char *key = pds_optout_cache_key(r->pool, subject, purpose);
    unsigned char buf[sizeof(entry_tag_t) + 2];
    const unsigned char *hit;
    unsigned int len = sizeof(buf);
    pds_consent_conn_t *h;
    apr_status_t rv;
    apr_time_t started;
    fill_t fill;

    hit = cache_get(r, subject, key, buf, &len);
    if (hit != NULL && len == 1 && (hit[0] == '0' || hit[0] == '1')) {
        *opted_out = hit[0] == '1';
        pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_OPTOUTS, PDS_METRICS_HIT, 0);
        return APR_SUCCESS;
    }
    started = apr_time_now();
    h = fill_acquire(r, &fill, subject, err);
    if (h == NULL) {
        pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_OPTOUTS, PDS_METRICS_ERROR,
                                   pds_counters_since(started));
        return APR_EGENERAL;
    }
    rv = pds_consent_store_list_held(h->store, r->pool, PDS_CONSENT_OPTOUTS,
                                     subject, purpose, opted_out, err);
    pds_consent_conn_release(h, rv != APR_SUCCESS);
    pds_metrics_consent_lookup(pds_counters(), PDS_METRICS_OPTOUTS,
                               rv == APR_SUCCESS ? PDS_METRICS_MISS : PDS_METRICS_ERROR,
                               pds_counters_since(started));
    if (rv == APR_SUCCESS)
        cache_put(r, &fill, key, *opted_out ? "1" : "0", 1,
                  apr_time_now() + apr_time_from_sec(rt->ttl));
    return rv;
}

int pds_consent_has_store(void)
{
    return rt != NULL && rt->driver != NULL;
}

int pds_consent_trusts_artefacts(void)
{
    return rt != NULL && rt->registry_path != NULL;
}

server_rec *pds_consent_server(void)
{
    return rt != NULL ? rt->s : NULL;
}

/* --- the trust registry of artefact issuers ------------------------------------ */

apr_status_t pds_consent_artefact_check(request_rec *r, const char *compact,
                                        const pds_artefact_expect_t *expect,
                                        pds_artefact_t **part, pds_error_t *err)
{
    apr_time_t now = apr_time_now();
    apr_status_t rv;

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
    rv = pds_artefact_check(part, r->pool, rt->registry, compact, strlen(compact), expect,
                            err);
    apr_thread_mutex_unlock(rt->registry_lock);
    return rv;
}
