/* disk_store.c: a sparse, writable disk in memory.
 *
 * Written 4 KiB chunks are kept in an open-addressing hash table keyed by chunk number, so
 * the cost of a build depends on what is written, not on the disk size: a 10 GiB disk
 * costs the same as a 1 GiB one. File contents are kept as references to the source file
 * and read only when the disk is read or written out, so a build never copies a payload
 * into memory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_private.h"

struct chunk_slot {
    uint64_t key; /* chunk number + 1; 0 = empty */
    uint8_t *data;
};

struct store_ref {
    uint64_t off, len;
    int fd;
    uint64_t src_off;
};

struct store {
    struct mk_disk disk;
    struct chunk_slot *slots;
    size_t nslots, nused;
    struct store_ref *refs;
    size_t nrefs, refs_alloc;
    /* Source files, opened once each however many extents they are split into. */
    struct {
        char *path;
        int fd;
    } *files;
    size_t nfiles;
    int refs_sorted;
};

static const uint8_t zero_chunk[MK_CHUNK];

static size_t slot_hash(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & mask;
}

static uint8_t *chunk_find(struct store *s, uint64_t idx)
{
    size_t mask = s->nslots - 1;
    for (size_t i = slot_hash(idx + 1, mask);; i = (i + 1) & mask) {
        if (s->slots[i].key == idx + 1)
            return s->slots[i].data;
        if (!s->slots[i].key)
            return NULL;
    }
}

static int table_grow(struct store *s)
{
    size_t n = s->nslots * 2;
    struct chunk_slot *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return MK_ENOMEM;
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].key)
            continue;
        size_t j = slot_hash(s->slots[i].key, n - 1);
        while (slots[j].key)
            j = (j + 1) & (n - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return MK_OK;
}

static uint8_t *chunk_insert(struct store *s, uint64_t idx)
{
    size_t mask, i;
    uint8_t *data;

    if ((s->nused + 1) * 2 > s->nslots && table_grow(s) < 0)
        return NULL;
    data = calloc(1, MK_CHUNK);
    if (!data)
        return NULL;
    mask = s->nslots - 1;
    for (i = slot_hash(idx + 1, mask); s->slots[i].key; i = (i + 1) & mask)
        ;
    s->slots[i].key = idx + 1;
    s->slots[i].data = data;
    s->nused++;
    return data;
}

