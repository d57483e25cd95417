/* gcs_reply.c: reading Cloud Storage's answer to a chunk or a status query of a resumable
 * upload (the Range header of a 308, the Object of a 200/201), apart from the upload's
 * state, so that it can be tested and fuzzed alone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gce_private.h"

int gcs_parse_answer(struct mk_ctx *ctx, const struct mk_http_resp *resp,
                     struct gcs_answer *ret)
{
    char *range;
    uint64_t end = 0;

    memset(ret, 0, sizeof(*ret));
    if (resp->status == 200 || resp->status == 201) {
        json_t *obj = json_loadb(resp->body.buf, resp->body.len, 0, NULL);

        if (!json_is_object(obj)) {
            json_decref(obj);
            return mk_set_error(ctx, MK_EHTTP, "GCS completed the upload without an object");
        }
        ret->object = obj;
        return 1;
    }
    if (resp->status != 308)
        return mk_set_error(ctx, MK_EHTTP, "GCS upload: unexpected HTTP %ld", resp->status);
    range = mk_http_header(resp, "Range");
    /* No Range: nothing persisted. Otherwise "bytes=0-N", N digits only: strtoull() alone
     * would take "", " 5" or "-1" (which wraps around to 0 bytes held). */
    if (range) {
        bool ok = !strncmp(range, "bytes=0-", 8);
        const char *digits = ok ? range + 8 : range;
        char *endp = NULL;

        errno = 0;
        ok = ok && *digits >= '0' && *digits <= '9';
        end = ok ? strtoull(digits, &endp, 10) : 0;
        ok = ok && !errno && !*endp && end != UINT64_MAX;
        free(range);
        if (!ok)
            return mk_set_error(ctx, MK_EHTTP, "GCS upload: unreadable Range header");
        ret->held = end + 1;
    }
    return 0;
}
