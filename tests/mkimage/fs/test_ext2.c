/* test_ext2.c: the ext2 writer and reader, checked with e2fsck, debugfs and mke2fs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_private.h"
#include "fs_ext2.h"
#include "mbr.h"
#include "unit.h"

#define MIB (1024ull * 1024)
#define PART_OFF MIB
#define KERNEL_SRC "/bin/ls"

static char tmpdir[64];
static char sparse_src[128];
static const char grub_cfg[] =
    "set timeout=0\nmenuentry unikernel {\n  multiboot /boot/kernel\n}\n";

static void remove_tmpdir(void)
{
    char cmd[128];

    if (getenv("MK_TEST_KEEP")) { /* for a look at the images */
        fprintf(stderr, "  kept %s\n", tmpdir);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  cannot remove %s\n", tmpdir);
}

static int run(const char *fmt, ...) MK_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    if (st != 0)
        fprintf(stderr, "  command failed (%d): %s\n", st, cmd);
    return st;
}

static void params_init(struct mk_ext2_params *p, uint64_t disk_size, int64_t mtime)
{
    memset(p, 0, sizeof(*p));
    p->part_off = PART_OFF;
    p->part_size = disk_size - PART_OFF;
    for (int i = 0; i < 16; i++)
        p->uuid[i] = (uint8_t)(0x10 + i * 7);
    p->label = "unikernel";
    p->mtime = mtime;
}

/* Builds the test tree into a store disk of (size) bytes and writes it to (path). */
static void build_image(uint64_t size, int64_t mtime, const char *path)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_params p;
    uint8_t mbr[512];

    params_init(&p, size, mtime);
    CHECK_OK(ctx, mk_store_new(ctx, size, &disk));
    mk_mbr_build(mbr, 0x12345678, 0x83, PART_OFF / 512, (uint32_t)(p.part_size / 512));
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, mbr, sizeof(mbr)));
    CHECK_OK(ctx, mk_ext2_create(ctx, disk, &p, &fs));
    if (!fs)
        goto out;
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/boot/grub"));
    CHECK_OK(ctx, mk_ext2_add_data(ctx, fs, "/boot/grub/grub.cfg", grub_cfg,
                                   strlen(grub_cfg), 0644));
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/boot/kernel", KERNEL_SRC, 0755));
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/a/b/c/d"));
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/a/b/c/d/")); /* exists already: fine */
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/a/b/c/d/sparse", sparse_src, 0600));
    CHECK_OK(ctx, mk_ext2_add_data(ctx, fs, "/a/empty", "", 0, 0644));
    CHECK_FAIL(ctx, mk_ext2_add_file(ctx, fs, "/boot/kernel", KERNEL_SRC, 0755), MK_EEXIST,
               "/boot/kernel");
    CHECK_FAIL(ctx, mk_ext2_add_file(ctx, fs, "/nodir/kernel", KERNEL_SRC, 0755),
               MK_ENOTFOUND, "/nodir");
    CHECK_FAIL(ctx, mk_ext2_mkdir_p(ctx, fs, "/boot/kernel/x"), MK_EEXIST, "/boot/kernel");
    CHECK_OK(ctx, mk_ext2_close(ctx, fs));
    CHECK_OK(ctx, mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, path));
out:
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

static void test_setup(void)
{
    int fd;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ext2.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(remove_tmpdir);
    /* 8 MiB with one block of data at 5 MiB: a hole on either side. */
    snprintf(sparse_src, sizeof(sparse_src), "%s/sparse", tmpdir);
    fd = open(sparse_src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, 8 * MIB), 0);
    CHECK_EQ(pwrite(fd, "hello, hole\n", 12, 5 * MIB), 12);
    close(fd);
    CHECK_EQ(system("command -v e2fsck >/dev/null && command -v debugfs >/dev/null"), 0);
}

