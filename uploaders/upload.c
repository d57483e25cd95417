/* upload.c: the driver behind mk_upload_*: runs an uploader's hooks in order and streams the
 * artefact (a file's bytes, or a built disk packed on the fly) into its write hook. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
    struct mk_buf known = MK_BUF_INIT;
    int r;

    if (u)
        return mk_upload_new_for(ctx, u, ret);
    for (size_t i = 0; mk_uploaders[i]; i++)
        mk_buf_addf(&known, "%s%s", i ? ", " : "", mk_uploaders[i]->name);
    r = mk_set_error(ctx, MK_ENOTFOUND, "unknown uploader '%s' (known: %s; no executable "
                     "unikernel-mkimage-uploader-%s on PATH)", uploader ? uploader : "",
                     known.buf, uploader ? uploader : "NAME");
    mk_buf_release(&known);
    return r;
}

int mk_upload_new_for(struct mk_ctx *ctx, const struct mk_uploader *u, struct mk_upload **ret)
{
    struct mk_upload *up = calloc(1, sizeof(*up));
    int r;

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
    bool write_failed; /* the failure was the uploader's, not the source's */
};

static int stream_write(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    struct stream *s = opaque;
    int r = mk_check_cancel(ctx);

    if (r < 0)
        return r;
    r = s->up->u->write(ctx, s->up->state, buf, len);
    if (r < 0) {
        s->write_failed = true;
        return r;
    }
    s->done += len;
    if (!s->up->u->reports_progress)
        mk_progress(ctx, "upload", s->done, s->total);
    return MK_OK;
}

/* How many times an uploader's restart hook may have the whole stream sent again. */
#define MAX_RESENDS 2

/* One pass of the artefact's bytes, from the first, through the uploader's write hook;
 * (opaque) starts with the struct stream it writes through. */
typedef int (*pass_fn)(struct mk_ctx *ctx, void *opaque);

/* The bytes (when there is a pass) then finish(); both again from the first byte while the
 * uploader's restart hook says that fixes what failed in write() or finish(); abort() on a
 * failure that stays. */
