/* test_encode.c: random bytes for identifiers (lib/pds_encode.h): never
 * the same twice, in one thread, across threads, or in a fork's child
 * after the parent drew from the same buffer. */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pds_encode.h"
#include "pds_test.h"

#define IDS 300                 /* several refills of the 1 KB buffer */

static int all_distinct(unsigned char ids[][16], int n)
{
    int i, j;

    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (memcmp(ids[i], ids[j], 16) == 0)
                return 0;
    return 1;
}

static void test_ids_differ(void **state)
{
    static unsigned char ids[IDS][16];
    static const unsigned char zero[16];
    unsigned char big[2000];
    int i;

    (void)state;
    for (i = 0; i < IDS; i++) {
        assert_int_equal(pds_random_id_bytes(ids[i], 16), 1);
        assert_memory_not_equal(ids[i], zero, 16);
    }
    assert_true(all_distinct(ids, IDS));
    /* More than the buffer holds: straight from OpenSSL. */
    assert_int_equal(pds_random_id_bytes(big, sizeof(big)), 1);
    assert_int_equal(pds_random_id_bytes(big, 0), 1);
}

static void *draw_in_thread(void *arg)
{
    unsigned char (*ids)[16] = arg;
    int i;

    for (i = 0; i < IDS / 2; i++)
        if (!pds_random_id_bytes(ids[i], 16))
            return (void *)1;
    return NULL;
}

static void test_threads_draw_their_own(void **state)
{
    static unsigned char ids[IDS][16];
    pthread_t t[2];
    void *res;
    int k;

    (void)state;
    for (k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, draw_in_thread, ids[k * (IDS / 2)]), 0);
    for (k = 0; k < 2; k++) {
        assert_int_equal(pthread_join(t[k], &res), 0);
        assert_null(res);
    }
    assert_true(all_distinct(ids, IDS));
}

static void test_a_child_never_repeats_its_parent(void **state)
{
    unsigned char mine[16], theirs[16];
    int fds[2], status = 0;
    pid_t pid;

    (void)state;
    /* The buffer is full and part drawn when the process forks. */
    assert_int_equal(pds_random_id_bytes(mine, 16), 1);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char id[16];

        close(fds[0]);
        _exit(pds_random_id_bytes(id, 16) && write(fds[1], id, 16) == 16 ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], theirs, 16), 16);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's next id is what the child's would have been without
     * the fork handler. */
    assert_int_equal(pds_random_id_bytes(mine, 16), 1);
    assert_memory_not_equal(mine, theirs, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_differ),
        cmocka_unit_test(test_threads_draw_their_own),
        cmocka_unit_test(test_a_child_never_repeats_its_parent),
    };

    return pds_test_main(tests, NULL, NULL);
}
