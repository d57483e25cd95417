/* cmd_pack.c: `unikernel-mkimage pack`: convert an existing image to raw, GCE disk.tar.gz
 * or qcow2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cmd_pack_usage[] =
    "usage: unikernel-mkimage pack IMAGE -o OUTPUT [OPTIONS]\n"
    "\n"
    "Converts IMAGE (raw, qcow2 or GCE disk.tar.gz, told by its contents) to OUTPUT.\n"
    "Only data is read and written: holes in a raw image (found with SEEK_DATA and\n"
    "SEEK_HOLE) stay holes. OUTPUT is written under a temporary name in its folder and\n"
    "renamed when complete, so a failed run leaves nothing behind.\n"
    "\n"
    "  -o, --output FILE       the image to write (required)\n"
    "      --device            IMAGE or OUTPUT may be a block device: IMAGE is read in\n"
    "                          place; the raw disk is written onto OUTPUT in place and\n"
    "                          synced, its holes as zeros (refused while it is mounted or\n"
    "                          in use, or smaller than the disk; never resized)\n"
    "  -f, --format FORMAT     raw, gce or qcow2; by default from OUTPUT's name:\n"
    "                          .tar.gz or .tgz is gce, .qcow2 is qcow2, anything else raw\n"
    "  -j, --jobs N            gce: compression threads (default: all online CPUs); the\n"
    "                          archive is byte-identical whatever N is\n"
    "  -l, --level N           gce: gzip level 1 (fastest) to 9 (smallest), default 6\n"
    "      --round-up          gce: pad the disk to the next whole GiB, as GCE requires,\n"
    "                          instead of failing\n"
    "      --sha256            hash a raw output too (gce and qcow2 always are)\n"
    "      --json              print the result as JSON on stdout (also on failure)\n"
    "  -q, --quiet             print nothing on success, no progress\n"
    "  -v, --verbose           say more\n"
    "\n"
    "Formats:\n"
    "  gce    disk.tar.gz for Google Compute Engine: one sparse disk.raw in a GNU oldgnu\n"
    "         tar, gzipped; SOURCE_DATE_EPOCH sets its timestamp (default 0)\n"
    "  qcow2  qcow2 version 3 holding only the clusters with data\n"
    "  raw    a sparse raw disk image\n"
    "\n"
    "What was written goes to stderr, e.g.\n"
    "  unikernel-mkimage: wrote disk.tar.gz (gce, 1024 MiB disk holding 284 KiB of data;\n"
    "  file 147 KiB, sha256 8a1a...)\n"
    "Exit status: 0 written, 1 failed (nothing written), 2 command-line error.\n"
    "\n"
    "Example:\n"
    "  unikernel-mkimage pack disk.raw -o disk.tar.gz --jobs 4\n";

static int parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *ret = (int)v;
    return 0;
}

int cmd_pack(int argc, char **argv)
{
    enum { OPT_ROUND_UP = 256, OPT_SHA256, OPT_DEVICE };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"jobs", required_argument, NULL, 'j'},
        {"level", required_argument, NULL, 'l'},
        {"round-up", no_argument, NULL, OPT_ROUND_UP},
        {"sha256", no_argument, NULL, OPT_SHA256},
        {"device", no_argument, NULL, OPT_DEVICE},
        CLI_OUT_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct mk_pack_opts opts = {0};
    const char *output = NULL, *format = NULL;
    enum mk_format fmt;
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx;
    bool hash_raw = false, device = false;
    int c, r;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:f:j:l:qv", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'j':
            if (parse_int(optarg, 0, 1024, &opts.jobs) < 0)
                return cli_usage_error("pack", "bad --jobs '%s': expected a number of "
                                       "threads (0 = all CPUs)", optarg);
            break;
        case 'l':
            if (parse_int(optarg, 1, 9, &opts.level) < 0)
                return cli_usage_error("pack", "bad --level '%s': expected 1 to 9", optarg);
            break;
        case OPT_ROUND_UP:
            opts.round_up = 1;
            break;
        case OPT_SHA256:
            hash_raw = true;
            break;
        case OPT_DEVICE:
            device = true;
            break;
        case ':':
            return cli_usage_error("pack", "%s needs a value", argv[optind - 1]);
        default:
            if (cli_out_getopt(c))
                break;
            return cli_unknown_option("pack", argv[optind - 1], longopts);
        }
    }
    if (optind >= argc)
        return cli_usage_error("pack", "no input image given");
    if (argc - optind > 1)
        return cli_usage_error("pack", "unexpected argument '%s'", argv[optind + 1]);
    if (!output)
        return cli_usage_error("pack", "no output given (-o FILE)");

    if ((r = cli_refuse_device(argv[optind], device, "IMAGE", "read it in place")) ||
        (r = cli_refuse_device(output, device, "output", "write the disk onto it, in place")))
        return r;
    if (device) {
        cli_allow_device(argv[optind]);
        cli_allow_device(output);
    }
    ctx = cli_ctx_new(cli_out.verbose);
    if (format) {
        if (mk_format_from_name(ctx, format, &fmt) < 0) {
            r = cli_usage_error("pack", "%s", mk_errmsg(ctx));
            mk_ctx_free(ctx);
            return r;
        }
    } else {
        fmt = mk_format_from_path(output);
    }
    cli_cancel_on_signals(ctx);
    cli_progress_attach(ctx);
    cli_out.interrupt_hint = "nothing was written";
    /* Any image, ours or not, through our own readers (disk_open.c: why not isolated). */
    r = mk_disk_open(ctx, argv[optind], &disk);
    if (r == MK_OK)
        r = mk_disk_write_file(ctx, disk, fmt, &opts, output);
    r = r < 0 ? cli_ctx_error(ctx) : cli_report_written(ctx, disk, fmt, &opts, output, hash_raw);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    return r;
}
