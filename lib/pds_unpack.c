/* pds_unpack.c: rotated audit log files, plain, gzip or xz (pds_unpack.h). */
#include <string.h>

#include <lzma.h>
#include <zlib.h>

#include "pds_unpack.h"

#define UNPACK_IN_SIZE 65536
#define MAGIC_LEN 6                     /* xz's; gzip's is 2 */

/* How a step of a decompressor ended. */
typedef enum {
    STEP_OK = 0,                        /* progress, or more input wanted */
    STEP_END,                           /* a member or stream ended */
    STEP_SHORT,                         /* the input ended inside one */
    STEP_BAD                            /* damaged data */
} step_t;

/* One decompressor; pds_unpack_read's loop is the same for every one. */
typedef struct {
    pds_unpack_format_t format;
    const char *name;                   /* in messages: "gzip" */
    const unsigned char *magic;         /* the file's first bytes */
    apr_size_t magic_len;
    int (*begin)(pds_unpack_t *u);      /* 0 when started */
    /* From in (*in_len bytes; finish: nothing follows) into out (*out_len
     * bytes); then *in_len is what was used, *out_len what was made. */
    step_t (*step)(pds_unpack_t *u, const unsigned char *in, apr_size_t *in_len, int finish,
                   unsigned char *out, apr_size_t *out_len);
    void (*end)(pds_unpack_t *u);
} codec_t;

struct pds_unpack_t {
    apr_pool_t *pool;
    pds_unpack_read_cb read;
    void *baton;
    unsigned char *in;                  /* the file's bytes not yet used */
    apr_size_t in_pos, in_len;
    int in_eof;
    int started;                        /* the format is known */
    int done;                           /* nothing more to give */
    const codec_t *codec;               /* a live decompressor; NULL: plain */
    pds_unpack_format_t format;
    z_stream z;
    lzma_stream x;
};

/* ---- gzip (zlib) ---------------------------------------------------------- */

static int gzip_begin(pds_unpack_t *u)
{
    memset(&u->z, 0, sizeof(u->z));
    return inflateInit2(&u->z, 16 + MAX_WBITS) == Z_OK ? 0 : -1;
}

static step_t gzip_step(pds_unpack_t *u, const unsigned char *in, apr_size_t *in_len,
                        int finish, unsigned char *out, apr_size_t *out_len)
{
    uInt avail_out = *out_len > UINT32_MAX ? UINT32_MAX : (uInt)*out_len;
    int zr;

    if (*in_len == 0 && finish) {
        *out_len = 0;
        return STEP_SHORT;
    }
    u->z.next_in = (unsigned char *)in;
    u->z.avail_in = (uInt)*in_len;      /* at most UNPACK_IN_SIZE */
    u->z.next_out = out;
    u->z.avail_out = avail_out;
    zr = inflate(&u->z, Z_NO_FLUSH);
    *in_len -= u->z.avail_in;
    *out_len = avail_out - u->z.avail_out;
    if (zr == Z_STREAM_END)             /* another member may follow */
        return inflateReset(&u->z) == Z_OK ? STEP_END : STEP_BAD;
    return zr == Z_OK || zr == Z_BUF_ERROR ? STEP_OK : STEP_BAD;
}

static void gzip_end(pds_unpack_t *u)
{
    inflateEnd(&u->z);
}

/* ---- xz (liblzma; it reads concatenated streams itself) ------------------- */

static int xz_begin(pds_unpack_t *u)
{
    lzma_stream init = LZMA_STREAM_INIT;

    u->x = init;
    return lzma_stream_decoder(&u->x, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK ? 0 : -1;
}

static step_t xz_step(pds_unpack_t *u, const unsigned char *in, apr_size_t *in_len,
                      int finish, unsigned char *out, apr_size_t *out_len)
{
    lzma_ret xr;

    u->x.next_in = in;
    u->x.avail_in = *in_len;
    u->x.next_out = out;
    u->x.avail_out = *out_len;
    xr = lzma_code(&u->x, finish ? LZMA_FINISH : LZMA_RUN);
    *in_len -= u->x.avail_in;
    *out_len -= u->x.avail_out;
    if (xr == LZMA_STREAM_END)
        return STEP_END;
    if (xr == LZMA_BUF_ERROR && finish)
        return STEP_SHORT;
    return xr == LZMA_OK || xr == LZMA_BUF_ERROR ? STEP_OK : STEP_BAD;
}

static void xz_end(pds_unpack_t *u)
{
    lzma_end(&u->x);
}

static const unsigned char gzip_magic[] = { 0x1f, 0x8b };
static const unsigned char xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };

static const codec_t codecs[] = {
    { PDS_UNPACK_GZIP, "gzip", gzip_magic, sizeof(gzip_magic), gzip_begin, gzip_step, gzip_end },
    { PDS_UNPACK_XZ, "xz", xz_magic, sizeof(xz_magic), xz_begin, xz_step, xz_end }
};

/* ---- the reader ----------------------------------------------------------- */

static apr_status_t unpack_cleanup(void *data)
{
    pds_unpack_t *u = data;

    if (u->codec != NULL)
        u->codec->end(u);
    u->codec = NULL;
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

/* "<before><the codec's name><after>", e.g. "the gzip data is damaged". */
static apr_status_t damaged(pds_error_t *err, const char *before, const codec_t *c,
                            const char *after)
{
    pds_error_set(err, "bad-compressed-file", -1, "unpack", "%s%s%s", before, c->name, after);
    return APR_EGENERAL;
}

/* Reads the first bytes and starts the decompressor they call for. */
static apr_status_t start(pds_unpack_t *u, pds_error_t *err)
{
    apr_status_t rv;
    apr_size_t i;

    while (u->in_len < MAGIC_LEN && !u->in_eof) {
        if ((rv = refill(u)) != APR_SUCCESS)
            return rv;
    }
    u->started = 1;
    for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        const codec_t *c = &codecs[i];

        if (u->in_len >= c->magic_len && memcmp(u->in, c->magic, c->magic_len) == 0) {
            if (c->begin(u) != 0)
                return damaged(err, "cannot start the ", c, " decompressor");
            u->format = c->format;
            u->codec = c;
            break;
        }
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

/* Steps the decompressor until it makes plain bytes or the file ends. */
static apr_status_t read_packed(pds_unpack_t *u, unsigned char *buf, apr_size_t cap,
                                apr_size_t *got, pds_error_t *err)
{
    const codec_t *c = u->codec;
    apr_status_t rv;

    while (*got == 0) {
        apr_size_t used, made = cap;
        step_t step;

        if (u->in_pos == u->in_len && (rv = refill(u)) != APR_SUCCESS)
            return rv;
        used = u->in_len - u->in_pos;
        step = c->step(u, u->in + u->in_pos, &used, u->in_eof, buf, &made);
        u->in_pos += used;
        *got = made;
        if (step == STEP_SHORT)
            return damaged(err, "the ", c, " file is cut short");
        if (step == STEP_BAD)
            return damaged(err, "the ", c, " data is damaged");
        if (step == STEP_END) {
            /* another member may follow (cat a.gz b.gz); else the end */
            if (u->in_pos == u->in_len && (rv = refill(u)) != APR_SUCCESS)
                return rv;
            if (u->in_pos == u->in_len && u->in_eof) {
                u->done = 1;
                return APR_SUCCESS;
            }
        }
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
    if (u->codec != NULL)
        return read_packed(u, buf, cap, got, err);
    return read_plain(u, buf, cap, got);
}
