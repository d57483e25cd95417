/* gce_image.c: the image steps of a push, made so that no good image is ever lost and any
 * interruption resumes.
 *
 * A new name: images.insert from the staged object. An existing name with --replace: the
 * new image is made under a temporary name first; only once it is READY is the old one
 * deleted, the final name made from the new image (sourceImage) and the temporary one
 * deleted. Each image carries the source's md5 in a label, and the push state names the
 * images asked for, so that the same command run again after kill -9, Ctrl-C or --timeout
 * recognises its own images, waits for them and finishes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gce_private.h"

#define SOURCE_LABEL "mkimage-md5"

/* An image of ours: it carries the md5 this push recorded. */
static bool is_ours(const struct gce *g, json_t *img)
{
    const char *want = gce_push_get(g, "md5");
    const char *have = json_string_value(json_object_get(json_object_get(img, "labels"),
                                                         SOURCE_LABEL));

    return want && have && !strcmp(want, have);
}

/* 1 when image (name) exists and is ours, 0 when it does not exist, -1 when it is not
 * ours, or an error. */
static int ours(struct mk_ctx *ctx, struct gce *g, const char *name)
{
    json_t *img = NULL;
    int r;

    if (!name)
        return 0;
    r = gce_image_get(ctx, g, name, &img);
    if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        return 0;
    }
    if (r < 0)
        return r;
    r = is_ours(g, img) ? 1 : -1;
    json_decref(img);
    return r;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until image (name) is READY (an earlier run's insert, whose operation we do not
 * hold); (*ret) is the image. */
static int wait_ready(struct mk_ctx *ctx, struct gce *g, const char *name, json_t **ret)
{
    double deadline = now() + g->timeout;

    for (int polls = 0;; polls++) {
        json_t *img = NULL;
        const char *status;
        int r = gce_image_get(ctx, g, name, &img);

        if (r < 0)
            return r;
        status = json_string_value(json_object_get(img, "status"));
        if (status && !strcmp(status, "READY")) {
            *ret = img;
            return MK_OK;
        }
        if (!status || strcmp(status, "PENDING")) {
            r = mk_set_error(ctx, MK_EHTTP, "image '%s' is %s, not READY", name,
                             status ? status : "in no known state");
            json_decref(img);
            return r;
        }
        json_decref(img);
        mk_progress(ctx, "image creation", 0, 0);
        if (now() > deadline)
            return mk_set_error(ctx, MK_ETIMEOUT, "image '%s' not READY after %.0f s; run "
                                "the same command again to wait for it", name, g->timeout);
        r = mk_http_sleep(ctx, MK_MIN(2.0, g->backoff * (1 << MK_MIN(polls, 4))));
        if (r < 0)
            return r;
    }
}

int gce_push_recognise(struct mk_ctx *ctx, struct gce *g)
{
    const char *temp = gce_push_get(g, "temp_image");
    int final, tmp;

    if (!gce_push_get(g, "md5"))
        return MK_OK; /* no image was asked for by an earlier run */
    final = ours(ctx, g, g->name);
    if (final < -1)
        return final;
    tmp = ours(ctx, g, temp);
    if (tmp < -1)
        return tmp;
    if (final == 1 || tmp == 1) {
        g->resuming = true;
        g->object_ours = !g->source_object; /* --source-uri's object is the user's */
        mk_log(ctx, MK_LOG_INFO, "an earlier run of this push created image '%s': finishing "
               "it", final == 1 ? g->name : temp);
        return MK_OK;
    }
    /* The earlier run's insert never took: its object (if any) is ours to remove, and this
     * run starts over. */
    if (gce_push_get(g, "object") && !g->keep_object && !g->source_object) {
        struct mk_ctx tmpctx = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
        gcs_object_delete(&tmpctx, g, gce_push_get(g, "object"));
    }
    gce_push_forget(g);
    return MK_OK;
}

/* The body of images.insert: from the staged object, or from (source_image). */
static json_t *image_body(struct gce *g, const char *name, const char *source_image)
{
    struct mk_buf src = MK_BUF_INIT;
    json_t *img, *labels = json_object(), *feats = json_array();

    if (source_image) {
        img = json_pack("{s:s, s:s, s:s}", "name", name, "sourceImage", source_image,
                        "architecture", "X86_64");
    } else {
        /* GCE refuses gs:// here; the https form works whatever endpoint we uploaded to. */
        mk_buf_addf(&src, "https://storage.googleapis.com/%s/%s", g->bucket, g->object);
        img = json_pack("{s:s, s:{s:s}, s:s, s:s}", "name", name, "rawDisk", "source",
                        src.buf ? src.buf : "", "sourceType", "RAW", "architecture", "X86_64");
        mk_buf_release(&src);
    }
    for (size_t i = 0; labels && i < g->n_labels; i++) {
        char *eq = strchr(g->labels[i], '=');
        char *key = strndup(g->labels[i], (size_t)(eq - g->labels[i]));
        json_object_set_new(labels, key, json_string(eq + 1));
        free(key);
    }
    if (labels)
        json_object_set_new(labels, SOURCE_LABEL, json_string(gce_push_get(g, "md5")));
    for (size_t i = 0; feats && i < g->n_features; i++)
        json_array_append_new(feats, json_pack("{s:s}", "type", g->features[i]));
    if (!img || !labels || !feats) {
        json_decref(img);
        json_decref(labels);
        json_decref(feats);
        return NULL;
    }
    json_object_set_new(img, "guestOsFeatures", feats);
    json_object_set_new(img, "labels", labels);
    if (g->family)
        json_object_set_new(img, "family", json_string(g->family));
    if (g->description)
        json_object_set_new(img, "description", json_string(g->description));
    if (g->storage_location)
        json_object_set_new(img, "storageLocations", json_pack("[s]", g->storage_location));
    if (g->n_licenses) {
        json_t *lic = json_array();

        for (size_t i = 0; lic && i < g->n_licenses; i++)
            json_array_append_new(lic, json_string(g->licenses[i]));
        json_object_set_new(img, "licenses", lic);
    }
    return img;
}

