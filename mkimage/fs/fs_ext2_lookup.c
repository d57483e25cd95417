/* fs_ext2_lookup.c: path lookup in a filesystem we did not make. libext2fs's namei trusts a
 * symlink inode's size (a 1 GB "fast" symlink crashed it), so the path is resolved here one
 * component at a time with ext2fs_lookup(), and each symlink's size and blocks are checked
 * against the filesystem before its target is read. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs_ext2_private.h"

/* Linux's limit on symlinks followed in one lookup. */
#define MAX_FOLLOW 40
#define TARGET_MAX 4095u

static int read_symlink(struct mk_ctx *ctx, struct mk_ext2 *fs, ext2_ino_t ino,
                        struct ext2_inode *inode, const char *at, char *out)
{
    uint64_t size = EXT2_I_SIZE(inode);
    ext2_file_t file;
    unsigned got = 0;
    errcode_t err;

    if (size == 0 || size > TARGET_MAX || size >= fs->fs->blocksize)
        return mk_set_error(ctx, MK_EFS, "symbolic link '%s' claims %" PRIu64 " bytes, "
                            "more than a link holds", at, size);
    if (inode->i_flags & EXT4_INLINE_DATA_FL)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "symbolic link '%s' keeps its target "
                            "inline, which is not supported", at);
    if (ext2fs_is_fast_symlink(inode)) {
        if (size >= sizeof(inode->i_block))
            return mk_set_error(ctx, MK_EFS, "symbolic link '%s' claims %" PRIu64 " bytes, "
                                "more than its inode holds", at, size);
        memcpy(out, inode->i_block, (size_t)size);
    } else {
        if ((err = ext2fs_file_open2(fs->fs, ino, inode, 0, &file)))
            return mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot open symbolic link '%s'", at);
        err = ext2fs_file_read(file, out, (unsigned)size, &got);
        ext2fs_file_close(file);
        if (err || got != size)
            return mk_ext2_fail(ctx, fs->fs, err ? err : EXT2_ET_SHORT_READ, MK_EFS,
                                "cannot read symbolic link '%s'", at);
    }
    out[size] = '\0';
    if (memchr(out, '\0', (size_t)size))
        return mk_set_error(ctx, MK_EFS, "symbolic link '%s' holds a NUL byte", at);
    return MK_OK;
}

int mk_ext2_lookup(struct mk_ctx *ctx, struct mk_ext2 *fs, const char *path, ext2_ino_t *ret)
{
    struct mk_buf rest = MK_BUF_INIT;
    char target[TARGET_MAX + 2], at[256];
    ext2_ino_t dir = EXT2_ROOT_INO, ino = EXT2_ROOT_INO;
    int follows = 0, r = MK_OK;
    size_t pos = 0;

    if (path[0] != '/')
        return mk_set_error(ctx, MK_EINVAL, "'%s' is not an absolute path", path);
    if (mk_buf_add(&rest, path, strlen(path)) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    while (r == MK_OK) {
        struct ext2_inode inode;
        const char *name;
        size_t len;
        errcode_t err;

        pos += strspn(rest.buf + pos, "/");
        if (!rest.buf[pos])
            break;
        name = rest.buf + pos;
        len = strcspn(name, "/");
        pos += len;
        if (len == 1 && name[0] == '.')
            continue;
        if ((err = ext2fs_lookup(fs->fs, dir, name, (int)len, NULL, &ino))) {
            if (err == EXT2_ET_FILE_NOT_FOUND || err == EXT2_ET_NO_DIRECTORY)
                r = mk_set_error(ctx, MK_ENOTFOUND, "'%s' does not exist in the filesystem",
                                 path);
            else
                r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot look up '%s'", path);
            break;
        }
        if (!rest.buf[pos])
            break; /* the last component: a symlink there is not followed */
        snprintf(at, sizeof(at), "%.*s", (int)pos, rest.buf);
        if ((err = ext2fs_read_inode(fs->fs, ino, &inode))) {
            r = mk_ext2_fail(ctx, fs->fs, err, MK_EFS, "cannot read the inode of '%s'", at);
            break;
        }
        if (LINUX_S_ISDIR(inode.i_mode)) {
            dir = ino;
            continue;
        }
        if (!LINUX_S_ISLNK(inode.i_mode)) {
            r = mk_set_error(ctx, MK_ENOTFOUND, "'%s' does not exist in the filesystem", path);
            break;
        }
        if (++follows > MAX_FOLLOW) {
            r = mk_set_error(ctx, MK_EFS, "too many symbolic links in '%s'", path);
            break;
        }
        if ((r = read_symlink(ctx, fs, ino, &inode, at, target)) < 0)
            break;
        /* The rest of the path now starts with the link's target. */
        struct mk_buf next = MK_BUF_INIT;

        if (mk_buf_addf(&next, "%s%s", target, rest.buf + pos) < 0) {
            mk_buf_release(&next);
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            break;
        }
        mk_buf_release(&rest);
        rest = next;
        pos = 0;
        if (target[0] == '/')
            dir = EXT2_ROOT_INO;
    }
    mk_buf_release(&rest);
    if (r == MK_OK)
        *ret = ino;
    return r;
}
