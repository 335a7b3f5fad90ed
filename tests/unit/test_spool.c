/* test_spool.c: the body spool (lib/pds_spool.h): small bodies stay in
 * memory, large ones go to an unnamed file that leaves nothing in its
 * directory, the mapping gives back every byte in order, the limit holds,
 * and a directory that cannot take the file fails the append. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "pds_test.h"
#include "pds_spool.h"

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Each test: a pool, an empty directory of its own, a cleared error. The
 * teardown destroys the pool (its cleanup closes any spool still open) and
 * fails the test when the directory is left holding anything. */
typedef struct fixture_t {
    apr_pool_t *p;
    char dir[64];
    pds_error_t err;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL || apr_pool_create(&f->p, pds_test_root()) != APR_SUCCESS) {
        free(f);
        return -1;
    }
    strcpy(f->dir, "/tmp/pds-spool-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        apr_pool_destroy(f->p);
        free(f);
        return -1;
    }
    pds_error_clear(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int rc;

    apr_pool_destroy(f->p);
    (void)chmod(f->dir, 0700);              /* a test may have taken write away */
    rc = rmdir(f->dir);                     /* fails unless nothing is left */
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Feeds len bytes of a pattern in pieces of step. */
static apr_status_t feed(pds_spool_t *s, apr_size_t len, apr_size_t step, pds_error_t *err)
{
    char piece[5000];
    apr_size_t done = 0, i;

    while (done < len) {
        apr_size_t n = len - done < step ? len - done : step;
        apr_status_t rv;

        for (i = 0; i < n; i++)
            piece[i] = (char)('a' + (done + i) % 26);
        if ((rv = pds_spool_append(s, piece, n, err)) != APR_SUCCESS)
            return rv;
        done += n;
    }
    return APR_SUCCESS;
}

static void check_pattern(const char *data, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (data[i] != (char)('a' + i % 26))
            fail_msg("byte %lu differs", (unsigned long)i);
    }
}

static void test_small_body_stays_in_memory(void **state)
{
    fixture_t *f = *state;
    pds_spool_options_t o = { f->dir, 65536, 1 << 20, 0 };
    pds_spool_t *s;
    const char *data;
    apr_size_t len;

    assert_int_equal(pds_spool_create(&s, f->p, &o), APR_SUCCESS);
    assert_int_equal(feed(s, 65536, 1000, &f->err), APR_SUCCESS);
    assert_false(pds_spool_on_disk(s));
    assert_int_equal(pds_spool_map(s, &data, &len, &f->err), APR_SUCCESS);
    assert_int_equal(len, 65536);
    check_pattern(data, len);
    pds_spool_close(s);
}

static void test_large_body_goes_to_an_unnamed_file(void **state)
{
    fixture_t *f = *state;
    pds_spool_options_t o = { f->dir, 4096, 1 << 22, 0 };
    pds_spool_t *s;
    const char *data;
    apr_size_t len;

    assert_int_equal(pds_spool_create(&s, f->p, &o), APR_SUCCESS);
    /* pieces smaller than, equal to and larger than the write buffer */
    assert_int_equal(feed(s, 100000, 777, &f->err), APR_SUCCESS);
    assert_int_equal(feed(s, 0, 1, &f->err), APR_SUCCESS);
    assert_true(pds_spool_on_disk(s));
    assert_int_equal(entries(f->dir), 0);       /* nothing under a name */
    assert_int_equal(pds_spool_map(s, &data, &len, &f->err), APR_SUCCESS);
    assert_int_equal(len, 100000);
    check_pattern(data, len);
    assert_int_equal(pds_spool_append(s, "x", 1, &f->err), APR_EINVAL);  /* whole now */
    pds_spool_close(s);
    pds_spool_close(s);                         /* twice is fine */
    assert_int_equal(entries(f->dir), 0);
}

static void test_big_pieces_are_written_through(void **state)
{
    fixture_t *f = *state;
    pds_spool_options_t o = { f->dir, 1024, 1 << 22, 0 };
    pds_spool_t *s;
    const char *data;
    apr_size_t len;

    assert_int_equal(pds_spool_create(&s, f->p, &o), APR_SUCCESS);
    assert_int_equal(feed(s, 50001, 4999, &f->err), APR_SUCCESS);
    assert_int_equal(pds_spool_map(s, &data, &len, &f->err), APR_SUCCESS);
    assert_int_equal(len, 50001);
    check_pattern(data, len);
    apr_pool_clear(f->p);                       /* the cleanup closes it */
    assert_int_equal(entries(f->dir), 0);
}

