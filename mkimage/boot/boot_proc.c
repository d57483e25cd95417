/* boot_proc.c: running QEMU: finding it, starting it in its own process group with its
 * console and messages on pipes, and stopping it whatever happens. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot_private.h"

#define BOOT_TERM_GRACE 1.0

int mk_boot_find_program(struct mk_ctx *ctx, const char *name, char **ret)
{
    const char *path = getenv("PATH"), *p;
    struct mk_buf b = MK_BUF_INIT;
    struct stat st;

    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return mk_set_errno(ctx, MK_EMISSING, errno, "QEMU '%s' cannot be run", name);
        if (!(*ret = strdup(name)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        return MK_OK;
    }
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path;; p++) {
        size_t n = strcspn(p, ":");

        mk_buf_reset(&b);
        if (mk_buf_addf(&b, "%.*s/%s", (int)n, n ? p : ".", name) < 0) {
            mk_buf_release(&b);
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
        if (stat(b.buf, &st) == 0 && S_ISREG(st.st_mode) && access(b.buf, X_OK) == 0) {
            *ret = mk_buf_detach(&b, NULL);
            return MK_OK;
        }
        p += n;
        if (!*p)
            break;
    }
    mk_buf_release(&b);
    if (!strcmp(name, BOOT_DEFAULT_QEMU))
        return mk_set_error(ctx, MK_EMISSING, "%s not found: install the Debian package "
                            "qemu-system-x86", name);
    return mk_set_error(ctx, MK_EMISSING, "%s not found in PATH", name);
}

int mk_qemu_spawn(struct mk_ctx *ctx, const char *path, const char *const *argv,
                  struct mk_qemu_proc *q)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, status_pipe[2] = {-1, -1};
    int devnull = -1, child_errno = 0, r = MK_OK;
    pid_t parent = getpid(), pid;
    ssize_t n;

    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        pipe2(status_pipe, O_CLOEXEC) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
        goto fail;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot open /dev/null");
        goto fail;
    }
    pid = fork();
    if (pid < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot start '%s'", path);
        goto fail;
    }
    if (pid == 0) {
        sigset_t none;

        /* Its own process group keeps a terminal's Ctrl-C away from QEMU, so that we stop
         * it in order; PDEATHSIG stops it when we die without a chance to. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(127);
        execv(path, (char *const *)argv);
        child_errno = errno;
        (void)!write(status_pipe[1], &child_errno, sizeof(child_errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(status_pipe[1]);
    status_pipe[1] = -1;
    do
        n = read(status_pipe[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(child_errno)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r = mk_set_errno(ctx, MK_EMISSING, child_errno, "cannot run '%s'", path);
        goto fail;
    }
    close(out[1]);
    close(err[1]);
    close(status_pipe[0]);
    close(devnull);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    *q = (struct mk_qemu_proc){.pid = pid, .out_fd = out[0], .err_fd = err[0]};
    return MK_OK;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
        if (status_pipe[i] >= 0)
            close(status_pipe[i]);
    }
    if (devnull >= 0)
        close(devnull);
    return r;
}

double mk_boot_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True once (pid) has ended. It is left a zombie so that its process group id cannot be
 * reused before we have signalled the group. */
bool mk_qemu_has_ended(pid_t pid)
{
    siginfo_t info = {0};

    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
}

/* Signals QEMU's group (anything QEMU left behind goes too), then reaps QEMU. */
void mk_qemu_reap(pid_t pid, int *ret_wstatus)
{
    kill(-pid, SIGKILL);
    while (waitpid(pid, ret_wstatus, 0) < 0 && errno == EINTR)
        ;
}

/* Stops QEMU: SIGTERM lets it exit cleanly (and delete its snapshot overlay), SIGKILL
 * follows if it does not within a second. */
void mk_qemu_stop(pid_t pid, int *ret_wstatus)
{
    double until = mk_boot_now() + BOOT_TERM_GRACE;

    kill(-pid, SIGTERM);
    while (mk_boot_now() < until && !mk_qemu_has_ended(pid))
        poll(NULL, 0, 10);
    mk_qemu_reap(pid, ret_wstatus);
}
