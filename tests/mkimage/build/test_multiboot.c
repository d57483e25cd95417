/* test_multiboot.c: multiboot header parsing and kernel file checks. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "multiboot.h"
#include "unit.h"

#define MB1 0x1badb002u
#define MB2 0xe85250d6u

static uint8_t buf[40960];
static char why[256];
static struct mk_kernel_info info;

static void put_v1(size_t off, uint32_t flags)
{
    mk_put_le32(buf + off, MB1);
    mk_put_le32(buf + off + 4, flags);
    mk_put_le32(buf + off + 8, (uint32_t)-(MB1 + flags));
}

/* a.out kludge fields after a v1 header at (off). */
static void put_kludge(size_t off, uint32_t header_addr, uint32_t load_addr, uint32_t load_end,
                       uint32_t bss_end, uint32_t entry)
{
    put_v1(off, 0x10003);
    mk_put_le32(buf + off + 12, header_addr);
    mk_put_le32(buf + off + 16, load_addr);
    mk_put_le32(buf + off + 20, load_end);
    mk_put_le32(buf + off + 24, bss_end);
    mk_put_le32(buf + off + 28, entry);
}

/* A v2 header at (off) with (ntags) 8-byte tags of the given types/flags, then the end tag. */
static void put_v2(size_t off, uint32_t arch, const uint16_t *tags, size_t ntags)
{
    uint32_t len = 16 + 8 * (uint32_t)ntags + 8;
    mk_put_le32(buf + off, MB2);
    mk_put_le32(buf + off + 4, arch);
    mk_put_le32(buf + off + 8, len);
    mk_put_le32(buf + off + 12, (uint32_t)-(MB2 + arch + len));
    size_t p = off + 16;
    for (size_t i = 0; i < ntags; i++, p += 8) {
        mk_put_le16(buf + p, tags[2 * i]);
        mk_put_le16(buf + p + 2, tags[2 * i + 1]);
        mk_put_le32(buf + p + 4, 8);
    }
    mk_put_le32(buf + p, 0);
    mk_put_le32(buf + p + 4, 8);
}

static int parse(size_t len)
{
    memset(&info, 0xaa, sizeof(info));
    why[0] = '\0';
    return mk_multiboot_parse(buf, len, &info, why, sizeof(why));
}

static void clear(void)
{
    memset(buf, 0, sizeof(buf));
}

static void test_v1(void)
{
    clear();
    CHECK_EQ(parse(8192), MK_OK);
    CHECK_EQ(info.multiboot, 0);
    put_v1(4096, 3);
    CHECK_EQ(parse(8192), MK_OK);
    CHECK_EQ(info.multiboot, 1);
    CHECK_EQ(info.header_offset, 4096);
    CHECK_EQ(info.flags, 3);
    CHECK_EQ(info.aout_kludge, 0);
    CHECK_EQ(info.is_elf, 0);
    /* Optional high bits are fine; required bits 3-15 are not. */
    clear();
    put_v1(0, 0x00ff0007 & ~0x10000u);
    CHECK_EQ(parse(64), MK_OK);
    CHECK_EQ(info.multiboot, 1);
    put_v1(0, 0x8);
    CHECK_EQ(parse(64), MK_EFORMAT);
    CHECK(strstr(why, "requires features") != NULL);
    /* Video mode type must be 0 or 1. */
    clear();
    put_v1(0, 0x4);
    mk_put_le32(buf + 32, 2);
    CHECK_EQ(parse(64), MK_EFORMAT);
    CHECK(strstr(why, "video mode type 2") != NULL);
}

static void test_v1_bad(void)
{
    clear();
    put_v1(100, 3);
    mk_put_le32(buf + 108, 0x12345678);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "bad checksum") != NULL);
    CHECK_EQ(info.multiboot, 0);

    clear();
    put_v1(102, 3);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "offset 102 is not 4-byte aligned") != NULL);

    clear();
    put_v1(8192, 3);
    CHECK_EQ(parse(16384), MK_EFORMAT);
    CHECK(strstr(why, "beyond the first 8 KiB") != NULL);
    /* The 12 fixed bytes must lie inside the window (GRUB and grub-file agree). */
    clear();
    put_v1(8180, 3);
    CHECK_EQ(parse(16384), MK_OK);
    CHECK_EQ(info.multiboot, 1);
    clear();
    put_v1(8184, 3);
    CHECK_EQ(parse(16384), MK_EFORMAT);
    CHECK(strstr(why, "offset 8184 is beyond the first 8 KiB") != NULL);

    /* A bad candidate is passed over when a good header follows, as GRUB does. */
    clear();
    put_v1(0, 3);
    mk_put_le32(buf + 8, 1);
    put_v1(64, 3);
    CHECK_EQ(parse(8192), MK_OK);
    CHECK_EQ(info.header_offset, 64);

    /* A header cut off by the end of the buffer is not a header. */
    clear();
    put_v1(0, 3);
    CHECK_EQ(parse(8), MK_OK);
    CHECK_EQ(info.multiboot, 0);
}

