/* run.c: starting external programs (grub-mkimage, qemu-img, uploader plugins) so that they
 * die with us, and running a tool while capturing its output. */
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

static void child_fail(int report_fd)
{
    int e = errno;

    (void)!write(report_fd, &e, sizeof(e));
    _exit(127);
}

int mk_spawn(const char *const *argv, char *const *envp, const int *child_fds, int n_fds,
             bool own_group, pid_t *ret_pid)
{
    pid_t parent = getpid(), pid;
    int report[2], rc = 0;
    ssize_t got;

    if (pipe2(report, O_CLOEXEC) < 0)
        return errno;
    /* fork() rather than posix_spawn(): the child must die with us (PR_SET_PDEATHSIG), and
     * posix_spawn has no way to ask for that. Only async-signal-safe calls below. */
    pid = fork();
    if (pid < 0) {
        rc = errno;
        close(report[0]);
        close(report[1]);
        return rc;
    }
    if (pid == 0) {
        int moved[8];
        sigset_t none;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (own_group && setpgid(0, 0) < 0)
            child_fail(report[1]);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (n_fds > (int)MK_ARRAY_SIZE(moved)) {
            errno = EINVAL;
            child_fail(report[1]);
        }
        /* First above every target, so that no dup2 overwrites a source still needed. */
        for (int i = 0; i < n_fds; i++) {
            moved[i] = child_fds[i] >= 0 ? fcntl(child_fds[i], F_DUPFD_CLOEXEC, n_fds)
                                         : open("/dev/null", O_RDWR | O_CLOEXEC);
            if (moved[i] < 0)
                child_fail(report[1]);
        }
        for (int i = 0; i < n_fds; i++)
            if (dup2(moved[i], i) < 0)
                child_fail(report[1]);
        if (envp)
            execve(argv[0], (char *const *)argv, envp);
        else
            execvp(argv[0], (char *const *)argv);
        child_fail(report[1]);
    }
    close(report[1]);
    do
        got = read(report[0], &rc, sizeof(rc));
    while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof(rc)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return rc ? rc : EIO;
    }
    *ret_pid = pid;
    return 0;
}

int mk_run(struct mk_ctx *ctx, const char *const *argv, struct mk_buf *out, struct mk_buf *err,
           int *ret_status)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    int status, rc, r = MK_OK;
    pid_t pid;

    if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
        goto out;
    }
    rc = mk_spawn(argv, NULL, (const int[]){-1, po[1], pe[1]}, 3, false, &pid);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (rc) {
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
    }
    return r;
}
