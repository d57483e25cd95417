/* disk_open.c: opening an existing image, its format told by its first bytes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "disk_private.h"

int mk_disk_open(struct mk_ctx *ctx, const char *path, struct mk_disk **ret)
{
    unsigned char magic[4] = {0};
    int fd = mk_open_input(ctx, path, NULL);
    ssize_t n;

    if (fd < 0)
        return fd;
    n = read(fd, magic, sizeof(magic));
    close(fd);
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        return mk_disk_open_targz(ctx, path, NULL, ret);
    if (n == 4 && !memcmp(magic, "QFI\xfb", 4))
        return mk_disk_open_qcow2(ctx, path, ret);
    return mk_disk_open_raw(ctx, path, ret);
}
