/* fs_ext2_private.h: what fs_ext2_io.c, fs_ext2_write.c and fs_ext2_read.c share. */
#ifndef MK_FS_EXT2_PRIVATE_H
#define MK_FS_EXT2_PRIVATE_H

#include <ext2fs/ext2fs.h>

#include "fs_ext2.h"

#define MK_EXT2_BLOCK 4096u

struct mk_ext2 {
    ext2_filsys fs;
    struct mk_disk *disk;
    uint64_t part_off;
    uint32_t mtime; /* every timestamp written (writable filesystems only) */
};

/* A libext2fs io manager over [off, off+size) of a struct mk_disk. libext2fs only hands a
 * name to open(), so the disk travels in it: see mk_ext2_io_name(). */
extern io_manager mk_ext2_io_manager;
int mk_ext2_io_name(struct mk_ctx *ctx, char *buf, size_t len, struct mk_disk *disk,
                    uint64_t off, uint64_t size);

/* Registers libext2fs's error messages once (thread-safe). */
void mk_ext2_init_errors(void);
/* Sets an MK_EFS (or (code)) error "<what>: <reason>", where the reason is the disk's own
 * error when the io channel failed, else libext2fs's message for (err). (fs) may be NULL. */
int mk_ext2_fail(struct mk_ctx *ctx, ext2_filsys fs, errcode_t err, int code, const char *fmt,
                 ...) MK_PRINTF(5, 6);

/* Resolves an absolute path without following a final symlink. MK_ENOTFOUND if absent. */
int mk_ext2_lookup(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path, ext2_ino_t *ret);

#endif