static int insert(struct mk_ctx *ctx, struct gce *g, const char *name, const char *source)
{
    json_t *body = image_body(g, name, source);
    bool running = false;
    int r;

    if (!body)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_image_insert(ctx, g, body, &running);
    json_decref(body);
    /* GCE may still be reading the staged object: it stays, and so does the state. */
    if (running && !source) {
        g->object_in_use = true;
        mk_error_prefix(ctx, "image '%s' is still being created from gs://%s/%s (kept); run "
                        "the same command again to finish", name, g->bucket, g->object);
    }
    return r;
}

/* Appends to the error on (ctx) which images exist now. */
static int say(struct mk_ctx *ctx, int r, const char *fmt, ...) MK_PRINTF(3, 4);
static int say(struct mk_ctx *ctx, int r, const char *fmt, ...)
{
    char saved[MK_ERRMSG_MAX], what[512];
    va_list ap;

    snprintf(saved, sizeof(saved), "%s", mk_errmsg(ctx));
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return mk_set_error(ctx, r, "%s; %s", saved, what);
}

static int replace(struct mk_ctx *ctx, struct gce *g, const char *temp, bool made)
{
    struct mk_buf src = MK_BUF_INIT;
    struct mk_ctx quiet = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    json_t *img = NULL;
    int r = MK_OK;

    if (!made) {
        mk_log(ctx, MK_LOG_INFO, "creating the new image as '%s' first", temp);
        r = insert(ctx, g, temp, NULL);
        if (r < 0)
            return g->object_in_use ? r : say(ctx, r, "image '%s' is unchanged", g->name);
    }
    r = wait_ready(ctx, g, temp, &img);
    json_decref(img);
    if (r < 0)
        return g->object_in_use ? r : say(ctx, r, "image '%s' is unchanged", g->name);
    r = ours(ctx, g, g->name);
    if (r == -1) {
        mk_log(ctx, MK_LOG_INFO, "the new image is READY: deleting the old '%s'", g->name);
        r = gce_image_delete(ctx, g, g->name);
        if (r < 0)
            return say(ctx, r, "the old image '%s' and the new one '%s' both exist", g->name,
                       temp);
    }
    if (r < 0)
        return r;
    if (r == 0) {
        if (mk_buf_addf(&src, "projects/%s/global/images/%s", g->project, temp) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        r = insert(ctx, g, g->name, src.buf);
        mk_buf_release(&src);
        if (r < 0)
            return say(ctx, r, "image '%s' was deleted; the new image exists as '%s' (READY)",
                       g->name, temp);
    }
    if (gce_image_delete(&quiet, g, temp) < 0)
        mk_log(ctx, MK_LOG_WARN, "could not delete the temporary image '%s': %s", temp,
               mk_errmsg(&quiet));
    return MK_OK;
}

int gce_push_images(struct mk_ctx *ctx, struct gce *g)
{
    const char *temp = gce_push_get(g, "temp_image");
    int r = MK_OK, old;

    if (!g->resuming) {
        old = ours(ctx, g, g->name);
        if (old < -1)
            return old;
        if (old == -1 && !g->replace)
            return mk_set_error(ctx, MK_EEXIST, "image '%s' already exists (use --replace)",
                                g->name);
        if (old == -1) {
            char rnd[16], name[80];

            gce_random_hex(rnd, 3);
            snprintf(name, sizeof(name), "%.48s-new-%.6s", g->name, rnd);
            gce_push_set(ctx, g, "temp_image", name);
            return replace(ctx, g, gce_push_get(g, "temp_image"), false);
        }
        gce_push_set(ctx, g, "temp_image", NULL);
        if (old == 1 && g->replace) {
            /* The image already holds these very bytes: replacing it with itself would
             * only take the name away for a while. */
            json_t *img = NULL;

            mk_log(ctx, MK_LOG_INFO, "image '%s' already holds this archive; nothing to replace",
                   g->name);
            r = wait_ready(ctx, g, g->name, &img);
            json_decref(img);
            return r;
        }
        r = insert(ctx, g, g->name, NULL);
        if (r < 0)
            return r;
        return MK_OK;
    }
    /* An earlier run asked for the images: the final one, or the temporary one first. */
    r = ours(ctx, g, g->name);
    if (r == 1) {
        struct mk_ctx quiet = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
        json_t *img = NULL;

        r = wait_ready(ctx, g, g->name, &img);
        json_decref(img);
        if (r == MK_OK && temp && ours(&quiet, g, temp) == 1 &&
            gce_image_delete(&quiet, g, temp) < 0)
            mk_log(ctx, MK_LOG_WARN, "could not delete the temporary image '%s': %s", temp,
                   mk_errmsg(&quiet));
        return r;
    }
    if (r < -1)
        return r;
    return replace(ctx, g, temp, true);
}
