/* pds_test.c: the unit tests' shared scaffolding (see pds_test.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "pds_test.h"
#include "pds_filter.h"

/* ---- running a group ------------------------------------------------------ */

static apr_pool_t *root;

int pds_test_init(void)
{
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
        return -1;
    return 0;
}

void pds_test_done(void)
{
    apr_pool_destroy(root);
    root = NULL;
    apr_terminate();
}

int pds_test_run_group(const char *name, const struct CMUnitTest *tests, size_t count,
                       CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    int failed;

    if (pds_test_init() != 0)
        return 1;
    failed = _cmocka_run_group_tests(name, tests, count, group_setup, group_teardown);
    pds_test_done();
    return failed != 0 ? 1 : 0;
}

apr_pool_t *pds_test_root(void)
{
    return root;
}

/* ---- the pool fixture ----------------------------------------------------- */

int pds_test_pool_setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, root) != APR_SUCCESS)
        return -1;
    *state = p;
    return 0;
}

int pds_test_pool_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

/* ---- the chaos allocator -------------------------------------------------- */

static long chaos_count, chaos_fail_at, chaos_live;
static int chaos_failed;

static void *chaos_malloc(size_t size)
{
    void *ptr;

    if (++chaos_count == chaos_fail_at) {
        chaos_failed = 1;
        return NULL;
    }
    ptr = malloc(size);
    if (ptr != NULL)
        chaos_live++;
    return ptr;
}

static void chaos_free(void *ptr)
{
    if (ptr == NULL)
        return;
    chaos_live--;
    free(ptr);
}

void pds_chaos_install(void)
{
    json_set_alloc_funcs(chaos_malloc, chaos_free);
}

void pds_chaos_remove(void)
{
    json_set_alloc_funcs(malloc, free);
}

void pds_chaos_arm(long fail_at)
{
    chaos_count = 0;
    chaos_live = 0;
    chaos_failed = 0;
    chaos_fail_at = fail_at;
}

int pds_chaos_failed(void)
{
    return chaos_failed;
}

long pds_chaos_count(void)
{
    return chaos_count;
}

long pds_chaos_live(void)
{
    return chaos_live;
}

/* ---- files ---------------------------------------------------------------- */

char *pds_test_read_file(apr_pool_t *p, const char *path, apr_size_t *plen)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p)
        != APR_SUCCESS)
        fail_msg("cannot open %s", path);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (n > 0)
        assert_int_equal(apr_file_read_full(f, buf, n, &n), APR_SUCCESS);
    apr_file_close(f);
    buf[n] = '\0';
    if (plen != NULL)
        *plen = n;
    return buf;
}

char *pds_test_case_file(apr_pool_t *p, const char *dir, const char *name,
                         apr_size_t *plen)
{
    return pds_test_read_file(p, apr_pstrcat(p, dir, "/", name, NULL), plen);
}

int pds_test_write_file(apr_pool_t *p, const char *path, const char *data,
                        apr_size_t len)
{
    apr_file_t *f;
    apr_size_t n;

    if (apr_file_open(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_TRUNCATE,
                      APR_FPROT_UREAD | APR_FPROT_UWRITE, p) != APR_SUCCESS)
        return -1;
    if (apr_file_write_full(f, data, len, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return -1;
    }
    return apr_file_close(f) == APR_SUCCESS ? 0 : -1;
}

char *pds_test_write_temp(apr_pool_t *p, const char *name, const char *data,
                          apr_size_t len)
{
    apr_file_t *f;
    char *path = apr_psprintf(p, "/tmp/pds-test-%s-XXXXXX", name);
    apr_size_t n = len;

    assert_int_equal(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_READ
                                     | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p),
                     APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, data, len, &n), APR_SUCCESS);
    apr_file_close(f);
    return path;
}

/* ---- JSON ----------------------------------------------------------------- */

json_t *pds_test_json(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON '%s': %s", text, jerr.text);
    return v;
}

/* ---- tokens --------------------------------------------------------------- */

char *pds_test_part(apr_pool_t *p, const char *token, int n)
{
    const char *start = token, *end;

    while (n-- > 0) {
        start = strchr(start, '.');
        assert_non_null(start);
        start++;
    }
    end = strchr(start, '.');
    return apr_pstrndup(p, start, end ? (apr_size_t)(end - start) : strlen(start));
}

/* ---- asserts -------------------------------------------------------------- */

void pds_test_assert_contains(const char *haystack, const char *needle,
                              const char *file, int line)
{
    if (haystack != NULL && strstr(haystack, needle) != NULL)
        return;
    print_error("expected \"%s\" in \"%s\"\n", needle,
                   haystack != NULL ? haystack : "(null)");
    _fail(file, line);
}

/* ---- keys ----------------------------------------------------------------- */

enum { PEM_PRIVATE, PEM_PUBLIC, PEM_TRADITIONAL };

char *pds_test_bio_text(BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *out;

    if (len <= 0)
        return NULL;
    out = malloc((size_t)len + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    return out;
}

static char *pem_of(EVP_PKEY *pkey, int which)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    int ok;

    if (bio == NULL)
        return NULL;
    if (which == PEM_PRIVATE)
        ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    else if (which == PEM_PUBLIC)
        ok = PEM_write_bio_PUBKEY(bio, pkey);
    else
        ok = PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL);
    if (ok == 1)
        out = pds_test_bio_text(bio);
    BIO_free(bio);
    return out;
}

int pds_test_keypair(pds_test_keypair_t *kp, EVP_PKEY *pkey, int traditional)
{
    if (pkey == NULL)
        return -1;
    kp->priv = pem_of(pkey, PEM_PRIVATE);
    kp->pub = pem_of(pkey, PEM_PUBLIC);
    kp->trad = traditional ? pem_of(pkey, PEM_TRADITIONAL) : NULL;
    EVP_PKEY_free(pkey);
    return (kp->priv != NULL && kp->pub != NULL && (!traditional || kp->trad != NULL))
           ? 0 : -1;
}

pds_key_t *pds_test_load_key(apr_pool_t *p, const char *pem)
{
    pds_key_t *key = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_key_load_pem(&key, p, pem, strlen(pem), &err) != APR_SUCCESS || key == NULL)
        fail_msg("loading a key: %s: %s", err.code, err.text);
    return key;
}

void pds_test_keypair_free(pds_test_keypair_t *kp)
{
    free(kp->priv);
    free(kp->pub);
    free(kp->trad);
    kp->priv = kp->pub = kp->trad = NULL;
}

/* ---- field sets ----------------------------------------------------------- */

pds_fieldset_t *pds_test_fieldset(apr_pool_t *p, const char *const *paths)
{
    pds_fieldset_t *set = NULL;
    pds_error_t err;

    assert_int_equal(pds_fieldset_create(&set, p), APR_SUCCESS);
    for (; *paths != NULL; paths++) {
        pds_error_clear(&err);
        if (pds_fieldset_add(set, *paths, &err) != APR_SUCCESS)
            fail_msg("adding '%s': %s: %s", *paths, err.code, err.text);
    }
    return set;
}
