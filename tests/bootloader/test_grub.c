/* test_grub.c: GRUB module selection, core.img, the boot.img/diskboot patches, embedding and
 * inspection (with Debian's grub-pc-bin files as the reference). */
#include <fcntl.h>
#include <unistd.h>

#include "disk_private.h"
#include "grub.h"
#include "unit.h"

#define BOOT_IMG MK_GRUB_DEFAULT_DIR "/boot.img"

static const char default_cfg[] =
    "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n"
    "terminal_input serial\n"
    "terminal_output serial\n"
    "set timeout=0\n"
    "menuentry 'unikernel' {\n"
    "\tmultiboot /boot/kernel some args\n"
    "\tmodule /boot/mod1 modargs\n"
    "\tboot\n"
    "}\n";

static const char mb2_cfg[] =
    "serial --unit=0 --speed=115200\n"
    "terminal_input serial; terminal_output serial\n"
    "set timeout=0\n"
    "menuentry \"hermit\" --class os {\n"
    "  multiboot2 /boot/kernel -- \"quoted { brace\"\n"
    "  module2 /boot/mod1\n"
    "  boot\n"
    "}\n";

static char *modules_of(struct mk_ctx *ctx, const char *cfg)
{
    struct mk_buf mods = MK_BUF_INIT;
    if (mk_grub_modules_for_config(ctx, NULL, cfg, &mods) != MK_OK) {
        fprintf(stderr, "  modules_for_config: %s\n", mk_errmsg(ctx));
        return NULL;
    }
    return mk_buf_detach(&mods, NULL);
}

static void test_modules_multiboot(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *m = modules_of(ctx, default_cfg);
    CHECK_STR(m, "biosdisk boot ext2 multiboot normal part_msdos serial terminal");
    free(m);
    m = modules_of(ctx, mb2_cfg);
    CHECK_STR(m, "biosdisk boot ext2 multiboot2 normal part_msdos serial terminal");
    free(m);
    m = modules_of(ctx, "");
    CHECK_STR(m, "biosdisk ext2 normal part_msdos serial terminal");
    free(m);
    mk_ctx_free(ctx);
}

static void test_modules_script(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    /* Commands inside if/then/fi, functions, escapes, comments, ';' lists; words that only
     * look like commands (arguments, comments, quoted text, $variables) add nothing. */
    const char *cfg =
        "# halt would be a command, but this is a comment\n"
        "set msg=\"hello; reboot\"   # sleep 3 here too\n"
        "function greet { echo \"$1\"; }\n"
        "if [ \"$msg\" = x ]; then echo 'a b' ; else sleep 1; fi\n"
        "greet world\n"
        "cmd=halt\n"
        "$cmd\n"
        "ec\\\nho continued\n"
        "menuentry 'x' { echo \\{ braces \\}; boot }\n";
    char *m = modules_of(ctx, cfg);
    CHECK_STR(m, "biosdisk boot echo ext2 normal part_msdos serial sleep terminal test");
    free(m);
    m = modules_of(ctx, "insmod gzio\nls\nunset foo\nsource /x.cfg\n");
    CHECK_STR(m, "biosdisk configfile ext2 ls normal part_msdos serial terminal");
    free(m);
    mk_ctx_free(ctx);
}

static void test_modules_errors(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf mods = MK_BUF_INIT;
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, NULL, "set a=1\n\nfoo bar\n", &mods),
               MK_EBOOT, "grub.cfg line 3: unknown command 'foo'");
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, NULL,
                                               "menuentry 'a' {\n  echo hi\n"
                                               "  chainload +1\n}\n", &mods),
               MK_EBOOT, "grub.cfg line 3: unknown command 'chainload'");
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, NULL, "echo 'open\n", &mods), MK_EBOOT,
               "line 1: unterminated ' quote");
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, NULL, "menuentry x {\n boot\n", &mods),
               MK_EBOOT, "line 1: '{' is never closed");
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, NULL, "boot\n}\n", &mods), MK_EBOOT,
               "line 2: '}' without a matching '{'");
    struct mk_grub_opts nodir = {.grub_dir = "/nonexistent/grub"};
    CHECK_FAIL(ctx, mk_grub_modules_for_config(ctx, &nodir, "boot\n", &mods), MK_EMISSING,
               "GRUB i386-pc modules not found in /nonexistent/grub: install the Debian "
               "package grub-pc-bin");
    mk_buf_release(&mods);
    mk_ctx_free(ctx);
}