static void check_image(const char *img, int64_t mtime)
{
    char expect[32];
    const char *paths[] = {"/", "/lost+found", "/boot", "/boot/grub", "/boot/grub/grub.cfg",
                           "/boot/kernel", "/a/b/c/d", "/a/b/c/d/sparse", "<1>"};
    FILE *f;

    CHECK_EQ(run("e2fsck -fn '%s?offset=%llu' >%s/fsck.log 2>&1 || "
                 "{ cat %s/fsck.log >&2; false; }", img, PART_OFF, tmpdir, tmpdir), 0);
    CHECK_EQ(run("debugfs -R 'cat /boot/kernel' '%s?offset=%llu' 2>/dev/null | cmp - %s", img,
                 PART_OFF, KERNEL_SRC), 0);
    CHECK_EQ(run("debugfs -R 'cat /a/b/c/d/sparse' '%s?offset=%llu' 2>/dev/null | cmp - %s",
                 img, PART_OFF, sparse_src), 0);
    /* A fixed directory hash flag, whatever the build host's char signedness. */
    CHECK_EQ(run("dumpe2fs -h '%s?offset=%llu' 2>/dev/null | "
                 "grep -q '^Filesystem flags: *unsigned_directory_hash *$'", img, PART_OFF), 0);
    CHECK_EQ(run("debugfs -R 'cat /boot/grub/grub.cfg' '%s?offset=%llu' 2>/dev/null | "
                 "grep -q 'multiboot /boot/kernel'", img, PART_OFF), 0);
    /* The sparse file holds one data block and its two indirect blocks, not 8 MiB. */
    CHECK_EQ(run("debugfs -R 'stat /a/b/c/d/sparse' '%s?offset=%llu' 2>/dev/null | "
                 "grep -q 'Blockcount: 24$'", img, PART_OFF), 0);
    /* Every timestamp of every inode is (mtime). */
    snprintf(expect, sizeof(expect), "0x%08llx", (unsigned long long)(uint32_t)mtime);
    for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++) {
        char cmd[512], line[512];
        int times = 0;
        snprintf(cmd, sizeof(cmd), "debugfs -R 'stat %s' '%s?offset=%llu' 2>/dev/null",
                 paths[i], img, PART_OFF);
        f = popen(cmd, "r");
        CHECK(f != NULL);
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f)) {
            char *t = strstr(line, "time: 0x");
            if (!t)
                continue;
            times++;
            if (strncmp(t + 6, expect, strlen(expect))) {
                fprintf(stderr, "  %s: %s", paths[i], line);
                CHECK(!"timestamp differs from mtime");
            }
        }
        pclose(f);
        CHECK(times >= 3);
    }
    /* Superblock: wtime at 0x30, lastcheck at 0x40, mkfs_time at 0x108. */
    f = fopen(img, "rb");
    CHECK(f != NULL);
    if (f) {
        uint8_t sb[1024];
        CHECK_EQ(fseek(f, (long)(PART_OFF + 1024), SEEK_SET), 0);
        CHECK_EQ(fread(sb, 1, sizeof(sb), f), sizeof(sb));
        fclose(f);
        CHECK_EQ(mk_get_le16(sb + 56), 0xef53);
        CHECK_EQ(mk_get_le32(sb + 0x30), (uint32_t)mtime);
        CHECK_EQ(mk_get_le32(sb + 0x40), (uint32_t)mtime);
        CHECK_EQ(mk_get_le32(sb + 0x108), (uint32_t)mtime);
    }
}

static void test_small_image(void)
{
    char img[128];

    snprintf(img, sizeof(img), "%s/small.raw", tmpdir);
    build_image(64 * MIB, 0, img);
    check_image(img, 0);
    CHECK_EQ(run("sfdisk -d '%s' | grep -q 'start=        2048'", img), 0);
}

