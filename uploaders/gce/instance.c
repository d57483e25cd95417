/* instance.c: one instance of an image on Compute Engine (cloud-apis.md 4.5, 9.13):
 * create it, stream its serial console while watching its state, judge it by a text, delete
 * it. `run gce` and `push gce --boot-check` both stand on this. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gce_private.h"

#define TAIL_MAX 8192

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int gce_instance_name(struct mk_ctx *ctx, const char *image, const char *what, char **ret)
{
    struct mk_buf b = MK_BUF_INIT;
    char rnd[8];

    gce_random_hex(rnd, 3);
    /* 63 characters at most: image (cut, no trailing '-') + "-WHAT-" + 6 hex. */
    mk_buf_addf(&b, "%.*s", (int)(63 - strlen(what) - 8), image);
    while (b.len && b.buf[b.len - 1] == '-')
        b.buf[--b.len] = '\0';
    if (mk_buf_addf(&b, "-%s-%s", what, rnd) < 0) {
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    *ret = mk_buf_detach(&b, NULL);
    return MK_OK;
}

/* "projects/P/global/images/NAME" for a bare name; a path or URL is taken as it is. */
static int image_ref(struct mk_buf *b, struct gce *g, const char *image)
{
    if (strchr(image, '/'))
        return mk_buf_adds(b, image);
    return mk_buf_addf(b, "projects/%s/global/images/%s", g->project, image);
}

