/* test_group_commit.c: one sync for many records (lib/pds_group_commit.h),
 * across threads and processes; a failed sync; a dead or stuck syncer. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_atomic.h>

#include "pds_test.h"
#include "pds_group_commit.h"

/* A model of the log: records take numbers from written (the writers'
 * lock is the atomic increment); a sync covers what was written when it
 * began and reaches disk after a nap. */
typedef struct model_t {
    pds_group_commit_t g;
    volatile apr_uint64_t written;
    volatile apr_uint64_t on_disk;
    volatile apr_uint32_t syncs;
    volatile apr_uint32_t running;     /* syncs running at once, now */
    volatile apr_uint32_t overlap;     /* ever more than one */
    volatile apr_uint32_t violations;  /* a wait returned before its record was on disk */
    int fail_next;                     /* the next sync fails */
    int announce;                      /* the sync says what it covers */
} model_t;

static apr_status_t model_sync(void *baton, apr_uint64_t *covered)
{
    model_t *m = baton;
    apr_uint64_t target = apr_atomic_read64(&m->written);
    apr_uint64_t cur;

    *covered = target;
    if (m->announce)
        pds_group_commit_target(&m->g, target);
    if (apr_atomic_inc32(&m->running) > 0)
        apr_atomic_set32(&m->overlap, 1);
    apr_atomic_inc32(&m->syncs);
    usleep(1000);                       /* the disk */
    apr_atomic_dec32(&m->running);
    if (m->fail_next) {
        m->fail_next = 0;
        return APR_FROM_OS_ERROR(EIO);
    }
    do {
        cur = apr_atomic_read64(&m->on_disk);
    } while (cur < target && apr_atomic_cas64(&m->on_disk, target, cur) != cur);
    return APR_SUCCESS;
}

/* One writer's record: write, then wait until it is durable. */
static apr_status_t write_one(model_t *m)
{
    apr_uint64_t seq = apr_atomic_inc64(&m->written) + 1;
    apr_status_t rv = pds_group_commit_wait(&m->g, seq, model_sync, m,
                                            apr_time_from_sec(10), NULL);

    if (rv == APR_SUCCESS && apr_atomic_read64(&m->on_disk) < seq)
        apr_atomic_inc32(&m->violations);
    return rv;
}

static model_t *shared_model(void)
{
    model_t *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                      -1, 0);

    assert_true(m != MAP_FAILED);
    memset(m, 0, sizeof(*m));
    pds_group_commit_init(&m->g, 0);
    return m;
}

static void test_alone(void **state)
{
    model_t *m = shared_model();
    int synced = 0;

    (void)state;
    m->written = 3;
    assert_int_equal(pds_group_commit_wait(&m->g, 3, model_sync, m, apr_time_from_sec(1),
                                           &synced), APR_SUCCESS);
    assert_int_equal(synced, 1);
    assert_int_equal(m->on_disk, 3);
    /* Already covered: no second sync. */
    assert_int_equal(pds_group_commit_wait(&m->g, 2, model_sync, m, apr_time_from_sec(1),
                                           &synced), APR_SUCCESS);
    assert_int_equal(synced, 0);
    assert_int_equal(m->syncs, 1);
    /* A sync made another way (a rotation's) counts too. */
    pds_group_commit_publish(&m->g, 9);
    assert_int_equal(pds_group_commit_wait(&m->g, 9, model_sync, m, apr_time_from_sec(1),
                                           NULL), APR_SUCCESS);
    assert_int_equal(m->syncs, 1);
    munmap(m, sizeof(*m));
}

#define THREADS 8
#define PER_THREAD 200

static void *thread_main(void *arg)
{
    model_t *m = arg;
    int k;

    for (k = 0; k < PER_THREAD; k++)
        if (write_one(m) != APR_SUCCESS)
            return (void *)1;
    return NULL;
}

/* Eight threads write and wait; returns the model for more checks. */
static model_t *threads_share_syncs(int announce)
{
    model_t *m = shared_model();
    pthread_t t[THREADS];
    apr_uint64_t syncs, covered;
    int k;

    m->announce = announce;
    for (k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&t[k], NULL, thread_main, m), 0);
    for (k = 0; k < THREADS; k++) {
        void *res;

        assert_int_equal(pthread_join(t[k], &res), 0);
        assert_null(res);
    }
    assert_int_equal(m->violations, 0);
    assert_int_equal(m->overlap, 0);
    assert_int_equal(m->on_disk, THREADS * PER_THREAD);
    /* Eight writers against a 1 ms disk: far fewer syncs than records. */
    assert_true(m->syncs < THREADS * PER_THREAD / 2);
    pds_group_commit_counts(&m->g, &syncs, &covered);
    assert_int_equal(syncs, m->syncs);
    assert_int_equal(covered, THREADS * PER_THREAD);
    print_message("announce %d: %u syncs, %" APR_UINT64_T_FMT " sleeps for %d records\n",
                  announce, m->syncs, pds_group_commit_sleeps(&m->g), THREADS * PER_THREAD);
    return m;
}

