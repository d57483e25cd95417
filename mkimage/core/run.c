/* run.c: running an external tool (grub-mkimage, qemu-img) and capturing its output. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mk_private.h"

#define RUN_CAPTURE_MAX (1u << 20)

static void capture(struct mk_buf *b, const char *data, size_t n)
{
    if (b && b->len < RUN_CAPTURE_MAX)
        mk_buf_add(b, data, MK_MIN(n, RUN_CAPTURE_MAX - b->len));
}

int mk_run(struct mk_ctx *ctx, const char *const *argv, struct mk_buf *out, struct mk_buf *err,
           int *ret_status)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, ps[2] = {-1, -1};
    pid_t parent = getpid(), pid;
    int status, rc = 0, r = MK_OK, devnull = -1;
    ssize_t got;

    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(ps, O_CLOEXEC) < 0 ||
        (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
        goto out;
    }
    /* fork() rather than posix_spawn(): the child must die with us (PR_SET_PDEATHSIG), so
     * that a killed build leaves no grub-mkimage behind. */
    pid = fork();
    if (pid < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot run '%s'", argv[0]);
        goto out;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (dup2(devnull, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(127);
        execvp(argv[0], (char *const *)argv);
        rc = errno;
        (void)!write(ps[1], &rc, sizeof(rc));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    close(ps[1]);
    po[1] = pe[1] = ps[1] = -1;
    do
        got = read(ps[0], &rc, sizeof(rc));
    while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof(rc)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r = mk_set_errno(ctx, rc == ENOENT ? MK_EMISSING : MK_EIO, rc, "cannot run '%s'",
                         argv[0]);
        goto out;
    }

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
    /* A child that could not even set itself up. */
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
        if (ps[i] >= 0)
            close(ps[i]);
    }
    if (devnull >= 0)
        close(devnull);
    return r;
}
