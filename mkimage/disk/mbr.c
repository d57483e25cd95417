/* mbr.c: the DOS partition table in sector 0, written by hand because it is 16 bytes per
 * partition and libfdisk would pull in a device-oriented API for nothing. */
#include <string.h>

#include "mbr.h"
#include "mk_private.h"

/* The geometry fdisk assumes for LBA disks. */
#define HEADS 255u
#define SECTORS 63u
#define MAX_CYL 1023u

/* Encodes (lba) as fdisk does: head, then sector with the cylinder's two high bits, then
 * the cylinder's low byte; addresses past cylinder 1023 saturate to (1023, 254, 63). */
static void put_chs(uint8_t *p, uint32_t lba)
{
    uint32_t cyl = lba / (HEADS * SECTORS);
    uint32_t head = (lba / SECTORS) % HEADS;
    uint32_t sec = lba % SECTORS + 1;

    if (cyl > MAX_CYL) {
        cyl = MAX_CYL;
        head = HEADS - 1;
        sec = SECTORS;
    }
    p[0] = (uint8_t)head;
    p[1] = (uint8_t)(sec | ((cyl >> 2) & 0xc0));
    p[2] = (uint8_t)cyl;
}

void mk_mbr_build(uint8_t sector[512], uint32_t disk_signature, uint8_t type, uint32_t lba_start,
                  uint32_t lba_count)
{
    uint8_t *e = sector + MK_MBR_PART_OFFSET;

    memset(sector, 0, 512);
    mk_put_le32(sector + MK_MBR_SIG_OFFSET, disk_signature);
    e[0] = 0x80;
    put_chs(e + 1, lba_start);
    e[4] = type;
    put_chs(e + 5, lba_count ? lba_start + lba_count - 1 : lba_start);
    mk_put_le32(e + 8, lba_start);
    mk_put_le32(e + 12, lba_count);
    sector[510] = 0x55;
    sector[511] = 0xaa;
}

int mk_mbr_parse(const uint8_t sector[512], struct mk_mbr *ret)
{
    struct mk_mbr m = {0};

    if (sector[510] != 0x55 || sector[511] != 0xaa)
        return MK_EFORMAT;
    m.disk_signature = mk_get_le32(sector + MK_MBR_SIG_OFFSET);
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = sector + MK_MBR_PART_OFFSET + 16 * i;
        m.part[i].status = e[0];
        m.part[i].type = e[4];
        m.part[i].lba_start = mk_get_le32(e + 8);
        m.part[i].lba_count = mk_get_le32(e + 12);
    }
    *ret = m;
    return MK_OK;
}
