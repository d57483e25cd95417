/* fuzz_keystone_reply.c: Keystone's reply to a token request, as a hostile or broken server
 * could send it: the status (the first byte picks it), the header lines up to a blank line,
 * then the JSON body; and, when the token is taken, the image endpoint found in its catalog.
 * seeds: printf '\001X-Subject-Token: tok\r\nContent-Type: application/json\r\n\r\n{"token": {"project": {"id": "p1"}, "expires_at": "2099-01-01T00:00:00.000000Z", "catalog": [{"type": "image", "endpoints": [{"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": "http://127.0.0.1:9292"}, {"interface": "public", "region": "Two", "url": "http://127.0.0.1:9293/v2"}]}]}}' >"$SEEDS/token.bin"
 * seeds: printf '\002Content-Type: application/json\r\n\r\n{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}' >"$SEEDS/refused.bin"
 * seeds: printf '\000X-Subject-Token: t\r\n\r\n<html>not keystone</html>' >"$SEEDS/html.bin"
 * options: -max_len=20000
 */
#include "fuzz_http.h"
#include "openstack_private.h"

static const long statuses[] = {200, 201, 401, 403, 404, 500, 503, 300};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud cloud = {.name = "c", .interface = "public", .kind = OS_AUTH_PASSWORD};
    struct os_session sess;
    struct mk_http_resp resp;
    char *url = NULL;
    int r;

    if (!ctx)
        abort();
    if (size && (data[0] & 0x80))
        cloud.region_name = "RegionOne";
    if (size)
        fuzz_resp(&resp, statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))],
                  data + 1, size - 1);
    else
        fuzz_resp(&resp, 201, data, 0);
    r = os_parse_token_reply(ctx, &cloud, "http://keystone/v3/auth/tokens", "user u", &resp,
                             &sess);
    fuzz_check_error(ctx, r);
    if (r == MK_OK) {
        r = os_catalog_url(ctx, &sess, &cloud, "image", &url);
        fuzz_check_error(ctx, r);
        free(url);
        os_session_release(&sess);
    }
    mk_http_resp_release(&resp);
    mk_ctx_free(ctx);
    return 0;
}
