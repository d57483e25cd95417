/* inspect_isolated.c: the reading of an image we did not build happens in a child process
 * with memory, CPU and time limits, no new privileges and no core dumps. libext2fs and zlib
 * are not hardened against hostile input: a crash or a runaway there becomes one problem in
 * the report ("reading the image crashed: Segmentation fault") instead of a dead tool. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "inspect_private.h"

/* Defaults: memory in MiB, CPU and wall-clock seconds. MK_INSPECT_LIMITS="MIB:CPU:WALL"
 * changes them (for a machine with less memory, or a test). */
struct limits {
    unsigned long mib, cpu, wall;
};

static struct limits get_limits(void)
{
    struct limits l = {4096, 300, 900};
    const char *e = getenv("MK_INSPECT_LIMITS");
    unsigned long a, b, c;

    if (e && sscanf(e, "%lu:%lu:%lu", &a, &b, &c) == 3 && a && b && c)
        l = (struct limits){a, b, c};
    return l;
}

/* What the child sends back: this header, then the message, then the JSON. */
struct answer {
    int r, problems, code;
    size_t msg_len, json_len;
};

#if defined(__SANITIZE_ADDRESS__)
#define MK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MK_ASAN 1
#endif
#endif

static void limit(int resource, rlim_t value)
{
    struct rlimit rl = {value, value};

    setrlimit(resource, &rl);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void child(struct mk_ctx *ctx, int fd, const char *path, unsigned flags,
                  struct limits lim)
{
    struct answer a = {0};
    char *json = NULL;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    limit(RLIMIT_CORE, 0);
    limit(RLIMIT_CPU, lim.cpu);
#ifndef MK_ASAN /* ASan reserves terabytes of address space up front */
    limit(RLIMIT_AS, lim.mib << 20);
#endif
    a.r = mk_inspect_path_here(ctx, path, flags, &json, &a.problems);
    a.code = ctx->code;
    a.msg_len = a.r < 0 ? strlen(ctx->msg) : 0;
    a.json_len = json ? strlen(json) : 0;
    if (write_all(fd, &a, sizeof(a)) < 0 || write_all(fd, ctx->msg, a.msg_len) < 0 ||
        write_all(fd, json ? json : "", a.json_len) < 0)
        _exit(3);
    _exit(0);
}

/* A report with one problem, for a child that died or ran away. */
static int problem_report(struct mk_ctx *ctx, const char *path, const char *problem,
                          char **ret_json, int *ret_problems)
{
    json_t *root = json_pack("{s:{s:s, s:s}, s:[s]}", "image", "path", path, "format",
                             "unknown", "problems", problem);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;

    json_decref(root);
    if (!text)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *ret_json = text;
    *ret_problems = 1;
    return MK_OK;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int mk_inspect_path(struct mk_ctx *ctx, const char *path, unsigned flags, char **ret_json,
                    int *ret_problems)
{
    struct mk_buf in = MK_BUF_INIT;
    struct limits lim = get_limits();
    double deadline = now() + (double)lim.wall;
    int fds[2], status = 0, r = MK_OK, timed_out = 0;
    char why[160];
    struct answer a;
    pid_t pid;

    if (!path || !ret_json || !ret_problems)
        return mk_set_error(ctx, MK_EINVAL, "mk_inspect_path: no path or no result pointer");
    /* --deep boots libguestfs's appliance, a VM of its own, and compares what both read. */
    if (flags & MK_INSPECT_DEEP)
        return mk_inspect_path_here(ctx, path, flags, ret_json, ret_problems);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return mk_set_errno(ctx, MK_EIO, errno, "cannot start the image reader");
    }
    if (pid == 0) {
        close(fds[0]);
        child(ctx, fds[1], path, flags, lim);
    }
    close(fds[1]);
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        char chunk[65536];
        ssize_t n;

        if ((r = mk_check_cancel(ctx)) < 0)
            break;
        if (now() > deadline) {
            timed_out = 1;
            break;
        }
        if (poll(&p, 1, 200) <= 0)
            continue;
        n = read(fds[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (mk_buf_add(&in, chunk, (size_t)n) < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            break;
        }
    }
    close(fds[0]);
    if (r < 0 || timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r < 0) {
        mk_buf_release(&in);
        return r;
    }
    if (timed_out) {
        mk_buf_release(&in);
        snprintf(why, sizeof(why), "reading the image took longer than %lu s and was stopped",
                 lim.wall);
        return problem_report(ctx, path, why, ret_json, ret_problems);
    }
    if (WIFSIGNALED(status) || in.len < sizeof(a)) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
            snprintf(why, sizeof(why), "reading the image used more than %lu s of CPU and was "
                     "stopped", lim.cpu);
        else if (WIFSIGNALED(status))
            snprintf(why, sizeof(why), "reading the image crashed the reader (%s)",
                     strsignal(WTERMSIG(status)));
        else
            snprintf(why, sizeof(why), "the image reader ended without a report (exit %d)",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        mk_buf_release(&in);
        return problem_report(ctx, path, why, ret_json, ret_problems);
    }
    memcpy(&a, in.buf, sizeof(a));
    if (in.len != sizeof(a) + a.msg_len + a.json_len) {
        mk_buf_release(&in);
        return mk_set_error(ctx, MK_EIO, "the image reader sent a broken report");
    }
    if (a.r < 0) {
        r = mk_set_error(ctx, a.code ? a.code : a.r, "%.*s", (int)a.msg_len,
                         in.buf + sizeof(a));
        mk_buf_release(&in);
        if (r == MK_ENOMEM) {
            snprintf(why, sizeof(why), "reading the image needed more than %lu MiB of memory "
                     "and was stopped", lim.mib);
            return problem_report(ctx, path, why, ret_json, ret_problems);
        }
        return r;
    }
    *ret_problems = a.problems;
    *ret_json = strndup(in.buf + sizeof(a) + a.msg_len, a.json_len);
    mk_buf_release(&in);
    if (!*ret_json)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}
