/* spec_build.c: `build` from an image spec: the spec's image, overridden by the command
 * line, built once and written in every format the spec lists. */
#include <inttypes.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec_cli.h"

bool cli_spec_default_exists(void)
{
    struct stat st;

    return stat(MK_SPEC_DEFAULT_NAME, &st) == 0;
}

const char *cli_spec_choose(const char *command, const char *given)
{
    if (given)
        return given;
    if (cli_spec_default_exists())
        return MK_SPEC_DEFAULT_NAME;
    cli_usage_error(command, "no spec: give --spec FILE, or run where " MK_SPEC_DEFAULT_NAME " is");
    return NULL;
}

int cli_spec_overlay(struct mk_ctx *ctx, const char *path, struct cli_build_args *a,
                     const char *kernel, bool kargs_given, struct mk_spec **ret)
{
    const struct mk_build_opts *cli = &a->opts;
    struct mk_build_opts o;
    struct mk_spec *spec;

    if (mk_spec_load(ctx, path, &spec) < 0)
        return -1;
    /* Options given on the command line win; a list given there replaces the spec's. */
    o = *mk_spec_build_opts(spec);
    if (kernel)
        o.kernel = kernel;
    if (kargs_given) {
        o.kernel_args = cli->kernel_args;
        o.n_kernel_args = cli->n_kernel_args;
    }
    if (cli->template_name)
        o.template_name = cli->template_name;
    if (cli->n_modules) {
        o.modules = cli->modules;
        o.n_modules = cli->n_modules;
    }
    if (cli->n_files) {
        o.files = cli->files;
        o.n_files = cli->n_files;
    }
    if (cli->disk_size)
        o.disk_size = cli->disk_size;
    if (cli->uuid)
        o.uuid = cli->uuid;
    if (cli->mtime >= 0)
        o.mtime = cli->mtime;
    if (cli->template_dir)
        o.template_dir = cli->template_dir;
    if (cli->grub_dir)
        o.grub_dir = cli->grub_dir;
    if (cli->grub_mkimage)
        o.grub_mkimage = cli->grub_mkimage;
    a->opts = o;
    *ret = spec;
    return 0;
}

int cli_spec_check_outside(const struct mk_spec *spec, bool allowed, bool quiet)
{
    size_t n = mk_spec_n_outside(spec);
    char *list = NULL;
    size_t list_len = 0;
    FILE *f;
    int rc;

    if (n == 0)
        return CLI_EXIT_OK;
    if (allowed) {
        for (size_t i = 0; i < n && !quiet; i++)
            cli_warn("%s: outside the spec's folder (--allow-outside-spec): %s",
                     mk_spec_path(spec), mk_spec_outside(spec, i));
        return CLI_EXIT_OK;
    }
    if (!(f = open_memstream(&list, &list_len)))
        return cli_error("out of memory");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "; " : "", mk_spec_outside(spec, i));
    fclose(f);
    rc = cli_error("%s: %zu path%s leave%s the spec's folder (%s); check %s and give "
                   "--allow-outside-spec to use %s", mk_spec_path(spec), n, n == 1 ? "" : "s",
                   n == 1 ? "s" : "", list ? list : "", n == 1 ? "it" : "them",
                   n == 1 ? "it" : "them");
    free(list);
    return rc;
}

struct output {
    const char *path;
    enum mk_format fmt;
};

/* The outputs: -o alone, else the spec's (those of -f's format when given). */
static int choose_outputs(struct mk_ctx *ctx, const struct mk_spec *spec,
                          const struct cli_spec_build *b, struct output **ret, size_t *ret_n)
{
    size_t n = mk_spec_n_outputs(spec), count = 0;
    enum mk_format want = 0;
    struct output *outs;

    if (b->format_name && mk_format_from_name(ctx, b->format_name, &want) < 0)
        return cli_usage_error("build", "--format: %s", mk_errmsg(ctx));
    if (!(outs = calloc(n + 1, sizeof(*outs)))) {
        cli_error("out of memory");
        exit(CLI_EXIT_FAIL);
    }
    if (b->output) {
        outs[count++] = (struct output){b->output, want ? want : mk_format_from_path(b->output)};
    } else {
        for (size_t i = 0; i < n; i++) {
            enum mk_format fmt;
            const char *path = mk_spec_output(spec, i, &fmt);
            if (!want || fmt == want)
                outs[count++] = (struct output){path, fmt};
        }
    }
    if (!count) {
        free(outs);
        if (want)
            return cli_usage_error("build", "%s lists no %s output (give -o FILE)",
                                   mk_spec_path(spec), mk_format_name(want));
        return cli_usage_error("build", "%s lists no output (add output: to it, or give -o FILE)",
                               mk_spec_path(spec));
    }
    *ret = outs;
    *ret_n = count;
    return CLI_EXIT_OK;
}

