/* cmd_validate.c: `unikernel-mkimage validate`: check an image spec without building. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "spec_cli.h"

/* clang-format off */
const char cmd_validate_usage[] =
    "usage: unikernel-mkimage validate [--spec FILE] [-q] [-v]\n"
    "\n"
    "Checks an image spec (default ./unikernel-mkimage.yaml; see templates/SPEC.md) without\n"
    "building or uploading anything: its keys and their types, ${VAR} expansions, that the\n"
    "kernel is a multiboot kernel and the modules and files exist, that the grub.cfg\n"
    "template renders and the image fits, that the outputs' folders exist, and that each\n"
    "target's type is a built-in uploader that takes its options, or an executable\n"
    "unikernel-mkimage-uploader-TYPE on PATH. Errors give the file, line and column.\n"
    "\n"
    "      --spec FILE          the spec to check (also accepted as the only argument)\n"
    "      --json               print the result as JSON on stdout (also on failure)\n"
    "  -q, --quiet              print nothing when the spec is valid\n"
    "  -v, --verbose            say more\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (or unreadable), 2 command-line error.\n"
    "\n"
    "Example:\n"
    "  KERNEL=_build/hello.virtio unikernel-mkimage validate --spec solo5-gce.yaml\n";
/* clang-format on */

enum { OPT_SPEC = 0x3000 };

static const struct option long_options[] = {
    {"spec", required_argument, NULL, OPT_SPEC},
    CLI_OUT_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static void summary(const struct mk_spec *spec)
{
    const struct mk_build_opts *o = mk_spec_build_opts(spec);
    size_t n = mk_spec_n_outputs(spec);

    printf("%s: valid\n", mk_spec_path(spec));
    printf("  kernel   %s (%zu arguments, %zu modules, %zu files)\n", o->kernel, o->n_kernel_args,
           o->n_modules, o->n_files);
    printf("  outputs ");
    for (size_t i = 0; i < n; i++) {
        enum mk_format fmt;
        const char *path = mk_spec_output(spec, i, &fmt);
        printf("%s %s (%s)", i ? "," : "", path, mk_format_name(fmt));
    }
    printf("%s\n  targets ", n ? "" : " none");
    n = mk_spec_n_targets(spec);
    for (size_t i = 0; i < n; i++)
        printf("%s %s (%s)", i ? "," : "", mk_spec_target_name(spec, i),
               mk_spec_target_type(spec, i));
    printf("%s\n", n ? "" : " none");
}

int cmd_validate(int argc, char **argv)
{
    const char *given = NULL, *path;
    struct mk_spec *spec = NULL;
    struct mk_ctx *ctx;
    int opt, rc;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":qv", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_SPEC:
            given = optarg;
            break;
        case ':':
            return cli_usage_error("validate", "%s needs a value", argv[optind - 1]);
        default:
            if (cli_out_getopt(opt))
                break;
            return cli_unknown_option("validate", argv[optind - 1], long_options);
        }
    }
    if (optind < argc) {
        if (given || optind + 1 < argc)
            return cli_usage_error("validate", "unexpected argument '%s'", argv[optind]);
        given = argv[optind];
    }
    if (!(path = cli_spec_choose("validate", given)))
        return CLI_EXIT_USAGE;
    ctx = cli_ctx_new(cli_out.verbose);
    if (mk_spec_load(ctx, path, &spec) < 0 || mk_spec_validate(ctx, spec) < 0) {
        rc = cli_ctx_error(ctx);
    } else {
        if (cli_out.json)
            cli_json_result(json_pack("{s:s, s:I, s:I}", "spec", mk_spec_path(spec), "outputs",
                                      (json_int_t)mk_spec_n_outputs(spec), "targets",
                                      (json_int_t)mk_spec_n_targets(spec)), "ok");
        else if (!cli_out.quiet)
            summary(spec);
        rc = CLI_EXIT_OK;
    }
    mk_spec_free(spec);
    mk_ctx_free(ctx);
    return rc;
}