static int read_sector_file(const char *path, uint8_t out[512])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, 512);
    close(fd);
    return n == 512 ? 0 : -1;
}

static int is_zero_tail(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* An MBR as sfdisk writes it, with no boot code: signature, one active Linux partition. */
static void hand_mbr(uint8_t mbr[512], uint32_t start, uint32_t count)
{
    memset(mbr, 0, 512);
    mk_put_le32(mbr + 0x1b8, 0x4b554e49);
    uint8_t *e = mbr + 0x1be;
    e[0] = 0x80;
    e[1] = 0xfe;
    e[2] = 0xff;
    e[3] = 0xff;
    e[4] = 0x83;
    e[5] = 0xfe;
    e[6] = 0xff;
    e[7] = 0xff;
    mk_put_le32(e + 8, start);
    mk_put_le32(e + 12, count);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
}

static void test_patch_mbr(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    uint8_t boot[512], mbr[512], orig[512];
    CHECK(read_sector_file(BOOT_IMG, boot) == 0);
    hand_mbr(mbr, 2048, 129024);
    for (int i = 0x03; i < 0x5a; i++)
        mbr[i] = (uint8_t)(i * 7); /* a BPB to keep */
    memcpy(orig, mbr, 512);
    CHECK_OK(ctx, mk_grub_patch_mbr(ctx, mbr, boot, 0x123456789aULL));
    CHECK(!memcmp(mbr + 0x03, orig + 0x03, 0x5a - 0x03));
    CHECK(!memcmp(mbr + 0x1b8, orig + 0x1b8, 0x1fe - 0x1b8));
    CHECK(!memcmp(mbr, boot, 3));
    CHECK(!memcmp(mbr + 0x5a, "\x00\x80", 2));
    CHECK(!memcmp(mbr + 0x5c, "\x9a\x78\x56\x34\x12\x00\x00\x00", 8));
    CHECK_EQ(mbr[0x64], 0xff);
    CHECK_EQ(mbr[0x65], boot[0x65]);
    CHECK_EQ(mbr[0x66], 0x90);
    CHECK_EQ(mbr[0x67], 0x90);
    CHECK(!memcmp(mbr + 0x68, boot + 0x68, 0x1b8 - 0x68));
    CHECK_EQ(mbr[0x1fe], 0x55);
    CHECK_EQ(mbr[0x1ff], 0xaa);

    boot[511] = 0;
    CHECK_FAIL(ctx, mk_grub_patch_mbr(ctx, mbr, boot, 1), MK_EBOOT, "no 55 AA");
    boot[511] = 0xaa;
    boot[0x66] = 0x74;
    CHECK_FAIL(ctx, mk_grub_patch_mbr(ctx, mbr, boot, 1), MK_EBOOT, "not the GRUB 2");
    mk_ctx_free(ctx);
}

static void test_patch_core(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    uint8_t core[3 * 512 + 100];
    memset(core, 0xcc, sizeof(core));
    mk_put_le16(core + 0x1fe, 0x820);
    CHECK_OK(ctx, mk_grub_patch_core(ctx, core, sizeof(core), 5));
    /* {start 6, len 3 (2 full sectors + a partial one), segment 0x820}, zero entry below. */
    CHECK(!memcmp(core + 0x1f4, "\x06\0\0\0\0\0\0\0\x03\x00\x20\x08", 12));
    for (int i = 0x1e8; i < 0x1f4; i++)
        CHECK_EQ(core[i], 0);
    CHECK_EQ(core[0x1e7], 0xcc);
    CHECK_EQ(core[0x200], 0xcc);

    CHECK_OK(ctx, mk_grub_patch_core(ctx, core, 1024, 1));
    CHECK(!memcmp(core + 0x1f4, "\x02\0\0\0\0\0\0\0\x01\x00\x20\x08", 12));
    CHECK_FAIL(ctx, mk_grub_patch_core(ctx, core, 512, 1), MK_EBOOT, "too short");
    mk_put_le16(core + 0x1fe, 0x800);
    CHECK_FAIL(ctx, mk_grub_patch_core(ctx, core, sizeof(core), 1), MK_EBOOT,
               "diskboot sector");
    mk_ctx_free(ctx);
}

static void test_make_core_errors(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf core = MK_BUF_INIT;
    struct mk_grub_opts notool = {.grub_mkimage = "/nonexistent/grub-mkimage"};
    CHECK_FAIL(ctx, mk_grub_make_core(ctx, &notool, default_cfg, &core), MK_EMISSING,
               "grub-mkimage not found: install the Debian package grub-common");
    struct mk_grub_opts nodir = {.grub_dir = "/nonexistent"};
    CHECK_FAIL(ctx, mk_grub_make_core(ctx, &nodir, default_cfg, &core), MK_EMISSING,
               "GRUB i386-pc modules not found in /nonexistent");
    struct mk_grub_opts failing = {.grub_mkimage = "false"};
    CHECK_FAIL(ctx, mk_grub_make_core(ctx, &failing, default_cfg, &core), MK_EBOOT,
               "false failed (status 1)");
    CHECK_EQ(core.len, 0);
    mk_buf_release(&core);
    mk_ctx_free(ctx);
}

/* A 64 MiB store disk with an MBR whose only partition starts at (start). */
static struct mk_disk *mbr_disk(struct mk_ctx *ctx, uint32_t start)
{
    struct mk_disk *disk = NULL;
    uint8_t mbr[512];
    uint64_t size = 64u << 20;
    CHECK_OK(ctx, mk_store_new(ctx, size, &disk));
    if (!disk)
        return NULL;
    hand_mbr(mbr, start, (uint32_t)(size / 512) - start);
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, mbr, sizeof(mbr)));
    return disk;
}