static void test_large_sparse_image(void)
{
    char img[128];
    struct stat st;

    snprintf(img, sizeof(img), "%s/large.raw", tmpdir);
    build_image(10240 * MIB, 1700000000, img);
    check_image(img, 1700000000);
    CHECK_EQ(stat(img, &st), 0);
    CHECK_EQ(st.st_size, 10240 * MIB);
    /* Only metadata and the files take space: no inode tables, no zeros. */
    CHECK((uint64_t)st.st_blocks * 512 < 8 * MIB);
    printf("     10 GiB image allocates %llu KiB\n", (unsigned long long)st.st_blocks / 2);
}

static void test_reproducible(void)
{
    char a[128], b[128];

    snprintf(a, sizeof(a), "%s/repro-a.raw", tmpdir);
    snprintf(b, sizeof(b), "%s/repro-b.raw", tmpdir);
    build_image(64 * MIB, 0, a);
    sleep(1); /* a leaked time(NULL) would show */
    build_image(64 * MIB, 0, b);
    CHECK_EQ(run("cmp -s '%s' '%s'", a, b), 0);
}

struct walk_rec {
    struct mk_buf list;
    int dirs;
};

static int walk_cb(void *opaque, const char *path, unsigned mode, uint64_t size)
{
    struct walk_rec *w = opaque;

    if ((mode & 0170000) == 0040000)
        w->dirs++;
    return mk_buf_addf(&w->list, "%s %o %llu\n", path, mode & 07777, (unsigned long long)size);
}

static int stop_cb(void *opaque, const char *path, unsigned mode, uint64_t size)
{
    return ++*(int *)opaque == 3 ? 42 : 0;
}

static void test_read_back(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf buf = MK_BUF_INIT, src = MK_BUF_INIT;
    struct walk_rec w = {.list = MK_BUF_INIT};
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_info info;
    char img[128], expect[512];
    struct stat st;
    int n = 0;

    snprintf(img, sizeof(img), "%s/small.raw", tmpdir);
    CHECK_OK(ctx, mk_disk_open(ctx, img, &disk));
    if (!disk)
        goto out;
    CHECK_FAIL(ctx, mk_ext2_open(ctx, disk, 0, 64 * MIB, 0, &fs), MK_EFORMAT,
               "no ext2/3/4 filesystem at offset 0");
    CHECK_OK(ctx, mk_ext2_open(ctx, disk, PART_OFF, 63 * MIB, 0, &fs));
    if (!fs)
        goto out;
    CHECK_OK(ctx, mk_ext2_info(ctx, fs, &info));
    CHECK_STR(info.type, "ext2");
    CHECK_STR(info.uuid, "10171e25-2c33-3a41-484f-565d646b7279");
    CHECK_STR(info.label, "unikernel");
    CHECK_EQ(info.block_size, 4096);
    CHECK_EQ(info.blocks, 63 * MIB / 4096);
    CHECK(info.free_blocks > 0 && info.free_blocks < info.blocks);
    CHECK_EQ(info.inodes, 1008); /* 63 MiB / 64 KiB */
    CHECK(info.free_inodes > 0 && info.free_inodes < info.inodes);

    CHECK_OK(ctx, mk_ext2_read_file(ctx, fs, "/boot/grub/grub.cfg", 0, &buf));
    CHECK_STR(buf.buf, grub_cfg);
    mk_buf_reset(&buf);
    CHECK_OK(ctx, mk_ext2_read_file(ctx, fs, "/boot/kernel", 0, &buf));
    CHECK_OK(ctx, mk_buf_read_file(ctx, &src, KERNEL_SRC, 0));
    CHECK(buf.len == src.len && !memcmp(buf.buf, src.buf, src.len));
    mk_buf_reset(&buf);
    CHECK_OK(ctx, mk_ext2_read_file(ctx, fs, "/a/b/c/d/sparse", 0, &buf));
    CHECK_EQ(buf.len, 8 * MIB);
    CHECK(buf.len == 8 * MIB && !memcmp(buf.buf + 5 * MIB, "hello, hole\n", 12) &&
          buf.buf[5 * MIB - 1] == 0 && buf.buf[0] == 0);
    mk_buf_reset(&buf);
    CHECK_FAIL(ctx, mk_ext2_read_file(ctx, fs, "/boot/kernel", 100, &buf), MK_ENOMEM,
               "/boot/kernel");
    CHECK_FAIL(ctx, mk_ext2_read_file(ctx, fs, "/boot/nothing", 0, &buf), MK_ENOTFOUND,
               "/boot/nothing");
    CHECK_FAIL(ctx, mk_ext2_read_file(ctx, fs, "/boot", 0, &buf), MK_EINVAL, "/boot");

    CHECK_OK(ctx, mk_ext2_walk(ctx, fs, walk_cb, &w));
    CHECK_EQ(stat(KERNEL_SRC, &st), 0);
    snprintf(expect, sizeof(expect),
             "/a 755 4096\n/a/b 755 4096\n/a/b/c 755 4096\n/a/b/c/d 755 4096\n"
             "/a/b/c/d/sparse 600 %llu\n/a/empty 644 0\n/boot 755 4096\n"
             "/boot/grub 755 4096\n/boot/grub/grub.cfg 644 %zu\n/boot/kernel 755 %llu\n"
             "/lost+found 700 4096\n",
             8 * MIB, strlen(grub_cfg), (unsigned long long)st.st_size);
    CHECK_STR(w.list.buf, expect);
    CHECK_EQ(w.dirs, 7);
    CHECK_EQ(mk_ext2_walk(ctx, fs, stop_cb, &n), 42);
    CHECK_EQ(n, 3);
out:
    CHECK_OK(ctx, fs ? mk_ext2_close(ctx, fs) : 0);
    mk_disk_free(disk);
    mk_buf_release(&buf);
    mk_buf_release(&src);
    mk_buf_release(&w.list);
    mk_ctx_free(ctx);
}

