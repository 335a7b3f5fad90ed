/* pds_spool.c: a body held in memory, or past a threshold in an anonymous
 * file mapped once it is whole (pds_spool.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* O_TMPFILE */
#endif
#include "pds_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

struct pds_spool_t {
    pds_spool_options_t o;
    apr_pool_t *pool;           /* the owner's: the fallback's file name */
    char *buf;                  /* malloc'd: the body, or the file's write buffer */
    apr_size_t len;             /* bytes in buf */
    apr_size_t cap;
    apr_size_t total;           /* bytes of the body so far */
    int fd;                     /* -1: no file */
    void *map;                  /* the mapping, once whole */
    apr_size_t map_len;
    int mapped;                 /* pds_spool_map() was called */
    apr_status_t failed;        /* a file step failed: every later call fails */
    char failed_code[PDS_ERROR_CODE_LENGTH];
    char failed_text[PDS_ERROR_TEXT_LENGTH];
};

static apr_status_t spool_cleanup(void *data)
{
    pds_spool_close(data);
    return APR_SUCCESS;
}

apr_status_t pds_spool_create(pds_spool_t **ps, apr_pool_t *p,
                              const pds_spool_options_t *opts)
{
    pds_spool_t *s = apr_pcalloc(p, sizeof(*s));

    if (opts == NULL || opts->threshold == 0 || opts->limit == 0)
        return APR_EINVAL;
    s->o = *opts;
    s->pool = p;
    if (s->o.dir != NULL)
        s->o.dir = apr_pstrdup(p, s->o.dir);
    s->fd = -1;
    apr_pool_cleanup_register(p, s, spool_cleanup, apr_pool_cleanup_null);
    *ps = s;
    return APR_SUCCESS;
}

static apr_status_t spool_fail(pds_spool_t *s, apr_status_t rv, const char *code,
                               const char *step, int e, pds_error_t *err)
{
    if (s->failed == APR_SUCCESS) {
        s->failed = rv;
        apr_cpystrn(s->failed_code, code, sizeof(s->failed_code));
        apr_snprintf(s->failed_text, sizeof(s->failed_text), "the spool file in %s "
                     "could not be %s: %s", s->o.dir ? s->o.dir : "-", step, strerror(e));
    }
    pds_error_set(err, s->failed_code, -1, "spool", "%s", s->failed_text);
    return s->failed;
}

/* An unnamed file in dir, mode 0600: O_TMPFILE, or where the file system
 * cannot, mkstemp and unlink at once. -1 with errno on failure. */
