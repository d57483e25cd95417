/* run.c: running an external tool (grub-mkimage, qemu-img) and capturing its output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mk_private.h"

extern char **environ;

#define RUN_CAPTURE_MAX (1u << 20)

static void capture(struct mk_buf *b, const char *data, size_t n)
{
    if (b && b->len < RUN_CAPTURE_MAX)
        mk_buf_add(b, data, MK_MIN(n, RUN_CAPTURE_MAX - b->len));
}

int mk_run(struct mk_ctx *ctx, const char *const *argv, struct mk_buf *out, struct mk_buf *err,
           int *ret_status)
{
    posix_spawn_file_actions_t fa;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    pid_t pid;
    int status, rc, r = MK_OK;

    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        r = mk_set_errno(ctx, rc == ENOENT ? MK_EMISSING : MK_EIO, rc, "cannot run '%s'",
                         argv[0]);
        goto out;
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;

    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        char chunk[16384];
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n > 0) {
                capture(i == 0 ? out : err, chunk, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot wait for '%s'", argv[0]);
            goto out;
        }
    /* posix_spawnp reports a missing program as exit 127 from the child on some libcs. */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && err && err->len == 0) {
        r = mk_set_error(ctx, MK_EMISSING, "cannot run '%s'", argv[0]);
        goto out;
    }
    *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    return r;
}
