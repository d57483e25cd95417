/* tmpfile.c: scratch files and folders under $TMPDIR, for tools that need a path; and the
 * removal of those a killed run left behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mk_private.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void mk_remove_stale_temps(const char *dir, const char *prefix, bool folders)
{
    size_t len = strlen(prefix);
    struct dirent *e;
    DIR *d = opendir(dir);

    if (!d)
        return;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        struct stat st;
        int fd;

        if (strncmp(n, prefix, len))
            continue;
        fd = openat(dirfd(d), n, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        /* Locked while its owner lives (flock goes with the owner's descriptor): one that
         * can be locked was left by a run that died. */
        if (fstat(fd, &st) == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (S_ISREG(st.st_mode)) {
                unlinkat(dirfd(d), n, 0);
            } else if (S_ISDIR(st.st_mode) && folders) {
                char path[4096];
                int k = snprintf(path, sizeof(path), "%s/%s", dir, n);

                if (k > 0 && (size_t)k < sizeof(path))
                    nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
            }
        }
        close(fd);
    }
    closedir(d);
}

int mk_make_temp(struct mk_ctx *ctx, const char *prefix, bool folder, struct mk_buf *path,
                 int *ret_lock)
{
    const char *dir = getenv("TMPDIR");
    char stale[128];
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(stale, sizeof(stale), "%s.", prefix);
    mk_remove_stale_temps(dir, stale, true);
    mk_buf_reset(path);
    if (mk_buf_addf(path, "%s/%s.XXXXXX", dir, prefix) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (folder) {
        if (!mkdtemp(path->buf))
            return mk_set_errno(ctx, MK_EIO, errno, "cannot create a temporary folder in '%s'",
                                dir);
        fd = open(path->buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;

            rmdir(path->buf);
            return mk_set_errno(ctx, MK_EIO, e, "cannot open '%s'", path->buf);
        }
    } else {
        fd = mkostemp(path->buf, O_CLOEXEC);
        if (fd < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot create a temporary file in '%s'",
                                dir);
    }
    flock(fd, LOCK_EX | LOCK_NB); /* ours while we live: see mk_remove_stale_temps */
    *ret_lock = fd;
    return MK_OK;
}