static int ref_cmp(const void *a, const void *b)
{
    const struct store_ref *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static void refs_sort(struct store *s)
{
    if (!s->refs_sorted) {
        qsort(s->refs, s->nrefs, sizeof(*s->refs), ref_cmp);
        s->refs_sorted = 1;
    }
}

/* The reference whose chunk-rounded range holds (off), or NULL. */
static struct store_ref *ref_find(struct store *s, uint64_t off)
{
    size_t lo = 0, hi = s->nrefs;

    refs_sort(s);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        struct store_ref *r = &s->refs[mid];
        uint64_t end = r->off + (r->len + MK_CHUNK - 1) / MK_CHUNK * MK_CHUNK;
        if (off < r->off)
            hi = mid;
        else if (off >= end)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

static int pread_full(struct mk_ctx *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mk_set_errno(ctx, MK_EIO, errno, "cannot read a source file");
        if (n == 0) {
            /* The file shrank since it was added: read the rest as zeros. */
            memset(p, 0, len);
            return MK_OK;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return MK_OK;
}

static int store_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf,
                      size_t len)
{
    struct store *s = (struct store *)disk;
    uint8_t *p = buf;

    while (len) {
        uint64_t idx = off / MK_CHUNK;
        size_t in = (size_t)(off % MK_CHUNK);
        size_t n = MK_MIN(len, MK_CHUNK - in);
        uint8_t *data = chunk_find(s, idx);
        struct store_ref *ref;

        if (data) {
            memcpy(p, data + in, n);
        } else if (s->nrefs && (ref = ref_find(s, off))) {
            uint64_t rel = off - ref->off;
            size_t avail = rel < ref->len ? (size_t)MK_MIN(n, ref->len - rel) : 0;
            if (avail) {
                int r = pread_full(ctx, ref->fd, p, avail, ref->src_off + rel);
                if (r < 0)
                    return r;
            }
            memset(p + avail, 0, n - avail);
        } else {
            memset(p, 0, n);
        }
        p += n;
        off += n;
        len -= n;
    }
    return MK_OK;
}

static int store_write(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, const void *buf,
                       size_t len)
{
    struct store *s = (struct store *)disk;
    const uint8_t *p = buf;

    while (len) {
        uint64_t idx = off / MK_CHUNK;
        size_t in = (size_t)(off % MK_CHUNK);
        size_t n = MK_MIN(len, MK_CHUNK - in);
        uint8_t *data = chunk_find(s, idx);

        /* Zeros written where nothing was: the chunk stays a hole. */
        if (!data && memcmp(p, zero_chunk, n) != 0) {
            if (s->nrefs && ref_find(s, off))
                return mk_set_error(ctx, MK_EIO, "internal: write at %" PRIu64
                                    " overlaps file data", off);
            data = chunk_insert(s, idx);
            if (!data)
                return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
        if (data)
            memcpy(data + in, p, n);
        p += n;
        off += n;
        len -= n;
    }
    return MK_OK;
}

static int ext_cmp(const void *a, const void *b)
{
    const struct mk_extent *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int store_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                         size_t *ret_n)
{
    struct store *s = (struct store *)disk;
    size_t n = 0, out = 0;
    struct mk_extent *e = malloc((s->nused + s->nrefs + 1) * sizeof(*e));

    if (!e)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nslots; i++) {
        if (!s->slots[i].key)
            continue;
        /* A chunk later overwritten with zeros is a hole again. */
        if (!memcmp(s->slots[i].data, zero_chunk, MK_CHUNK))
            continue;
        e[n].off = (s->slots[i].key - 1) * MK_CHUNK;
        e[n].len = MK_MIN(MK_CHUNK, disk->size - e[n].off);
        n++;
    }
    for (size_t i = 0; i < s->nrefs; i++) {
        if (!s->refs[i].len)
            continue;
        e[n].off = s->refs[i].off;
        /* Round to whole sectors so that every format can represent the extent. */
        e[n].len = MK_MIN((s->refs[i].len + MK_SECTOR - 1) / MK_SECTOR * MK_SECTOR,
                          disk->size - e[n].off);
        n++;
    }
    qsort(e, n, sizeof(*e), ext_cmp);
    for (size_t i = 0; i < n; i++) {
        if (out && e[out - 1].off + e[out - 1].len >= e[i].off) {
            uint64_t end = MK_MAX(e[out - 1].off + e[out - 1].len, e[i].off + e[i].len);
            e[out - 1].len = end - e[out - 1].off;
        } else {
            e[out++] = e[i];
        }
    }
    *ret = e;
    *ret_n = out;
    return MK_OK;
}

static int store_source_fd(struct mk_disk *disk, uint64_t off, uint64_t len, int *ret_fd,
                           uint64_t *ret_fd_off)
{
    struct store *s = (struct store *)disk;
    struct store_ref *ref;

    if (!s->nrefs || chunk_find(s, off / MK_CHUNK) || !(ref = ref_find(s, off)))
        return 0;
    if (off + len > ref->off + ref->len)
        return 0;
    *ret_fd = ref->fd;
    *ret_fd_off = ref->src_off + (off - ref->off);
    return 1;
}

static void store_free(struct mk_disk *disk)
{
    struct store *s = (struct store *)disk;

    for (size_t i = 0; i < s->nslots; i++)
        free(s->slots[i].data);
    for (size_t i = 0; i < s->nfiles; i++) {
        close(s->files[i].fd);
        free(s->files[i].path);
    }
    free(s->files);
    free(s->slots);
    free(s->refs);
    free(s);
}

static const struct mk_disk_ops store_ops = {
    .name = "memory",
    .read = store_read,
    .write = store_write,
    .extents = store_extents,
    .source_fd = store_source_fd,
    .free = store_free,
};

int mk_store_new(struct mk_ctx *ctx, uint64_t size, struct mk_disk **ret)
{
    struct store *s = calloc(1, sizeof(*s));

    if (!s || !(s->slots = calloc(1024, sizeof(*s->slots)))) {
        free(s);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    s->nslots = 1024;
    s->refs_sorted = 1;
    s->disk.ops = &store_ops;
    s->disk.size = size;
    s->disk.source_format = MK_FORMAT_RAW;
    *ret = &s->disk;
    return MK_OK;
}

int mk_is_store(const struct mk_disk *disk)
{
    return disk->ops == &store_ops;
}

uint64_t mk_store_memory(const struct mk_disk *disk)
{
    const struct store *s = (const struct store *)disk;
    return (uint64_t)s->nused * MK_CHUNK;
}

static int source_fd(struct mk_ctx *ctx, struct store *s, const char *path)
{
    void *p;
    char *copy;
    int fd;

    for (size_t i = 0; i < s->nfiles; i++)
        if (!strcmp(s->files[i].path, path))
            return s->files[i].fd;
    p = realloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
    if (!p)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    s->files = p;
    fd = mk_open_input(ctx, path, NULL);
    if (fd < 0)
        return fd;
    if (!(copy = strdup(path))) {
        close(fd);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    s->files[s->nfiles].path = copy;
    s->files[s->nfiles].fd = fd;
    s->nfiles++;
    return fd;
}

int mk_store_add_ref(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, uint64_t len,
                     const char *path, uint64_t src_off)
{
    struct store *s = (struct store *)disk;
    int fd;

    if (!mk_is_store(disk) || off % MK_CHUNK || off > disk->size || len > disk->size - off)
        return mk_set_error(ctx, MK_EINVAL, "internal: bad reference at %" PRIu64, off);
    if (MK_GROW(s->refs, s->nrefs + 1, s->refs_alloc) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    fd = source_fd(ctx, s, path);
    if (fd < 0)
        return fd;
    if (s->nrefs && s->refs[s->nrefs - 1].off > off)
        s->refs_sorted = 0;
    s->refs[s->nrefs++] = (struct store_ref){.off = off, .len = len, .fd = fd,
                                             .src_off = src_off};
    return MK_OK;
}
