/* multiboot.h: recognising multiboot (v1) and multiboot2 kernels. */
#ifndef MK_MULTIBOOT_H
#define MK_MULTIBOOT_H

#include "mk_private.h"

struct mk_kernel_info {
    int multiboot;          /* 1, 2, or 0 for none */
    int is_elf;             /* an ELF file (1 = 32-bit, 2 = 64-bit) */
    int aout_kludge;        /* v1 header with the address fields (flag bit 16) */
    uint32_t header_offset; /* where the header starts in the file */
    uint32_t flags;         /* v1 flags; v2 architecture */
    int gzip;               /* the file is gzip-compressed; the rest is about its contents */
};

/* Looks for a valid header in (buf) (the first bytes of a file): v1 in the first 8 KiB,
 * 4-byte aligned, with a matching checksum; v2 in the first 32 KiB, 8-byte aligned. A file
 * with both is reported as v2 (GRUB's multiboot2 loader). Returns MK_OK with (ret->multiboot)
 * 0 when there is no header; MK_EFORMAT for a header that is present but invalid, with a
 * reason in (why). */
int mk_multiboot_parse(const void *buf, size_t len, struct mk_kernel_info *ret, char *why,
                       size_t why_size);
/* Checks the file at (path) is a kernel GRUB can boot with multiboot: an ELF, or an a.out
 * kludge image, with a valid header. Errors name the file: "'x': not an ELF file and no
 * multiboot a.out header", "'x': no multiboot header in the first 8 KiB". */
int mk_kernel_check(struct mk_ctx *ctx, const char *path, struct mk_kernel_info *ret);
/* The whole kernel at (path) in (ret), decompressed when it is gzip-compressed ((*gzip) then
 * 1). At most 256 MiB either way. */
int mk_kernel_read(struct mk_ctx *ctx, const char *path, struct mk_buf *ret, int *gzip);

#endif
