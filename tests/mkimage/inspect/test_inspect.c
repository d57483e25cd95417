/* test_inspect.c: inspect's grub.cfg reading, and its reports on built, damaged and garbage
 * disks. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_ext2.h"
#include "inspect_private.h"
#include "mbr.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test_inspect.XXXXXX";

static void parse(const char *cfg, struct mk_cfg_boot *b)
{
    struct mk_ctx *ctx = mk_ctx_new();
    CHECK_OK(ctx, mk_inspect_parse_cfg(ctx, cfg, b));
    mk_ctx_free(ctx);
}

static void test_cfg_simple(void)
{
    struct mk_cfg_boot b;

    parse("serial --unit=0\nterminal_output serial\nmultiboot /boot/kernel a b\n"
          "module /boot/m1 x y\nmodule --nounzip /boot/m2\nboot\nmodule /boot/late\n", &b);
    CHECK_STR(b.kernel, "/boot/kernel");
    CHECK_EQ(b.command, 1);
    CHECK_EQ(b.n_modules, 2);
    if (b.n_modules == 2) {
        CHECK_STR(b.modules[0], "/boot/m1");
        CHECK_STR(b.modules[1], "/boot/m2");
    }
    mk_cfg_boot_release(&b);
}

static void test_cfg_quotes_devices(void)
{
    struct mk_cfg_boot b;

    parse("# multiboot /commented\nset timeout=0\n"
          "menuentry \"unikernel\" --class os {\n"
          "\tmultiboot2 (hd0,msdos1)\"/boot/my kernel\" --x=\"a b\"\n"
          "  module2 '($root)/boot/m' arg # comment\n"
          "}\n"
          "menuentry other {\n  multiboot /boot/other\n  module /boot/other-mod\n}\n", &b);
    CHECK_STR(b.kernel, "/boot/my kernel");
    CHECK_EQ(b.command, 2);
    CHECK_EQ(b.n_modules, 1);
    if (b.n_modules == 1)
        CHECK_STR(b.modules[0], "/boot/m");
    mk_cfg_boot_release(&b);

    parse("multiboot --quirk-bad-kludge /k\\ x; module /m\n", &b);
    CHECK_STR(b.kernel, "/k x");
    CHECK_EQ(b.n_modules, 1);
    mk_cfg_boot_release(&b);
}

static void test_cfg_none_and_garbage(void)
{
    struct mk_cfg_boot b;
    char junk[4096];

    parse("set default=0\nlinux /vmlinuz\n", &b);
    CHECK(b.kernel == NULL);
    mk_cfg_boot_release(&b);
    parse("multiboot\nmultiboot '/unterminated\n", &b);
    CHECK(b.kernel == NULL);
    mk_cfg_boot_release(&b);
    parse("multiboot \\", &b);
    CHECK(b.kernel == NULL);
    mk_cfg_boot_release(&b);
    srand(7);
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(junk) - 1; i++)
            junk[i] = (char)(1 + rand() % 255);
        junk[sizeof(junk) - 1] = '\0';
        if (round % 2)
            memcpy(junk + 100, "\nmultiboot \"", 12);
        parse(junk, &b);
        mk_cfg_boot_release(&b);
    }
}

static void test_has_mb1(void)
{
    uint8_t buf[8192] = {0};

    CHECK(!mk_inspect_has_mb1(buf, sizeof(buf)));
    mk_put_le32(buf + 64, 0x1badb002u);
    mk_put_le32(buf + 68, 3);
    mk_put_le32(buf + 72, (uint32_t)-(0x1badb002u + 3));
    CHECK(mk_inspect_has_mb1(buf, sizeof(buf)));
    CHECK(!mk_inspect_has_mb1(buf, 70));
    mk_put_le32(buf + 72, 0);
    CHECK(!mk_inspect_has_mb1(buf, sizeof(buf)));
}

/* ---- Reports ---- */

static char *path_in_tmp(const char *name)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void write_file(const char *path, const void *data, size_t len, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    close(fd);
}

static int has_problem(json_t *root, const char *text)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(root, "problems"), i, v)
        if (strstr(json_string_value(v), text))
            return 1;
    return 0;
}

/* Inspects (path); returns the parsed report (or NULL) and checks the count matches. */
static json_t *inspect_file(const char *path, unsigned flags)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *text = NULL;
    int problems = -1;
    json_t *root = NULL;

    CHECK_OK(ctx, mk_inspect_path(ctx, path, flags, &text, &problems));
    if (text) {
        root = json_loads(text, 0, NULL);
        CHECK(root != NULL);
        CHECK_EQ(json_array_size(json_object_get(root, "problems")), problems);
    }
    free(text);
    mk_ctx_free(ctx);
    return root;
}

