/* disk_raw.c: a raw image file as a read-only disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_private.h"

struct raw_disk {
    struct mk_disk disk;
    int fd;
    char *path;
};

static int raw_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf,
                    size_t len)
{
    struct raw_disk *d = (struct raw_disk *)disk;
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(d->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", d->path);
        if (n == 0)
            return mk_set_error(ctx, MK_EIO, "'%s' ended early", d->path);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return MK_OK;
}

static int raw_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                       size_t *ret_n)
{
    struct raw_disk *d = (struct raw_disk *)disk;
    struct mk_extent *e = NULL;
    size_t n = 0, alloc = 0;
    off_t pos = 0, end = (off_t)disk->size;

    while (pos < end) {
        int r = mk_check_cancel(ctx); /* a fragmented file has millions of extents */
        if (r < 0) {
            free(e);
            return r;
        }
        off_t data = lseek(d->fd, pos, SEEK_DATA), hole;
        if (data < 0 && errno == ENXIO)
            break;
        if (data < 0) {
            /* No SEEK_DATA on this filesystem: the whole file is data. */
            data = pos;
            hole = end;
        } else {
            hole = lseek(d->fd, data, SEEK_HOLE);
            if (hole < 0 || hole > end)
                hole = end;
        }
        /* Sector-align outwards, as GNU tar does: formats count in sectors. */
        uint64_t a = (uint64_t)data / MK_SECTOR * MK_SECTOR;
        uint64_t b = MK_MIN(((uint64_t)hole + MK_SECTOR - 1) / MK_SECTOR * MK_SECTOR,
                            disk->size);
        if (n && e[n - 1].off + e[n - 1].len >= a) {
            e[n - 1].len = b - e[n - 1].off;
        } else {
            if (MK_GROW(e, n + 1, alloc) < 0) {
                free(e);
                return mk_set_error(ctx, MK_ENOMEM, "out of memory");
            }
            e[n].off = a;
            e[n].len = b - a;
            n++;
        }
        pos = hole;
    }
    *ret = e ? e : malloc(sizeof(*e));
    if (!*ret)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *ret_n = n;
    return MK_OK;
}

static int raw_source_fd(struct mk_disk *disk, uint64_t off, uint64_t len, int *ret_fd,
                         uint64_t *ret_fd_off)
{
    struct raw_disk *d = (struct raw_disk *)disk;

    (void)len;
    *ret_fd = d->fd;
    *ret_fd_off = off;
    return 1;
}

static void raw_free(struct mk_disk *disk)
{
    struct raw_disk *d = (struct raw_disk *)disk;

    close(d->fd);
    free(d->path);
    free(d);
}

static const struct mk_disk_ops raw_ops = {
    .name = "raw",
    .read = raw_read,
    .extents = raw_extents,
    .source_fd = raw_source_fd,
    .free = raw_free,
};

int mk_disk_open_raw(struct mk_ctx *ctx, const char *path, struct mk_disk **ret)
{
    int fd = mk_open_input(ctx, path, NULL);

    return fd < 0 ? fd : mk_disk_open_raw_fd(ctx, fd, path, ret);
}

int mk_disk_open_raw_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_disk **ret)
{
    struct raw_disk *d;
    uint64_t size;
    int r;

    if ((r = mk_input_size(ctx, fd, name, &size)) < 0) {
        close(fd);
        return r;
    }
    d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(name))) {
        free(d);
        close(fd);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    d->fd = fd;
    d->disk.ops = &raw_ops;
    d->disk.size = size;
    d->disk.source_format = MK_FORMAT_RAW;
    *ret = &d->disk;
    return MK_OK;
}
