/* fs_ext2_write.c: building an ext2 filesystem into a disk with libext2fs, file data added
 * by reference to the source files (no copy) when the disk is the in-memory store. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_ext2_private.h"

#define MIB (1024u * 1024u)
/* One inode per 64 KiB keeps the inode tables small; unikernel images hold few files. */
#define BYTES_PER_INODE (64u * 1024u)
#define MIN_INODES 64u
#define INODE_SIZE 256u

static void set_times(struct mk_ext2 *fs, struct ext2_inode *inode)
{
    inode->i_atime = inode->i_ctime = inode->i_mtime = fs->mtime;
}

static int touch_inode(struct mk_ctx *ctx, struct mk_ext2 *fs, ext2_ino_t ino)
{
    struct ext2_inode_large inode;
    const int size = (int)sizeof(inode);
    const size_t crtime_end = offsetof(struct ext2_inode_large, i_crtime) + 4;
    errcode_t err = ext2fs_read_inode_full(fs->fs, ino, (struct ext2_inode *)&inode, size);

    if (!err) {
        set_times(fs, (struct ext2_inode *)&inode);
        if (EXT2_INODE_SIZE(fs->fs->super) >= crtime_end &&
            EXT2_GOOD_OLD_INODE_SIZE + (size_t)inode.i_extra_isize >= crtime_end)
            inode.i_crtime = fs->mtime;
        err = ext2fs_write_inode_full(fs->fs, ino, (struct ext2_inode *)&inode, size);
    }
    if (err)
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot update inode %u", ino);
    return MK_OK;
}

static int no_space(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path)
{
    uint64_t free_mib = ext2fs_free_blocks_count(fs->fs->super) * MK_EXT2_BLOCK / MIB;

    return mk_set_error(ctx, MK_ENOSPC, "'%s' does not fit in the filesystem (%" PRIu64
                        " MiB free)", path, free_mib);
}

static int init_super(struct mk_ctx *ctx, const struct mk_ext2_params *p,
                      struct ext2_super_block *sb)
{
    uint64_t blocks = p->part_size / MK_EXT2_BLOCK;
    uint64_t inodes = MK_MAX(p->part_size / BYTES_PER_INODE, MIN_INODES);

    if (p->part_off % MK_EXT2_BLOCK)
        return mk_set_error(ctx, MK_EINVAL, "partition offset %" PRIu64
                            " is not a multiple of 4 KiB", p->part_off);
    /* Plain 32-bit fields, which kernels read as signed without the extra epoch bits. */
    if (p->mtime < 0 || p->mtime > INT32_MAX)
        return mk_set_error(ctx, MK_EINVAL, "timestamp %" PRId64 " is outside 1970-2038",
                            p->mtime);
    if (blocks > UINT32_MAX)
        return mk_set_error(ctx, MK_EINVAL, "partition of %" PRIu64
                            " bytes is too large for ext2 with 4 KiB blocks", p->part_size);
    if (p->label && strlen(p->label) > sizeof(sb->s_volume_name))
        return mk_set_error(ctx, MK_EINVAL, "filesystem label '%s' is longer than 16 bytes",
                            p->label);
    memset(sb, 0, sizeof(*sb));
    sb->s_rev_level = EXT2_DYNAMIC_REV;
    sb->s_log_block_size = 2; /* 1024 << 2 */
    ext2fs_blocks_count_set(sb, blocks);
    /* Nothing is reserved for root: the image is read by a unikernel, not a system. */
    ext2fs_r_blocks_count_set(sb, 0);
    sb->s_inodes_count = (uint32_t)MK_MIN(inodes, UINT32_MAX / 2);
    sb->s_inode_size = INODE_SIZE;
    sb->s_feature_compat = EXT2_FEATURE_COMPAT_DIR_INDEX;
    sb->s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE;
    sb->s_feature_ro_compat = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
                              EXT2_FEATURE_RO_COMPAT_LARGE_FILE;
    sb->s_max_mnt_count = -1;
    return MK_OK;
}

