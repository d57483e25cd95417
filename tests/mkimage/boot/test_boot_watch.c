/* test_boot_watch.c: the serial watcher on transcripts cut at every byte (GRUB's error
 * screens, Solo5's last lines, expected and feared texts) and QEMU's command line for a
 * machine with data disks and NICs. */
#include "boot_private.h"
#include "unit.h"

/* Feeds (text) to a fresh watcher in pieces of (step) bytes; returns how it ended. */
static enum mk_watch_end watch_text(const char *text, size_t step, bool solo5,
                                    const char *const *expects, size_t n_expects,
                                    const char *const *fails, size_t n_fails, struct mk_watch *w)
{
    struct mk_ctx *ctx = mk_ctx_new();
    enum mk_watch_end end = MK_WATCH_GOING;
    size_t len = strlen(text);

    CHECK_OK(ctx, mk_watch_init(ctx, w, expects, n_expects, fails, n_fails, solo5));
    for (size_t i = 0; i < len; i += step)
        end = mk_watch_feed(w, text + i, MK_MIN(step, len - i));
    mk_watch_release(w);
    mk_ctx_free(ctx);
    return end;
}

static const char grub_missing[] =
    "\x1b[H\x1b[J\x1b[1;1H  Booting `unikernel'\r\n\r\n"
    "error: Can't get controller info..\r\n"
    "error: file `/boot/nosuch' not found.\r\n"
    "error: you need to load the kernel first.\r\n\r\n"
    "Press any key to continue...";

static void test_grub_errors(void)
{
    struct mk_watch w;

    for (size_t step = 1; step < sizeof(grub_missing); step += 7) {
        CHECK_EQ(watch_text(grub_missing, step, false, NULL, 0, NULL, 0, &w), MK_WATCH_GRUB_ERROR);
        CHECK_STR(w.detail, "error: file `/boot/nosuch' not found.");
    }
    /* The harmless line alone ends nothing. */
    CHECK_EQ(watch_text("error: Can't get controller info..\r\nMBPROBE: done\n", 3, false, NULL,
                        0, NULL, 0, &w), MK_WATCH_GOING);
    /* A kernel that is not multiboot. */
    CHECK_EQ(watch_text("  Booting `x'\r\n\r\nerror: no multiboot header found.\r\n", 5, false,
                        NULL, 0, NULL, 0, &w), MK_WATCH_GRUB_ERROR);
    CHECK_STR(w.detail, "error: no multiboot header found.");
    /* An error GRUB prints that is not in the list: its "press a key" screen still ends it. */
    CHECK_EQ(watch_text("error: something new.\r\n\r\nPress any key to continue...", 4, false,
                        NULL, 0, NULL, 0, &w), MK_WATCH_GRUB_ERROR);
    CHECK_STR(w.detail, "error: something new.");
    /* GRUB's prompts, which wait for a command. */
    CHECK_EQ(watch_text("error: unknown filesystem.\r\nEntering rescue mode...\r\ngrub rescue> ",
                        2, false, NULL, 0, NULL, 0, &w), MK_WATCH_GRUB_ERROR);
    CHECK_STR(w.detail, "error: unknown filesystem.");
    CHECK_EQ(watch_text("\x1b[H\x1b[Jgrub> ", 1, false, NULL, 0, NULL, 0, &w),
             MK_WATCH_GRUB_ERROR);
    CHECK_STR(w.detail, "GRUB stopped at its 'grub' prompt");
    /* A prompt in the middle of a line a kernel prints is not GRUB's. */
    CHECK_EQ(watch_text("say grub> to me\n", 3, false, NULL, 0, NULL, 0, &w), MK_WATCH_GOING);
}

/* Transcripts of GRUB 2.06 with our templates' lines around `boot`. */
static const char handover_kernel_says[] =
    "\x1b[H\x1b[J\x1b[1;1H  Booting `unikernel'\n\r\n\r"
    "unikernel-mkimage: starting the kernel\n\r"
    "error: Can't get controller info..\n\r"
    "MBPROBE: error: no multiboot header found\n"
    "MBPROBE: Press any key to continue\n"
    "grub> ";
static const char handover_load_failed[] =
    "  Booting `x'\n\r\n\rerror: module `/boot/m' not found.\n\r"
    "unikernel-mkimage: starting the kernel\n\r"
    "error: you need to load the kernel first.\n\r"
    "unikernel-mkimage: GRUB could not start the kernel\n\r\n\rPress any key to continue...";
static const char handover_boot_failed[] =
    "  Booting `x'\n\r\n\runikernel-mkimage: starting the kernel\n\r"
    "error: out of memory.\n\r"
    "unikernel-mkimage: GRUB could not start the kernel\n\r\n\rPress any key to continue...";