static void report(struct mk_ctx *ctx, const struct cli_spec_build *b, const struct mk_spec *spec,
                   struct mk_disk *disk, const struct output *outs, size_t n)
{
    uint64_t data = 0;

    mk_disk_data_bytes(ctx, disk, &data);
    if (b->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:s, s:s}", "output", outs[i].path, "format",
                                                  mk_format_name(outs[i].fmt)));
        json_t *res =
            json_pack("{s:s, s:o, s:I, s:I}", "spec", mk_spec_path(spec), "outputs", list,
                      "disk_size", (json_int_t)mk_disk_size(disk), "data_bytes", (json_int_t)data);
        cli_json_result(res, "ok");
        return;
    }
    if (b->quiet)
        return;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s: wrote %s%s (%s, %" PRIu64 " MiB disk holding %" PRIu64
                " KiB of data)\n", cli_progname, outs[i].path,
                cli_is_block_device(outs[i].path) ? " in place (block device; synced)" : "",
                mk_format_name(outs[i].fmt), mk_disk_size(disk) >> 20, (data + 1023) >> 10);
}

int cli_build_spec(struct cli_build_args *a, const struct cli_spec_build *b)
{
    struct mk_ctx *ctx = cli_ctx_new(b->verbose);
    struct mk_pack_opts pack;
    struct mk_spec *spec = NULL;
    struct mk_disk *disk = NULL;
    struct output *outs = NULL;
    const char *path = cli_spec_choose("build", b->spec_path);
    size_t n = 0;
    int rc = CLI_EXIT_USAGE;

    if (!path)
        goto out;
    rc = CLI_EXIT_FAIL;
    if (cli_spec_overlay(ctx, path, a, b->kernel, b->kargs_given, &spec) < 0) {
        rc = cli_ctx_error(ctx);
        goto out;
    }
    if ((rc = cli_spec_check_outside(spec, b->allow_outside, b->quiet)) != CLI_EXIT_OK)
        goto out;
    rc = CLI_EXIT_FAIL;
    if (b->print_config) {
        rc = cli_print_config(ctx, &a->opts);
        goto out;
    }
    if ((rc = choose_outputs(ctx, spec, b, &outs, &n)) != CLI_EXIT_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = cli_refuse_device(outs[i].path, b->device, "output",
                                    "write the disk onto it, in place")) != CLI_EXIT_OK)
            goto out;
        if (b->device)
            cli_allow_device(outs[i].path);
    }
    cli_ctx_allow_devices(ctx);
    pack = *mk_spec_pack_opts(spec);
    if (b->pack.jobs)
        pack.jobs = b->pack.jobs;
    if (b->pack.level)
        pack.level = b->pack.level;
    if (b->pack.round_up)
        pack.round_up = 1;
    cli_cancel_on_signals(ctx);
    rc = CLI_EXIT_FAIL;
    if (mk_build(ctx, &a->opts, &disk) < 0) {
        rc = cli_ctx_error(ctx);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (mk_disk_write_file(ctx, disk, outs[i].fmt, &pack, outs[i].path) < 0) {
            rc = cli_ctx_error(ctx);
            goto out;
        }
    report(ctx, b, spec, disk, outs, n);
    rc = CLI_EXIT_OK;
out:
    free(outs);
    mk_disk_free(disk);
    mk_spec_free(spec);
    mk_ctx_free(ctx);
    return rc;
}
