/* test_boot.c: accelerator choice on a fake /dev, /sys and /proc, the serial matcher, QEMU
 * exit statuses, and mk_boot() driving a fake QEMU script. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot_private.h"
#include "unit.h"

static char tmp[256];

static void path_in_tmp(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", tmp, name);

    if (n < 0 || (size_t)n >= size)
        abort();
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[512];
    FILE *f;

    path_in_tmp(path, sizeof(path), name);
    f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void make_tmp(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmp, sizeof(tmp), "%s/test_boot.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp))
        abort();
}

static void remove_tmp(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "  cannot remove %s\n", tmp);
}

/* ---- accelerator choice ---- */

struct fake_host {
    char kvm[512], sys[512], cpuinfo[512];
    struct mk_accel_probe probe;
};

static void fake_host(struct fake_host *h, bool kvm, bool pvm, const char *flags)
{
    char dir[512];

    path_in_tmp(h->kvm, sizeof(h->kvm), "kvm");
    path_in_tmp(h->sys, sizeof(h->sys), "module");
    path_in_tmp(h->cpuinfo, sizeof(h->cpuinfo), "cpuinfo");
    unlink(h->kvm);
    if (kvm)
        write_file("kvm", "", 0600);
    mkdir(h->sys, 0755);
    path_in_tmp(dir, sizeof(dir), "module/kvm_pvm");
    if (pvm)
        mkdir(dir, 0755);
    else
        rmdir(dir);
    {
        char text[512];

        snprintf(text, sizeof(text), "processor\t: 0\nmodel name\t: Fake CPU\n"
                 "flags\t\t: %s\n\nprocessor\t: 1\nflags\t\t: %s\n", flags, flags);
        write_file("cpuinfo", text, 0644);
    }
    h->probe = (struct mk_accel_probe){.kvm_dev = h->kvm, .sys_module = h->sys,
                                       .cpuinfo = h->cpuinfo};
}

static void test_accel_choice(void)
{
    struct fake_host h;
    char reason[128], want[700];

    make_tmp();
    fake_host(&h, false, false, "fpu vme vmx lm");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);
    CHECK(strstr(reason, "does not exist") != NULL);

    /* This machine's case: /dev/kvm opens, but it is the software kvm_pvm. */
    fake_host(&h, true, true, "fpu vme lm hypervisor");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);
    snprintf(want, sizeof(want), "%s is kvm_pvm, too slow for BIOS code", h.kvm);
    CHECK_STR(reason, want);

    /* kvm_pvm wins even when the CPU flags claim vmx. */
    fake_host(&h, true, true, "fpu vmx lm");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);

    fake_host(&h, true, false, "fpu vme vmxx lm svm_lock");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);
    CHECK(strstr(reason, "no vmx or svm") != NULL);

    fake_host(&h, true, false, "fpu vme vmx lm");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_KVM);
    CHECK(strstr(reason, "has vmx") != NULL);

    fake_host(&h, true, false, "fpu svm");
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_KVM);
    CHECK(strstr(reason, "has svm") != NULL);

    /* A /dev/kvm that cannot be opened read-write (here a folder). */
    fake_host(&h, false, false, "vmx");
    mkdir(h.kvm, 0755);
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);
    CHECK(strstr(reason, "cannot be opened") != NULL);
    rmdir(h.kvm);

    /* A missing cpuinfo means no proof of hardware virtualization. */
    fake_host(&h, true, false, "vmx");
    h.probe.cpuinfo = "/nonexistent/cpuinfo";
    CHECK_EQ(mk_accel_choose_at(&h.probe, reason, sizeof(reason)), MK_ACCEL_TCG);

    /* The real host: whatever it is, there is a reason. */
    mk_accel_choose(reason, sizeof(reason));
    CHECK(reason[0] != '\0');
    remove_tmp();
}

