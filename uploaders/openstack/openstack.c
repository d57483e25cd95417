/* openstack.c: the OpenStack uploader: a Glance v2 image from a raw or qcow2 disk, in the
 * disk format Glance takes (qcow2 first: a built disk is mostly holes, which qcow2 does not
 * send). The Glance calls are in glance.c, Keystone in openstack_auth.c, what interrupted
 * pushes left in leftovers.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>
#include <jansson.h>

#include "openstack_private.h"
#include "uploader.h"

#define GIB (UINT64_C(1) << 30)
/* Renew a token that expires within this many seconds (keystoneauth's margin). */
#define TOKEN_MARGIN 120

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
    st->min_disk = -1;
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
    free(st->allowed);
    free(st->image_id);
    free(st->state_path);
    free(st);
}

/* ---- Keystone: the session, renewed as it ages ---- */

static int set_auth_header(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_buf hdr = MK_BUF_INIT;

    if (mk_buf_addf(&hdr, "X-Auth-Token: %s", st->sess.token) < 0) {
        mk_buf_release(&hdr);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    wipe_str(&st->auth_header);
    st->auth_header = mk_buf_detach(&hdr, NULL);
    return MK_OK;
}

int os_renew_token(struct mk_ctx *ctx, struct os_state *st, bool force)
{
    struct os_session fresh;
    time_t now = time(NULL);
    int r;

    if (!force && (!st->sess.expires || st->sess.expires - now > TOKEN_MARGIN))
        return MK_OK;
    if (!force)
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': the token expires in %ld s; authenticating again",
               st->cloud->name, (long)(st->sess.expires - now));
    r = os_authenticate(ctx, st->http, st->cloud, &fresh);
    if (r < 0)
        return r;
    os_session_release(&st->sess);
    st->sess = fresh;
    return set_auth_header(ctx, st);
}

