/* test_qcow2_limits.c: the qcow2 writer refuses a disk larger than a qcow2 L1 table can
 * map before writing anything (a disk claiming 2^60 bytes made it write a 16 GiB L1). */
#include "disk_private.h"
#include "unit.h"

struct counting_sink {
    uint64_t bytes;
};

static int count(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    ((struct counting_sink *)opaque)->bytes += len;
    return MK_OK;
}

static void test_huge_disk_refused(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct counting_sink c = {0};
    struct mk_sink sink = {count, &c};
    struct mk_disk *disk = NULL;

    CHECK_OK(ctx, mk_store_new(ctx, UINT64_C(1) << 60, &disk));
    CHECK_FAIL(ctx, mk_disk_write_stream(ctx, disk, MK_FORMAT_QCOW2, NULL, &sink), MK_EINVAL,
               "is too large for qcow2");
    CHECK_EQ(c.bytes, 0);
    mk_disk_free(disk);

    /* The largest size QEMU's 32 MiB L1 limit allows is still written, as an L1 of 32 MiB. */
    CHECK_OK(ctx, mk_store_new(ctx, UINT64_C(2) << 50, &disk));
    CHECK_OK(ctx, mk_disk_write_stream(ctx, disk, MK_FORMAT_QCOW2, NULL, &sink));
    CHECK(c.bytes > (UINT64_C(32) << 20) && c.bytes < (UINT64_C(33) << 20));
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_huge_disk_refused))
