/* disk.c: the generic disk calls, sizes and format names. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_private.h"

uint64_t mk_disk_size(const struct mk_disk *disk)
{
    return disk->size;
}

enum mk_format mk_disk_source_format(const struct mk_disk *disk)
{
    return disk->source_format;
}

int mk_disk_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf, size_t len)
{
    if (off > disk->size || len > disk->size - off)
        return mk_set_error(ctx, MK_EIO, "read of %zu bytes at %" PRIu64
                            " is past the end of the disk (%" PRIu64 " bytes)",
                            len, off, disk->size);
    return disk->ops->read(ctx, disk, off, buf, len);
}

int mk_disk_write(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, const void *buf,
                  size_t len)
{
    if (!disk->ops->write)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "this disk is read-only");
    if (off > disk->size || len > disk->size - off)
        return mk_set_error(ctx, MK_ENOSPC, "write of %zu bytes at %" PRIu64
                            " is past the end of the disk (%" PRIu64 " bytes)",
                            len, off, disk->size);
    return disk->ops->write(ctx, disk, off, buf, len);
}

int mk_disk_extents(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_extent **ret,
                    size_t *ret_n)
{
    return disk->ops->extents(ctx, disk, ret, ret_n);
}

int mk_disk_data_bytes(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t *ret)
{
    struct mk_extent *ext;
    size_t n;
    uint64_t sum = 0;
    int r = mk_disk_extents(ctx, disk, &ext, &n);

    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        sum += ext[i].len;
    free(ext);
    *ret = sum;
    return MK_OK;
}

void mk_disk_free(struct mk_disk *disk)
{
    if (disk)
        disk->ops->free(disk);
}

int mk_parse_size(struct mk_ctx *ctx, const char *text, uint64_t *ret)
{
    static const char units[] = "KMGTPE";
    const char *p = text;
    uint64_t v = 0;
    unsigned shift = 0;

    if (!text || !isdigit((unsigned char)*p))
        return mk_set_error(ctx, MK_EINVAL, "invalid size '%s': expected a number such as "
                            "512M or 1G", text ? text : "");
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return mk_set_error(ctx, MK_EINVAL, "invalid size '%s': too large", text);
        v = v * 10 + d;
    }
    if (*p) {
        const char *u = strchr(units, toupper((unsigned char)*p));
        if (!u)
            return mk_set_error(ctx, MK_EINVAL, "invalid size '%s': unknown unit '%s' "
                                "(use K, M, G or T)", text, p);
        shift = 10u * (unsigned)(u - units + 1);
        p++;
        if (*p == 'i' || *p == 'I')
            p++;
        if (*p == 'b' || *p == 'B')
            p++;
        if (*p)
            return mk_set_error(ctx, MK_EINVAL, "invalid size '%s': unexpected '%s'", text, p);
    }
    if (shift && v > (UINT64_MAX >> shift))
        return mk_set_error(ctx, MK_EINVAL, "invalid size '%s': too large", text);
    *ret = v << shift;
    return MK_OK;
}

int mk_format_from_name(struct mk_ctx *ctx, const char *name, enum mk_format *ret)
{
    if (!strcmp(name, "raw"))
        *ret = MK_FORMAT_RAW;
    else if (!strcmp(name, "gce") || !strcmp(name, "tar.gz") || !strcmp(name, "tar"))
        *ret = MK_FORMAT_GCE;
    else if (!strcmp(name, "qcow2"))
        *ret = MK_FORMAT_QCOW2;
    else
        return mk_set_error(ctx, MK_EINVAL, "unknown format '%s' (use raw, gce or qcow2)",
                            name);
    return MK_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

enum mk_format mk_format_from_path(const char *path)
{
    if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz"))
        return MK_FORMAT_GCE;
    if (ends_with(path, ".qcow2"))
        return MK_FORMAT_QCOW2;
    return MK_FORMAT_RAW;
}

const char *mk_format_name(enum mk_format fmt)
{
    switch (fmt) {
    case MK_FORMAT_GCE:
        return "gce";
    case MK_FORMAT_QCOW2:
        return "qcow2";
    default:
        return "raw";
    }
}