/* Marks the inodes below the first ordinary one as used, the bad-block inode included. */
static int reserve_inodes(struct mk_ctx *ctx, struct mk_ext2 *fs)
{
    errcode_t err;

    for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(fs->fs->super); i++)
        ext2fs_inode_alloc_stats2(fs->fs, i, +1, 0);
    ext2fs_inode_alloc_stats2(fs->fs, EXT2_BAD_INO, +1, 0);
    err = ext2fs_update_bb_inode(fs->fs, NULL);
    if (err)
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot create the bad-block inode");
    return touch_inode(ctx, fs, EXT2_BAD_INO);
}

static errcode_t mkdir_in(ext2_filsys efs, ext2_ino_t parent, ext2_ino_t inum, const char *name)
{
    errcode_t err = ext2fs_mkdir(efs, parent, inum, name);

    if (err == EXT2_ET_DIR_NO_SPACE) {
        err = ext2fs_expand_dir(efs, parent);
        if (!err)
            err = ext2fs_mkdir(efs, parent, inum, name);
    }
    return err;
}

int mk_ext2_create(struct mk_ctx *ctx, struct mk_disk *disk, const struct mk_ext2_params *p,
                   struct mk_ext2 **ret)
{
    struct ext2_super_block sb;
    struct mk_ext2 *fs;
    char name[128];
    ext2_ino_t lf;
    errcode_t err;
    int r;

    if (p->part_off > disk->size || p->part_size > disk->size - p->part_off)
        return mk_set_error(ctx, MK_EINVAL, "partition [%" PRIu64 ", +%" PRIu64
                            ") lies outside the %" PRIu64 "-byte disk", p->part_off,
                            p->part_size, disk->size);
    if ((r = init_super(ctx, p, &sb)) < 0 ||
        (r = mk_ext2_io_name(ctx, name, sizeof(name), disk, p->part_off, p->part_size)) < 0)
        return r;
    if (!(fs = calloc(1, sizeof(*fs))))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    fs->disk = disk;
    fs->part_off = p->part_off;
    fs->mtime = (uint32_t)p->mtime;
    mk_ext2_init_errors();
    err = ext2fs_initialize(name, EXT2_FLAG_RW | EXT2_FLAG_64BITS, &sb, mk_ext2_io_manager,
                            &fs->fs);
    if (err) {
        free(fs);
        return mk_ext2_fail(ctx, NULL, err, MK_EFS, "cannot create a filesystem of %" PRIu64
                            " bytes", p->part_size);
    }
    /* libext2fs stamps with "fs->now ? fs->now : time(NULL)" into 32-bit fields, so an
     * mtime of 0 is passed as 2^32: non-zero, yet stored as 0. */
    fs->fs->now = fs->mtime ? (time_t)fs->mtime : (time_t)1 << 32;

    struct ext2_super_block *s = fs->fs->super;
    memcpy(s->s_uuid, p->uuid, sizeof(s->s_uuid));
    memcpy(s->s_hash_seed, p->uuid, sizeof(s->s_hash_seed));
    s->s_def_hash_version = EXT2_HASH_HALF_MD4;
    /* Fixed, not the build host's char signedness, so images are the same everywhere. */
    s->s_flags &= ~(uint32_t)EXT2_FLAGS_SIGNED_HASH;
    s->s_flags |= EXT2_FLAGS_UNSIGNED_HASH;
    memset(s->s_volume_name, 0, sizeof(s->s_volume_name));
    if (p->label)
        memcpy(s->s_volume_name, p->label, strlen(p->label));
    s->s_mkfs_time = s->s_wtime = s->s_lastcheck = fs->mtime;
    s->s_mtime = 0;
    s->s_kbytes_written = 0;

