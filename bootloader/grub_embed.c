/* grub_embed.c: patching boot.img and core.img and writing them into the MBR gap, as
 * grub-bios-setup does (hand-written from the documented offsets: GRUB's own setup code is
 * a tool that wants a block device, not a library). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grub_private.h"

int mk_grub_patch_mbr(struct mk_ctx *ctx, uint8_t mbr[512], const uint8_t boot_img[512],
                      uint64_t core_lba)
{
    uint8_t out[512];

    if (boot_img[510] != 0x55 || boot_img[511] != 0xaa)
        return mk_set_error(ctx, MK_EBOOT, "boot.img has no 55 AA boot signature");
    /* The offsets below are only right for the boot.S layout they come from: its first jump
     * lands at 0x65 and the drive check is a short jump (or already NOPed) at 0x66. */
    if (boot_img[0] != 0xeb || boot_img[1] != 0x63 ||
        !((boot_img[GRUB_DRIVE_CHECK] == 0xeb && boot_img[GRUB_DRIVE_CHECK + 1] == 0x05) ||
          (boot_img[GRUB_DRIVE_CHECK] == 0x90 && boot_img[GRUB_DRIVE_CHECK + 1] == 0x90)))
        return mk_set_error(ctx, MK_EBOOT, "boot.img is not the GRUB 2 i386-pc boot.img "
                            "layout this tool knows (eb 63 at 0x00, eb 05 at 0x66)");
    memcpy(out, boot_img, sizeof(out));
    memcpy(out + GRUB_BPB_START, mbr + GRUB_BPB_START, GRUB_BPB_END - GRUB_BPB_START);
    memcpy(out + GRUB_NT_MAGIC, mbr + GRUB_NT_MAGIC, GRUB_PART_END - GRUB_NT_MAGIC);
    mk_put_le64(out + GRUB_KERNEL_SECTOR, core_lba);
    /* 0xff: boot from whatever drive the BIOS passed in %dl. */
    out[GRUB_BOOT_DRIVE] = 0xff;
    /* NOP the jump over the fix-up that forces a bad %dl to 0x80, as for a hard disk. */
    out[GRUB_DRIVE_CHECK] = 0x90;
    out[GRUB_DRIVE_CHECK + 1] = 0x90;
    memcpy(mbr, out, sizeof(out));
    return MK_OK;
}

int mk_grub_patch_core(struct mk_ctx *ctx, uint8_t *core, size_t len, uint64_t core_lba)
{
    if (len <= MK_SECTOR)
        return mk_set_error(ctx, MK_EBOOT, "core.img of %zu bytes is too short", len);
    uint16_t seg = mk_get_le16(core + GRUB_LIST_FIRST + 10);
    if (seg != GRUB_CORE_SEGMENT)
        return mk_set_error(ctx, MK_EBOOT, "core.img does not start with GRUB's i386-pc "
                            "diskboot sector (segment 0x%04x at 0x1fe, expected 0x%04x)",
                            seg, GRUB_CORE_SEGMENT);
    uint64_t rest = (len - 1) / MK_SECTOR; /* sectors after diskboot's, rounded up */
    if (rest > 0xffff)
        return mk_set_error(ctx, MK_ENOSPC, "core.img of %zu bytes is too large", len);
    if (core_lba >= UINT64_MAX - rest)
        return mk_set_error(ctx, MK_EINVAL, "core.img LBA %llu is out of range",
                            (unsigned long long)core_lba);
    /* One contiguous run right after diskboot, loaded at 0x8200, then a zero entry that
     * ends diskboot's walk down the list. */
    uint8_t *e = core + GRUB_LIST_FIRST;
    mk_put_le64(e, core_lba + 1);
    mk_put_le16(e + 8, (uint16_t)rest);
    mk_put_le16(e + 10, GRUB_CORE_SEGMENT);
    memset(e - GRUB_LIST_SIZE, 0, GRUB_LIST_SIZE);
    return MK_OK;
}

/* Reads DIR/boot.img, which must be one sector with the boot signature. */
static int read_boot_img(struct mk_ctx *ctx, const char *dir, uint8_t out[512])
{
    struct mk_buf b = MK_BUF_INIT;
    char path[4096];
    int r;

    if ((r = mk_grub_dir_path(ctx, dir, "boot.img", path, sizeof(path))) < 0)
        return r;
    if (access(path, R_OK) < 0)
        return mk_grub_missing_dir(ctx, dir);
    if ((r = mk_buf_read_file(ctx, &b, path, 4096)) < 0)
        return r;
    if (b.len != MK_SECTOR || (uint8_t)b.buf[510] != 0x55 || (uint8_t)b.buf[511] != 0xaa)
        r = mk_set_error(ctx, MK_EBOOT, "%s is not a boot sector (%zu bytes%s)", path, b.len,
                         b.len == MK_SECTOR ? ", no 55 AA" : "");
    else
        memcpy(out, b.buf, MK_SECTOR);
    mk_buf_release(&b);
    return r;
}

