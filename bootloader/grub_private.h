/* grub_private.h: offsets and helpers shared by the grub_*.c files (see grub.h). */
#ifndef MK_GRUB_PRIVATE_H
#define MK_GRUB_PRIVATE_H

#include "grub.h"

/* boot.img (sector 0); ../shared/docs/grub-bios-embedding.md §3. */
#define GRUB_BPB_START 0x03
#define GRUB_BPB_END 0x5a
#define GRUB_KERNEL_ADDRESS 0x5a
#define GRUB_KERNEL_SECTOR 0x5c
#define GRUB_BOOT_DRIVE 0x64
#define GRUB_DRIVE_CHECK 0x66
#define GRUB_NT_MAGIC 0x1b8
#define GRUB_PART_END 0x1fe

/* diskboot.img (core.img's first sector) and the sector after it; §4. */
#define GRUB_LIST_FIRST 0x1f4
#define GRUB_LIST_SIZE 12
#define GRUB_CORE_SEGMENT 0x820
#define GRUB_CORE_COMPRESSED_SIZE (0x200 + 0x08)
#define GRUB_CORE_UNCOMPRESSED_SIZE (0x200 + 0x0c)
#define GRUB_CORE_NO_RS_LENGTH (0x200 + 0x14)

/* MK_EMISSING naming grub-pc-bin, for a GRUB folder without the i386-pc files. */
int mk_grub_missing_dir(struct mk_ctx *ctx, const char *dir);
/* "dir/name" into (path); MK_EINVAL when it does not fit. */
int mk_grub_dir_path(struct mk_ctx *ctx, const char *dir, const char *name, char *path,
                     size_t size);

#endif