static void test_grub_handover(void)
{
    static const char *const done[] = {"MBPROBE: done"};
    struct mk_watch w;
    char text[sizeof(handover_kernel_says) + 32];

    /* Once GRUB has handed over, what looks like its screens is the kernel's. */
    for (size_t step = 1; step < sizeof(handover_kernel_says); step += 3) {
        CHECK_EQ(watch_text(handover_kernel_says, step, false, NULL, 0, NULL, 0, &w),
                 MK_WATCH_GOING);
        CHECK_EQ(w.kernel_started, 1);
    }
    snprintf(text, sizeof(text), "%sMBPROBE: done\n", handover_kernel_says);
    CHECK_EQ(watch_text(text, 4, false, done, 1, NULL, 0, &w), MK_WATCH_EXPECTED);
    CHECK_EQ(watch_text("unikernel-mkimage: starting the kernel\nSolo5: solo5_exit(2) called\n",
                        5, true, NULL, 0, NULL, 0, &w), MK_WATCH_SOLO5_END);
    CHECK_EQ(w.solo5_code, 2);
    /* An error before the handover line: `boot` will fail, GRUB's screens are still read. */
    for (size_t step = 1; step < sizeof(handover_load_failed); step += 5) {
        CHECK_EQ(watch_text(handover_load_failed, step, false, NULL, 0, NULL, 0, &w),
                 MK_WATCH_GRUB_ERROR);
        CHECK_EQ(w.kernel_started, 0);
        CHECK_STR(w.detail, "error: you need to load the kernel first.");
    }
    /* `boot` itself failed: GRUB's line after it ends the wait with GRUB's error. */
    for (size_t step = 1; step < sizeof(handover_boot_failed); step += 5) {
        CHECK_EQ(watch_text(handover_boot_failed, step, false, NULL, 0, NULL, 0, &w),
                 MK_WATCH_GRUB_ERROR);
        CHECK_STR(w.detail, "error: out of memory.");
    }
    CHECK_EQ(watch_text("unikernel-mkimage: starting the kernel\n\r"
                        "unikernel-mkimage: GRUB could not start the kernel\n\r", 3, false,
                        NULL, 0, NULL, 0, &w), MK_WATCH_GRUB_ERROR);
    CHECK_STR(w.detail, "GRUB could not start the kernel");
    /* Without the handover line (a grub.cfg of someone else's), GRUB's screens count. */
    CHECK_EQ(watch_text("MBPROBE: Press any key to continue\n", 2, false, NULL, 0, NULL, 0, &w),
             MK_WATCH_GRUB_ERROR);
}

static void test_solo5_lines(void)
{
    static const char exit3[] = "            |      ___|\n  __|  _ \\  |  _ \\ __ \\\n"
                                "Solo5: Bindings version v0.9.0\nSolo5: solo5_exit(3) called\n";
    static const char net_abort[] = "Solo5: Virtio net: PCI:00:02 not in manifest\n"
                                    "Solo5: PCI enumeration failed. Aborting.\n";
    static const char assert_abort[] = "Solo5: ABORT: mem.c:42: Assertion `x' failed\n";
    struct mk_watch w;

    for (size_t step = 1; step < sizeof(exit3); step += 5) {
        CHECK_EQ(watch_text(exit3, step, true, NULL, 0, NULL, 0, &w), MK_WATCH_SOLO5_END);
        CHECK_EQ(w.solo5_code, 3);
        CHECK_EQ(w.solo5_aborted, 0);
        CHECK_STR(w.detail, "Solo5: solo5_exit(3) called");
    }
    /* Not a Solo5 guest: its words mean nothing. */
    CHECK_EQ(watch_text(exit3, 4, false, NULL, 0, NULL, 0, &w), MK_WATCH_GOING);
    CHECK_EQ(watch_text(net_abort, 3, true, NULL, 0, NULL, 0, &w), MK_WATCH_SOLO5_END);
    CHECK_EQ(w.solo5_code, 255);
    CHECK_EQ(w.solo5_aborted, 1);
    CHECK_STR(w.detail, "Solo5: Virtio net: PCI:00:02 not in manifest");
    CHECK_EQ(watch_text("ABORT\nSolo5: solo5_abort() called\n", 2, true, NULL, 0, NULL, 0, &w),
             MK_WATCH_SOLO5_END);
    CHECK_STR(w.detail, "Solo5: solo5_abort() called");
    CHECK_EQ(watch_text(assert_abort, 6, true, NULL, 0, NULL, 0, &w), MK_WATCH_SOLO5_END);
    CHECK_EQ(w.solo5_aborted, 1);
    CHECK_STR(w.detail, "Solo5: ABORT: mem.c:42: Assertion `x' failed");
    /* A malformed exit line is not an end. */
    CHECK_EQ(watch_text("Solo5: solo5_exit(x) called\n", 1, true, NULL, 0, NULL, 0, &w),
             MK_WATCH_GOING);
}

