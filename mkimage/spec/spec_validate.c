/* spec_validate.c: checking a loaded spec's image against the files it names. Its targets
 * are checked by the uploaders (uploaders/spec_targets.c), which know the clouds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "multiboot.h"
#include "spec_private.h"

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

int mk_spec_check_image(struct mk_ctx *ctx, const struct mk_spec *spec)
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