/* A filesystem made by mke2fs (ext4: extents, flex_bg, metadata_csum) reads back too. */
static int count_cb(void *opaque, const char *path, unsigned mode, uint64_t size)
{
    struct mk_buf *b = opaque;
    return mk_buf_addf(b, "%s\n", path);
}

static void test_read_mke2fs(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf buf = MK_BUF_INIT, list = MK_BUF_INIT, src = MK_BUF_INIT;
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_info info;
    char img[128];

    snprintf(img, sizeof(img), "%s/mke2fs.raw", tmpdir);
    CHECK_EQ(run("mkdir -p %s/tree/boot/grub %s/tree/z && cp %s %s/tree/boot/kernel && "
                 "printf 'hello\\n' >%s/tree/boot/grub/grub.cfg && "
                 "truncate -s 40M %s && mke2fs -q -F -t ext4 -L fromtool "
                 "-U 01234567-89ab-cdef-0123-456789abcdef -E offset=1048576 -d %s/tree %s 32M",
                 tmpdir, tmpdir, KERNEL_SRC, tmpdir, tmpdir, img, tmpdir, img), 0);
    CHECK_OK(ctx, mk_disk_open(ctx, img, &disk));
    if (!disk)
        goto out;
    CHECK_OK(ctx, mk_ext2_open(ctx, disk, PART_OFF, 32 * MIB, 0, &fs));
    if (!fs)
        goto out;
    CHECK_OK(ctx, mk_ext2_info(ctx, fs, &info));
    CHECK_STR(info.type, "ext4");
    CHECK_STR(info.uuid, "01234567-89ab-cdef-0123-456789abcdef");
    CHECK_STR(info.label, "fromtool");
    CHECK_OK(ctx, mk_ext2_read_file(ctx, fs, "/boot/grub/grub.cfg", 0, &buf));
    CHECK_STR(buf.buf, "hello\n");
    mk_buf_reset(&buf);
    CHECK_OK(ctx, mk_ext2_read_file(ctx, fs, "/boot/kernel", 0, &buf));
    CHECK_OK(ctx, mk_buf_read_file(ctx, &src, KERNEL_SRC, 0));
    CHECK(buf.len == src.len && !memcmp(buf.buf, src.buf, src.len));
    CHECK_OK(ctx, mk_ext2_walk(ctx, fs, count_cb, &list));
    CHECK_STR(list.buf, "/boot\n/boot/grub\n/boot/grub/grub.cfg\n/boot/kernel\n/lost+found\n/z\n");
out:
    mk_ext2_abort(fs);
    mk_disk_free(disk);
    mk_buf_release(&buf);
    mk_buf_release(&src);
    mk_buf_release(&list);
    mk_ctx_free(ctx);
}

