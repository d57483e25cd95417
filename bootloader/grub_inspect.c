/* grub_inspect.c: reading back GRUB's boot.img and core.img from a disk and listing what is
 * wrong with them, without trusting any byte of the disk. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "grub_private.h"

/* diskboot's list may not grow into its own code; GRUB's code ends near 0x148. */
#define MAX_BLOCKLISTS 40

/* Reads a reference image from the local GRUB folder when there is one; a missing file only
 * means the inspection falls back to signatures. */
static int read_reference(const char *name, uint8_t out[512])
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", MK_GRUB_DEFAULT_DIR, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    int fd = mk_open_regular(path);
    if (fd < 0)
        return 0;
    ssize_t got = read(fd, out, 512);
    char extra;
    int ok = got == 512 && read(fd, &extra, 1) == 0;
    close(fd);
    return ok;
}

static int contains(const uint8_t *p, size_t len, const char *s)
{
    return memmem(p, len, s, strlen(s)) != NULL;
}

static int is_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

static int same_range(const uint8_t *a, const uint8_t *b, size_t from, size_t to)
{
    return !memcmp(a + from, b + from, to - from);
}

/* boot.img's code: everything but the BPB, the patched fields and the partition table. */
static int is_grub_boot(const uint8_t *s)
{
    uint8_t ref[512];
    if (read_reference("boot.img", ref) && same_range(s, ref, 0, GRUB_BPB_START) &&
        same_range(s, ref, GRUB_BPB_END, GRUB_KERNEL_SECTOR) &&
        same_range(s, ref, GRUB_BOOT_DRIVE + 1, GRUB_DRIVE_CHECK) &&
        same_range(s, ref, GRUB_DRIVE_CHECK + 2, GRUB_NT_MAGIC))
        return 1;
    /* Another GRUB 2 build: its jump, and the messages boot.S prints. */
    const uint8_t *code = s + GRUB_DRIVE_CHECK;
    size_t code_len = GRUB_NT_MAGIC - GRUB_DRIVE_CHECK;
    return s[0] == 0xeb && s[1] == 0x63 && s[2] == 0x90 && contains(code, code_len, "GRUB ") &&
           contains(code, code_len, "Geom") && contains(code, code_len, "Hard Disk") &&
           contains(code, code_len, "Read") && contains(code, code_len, " Error");
}

/* diskboot.img: the local copy's code bytes, or its messages and the first entry's
 * segment. Sets (*list_floor) to the lowest offset the list may use. */
static int is_grub_diskboot(const uint8_t *s, size_t *list_floor)
{
    uint8_t ref[512];
    size_t floor = GRUB_LIST_FIRST - (MAX_BLOCKLISTS - 1) * GRUB_LIST_SIZE;

    if (mk_get_le16(s + GRUB_LIST_FIRST + 10) != GRUB_CORE_SEGMENT)
        return 0;
    if (read_reference("diskboot.img", ref)) {
        size_t code_end = GRUB_LIST_FIRST;
        while (code_end > 0 && ref[code_end - 1] == 0)
            code_end--;
        if (code_end > 0 && code_end < GRUB_LIST_FIRST && same_range(s, ref, 0, code_end)) {
            *list_floor = MK_MAX(floor, code_end);
            return 1;
        }
    }
    *list_floor = floor;
    return contains(s, GRUB_LIST_FIRST, "loading") && contains(s, GRUB_LIST_FIRST, "Geom") &&
           contains(s, GRUB_LIST_FIRST, " Error");
}

static int problem(struct mk_ctx *ctx, struct mk_grub_report *rep, const char *fmt, ...)
    MK_PRINTF(3, 4);

static int problem(struct mk_ctx *ctx, struct mk_grub_report *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = mk_buf_vaddf(&rep->problems, fmt, ap);
    va_end(ap);
    if (r == MK_OK)
        r = mk_buf_add(&rep->problems, "\n", 1);
    return r < 0 ? mk_set_error(ctx, MK_ENOMEM, "out of memory") : MK_OK;
}

