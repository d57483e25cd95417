/* disk_private.h: the disk abstraction behind struct mk_disk, and the in-memory store that
 * a build writes into. */
#ifndef MK_DISK_PRIVATE_H
#define MK_DISK_PRIVATE_H

#include "mk_private.h"

#define MK_SECTOR 512u
/* The store's unit: a 4 KiB chunk of disk. The ext2 block size is the same, so file data
 * blocks and metadata blocks never share a chunk. */
#define MK_CHUNK 4096u

/* A run of data: [off, off+len). Holes lie between extents. */
struct mk_extent {
    uint64_t off;
    uint64_t len;
};

struct mk_disk_ops {
    const char *name;
    /* Required. Reads (len) bytes at (off), holes as zeros. */
    int (*read)(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf, size_t len);
    /* Optional: writable disks only. */
    int (*write)(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, const void *buf,
                 size_t len);
    /* Required. The data extents, sorted, non-overlapping and coalesced, into a malloc'ed
     * array that the caller frees. An extent may contain zeros; a hole never contains
     * data. */
    int (*extents)(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                   size_t *ret_n);
    /* Optional: a file descriptor and offset from which [off, off+len) can be copied with
     * copy_file_range(); returns 1 and fills them if so, 0 otherwise. */
    int (*source_fd)(struct mk_disk *disk, uint64_t off, uint64_t len, int *ret_fd,
                     uint64_t *ret_fd_off);
    /* Required. Frees the disk's own state, and the disk. */
    void (*free)(struct mk_disk *disk);
};

struct mk_disk {
    const struct mk_disk_ops *ops;
    uint64_t size;
    enum mk_format source_format;
};

int mk_disk_write(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, const void *buf,
                  size_t len);
int mk_disk_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                    size_t *ret_n);

/* ---- The in-memory store: a sparse, writable disk. ----
 * Written chunks live in memory; all-zero writes to chunks never written are dropped, so
 * only real data takes memory. File contents are added by reference (mk_store_add_ref) and
 * read from the source file only when the disk is read or written out. */
int mk_store_new(struct mk_ctx *ctx, uint64_t size, struct mk_disk **ret);
/* Makes [off, off+len) read from (path) at (src_off). (off) must be chunk-aligned, and the
 * range must not overlap written chunks or other references; the chunk holding the range's
 * tail reads as zeros after (len). The file is opened once and kept open. */
int mk_store_add_ref(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, uint64_t len,
                     const char *path, uint64_t src_off);
/* Memory held by written chunks, in bytes. */
uint64_t mk_store_memory(const struct mk_disk *disk);
int mk_is_store(const struct mk_disk *disk);

/* A raw image file as a read-only disk; extents come from SEEK_DATA/SEEK_HOLE. */
int mk_disk_open_raw(struct mk_ctx *ctx, const char *path, struct mk_disk **ret);
/* Opens a qcow2 file read-only (disk_qcow2.c). */
int mk_disk_open_qcow2(struct mk_ctx *ctx, const char *path, struct mk_disk **ret);
/* The readers of an image already open: (fd) is the image's, and is theirs from then on
 * (closed on failure and when the disk is freed); (name) names it in messages. The path
 * forms above open the file (mk_open_input) and call these; a reader in an isolated child
 * (mk_run_isolated) has only the descriptor it was handed. mk_disk_open_fd() tells the
 * format by the first bytes, as mk_disk_open() does; (problems) as mk_disk_open_targz's. */
int mk_disk_open_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_buf *problems,
                    struct mk_disk **ret);
int mk_disk_open_raw_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_disk **ret);
int mk_disk_open_qcow2_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_disk **ret);
int mk_disk_open_targz_fd(struct mk_ctx *ctx, int fd, const char *name,
                          struct mk_buf *problems, struct mk_disk **ret);
/* Reads a GCE disk.tar.gz into a store, checking GCE's rules; each rule broken is appended
 * to (problems) as one line ("" separated by '\n') when it is non-NULL, and makes the call
 * fail only when the disk cannot be read at all (tar_read.c). */
int mk_disk_open_targz(struct mk_ctx *ctx, const char *path, struct mk_buf *problems,
                       struct mk_disk **ret);
/* Checks a GCE disk.tar.gz read from (fd) against GCE's rules (gzip intact, one oldgnu
 * member disk.raw, its sparse map, a whole number of GiB, an MBR) in one streaming pass
 * with bounded memory, whatever the size: nothing of the disk is kept but its first
 * sector. With (head_only) it stops after that sector (a quick check of the start). Each
 * rule broken is appended to (problems) as a line; (name) names the input in errors. */
int mk_targz_check_fd(struct mk_ctx *ctx, int fd, const char *name, bool head_only,
                      struct mk_buf *problems);
/* A source of bytes: sets (*data, *len) to the next ones, which stay valid until the next
 * call; *len == 0 at the end. */
typedef int (*mk_pull_fn)(struct mk_ctx *ctx, void *opaque, const uint8_t **data, size_t *len);
/* The same check, the compressed bytes taken from (pull) instead of a file: a caller that
 * holds them already (an upload checking what it sends) hands them over without a copy. */
int mk_targz_check_pull(struct mk_ctx *ctx, mk_pull_fn pull, void *opaque, const char *name,
                        bool head_only, struct mk_buf *problems);

#endif