static void test_kludge(void)
{
    clear();
    put_kludge(32, 0x100020, 0x100000, 0x101000, 0x102000, 0x100040);
    CHECK_EQ(parse(8192), MK_OK);
    CHECK_EQ(info.multiboot, 1);
    CHECK_EQ(info.aout_kludge, 1);
    CHECK_EQ(info.flags, 0x10003);
    /* load_end 0 = the whole file; bss_end 0 = no bss. */
    put_kludge(32, 0x100020, 0x100000, 0, 0, 0x100040);
    CHECK_EQ(parse(8192), MK_OK);

    put_kludge(32, 0x0fffff, 0x100000, 0x101000, 0x102000, 0x100040);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "below load_addr") != NULL);
    put_kludge(32, 0x100040, 0x100000, 0x101000, 0x102000, 0x100040);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "before the start of the file") != NULL);
    put_kludge(32, 0x100020, 0x100000, 0x100000, 0, 0x100040);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "load_end_addr") != NULL);
    put_kludge(32, 0x100020, 0x100000, 0x101000, 0x100800, 0x100040);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "bss_end_addr") != NULL);
    put_kludge(32, 0x100020, 0x100000, 0x101000, 0x102000, 0x200000);
    CHECK_EQ(parse(8192), MK_EFORMAT);
    CHECK(strstr(why, "entry_addr") != NULL);
}

static void test_v2(void)
{
    clear();
    put_v2(8, 0, NULL, 0);
    CHECK_EQ(parse(32768), MK_OK);
    CHECK_EQ(info.multiboot, 2);
    CHECK_EQ(info.header_offset, 8);
    CHECK_EQ(info.aout_kludge, 0);

    /* Known tags, an unknown optional one, and the address tag (the v2 kludge). */
    static const uint16_t good[] = {1, 0, 3, 0, 77, 1, 2, 0};
    put_v2(8, 0, good, 4);
    CHECK_EQ(parse(32768), MK_OK);
    CHECK_EQ(info.multiboot, 2);
    CHECK_EQ(info.aout_kludge, 1);

    static const uint16_t unknown[] = {77, 0};
    put_v2(8, 0, unknown, 1);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "tag type 77") != NULL);

    clear();
    put_v2(8, 4, NULL, 0);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "architecture 4") != NULL);

    clear();
    put_v2(12, 0, NULL, 0);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "not 8-byte aligned") != NULL);

    clear();
    put_v2(32768, 0, NULL, 0);
    CHECK_EQ(parse(sizeof(buf)), MK_EFORMAT);
    CHECK(strstr(why, "beyond the first 32 KiB") != NULL);

    /* No end tag inside header_length: overwrite the end tag with a tag of type 1. */
    clear();
    put_v2(0, 0, NULL, 0);
    mk_put_le16(buf + 16, 1);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "no end tag") != NULL);

    /* A tag that claims to run past the header. */
    clear();
    put_v2(0, 0, unknown, 1);
    mk_put_le16(buf + 16, 1);
    mk_put_le32(buf + 20, 4096);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "bad size") != NULL);

    clear();
    put_v2(0, 0, NULL, 0);
    mk_put_le32(buf + 12, 0);
    CHECK_EQ(parse(32768), MK_EFORMAT);
    CHECK(strstr(why, "multiboot2 header at offset 0 has a bad checksum") != NULL);
}

static void test_both(void)
{
    clear();
    put_v1(0, 3);
    put_v2(16, 0, NULL, 0);
    CHECK_EQ(parse(32768), MK_OK);
    CHECK_EQ(info.multiboot, 2);
    /* A broken v2 header does not hide a good v1 header. */
    mk_put_le32(buf + 16 + 12, 0);
    CHECK_EQ(parse(32768), MK_OK);
    CHECK_EQ(info.multiboot, 1);
}

/* Writes a minimal little-endian ELF header for (machine) into buf. */
static void put_elf(int is64, uint16_t machine)
{
    memcpy(buf, "\177ELF", 4);
    buf[4] = is64 ? 2 : 1;
    buf[5] = 1;
    buf[6] = 1;
    mk_put_le16(buf + 16, 2);
    mk_put_le16(buf + 18, machine);
    if (is64) {
        mk_put_le64(buf + 32, 64);
        mk_put_le16(buf + 54, 56);
        mk_put_le16(buf + 56, 1);
    } else {
        mk_put_le32(buf + 28, 52);
        mk_put_le16(buf + 42, 32);
        mk_put_le16(buf + 44, 1);
    }
}

static char tmpdir[] = "/tmp/test_multiboot.XXXXXX";

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(fwrite(data, 1, len, f), len);
        fclose(f);
    }
    return path;
}