static void test_the_limit_holds_in_memory_and_on_disk(void **state)
{
    fixture_t *f = *state;
    pds_spool_options_t mem = { NULL, 4096, 10000, 20000 };
    pds_spool_options_t disk = { f->dir, 4096, 10000, 0 };
    pds_spool_t *s;
    const char *data;
    apr_size_t len;

    assert_int_equal(pds_spool_create(&s, f->p, &mem), APR_SUCCESS);
    assert_int_equal(feed(s, 10000, 1000, &f->err), APR_SUCCESS);
    assert_int_equal(pds_spool_append(s, "x", 1, &f->err), PDS_SPOOL_TOO_LARGE);
    assert_false(pds_spool_on_disk(s));         /* no directory: memory, to the limit */
    assert_int_equal(pds_spool_map(s, &data, &len, &f->err), APR_SUCCESS);
    assert_int_equal(len, 10000);
    check_pattern(data, len);

    assert_int_equal(pds_spool_create(&s, f->p, &disk), APR_SUCCESS);
    assert_int_equal(feed(s, 9999, 3000, &f->err), APR_SUCCESS);
    assert_int_equal(pds_spool_append(s, "xy", 2, &f->err), PDS_SPOOL_TOO_LARGE);
    assert_int_equal(pds_spool_append(s, "x", 1, &f->err), APR_SUCCESS);
    pds_spool_close(s);
}

static void test_a_directory_that_cannot_take_the_file_fails(void **state)
{
    fixture_t *f = *state;
    pds_spool_options_t o = { f->dir, 1024, 1 << 20, 0 };
    pds_spool_options_t gone = { "/nonexistent/pds-spool", 1024, 1 << 20, 0 };
    pds_spool_t *s;
    const char *data;
    apr_size_t len;

    assert_int_equal(pds_spool_create(&s, f->p, &gone), APR_SUCCESS);
    assert_int_equal(feed(s, 1024, 512, &f->err), APR_SUCCESS);   /* memory still */
    assert_int_not_equal(pds_spool_append(s, "x", 1, &f->err), APR_SUCCESS);
    assert_string_equal(f->err.code, "spool-open");
    assert_contains(f->err.text, "/nonexistent/pds-spool");
    pds_error_clear(&f->err);
    /* stays failed */
    assert_int_not_equal(pds_spool_map(s, &data, &len, &f->err), APR_SUCCESS);
    assert_string_equal(f->err.code, "spool-open");

    pds_error_clear(&f->err);
    assert_int_not_equal(pds_spool_probe("/nonexistent/pds-spool", f->p, &f->err),
                         APR_SUCCESS);
    assert_string_equal(f->err.code, "spool-open");
    pds_error_clear(&f->err);
    assert_int_equal(pds_spool_probe(f->dir, f->p, &f->err), APR_SUCCESS);
    assert_int_equal(entries(f->dir), 0);

    if (geteuid() != 0) {                       /* root writes anywhere */
        assert_int_equal(chmod(f->dir, 0500), 0);
        assert_int_equal(pds_spool_create(&s, f->p, &o), APR_SUCCESS);
        pds_error_clear(&f->err);
        assert_int_not_equal(feed(s, 5000, 1000, &f->err), APR_SUCCESS);
        assert_string_equal(f->err.code, "spool-open");
        assert_int_equal(chmod(f->dir, 0700), 0);
    }
}

static void test_bad_options_are_refused(void **state)
{
    fixture_t *f = *state;
    pds_spool_t *s;
    pds_spool_options_t none = { NULL, 0, 10, 0 };

    assert_int_equal(pds_spool_create(&s, f->p, &none), APR_EINVAL);
    assert_int_equal(pds_spool_create(&s, f->p, NULL), APR_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_small_body_stays_in_memory),
        T(test_large_body_goes_to_an_unnamed_file),
        T(test_big_pieces_are_written_through),
        T(test_the_limit_holds_in_memory_and_on_disk),
        T(test_a_directory_that_cannot_take_the_file_fails),
        T(test_bad_options_are_refused),
    };

    return pds_test_main(tests, NULL, NULL);
}
