/* fs_ext2_io.c: a libext2fs io manager that reads and writes a struct mk_disk, so that the
 * filesystem is built straight into the (sparse, in-memory) disk without a temporary file. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>

#include "fs_ext2_private.h"

struct io_private {
    struct mk_disk *disk;
    uint64_t off, size;
    /* Where the disk's own error lands; libext2fs only passes an errcode_t back up. */
    struct mk_ctx *ctx;
};

#define IO_NAME_PREFIX "mkdisk:"

int mk_ext2_io_name(struct mk_ctx *ctx, char *buf, size_t len, struct mk_disk *disk,
                    uint64_t off, uint64_t size)
{
    int n = snprintf(buf, len, IO_NAME_PREFIX "%p:%" PRIu64 ":%" PRIu64, (void *)disk, off,
                     size);
    if (n < 0 || (size_t)n >= len)
        return mk_set_error(ctx, MK_EINVAL, "internal: io channel name too long");
    return MK_OK;
}

static errcode_t io_open(const char *name, int flags, io_channel *channel)
{
    struct io_private *priv = NULL;
    io_channel io = NULL;
    void *disk = NULL;
    uint64_t off, size;
    int end = 0;

    if (!name || strncmp(name, IO_NAME_PREFIX, strlen(IO_NAME_PREFIX)) ||
        sscanf(name + strlen(IO_NAME_PREFIX), "%p:%" SCNu64 ":%" SCNu64 "%n", &disk, &off,
               &size, &end) != 3 ||
        name[strlen(IO_NAME_PREFIX) + (size_t)end] || !disk)
        return EXT2_ET_BAD_DEVICE_NAME;
    io = calloc(1, sizeof(*io));
    priv = calloc(1, sizeof(*priv));
    if (!io || !priv || !(io->name = strdup(name)) || !(priv->ctx = mk_ctx_new())) {
        if (io)
            free(io->name);
        free(io);
        free(priv);
        return EXT2_ET_NO_MEMORY;
    }
    priv->disk = disk;
    priv->off = off;
    priv->size = size;
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = mk_ext2_io_manager;
    io->block_size = 1024;
    io->refcount = 1;
    io->flags = flags;
    io->private_data = priv;
    *channel = io;
    return 0;
}

static errcode_t io_close(io_channel io)
{
    struct io_private *priv = io->private_data;

    if (--io->refcount > 0)
        return 0;
    mk_ctx_free(priv->ctx);
    free(priv);
    free(io->name);
    free(io);
    return 0;
}

static errcode_t io_set_blksize(io_channel io, int blksize)
{
    io->block_size = blksize;
    return 0;
}

/* A negative count is a byte count, as in every libext2fs io manager. */
static errcode_t io_range(io_channel io, unsigned long long block, int count, uint64_t *ret_off,
                          size_t *ret_len)
{
    struct io_private *priv = io->private_data;
    uint64_t len = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * io->block_size;
    uint64_t off = (uint64_t)block * (uint64_t)io->block_size;

    if (block > UINT64_MAX / (uint64_t)io->block_size || off > priv->size ||
        len > priv->size - off)
        return EXT2_ET_LLSEEK_FAILED;
    *ret_off = priv->off + off;
    *ret_len = (size_t)len;
    return 0;
}

static errcode_t io_read_blk64(io_channel io, unsigned long long block, int count, void *data)
{
    struct io_private *priv = io->private_data;
    uint64_t off;
    size_t len;
    errcode_t err = io_range(io, block, count, &off, &len);

    if (err)
        return err;
    if (mk_disk_read(priv->ctx, priv->disk, off, data, len) < 0)
        return EXT2_ET_SHORT_READ;
    return 0;
}