static void test_accel_resolve(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct fake_host h;
    enum mk_accel accel = MK_ACCEL_AUTO;
    char reason[128];

    make_tmp();
    fake_host(&h, false, false, "vmx");
    CHECK_FAIL(ctx, mk_accel_resolve(ctx, &h.probe, MK_ACCEL_KVM, &accel, reason,
                                     sizeof(reason)),
               MK_EUNSUPPORTED, "cannot be opened");
    CHECK(strstr(mk_errmsg(ctx), h.kvm) != NULL);
    CHECK_OK(ctx, mk_accel_resolve(ctx, &h.probe, MK_ACCEL_TCG, &accel, reason,
                                   sizeof(reason)));
    CHECK_EQ(accel, MK_ACCEL_TCG);
    CHECK_OK(ctx, mk_accel_resolve(ctx, &h.probe, MK_ACCEL_AUTO, &accel, reason,
                                   sizeof(reason)));
    CHECK_EQ(accel, MK_ACCEL_TCG);

    /* Forcing KVM on kvm_pvm is allowed, with a warning in the reason. */
    fake_host(&h, true, true, "");
    CHECK_OK(ctx, mk_accel_resolve(ctx, &h.probe, MK_ACCEL_KVM, &accel, reason,
                                   sizeof(reason)));
    CHECK_EQ(accel, MK_ACCEL_KVM);
    CHECK(strstr(reason, "kvm_pvm") != NULL);
    CHECK_FAIL(ctx, mk_accel_resolve(ctx, &h.probe, (enum mk_accel)7, &accel, reason,
                                     sizeof(reason)),
               MK_EINVAL, "accelerator");
    CHECK_STR(mk_accel_name(MK_ACCEL_KVM), "kvm");
    CHECK_STR(mk_accel_name(MK_ACCEL_TCG), "tcg");
    remove_tmp();
    mk_ctx_free(ctx);
}

/* ---- the matcher ---- */

static bool feed_split(const char *needle, const char *text, size_t piece)
{
    struct mk_matcher m;
    bool hit = false;
    size_t len = strlen(text);

    if (mk_matcher_init(NULL, &m, needle) < 0)
        return false;
    for (size_t i = 0; i < len && !hit; i += piece)
        hit = mk_matcher_feed(&m, text + i, MK_MIN(piece, len - i));
    mk_matcher_release(&m);
    return hit;
}

static void test_matcher(void)
{
    const char *serial = "GRUB loading\r\nMBPROBE: cmdline='a b'\r\nMBPROBE: done, exiting\r\n";

    for (size_t piece = 1; piece <= strlen(serial); piece++) {
        CHECK(feed_split("MBPROBE: done", serial, piece));
        CHECK(feed_split("'a b'\r\nMBPROBE", serial, piece));
        CHECK(!feed_split("MBPROBE: fail", serial, piece));
    }
    /* Partial matches that fall back into each other. */
    CHECK(feed_split("aab", "aaab", 1));
    CHECK(feed_split("abab", "abaabab", 1));
    CHECK(feed_split("abcabd", "abcabcabd", 2));
    CHECK(!feed_split("abcabd", "abcabcab", 3));
    CHECK(feed_split("x", "x", 1));

    /* Once seen, it stays seen. */
    struct mk_matcher m;
    CHECK_OK(NULL, mk_matcher_init(NULL, &m, "ok"));
    CHECK(!mk_matcher_feed(&m, "o", 1));
    CHECK(mk_matcher_feed(&m, "k", 1));
    CHECK(mk_matcher_feed(&m, "zzz", 3));
    mk_matcher_release(&m);
}

static void test_classify(void)
{
    int code = -1;

    CHECK_EQ(mk_qemu_classify(99, false, &code), MK_QEMU_END_GUEST);
    CHECK_EQ(code, 49);
    CHECK_EQ(mk_qemu_classify(255, true, &code), MK_QEMU_END_GUEST);
    CHECK_EQ(code, 127);
    CHECK_EQ(mk_qemu_classify(0, false, &code), MK_QEMU_END_NORMAL);
    CHECK_EQ(mk_qemu_classify(1, true, &code), MK_QEMU_END_GUEST);
    CHECK_EQ(code, 0);
    /* Status 1 with a message is QEMU's own failure. */
    CHECK_EQ(mk_qemu_classify(1, false, &code), MK_QEMU_END_ERROR);
    CHECK_EQ(mk_qemu_classify(2, true, &code), MK_QEMU_END_ERROR);
    CHECK_EQ(mk_qemu_classify(-1, true, &code), MK_QEMU_END_ERROR);
}

/* ---- mk_boot() with a fake QEMU ---- */

/* Prints its arguments as the serial output, then acts as FAKE_QEMU_MODE says. */
static const char fake_qemu[] =
    "#!/bin/sh\n"
    "echo \"ARGS: $*\"\n"
    "case \"$FAKE_QEMU_MODE\" in\n"
    "exit99) printf 'booting\\nMBPROBE: do'; sleep 0.1; printf 'ne\\n'; exit 99 ;;\n"
    "poweroff) exit 0 ;;\n"
    "hang) echo 'READY'; exec sleep 30 ;;\n"
    "fail) echo 'qemu: could not open disk image' >&2; exit 1 ;;\n"
    "killed) kill -9 $$ ;;\n"
    "esac\n";

