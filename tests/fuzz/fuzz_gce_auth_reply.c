/* fuzz_gce_auth_reply.c: what Google's token endpoints answer, as a hostile or broken server
 * could send it. The first byte picks the reader ('0'-'3' name them; any byte works, modulo
 * 8), the rest is the body:
 *   0  an OAuth 2.0 token reply (the token URI, the metadata server, the STS)
 *   1  IAM Credentials' generateAccessToken reply
 *   2  an external_account subject token as text (a file, or a URL's answer)
 *   3  a subject token in JSON, in the member "value" (format type json)
 * and every body is also read as an error answer (mk_http_error_text), as each caller does
 * with a refusal. A token taken must be usable in an Authorization header: visible ASCII.
 * The seeds are tests/fuzz/corpus/gce_auth_reply/, replies as tests/servers/ send them.
 * options: -max_len=4096
 */
#include "fuzz_http.h"
#include "gce_auth_private.h"

static void check_header_safe(const char *s, size_t len)
{
    if (!len)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_token_reply t;
    struct mk_buf tok = MK_BUF_INIT;
    int which, r;

    if (!ctx || !size)
        goto out;
    which = data[0] % 8;
    data++;
    size--;
    switch (which) {
    case 0:
    case 1:
        r = gce_auth_parse_token(ctx, "https://oauth2.example/token", (const char *)data, size,
                                 which ? GCE_TOKEN_IAM : GCE_TOKEN_OAUTH, 1700000000, &t);
        fuzz_check_error(ctx, r);
        if (r == MK_OK)
            check_header_safe(t.token, strlen(t.token));
        gce_auth_free_secret(&t.token);
        break;
    case 2:
    case 3:
        if (mk_buf_add(&tok, data, size) < 0)
            abort();
        r = gce_auth_parse_subject(ctx, "subject token URL https://oidc.example/t",
                                   which == 3 ? "value" : NULL, &tok);
        fuzz_check_error(ctx, r);
        if (r == MK_OK && (!tok.len || strchr(" \t\r\n", tok.buf[tok.len - 1])))
            abort();
        break;
    default:
        break;
    }
    fuzz_error_text(400, data, size);
out:
    mk_buf_release(&tok);
    mk_ctx_free(ctx);
    return 0;
}
