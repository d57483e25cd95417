/* test_solo5_manifest.c: reading a Solo5 manifest from a synthetic ELF file laid out as
 * Solo5's elftool lays it out, the ways it can be malformed, and the plain-words check of a
 * machine against it. */
#include "unit.h"

#define ENTRY 104
#define NOTE_OFF 0x200

struct elf {
    uint8_t b[4096];
    size_t len;
    size_t desc_size;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* An ELF64 file with one PT_NOTE segment at NOTE_OFF holding the MFT1 note for (devices):
 * "n:NAME" for a network device, "b:NAME" for a block device. With (section) the note is
 * found through a section named .note.solo5.manifest instead of the program header. */
static void make_elf(struct elf *e, const char *const *devices, size_t n, bool section)
{
    uint8_t *b = e->b;
    uint32_t entries = (uint32_t)n + 1;

    memset(e, 0, sizeof(*e));
    memcpy(b, "\x7f" "ELF", 4);
    b[4] = 2; b[5] = 1; b[6] = 1;
    put16(b + 16, 2);
    put16(b + 18, 62);
    put64(b + 32, section ? 0 : 64);   /* e_phoff */
    put16(b + 54, 56);
    put16(b + 56, section ? 0 : 1);
    if (!section) {
        put32(b + 64, 4);               /* PT_NOTE */
        put64(b + 64 + 8, NOTE_OFF);
    }
    uint8_t *note = b + NOTE_OFF, *mft = note + 24;
    e->desc_size = 4 + 8 + (size_t)entries * ENTRY;
    put32(note, 6);
    put32(note + 4, (uint32_t)e->desc_size);
    put32(note + 8, 0x3154464d);
    memcpy(note + 12, "Solo5", 6);
    put32(mft, 1);
    put32(mft + 4, entries);
    put32(mft + 8 + 68, 1u << 30);
    for (size_t i = 0; i < n; i++) {
        uint8_t *en = mft + 8 + (i + 1) * ENTRY;
        strcpy((char *)en, devices[i] + 2);
        put32(en + 68, devices[i][0] == 'n' ? 2 : 1);
    }
    size_t note_size = 20 + e->desc_size;
    if (!section) {
        put64(b + 64 + 32, note_size);   /* p_filesz */
        e->len = NOTE_OFF + note_size;
        return;
    }
    /* Sections: [0] null, [1] the note, [2] .shstrtab. */
    static const char names[] = "\0.note.solo5.manifest\0.shstrtab";
    size_t str_off = NOTE_OFF + note_size, sh_off = (str_off + sizeof(names) + 7) & ~7u;
    memcpy(b + str_off, names, sizeof(names));
    put64(b + 40, sh_off);
    put16(b + 58, 64);
    put16(b + 60, 3);
    put16(b + 62, 2);
    uint8_t *sh = b + sh_off;
    put32(sh + 64, 1);
    put32(sh + 64 + 4, 7);               /* SHT_NOTE */
    put64(sh + 64 + 24, NOTE_OFF);
    put64(sh + 64 + 32, note_size);
    put32(sh + 128, 22);
    put32(sh + 128 + 4, 3);              /* SHT_STRTAB */
    put64(sh + 128 + 24, str_off);
    put64(sh + 128 + 32, sizeof(names));
    e->len = sh_off + 3 * 64;
}

static void test_manifest_read(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_solo5_manifest m;
    struct elf e;
    static const char *const devs[] = {"n:service", "b:storage", "n:service2"};

    make_elf(&e, devs, 3, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 1);
    CHECK_EQ(m.count, 3);
    CHECK_EQ(m.net_count, 2);
    CHECK_EQ(m.block_count, 1);
    CHECK_STR(m.devices[0].name, "service");
    CHECK_EQ(m.devices[0].type, MK_SOLO5_DEV_NET);
    CHECK_STR(m.devices[1].name, "storage");
    CHECK_EQ(m.devices[1].type, MK_SOLO5_DEV_BLOCK);
    CHECK_STR(mk_solo5_device_type_name(m.devices[1].type), "BLOCK_BASIC");
    CHECK_STR(mk_solo5_device_type_name(m.devices[2].type), "NET_BASIC");

    /* Found through the section when there is no PT_NOTE. */
    make_elf(&e, devs, 1, true);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 1);
    CHECK_EQ(m.count, 1);
    CHECK_STR(m.devices[0].name, "service");

    /* A manifest that declares nothing (hello, the tests without devices). */
    make_elf(&e, NULL, 0, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 1);
    CHECK_EQ(m.count, 0);

