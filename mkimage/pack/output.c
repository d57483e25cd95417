/* output.c: output files written under a temporary name and renamed when complete, and
 * the dispatch from a format to its writer. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack.h"

/* Our temporaries are ".NAME.mkimage-PID.XXXXXX", locked with flock() while written: one
 * that can be locked was left by a run that died (kill -9, power loss) and is removed. */
#define TMP_MARK ".mkimage-"

/* The process's umask, read without changing it (umask() would, for every thread). */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned mask = 022;

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return (mode_t)mask & 0777;
}

/* Whether (st) is a file this process has open: an input of the build or pack. A block
 * device is open here when it, or a device sharing its sectors, is. */
static bool is_open_here(const struct stat *st)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    bool found = false;

    while (d && !found && (e = readdir(d))) {
        struct stat fst;
        int fd = atoi(e->d_name);

        if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &fst) < 0)
            continue;
        if (S_ISBLK(st->st_mode))
            found = S_ISBLK(fst.st_mode) && mk_block_devices_overlap(fst.st_rdev, st->st_rdev);
        else
            found = fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
    }
    if (d)
        closedir(d);
    return found;
}

static const char *kind_of(mode_t mode)
{
    return S_ISLNK(mode) ? "a symbolic link" : S_ISCHR(mode) ? "a character device"
           : S_ISBLK(mode) ? "a block device" : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket" : "a directory";
}

int mk_outfile_open(struct mk_ctx *ctx, struct mk_outfile *of, const char *path)
{
    char *dir_copy = NULL, *base_copy = NULL;
    struct mk_buf tmp = MK_BUF_INIT;
    int r = MK_OK;

    memset(of, 0, sizeof(*of));
    of->fd = -1;
    if (!*path)
        return mk_set_error(ctx, MK_EINVAL, "the output file name is empty");
    if (!(of->path = strdup(path)) || !(dir_copy = strdup(path)) ||
        !(base_copy = strdup(path))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    struct stat st, target;
    /* rename() would replace a device node or a symlink (as root, -o /dev/null made
     * /dev/null a 1 GiB file): only a regular file is ever replaced. A block device the
     * caller allowed, named directly or through a link (/dev/disk/by-id/..., /dev/VG/LV), is
     * written in place instead. */
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        bool blk = stat(path, &target) == 0 && S_ISBLK(target.st_mode);

        if (blk && mk_device_allowed(ctx, &target)) {
            if (is_open_here(&target))
                r = mk_set_error(ctx, MK_EINVAL, "output '%s' is one of the inputs (or shares "
                                 "its device); not overwriting it", path);
            else
                r = mk_outfile_open_device(ctx, of, path);
            goto out;
        }
        r = mk_set_error(ctx, MK_EINVAL, "output '%s' is %s; only a regular file is replaced%s",
                         path, blk ? "a block device" : kind_of(st.st_mode),
                         blk ? " (a block device is written in place only when allowed)" : "");
        goto out;
    }
    if (lstat(path, &st) == 0 && is_open_here(&st)) {
        r = mk_set_error(ctx, MK_EINVAL, "output '%s' is one of the inputs; not overwriting "
                         "it", path);
        goto out;
    }
    const char *dir = dirname(dir_copy), *base = basename(base_copy);
    struct mk_buf stale = MK_BUF_INIT;
    if (mk_buf_addf(&stale, ".%s" TMP_MARK, base) == 0)
        mk_remove_stale_temps(dir, stale.buf, false);
    mk_buf_release(&stale);
    /* Same folder as the final name, so that rename() is atomic. */
    if (mk_buf_addf(&tmp, "%s/.%s" TMP_MARK "%ld.XXXXXX", dir, base, (long)getpid()) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    of->fd = mkostemp(tmp.buf, O_CLOEXEC);
    if (of->fd < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot create output '%s'", path);
        goto out;
    }
    flock(of->fd, LOCK_EX | LOCK_NB); /* ours while we write it: see mk_remove_stale_temps */
    /* mkostemp() makes it 0600; an output is made like any file, as the umask says. */
    fchmod(of->fd, 0666 & ~current_umask());
    of->tmp_path = mk_buf_detach(&tmp, NULL);
out:
    free(dir_copy);
    free(base_copy);
    mk_buf_release(&tmp);
    if (r < 0) {
        free(of->path);
        of->path = NULL;
    }
    return r;
}

int mk_outfile_commit(struct mk_ctx *ctx, struct mk_outfile *of)
{
    if (of->device) {
        int r = MK_OK;

        if (fsync(of->fd) < 0)
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot write block device '%s'", of->path);
        else
            ioctl(of->fd, BLKRRPART); /* the kernel sees the new partitions (a disk only) */
        if (close(of->fd) < 0 && r == MK_OK)
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot write block device '%s'", of->path);
        of->fd = -1;
        free(of->path);
        of->path = NULL;
        return r;
    }
    if (fsync(of->fd) < 0 && errno != EINVAL) {
        int e = errno;
        mk_outfile_abort(of);
        return mk_set_errno(ctx, MK_EIO, e, "cannot write '%s'", of->path);
    }
    if (close(of->fd) < 0) {
        int e = errno;
        of->fd = -1;
        mk_outfile_abort(of);
        return mk_set_errno(ctx, MK_EIO, e, "cannot write '%s'", of->path);
    }
    of->fd = -1;
    if (rename(of->tmp_path, of->path) < 0) {
        int e = errno;
        mk_outfile_abort(of);
        return mk_set_errno(ctx, MK_EIO, e, "cannot rename to '%s'", of->path);
    }
    free(of->tmp_path);
    free(of->path);
    of->tmp_path = of->path = NULL;
    return MK_OK;
}

void mk_outfile_abort(struct mk_outfile *of)
{
    if (of->fd >= 0)
        close(of->fd);
    if (of->tmp_path)
        unlink(of->tmp_path);
    free(of->tmp_path);
    free(of->path);
    of->tmp_path = of->path = NULL;
    of->fd = -1;
}

int mk_fd_sink_write(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    int fd = *(int *)opaque;
    const char *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, errno == ENOSPC ? MK_ENOSPC : MK_EIO, errno,
                                "cannot write the output");
        p += n;
        len -= (size_t)n;
    }
    return MK_OK;
}

