/* pds_unpack.c: rotated audit log files, plain, gzip or xz (pds_unpack.h). */
#include <string.h>

#include <lzma.h>
#include <zlib.h>

#include "pds_unpack.h"

#define UNPACK_IN_SIZE 65536
#define MAGIC_LEN 6                     /* xz's; gzip's is 2 */

struct pds_unpack_t {
    apr_pool_t *pool;
    pds_unpack_read_cb read;
    void *baton;
    unsigned char *in;                  /* the file's bytes not yet used */
    apr_size_t in_pos, in_len;
    int in_eof;
    int started;                        /* the format is known */
    int done;                           /* nothing more to give */
    int live;                           /* a decompressor to end */
    pds_unpack_format_t format;
    z_stream z;
    lzma_stream x;
};

static apr_status_t unpack_cleanup(void *data)
{
    pds_unpack_t *u = data;

    if (u->live && u->format == PDS_UNPACK_GZIP)
        inflateEnd(&u->z);
    else if (u->live && u->format == PDS_UNPACK_XZ)
        lzma_end(&u->x);
    u->live = 0;
    return APR_SUCCESS;
}

apr_status_t pds_unpack_open(pds_unpack_t **pu, apr_pool_t *p, pds_unpack_read_cb read,
                             void *baton)
{
    pds_unpack_t *u = apr_pcalloc(p, sizeof(*u));

    u->pool = p;
    u->read = read;
    u->baton = baton;
    u->in = apr_palloc(p, UNPACK_IN_SIZE);
    apr_pool_cleanup_register(p, u, unpack_cleanup, apr_pool_cleanup_null);
    *pu = u;
    return APR_SUCCESS;
}

void pds_unpack_close(pds_unpack_t *u)
{
    apr_pool_cleanup_run(u->pool, u, unpack_cleanup);
}

pds_unpack_format_t pds_unpack_format(const pds_unpack_t *u)
{
    return u->format;
}

/* Moves what is left to the front and reads more behind it. */
static apr_status_t refill(pds_unpack_t *u)
{
    apr_size_t got = 0;
    apr_status_t rv;

    if (u->in_eof)
        return APR_SUCCESS;
    if (u->in_pos > 0) {
        memmove(u->in, u->in + u->in_pos, u->in_len - u->in_pos);
        u->in_len -= u->in_pos;
        u->in_pos = 0;
    }
    if (u->in_len == UNPACK_IN_SIZE)
        return APR_SUCCESS;
    rv = u->read(u->baton, u->in + u->in_len, UNPACK_IN_SIZE - u->in_len, &got);
    if (rv != APR_SUCCESS)
        return rv;
    if (got == 0)
        u->in_eof = 1;
    u->in_len += got;
    return APR_SUCCESS;
}

static apr_status_t damaged(pds_error_t *err, const char *why)
{
    pds_error_set(err, "bad-compressed-file", -1, "unpack", "%s", why);
    return APR_EGENERAL;
}