/* Walks diskboot's blocklists downwards from 0x1f4 and checks each run: inside the disk,
 * before partition 1, loaded where the previous one ended. */
static int check_blocklists(struct mk_ctx *ctx, struct mk_disk *disk, uint32_t first_part_lba,
                            const uint8_t *s, size_t floor, struct mk_grub_report *rep,
                            int *sane)
{
    uint64_t disk_sectors = disk->size / MK_SECTOR;
    uint32_t loaded = 0;
    int r = MK_OK, terminated = 0;

    *sane = 1;
    for (size_t off = GRUB_LIST_FIRST; off >= floor; off -= GRUB_LIST_SIZE) {
        uint64_t start = mk_get_le64(s + off);
        uint16_t len = mk_get_le16(s + off + 8);
        uint16_t seg = mk_get_le16(s + off + 10);
        if (len == 0) {
            terminated = 1;
            break;
        }
        uint16_t want_seg = (uint16_t)(GRUB_CORE_SEGMENT + (loaded << 5));
        if (rep->n_blocklists == 0) {
            rep->blocklist_start = start;
            rep->blocklist_len = len;
            rep->blocklist_segment = seg;
        }
        rep->n_blocklists++;
        loaded += len;
        uint64_t last = start + len - 1;
        if (start == 0 || start >= disk_sectors || len > disk_sectors - start) {
            r = problem(ctx, rep, "core.img blocklist %u (LBA %llu-%llu) is outside the disk "
                        "(%llu sectors)", rep->n_blocklists, (unsigned long long)start,
                        (unsigned long long)last, (unsigned long long)disk_sectors);
            *sane = 0;
        } else if (first_part_lba && last >= first_part_lba) {
            r = problem(ctx, rep, "core.img blocklist runs into partition 1 (LBA %llu-%llu, "
                        "partition 1 starts at %u)", (unsigned long long)start,
                        (unsigned long long)last, first_part_lba);
            *sane = 0;
        }
        if (r == MK_OK && seg != want_seg) {
            r = problem(ctx, rep, "core.img blocklist %u loads to segment 0x%04x instead of "
                        "0x%04x", rep->n_blocklists, seg, want_seg);
            *sane = 0;
        }
        if (r < 0)
            return r;
        if (off < floor + GRUB_LIST_SIZE)
            break;
    }
    rep->core_sectors = 1 + loaded;
    if (!terminated) {
        *sane = 0;
        return problem(ctx, rep, "core.img blocklist has no zero entry to end it");
    }
    if (rep->n_blocklists == 0) {
        *sane = 0;
        return problem(ctx, rep, "core.img blocklist is empty (nothing after diskboot)");
    }
    if (rep->core_sectors > MK_GRUB_MAX_CORE_SECTORS)
        return problem(ctx, rep, "core.img is %u sectors, more than the %u GRUB can load",
                       rep->core_sectors, MK_GRUB_MAX_CORE_SECTORS);
    return MK_OK;
}

/* The size fields in the sector after diskboot, with a check that the blocklist loads the
 * whole compressed image. */
static int read_sizes(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_grub_report *rep)
{
    uint8_t s[512];
    int r = mk_disk_read(ctx, disk, rep->blocklist_start * MK_SECTOR, s, sizeof(s));
    if (r < 0)
        return r;
    rep->core_compressed_size = mk_get_le32(s + (GRUB_CORE_COMPRESSED_SIZE - 0x200));
    rep->core_uncompressed_size = mk_get_le32(s + (GRUB_CORE_UNCOMPRESSED_SIZE - 0x200));
    uint64_t loaded = (uint64_t)(rep->core_sectors - 1) * MK_SECTOR;
    if (rep->core_compressed_size > loaded)
        return problem(ctx, rep, "core.img says it holds %u compressed bytes but its "
                       "blocklist loads only %llu", rep->core_compressed_size,
                       (unsigned long long)loaded);
    return MK_OK;
}

