/* fuzz_targz.c: GCE's disk.tar.gz reader: gzip members, tar headers (GNU sparse maps
 * included) and GCE's rules.
 * seeds: MK_TEMPLATE_DIR=$MK_SOURCE_DIR/templates "$MKIMAGE" build --size 3M -o "$WORK/disk.raw" "$MBPROBE" >/dev/null
 * seeds: "$MKIMAGE" pack "$WORK/disk.raw" -o "$SEEDS/ours.tar.gz" -f gce --round-up >/dev/null
 * seeds: (cd "$WORK" && tar --format=oldgnu -cSzf "$SEEDS/gnutar.tar.gz" disk.raw && tar --format=posix -czf "$SEEDS/pax.tar.gz" disk.raw)
 * options: -max_len=400000
 */
#include "fuzz.h"
#include "disk_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf problems = MK_BUF_INIT;
    struct mk_disk *disk = NULL;
    int r;

    if (!ctx)
        abort();
    r = mk_disk_open_targz(ctx, fuzz_file(data, size), &problems, &disk);
    fuzz_check_error(ctx, r);
    if (r == MK_OK)
        mk_disk_free(disk);
    mk_buf_release(&problems);
    mk_ctx_free(ctx);
    return 0;
}