static errcode_t io_write_blk64(io_channel io, unsigned long long block, int count,
                                const void *data)
{
    struct io_private *priv = io->private_data;
    uint64_t off;
    size_t len;
    errcode_t err = io_range(io, block, count, &off, &len);

    if (err)
        return err;
    if (!(io->flags & IO_FLAG_RW))
        return EXT2_ET_RO_FILSYS;
    if (mk_disk_write(priv->ctx, priv->disk, off, data, len) < 0)
        return EXT2_ET_SHORT_WRITE;
    return 0;
}

static errcode_t io_read_blk(io_channel io, unsigned long block, int count, void *data)
{
    return io_read_blk64(io, block, count, data);
}

static errcode_t io_write_blk(io_channel io, unsigned long block, int count, const void *data)
{
    return io_write_blk64(io, block, count, data);
}

static errcode_t io_write_byte(io_channel io, unsigned long offset, int count, const void *data)
{
    struct io_private *priv = io->private_data;

    if (count < 0 || offset > priv->size || (uint64_t)count > priv->size - offset)
        return EXT2_ET_LLSEEK_FAILED;
    if (!(io->flags & IO_FLAG_RW))
        return EXT2_ET_RO_FILSYS;
    if (mk_disk_write(priv->ctx, priv->disk, priv->off + offset, data, (size_t)count) < 0)
        return EXT2_ET_SHORT_WRITE;
    return 0;
}

static errcode_t io_flush(io_channel io)
{
    return 0;
}

static errcode_t io_set_option(io_channel io, const char *option, const char *arg)
{
    return EXT2_ET_INVALID_ARGUMENT;
}

/* Zeros written to a store where nothing was written cost nothing, so this stays cheap
 * however many blocks libext2fs zeroes when it allocates them. */
static errcode_t io_zeroout(io_channel io, unsigned long long block, unsigned long long count)
{
    static const uint8_t zeros[64 * 1024];
    struct io_private *priv = io->private_data;
    uint64_t off, len;
    size_t unused;
    errcode_t err;

    if (count > INT32_MAX / (unsigned)io->block_size)
        return EXT2_ET_INVALID_ARGUMENT;
    err = io_range(io, block, (int)count, &off, &unused);
    if (err)
        return err;
    if (!(io->flags & IO_FLAG_RW))
        return EXT2_ET_RO_FILSYS;
    for (len = count * (uint64_t)io->block_size; len;) {
        size_t n = (size_t)MK_MIN(len, sizeof(zeros));
        if (mk_disk_write(priv->ctx, priv->disk, off, zeros, n) < 0)
            return EXT2_ET_SHORT_WRITE;
        off += n;
        len -= n;
    }
    return 0;
}

static struct struct_io_manager io_manager_struct = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "unikernel-mkimage disk",
    .open = io_open,
    .close = io_close,
    .set_blksize = io_set_blksize,
    .read_blk = io_read_blk,
    .write_blk = io_write_blk,
    .flush = io_flush,
    .write_byte = io_write_byte,
    .set_option = io_set_option,
    .read_blk64 = io_read_blk64,
    .write_blk64 = io_write_blk64,
    .zeroout = io_zeroout,
};

io_manager mk_ext2_io_manager = &io_manager_struct;

static pthread_once_t errors_once = PTHREAD_ONCE_INIT;

static void init_errors(void)
{
    initialize_ext2_error_table();
}

void mk_ext2_init_errors(void)
{
    pthread_once(&errors_once, init_errors);
}

int mk_ext2_fail(struct mk_ctx *ctx, ext2_filsys fs, errcode_t err, int code, const char *fmt,
                 ...)
{
    struct io_private *priv = fs && fs->io ? fs->io->private_data : NULL;
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (priv && mk_errcode(priv->ctx) < 0 &&
        (err == EXT2_ET_SHORT_READ || err == EXT2_ET_SHORT_WRITE)) {
        int r = mk_set_error(ctx, mk_errcode(priv->ctx), "%s: %s", what,
                             mk_errmsg(priv->ctx));
        mk_clear_error(priv->ctx);
        return r;
    }
    mk_ext2_init_errors();
    return mk_set_error(ctx, code, "%s: %s", what, error_message(err));
}
