/* compute.c: the Compute Engine calls of the GCE uploader: images, operations, and the
 * throw-away instance of --boot-check. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>

#include "gce_private.h"

int gce_check_name(struct mk_ctx *ctx, const char *what, const char *name)
{
    size_t len = strlen(name);
    bool ok = len >= 1 && len <= 63 && name[0] >= 'a' && name[0] <= 'z' &&
              name[len - 1] != '-';

    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-';
    if (!ok)
        return mk_set_error(ctx, MK_EINVAL,
                            "invalid %s '%s': GCE wants 1-63 characters of lowercase letters, "
                            "digits and '-', starting with a letter and not ending with '-'",
                            what, name);
    return MK_OK;
}

static int project_url(struct mk_buf *b, struct gce *g, const char *fmt, ...)
    MK_PRINTF(3, 4);

static int project_url(struct mk_buf *b, struct gce *g, const char *fmt, ...)
{
    va_list ap;
    int r;

    mk_buf_reset(b);
    if (mk_buf_addf(b, "%sprojects/", g->compute_base) < 0 || mk_http_escape(b, g->project) < 0)
        return MK_ENOMEM;
    va_start(ap, fmt);
    r = mk_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return r;
}

int gce_image_get(struct mk_ctx *ctx, struct gce *g, const char *name, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (project_url(&url, g, "/global/images/%s", name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 404)
        r = mk_set_error(ctx, MK_ENOTFOUND, "image '%s' does not exist", name);
    else if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, "looking up the image",
                          &resp);
    else if (r == MK_OK)
        r = gce_json(ctx, "images.get", &resp, ret);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

static const char *str_or(json_t *v, const char *dflt)
{
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* An Operation's error, verbatim: "CODE: message; CODE: message". */
static int op_error(struct mk_ctx *ctx, const char *what, json_t *op)
{
    json_t *errs = json_object_get(json_object_get(op, "error"), "errors"), *e;
    struct mk_buf msg = MK_BUF_INIT;
    size_t i;
    int r;

    json_array_foreach(errs, i, e) {
        mk_buf_addf(&msg, "%s%s: %s", i ? "; " : "",
                    str_or(json_object_get(e, "code"), "ERROR"),
                    str_or(json_object_get(e, "message"), "(no message)"));
    }
    if (!msg.len)
        mk_buf_addf(&msg, "HTTP %lld: %s",
                    (long long)json_integer_value(json_object_get(op, "httpErrorStatusCode")),
                    str_or(json_object_get(op, "httpErrorMessage"), "failed"));
    r = mk_set_error(ctx, MK_EHTTP, "%s failed: %s", what, msg.buf);
    mk_buf_release(&msg);
    return r;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls (op) until DONE. The scope (global or zonal) comes from the operation's own zone
 * field; the host is always ours, never taken from a selfLink. */
static int op_wait(struct mk_ctx *ctx, struct gce *g, const char *what, json_t *op,
                   double timeout)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    double deadline = now() + timeout;
    int r = MK_OK;

    json_incref(op);
    mk_http_resp_init(&resp);
    for (int polls = 0;; polls++) {
        const char *status = json_string_value(json_object_get(op, "status"));
        const char *name = json_string_value(json_object_get(op, "name"));
        const char *zone = json_string_value(json_object_get(op, "zone"));

        if (status && !strcmp(status, "DONE")) {
            if (json_object_get(op, "error"))
                r = op_error(ctx, what, op);
            break;
        }
        if (!name) {
            r = mk_set_error(ctx, MK_EHTTP, "%s: the answer is not an Operation", what);
            break;
        }
        if (now() > deadline) {
            r = mk_set_error(ctx, MK_ETIMEOUT, "%s: operation %s not done after %.0f s", what,
                             name, timeout);
            break;
        }
        r = mk_http_sleep(ctx, MK_MIN(2.0, g->backoff * (1 << MK_MIN(polls, 4))));
        if (r < 0)
            break;
        if (zone && strrchr(zone, '/'))
            r = project_url(&url, g, "/zones/%s/operations/%s", strrchr(zone, '/') + 1, name);
        else
            r = project_url(&url, g, "/global/operations/%s", name);
        if (r < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            break;
        }
        r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
        if (r == MK_OK && resp.status != 200)
            r = mk_http_error(ctx, MK_EHTTP, what, &resp);
        json_decref(op);
        op = NULL;
        if (r == MK_OK)
            r = gce_json(ctx, what, &resp, &op);
        if (r < 0)
            break;
    }
    json_decref(op);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

/* Sends a mutating call and waits for its Operation. */
static int mutate(struct mk_ctx *ctx, struct gce *g, const char *what, const char *method,
                  const char *url, json_t *body, double timeout, long *ret_status)
{
    struct mk_http_resp resp;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *op = NULL;
    int r;

    mk_http_resp_init(&resp);
    if (body && !text)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, method, url, text, &resp);
    free(text);
    if (r == MK_OK && ret_status)
        *ret_status = resp.status;
    if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 409   ? MK_EEXIST
                               : resp.status == 404 ? MK_ENOTFOUND
                               : resp.status == 403 ? MK_EAUTH
                               : resp.status == 400 ? MK_EINVAL
                                                    : MK_EHTTP,
                          what, &resp);
    if (r == MK_OK)
        r = gce_json(ctx, what, &resp, &op);
    if (r == MK_OK)
        r = op_wait(ctx, g, what, op, timeout);
    json_decref(op);
    mk_http_resp_release(&resp);
    return r;
}