static void test_install_inspect(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf core = MK_BUF_INIT;
    struct mk_grub_report rep;
    uint8_t boot[512], s0[512], before[512];

    CHECK_OK(ctx, mk_grub_make_core(ctx, NULL, default_cfg, &core));
    CHECK(core.len > 100000 && core.len < 300000);
    struct mk_disk *disk = mbr_disk(ctx, 2048);
    if (!disk || core.len == 0)
        goto out;
    CHECK_OK(ctx, mk_disk_read(ctx, disk, 0, before, 512));
    CHECK_OK(ctx, mk_grub_install(ctx, NULL, disk, core.buf, core.len, 2048));

    /* Oracle: the disk holds boot.img (outside the fields) and core.img byte for byte;
     * grub-mkimage's own blocklist is already the one for LBA 1. */
    uint32_t nsec = (uint32_t)((core.len + 511) / 512);
    uint8_t *back = calloc(nsec + 1, 512);
    CHECK_OK(ctx, mk_disk_read(ctx, disk, 512, back, (size_t)nsec * 512 + 512));
    CHECK(!memcmp(back, core.buf, core.len));
    CHECK(is_zero_tail(back + core.len, (size_t)nsec * 512 + 512 - core.len));
    free(back);
    CHECK(read_sector_file(BOOT_IMG, boot) == 0);
    CHECK_OK(ctx, mk_disk_read(ctx, disk, 0, s0, 512));
    CHECK(!memcmp(s0 + 0x68, boot + 0x68, 0x1b8 - 0x68));
    CHECK(!memcmp(s0 + 0x1b8, before + 0x1b8, 0x48));
    CHECK(!memcmp(s0 + 0x5c, "\x01\0\0\0\0\0\0\0\xff", 9));

    memset(&rep, 0xa5, sizeof(rep));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK_STR(rep.problems.buf, "");
    CHECK_EQ(rep.boot_code, 1);
    CHECK_EQ(rep.core_lba, 1);
    CHECK_EQ(rep.boot_drive, 0xff);
    CHECK_EQ(rep.drive_check_nopped, 1);
    CHECK_EQ(rep.core_found, 1);
    CHECK_EQ(rep.core_sectors, nsec);
    CHECK_EQ(rep.n_blocklists, 1);
    CHECK_EQ(rep.blocklist_start, 2);
    CHECK_EQ(rep.blocklist_len, nsec - 1);
    CHECK_EQ(rep.blocklist_segment, 0x820);
    CHECK_EQ(rep.core_compressed_size, mk_get_le32((uint8_t *)core.buf + 0x208));
    CHECK_EQ(rep.core_uncompressed_size, mk_get_le32((uint8_t *)core.buf + 0x20c));
    CHECK(rep.core_uncompressed_size > rep.core_compressed_size);
    mk_buf_release(&rep.problems);

    /* The same disk seen with partition 1 at LBA 100: the blocklist overlaps it. */
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 100, &rep));
    CHECK(strstr(rep.problems.buf, "core.img blocklist runs into partition 1 (LBA 2-") != NULL);
    mk_buf_release(&rep.problems);

    /* An unpatched drive check, and a core.img moved away. */
    s0[0x66] = 0xeb;
    s0[0x67] = 0x05;
    mk_put_le64(s0 + 0x5c, 3000);
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, s0, 512));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK(strstr(rep.problems.buf, "boot.img does not check the drive number") != NULL);
    CHECK(strstr(rep.problems.buf, "core.img at LBA 3000 is inside partition 1") != NULL);
    CHECK_EQ(rep.core_found, 0);
    mk_buf_release(&rep.problems);
    mk_put_le64(s0 + 0x5c, 5);
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, s0, 512));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK(strstr(rep.problems.buf, "core.img not found at LBA 5\n") != NULL);
    mk_buf_release(&rep.problems);
    mk_disk_free(disk);
