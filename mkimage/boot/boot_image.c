/* boot_image.c: the disk QEMU boots: a raw or qcow2 file as it is, a GCE archive unpacked
 * to a sparse temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_private.h"
#include "disk_private.h"

void mk_boot_image_release(struct mk_boot_image *img)
{
    if (img->tmp_dir) {
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/disk.raw", img->tmp_dir);

        if (n > 0 && (size_t)n < sizeof(path))
            unlink(path);
        rmdir(img->tmp_dir);
        close(img->tmp_lock);
    }
    free(img->drive_path);
    free(img->tmp_dir);
    *img = (struct mk_boot_image){0};
}

/* QEMU reads a GCE archive's disk only after it is unpacked: into a sparse temporary file,
 * so a 10 GiB disk costs only its data. The unpacking is our tar.gz reader, in our process
 * (disk_open.c says why); QEMU, a process of its own, parses the rest. */
static int unpack_targz(struct mk_ctx *ctx, const char *path, struct mk_boot_image *img)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_disk *disk = NULL;
    int r;

    r = mk_disk_open(ctx, path, &disk);
    if (r < 0)
        return r;
    if ((r = mk_make_temp(ctx, "mkimage-boot", true, &b, &img->tmp_lock)) < 0)
        goto out;
    img->tmp_dir = mk_buf_detach(&b, NULL);
    if (mk_buf_addf(&b, "%s/disk.raw", img->tmp_dir) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, b.buf);
    if (r < 0) {
        mk_error_prefix(ctx, "cannot unpack '%s'", path);
        goto out;
    }
    img->drive_path = mk_buf_detach(&b, NULL);
    img->format = "raw";
out:
    mk_buf_release(&b);
    mk_disk_free(disk);
    return r;
}

int mk_boot_image_prepare(struct mk_ctx *ctx, const char *path, struct mk_boot_image *img)
{
    unsigned char magic[4] = {0};
    uint64_t size;
    ssize_t n;
    int fd = mk_open_input(ctx, path, "image"), r;

    if (fd < 0)
        return fd;
    if ((r = mk_input_size(ctx, fd, path, &size)) < 0) {
        close(fd);
        return r;
    }
    n = read(fd, magic, sizeof(magic));
    close(fd);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read image '%s'", path);
    if (size < 512)
        return mk_set_error(ctx, MK_EFORMAT, "image '%s' is too small to boot (%llu bytes)",
                            path, (unsigned long long)size);
    if (magic[0] == 0x1f && magic[1] == 0x8b)
        return unpack_targz(ctx, path, img);
    img->format = !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
    img->drive_path = strdup(path);
    if (!img->drive_path)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

int mk_boot_disk_format(struct mk_ctx *ctx, const char *path, const char **ret)
{
    unsigned char magic[4] = {0};
    ssize_t n;
    int fd = mk_open_input(ctx, path, "disk");

    if (fd < 0)
        return fd;
    n = read(fd, magic, sizeof(magic));
    close(fd);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read disk '%s'", path);
    *ret = n == 4 && !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
    return MK_OK;
}
