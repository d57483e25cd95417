/* multiboot.c: finds and checks multiboot (v1) and multiboot2 headers the way GRUB 2 does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "multiboot.h"

/* Header layouts from the Multiboot 0.6.96 and Multiboot2 1.0 specifications; the checks
 * follow GRUB 2.06 (loader/i386/multiboot_mbi.c, loader/multiboot_mbi2.c,
 * loader/multiboot_elfxx.c) so that what we accept, GRUB boots. */
#define MB1_MAGIC 0x1badb002u
#define MB1_SEARCH 8192
#define MB1_ALIGN 4
#define MB1_FLAG_VIDEO (1u << 2)
#define MB1_FLAG_AOUT_KLUDGE (1u << 16)
/* GRUB refuses a kernel that requires any of these (the low 16 bits are "required"
 * features; GRUB knows bits 0-2 only). */
#define MB1_UNSUPPORTED_FLAGS 0x0000fff8u

#define MB2_MAGIC 0xe85250d6u
#define MB2_SEARCH 32768
#define MB2_ALIGN 8
#define MB2_ARCH_I386 0
#define MB2_TAG_END 0
#define MB2_TAG_ADDRESS 2
#define MB2_TAG_RELOCATABLE 10
#define MB2_TAG_OPTIONAL 1

#define ELF_EM_386 3
#define ELF_EM_X86_64 62

/* The first 8 KiB hold the v1 header and GRUB's ELF program headers; v2 looks at 32 KiB. */
#define MK_KERNEL_HEAD MB2_SEARCH

MK_PRINTF(3, 4) static int set_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return MK_EFORMAT;
}

/* Checks the a.out kludge address fields the way GRUB uses them to place the image: the
 * header's load address maps to a file offset, which must not be negative. */
static int check_aout_kludge(const uint8_t *h, uint32_t off, char *why, size_t why_size)
{
    uint32_t header_addr = mk_get_le32(h + 12), load_addr = mk_get_le32(h + 16);
    uint32_t load_end = mk_get_le32(h + 20), bss_end = mk_get_le32(h + 24);
    uint32_t entry = mk_get_le32(h + 28);

    if (header_addr < load_addr)
        return set_why(why, why_size,
                       "multiboot a.out header_addr 0x%x is below load_addr 0x%x", header_addr,
                       load_addr);
    if (header_addr - load_addr > off)
        return set_why(why, why_size,
                       "multiboot a.out load_addr 0x%x lies before the start of the file",
                       load_addr);
    if (load_end && load_end <= load_addr)
        return set_why(why, why_size,
                       "multiboot a.out load_end_addr 0x%x is not above load_addr 0x%x",
                       load_end, load_addr);
    if (load_end && load_end - load_addr < header_addr - load_addr + 32)
        return set_why(why, why_size,
                       "multiboot a.out load_end_addr 0x%x ends before the header", load_end);
    if (bss_end && bss_end < (load_end ? load_end : load_addr))
        return set_why(why, why_size,
                       "multiboot a.out bss_end_addr 0x%x is below load_end_addr 0x%x", bss_end,
                       load_end);
    uint32_t end = bss_end ? bss_end : load_end;
    if (entry < load_addr || (end && entry >= end))
        return set_why(why, why_size,
                       "multiboot a.out entry_addr 0x%x is outside the loaded image", entry);
    return MK_OK;
}

/* A v1 header at (off), known to fit 12 bytes and to have the magic. MK_OK, or MK_EFORMAT
 * with a reason; (*ret_checksum_ok) says whether it was a real header at all. */
static int check_v1(const uint8_t *buf, size_t len, uint32_t off, struct mk_kernel_info *info,
                    int *ret_checksum_ok, char *why, size_t why_size)
{
    const uint8_t *h = buf + off;
    uint32_t flags = mk_get_le32(h + 4);

    *ret_checksum_ok = (uint32_t)(MB1_MAGIC + flags + mk_get_le32(h + 8)) == 0;
    if (!*ret_checksum_ok)
        return set_why(why, why_size, "multiboot header at offset %u has a bad checksum", off);
    if (flags & MB1_UNSUPPORTED_FLAGS)
        return set_why(why, why_size,
                       "multiboot header at offset %u requires features GRUB does not support "
                       "(flags 0x%08x)",
                       off, flags);
    if (flags & MB1_FLAG_AOUT_KLUDGE) {
        if (len - off < 32)
            return set_why(why, why_size,
                           "multiboot a.out header at offset %u is cut short", off);
        int r = check_aout_kludge(h, off, why, why_size);
        if (r < 0)
            return r;
    }
    if (flags & MB1_FLAG_VIDEO) {
        if (len - off < 48)
            return set_why(why, why_size,
                           "multiboot video fields at offset %u are cut short", off);
        uint32_t mode_type = mk_get_le32(h + 32);
        if (mode_type > 1)
            return set_why(why, why_size, "multiboot header asks for video mode type %u",
                           mode_type);
    }
    info->multiboot = 1;
    info->aout_kludge = !!(flags & MB1_FLAG_AOUT_KLUDGE);
    info->header_offset = off;
    info->flags = flags;
    return MK_OK;
}