/* GRUB's embedding rules for the partition table it is written around (msdos.c's embed
 * checks): a valid signature and boot flags, no GPT protective entry. The lowest start of a
 * used entry lowers (*gap_end) when it is below the caller's first partition. */
static int check_table(struct mk_ctx *ctx, const uint8_t mbr[512], uint64_t *gap_end)
{
    if (mbr[510] != 0x55 || mbr[511] != 0xaa)
        return mk_set_error(ctx, MK_EBOOT, "sector 0 has no partition table (no 55 AA): "
                            "write the partition table before GRUB");
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = mbr + 0x1be + 16 * i;
        if (e[0] != 0x00 && e[0] != 0x80)
            return mk_set_error(ctx, MK_EBOOT, "partition %d has boot flag 0x%02x; GRUB's "
                                "boot code needs 0x00 or 0x80", i + 1, e[0]);
        if (e[4] == 0xee)
            return mk_set_error(ctx, MK_EBOOT, "partition %d is a GPT protective entry "
                                "(type 0xee); GRUB is embedded only with a DOS partition "
                                "table", i + 1);
        uint32_t start = mk_get_le32(e + 8);
        if (e[4] != 0 && start < *gap_end)
            *gap_end = start;
    }
    return MK_OK;
}

int mk_grub_install(struct mk_ctx *ctx, const struct mk_grub_opts *opts, struct mk_disk *disk,
                    const void *core, size_t core_len, uint32_t first_part_lba)
{
    const char *dir = opts && opts->grub_dir ? opts->grub_dir : MK_GRUB_DEFAULT_DIR;
    uint8_t boot_img[512], mbr[512];
    uint64_t gap_end = first_part_lba;
    int r;

    if (core_len == 0)
        return mk_set_error(ctx, MK_EINVAL, "core.img is empty");
    uint64_t nsec = ((uint64_t)core_len + MK_SECTOR - 1) / MK_SECTOR;
    if ((r = read_boot_img(ctx, dir, boot_img)) < 0)
        return r;
    if (disk->size < 2 * MK_SECTOR)
        return mk_set_error(ctx, MK_ENOSPC, "the disk (%llu bytes) has no room for GRUB",
                            (unsigned long long)disk->size);
    if ((r = mk_disk_read(ctx, disk, 0, mbr, sizeof(mbr))) < 0)
        return mk_error_prefix(ctx, "reading sector 0");
    if ((r = check_table(ctx, mbr, &gap_end)) < 0)
        return r;
    uint64_t gap = gap_end > 1 ? gap_end - 1 : 0;
    if (nsec > gap)
        return mk_set_error(ctx, MK_ENOSPC, "core.img is %llu sectors but the gap before "
                            "partition 1 holds only %llu", (unsigned long long)nsec,
                            (unsigned long long)gap);
    if (nsec > MK_GRUB_MAX_CORE_SECTORS)
        return mk_set_error(ctx, MK_ENOSPC, "core.img is %llu sectors but GRUB's boot code "
                            "loads at most %u", (unsigned long long)nsec,
                            MK_GRUB_MAX_CORE_SECTORS);

    /* diskboot loads whole sectors, so the tail is padded with zeros. */
    uint8_t *padded = calloc(nsec, MK_SECTOR);
    if (!padded)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    memcpy(padded, core, core_len);
    r = mk_grub_patch_core(ctx, padded, nsec * MK_SECTOR, 1);
    if (r == MK_OK && (r = mk_disk_write(ctx, disk, MK_SECTOR, padded, nsec * MK_SECTOR)) < 0)
        mk_error_prefix(ctx, "writing core.img");
    free(padded);
    if (r < 0)
        return r;
    /* Sector 0 last, so boot code never points at a core.img that is not there yet. */
    if ((r = mk_grub_patch_mbr(ctx, mbr, boot_img, 1)) < 0)
        return r;
    if ((r = mk_disk_write(ctx, disk, 0, mbr, sizeof(mbr))) < 0)
        return mk_error_prefix(ctx, "writing the MBR");
    return MK_OK;
}
