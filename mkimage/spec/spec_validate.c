/* spec_validate.c: checking a loaded spec against the disk and the uploaders, and applying
 * a target's options. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "multiboot.h"
#include "spec_private.h"
#include "uploader.h"

#define PLUGIN_PREFIX "unikernel-mkimage-uploader-"

static int check_file(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc,
                      const char *what, const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return mk_spec_error(ctx, spec, loc, "%s '%s': %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mk_spec_error(ctx, spec, loc, "%s '%s' is not a regular file", what, path);
    if (access(path, R_OK) < 0)
        return mk_spec_error(ctx, spec, loc, "%s '%s': %s", what, path, strerror(errno));
    return MK_OK;
}

static int check_output_dir(struct mk_ctx *ctx, const struct mk_spec *spec,
                            const struct mk_spec_output *o)
{
    const char *slash = strrchr(o->path, '/');
    char dir[4096];
    struct stat st;

    if (!slash)
        return MK_OK;
    if ((size_t)(slash - o->path) + 1 >= sizeof(dir))
        return mk_spec_error(ctx, spec, o->loc, "output '%s': path too long", o->path);
    memcpy(dir, o->path, (size_t)(slash - o->path) + 1);
    dir[slash - o->path + 1] = '\0';
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return mk_spec_error(ctx, spec, o->loc, "output '%s': no folder '%s'", o->path, dir);
    return MK_OK;
}

/* Plugins are found the way git finds remote helpers: by name on PATH. */
static bool plugin_on_path(const char *type)
{
    const char *path = getenv("PATH");
    char file[4096];

    for (const char *t = type; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_' || *t == '.'))
            return false;
    if (!path || !*type)
        return false;
    for (const char *dir = path;; dir++) {
        size_t len = strcspn(dir, ":");
        struct stat st;
        int n = len ? snprintf(file, sizeof(file), "%.*s/" PLUGIN_PREFIX "%s", (int)len, dir, type)
                    : snprintf(file, sizeof(file), "./" PLUGIN_PREFIX "%s", type);
        if (n > 0 && (size_t)n < sizeof(file) && stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
            access(file, X_OK) == 0)
            return true;
        dir += len;
        if (!*dir)
            return false;
    }
}

static int check_target(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i)
{
    const struct mk_spec_target *t = &spec->targets[i];
    struct mk_upload *up;
    int r;

    if (!mk_uploader_find(t->type)) {
        struct mk_buf known = MK_BUF_INIT;

        if (plugin_on_path(t->type))
            return MK_OK;
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
    const struct mk_build_opts *o = &spec->opts;
    struct mk_kernel_info info;
    char *cfg;
    int r;

    if ((r = check_file(ctx, spec, spec->kernel_loc, "kernel", o->kernel)) < 0)
        return r;
    if ((r = mk_kernel_check(ctx, o->kernel, &info)) < 0)
        return mk_spec_error_at(ctx, spec, spec->kernel_loc);
    for (size_t i = 0; i < o->n_modules; i++)
        if ((r = check_file(ctx, spec, spec->module_locs[i], "module", o->modules[i].path)) < 0)
            return r;
    for (size_t i = 0; i < o->n_files; i++)
        if ((r = check_file(ctx, spec, spec->file_locs[i], "file", o->files[i].src)) < 0)
            return r;
    /* Rendering plans the whole image: every input, its size and the template. */
    if ((r = mk_build_render_config(ctx, o, &cfg)) < 0)
        return mk_spec_error_at(ctx, spec, o->template_name ? spec->template_loc : spec->image_loc);
    free(cfg);
    for (size_t i = 0; i < spec->n_outputs; i++)
        if ((r = check_output_dir(ctx, spec, &spec->outputs[i])) < 0)
            return r;
    for (size_t i = 0; i < spec->n_targets; i++)
        if ((r = check_target(ctx, spec, i)) < 0)
            return r;
    return MK_OK;
}

int mk_spec_find_target(struct mk_ctx *ctx, const struct mk_spec *spec, const char *name,
                        size_t *ret)
{
    struct mk_buf known = MK_BUF_INIT;
    const char *close = NULL;
    size_t best = SIZE_MAX;
    int r;

    for (size_t i = 0; i < spec->n_targets; i++) {
        size_t d = mk_levenshtein(name, spec->targets[i].name);
        if (d == 0) {
            mk_buf_release(&known);
            *ret = i;
            return MK_OK;
        }
        if (d < best) {
            best = d;
            close = spec->targets[i].name;
        }
        mk_buf_addf(&known, "%s%s", i ? ", " : "", spec->targets[i].name);
    }
    if (close && best <= 2 && best < strlen(name))
        r = mk_set_error(ctx, MK_ENOTFOUND, "%s: no target '%s' (did you mean '%s'?)", spec->path,
                         name, close);
    else
        r = mk_set_error(ctx, MK_ENOTFOUND, "%s: no target '%s' (targets: %s)", spec->path, name,
                         spec->n_targets ? known.buf : "none");
    mk_buf_release(&known);
    return r;
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