/* A v2 header at (off) with the magic: checksum, architecture, then the tag list, which must
 * reach an end tag inside header_length. Unknown tags not marked optional are refused, as
 * GRUB does. */
static int check_v2(const uint8_t *buf, size_t len, uint32_t off, struct mk_kernel_info *info,
                    int *ret_checksum_ok, char *why, size_t why_size)
{
    const uint8_t *h = buf + off;
    uint32_t arch = mk_get_le32(h + 4), hlen = mk_get_le32(h + 8);
    int address_tag = 0;

    *ret_checksum_ok = (uint32_t)(MB2_MAGIC + arch + hlen + mk_get_le32(h + 12)) == 0;
    if (!*ret_checksum_ok)
        return set_why(why, why_size, "multiboot2 header at offset %u has a bad checksum", off);
    if (arch != MB2_ARCH_I386)
        return set_why(why, why_size,
                       "multiboot2 header at offset %u is for architecture %u, not i386 (0)", off,
                       arch);
    if (hlen < 16 + 8 || hlen > len - off)
        return set_why(why, why_size,
                       "multiboot2 header at offset %u has a bad header_length %u", off, hlen);
    uint32_t pos = 16;
    for (;;) {
        if (hlen - pos < 8)
            return set_why(why, why_size,
                           "multiboot2 header at offset %u has no end tag within its %u bytes",
                           off, hlen);
        uint16_t type = mk_get_le16(h + pos), tflags = mk_get_le16(h + pos + 2);
        uint32_t size = mk_get_le32(h + pos + 4);
        if (size < 8 || size > hlen - pos)
            return set_why(why, why_size,
                           "multiboot2 header tag %u at offset %u has a bad size %u", type,
                           off + pos, size);
        if (type == MB2_TAG_END)
            break;
        if (type == MB2_TAG_ADDRESS)
            address_tag = 1;
        else if (type > MB2_TAG_RELOCATABLE && !(tflags & MB2_TAG_OPTIONAL))
            return set_why(why, why_size,
                           "multiboot2 header requires tag type %u, which GRUB does not know",
                           type);
        uint32_t next = (size + 7) & ~7u;
        if (next > hlen - pos)
            return set_why(why, why_size,
                           "multiboot2 header at offset %u has no end tag within its %u bytes",
                           off, hlen);
        pos += next;
    }
    info->multiboot = 2;
    info->aout_kludge = address_tag;
    info->header_offset = off;
    info->flags = arch;
    return MK_OK;
}

typedef int (*check_fn)(const uint8_t *buf, size_t len, uint32_t off,
                        struct mk_kernel_info *info, int *ret_checksum_ok, char *why,
                        size_t why_size);

/* Scans for (magic) the way GRUB does (aligned, within (search) bytes) and returns the first
 * valid header. When there is none, explains the best near miss: an aligned header with a
 * good checksum but bad contents, else one that is misaligned or too far into the file,
 * else an aligned magic with a bad checksum. Returns 1 found, 0 none, MK_EFORMAT. */
