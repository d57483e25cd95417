/* build_args.c: parsing the options that describe an image. */
#include <stdlib.h>
#include <string.h>

#include "build_args.h"

void cli_build_args_init(struct cli_build_args *a)
{
    memset(a, 0, sizeof(*a));
    a->opts.mtime = -1;
}

void cli_build_args_release(struct cli_build_args *a)
{
    free(a->modules);
    free(a->files);
    memset(a, 0, sizeof(*a));
}

static void *grow(void *p, size_t n, size_t size)
{
    void *q = realloc(p, (n + 1) * size);
    if (!q) {
        cli_error("out of memory");
        exit(CLI_EXIT_FAIL);
    }
    return q;
}

int cli_build_option(struct cli_build_args *a, const char *command, int opt, const char *arg)
{
    struct mk_ctx *ctx;
    char *sep;

    switch (opt) {
    case 's':
        ctx = mk_ctx_new();
        if (!ctx || mk_parse_size(ctx, arg, &a->opts.disk_size) < 0) {
            cli_usage_error(command, "--size: %s", ctx ? mk_errmsg(ctx) : "out of memory");
            mk_ctx_free(ctx);
            return -1;
        }
        mk_ctx_free(ctx);
        if (a->opts.disk_size == 0) {
            cli_usage_error(command, "--size: the size must not be zero");
            return -1;
        }
        return 1;
    case 't':
        a->opts.template_name = arg;
        return 1;
    case 'm':
        /* FILE[:ARGS]: the first colon splits, so arguments may contain colons. */
        a->modules = grow(a->modules, a->nmodules, sizeof(*a->modules));
        sep = strchr(arg, ':');
        if (sep) {
            *sep = '\0';
            a->modules[a->nmodules].args = sep + 1;
        } else {
            a->modules[a->nmodules].args = NULL;
        }
        if (!*arg) {
            cli_usage_error(command, "--module needs a file name before ':'");
            return -1;
        }
        a->modules[a->nmodules++].path = arg;
        a->opts.modules = a->modules;
        a->opts.n_modules = a->nmodules;
        return 1;
    case CLI_OPT_FILE:
        /* SRC:/DEST: the last ":/" splits, so a source path may contain colons. */
        sep = NULL;
        for (char *p = strstr(arg, ":/"); p; p = strstr(p + 1, ":/"))
            sep = p;
        if (!sep || sep == arg) {
            cli_usage_error(command, "--file '%s': expected SRC:/DEST, with DEST an absolute "
                            "path in the image", arg);
            return -1;
        }
        *sep = '\0';
        a->files = grow(a->files, a->nfiles, sizeof(*a->files));
        a->files[a->nfiles].src = arg;
        a->files[a->nfiles++].dest = sep + 1;
        a->opts.files = a->files;
        a->opts.n_files = a->nfiles;
        return 1;
    case CLI_OPT_UUID:
        a->opts.uuid = arg;
        return 1;
    case CLI_OPT_GRUB_DIR:
        a->opts.grub_dir = arg;
        return 1;
    case CLI_OPT_TEMPLATE_DIR:
        a->opts.template_dir = arg;
        return 1;
    }
    return 0;
}

int cli_split_kernel_args(int argc, char **argv, char ***ret_kargs, int *ret_nkargs)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            *ret_kargs = argv + i + 1;
            *ret_nkargs = argc - i - 1;
            return i;
        }
    *ret_kargs = argv + argc;
    *ret_nkargs = 0;
    return argc;
}

void cli_build_set_kernel(struct cli_build_args *a, char *kernel, char **kargs, int nkargs)
{
    a->opts.kernel = kernel;
    a->opts.kernel_args = (const char *const *)kargs;
    a->opts.n_kernel_args = (size_t)nkargs;
}

int cli_print_config(struct mk_ctx *ctx, const struct mk_build_opts *opts)
{
    char *cfg;

    if (mk_build_render_config(ctx, opts, &cfg) < 0)
        return cli_ctx_error(ctx);
    fputs(cfg, stdout);
    free(cfg);
    return CLI_EXIT_OK;
}
