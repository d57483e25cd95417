/* disk_open.c: opening an existing image, its format told by its first bytes.
 *
 * Our readers (raw, qcow2, the GCE tar.gz, the MBR) run in the caller's process, whoever
 * made the image (pack, push's conversions, boot's unpacking): they are small, they bound
 * their work to what the file holds (qcow2's tables are checked whole and each cluster is
 * used once; the tar.gz is one streaming pass through zlib), and each has a fuzz target
 * (tests/fuzz: fuzz_qcow2, fuzz_targz, fuzz_inspect). libext2fs, which is none of these,
 * reads an image we did not build only in an isolated child (inspect, mk_run_isolated). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "disk_private.h"

int mk_disk_open(struct mk_ctx *ctx, const char *path, struct mk_disk **ret)
{
    int fd = mk_open_input(ctx, path, NULL);

    return fd < 0 ? fd : mk_disk_open_fd(ctx, fd, path, NULL, ret);
}

int mk_disk_open_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_buf *problems,
                    struct mk_disk **ret)
{
    unsigned char magic[4] = {0};
    ssize_t n = pread(fd, magic, sizeof(magic), 0);

    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        return mk_disk_open_targz_fd(ctx, fd, name, problems, ret);
    if (n == 4 && !memcmp(magic, "QFI\xfb", 4))
        return mk_disk_open_qcow2_fd(ctx, fd, name, ret);
    return mk_disk_open_raw_fd(ctx, fd, name, ret);
}
