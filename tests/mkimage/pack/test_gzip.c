/* test_gzip.c: the parallel gzip stream: valid gzip, the same bytes for any number of
 * jobs, and a size close to a single zlib stream's. */
#include <zlib.h>

#include "gzip_parallel.h"
#include "unit.h"

static int buf_sink(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    return mk_buf_add(opaque, buf, len) < 0 ? mk_set_error(ctx, MK_ENOMEM, "out of memory")
                                            : MK_OK;
}

/* Compressible but not trivial data: text-like runs, some noise and zero stretches. */
static uint8_t *make_input(size_t len)
{
    uint8_t *p = malloc(len);
    uint32_t x = 12345;
    static const char words[] = "multiboot kernel grub ext2 sector cluster disk image ";

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        size_t zone = (i / 65536) % 4;
        if (zone == 0)
            p[i] = (uint8_t)words[(i + (x >> 28)) % (sizeof(words) - 1)];
        else if (zone == 1)
            p[i] = (uint8_t)(x >> 24);
        else if (zone == 2)
            p[i] = 0;
        else
            p[i] = (uint8_t)((x >> 29) + 'a');
    }
    return p;
}

static int gzip_with(struct mk_ctx *ctx, const uint8_t *in, size_t len, int level, int jobs,
                     size_t step, struct mk_buf *out)
{
    struct mk_sink sink = {.write = buf_sink, .opaque = out};
    struct mk_gzip *gz;
    int r = mk_gzip_new(ctx, level, jobs, &sink, &gz);

    if (r < 0)
        return r;
    for (size_t off = 0; off < len && r == MK_OK; off += step)
        r = mk_gzip_write(ctx, gz, in + off, MK_MIN(step, len - off));
    if (r == MK_OK)
        r = mk_gzip_finish(ctx, gz);
    mk_gzip_free(gz);
    return r;
}

static int gunzip_equals(const struct mk_buf *gz, const uint8_t *in, size_t len)
{
    z_stream zs = {0};
    uint8_t *out = malloc(len + 16);
    int ok;

    if (inflateInit2(&zs, 31) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)gz->buf;
    zs.avail_in = (uInt)gz->len;
    zs.next_out = out;
    zs.avail_out = (uInt)(len + 16);
    ok = inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == len && !zs.avail_in &&
         !memcmp(out, in, len);
    inflateEnd(&zs);
    free(out);
    return ok;
}

static void test_same_bytes_any_jobs(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    size_t len = 3 * MK_GZIP_BLOCK * 4 + 12345;
    uint8_t *in = make_input(len);
    struct mk_buf one = MK_BUF_INIT, two = MK_BUF_INIT, four = MK_BUF_INIT;

    CHECK_OK(ctx, gzip_with(ctx, in, len, 6, 1, 70000, &one));
    CHECK_OK(ctx, gzip_with(ctx, in, len, 6, 2, 4096, &two));
    CHECK_OK(ctx, gzip_with(ctx, in, len, 6, 4, len, &four));
    CHECK(gunzip_equals(&one, in, len));
    CHECK_EQ(one.len, two.len);
    CHECK_EQ(one.len, four.len);
    CHECK(one.len == two.len && !memcmp(one.buf, two.buf, one.len));
    CHECK(one.len == four.len && !memcmp(one.buf, four.buf, one.len));
    /* Pinned header: no name, mtime 0, Unix. */
    CHECK(one.len > 10 && !memcmp(one.buf, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10));
    mk_buf_release(&one);
    mk_buf_release(&two);
    mk_buf_release(&four);
    free(in);
    mk_ctx_free(ctx);
}

static void test_close_to_zlib(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    size_t len = 2u << 20;
    uint8_t *in = make_input(len);
    struct mk_buf ours = MK_BUF_INIT;
    uLong bound = compressBound((uLong)len), single = bound;
    uint8_t *ref = malloc(bound);

    CHECK_OK(ctx, gzip_with(ctx, in, len, 6, 2, 1 << 20, &ours));
    CHECK(compress2(ref, &single, in, (uLong)len, 6) == Z_OK);
    CHECK(gunzip_equals(&ours, in, len));
    /* Within 2% of one zlib stream at the same level (plus the gzip framing). */
    CHECK(ours.len <= single + single / 50 + 32);
    mk_buf_release(&ours);
    free(ref);
    free(in);
    mk_ctx_free(ctx);
}

static void test_edges(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    uint8_t *in = make_input(2 * MK_GZIP_BLOCK);
    struct mk_buf b = MK_BUF_INIT;

    CHECK_OK(ctx, gzip_with(ctx, in, 0, 6, 2, 1, &b));
    CHECK(gunzip_equals(&b, in, 0));
    mk_buf_reset(&b);
    /* A whole number of blocks: the last block is empty. */
    CHECK_OK(ctx, gzip_with(ctx, in, 2 * MK_GZIP_BLOCK, 9, 3, MK_GZIP_BLOCK, &b));
    CHECK(gunzip_equals(&b, in, 2 * MK_GZIP_BLOCK));
    CHECK_EQ((uint8_t)b.buf[8], 2);
    mk_buf_reset(&b);
    CHECK_OK(ctx, gzip_with(ctx, in, 1000, 1, 0, 7, &b));
    CHECK(gunzip_equals(&b, in, 1000));
    CHECK_FAIL(ctx, gzip_with(ctx, in, 10, 10, 1, 10, &b), MK_EINVAL, "gzip level 10");
    mk_buf_release(&b);
    free(in);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_same_bytes_any_jobs), UNIT_TEST(test_close_to_zlib),
          UNIT_TEST(test_edges))
