/* compute.c: the Compute Engine calls of the GCE uploader: images, operations, and the
 * throw-away instance of --boot-check. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>

#include "gce_private.h"

bool gce_is_name(const char *name, size_t len)
{
    bool ok = len >= 1 && len <= 63 && name[0] >= 'a' && name[0] <= 'z' && name[len - 1] != '-';

    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-';
    return ok;
}

int gce_check_name(struct mk_ctx *ctx, const char *what, const char *name)
{
    if (!gce_is_name(name, strlen(name)))
        return mk_set_error(ctx, MK_EINVAL,
                            "invalid %s '%s': GCE wants 1-63 characters of lowercase letters, "
                            "digits and '-', starting with a letter and not ending with '-'",
                            what, name);
    return MK_OK;
}

int gce_project_url(struct mk_buf *b, struct gce *g, const char *fmt, ...)
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

int gce_project_check(struct mk_ctx *ctx, struct gce *g)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (gce_project_url(&url, g, "%s", "") < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 404)
        r = mk_set_error(ctx, MK_ENOTFOUND, "project '%s' does not exist, or %s cannot see it "
                         "(check --project)", g->project, gce_auth_describe(g->auth));
    else if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, "looking up the "
                          "project", &resp);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

/* Where images and buckets may live: the multi-regions and dual-regions, which are no
 * Compute regions; any other location must be a region the API knows. */
static const char *const multi_regions[] = {"us", "eu", "asia", "nam4", "eur4", "eur5",
                                            "eur7", "eur8", "asia1"};

