/* mbr.h: the DOS partition table in sector 0. */
#ifndef MK_MBR_H
#define MK_MBR_H

#include <stdint.h>

#define MK_MBR_PART_OFFSET 0x1be
#define MK_MBR_SIG_OFFSET 0x1b8

struct mk_mbr_part {
    uint8_t status;      /* 0x80 active, 0x00 not */
    uint8_t type;        /* 0 = unused slot */
    uint32_t lba_start;
    uint32_t lba_count;
};

struct mk_mbr {
    uint32_t disk_signature;
    struct mk_mbr_part part[4];
};

/* Fills (sector) with an MBR that has no boot code: disk signature, one active primary
 * partition of (type) from (lba_start) for (lba_count) sectors (CHS fields as fdisk writes
 * them, saturated past 1024 cylinders), and 55 AA. */
void mk_mbr_build(uint8_t sector[512], uint32_t disk_signature, uint8_t type, uint32_t lba_start,
                  uint32_t lba_count);
/* Parses (sector). MK_EFORMAT (negative) when there is no 55 AA signature. */
int mk_mbr_parse(const uint8_t sector[512], struct mk_mbr *ret);

#endif
