/* solo5_compat.c: run as `solo5-virtio-mkimage`, accept Solo5's script's arguments and build
 * the same kind of image (1 GiB MBR disk, the unikernel's name as the first word of its
 * command line) with GRUB on ext2 instead of SYSLINUX on FAT32, and without Docker. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "build_args.h"

const char solo5_compat_usage[] =
    "usage: solo5-virtio-mkimage [ OPTIONS ] [ -- ] IMAGE UNIKERNEL [ ARGUMENTS ... ]\n"
    "\n"
    "Builds an MBR-partitioned disk IMAGE with a boot loader and UNIKERNEL in it.\n"
    "ARGUMENTS, if specified, will be embedded in the image and passed to the\n"
    "unikernel at boot time.\n"
    "\n"
    "UNIKERNEL must be a unikernel built for the 'virtio' target.\n"
    "\n"
    "Options:\n"
    "    -d: Accepted for compatibility and ignored: no Docker is needed.\n"
    "\n"
    "    -f FORMAT: Output a 'raw' disk image (default) or a 'tar' file suitable\n"
    "        for uploading to Google Compute Engine.\n"
    "\n"
    "This is unikernel-mkimage's drop-in for Solo5's script: it builds a GRUB 2 image on\n"
    "ext2 (not SYSLINUX on FAT32) with the solo5 template. See 'unikernel-mkimage help build'.\n";

int cli_solo5_compat(int argc, char **argv)
{
    struct cli_build_args a;
    struct mk_pack_opts pack = {0};
    enum mk_format fmt = MK_FORMAT_RAW;
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx;
    int opt, rc;

    cli_progname = "solo5-virtio-mkimage";
    /* "+": options only before IMAGE, as the script's getopt(1) call parses them. */
    optind = 1;
    while ((opt = getopt(argc, argv, "+df:h")) != -1) {
        switch (opt) {
        case 'd':
            break;
        case 'f':
            if (!strcmp(optarg, "raw")) {
                fmt = MK_FORMAT_RAW;
            } else if (!strcmp(optarg, "tar")) {
                fmt = MK_FORMAT_GCE;
            } else {
                cli_error("-f: unknown format '%s' (use raw or tar)", optarg);
                return CLI_EXIT_FAIL;
            }
            break;
        case 'h':
            fputs(solo5_compat_usage, stdout);
            return CLI_EXIT_OK;
        default:
            fputs(solo5_compat_usage, stderr);
            return CLI_EXIT_FAIL;
        }
    }
    if (argc - optind < 2) {
        fputs(solo5_compat_usage, stderr);
        return CLI_EXIT_FAIL;
    }
    cli_build_args_init(&a);
    a.opts.template_name = "solo5";
    cli_build_set_kernel(&a, argv[optind + 1], argv + optind + 2, argc - optind - 2);
    ctx = cli_ctx_new(false);
    cli_cancel_on_signals(ctx);
    rc = CLI_EXIT_OK;
    if (mk_build(ctx, &a.opts, &disk) < 0 ||
        mk_disk_write_file(ctx, disk, fmt, &pack, argv[optind]) < 0)
        rc = cli_ctx_error(ctx);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    cli_build_args_release(&a);
    return rc;
}
