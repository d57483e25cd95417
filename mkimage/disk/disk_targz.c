/* disk_targz.c: a GCE disk.tar.gz read into an in-memory disk, checking GCE's rules on the
 * way: one pass of streaming gunzip and tar parsing, nothing unpacked to disk.
 *
 * The tar side is hand-parsed (with the header helpers of pack_tar.c) rather than read
 * with libarchive so that the checks see what GCE sees: the exact format magic, every
 * member, and the GNU sparse map as written. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <zlib.h>

#include "disk_private.h"
#include "tar_format.h"

#define GIB (UINT64_C(1) << 30)
#define IN_SIZE (64u * 1024u)
#define PIECE (1u << 20)
/* The data of a disk read into memory; a built unikernel disk holds a few MiB. */
#define MAX_DATA (UINT64_C(2) << 30)
/* A bound on sparse map entries (24 bytes each in memory). */
#define MAX_MAP (UINT64_C(1) << 22)

struct targz {
    struct mk_ctx *ctx;
    const char *path;
    struct mk_buf *problems;
    int fd;
    /* Where the compressed bytes come from: (fd) read into (in), or the caller's source. */
    mk_pull_fn pull;
    void *pull_opaque;
    z_stream zs;
    int zs_ready;
    /* The gzip member's CRC-32 and length, checked here rather than by zlib (see
     * tz_init), and the last compressed bytes consumed, where the member's trailer is. */
    uint32_t crc, member_len;
    const uint8_t *in_start;
    uint8_t tail[8];
    uint8_t in[IN_SIZE];
    int in_eof;
    int ended;   /* the gzip stream ended cleanly */
    int corrupt; /* bad deflate data, bad CRC, or the file ended early */
    uint64_t in_total, file_size;
    /* Checking only (mk_targz_check_fd): the data is read and dropped but for the disk's
     * first sector; with (head_only), reading stops there. */
    int check_only, head_only, have_disk, stopped;
    uint8_t mbr[512];
    size_t mbr_len;
};

struct map_entry {
    uint64_t off, len;
};

static void problem(struct targz *t, const char *fmt, ...) MK_PRINTF(2, 3);
static void problem(struct targz *t, const char *fmt, ...)
{
    va_list ap;

    if (!t->problems)
        return;
    if (t->problems->len && t->problems->buf[t->problems->len - 1] != '\n')
        mk_buf_add(t->problems, "\n", 1);
    va_start(ap, fmt);
    mk_buf_vaddf(t->problems, fmt, ap);
    va_end(ap);
}

static int pull_fd(struct mk_ctx *ctx, void *opaque, const uint8_t **data, size_t *len)
{
    struct targz *t = opaque;
    ssize_t n;

    do
        n = read(t->fd, t->in, sizeof(t->in));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", t->path);
    *data = t->in;
    *len = (size_t)n;
    return MK_OK;
}

/* A gzip reader (15 + 16: a gzip wrapper) whose data check is ours: zlib's CRC-32 costs
 * more than inflating an archive of random data, libdeflate's a third of that. */
static int tz_init(struct targz *t)
{
    if (inflateInit2(&t->zs, 15 + 16) != Z_OK)
        return mk_set_error(t->ctx, MK_ENOMEM, "out of memory");
    t->zs_ready = 1;
    inflateValidate(&t->zs, 0);
    return MK_OK;
}

/* Keeps the last 8 bytes consumed before the input moves on to a new piece. */
static void keep_tail(struct targz *t)
{
    size_t n = (size_t)(t->zs.next_in - t->in_start);

    if (!t->in_start)
        return;
    if (n >= 8) {
        memcpy(t->tail, t->zs.next_in - 8, 8);
    } else {
        memmove(t->tail, t->tail + n, 8 - n);
        memcpy(t->tail + 8 - n, t->in_start, n);
    }
}

/* At the end of a member: its trailer (CRC-32, then the length mod 2^32, little-endian)
 * is the 8 bytes just consumed. */
static int member_intact(struct targz *t)
{
    keep_tail(t);
    t->in_start = t->zs.next_in;
    return mk_get_le32(t->tail) == t->crc && mk_get_le32(t->tail + 4) == t->member_len;
}