    /* Not Solo5: no note, a 32-bit ELF, not ELF at all, a note of another owner. */
    make_elf(&e, devs, 1, false);
    put32(e.b + 64, 1); /* PT_LOAD */
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 0);
    make_elf(&e, devs, 1, false);
    e.b[4] = 1;
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 0);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, "hello", 5, &m), 0);
    make_elf(&e, devs, 1, false);
    memcpy(e.b + NOTE_OFF + 12, "GNU\0\0", 5);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &m), 0);
    /* The note runs past the end of the file: not read. */
    make_elf(&e, devs, 1, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len - 1, &m), 0);
    mk_ctx_free(ctx);
}

static void test_manifest_malformed(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_solo5_manifest m;
    struct elf e;
    static const char *const devs[] = {"n:service"};
    uint8_t *mft = e.b + NOTE_OFF + 24;

    make_elf(&e, devs, 1, false);
    put32(mft, 2);
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "version 2");
    make_elf(&e, devs, 1, false);
    put32(mft + 4, 3); /* more entries than the note holds */
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "for 3 entries");
    make_elf(&e, devs, 1, false);
    put32(mft + 4, 0xffffffffu);
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "entries");
    make_elf(&e, devs, 1, false);
    put32(mft + 8 + 68, 1); /* the first entry is not the reserved one */
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "reserved");
    make_elf(&e, devs, 1, false);
    memset(mft + 8 + ENTRY, 'x', 68); /* no terminator */
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "unterminated");
    make_elf(&e, devs, 1, false);
    mft[8 + ENTRY] = '\x1b';
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "unprintable");
    make_elf(&e, devs, 1, false);
    mft[8 + ENTRY + 96] = 1;
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "attached");
    make_elf(&e, devs, 1, false);
    put32(e.b + NOTE_OFF + 4, 2); /* shorter than its own padding */
    CHECK_FAIL(ctx, mk_solo5_manifest_parse(ctx, e.b, e.len, &m), MK_EFORMAT, "note of 2");
    mk_ctx_free(ctx);
}

static void test_manifest_machine_check(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_solo5_manifest none, net, blk;
    struct elf e;
    static const char *const d_net[] = {"n:service"}, *const d_blk[] = {"b:storage"};
    char w[512];

    make_elf(&e, NULL, 0, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &none), 1);
    make_elf(&e, d_net, 1, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &net), 1);
    make_elf(&e, d_blk, 1, false);
    CHECK_EQ(mk_solo5_manifest_parse(ctx, e.b, e.len, &blk), 1);

    /* GCE: one virtio-net NIC, a virtio-scsi boot disk. */
    CHECK_EQ(mk_solo5_check_machine(&none, 1, 0, false, w, sizeof(w)), 1);
    CHECK(strstr(w, "1 virtio-net NIC and the unikernel declares no network device: Solo5 "
                    "aborts at start") != NULL);
    CHECK_EQ(mk_solo5_check_machine(&net, 1, 0, false, w, sizeof(w)), 0);
    CHECK_STR(w, "");
    /* A virtio-blk boot disk. */
    CHECK_EQ(mk_solo5_check_machine(&none, 0, 1, true, w, sizeof(w)), 1);
    CHECK(strstr(w, "the boot disk is virtio-blk and the unikernel declares no block device")
          != NULL);
    CHECK_EQ(mk_solo5_check_machine(&blk, 0, 1, true, w, sizeof(w)), 1);
    CHECK(strstr(w, "as block device 'storage'") != NULL);
    /* Declared but missing. */
    CHECK_EQ(mk_solo5_check_machine(&blk, 1, 0, false, w, sizeof(w)), 2);
    CHECK(strstr(w, "declares 1 block device ('storage'...) and the machine has 0 virtio-blk "
                    "disks") != NULL);
    CHECK(strstr(w, "; the machine has 1 virtio-net NIC") != NULL);
    CHECK(strchr(w, '\n') == NULL);
    CHECK_EQ(mk_solo5_check_machine(&net, 0, 0, false, w, sizeof(w)), 1);
    CHECK(strstr(w, "declares 1 network device ('service'...) and the machine has 0") != NULL);
    /* A small buffer is cut, not overrun. */
    CHECK_EQ(mk_solo5_check_machine(&blk, 2, 0, false, w, 16), 2);
    CHECK_EQ(strlen(w), 15);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_manifest_read), UNIT_TEST(test_manifest_malformed),
          UNIT_TEST(test_manifest_machine_check))