static int scan(const uint8_t *buf, size_t len, uint32_t magic, size_t search, size_t align,
                size_t min_size, const char *what, check_fn check, struct mk_kernel_info *info,
                char *why, size_t why_size)
{
    char first[256] = "", misplaced[256] = "", badsum[256] = "";

    /* Every byte offset, so a misplaced header can be explained rather than missed; a header
     * further than twice the window away is not worth explaining. */
    size_t scan_len = MK_MIN(len, 2 * search);
    for (size_t off = 0; off + min_size <= scan_len; off++) {
        if (mk_get_le32(buf + off) != magic)
            continue;
        int sum_ok = 0;
        char reason[256];
        /* GRUB reads (search) bytes and wants the 12 fixed bytes inside them; a v2 tag list
         * past them would be read from beyond its buffer. */
        int in_window = off + 12 <= search;
        int r = check(buf, in_window ? MK_MIN(len, search) : len, (uint32_t)off, info, &sum_ok,
                      reason, sizeof(reason));
        if (in_window && off % align == 0) {
            if (r == MK_OK)
                return 1;
            if (sum_ok && !first[0])
                snprintf(first, sizeof(first), "%s", reason);
            else if (!sum_ok && !badsum[0])
                snprintf(badsum, sizeof(badsum), "%s", reason);
        } else if (sum_ok && !misplaced[0]) {
            if (!in_window)
                snprintf(misplaced, sizeof(misplaced),
                         "%s header at offset %zu is beyond the first %zu KiB", what, off,
                         search / 1024);
            else
                snprintf(misplaced, sizeof(misplaced),
                         "%s header at offset %zu is not %zu-byte aligned", what, off, align);
        }
    }
    memset(info, 0, sizeof(*info));
    if (first[0])
        return set_why(why, why_size, "%s", first);
    if (misplaced[0])
        return set_why(why, why_size, "%s", misplaced);
    if (badsum[0])
        return set_why(why, why_size, "%s", badsum);
    return 0;
}

int mk_multiboot_parse(const void *buf, size_t len, struct mk_kernel_info *ret, char *why,
                       size_t why_size)
{
    const uint8_t *p = buf;
    struct mk_kernel_info info = {0};
    char why2[256] = "";
    int is_elf = 0;

    if (why && why_size)
        why[0] = '\0';
    if (len >= 5 && !memcmp(p, "\177ELF", 4))
        is_elf = p[4] == 2 ? 2 : 1;
    int r2 = scan(p, len, MB2_MAGIC, MB2_SEARCH, MB2_ALIGN, 16, "multiboot2", check_v2, &info,
                  why2, sizeof(why2));
    int r1 = r2 == 1 ? 1
                     : scan(p, len, MB1_MAGIC, MB1_SEARCH, MB1_ALIGN, 12, "multiboot", check_v1,
                            &info, why, why_size);
    info.is_elf = is_elf;
    *ret = info;
    if (r1 == 1)
        return MK_OK;
    if (r1 < 0)
        return r1;
    if (r2 < 0)
        return set_why(why, why_size, "%s", why2);
    return MK_OK;
}

/* GRUB's ELF checks (multiboot_elfxx.c): little-endian x86, an executable, and program
 * headers within the first 8 KiB, which is all GRUB reads before loading. */
static int check_elf(struct mk_ctx *ctx, const char *label, const uint8_t *h, size_t len,
                     uint64_t file_size)
{
    int is64 = h[4] == 2;
    size_t ehdr_size = is64 ? 64 : 52;

    if (len < ehdr_size || (h[4] != 1 && h[4] != 2) || h[5] != 1)
        return mk_set_error(ctx, MK_EFORMAT, "%s: not a little-endian 32/64-bit ELF file",
                            label);
    uint16_t type = mk_get_le16(h + 16), machine = mk_get_le16(h + 18);
    if (machine != (is64 ? ELF_EM_X86_64 : ELF_EM_386))
        return mk_set_error(ctx, MK_EFORMAT, "%s: ELF file for machine %u, not %s", label,
                            machine, is64 ? "x86-64" : "i386");
    if (type != 2 && type != 3)
        return mk_set_error(ctx, MK_EFORMAT,
                            "%s: ELF file of type %u, not an executable", label, type);
    uint64_t phoff = is64 ? mk_get_le64(h + 32) : mk_get_le32(h + 28);
    uint16_t phentsize = mk_get_le16(h + (is64 ? 54 : 42));
    uint16_t phnum = mk_get_le16(h + (is64 ? 56 : 44));
    if (phoff > MB1_SEARCH || (uint64_t)phentsize * phnum > MB1_SEARCH - phoff)
        return mk_set_error(ctx, MK_EFORMAT,
                            "%s: ELF program headers lie beyond the first 8 KiB", label);
    if (phnum && (phentsize < (is64 ? 56 : 32) || phoff + (uint64_t)phentsize * phnum > len))
        return mk_set_error(ctx, MK_EFORMAT, "%s: ELF program headers are cut short", label);
    /* GRUB reads each segment's p_filesz bytes from p_offset and fails at boot when the
     * file ends first. */
    for (uint16_t i = 0; i < phnum; i++) {
        const uint8_t *ph = h + phoff + (uint64_t)i * phentsize;
        uint64_t off = is64 ? mk_get_le64(ph + 8) : mk_get_le32(ph + 4);
        uint64_t filesz = is64 ? mk_get_le64(ph + 32) : mk_get_le32(ph + 16);

        if (mk_get_le32(ph) == 1 /* PT_LOAD */ && (off > file_size || filesz > file_size - off))
            return mk_set_error(ctx, MK_EFORMAT, "%s: ELF program header %u: p_filesz 0x%llx "
                                "at p_offset 0x%llx runs past the end of the %llu-byte file",
                                label, i, (unsigned long long)filesz, (unsigned long long)off,
                                (unsigned long long)file_size);
    }
    return MK_OK;
}

