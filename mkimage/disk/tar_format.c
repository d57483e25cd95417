/* tar_format.c: the numeric fields and checksums of tar headers, which the tar.gz reader
 * (disk_targz.c) parses and the writer (pack/pack_tar.c) fills. */
#include <stdint.h>
#include <stddef.h>

#include "tar_format.h"

void mk_tar_put_number(uint8_t *field, size_t width, uint64_t v)
{
    unsigned bits = 3u * (unsigned)(width - 1);

    if (bits >= 64 || v < (UINT64_C(1) << bits)) {
        field[width - 1] = 0;
        for (size_t i = width - 1; i-- > 0; v >>= 3)
            field[i] = (uint8_t)('0' + (v & 7));
        return;
    }
    field[0] = 0x80;
    for (size_t i = width - 1; i > 0; i--, v >>= 8)
        field[i] = (uint8_t)(v & 0xff);
}

int mk_tar_get_number(const uint8_t *field, size_t width, uint64_t *ret)
{
    uint64_t v = 0;
    size_t i = 0;

    if (field[0] & 0x80) {
        /* base-256; 0xff starts a negative number, which no size or offset can be */
        if (field[0] != 0x80)
            return -1;
        for (i = 1; i < width; i++) {
            if (v >> 56)
                return -1;
            v = (v << 8) | field[i];
        }
        *ret = v;
        return 0;
    }
    while (i < width && field[i] == ' ')
        i++;
    size_t start = i;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
        if (v >> 61)
            return -1;
        v = (v << 3) | (uint64_t)(field[i] - '0');
    }
    if (i == start && i < width && field[i] != 0)
        return -1;
    if (i < width && field[i] != 0 && field[i] != ' ')
        return -1;
    *ret = v;
    return 0;
}

static unsigned header_sum(const uint8_t *hdr, int is_signed)
{
    unsigned sum = 0;

    for (size_t i = 0; i < MK_TAR_BLOCK; i++) {
        unsigned c = (i >= MK_TAR_CHKSUM && i < MK_TAR_CHKSUM + 8) ? ' ' : hdr[i];
        sum += is_signed ? (unsigned)(int)(signed char)c : c;
    }
    return sum;
}

void mk_tar_set_checksum(uint8_t *hdr)
{
    unsigned sum = header_sum(hdr, 0);

    for (int i = 5; i >= 0; i--, sum >>= 3)
        hdr[MK_TAR_CHKSUM + i] = (uint8_t)('0' + (sum & 7));
    hdr[MK_TAR_CHKSUM + 6] = 0;
    hdr[MK_TAR_CHKSUM + 7] = ' ';
}

int mk_tar_checksum_ok(const uint8_t *hdr)
{
    uint64_t want;

    if (mk_tar_get_number(hdr + MK_TAR_CHKSUM, 8, &want) < 0)
        return 0;
    return want == header_sum(hdr, 0) || want == (header_sum(hdr, 1) & 0xffffffffu);
}
