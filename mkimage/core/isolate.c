/* isolate.c: running the parsing of bytes we did not make (someone else's image) in a child
 * process that holds nothing worth taking: no root, no capabilities, no descriptors but the
 * ones it reads, no core dumps, no new privileges, and bounded memory, CPU and time. The
 * libraries that parse images (libext2fs, zlib) are not hardened against hostile input: a
 * crash or a runaway there becomes one finding ("reading the image crashed the reader
 * (Segmentation fault)") instead of a dead tool, and code run through a bug there finds
 * itself as nobody, able to read only what it was handed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mk_private.h"

/* The one place the limits are chosen. MK_INSPECT_LIMITS="MIB:CPU:WALL" changes them (for a
 * machine with less memory, or a test). */
struct mk_isolation_limits mk_isolation_limits(void)
{
    struct mk_isolation_limits l = {4096, 300, 900, true};
    const char *e = getenv("MK_INSPECT_LIMITS");
    unsigned long a, b, c;

    if (e && sscanf(e, "%lu:%lu:%lu", &a, &b, &c) == 3 && a && b && c)
        l = (struct mk_isolation_limits){a, b, c, true};
#if defined(__SANITIZE_ADDRESS__)
    l.memory = false; /* ASan reserves terabytes of address space up front: RLIMIT_DATA */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    l.memory = false;
#endif
#endif
    return l;
}

/* Who the child becomes when we run as root: "nobody", looked up before fork() (NSS is no
 * place for a forked child), else Debian's 65534. */
struct drop_to {
    bool drop;
    uid_t uid;
    gid_t gid;
};

static struct drop_to drop_target(void)
{
    struct drop_to t = {geteuid() == 0, 65534, 65534};
    struct passwd pw, *found = NULL;
    char buf[1024];

    if (t.drop && getpwnam_r("nobody", &pw, buf, sizeof(buf), &found) == 0 && found &&
        found->pw_uid != 0 && found->pw_gid != 0) {
        t.uid = found->pw_uid;
        t.gid = found->pw_gid;
    }
    return t;
}

/* What the child sends first: the work's result and, when it failed, its message. The
 * work's answer follows. */
struct header {
    int r, code;
    size_t msg_len;
};

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

/* close_range() where the kernel has it (5.9), else one close() at a time. */
static int close_fds(unsigned lo, unsigned hi)
{
    struct rlimit rl;

    if (close_range(lo, hi, 0) == 0)
        return 0;
    if (errno != ENOSYS || getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    for (rlim_t fd = lo; fd <= hi && fd < rl.rlim_cur; fd++)
        close((int)fd);
    return 0;
}

static int cmp_fd(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes every descriptor above 2 but the (n) in (keep): whatever else the caller holds
 * (sockets, credentials, outputs) is out of the parser's reach. */
static int close_others(int *keep, size_t n)
{
    unsigned next = 3;

    qsort(keep, n, sizeof(*keep), cmp_fd);
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < (int)next)
            continue;
        if ((unsigned)keep[i] > next && close_fds(next, (unsigned)keep[i] - 1) < 0)
            return -1;
        next = (unsigned)keep[i] + 1;
    }
    return close_fds(next, ~0u);
}

static int capabilities(struct __user_cap_data_struct data[2])
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};

    return (int)syscall(SYS_capget, &h, data);
}

/* Drops root for (t), and every capability whoever we are; then checks that it worked: a
 * drop that did not happen is an error, and the image is never read as root. */
static int drop_privileges(struct mk_ctx *ctx, const struct drop_to *t)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2] = {{0}}, caps[2];
    uid_t ru, eu, su;
    gid_t rg, eg, sg;

    if (t->drop) {
        if (setgroups(0, NULL) < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot drop root's groups");
        if (setresgid(t->gid, t->gid, t->gid) < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot change to group %u",
                                (unsigned)t->gid);
        if (setresuid(t->uid, t->uid, t->uid) < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot change to user %u",
                                (unsigned)t->uid);
    }
    /* Capabilities a non-root caller may hold (file capabilities, ambient ones): none are
     * needed to parse bytes. Lowering them is always allowed. */
    if (capabilities(caps) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read the reader's capabilities");
    if (caps[0].effective | caps[0].permitted | caps[0].inheritable | caps[1].effective |
        caps[1].permitted | caps[1].inheritable) {
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (syscall(SYS_capset, &h, none) < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot drop capabilities");
    }
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
        capabilities(caps) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read back the reader's credentials");
    if (t->drop && (ru != t->uid || eu != t->uid || su != t->uid || rg != t->gid ||
                    eg != t->gid || sg != t->gid || getgroups(0, NULL) != 0 || eu == 0))
        return mk_set_error(ctx, MK_EIO, "the reader still has root's identity after "
                            "dropping it");
    if (caps[0].effective | caps[0].permitted | caps[1].effective | caps[1].permitted)
        return mk_set_error(ctx, MK_EIO, "the reader still has capabilities after dropping "
                            "them");
    return MK_OK;
}

static void limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};

    setrlimit(resource, &rl);
}

/* The private writable memory mapped now (what RLIMIT_DATA counts), in bytes; 0 if unknown. */
static rlim_t data_mapped(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[128];
    unsigned long long kib = 0;

    while (f && fgets(line, sizeof(line), f) && sscanf(line, "VmData: %llu kB", &kib) != 1)
        ;
    if (f)
        fclose(f);
    return (rlim_t)kib << 10;
}

