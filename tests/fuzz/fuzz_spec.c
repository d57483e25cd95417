/* fuzz_spec.c: image specs (unikernel-mkimage.yaml): YAML, then every section's checks.
 * seeds: cp "$MK_SOURCE_DIR"/templates/[a-z]*.yaml "$SEEDS/"
 * seeds: printf 'image: &i {kernel: k}\noutput: {raw: *i}\ntargets: {a: {type: gce, <<: {project: p}}}\n' >"$SEEDS/alias.yaml"
 * options: -max_len=20000
 */
#include "fuzz.h"
#include "spec_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_spec *spec = NULL;
    int r;

    if (!ctx)
        abort();
    r = mk_spec_load(ctx, fuzz_file(data, size), &spec);
    fuzz_check_error(ctx, r);
    if (r == MK_OK)
        mk_spec_free(spec);
    mk_ctx_free(ctx);
    return 0;
}