/* Reads the first bytes and starts the decompressor they call for. */
static apr_status_t start(pds_unpack_t *u, pds_error_t *err)
{
    static const unsigned char xz_magic[MAGIC_LEN] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
    apr_status_t rv;

    while (u->in_len < MAGIC_LEN && !u->in_eof) {
        if ((rv = refill(u)) != APR_SUCCESS)
            return rv;
    }
    u->started = 1;
    if (u->in_len >= 2 && u->in[0] == 0x1f && u->in[1] == 0x8b) {
        memset(&u->z, 0, sizeof(u->z));
        if (inflateInit2(&u->z, 16 + MAX_WBITS) != Z_OK)
            return damaged(err, "cannot start the gzip decompressor");
        u->format = PDS_UNPACK_GZIP;
        u->live = 1;
    }
    else if (u->in_len >= MAGIC_LEN && memcmp(u->in, xz_magic, MAGIC_LEN) == 0) {
        lzma_stream init = LZMA_STREAM_INIT;

        u->x = init;
        if (lzma_stream_decoder(&u->x, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
            return damaged(err, "cannot start the xz decompressor");
        u->format = PDS_UNPACK_XZ;
        u->live = 1;
    }
    return APR_SUCCESS;
}

static apr_status_t read_plain(pds_unpack_t *u, unsigned char *buf, apr_size_t cap,
                               apr_size_t *got)
{
    apr_size_t n = u->in_len - u->in_pos;
    apr_status_t rv;

    if (n == 0) {                       /* read straight into buf */
        rv = u->in_eof ? APR_SUCCESS : u->read(u->baton, buf, cap, got);
        if (rv == APR_SUCCESS && *got == 0)
            u->done = 1;
        return rv;
    }
    if (n > cap)
        n = cap;
    memcpy(buf, u->in + u->in_pos, n);
    u->in_pos += n;
    *got = n;
    return APR_SUCCESS;
}

static apr_status_t read_gzip(pds_unpack_t *u, unsigned char *buf, apr_size_t cap,
                              apr_size_t *got, pds_error_t *err)
{
    apr_status_t rv;

    while (*got == 0) {
        uInt in_before;
        int zr;

        if (u->in_pos == u->in_len && (rv = refill(u)) != APR_SUCCESS)
            return rv;
        if (u->in_pos == u->in_len && u->in_eof)
            return damaged(err, "the gzip file is cut short");
        u->z.next_in = u->in + u->in_pos;
        u->z.avail_in = in_before = (uInt)(u->in_len - u->in_pos);
        u->z.next_out = buf;
        u->z.avail_out = cap > UINT32_MAX ? UINT32_MAX : (uInt)cap;
        zr = inflate(&u->z, Z_NO_FLUSH);
        u->in_pos += in_before - u->z.avail_in;
        *got = cap - u->z.avail_out;
        if (zr == Z_STREAM_END) {
            /* another member may follow (cat a.gz b.gz); else the end */
            if (u->in_pos == u->in_len && (rv = refill(u)) != APR_SUCCESS)
                return rv;
            if (u->in_pos == u->in_len && u->in_eof) {
                u->done = 1;
                return APR_SUCCESS;
            }
            if (inflateReset(&u->z) != Z_OK)
                return damaged(err, "cannot restart the gzip decompressor");
        }
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return damaged(err, "the gzip data is damaged");
    }
    return APR_SUCCESS;
}

static apr_status_t read_xz(pds_unpack_t *u, unsigned char *buf, apr_size_t cap,
                            apr_size_t *got, pds_error_t *err)
{
    apr_status_t rv;

    while (*got == 0) {
        size_t in_before;
        lzma_ret xr;

        if (u->in_pos == u->in_len && (rv = refill(u)) != APR_SUCCESS)
            return rv;
        u->x.next_in = u->in + u->in_pos;
        u->x.avail_in = in_before = u->in_len - u->in_pos;
        u->x.next_out = buf;
        u->x.avail_out = cap;
        xr = lzma_code(&u->x, u->in_eof ? LZMA_FINISH : LZMA_RUN);
        u->in_pos += in_before - u->x.avail_in;
        *got = cap - u->x.avail_out;
        if (xr == LZMA_STREAM_END) {
            u->done = 1;
            return APR_SUCCESS;
        }
        if (xr == LZMA_BUF_ERROR && u->in_eof)
            return damaged(err, "the xz file is cut short");
        if (xr != LZMA_OK && xr != LZMA_BUF_ERROR)
            return damaged(err, "the xz data is damaged");
    }
    return APR_SUCCESS;
}

apr_status_t pds_unpack_read(pds_unpack_t *u, void *buf, apr_size_t cap, apr_size_t *got,
                             pds_error_t *err)
{
    apr_status_t rv;

    *got = 0;
    if (cap == 0 || u->done)
        return APR_SUCCESS;
    if (!u->started && (rv = start(u, err)) != APR_SUCCESS)
        return rv;
    switch (u->format) {
    case PDS_UNPACK_GZIP:
        return read_gzip(u, buf, cap, got, err);
    case PDS_UNPACK_XZ:
        return read_xz(u, buf, cap, got, err);
    default:
        return read_plain(u, buf, cap, got);
    }
}