static void test_texts(void)
{
    static const char *const both[] = {"listening on", "port 80"};
    static const char *const fails[] = {"PANIC", "OOPS"};
    struct mk_watch w;

    /* Every expected text must appear, in any order, across pieces. */
    CHECK_EQ(watch_text("port 80 ... listening on\n", 1, false, both, 2, NULL, 0, &w),
             MK_WATCH_EXPECTED);
    CHECK_EQ(watch_text("listening on 8080\n", 2, false, both, 2, NULL, 0, &w), MK_WATCH_GOING);
    /* A feared text ends the boot, and says which. */
    CHECK_EQ(watch_text("boot... OOPS at 0x10\nlistening on port 80", 3, false, both, 2, fails,
                        2, &w), MK_WATCH_FAILED_TEXT);
    CHECK_EQ(w.fail_index, 1);
    /* The first event decides: the text came before Solo5's end. */
    CHECK_EQ(watch_text("listening on port 80\nSolo5: solo5_exit(1) called\n", 4, true, both, 2,
                        NULL, 0, &w), MK_WATCH_EXPECTED);
}

static bool has_arg(const struct mk_qemu_cmd *c, const char *arg)
{
    for (size_t i = 0; i < c->argc; i++)
        if (!strcmp(c->argv[i], arg))
            return true;
    return false;
}

static void test_qemu_cmd(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char data[] = "/tmp/test_boot_watch.XXXXXX";
    int fd = mkstemp(data);
    static const char *const extra[] = {"-rtc", "base=utc"};
    struct mk_boot_disk disks[] = {{.path = data, .bus = MK_BUS_VIRTIO_BLK},
                                   {.path = data, .bus = MK_BUS_VIRTIO_SCSI},
                                   {.path = data, .bus = MK_BUS_IDE}};
    struct mk_boot_net nets[] = {{.backend = "user,hostfwd=tcp:127.0.0.1:8080-:80"},
                                 {.backend = "socket,udp=127.0.0.1:5000", .model = "e1000"}};
    struct mk_boot_image img = {.drive_path = "a,b.raw", .format = "raw"};
    struct mk_boot_opts o = {.machine = MK_MACHINE_Q35, .bus = MK_BUS_VIRTIO_SCSI,
                             .disks = disks, .n_disks = 3, .nets = nets, .n_nets = 2,
                             .cpu = "qemu64", .smp = 2, .qemu_args = extra, .n_qemu_args = 2};
    struct mk_qemu_cmd c;

    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(ctx, mk_qemu_cmd_build(ctx, &c, "qemu", &img, MK_ACCEL_TCG, &o));
    CHECK(has_arg(&c, "q35"));
    CHECK(has_arg(&c, "file=a,,b.raw,format=raw,if=none,id=d0,snapshot=on"));
    CHECK(has_arg(&c, "scsi-hd,drive=d0,bus=scsi0.0,bootindex=0"));
    CHECK(has_arg(&c, "virtio-blk-pci,drive=d1"));
    CHECK(has_arg(&c, "scsi-hd,drive=d2,bus=scsi0.0"));
    CHECK(has_arg(&c, "ide-hd,drive=d3"));
    CHECK(has_arg(&c, "user,hostfwd=tcp:127.0.0.1:8080-:80,id=n0"));
    CHECK(has_arg(&c, "virtio-net-pci,netdev=n0,romfile="));
    CHECK(has_arg(&c, "e1000,netdev=n1,romfile="));
    CHECK_STR(c.argv[c.argc - 2], "-rtc");
    CHECK_STR(c.argv[c.argc - 1], "base=utc");
    CHECK(c.argv[c.argc] == NULL);
    CHECK_EQ(c.virtio_net, 1);
    CHECK_EQ(c.virtio_blk, 1);
    CHECK_EQ(c.boot_virtio_blk, 0);
    size_t scsi = 0;
    for (size_t i = 0; i < c.argc; i++)
        scsi += !strcmp(c.argv[i], "virtio-scsi-pci,id=scsi0");
    CHECK_EQ(scsi, 1);
    mk_qemu_cmd_release(&c);

    /* An MTU goes on virtio-net NICs; another model cannot take one. */
    o.nic_mtu = 9000;
    o.n_nets = 1;
    CHECK_OK(ctx, mk_qemu_cmd_build(ctx, &c, "qemu", &img, MK_ACCEL_TCG, &o));
    CHECK(has_arg(&c, "virtio-net-pci,netdev=n0,romfile=,host_mtu=9000"));
    mk_qemu_cmd_release(&c);
    o.nets = nets + 1;
    CHECK_FAIL(ctx, mk_qemu_cmd_build(ctx, &c, "qemu", &img, MK_ACCEL_TCG, &o), MK_EINVAL,
               "not e1000");
    mk_qemu_cmd_release(&c);
    /* A data disk that is not there is named. */
    o.n_nets = 0;
    disks[1].path = "/nonexistent/data.raw";
    CHECK_FAIL(ctx, mk_qemu_cmd_build(ctx, &c, "qemu", &img, MK_ACCEL_TCG, &o), MK_ENOTFOUND,
               "/nonexistent/data.raw");
    mk_qemu_cmd_release(&c);
    unlink(data);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_grub_errors), UNIT_TEST(test_grub_handover), UNIT_TEST(test_solo5_lines),
          UNIT_TEST(test_texts),
          UNIT_TEST(test_qemu_cmd))
