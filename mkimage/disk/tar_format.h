/* tar_format.h: GNU tar header layout and fields: what the tar.gz reader parses and the
 * oldgnu sparse writer (pack/pack_tar.h) fills. */
#ifndef MK_TAR_FORMAT_H
#define MK_TAR_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MK_TAR_BLOCK 512u
/* GNU tar's default record (blocking factor 20); archives are padded to it. */
#define MK_TAR_RECORD 10240u

/* Header offsets (GNU tar's struct oldgnu_header). */
enum {
    MK_TAR_NAME = 0,
    MK_TAR_MODE = 100,
    MK_TAR_UID = 108,
    MK_TAR_GID = 116,
    MK_TAR_SIZE = 124,
    MK_TAR_MTIME = 136,
    MK_TAR_CHKSUM = 148,
    MK_TAR_TYPEFLAG = 156,
    MK_TAR_MAGIC = 257, /* 8 bytes with the version */
    MK_TAR_UNAME = 265,
    MK_TAR_GNAME = 297,
    MK_TAR_PREFIX = 345, /* ustar only; oldgnu keeps atime, ctime and the map here */
    MK_TAR_SPARSE = 386, /* 4 entries of offset[12] + numbytes[12] */
    MK_TAR_ISEXTENDED = 482,
    MK_TAR_REALSIZE = 483,
    MK_TAR_HDR_SPARSE_N = 4,
    MK_TAR_EXT_SPARSE_N = 21, /* entries in an extension block, isextended at 504 */
    MK_TAR_EXT_ISEXTENDED = 504,
};

#define MK_TAR_MAGIC_GNU "ustar  " /* with its NUL: 8 bytes */
#define MK_TAR_MAGIC_USTAR "ustar\0" "00"

/* Writes (v) into a numeric field of (width) bytes: octal digits and a NUL when it fits,
 * else GNU base-256 (0x80, then big-endian), as GNU tar does from 8 GiB up in 12-byte
 * fields. */
void mk_tar_put_number(uint8_t *field, size_t width, uint64_t v);
/* Parses an octal (space or NUL terminated, leading spaces allowed) or positive base-256
 * field. Returns 0, or -1 when the field is not a number. */
int mk_tar_get_number(const uint8_t *field, size_t width, uint64_t *ret);
/* Fills the checksum field of a 512-byte header ("%06o\0 "). */
void mk_tar_set_checksum(uint8_t *hdr);
/* 1 when the header's checksum matches (unsigned or, as old tars wrote, signed sums). */
int mk_tar_checksum_ok(const uint8_t *hdr);

#endif