out:
    mk_buf_release(&core);
    mk_ctx_free(ctx);
}

static void test_install_no_room(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf core = MK_BUF_INIT;
    CHECK_OK(ctx, mk_grub_make_core(ctx, NULL, default_cfg, &core));
    struct mk_disk *disk = mbr_disk(ctx, 63);
    if (!disk || core.len == 0)
        goto out;
    char want[128];
    snprintf(want, sizeof(want), "core.img is %zu sectors but the gap before partition 1 "
             "holds only 62", (core.len + 511) / 512);
    CHECK_FAIL(ctx, mk_grub_install(ctx, NULL, disk, core.buf, core.len, 63), MK_ENOSPC, want);
    CHECK_FAIL(ctx, mk_grub_install(ctx, NULL, disk, core.buf, core.len, 2048), MK_ENOSPC,
               "holds only 62");
    /* More than the 888 sectors boot code can load, in a big gap. */
    size_t big_len = 900 * 512;
    uint8_t *big = calloc(1, big_len);
    memcpy(big, core.buf, 512);
    mk_disk_free(disk);
    disk = mbr_disk(ctx, 2048);
    CHECK_FAIL(ctx, mk_grub_install(ctx, NULL, disk, big, big_len, 2048), MK_ENOSPC,
               "core.img is 900 sectors but GRUB's boot code loads at most 888");
    free(big);
    /* Nothing was written. */
    struct mk_grub_report rep;
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK_STR(rep.problems.buf, "no boot code in the MBR\n");
    mk_buf_release(&rep.problems);
    /* No partition table. */
    uint8_t zero[512] = {0};
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, zero, 512));
    CHECK_FAIL(ctx, mk_grub_install(ctx, NULL, disk, core.buf, core.len, 2048), MK_EBOOT,
               "no partition table");
    mk_disk_free(disk);
