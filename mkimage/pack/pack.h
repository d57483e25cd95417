/* pack.h: writing a disk out: output files under a temporary name, and the format writers
 * (raw, GCE tar.gz, qcow2) that stream a disk into a sink. */
#ifndef MK_PACK_H
#define MK_PACK_H

#include "disk_private.h"

/* ---- Output files: written under a temporary name, renamed when complete; or a block
 * device the context allows, written in place. ---- */
struct mk_outfile {
    char *path;     /* the final name */
    char *tmp_path; /* the temporary name in the same folder; NULL for a device */
    int fd;
    bool device;          /* (path) is a block device, written in place */
    uint64_t device_size; /* its capacity */
};
/* Creates the temporary file next to (path). The folder must be writable. When (path) is a
 * block device mk_ctx_allow_device() allowed, opens the device itself instead. */
int mk_outfile_open(struct mk_ctx *ctx, struct mk_outfile *of, const char *path);
/* fsyncs, renames over the final name and closes (a device: fsyncs and closes). */
int mk_outfile_commit(struct mk_ctx *ctx, struct mk_outfile *of);
/* Closes and removes the temporary file; safe to call after commit or on a zeroed struct. */
void mk_outfile_abort(struct mk_outfile *of);

/* output_device.c: opens (path), an allowed block device, for writing in place, claiming it
 * (MK_EEXIST while mounted or held); sets (of->fd), (of->device), (of->device_size). */
int mk_outfile_open_device(struct mk_ctx *ctx, struct mk_outfile *of, const char *path);
/* Writes the disk onto the device from its start: data, and zeros for the holes (the device
 * held something else); the device's bytes past the disk are left as they are. */
int mk_write_raw_device(struct mk_ctx *ctx, struct mk_disk *disk, int fd);
/* Whether two block devices share sectors: the same one, or a disk and its partition. */
bool mk_block_devices_overlap(dev_t a, dev_t b);
/* A sink that appends to the file descriptor. */
int mk_fd_sink_write(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len);

/* ---- Format writers (pack_*.c), streaming into a sink. ---- */
int mk_write_raw_fd(struct mk_ctx *ctx, struct mk_disk *disk, int fd);
int mk_write_gce(struct mk_ctx *ctx, struct mk_disk *disk, const struct mk_pack_opts *opts,
                 struct mk_sink *sink);
int mk_write_qcow2(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_sink *sink);

#endif
