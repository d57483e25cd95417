/* output_device.c: an image written onto a block device the caller allowed
 * (mk_ctx_allow_device): in place, as dd would, since a device cannot be replaced by a
 * rename; never resized; refused while something holds it (a mounted partition, LVM, RAID,
 * swap) or when it is smaller than the image. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pack.h"

#define PIECE (1u << 20)
/* Written data is pushed to the device a window at a time, waiting for the window before
 * it: dirty memory stays bounded, progress shows what reached the device, and a Ctrl-C is
 * not followed by minutes of flushing. */
#define WINDOW (32u << 20)
/* Zeroing is asked of the device a chunk at a time, so that cancellation is seen. */
#define ZERO_CHUNK (64u << 20)

/* The device's folder in sysfs (/sys/devices/.../block/sda[/sda1]): a partition's lies
 * inside its disk's. NULL when unknown. */
static char *sysfs_dir(dev_t dev)
{
    char link[64];

    snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(dev), minor(dev));
    return realpath(link, NULL);
}

static bool nested(const char *inner, const char *outer)
{
    size_t len = strlen(outer);

    return !strncmp(inner, outer, len) && (inner[len] == '/' || !inner[len]);
}

bool mk_block_devices_overlap(dev_t a, dev_t b)
{
    char *da, *db;
    bool overlap;

    if (a == b)
        return true;
    da = sysfs_dir(a);
    db = sysfs_dir(b);
    overlap = da && db && (nested(da, db) || nested(db, da));
    free(da);
    free(db);
    return overlap;
}

int mk_outfile_open_device(struct mk_ctx *ctx, struct mk_outfile *of, const char *path)
{
    int r;

    /* O_EXCL on a block device claims it: EBUSY while a filesystem is mounted on it or on
     * one of its partitions, or LVM, RAID or swap holds it. */
    of->fd = open(path, O_WRONLY | O_EXCL | O_CLOEXEC | O_NOCTTY);
    if (of->fd < 0)
        return mk_set_errno(ctx, errno == EBUSY ? MK_EEXIST : MK_EIO, errno,
                            errno == EBUSY ? "block device '%s' is in use (mounted, or held "
                                             "by LVM, RAID or swap); nothing was written"
                                           : "cannot open block device '%s' to write it",
                            path);
    if ((r = mk_input_size(ctx, of->fd, path, &of->device_size)) < 0) {
        close(of->fd);
        of->fd = -1;
        return r;
    }
    of->device = true;
    return MK_OK;
}

/* Starts writing back [from, to) and waits for what was started before it. */
static int push_window(struct mk_ctx *ctx, int fd, uint64_t *synced, uint64_t *started,
                       uint64_t to)
{
    if (to > *started &&
        sync_file_range(fd, (off_t)*started, (off_t)(to - *started),
                        SYNC_FILE_RANGE_WRITE) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot write the device");
    if (*started > *synced &&
        sync_file_range(fd, (off_t)*synced, (off_t)(*started - *synced),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot write the device");
    *synced = *started;
    *started = to;
    return MK_OK;
}

static int write_all(struct mk_ctx *ctx, int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(fd, buf + done, len - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return mk_set_errno(ctx, errno == ENOSPC ? MK_ENOSPC : MK_EIO, errno,
                                "cannot write the device");
        done += (size_t)w;
    }
    return MK_OK;
}

struct device_writer {
    struct mk_ctx *ctx;
    struct mk_disk *disk;
    int fd;
    uint8_t *buf;
    uint64_t done, synced, started; /* bytes handled; written back; being written back */
};

static int progress(struct device_writer *w, uint64_t len, uint64_t end)
{
    w->done += len;
    mk_progress(w->ctx, "write", w->done, w->disk->size);
    if (end - w->started >= WINDOW || end == w->disk->size)
        return push_window(w->ctx, w->fd, &w->synced, &w->started, end);
    return MK_OK;
}

/* The image's holes must read as zeros on the device too (what was there before is not
 * the image's): BLKZEROOUT lets the device do it (a thin volume or an SSD unmaps), with
 * plain writes of zeros where it cannot, or for a piece that is not whole sectors. */
static int zero_range(struct device_writer *w, uint64_t off, uint64_t len)
{
    bool ioctl_works = true;
    int r = MK_OK;

    while (len && r == MK_OK) {
        /* Whole sectors for the ioctl; a piece up to the next sector boundary before. */
        uint64_t piece = off % 512    ? MK_MIN(len, 512 - off % 512)
                         : len >= 512 ? MK_MIN(len, ZERO_CHUNK) / 512 * 512
                                      : len;
        uint64_t range[2] = {off, piece};

        if ((r = mk_check_cancel(w->ctx)) < 0)
            break;
        if (ioctl_works && piece % 512 == 0 && ioctl(w->fd, BLKZEROOUT, range) == 0) {
            r = progress(w, piece, off + piece);
        } else {
            ioctl_works = ioctl_works && piece % 512; /* it failed: write zeros from now */
            piece = MK_MIN(piece, PIECE);
            memset(w->buf, 0, (size_t)piece);
            if ((r = write_all(w->ctx, w->fd, w->buf, (size_t)piece, off)) == MK_OK)
                r = progress(w, piece, off + piece);
        }
        off += piece;
        len -= piece;
    }
    return r;
}

static int copy_range(struct device_writer *w, uint64_t off, uint64_t len)
{
    int r = MK_OK;

    while (len && r == MK_OK) {
        size_t piece = (size_t)MK_MIN(len, PIECE);

        if ((r = mk_check_cancel(w->ctx)) < 0 ||
            (r = mk_disk_read(w->ctx, w->disk, off, w->buf, piece)) < 0 ||
            (r = write_all(w->ctx, w->fd, w->buf, piece, off)) < 0)
            break;
        r = progress(w, piece, off + piece);
        off += piece;
        len -= piece;
    }
    return r;
}

int mk_write_raw_device(struct mk_ctx *ctx, struct mk_disk *disk, int fd)
{
    struct device_writer w = {.ctx = ctx, .disk = disk, .fd = fd};
    struct mk_extent *ext = NULL;
    uint64_t pos = 0;
    size_t n;
    int r = mk_disk_extents(ctx, disk, &ext, &n);

    if (r < 0)
        return r;
    if (!(w.buf = malloc(PIECE))) {
        free(ext);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i <= n && r == MK_OK; i++) {
        uint64_t start = i < n ? MK_MIN(ext[i].off, disk->size) : disk->size;
        uint64_t end = i < n ? MK_MIN(ext[i].off + ext[i].len, disk->size) : disk->size;

        if (start > pos)
            r = zero_range(&w, pos, start - pos);
        if (r == MK_OK && end > MK_MAX(start, pos))
            r = copy_range(&w, MK_MAX(start, pos), end - MK_MAX(start, pos));
        pos = MK_MAX(pos, end);
    }
    free(w.buf);
    free(ext);
    return r;
}
