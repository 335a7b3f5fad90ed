/* pds_group_commit.c: one syncer at a time, the others sleep until a sync
 * covers their record (see pds_group_commit.h). */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <apr_atomic.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#endif

#include "pds_group_commit.h"

/* How long a waiter sleeps before it looks whether the syncer is alive. A
 * completed sync wakes it at once; this only bounds the delay after a
 * syncer died. */
#define NAP_USEC 5000

/* A token no other syncer holds: the process id in the high half, a
 * counter of this process in the low half. */
static apr_uint64_t new_token(void)
{
    static volatile apr_uint32_t counter;
    apr_uint32_t n;

    do {
        n = apr_atomic_inc32(&counter) + 1;
    } while (n == 0);
    return ((apr_uint64_t)(apr_uint32_t)getpid() << 32) | n;
}

/* Moves *word forward to v, never back. */
static void advance(volatile apr_uint64_t *word, apr_uint64_t v)
{
    apr_uint64_t cur;

    do {
        cur = apr_atomic_read64(word);
        if (cur >= v)
            return;
    } while (apr_atomic_cas64(word, v, cur) != cur);
}

static void sleep_on(pds_group_commit_t *g, apr_uint32_t seen)
{
#ifdef __linux__
    struct timespec ts = { 0, NAP_USEC * 1000L };

    /* Shared (not FUTEX_PRIVATE): the word is in memory other processes
     * map. Returns at once if the word moved since it was read. */
    syscall(SYS_futex, (apr_uint32_t *)&g->wake, FUTEX_WAIT, seen, &ts, NULL, 0);
#else
    (void)g;
    (void)seen;
    apr_sleep(200);
#endif
}

static void wake_all(pds_group_commit_t *g)
{
    apr_atomic_inc32(&g->wake);
#ifdef __linux__
    syscall(SYS_futex, (apr_uint32_t *)&g->wake, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
#endif
}

/* Is the sync the token names abandoned: its process gone, or running
 * for longer than any disk should take? */
static int abandoned(const pds_group_commit_t *g, apr_uint64_t token, apr_time_t now)
{
    pid_t pid = (pid_t)(token >> 32);
    apr_time_t since = (apr_time_t)apr_atomic_read64((volatile apr_uint64_t *)&g->owner_since);

    /* A sync younger than one nap is running, not abandoned: asking the
     * kernel about its process on every wait cost a system call per
     * request. A dead syncer is still found after one timed nap. (since
     * is 0 only between taking the place and starting: asked then.) */
    if (since != 0 && now - since < NAP_USEC)
        return 0;
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    return since != 0 && now - since > PDS_GROUP_COMMIT_STALE;
}

void pds_group_commit_init(pds_group_commit_t *g, apr_uint64_t durable)
{
    apr_atomic_set64(&g->durable, durable);
    apr_atomic_set64(&g->failed, 0);
    apr_atomic_set64(&g->owner, 0);
    apr_atomic_set64(&g->owner_since, 0);
    apr_atomic_set64(&g->syncs, 0);
    apr_atomic_set64(&g->covered, 0);
    apr_atomic_set32(&g->wake, 0);
    g->unused = 0;
}

void pds_group_commit_publish(pds_group_commit_t *g, apr_uint64_t covered)
{
    advance(&g->durable, covered);
    wake_all(g);
}

void pds_group_commit_counts(const pds_group_commit_t *g, apr_uint64_t *syncs,
                             apr_uint64_t *covered)
{
    *syncs = apr_atomic_read64((volatile apr_uint64_t *)&g->syncs);
    *covered = apr_atomic_read64((volatile apr_uint64_t *)&g->covered);
}

/* As the one syncer: run the sync, publish what it covered, let go. */
static apr_status_t run_sync(pds_group_commit_t *g, apr_uint64_t token,
                             pds_group_commit_sync_cb sync, void *baton)
{
    apr_uint64_t before = apr_atomic_read64(&g->durable);
    apr_uint64_t covered = 0;
    apr_status_t rv;

    apr_atomic_set64(&g->owner_since, (apr_uint64_t)apr_time_now());
    rv = sync(baton, &covered);
    if (rv == APR_SUCCESS) {
        advance(&g->durable, covered);
        apr_atomic_inc64(&g->syncs);
        if (covered > before)
            apr_atomic_add64(&g->covered, covered - before);
    }
    else if (covered != 0) {
        /* What it would have covered may be lost whatever a later sync
         * says. (0: it failed before syncing anything.) */
        advance(&g->failed, covered);
    }
    /* Let go only if nobody took over meanwhile. */
    apr_atomic_set64(&g->owner_since, 0);
    apr_atomic_cas64(&g->owner, 0, token);
    wake_all(g);
    return rv;
}

apr_status_t pds_group_commit_wait(pds_group_commit_t *g, apr_uint64_t seq,
                                   pds_group_commit_sync_cb sync, void *baton,
                                   apr_interval_time_t max_wait, int *synced)
{
    apr_time_t deadline = apr_time_now() + max_wait;
    apr_uint64_t token = new_token();

    if (synced != NULL)
        *synced = 0;
    for (;;) {
        apr_uint32_t seen = apr_atomic_read32(&g->wake);
        apr_uint64_t owner;
        apr_time_t now;

        /* Failed first: a later sync's success proves nothing for it. */
        if (seq <= apr_atomic_read64(&g->failed))
            return PDS_GROUP_COMMIT_LOST;
        if (seq <= apr_atomic_read64(&g->durable))
            return APR_SUCCESS;
        owner = apr_atomic_cas64(&g->owner, token, 0);
        if (owner == 0) {
            apr_status_t rv;

            if (synced != NULL)
                *synced = 1;
            rv = run_sync(g, token, sync, baton);
            if (rv != APR_SUCCESS)
                return rv;
            continue;               /* it may have started before our record */
        }
        now = apr_time_now();
        if (now >= deadline)
            return APR_TIMEUP;
        if (abandoned(g, owner, now)) {
            /* Clear it only if it is still that one; the loop then races
             * for the place like any other waiter. */
            apr_atomic_cas64(&g->owner, 0, owner);
            continue;
        }
        sleep_on(g, seen);
    }
}
