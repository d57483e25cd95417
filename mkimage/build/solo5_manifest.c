/* solo5_manifest.c: reading the manifest a Solo5 unikernel carries in an ELF note
 * (".note.solo5.manifest", owner "Solo5", type "MFT1"), and saying in plain words which
 * machines it will refuse. The layout is Solo5's public ABI (include/mft_abi.h), version 1,
 * as an x86-64 compiler lays it out; hand-written because no Debian library reads it. The
 * bytes are untrusted: every offset and size is checked before it is used. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "multiboot.h"

#define ELF_CLASS64 2
#define ELF_DATA_LE 1
#define ELF_PT_NOTE 4
#define ELF_SHT_NOTE 7
#define ELF64_EHDR_SIZE 64
#define ELF64_PHDR_SIZE 56
#define ELF64_SHDR_SIZE 64

#define MFT_NOTE_NAME "Solo5"
#define MFT_NOTE_TYPE 0x3154464du /* "MFT1" */
#define MFT_VERSION 1
#define MFT_RESERVED_FIRST (1u << 30)
/* The note header is 20 bytes (12 plus "Solo5\0" padded to 8); struct mft, 8-byte aligned,
 * follows at 24, so the descriptor starts with 4 bytes of padding. */
#define MFT_NOTE_HEADER 20
#define MFT_OFFSET 24
#define MFT_HEADER 8 /* version, entries */
/* struct mft_entry on x86-64: name[68], type at 68, the property union at 72 (16 bytes),
 * the backing union at 88 (8), attached at 96, padded to 104. */
#define MFT_ENTRY_SIZE 104
#define MFT_ENTRY_TYPE 68
#define MFT_ENTRY_ATTACHED 96
#define MFT_NAME_SIZE 68

const char *mk_solo5_device_type_name(uint32_t type)
{
    switch (type) {
    case MK_SOLO5_DEV_BLOCK:
        return "BLOCK_BASIC";
    case MK_SOLO5_DEV_NET:
        return "NET_BASIC";
    default:
        return "unknown";
    }
}

static bool within(size_t len, uint64_t off, uint64_t size)
{
    return off <= len && size <= len - off;
}

/* Reads the manifest in the MFT1 descriptor at (mft), (size) bytes, after the same checks
 * Solo5's tenders make (mft_validate), and that every name is printable. */
static int read_mft(struct mk_ctx *ctx, const uint8_t *mft, uint64_t size,
                    struct mk_solo5_manifest *ret)
{
    if (size < MFT_HEADER)
        return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: too short (%llu bytes)",
                            (unsigned long long)size);
    uint32_t version = mk_get_le32(mft), entries = mk_get_le32(mft + 4);
    if (version != MFT_VERSION)
        return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: version %u, expected %u",
                            version, MFT_VERSION);
    if (entries < 1 || entries > MK_SOLO5_MAX_DEVICES + 1)
        return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: %u entries (1 to %d allowed)",
                            entries, MK_SOLO5_MAX_DEVICES + 1);
    if (size != MFT_HEADER + (uint64_t)entries * MFT_ENTRY_SIZE)
        return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: %llu bytes for %u entries, "
                            "expected %llu", (unsigned long long)size, entries,
                            (unsigned long long)(MFT_HEADER + (uint64_t)entries * MFT_ENTRY_SIZE));
    *ret = (struct mk_solo5_manifest){0};
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *e = mft + MFT_HEADER + (size_t)i * MFT_ENTRY_SIZE;
        uint32_t type = mk_get_le32(e + MFT_ENTRY_TYPE);
        size_t name_len = strnlen((const char *)e, MFT_NAME_SIZE);

        if (name_len == MFT_NAME_SIZE)
            return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: entry %u has an "
                                "unterminated name", i);
        if (e[MFT_ENTRY_ATTACHED] != 0)
            return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: entry %u is marked "
                                "attached", i);
        if (i == 0) {
            if (type != MFT_RESERVED_FIRST || name_len != 0)
                return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: the first entry is "
                                    "not the reserved one");
            continue;
        }
        if (name_len == 0)
            return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: entry %u has no name", i);
        for (size_t k = 0; k < name_len; k++)
            if (e[k] <= 0x20 || e[k] >= 0x7f)
                return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: entry %u has a name "
                                    "with unprintable bytes", i);
        struct mk_solo5_device *d = &ret->devices[ret->count++];
        memcpy(d->name, e, name_len + 1);
        d->type = type;
        if (type == MK_SOLO5_DEV_NET)
            ret->net_count++;
        else if (type == MK_SOLO5_DEV_BLOCK)
            ret->block_count++;
    }
    return 1;
}