int mk_grub_inspect(struct mk_ctx *ctx, struct mk_disk *disk, uint32_t first_part_lba,
                    struct mk_grub_report *ret)
{
    struct mk_grub_report rep = {0};
    uint8_t s[512];
    size_t floor = 0;
    int r = MK_OK, sane = 0;

    mk_buf_init(&rep.problems);
    if (disk->size < MK_SECTOR) {
        r = problem(ctx, &rep, "no boot code in the MBR (the disk is %llu bytes)",
                    (unsigned long long)disk->size);
        goto done;
    }
    if ((r = mk_disk_read(ctx, disk, 0, s, sizeof(s))) < 0) {
        mk_error_prefix(ctx, "reading the MBR");
        goto done;
    }
    if (is_zero(s, GRUB_NT_MAGIC)) {
        r = problem(ctx, &rep, "no boot code in the MBR");
        goto done;
    }
    if (!is_grub_boot(s)) {
        r = problem(ctx, &rep, "the MBR holds boot code that is not GRUB's boot.img");
        goto done;
    }
    rep.boot_code = 1;
    rep.core_lba = mk_get_le64(s + GRUB_KERNEL_SECTOR);
    rep.boot_drive = s[GRUB_BOOT_DRIVE];
    rep.drive_check_nopped = s[GRUB_DRIVE_CHECK] == 0x90 && s[GRUB_DRIVE_CHECK + 1] == 0x90;
    if (s[510] != 0x55 || s[511] != 0xaa)
        r = problem(ctx, &rep, "the MBR has no 55 AA signature: the BIOS will not boot it");
    if (r == MK_OK && !rep.drive_check_nopped)
        r = problem(ctx, &rep, "boot.img does not check the drive number (not patched for a "
                    "hard disk)");
    if (r == MK_OK && rep.boot_drive != 0xff)
        r = problem(ctx, &rep, "boot.img always boots BIOS drive 0x%02x instead of the one "
                    "the BIOS booted", rep.boot_drive);
    if (r == MK_OK && mk_get_le16(s + GRUB_KERNEL_ADDRESS) != 0x8000)
        r = problem(ctx, &rep, "boot.img jumps to 0x%04x instead of 0x8000",
                    mk_get_le16(s + GRUB_KERNEL_ADDRESS));
    if (r < 0)
        goto done;

    uint64_t disk_sectors = disk->size / MK_SECTOR;
    if (rep.core_lba == 0 || rep.core_lba >= disk_sectors) {
        r = problem(ctx, &rep, "core.img not found at LBA %llu (the disk has %llu sectors)",
                    (unsigned long long)rep.core_lba, (unsigned long long)disk_sectors);
        goto done;
    }
    if (first_part_lba && rep.core_lba >= first_part_lba) {
        r = problem(ctx, &rep, "core.img at LBA %llu is inside partition 1 (from LBA %u)",
                    (unsigned long long)rep.core_lba, first_part_lba);
        goto done;
    }
    if ((r = mk_disk_read(ctx, disk, rep.core_lba * MK_SECTOR, s, sizeof(s))) < 0) {
        mk_error_prefix(ctx, "reading core.img");
        goto done;
    }
    if (!is_grub_diskboot(s, &floor)) {
        r = problem(ctx, &rep, "core.img not found at LBA %llu", (unsigned long long)rep.core_lba);
        goto done;
    }
    rep.core_found = 1;
    if ((r = check_blocklists(ctx, disk, first_part_lba, s, floor, &rep, &sane)) < 0)
        goto done;
    if (sane) {
        if (rep.blocklist_start != rep.core_lba + 1)
            r = problem(ctx, &rep, "core.img's second sector is at LBA %llu, not right after "
                        "diskboot at LBA %llu", (unsigned long long)rep.blocklist_start,
                        (unsigned long long)rep.core_lba);
        if (r == MK_OK)
            r = read_sizes(ctx, disk, &rep);
    }
done:
    if (r < 0) {
        mk_buf_release(&rep.problems);
        return r;
    }
    *ret = rep;
    return MK_OK;
}
