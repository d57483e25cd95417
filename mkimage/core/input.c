/* input.c: opening the files we read (images, kernels, specs, keys, clouds.yaml) so that a
 * FIFO, a device or a directory given by mistake or malice is refused at once instead of
 * blocking the open() or the first read() forever. */
#include <errno.h>
#include <fcntl.h>
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

/* -1 with errno on failure; (*mode) is the file's type when it was opened but is not a
 * regular file (errno EINVAL then). */
static int open_regular(const char *path, mode_t *mode)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), err;
    struct stat st = {.st_mode = S_IFREG}; /* a failed fstat() keeps its errno */

    *mode = 0;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        err = errno;
        if (!S_ISREG(st.st_mode)) {
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

    return open_regular(path, &mode);
}

int mk_open_input(struct mk_ctx *ctx, const char *path, const char *what)
{
    mode_t mode;
    int fd = open_regular(path, &mode);

    if (fd >= 0)
        return fd;
    if (mode)
        return mk_set_error(ctx, MK_EINVAL, "%s%s'%s' is %s, not a regular file",
                            what ? what : "", what ? " " : "", path, kind_of(mode));
    return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                        "cannot open %s%s'%s'", what ? what : "", what ? " " : "", path);
}
