/* pack_tar.h: GNU tar headers: the oldgnu sparse member we write, and the fields we read. */
#ifndef MK_PACK_TAR_H
#define MK_PACK_TAR_H

#include "disk_private.h"

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

/* Appends to (out) the header blocks of a GNU oldgnu sparse member named (name) of
 * (realsize) bytes holding the data extents (ext, n): the header with the first 4 map
 * entries, then extension blocks of 21. As GNU tar does, the map always ends with an empty
 * entry at (realsize). Mode 0644, owner root:root (uid and gid
 * 0), so that equal disks give equal archives. */
int mk_tar_sparse_header(struct mk_ctx *ctx, const char *name, const struct mk_extent *ext,
                         size_t n, uint64_t realsize, uint64_t mtime, struct mk_buf *out);

/* Streams (disk) into (sink) as a tar archive of one sparse member (name) of (realsize)
 * bytes (>= the disk size; the rest is a hole): headers, the extents' data, two zero
 * blocks, padding to a whole record. Reports progress as "compress". */
int mk_tar_write_disk(struct mk_ctx *ctx, struct mk_disk *disk, const char *name,
                      uint64_t realsize, uint64_t mtime, struct mk_sink *sink);

#endif
