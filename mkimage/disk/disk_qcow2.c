/* disk_qcow2.c: a qcow2 file (ours or qemu-img's) as a read-only disk.
 *
 * Only what a converted or freshly made image uses: uncompressed, unencrypted clusters and
 * no backing file; anything else is refused up front or when met, with a message naming
 * it. Written from QEMU's docs/interop/qcow2.txt; no Debian library reads qcow2 without
 * pulling in QEMU itself. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_private.h"

#define OFFSET_MASK UINT64_C(0x00fffffffffffe00)
#define OFLAG_COMPRESSED (UINT64_C(1) << 62)
#define OFLAG_ZERO UINT64_C(1)
/* Incompatible feature bits. */
#define INCOMPAT_DIRTY 1u
#define INCOMPAT_CORRUPT 2u
#define INCOMPAT_DATA_FILE 4u
#define INCOMPAT_COMPRESSION 8u
#define INCOMPAT_EXTL2 16u
/* A bound on the L1 table we load: 32 MiB covers 2 PiB at 64 KiB clusters. */
#define L1_MAX_BYTES (UINT64_C(32) << 20)

struct qcow2_disk {
    struct mk_disk disk;
    int fd;
    char *path;
    unsigned cluster_bits;
    uint64_t cluster_size;
    uint64_t file_size;
    uint64_t *l1;
    uint64_t l1_size;
    uint64_t l2_entries;
    /* One L2 table cached: reads are mostly sequential. */
    uint64_t *l2;
    uint64_t l2_offset;
};

static int pread_all(struct mk_ctx *ctx, struct qcow2_disk *d, void *buf, size_t len,
                     uint64_t off)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(d->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", d->path);
        if (n == 0)
            return mk_set_error(ctx, MK_EFORMAT, "'%s' is truncated: qcow2 data at %" PRIu64
                                " is past its end", d->path, off);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return MK_OK;
}

static int load_l2(struct mk_ctx *ctx, struct qcow2_disk *d, uint64_t l2_off)
{
    int r;

    if (d->l2_offset == l2_off)
        return MK_OK;
    if (l2_off % d->cluster_size)
        return mk_set_error(ctx, MK_EFORMAT, "'%s': L2 table offset %" PRIu64
                            " is not cluster-aligned", d->path, l2_off);
    d->l2_offset = 0;
    if ((r = pread_all(ctx, d, d->l2, (size_t)d->cluster_size, l2_off)) < 0)
        return r;
    for (uint64_t i = 0; i < d->l2_entries; i++)
        d->l2[i] = mk_get_be64((uint8_t *)&d->l2[i]);
    d->l2_offset = l2_off;
    return MK_OK;
}

/* The host offset of guest cluster (c), 0 when it reads as zeros. */
static int map_cluster(struct mk_ctx *ctx, struct qcow2_disk *d, uint64_t c, uint64_t *ret)
{
    uint64_t j = c / d->l2_entries, l2_off, e;
    int r;

    *ret = 0;
    if (j >= d->l1_size || !(l2_off = d->l1[j] & OFFSET_MASK))
        return MK_OK;
    if ((r = load_l2(ctx, d, l2_off)) < 0)
        return r;
    e = d->l2[c % d->l2_entries];
    if (e & OFLAG_COMPRESSED)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' has compressed clusters, which are "
                            "not supported (convert it: qemu-img convert -O qcow2 IN OUT)",
                            d->path);
    if (e & OFLAG_ZERO)
        return MK_OK;
    *ret = e & OFFSET_MASK;
    if (*ret % d->cluster_size)
        return mk_set_error(ctx, MK_EFORMAT, "'%s': data cluster offset %" PRIu64
                            " is not cluster-aligned", d->path, *ret);
    return MK_OK;
}

static int qcow2_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf,
                      size_t len)
{
    struct qcow2_disk *d = (struct qcow2_disk *)disk;
    uint8_t *p = buf;
    int r;

    while (len) {
        uint64_t c = off >> d->cluster_bits, in = off & (d->cluster_size - 1), host;
        size_t n = (size_t)MK_MIN(len, d->cluster_size - in);
        if ((r = map_cluster(ctx, d, c, &host)) < 0)
            return r;
        if (!host)
            memset(p, 0, n);
        else if ((r = pread_all(ctx, d, p, n, host + in)) < 0)
            return r;
        p += n;
        off += n;
        len -= n;
    }
    return MK_OK;
}

