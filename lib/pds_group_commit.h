/* pds_group_commit.h: one sync to disk for many records (group commit),
 * across the threads and processes of one gateway.
 *
 * Records carry increasing numbers (the audit chain's seq). A writer appends
 * its record under its own lock, releases the lock, then calls
 * pds_group_commit_wait() with the record's number. It returns once a sync
 * that started after the record was written has completed: either another
 * caller's sync covered it, or this caller became the one syncer of the
 * moment and ran the sync callback itself. The guarantee is the one of a
 * sync per record: no caller returns APR_SUCCESS before its record is on
 * disk; it only saves the syncs that would have covered the same records.
 *
 * The state lives in memory all processes share (the caller places it
 * there). At most one syncer runs at a time; the others sleep (a futex on
 * Linux, short sleeps elsewhere) and wake when a sync completes. Once the
 * syncer has said what its sync covers (pds_group_commit_target), a waiter
 * it covers sleeps until that sync ends, and a waiter it does not cover
 * until the next one: the end of a sync wakes only the waiters it covered,
 * and one waiter of the next (to run it), not everyone. A syncer
 * that dies (kill -9, a crash) cannot hang the others: a waiter that wakes
 * from its short timed sleep and finds the syncer's process gone, or the
 * sync older than PDS_GROUP_COMMIT_STALE, takes over. Two syncs running at
 * once are harmless (each publishes only what it covered), so taking over
 * is always safe.
 *
 * A failed sync marks every record up to what it would have covered as
 * failed for good: on Linux a later sync of the same file can succeed
 * although the pages the failed one lost are gone, so a waiter whose record
 * is in that range gets the error, never APR_SUCCESS.
 */
#ifndef PDS_GROUP_COMMIT_H
#define PDS_GROUP_COMMIT_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <errno.h>

/* A record an earlier failed sync was to cover: it may be lost. */
#define PDS_GROUP_COMMIT_LOST APR_FROM_OS_ERROR(EIO)

/* A sync running this long is taken over by the next waiter that wakes. */
#define PDS_GROUP_COMMIT_STALE apr_time_from_sec(5)

/* In shared memory; the caller zeroes it with pds_group_commit_init(). */
typedef struct pds_group_commit_t {
    volatile apr_uint64_t durable;      /* every record <= durable is on disk */
    volatile apr_uint64_t failed;       /* records <= failed may not be (a sync failed) */
    volatile apr_uint64_t owner;        /* the syncer's token; 0: no sync running */
    volatile apr_uint64_t owner_since;  /* when it began (apr_time_t) */
    volatile apr_uint64_t syncs;        /* syncs that succeeded */
    volatile apr_uint64_t covered;      /* records they made durable, summed */
    volatile apr_uint64_t round;        /* syncs begun (the running one's number) */
    volatile apr_uint64_t target;       /* what sync number target_round covers */
    volatile apr_uint64_t target_round;
    volatile apr_uint64_t wanted;       /* the highest record a waiter sleeps for */
    volatile apr_uint64_t sleeps;       /* times a waiter went to sleep */
    volatile apr_uint32_t wake;         /* bumped after every sync; waiters sleep on it */
    apr_uint32_t unused;
} pds_group_commit_t;

/* The sync itself, run by the one syncer: takes the writers' lock to learn
 * the number of the last record written (and anything it needs to sync
 * it), releases it, syncs, and sets *covered to that number. Returns
 * APR_SUCCESS only when everything up to *covered is on disk. On failure
 * *covered says what the sync would have covered once it began syncing
 * (those records are then failed for good), 0 if it failed before. */
typedef apr_status_t (*pds_group_commit_sync_cb)(void *baton, apr_uint64_t *covered);

/* Called by the sync callback once it knows the last record its sync will
 * cover, before it syncs: waiters sleep by it (see above). A callback that
 * does not call it is correct too; its waiters wake at every sync's end. */
void pds_group_commit_target(pds_group_commit_t *g, apr_uint64_t target);

/* Starts the state with every record <= durable already on disk. */
void pds_group_commit_init(pds_group_commit_t *g, apr_uint64_t durable);

/* Returns APR_SUCCESS once record seq is on disk; the sync's error when the
 * sync meant to cover it failed; APR_TIMEUP after max_wait without a sync
 * covering it. *synced (NULL allowed) is set to 1 when this caller ran the
 * sync callback itself. */
apr_status_t pds_group_commit_wait(pds_group_commit_t *g, apr_uint64_t seq,
                                   pds_group_commit_sync_cb sync, void *baton,
                                   apr_interval_time_t max_wait, int *synced);

/* Records <= covered are on disk by other means (a sync made under the
 * writers' lock, e.g. at a rotation): waiters for them may go. */
void pds_group_commit_publish(pds_group_commit_t *g, apr_uint64_t covered);

/* The state's counts: the number of syncs that succeeded and the records
 * they made durable (their ratio is the records per sync). */
void pds_group_commit_counts(const pds_group_commit_t *g, apr_uint64_t *syncs,
                             apr_uint64_t *covered);

/* How many times waiters went to sleep: about one per record that waited
 * when each sleeps until the sync covering it ends. */
apr_uint64_t pds_group_commit_sleeps(const pds_group_commit_t *g);

#endif
