/* fuzz_inspect.c: `inspect` of an image we did not build, in any format (raw, qcow2 or a
 * GCE tar.gz, told by its first bytes): partition table, ext2, grub.cfg, GRUB's boot code,
 * the kernel and modules.
 * seeds: MK_TEMPLATE_DIR=$MK_SOURCE_DIR/templates "$MKIMAGE" build --size 3M -o "$WORK/disk.raw" --module "$MBPROBE2":mod "$MBPROBE" -- a b >/dev/null
 * seeds: cp "$WORK/disk.raw" "$SEEDS/raw"
 * seeds: "$MKIMAGE" pack "$WORK/disk.raw" -o "$SEEDS/qcow2" -f qcow2 >/dev/null
 * seeds: "$MKIMAGE" pack "$WORK/disk.raw" -o "$SEEDS/targz" -f gce --round-up >/dev/null
 * options: -max_len=3300000
 */
#include "fuzz.h"
#include "inspect_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *json = NULL;
    int problems = 0, r;

    if (!ctx)
        abort();
    r = mk_inspect_path_here(ctx, fuzz_file(data, size), MK_INSPECT_FILES, &json, &problems);
    fuzz_check_error(ctx, r);
    free(json);
    mk_ctx_free(ctx);
    return 0;
}