static int qcow2_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                         size_t *ret_n)
{
    struct qcow2_disk *d = (struct qcow2_disk *)disk;
    struct mk_extent *e = NULL;
    size_t n = 0, alloc = 0;
    uint64_t nclusters = (disk->size + d->cluster_size - 1) >> d->cluster_bits;
    int r = MK_OK;

    for (uint64_t j = 0; j < d->l1_size && r == MK_OK; j++) {
        if (!(d->l1[j] & OFFSET_MASK))
            continue;
        if ((r = mk_check_cancel(ctx)) < 0) /* per L2 table */
            break;
        for (uint64_t i = 0; i < d->l2_entries; i++) {
            uint64_t c = j * d->l2_entries + i, host;
            if (c >= nclusters)
                break;
            if ((r = map_cluster(ctx, d, c, &host)) < 0)
                break;
            if (!host)
                continue;
            uint64_t off = c << d->cluster_bits;
            uint64_t len = MK_MIN(d->cluster_size, disk->size - off);
            if (n && e[n - 1].off + e[n - 1].len == off) {
                e[n - 1].len += len;
                continue;
            }
            if (MK_GROW(e, n + 1, alloc) < 0) {
                r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
                break;
            }
            e[n++] = (struct mk_extent){.off = off, .len = len};
        }
    }
    if (r == MK_OK && !e && !(e = malloc(sizeof(*e))))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (r < 0) {
        free(e);
        return r;
    }
    *ret = e;
    *ret_n = n;
    return MK_OK;
}

static void qcow2_free(struct mk_disk *disk)
{
    struct qcow2_disk *d = (struct qcow2_disk *)disk;

    if (d->fd >= 0)
        close(d->fd);
    free(d->l1);
    free(d->l2);
    free(d->path);
    free(d);
}

static const struct mk_disk_ops qcow2_ops = {
    .name = "qcow2",
    .read = qcow2_read,
    .extents = qcow2_extents,
    .free = qcow2_free,
};

/* Marks host cluster (off) as used; an error if it lies outside the file, is not aligned, or
 * was used before: a table or data cluster shared by several guest clusters multiplies the
 * work (1000 L1 entries on one L2 table read as 500 GiB) without adding data. */
static int claim(struct mk_ctx *ctx, struct qcow2_disk *d, uint8_t *used, uint64_t off,
                 const char *what)
{
    uint64_t c = off >> d->cluster_bits;

    if (off % d->cluster_size || off >= d->file_size)
        return mk_set_error(ctx, MK_EFORMAT, "'%s': %s at %" PRIu64 " is %s", d->path, what, off,
                            off % d->cluster_size ? "not cluster-aligned" : "past the file's end");
    if (used[c / 8] & (1u << (c % 8)))
        return mk_set_error(ctx, MK_EFORMAT, "'%s': the cluster at %" PRIu64 " is used twice "
                            "(as %s); a valid image uses each cluster once",
                            d->path, off, what);
    used[c / 8] |= (uint8_t)(1u << (c % 8));
    return MK_OK;
}

/* Reads every L2 table once, up front, and checks that each table and data cluster lies in
 * the file and is used once: then no read or extent walk does more work than the file holds,
 * and compressed clusters are refused before anything is read. */
static int check_tables(struct mk_ctx *ctx, struct qcow2_disk *d, uint64_t l1_off)
{
    uint64_t nclusters = (d->disk.size + d->cluster_size - 1) >> d->cluster_bits;
    uint64_t file_clusters = (d->file_size + d->cluster_size - 1) >> d->cluster_bits;
    uint8_t *used = calloc((size_t)(file_clusters / 8 + 1), 1);
    int r = MK_OK;

    if (!used)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    used[0] = 1; /* the header */
    for (uint64_t off = l1_off & ~(d->cluster_size - 1); r == MK_OK && d->l1_size &&
         off < l1_off + d->l1_size * 8 && off < d->file_size; off += d->cluster_size)
        r = claim(ctx, d, used, off, "the L1 table");
    for (uint64_t j = 0; j < d->l1_size && r == MK_OK; j++) {
        uint64_t l2_off = d->l1[j] & OFFSET_MASK;

        if (!l2_off || j * d->l2_entries >= nclusters)
            continue;
        if ((r = mk_check_cancel(ctx)) < 0 || /* per L2 table read */
            (r = claim(ctx, d, used, l2_off, "an L2 table")) < 0 ||
            (r = load_l2(ctx, d, l2_off)) < 0)
            break;
        for (uint64_t i = 0; i < d->l2_entries && r == MK_OK; i++) {
            uint64_t e = d->l2[i];

            if (j * d->l2_entries + i >= nclusters)
                break;
            if (e & OFLAG_COMPRESSED)
                r = mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' has compressed clusters, which "
                                 "are not supported (convert it: qemu-img convert -O qcow2 IN "
                                 "OUT)", d->path);
            else if (!(e & OFLAG_ZERO) && (e & OFFSET_MASK))
                r = claim(ctx, d, used, e & OFFSET_MASK, "a data cluster");
        }
    }
    free(used);
    return r;
}

