/* pack_qcow2.c: a qcow2 v3 image holding only the clusters with data, streamed in order.
 *
 * Hand-written from QEMU's docs/interop/qcow2.txt because nothing in Debian writes qcow2
 * short of running qemu-img, which needs a raw file to convert from; we stream from the
 * disk with no intermediate file. A first pass over the data extents finds the clusters
 * that are not all zeros; the layout is then fixed (header, refcount table, refcount
 * blocks, L1, L2 tables, data) and written front to back, so any sink will do. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

#define CLUSTER_BITS 16u
#define CS (UINT64_C(1) << CLUSTER_BITS)
#define L2_ENTRIES (CS / 8)
#define REFCOUNT_ORDER 4u /* 16-bit refcounts, as qemu-img makes */
#define RB_ENTRIES (CS * 8 / (1u << REFCOUNT_ORDER))
#define OFLAG_COPIED (UINT64_C(1) << 63)
#define HEADER_LENGTH 104u

struct qcow2_layout {
    uint64_t *data;   /* guest cluster numbers holding data, ascending */
    size_t ndata, data_alloc;
    uint64_t l1_size; /* L1 entries */
    uint64_t nl2;     /* L2 tables (one per L1 entry that maps data) */
    uint64_t rt_clusters, rb_clusters, l1_clusters;
    uint64_t total;   /* clusters in the file */
    uint64_t rt_at, rb_at, l1_at, l2_at, data_at; /* first cluster of each part */
};

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static int is_zero(const uint8_t *p, size_t len)
{
    return !len || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Reads guest cluster (c), the last one zero-padded past the disk's end. */
static int read_cluster(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t c, uint8_t *buf)
{
    uint64_t off = c * CS;
    size_t len = (size_t)MK_MIN(CS, disk->size - off);

    memset(buf + len, 0, (size_t)CS - len);
    return mk_disk_read(ctx, disk, off, buf, len);
}

static int find_data_clusters(struct mk_ctx *ctx, struct mk_disk *disk, uint8_t *buf,
                              struct qcow2_layout *l)
{
    struct mk_extent *ext;
    size_t n;
    int r = mk_disk_extents(ctx, disk, &ext, &n);

    if (r < 0)
        return r;
    for (size_t i = 0; i < n && r == MK_OK; i++) {
        if (!ext[i].len)
            continue;
        uint64_t first = ext[i].off / CS, last = (ext[i].off + ext[i].len - 1) / CS;
        for (uint64_t c = first; c <= last; c++) {
            if (l->ndata && l->data[l->ndata - 1] >= c)
                continue;
            if ((r = mk_check_cancel(ctx)) < 0 || (r = read_cluster(ctx, disk, c, buf)) < 0)
                break;
            if (is_zero(buf, (size_t)CS))
                continue;
            if (MK_GROW(l->data, l->ndata + 1, l->data_alloc) < 0) {
                r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
                break;
            }
            l->data[l->ndata++] = c;
        }
    }
    free(ext);
    return r;
}

static void plan(struct qcow2_layout *l, uint64_t size)
{
    l->l1_size = div_up(div_up(size, CS), L2_ENTRIES);
    l->l1_clusters = div_up(l->l1_size * 8, CS);
    l->nl2 = 0;
    for (size_t i = 0; i < l->ndata; i++)
        if (!i || l->data[i] / L2_ENTRIES != l->data[i - 1] / L2_ENTRIES)
            l->nl2++;
    /* The refcounts cover themselves: grow until the counts stop changing. */
    l->rb_clusters = l->rt_clusters = 1;
    for (;;) {
        l->total = 1 + l->rt_clusters + l->rb_clusters + l->l1_clusters + l->nl2 + l->ndata;
        uint64_t rb = div_up(l->total, RB_ENTRIES), rt = div_up(rb * 8, CS);
        if (rb == l->rb_clusters && rt == l->rt_clusters)
            break;
        l->rb_clusters = MK_MAX(rb, l->rb_clusters);
        l->rt_clusters = MK_MAX(rt, l->rt_clusters);
    }
    l->rt_at = 1;
    l->rb_at = l->rt_at + l->rt_clusters;
    l->l1_at = l->rb_at + l->rb_clusters;
    l->l2_at = l->l1_at + l->l1_clusters;
    l->data_at = l->l2_at + l->nl2;
}

static void fill_header(uint8_t *b, const struct qcow2_layout *l, uint64_t size)
{
    memset(b, 0, (size_t)CS);
    memcpy(b, "QFI\xfb", 4);
    mk_put_be32(b + 4, 3);
    mk_put_be32(b + 20, CLUSTER_BITS);
    mk_put_be64(b + 24, size);
    mk_put_be32(b + 36, (uint32_t)l->l1_size);
    mk_put_be64(b + 40, l->l1_at * CS);
    mk_put_be64(b + 48, l->rt_at * CS);
    mk_put_be32(b + 56, (uint32_t)l->rt_clusters);
    mk_put_be32(b + 96, REFCOUNT_ORDER);
    mk_put_be32(b + 100, HEADER_LENGTH);
    /* The header extension area that follows holds only its end marker: zeros. */
}

/* One cluster out; Ctrl-C is heard between any two (tables and data alike). */
static int emit(struct mk_ctx *ctx, struct mk_sink *sink, const uint8_t *b, uint64_t *written,
                uint64_t total)
{
    int r = mk_check_cancel(ctx);

    if (r < 0)
        return r;
    r = sink->write(ctx, sink->opaque, b, (size_t)CS);

    *written += CS;
    mk_progress(ctx, "write", *written, total);
    return r;
}

static int write_image(struct mk_ctx *ctx, struct mk_disk *disk, const struct qcow2_layout *l,
                       uint8_t *b, struct mk_sink *sink)
{
    uint64_t written = 0, total = l->total * CS;
    size_t di;
    int r;

    fill_header(b, l, disk->size);
    if ((r = emit(ctx, sink, b, &written, total)) < 0)
        return r;
    for (uint64_t k = 0; k < l->rt_clusters; k++) {
        memset(b, 0, (size_t)CS);
        for (uint64_t e = 0; e < L2_ENTRIES; e++) {
            uint64_t rb = k * L2_ENTRIES + e;
            if (rb < l->rb_clusters)
                mk_put_be64(b + 8 * e, (l->rb_at + rb) * CS);
        }
        if ((r = emit(ctx, sink, b, &written, total)) < 0)
            return r;
    }
    for (uint64_t k = 0; k < l->rb_clusters; k++) {
        memset(b, 0, (size_t)CS);
        for (uint64_t e = 0; e < RB_ENTRIES && k * RB_ENTRIES + e < l->total; e++)
            b[2 * e + 1] = 1; /* big-endian 16-bit 1: every cluster is used once */
        if ((r = emit(ctx, sink, b, &written, total)) < 0)
            return r;
    }
    /* L1: the L2 tables follow in L1 order. */
    di = 0;
    for (uint64_t k = 0, l2 = l->l2_at; k < l->l1_clusters; k++) {
        memset(b, 0, (size_t)CS);
        for (uint64_t e = 0; e < L2_ENTRIES; e++) {
            uint64_t j = k * L2_ENTRIES + e;
            if (di < l->ndata && l->data[di] / L2_ENTRIES == j) {
                mk_put_be64(b + 8 * e, (l2++ * CS) | OFLAG_COPIED);
                while (di < l->ndata && l->data[di] / L2_ENTRIES == j)
                    di++;
            }
        }
        if ((r = emit(ctx, sink, b, &written, total)) < 0)
            return r;
    }
    for (di = 0; di < l->ndata;) {
        uint64_t j = l->data[di] / L2_ENTRIES;
        memset(b, 0, (size_t)CS);
        for (; di < l->ndata && l->data[di] / L2_ENTRIES == j; di++)
            mk_put_be64(b + 8 * (l->data[di] % L2_ENTRIES),
                        ((l->data_at + di) * CS) | OFLAG_COPIED);
        if ((r = emit(ctx, sink, b, &written, total)) < 0)
            return r;
    }
    for (di = 0; di < l->ndata; di++) {
        if ((r = read_cluster(ctx, disk, l->data[di], b)) < 0 ||
            (r = emit(ctx, sink, b, &written, total)) < 0)
            return r;
    }
    return MK_OK;
}

int mk_write_qcow2(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_sink *sink)
{
    struct qcow2_layout l = {0};
    uint8_t *buf = malloc((size_t)CS);
    int r;

    if (!buf)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (!disk->size) {
        r = mk_set_error(ctx, MK_EINVAL, "the disk is empty");
        goto out;
    }
    /* QEMU's limit on the L1 table (32 MiB: 2 PiB at our cluster size); a disk claiming more
     * would make us write gigabytes of L1 for nothing. */
    if (div_up(div_up(disk->size, CS), L2_ENTRIES) > (UINT64_C(32) << 20) / 8) {
        r = mk_set_error(ctx, MK_EINVAL, "disk size %" PRIu64 " is too large for qcow2 (the "
                         "limit is %" PRIu64 " bytes)", disk->size,
                         (UINT64_C(32) << 20) / 8 * L2_ENTRIES * CS);
        goto out;
    }
    if ((r = find_data_clusters(ctx, disk, buf, &l)) < 0)
        goto out;
    plan(&l, disk->size);
    r = write_image(ctx, disk, &l, buf, sink);
out:
    free(l.data);
    free(buf);
    return r;
}
