/* fs_ext2_read.c: reading any ext2/3/4 filesystem in a disk through libext2fs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_ext2_private.h"

#define MAGIC_OFFSET 56u
/* Deeper than any sane tree; stops a corrupted filesystem's directory loop. */
#define MAX_DEPTH 128

int mk_ext2_open(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t part_off, uint64_t part_size,
                 unsigned flags, struct mk_ext2 **ret)
{
    uint8_t magic[2];
    struct mk_ext2 *fs;
    char name[128];
    errcode_t err;
    int r;

    if (part_off > disk->size || part_size > disk->size - part_off)
        return mk_set_error(ctx, MK_EINVAL, "partition [%" PRIu64 ", +%" PRIu64
                            ") lies outside the %" PRIu64 "-byte disk", part_off, part_size,
                            disk->size);
    if (part_size < SUPERBLOCK_OFFSET + 1024)
        return mk_set_error(ctx, MK_EFORMAT, "no ext2/3/4 filesystem at offset %" PRIu64
                            " (partition too small)", part_off);
    if ((r = mk_disk_read(ctx, disk, part_off + SUPERBLOCK_OFFSET + MAGIC_OFFSET, magic, 2)) < 0)
        return r;
    if (mk_get_le16(magic) != EXT2_SUPER_MAGIC)
        return mk_set_error(ctx, MK_EFORMAT, "no ext2/3/4 filesystem at offset %" PRIu64,
                            part_off);
    if ((r = mk_ext2_io_name(ctx, name, sizeof(name), disk, part_off, part_size)) < 0)
        return r;
    if (!(fs = calloc(1, sizeof(*fs))))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    fs->disk = disk;
    fs->part_off = part_off;
    mk_ext2_init_errors();
    err = ext2fs_open2(name, NULL,
                       EXT2_FLAG_64BITS |
                           (flags & MK_EXT2_IGNORE_CSUM ? EXT2_FLAG_IGNORE_CSUM_ERRORS : 0),
                       0, 0, mk_ext2_io_manager, &fs->fs);
    if (err) {
        free(fs);
        return mk_ext2_fail(ctx, NULL, err, MK_EFS, "cannot open the filesystem at offset %"
                            PRIu64, part_off);
    }
    *ret = fs;
    return MK_OK;
}

static const char *fs_type(const struct ext2_super_block *s)
{
    const uint32_t ext4_incompat = EXT3_FEATURE_INCOMPAT_EXTENTS | EXT4_FEATURE_INCOMPAT_64BIT |
                                   EXT4_FEATURE_INCOMPAT_FLEX_BG | EXT4_FEATURE_INCOMPAT_MMP |
                                   EXT4_FEATURE_INCOMPAT_INLINE_DATA |
                                   EXT4_FEATURE_INCOMPAT_CSUM_SEED |
                                   EXT4_FEATURE_INCOMPAT_ENCRYPT |
                                   EXT4_FEATURE_INCOMPAT_CASEFOLD |
                                   EXT4_FEATURE_INCOMPAT_LARGEDIR |
                                   EXT4_FEATURE_INCOMPAT_EA_INODE;
    const uint32_t ext4_ro = EXT4_FEATURE_RO_COMPAT_HUGE_FILE |
                             EXT4_FEATURE_RO_COMPAT_GDT_CSUM | EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
                             EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |
                             EXT4_FEATURE_RO_COMPAT_METADATA_CSUM |
                             EXT4_FEATURE_RO_COMPAT_QUOTA | EXT4_FEATURE_RO_COMPAT_BIGALLOC;

    if ((s->s_feature_incompat & ext4_incompat) || (s->s_feature_ro_compat & ext4_ro))
        return "ext4";
    if (s->s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL)
        return "ext3";
    return "ext2";
}

int mk_ext2_info(struct mk_ctx *ctx, struct mk_ext2 *fs, struct mk_ext2_info *ret)
{
    const struct ext2_super_block *s = fs->fs->super;
    const uint8_t *u = s->s_uuid;
    struct mk_ext2_info info = {0};

    snprintf(info.type, sizeof(info.type), "%s", fs_type(s));
    snprintf(info.uuid, sizeof(info.uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    memcpy(info.label, s->s_volume_name, sizeof(s->s_volume_name));
    info.label[sizeof(s->s_volume_name)] = '\0';
    info.block_size = fs->fs->blocksize;
    info.blocks = ext2fs_blocks_count(fs->fs->super);
    info.free_blocks = ext2fs_free_blocks_count(fs->fs->super);
    info.inodes = s->s_inodes_count;
    info.free_inodes = s->s_free_inodes_count;
    *ret = info;
    return MK_OK;
}

int mk_ext2_read_file(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path, size_t max,
                      struct mk_buf *out)
{
    struct ext2_inode inode;
    ext2_file_t file;
    ext2_ino_t ino;
    uint64_t size, done = 0;
    errcode_t err;
    int r;

    if ((r = mk_ext2_lookup(ctx, fs, path, &ino)) < 0)
        return r;
    if ((err = ext2fs_read_inode(fs->fs, ino, &inode)))
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot read the inode of '%s'", path);
    if (!LINUX_S_ISREG(inode.i_mode))
        return mk_set_error(ctx, MK_EINVAL, "'%s' is not a regular file", path);
    size = EXT2_I_SIZE(&inode);
    /* Holes aside, a file cannot hold more than its filesystem: a larger size is a lie that
     * would cost its whole claim in memory. */
    if (size / fs->fs->blocksize > ext2fs_blocks_count(fs->fs->super))
        return mk_set_error(ctx, MK_EFS, "'%s' claims %" PRIu64 " bytes, more than the "
                            "filesystem holds", path, size);
    if ((max && size > max) || size > SIZE_MAX - 1 - out->len)
        return mk_set_error(ctx, MK_ENOMEM, "'%s' is larger than %zu bytes", path, max);
    if ((r = mk_buf_grow(out, (size_t)size)) < 0)
        return mk_set_error(ctx, r, "no memory to read '%s' (%" PRIu64 " bytes)", path, size);
    if ((err = ext2fs_file_open2(fs->fs, ino, &inode, 0, &file)))
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot open '%s'", path);
    while (done < size) {
        unsigned got = 0;
        unsigned want = (unsigned)MK_MIN(size - done, 1u << 20);
        err = ext2fs_file_read(file, out->buf + out->len, want, &got);
        if (err || !got)
            break;
        out->len += got;
        done += got;
    }
    out->buf[out->len] = '\0';
    ext2fs_file_close(file);
    if (err)
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot read '%s'", path);
    if (done < size)
        return mk_set_error(ctx, MK_EFS, "'%s' ends after %" PRIu64 " of its %" PRIu64
                            " bytes", path, done, size);
    return MK_OK;
}

struct dirent_rec {
    char *name;
    ext2_ino_t ino;
};

struct dir_list {
    struct dirent_rec *v;
    size_t n, alloc;
    int oom;
};

static int collect(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
                   int blocksize, char *buf, void *priv)
{
    struct dir_list *l = priv;
    int len = ext2fs_dirent_name_len(de);

    if ((len == 1 && de->name[0] == '.') || (len == 2 && !strncmp(de->name, "..", 2)))
        return 0;
    if (MK_GROW(l->v, l->n + 1, l->alloc) < 0) {
        l->oom = 1;
        return DIRENT_ABORT;
    }
    if (!(l->v[l->n].name = strndup(de->name, (size_t)len))) {
        l->oom = 1;
        return DIRENT_ABORT;
    }
    l->v[l->n++].ino = de->inode;
    return 0;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dirent_rec *)a)->name, ((const struct dirent_rec *)b)->name);
}

