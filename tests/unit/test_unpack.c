/* test_unpack.c: rotated log files, plain, gzip and xz (lib/pds_unpack.h):
 * every format read back byte for byte through a callback that hands out
 * the file a few bytes at a time, concatenated members, and damaged or
 * cut-short files refused with bad-compressed-file. */
#include <string.h>

#include <lzma.h>
#include <zlib.h>

#include "pds_test.h"
#include "pds_unpack.h"
#include "chunk_source.h"

/* Some audit-like lines, long enough to span several reads. */
static char *sample(apr_pool_t *p, apr_size_t *plen)
{
    apr_size_t cap = 200000, len = 0;
    char *text = apr_palloc(p, cap);
    int i;

    for (i = 1; len + 200 < cap; i++)
        len += (apr_size_t)snprintf(text + len, cap - len,
                                    "{\"seq\":%d,\"prev\":\"%064d\",\"decision\":\"allow\"}\n",
                                    i, i * 7);
    *plen = len;
    return text;
}

static unsigned char *gzip_of(apr_pool_t *p, const char *in, apr_size_t len, apr_size_t *out_len)
{
    z_stream z;
    apr_size_t cap = len + 1024;
    unsigned char *out = apr_palloc(p, cap);

    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static unsigned char *xz_of(apr_pool_t *p, const char *in, apr_size_t len, apr_size_t *out_len)
{
    apr_size_t cap = lzma_stream_buffer_bound(len), pos = 0;
    unsigned char *out = apr_palloc(p, cap);

    assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL,
                                             (const uint8_t *)in, len, out, &pos, cap), LZMA_OK);
    *out_len = pos;
    return out;
}

/* Reads everything; returns the status of the read that ended it. */
static apr_status_t read_all(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                             apr_size_t step, char **pout, apr_size_t *pout_len,
                             pds_unpack_format_t *format, pds_error_t *err)
{
    pds_chunk_source_t s = { data, len, 0, step };
    pds_unpack_t *u;
    apr_size_t cap = 400000, total = 0, got;
    char *out = apr_palloc(p, cap);
    apr_status_t rv;

    pds_error_clear(err);
    assert_int_equal(pds_unpack_open(&u, p, pds_chunk_source_read, &s), APR_SUCCESS);
    do {
        rv = pds_unpack_read(u, out + total, total + 1000 < cap ? 1000 : cap - total, &got, err);
        total += got;
    } while (rv == APR_SUCCESS && got > 0);
    *format = pds_unpack_format(u);
    pds_unpack_close(u);
    *pout = out;
    *pout_len = total;
    return rv;
}

static void test_plain_gzip_and_xz_read_back(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t len, packed_len, out_len;
    char *text = sample(p, &len), *out;
    const unsigned char *packed;
    pds_unpack_format_t format;
    pds_error_t err;
    apr_size_t steps[] = { 1, 7, 65536 };
    int i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(read_all(p, (unsigned char *)text, len, steps[i], &out, &out_len,
                                  &format, &err), APR_SUCCESS);
        assert_int_equal(format, PDS_UNPACK_PLAIN);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, text, len);

        packed = gzip_of(p, text, len, &packed_len);
        assert_int_equal(read_all(p, packed, packed_len, steps[i], &out, &out_len, &format,
                                  &err), APR_SUCCESS);
        assert_int_equal(format, PDS_UNPACK_GZIP);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, text, len);

        packed = xz_of(p, text, len, &packed_len);
        assert_int_equal(read_all(p, packed, packed_len, steps[i], &out, &out_len, &format,
                                  &err), APR_SUCCESS);
        assert_int_equal(format, PDS_UNPACK_XZ);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, text, len);
    }
}

/* An empty file and a one-byte file are plain, and read as they are. */
static void test_short_files_are_plain(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t out_len;
    pds_unpack_format_t format;
    pds_error_t err;
    char *out;

    assert_int_equal(read_all(p, (const unsigned char *)"", 0, 5, &out, &out_len, &format, &err),
                     APR_SUCCESS);
    assert_int_equal(out_len, 0);
    assert_int_equal(read_all(p, (const unsigned char *)"\x1f", 1, 5, &out, &out_len, &format,
                              &err), APR_SUCCESS);
    assert_int_equal(format, PDS_UNPACK_PLAIN);
    assert_int_equal(out_len, 1);
}

/* cat a.gz b.gz reads as a then b, like gzip -d. */
static void test_concatenated_gzip_members(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t a_len, b_len, out_len;
    const unsigned char *a = gzip_of(p, "first\n", 6, &a_len);
    const unsigned char *b = gzip_of(p, "second\n", 7, &b_len);
    unsigned char *both = apr_palloc(p, a_len + b_len);
    pds_unpack_format_t format;
    pds_error_t err;
    char *out;

    memcpy(both, a, a_len);
    memcpy(both + a_len, b, b_len);
    assert_int_equal(read_all(p, both, a_len + b_len, 3, &out, &out_len, &format, &err),
                     APR_SUCCESS);
    assert_int_equal(out_len, 13);
    assert_memory_equal(out, "first\nsecond\n", 13);
}

static void test_damaged_and_cut_short_files_are_refused(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t len, packed_len, out_len;
    char *text = sample(p, &len), *out;
    unsigned char *packed;
    pds_unpack_format_t format;
    pds_error_t err;

    packed = gzip_of(p, text, len, &packed_len);
    assert_int_equal(read_all(p, packed, packed_len / 2, 4096, &out, &out_len, &format, &err),
                     APR_EGENERAL);
    assert_string_equal(err.code, "bad-compressed-file");
    assert_contains(err.text, "cut short");
    packed[packed_len / 2] ^= 0x55;
    packed[packed_len / 2 + 1] ^= 0x55;
    assert_int_equal(read_all(p, packed, packed_len, 4096, &out, &out_len, &format, &err),
                     APR_EGENERAL);
    assert_string_equal(err.code, "bad-compressed-file");

    packed = xz_of(p, text, len, &packed_len);
    assert_int_equal(read_all(p, packed, packed_len - 10, 4096, &out, &out_len, &format, &err),
                     APR_EGENERAL);
    assert_string_equal(err.code, "bad-compressed-file");
    packed[packed_len / 2] ^= 0x55;
    assert_int_equal(read_all(p, packed, packed_len, 4096, &out, &out_len, &format, &err),
                     APR_EGENERAL);
    assert_string_equal(err.code, "bad-compressed-file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        pds_test_with_pool(test_plain_gzip_and_xz_read_back),
        pds_test_with_pool(test_short_files_are_plain),
        pds_test_with_pool(test_concatenated_gzip_members),
        pds_test_with_pool(test_damaged_and_cut_short_files_are_refused),
    };

    return pds_test_main(tests, NULL, NULL);
}
