/* fuzz_template.c: rendering a user's grub.cfg template (placeholders, quoting of the
 * kernel's words and modules).
 * seeds: cp "$MK_SOURCE_DIR"/templates/[a-z]*.cfg "$SEEDS/"
 * options: -max_len=20000
 */
#include "fuzz.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const args[] = {"two words", "q\"uote", "back\\slash", "$x", ""};
    static const struct mk_template_module mods[] = {{"/boot/m1", "a b"}, {"/boot/m2", NULL}};
    struct mk_template_vars vars = {.kernel_path = "/boot/app", .args = args,
                                    .nargs = sizeof(args) / sizeof(args[0]), .modules = mods,
                                    .nmodules = 2, .multiboot2 = size & 1};
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;
    int r;

    if (!ctx)
        abort();
    r = mk_template_render(ctx, "/nonexistent", fuzz_file(data, size), &vars, &out);
    fuzz_check_error(ctx, r);
    mk_buf_release(&out);
    mk_ctx_free(ctx);
    return 0;
}
