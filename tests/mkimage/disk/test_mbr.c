/* test_mbr.c: the MBR we write, checked against sfdisk's reading and sfdisk's own writing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_private.h"
#include "mbr.h"
#include "unit.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mbr.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  cannot remove %s\n", tmpdir);
}

/* Writes a disk of (size) bytes holding only (sector) to (path), through the store. */
static void write_image(const uint8_t *sector, uint64_t size, const char *path)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_disk *disk = NULL;

    CHECK_OK(ctx, mk_store_new(ctx, size, &disk));
    CHECK_OK(ctx, mk_disk_write(ctx, disk, 0, sector, 512));
    CHECK_OK(ctx, mk_disk_write_file(ctx, disk, MK_FORMAT_RAW, NULL, path));
    mk_disk_free(disk);
    mk_ctx_free(ctx);
}

static json_t *sfdisk_json(const char *path)
{
    char cmd[256], buf[4096];
    size_t n;
    FILE *f;
    json_error_t jerr;

    snprintf(cmd, sizeof(cmd), "sfdisk -J '%s' 2>&1", path);
    f = popen(cmd, "r");
    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    if (pclose(f) != 0) {
        fprintf(stderr, "  sfdisk -J failed: %s\n", buf);
        return NULL;
    }
    return json_loads(buf, 0, &jerr);
}

static void test_sfdisk_reads_ours(void)
{
    const uint64_t size = 1ull << 30;
    const uint32_t count = (uint32_t)(size / 512 - 2048);
    uint8_t sector[512];
    char path[128];
    json_t *j, *pt, *parts, *p;

    mk_mbr_build(sector, 0x1234abcd, 0x83, 2048, count);
    snprintf(path, sizeof(path), "%s/mbr.raw", tmpdir);
    write_image(sector, size, path);
    j = sfdisk_json(path);
    CHECK(j != NULL);
    if (!j)
        return;
    pt = json_object_get(j, "partitiontable");
    CHECK_STR(json_string_value(json_object_get(pt, "label")), "dos");
    CHECK_STR(json_string_value(json_object_get(pt, "id")), "0x1234abcd");
    parts = json_object_get(pt, "partitions");
    CHECK_EQ(json_array_size(parts), 1);
    p = json_array_get(parts, 0);
    CHECK_EQ(json_integer_value(json_object_get(p, "start")), 2048);
    CHECK_EQ(json_integer_value(json_object_get(p, "size")), count);
    CHECK_STR(json_string_value(json_object_get(p, "type")), "83");
    CHECK(json_is_true(json_object_get(p, "bootable")));
    json_decref(j);
}

/* sfdisk writes the same sector for the same table: CHS fields included. */
static void compare_with_sfdisk(uint64_t size)
{
    uint8_t ours[512], theirs[512];
    char path[128], cmd[1024];
    FILE *f;
    int same;

    snprintf(path, sizeof(path), "%s/sfdisk.raw", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "rm -f '%s' && truncate -s %llu '%s' && printf 'label: dos\\nlabel-id: 0x0badcafe\\n"
             "start=2048, type=83, bootable\\n' | sfdisk -q '%s' >/dev/null 2>&1",
             path, (unsigned long long)size, path, path);
    CHECK_EQ(system(cmd), 0);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fread(theirs, 1, 512, f), 512);
    fclose(f);
    mk_mbr_build(ours, 0x0badcafe, 0x83, 2048, (uint32_t)(size / 512 - 2048));
    same = !memcmp(ours, theirs, 512);
    CHECK(same);
    if (!same) {
        for (int i = 0; i < 512; i++)
            if (ours[i] != theirs[i])
                fprintf(stderr, "  byte 0x%03x: ours %02x, sfdisk %02x\n", i, ours[i],
                        theirs[i]);
    }
}

static void test_same_as_sfdisk_1g(void)
{
    compare_with_sfdisk(1ull << 30);
}

static void test_same_as_sfdisk_10g(void)
{
    uint8_t s[512];

    compare_with_sfdisk(10ull << 30);
    /* Past cylinder 1023 the end address saturates. */
    mk_mbr_build(s, 1, 0x83, 2048, (uint32_t)((10ull << 30) / 512 - 2048));
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 5], 0xfe);
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 6], 0xff);
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 7], 0xff);
    /* Start 2048 = cylinder 0, head 32, sector 33. */
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 1], 32);
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 2], 33);
    CHECK_EQ(s[MK_MBR_PART_OFFSET + 3], 0);
}

static void test_parse(void)
{
    uint8_t s[512];
    struct mk_mbr m;

    mk_mbr_build(s, 0xdeadbeef, 0x83, 2048, 4096);
    CHECK_EQ(mk_mbr_parse(s, &m), MK_OK);
    CHECK_EQ(m.disk_signature, 0xdeadbeef);
    CHECK_EQ(m.part[0].status, 0x80);
    CHECK_EQ(m.part[0].type, 0x83);
    CHECK_EQ(m.part[0].lba_start, 2048);
    CHECK_EQ(m.part[0].lba_count, 4096);
    for (int i = 1; i < 4; i++) {
        CHECK_EQ(m.part[i].type, 0);
        CHECK_EQ(m.part[i].lba_count, 0);
    }
    s[511] = 0;
    CHECK_EQ(mk_mbr_parse(s, &m), MK_EFORMAT);
    memset(s, 0, sizeof(s));
    CHECK_EQ(mk_mbr_parse(s, &m), MK_EFORMAT);
}

static void test_setup(void)
{
    make_tmpdir();
    atexit(remove_tmpdir);
    CHECK_EQ(system("command -v sfdisk >/dev/null"), 0);
}

UNIT_MAIN(UNIT_TEST(test_setup), UNIT_TEST(test_sfdisk_reads_ours),
          UNIT_TEST(test_same_as_sfdisk_1g), UNIT_TEST(test_same_as_sfdisk_10g),
          UNIT_TEST(test_parse))
