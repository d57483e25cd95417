/* fuzz_grub_cfg.c: the grub.cfg reader `inspect` uses on other people's images, fed with
 * what our templates render.
 * seeds: for t in multiboot solo5 hermit; do MK_TEMPLATE_DIR=$MK_SOURCE_DIR/templates "$MKIMAGE" build --print-config --template $t -o "$WORK/x.raw" --module "$MBPROBE2":'a "b"' "$MBPROBE" -- 'two words' "q\"uote" >"$SEEDS/$t.cfg"; done
 * options: -max_len=20000
 */
#include "fuzz.h"
#include "inspect_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_cfg_boot boot;
    char *text = fuzz_text(data, size);
    int r;

    if (!ctx)
        abort();
    r = mk_inspect_parse_cfg(ctx, text, &boot);
    fuzz_check_error(ctx, r);
    if (r == MK_OK)
        mk_cfg_boot_release(&boot);
    free(text);
    mk_ctx_free(ctx);
    return 0;
}
