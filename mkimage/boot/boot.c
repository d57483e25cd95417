/* boot.c: booting a disk image in QEMU with its serial console captured, until a text
 * appears, the guest exits, the deadline passes or the caller cancels. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot_private.h"

#define BOOT_DEFAULT_TIMEOUT 60.0
#define BOOT_DEFAULT_MEM 128u
#define BOOT_POLL_MS 50
/* After a match, the guest may be about to exit by itself (a probe prints its last line and
 * then writes to isa-debug-exit): a short grace lets its exit code be reported. */
#define BOOT_MATCH_GRACE 0.2
#define BOOT_STDERR_KEEP 16384u
#define BOOT_STDERR_LINES 3

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
                run->match_time = mk_boot_now();
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
    struct mk_boot_image img = {0};
    struct mk_qemu_cmd cmd = {.drive = MK_BUF_INIT};
    struct mk_qemu_proc q = {.pid = -1, .out_fd = -1, .err_fd = -1};
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
    if ((r = mk_boot_image_prepare(ctx, opts->image, &img)) < 0 ||
        (r = mk_boot_find_program(ctx, qemu_name, &qemu)) < 0 ||
        (r = mk_accel_resolve(ctx, &mk_accel_probe_host, opts->accel, &res.accel,
                              res.accel_reason, sizeof(res.accel_reason))) < 0 ||
        (r = mk_qemu_cmd_build(ctx, &cmd, qemu, &img, res.accel, opts->bus,
                            opts->mem_mib ? opts->mem_mib : BOOT_DEFAULT_MEM)) < 0 ||
        (r = mk_matcher_init(ctx, &run.matcher, opts->expect ? opts->expect : "")) < 0 ||
        (r = mk_check_cancel(ctx)) < 0)
        goto out;
    cmd.argv[0] = qemu_name;
    if ((r = mk_qemu_spawn(ctx, qemu, cmd.argv, &q)) < 0)
        goto out;
    run.start = mk_boot_now();
    deadline = run.start + timeout;
    run.fds[0] = (struct pollfd){.fd = q.out_fd, .events = POLLIN};
    run.fds[1] = (struct pollfd){.fd = q.err_fd, .events = POLLIN};
    for (;;) {
        double t = mk_boot_now(), limit = run.matched ? run.match_time + BOOT_MATCH_GRACE : deadline;
        int wait_ms = (int)MK_MIN((double)BOOT_POLL_MS, (limit - t) * 1000.0 + 1.0);

        if (ctx && ctx->cancelled)
            break;
        if (t >= limit) {
            res.timed_out = !run.matched;
            break;
        }
        poll(run.fds, 2, MK_MAX(wait_ms, 0));
        pump(&run, 64);
        if (mk_qemu_has_ended(q.pid)) {
            reaped = true;
            /* QEMU is gone, but its last output may still sit in the pipes. */
            pump(&run, SIZE_MAX);
            mk_qemu_reap(q.pid, &wstatus);
            break;
        }
    }
    end = mk_boot_now();
    if (!reaped)
        mk_qemu_stop(q.pid, &wstatus);
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
    mk_boot_image_release(&img);
    return r;
}
