/* boot.c: booting a disk image in QEMU with its serial console captured, until a text
 * appears, the guest exits, the deadline passes or the caller cancels. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot_private.h"
#include "disk_private.h"

#define BOOT_DEFAULT_QEMU "qemu-system-x86_64"
#define BOOT_DEFAULT_TIMEOUT 60.0
#define BOOT_DEFAULT_MEM 128u
#define BOOT_POLL_MS 50
/* After a match, the guest may be about to exit by itself (a probe prints its last line and
 * then writes to isa-debug-exit): a short grace lets its exit code be reported. */
#define BOOT_MATCH_GRACE 0.2
#define BOOT_TERM_GRACE 1.0
#define BOOT_STDERR_KEEP 16384u
#define BOOT_STDERR_LINES 3

/* ---- the streaming matcher ---- */

int mk_matcher_init(struct mk_ctx *ctx, struct mk_matcher *m, const char *needle)
{
    size_t len = strlen(needle), k = 0;

    *m = (struct mk_matcher){.needle = needle, .len = len};
    if (len == 0)
        return MK_OK;
    m->fail = calloc(len, sizeof(*m->fail));
    if (!m->fail)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 1; i < len; i++) {
        while (k > 0 && needle[i] != needle[k])
            k = m->fail[k - 1];
        if (needle[i] == needle[k])
            k++;
        m->fail[i] = k;
    }
    return MK_OK;
}

bool mk_matcher_feed(struct mk_matcher *m, const char *buf, size_t len)
{
    if (m->state == m->len)
        return true;
    for (size_t i = 0; i < len; i++) {
        while (m->state > 0 && buf[i] != m->needle[m->state])
            m->state = m->fail[m->state - 1];
        if (buf[i] == m->needle[m->state] && ++m->state == m->len)
            return true;
    }
    return false;
}

void mk_matcher_release(struct mk_matcher *m)
{
    free(m->fail);
    m->fail = NULL;
}

enum mk_qemu_end mk_qemu_classify(int status, bool qemu_stderr_empty, int *ret_guest_code)
{
    if (status == 0)
        return MK_QEMU_END_NORMAL;
    if (status > 0 && status < 256 && (status & 1) && (status > 1 || qemu_stderr_empty)) {
        *ret_guest_code = status >> 1;
        return MK_QEMU_END_GUEST;
    }
    return MK_QEMU_END_ERROR;
}

/* ---- the image ---- */

struct boot_image {
    char *drive_path;  /* what QEMU opens */
    const char *format;
    char *tmp_dir;     /* holds an unpacked disk.tar.gz, removed afterwards */
};

static void image_release(struct boot_image *img)
{
    if (img->tmp_dir) {
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/disk.raw", img->tmp_dir);

        if (n > 0 && (size_t)n < sizeof(path))
            unlink(path);
        rmdir(img->tmp_dir);
    }
    free(img->drive_path);
    free(img->tmp_dir);
    *img = (struct boot_image){0};
}

/* QEMU reads a GCE archive's disk only after it is unpacked: into a sparse temporary file,
 * so a 10 GiB disk costs only its data. */
static int unpack_targz(struct mk_ctx *ctx, const char *path, struct boot_image *img)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_disk *disk = NULL;
    int r;

    r = mk_disk_open(ctx, path, &disk);
    if (r < 0)
        return r;
    if ((r = mk_make_temp(ctx, "mkimage-boot", true, &b, NULL)) < 0)
        goto out;
    img->tmp_dir = mk_buf_detach(&b, NULL);
    if (mk_buf_addf(&b, "%s/disk.raw", img->tmp_dir) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, b.buf);
    if (r < 0) {
        mk_error_prefix(ctx, "cannot unpack '%s'", path);
        goto out;
    }
    img->drive_path = mk_buf_detach(&b, NULL);
    img->format = "raw";
out:
    mk_buf_release(&b);
    mk_disk_free(disk);
    return r;
}

static int image_prepare(struct mk_ctx *ctx, const char *path, struct boot_image *img)
{
    unsigned char magic[4] = {0};
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                            "cannot open image '%s'", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mk_set_error(ctx, MK_EINVAL, "image '%s' is not a regular file", path);
    }
    n = read(fd, magic, sizeof(magic));
    close(fd);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read image '%s'", path);
    if (st.st_size < 512)
        return mk_set_error(ctx, MK_EFORMAT, "image '%s' is too small to boot (%lld bytes)",
                            path, (long long)st.st_size);
    if (magic[0] == 0x1f && magic[1] == 0x8b)
        return unpack_targz(ctx, path, img);
    img->format = !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
    img->drive_path = strdup(path);
    if (!img->drive_path)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

