/* test_tar.c: GNU tar header fields, the sparse map and its extension blocks, and reading
 * a disk.tar.gz back with GCE's rules checked. */
#include <sys/stat.h>
#include <unistd.h>

#include "pack_tar.h"
#include "unit.h"

#define GIB (UINT64_C(1) << 30)

static void test_numbers(void)
{
    uint8_t f[12];
    uint64_t v;

    mk_tar_put_number(f, 8, 0644);
    CHECK(!memcmp(f, "0000644\0", 8));
    mk_tar_put_number(f, 12, 4096);
    CHECK(!memcmp(f, "00000010000\0", 12));
    mk_tar_put_number(f, 12, 8 * GIB - 1);
    CHECK(!memcmp(f, "77777777777\0", 12));
    /* From 8 GiB up: base-256, as GNU tar writes a 9 GiB size. */
    mk_tar_put_number(f, 12, 9 * GIB);
    CHECK(!memcmp(f, "\x80\0\0\0\0\0\0\x02\x40\0\0\0", 12));
    mk_tar_put_number(f, 12, 10 * GIB + 20480);
    CHECK(!memcmp(f, "\x80\0\0\0\0\0\0\x02\x80\0\x50\0", 12));
    CHECK(mk_tar_get_number(f, 12, &v) == 0 && v == 10 * GIB + 20480);
    mk_tar_put_number(f, 12, 2 * 1024 * GIB);
    CHECK(mk_tar_get_number(f, 12, &v) == 0 && v == 2 * 1024 * GIB);
    CHECK(mk_tar_get_number((const uint8_t *)"  644 \0\0", 8, &v) == 0 && v == 0644);
    CHECK(mk_tar_get_number((const uint8_t *)"\0\0\0\0\0\0\0\0", 8, &v) == 0 && v == 0);
    CHECK(mk_tar_get_number((const uint8_t *)"0008\0\0\0\0", 8, &v) < 0);
    CHECK(mk_tar_get_number((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff", 8, &v) < 0);
}

static void test_checksum(void)
{
    uint8_t h[MK_TAR_BLOCK] = {0};

    memcpy(h, "disk.raw", 8);
    mk_tar_set_checksum(h);
    /* 8 spaces (256) + the name's bytes. */
    unsigned sum = 256;
    for (int i = 0; i < 8; i++)
        sum += (unsigned)"disk.raw"[i];
    char want[8];
    snprintf(want, sizeof(want), "%06o", sum);
    CHECK(!memcmp(h + MK_TAR_CHKSUM, want, 6) && h[154] == 0 && h[155] == ' ');
    CHECK(mk_tar_checksum_ok(h));
    h[0] = 'D';
    CHECK(!mk_tar_checksum_ok(h));
}

static uint8_t *sparse_header(struct mk_ctx *ctx, const struct mk_extent *e, size_t n,
                              uint64_t realsize, size_t *ret_blocks, struct mk_buf *b)
{
    mk_buf_reset(b);
    CHECK_OK(ctx, mk_tar_sparse_header(ctx, "disk.raw", e, n, realsize, 0, b));
    *ret_blocks = b->len / MK_TAR_BLOCK;
    CHECK_EQ(b->len % MK_TAR_BLOCK, 0);
    return (uint8_t *)b->buf;
}

static uint64_t entry(const uint8_t *p, int i, int second)
{
    uint64_t v = UINT64_MAX;
    mk_tar_get_number(p + 24 * i + 12 * second, 12, &v);
    return v;
}

static void test_sparse_map(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf b = MK_BUF_INIT;
    struct mk_extent e[40];
    size_t blocks;
    uint8_t *h;
    uint64_t v;

    for (int i = 0; i < 40; i++)
        e[i] = (struct mk_extent){.off = (uint64_t)i * 300 * 1024 * 1024, .len = 4096};
    /* 3 extents and the empty entry that marks the end: one block. */
    h = sparse_header(ctx, e, 3, 10 * GIB, &blocks, &b);
    CHECK_EQ(blocks, 1);
    CHECK_EQ(h[MK_TAR_TYPEFLAG], 'S');
    CHECK(!memcmp(h + MK_TAR_MAGIC, "ustar  \0", 8));
    CHECK_EQ(h[MK_TAR_ISEXTENDED], 0);
    CHECK(mk_tar_get_number(h + MK_TAR_SIZE, 12, &v) == 0 && v == 3 * 4096);
    CHECK(mk_tar_get_number(h + MK_TAR_REALSIZE, 12, &v) == 0 && v == 10 * GIB);
    CHECK_EQ(h[MK_TAR_REALSIZE], 0x80);
    CHECK_EQ(entry(h + MK_TAR_SPARSE, 3, 0), 10 * GIB);
    CHECK_EQ(entry(h + MK_TAR_SPARSE, 3, 1), 0);
    CHECK(mk_tar_checksum_ok(h));
    CHECK(!memcmp(h + MK_TAR_UNAME, "root\0", 5) && !memcmp(h + MK_TAR_GNAME, "root\0", 5));
    /* 3 extents reaching the end still get the terminal entry, as GNU tar writes. */
    struct mk_extent end3[3] = {{0, 512}, {4096, 512}, {GIB - 4096, 4096}};
    h = sparse_header(ctx, end3, 3, GIB, &blocks, &b);
    CHECK_EQ(blocks, 1);
    CHECK_EQ(h[MK_TAR_ISEXTENDED], 0);
    CHECK_EQ(entry(h + MK_TAR_SPARSE, 3, 0), GIB);
    CHECK_EQ(entry(h + MK_TAR_SPARSE, 3, 1), 0);
    /* 4 extents and the terminal entry: an extension block with one entry. */
    h = sparse_header(ctx, e, 4, 10 * GIB, &blocks, &b);
    CHECK_EQ(blocks, 2);
    CHECK_EQ(h[MK_TAR_ISEXTENDED], 1);
    CHECK_EQ(entry(h + MK_TAR_BLOCK, 0, 0), 10 * GIB);
    CHECK_EQ(h[MK_TAR_BLOCK + MK_TAR_EXT_ISEXTENDED], 0);
    /* 40 + 1 entries: 4 in the header, 21, then 16. */
    h = sparse_header(ctx, e, 40, 20 * GIB, &blocks, &b);
    CHECK_EQ(blocks, 3);
    CHECK_EQ(h[MK_TAR_ISEXTENDED], 1);
    CHECK_EQ(h[MK_TAR_BLOCK + MK_TAR_EXT_ISEXTENDED], 1);
    CHECK_EQ(h[2 * MK_TAR_BLOCK + MK_TAR_EXT_ISEXTENDED], 0);
    CHECK_EQ(entry(h + MK_TAR_BLOCK, 20, 0), e[24].off);
    CHECK_EQ(entry(h + 2 * MK_TAR_BLOCK, 14, 0), e[39].off);
    CHECK_EQ(entry(h + 2 * MK_TAR_BLOCK, 15, 0), 20 * GIB);
    CHECK_EQ(entry(h + 2 * MK_TAR_BLOCK, 16, 0), 0);
    /* An empty disk: only the terminal entry. */
    h = sparse_header(ctx, NULL, 0, GIB, &blocks, &b);
    CHECK_EQ(blocks, 1);
    CHECK_EQ(entry(h + MK_TAR_SPARSE, 0, 0), GIB);
    CHECK_FAIL(ctx, mk_tar_sparse_header(ctx, "disk.raw", e, 1, 100, 0, &b), MK_EINVAL,
               "past the end");
    mk_buf_release(&b);
    mk_ctx_free(ctx);
}

/* A store disk with data at a few places, written as a disk.tar.gz in (dir). */
static struct mk_disk *sample_disk(struct mk_ctx *ctx, uint64_t size)
{
    struct mk_disk *d = NULL;
    uint8_t buf[10000];

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    CHECK_OK(ctx, mk_store_new(ctx, size, &d));
    CHECK_OK(ctx, mk_disk_write(ctx, d, 0, buf, 512));
    CHECK_OK(ctx, mk_disk_write(ctx, d, 1 << 20, buf, sizeof(buf)));
    CHECK_OK(ctx, mk_disk_write(ctx, d, size - 4096, buf, 4096));
    return d;
}

static int same_disks(struct mk_ctx *ctx, struct mk_disk *a, struct mk_disk *b, uint64_t len)
{
    uint8_t x[65536], y[65536];

    for (uint64_t off = 0; off < len; off += sizeof(x)) {
        size_t n = (size_t)MK_MIN(sizeof(x), len - off);
        if (mk_disk_read(ctx, a, off, x, n) || mk_disk_read(ctx, b, off, y, n) ||
            memcmp(x, y, n))
            return 0;
    }
    return 1;
}

static void test_targz_round_trip(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char dir[] = "/tmp/test_tar.XXXXXX", path[128];
    struct mk_buf problems = MK_BUF_INIT;
    struct mk_pack_opts opts = {.jobs = 2, .round_up = 1};
    struct mk_disk *d, *back = NULL;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/disk.tar.gz", dir);
    /* 3 MiB: not a whole GiB, so rounded up. */
    d = sample_disk(ctx, 3 << 20);
    CHECK_FAIL(ctx, mk_disk_write_file(ctx, d, MK_FORMAT_GCE, NULL, path), MK_EINVAL,
               "disk size 3145728 is not a whole number of GiB");
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(ctx, mk_disk_write_file(ctx, d, MK_FORMAT_GCE, &opts, path));
    CHECK_OK(ctx, mk_disk_open_targz(ctx, path, &problems, &back));
    CHECK_STR(problems.buf, "");
    if (back) {
        CHECK_EQ(mk_disk_size(back), GIB);
        CHECK_EQ(mk_disk_source_format(back), MK_FORMAT_GCE);
        CHECK(same_disks(ctx, d, back, 3 << 20));
        uint64_t data;
        CHECK_OK(ctx, mk_disk_data_bytes(ctx, back, &data));
        CHECK_EQ(data, 5 * 4096); /* chunks of 4 KiB */
    }
    mk_disk_free(back);
    back = NULL;

    /* Cut in the middle: corrupt for both callers; the problem list still gets a disk. */
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 100);
    CHECK(truncate(path, st.st_size / 2) == 0);
    CHECK_FAIL(ctx, mk_disk_open_targz(ctx, path, NULL, &back), MK_EFORMAT,
               "gzip data is corrupt or truncated");
    mk_buf_reset(&problems);
    int r = mk_disk_open_targz(ctx, path, &problems, &back);
    CHECK(strstr(problems.buf, "gzip data is corrupt or truncated") != NULL);
    CHECK(r == MK_OK || r == MK_EFORMAT);
    mk_disk_free(back);
    mk_disk_free(d);
    mk_buf_release(&problems);
    unlink(path);
    rmdir(dir);
    mk_ctx_free(ctx);
}

/* Archives made by GNU tar that break GCE's rules, each named in one line. */
static void test_targz_rules(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char dir[] = "/tmp/test_tar.XXXXXX", cmd[1024], path[128];
    struct mk_buf problems = MK_BUF_INIT;
    struct mk_disk *d = NULL;

    if (system("command -v tar >/dev/null && command -v gzip >/dev/null") != 0) {
        printf("  (no tar or gzip: skipped)\n");
        mk_ctx_free(ctx);
        return;
    }
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd), "cd %s && truncate -s 1G disk.raw && echo hi > other && "
             "truncate -s 5M small.raw && "
             "tar --format=oldgnu -cSzf two.tar.gz disk.raw other && "
             "tar --format=posix -czf posix.tar.gz small.raw && "
             "tar --format=oldgnu -czf small.tar.gz small.raw && "
             "tar --format=oldgnu -cSzf ok.tar.gz disk.raw", dir);
    CHECK_EQ(system(cmd), 0);

    snprintf(path, sizeof(path), "%s/ok.tar.gz", dir);
    CHECK_OK(ctx, mk_disk_open_targz(ctx, path, &problems, &d));
    CHECK_STR(problems.buf, "");
    mk_disk_free(d);

    mk_buf_reset(&problems);
    snprintf(path, sizeof(path), "%s/two.tar.gz", dir);
    CHECK_OK(ctx, mk_disk_open_targz(ctx, path, &problems, &d));
    CHECK_STR(problems.buf, "the archive holds 2 members; GCE requires exactly one, disk.raw");
    mk_disk_free(d);

    mk_buf_reset(&problems);
    snprintf(path, sizeof(path), "%s/posix.tar.gz", dir);
    CHECK_OK(ctx, mk_disk_open_targz(ctx, path, &problems, &d));
    CHECK(!strncmp(problems.buf, "the tar format is POSIX ustar or pax; GCE requires GNU "
                   "oldgnu format (tar --format=oldgnu)\n", 87));
    mk_disk_free(d);

    mk_buf_reset(&problems);
    snprintf(path, sizeof(path), "%s/small.tar.gz", dir);
    CHECK_OK(ctx, mk_disk_open_targz(ctx, path, &problems, &d));
    CHECK_STR(problems.buf,
              "'small.raw' is 5242880 bytes, not a whole number of GiB as GCE requires\n"
              "the file in the archive is named 'small.raw'; GCE requires 'disk.raw' (no "
              "folder, no ./)");
    if (d)
        CHECK_EQ(mk_disk_size(d), 5 << 20);
    mk_disk_free(d);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
    mk_buf_release(&problems);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_numbers), UNIT_TEST(test_checksum), UNIT_TEST(test_sparse_map),
          UNIT_TEST(test_targz_round_trip), UNIT_TEST(test_targz_rules))