static int parse_header(struct mk_ctx *ctx, struct qcow2_disk *d)
{
    uint8_t h[104];
    int r;

    if (d->file_size < 72)
        return mk_set_error(ctx, MK_EFORMAT, "'%s' is too short for a qcow2 image", d->path);
    if ((r = pread_all(ctx, d, h, (size_t)MK_MIN(sizeof(h), d->file_size), 0)) < 0)
        return r;
    uint32_t version = mk_get_be32(h + 4);
    if (memcmp(h, "QFI\xfb", 4) || (version != 2 && version != 3))
        return mk_set_error(ctx, MK_EFORMAT, "'%s' is not a qcow2 version 2 or 3 image",
                            d->path);
    if (mk_get_be64(h + 8))
        return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' has a backing file, which is not "
                            "supported (flatten it: qemu-img convert -O qcow2 IN OUT)",
                            d->path);
    d->cluster_bits = mk_get_be32(h + 20);
    if (d->cluster_bits < 9 || d->cluster_bits > 21)
        return mk_set_error(ctx, MK_EFORMAT, "'%s': invalid qcow2 cluster size 2^%u", d->path,
                            d->cluster_bits);
    d->cluster_size = UINT64_C(1) << d->cluster_bits;
    d->l2_entries = d->cluster_size / 8;
    d->disk.size = mk_get_be64(h + 24);
    if (mk_get_be32(h + 32))
        return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' is encrypted, which is not supported",
                            d->path);
    d->l1_size = mk_get_be32(h + 36);
    uint64_t l1_off = mk_get_be64(h + 40);
    if (version == 3 && d->file_size >= sizeof(h)) {
        uint64_t incompat = mk_get_be64(h + 72);
        if (incompat & INCOMPAT_CORRUPT)
            return mk_set_error(ctx, MK_EFORMAT, "'%s' is marked corrupt (run qemu-img check "
                                "-r all)", d->path);
        if (incompat & INCOMPAT_DATA_FILE)
            return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' keeps its data in an external "
                                "file, which is not supported", d->path);
        if (incompat & INCOMPAT_EXTL2)
            return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' uses extended L2 entries "
                                "(subclusters), which are not supported", d->path);
        if (incompat & ~(uint64_t)(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION))
            return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s' uses unknown qcow2 features "
                                "0x%" PRIx64, d->path, incompat);
    }
    if (d->l1_size * 8 > L1_MAX_BYTES)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "'%s': L1 table of %" PRIu64 " entries is "
                            "too large", d->path, d->l1_size);
    d->l1 = calloc((size_t)d->l1_size + 1, sizeof(*d->l1));
    d->l2 = malloc((size_t)d->cluster_size);
    if (!d->l1 || !d->l2)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (d->l1_size && (r = pread_all(ctx, d, d->l1, (size_t)d->l1_size * 8, l1_off)) < 0)
        return r;
    for (uint64_t i = 0; i < d->l1_size; i++)
        d->l1[i] = mk_get_be64((uint8_t *)&d->l1[i]);
    if (d->disk.size > (d->l1_size << (2 * d->cluster_bits - 3)))
        return mk_set_error(ctx, MK_EFORMAT, "'%s' claims %" PRIu64 " bytes but its L1 table "
                            "maps only %" PRIu64, d->path, d->disk.size,
                            d->l1_size << (2 * d->cluster_bits - 3));
    return check_tables(ctx, d, l1_off);
}

int mk_disk_open_qcow2(struct mk_ctx *ctx, const char *path, struct mk_disk **ret)
{
    int fd = mk_open_input(ctx, path, NULL);

    return fd < 0 ? fd : mk_disk_open_qcow2_fd(ctx, fd, path, ret);
}

int mk_disk_open_qcow2_fd(struct mk_ctx *ctx, int fd, const char *name, struct mk_disk **ret)
{
    struct qcow2_disk *d = calloc(1, sizeof(*d));
    int r;

    if (!d) {
        close(fd);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    d->disk.ops = &qcow2_ops;
    d->disk.source_format = MK_FORMAT_QCOW2;
    d->fd = fd;
    if (!(d->path = strdup(name))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto fail;
    }
    if ((r = mk_input_size(ctx, d->fd, name, &d->file_size)) < 0)
        goto fail;
    if ((r = parse_header(ctx, d)) < 0)
        goto fail;
    *ret = &d->disk;
    return MK_OK;
fail:
    qcow2_free(&d->disk);
    return r;
}
