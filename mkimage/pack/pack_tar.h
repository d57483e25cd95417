/* pack_tar.h: the GNU oldgnu sparse member we write (the header layout is disk/tar_format.h). */
#ifndef MK_PACK_TAR_H
#define MK_PACK_TAR_H

#include "disk_private.h"
#include "tar_format.h"

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
