/* disk_kind.c: what an artefact's bytes say it is, before anything is sent. A cloud that is
 * handed a VMDK, a VHD or a qcow2 overlay as if it were a raw disk makes an image that
 * cannot boot; the file's name is never taken as evidence. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uploader.h"

static ssize_t read_at(int fd, uint8_t *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* A foreign image format recognised by its magic, or NULL. */
static const char *foreign_format(const uint8_t *head, size_t n, const uint8_t *tail,
                                  size_t tn)
{
    static const uint8_t vdi_magic[4] = {0x7f, 0x10, 0xda, 0xbe};

    if ((n >= 4 && (!memcmp(head, "KDMV", 4) || !memcmp(head, "COWD", 4))) ||
        (n >= 21 && !memcmp(head, "# Disk DescriptorFile", 21)))
        return "VMDK";
    if (n >= 8 && !memcmp(head, "vhdxfile", 8))
        return "VHDX";
    /* A dynamic VHD starts with a copy of its footer; a fixed one only ends with it. */
    if ((n >= 8 && !memcmp(head, "conectix", 8)) || (tn >= 8 && !memcmp(tail, "conectix", 8)))
        return "VHD";
    if (n >= 68 && !memcmp(head + 64, vdi_magic, 4))
        return "VDI";
    return NULL;
}

/* Only magic numbers at fixed offsets of two fixed-size buffers are compared here: nothing
 * is followed or allocated by what the bytes say, so it runs in our process. */
int mk_upload_check_file(struct mk_ctx *ctx, const char *path)
{
    uint8_t head[1024], tail[512];
    ssize_t n, tn = 0;
    const char *foreign;
    uint64_t size;
    int fd = mk_open_input(ctx, path, NULL), r; /* a FIFO is refused, not waited on */

    if (fd < 0)
        return fd;
    if ((r = mk_input_size(ctx, fd, path, &size)) < 0) {
        close(fd);
        return r;
    }
    n = read_at(fd, head, sizeof(head), 0);
    if (n >= 0 && size >= sizeof(tail))
        tn = read_at(fd, tail, sizeof(tail), (off_t)(size - sizeof(tail)));
    close(fd);
    if (n < 0 || tn < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read %s", path);
    if (n == 0)
        return mk_set_error(ctx, MK_EFORMAT, "%s is empty", path);
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return MK_OK; /* a GCE archive: its reader checks it */
    if (n >= 4 && !memcmp(head, "QFI\xfb", 4)) {
        if (n >= 16 && mk_get_be64(head + 8))
            return mk_set_error(ctx, MK_EFORMAT, "%s is a qcow2 image with a backing file, "
                                "which a cloud cannot use (flatten it: qemu-img convert -O "
                                "qcow2 %s OUT)", path, path);
        return MK_OK;
    }
    if ((foreign = foreign_format(head, (size_t)n, tail, (size_t)tn)))
        return mk_set_error(ctx, MK_EFORMAT, "%s is a %s image, which would not boot as a "
                            "raw disk (convert it: qemu-img convert -O qcow2 %s OUT)", path,
                            foreign, path);
    if ((n >= 512 && head[510] == 0x55 && head[511] == 0xaa) ||
        (n >= 520 && !memcmp(head + 512, "EFI PART", 8)))
        return MK_OK;
    return mk_set_error(ctx, MK_EFORMAT, "%s is not a disk image: no MBR or GPT partition "
                        "table, and no image format known by its bytes", path);
}
