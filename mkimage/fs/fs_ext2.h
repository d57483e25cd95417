/* fs_ext2.h: writing and reading an ext2 filesystem inside a disk, through libext2fs.
 * No libext2fs type crosses this boundary. */
#ifndef MK_FS_EXT2_H
#define MK_FS_EXT2_H

#include "disk_private.h"

struct mk_ext2;

struct mk_ext2_params {
    uint64_t part_off;    /* byte offset of the partition in the disk (4 KiB aligned) */
    uint64_t part_size;   /* bytes */
    uint8_t uuid[16];     /* filesystem UUID; also seeds the directory hash */
    const char *label;    /* volume label, at most 16 bytes; NULL = none */
    int64_t mtime;        /* every timestamp in the filesystem */
};

/* Creates an empty ext2 filesystem (4 KiB blocks, root and lost+found) in (disk), which
 * must be writable. Nothing is zeroed that is already zero: holes stay holes. */
int mk_ext2_create(struct mk_ctx *ctx, struct mk_disk *disk, const struct mk_ext2_params *p,
                   struct mk_ext2 **ret);
/* Creates (path) and its parents (absolute, '/'-separated), mode 0755. */
int mk_ext2_mkdir_p(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path);
/* Adds the regular file (src) as (dest), with (mode)'s permission bits. On a store disk the
 * data blocks are allocated and referenced (mk_store_add_ref), not copied; holes in (src)
 * stay holes. Parents must exist. MK_ENOSPC when it does not fit, MK_EEXIST when (dest)
 * exists. */
int mk_ext2_add_file(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest, const char *src,
                     unsigned mode);
/* Adds a file from memory (grub.cfg). */
int mk_ext2_add_data(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest, const void *data,
                     size_t len, unsigned mode);
/* Writes the superblock, descriptors and bitmaps, and frees (fs). */
int mk_ext2_close(struct mk_ctx *ctx, struct mk_ext2 *fs);
/* Frees (fs) without writing anything more. Accepts NULL. */
void mk_ext2_abort(struct mk_ext2 *fs);

/* Opens an existing ext2/3/4 filesystem read-only. MK_EFORMAT when there is none. Checksum
 * errors fail the open or the read that meets them, unless (flags) has MK_EXT2_IGNORE_CSUM:
 * a filesystem that does not check out is not one to trust. */
enum { MK_EXT2_IGNORE_CSUM = 1 };
int mk_ext2_open(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t part_off, uint64_t part_size,
                 unsigned flags, struct mk_ext2 **ret);

struct mk_ext2_info {
    char type[8];         /* "ext2", "ext3" or "ext4" */
    char uuid[37];
    char label[17];
    uint64_t block_size;
    uint64_t blocks, free_blocks;
    uint64_t inodes, free_inodes;
};
int mk_ext2_info(struct mk_ctx *ctx, struct mk_ext2 *fs, struct mk_ext2_info *ret);
/* Reads a whole regular file, failing with MK_ENOTFOUND if absent and MK_ENOMEM above
 * (max) bytes. */
int mk_ext2_read_file(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path, size_t max,
                      struct mk_buf *out);
/* Calls (fn) for every file and directory below the root, parents first, sorted by name.
 * A non-zero return from (fn) stops the walk and is returned. */
typedef int (*mk_ext2_walk_fn)(void *opaque, const char *path, unsigned mode, uint64_t size);
int mk_ext2_walk(struct mk_ctx *ctx, struct mk_ext2 *fs, mk_ext2_walk_fn fn, void *opaque);

#endif
