/* pack_tar.c: a GNU oldgnu sparse tar member, streamed from a disk's data extents.
 *
 * Hand-written because libarchive's gnutar writer cannot write sparse members (its own
 * test says so), and GCE wants the oldgnu format; the bytes match what
 * `tar --format=oldgnu -S --owner=root:0 --group=root:0 --mtime=@T` writes for a file with
 * the same holes (tests/integration/t3000-pack.sh compares them). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pack_tar.h"

#define DATA_PIECE (1u << 20)

static void put_entry(uint8_t *p, uint64_t off, uint64_t len)
{
    mk_tar_put_number(p, 12, off);
    mk_tar_put_number(p + 12, 12, len);
}

int mk_tar_sparse_header(struct mk_ctx *ctx, const char *name, const struct mk_extent *ext,
                         size_t n, uint64_t realsize, uint64_t mtime, struct mk_buf *out)
{
    uint8_t hdr[MK_TAR_BLOCK];
    uint64_t stored = 0;
    size_t entries = n, done = 0;
    int r;

    if (strlen(name) >= 100)
        return mk_set_error(ctx, MK_EINVAL, "tar member name '%s' is too long", name);
    for (size_t i = 0; i < n; i++) {
        if (ext[i].off > realsize || ext[i].len > realsize - ext[i].off)
            return mk_set_error(ctx, MK_EINVAL, "internal: extent at %" PRIu64
                                " is past the end of the disk", ext[i].off);
        stored += ext[i].len;
    }
    /* GNU tar always ends the map with an empty entry at the file's end (even when data
     * reaches it); some readers take the size from there. */
    entries++;

    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr + MK_TAR_NAME, name, strlen(name));
    mk_tar_put_number(hdr + MK_TAR_MODE, 8, 0644);
    mk_tar_put_number(hdr + MK_TAR_UID, 8, 0);
    mk_tar_put_number(hdr + MK_TAR_GID, 8, 0);
    mk_tar_put_number(hdr + MK_TAR_SIZE, 12, stored);
    mk_tar_put_number(hdr + MK_TAR_MTIME, 12, mtime);
    hdr[MK_TAR_TYPEFLAG] = 'S';
    memcpy(hdr + MK_TAR_MAGIC, MK_TAR_MAGIC_GNU, 8);
    memcpy(hdr + MK_TAR_UNAME, "root", 4);
    memcpy(hdr + MK_TAR_GNAME, "root", 4);
    mk_tar_put_number(hdr + MK_TAR_REALSIZE, 12, realsize);

    uint8_t *map = hdr + MK_TAR_SPARSE;
    size_t per = MK_TAR_HDR_SPARSE_N;
    size_t isext_at = MK_TAR_ISEXTENDED;
    for (;;) {
        size_t k;
        for (k = 0; k < per && done < entries; k++, done++) {
            if (done < n)
                put_entry(map + 24 * k, ext[done].off, ext[done].len);
            else
                put_entry(map + 24 * k, realsize, 0);
        }
        hdr[isext_at] = done < entries;
        if (per == MK_TAR_HDR_SPARSE_N)
            mk_tar_set_checksum(hdr);
        if ((r = mk_buf_add(out, hdr, sizeof(hdr))) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        if (done == entries)
            return MK_OK;
        memset(hdr, 0, sizeof(hdr));
        map = hdr;
        per = MK_TAR_EXT_SPARSE_N;
        isext_at = MK_TAR_EXT_ISEXTENDED;
    }
}

static const uint8_t zeros[MK_TAR_RECORD];

int mk_tar_write_disk(struct mk_ctx *ctx, struct mk_disk *disk, const char *name,
                      uint64_t realsize, uint64_t mtime, struct mk_sink *sink)
{
    struct mk_buf hdr = MK_BUF_INIT;
    struct mk_extent *ext = NULL;
    uint8_t *buf = NULL;
    uint64_t stored = 0, done = 0, written;
    size_t n;
    int r;

    if (realsize < disk->size)
        return mk_set_error(ctx, MK_EINVAL, "internal: tar size below the disk size");
    if ((r = mk_disk_extents(ctx, disk, &ext, &n)) < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        stored += ext[i].len;
    if ((r = mk_tar_sparse_header(ctx, name, ext, n, realsize, mtime, &hdr)) < 0)
        goto out;
    if ((r = sink->write(ctx, sink->opaque, hdr.buf, hdr.len)) < 0)
        goto out;
    written = hdr.len;
    if (!(buf = malloc(DATA_PIECE))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    mk_progress(ctx, "compress", 0, stored);
    for (size_t i = 0; i < n; i++) {
        for (uint64_t off = ext[i].off, end = off + ext[i].len; off < end;) {
            size_t piece = (size_t)MK_MIN(end - off, DATA_PIECE);
            if ((r = mk_check_cancel(ctx)) < 0 ||
                (r = mk_disk_read(ctx, disk, off, buf, piece)) < 0 ||
                (r = sink->write(ctx, sink->opaque, buf, piece)) < 0)
                goto out;
            off += piece;
            done += piece;
            mk_progress(ctx, "compress", done, stored);
        }
    }
    written += stored;
    /* Pad the data to a block, add the two zero blocks that end an archive, and pad the
     * whole to a record as GNU tar does. */
    uint64_t tail = (MK_TAR_BLOCK - written % MK_TAR_BLOCK) % MK_TAR_BLOCK + 2 * MK_TAR_BLOCK;
    tail += (MK_TAR_RECORD - (written + tail) % MK_TAR_RECORD) % MK_TAR_RECORD;
    while (tail && r == MK_OK) {
        size_t piece = (size_t)MK_MIN(tail, sizeof(zeros));
        r = sink->write(ctx, sink->opaque, zeros, piece);
        tail -= piece;
    }
out:
    mk_buf_release(&hdr);
    free(buf);
    free(ext);
    return r;
}