struct collect {
    struct mk_buf out;
    struct mk_ctx *cancel_ctx; /* cancelled once READY is seen */
};

static void collect_serial(void *opaque, const char *buf, size_t len)
{
    struct collect *c = opaque;

    mk_buf_add(&c->out, buf, len);
    if (c->cancel_ctx && strstr(c->out.buf, "READY"))
        mk_ctx_cancel(c->cancel_ctx);
}

static int boot_fake(struct mk_ctx *ctx, const char *mode, struct mk_boot_opts *opts,
                     struct mk_boot_result *res, struct collect *c)
{
    static char qemu[512];

    path_in_tmp(qemu, sizeof(qemu), "fake-qemu");
    setenv("FAKE_QEMU_MODE", mode, 1);
    mk_buf_init(&c->out);
    opts->qemu = qemu;
    opts->serial = collect_serial;
    opts->opaque = c;
    if (opts->accel == MK_ACCEL_AUTO)
        opts->accel = MK_ACCEL_TCG;
    return mk_boot(ctx, opts, res);
}

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_boot_fake_qemu(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_boot_result res;
    struct collect c = {.out = MK_BUF_INIT};
    char image[512], comma[512], qcow[512];
    char block[1024] = {0};
    double t0;

    make_tmp();
    write_file("fake-qemu", fake_qemu, 0755);
    memcpy(block + 510, "\x55\xaa", 2);
    path_in_tmp(image, sizeof(image), "disk.raw");
    path_in_tmp(comma, sizeof(comma), "a,b.raw");
    path_in_tmp(qcow, sizeof(qcow), "disk.qcow2");
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(i == 0 ? image : i == 1 ? comma : qcow, "w");
        if (!f)
            abort();
        if (i == 2)
            memcpy(block, "QFI\xfb", 4);
        fwrite(block, 1, sizeof(block), f);
        fclose(f);
    }

    /* The guest exits through isa-debug-exit; the argv is what QEMU needs. */
    struct mk_boot_opts opts = {.image = image, .timeout = 10};
    CHECK_OK(ctx, boot_fake(ctx, "exit99", &opts, &res, &c));
    CHECK_EQ(res.guest_exited, 1);
    CHECK_EQ(res.guest_code, 49);
    CHECK_EQ(res.qemu_status, 99);
    CHECK_EQ(res.matched, 0);
    CHECK_EQ(res.timed_out, 0);
    CHECK_EQ(res.accel, MK_ACCEL_TCG);
    CHECK(strstr(c.out.buf, "-nodefaults -display none -monitor none -no-reboot") != NULL);
    CHECK(strstr(c.out.buf, "-accel tcg -m 128 -serial stdio") != NULL);
    CHECK(strstr(c.out.buf, "-device isa-debug-exit,iobase=0xf4,iosize=0x04") != NULL);
    CHECK(strstr(c.out.buf, ",format=raw,if=none,id=d0,snapshot=on") != NULL);
    CHECK(strstr(c.out.buf, "-device ide-hd,drive=d0,bus=ide.0") != NULL);
    CHECK(strstr(c.out.buf, "-cpu") == NULL);
    CHECK(strstr(c.out.buf, "MBPROBE: done") != NULL);
    mk_buf_release(&c.out);

    /* The text is found across two writes. */
    opts = (struct mk_boot_opts){.image = image, .timeout = 10, .expect = "MBPROBE: done"};
    CHECK_OK(ctx, boot_fake(ctx, "exit99", &opts, &res, &c));
    CHECK_EQ(res.matched, 1);
    CHECK(res.seconds > 0 && res.seconds < 10);
    mk_buf_release(&c.out);

    /* Other buses, memory, a comma in the name, qcow2. */
    opts = (struct mk_boot_opts){.image = comma, .bus = MK_BUS_VIRTIO_SCSI, .mem_mib = 256};
    CHECK_OK(ctx, boot_fake(ctx, "poweroff", &opts, &res, &c));
    CHECK_EQ(res.guest_exited, 0);
    CHECK_EQ(res.qemu_status, 0);
    CHECK(strstr(c.out.buf, "-device virtio-scsi-pci,id=scsi0 -device "
                            "scsi-hd,drive=d0,bus=scsi0.0") != NULL);
    CHECK(strstr(c.out.buf, "-m 256 ") != NULL);
    CHECK(strstr(c.out.buf, "a,,b.raw,format=raw") != NULL);
    mk_buf_release(&c.out);
    opts = (struct mk_boot_opts){.image = qcow, .bus = MK_BUS_VIRTIO_BLK};
    CHECK_OK(ctx, boot_fake(ctx, "poweroff", &opts, &res, &c));
    CHECK(strstr(c.out.buf, "format=qcow2") != NULL);
    CHECK(strstr(c.out.buf, "-device virtio-blk-pci,drive=d0") != NULL);
    mk_buf_release(&c.out);

    /* A match while the guest keeps running: QEMU is stopped. */
    opts = (struct mk_boot_opts){.image = image, .timeout = 20, .expect = "READY"};
    t0 = seconds_now();
    CHECK_OK(ctx, boot_fake(ctx, "hang", &opts, &res, &c));
    CHECK_EQ(res.matched, 1);
    CHECK_EQ(res.qemu_status, -1);
    CHECK(seconds_now() - t0 < 10);
    mk_buf_release(&c.out);

    /* The deadline passes. */
    opts = (struct mk_boot_opts){.image = image, .timeout = 0.5, .expect = "never"};
    CHECK_OK(ctx, boot_fake(ctx, "hang", &opts, &res, &c));
    CHECK_EQ(res.matched, 0);
    CHECK_EQ(res.timed_out, 1);
    CHECK(seconds_now() - t0 < 15);
    mk_buf_release(&c.out);

    /* Cancellation while running. */
    c.cancel_ctx = ctx;
    opts = (struct mk_boot_opts){.image = image, .timeout = 20};
    t0 = seconds_now();
    CHECK_FAIL(ctx, boot_fake(ctx, "hang", &opts, &res, &c), MK_ECANCELED, "interrupted");
    CHECK(seconds_now() - t0 < 10);
    c.cancel_ctx = NULL;
    mk_buf_release(&c.out);
    mk_ctx_free(ctx);
    ctx = mk_ctx_new();

    /* QEMU's own failure, with its message. */
    opts = (struct mk_boot_opts){.image = image};
    CHECK_FAIL(ctx, boot_fake(ctx, "fail", &opts, &res, &c), MK_EBOOT,
               "failed with status 1: qemu: could not open disk image");
    mk_buf_release(&c.out);
    CHECK_FAIL(ctx, boot_fake(ctx, "killed", &opts, &res, &c), MK_EBOOT, "signal 9");
    mk_buf_release(&c.out);

    /* Bad inputs. */
    opts = (struct mk_boot_opts){.image = "/nonexistent/disk.raw"};
    CHECK_FAIL(ctx, boot_fake(ctx, "exit99", &opts, &res, &c), MK_ENOTFOUND,
               "'/nonexistent/disk.raw'");
    mk_buf_release(&c.out);
    opts = (struct mk_boot_opts){.image = image, .timeout = -1};
    CHECK_FAIL(ctx, mk_boot(ctx, &opts, &res), MK_EINVAL, "timeout");
    opts = (struct mk_boot_opts){.image = image, .qemu = "/nonexistent/qemu"};
    CHECK_FAIL(ctx, mk_boot(ctx, &opts, &res), MK_EMISSING, "/nonexistent/qemu");
    {
        char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");

        setenv("PATH", "/nonexistent", 1);
        opts = (struct mk_boot_opts){.image = image, .accel = MK_ACCEL_TCG};
        CHECK_FAIL(ctx, mk_boot(ctx, &opts, &res), MK_EMISSING,
                   "qemu-system-x86_64 not found: install the Debian package "
                   "qemu-system-x86");
        setenv("PATH", old, 1);
        free(old);
    }
    mk_ctx_cancel(ctx);
    opts = (struct mk_boot_opts){.image = image};
    CHECK_FAIL(ctx, boot_fake(ctx, "exit99", &opts, &res, &c), MK_ECANCELED, "interrupted");
    mk_buf_release(&c.out);
    remove_tmp();
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_accel_choice), UNIT_TEST(test_accel_resolve), UNIT_TEST(test_matcher),
          UNIT_TEST(test_classify), UNIT_TEST(test_boot_fake_qemu))