/* In the child: everything it may not keep goes, before the work sees a byte. */
static int confine(struct mk_ctx *ctx, const struct mk_isolated *job, int answer_fd,
                   const struct drop_to *t, struct mk_isolation_limits lim, pid_t parent)
{
    rlim_t mapped = lim.memory ? 0 : data_mapped();
    int keep[17], r;
    size_t n = 0;

    if (job->n_keep_fds > MK_ARRAY_SIZE(keep) - 1)
        return mk_set_error(ctx, MK_EINVAL, "too many descriptors for the reader");
    keep[n++] = answer_fd;
    for (size_t i = 0; i < job->n_keep_fds; i++)
        keep[n++] = job->keep_fds[i];
    if (close_others(keep, n) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot close the reader's descriptors");
    if ((r = drop_privileges(ctx, t)) < 0)
        return mk_error_prefix(ctx, "%s: refusing to read as root", job->what);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no ptrace by other processes of its user */
    limit(RLIMIT_CORE, 0, 0);
    /* SIGXCPU at the limit, which says why; SIGKILL only if that is ignored. */
    limit(RLIMIT_CPU, lim.cpu, lim.cpu + 5);
    if (lim.memory)
        limit(RLIMIT_AS, lim.mib << 20, lim.mib << 20);
    else if (mapped)
        limit(RLIMIT_DATA, mapped + (lim.mib << 20), mapped + (lim.mib << 20));
    /* After the change of user: a change of credentials clears the death signal. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(3);
    return MK_OK;
}

static void child(struct mk_ctx *ctx, const struct mk_isolated *job, int fd,
                  const struct drop_to *t, struct mk_isolation_limits lim, pid_t parent)
{
    struct mk_buf answer = MK_BUF_INIT;
    struct header h = {0};
    int r = confine(ctx, job, fd, t, lim, parent);

    if (r == MK_OK)
        r = job->work(ctx, job->opaque, &answer);
    h.r = r;
    h.code = r < 0 ? ctx->code : 0;
    h.msg_len = r < 0 ? strlen(ctx->msg) : 0;
    if (write_all(fd, &h, sizeof(h)) < 0 || write_all(fd, ctx->msg, h.msg_len) < 0 ||
        (r == MK_OK && write_all(fd, answer.buf, answer.len) < 0))
        _exit(3);
    _exit(0);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads the child's report until it ends, we are cancelled or the deadline passes. */
static int collect(struct mk_ctx *ctx, int fd, double deadline, struct mk_buf *in,
                   bool *timed_out)
{
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        char chunk[65536];
        ssize_t n;
        int r;

        if ((r = mk_check_cancel(ctx)) < 0)
            return r;
        if (now() > deadline) {
            *timed_out = true;
            return MK_OK;
        }
        if (poll(&p, 1, 200) <= 0)
            continue;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return MK_OK;
        /* The child's answer is capped by what it could hold: (in)'s max. */
        if (mk_buf_add(in, chunk, (size_t)n) < 0)
            return mk_set_error(ctx, MK_EIO, "the reader's answer is larger than its memory "
                                "limit");
    }
}

int mk_run_isolated(struct mk_ctx *ctx, const struct mk_isolated *job, struct mk_buf *answer,
                    struct mk_buf *why)
{
    struct mk_isolation_limits lim = mk_isolation_limits();
    struct mk_buf in = MK_BUF_INIT;
    double deadline = now() + (double)lim.wall;
    struct drop_to t = drop_target();
    pid_t parent = getpid(), pid;
    bool timed_out = false;
    int fds[2], status = 0, r;
    struct header h;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot create a pipe");
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return mk_set_errno(ctx, MK_EIO, errno, "cannot start the reader");
    }
    if (pid == 0) {
        close(fds[0]);
        child(ctx, job, fds[1], &t, lim, parent);
    }
    close(fds[1]);
    in.max = (lim.mib << 20) + sizeof(h) + MK_ERRMSG_MAX;
    r = collect(ctx, fds[0], deadline, &in, &timed_out);
    close(fds[0]);
    if (r < 0 || timed_out)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        goto out;
    if (timed_out) {
        r = mk_buf_addf(why, "%s took longer than %lu s and was stopped", job->what, lim.wall);
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
        r = mk_buf_addf(why, "%s used more than %lu s of CPU and was stopped", job->what,
                        lim.cpu);
    } else if (WIFSIGNALED(status)) {
        r = mk_buf_addf(why, "%s crashed the reader (%s)", job->what,
                        strsignal(WTERMSIG(status)));
    } else if (in.len < sizeof(h)) {
        r = mk_buf_addf(why, "%s ended without a report (exit %d)", job->what,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else {
        memcpy(&h, in.buf, sizeof(h));
        if (h.msg_len > MK_ERRMSG_MAX || h.msg_len > in.len - sizeof(h) ||
            (h.r < 0 && in.len != sizeof(h) + h.msg_len) || h.r > 0) {
            r = mk_set_error(ctx, MK_EIO, "the reader sent a broken report");
        } else if (h.r == MK_ENOMEM || h.code == MK_ENOMEM) {
            r = mk_buf_addf(why, "%s needed more than %lu MiB of memory and was stopped",
                            job->what, lim.mib);
        } else if (h.r < 0) {
            r = mk_set_error(ctx, h.code < 0 ? h.code : h.r, "%.*s", (int)h.msg_len,
                             in.buf + sizeof(h));
        } else {
            r = mk_buf_add(answer, in.buf + sizeof(h), in.len - sizeof(h));
        }
    }
    if (r == MK_ENOMEM) /* one of our buffers */
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
out:
    mk_buf_release(&in);
    return r;
}
