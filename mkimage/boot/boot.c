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
    struct mk_watch watch;
    struct mk_buf err;
    struct pollfd fds[2];
    double start, match_time;
    bool matched; /* the watcher decided: a text, GRUB or Solo5 ended the boot */
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
            if (!run->matched && mk_watch_feed(&run->watch, chunk, (size_t)n)) {
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
    if (opts->machine != MK_MACHINE_PC && opts->machine != MK_MACHINE_Q35)
        return mk_set_error(ctx, MK_EINVAL, "unknown machine type %d", (int)opts->machine);
    if ((opts->n_expects && !opts->expects) || (opts->n_fails && !opts->fails) ||
        (opts->n_disks && !opts->disks) || (opts->n_nets && !opts->nets) ||
        (opts->n_qemu_args && !opts->qemu_args))
        return mk_set_error(ctx, MK_EINVAL, "a list of boot options has a count but no items");
    for (size_t i = 0; i < opts->n_expects; i++)
        if (!opts->expects[i] || !*opts->expects[i])
            return mk_set_error(ctx, MK_EINVAL, "the text to expect is empty");
    for (size_t i = 0; i < opts->n_fails; i++)
        if (!opts->fails[i] || !*opts->fails[i])
            return mk_set_error(ctx, MK_EINVAL, "the text to fail on is empty");
    return MK_OK;
}

/* The watcher's texts to expect: (expect) and (expects) together. */
static int watch_start(struct mk_ctx *ctx, const struct mk_boot_opts *o, struct mk_watch *w)
{
    size_t n = (o->expect ? 1 : 0) + o->n_expects;
    const char **all = calloc(n ? n : 1, sizeof(*all));
    int r;

    if (!all)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    n = 0;
    if (o->expect)
        all[n++] = o->expect;
    for (size_t i = 0; i < o->n_expects; i++)
        all[n++] = o->expects[i];
    r = mk_watch_init(ctx, w, all, n, o->fails, o->n_fails, o->solo5 || o->manifest);
    free(all);
    return r;
}

/* Says before the boot why the unikernel will refuse this machine. */
static void machine_warning(const struct mk_boot_opts *o, const struct mk_qemu_cmd *c,
                            char *out, size_t size)
{
    out[0] = '\0';
    if (o->manifest)
        mk_solo5_check_machine(o->manifest, c->virtio_net, c->virtio_blk, c->boot_virtio_blk,
                               out, size);
    else if (o->solo5 && c->boot_virtio_blk)
        snprintf(out, size, "the boot disk is virtio-blk: a Solo5 unikernel that declares no "
                 "block device aborts at start (before Solo5 0.10 it hangs); boot from ide or "
                 "virtio-scsi");
}

static void record_end(const struct mk_watch *w, struct mk_boot_result *res)
{
    switch (w->end) {
    case MK_WATCH_EXPECTED:
        res->end = MK_BOOT_EXPECTED;
        res->matched = 1;
        break;
    case MK_WATCH_FAILED_TEXT:
        res->end = MK_BOOT_FAIL_TEXT;
        res->fail_index = w->fail_index;
        break;
    case MK_WATCH_GRUB_ERROR:
        res->end = MK_BOOT_GRUB_ERROR;
        break;
    case MK_WATCH_SOLO5_END:
        res->end = MK_BOOT_SOLO5_END;
        break;
    case MK_WATCH_GOING:
        break;
    }
    res->solo5_code = w->solo5_code;
    res->solo5_aborted = w->solo5_aborted;
    snprintf(res->reason, sizeof(res->reason), "%s", w->detail);
}

int mk_boot(struct mk_ctx *ctx, const struct mk_boot_opts *opts, struct mk_boot_result *ret)
{
    struct mk_boot_result res = {.qemu_status = -1, .solo5_code = -1};
    struct mk_boot_image img = {0};
    struct mk_qemu_cmd cmd = {0};
    char warning[768];
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
        (r = mk_qemu_cmd_build(ctx, &cmd, qemu_name, &img, res.accel, opts)) < 0 ||
        (r = watch_start(ctx, opts, &run.watch)) < 0 ||
        (r = mk_check_cancel(ctx)) < 0)
        goto out;
    machine_warning(opts, &cmd, warning, sizeof(warning));
    if (opts->started)
        opts->started(opts->opaque, (const char *const *)cmd.argv, warning);
    if ((r = mk_qemu_spawn(ctx, qemu, (const char *const *)cmd.argv, &q)) < 0)
        goto out;
    run.start = mk_boot_now();
    deadline = run.start + timeout;
    run.fds[0] = (struct pollfd){.fd = q.out_fd, .events = POLLIN};
    run.fds[1] = (struct pollfd){.fd = q.err_fd, .events = POLLIN};
    for (;;) {
        double t = mk_boot_now();
        double limit = run.matched ? run.match_time + BOOT_MATCH_GRACE : deadline;
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
    record_end(&run.watch, &res);
    if (res.timed_out)
        res.end = MK_BOOT_TIMED_OUT;
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
            res.powered_off = 1;
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
    mk_watch_release(&run.watch);
    mk_buf_release(&run.err);
    mk_qemu_cmd_release(&cmd);
    free(qemu);
    mk_boot_image_release(&img);
    return r;
}