int gce_location_check(struct mk_ctx *ctx, struct gce *g, const char *location)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    for (size_t i = 0; i < MK_ARRAY_SIZE(multi_regions); i++)
        if (!strcmp(location, multi_regions[i]))
            return MK_OK;
    mk_http_resp_init(&resp);
    if (gce_project_url(&url, g, "/regions/%s", location) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 404)
        r = mk_set_error(ctx, MK_EINVAL, "--storage-location '%s': no such location (use a "
                         "multi-region such as us, eu or asia, a dual-region such as nam4, or "
                         "a region such as us-central1)", location);
    else if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, "looking up the "
                          "storage location", &resp);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gce_get_json(struct mk_ctx *ctx, struct gce *g, const char *what, const char *path,
                 json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (gce_project_url(&url, g, "/%s", path) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 404)
        r = mk_set_error(ctx, MK_ENOTFOUND, "%s does not exist", what);
    else if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, what, &resp);
    else if (r == MK_OK)
        r = gce_json(ctx, what, &resp, ret);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gce_image_get(struct mk_ctx *ctx, struct gce *g, const char *name, json_t **ret)
{
    char what[512], path[512];

    snprintf(what, sizeof(what), "image '%s'", name);
    snprintf(path, sizeof(path), "global/images/%s", name);
    return gce_get_json(ctx, g, what, path, ret);
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

/* Whether (s) is one plain segment of a URL's path, as GCE's names are: the Operation's
 * name, zone and region go into the URL polled with the token, unescaped. */
static bool plain_segment(const char *s)
{
    if (!s)
        return true;
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

int gce_op_read(struct mk_ctx *ctx, const char *what, json_t *op, struct gce_op *ret)
{
    const char *status = json_string_value(json_object_get(op, "status"));
    const char *zone = json_string_value(json_object_get(op, "zone"));
    const char *region = json_string_value(json_object_get(op, "region"));

    memset(ret, 0, sizeof(*ret));
    if (status && !strcmp(status, "DONE")) {
        ret->done = true;
        return json_object_get(op, "error") ? op_error(ctx, what, op) : MK_OK;
    }
    ret->name = json_string_value(json_object_get(op, "name"));
    if (!ret->name)
        return mk_set_error(ctx, MK_EHTTP, "%s: the answer is not an Operation", what);
    /* Where to poll it: the last part of its zone's or region's URL. */
    if (zone && strrchr(zone, '/'))
        ret->zone = strrchr(zone, '/') + 1;
    else if (region && strrchr(region, '/'))
        ret->region = strrchr(region, '/') + 1;
    if (!plain_segment(ret->name) || !plain_segment(ret->zone) || !plain_segment(ret->region))
        return mk_set_error(ctx, MK_EHTTP, "%s: the Operation's name, zone or region is not "
                            "one GCE gives", what);
    return MK_OK;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int gce_op_wait(struct mk_ctx *ctx, struct gce *g, const char *what, json_t *op,
                double timeout)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    double deadline = now() + timeout;
    int r = MK_OK;

    g->op_done = false;
    json_incref(op);
    mk_http_resp_init(&resp);
    for (int polls = 0;; polls++) {
        struct gce_op st;

        r = gce_op_read(ctx, what, op, &st);
        g->op_done = st.done;
        if (r < 0 || st.done)
            break;
        if (now() > deadline) {
            r = mk_set_error(ctx, MK_ETIMEOUT, "%s: operation %s not done after %.0f s", what,
                             st.name, timeout);
            break;
        }
        /* A step without a byte count: the front end shows it with its elapsed time. */
        mk_progress(ctx, what, 0, 0);
        r = mk_http_sleep(ctx, MK_MIN(2.0, g->backoff * (1 << MK_MIN(polls, 4))));
        if (r < 0)
            break;
        if (st.zone)
            r = gce_project_url(&url, g, "/zones/%s/operations/%s", st.zone, st.name);
        else if (st.region)
            r = gce_project_url(&url, g, "/regions/%s/operations/%s", st.region, st.name);
        else
            r = gce_project_url(&url, g, "/global/operations/%s", st.name);
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

int gce_mutate(struct mk_ctx *ctx, struct gce *g, const char *what, const char *method,
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
        r = gce_op_wait(ctx, g, what, op, timeout);
    json_decref(op);
    mk_http_resp_release(&resp);
    return r;
}

int gce_image_delete(struct mk_ctx *ctx, struct gce *g, const char *name)
{
    struct mk_buf url = MK_BUF_INIT;
    int r;

    if (gce_project_url(&url, g, "/global/images/%s", name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_mutate(ctx, g, "deleting the old image", "DELETE", url.buf, NULL, g->timeout, NULL);
    if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        r = MK_OK;
    }
    mk_buf_release(&url);
    return r;
}

void gce_random_hex(char *buf, size_t nbytes)
{
    uint8_t rnd[16];

    gce_gcry_init();
    nbytes = MK_MIN(nbytes, sizeof(rnd));
    gcry_create_nonce(rnd, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(buf + 2 * i, 3, "%02x", rnd[i]);
}

void gce_request_id(char id[37])
{
    /* A UUID, version 4 in form. */
    gce_random_hex(id, 16);
    memmove(id + 24, id + 20, 12);
    memmove(id + 19, id + 16, 4);
    memmove(id + 14, id + 12, 4);
    memmove(id + 9, id + 8, 4);
    id[8] = id[13] = id[18] = id[23] = '-';
    id[14] = '4';
    id[19] = '8';
    id[36] = '\0';
}

int gce_image_insert(struct mk_ctx *ctx, struct gce *g, json_t *image, bool *running)
{
    struct mk_buf url = MK_BUF_INIT;
    long status = 0;
    char id[40];
    int r;

    /* A requestId makes a retried insert harmless: the server ignores the repeat. */
    gce_request_id(id);
    if (gce_project_url(&url, g, "/global/images?requestId=%s", id) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    g->op_done = false;
    r = gce_mutate(ctx, g, "image creation", "POST", url.buf, image, g->timeout, &status);
    /* Taken (or perhaps taken: no answer) and not seen DONE: GCE may still be at work. */
    *running = r < 0 && (status == 200 || status == 0) && !g->op_done;
    if (r == MK_EEXIST)
        mk_error_prefix(ctx, "image '%s' already exists (use --replace)",
                        json_string_value(json_object_get(image, "name")));
    mk_buf_release(&url);
    return r;
}

/* ---- --boot-check: one instance, as `run gce` runs it (run.c) ---- */

/* With -v the console is streamed as it arrives: one log line per line of it. */
static void log_console(void *opaque, const char *text, size_t len)
{
    struct mk_ctx *ctx = opaque;

    while (len) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len;

        if (n && !(n == 1 && text[0] == '\r'))
            mk_log(ctx, MK_LOG_INFO, "console: %.*s", (int)(n - (text[n - 1] == '\r')), text);
        n += nl != NULL;
        text += n;
        len -= n;
    }
}

int gce_boot_check(struct mk_ctx *ctx, struct gce *g, const char *image, json_t *result)
{
    struct gce_watch w = {.tail = MK_BUF_INIT, .window = MK_BUF_INIT,
                          .on_console = log_console};
    struct gce_instance in = {.zone = g->zone, .machine_type = g->machine_type, .image = image,
                              .expect = g->boot_check, .timeout = g->boot_timeout};
    json_t *check = json_object();
    const char *left;
    char *name = NULL;
    int r;

    if (!check)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    w.opaque = ctx;
    left = g->push ? gce_push_get(g, "boot_check_instance") : NULL;
    if (left && strchr(left, '/')) {
        /* An earlier run of this push was killed while its instance ran. */
        struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
        char zone[64];

        snprintf(zone, sizeof(zone), "%.*s", (int)(strchr(left, '/') - left), left);
        mk_log(ctx, MK_LOG_WARN, "deleting instance %s, left running by an earlier run of "
               "this push", strchr(left, '/') + 1);
        if (gce_instance_delete(&tmp, g, zone, strchr(left, '/') + 1) < 0)
            mk_log(ctx, MK_LOG_WARN, "could not delete it: %s", mk_errmsg(&tmp));
    }
    r = gce_instance_name(ctx, image, "check", &name);
    if (r == MK_OK) {
        struct mk_buf rec = MK_BUF_INIT;

        in.name = name;
        mk_buf_addf(&rec, "%s/%s", g->zone, name);
        if (g->push)
            gce_push_set(ctx, g, "boot_check_instance", rec.buf);
        mk_buf_release(&rec);
        r = gce_run_instance(ctx, g, &in, false, &w, check);
        if (g->push && json_is_true(json_object_get(check, "deleted")))
            gce_push_set(ctx, g, "boot_check_instance", NULL);
        if (r < 0)
            mk_error_prefix(ctx, "boot check");
    }
    json_object_set_new(result, "boot_check", check);
    gce_watch_release(&w);
    free(name);
    return r;
}