static void test_threads_share_syncs(void **state)
{
    model_t *m = threads_share_syncs(0);

    (void)state;
    munmap(m, sizeof(*m));
}

/* A sync that says what it covers: the same guarantee, and a waiter
 * sleeps about once, until the sync covering it ends (woken by every
 * sync's end, a waiter the running sync did not cover slept twice). */
static void test_syncs_wake_only_what_they_cover(void **state)
{
    model_t *m = threads_share_syncs(1);

    (void)state;
    assert_true(pds_group_commit_sleeps(&m->g) <= THREADS * PER_THREAD * 5 / 4);
    munmap(m, sizeof(*m));
}

#define PROCS 4

static void test_processes_share_syncs(void **state)
{
    model_t *m = shared_model();
    pid_t pids[PROCS];
    int k;

    (void)state;
    m->announce = 1;                    /* as the audit log's sync does */
    for (k = 0; k < PROCS; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            int n;

            for (n = 0; n < PER_THREAD; n++)
                if (write_one(m) != APR_SUCCESS)
                    _exit(1);
            _exit(0);
        }
    }
    for (k = 0; k < PROCS; k++) {
        int status = 0;

        assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(m->violations, 0);
    assert_int_equal(m->on_disk, PROCS * PER_THREAD);
    assert_true(m->syncs < PROCS * PER_THREAD / 2);
    munmap(m, sizeof(*m));
}

static void test_failed_sync_is_final(void **state)
{
    model_t *m = shared_model();

    (void)state;
    m->written = 5;
    m->fail_next = 1;
    assert_int_equal(pds_group_commit_wait(&m->g, 5, model_sync, m, apr_time_from_sec(1),
                                           NULL), PDS_GROUP_COMMIT_LOST);
    /* A record the failed sync would have covered never becomes durable,
     * even once a later sync succeeds. */
    m->written = 6;
    assert_int_equal(pds_group_commit_wait(&m->g, 6, model_sync, m, apr_time_from_sec(1),
                                           NULL), APR_SUCCESS);
    assert_int_equal(pds_group_commit_wait(&m->g, 4, model_sync, m, apr_time_from_sec(1),
                                           NULL), PDS_GROUP_COMMIT_LOST);
    munmap(m, sizeof(*m));
}

static void test_dead_syncer_is_taken_over(void **state)
{
    model_t *m = shared_model();
    apr_time_t start;
    pid_t dead = fork();
    int status;

    (void)state;
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, &status, 0), dead);
    /* As a syncer killed in the middle leaves it. */
    m->g.owner = ((apr_uint64_t)(apr_uint32_t)dead << 32) | 1;
    m->g.owner_since = (apr_uint64_t)apr_time_now();
    m->written = 1;
    start = apr_time_now();
    assert_int_equal(pds_group_commit_wait(&m->g, 1, model_sync, m, apr_time_from_sec(5),
                                           NULL), APR_SUCCESS);
    assert_true(apr_time_now() - start < apr_time_from_sec(1));
    assert_int_equal(m->g.owner, 0);
    munmap(m, sizeof(*m));
}

static void test_stuck_syncer(void **state)
{
    model_t *m = shared_model();
    apr_uint64_t alive = ((apr_uint64_t)(apr_uint32_t)getpid() << 32) | 0xffffff;
    apr_time_t start;

    (void)state;
    /* A live syncer within its time: the waiter gives up at its deadline. */
    m->g.owner = alive;
    m->g.owner_since = (apr_uint64_t)apr_time_now();
    m->written = 1;
    start = apr_time_now();
    assert_int_equal(pds_group_commit_wait(&m->g, 1, model_sync, m,
                                           apr_time_from_msec(50), NULL), APR_TIMEUP);
    assert_true(apr_time_now() - start >= apr_time_from_msec(50));
    assert_int_equal(m->syncs, 0);
    /* One running for longer than any disk should take is taken over. */
    m->g.owner_since = (apr_uint64_t)(apr_time_now() - PDS_GROUP_COMMIT_STALE
                                      - apr_time_from_sec(1));
    assert_int_equal(pds_group_commit_wait(&m->g, 1, model_sync, m, apr_time_from_sec(1),
                                           NULL), APR_SUCCESS);
    assert_int_equal(m->syncs, 1);
    munmap(m, sizeof(*m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone),
        cmocka_unit_test(test_threads_share_syncs),
        cmocka_unit_test(test_syncs_wake_only_what_they_cover),
        cmocka_unit_test(test_processes_share_syncs),
        cmocka_unit_test(test_failed_sync_is_final),
        cmocka_unit_test(test_dead_syncer_is_taken_over),
        cmocka_unit_test(test_stuck_syncer),
    };

    return pds_test_main(tests, NULL, NULL);
}
