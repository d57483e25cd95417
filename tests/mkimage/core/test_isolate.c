/* test_isolate.c: the child that parses what we did not make (mk_run_isolated): who it runs
 * as, what it keeps, and how its crashes and runaways come back. Run as root (as CI does),
 * it checks that root is dropped for nobody before the work runs, and that a drop that
 * cannot happen is an error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

/* What the child saw of itself. */
struct seen {
    uid_t uid[3];
    gid_t gid[3];
    int n_groups;
    uint32_t cap_effective, cap_permitted;
    int no_new_privs, dumpable;
    struct rlimit core, cpu, as, data;
    int kept_open, other_open;
};

struct fds {
    int kept, other;
};

static int report_self(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    const struct fds *f = opaque;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2] = {{0}};
    struct seen s = {0};

    (void)ctx;
    getresuid(&s.uid[0], &s.uid[1], &s.uid[2]);
    getresgid(&s.gid[0], &s.gid[1], &s.gid[2]);
    s.n_groups = getgroups(0, NULL);
    syscall(SYS_capget, &h, caps);
    s.cap_effective = caps[0].effective | caps[1].effective;
    s.cap_permitted = caps[0].permitted | caps[1].permitted;
    s.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    s.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    getrlimit(RLIMIT_CORE, &s.core);
    getrlimit(RLIMIT_CPU, &s.cpu);
    getrlimit(RLIMIT_AS, &s.as);
    getrlimit(RLIMIT_DATA, &s.data);
    s.kept_open = fcntl(f->kept, F_GETFD) >= 0;
    s.other_open = fcntl(f->other, F_GETFD) >= 0;
    return mk_buf_add(answer, &s, sizeof(s));
}

static void test_credentials_and_limits(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf answer = MK_BUF_INIT, why = MK_BUF_INIT;
    struct fds f = {open("/dev/null", O_RDONLY | O_CLOEXEC),
                    open("/dev/null", O_RDONLY | O_CLOEXEC)};
    struct mk_isolated job = {.what = "reading", .keep_fds = &f.kept, .n_keep_fds = 1,
                              .work = report_self, .opaque = &f};
    struct mk_isolation_limits lim = mk_isolation_limits();
    uid_t uid = geteuid() == 0 ? 65534 : getuid();
    gid_t gid = geteuid() == 0 ? 65534 : getgid();
    struct passwd *nobody = geteuid() == 0 ? getpwnam("nobody") : NULL;
    struct seen s;

    if (nobody)
        uid = nobody->pw_uid, gid = nobody->pw_gid;
    CHECK_OK(ctx, mk_run_isolated(ctx, &job, &answer, &why));
    CHECK_STR(why.buf, "");
    CHECK_EQ(answer.len, sizeof(s));
    if (answer.len == sizeof(s)) {
        memcpy(&s, answer.buf, sizeof(s));
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(s.uid[i], uid);
            CHECK_EQ(s.gid[i], gid);
        }
        if (geteuid() == 0)
            CHECK_EQ(s.n_groups, 0);
        CHECK_EQ(s.cap_effective, 0);
        CHECK_EQ(s.cap_permitted, 0);
        CHECK_EQ(s.no_new_privs, 1);
        CHECK_EQ(s.dumpable, 0);
        CHECK_EQ(s.core.rlim_cur, 0);
        CHECK_EQ(s.cpu.rlim_cur, lim.cpu);
        if (lim.memory)
            CHECK_EQ(s.as.rlim_max, lim.mib << 20);
        else /* ASan: (mib) more than was mapped when the child started */
            CHECK(s.data.rlim_max != RLIM_INFINITY && s.data.rlim_max > lim.mib << 20);
        CHECK_EQ(s.kept_open, 1);
        CHECK_EQ(s.other_open, 0);
    }
    if (answer.len == sizeof(s))
        printf("     the reader ran as uid %u\n", (unsigned)s.uid[1]);
    close(f.kept);
    close(f.other);
    mk_buf_release(&answer);
    mk_buf_release(&why);
    mk_ctx_free(ctx);
}

static int fail_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    (void)opaque;
    mk_buf_adds(answer, "not sent");
    return mk_set_error(ctx, MK_EFORMAT, "'x': the bytes are not a disk");
}

static int answer_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    (void)ctx;
    return mk_buf_adds(answer, opaque);
}