/* The directories already listed: a hostile filesystem can hard-link directories into a DAG
 * (2^40 paths in 512 KiB) or a loop, so each directory inode is listed once. */
struct walk {
    struct mk_ctx *ctx;
    struct mk_ext2 *fs;
    mk_ext2_walk_fn fn;
    void *opaque;
    ext2_ino_t *seen; /* open addressing, 0 = empty */
    size_t n_seen, cap;
};

/* 1 if (ino) was already seen, 0 if it is new (now recorded), MK_ENOMEM. */
static int seen_before(struct walk *w, ext2_ino_t ino)
{
    if (2 * (w->n_seen + 1) > w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        ext2_ino_t *t = calloc(cap, sizeof(*t));

        if (!t)
            return MK_ENOMEM;
        for (size_t i = 0; i < w->cap; i++)
            for (size_t j = w->seen[i] * 2654435761u % cap; w->seen[i]; j = (j + 1) % cap)
                if (!t[j]) {
                    t[j] = w->seen[i];
                    break;
                }
        free(w->seen);
        w->seen = t;
        w->cap = cap;
    }
    for (size_t j = ino * 2654435761u % w->cap;; j = (j + 1) % w->cap) {
        if (w->seen[j] == ino)
            return 1;
        if (!w->seen[j]) {
            w->seen[j] = ino;
            w->n_seen++;
            return 0;
        }
    }
}

static int walk_dir(struct walk *w, ext2_ino_t dir, struct mk_buf *path, int depth)
{
    struct mk_ctx *ctx = w->ctx;
    struct mk_ext2 *fs = w->fs;
    struct dir_list l = {0};
    size_t base = path->len;
    errcode_t err;
    int r = MK_OK;

    if (depth > MAX_DEPTH)
        return mk_set_error(ctx, MK_EFS, "directories nested deeper than %d at '%s'",
                            MAX_DEPTH, path->buf);
    if ((r = seen_before(w, dir)) != 0)
        return r < 0 ? mk_set_error(ctx, MK_ENOMEM, "out of memory")
                     : mk_set_error(ctx, MK_EFS, "directory '%s' is a second link to a "
                                    "directory already listed (a hard-linked directory)",
                                    path->buf);
    err = ext2fs_dir_iterate2(fs->fs, dir, 0, NULL, collect, &l);
    if (l.oom)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    else if (err)
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot read directory '%s'",
                         base ? path->buf : "/");
    if (r == MK_OK && l.n)
        qsort(l.v, l.n, sizeof(*l.v), rec_cmp);
    for (size_t i = 0; i < l.n && r == MK_OK; i++) {
        struct ext2_inode inode;
        path->len = base;
        path->buf[base] = '\0';
        if ((r = mk_buf_addf(path, "/%s", l.v[i].name)) < 0)
            break;
        if ((err = ext2fs_read_inode(fs->fs, l.v[i].ino, &inode))) {
            r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot read the inode of '%s'",
                             path->buf);
            break;
        }
        if ((r = w->fn(w->opaque, path->buf, inode.i_mode, EXT2_I_SIZE(&inode))) != 0)
            break;
        if (LINUX_S_ISDIR(inode.i_mode))
            r = walk_dir(w, l.v[i].ino, path, depth + 1);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].name);
    free(l.v);
    path->len = base;
    path->buf[base] = '\0';
    return r;
}

int mk_ext2_walk(struct mk_ctx *ctx, struct mk_ext2 *fs, mk_ext2_walk_fn fn, void *opaque)
{
    struct walk w = {.ctx = ctx, .fs = fs, .fn = fn, .opaque = opaque};
    struct mk_buf path = MK_BUF_INIT;
    int r = walk_dir(&w, EXT2_ROOT_INO, &path, 0);

    mk_buf_release(&path);
    free(w.seen);
    return r;
}