#define COPY_PIECE (1u << 20)

/* Writes the data extents at their offsets and sets the size: holes stay holes. */
int mk_write_raw_fd(struct mk_ctx *ctx, struct mk_disk *disk, int fd)
{
    struct mk_extent *ext = NULL;
    size_t n;
    uint8_t *buf = NULL;
    int r;

    if (ftruncate(fd, (off_t)disk->size) < 0)
        return mk_set_errno(ctx, errno == EFBIG ? MK_ENOSPC : MK_EIO, errno,
                            "cannot size the output to %llu bytes",
                            (unsigned long long)disk->size);
    r = mk_disk_extents(ctx, disk, &ext, &n);
    if (r < 0)
        return r;
    buf = malloc(COPY_PIECE);
    if (!buf) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && r == MK_OK; i++) {
        uint64_t off = ext[i].off, left = ext[i].len;
        while (left && r == MK_OK) {
            size_t piece = (size_t)MK_MIN(left, COPY_PIECE);
            int src;
            uint64_t src_off;
            if ((r = mk_check_cancel(ctx)) < 0)
                break;
            if (disk->ops->source_fd && disk->ops->source_fd(disk, off, piece, &src, &src_off)) {
                loff_t in = (loff_t)src_off, o = (loff_t)off;
                ssize_t c = copy_file_range(src, &in, fd, &o, piece, 0);
                if (c > 0) {
                    off += (uint64_t)c;
                    left -= (uint64_t)c;
                    continue;
                }
                /* Not supported across these filesystems: copy through memory. */
            }
            r = mk_disk_read(ctx, disk, off, buf, piece);
            if (r < 0)
                break;
            for (size_t done = 0; done < piece;) {
                ssize_t w = pwrite(fd, buf + done, piece - done, (off_t)(off + done));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0) {
                    r = mk_set_errno(ctx, errno == ENOSPC ? MK_ENOSPC : MK_EIO, errno,
                                     "cannot write the output");
                    break;
                }
                done += (size_t)w;
            }
            off += piece;
            left -= piece;
        }
    }
