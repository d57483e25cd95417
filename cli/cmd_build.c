/* cmd_build.c: `unikernel-mkimage build`: a bootable disk image from a unikernel. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "build_args.h"
#include "spec_cli.h"

const char cmd_build_usage[] =
    "usage: unikernel-mkimage build -o OUTPUT [OPTIONS] KERNEL [-- KERNEL_ARGS...]\n"
    "       unikernel-mkimage build [--spec FILE] [OPTIONS] [KERNEL] [-- KERNEL_ARGS...]\n"
    "\n"
    "Builds a bootable disk: an MBR with one active partition at 1 MiB holding an ext2\n"
    "filesystem with the kernel, its modules, extra files and /boot/grub/grub.cfg, and\n"
    "GRUB 2 for BIOS in the gap after the MBR. KERNEL is a multiboot or multiboot2 ELF.\n"
    "Everything after -- is the kernel's command line, passed through exactly.\n"
    "Options may come before or after KERNEL. Nothing needs root.\n"
    "\n"
    "      --spec FILE          build the image a spec describes (templates/SPEC.md), in\n"
    "                           every format it lists; without KERNEL and --spec,\n"
    "                           ./unikernel-mkimage.yaml is used when it exists. Options\n"
    "                           given here override the spec's; -o replaces its outputs,\n"
    "                           -f alone picks the outputs of that format, and --module,\n"
    "                           --file and the words after -- replace its lists\n"
    "      --allow-outside-spec use the spec's paths that leave its folder (absolute,\n"
    "                           climbing out with .. or through a symbolic link; they are\n"
    "                           listed first); without it such a spec is refused, as it\n"
    "                           may not be yours\n"
    "  -o, --output FILE        the image to write (written under a temporary name and\n"
    "                           renamed when complete)\n"
    "      --device             OUTPUT may be a block device (a USB stick, /dev/VG/LV): the\n"
    "                           raw disk is written onto it in place and synced, its holes\n"
    "                           as zeros; refused while it is mounted or in use, or when\n"
    "                           it is smaller than the disk; never resized or replaced\n"
    "  -f, --format FORMAT      raw, gce (disk.tar.gz) or qcow2 (default: from the output's\n"
    "                           extension: .tar.gz/.tgz gce, .qcow2 qcow2, else raw)\n"
    CLI_BUILD_HELP
    "  -j, --jobs N             compression threads (default: all cores)\n"
    "  -l, --level N            gzip level 1-9 (default 6)\n"
    "      --round-up           gce: round the disk size up to a whole GiB\n"
    "      --print-config       print the grub.cfg that would be written, and stop\n"
    "      --sha256             hash a raw output too (gce and qcow2 always are; a raw\n"
    "                           disk's holes cost about a second per GiB to hash)\n"
    "      --json               print the result as JSON on stdout (also on failure)\n"
    "  -q, --quiet              print nothing on success, no progress\n"
    "  -v, --verbose            say more\n"
    "\n"
    "The result line names the format, the disk's size, the data it holds (the bytes of\n"
    "its allocated blocks: MBR, GRUB, filesystem metadata and files), the file's size and\n"
    "its SHA-256.\n"
    "Timestamps come from SOURCE_DATE_EPOCH (else 0): the same inputs give the same bytes.\n"
    "Exit status: 0 built, 1 failed (nothing written), 2 command-line error.\n"
    "\n"
    "Example:\n"
    "  unikernel-mkimage build -o disk.raw --size 1G hello.virtio -- --ipv4=10.0.0.2/24\n";

enum {
    OPT_ROUND_UP = 0x2000,
    OPT_PRINT_CONFIG,
    OPT_SPEC,
    OPT_SHA256,
    OPT_ALLOW_OUTSIDE,
    OPT_DEVICE
};

static const struct option long_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, 'f'},
    {"jobs", required_argument, NULL, 'j'},
    {"level", required_argument, NULL, 'l'},
    {"round-up", no_argument, NULL, OPT_ROUND_UP},
    {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
    {"sha256", no_argument, NULL, OPT_SHA256},
    CLI_OUT_LONGOPTS,
    {"spec", required_argument, NULL, OPT_SPEC},
    {"allow-outside-spec", no_argument, NULL, OPT_ALLOW_OUTSIDE},
    {"device", no_argument, NULL, OPT_DEVICE},
    CLI_BUILD_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static int parse_int(const char *opt, const char *arg, int lo, int hi, int *ret)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < lo || v > hi)
        return cli_usage_error("build", "%s: expected a number from %d to %d, got '%s'", opt, lo,
                               hi, arg);
    *ret = (int)v;
    return 0;
}

int cmd_build(int argc, char **argv)
{
    struct cli_build_args a;
    struct mk_pack_opts pack = {0};
    const char *output = NULL, *format_name = NULL, *spec_path = NULL;
    bool print_config = false, hash_raw = false, allow_outside = false, device = false;
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx = NULL;
    enum mk_format fmt;
    char **kargs;
    int nkargs, opt, rc = CLI_EXIT_USAGE;
    int nopts = cli_split_kernel_args(argc, argv, &kargs, &nkargs);

    cli_build_args_init(&a);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(nopts, argv, ":o:f:j:l:qv" CLI_BUILD_SHORTOPTS, long_options,
                              NULL)) != -1) {
        int handled = cli_build_option(&a, "build", opt, optarg);
        if (handled < 0)
            goto out;
        if (handled)
            continue;
        switch (opt) {
        case 'o':
            output = optarg;
            break;
        case 'f':
            format_name = optarg;
            break;
        case 'j':
            if (parse_int("--jobs", optarg, 1, 1024, &pack.jobs))
                goto out;
            break;
        case 'l':
            if (parse_int("--level", optarg, 1, 9, &pack.level))
                goto out;
            break;
        case OPT_ROUND_UP:
            pack.round_up = 1;
            break;
        case OPT_PRINT_CONFIG:
            print_config = true;
            break;
        case OPT_SHA256:
            hash_raw = true;
            break;
        case OPT_SPEC:
            spec_path = optarg;
            break;
        case OPT_ALLOW_OUTSIDE:
            allow_outside = true;
            break;
        case OPT_DEVICE:
            device = true;
            break;
        default:
            if (cli_out_getopt(opt))
                break;
            rc = opt == ':' ? cli_usage_error("build", "%s needs a value", argv[optind - 1])
                            : cli_unknown_option("build", argv[optind - 1], long_options);
            goto out;
        }
    }
    if (spec_path || (optind >= nopts && cli_spec_default_exists())) {
        struct cli_spec_build sb = {
            .spec_path = spec_path, .kernel = optind < nopts ? argv[optind] : NULL,
            .kargs_given = nopts < argc, .output = output, .format_name = format_name,
            .pack = pack, .quiet = cli_out.quiet, .verbose = cli_out.verbose,
            .json = cli_out.json,
            .print_config = print_config, .allow_outside = allow_outside, .device = device,
        };
        if (optind + 1 < nopts) {
            rc = cli_usage_error("build", "unexpected argument '%s' after the kernel (put the "
                                 "kernel's command line after --)", argv[optind + 1]);
            goto out;
        }
        cli_build_set_kernel(&a, NULL, kargs, nkargs);
        rc = cli_build_spec(&a, &sb);
        goto out;
    }
    if (optind >= nopts) {
        rc = cli_usage_error("build", "no KERNEL given");
        goto out;
    }
    if (optind + 1 < nopts) {
        /* HermitCore users give the loader and the application: the application is a module. */
        if (a.opts.template_name && !strcmp(a.opts.template_name, "hermit"))
            rc = cli_usage_error("build", "unexpected argument '%s' after the kernel: with the "
                                 "hermit template the kernel is the loader and the application "
                                 "a module (--module %s); the kernel's command line goes after --",
                                 argv[optind + 1], argv[optind + 1]);
        else
            rc = cli_usage_error("build", "unexpected argument '%s' after the kernel (put the "
                                 "kernel's command line after --)", argv[optind + 1]);
        goto out;
    }
    cli_build_set_kernel(&a, argv[optind], kargs, nkargs);
    if ((rc = cli_refuse_device(output, device, "output", "write the disk onto it, in place")))
        goto out;
    if (device)
        cli_allow_device(output);
    ctx = cli_ctx_new(cli_out.verbose);
    if (print_config) {
        rc = cli_print_config(ctx, &a.opts);
        goto out;
    }
    if (!output) {
        rc = cli_usage_error("build", "no output given (-o FILE)");
        goto out;
    }
    if (format_name) {
        if (mk_format_from_name(ctx, format_name, &fmt) < 0) {
            rc = cli_usage_error("build", "--format: %s", mk_errmsg(ctx));
            goto out;
        }
    } else {
        fmt = mk_format_from_path(output);
    }
    cli_cancel_on_signals(ctx);
    cli_progress_attach(ctx);
    cli_out.interrupt_hint = "nothing was written";
    rc = CLI_EXIT_FAIL;
    if (mk_build(ctx, &a.opts, &disk) < 0 ||
        mk_disk_write_file(ctx, disk, fmt, &pack, output) < 0) {
        rc = cli_ctx_error(ctx);
        goto out;
    }
    rc = cli_report_written(ctx, disk, fmt, &pack, output, hash_raw);
    if (rc == CLI_EXIT_OK && !cli_out.json && !cli_out.quiet)
        cli_show_solo5_manifest(ctx, a.opts.kernel);
out:
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    cli_build_args_release(&a);
    return rc;
}
