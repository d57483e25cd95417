/* openstack.c: the OpenStack uploader: a Glance v2 image from a raw or qcow2 disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>
#include <jansson.h>

#include "openstack_private.h"
#include "uploader.h"

#define GIB (UINT64_C(1) << 30)
/* How long Glance may take to turn an uploaded image active (a store copying a big file). */
#define ACTIVE_TIMEOUT 1800.0

static void free_str(char **p)
{
    free(*p);
    *p = NULL;
}

static void wipe_str(char **p)
{
    if (*p)
        mk_wipe(*p, strlen(*p));
    free_str(p);
}

static int os_create(struct mk_ctx *ctx, void **ret_state)
{
    struct os_state *st = calloc(1, sizeof(*st));

    if (!st)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    st->min_ram = -1;
    *ret_state = st;
    return MK_OK;
}

static void os_destroy(void *state)
{
    struct os_state *st = state;

    if (!st)
        return;
    os_put_free(st->put);
    if (st->md)
        gcry_md_close(st->md);
    os_options_release(st);
    json_decref(st->old_ids);
    os_session_release(&st->sess);
    os_cloud_free(st->cloud);
    mk_http_free(st->http);
    wipe_str(&st->auth_header);
    free(st->images_url);
    free(st->image_id);
    free(st);
}

/* ---- Glance calls ---- */

/* One JSON request to Glance; the caller judges the status. */
static int glance(struct mk_ctx *ctx, struct os_state *st, const char *method, const char *url,
                  const char *body, struct mk_http_resp *resp)
{
    const char *headers[] = {st->auth_header, "Accept: application/json",
                             body ? "Content-Type: application/json" : NULL, NULL};
    int r = mk_http_do(ctx, st->http,
                       &(struct mk_http_req){.method = method, .url = url, .headers = headers,
                                             .body = body, .body_len = body ? strlen(body) : 0,
                                             .timeout = 300},
                       resp);

    if (r < 0)
        mk_error_prefix(ctx, "cloud '%s': Glance", st->cloud->name);
    return r;
}

static int status_code(long status)
{
    switch (status) {
    case 400:
        return MK_EINVAL;
    case 401:
    case 403:
        return MK_EAUTH;
    case 404:
        return MK_ENOTFOUND;
    case 409:
        return MK_EEXIST;
    case 413:
        return MK_ENOSPC;
    default:
        return MK_EHTTP;
    }
}

