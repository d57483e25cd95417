/* gce.c: the Google Compute Engine uploader: the order of the steps (checks, upload to a
 * staging bucket, images.insert, clean-up), or with --source-uri the image made from the
 * user's own object, which is only read. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gce_private.h"

/* ---- prepare ---- */

/* An image name from the artefact's file name: "My_App.tar.gz" -> "my-app". */
static char *derive_name(const char *source)
{
    static const char *const exts[] = {".tar.gz", ".tgz", ".raw", ".img", ".qcow2", ".elf"};
    size_t len = strlen(source), o = 0;
    char *out = malloc(68);

    if (!out)
        return NULL;
    for (size_t i = 0; i < MK_ARRAY_SIZE(exts); i++) {
        size_t el = strlen(exts[i]);
        if (len > el && !strcasecmp(source + len - el, exts[i])) {
            len -= el;
            break;
        }
    }
    if (!len || !isalpha((unsigned char)source[0]))
        o += (size_t)snprintf(out, 68, "img-");
    for (size_t i = 0; i < len && o < 63; i++) {
        char c = (char)tolower((unsigned char)source[i]);
        if (!isalnum((unsigned char)c) || (unsigned char)c >= 0x80)
            c = '-';
        if (c == '-' && o && out[o - 1] == '-')
            continue;
        out[o++] = c;
    }
    while (o && out[o - 1] == '-')
        o--;
    out[o] = '\0';
    return out;
}