out:
    free(buf);
    free(ext);
    return r;
}

/* Every byte, holes included, for consumers that cannot seek (pipes, HTTP bodies). */
static int write_raw_stream(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_sink *sink)
{
    uint8_t *buf = malloc(COPY_PIECE);
    int r = MK_OK;

    if (!buf)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (uint64_t off = 0; off < disk->size && r == MK_OK; off += COPY_PIECE) {
        size_t piece = (size_t)MK_MIN(disk->size - off, COPY_PIECE);
        if ((r = mk_check_cancel(ctx)) < 0 || (r = mk_disk_read(ctx, disk, off, buf, piece)) < 0)
            break;
        r = sink->write(ctx, sink->opaque, buf, piece);
        mk_progress(ctx, "write", off + piece, disk->size);
    }
    free(buf);
    return r;
}

int mk_disk_write_stream(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                         const struct mk_pack_opts *opts, struct mk_sink *sink)
{
    static const struct mk_pack_opts defaults;

    if (!opts)
        opts = &defaults;
    switch (fmt) {
    case MK_FORMAT_RAW:
        return write_raw_stream(ctx, disk, sink);
    case MK_FORMAT_GCE:
        return mk_write_gce(ctx, disk, opts, sink);
    case MK_FORMAT_QCOW2:
        return mk_write_qcow2(ctx, disk, sink);
    }
    return mk_set_error(ctx, MK_EINVAL, "unknown output format");
}

/* An image onto a block device: raw, fitting, in place. What a failure leaves is said. */
static int write_device(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                        struct mk_outfile *of)
{
    int r;

    if (fmt != MK_FORMAT_RAW)
        r = mk_set_error(ctx, MK_EINVAL, "'%s' is a block device: a disk is written onto it "
                         "raw, not as %s (-f raw)", of->path, mk_format_name(fmt));
    else if (disk->size > of->device_size)
        r = mk_set_error(ctx, MK_ENOSPC, "the disk (%" PRIu64 " bytes, %" PRIu64 " MiB) does "
                         "not fit on block device '%s' (%" PRIu64 " bytes, %" PRIu64 " MiB); "
                         "nothing was written", disk->size, disk->size >> 20, of->path,
                         of->device_size, of->device_size >> 20);
    else if ((r = mk_write_raw_device(ctx, disk, of->fd)) < 0)
        mk_error_prefix(ctx, "%s (the device now holds part of the image)", of->path);
    if (r < 0) {
        mk_outfile_abort(of);
        return r;
    }
    return mk_outfile_commit(ctx, of);
}

int mk_disk_write_file(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                       const struct mk_pack_opts *opts, const char *path)
{
    struct mk_outfile of;
    int r = mk_outfile_open(ctx, &of, path);

    if (r < 0)
        return r;
    if (of.device)
        return write_device(ctx, disk, fmt, &of);
    if (fmt == MK_FORMAT_RAW) {
        r = mk_write_raw_fd(ctx, disk, of.fd);
    } else {
        struct mk_sink sink = {.write = mk_fd_sink_write, .opaque = &of.fd};
        r = mk_disk_write_stream(ctx, disk, fmt, opts, &sink);
    }
    if (r < 0) {
        mk_outfile_abort(&of);
        return mk_error_prefix(ctx, "%s", path);
    }
    return mk_outfile_commit(ctx, &of);
}