int gce_image_delete(struct mk_ctx *ctx, struct gce *g, const char *name)
{
    struct mk_buf url = MK_BUF_INIT;
    int r;

    if (project_url(&url, g, "/global/images/%s", name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = mutate(ctx, g, "deleting the old image", "DELETE", url.buf, NULL, g->timeout, NULL);
    if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        r = MK_OK;
    }
    mk_buf_release(&url);
    return r;
}

static void random_hex(char *buf, size_t nbytes)
{
    uint8_t rnd[16];

    gce_gcry_init();
    nbytes = MK_MIN(nbytes, sizeof(rnd));
    gcry_create_nonce(rnd, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(buf + 2 * i, 3, "%02x", rnd[i]);
}

int gce_image_insert(struct mk_ctx *ctx, struct gce *g, json_t *image)
{
    struct mk_buf url = MK_BUF_INIT;
    char id[40];
    int r;

    /* A requestId makes a retried insert harmless: the server ignores the repeat. It is a
     * UUID, version 4 in form. */
    random_hex(id, 16);
    memmove(id + 24, id + 20, 12);
    memmove(id + 19, id + 16, 4);
    memmove(id + 14, id + 12, 4);
    memmove(id + 9, id + 8, 4);
    id[8] = id[13] = id[18] = id[23] = '-';
    id[14] = '4';
    id[19] = '8';
    id[36] = '\0';
    if (project_url(&url, g, "/global/images?requestId=%s", id) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = mutate(ctx, g, "image creation", "POST", url.buf, image, g->timeout, NULL);
    if (r == MK_EEXIST)
        mk_error_prefix(ctx, "image '%s' already exists (use --replace)",
                        json_string_value(json_object_get(image, "name")));
    mk_buf_release(&url);
    return r;
}

/* ---- --boot-check ---- */

static int instance_delete(struct mk_ctx *ctx, struct gce *g, const char *zone,
                           const char *name)
{
    struct mk_buf url = MK_BUF_INIT;
    int r;

    if (project_url(&url, g, "/zones/%s/instances/%s", zone, name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = mutate(ctx, g, "deleting the boot-check instance", "DELETE", url.buf, NULL, 600, NULL);
    if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        r = MK_OK;
    }
    mk_buf_release(&url);
    return r;
}

/* Reads serial port 1 until (text) shows up; 1 = seen, 0 = timeout. */
static int watch_serial(struct mk_ctx *ctx, struct gce *g, const char *zone, const char *name,
                        const char *text, struct mk_buf *tail)
{
    struct mk_buf url = MK_BUF_INIT, seen = MK_BUF_INIT;
    struct mk_http_resp resp;
    double deadline = now() + g->boot_timeout;
    char start[32] = "0";
    int r = MK_OK;

    mk_http_resp_init(&resp);
    while (r == MK_OK) {
        json_t *out = NULL;
        const char *contents, *next;

        if (project_url(&url, g, "/zones/%s/instances/%s/serialPort?port=1&start=%s", zone,
                        name, start) < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            break;
        }
        r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
        if (r < 0)
            break;
        /* 400: the instance is not running yet. */
        if (resp.status == 200 && gce_json(ctx, "serial port", &resp, &out) == MK_OK) {
            contents = json_string_value(json_object_get(out, "contents"));
            next = json_string_value(json_object_get(out, "next"));
            if (contents && *contents) {
                mk_buf_adds(&seen, contents);
                if (strstr(seen.buf, text)) {
                    json_decref(out);
                    r = 1;
                    break;
                }
                /* Keep just enough to find the text across two reads. */
                if (seen.len > strlen(text) + 4096) {
                    size_t keep = strlen(text) + 4096;
                    memmove(seen.buf, seen.buf + seen.len - keep, keep + 1);
                    seen.len = keep;
                }
            }
            if (next && strlen(next) < sizeof(start))
                snprintf(start, sizeof(start), "%s", next);
            json_decref(out);
        } else if (resp.status != 200 && resp.status != 400) {
            r = mk_http_error(ctx, MK_EHTTP, "reading the serial port", &resp);
            break;
        }
        mk_clear_error(ctx);
        if (now() > deadline)
            break;
        r = mk_http_sleep(ctx, MK_MIN(2.0, g->backoff * 4));
    }
    mk_buf_add(tail, seen.buf, seen.len);
    mk_buf_release(&seen);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gce_boot_check(struct mk_ctx *ctx, struct gce *g, const char *image, json_t *result)
{
    struct mk_buf url = MK_BUF_INIT, name = MK_BUF_INIT, mt = MK_BUF_INIT, src = MK_BUF_INIT;
    struct mk_buf tail = MK_BUF_INIT;
    char rnd[16];
    json_t *body = NULL;
    long status = 0;
    int r, r2;

    random_hex(rnd, 3);
    mk_buf_addf(&name, "%.50s-check-%s", image, rnd);
    mk_buf_addf(&mt, "zones/%s/machineTypes/%s", g->zone, g->machine_type);
    mk_buf_addf(&src, "projects/%s/global/images/%s", g->project, image);
    body = json_pack("{s:s, s:s, s:[{s:b, s:b, s:s, s:{s:s}}], s:[{s:s}], s:{s:s}}",
                     "name", name.buf, "machineType", mt.buf, "disks", "boot", 1, "autoDelete",
                     1, "type", "PERSISTENT", "initializeParams", "sourceImage", src.buf,
                     "networkInterfaces", "network", "global/networks/default", "labels",
                     "createdby", "unikernel-mkimage");
    if (!body || project_url(&url, g, "/zones/%s/instances", g->zone) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    mk_log(ctx, MK_LOG_INFO, "boot check: creating instance %s in %s", name.buf, g->zone);
    r = mutate(ctx, g, "creating the boot-check instance", "POST", url.buf, body, 600, &status);
    /* Whatever happened after the server took the request, the instance may exist. */
    if (r == MK_OK || status == 200 || status == 0) {
        if (r == MK_OK)
            r = watch_serial(ctx, g, g->zone, name.buf, g->boot_check, &tail);
        if (r == 0)
            r = mk_set_error(ctx, MK_ETIMEOUT, "boot check: '%s' did not appear on the serial "
                             "port within %.0f s", g->boot_check, g->boot_timeout);
        else if (r == 1)
            r = MK_OK;
        {
            /* Delete even after a failure or Ctrl-C, keeping the first error. */
            struct mk_ctx tmp = {0};
            char saved[MK_ERRMSG_MAX];
            int code = mk_errcode(ctx);

            snprintf(saved, sizeof(saved), "%s", mk_errmsg(ctx));
            tmp.log_fn = ctx->log_fn;
            tmp.log_opaque = ctx->log_opaque;
            r2 = instance_delete(&tmp, g, g->zone, name.buf);
            if (r2 < 0 && r == MK_OK)
                r = mk_set_error(ctx, r2, "%s", mk_errmsg(&tmp));
            else if (r < 0)
                mk_set_error(ctx, code ? code : r, "%s", saved);
            else if (r2 < 0)
                mk_log(ctx, MK_LOG_WARN, "could not delete instance %s: %s", name.buf,
                       mk_errmsg(&tmp));
        }
    }
    json_object_set_new(result, "boot_check",
                        json_pack("{s:s, s:s, s:b}", "instance", name.buf, "zone", g->zone,
                                  "matched", r == MK_OK));
out:
    json_decref(body);
    mk_buf_release(&url);
    mk_buf_release(&name);
    mk_buf_release(&mt);
    mk_buf_release(&src);
    mk_buf_release(&tail);
    return r;
}