/* Reads up to (len) bytes of the tar stream; fewer only at its end. */
static int tz_read(struct targz *t, void *buf, size_t len, size_t *ret)
{
    z_stream *zs = &t->zs;

    zs->next_out = buf;
    zs->avail_out = (uInt)len;
    while (zs->avail_out && !t->ended && !t->corrupt) {
        if (!zs->avail_in && !t->in_eof) {
            const uint8_t *data;
            size_t n;
            /* Per piece of input: a few MiB of gzip can inflate to gigabytes that a skipped
             * member, back-to-back members or trailing data make us read through. */
            int r = mk_check_cancel(t->ctx);

            if (r < 0 || (r = t->pull(t->ctx, t->pull_opaque, &data, &n)) < 0)
                return r;
            if (n == 0)
                t->in_eof = 1;
            keep_tail(t);
            t->in_start = data;
            zs->next_in = (Bytef *)data;
            zs->avail_in = (uInt)n;
            t->in_total += (uint64_t)n;
            mk_progress(t->ctx, "read", t->in_total, t->file_size);
        }
        const Bytef *out = zs->next_out;
        int zr = inflate(zs, Z_NO_FLUSH);

        t->crc = (uint32_t)libdeflate_crc32(t->crc, out, (size_t)(zs->next_out - out));
        t->member_len += (uint32_t)(zs->next_out - out);
        if (zr == Z_STREAM_END) {
            if (!member_intact(t)) {
                t->corrupt = 1;
                break;
            }
            t->crc = t->member_len = 0;
            /* gzip allows members back to back; anything else after the end is ignored,
             * as gzip does. */
            if (zs->avail_in >= 2 && zs->next_in[0] == 0x1f && zs->next_in[1] == 0x8b) {
                inflateReset(zs);
                inflateValidate(zs, 0);
                continue;
            }
            t->ended = 1;
        } else if (zr == Z_MEM_ERROR) {
            return mk_set_error(t->ctx, MK_ENOMEM, "out of memory");
        } else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR ||
                   (zr == Z_BUF_ERROR && t->in_eof && !zs->avail_in)) {
            t->corrupt = 1;
        }
    }
    *ret = len - zs->avail_out;
    return MK_OK;
}

