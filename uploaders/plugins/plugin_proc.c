/* plugin_proc.c: an external uploader's process: starting it with its pipes, feeding it
 * while reading its stdout (the result) and stderr (progress and messages), and reaping it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin_private.h"

extern char **environ;

#define OUT_MAX (1u << 20)
#define POLL_MS 200

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Keeps a pipe end above the descriptors the child is given (0-3), so that they stay clear
 * of the descriptors a parent started without stdin or stdout reuses. */
static int make_pipe(int ends[2])
{
    int raw[2];

    ends[0] = ends[1] = -1;
    if (pipe2(raw, O_CLOEXEC) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        ends[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        close(raw[i]);
    }
    if (ends[0] < 0 || ends[1] < 0) {
        close_fd(&ends[0]);
        close_fd(&ends[1]);
        return -1;
    }
    return 0;
}

/* The environment with (extra) "K=V" strings replacing any inherited K. The strings are
 * borrowed; only the array is to be freed. */
static char **make_env(const char *const *extra)
{
    size_t n = 0, m = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    while (extra[m])
        m++;
    env = calloc(n + m + 1, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;

        for (size_t j = 0; j < m && !replaced; j++) {
            size_t len = strcspn(extra[j], "=") + 1;
            replaced = !strncmp(environ[i], extra[j], len);
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)extra[j];
    return env;
}

static void proc_init(struct mk_plugin_proc *pr, const struct mk_plugin *p)
{
    memset(pr, 0, sizeof(*pr));
    pr->plugin = p;
    pr->in_fd = pr->data_fd = pr->out_fd = pr->err_fd = -1;
    mk_buf_init(&pr->out);
}

int mk_plugin_spawn(struct mk_ctx *ctx, const struct mk_plugin *p, const char *verb,
                    const char *const *env, bool with_input, struct mk_plugin_proc *pr)
{
    const char *extra[16] = {"UNIKERNEL_MKIMAGE_UPLOADER_PROTOCOL=1"};
    int in[2] = {-1, -1}, data[2] = {-1, -1}, out[2], err[2];
    char *const argv[] = {p->path, (char *)verb, NULL};
    char **envp;
    size_t n = 1;
    int rc;

    proc_init(pr, p);
    for (size_t i = 0; env && env[i] && n + 1 < MK_ARRAY_SIZE(extra); i++)
        extra[n++] = env[i];
    if ((with_input && (make_pipe(in) < 0 || make_pipe(data) < 0)) || make_pipe(out) < 0) {
        rc = errno;
        goto fail_pipes;
    }
    if (make_pipe(err) < 0) {
        rc = errno;
        close_fd(&out[0]);
        close_fd(&out[1]);
        goto fail_pipes;
    }
    envp = make_env(extra);
    /* Its own process group, so that stopping it stops whatever it started (a `cat <&3`
     * must not finish writing a truncated artefact after its script was killed); and it
     * dies with us, so that a killed push leaves no uploader behind. */
    int child_fds[] = {in[0], out[1], err[1], data[0]};
    rc = envp ? mk_spawn((const char *const *)argv, envp, child_fds, 4, true, &pr->pid) : ENOMEM;
    free(envp);
    close_fd(&in[0]);
    close_fd(&data[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    pr->in_fd = in[1];
    pr->data_fd = data[1];
    pr->out_fd = out[0];
    pr->err_fd = err[0];
    if (rc) {
        pr->pid = 0;
        mk_plugin_stop(ctx, pr, 0);
        return mk_set_errno(ctx, MK_EMISSING, rc, "cannot run %s", p->path);
    }
    /* Non-blocking, so that one poll loop serves all four pipes without deadlock. */
    int fds[] = {pr->in_fd, pr->data_fd, pr->out_fd, pr->err_fd};
    for (size_t i = 0; i < MK_ARRAY_SIZE(fds); i++)
        if (fds[i] >= 0)
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    if (pr->data_fd >= 0)
        fcntl(pr->data_fd, F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; failure is harmless */
    return MK_OK;
fail_pipes:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&data[i]);
    }
    return mk_set_errno(ctx, MK_EIO, rc, "cannot create a pipe for %s", p->path);
}

static bool parse_u64(const char **s, uint64_t *ret)
{
    uint64_t v = 0;
    const char *p = *s;

    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *ret = v;
    return true;
}

/* One line of the plugin's stderr: "progress DONE TOTAL", "warning: TEXT", or information. */
static void on_line(struct mk_ctx *ctx, struct mk_plugin_proc *pr)
{
    char *l = pr->line;
    size_t n = pr->line_len;
    const char *p = l + 9;
    uint64_t done, total;

    pr->line_len = 0;
    if (n && l[n - 1] == '\r')
        n--;
    l[n] = '\0';
    if (!n)
        return;
    if (!strncmp(l, "progress ", 9) && parse_u64(&p, &done) && *p++ == ' ' &&
        parse_u64(&p, &total) && !*p) {
        mk_progress(ctx, pr->own_progress ? "upload" : "plugin", done, total);
        return;
    }
    if (!strncmp(l, "warning: ", 9))
        mk_log(ctx, MK_LOG_WARN, "%s: %s", pr->plugin->name, l + 9);
    else
        mk_log(ctx, MK_LOG_INFO, "%s: %s", pr->plugin->name, l);
    snprintf(pr->last_line, sizeof(pr->last_line), "%.255s",
             !strncmp(l, "error: ", 7) ? l + 7 : l);
}

/* Reads what is there on (*fd); closes it at end of file. */
static void drain(struct mk_ctx *ctx, struct mk_plugin_proc *pr, int *fd)
{
    char chunk[16384];
    ssize_t n = read(*fd, chunk, sizeof(chunk));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (fd == &pr->err_fd && pr->line_len)
            on_line(ctx, pr);
        close_fd(fd);
        return;
    }
    if (fd == &pr->out_fd) {
        size_t room = OUT_MAX - MK_MIN(pr->out.len, OUT_MAX);

        if ((size_t)n > room)
            pr->out_overflow = true;
        if (mk_buf_add(&pr->out, chunk, MK_MIN((size_t)n, room)) < 0)
            pr->out_overflow = true;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            on_line(ctx, pr);
            continue;
        }
        if (pr->line_len + 1 >= sizeof(pr->line))
            on_line(ctx, pr);
        pr->line[pr->line_len++] = chunk[i];
    }
}

static void poll_outputs(struct mk_ctx *ctx, struct mk_plugin_proc *pr, int wfd, short *wrev)
{
    struct pollfd fds[3] = {
        {.fd = pr->out_fd, .events = POLLIN},
        {.fd = pr->err_fd, .events = POLLIN},
        {.fd = wfd, .events = POLLOUT},
    };

    *wrev = 0;
    if (poll(fds, 3, POLL_MS) <= 0)
        return;
    if (fds[0].revents)
        drain(ctx, pr, &pr->out_fd);
    if (fds[1].revents)
        drain(ctx, pr, &pr->err_fd);
    *wrev = fds[2].revents;
}

int mk_plugin_pump(struct mk_ctx *ctx, struct mk_plugin_proc *pr, int *wfd, const void *buf,
                   size_t len)
{
    const uint8_t *p = buf;
    sigset_t pipe_set, old;
    int r = MK_OK;

    /* A plugin that stops reading must give us EPIPE, not kill us with SIGPIPE. The signal
     * is thread-directed, so blocking it here and taking it back below leaves the process
     * disposition alone. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    while (len && *wfd >= 0) {
        short wrev;
        ssize_t n;

        if ((r = mk_check_cancel(ctx)) < 0)
            break;
        poll_outputs(ctx, pr, *wfd, &wrev);
        if (!wrev)
            continue;
        n = write(*wfd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EPIPE) {
            if (!sigismember(&old, SIGPIPE))
                sigtimedwait(&pipe_set, NULL, &(struct timespec){0});
            close_fd(wfd);
            r = MK_PLUGIN_EPIPE;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot write to %s", pr->plugin->path);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* 1 once reaped with its outputs closed, 0 when (deadline) passed, MK_ECANCELED. */
static int wait_until(struct mk_ctx *ctx, struct mk_plugin_proc *pr, double deadline,
                      bool cancellable)
{
    while (pr->pid || pr->out_fd >= 0 || pr->err_fd >= 0) {
        short wrev;

        if (cancellable && ctx && ctx->cancelled)
            return MK_ECANCELED;
        if (deadline > 0 && now() >= deadline)
            return 0;
        if (pr->out_fd >= 0 || pr->err_fd >= 0)
            poll_outputs(ctx, pr, -1, &wrev);
        if (pr->pid) {
            pid_t w = waitpid(pr->pid, &pr->status, WNOHANG);

            if (w == pr->pid || (w < 0 && errno == ECHILD))
                pr->pid = 0;
            else if (pr->out_fd < 0 && pr->err_fd < 0)
                nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
        }
    }
    return 1;
}

int mk_plugin_wait(struct mk_ctx *ctx, struct mk_plugin_proc *pr, double timeout,
                   bool cancellable)
{
    int r = wait_until(ctx, pr, timeout > 0 ? now() + timeout : 0, cancellable);

    if (r == MK_ECANCELED)
        return mk_check_cancel(ctx);
    if (r == 0) {
        mk_plugin_stop(ctx, pr, 0);
        return mk_set_error(ctx, MK_ETIMEOUT, "%s did not finish within %.0f seconds",
                            pr->plugin->path, timeout);
    }
    return MK_OK;
}

void mk_plugin_stop(struct mk_ctx *ctx, struct mk_plugin_proc *pr, double grace)
{
    /* The signal first, then end of file on its input: a plugin must not take a stream cut
     * short for a complete artefact. */
    if (pr->pid && grace > 0) {
        kill(-pr->pid, SIGTERM);
        close_fd(&pr->in_fd);
        close_fd(&pr->data_fd);
        wait_until(ctx, pr, now() + grace, false);
    }
    if (pr->pid) {
        kill(-pr->pid, SIGKILL);
        while (waitpid(pr->pid, &pr->status, 0) < 0 && errno == EINTR)
            ;
        pr->pid = 0;
    }
    close_fd(&pr->in_fd);
    close_fd(&pr->data_fd);
    close_fd(&pr->out_fd);
    close_fd(&pr->err_fd);
}
