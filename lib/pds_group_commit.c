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

/* Waiters sleep on the futex word g->wake with a bit naming the sync they
 * wait for (its number mod 32), so that the end of a sync wakes only the
 * waiters it covered; ALL_SYNCS wakes or waits for any. */
#define ALL_SYNCS 0xffffffffu

static apr_uint32_t sync_bit(apr_uint64_t round)
{
    return 1u << (unsigned)(round % 32);
}

static void sleep_on(pds_group_commit_t *g, apr_uint32_t seen, apr_uint32_t bits)
{
#ifdef __linux__
    struct timespec ts;

    /* FUTEX_WAIT_BITSET takes an absolute time (CLOCK_MONOTONIC). Shared
     * (not FUTEX_PRIVATE): the word is in memory other processes map.
     * Returns at once if the word moved since it was read. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += NAP_USEC * 1000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    syscall(SYS_futex, (apr_uint32_t *)&g->wake, FUTEX_WAIT_BITSET, seen, &ts, NULL, bits);
#else
    (void)g;
    (void)seen;
    (void)bits;
    apr_sleep(200);
#endif
}

/* Wakes at most n of the waiters sleeping for the syncs in bits. */
static void wake(pds_group_commit_t *g, apr_uint32_t bits, int n)
{
#ifdef __linux__
    syscall(SYS_futex, (apr_uint32_t *)&g->wake, FUTEX_WAKE_BITSET, n, NULL, NULL, bits);
#else
    (void)g;
    (void)bits;
    (void)n;
#endif
}

static void wake_all(pds_group_commit_t *g)
{
    apr_atomic_inc32(&g->wake);
    wake(g, ALL_SYNCS, 0x7fffffff);
}

/* Is the sync the token names abandoned: its process gone, or running
 * for longer than any disk should take? A sync younger than one nap is
 * running, not abandoned: asking the kernel about its process on every
 * wait cost a system call per request. Its start time is 0 while the
 * syncer takes the place or lets go of it: *starting and *starting_at
 * remember since when this waiter has seen that, so that it too is given
 * one nap before the kernel is asked. A dead syncer is still found after
 * one timed nap. */
static int abandoned(const pds_group_commit_t *g, apr_uint64_t token, apr_time_t now,
                     apr_uint64_t *starting, apr_time_t *starting_at)
{
    pid_t pid = (pid_t)(token >> 32);
    apr_time_t since = (apr_time_t)apr_atomic_read64((volatile apr_uint64_t *)&g->owner_since);

    if (since == 0) {
        if (*starting != token) {
            *starting = token;
            *starting_at = now;
        }
        if (now - *starting_at < NAP_USEC)
            return 0;
    }
    else if (now - since < NAP_USEC)
        return 0;
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    return since != 0 && now - since > PDS_GROUP_COMMIT_STALE;
}

void pds_group_commit_init(pds_group_commit_t *g, apr_uint64_t durable)
{
    apr_atomic_set64(&g->round, 0);
    apr_atomic_set64(&g->target, 0);
    apr_atomic_set64(&g->target_round, 0);
    apr_atomic_set64(&g->wanted, 0);
    apr_atomic_set64(&g->sleeps, 0);
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

void pds_group_commit_target(pds_group_commit_t *g, apr_uint64_t target)
{
    /* target first: a waiter that reads target_round, target, target_round
     * and finds the round it expects twice has this sync's target. */
    apr_atomic_set64(&g->target, target);
    apr_atomic_set64(&g->target_round, apr_atomic_read64(&g->round));
}

/* The sync a waiter for record seq sleeps for: the running one (round)
 * when it is known to cover seq, the next when it is known not to (and the
 * waiter says it wants one), either when its target is not known yet. */
static apr_uint32_t sleep_bits(pds_group_commit_t *g, apr_uint64_t seq, int *next_only)
{
    apr_uint64_t round = apr_atomic_read64(&g->round);
    apr_uint64_t first = apr_atomic_read64(&g->target_round);
    apr_uint64_t target = apr_atomic_read64(&g->target);

    *next_only = 0;
    if (first != round || apr_atomic_read64(&g->target_round) != round)
        return sync_bit(round) | sync_bit(round + 1);
    if (seq <= target)
        return sync_bit(round);
    *next_only = 1;
    return sync_bit(round + 1);
}

apr_uint64_t pds_group_commit_sleeps(const pds_group_commit_t *g)
{
    return apr_atomic_read64((volatile apr_uint64_t *)&g->sleeps);
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
    apr_uint64_t covered = 0, round;
    apr_status_t rv;

    apr_atomic_set64(&g->owner_since, (apr_uint64_t)apr_time_now());
    round = apr_atomic_inc64(&g->round) + 1;
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
    if (rv != APR_SUCCESS) {
        wake_all(g);                /* the failed: every waiter looks */
        return rv;
    }
    /* The waiters it covered; and, when records it did not cover wait,
     * one waiter for the next sync, to run it. The word moves first, so a
     * waiter about to sleep sees it move and looks again. */
    apr_atomic_inc32(&g->wake);
    wake(g, sync_bit(round), 0x7fffffff);
    if (apr_atomic_read64(&g->wanted) > covered)
        wake(g, sync_bit(round + 1), 1);
    return rv;
}

apr_status_t pds_group_commit_wait(pds_group_commit_t *g, apr_uint64_t seq,
                                   pds_group_commit_sync_cb sync, void *baton,
                                   apr_interval_time_t max_wait, int *synced)
{
    apr_time_t deadline = apr_time_now() + max_wait;
    apr_uint64_t token = 0;             /* made when first needed: getpid() */
    apr_uint64_t starting = 0;          /* an owner seen before its sync began */
    apr_time_t starting_at = 0;

    if (synced != NULL)
        *synced = 0;
    for (;;) {
        apr_uint32_t seen = apr_atomic_read32(&g->wake), bits;
        apr_uint64_t owner;
        int next_only;
        apr_time_t now;

        /* Failed first: a later sync's success proves nothing for it. */
        if (seq <= apr_atomic_read64(&g->failed))
            return PDS_GROUP_COMMIT_LOST;
        if (seq <= apr_atomic_read64(&g->durable))
            return APR_SUCCESS;
        owner = apr_atomic_read64(&g->owner);
        if (owner == 0) {
            if (token == 0)
                token = new_token();
            owner = apr_atomic_cas64(&g->owner, token, 0);
        }
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
        if (abandoned(g, owner, now, &starting, &starting_at)) {
            /* Clear it only if it is still that one; the loop then races
             * for the place like any other waiter. */
            apr_atomic_cas64(&g->owner, 0, owner);
            continue;
        }
        bits = sleep_bits(g, seq, &next_only);
        if (next_only) {
            /* For the next sync: say so (a full barrier before the last
             * look), so the running one's end wakes one of us to run it. */
            advance(&g->wanted, seq);
            if (seq <= apr_atomic_read64(&g->durable) || apr_atomic_read64(&g->owner) == 0)
                continue;
        }
        apr_atomic_inc64(&g->sleeps);
        sleep_on(g, seen, bits);
    }
}