int gce_instance_create(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                        bool *ret_maybe_created)
{
    struct mk_buf url = MK_BUF_INIT, mt = MK_BUF_INIT, src = MK_BUF_INIT;
    json_t *body = NULL;
    long status = 0;
    char id[37];
    int r;

    *ret_maybe_created = false;
    gce_request_id(id);
    if (mk_buf_addf(&mt, "zones/%s/machineTypes/%s", in->zone, in->machine_type) < 0 ||
        image_ref(&src, g, in->image) < 0 ||
        gce_project_url(&url, g, "/zones/%s/instances?requestId=%s", in->zone, id) < 0 ||
        !(body = json_pack("{s:s, s:s, s:[{s:b, s:b, s:s, s:{s:s}}], s:[{s:s}], s:{s:s}}",
                           "name", in->name, "machineType", mt.buf, "disks", "boot", 1,
                           "autoDelete", 1, "type", "PERSISTENT", "initializeParams",
                           "sourceImage", src.buf, "networkInterfaces", "network",
                           "global/networks/default", "labels", "createdby",
                           "unikernel-mkimage"))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    mk_log(ctx, MK_LOG_INFO, "creating instance %s in %s from %s", in->name, in->zone, src.buf);
    r = gce_mutate(ctx, g, "creating the instance", "POST", url.buf, body, 600, &status);
    /* Once the request may have reached the server, the instance may exist. */
    *ret_maybe_created = r == MK_OK || status == 200 || status == 0 || status >= 500;
    if (r == MK_ENOTFOUND)
        mk_error_prefix(ctx, "image '%s' or zone '%s' not found", in->image, in->zone);
out:
    json_decref(body);
    mk_buf_release(&url);
    mk_buf_release(&mt);
    mk_buf_release(&src);
    return r;
}

int gce_instance_delete(struct mk_ctx *ctx, struct gce *g, const char *zone, const char *name)
{
    struct mk_buf url = MK_BUF_INIT;
    char id[37];
    int r;

    gce_request_id(id);
    if (gce_project_url(&url, g, "/zones/%s/instances/%s?requestId=%s", zone, name, id) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_mutate(ctx, g, "deleting the instance", "DELETE", url.buf, NULL, 600, NULL);
    if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        r = MK_OK;
    }
    mk_buf_release(&url);
    return r;
}

/* The instance's status ("RUNNING", "TERMINATED"...) into (buf); "" when gone. */
static int instance_status(struct mk_ctx *ctx, struct gce *g, const char *zone,
                           const char *name, char *buf, size_t size)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *inst = NULL;
    int r;

    mk_http_resp_init(&resp);
    buf[0] = '\0';
    if (gce_project_url(&url, g, "/zones/%s/instances/%s", zone, name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 200 && gce_json(ctx, "instances.get", &resp, &inst) == 0)
        snprintf(buf, size, "%s", json_string_value(json_object_get(inst, "status"))
                                      ? json_string_value(json_object_get(inst, "status"))
                                      : "");
    else if (r == MK_OK && resp.status != 404)
        r = mk_http_error(ctx, MK_EHTTP, "looking up the instance", &resp);
    json_decref(inst);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

static bool stopped_status(const char *s)
{
    return !*s || !strcmp(s, "TERMINATED") || !strcmp(s, "STOPPED") || !strcmp(s, "STOPPING") ||
           !strcmp(s, "SUSPENDED") || !strcmp(s, "SUSPENDING");
}

/* Keeps the last TAIL_MAX bytes of the console. */
static void tail_add(struct mk_buf *tail, const char *s, size_t len)
{
    if (len >= TAIL_MAX) {
        s += len - TAIL_MAX;
        len = TAIL_MAX;
    }
    if (tail->len + len > TAIL_MAX) {
        size_t drop = tail->len + len - TAIL_MAX;
        memmove(tail->buf, tail->buf + drop, tail->len - drop + 1);
        tail->len -= drop;
    }
    mk_buf_add(tail, s, len);
}

void gce_serial_parse(json_t *out, uint64_t pos, struct gce_serial_chunk *ret)
{
    const char *contents = json_string_value(json_object_get(out, "contents"));
    const char *start = json_string_value(json_object_get(out, "start"));
    const char *next = json_string_value(json_object_get(out, "next"));

    ret->contents = contents ? contents : "";
    ret->start = start ? strtoull(start, NULL, 10) : pos;
    ret->next = next ? strtoull(next, NULL, 10) : pos;
}

/* One read of serial port 1 from (*pos); appends what came. 1 = something came, 0 = nothing
 * (or not ready yet). */
static int serial_read(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                       uint64_t *pos, struct gce_watch *w)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *out = NULL;
    int r;

    mk_http_resp_init(&resp);
    if (gce_project_url(&url, g, "/zones/%s/instances/%s/serialPort?port=1&start=%llu",
                        in->zone, in->name, (unsigned long long)*pos) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    /* 400: not running yet; 404: gone (the state check says so). */
    if (r == MK_OK && resp.status == 200 && gce_json(ctx, "serial port", &resp, &out) == 0) {
        struct gce_serial_chunk c;

        gce_serial_parse(out, *pos, &c);
        if (c.start > *pos)
            mk_log(ctx, MK_LOG_WARN, "%llu bytes of %s's console were overwritten before they "
                   "could be read", (unsigned long long)(c.start - *pos), in->name);
        if (*c.contents) {
            size_t len = strlen(c.contents);

            if (w->on_console)
                w->on_console(w->opaque, c.contents, len);
            tail_add(&w->tail, c.contents, len);
            mk_buf_add(&w->window, c.contents, len);
            /* Only a read that moves on counts: a server whose "next" stays put would keep
             * the drain after a stop going for ever. */
            r = c.next > *pos;
        }
        *pos = c.next;
    } else if (r == MK_OK && resp.status != 200 && resp.status != 400 && resp.status != 404) {
        r = mk_http_error(ctx, MK_EHTTP, "reading the serial port", &resp);
    }
    if (r >= 0)
        mk_clear_error(ctx);
    json_decref(out);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r < 0 ? r : r == 1;
}

/* Whether (expect) is in what was read; keeps just enough to find it across reads. */
static bool window_match(struct gce_watch *w, const char *expect)
{
    size_t keep = strlen(expect) + 64;

    if (strstr(w->window.buf, expect))
        return true;
    if (w->window.len > keep) {
        memmove(w->window.buf, w->window.buf + w->window.len - keep, keep + 1);
        w->window.len = keep;
    }
    return false;
}

int gce_instance_watch(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                       struct gce_watch *w)
{
    double start = now(), deadline = start + in->timeout;
    uint64_t pos = 0;
    char status[32] = "";
    int r = MK_OK;

    w->matched = w->stopped = w->timed_out = false;
    for (int polls = 0; r == MK_OK; polls++) {
        int got;

        r = instance_status(ctx, g, in->zone, in->name, status, sizeof(status));
        if (r < 0)
            break;
        /* Read what there is; after a stop, drain the rest before judging. */
        do {
            got = serial_read(ctx, g, in, &pos, w);
            if (got > 0 && in->expect && window_match(w, in->expect))
                w->matched = true;
        } while (got > 0 && !w->matched && stopped_status(status));
        if (got < 0) {
            r = got;
            break;
        }
        snprintf(w->status, sizeof(w->status), "%s", *status ? status : "DELETED");
        if (w->matched)
            break;
        if (stopped_status(status) && polls > 0) {
            w->stopped = true;
            break;
        }
        if (now() > deadline) {
            w->timed_out = true;
            break;
        }
        r = mk_http_sleep(ctx, MK_MIN(2.0, MK_MAX(g->backoff * 4, 0.05)));
    }
    w->seconds = now() - start;
    return r;
}

void gce_watch_release(struct gce_watch *w)
{
    mk_buf_release(&w->tail);
    mk_buf_release(&w->window);
}

/* The last (lines) lines of the console, one line: "a | b | c". */
void gce_watch_tail_line(const struct gce_watch *w, int lines, char *buf, size_t size)
{
    const char *end = w->tail.buf + w->tail.len, *p = end;
    size_t o = 0;

    while (p > w->tail.buf && (p[-1] == '\n' || p[-1] == '\r'))
        p--;
    end = p;
    for (int n = 0; p > w->tail.buf && n < lines; p--)
        if (p[-1] == '\n' && ++n == lines)
            break;
    for (; p < end && o + 4 < size; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n') {
            o += (size_t)snprintf(buf + o, size - o, " | ");
            continue;
        }
        buf[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    }
    buf[o < size ? o : size - 1] = '\0';
}