/* Walks the notes in [off, off + size) for Solo5's MFT1 note. */
static int scan_notes(struct mk_ctx *ctx, const uint8_t *elf, size_t len, uint64_t off,
                      uint64_t size, struct mk_solo5_manifest *ret)
{
    if (!within(len, off, size))
        return 0;
    const uint8_t *p = elf + off, *end = p + size;
    while ((size_t)(end - p) >= 12) {
        uint32_t namesz = mk_get_le32(p), descsz = mk_get_le32(p + 4), type = mk_get_le32(p + 8);
        uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull;
        uint64_t desc_pad = ((uint64_t)descsz + 3) & ~3ull;
        uint64_t avail = (uint64_t)(end - p) - 12;

        if (name_pad > avail || desc_pad > avail - name_pad)
            return 0; /* a truncated note list: nothing more to read in it */
        if (namesz == sizeof(MFT_NOTE_NAME) && !memcmp(p + 12, MFT_NOTE_NAME, namesz) &&
            type == MFT_NOTE_TYPE) {
            if (descsz < MFT_OFFSET - MFT_NOTE_HEADER)
                return mk_set_error(ctx, MK_EFORMAT, "Solo5 manifest: note of %u bytes",
                                    descsz);
            return read_mft(ctx, p + MFT_OFFSET, descsz - (MFT_OFFSET - MFT_NOTE_HEADER), ret);
        }
        p += 12 + name_pad + desc_pad;
    }
    return 0;
}

int mk_solo5_manifest_parse(struct mk_ctx *ctx, const void *data, size_t len,
                            struct mk_solo5_manifest *ret)
{
    const uint8_t *elf = data;
    int r;

    if (len < ELF64_EHDR_SIZE || memcmp(elf, "\x7f" "ELF", 4) || elf[4] != ELF_CLASS64 ||
        elf[5] != ELF_DATA_LE)
        return 0; /* Solo5 unikernels are 64-bit little-endian ELF files */
    uint64_t phoff = mk_get_le64(elf + 32), shoff = mk_get_le64(elf + 40);
    uint16_t phentsize = mk_get_le16(elf + 54), phnum = mk_get_le16(elf + 56);
    uint16_t shentsize = mk_get_le16(elf + 58), shnum = mk_get_le16(elf + 60);
    uint16_t shstrndx = mk_get_le16(elf + 62);

    /* Solo5's tenders look in the PT_NOTE segments; a file without them may still have the
     * section. */
    if (phentsize >= ELF64_PHDR_SIZE && within(len, phoff, (uint64_t)phentsize * phnum)) {
        for (uint16_t i = 0; i < phnum; i++) {
            const uint8_t *ph = elf + phoff + (size_t)i * phentsize;

            if (mk_get_le32(ph) != ELF_PT_NOTE)
                continue;
            r = scan_notes(ctx, elf, len, mk_get_le64(ph + 8), mk_get_le64(ph + 32), ret);
            if (r != 0)
                return r;
        }
    }
    if (shentsize < ELF64_SHDR_SIZE || shstrndx >= shnum ||
        !within(len, shoff, (uint64_t)shentsize * shnum))
        return 0;
    const uint8_t *strtab = elf + shoff + (size_t)shstrndx * shentsize;
    uint64_t str_off = mk_get_le64(strtab + 24), str_size = mk_get_le64(strtab + 32);
    if (!within(len, str_off, str_size))
        return 0;
    static const char section[] = ".note.solo5.manifest";
    for (uint16_t i = 0; i < shnum; i++) {
        const uint8_t *sh = elf + shoff + (size_t)i * shentsize;
        uint32_t name = mk_get_le32(sh);

        if (mk_get_le32(sh + 4) != ELF_SHT_NOTE || name >= str_size ||
            str_size - name < sizeof(section) ||
            memcmp(elf + str_off + name, section, sizeof(section)))
            continue;
        return scan_notes(ctx, elf, len, mk_get_le64(sh + 24), mk_get_le64(sh + 32), ret);
    }
    return 0;
}