/* ---- QEMU ---- */

static int find_program(struct mk_ctx *ctx, const char *name, char **ret)
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

/* QEMU's option syntax doubles commas inside a value. */
static int add_escaped(struct mk_buf *b, const char *s)
{
    for (; *s; s++)
        if (mk_buf_add(b, s, 1) < 0 || (*s == ',' && mk_buf_add(b, s, 1) < 0))
            return MK_ENOMEM;
    return MK_OK;
}

#define QEMU_ARGV_MAX 40

struct qemu_cmd {
    const char *argv[QEMU_ARGV_MAX];
    size_t argc;
    char mem[24];
    struct mk_buf drive;
};

static void cmd_add(struct qemu_cmd *c, const char *a)
{
    if (c->argc < QEMU_ARGV_MAX - 1)
        c->argv[c->argc++] = a;
}

static int qemu_cmd_build(struct mk_ctx *ctx, struct qemu_cmd *c, const char *qemu,
                          const struct boot_image *img, enum mk_accel accel,
                          enum mk_disk_bus bus, unsigned mem_mib)
{
    mk_buf_init(&c->drive);
    if (mk_buf_adds(&c->drive, "file=") < 0 || add_escaped(&c->drive, img->drive_path) < 0 ||
        mk_buf_addf(&c->drive, ",format=%s,if=none,id=d0,snapshot=on", img->format) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    snprintf(c->mem, sizeof(c->mem), "%u", mem_mib);
    c->argc = 0;
    cmd_add(c, qemu);
    /* -nodefaults drops VGA and the NIC's option ROM (faster, and nothing the guest did
     * not ask for); -no-reboot turns a triple fault into an exit instead of a loop. */
    cmd_add(c, "-nodefaults");
    cmd_add(c, "-display");
    cmd_add(c, "none");
    cmd_add(c, "-monitor");
    cmd_add(c, "none");
    cmd_add(c, "-no-reboot");
    cmd_add(c, "-machine");
    cmd_add(c, "pc");
    cmd_add(c, "-accel");
    cmd_add(c, accel == MK_ACCEL_KVM ? "kvm" : "tcg");
    cmd_add(c, "-m");
    cmd_add(c, c->mem);
    cmd_add(c, "-serial");
    cmd_add(c, "stdio");
    cmd_add(c, "-device");
    cmd_add(c, "isa-debug-exit,iobase=0xf4,iosize=0x04");
    cmd_add(c, "-drive");
    cmd_add(c, c->drive.buf);
    switch (bus) {
    case MK_BUS_IDE:
        cmd_add(c, "-device");
        cmd_add(c, "ide-hd,drive=d0,bus=ide.0");
        break;
    case MK_BUS_VIRTIO_BLK:
        cmd_add(c, "-device");
        cmd_add(c, "virtio-blk-pci,drive=d0");
        break;
    case MK_BUS_VIRTIO_SCSI:
        cmd_add(c, "-device");
        cmd_add(c, "virtio-scsi-pci,id=scsi0");
        cmd_add(c, "-device");
        cmd_add(c, "scsi-hd,drive=d0,bus=scsi0.0");
        break;
    default:
        return mk_set_error(ctx, MK_EINVAL, "unknown disk bus %d", (int)bus);
    }
    c->argv[c->argc] = NULL;
    return MK_OK;
}

struct qemu_proc {
    pid_t pid;
    int out_fd; /* the serial console */
    int err_fd; /* QEMU's own messages */
};

static int qemu_spawn(struct mk_ctx *ctx, const char *path, const char *const *argv,
                      struct qemu_proc *q)
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
    *q = (struct qemu_proc){.pid = pid, .out_fd = out[0], .err_fd = err[0]};
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

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True once (pid) has ended. It is left a zombie so that its process group id cannot be
 * reused before we have signalled the group. */
static bool has_ended(pid_t pid)
{
    siginfo_t info = {0};

    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid;
}

/* Signals QEMU's group (anything QEMU left behind goes too), then reaps QEMU. */
static void reap(pid_t pid, int *ret_wstatus)
{
    kill(-pid, SIGKILL);
    while (waitpid(pid, ret_wstatus, 0) < 0 && errno == EINTR)
        ;
}

/* Stops QEMU: SIGTERM lets it exit cleanly (and delete its snapshot overlay), SIGKILL
 * follows if it does not within a second. */
static void qemu_stop(pid_t pid, int *ret_wstatus)
{
    double until = now() + BOOT_TERM_GRACE;

    kill(-pid, SIGTERM);
    while (now() < until && !has_ended(pid))
        poll(NULL, 0, 10);
    reap(pid, ret_wstatus);
}

/* Keeps the last BOOT_STDERR_KEEP bytes of QEMU's stderr. */
static void keep_tail(struct mk_buf *b, const char *data, size_t n)
{
    if (n > BOOT_STDERR_KEEP) {
        data += n - BOOT_STDERR_KEEP;
        n = BOOT_STDERR_KEEP;
    }
    if (b->len + n > BOOT_STDERR_KEEP) {
        size_t drop = b->len + n - BOOT_STDERR_KEEP;

        memmove(b->buf, b->buf + drop, b->len - drop);
        b->len -= drop;
        b->buf[b->len] = '\0';
    }
    mk_buf_add(b, data, n);
}

/* The last few non-empty lines of QEMU's stderr, joined with " | " for a one-line
 * message. */
static void stderr_summary(const struct mk_buf *err, char *out, size_t size)
{
    const char *lines[BOOT_STDERR_LINES];
    size_t lens[BOOT_STDERR_LINES], count = 0, used = 0;
    const char *end = err->buf + err->len;

    out[0] = '\0';
    while (end > err->buf && count < BOOT_STDERR_LINES) {
        const char *e = end, *s;

        while (e > err->buf && (e[-1] == '\n' || e[-1] == '\r'))
            e--;
        s = e;
        while (s > err->buf && s[-1] != '\n')
            s--;
        if (e > s) {
            lines[count] = s;
            lens[count++] = (size_t)(e - s);
        }
        end = s;
    }
    for (size_t i = count; i-- > 0 && used < size;) {
        int n = snprintf(out + used, size - used, "%s%.*s", used ? " | " : "", (int)lens[i],
                         lines[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

struct boot_run {
    struct mk_ctx *ctx;
    const struct mk_boot_opts *opts;
    struct mk_matcher matcher;
    struct mk_buf err;
    struct pollfd fds[2];
    double start, match_time;
    bool matched;
};

/* Reads what is ready on QEMU's pipes, at most (max_reads) chunks from each so that a
 * flood of output does not hold off the deadline and cancellation checks. */
static void pump(struct boot_run *run, size_t max_reads)
{
    char chunk[4096];

    for (int i = 0; i < 2; i++) {
        size_t reads = 0;
        ssize_t n = -1;

        if (run->fds[i].fd < 0)
            continue;
        while (reads++ < max_reads && (n = read(run->fds[i].fd, chunk, sizeof(chunk))) > 0) {
            if (i == 1) {
                keep_tail(&run->err, chunk, (size_t)n);
                continue;
            }
            if (run->opts->serial)
                run->opts->serial(run->opts->opaque, chunk, (size_t)n);
            if (run->opts->expect && !run->matched &&
                mk_matcher_feed(&run->matcher, chunk, (size_t)n)) {
                run->matched = true;
                run->match_time = now();
            }
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(run->fds[i].fd);
            run->fds[i].fd = -1;
        }
    }
}

static int check_opts(struct mk_ctx *ctx, const struct mk_boot_opts *opts)
{
    if (!opts || !opts->image)
        return mk_set_error(ctx, MK_EINVAL, "no image to boot");
    if (isnan(opts->timeout) || opts->timeout < 0)
        return mk_set_error(ctx, MK_EINVAL, "the timeout must be a positive number of "
                            "seconds");
    if (opts->expect && !*opts->expect)
        return mk_set_error(ctx, MK_EINVAL, "the text to expect is empty");
    if (opts->bus != MK_BUS_IDE && opts->bus != MK_BUS_VIRTIO_BLK &&
        opts->bus != MK_BUS_VIRTIO_SCSI)
        return mk_set_error(ctx, MK_EINVAL, "unknown disk bus %d", (int)opts->bus);
    return MK_OK;
}

int mk_boot(struct mk_ctx *ctx, const struct mk_boot_opts *opts, struct mk_boot_result *ret)
{
    struct mk_boot_result res = {.qemu_status = -1};
    struct boot_image img = {0};
    struct qemu_cmd cmd = {.drive = MK_BUF_INIT};
    struct qemu_proc q = {.pid = -1, .out_fd = -1, .err_fd = -1};
    struct boot_run run = {.ctx = ctx, .opts = opts, .err = MK_BUF_INIT,
                           .fds = {{.fd = -1}, {.fd = -1}}};
    const char *qemu_name;
    char *qemu = NULL;
    double timeout, deadline, end;
    bool reaped = false;
    int wstatus = 0, r;

    r = check_opts(ctx, opts);
    if (r < 0)
        return r;
    qemu_name = opts->qemu ? opts->qemu : BOOT_DEFAULT_QEMU;
    timeout = opts->timeout > 0 ? opts->timeout : BOOT_DEFAULT_TIMEOUT;
    if ((r = image_prepare(ctx, opts->image, &img)) < 0 ||
        (r = find_program(ctx, qemu_name, &qemu)) < 0 ||
        (r = mk_accel_resolve(ctx, &mk_accel_probe_host, opts->accel, &res.accel,
                              res.accel_reason, sizeof(res.accel_reason))) < 0 ||
        (r = qemu_cmd_build(ctx, &cmd, qemu, &img, res.accel, opts->bus,
                            opts->mem_mib ? opts->mem_mib : BOOT_DEFAULT_MEM)) < 0 ||
        (r = mk_matcher_init(ctx, &run.matcher, opts->expect ? opts->expect : "")) < 0 ||
        (r = mk_check_cancel(ctx)) < 0)
        goto out;
    cmd.argv[0] = qemu_name;
    if ((r = qemu_spawn(ctx, qemu, cmd.argv, &q)) < 0)
        goto out;
    run.start = now();
    deadline = run.start + timeout;
    run.fds[0] = (struct pollfd){.fd = q.out_fd, .events = POLLIN};
    run.fds[1] = (struct pollfd){.fd = q.err_fd, .events = POLLIN};
    for (;;) {
        double t = now(), limit = run.matched ? run.match_time + BOOT_MATCH_GRACE : deadline;
        int wait_ms = (int)MK_MIN((double)BOOT_POLL_MS, (limit - t) * 1000.0 + 1.0);

        if (ctx && ctx->cancelled)
            break;
        if (t >= limit) {
            res.timed_out = !run.matched;
            break;
        }
        poll(run.fds, 2, MK_MAX(wait_ms, 0));
        pump(&run, 64);
        if (has_ended(q.pid)) {
            reaped = true;
            /* QEMU is gone, but its last output may still sit in the pipes. */
            pump(&run, SIZE_MAX);
            reap(q.pid, &wstatus);
            break;
        }
    }
    end = now();
    if (!reaped)
        qemu_stop(q.pid, &wstatus);
    if ((r = mk_check_cancel(ctx)) < 0)
        goto out;
    res.matched = run.matched;
    res.seconds = (run.matched ? run.match_time : res.timed_out ? MK_MIN(end, deadline) : end) -
                  run.start;
    if (reaped && WIFSIGNALED(wstatus)) {
        if (!run.matched) {
            char tail[512];

            stderr_summary(&run.err, tail, sizeof(tail));
            r = mk_set_error(ctx, MK_EBOOT, "%s was killed by signal %d%s%s", qemu_name,
                             WTERMSIG(wstatus), *tail ? ": " : "", tail);
            goto out;
        }
    } else if (reaped) {
        res.qemu_status = WEXITSTATUS(wstatus);
        switch (mk_qemu_classify(res.qemu_status, run.err.len == 0, &res.guest_code)) {
        case MK_QEMU_END_GUEST:
            res.guest_exited = 1;
            break;
        case MK_QEMU_END_NORMAL:
            break;
        case MK_QEMU_END_ERROR:
            if (!run.matched) {
                char tail[768];

                stderr_summary(&run.err, tail, sizeof(tail));
                r = mk_set_error(ctx, MK_EBOOT, "%s failed with status %d%s%s", qemu_name,
                                 res.qemu_status, *tail ? ": " : "", tail);
                goto out;
            }
            break;
        }
    }
    *ret = res;
    r = MK_OK;
out:
    for (int i = 0; i < 2; i++)
        if (run.fds[i].fd >= 0)
            close(run.fds[i].fd);
    mk_matcher_release(&run.matcher);
    mk_buf_release(&run.err);
    mk_buf_release(&cmd.drive);
    free(qemu);
    image_release(&img);
    return r;
}
