/* tmpfile.c: scratch files and folders under $TMPDIR, for tools that need a path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mk_private.h"

int mk_make_temp(struct mk_ctx *ctx, const char *prefix, bool folder, struct mk_buf *path,
                 int *ret_fd)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    mk_buf_reset(path);
    if (mk_buf_addf(path, "%s/%s.XXXXXX", dir, prefix) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (folder) {
        if (!mkdtemp(path->buf))
            return mk_set_errno(ctx, MK_EIO, errno, "cannot create a temporary folder in '%s'",
                                dir);
        return MK_OK;
    }
    fd = mkostemp(path->buf, O_CLOEXEC);
    if (fd < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot create a temporary file in '%s'", dir);
    if (ret_fd)
        *ret_fd = fd;
    else
        close(fd);
    return MK_OK;
}
