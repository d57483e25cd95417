/* kernel_file.c: reading a whole kernel, gzip-compressed or not. Debian ships Xen as xen.gz;
 * GRUB's image loads it only with its gzio module, so the build stores the decompressed
 * kernel instead and checks those bytes. zlib does the work. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "multiboot.h"

#define KERNEL_MAX (256u << 20)
#define CHUNK (256u << 10)

static int read_all(struct mk_ctx *ctx, int fd, const char *path, struct mk_buf *out)
{
    char chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read kernel '%s'", path);
        if (n == 0)
            return MK_OK;
        if (mk_check_cancel(ctx) < 0)
            return MK_ECANCELED;
        if (out->len + (size_t)n > KERNEL_MAX)
            return mk_set_error(ctx, MK_EFORMAT, "kernel '%s' is larger than 256 MiB", path);
        if (mk_buf_add(out, chunk, (size_t)n) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory reading '%s'", path);
    }
}

/* Inflates (in) (a gzip stream, its CRC and length checked by zlib) into (out). */
static int gunzip(struct mk_ctx *ctx, const char *path, const struct mk_buf *in,
                  struct mk_buf *out)
{
    z_stream zs = {0};
    int zr = Z_OK, r = MK_OK;

    /* 15 + 16: a gzip wrapper. */
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory decompressing '%s'", path);
    zs.next_in = (Bytef *)in->buf;
    zs.avail_in = (uInt)in->len;
    while (zr != Z_STREAM_END) {
        if ((r = mk_check_cancel(ctx)) < 0)
            break;
        if (out->len + CHUNK > KERNEL_MAX + (size_t)CHUNK) {
            r = mk_set_error(ctx, MK_EFORMAT, "'%s': decompresses to more than 256 MiB", path);
            break;
        }
        if (mk_buf_grow(out, CHUNK) < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory decompressing '%s'", path);
            break;
        }
        zs.next_out = (Bytef *)out->buf + out->len;
        zs.avail_out = CHUNK;
        zr = inflate(&zs, Z_NO_FLUSH);
        out->len += CHUNK - zs.avail_out;
        out->buf[out->len] = '\0';
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) {
            r = mk_set_error(ctx, MK_EFORMAT, "'%s': gzip data are %s", path,
                             zr == Z_OK || zr == Z_BUF_ERROR ? "truncated" : "corrupt");
            break;
        }
    }
    if (r == MK_OK && out->len > KERNEL_MAX)
        r = mk_set_error(ctx, MK_EFORMAT, "'%s': decompresses to more than 256 MiB", path);
    inflateEnd(&zs);
    return r;
}

int mk_kernel_read(struct mk_ctx *ctx, const char *path, struct mk_buf *ret, int *gzip)
{
    struct mk_buf raw = MK_BUF_INIT;
    int fd = mk_open_input(ctx, path, "kernel"), r;

    if (fd < 0)
        return fd;
    r = read_all(ctx, fd, path, &raw);
    close(fd);
    if (r == MK_OK && raw.len >= 2 && (uint8_t)raw.buf[0] == 0x1f && (uint8_t)raw.buf[1] == 0x8b) {
        mk_buf_reset(ret);
        r = gunzip(ctx, path, &raw, ret);
        if (gzip)
            *gzip = 1;
        mk_buf_release(&raw);
        return r;
    }
    if (gzip)
        *gzip = 0;
    if (r == MK_OK) {
        mk_buf_release(ret);
        *ret = raw;
        return MK_OK;
    }
    mk_buf_release(&raw);
    return r;
}