static int open_anonymous(const char *dir, apr_pool_t *p)
{
    int fd = -1;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
#endif
    {
        char *name = apr_pstrcat(p, dir, "/pds-spool-XXXXXX", NULL);

        /* mkostemp makes it 0600 whatever the umask; umask itself is not
         * touched, as it is the whole process's, and its threads'. */
        fd = mkostemp(name, O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (unlink(name) != 0) {
            int e = errno;

            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

static int write_all(int fd, const char *data, apr_size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, data, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        data += w;
        n -= (apr_size_t)w;
    }
    return 0;
}

/* Makes room for at least want bytes in buf (want <= the most buf holds). */
static int grow(pds_spool_t *s, apr_size_t want)
{
    apr_size_t most = s->o.dir != NULL ? s->o.threshold : s->o.limit;
    apr_size_t cap = s->cap > 0 ? s->cap
                     : (s->o.expected > 0 && s->o.expected <= most ? s->o.expected : 8192);
    char *grown;

    if (cap > most)
        cap = most;
    while (cap < want)
        cap = cap > most / 2 ? most : cap * 2;
    if (cap == s->cap)
        return 0;
    grown = realloc(s->buf, cap);
    if (grown == NULL)
        return -1;
    s->buf = grown;
    s->cap = cap;
    return 0;
}

static apr_status_t flush(pds_spool_t *s, pds_error_t *err)
{
    if (s->fd < 0) {
        s->fd = open_anonymous(s->o.dir, s->pool);
        if (s->fd < 0)
            return spool_fail(s, APR_FROM_OS_ERROR(errno), "spool-open", "created", errno,
                              err);
    }
    if (s->len > 0 && write_all(s->fd, s->buf, s->len) != 0)
        return spool_fail(s, APR_FROM_OS_ERROR(errno), "spool-write", "written", errno, err);
    s->len = 0;
    return APR_SUCCESS;
}

apr_status_t pds_spool_append(pds_spool_t *s, const char *data, apr_size_t n,
                              pds_error_t *err)
{
    apr_status_t rv;

    if (s->failed != APR_SUCCESS)
        return spool_fail(s, s->failed, s->failed_code, "", 0, err);
    if (s->mapped)
        return APR_EINVAL;
    if (n > s->o.limit - s->total)
        return PDS_SPOOL_TOO_LARGE;
    if (n == 0)
        return APR_SUCCESS;
    if (s->o.dir == NULL || (s->fd < 0 && s->len + n <= s->o.threshold)) {
        /* Memory: the body itself. */
        if (s->len + n > s->cap && grow(s, s->len + n) != 0)
            return APR_ENOMEM;
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        s->total += n;
        return APR_SUCCESS;
    }
    /* The file: buf is its write buffer, of threshold bytes. */
    if (s->cap < s->o.threshold && grow(s, s->o.threshold) != 0)
        return APR_ENOMEM;
    rv = APR_SUCCESS;
    if (s->len + n > s->cap)
        rv = flush(s, err);
    if (rv == APR_SUCCESS && n >= s->cap) {
        if (write_all(s->fd, data, n) != 0)
            rv = spool_fail(s, APR_FROM_OS_ERROR(errno), "spool-write", "written", errno,
                            err);
    }
    else if (rv == APR_SUCCESS) {
        memcpy(s->buf + s->len, data, n);
        s->len += n;
    }
    if (rv == APR_SUCCESS)
        s->total += n;
    return rv;
}

apr_status_t pds_spool_map(pds_spool_t *s, const char **pdata, apr_size_t *plen,
                           pds_error_t *err)
{
    void *m;

    if (s->failed != APR_SUCCESS)
        return spool_fail(s, s->failed, s->failed_code, "", 0, err);
    s->mapped = 1;
    if (s->fd < 0) {
        *pdata = s->buf != NULL ? s->buf : "";
        *plen = s->len;
        return APR_SUCCESS;
    }
    if (s->map == NULL) {
        apr_status_t rv = flush(s, err);

        if (rv != APR_SUCCESS)
            return rv;
        free(s->buf);               /* the write buffer is done with */
        s->buf = NULL;
        s->cap = 0;
        m = mmap(NULL, s->total, PROT_READ, MAP_PRIVATE, s->fd, 0);
        if (m == MAP_FAILED)
            return spool_fail(s, APR_FROM_OS_ERROR(errno), "spool-map", "mapped", errno,
                              err);
        /* Read once, front to back: read ahead, drop behind. */
        (void)madvise(m, s->total, MADV_SEQUENTIAL);
        s->map = m;
        s->map_len = s->total;
    }
    *pdata = s->map;
    *plen = s->map_len;
    return APR_SUCCESS;
}

void pds_spool_close(pds_spool_t *s)
{
    if (s == NULL)
        return;
    if (s->map != NULL) {
        (void)munmap(s->map, s->map_len);
        s->map = NULL;
    }
    if (s->fd >= 0) {
        (void)close(s->fd);
        s->fd = -1;
    }
    free(s->buf);
    s->buf = NULL;
    s->cap = s->len = 0;
}

int pds_spool_on_disk(const pds_spool_t *s)
{
    return s != NULL && (s->fd >= 0 || s->map != NULL);
}

apr_status_t pds_spool_probe(const char *dir, apr_pool_t *p, pds_error_t *err)
{
    int fd = open_anonymous(dir, p);

    if (fd < 0) {
        int e = errno;

        pds_error_set(err, "spool-open", -1, "spool", "a file cannot be created in %s: %s",
                      dir, strerror(e));
        return APR_FROM_OS_ERROR(e);
    }
    (void)close(fd);
    return APR_SUCCESS;
}
