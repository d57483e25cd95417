/* pack_interim.c: INTERIM until the packing work lands in this session; delete then. */
#include "disk_private.h"

int mk_write_gce(struct mk_ctx *ctx, struct mk_disk *disk, const struct mk_pack_opts *opts,
                 struct mk_sink *sink)
{
    (void)disk, (void)opts, (void)sink;
    return mk_set_error(ctx, MK_EUNSUPPORTED, "gce output is not built yet");
}
int mk_write_qcow2(struct mk_ctx *ctx, struct mk_disk *disk, struct mk_sink *sink)
{
    (void)disk, (void)sink;
    return mk_set_error(ctx, MK_EUNSUPPORTED, "qcow2 output is not built yet");
}
int mk_disk_open_qcow2(struct mk_ctx *ctx, const char *path, struct mk_disk **ret)
{
    (void)ret;
    return mk_set_error(ctx, MK_EUNSUPPORTED, "%s: qcow2 input is not built yet", path);
}
int mk_disk_open_targz(struct mk_ctx *ctx, const char *path, struct mk_buf *problems,
                       struct mk_disk **ret)
{
    (void)ret, (void)problems;
    return mk_set_error(ctx, MK_EUNSUPPORTED, "%s: tar.gz input is not built yet", path);
}
