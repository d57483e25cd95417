/* fuzz_multiboot.c: the kernel check: ELF headers and program headers, multiboot v1 (with
 * the a.out kludge) and multiboot2 headers.
 * seeds: cp "$MBPROBE" "$SEEDS/mbprobe.elf" && cp "$MBPROBE2" "$SEEDS/mbprobe2.elf"
 * options: -max_len=40000
 */
#include "fuzz.h"
#include "multiboot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_kernel_info info;
    char why[256];
    int r;

    if (!ctx)
        abort();
    mk_multiboot_parse(data, size, &info, why, sizeof(why));
    r = mk_kernel_check(ctx, fuzz_file(data, size), &info);
    fuzz_check_error(ctx, r);
    mk_ctx_free(ctx);
    return 0;
}
