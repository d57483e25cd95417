/* test_cancel.c: the image readers' loops whose work grows with the image hear a cancelled
 * context: a qcow2's L2 tables read at open, a raw file's extents, the tar members a tar.gz
 * skips on the way to its disk. Each runs here with a context cancelled beforehand (as
 * Ctrl-C would mid-way) and must stop with MK_ECANCELED instead of finishing. */
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "disk_private.h"
#include "unit.h"

static char dir[] = "/tmp/test_cancel.XXXXXX";

static const char *path_of(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

/* A 4 MiB disk with data at its start and at 3 MiB, written as (fmt) to (name). */
static const char *write_disk(const char *name, enum mk_format fmt)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    uint8_t data[4096];
    const char *path = path_of(name);

    memset(data, 0xa5, sizeof(data));
    CHECK_OK(ctx, mk_store_new(ctx, 4 << 20, &disk));
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, data, sizeof(data)));
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 3 << 20, data, sizeof(data)));
    CHECK_OK(ctx, mk_disk_write_file(ctx, disk, fmt, NULL, path));
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    return path;
}

static struct mk_ctx *cancelled(void)
{
    struct mk_ctx *ctx = mk_ctx_new();

    mk_ctx_cancel(ctx);
    return ctx;
}

static void test_qcow2_tables(void)
{
    const char *path = write_disk("d.qcow2", MK_FORMAT_QCOW2);
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;

    CHECK_OK(ctx, mk_disk_open(ctx, path, &disk));
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    ctx = cancelled();
    disk = NULL;
    CHECK_FAIL(ctx, mk_disk_open(ctx, path, &disk), MK_ECANCELED, "interrupted");
    CHECK(disk == NULL);
    mk_ctx_free(ctx);
}

static void test_raw_extents(void)
{
    const char *path = write_disk("d.raw", MK_FORMAT_RAW);
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    uint64_t data = 0;

    CHECK_OK(ctx, mk_disk_open(ctx, path, &disk));
    CHECK_OK(ctx, mk_disk_data_bytes(ctx, disk, &data));
    CHECK(data >= 8192);
    mk_ctx_cancel(ctx);
    CHECK_FAIL(ctx, mk_disk_data_bytes(ctx, disk, &data), MK_ECANCELED, "interrupted");
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

/* A tar.gz whose one member is a pax header (skipped: no disk in it) and its end. */
static void test_targz_skipped_member(void)
{
    uint8_t tar[512 * 4] = {0}, gz[4096];
    unsigned sum = 0;
    const char *path = path_of("pax.tar.gz");
    z_stream zs = {0};
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    int fd;

    memcpy(tar, "pax", 3);
    memcpy(tar + 100, "0000644", 8);
    memcpy(tar + 124, "00000000400", 12); /* one block of data */
    tar[156] = 'x';
    memcpy(tar + 257, "ustar  ", 8);
    memset(tar + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += tar[i];
    snprintf((char *)tar + 148, 8, "%06o", sum);
    CHECK_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = tar;
    zs.avail_in = sizeof(tar);
    zs.next_out = gz;
    zs.avail_out = sizeof(gz);
    CHECK_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK_EQ(write(fd, gz, sizeof(gz) - zs.avail_out), (long long)(sizeof(gz) - zs.avail_out));
    close(fd);
    deflateEnd(&zs);

    CHECK_FAIL(ctx, mk_disk_open(ctx, path, &disk), MK_EFORMAT, "holds no disk image");
    mk_ctx_free(ctx);
    ctx = cancelled();
    CHECK_FAIL(ctx, mk_disk_open(ctx, path, &disk), MK_ECANCELED, "interrupted");
    mk_ctx_free(ctx);
}

static void setup(void)
{
    CHECK(mkdtemp(dir) != NULL);
}

static void cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_EQ(system(cmd), 0);
}

UNIT_MAIN(UNIT_TEST(setup), UNIT_TEST(test_qcow2_tables), UNIT_TEST(test_raw_extents),
          UNIT_TEST(test_targz_skipped_member), UNIT_TEST(cleanup))
