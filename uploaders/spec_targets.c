/* spec_targets.c: checking an image spec's targets against the uploaders, built in or
 * plugins, and handing a target's options to an upload. The spec layer below knows no
 * cloud; this is where its targets meet them. */
#include <stdint.h>
#include <stdlib.h>

#include "spec_private.h"
#include "uploader.h"

#define PLUGIN_PREFIX "unikernel-mkimage-uploader-"

static int check_target(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i)
{
    const struct mk_spec_target *t = &spec->targets[i];
    struct mk_upload *up;
    int r;

    if (!mk_uploader_find(t->type)) {
        struct mk_buf known = MK_BUF_INIT;

        for (size_t k = 0; mk_uploaders[k]; k++)
            mk_buf_addf(&known, "%s%s", k ? ", " : "", mk_uploaders[k]->name);
        r = mk_spec_error(ctx, spec, t->type_loc,
                          "target '%s': unknown uploader type '%s' "
                          "(built in: %s; no " PLUGIN_PREFIX "%s on PATH)",
                          t->name, t->type, known.buf, t->type);
        mk_buf_release(&known);
        return r;
    }
    if ((r = mk_upload_new(ctx, t->type, &up)) < 0)
        return mk_spec_error_at(ctx, spec, t->type_loc);
    r = mk_spec_target_apply(ctx, spec, i, up);
    mk_upload_free(up);
    return r;
}

int mk_spec_validate(struct mk_ctx *ctx, const struct mk_spec *spec)
{
    int r;

    if ((r = mk_spec_check_image(ctx, spec)) < 0)
        return r;
    for (size_t i = 0; i < spec->n_targets; i++)
        if ((r = check_target(ctx, spec, i)) < 0)
            return r;
    return MK_OK;
}

int mk_spec_target_apply(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i,
                         struct mk_upload *up)
{
    const struct mk_spec_target *t;

    if (i >= spec->n_targets)
        return mk_set_error(ctx, MK_EINVAL, "%s: no target number %zu", spec->path, i);
    t = &spec->targets[i];
    for (size_t j = 0; j < t->n_opts; j++)
        if (mk_upload_set_option(ctx, up, t->opts[j].key, t->opts[j].value) < 0) {
            mk_error_prefix(ctx, "target '%s'", t->name);
            return mk_spec_error_at(ctx, spec, t->opts[j].loc);
        }
    return MK_OK;
}