static int make_base(struct mk_ctx *ctx, char **dst, const char *url, bool slash)
{
    struct mk_buf b = MK_BUF_INIT;
    size_t len;

    if (mk_buf_addf(&b, "%s%s", strstr(url, "://") ? "" : "http://", url) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    len = b.len;
    while (len && b.buf[len - 1] == '/')
        len--;
    b.len = len;
    b.buf[len] = '\0';
    if (slash && mk_buf_adds(&b, "/") < 0) {
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    *dst = mk_buf_detach(&b, NULL);
    return MK_OK;
}

/* The start of the archive checked before anything is sent: the gzip and tar headers, the
 * member's name, format and size, the sparse map and the disk's MBR. The rest (gzip's
 * integrity, what follows) is checked as the bytes stream to the server (gcs_stream.c),
 * and the upload is not completed unless it passes. Both run in our process, not in an
 * isolated reader (mk_run_isolated): the tar.gz reader is our own small streaming parser over
 * zlib, one pass with fixed buffers, fuzzed (tests/fuzz/fuzz_targz.c); no libext2fs. */
static int preflight(struct mk_ctx *ctx, const char *path)
{
    struct mk_buf problems = MK_BUF_INIT;
    int fd = mk_open_input(ctx, path, NULL), r;

    if (fd < 0)
        return fd;
    r = mk_targz_check_fd(ctx, fd, path, true, &problems);
    close(fd);
    if (r == MK_OK && problems.len) {
        char *nl = strchr(problems.buf, '\n');

        r = mk_set_error(ctx, MK_EFORMAT, "%s: not uploaded, the archive would be refused: "
                         "%.*s%s", path, nl ? (int)(nl - problems.buf) : (int)problems.len,
                         problems.buf, nl ? " (and more: see 'inspect')" : "");
    }
    mk_buf_release(&problems);
    return r;
}

static int check_settings(struct mk_ctx *ctx, struct gce *g, const struct mk_upload_info *info)
{
    const char *source_name = info->source_name;
    int r;

    if (info->remote && !g->source_object)
        return mk_set_error(ctx, MK_EINVAL, "nothing to make the image from: give the ARCHIVE, "
                            "or --source-uri gs://BUCKET/OBJECT");
    if (!info->remote && g->source_object)
        return mk_set_error(ctx, MK_EINVAL, "--source-uri names data already uploaded: give "
                            "no ARCHIVE or KERNEL as well");
    if (g->source_object) {
        if (g->object)
            return mk_set_error(ctx, MK_EINVAL, "--object names the object an upload stages; "
                                "--source-uri's object is used as it is");
        free(g->bucket);
        free(g->object_prefix);
        g->object_prefix = NULL;
        g->bucket = strdup(g->source_bucket);
        g->object = strdup(g->source_object);
        if (!g->bucket || !g->object)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        source_name = strrchr(g->object, '/') ? strrchr(g->object, '/') + 1 : g->object;
    }
    if (!g->bucket)
        return mk_set_error(ctx, MK_EINVAL, "no bucket to stage the upload in: pass --bucket");
    if (!g->name) {
        g->name = derive_name(source_name ? source_name : "image");
        if (!g->name)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        r = gce_check_name(ctx, g->source_object ? "image name (from the object's name; pass "
                           "--name)" : "image name (from the file name; pass --name)", g->name);
    } else {
        r = gce_check_name(ctx, "image name", g->name);
    }
    if (r == MK_OK && g->family)
        r = gce_check_name(ctx, "image family", g->family);
    if (r < 0)
        return r;
    if (g->storage_location) {
        char *l = g->storage_location;
        size_t len = strlen(l);
        bool ok = len >= 2 && len <= 63 && isalpha((unsigned char)l[0]) && l[len - 1] != '-';

        /* Any case, as GCS takes it ("US"); sent in lowercase, as images want it. */
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)l[i]) || l[i] == '-';
        if (!ok)
            return mk_set_error(ctx, MK_EINVAL, "--storage-location '%s': not a location name "
                                "(such as us, eu, asia or us-central1)", l);
        for (char *p = l; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    r = gce_gcloud_load(ctx, &g->gcloud);
    if (r < 0)
        return r;
    if (!g->zone && g->gcloud.zone && !(g->zone = strdup(g->gcloud.zone)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (g->boot_check && !g->zone)
        return mk_set_error(ctx, MK_EINVAL, "--boot-check needs a zone: pass --zone, set "
                            "CLOUDSDK_COMPUTE_ZONE or run 'gcloud config set compute/zone "
                            "%s-b'", g->gcloud.region ? g->gcloud.region : "REGION");
    if (g->boot_check && !g->machine_type && !(g->machine_type = strdup("e2-small")))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (g->object && !g->source_object) {
        for (const char *p = g->object; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("._-/", *p))
                return mk_set_error(ctx, MK_EINVAL, "--object '%s': use letters, digits and "
                                    "._-/ only", g->object);
    }
    if (info->format != MK_FORMAT_GCE)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "gce takes disk.tar.gz archives, not %s",
                            mk_format_name(info->format));
    return MK_OK;
}

int gce_connect(struct mk_ctx *ctx, struct gce *g)
{
    struct mk_http_opts hopts = {.cacert = g->cacert, .insecure = g->insecure,
                                 .stall_timeout = g->stall_timeout};
    const char *env, *tok;
    int r;

    env = getenv("STORAGE_EMULATOR_HOST");
    r = make_base(ctx, &g->storage_base,
                  g->storage_endpoint ? g->storage_endpoint
                  : env && *env       ? env
                                      : GCE_DEFAULT_STORAGE, false);
    env = getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE");
    if (r == MK_OK)
        r = make_base(ctx, &g->compute_base,
                      g->compute_endpoint ? g->compute_endpoint
                      : env && *env       ? env
                                          : GCE_DEFAULT_COMPUTE, true);
    /* Every request carries a token: plain http only to loopback, or when asked. */
    if (g->insecure)
        mk_log(ctx, MK_LOG_WARN, "--insecure: TLS certificates are not checked and plain "
               "http:// endpoints are allowed");
    if (r == MK_OK)
        r = mk_http_check_secure(ctx, "the storage endpoint", g->storage_base, g->insecure);
    if (r == MK_OK)
        r = mk_http_check_secure(ctx, "the compute endpoint", g->compute_base, g->insecure);
    if (r == MK_OK)
        r = mk_http_new(ctx, &hopts, &g->http);
    if (r == MK_OK)
        r = gce_auth_new(ctx, g->http, g->credentials, &g->auth);
    if (r == MK_OK && gce_auth_token_uri(g->auth))
        r = mk_http_check_secure(ctx, "the token endpoint", gce_auth_token_uri(g->auth),
                                 g->insecure);
    if (r == MK_OK && (g->impersonate || g->gcloud.impersonate))
        r = gce_auth_impersonate(ctx, &g->auth,
                                 g->impersonate ? g->impersonate : g->gcloud.impersonate);
    if (r < 0)
        return r;
    if (!g->project) {
        /* Google's libraries' order, then gcloud's own configuration. */
        const char *proj = getenv("GOOGLE_CLOUD_PROJECT");

        if (!proj || !*proj)
            proj = getenv("CLOUDSDK_CORE_PROJECT");
        if (!proj || !*proj)
            proj = gce_auth_project(g->auth);
        if (!proj || !*proj)
            proj = g->gcloud.project;
        if (!proj || !*proj)
            return mk_set_error(ctx, MK_EINVAL, "no project: pass --project, set "
                                "GOOGLE_CLOUD_PROJECT or run 'gcloud config set project "
                                "PROJECT'");
        if (!(g->project = strdup(proj)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    mk_log(ctx, MK_LOG_DEBUG, "using %s, project %s", gce_auth_describe(g->auth), g->project);
    /* A refused key or a wrong project fail here, before anything is sent. */
    r = gce_auth_token(ctx, g->auth, false, &tok);
    return r < 0 ? r : gce_project_check(ctx, g);
}

/* The staged object: --object, or the one an interrupted run of this push was uploading
 * (to resume its session), or a new name of its own, so that two pushes of one image name
 * never share (and never delete) each other's objects. */
static int choose_object(struct mk_ctx *ctx, struct gce *g)
{
    const char *saved = g->push ? gce_push_get(g, "object") : NULL;

    /* --bucket gs://B/PREFIX/ puts the object under PREFIX/. */
    const char *prefix = g->object_prefix ? g->object_prefix : "";

    if (!g->object || (*prefix && !saved)) {
        struct mk_buf b = MK_BUF_INIT;
        char rnd[16];

        gce_random_hex(rnd, 4);
        if (saved ? mk_buf_adds(&b, saved) < 0
            : g->object ? mk_buf_addf(&b, "%s%s", prefix, g->object) < 0
                        : mk_buf_addf(&b, "%s%.40s-%s.tar.gz", prefix, g->name, rnd) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        free(g->object);
        g->object = mk_buf_detach(&b, NULL);
    }
    if (g->push)
        gce_push_set(ctx, g, "object", g->object);
    g->object_ours = true;
    return MK_OK;
}

static int gce_prepare(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info)
{
    struct gce *g = state;
    struct mk_buf id = MK_BUF_INIT;
    json_t *old = NULL;
    struct gcs_params p = {0};
    int r;

    r = check_settings(ctx, g, info);
    if (r == MK_OK && info->source_path && info->format == MK_FORMAT_GCE)
        r = preflight(ctx, info->source_path);
    if (r < 0)
        return r;

    r = gce_connect(ctx, g);
    if (r == MK_OK && g->storage_location)
        r = gce_location_check(ctx, g, g->storage_location);
    if (r < 0)
        return r;

    if (g->source_object) {
        /* The object must be there now; its generation identifies its bytes, so that an
         * interrupted push of it is recognised by the next run. */
        r = gcs_object_get(ctx, g, g->object, &g->object_json);
        if (r == MK_OK &&
            mk_buf_addf(&id, "gcs:%s/%s#%s", g->bucket, g->object,
                        json_string_value(json_object_get(g->object_json, "generation"))
                            ? json_string_value(json_object_get(g->object_json, "generation"))
                            : "") < 0)
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        if (r < 0)
            return r;
    }
    r = gce_push_state_open(ctx, g, g->source_object ? id.buf : info->source_id);
    mk_buf_release(&id);
    if (r == MK_OK)
        r = gce_push_recognise(ctx, g);
    if (r < 0 || g->resuming)
        return r;
    r = gce_image_get(ctx, g, g->name, &old);
    if (r == MK_OK) {
        json_decref(old);
        if (!g->replace)
            return mk_set_error(ctx, MK_EEXIST, "image '%s' already exists in project %s "
                                "(use --replace)", g->name, g->project);
    } else if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
    } else {
        return r;
    }
    if (g->source_object)
        return MK_OK; /* nothing to upload */
    r = gcs_bucket_check(ctx, g, g->create_bucket);
    if (r < 0)
        return r;
    r = choose_object(ctx, g);
    if (r < 0)
        return r;

    p.object = g->object;
    p.total = info->stream_size;
    p.check_name = info->source_path;
    if (info->source_id &&
        mk_buf_addf(&id, "%s:%s", info->source_id, mk_format_name(info->format)) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    p.identity = id.len ? id.buf : NULL;
    if (r == MK_OK)
        r = gcs_upload_begin(ctx, g, &p, &g->up);
    mk_buf_release(&id);
    return r;
}

static int gce_write(struct mk_ctx *ctx, void *state, const void *buf, size_t len)
{
    struct gce *g = state;

    if (g->resuming)
        return MK_OK; /* uploaded by an earlier run */
    return gcs_upload_write(ctx, g, g->up, buf, len);
}

static int gce_write_file(struct mk_ctx *ctx, void *state, int fd, uint64_t size)
{
    struct gce *g = state;

    if (g->resuming)
        return MK_OK; /* uploaded by an earlier run */
    return gcs_upload_file(ctx, g, g->up, fd, size);
}

/* ---- finish ---- */

static const char *str_or(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

/* The source's md5 (hex, as a label value wants it), from the object GCS made: the mark
 * by which a later run recognises the images of this push. */
static int md5_hex(struct mk_ctx *ctx, struct gce *g)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *in = str_or(g->object_json, "md5Hash");
    char hex[40] = "";
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    for (; *in && *in != '=' && n < 16; in++) {
        const char *c = strchr(b64, *in);

        if (!c)
            return mk_set_error(ctx, MK_EHTTP, "GCS returned an md5Hash that is not base64");
        acc = acc << 6 | (uint32_t)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            snprintf(hex + 2 * n++, 3, "%02x", (acc >> bits) & 0xff);
        }
    }
    /* A composite object (gsutil's parallel uploads) has no md5: a --source-uri image then
     * carries no mark, and an interrupted push of it starts over. */
    if (n == 0 && g->source_object)
        return MK_OK;
    if (n != 16)
        return mk_set_error(ctx, MK_EHTTP, "GCS returned no md5Hash for the object");
    gce_push_set(ctx, g, "md5", hex);
    return MK_OK;
}

static int gce_finish(struct mk_ctx *ctx, void *state, struct mk_buf *result)
{
    struct gce *g = state;
    json_t *res = NULL;
    const char *status;
    char *text;
    int r;

    if (g->source_object) {
        mk_log(ctx, MK_LOG_INFO, "making image '%s' from gs://%s/%s", g->name, g->bucket,
               g->object);
        if (!g->resuming && (r = md5_hex(ctx, g)) < 0)
            return r;
    } else if (g->resuming) {
        /* The object an earlier run staged; GCE may be reading it until the image is
         * READY. */
        free(g->object);
        g->object = gce_push_get(g, "object") ? strdup(gce_push_get(g, "object")) : NULL;
        g->object_complete = g->object != NULL;
        g->object_in_use = g->object != NULL;
    } else {
        r = gcs_upload_finish(ctx, g, g->up, &g->object_json);
        if (r < 0)
            return r;
        g->object_complete = true;
        mk_log(ctx, MK_LOG_INFO, "uploaded gs://%s/%s", g->bucket, g->object);
        r = md5_hex(ctx, g);
        if (r < 0)
            return r;
    }
    r = gce_push_images(ctx, g);
    if (r < 0)
        return r;
    g->object_in_use = false;
    g->image_created = true;
    r = gce_image_get(ctx, g, g->name, &g->image_json);
    if (r < 0)
        return r;
    status = json_string_value(json_object_get(g->image_json, "status"));
    if (!status || strcmp(status, "READY"))
        return mk_set_error(ctx, MK_EHTTP, "image '%s' is %s, not READY", g->name,
                            status ? status : "in no known state");
    if (!g->keep_object && g->object && !g->source_object) {
        r = gcs_object_delete(ctx, g, g->object);
        if (r < 0)
            return r;
        g->object_complete = false;
    }
    /* With a boot check the state stays until its instance is gone (kill -9 would leave it
     * running: the next run deletes it first). */
    if (g->push && !g->boot_check)
        gce_push_forget(g);
    res = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s*, s:I, s:s, s:s}", "uploader", "gce",
                    "project", g->project, "image", g->name, "selfLink",
                    str_or(g->image_json, "selfLink"), "status", status, "family", g->family,
                    "bytes", (json_int_t)strtoll(str_or(g->object_json, "size"), NULL, 10),
                    "crc32c", str_or(g->object_json, "crc32c"), "md5Hash",
                    str_or(g->object_json, "md5Hash"));
    if (!res)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (g->keep_object || g->source_object) {
        struct mk_buf obj = MK_BUF_INIT;
        mk_buf_addf(&obj, "gs://%s/%s", g->bucket, g->object);
        json_object_set_new(res, "object", json_string(obj.buf));
        mk_buf_release(&obj);
    }
    if (g->boot_check) {
        r = gce_boot_check(ctx, g, g->name, res);
        if (r == MK_OK && g->push)
            gce_push_forget(g);
        if (r < 0) {
            /* A failed boot check is a failed gate: the image must not be picked up. */
            struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
            char saved[MK_ERRMSG_MAX];

            json_decref(res);
            snprintf(saved, sizeof(saved), "%s", mk_errmsg(ctx));
            if (gce_image_delete(&tmp, g, g->name) == MK_OK) {
                g->image_created = false;
                mk_set_error(ctx, r, "%s (image %s deleted)", saved, g->name);
            } else {
                mk_set_error(ctx, r, "%s (and image %s could not be deleted: %s)", saved,
                             g->name, mk_errmsg(&tmp));
            }
            return r;
        }
    }
    text = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    if (!text || mk_buf_adds(result, text) < 0) {
        free(text);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    free(text);
    return MK_OK;
}

/* ---- abort ---- */

static void gce_abort(struct mk_ctx *ctx, void *state)
{
    struct gce *g = state;
    /* The caller's context may be cancelled (Ctrl-C): clean up through one that is not,
     * keeping its log. */
    struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    int code = mk_errcode(ctx);
    /* Failures that running the command again can get past keep the session to resume. */
    bool transient = code == MK_ECANCELED || code == MK_EHTTP || code == MK_ETIMEOUT;

    if (!g->http || !g->auth)
        return;
    if (g->up && !g->object_complete)
        gcs_upload_cancel(&tmp, g, g->up, transient);
    /* Never delete an object GCE may be reading: the state stays for the next run. */
    if (g->object_in_use)
        return;
    if (g->object_complete && g->object_ours && !g->keep_object && !g->source_object &&
        gcs_object_delete(&tmp, g, g->object) < 0)
        mk_log(ctx, MK_LOG_WARN, "could not delete gs://%s/%s: %s", g->bucket, g->object,
               mk_errmsg(&tmp));
    if (g->push && (g->object_complete || !transient))
        gce_push_forget(g);
}

const struct mk_uploader mk_uploader_gce = {
    .name = "gce",
    .description = "Google Compute Engine: stage disk.tar.gz in Cloud Storage, create an image",
    .options = gce_options,
    .formats = {MK_FORMAT_GCE, 0},
    .reports_progress = true,
    .takes_remote = true,
    .create = gce_create,
    .set_option = gce_set_option,
    .prepare = gce_prepare,
    .write = gce_write,
    .write_file = gce_write_file,
    .finish = gce_finish,
    .abort = gce_abort,
    .destroy = gce_destroy,
};