static int image_url(struct mk_ctx *ctx, struct os_state *st, const char *id, const char *tail,
                     struct mk_buf *url)
{
    if (mk_buf_addf(url, "%s/", st->images_url) < 0 || mk_http_escape(url, id) < 0 ||
        mk_buf_adds(url, tail) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

/* Deletes image (id); 404 counts as done. Errors go to (ctx). */
static int delete_image(struct mk_ctx *ctx, struct os_state *st, const char *id)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    r = image_url(ctx, st, id, "", &url);
    if (r >= 0)
        r = glance(ctx, st, "DELETE", url.buf, NULL, &resp);
    if (r >= 0 && resp.status != 204 && resp.status != 200 && resp.status != 404)
        r = os_http_error(ctx, status_code(resp.status), &resp,
                          "cloud '%s': cannot delete image %s", st->cloud->name, id);
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

/* The ids of our project's images named (name). */
static int find_by_name(struct mk_ctx *ctx, struct os_state *st, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *root = NULL, *ids = json_array(), *img;
    size_t i;
    int r = MK_OK;

    mk_http_resp_init(&resp);
    if (!ids || mk_buf_addf(&url, "%s?limit=1000&name=", st->images_url) < 0 ||
        mk_http_escape(&url, st->name) < 0 ||
        (st->sess.project_id && (mk_buf_adds(&url, "&owner=") < 0 ||
                                 mk_http_escape(&url, st->sess.project_id) < 0))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = glance(ctx, st, "GET", url.buf, NULL, &resp);
    if (r < 0)
        goto out;
    if (resp.status != 200) {
        r = os_http_error(ctx, status_code(resp.status), &resp,
                          "cloud '%s': cannot list images", st->cloud->name);
        goto out;
    }
    root = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
    if (!json_is_array(json_object_get(root, "images"))) {
        r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': Glance's image list is not JSON",
                         st->cloud->name);
        goto out;
    }
    json_array_foreach(json_object_get(root, "images"), i, img) {
        const char *n = json_string_value(json_object_get(img, "name"));
        json_t *id = json_object_get(img, "id");

        if (n && !strcmp(n, st->name) && json_is_string(id))
            json_array_append(ids, id);
    }
    *ret = ids;
    ids = NULL;
out:
    json_decref(ids);
    json_decref(root);
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

/* The default name: the artefact's file name without an image extension. */
static int default_name(struct mk_ctx *ctx, struct os_state *st, const char *source)
{
    static const char *const exts[] = {".raw", ".img", ".qcow2", ".tar.gz", ".tgz"};
    const char *base = source ? strrchr(source, '/') : NULL;
    size_t len;

    base = base ? base + 1 : source;
    if (!base || !*base)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --name is required");
    len = strlen(base);
    for (size_t i = 0; i < MK_ARRAY_SIZE(exts); i++) {
        size_t e = strlen(exts[i]);

        if (len > e && !strcmp(base + len - e, exts[i])) {
            len -= e;
            break;
        }
    }
    if (!(st->name = strndup(base, len)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}
static int create_image(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_http_resp resp;
    json_t *root = NULL;
    const char *id;
    char *body = NULL;
    int r;

    mk_http_resp_init(&resp);
    r = os_create_body(ctx, st, &body);
    if (r >= 0)
        r = glance(ctx, st, "POST", st->images_url, body, &resp);
    if (r < 0)
        goto out;
    if (resp.status != 201 && resp.status != 200) {
        r = os_http_error(ctx, status_code(resp.status), &resp,
                          "cloud '%s': Glance refused to create image '%s' (disk_format %s)",
                          st->cloud->name, st->name, st->disk_format);
        goto out;
    }
    root = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
    id = json_string_value(json_object_get(root, "id"));
    if (!id || !*id) {
        r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': Glance created image '%s' but gave no id",
                         st->cloud->name, st->name);
        goto out;
    }
    if (!(st->image_id = strdup(id)))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    else
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': created image '%s' (%s)", st->cloud->name,
               st->name, id);
out:
    json_decref(root);
    free(body);
    mk_http_resp_release(&resp);
    return r;
}

/* {glance}/v2/images from the catalog's URL, which is normally unversioned. */
static int set_images_url(struct mk_ctx *ctx, struct os_state *st, const char *endpoint)
{
    struct mk_buf b = MK_BUF_INIT;
    size_t n = strlen(endpoint);

    while (n && endpoint[n - 1] == '/')
        n--;
    if (mk_buf_add(&b, endpoint, n) < 0 ||
        mk_buf_adds(&b, n >= 3 && !strncmp(endpoint + n - 3, "/v2", 3) ? "/images"
                                                                       : "/v2/images") < 0) {
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    st->images_url = mk_buf_detach(&b, NULL);
    return MK_OK;
}

static int os_prepare(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info)
{
    struct os_state *st = state;
    struct mk_buf hdr = MK_BUF_INIT, what = MK_BUF_INIT, url = MK_BUF_INIT;
    char *endpoint = NULL;
    int r;

    if (info->format == MK_FORMAT_RAW)
        st->disk_format = "raw";
    else if (info->format == MK_FORMAT_QCOW2)
        st->disk_format = "qcow2";
    else
        return mk_set_error(ctx, MK_EUNSUPPORTED, "openstack: cannot upload a %s artefact "
                            "(raw or qcow2 only)", mk_format_name(info->format));
    if (!st->name && (r = default_name(ctx, st, info->source_name)) < 0)
        return r;
    st->min_disk = info->disk_size / GIB + (info->disk_size % GIB ? 1 : 0);

    r = os_cloud_load(ctx, st->cloud_name, &st->cloud);
    if (r < 0)
        return r;
    r = mk_http_new(ctx,
                    &(struct mk_http_opts){.cacert = st->cloud->cacert,
                                           .insecure = st->cloud->insecure,
                                           .stall_timeout = 300},
                    &st->http);
    if (r < 0)
        return r;
    if (st->cloud->insecure)
        mk_log(ctx, MK_LOG_WARN, "cloud '%s': TLS certificates are not checked (insecure)",
               st->cloud->name);
    r = os_authenticate(ctx, st->http, st->cloud, &st->sess);
    if (r >= 0)
        r = os_catalog_url(ctx, &st->sess, st->cloud, "image", &endpoint);
    if (r >= 0)
        r = set_images_url(ctx, st, endpoint);
    free(endpoint);
    if (r < 0)
        return r;
    if (mk_buf_addf(&hdr, "X-Auth-Token: %s", st->sess.token) < 0) {
        mk_buf_release(&hdr);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    st->auth_header = mk_buf_detach(&hdr, NULL);

    r = find_by_name(ctx, st, &st->old_ids);
    if (r < 0)
        return r;
    if (json_array_size(st->old_ids) && !st->replace)
        return mk_set_error(ctx, MK_EEXIST,
                            "cloud '%s': an image named '%s' already exists (%s); use --replace "
                            "to replace it",
                            st->cloud->name, st->name,
                            json_string_value(json_array_get(st->old_ids, 0)));

    mk_crypto_init();
    if (gcry_md_open(&st->md, GCRY_MD_MD5, 0) || gcry_md_enable(st->md, GCRY_MD_SHA512))
        return mk_set_error(ctx, MK_ENOMEM, "openstack: cannot set up MD5 and SHA-512");

    r = create_image(ctx, st);
    if (r >= 0)
        r = image_url(ctx, st, st->image_id, "/file", &url);
    if (r >= 0 && mk_buf_addf(&what, "cloud '%s': uploading image '%s' (%s)", st->cloud->name,
                              st->name, st->image_id) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (r >= 0)
        r = os_put_new(ctx, st->http, url.buf, st->sess.token, what.buf, &st->put);
    mk_buf_release(&url);
    mk_buf_release(&what);
    return r;
}

static int os_write(struct mk_ctx *ctx, void *state, const void *buf, size_t len)
{
    struct os_state *st = state;
    int r;

    gcry_md_write(st->md, buf, len);
    r = os_put_write(ctx, st->put, buf, len);
    if (r < 0)
        return r;
    st->sent += len;
    return MK_OK;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Waits until the image is active; (*ret) is its JSON. */
static int wait_active(struct mk_ctx *ctx, struct os_state *st, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    double waited = 0, delay = 0.2;
    int r;

    mk_http_resp_init(&resp);
    r = image_url(ctx, st, st->image_id, "", &url);
    while (r >= 0) {
        json_t *img;
        const char *status;

        r = glance(ctx, st, "GET", url.buf, NULL, &resp);
        if (r < 0)
            break;
        if (resp.status != 200) {
            r = os_http_error(ctx, status_code(resp.status), &resp,
                              "cloud '%s': cannot read image %s", st->cloud->name,
                              st->image_id);
            break;
        }
        img = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
        status = json_string_value(json_object_get(img, "status"));
        if (status && !strcmp(status, "active")) {
            *ret = img;
            break;
        }
        if (!status || (strcmp(status, "queued") && strcmp(status, "saving") &&
                        strcmp(status, "uploading") && strcmp(status, "importing"))) {
            r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': image '%s' (%s) is %s after the "
                             "upload, not active", st->cloud->name, st->name, st->image_id,
                             status ? status : "in no known status");
            json_decref(img);
            break;
        }
        json_decref(img);
        if (waited >= ACTIVE_TIMEOUT) {
            r = mk_set_error(ctx, MK_ETIMEOUT, "cloud '%s': image '%s' (%s) is still %s after "
                             "%.0f s", st->cloud->name, st->name, st->image_id, status,
                             waited);
            break;
        }
        r = mk_http_sleep(ctx, delay);
        waited += delay;
        delay = MK_MIN(delay * 2, 5.0);
    }
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

/* Glance's record must match what was sent: size, MD5 and, when it hashes with SHA-512,
 * os_hash_value. */
static int verify(struct mk_ctx *ctx, struct os_state *st, json_t *img, const char *md5,
                  const char *sha512)
{
    const char *checksum = json_string_value(json_object_get(img, "checksum"));
    const char *algo = json_string_value(json_object_get(img, "os_hash_algo"));
    const char *value = json_string_value(json_object_get(img, "os_hash_value"));
    json_t *size = json_object_get(img, "size");

    if (json_is_integer(size) && (uint64_t)json_integer_value(size) != st->sent)
        return mk_set_error(ctx, MK_EIO, "cloud '%s': image '%s' (%s) holds %jd bytes, but "
                            "%ju were sent", st->cloud->name, st->name, st->image_id,
                            (intmax_t)json_integer_value(size), (uintmax_t)st->sent);
    if (!checksum || strcmp(checksum, md5))
        return mk_set_error(ctx, MK_EIO, "cloud '%s': image '%s' (%s) has checksum %s, but "
                            "the data sent has MD5 %s", st->cloud->name, st->name,
                            st->image_id, checksum ? checksum : "(none)", md5);
    if (algo && !strcmp(algo, "sha512")) {
        if (!value || strcmp(value, sha512))
            return mk_set_error(ctx, MK_EIO, "cloud '%s': image '%s' (%s) has os_hash_value "
                                "%.16s..., but the data sent has SHA-512 %.16s...",
                                st->cloud->name, st->name, st->image_id,
                                value ? value : "(none)", sha512);
    } else {
        mk_log(ctx, MK_LOG_WARN, "cloud '%s': Glance hashes with %s, so only the MD5 was "
               "checked", st->cloud->name, algo ? algo : "nothing");
    }
    return MK_OK;
}

/* Removes the images the new one replaces. A failure here leaves the new image in place
 * and is reported as a warning and in the result. */
static void delete_old(struct mk_ctx *ctx, struct os_state *st, json_t *result)
{
    json_t *gone = json_array(), *kept = json_array(), *id;
    struct mk_ctx *tmp = mk_ctx_new();
    size_t i;

    json_array_foreach(st->old_ids, i, id) {
        if (tmp && delete_image(tmp, st, json_string_value(id)) == MK_OK) {
            json_array_append(gone, id);
        } else {
            mk_log(ctx, MK_LOG_WARN, "the image replaced is still there: %s",
                   tmp ? mk_errmsg(tmp) : "out of memory");
            json_array_append(kept, id);
        }
    }
    json_object_set_new(result, "replaced", gone);
    if (json_array_size(kept))
        json_object_set_new(result, "not_deleted", kept);
    else
        json_decref(kept);
    mk_ctx_free(tmp);
}

static int os_finish(struct mk_ctx *ctx, void *state, struct mk_buf *result)
{
    struct os_state *st = state;
    char md5[33], sha512[129], *text;
    json_t *img = NULL, *out;
    int r;

    r = os_put_finish(ctx, st->put);
    if (r < 0)
        return r;
    hex(gcry_md_read(st->md, GCRY_MD_MD5), 16, md5);
    hex(gcry_md_read(st->md, GCRY_MD_SHA512), 64, sha512);
    r = wait_active(ctx, st, &img);
    if (r >= 0)
        r = verify(ctx, st, img, md5, sha512);
    if (r < 0) {
        json_decref(img);
        return r;
    }
    out = json_pack("{s:s, s:s, s:s*, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}",
                    "uploader", "openstack", "cloud", st->cloud->name, "region",
                    st->cloud->region_name, "id", st->image_id, "name", st->name, "status",
                    "active", "disk_format", st->disk_format, "size", (json_int_t)st->sent,
                    "min_disk", (json_int_t)st->min_disk, "visibility",
                    st->visibility ? st->visibility : "private", "checksum", md5,
                    "os_hash_value", sha512);
    json_decref(img);
    if (!out)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    /* The new image is good: from here on nothing may make abort() delete it. */
    st->kept = true;
    mk_log(ctx, MK_LOG_INFO, "cloud '%s': image '%s' (%s) is active", st->cloud->name, st->name,
           st->image_id);
    if (st->replace)
        delete_old(ctx, st, out);
    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    r = text ? mk_buf_adds(result, text) : MK_ENOMEM;
    free(text);
    if (r < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static void os_abort(struct mk_ctx *ctx, void *state)
{
    struct os_state *st = state;
    struct mk_ctx *tmp;

    os_put_free(st->put);
    st->put = NULL;
    if (!st->image_id || st->kept)
        return;
    /* Its own context: (ctx) holds the error being reported, and may be cancelled. */
    tmp = mk_ctx_new();
    if (!tmp || delete_image(tmp, st, st->image_id) < 0)
        mk_log(ctx, MK_LOG_WARN, "the failed image %s could not be deleted: %s", st->image_id,
               tmp ? mk_errmsg(tmp) : "out of memory");
    else
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': deleted the failed image %s", st->cloud->name,
               st->image_id);
    mk_ctx_free(tmp);
    free_str(&st->image_id);
}

/* --OPTION VALUE on the command line, KEY: VALUE in a spec. */
static const struct mk_uploader_option os_options[] = {
    {.name = "os-cloud",
     .arg = "NAME",
     .help = "the cloud in clouds.yaml (default: OS_CLOUD, else OS_*)"},
    {.name = "cloud", .arg = "NAME", .help = NULL}, /* the spec's spelling */
    {.name = "name", .arg = "NAME", .help = "the image's name (default: the file's name)"},
    {.name = "visibility", .arg = "V", .help = "private (default), shared, community or public"},
    {.name = "property",
     .arg = "K=V",
     .help = "an image property; wins over the preset",
     .repeat = true},
    {.name = "tag", .arg = "T", .help = "an image tag", .repeat = true},
    {.name = "min-ram", .arg = "MIB", .help = "the least RAM a flavor must have"},
    {.name = "min_ram", .arg = "MIB", .help = NULL}, /* Glance's spelling */
    {.name = "preset",
     .arg = "P",
     .help = "solo5, hermit or none: device properties for the kernel"},
    {.name = "replace", .help = "replace an image of the same name (after the upload)"},
    {0},
};

const struct mk_uploader mk_uploader_openstack = {
    .name = "openstack",
    .description = "an OpenStack Glance image (Keystone v3, clouds.yaml or OS_* variables)",
    .options = os_options,
    /* qcow2 first: a built disk is mostly holes, which qcow2 does not send. */
    .formats = {MK_FORMAT_QCOW2, MK_FORMAT_RAW, 0},
    .create = os_create,
    .set_option = os_set_option,
    .prepare = os_prepare,
    .write = os_write,
    .finish = os_finish,
    .abort = os_abort,
    .destroy = os_destroy,
};