static int send_and_finish(struct mk_ctx *ctx, struct mk_upload *up, pass_fn pass,
                           void *opaque)
{
    struct stream *s = opaque;
    int r;

    for (int resends = 0;; resends++) {
        if (s)
            s->write_failed = false;
        r = pass ? pass(ctx, opaque) : MK_OK;
        /* The source's failures (a read, a file changed) are none that sending again fixes. */
        if (r < 0 && s && !s->write_failed)
            break;
        if (r >= 0) {
            mk_buf_reset(&up->result);
            r = up->u->finish(ctx, up->state, &up->result);
            if (r >= 0)
                return MK_OK;
            mk_buf_reset(&up->result);
        }
        if (!pass || !up->u->restart || resends >= MAX_RESENDS || (ctx && ctx->cancelled))
            break;
        if ((r = up->u->restart(ctx, up->state)) < 0)
            break;
    }
    return do_abort(ctx, up, r);
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
    return send_and_finish(ctx, up, NULL, NULL);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

struct disk_pass {
    struct stream s; /* first: send_and_finish() reads it */
    struct mk_disk *disk;
    enum mk_format format;
    const struct mk_pack_opts *opts;
};

/* Each pass packs the disk anew, into the same bytes (packing is deterministic). */
static int disk_pass(struct mk_ctx *ctx, void *opaque)
{
    struct disk_pass *d = opaque;
    struct mk_sink sink = {.write = stream_write, .opaque = &d->s};

    d->s.done = 0;
    return mk_disk_write_stream(ctx, d->disk, d->format, d->opts, &sink);
}

/* Streams (disk) in (info->format) through the uploader's hooks. */
static int upload_disk(struct mk_ctx *ctx, struct mk_upload *up, struct mk_disk *disk,
                       const struct mk_pack_opts *opts, struct mk_upload_info *info)
{
    struct disk_pass d = {.s = {.up = up}, .disk = disk, .format = info->format, .opts = opts};
    int r;

    up->used = true;
    r = up->u->prepare(ctx, up->state, info);
    if (r < 0)
        return do_abort(ctx, up, r);
    return send_and_finish(ctx, up, disk_pass, &d);
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

struct file_pass {
    struct stream s; /* first: send_and_finish() reads it */
    int fd;
    const char *path;
    struct stat st; /* as it was when the upload began */
    uint64_t size;  /* its size (a block device's st_size is 0) */
    uint8_t *buf;
    bool again;
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int file_pass(struct mk_ctx *ctx, void *opaque)
{
    struct file_pass *f = opaque;
    struct stat now;
    ssize_t n;
    int r = MK_OK;

    if (f->again) {
        /* Sent again: the same bytes, or the checks made on them no longer hold. */
        if (fstat(f->fd, &now) < 0 || !same_file(&now, &f->st))
            return mk_set_error(ctx, MK_EIO, "%s changed since the upload began", f->path);
        if (lseek(f->fd, 0, SEEK_SET) < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read %s again", f->path);
    }
    f->again = true;
    f->s.done = 0;
    if (f->s.up->u->write_file) {
        r = f->s.up->u->write_file(ctx, f->s.up->state, f->fd, f->size);
        if (r < 0) {
            f->s.write_failed = true;
            return r;
        }
        /* The uploader read the file at its own pace: it must not have changed meanwhile. */
        if (fstat(f->fd, &now) < 0 || !same_file(&now, &f->st))
            return mk_set_error(ctx, MK_EIO, "%s changed while it was read", f->path);
        return MK_OK;
    }
    for (;;) {
        n = read(f->fd, f->buf, READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read %s", f->path);
        if (n == 0)
            break;
        r = stream_write(ctx, &f->s, f->buf, (size_t)n);
        if (r < 0)
            return r;
    }
    if (f->s.done != f->size)
        return mk_set_error(ctx, MK_EIO, "%s changed while it was read", f->path);
    return MK_OK;
}

int mk_upload_file(struct mk_ctx *ctx, struct mk_upload *up, const char *path)
{
    struct mk_upload_info info = {.source_name = base_name(path), .source_path = path};
    struct file_pass f = {.s = {.up = up}, .path = path};
    struct mk_buf conv_id = MK_BUF_INIT;
    enum mk_format want;
    uint8_t head[512];
    char id[160];
    struct stat st;
    uint64_t size;
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
    if ((r = mk_input_size(ctx, fd, path, &size)) < 0) {
        close(fd);
        return r;
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
    if (S_ISBLK(st.st_mode))
        /* Writes to a device change no time stamp we can see: nothing tells a re-run that
         * its bytes are the same, so an upload of a device is never resumed. */
        snprintf(id, sizeof(id), "device:%ju:%ju:%ld:%lld", (uintmax_t)st.st_rdev,
                 (uintmax_t)size, (long)getpid(), (long long)time(NULL));
    else
        snprintf(id, sizeof(id), "file:%ju:%ju:%jd:%jd.%09ld", (uintmax_t)st.st_dev,
                 (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
    info.source_id = id;
    info.stream_size = size;
    f.fd = fd;
    f.st = st;
    f.size = size;
    if (info.format == MK_FORMAT_RAW)
        info.disk_size = size;
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
    f.s.total = info.stream_size;
    r = up->u->prepare(ctx, up->state, &info);
    if (r < 0) {
        close(fd);
        return do_abort(ctx, up, r);
    }
    /* An uploader that reads the file itself needs no buffer of ours. */
    f.buf = up->u->write_file ? NULL : malloc(READ_SIZE);
    r = f.buf || up->u->write_file
            ? send_and_finish(ctx, up, file_pass, &f)
            : do_abort(ctx, up, mk_set_error(ctx, MK_ENOMEM, "out of memory"));
    free(f.buf);
    close(fd);
    return r;
}