/* (size) bytes of data, no holes. */
static int write_file(const char *path, uint64_t size)
{
    FILE *f = fopen(path, "wb");
    int r = 0;

    if (!f)
        return -1;
    for (uint64_t i = 0; i < size && r == 0; i++)
        r = putc((int)('a' + i % 26), f) == EOF;
    return fclose(f) || r ? -1 : 0;
}

static void test_enospc(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_params p;
    struct mk_ext2_info info;
    char big[128], img[128];
    char *data = malloc(MIB);
    FILE *f;

    snprintf(big, sizeof(big), "%s/big", tmpdir);
    f = fopen(big, "wb");
    CHECK(f && data);
    if (!f || !data)
        goto out;
    memset(data, 'x', MIB);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(fwrite(data, 1, MIB, f), MIB);
    fclose(f);
    params_init(&p, 9 * MIB, 0);
    CHECK_OK(ctx, mk_store_new(ctx, 9 * MIB, &disk));
    CHECK_OK(ctx, mk_ext2_create(ctx, disk, &p, &fs));
    if (!fs)
        goto out;
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/boot"));
    CHECK_FAIL(ctx, mk_ext2_add_file(ctx, fs, "/boot/big", big, 0644), MK_ENOSPC,
               "'/boot/big' does not fit in the filesystem (7 MiB free)");
    /* Nothing was left behind: the filesystem is still whole and usable. */
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/boot/kernel", KERNEL_SRC, 0755));
    /* A file that fills the rest exactly: n data blocks past the direct and single
     * indirect ones take an indirect, a double-indirect and one more indirect block, and
     * one block stays for a directory to grow. One data block more does not fit. */
    CHECK_OK(ctx, mk_ext2_info(ctx, fs, &info));
    uint64_t n = info.free_blocks - 4;
    CHECK(n > 12 + 1024 && n <= 12 + 2 * 1024);
    CHECK_OK(ctx, write_file(big, (n + 1) * 4096 - 100));
    CHECK_FAIL(ctx, mk_ext2_add_file(ctx, fs, "/fill", big, 0644), MK_ENOSPC, "/fill");
    CHECK_OK(ctx, write_file(big, n * 4096));
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/fill", big, 0644));
    CHECK_OK(ctx, mk_ext2_info(ctx, fs, &info));
    CHECK_EQ(info.free_blocks, 1);
    CHECK_OK(ctx, mk_ext2_close(ctx, fs));
    snprintf(img, sizeof(img), "%s/tiny.raw", tmpdir);
    CHECK_OK(ctx, mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, img));
    CHECK_EQ(run("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", img, PART_OFF), 0);
    CHECK_EQ(run("debugfs -R 'cat /fill' '%s?offset=%llu' 2>/dev/null | cmp - %s", img,
                 PART_OFF, big), 0);
out:
    free(data);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