out:
    mk_buf_release(&core);
    mk_ctx_free(ctx);
}

static void test_inspect_garbage(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_grub_report rep;
    struct mk_disk *disk = NULL;

    CHECK_OK(ctx, mk_store_new(ctx, 64u << 20, &disk));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK_STR(rep.problems.buf, "no boot code in the MBR\n");
    CHECK_EQ(rep.boot_code, 0);
    mk_buf_release(&rep.problems);

    /* Random sector 0: not GRUB. */
    uint8_t s[512];
    srand(42);
    for (int i = 0; i < 512; i++)
        s[i] = (uint8_t)rand();
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, s, 512));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK(strstr(rep.problems.buf, "not GRUB's boot.img") != NULL);
    mk_buf_release(&rep.problems);

    /* GRUB's boot.img pointing at random sectors and random lists, many times over. */
    uint8_t boot[512], mbr[512];
    CHECK(read_sector_file(BOOT_IMG, boot) == 0);
    hand_mbr(mbr, 2048, 100000);
    for (int round = 0; round < 300; round++) {
        uint8_t m[512], d[512];
        memcpy(m, mbr, 512);
        CHECK_OK(ctx, mk_grub_patch_mbr(ctx, m, boot, (uint64_t)(rand() % 4)));
        if (round % 3 == 0)
            mk_put_le64(m + 0x5c, ((uint64_t)rand() << 32) | (uint64_t)rand());
        for (int i = 0; i < 512; i++)
            d[i] = (uint8_t)rand();
        mk_put_le16(d + 0x1fe, 0x820);
        if (round % 2)
            memset(d, 0, 0x1e8 - 12 * (rand() % 30));
        CHECK_OK(ctx, mk_disk_write(ctx, disk, 512, d, 512));
        CHECK_OK(ctx, mk_disk_write(ctx, disk, 1024, d, 512));
        CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, m, 512));
        memset(&rep, 0, sizeof(rep));
        CHECK_OK(ctx, mk_grub_inspect(ctx, disk, (uint32_t)rand(), &rep));
        CHECK(rep.problems.len > 0);
        mk_buf_release(&rep.problems);
    }
    mk_disk_free(disk);

    /* A disk shorter than the core it points at, and one shorter than a sector. */
    CHECK_OK(ctx, mk_store_new(ctx, 4096, &disk));
    uint8_t m[512];
    hand_mbr(m, 2048, 100);
    CHECK_OK(ctx, mk_grub_patch_mbr(ctx, m, boot, 1));
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, m, 512));
    mk_put_le64(m + 0x5c, 8);
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, m, 512));
    CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
    CHECK(strstr(rep.problems.buf, "core.img not found at LBA 8 (the disk has 8 sectors)"));
    mk_buf_release(&rep.problems);
    mk_disk_free(disk);
    disk = NULL;
    if (mk_store_new(ctx, 100, &disk) == MK_OK) {
        CHECK_OK(ctx, mk_grub_inspect(ctx, disk, 2048, &rep));
        CHECK(strstr(rep.problems.buf, "no boot code in the MBR") != NULL);
        mk_buf_release(&rep.problems);
        mk_disk_free(disk);
    }
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_modules_multiboot), UNIT_TEST(test_modules_script),
          UNIT_TEST(test_modules_errors), UNIT_TEST(test_patch_mbr), UNIT_TEST(test_patch_core),
          UNIT_TEST(test_make_core_errors), UNIT_TEST(test_install_inspect),
          UNIT_TEST(test_install_no_room), UNIT_TEST(test_inspect_garbage))
