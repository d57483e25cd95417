/* upload.c: the driver behind mk_upload_*: runs an uploader's hooks in order and streams the
 * artefact (a file's bytes, or a built disk packed on the fly) into its write hook. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uploader.h"

#define READ_SIZE (1u << 20)

struct mk_upload {
    const struct mk_uploader *u;
    void *state;
    bool used;
    struct mk_buf result;
};

int mk_upload_new(struct mk_ctx *ctx, const char *uploader, struct mk_upload **ret)
{
    const struct mk_uploader *u = uploader ? mk_uploader_find(uploader) : NULL;
    struct mk_upload *up;
    int r;

    if (!u) {
        struct mk_buf known = MK_BUF_INIT;

        for (size_t i = 0; mk_uploaders[i]; i++)
            mk_buf_addf(&known, "%s%s", i ? ", " : "", mk_uploaders[i]->name);
        r = mk_set_error(ctx, MK_ENOTFOUND, "unknown uploader '%s' (known: %s; no executable "
                         "unikernel-mkimage-uploader-%s on PATH)", uploader ? uploader : "",
                         known.buf, uploader ? uploader : "NAME");
        mk_buf_release(&known);
        return r;
    }
    up = calloc(1, sizeof(*up));
    if (!up)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    up->u = u;
    mk_buf_init(&up->result);
    r = u->create_for ? u->create_for(ctx, u, &up->state) : u->create(ctx, &up->state);
    if (r < 0) {
        u->destroy(up->state);
        free(up);
        return r;
    }
    *ret = up;
    return MK_OK;
}

int mk_upload_set_option(struct mk_ctx *ctx, struct mk_upload *up, const char *key,
                         const char *value)
{
    while (*key == '-')
        key++;
    return up->u->set_option(ctx, up->state, key, value);
}

const char *mk_upload_result(const struct mk_upload *up)
{
    return up->result.buf;
}

void mk_upload_free(struct mk_upload *up)
{
    if (!up)
        return;
    up->u->destroy(up->state);
    mk_buf_release(&up->result);
    free(up);
}

static bool accepts(const struct mk_uploader *u, enum mk_format fmt)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(u->formats) && u->formats[i]; i++)
        if (u->formats[i] == fmt)
            return true;
    return false;
}

/* Lets the uploader clean up without losing the error that made us call it. */
static int do_abort(struct mk_ctx *ctx, struct mk_upload *up, int code)
{
    char saved[MK_ERRMSG_MAX];
    int saved_code = mk_errcode(ctx);

    snprintf(saved, sizeof(saved), "%s", mk_errmsg(ctx));
    up->u->abort(ctx, up->state);
    mk_set_error(ctx, saved_code ? saved_code : code, "%s", saved);
    return code;
}

struct stream {
    struct mk_upload *up;
    uint64_t done;
    uint64_t total;
};

static int stream_write(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    struct stream *s = opaque;
    int r = mk_check_cancel(ctx);

    if (r < 0)
        return r;
    r = s->up->u->write(ctx, s->up->state, buf, len);
    if (r < 0)
        return r;
    s->done += len;
    if (!s->up->u->reports_progress)
        mk_progress(ctx, "upload", s->done, s->total);
    return MK_OK;
}

static int finish(struct mk_ctx *ctx, struct mk_upload *up)
{
    int r;

    mk_buf_reset(&up->result);
    r = up->u->finish(ctx, up->state, &up->result);
    if (r < 0) {
        mk_buf_reset(&up->result);
        return do_abort(ctx, up, r);
    }
    return MK_OK;
}

int mk_upload_remote(struct mk_ctx *ctx, struct mk_upload *up)
{
    struct mk_upload_info info = {.format = up->u->formats[0], .remote = true};
    int r;

    if (up->used)
        return mk_set_error(ctx, MK_EINVAL, "%s: an upload object serves one upload",
                            up->u->name);
    if (!up->u->takes_remote)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "%s cannot make an image from data already "
                            "on the cloud: give the image file", up->u->name);
    up->used = true;
    r = up->u->prepare(ctx, up->state, &info);
    if (r < 0)
        return do_abort(ctx, up, r);
    return finish(ctx, up);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* Streams (disk) in (fmt) through the uploader's hooks. */
static int upload_disk(struct mk_ctx *ctx, struct mk_upload *up, struct mk_disk *disk,
                       const struct mk_pack_opts *opts, struct mk_upload_info *info)
{
    struct stream s = {.up = up};
    struct mk_sink sink = {.write = stream_write, .opaque = &s};
    int r;

    up->used = true;
    r = up->u->prepare(ctx, up->state, info);
    if (r < 0)
        return do_abort(ctx, up, r);
    r = mk_disk_write_stream(ctx, disk, info->format, opts, &sink);
    if (r < 0)
        return do_abort(ctx, up, r);
    return finish(ctx, up);
}

int mk_upload_disk(struct mk_ctx *ctx, struct mk_upload *up, struct mk_disk *disk,
                   const struct mk_pack_opts *opts, const char *source_name,
                   const char *source_id)
{
    struct mk_upload_info info = {
        .format = up->u->formats[0],
        .disk_size = mk_disk_size(disk),
        .source_name = source_name,
        .source_id = source_id,
    };
    enum mk_format want = info.format;
    int r;

    if (up->used)
        return mk_set_error(ctx, MK_EINVAL, "%s: an upload object serves one upload",
                            up->u->name);
    if (up->u->choose_format) {
        r = up->u->choose_format(ctx, up->state, &info, &want);
        if (r < 0)
            return r;
        info.format = want;
    }
    return upload_disk(ctx, up, disk, opts, &info);
}