int mk_kernel_solo5_manifest(struct mk_ctx *ctx, const char *path, struct mk_solo5_manifest *ret)
{
    struct mk_buf data = MK_BUF_INIT;
    int r = mk_kernel_read(ctx, path, &data, NULL);

    if (r == MK_OK) {
        r = mk_solo5_manifest_parse(ctx, data.buf, data.len, ret);
        if (r < 0)
            mk_error_prefix(ctx, "'%s'", path);
    }
    mk_buf_release(&data);
    return r;
}

/* Appends "; " and a formatted clause to (out). */
static void add_clause(char *out, size_t size, int *count, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_clause(char *out, size_t size, int *count, const char *fmt, ...)
{
    size_t used = size ? strlen(out) : 0;
    va_list ap;

    if (*count && used + 1 < size)
        used += (size_t)snprintf(out + used, size - used, "; ");
    ++*count;
    if (used + 1 >= size)
        return;
    va_start(ap, fmt);
    vsnprintf(out + used, size - used, fmt, ap);
    va_end(ap);
}

static const char *first_of(const struct mk_solo5_manifest *m, uint32_t type)
{
    for (unsigned i = 0; i < m->count; i++)
        if (m->devices[i].type == type)
            return m->devices[i].name;
    return "";
}

int mk_solo5_check_machine(const struct mk_solo5_manifest *m, unsigned virtio_net,
                           unsigned virtio_blk, bool boot_disk_virtio_blk, char *out,
                           size_t size)
{
    int count = 0;

    if (size)
        out[0] = '\0';
    if (boot_disk_virtio_blk && m->block_count == 0)
        add_clause(out, size, &count, "the boot disk is virtio-blk and the unikernel declares "
                   "no block device: Solo5 aborts at start (boot from ide or virtio-scsi)");
    else if (virtio_blk > m->block_count)
        add_clause(out, size, &count, "the machine has %u virtio-blk disk%s and the unikernel "
                   "declares %u block device%s: Solo5 aborts at start (not in manifest)",
                   virtio_blk, virtio_blk == 1 ? "" : "s", m->block_count,
                   m->block_count == 1 ? "" : "s");
    if (boot_disk_virtio_blk && m->block_count > 0)
        add_clause(out, size, &count, "the boot disk is virtio-blk: Solo5 hands it to the "
                   "unikernel as block device '%s', which may write to it",
                   first_of(m, MK_SOLO5_DEV_BLOCK));
    if (virtio_blk < m->block_count)
        add_clause(out, size, &count, "the unikernel declares %u block device%s ('%s'...) "
                   "and the machine has %u virtio-blk disk%s: Solo5 aborts at start (not "
                   "attached)", m->block_count, m->block_count == 1 ? "" : "s",
                   first_of(m, MK_SOLO5_DEV_BLOCK), virtio_blk, virtio_blk == 1 ? "" : "s");
    if (virtio_net > m->net_count && m->net_count == 0)
        add_clause(out, size, &count, "the machine has %u virtio-net NIC%s and the unikernel "
                   "declares no network device: Solo5 aborts at start (not in manifest)",
                   virtio_net, virtio_net == 1 ? "" : "s");
    else if (virtio_net > m->net_count)
        add_clause(out, size, &count, "the machine has %u virtio-net NICs and the unikernel "
                   "declares only %u network device%s: Solo5 aborts at start (not in "
                   "manifest)", virtio_net, m->net_count, m->net_count == 1 ? "" : "s");
    if (virtio_net < m->net_count)
        add_clause(out, size, &count, "the unikernel declares %u network device%s ('%s'...) "
                   "and the machine has %u virtio-net NIC%s: Solo5 aborts at start (not "
                   "attached)", m->net_count, m->net_count == 1 ? "" : "s",
                   first_of(m, MK_SOLO5_DEV_NET), virtio_net, virtio_net == 1 ? "" : "s");
    return count;
}
