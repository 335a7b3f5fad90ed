/* Rotated audit log files (pds_unpack.h) from any bytes: plain, gzip or
 * xz, damaged or cut short. The first byte picks how the file arrives: the
 * low nibble the most each read of the callback gives (1 to 16 bytes, or
 * 64 KiB), the high nibble the size of the caller's buffer (1 to 16 bytes,
 * or 64 KiB); the rest is the file. The same file is then read
 * again in large reads into a large buffer. Anything else aborts: the
 * two readings differ (format, bytes, or how they end), a refusal is
 * not "bad-compressed-file", a plain file is not its own bytes, or the
 * format is not the one the file's first bytes name. At most OUT_LIMIT
 * plain bytes are compared (a small file may unpack to a lot). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pds_unpack.h"
#include "chunk_source.h"

#define OUT_LIMIT (256 * 1024)
#define LARGE 65536

typedef struct {
    apr_status_t rv;
    pds_error_t err;
    pds_unpack_format_t format;
    unsigned char *out;
    size_t len;
} reading_t;

static void read_all(apr_pool_t *p, const uint8_t *data, size_t size, size_t step, size_t cap,
                     reading_t *r)
{
    pds_chunk_source_t s = { data, size, 0, step };
    unsigned char *buf = apr_palloc(p, cap);
    pds_unpack_t *u;
    apr_size_t got;

    memset(r, 0, sizeof(*r));
    pds_error_clear(&r->err);
    r->out = apr_palloc(p, OUT_LIMIT);
    if (pds_unpack_open(&u, p, pds_chunk_source_read, &s) != APR_SUCCESS)
        abort();
    while (r->len < OUT_LIMIT) {
        apr_size_t want = OUT_LIMIT - r->len < cap ? OUT_LIMIT - r->len : cap;

        r->rv = pds_unpack_read(u, buf, want, &got, &r->err);
        if (r->rv != APR_SUCCESS || got == 0)
            break;
        if (got > want)
            abort();
        memcpy(r->out + r->len, buf, got);
        r->len += got;
    }
    r->format = pds_unpack_format(u);
    pds_unpack_close(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
    apr_pool_t *p = pds_fuzz_pool();
    reading_t small, large;
    pds_unpack_format_t named = PDS_UNPACK_PLAIN;
    size_t step, cap, n;

    if (size == 0)
        return 0;
    step = (data[0] & 0x0f) == 0x0f ? LARGE : (size_t)(data[0] & 0x0f) + 1;
    cap = (data[0] >> 4) == 0x0f ? LARGE : (size_t)(data[0] >> 4) + 1;
    data++;
    size--;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        named = PDS_UNPACK_GZIP;
    else if (size >= sizeof(xz_magic) && memcmp(data, xz_magic, sizeof(xz_magic)) == 0)
        named = PDS_UNPACK_XZ;

    read_all(p, data, size, step, cap, &small);
    read_all(p, data, size, LARGE, LARGE, &large);
    if (small.format != named || large.format != named)
        abort();
    if (small.rv != APR_SUCCESS && strcmp(small.err.code, "bad-compressed-file") != 0)
        abort();
    if (named == PDS_UNPACK_PLAIN
        && (small.rv != APR_SUCCESS || small.len != (size < OUT_LIMIT ? size : OUT_LIMIT)
            || memcmp(small.out, data, small.len) != 0))
        abort();
    /* Both give bytes of the same plain stream; a damaged file may be found
     * some bytes later with a small buffer than with a large one. Under the
     * limit both end the same way: the same length, or the same refusal. */
    n = small.len < large.len ? small.len : large.len;
    if (memcmp(small.out, large.out, n) != 0
        || (small.len < OUT_LIMIT && large.len < OUT_LIMIT
            && (small.rv != large.rv || strcmp(small.err.code, large.err.code) != 0
                || (small.rv == APR_SUCCESS && small.len != large.len)))) {
        fprintf(stderr, "fuzz_unpack: step %zu cap %zu: %zu bytes (%s), large: %zu (%s)\n",
                step, cap, small.len, small.err.code, large.len, large.err.code);
        abort();
    }
    return 0;
}