    err = ext2fs_allocate_tables(fs->fs);
    if (err) {
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot allocate the filesystem tables");
        goto fail;
    }
    if ((r = reserve_inodes(ctx, fs)) < 0)
        goto fail;
    fs->fs->umask = 022;
    err = mkdir_in(fs->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL);
    /* 0700, as mke2fs makes it: it may hold anything e2fsck finds. */
    fs->fs->umask = 077;
    if (!err)
        err = mkdir_in(fs->fs, EXT2_ROOT_INO, 0, "lost+found");
    fs->fs->umask = 022;
    if (!err)
        err = ext2fs_lookup(fs->fs, EXT2_ROOT_INO, "lost+found", 10, NULL, &lf);
    if (err) {
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot create the root directory");
        goto fail;
    }
    if ((r = touch_inode(ctx, fs, EXT2_ROOT_INO)) < 0 || (r = touch_inode(ctx, fs, lf)) < 0)
        goto fail;
    ext2fs_mark_super_dirty(fs->fs);
    *ret = fs;
    return MK_OK;
fail:
    mk_ext2_abort(fs);
    return r;
}

/* Splits an absolute path into its parent directory's inode and its last component. */
static int split_path(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path,
                      ext2_ino_t *ret_parent, const char **ret_name)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int r;

    if (path[0] != '/' || !slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") ||
        strlen(slash + 1) > EXT2_NAME_LEN)
        return mk_set_error(ctx, MK_EINVAL, "'%s' is not a valid absolute file name", path);
    if (slash == path) {
        *ret_parent = EXT2_ROOT_INO;
        *ret_name = slash + 1;
        return MK_OK;
    }
    if (!(dir = strndup(path, (size_t)(slash - path))))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = mk_ext2_lookup(ctx, fs, dir, ret_parent);
    if (r == MK_ENOTFOUND)
        r = mk_set_error(ctx, MK_ENOTFOUND, "directory '%s' does not exist in the filesystem",
                         dir);
    free(dir);
    if (r < 0)
        return r;
    if (!ext2fs_check_directory(fs->fs, *ret_parent)) {
        *ret_name = slash + 1;
        return MK_OK;
    }
    return mk_set_error(ctx, MK_EINVAL, "the parent of '%s' is not a directory", path);
}

int mk_ext2_mkdir_p(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path)
{
    ext2_ino_t dir = EXT2_ROOT_INO, ino;
    const char *p = path;

    if (path[0] != '/')
        return mk_set_error(ctx, MK_EINVAL, "'%s' is not an absolute path", path);
    while (*p) {
        const char *name = p + strspn(p, "/");
        size_t len = strcspn(name, "/");
        char comp[EXT2_NAME_LEN + 1];
        errcode_t err;

        if (!len)
            break;
        if (len > EXT2_NAME_LEN || (len == 1 && name[0] == '.') ||
            (len == 2 && !strncmp(name, "..", 2)))
            return mk_set_error(ctx, MK_EINVAL, "'%s' is not a valid directory name", path);
        memcpy(comp, name, len);
        comp[len] = '\0';
        err = ext2fs_lookup(fs->fs, dir, comp, (int)len, NULL, &ino);
        if (err == EXT2_ET_FILE_NOT_FOUND) {
            if (!fs->fs->super->s_free_inodes_count)
                return mk_set_error(ctx, MK_ENOSPC, "no inode left for '%s'", path);
            err = mkdir_in(fs->fs, dir, 0, comp);
            if (err == EXT2_ET_BLOCK_ALLOC_FAIL || err == EXT2_ET_INODE_ALLOC_FAIL)
                return no_space(ctx, fs, path);
            if (!err)
                err = ext2fs_lookup(fs->fs, dir, comp, (int)len, NULL, &ino);
            if (!err) {
                int r = touch_inode(ctx, fs, ino);
                if (r < 0)
                    return r;
            }
        } else if (!err && ext2fs_check_directory(fs->fs, ino)) {
            return mk_set_error(ctx, MK_EEXIST, "'%.*s' exists and is not a directory",
                                (int)(name + len - path), path);
        }
        if (err)
            return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot create directory '%s'", path);
        dir = ino;
        p = name + len;
    }
    return MK_OK;
}

