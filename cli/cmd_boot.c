/* cmd_boot.c: `unikernel-mkimage boot`: boot an image in QEMU and judge it by its serial
 * output or its exit code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char cmd_boot_usage[] =
    "usage: unikernel-mkimage boot IMAGE [OPTIONS]\n"
    "\n"
    "Boots IMAGE (raw, qcow2 or GCE disk.tar.gz, told by its contents) in\n"
    "qemu-system-x86_64 as a BIOS PC and passes its serial console (COM1) through to\n"
    "stdout as it arrives. The image is never modified (QEMU writes to a snapshot); a\n"
    "disk.tar.gz is unpacked to a sparse temporary file first. An isa-debug-exit device\n"
    "sits at port 0xf4: a guest that writes V there ends QEMU with status (V << 1) | 1,\n"
    "and the guest's code V is reported. QEMU is always stopped when this command ends,\n"
    "also on Ctrl-C or SIGTERM.\n"
    "\n"
    "  --expect TEXT           succeed as soon as TEXT appears on the serial console\n"
    "                          (it may span lines); QEMU is then stopped\n"
    "  --timeout SECONDS       give up after this long (default 60)\n"
    "  --accel auto|kvm|tcg    auto (the default) uses KVM only when /dev/kvm is\n"
    "                          hardware virtualization (vmx or svm) and not kvm_pvm, under\n"
    "                          which BIOS and GRUB code crawl; otherwise TCG\n"
    "  --disk-bus BUS          ide (default), virtio-blk or virtio-scsi\n"
    "  --mem MiB               guest memory (default 128)\n"
    "  --log FILE              write the serial output to FILE instead of stdout\n"
    "\n"
    "What was chosen and how the boot ended go to stderr, e.g.\n"
    "  unikernel-mkimage: guest exited with code 49 (QEMU status 99) after 0.6 s (tcg)\n"
    "\n"
    "Exit status: with --expect, 0 when TEXT appeared, 1 when the guest ended or the\n"
    "timeout passed without it. Without --expect, 0 when the guest ended by itself before\n"
    "the timeout (through isa-debug-exit with any code, or QEMU exiting 0 on power-off or\n"
    "a triple fault), 1 on timeout. 1 also when QEMU cannot run or fails, or on Ctrl-C;\n"
    "2 for a command-line error.\n";

struct serial_out {
    FILE *f;
    char last;
};

static void on_serial(void *opaque, const char *buf, size_t len)
{
    struct serial_out *out = opaque;

    if (len == 0)
        return;
    fwrite(buf, 1, len, out->f);
    fflush(out->f);
    out->last = buf[len - 1];
}

static int parse_accel(const char *s, enum mk_accel *ret)
{
    static const struct {
        const char *name;
        enum mk_accel accel;
    } names[] = {{"auto", MK_ACCEL_AUTO}, {"kvm", MK_ACCEL_KVM}, {"tcg", MK_ACCEL_TCG}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name)) {
            *ret = names[i].accel;
            return 0;
        }
    return -1;
}

static int parse_bus(const char *s, enum mk_disk_bus *ret)
{
    static const struct {
        const char *name;
        enum mk_disk_bus bus;
    } names[] = {{"ide", MK_BUS_IDE},
                 {"virtio-blk", MK_BUS_VIRTIO_BLK},
                 {"virtio-scsi", MK_BUS_VIRTIO_SCSI}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name)) {
            *ret = names[i].bus;
            return 0;
        }
    return -1;
}

static int parse_seconds(const char *s, double *ret)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e7)
        return -1;
    *ret = v;
    return 0;
}

static int parse_mem(const char *s, unsigned *ret)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < 8 || v > 1048576)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

static const char *accel_name(enum mk_accel accel)
{
    return accel == MK_ACCEL_KVM ? "kvm" : "tcg";
}

/* "guest exited with code 49 (QEMU status 99)" or "QEMU exited with status 0". */
static void describe_end(const struct mk_boot_result *res, char *buf, size_t size)
{
    if (res->guest_exited)
        snprintf(buf, size, "guest exited with code %d (QEMU status %d)", res->guest_code,
                 res->qemu_status);
    else if (res->qemu_status >= 0)
        snprintf(buf, size, "QEMU exited with status %d", res->qemu_status);
    else
        snprintf(buf, size, "QEMU was stopped");
}

