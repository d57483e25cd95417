/* fuzz_inspect_answer.c: what inspect's parent reads from the isolated child that parsed an
 * image (mkimage/inspect/inspect_isolated.c): a process that read hostile bytes may send
 * anything back, and the parent must only ever say "broken report".
 * seeds: python3 "$MK_SOURCE_DIR/tests/fuzz/inspect_answers.py" "$SEEDS"
 */
#include "fuzz.h"
#include "inspect_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf answer = MK_BUF_INIT;
    char *json = NULL;
    int problems = 0, r;

    if (!ctx || mk_buf_add(&answer, data, size) < 0)
        abort();
    r = mk_inspect_answer(ctx, &answer, NULL, &json, &problems);
    fuzz_check_error(ctx, r);
    if (r == MK_OK && (!json || problems < 0))
        abort();
    free(json);
    mk_buf_release(&answer);
    mk_ctx_free(ctx);
    return 0;
}
