/* spec_targets.c: checking an image spec's targets against the uploaders, built in or
 * plugins, and handing a target's options to an upload. The spec layer below knows no
 * cloud; this is where its targets meet them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    if (r == MK_OK) {
        struct mk_deploy *d = NULL;

        r = mk_spec_target_deploy(ctx, spec, i, NULL, &d);
        mk_deploy_free(d);
    }
    return r;
}

/* The options of a gce target that say how to reach Compute Engine; a deploy uses them too. */
static bool connection_key(const char *key)
{
    static const char *const keys[] = {"project", "credentials", "compute-endpoint", "backoff",
                                       "retries", "cacert", "insecure", "stall-timeout"};

    for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

int mk_spec_target_deploy(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i,
                          const char *image, struct mk_deploy **ret)
{
    const struct mk_spec_target *t;
    struct mk_deploy *d = NULL;
    int r = MK_OK;

    *ret = NULL;
    if (i >= spec->n_targets)
        return mk_set_error(ctx, MK_EINVAL, "%s: no target number %zu", spec->path, i);
    t = &spec->targets[i];
    /* A deploy: map arrives as one "deploy" option per entry, each "KEY=VALUE". */
    for (size_t j = 0; j < t->n_opts && r == MK_OK; j++) {
        const struct mk_spec_option *o = &t->opts[j];
        const char *eq = strchr(o->value, '=');
        char key[64];

        if (strcmp(o->key, "deploy"))
            continue;
        if (!d && strcmp(t->type, "gce")) {
            r = mk_spec_error(ctx, spec, o->loc, "target '%s': 'deploy' is for gce targets only",
                              t->name);
            break;
        }
        if (!d && (r = mk_deploy_new(ctx, t->type, &d)) < 0)
            break;
        if (!eq || (size_t)(eq - o->value) >= sizeof(key)) {
            r = mk_spec_error(ctx, spec, o->loc, "target '%s': 'deploy' takes a map of "
                              "settings (group: NAME, zone: Z...)", t->name);
            break;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - o->value), o->value);
        /* A flag written "no-rollback: false" is left out. */
        if (mk_deploy_option_arity(key) == 0 &&
            (!strcmp(eq + 1, "false") || !strcmp(eq + 1, "no")))
            continue;
        if ((r = mk_deploy_set_option(ctx, d, key, eq + 1)) < 0) {
            mk_error_prefix(ctx, "target '%s': deploy", t->name);
            r = mk_spec_error_at(ctx, spec, o->loc);
        }
    }
    for (size_t j = 0; d && r == MK_OK && j < t->n_opts; j++)
        if (connection_key(t->opts[j].key))
            r = mk_deploy_set_option(ctx, d, t->opts[j].key, t->opts[j].value);
    if (d && r == MK_OK && image)
        r = mk_deploy_set_option(ctx, d, "image", image);
    if (r < 0) {
        mk_deploy_free(d);
        return r;
    }
    *ret = d;
    return MK_OK;
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
        if (strcmp(t->opts[j].key, "deploy") &&
            mk_upload_set_option(ctx, up, t->opts[j].key, t->opts[j].value) < 0) {
            mk_error_prefix(ctx, "target '%s'", t->name);
            return mk_spec_error_at(ctx, spec, t->opts[j].loc);
        }
    return MK_OK;
}