static enum mk_format sniff(const uint8_t *head, size_t n)
{
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return MK_FORMAT_GCE;
    if (n >= 4 && !memcmp(head, "QFI\xfb", 4))
        return MK_FORMAT_QCOW2;
    return MK_FORMAT_RAW;
}

/* A raw disk has an MBR (the 0x55AA signature, which a GPT disk's protective MBR has too);
 * anything else would be uploaded as a disk that cannot boot. */
static bool looks_like_disk(const uint8_t *head, size_t n)
{
    return n >= 512 && head[510] == 0x55 && head[511] == 0xaa;
}

int mk_upload_file(struct mk_ctx *ctx, struct mk_upload *up, const char *path)
{
    struct mk_upload_info info = {.source_name = base_name(path), .source_path = path};
    struct stream s = {.up = up};
    struct mk_buf conv_id = MK_BUF_INIT;
    enum mk_format want;
    uint8_t head[512];
    char id[160];
    struct stat st;
    uint8_t *buf = NULL;
    ssize_t n;
    int fd, r;

    if (up->used)
        return mk_set_error(ctx, MK_EINVAL, "%s: an upload object serves one upload",
                            up->u->name);
    fd = mk_open_input(ctx, path, NULL);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return mk_set_errno(ctx, MK_EIO, errno, "cannot stat %s", path);
    }
    n = pread(fd, head, sizeof(head), 0);
    if (n < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot read %s", path);
        close(fd);
        return r;
    }
    info.format = sniff(head, (size_t)n);
    /* Checked here, before the uploader makes its first network request: bytes that are
     * no disk would otherwise cost a token and an upload session, then be packed into a
     * disk that cannot boot. */
    if (info.format == MK_FORMAT_RAW && !accepts(up->u, info.format) &&
        !looks_like_disk(head, (size_t)n)) {
        close(fd);
        return mk_set_error(ctx, MK_EFORMAT, n == 0 ? "%s is empty: not a disk image"
                            : "%s is not a disk image (no MBR or GPT partition table, not "
                              "qcow2, not gzip), nothing uploaded", path);
    }
    snprintf(id, sizeof(id), "file:%ju:%ju:%jd:%jd.%09ld", (uintmax_t)st.st_dev,
             (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec);
    info.source_id = id;
    info.stream_size = (uint64_t)st.st_size;
    if (info.format == MK_FORMAT_RAW)
        info.disk_size = (uint64_t)st.st_size;
    else if (info.format == MK_FORMAT_QCOW2 && n >= 32)
        info.disk_size = mk_get_be64(head + 24);
    want = info.format;
    if (up->u->choose_format) {
        r = up->u->choose_format(ctx, up->state, &info, &want);
        if (r < 0) {
            close(fd);
            return r;
        }
    } else if (!accepts(up->u, info.format)) {
        want = up->u->formats[0];
    }
    if (want != info.format) {
        /* Convert on the fly into what the cloud takes, with no temporary file. Our own
         * readers (qcow2, tar.gz) parse the file here, not isolated: see disk_open.c. */
        struct mk_disk *disk = NULL;

        close(fd);
        r = mk_disk_open(ctx, path, &disk);
        if (r < 0)
            return r;
        mk_buf_addf(&conv_id, "%s:as-%s", id, mk_format_name(want));
        info = (struct mk_upload_info){.format = want,
                                       .disk_size = mk_disk_size(disk),
                                       .source_name = info.source_name,
                                       .source_id = conv_id.buf};
        r = conv_id.buf ? upload_disk(ctx, up, disk, NULL, &info)
                        : mk_set_error(ctx, MK_ENOMEM, "out of memory");
        mk_buf_release(&conv_id);
        mk_disk_free(disk);
        return r;
    }
    up->used = true;
    s.total = info.stream_size;

    r = up->u->prepare(ctx, up->state, &info);
    if (r < 0) {
        close(fd);
        return do_abort(ctx, up, r);
    }
    if (up->u->write_file) {
        struct stat now;

        r = up->u->write_file(ctx, up->state, fd, info.stream_size);
        /* The uploader read the file at its own pace: it must not have changed meanwhile. */
        if (r == MK_OK && (fstat(fd, &now) < 0 || now.st_size != st.st_size ||
                           now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
                           now.st_mtim.tv_nsec != st.st_mtim.tv_nsec))
            r = mk_set_error(ctx, MK_EIO, "%s changed while it was read", path);
        if (r < 0) {
            close(fd);
            return do_abort(ctx, up, r);
        }
        r = finish(ctx, up); /* which may read (fd) again: the last piece */
        close(fd);
        return r;
    }
    buf = malloc(READ_SIZE);
    if (!buf) {
        close(fd);
        return do_abort(ctx, up, mk_set_error(ctx, MK_ENOMEM, "out of memory"));
    }
    for (;;) {
        n = read(fd, buf, READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot read %s", path);
            break;
        }
        if (n == 0)
            break;
        r = stream_write(ctx, &s, buf, (size_t)n);
        if (r < 0)
            break;
    }
    free(buf);
    close(fd);
    if (r < 0)
        return do_abort(ctx, up, r);
    if (s.done != info.stream_size)
        return do_abort(ctx, up, mk_set_error(ctx, MK_EIO, "%s changed while it was read",
                                              path));
    return finish(ctx, up);
}
