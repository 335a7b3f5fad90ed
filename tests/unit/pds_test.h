/* pds_test.h: the scaffolding the cmocka unit tests share (pds_test.c).
 *
 * A test file includes this header instead of cmocka's preamble. It gives:
 * pds_test_main() to run a group with APR initialised and a root pool made;
 * a pool fixture (each test a fresh child pool of the root in *state); the
 * chaos allocator (jansson's Nth allocation fails); reading and writing
 * files; assert_contains(); and test key pairs as PEM text.
 *
 * Failures inside these helpers fail the calling test the cmocka way
 * (fail_msg, assert_*), so they are only called from a test or a fixture.
 */
#ifndef PDS_TEST_H
#define PDS_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>

#include "pds_jws.h"

/* ---- running a group ------------------------------------------------------ */

/* main's body: initialises APR, makes the root pool, runs the group tests
 * (an array of struct CMUnitTest) with its group fixtures (NULL for none),
 * destroys the root and terminates APR. Evaluates to 0 when every test
 * passed, 1 otherwise. */
#define pds_test_main(tests, group_setup, group_teardown) \
    pds_test_run_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), \
                       (group_setup), (group_teardown))

int pds_test_run_group(const char *name, const struct CMUnitTest *tests, size_t count,
                       CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

/* What pds_test_main does around the group, for a main that runs more than
 * one: init returns 0 once APR is initialised and the root made, -1 if not;
 * done destroys the root and terminates APR. */
int pds_test_init(void);
void pds_test_done(void);

/* The root pool of the run (made by pds_test_init; NULL outside it). */
apr_pool_t *pds_test_root(void);

/* ---- the pool fixture ----------------------------------------------------- */

/* Setup: a new child pool of the root in *state. Teardown: destroys it. */
int pds_test_pool_setup(void **state);
int pds_test_pool_teardown(void **state);

/* A test with the pool fixture. */
#define pds_test_with_pool(f) \
    cmocka_unit_test_setup_teardown(f, pds_test_pool_setup, pds_test_pool_teardown)

/* ---- the chaos allocator -------------------------------------------------- */

/* jansson's allocations through malloc/free, except that the Nth call after
 * pds_chaos_arm(N) fails. install/remove switch jansson to it and back to
 * malloc and free (process-wide: tests only). */
void pds_chaos_install(void);
void pds_chaos_remove(void);
/* Resets the counts: the fail_at-th allocation from now on fails. */
void pds_chaos_arm(long fail_at);
/* Whether the armed allocation was reached (and failed). */
int pds_chaos_failed(void);
/* Allocations made since arming, the failed one included. */
long pds_chaos_count(void);
/* Blocks allocated and not yet freed since arming. */
long pds_chaos_live(void);

/* ---- files ---------------------------------------------------------------- */

/* The whole file at path, NUL-terminated, from p; its length in *plen when
 * plen is not NULL. Fails the test when it cannot be read. */
char *pds_test_read_file(apr_pool_t *p, const char *path, apr_size_t *plen);

/* The file name in the directory dir (a test case's file), as
 * pds_test_read_file() reads it. */
char *pds_test_case_file(apr_pool_t *p, const char *dir, const char *name,
                         apr_size_t *plen);

/* Writes len bytes of data to path (created or truncated, owner read and
 * write). 0 on success, -1 on failure (usable from group fixtures). */
int pds_test_write_file(apr_pool_t *p, const char *path, const char *data,
                        apr_size_t len);

/* Writes data to a new file "/tmp/pds-test-<name>-XXXXXX" and returns its
 * path (from p). Fails the test when it cannot. */
char *pds_test_write_temp(apr_pool_t *p, const char *name, const char *data,
                          apr_size_t len);

/* ---- field sets ----------------------------------------------------------- */

/* A field set (pds_filter.h) from p holding the NULL-terminated paths; fails
 * the test, naming the path and why, when one does not parse. */
struct pds_fieldset_t *pds_test_fieldset(apr_pool_t *p, const char *const *paths);

/* ---- JSON ----------------------------------------------------------------- */

/* text parsed (duplicate keys refused) as a new reference; fails the test
 * when it is not JSON. */
json_t *pds_test_json(const char *text);

/* ---- tokens --------------------------------------------------------------- */

/* The n-th ('.'-separated) part of a compact JWS token, copied to p; fails
 * the test when the token has fewer parts. */
char *pds_test_part(apr_pool_t *p, const char *token, int n);

/* ---- asserts -------------------------------------------------------------- */

/* Fails the test unless needle occurs in haystack (a NULL haystack fails). */
#define assert_contains(haystack, needle) \
    pds_test_assert_contains((haystack), (needle), __FILE__, __LINE__)

void pds_test_assert_contains(const char *haystack, const char *needle,
                              const char *file, int line);

/* ---- keys ----------------------------------------------------------------- */

/* A key pair as PEM text, each malloc'd (NULL when not made). */
typedef struct pds_test_keypair_t {
    char *priv;      /* PKCS#8 */
    char *pub;       /* SubjectPublicKeyInfo */
    char *trad;      /* traditional ("EC PRIVATE KEY" / "RSA PRIVATE KEY"), or NULL */
} pds_test_keypair_t;

/* Fills kp from pkey, which it frees (NULL is a failure, so a failing
 * EVP_PKEY_Q_keygen() can be passed straight in); the traditional form only
 * when traditional is non-zero. 0 on success, -1 on failure. */
int pds_test_keypair(pds_test_keypair_t *kp, EVP_PKEY *pkey, int traditional);

/* The contents of a memory BIO as a malloc'd NUL-terminated string; NULL
 * when empty or out of memory. */
char *pds_test_bio_text(BIO *bio);

/* pds_key_load_pem() of the whole of pem; fails the test (with the error
 * text) when it is refused. */
pds_key_t *pds_test_load_key(apr_pool_t *p, const char *pem);

/* Frees what pds_test_keypair() made. */
void pds_test_keypair_free(pds_test_keypair_t *kp);

#endif
