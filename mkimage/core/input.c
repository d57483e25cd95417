/* input.c: opening the files we read (images, kernels, specs, keys, clouds.yaml) so that a
 * FIFO, a device or a directory given by mistake or malice is refused at once instead of
 * blocking the open() or the first read() forever; and the block devices a caller allowed
 * as images (mk_ctx_allow_device); and reading a file while it is sent (mk_pread_some). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mk_private.h"

static const char *kind_of(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    default:
        return "of an unknown type";
    }
}

int mk_ctx_allow_device(struct mk_ctx *ctx, const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                            "cannot use device '%s'", path);
    if (!S_ISBLK(st.st_mode))
        return mk_set_error(ctx, MK_EINVAL, "'%s' is not a block device", path);
    for (size_t i = 0; i < ctx->n_devices; i++)
        if (ctx->devices[i] == st.st_rdev)
            return MK_OK;
    if (ctx->n_devices == MK_ARRAY_SIZE(ctx->devices))
        return mk_set_error(ctx, MK_EINVAL, "too many block devices allowed");
    ctx->devices[ctx->n_devices++] = st.st_rdev;
    return MK_OK;
}

bool mk_device_allowed(const struct mk_ctx *ctx, const struct stat *st)
{
    for (size_t i = 0; ctx && S_ISBLK(st->st_mode) && i < ctx->n_devices; i++)
        if (ctx->devices[i] == st->st_rdev)
            return true;
    return false;
}

/* -1 with errno on failure; (*mode) is the file's type when it was opened but is not a
 * regular file or a block device (ctx) allows (errno EINVAL then). */
static int open_regular(const struct mk_ctx *ctx, const char *path, mode_t *mode)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), err;
    struct stat st = {.st_mode = S_IFREG}; /* a failed fstat() keeps its errno */
    bool ok;

    *mode = 0;
    if (fd < 0)
        return -1;
    ok = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || mk_device_allowed(ctx, &st));
    if (!ok || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        err = errno;
        if (!S_ISREG(st.st_mode) && !mk_device_allowed(ctx, &st)) {
            *mode = st.st_mode;
            err = EINVAL;
        }
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int mk_open_regular(const char *path)
{
    mode_t mode;

    return open_regular(NULL, path, &mode);
}

int mk_open_input(struct mk_ctx *ctx, const char *path, const char *what)
{
    mode_t mode;
    int fd = open_regular(ctx, path, &mode);

    if (fd >= 0)
        return fd;
    if (mode)
        return mk_set_error(ctx, MK_EINVAL, "%s%s'%s' is %s, not a regular file",
                            what ? what : "", what ? " " : "", path, kind_of(mode));
    return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                        "cannot open %s%s'%s'", what ? what : "", what ? " " : "", path);
}

int mk_input_size(struct mk_ctx *ctx, int fd, const char *path, uint64_t *ret)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot stat '%s'", path);
    if (!S_ISBLK(st.st_mode)) {
        *ret = (uint64_t)st.st_size;
        return MK_OK;
    }
    /* A block device's st_size is 0: its capacity comes from the kernel. */
    if (ioctl(fd, BLKGETSIZE64, ret) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot get the size of block device '%s'",
                            path);
    return MK_OK;
}

int mk_pread_some(struct mk_ctx *ctx, int fd, void *buf, size_t len, uint64_t off,
                  const char *what, size_t *ret_n)
{
    ssize_t n;

    do
        n = pread(fd, buf, len, (off_t)off);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read %s", what);
    if (n == 0 && len)
        return mk_set_error(ctx, MK_EIO, "%s shrank while it was read", what);
    *ret_n = (size_t)n;
    return MK_OK;
}