static void test_bad_params(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_params p;

    CHECK_OK(ctx, mk_store_new(ctx, 64 * MIB, &disk));
    params_init(&p, 64 * MIB, 0);
    p.part_off = 512;
    CHECK_FAIL(ctx, mk_ext2_create(ctx, disk, &p, &fs), MK_EINVAL, "4 KiB");
    params_init(&p, 64 * MIB, 0);
    p.part_size = 64 * MIB;
    CHECK_FAIL(ctx, mk_ext2_create(ctx, disk, &p, &fs), MK_EINVAL, "outside");
    params_init(&p, 64 * MIB, 0);
    p.label = "a-label-longer-than-16";
    CHECK_FAIL(ctx, mk_ext2_create(ctx, disk, &p, &fs), MK_EINVAL, "a-label-longer-than-16");
    params_init(&p, 64 * MIB, -1);
    CHECK_FAIL(ctx, mk_ext2_create(ctx, disk, &p, &fs), MK_EINVAL, "timestamp -1");
    CHECK_FAIL(ctx, mk_ext2_open(ctx, disk, PART_OFF, 63 * MIB, 0, &fs), MK_EFORMAT,
               "no ext2/3/4 filesystem at offset 1048576");
    mk_ext2_abort(NULL);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

/* A plain writable disk in memory (not the store), so file data is copied, not referenced. */
struct mem_disk {
    struct mk_disk disk;
    uint8_t *data;
};

static int mem_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf,
                    size_t len)
{
    memcpy(buf, ((struct mem_disk *)disk)->data + off, len);
    return MK_OK;
}

static int mem_write(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, const void *buf,
                     size_t len)
{
    memcpy(((struct mem_disk *)disk)->data + off, buf, len);
    return MK_OK;
}

static int mem_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                       size_t *ret_n)
{
    *ret = malloc(sizeof(**ret));
    if (!*ret)
        return MK_ENOMEM;
    (*ret)->off = 0;
    (*ret)->len = disk->size;
    *ret_n = 1;
    return MK_OK;
}

static void mem_free(struct mk_disk *disk)
{
    free(((struct mem_disk *)disk)->data);
    free(disk);
}

static const struct mk_disk_ops mem_ops = {
    .name = "test memory",
    .read = mem_read,
    .write = mem_write,
    .extents = mem_extents,
    .free = mem_free,
};

static void test_copy_to_plain_disk(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mem_disk *md = calloc(1, sizeof(*md));
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_params p;
    char img[128];

    CHECK(md && (md->data = calloc(1, 32 * MIB)));
    if (!md || !md->data)
        goto out;
    md->disk = (struct mk_disk){.ops = &mem_ops, .size = 32 * MIB,
                                .source_format = MK_FORMAT_RAW};
    params_init(&p, 32 * MIB, 42);
    CHECK_OK(ctx, mk_ext2_create(ctx, &md->disk, &p, &fs));
    if (!fs)
        goto out;
    CHECK_OK(ctx, mk_ext2_mkdir_p(ctx, fs, "/boot"));
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/boot/kernel", KERNEL_SRC, 0755));
    CHECK_OK(ctx, mk_ext2_add_file(ctx, fs, "/sparse", sparse_src, 0644));
    CHECK_OK(ctx, mk_ext2_close(ctx, fs));
    snprintf(img, sizeof(img), "%s/plain.raw", tmpdir);
    CHECK_OK(ctx, mk_disk_write_file(ctx, &md->disk, MK_FORMAT_RAW, NULL, img));
    CHECK_EQ(run("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", img, PART_OFF), 0);
    CHECK_EQ(run("debugfs -R 'cat /boot/kernel' '%s?offset=%llu' 2>/dev/null | cmp - %s", img,
                 PART_OFF, KERNEL_SRC), 0);
    CHECK_EQ(run("debugfs -R 'cat /sparse' '%s?offset=%llu' 2>/dev/null | cmp - %s", img,
                 PART_OFF, sparse_src), 0);
out:
    if (md && md->data)
        mk_disk_free(&md->disk);
    else
        free(md);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_setup), UNIT_TEST(test_small_image), UNIT_TEST(test_large_sparse_image),
          UNIT_TEST(test_reproducible), UNIT_TEST(test_read_back), UNIT_TEST(test_read_mke2fs),
          UNIT_TEST(test_enospc), UNIT_TEST(test_bad_params),
          UNIT_TEST(test_copy_to_plain_disk))