/* The checks on a kernel's first bytes (head), (file_size) bytes in all; messages start with
 * (label), the file's quoted name. */
static int check_head(struct mk_ctx *ctx, const char *label, const uint8_t *head, size_t len,
                      uint64_t file_size, struct mk_kernel_info *ret)
{
    struct mk_kernel_info info = {0};
    char why[256];
    int r;

    if (len == 0)
        return mk_set_error(ctx, MK_EFORMAT, "%s: empty file, not a kernel", label);
    r = mk_multiboot_parse(head, len, &info, why, sizeof(why));
    if (r < 0)
        return mk_set_error(ctx, r, "%s: %s", label, why);
    if (!info.is_elf && !info.aout_kludge)
        return mk_set_error(ctx, MK_EFORMAT,
                            "%s: not an ELF file (and no multiboot a.out kludge header)", label);
    if (!info.multiboot)
        return mk_set_error(ctx, MK_EFORMAT,
                            "%s: no multiboot header in the first 8 KiB (nor a multiboot2 "
                            "header in the first 32 KiB)", label);
    /* GRUB loads the kludge's address fields in preference to the ELF headers. */
    if (info.is_elf && !info.aout_kludge &&
        (r = check_elf(ctx, label, head, len, file_size)) < 0)
        return r;
    if (info.multiboot == 1 && info.aout_kludge) {
        const uint8_t *h = head + info.header_offset;
        uint32_t load_addr = mk_get_le32(h + 16), load_end = mk_get_le32(h + 20);
        uint64_t start = info.header_offset - (mk_get_le32(h + 12) - load_addr);
        if (start >= file_size)
            return mk_set_error(ctx, MK_EFORMAT, "%s: multiboot a.out load address lies past "
                                "the end of the file", label);
        /* GRUB reads load_end_addr - load_addr bytes from there. */
        if (load_end && load_end - load_addr > file_size - start)
            return mk_set_error(ctx, MK_EFORMAT, "%s: multiboot a.out load_end_addr 0x%x lies "
                                "past the end of the %llu-byte file", label, load_end,
                                (unsigned long long)file_size);
    }
    if (ret)
        *ret = info;
    return MK_OK;
}

int mk_kernel_check(struct mk_ctx *ctx, const char *path, struct mk_kernel_info *ret)
{
    struct stat st;
    size_t len = 0;
    int r = MK_OK;
    char *label = NULL;

    int fd = mk_open_input(ctx, path, "kernel");
    if (fd < 0)
        return fd;
    uint8_t *head = malloc(MK_KERNEL_HEAD);
    if (!head) {
        close(fd);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory reading '%s'", path);
    }
    if (fstat(fd, &st) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot stat kernel '%s'", path);
        goto out;
    }
    while (len < MK_KERNEL_HEAD) {
        ssize_t n = read(fd, head + len, MK_KERNEL_HEAD - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot read kernel '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        /* Debian's xen.gz: checked, and later stored, decompressed. */
        struct mk_buf data = MK_BUF_INIT;

        r = mk_kernel_read(ctx, path, &data, NULL);
        if (r == MK_OK && asprintf(&label, "'%s' (gzip-compressed)", path) < 0)
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        if (r == MK_OK)
            r = check_head(ctx, label, (const uint8_t *)data.buf,
                           MK_MIN(data.len, MK_KERNEL_HEAD), data.len, ret);
        if (r == MK_OK && ret)
            ret->gzip = 1;
        mk_buf_release(&data);
        goto out;
    }
    if (asprintf(&label, "'%s'", path) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = check_head(ctx, label, head, len, (uint64_t)st.st_size, ret);
out:
    free(label);
    free(head);
    close(fd);
    return r;
}