static void test_open_errors(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *text = NULL;
    int problems;

    CHECK_FAIL(ctx, mk_inspect_path(ctx, path_in_tmp("absent"), 0, &text, &problems),
               MK_ENOTFOUND, "absent");
    CHECK_FAIL(ctx, mk_inspect_path(ctx, tmpdir, 0, &text, &problems), MK_EINVAL,
               "is a directory");
    CHECK(text == NULL);
    mk_ctx_free(ctx);
}

static void test_tiny_files(void)
{
    uint8_t sector[512] = {0};
    json_t *r;

    write_file(path_in_tmp("empty"), NULL, 0, 0);
    r = inspect_file(path_in_tmp("empty"), MK_INSPECT_FILES);
    CHECK(r && has_problem(r, "the image is empty"));
    json_decref(r);

    write_file(path_in_tmp("one"), sector, sizeof(sector), sizeof(sector));
    r = inspect_file(path_in_tmp("one"), MK_INSPECT_FILES);
    CHECK(r && has_problem(r, "no MBR signature (55 AA)"));
    json_decref(r);

    write_file(path_in_tmp("odd"), sector, 100, 100);
    r = inspect_file(path_in_tmp("odd"), 0);
    CHECK(r && has_problem(r, "smaller than one sector"));
    json_decref(r);

    /* A lone MBR whose partition points far past the end of a one-sector file. */
    mk_mbr_build(sector, 0x1234, 0x83, 2048, 1u << 20);
    write_file(path_in_tmp("mbr-only"), sector, sizeof(sector), sizeof(sector));
    r = inspect_file(path_in_tmp("mbr-only"), MK_INSPECT_FILES);
    CHECK(r && has_problem(r, "partition 1 extends past the end of the disk"));
    json_decref(r);
}

static void test_garbage(void)
{
    static uint8_t junk[1 << 20];
    json_t *r;

    srand(11);
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rand();
        /* Half the rounds carry an MBR signature so the partition code sees garbage too. */
        if (round % 2) {
            junk[510] = 0x55;
            junk[511] = 0xaa;
        }
        write_file(path_in_tmp("junk"), junk, sizeof(junk), sizeof(junk));
        r = inspect_file(path_in_tmp("junk"), MK_INSPECT_FILES);
        CHECK(r && json_array_size(json_object_get(r, "problems")) > 0);
        json_decref(r);
    }
}

/* A fake multiboot v1 kernel: an ELF ident and a header at offset 64. */
static size_t fake_kernel(uint8_t *buf, size_t size)
{
    memset(buf, 0, size);
    memcpy(buf, "\x7f" "ELF\x01\x01\x01", 7);
    mk_put_le16(buf + 16, 2);
    mk_put_le16(buf + 18, 3);
    mk_put_le32(buf + 20, 1);
    mk_put_le32(buf + 64, 0x1badb002u);
    mk_put_le32(buf + 68, 3);
    mk_put_le32(buf + 72, (uint32_t)-(0x1badb002u + 3));
    return size;
}

/* A 64 MiB disk with an MBR, an ext2 partition holding grub.cfg and a kernel, no GRUB. */
static struct mk_disk *make_disk(struct mk_ctx *ctx, const char *cfg, int with_kernel)
{
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_params p = {.part_off = 1 << 20, .part_size = 63 << 20, .mtime = 0};
    uint8_t sector[512] = {0}, kernel[16384];

    CHECK_OK(ctx, mk_store_new(ctx, 64 << 20, &disk));
    if (!disk)
        return NULL;
    mk_mbr_build(sector, 0xabcd, 0x83, 2048, (63 << 20) / 512);
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, sector, sizeof(sector)));
    memset(p.uuid, 0x42, sizeof(p.uuid));
    CHECK_OK(ctx, mk_ext2_create(ctx, disk, &p, &fs));
    if (!fs)
        return disk;
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/boot/grub"));
    CHECK_OK(ctx, mk_ext2_add_data(ctx, fs, "/boot/grub/grub.cfg", cfg, strlen(cfg), 0644));
    if (with_kernel)
        CHECK_OK(ctx, mk_ext2_add_data(ctx, fs, "/boot/kernel", kernel,
                                       fake_kernel(kernel, sizeof(kernel)), 0644));
    CHECK_OK(ctx, mk_ext2_close(ctx, fs));
    return disk;
}

