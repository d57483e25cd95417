/* fuzz_qcow2.c: the qcow2 reader: header, L1/L2 tables, refcounts, then every extent it
 * claims is read back (bounded, as pack and push would read it).
 * seeds: MK_TEMPLATE_DIR=$MK_SOURCE_DIR/templates "$MKIMAGE" build --size 3M -o "$WORK/disk.raw" "$MBPROBE" >/dev/null
 * seeds: "$MKIMAGE" pack "$WORK/disk.raw" -o "$SEEDS/ours.qcow2" -f qcow2 >/dev/null
 * seeds: if command -v qemu-img >/dev/null; then qemu-img convert -f raw -O qcow2 "$WORK/disk.raw" "$SEEDS/qemu.qcow2"; fi
 * seeds: for k in qcow2-huge qcow2-shared-l2 qcow2-shared-data; do /usr/bin/python3 "$MK_SOURCE_DIR/tests/fuzz/hostile.py" $k "$SEEDS/$k"; done
 * options: -max_len=1100000
 */
#include "fuzz.h"
#include "disk_private.h"

enum { READ_BUDGET = 16 << 20 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    struct mk_extent *ext = NULL;
    size_t n = 0;
    uint64_t budget = READ_BUDGET, bytes;
    static uint8_t buf[65536];
    int r;

    if (!ctx)
        abort();
    r = mk_disk_open_qcow2(ctx, fuzz_file(data, size), &disk);
    fuzz_check_error(ctx, r);
    if (r == MK_OK) {
        r = mk_disk_data_bytes(ctx, disk, &bytes);
        fuzz_check_error(ctx, r);
        r = mk_disk_extents(ctx, disk, &ext, &n);
        fuzz_check_error(ctx, r);
        for (size_t i = 0; r == MK_OK && i < n && budget; i++) {
            uint64_t len = ext[i].len < sizeof(buf) ? ext[i].len : sizeof(buf);

            len = len < budget ? len : budget;
            r = mk_disk_read(ctx, disk, ext[i].off, buf, len);
            fuzz_check_error(ctx, r);
            budget -= len;
        }
        free(ext);
        mk_disk_free(disk);
    }
    mk_ctx_free(ctx);
    return 0;
}