static void test_files(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_kernel_info ki;
    char path[512];

    CHECK(mkdtemp(tmpdir) != NULL);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, tmpdir, &ki), MK_EINVAL, "is a directory");
    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, path, &ki), MK_ENOTFOUND, "missing'");
    CHECK_FAIL(ctx, mk_kernel_check(ctx, write_tmp("empty", "", 0), &ki), MK_EFORMAT,
               "empty file");
    CHECK_FAIL(ctx, mk_kernel_check(ctx, "/dev/null", &ki), MK_EINVAL, "not a regular file");

    const char *text = "#!/bin/sh\necho not a kernel\n";
    const char *p = write_tmp("script", text, strlen(text));
    CHECK_FAIL(ctx, mk_kernel_check(ctx, p, &ki), MK_EFORMAT,
               "script': not an ELF file (and no multiboot a.out kludge header)");

    clear();
    put_v1(0, 3);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, write_tmp("rawv1", buf, 4096), &ki), MK_EFORMAT,
               "not an ELF file (and no multiboot a.out kludge header)");
    put_kludge(0, 0x100000, 0x100000, 0x101000, 0x102000, 0x100020);
    CHECK_OK(ctx, mk_kernel_check(ctx, write_tmp("aout", buf, 4096), &ki));
    CHECK_EQ(ki.aout_kludge, 1);
    CHECK_EQ(ki.is_elf, 0);

    clear();
    put_v1(1000, 3);
    mk_put_le32(buf + 1008, 0);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, write_tmp("badsum", buf, 4096), &ki), MK_EFORMAT,
               "badsum': multiboot header at offset 1000 has a bad checksum");

    clear();
    put_elf(0, 3);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, write_tmp("nohdr", buf, 4096), &ki), MK_EFORMAT,
               "nohdr': no multiboot header in the first 8 KiB");
    put_v1(4096, 3);
    CHECK_OK(ctx, mk_kernel_check(ctx, write_tmp("elf32", buf, 8192), &ki));
    CHECK_EQ(ki.is_elf, 1);
    CHECK_EQ(ki.multiboot, 1);

    clear();
    put_elf(1, 62);
    put_v2(4096, 0, NULL, 0);
    CHECK_OK(ctx, mk_kernel_check(ctx, write_tmp("elf64", buf, 8192), &ki));
    CHECK_EQ(ki.is_elf, 2);
    CHECK_EQ(ki.multiboot, 2);

    clear();
    put_elf(0, 40);
    put_v1(4096, 3);
    CHECK_FAIL(ctx, mk_kernel_check(ctx, write_tmp("arm", buf, 8192), &ki), MK_EFORMAT,
               "machine 40");

    CHECK_FAIL(ctx, mk_kernel_check(ctx, "/bin/ls", &ki), MK_EFORMAT,
               "'/bin/ls': no multiboot header in the first 8 KiB");

    const char *names[] = {"empty", "script", "rawv1", "aout", "badsum", "nohdr", "elf32",
                           "elf64", "arm"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    CHECK_EQ(rmdir(tmpdir), 0);
    mk_ctx_free(ctx);
}

/* The probe kernels this build made; CTest runs unit tests in build/tests. */
static void test_probe_kernels(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_kernel_info ki = {0};

    if (access("../examples/mbprobe/mbprobe.elf", F_OK) != 0)
        fprintf(stderr, "  the probe kernels are missing: build the 'mbprobe' target (make all)\n");
    CHECK_OK(ctx, mk_kernel_check(ctx, "../examples/mbprobe/mbprobe.elf", &ki));
    CHECK_EQ(ki.multiboot, 1);
    CHECK_EQ(ki.is_elf, 1);
    CHECK_EQ(ki.aout_kludge, 0);
    CHECK_OK(ctx, mk_kernel_check(ctx, "../examples/mbprobe/mbprobe2.elf", &ki));
    CHECK_EQ(ki.multiboot, 2);
    CHECK_EQ(ki.is_elf, 1);
    CHECK_EQ(ki.flags, 0);
    mk_ctx_free(ctx);
}

/* A gzip-compressed kernel is inflated (up to 256 MiB) chunk by chunk, and a cancelled
 * context stops it. */
static void test_gzip_cancelled(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf out = MK_BUF_INIT;
    char path[] = "/tmp/test_multiboot_gz.XXXXXX";
    int gzip = 0, fd = mkstemp(path);
    gzFile f;

    CHECK(fd >= 0);
    close(fd);
    CHECK((f = gzopen(path, "wb")) != NULL);
    memset(buf, 0x90, sizeof(buf));
    for (int i = 0; f && i < 64; i++)
        CHECK_EQ(gzwrite(f, buf, sizeof(buf)), (int)sizeof(buf));
    CHECK_EQ(f ? gzclose(f) : -1, Z_OK);
    CHECK_OK(ctx, mk_kernel_read(ctx, path, &out, &gzip));
    CHECK_EQ(gzip, 1);
    CHECK_EQ(out.len, 64 * sizeof(buf));
    mk_ctx_cancel(ctx);
    CHECK_FAIL(ctx, mk_kernel_read(ctx, path, &out, &gzip), MK_ECANCELED, "interrupted");
    unlink(path);
    mk_buf_release(&out);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_v1), UNIT_TEST(test_v1_bad), UNIT_TEST(test_kludge), UNIT_TEST(test_v2),
          UNIT_TEST(test_both), UNIT_TEST(test_files), UNIT_TEST(test_gzip_cancelled),
          UNIT_TEST(test_probe_kernels))