static json_t *inspect_disk(struct mk_ctx *ctx, struct mk_disk *disk, unsigned flags)
{
    char *text = NULL;
    int problems = -1;
    json_t *root = NULL;

    CHECK_OK(ctx, mk_inspect(ctx, disk, flags, &text, &problems));
    if (text)
        root = json_loads(text, 0, NULL);
    CHECK(root != NULL);
    CHECK_EQ(json_array_size(json_object_get(root, "problems")), problems);
    free(text);
    return root;
}

static void test_built_fs(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = make_disk(ctx, "multiboot /boot/kernel x\nmodule /boot/absent\n", 1);
    json_t *r, *fs, *k;

    if (!disk) {
        mk_ctx_free(ctx);
        return;
    }
    r = inspect_disk(ctx, disk, MK_INSPECT_FILES);
    fs = json_object_get(r, "filesystem");
    k = json_object_get(r, "kernel");
    CHECK_STR(json_string_value(json_object_get(fs, "type")), "ext2");
    CHECK_EQ(json_integer_value(json_object_get(fs, "partition")), 1);
    CHECK_STR(json_string_value(json_object_get(k, "path")), "/boot/kernel");
    CHECK_EQ(json_integer_value(json_object_get(k, "multiboot")), 1);
    CHECK(json_is_true(json_object_get(k, "valid")));
    CHECK(json_array_size(json_object_get(r, "files")) >= 3);
    CHECK(json_is_true(json_object_get(json_array_get(json_object_get(r, "partitions"), 0),
                                       "bootable")));
    CHECK(has_problem(r, "module /boot/absent not found"));
    CHECK(has_problem(r, "no boot code in the MBR"));
    CHECK(!has_problem(r, "kernel"));
    json_decref(r);

    r = inspect_disk(ctx, disk, 0);
    CHECK(json_object_get(r, "files") == NULL);
    json_decref(r);
    mk_disk_free(disk);

    disk = make_disk(ctx, "multiboot2 /boot/kernel\n", 1);
    r = inspect_disk(ctx, disk, 0);
    CHECK(has_problem(r, "with multiboot2 but it has no multiboot2 header"));
    json_decref(r);
    mk_disk_free(disk);

    disk = make_disk(ctx, "multiboot /boot/missing\n", 0);
    r = inspect_disk(ctx, disk, 0);
    CHECK(has_problem(r, "kernel /boot/missing not found"));
    json_decref(r);
    mk_disk_free(disk);

    disk = make_disk(ctx, "linux /vmlinuz\n", 0);
    r = inspect_disk(ctx, disk, 0);
    CHECK(has_problem(r, "grub.cfg names no multiboot kernel"));
    json_decref(r);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

/* Damaged filesystem metadata must give problems, never a crash. */
static void test_damaged_fs(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    uint8_t junk[4096];

    srand(5);
    for (int round = 0; round < 12; round++) {
        struct mk_disk *disk = make_disk(ctx, "multiboot /boot/kernel\n", 1);
        json_t *r;

        if (!disk)
            break;
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rand();
        /* The superblock, the group descriptors, or a block of the inode table. */
        uint64_t off = (1 << 20) + (uint64_t)(round % 3) * 4096 * (1 + (uint64_t)rand() % 40);
        CHECK_OK(ctx, mk_disk_write(ctx, disk, off + (round % 2) * 1024, junk,
                                    round < 6 ? 64 : sizeof(junk) - 1024));
        r = inspect_disk(ctx, disk, MK_INSPECT_FILES);
        json_decref(r);
        mk_disk_free(disk);
    }
    mk_ctx_free(ctx);
}

static void cleanup(void)
{
    const char *names[] = {"empty", "one", "odd", "mbr-only", "junk"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++)
        unlink(path_in_tmp(names[i]));
    rmdir(tmpdir);
}

static void setup(void)
{
    CHECK(mkdtemp(tmpdir) != NULL);
}

UNIT_MAIN(UNIT_TEST(setup), UNIT_TEST(test_cfg_simple), UNIT_TEST(test_cfg_quotes_devices),
          UNIT_TEST(test_cfg_none_and_garbage), UNIT_TEST(test_has_mb1),
          UNIT_TEST(test_open_errors), UNIT_TEST(test_tiny_files), UNIT_TEST(test_garbage),
          UNIT_TEST(test_built_fs), UNIT_TEST(test_damaged_fs), UNIT_TEST(cleanup))