/* Where a file's contents come from: a file (by reference or copied) or memory. */
struct source {
    const char *path;
    int fd;
    const uint8_t *mem;
    uint64_t size;
};

/* A range of logical blocks that holds data. */
struct span {
    uint64_t first, count;
};

struct spans {
    struct span *v;
    size_t n, alloc;
};

static int spans_add(struct mk_ctx *ctx, struct spans *s, uint64_t first, uint64_t end)
{
    if (s->n && s->v[s->n - 1].first + s->v[s->n - 1].count >= first) {
        uint64_t e = MK_MAX(end, s->v[s->n - 1].first + s->v[s->n - 1].count);
        s->v[s->n - 1].count = e - s->v[s->n - 1].first;
        return MK_OK;
    }
    if (MK_GROW(s->v, s->n + 1, s->alloc) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    s->v[s->n++] = (struct span){.first = first, .count = end - first};
    return MK_OK;
}

/* The blocks of (src) that hold data, from SEEK_DATA/SEEK_HOLE: holes stay holes. */
static int find_spans(struct mk_ctx *ctx, const struct source *src, struct spans *ret)
{
    uint64_t nblocks = (src->size + MK_EXT2_BLOCK - 1) / MK_EXT2_BLOCK;
    off_t pos = 0;

    if (!src->size)
        return MK_OK;
    if (src->fd < 0)
        return spans_add(ctx, ret, 0, nblocks);
    while ((uint64_t)pos < src->size) {
        int r = mk_check_cancel(ctx); /* a fragmented file has millions of extents */
        if (r < 0)
            return r;
        off_t data = lseek(src->fd, pos, SEEK_DATA), hole;
        if (data < 0 && errno == ENXIO)
            break;
        if (data < 0)
            return spans_add(ctx, ret, 0, nblocks); /* no SEEK_DATA here: all data */
        hole = lseek(src->fd, data, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole > src->size)
            hole = (off_t)src->size;
        if (hole <= data)
            break;
        r = spans_add(ctx, ret, (uint64_t)data / MK_EXT2_BLOCK,
                      ((uint64_t)hole + MK_EXT2_BLOCK - 1) / MK_EXT2_BLOCK);
        if (r < 0)
            return r;
        pos = hole;
    }
    return MK_OK;
}

/* Data blocks plus the indirect blocks a block-mapped inode needs to map (spans). */
static uint64_t blocks_needed(const struct spans *s)
{
    const uint64_t per = MK_EXT2_BLOCK / 4, direct = EXT2_NDIR_BLOCKS;
    uint64_t total = 0, last_ind = UINT64_MAX, last_dind = UINT64_MAX;
    int have_dind = 0, have_tind = 0;

    for (size_t i = 0; i < s->n; i++) {
        total += s->v[i].count;
        for (uint64_t b = s->v[i].first; b < s->v[i].first + s->v[i].count; b++) {
            uint64_t ind, dind = UINT64_MAX;
            if (b < direct)
                continue;
            uint64_t x = b - direct;
            if (x < per) {
                ind = 0;
            } else if ((x -= per) < per * per) {
                have_dind = 1;
                ind = 1 + x / per;
            } else {
                x -= per * per;
                have_tind = 1;
                dind = x / (per * per);
                ind = 1 + per + x / per;
            }
            if (ind != last_ind)
                total++;
            if (dind != UINT64_MAX && dind != last_dind)
                total++;
            last_ind = ind;
            last_dind = dind;
        }
    }
    return total + (uint64_t)have_dind + (uint64_t)have_tind;
}

/* Puts the data of logical blocks [first, first+count) at physical block (pblk). */
static int put_run(struct mk_ctx *ctx, struct mk_ext2 *fs, const struct source *src,
                   uint64_t first, uint64_t count, blk64_t pblk)
{
    uint64_t src_off = first * MK_EXT2_BLOCK;
    uint64_t len = MK_MIN(count * MK_EXT2_BLOCK, src->size - src_off);
    uint64_t dst = fs->part_off + pblk * MK_EXT2_BLOCK;
    uint8_t *buf;

    if (src->mem)
        return mk_disk_write(ctx, fs->disk, dst, src->mem + src_off, (size_t)len);
    if (mk_is_store(fs->disk))
        return mk_store_add_ref(ctx, fs->disk, dst, len, src->path, src_off);
    if (!(buf = malloc(MIB)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    while (len) {
        size_t n = (size_t)MK_MIN(len, MIB), got = 0;
        int r = mk_check_cancel(ctx);
        if (r < 0) {
            free(buf);
            return r;
        }
        while (got < n) {
            ssize_t k = pread(src->fd, buf + got, n - got, (off_t)(src_off + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                free(buf);
                return mk_set_errno(ctx, MK_EIO, k < 0 ? errno : EIO, "cannot read '%s'",
                                    src->path);
            }
            got += (size_t)k;
        }
        r = mk_disk_write(ctx, fs->disk, dst, buf, n);
        if (r < 0) {
            free(buf);
            return r;
        }
        src_off += n;
        dst += n;
        len -= n;
    }
    free(buf);
    return MK_OK;
}

/* Allocates the blocks of (spans) in order, each after the previous one, and places the
 * data of every physically contiguous run. */
static int fill_blocks(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest, ext2_ino_t ino,
                       struct ext2_inode *inode, const struct source *src,
                       const struct spans *spans)
{
    char *block_buf = malloc(2 * MK_EXT2_BLOCK);
    uint64_t run_first = 0, run_count = 0, visited = 0;
    blk64_t run_pblk = 0;
    int r = MK_OK;

    if (!block_buf)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < spans->n && r == MK_OK; i++) {
        for (uint64_t b = spans->v[i].first; b < spans->v[i].first + spans->v[i].count; b++) {
            blk64_t pblk = 0;
            /* A big file is millions of blocks: look every MiB of them. */
            if (visited++ % (MIB / MK_EXT2_BLOCK) == 0 && (r = mk_check_cancel(ctx)) < 0)
                break;
            errcode_t err = ext2fs_bmap2(fs->fs, ino, inode, block_buf, BMAP_ALLOC, b, NULL,
                                         &pblk);
            if (err == EXT2_ET_BLOCK_ALLOC_FAIL) {
                r = no_space(ctx, fs, dest);
                break;
            }
            if (err) {
                r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot allocate blocks for '%s'",
                                 dest);
                break;
            }
            if (run_count && run_first + run_count == b && run_pblk + run_count == pblk) {
                run_count++;
                continue;
            }
            if (run_count && (r = put_run(ctx, fs, src, run_first, run_count, run_pblk)) < 0)
                break;
            run_first = b;
            run_count = 1;
            run_pblk = pblk;
        }
    }
    if (r == MK_OK && run_count)
        r = put_run(ctx, fs, src, run_first, run_count, run_pblk);
    free(block_buf);
    return r;
}

static int add_source(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest,
                      const struct source *src, unsigned mode)
{
    struct ext2_inode_large inode;
    struct spans spans = {0};
    ext2_ino_t parent = 0, ino;
    const char *name = NULL;
    errcode_t err;
    int r;

    if ((r = split_path(ctx, fs, dest, &parent, &name)) < 0)
        return r;
    err = ext2fs_lookup(fs->fs, parent, name, (int)strlen(name), NULL, &ino);
    if (!err)
        return mk_set_error(ctx, MK_EEXIST, "'%s' already exists in the filesystem", dest);
    if (err != EXT2_ET_FILE_NOT_FOUND)
        return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot look up '%s'", dest);
    if ((r = find_spans(ctx, src, &spans)) < 0)
        goto out;
    /* Checked before anything is allocated, so that a file too big leaves no trace; the
     * extra block is for the directory entry, should the directory have to grow. */
    if (blocks_needed(&spans) + 1 > ext2fs_free_blocks_count(fs->fs->super)) {
        r = no_space(ctx, fs, dest);
        goto out;
    }
    if (!fs->fs->super->s_free_inodes_count) {
        r = mk_set_error(ctx, MK_ENOSPC, "no inode left for '%s'", dest);
        goto out;
    }
    err = ext2fs_new_inode(fs->fs, parent, LINUX_S_IFREG | 0644, NULL, &ino);
    if (!err) {
        err = ext2fs_link(fs->fs, parent, name, ino, EXT2_FT_REG_FILE);
        if (err == EXT2_ET_DIR_NO_SPACE) {
            err = ext2fs_expand_dir(fs->fs, parent);
            if (!err)
                err = ext2fs_link(fs->fs, parent, name, ino, EXT2_FT_REG_FILE);
        }
    }
    if (err == EXT2_ET_BLOCK_ALLOC_FAIL || err == EXT2_ET_DIR_NO_SPACE) {
        r = no_space(ctx, fs, dest);
        goto out;
    }
    if (err) {
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot create '%s'", dest);
        goto out;
    }
    ext2fs_inode_alloc_stats2(fs->fs, ino, +1, 0);
    memset(&inode, 0, sizeof(inode));
    inode.i_mode = (uint16_t)(LINUX_S_IFREG | (mode & 07777));
    inode.i_links_count = 1;
    set_times(fs, (struct ext2_inode *)&inode);
    err = ext2fs_inode_size_set(fs->fs, (struct ext2_inode *)&inode, src->size);
    if (!err)
        err = ext2fs_write_new_inode(fs->fs, ino, (struct ext2_inode *)&inode);
    if (err) {
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot write the inode of '%s'", dest);
        goto out;
    }
    if ((r = fill_blocks(ctx, fs, dest, ino, (struct ext2_inode *)&inode, src, &spans)) < 0)
        goto out;
    err = ext2fs_write_inode(fs->fs, ino, (struct ext2_inode *)&inode);
    if (err)
        r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot write the inode of '%s'", dest);
    if (r == MK_OK && (r = touch_inode(ctx, fs, ino)) == MK_OK)
        r = touch_inode(ctx, fs, parent);
out:
    free(spans.v);
    return r;
}

int mk_ext2_add_file(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest, const char *src,
                     unsigned mode)
{
    struct source s = {.path = src};
    struct stat st;
    int r;

    s.fd = mk_open_input(ctx, src, NULL);
    if (s.fd < 0)
        return s.fd;
    if (fstat(s.fd, &st) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot stat '%s'", src);
    } else if (!S_ISREG(st.st_mode)) {
        r = mk_set_error(ctx, MK_EINVAL, "'%s' is not a regular file", src);
    } else {
        s.size = (uint64_t)st.st_size;
        r = add_source(ctx, fs, dest, &s, mode);
    }
    close(s.fd);
    return r;
}

int mk_ext2_add_data(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *dest, const void *data,
                     size_t len, unsigned mode)
{
    struct source s = {.path = dest, .fd = -1, .mem = data, .size = len};

    return add_source(ctx, fs, dest, &s, mode);
}

int mk_ext2_close(struct mk_ctx *ctx, struct mk_ext2 *fs)
{
    errcode_t err = 0;
    int r = MK_OK;

    if (fs->fs->flags & EXT2_FLAG_RW) {
        fs->fs->super->s_wtime = fs->mtime;
        ext2fs_mark_super_dirty(fs->fs);
        /* Flushed here, while the io channel still holds the disk's own error message. */
        err = ext2fs_flush(fs->fs);
        if (err) {
            r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot write the filesystem");
            mk_ext2_abort(fs);
            return r;
        }
    }
    err = ext2fs_close_free(&fs->fs);
    if (err)
        r = mk_ext2_fail(ctx, NULL, err, MK_EFS, "cannot close the filesystem");
    free(fs);
    return r;
}

void mk_ext2_abort(struct mk_ext2 *fs)
{
    if (!fs)
        return;
    if (fs->fs)
        ext2fs_free(fs->fs);
    free(fs);
}
