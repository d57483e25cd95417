/* pack_gce.c: the GCE disk.tar.gz: one sparse disk.raw in an oldgnu tar, gzipped in
 * parallel, streamed straight from the disk with no intermediate file. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "gzip_parallel.h"
#include "pack.h"
#include "pack_tar.h"

#define GIB (UINT64_C(1) << 30)

/* SOURCE_DATE_EPOCH, for reproducible archives; 0 when unset. */
static int archive_mtime(struct mk_ctx *ctx, uint64_t *ret)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    char *end;

    *ret = 0;
    if (!s || !*s)
        return MK_OK;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || *s < '0' || *s > '9')
        return mk_set_error(ctx, MK_EINVAL, "SOURCE_DATE_EPOCH '%s' is not a number of seconds",
                            s);
    *ret = v;
    return MK_OK;
}

static int gzip_sink_write(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len)
{
    return mk_gzip_write(ctx, opaque, buf, len);
}

int mk_write_gce(struct mk_ctx *ctx, struct mk_disk *disk, const struct mk_pack_opts *opts,
                 struct mk_sink *sink)
{
    uint64_t realsize = disk->size, mtime;
    struct mk_gzip *gz = NULL;
    int r;

    if (disk->size % GIB) {
        if (!opts->round_up)
            return mk_set_error(ctx, MK_EINVAL, "disk size %" PRIu64 " is not a whole number "
                                "of GiB, as GCE requires (use --round-up or --size)",
                                disk->size);
        /* An MBR disk needs nothing moved when it grows: the tail is a hole. */
        realsize = (disk->size / GIB + 1) * GIB;
    }
    if (!realsize)
        return mk_set_error(ctx, MK_EINVAL, "the disk is empty");
    if ((r = archive_mtime(ctx, &mtime)) < 0)
        return r;
    if ((r = mk_gzip_new(ctx, opts->level, opts->jobs, sink, &gz)) < 0)
        return r;
    struct mk_sink tar_sink = {.write = gzip_sink_write, .opaque = gz};
    r = mk_tar_write_disk(ctx, disk, "disk.raw", realsize, mtime, &tar_sink);
    if (r == MK_OK)
        r = mk_gzip_finish(ctx, gz);
    mk_gzip_free(gz);
    return r;
}