static void test_answer_and_error(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf answer = MK_BUF_INIT, why = MK_BUF_INIT;
    struct mk_isolated job = {.what = "reading", .work = answer_work, .opaque = "hello"};

    CHECK_OK(ctx, mk_run_isolated(ctx, &job, &answer, &why));
    CHECK_STR(answer.buf, "hello");
    CHECK_EQ(why.len, 0);
    mk_buf_reset(&answer);
    job.work = fail_work;
    CHECK_FAIL(ctx, mk_run_isolated(ctx, &job, &answer, &why), MK_EFORMAT,
               "'x': the bytes are not a disk");
    CHECK_EQ(answer.len, 0);
    CHECK_EQ(why.len, 0);
    mk_buf_release(&answer);
    mk_buf_release(&why);
    mk_ctx_free(ctx);
}

static int crash_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    (void)ctx, (void)opaque, (void)answer;
    abort();
}

static int sleep_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    (void)ctx, (void)opaque, (void)answer;
    sleep(30);
    return MK_OK;
}

static int spin_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    volatile unsigned long n = 0;

    (void)ctx, (void)opaque, (void)answer;
    for (;;)
        n++;
    return MK_OK;
}

static int hog_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    void *p = malloc(256u << 20);

    (void)opaque, (void)answer;
    if (!p)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    memset(p, 1, 256u << 20);
    free(p);
    return MK_OK;
}

/* Runs (work) under MK_INSPECT_LIMITS=(limits): it must come back as MK_OK and (text). */
static void check_contained(int (*work)(struct mk_ctx *, void *, struct mk_buf *),
                            const char *limits, const char *text)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf answer = MK_BUF_INIT, why = MK_BUF_INIT;
    struct mk_isolated job = {.what = "reading the image", .work = work};

    setenv("MK_INSPECT_LIMITS", limits, 1);
    CHECK_OK(ctx, mk_run_isolated(ctx, &job, &answer, &why));
    unsetenv("MK_INSPECT_LIMITS");
    if (!strstr(why.buf, text)) {
        fprintf(stderr, "  why is \"%s\", expected \"%s\"\n", why.buf, text);
        unit_failed_checks++;
    }
    CHECK(!strchr(why.buf, '\n'));
    mk_buf_release(&answer);
    mk_buf_release(&why);
    mk_ctx_free(ctx);
}

static void test_crash_and_runaways(void)
{
    check_contained(crash_work, "4096:300:900", "reading the image crashed the reader (Aborted)");
    check_contained(sleep_work, "4096:300:1",
                    "reading the image took longer than 1 s and was stopped");
    check_contained(spin_work, "4096:1:30",
                    "reading the image used more than 1 s of CPU and was stopped");
    if (mk_isolation_limits().memory)
        check_contained(hog_work, "64:300:900",
                        "reading the image needed more than 64 MiB of memory and was stopped");
}

static int nothing_work(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer)
{
    (void)ctx, (void)opaque;
    return mk_buf_adds(answer, "read as root");
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

    if (fd < 0)
        return -1;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok ? 0 : -1;
}

/* Root in a user namespace that maps nobody's uid to nothing: the drop cannot happen, and
 * the work must not run. */
static void test_failed_drop_is_an_error(void)
{
    pid_t pid;
    int status = 0;

    if (geteuid() != 0) {
        printf("     (not root: nothing to drop)\n");
        return;
    }
    pid = fork();
    if (pid == 0) {
        struct mk_ctx *ctx = mk_ctx_new();
        struct mk_buf answer = MK_BUF_INIT, why = MK_BUF_INIT;
        struct mk_isolated job = {.what = "reading the image", .work = nothing_work};
        int r;

        if (unshare(CLONE_NEWUSER) < 0 || write_file("/proc/self/setgroups", "deny") < 0 ||
            write_file("/proc/self/uid_map", "0 0 1") < 0 ||
            write_file("/proc/self/gid_map", "0 0 1") < 0)
            _exit(77);
        r = mk_run_isolated(ctx, &job, &answer, &why);
        if (r < 0 && strstr(mk_errmsg(ctx), "reading the image: refusing to read as root") &&
            !answer.len && !why.len)
            _exit(0);
        fprintf(stderr, "  r=%d \"%s\" answer \"%s\" why \"%s\"\n", r, mk_errmsg(ctx),
                answer.buf, why.buf);
        _exit(1);
    }
    CHECK(pid > 0);
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        printf("     (no user namespaces here: not checked)\n");
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

UNIT_MAIN(UNIT_TEST(test_credentials_and_limits), UNIT_TEST(test_answer_and_error),
          UNIT_TEST(test_crash_and_runaways), UNIT_TEST(test_failed_drop_is_an_error))