static int is_zero(const uint8_t *p, size_t len)
{
    return !len || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Reads the data of a member at the map's offsets (a regular member is one entry at 0):
 * into (disk), or, when (disk) is NULL, only checked as it passes, the disk's first sector
 * kept (and with head_only, no further than that sector). */
static int read_data(struct targz *t, struct mk_disk *disk, const struct map_entry *map,
                     size_t n, uint8_t *buf, int *ret_short)
{
    int r;

    *ret_short = 0;
    for (size_t i = 0; i < n; i++) {
        for (uint64_t off = map[i].off, left = map[i].len; left;) {
            size_t want = (size_t)MK_MIN(left, PIECE), got;
            if ((r = mk_check_cancel(t->ctx)) < 0 || (r = tz_read(t, buf, want, &got)) < 0)
                return r;
            if (disk && got && (r = mk_disk_write(t->ctx, disk, off, buf, got)) < 0)
                return r;
            if (disk && mk_store_memory(disk) > MAX_DATA)
                return mk_set_error(t->ctx, MK_EUNSUPPORTED, "'%s' holds more than %" PRIu64
                                    " bytes of data, more than can be read into memory",
                                    t->path, MAX_DATA);
            if (!disk && off < sizeof(t->mbr) && got) {
                size_t k = (size_t)MK_MIN((uint64_t)got, sizeof(t->mbr) - off);
                memcpy(t->mbr + off, buf, k);
                t->mbr_len = MK_MAX(t->mbr_len, (size_t)off + k);
            }
            if (got < want) {
                *ret_short = 1;
                return MK_OK;
            }
            off += got;
            left -= got;
            if (!disk && t->head_only && (t->mbr_len == sizeof(t->mbr) || off >= sizeof(t->mbr))) {
                t->stopped = 1;
                return MK_OK;
            }
        }
        if (!disk && t->head_only && map[i].off >= sizeof(t->mbr)) {
            t->stopped = 1; /* the first sector is a hole */
            return MK_OK;
        }
    }
    return MK_OK;
}

/* Skips (len) bytes of the tar stream; 1 if it ended first. */
static int skip(struct targz *t, uint64_t len, uint8_t *buf, int *ret_short)
{
    int r;

    *ret_short = 0;
    while (len) {
        size_t want = (size_t)MK_MIN(len, PIECE), got;
        if ((r = mk_check_cancel(t->ctx)) < 0 || (r = tz_read(t, buf, want, &got)) < 0)
            return r;
        if (got < want) {
            *ret_short = 1;
            return MK_OK;
        }
        len -= got;
    }
    return MK_OK;
}

static int add_entry(struct targz *t, struct map_entry **map, size_t *n, const uint8_t *p)
{
    struct map_entry e;

    if (mk_tar_get_number(p, 12, &e.off) < 0 || mk_tar_get_number(p + 12, 12, &e.len) < 0)
        return mk_set_error(t->ctx, MK_EFORMAT, "'%s': the sparse map is not valid", t->path);
    if (*n >= MAX_MAP)
        return mk_set_error(t->ctx, MK_EUNSUPPORTED, "'%s': the sparse map is too long",
                            t->path);
    void *q = realloc(*map, (*n + 1) * sizeof(**map));
    if (!q)
        return mk_set_error(t->ctx, MK_ENOMEM, "out of memory");
    *map = q;
    (*map)[(*n)++] = e;
    return MK_OK;
}

/* Reads the GNU sparse map of header (h), and its extension blocks, and checks it. */
static int read_sparse_map(struct targz *t, const uint8_t *h, uint64_t size, uint64_t realsize,
                           struct map_entry **ret, size_t *ret_n)
{
    uint8_t ext[MK_TAR_BLOCK];
    struct map_entry *map = NULL;
    size_t n = 0, got;
    int more = h[MK_TAR_ISEXTENDED], r = MK_OK;
    uint64_t sum = 0, end = 0;

    for (int i = 0; i < MK_TAR_HDR_SPARSE_N && r == MK_OK; i++)
        if (h[MK_TAR_SPARSE + 24 * i])
            r = add_entry(t, &map, &n, h + MK_TAR_SPARSE + 24 * i);
    while (more && r == MK_OK) {
        if ((r = tz_read(t, ext, sizeof(ext), &got)) < 0)
            break;
        if (got < sizeof(ext)) {
            r = mk_set_error(t->ctx, MK_EFORMAT, "'%s': the archive ends in a sparse map",
                             t->path);
            break;
        }
        for (int i = 0; i < MK_TAR_EXT_SPARSE_N && r == MK_OK; i++)
            if (ext[24 * i])
                r = add_entry(t, &map, &n, ext + 24 * i);
        more = ext[MK_TAR_EXT_ISEXTENDED];
    }
    for (size_t i = 0; i < n && r == MK_OK; i++) {
        if (map[i].off < end || map[i].off > realsize || map[i].len > realsize - map[i].off)
            r = mk_set_error(t->ctx, MK_EFORMAT, "'%s': the sparse map is not valid "
                             "(entry %zu at %" PRIu64 ")", t->path, i, map[i].off);
        end = map[i].off + map[i].len;
        sum += map[i].len;
    }
    if (r == MK_OK && sum != size)
        r = mk_set_error(t->ctx, MK_EFORMAT, "'%s': the sparse map holds %" PRIu64 " bytes "
                         "but the member %" PRIu64, t->path, sum, size);
    if (r < 0) {
        free(map);
        return r;
    }
    *ret = map;
    *ret_n = n;
    return MK_OK;
}

static void member_name(const uint8_t *h, int ustar, char *name, size_t size)
{
    const char *prefix = ustar ? (const char *)h + MK_TAR_PREFIX : "";
    int pl = (int)strnlen(prefix, 155), nl = (int)strnlen((const char *)h, 100);

    snprintf(name, size, "%.*s%s%.*s", pl, prefix, pl ? "/" : "", nl, (const char *)h);
}

static int parse(struct targz *t, struct mk_disk **ret_disk, char *disk_name, size_t name_size)
{
    uint8_t h[MK_TAR_BLOCK];
    uint8_t *buf = malloc(PIECE);
    char longname[4096] = "", name[4096];
    int members = 0, warned_format = 0, shortread = 0, r = MK_OK;
    size_t got;

    if (!buf)
        return mk_set_error(t->ctx, MK_ENOMEM, "out of memory");
    for (;;) {
        /* Per member: a small archive can hold millions of empty ones. */
        if ((r = mk_check_cancel(t->ctx)) < 0 || (r = tz_read(t, h, sizeof(h), &got)) < 0)
            break;
        if (got == 0 || is_zero(h, got))
            break; /* the end-of-archive blocks, or an end without them */
        if (got < sizeof(h) || !mk_tar_checksum_ok(h)) {
            if (!t->corrupt)
                problem(t, "the tar archive is damaged: a header's checksum is wrong");
            shortread = 1;
            break;
        }
        int gnu = !memcmp(h + MK_TAR_MAGIC, MK_TAR_MAGIC_GNU, 8);
        int ustar = !memcmp(h + MK_TAR_MAGIC, MK_TAR_MAGIC_USTAR, 8);
        char type = (char)h[MK_TAR_TYPEFLAG];
        uint64_t size, realsize;
        if (mk_tar_get_number(h + MK_TAR_SIZE, 12, &size) < 0) {
            problem(t, "the tar archive is damaged: a member's size is not valid");
            shortread = 1;
            break;
        }
        if (!gnu && !warned_format) {
            problem(t, "the tar format is %s; GCE requires GNU oldgnu format "
                    "(tar --format=oldgnu)", ustar ? "POSIX ustar or pax" : "old v7");
            warned_format = 1;
        }
        if (type == 'L' || type == 'x' || type == 'g' || type == 'K') {
            /* A long name for the next member, or pax attributes: not members. */
            if (type == 'x' || type == 'g') {
                if (!warned_format)
                    problem(t, "the archive has pax extended headers; GCE requires GNU "
                            "oldgnu format (tar --format=oldgnu)");
                warned_format = 1;
            }
            size_t keep = type == 'L' ? (size_t)MK_MIN(size, sizeof(longname) - 1) : 0;
            uint64_t padded = (size + MK_TAR_BLOCK - 1) / MK_TAR_BLOCK * MK_TAR_BLOCK;
            if ((r = tz_read(t, buf, keep, &got)) < 0 ||
                (r = skip(t, padded - keep, buf, &shortread)) < 0)
                break;
            if (type == 'L') {
                memcpy(longname, buf, got);
                longname[got] = 0;
            }
            if (shortread || got < keep)
                break;
            continue;
        }
        members++;
        if (*longname)
            snprintf(name, sizeof(name), "%s", longname);
        else
            member_name(h, ustar, name, sizeof(name));
        longname[0] = 0;
        realsize = size;
        uint64_t stored = size;
        if ((type == 'S' && gnu) || type == '0' || type == '\0' || type == '7') {
            if (t->have_disk) {
                /* Only the first file is the disk; the rest are skipped and counted. */
                int more = type == 'S' && h[MK_TAR_ISEXTENDED];
                while (more && (r = tz_read(t, h, sizeof(h), &got)) == MK_OK) {
                    if (got < sizeof(h)) {
                        shortread = 1;
                        break;
                    }
                    more = h[MK_TAR_EXT_ISEXTENDED];
                }
                if (r < 0 || shortread)
                    break;
            } else {
                struct map_entry one = {.off = 0, .len = size}, *map = &one;
                size_t n = 1;
                if (type == 'S') {
                    if (mk_tar_get_number(h + MK_TAR_REALSIZE, 12, &realsize) < 0) {
                        r = mk_set_error(t->ctx, MK_EFORMAT, "'%s': the size of '%s' is not "
                                         "valid", t->path, name);
                        break;
                    }
                    if ((r = read_sparse_map(t, h, size, realsize, &map, &n)) < 0)
                        break;
                }
                t->have_disk = 1;
                if (t->check_only)
                    r = read_data(t, NULL, map, n, buf, &shortread);
                else if ((r = mk_store_new(t->ctx, realsize, ret_disk)) == MK_OK)
                    r = read_data(t, *ret_disk, map, n, buf, &shortread);
                if (map != &one)
                    free(map);
                if (r < 0)
                    break;
                if (ret_disk && *ret_disk)
                    (*ret_disk)->source_format = MK_FORMAT_GCE;
                snprintf(disk_name, name_size, "%s", name);
                if (realsize % GIB)
                    problem(t, "'%s' is %" PRIu64 " bytes, not a whole number of GiB as GCE "
                            "requires", name, realsize);
                if (t->check_only && !shortread && (t->stopped || !t->head_only) &&
                    (t->mbr_len < sizeof(t->mbr) || t->mbr[510] != 0x55 || t->mbr[511] != 0xaa))
                    problem(t, "'%s' has no MBR (no boot signature in its first sector); GCE "
                            "boots MBR disks", name);
                if (shortread || t->stopped)
                    break;
                stored = (MK_TAR_BLOCK - size % MK_TAR_BLOCK) % MK_TAR_BLOCK;
                if ((r = skip(t, stored, buf, &shortread)) < 0 || shortread)
                    break;
                continue;
            }
        } else if (type == '1' || type == '2' || type == '3' || type == '4' || type == '5' ||
                   type == '6') {
            stored = 0; /* links, devices, folders and fifos have no data */
        }
        uint64_t padded = (stored + MK_TAR_BLOCK - 1) / MK_TAR_BLOCK * MK_TAR_BLOCK;
        if ((r = skip(t, padded, buf, &shortread)) < 0 || shortread)
            break;
    }
    free(buf);
    if (r < 0)
        return r;
    if (t->stopped) {
        if (strcmp(disk_name, "disk.raw"))
            problem(t, "the file in the archive is named '%s'; GCE requires 'disk.raw' (no "
                    "folder, no ./)", disk_name);
        return MK_OK;
    }
    if (!t->ended && !t->corrupt && !shortread) {
        /* The tar ended cleanly; the gzip stream must also. Read what is left to see. */
        uint8_t tail[4096];
        while (!t->ended && !t->corrupt && (r = tz_read(t, tail, sizeof(tail), &got)) == MK_OK &&
               got)
            ;
        if (r == MK_ECANCELED)
            return r;
    }
    if (t->corrupt || shortread)
        problem(t, "gzip data is corrupt or truncated");
    if (members == 0 && !t->corrupt)
        problem(t, "the archive holds no file; GCE requires one file named disk.raw");
    if (members > 1)
        problem(t, "the archive holds %d members; GCE requires exactly one, disk.raw", members);
    if (t->have_disk && strcmp(disk_name, "disk.raw"))
        problem(t, "the file in the archive is named '%s'; GCE requires 'disk.raw' (no "
                "folder, no ./)", disk_name);
    return t->corrupt || shortread ? 1 : MK_OK;
}

int mk_disk_open_targz(struct mk_ctx *ctx, const char *path, struct mk_buf *problems,
                       struct mk_disk **ret)
{
    int fd = mk_open_input(ctx, path, NULL);

    return fd < 0 ? fd : mk_disk_open_targz_fd(ctx, fd, path, problems, ret);
}

int mk_disk_open_targz_fd(struct mk_ctx *ctx, int fd, const char *path, struct mk_buf *problems,
                          struct mk_disk **ret)
{
    struct targz *t = calloc(1, sizeof(*t));
    struct mk_disk *disk = NULL;
    char disk_name[4096] = "";
    int r;

    if (!t) {
        close(fd);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    *t = (struct targz){.ctx = ctx, .path = path, .problems = problems, .pull = pull_fd,
                        .fd = fd};
    t->pull_opaque = t;
    /* Read from the start, wherever a descriptor shared with another process stands. */
    if (lseek(fd, 0, SEEK_SET) < 0) {
        r = mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", path);
        close(fd);
        free(t);
        return r;
    }
    if ((r = mk_input_size(ctx, t->fd, path, &t->file_size)) < 0 || (r = tz_init(t)) < 0)
        goto out;
    r = parse(t, &disk, disk_name, sizeof(disk_name));
    if (r > 0) {
        /* Corrupt or truncated: an error unless the caller collects problems and there is
         * a disk to look at. */
        if (problems && disk)
            r = MK_OK;
        else
            r = mk_set_error(ctx, MK_EFORMAT, "'%s': gzip data is corrupt or truncated", path);
    }
    if (r == MK_OK && !disk)
        r = mk_set_error(ctx, MK_EFORMAT, "'%s' holds no disk image (a tar member such as "
                         "disk.raw)", path);
out:
    if (t->zs_ready)
        inflateEnd(&t->zs);
    close(t->fd);
    free(t);
    if (r < 0) {
        mk_disk_free(disk);
        return r;
    }
    *ret = disk;
    return MK_OK;
}

/* The streaming check of (t), set up with its source. */
static int check(struct mk_ctx *ctx, struct targz *t)
{
    char disk_name[4096] = "";
    int r;

    t->check_only = 1;
    if ((r = tz_init(t)) < 0) {
        free(t);
        return r;
    }
    r = parse(t, NULL, disk_name, sizeof(disk_name));
    if (r > 0)
        r = MK_OK; /* corrupt or truncated: a problem, already said */
    if (r == MK_OK && !t->have_disk && !(t->problems && t->problems->len))
        problem(t, "the archive holds no file; GCE requires one file named disk.raw");
    inflateEnd(&t->zs);
    free(t);
    return r;
}

int mk_targz_check_pull(struct mk_ctx *ctx, mk_pull_fn pull, void *opaque, const char *name,
                        bool head_only, struct mk_buf *problems)
{
    struct targz *t = calloc(1, sizeof(*t));

    if (!t)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *t = (struct targz){.ctx = ctx, .path = name, .problems = problems, .fd = -1,
                        .pull = pull, .pull_opaque = opaque, .head_only = head_only};
    return check(ctx, t);
}

int mk_targz_check_fd(struct mk_ctx *ctx, int fd, const char *name, bool head_only,
                      struct mk_buf *problems)
{
    struct targz *t = calloc(1, sizeof(*t));

    if (!t)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *t = (struct targz){.ctx = ctx, .path = name, .problems = problems, .fd = fd,
                        .pull = pull_fd, .head_only = head_only};
    t->pull_opaque = t;
    return check(ctx, t);
}
