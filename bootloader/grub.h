/* grub.h: GRUB 2 for BIOS (i386-pc): core.img, and embedding it in the MBR gap as
 * grub-bios-setup would. Offsets: ../shared/docs/grub-bios-embedding.md. */
#ifndef MK_GRUB_H
#define MK_GRUB_H

#include "disk_private.h"

#define MK_GRUB_DEFAULT_DIR "/usr/lib/grub/i386-pc"
/* grub-bios-setup never embeds more: (0x78000 - 0x9000) >> 9. */
#define MK_GRUB_MAX_CORE_SECTORS 888u

struct mk_grub_opts {
    const char *grub_dir;     /* NULL = MK_GRUB_DEFAULT_DIR */
    const char *grub_mkimage; /* NULL = "grub-mkimage" */
};

/* The modules (space-separated, sorted) that core.img needs so that every command in
 * (cfg) exists at boot: the disk, partition and filesystem drivers, normal, serial and
 * terminal, plus what command.lst maps each command to. MK_EBOOT naming a command that no
 * module provides. */
int mk_grub_modules_for_config(struct mk_ctx *ctx, const struct mk_grub_opts *opts,
                               const char *cfg, struct mk_buf *modules);
/* Runs grub-mkimage -O i386-pc with prefix (,msdos1)/boot/grub into (core). MK_EMISSING
 * naming the Debian package when grub-mkimage or the module folder is missing. */
int mk_grub_make_core(struct mk_ctx *ctx, const struct mk_grub_opts *opts, const char *cfg,
                      struct mk_buf *core);
/* Pure patches, for tests: boot.img into (mbr), keeping its BPB and partition table;
 * the diskboot blocklist of (core) for core.img at (core_lba). */
int mk_grub_patch_mbr(struct mk_ctx *ctx, uint8_t mbr[512], const uint8_t boot_img[512],
                      uint64_t core_lba);
int mk_grub_patch_core(struct mk_ctx *ctx, uint8_t *core, size_t len, uint64_t core_lba);
/* Writes core.img at LBA 1 and the patched boot.img over sector 0 of (disk), whose
 * partition table must already be there. MK_ENOSPC when core.img does not fit before
 * (first_part_lba) or exceeds MK_GRUB_MAX_CORE_SECTORS. */
int mk_grub_install(struct mk_ctx *ctx, const struct mk_grub_opts *opts, struct mk_disk *disk,
                    const void *core, size_t core_len, uint32_t first_part_lba);

struct mk_grub_report {
    int boot_code;            /* GRUB's boot.img is in the MBR */
    uint64_t core_lba;        /* boot.img's kernel_sector */
    uint8_t boot_drive;       /* 0xff = the BIOS's %dl */
    int drive_check_nopped;   /* the hard-disk %dl workaround is enabled */
    int core_found;           /* a diskboot sector is at core_lba */
    uint32_t core_sectors;    /* 1 + the sectors the blocklists load */
    uint32_t n_blocklists;
    uint64_t blocklist_start; /* first entry */
    uint32_t blocklist_len;
    uint16_t blocklist_segment;
    uint32_t core_compressed_size;
    uint32_t core_uncompressed_size;
    struct mk_buf problems;   /* one line each, '\n'-terminated; release with mk_buf_release */
};
/* Checks the boot code of (disk) without changing it; problems go into the report
 * ("no boot code in the MBR", "core.img blocklist runs into partition 1"). Fails only when
 * the disk cannot be read. */
int mk_grub_inspect(struct mk_ctx *ctx, struct mk_disk *disk, uint32_t first_part_lba,
                    struct mk_grub_report *ret);

#endif
