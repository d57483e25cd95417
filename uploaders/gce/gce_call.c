/* gce_call.c: the authenticated JSON call of the GCE uploader, with retries and backoff. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "gce_private.h"

double gce_backoff(const struct gce *g, int attempt)
{
    double cap = g->backoff * 64, d = g->backoff * ldexp(1.0, MK_MIN(attempt, 16));
    uint16_t rnd;

    if (d > cap)
        d = cap;
    gcry_create_nonce(&rnd, sizeof(rnd));
    /* Half fixed, half random: clients that failed together do not retry together. */
    return d / 2 + d / 2 * (rnd / 65535.0);
}

int gce_json(struct mk_ctx *ctx, const char *what, const struct mk_http_resp *resp,
             json_t **ret)
{
    json_t *j = json_loadb(resp->body.buf, resp->body.len, 0, NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        return mk_set_error(ctx, MK_EHTTP, "%s: the answer is not a JSON object", what);
    }
    *ret = j;
    return MK_OK;
}

int gce_call(struct mk_ctx *ctx, struct gce *g, const char *method, const char *url,
             const char *body, struct mk_http_resp *resp)
{
    struct mk_buf auth = MK_BUF_INIT;
    const char *hdrs[4] = {NULL};
    struct mk_http_req req = {.method = method, .url = url, .headers = hdrs, .body = body,
                              .body_len = body ? strlen(body) : 0, .timeout = 300};
    bool force = false, refreshed = false;
    int r;

    for (int attempt = 0;; attempt++) {
        const char *tok;
        size_t n = 0;

        r = gce_auth_token(ctx, g->auth, force, &tok);
        if (r < 0)
            break;
        mk_buf_reset(&auth);
        if (mk_buf_addf(&auth, "Authorization: Bearer %s", tok) < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            break;
        }
        hdrs[n++] = auth.buf;
        hdrs[n++] = "Accept: application/json";
        if (body)
            hdrs[n++] = "Content-Type: application/json; charset=UTF-8";
        hdrs[n] = NULL;
        force = false;
        r = mk_http_do(ctx, g->http, &req, resp);
        if (r == MK_OK && resp->status == 401 && !refreshed) {
            /* Tokens can be revoked or expire early: one fresh token, then believe it. */
            refreshed = force = true;
            attempt--;
            continue;
        }
        if (r == MK_ECANCELED || (r == MK_OK && !mk_http_retryable(resp->status)) ||
            attempt >= g->max_tries)
            break;
        mk_log(ctx, MK_LOG_INFO, "%s failed (%s), retrying", method,
               r < 0 ? mk_errmsg(ctx) : "server error");
        mk_clear_error(ctx);
        r = mk_http_sleep(ctx, mk_http_retry_delay(resp, gce_backoff(g, attempt)));
        if (r < 0)
            break;
    }
    mk_wipe(auth.buf, auth.alloc);
    mk_buf_release(&auth);
    return r;
}