/* Loads the cloud, authenticates and finds Glance; once. */
static int connect_cloud(struct mk_ctx *ctx, struct os_state *st)
{
    char *endpoint = NULL;
    int r;

    if (st->images_url)
        return MK_OK;
    r = os_cloud_load(ctx, st->cloud_name, &st->cloud);
    if (r < 0)
        return r;
    if (st->region) {
        free(st->cloud->region_name);
        if (!(st->cloud->region_name = strdup(st->region)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    st->cloud->insecure = st->cloud->insecure || st->insecure;
    r = mk_http_new(ctx,
                    &(struct mk_http_opts){.cacert = st->cloud->cacert,
                                           .insecure = st->cloud->insecure,
                                           .stall_timeout = 300},
                    &st->http);
    if (r < 0)
        return r;
    if (st->cloud->insecure)
        mk_log(ctx, MK_LOG_WARN, "cloud '%s': TLS certificates are not checked and plain "
               "http:// endpoints are allowed (insecure)", st->cloud->name);
    /* Keystone gets the password, Glance the token: plain http only to loopback, or when
     * asked (--insecure, or the cloud's insecure: true / verify: false / OS_INSECURE). */
    r = mk_http_check_secure(ctx, "auth_url", st->cloud->auth_url, st->cloud->insecure);
    if (r >= 0)
        r = os_authenticate(ctx, st->http, st->cloud, &st->sess);
    if (r >= 0)
        r = set_auth_header(ctx, st);
    if (r >= 0)
        r = os_catalog_url(ctx, &st->sess, st->cloud, "image", &endpoint);
    if (r >= 0)
        r = mk_http_check_secure(ctx, "the image endpoint", endpoint, st->cloud->insecure);
    if (r >= 0)
        r = glance_set_endpoint(ctx, st, endpoint);
    free(endpoint);
    return r;
}

/* ---- the hooks ---- */

/* The local checks, then the disk format: --disk-format, else qcow2 when Glance takes it
 * (a raw disk's holes are not sent), else raw. */
static int os_choose_format(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info,
                            enum mk_format *want)
{
    struct os_state *st = state;
    int r;

    if (info->source_path && (r = mk_upload_check_file(ctx, info->source_path)) < 0)
        return r;
    if ((r = connect_cloud(ctx, st)) < 0)
        return r;
    if (st->disk_format) {
        /* Named by the user: Glance judges it when the image is created (and a refusal is
         * explained from its schema then), which saves a request on every push. */
        *want = !strcmp(st->disk_format, "qcow2") ? MK_FORMAT_QCOW2 : MK_FORMAT_RAW;
        return MK_OK;
    }
    if ((r = glance_read_formats(ctx, st)) < 0)
        return r;
    if (st->allow_qcow2) {
        *want = MK_FORMAT_QCOW2;
    } else if (st->allow_raw) {
        *want = MK_FORMAT_RAW;
    } else {
        return mk_set_error(ctx, MK_EUNSUPPORTED, "cloud '%s': Glance accepts only %s as disk "
                            "formats; this tool writes raw and qcow2", st->cloud->name,
                            st->allowed);
    }
    if (*want != info->format)
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': sending %s as %s, converted on the fly (Glance "
               "takes %s)", st->cloud->name, mk_format_name(info->format),
               mk_format_name(*want), st->allowed ? st->allowed : "both");
    return MK_OK;
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

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Our mark: the first 128 bits of SHA-256 over the source's identity and the format. */
static void set_source_mark(struct os_state *st, const struct mk_upload_info *info)
{
    unsigned char d[32];
    char text[400];

    snprintf(text, sizeof(text), "%s\n%s", info->source_id ? info->source_id : "",
             st->format);
    gcry_md_hash_buffer(GCRY_MD_SHA256, d, text, strlen(text));
    hex(d, 16, st->source_mark);
}

/* The PUT of the data to image_id, ready to take st->stream_size bytes from write(). */
static int start_upload(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_buf what = MK_BUF_INIT, url = MK_BUF_INIT;
    /* The PUT is authorised when it starts: give it a token with some life left. */
    int r = os_renew_token(ctx, st, false);

    if (r >= 0)
        r = glance_image_url(ctx, st, st->image_id, "/file", &url);
    if (r >= 0 && mk_buf_addf(&what, "cloud '%s': uploading image '%s' (%s)", st->cloud->name,
                              st->name, st->image_id) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (r >= 0)
        r = os_put_new(ctx, st->http, url.buf, st->sess.token, what.buf, st->stream_size,
                       st->md, &st->put);
    mk_buf_release(&url);
    mk_buf_release(&what);
    return r;
}

static int os_prepare(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info)
{
    struct os_state *st = state;
    int r;

    if (info->format == MK_FORMAT_RAW)
        st->format = "raw";
    else if (info->format == MK_FORMAT_QCOW2)
        st->format = "qcow2";
    else
        return mk_set_error(ctx, MK_EUNSUPPORTED, "openstack: cannot upload a %s artefact "
                            "(raw or qcow2 only)", mk_format_name(info->format));
    if (!st->name && (r = default_name(ctx, st, info->source_name)) < 0)
        return r;
    st->disk_gib = info->disk_size / GIB + (info->disk_size % GIB ? 1 : 0);
    st->stream_size = info->stream_size;
    if (st->min_disk >= 0 && (uint64_t)st->min_disk < st->disk_gib)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --min-disk %ld is smaller than the "
                            "disk (%ju GB)", st->min_disk, (uintmax_t)st->disk_gib);
    r = connect_cloud(ctx, st);
    if (r < 0)
        return r;
    mk_crypto_init();
    set_source_mark(st, info);
    r = os_leftovers(ctx, st);
    if (r < 0)
        return r;
    if (json_array_size(st->old_ids) && !st->replace)
        return mk_set_error(ctx, MK_EEXIST,
                            "cloud '%s': an image named '%s' already exists (%s); use --replace "
                            "to replace it",
                            st->cloud->name, st->name,
                            json_string_value(json_array_get(st->old_ids, 0)));
    if (gcry_md_open(&st->md, GCRY_MD_MD5, 0))
        return mk_set_error(ctx, MK_ENOMEM, "openstack: cannot set up MD5");
    if (st->resumed)
        return MK_OK; /* the bytes are only hashed, to check the image that has them */

    r = glance_create_image(ctx, st);
    if (r >= 0)
        r = start_upload(ctx, st);
    return r;
}

static int os_write(struct mk_ctx *ctx, void *state, const void *buf, size_t len)
{
    struct os_state *st = state;
    int r;

    if (st->resumed) {
        gcry_md_write(st->md, buf, len);
        st->sent += len;
        return MK_OK;
    }
    r = os_put_write(ctx, st->put, buf, len);
    if (r < 0)
        return r;
    st->sent += len;
    return MK_OK;
}

/* A file sent as it is: read into the upload's ring straight from the page cache, with no
 * copy through the driver's buffer. */
static int os_write_file(struct mk_ctx *ctx, void *state, int fd, uint64_t size)
{
    struct os_state *st = state;
    uint8_t *buf;
    int r = MK_OK;

    st->from_file = true;
    if (!st->resumed) {
        r = os_put_file(ctx, st->put, fd, size);
        st->sent = r < 0 ? 0 : size;
        return r;
    }
    /* Already in Glance: only hashed, to check the image that has the bytes. */
    if (!(buf = malloc(1u << 20)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (st->sent = 0; st->sent < size && r >= 0;) {
        size_t n;

        r = mk_pread_some(ctx, fd, buf, (size_t)MK_MIN(size - st->sent, (uint64_t)(1u << 20)),
                          st->sent, "the file", &n);
        if (r < 0)
            r = mk_error_prefix(ctx, "cloud '%s': checking image '%s'", st->cloud->name,
                                st->name);
        else if ((r = mk_check_cancel(ctx)) >= 0) {
            gcry_md_write(st->md, buf, n);
            st->sent += n;
            mk_progress(ctx, "upload", st->sent, size);
        }
    }
    free(buf);
    return r;
}

/* Removes the images the new one replaces. A failure here leaves the new image in place
 * and is reported as a warning and in the result. */
static void delete_old(struct mk_ctx *ctx, struct os_state *st, json_t *result)
{
    json_t *gone = json_array(), *kept = json_array(), *id;
    struct mk_ctx *tmp = mk_ctx_new();
    size_t i;

    json_array_foreach(st->old_ids, i, id) {
        if (tmp && glance_delete_image(tmp, st, json_string_value(id)) == MK_OK) {
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
    char md5[33], *text;
    json_t *img = NULL, *out;
    int r;

    if (!st->resumed && (r = os_put_finish(ctx, st->put, st->from_file ? st->sent : 0)) < 0)
        return r;
    hex(gcry_md_read(st->md, GCRY_MD_MD5), 16, md5);
    r = glance_wait_active(ctx, st, &img);
    if (r >= 0)
        r = glance_verify(ctx, st, img, md5);
    if (r < 0) {
        json_decref(img);
        if (st->resumed) /* not the image of a failed push of ours: leave it alone */
            st->kept = true;
        return r;
    }
    out = json_pack("{s:s, s:s, s:s*, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s*, s:b}",
                    "uploader", "openstack", "cloud", st->cloud->name, "region",
                    st->cloud->region_name, "id", st->image_id, "name", st->name, "status",
                    "active", "disk_format", st->format, "size", (json_int_t)st->sent,
                    "min_disk", (json_int_t)(st->min_disk >= 0 ? (uint64_t)st->min_disk
                                                               : st->disk_gib),
                    "visibility", st->visibility ? st->visibility : "private", "checksum", md5,
                    "os_hash_value", json_string_value(json_object_get(img, "os_hash_value")),
                    "resumed", st->resumed);
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

/* A 401 to the data's PUT: the token died after it was checked (revoked, a password
 * changed, Keystone's clock). keystonemiddleware refuses the request before Glance looks at
 * the image, which stays queued and takes the data again: a new token, then the bytes once
 * more from the first. Once per push; anything else is no reason to send them again. */
static int os_restart(struct mk_ctx *ctx, void *state)
{
    struct os_state *st = state;
    int r;

    if (st->resumed || st->resent || !st->put || os_put_status(st->put) != 401)
        return mk_errcode(ctx) < 0 ? mk_errcode(ctx) : MK_EHTTP;
    st->resent = true;
    mk_log(ctx, MK_LOG_INFO, "cloud '%s': Glance refused the token of the upload of image "
           "%s; authenticating again and sending the data again", st->cloud->name,
           st->image_id);
    os_put_free(st->put);
    st->put = NULL;
    r = os_renew_token(ctx, st, true);
    if (r < 0)
        return r;
    gcry_md_reset(st->md);
    st->sent = 0;
    return start_upload(ctx, st);
}

static void os_abort(struct mk_ctx *ctx, void *state)
{
    struct os_state *st = state;
    struct mk_ctx *tmp;

    os_put_free(st->put);
    st->put = NULL;
    if (!st->image_id || st->kept || st->resumed)
        return;
    /* Its own context: (ctx) holds the error being reported, and may be cancelled. */
    tmp = mk_ctx_new();
    if (!tmp || glance_delete_image(tmp, st, st->image_id) < 0) {
        os_leftover_remember(ctx, st, st->image_id);
        mk_log(ctx, MK_LOG_WARN, "the failed image %s could not be deleted (%s); %s",
               st->image_id, tmp ? mk_errmsg(tmp) : "out of memory",
               st->state_path ? "the next run to this cloud deletes it"
                              : "delete it yourself (no state folder to remember it in)");
    } else {
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': deleted the failed image %s", st->cloud->name,
               st->image_id);
    }
    mk_ctx_free(tmp);
    free_str(&st->image_id);
}

/* --OPTION VALUE on the command line, KEY: VALUE in a spec. openstackclient's spellings
 * are aliases (hidden from the help when they only repeat ours). */
static const struct mk_uploader_option os_options[] = {
    {.name = "os-cloud",
     .arg = "NAME",
     .help = "the cloud in clouds.yaml (default: OS_CLOUD, else OS_*)"},
    {.name = "cloud", .arg = "NAME", .help = NULL}, /* the spec's spelling */
    {.name = "os-region-name", .arg = "R", .help = "the region (wins over OS_REGION_NAME)"},
    {.name = "name", .arg = "NAME", .help = "the image's name (default: the file's name)"},
    {.name = "disk-format",
     .arg = "F",
     .help = "raw or qcow2 (default: qcow2 when Glance takes it, converted on the fly)"},
    {.name = "visibility", .arg = "V", .help = "private (default), shared, community or public"},
    {.name = "public", .help = "--visibility public"},
    {.name = "private", .help = "--visibility private"},
    {.name = "shared", .help = "--visibility shared"},
    {.name = "community", .help = "--visibility community"},
    {.name = "property",
     .arg = "K=V",
     .help = "an image property; wins over the preset",
     .repeat = true},
    {.name = "tag", .arg = "T", .help = "an image tag", .repeat = true},
    {.name = "min-disk", .arg = "GB", .help = "the least root disk a flavor must have\n"
                                               "(default and minimum: the disk's size)"},
    {.name = "min_disk", .arg = "GB", .help = NULL}, /* Glance's spelling */
    {.name = "min-ram", .arg = "MIB", .help = "the least RAM a flavor must have"},
    {.name = "min_ram", .arg = "MIB", .help = NULL}, /* Glance's spelling */
    {.name = "protected", .help = "protect the image from deletion"},
    {.name = "preset",
     .arg = "P",
     .help = "solo5, hermit or none: device properties for the kernel"},
    {.name = "replace", .help = "replace an image of the same name (after the upload)"},
    {.name = "insecure",
     .help = "do not check TLS certificates and allow plain http:// endpoints off loopback "
             "(as the cloud's insecure: true)"},
    {0},
};

const struct mk_uploader mk_uploader_openstack = {
    .name = "openstack",
    .description = "an OpenStack Glance image (Keystone v3, clouds.yaml or OS_* variables)",
    .options = os_options,
    .formats = {MK_FORMAT_QCOW2, MK_FORMAT_RAW, 0},
    .create = os_create,
    .set_option = os_set_option,
    .choose_format = os_choose_format,
    .prepare = os_prepare,
    .write = os_write,
    .write_file = os_write_file,
    .finish = os_finish,
    .restart = os_restart,
    .abort = os_abort,
    .destroy = os_destroy,
};