static int report(const struct mk_boot_opts *opts, const struct mk_boot_result *res)
{
    const char *acc = accel_name(res->accel);
    char end[128];

    describe_end(res, end, sizeof(end));
    if (opts->expect && res->matched) {
        fprintf(stderr, "%s: found '%s' after %.1f s (%s)%s%s\n", cli_progname, opts->expect,
                res->seconds, acc, res->guest_exited ? "; " : "",
                res->guest_exited ? end : "");
        return CLI_EXIT_OK;
    }
    if (res->timed_out) {
        if (opts->expect)
            return cli_error("timed out after %.1f s without seeing '%s' (%s); QEMU was "
                             "stopped", res->seconds, opts->expect, acc);
        return cli_error("timed out after %.1f s (%s); QEMU was stopped", res->seconds, acc);
    }
    if (opts->expect)
        return cli_error("the guest ended without printing '%s': %s after %.1f s (%s)",
                         opts->expect, end, res->seconds, acc);
    fprintf(stderr, "%s: %s after %.1f s (%s)\n", cli_progname, end, res->seconds, acc);
    return CLI_EXIT_OK;
}

int cmd_boot(int argc, char **argv)
{
    enum { OPT_EXPECT = 256, OPT_TIMEOUT, OPT_ACCEL, OPT_BUS, OPT_MEM, OPT_LOG };
    static const struct option longopts[] = {
        {"expect", required_argument, NULL, OPT_EXPECT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"accel", required_argument, NULL, OPT_ACCEL},
        {"disk-bus", required_argument, NULL, OPT_BUS},
        {"mem", required_argument, NULL, OPT_MEM},
        {"log", required_argument, NULL, OPT_LOG},
        {NULL, 0, NULL, 0},
    };
    struct mk_boot_opts opts = {.timeout = 60, .mem_mib = 128};
    struct mk_boot_result res;
    struct serial_out out = {.f = stdout, .last = '\n'};
    const char *log_path = NULL;
    struct mk_ctx *ctx;
    int c, r, fd;
    struct stat st;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_EXPECT:
            if (!*optarg)
                return cli_usage_error("boot", "--expect needs a non-empty text");
            opts.expect = optarg;
            break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &opts.timeout) < 0)
                return cli_usage_error("boot", "bad --timeout '%s': expected a positive "
                                       "number of seconds", optarg);
            break;
        case OPT_ACCEL:
            if (parse_accel(optarg, &opts.accel) < 0)
                return cli_usage_error("boot", "bad --accel '%s': expected auto, kvm or tcg",
                                       optarg);
            break;
        case OPT_BUS:
            if (parse_bus(optarg, &opts.bus) < 0)
                return cli_usage_error("boot", "bad --disk-bus '%s': expected ide, "
                                       "virtio-blk or virtio-scsi", optarg);
            break;
        case OPT_MEM:
            if (parse_mem(optarg, &opts.mem_mib) < 0)
                return cli_usage_error("boot", "bad --mem '%s': expected MiB from 8 to "
                                       "1048576", optarg);
            break;
        case OPT_LOG:
            log_path = optarg;
            break;
        case ':':
            return cli_usage_error("boot", "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("boot", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("boot", "no image given");
    if (argc - optind > 1)
        return cli_usage_error("boot", "unexpected argument '%s'", argv[optind + 1]);
    opts.image = argv[optind];

    /* Checked here too so that a wrong name is the only line printed. */
    fd = open(opts.image, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    if (fd < 0)
        return cli_error("cannot open image '%s': %s", opts.image, strerror(errno));
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_error("image '%s' is not a regular file", opts.image);
    }
    close(fd);
    if (log_path) {
        out.f = fopen(log_path, "we");
        if (!out.f)
            return cli_error("cannot create log file '%s': %s", log_path, strerror(errno));
    }

    if (opts.accel == MK_ACCEL_AUTO) {
        char reason[128];

        opts.accel = mk_accel_choose(reason, sizeof(reason));
        fprintf(stderr, "%s: accel: %s (%s)\n", cli_progname, accel_name(opts.accel), reason);
    }
    opts.serial = on_serial;
    opts.opaque = &out;

    ctx = cli_ctx_new(false);
    cli_cancel_on_signals(ctx);
    r = mk_boot(ctx, &opts, &res);
    /* Keeps our own messages off the end of a guest's unfinished line on a terminal. */
    if (!log_path && out.last != '\n' && isatty(STDOUT_FILENO))
        fputc('\n', stdout);
    fflush(stdout);
    if (log_path && fclose(out.f) != 0 && r == 0) {
        mk_ctx_free(ctx);
        return cli_error("cannot write log file '%s': %s", log_path, strerror(errno));
    }
    if (r == MK_ECANCELED)
        r = cli_error("interrupted; QEMU was stopped");
    else if (r < 0)
        r = cli_ctx_error(ctx);
    else
        r = report(&opts, &res);
    mk_ctx_free(ctx);
    return r;
}
