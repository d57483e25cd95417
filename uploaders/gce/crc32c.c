/* crc32c.c: CRC-32C (Castagnoli), the checksum Cloud Storage keeps for every object.
 * Hand-written because neither libgcrypt nor zlib has the Castagnoli polynomial (zlib's
 * crc32 and libgcrypt's CRC32 variants use other polynomials), and GCS checks this one. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gce_private.h"

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE 4.2's crc32 instruction computes this very CRC, ten times faster than the tables; an
 * upload hashes every byte on a core the sending needs too. */
__attribute__((target("sse4.2"))) static uint64_t crc_sse42_run(uint64_t c, const uint8_t *p,
                                                                size_t len)
{
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;

        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    while (len--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return c;
}

/* The instruction takes 3 cycles and can start one per cycle: three runs over three
 * blocks at once go three times as fast, and are joined by moving each CRC register past
 * the blocks that follow it (a linear map, tabled once for the block size). */
#define BLOCK 8192
static uint32_t shift_table[4][256];

static uint32_t shift_block(uint32_t c)
{
    return shift_table[0][c & 0xff] ^ shift_table[1][(c >> 8) & 0xff] ^
           shift_table[2][(c >> 16) & 0xff] ^ shift_table[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p,
                                                            size_t len)
{
    uint64_t c = crc;

    for (; len >= 3 * BLOCK; p += 3 * BLOCK, len -= 3 * BLOCK) {
        uint64_t a = c, b = 0, d = 0;

        for (size_t i = 0; i < BLOCK; i += 8) {
            uint64_t va, vb, vd;

            memcpy(&va, p + i, 8);
            memcpy(&vb, p + BLOCK + i, 8);
            memcpy(&vd, p + 2 * BLOCK + i, 8);
            a = __builtin_ia32_crc32di(a, va);
            b = __builtin_ia32_crc32di(b, vb);
            d = __builtin_ia32_crc32di(d, vd);
        }
        c = shift_block(shift_block((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
    }
    return (uint32_t)crc_sse42_run(c, p, len);
}

/* shift_table[k][v]: the CRC register holding byte v at byte k, moved past BLOCK zero
 * bytes; built from the 32 single-bit registers, the map being linear. */
__attribute__((target("sse4.2"))) static void shift_init(void)
{
    static const uint8_t zeros[BLOCK];
    uint32_t bit[32];

    for (int i = 0; i < 32; i++)
        bit[i] = (uint32_t)crc_sse42_run(UINT64_C(1) << i, zeros, BLOCK);
    for (int k = 0; k < 4; k++)
        for (int v = 0; v < 256; v++) {
            uint32_t x = 0;

            for (int j = 0; j < 8; j++)
                if (v >> j & 1)
                    x ^= bit[8 * k + j];
            shift_table[k][v] = x;
        }
}

static bool have_sse42;
#endif

static void crc_init(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2");
    if (have_sse42)
        shift_init();
#endif
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    /* Slicing-by-8 tables: an upload hashes every byte, so the speed matters. */
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t gce_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_sse42)
        return ~crc_sse42(~crc, p, len);
#endif
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ mk_get_le32(p), hi = mk_get_le32(p + 4);

        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}
