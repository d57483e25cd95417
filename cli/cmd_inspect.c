/* cmd_inspect.c: `unikernel-mkimage inspect`: describe and check a disk image. */
#include <inttypes.h>
#include <jansson.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cmd_inspect_usage[] =
    "usage: unikernel-mkimage inspect IMAGE [--json] [--deep] [--no-files] [--ignore-checksums]\n"
    "                                 [--device] [-q] [-v]\n"
    "\n"
    "Describes and checks a disk image, built by this tool or not: raw, qcow2 or a GCE\n"
    "disk.tar.gz. Shows the partition table, the filesystem and its files, grub.cfg,\n"
    "whether GRUB's boot code and core.img are present and consistent, and whether the\n"
    "kernel named in grub.cfg is a valid multiboot kernel. For a disk.tar.gz it also checks\n"
    "GCE's rules (gzip, a single disk.raw member, tar format, a whole number of GiB, MBR\n"
    "signature, a bootable partition, boot code) without unpacking to disk.\n"
    "\n"
    "Options:\n"
    "  --json       print the report as JSON (with \"status\": \"ok\" or \"failed\" when\n"
    "               there are problems; also on errors)\n"
    "  -q, --quiet  print nothing; the exit status tells\n"
    "  -v, --verbose  say more\n"
    "  --deep       add a second opinion through libguestfs (slow; boots a small VM)\n"
    "  --files      list every file (the default)\n"
    "  --no-files   leave out the file list\n"
    "  --device     IMAGE may be a block device (a USB stick written with dd, an LVM\n"
    "               volume), read in place\n"
    "  --ignore-checksums\n"
    "               read a filesystem whose metadata checksums are wrong (by default such\n"
    "               a filesystem is reported as a problem and not read further)\n"
    "\n"
    "Exit status: 0 when no problem is found, 1 when problems are found (the report is\n"
    "still printed) or the image cannot be opened, 2 for a command-line error.\n";

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    char k[64];

    snprintf(k, sizeof(k), "%s:", key);
    printf("%-20s", k);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static const char *human(uint64_t v, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = (double)v;
    size_t u = 0;

    while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%" PRIu64 " B", v);
    else
        snprintf(buf, size, "%.1f %s", d, units[u]);
    return buf;
}

static uint64_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
                                                          : 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int flag(json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

static void print_image(json_t *root)
{
    json_t *img = json_object_get(root, "image"), *parts, *p;
    char h[32];
    size_t i;

    kv("image", "%s", str(img, "path"));
    kv("format", "%s", str(img, "format"));
    if (json_object_get(img, "size"))
        kv("size", "%" PRIu64 " bytes (%s)", num(img, "size"), human(num(img, "size"), h,
                                                                       sizeof(h)));
    if (json_object_get(img, "data_bytes"))
        kv("data", "%" PRIu64 " bytes", num(img, "data_bytes"));
    if (json_object_get(root, "disk_signature"))
        kv("disk signature", "%s", str(root, "disk_signature"));
    parts = json_object_get(root, "partitions");
    json_array_foreach(parts, i, p) {
        char key[32];
        snprintf(key, sizeof(key), "partition %" PRIu64, num(p, "index"));
        kv(key, "%stype %s, start %" PRIu64 ", %" PRIu64 " sectors (%s)",
           flag(p, "bootable") ? "bootable, " : "", str(p, "type"), num(p, "start_lba"),
           num(p, "sectors"), human(num(p, "size"), h, sizeof(h)));
    }
}

static void print_fs(json_t *root)
{
    json_t *fs = json_object_get(root, "filesystem");
    char h[32], where[32] = "the whole disk";

    if (!fs)
        return;
    if (num(fs, "partition"))
        snprintf(where, sizeof(where), "partition %" PRIu64, num(fs, "partition"));
    kv("filesystem", "%s in %s", str(fs, "type"), where);
    kv("  uuid", "%s", str(fs, "uuid"));
    if (*str(fs, "label"))
        kv("  label", "%s", str(fs, "label"));
    kv("  block size", "%" PRIu64, num(fs, "block_size"));
    kv("  blocks", "%" PRIu64 " (%" PRIu64 " free)", num(fs, "blocks"), num(fs, "free_blocks"));
    kv("  used", "%" PRIu64 " bytes (%s)", num(fs, "used_bytes"),
       human(num(fs, "used_bytes"), h, sizeof(h)));
    kv("  inodes", "%" PRIu64 " (%" PRIu64 " free)", num(fs, "inodes"), num(fs, "free_inodes"));
}

/* "solo5 manifest  NET_BASIC 'service', BLOCK_BASIC 'storage'" and what GCE makes of it. */
static void print_solo5(json_t *mft)
{
    json_t *devices = json_object_get(mft, "devices"), *d;
    char line[1024] = "";
    size_t i, used = 0;

    if (!mft)
        return;
    json_array_foreach(devices, i, d) {
        int n = snprintf(line + used, sizeof(line) - used, "%s%s '%s'", i ? ", " : "",
                         str(d, "type"), str(d, "name"));
        if (n < 0 || (size_t)n >= sizeof(line) - used)
            break;
        used += (size_t)n;
    }
    kv("solo5 manifest", "%s", json_array_size(devices) ? line : "no devices");
    if (json_is_string(json_object_get(mft, "gce")))
        kv("  on GCE", "%s", str(mft, "gce"));
}

static void print_boot(json_t *root)
{
    json_t *boot = json_object_get(root, "boot"), *k = json_object_get(root, "kernel"), *m;
    json_t *bl = json_array_get(json_object_get(boot, "blocklists"), 0);
    size_t i;

    if (boot && !flag(boot, "boot_code"))
        kv("boot code", "none");
    else if (boot && !flag(boot, "core_found"))
        kv("boot code", "GRUB boot.img, core.img expected at LBA %" PRIu64 " but not found",
           num(boot, "core_lba"));
    else if (boot)
        kv("boot code", "GRUB boot.img, core.img at LBA %" PRIu64 ", %" PRIu64 " sectors",
           num(boot, "core_lba"), num(boot, "core_sectors"));
    if (bl)
        kv("  blocklist", "LBA %" PRIu64 ", %" PRIu64 " sectors, segment 0x%" PRIx64
           " (%" PRIu64 " list%s)", num(bl, "start"), num(bl, "sectors"), num(bl, "segment"),
           num(boot, "n_blocklists"), num(boot, "n_blocklists") == 1 ? "" : "s");
    if (k && !json_object_get(k, "multiboot"))
        kv("kernel", "%s (%s, not readable)", str(k, "path"), str(k, "command"));
    else if (k && !num(k, "multiboot"))
        kv("kernel", "%s (%s, no multiboot header)", str(k, "path"), str(k, "command"));
    else if (k)
        kv("kernel", "%s (%s, header v%" PRIu64 ", %s)", str(k, "path"), str(k, "command"),
           num(k, "multiboot"), flag(k, "valid") ? "valid" : "not valid");
    print_solo5(json_object_get(k, "solo5_manifest"));
    json_array_foreach(json_object_get(k, "modules"), i, m) {
        if (flag(m, "found"))
            kv("module", "%s (%" PRIu64 " bytes)", str(m, "path"), num(m, "size"));
        else
            kv("module", "%s (not found)", str(m, "path"));
    }
    if (json_object_get(root, "gce_ok"))
        kv("GCE", "%s", flag(root, "gce_ok") ? "acceptable" : "not acceptable");
}

static void print_deep(json_t *root)
{
    json_t *deep = json_object_get(root, "deep"), *v;
    const char *key;

    if (!deep)
        return;
    printf("deep (libguestfs):\n");
    json_object_foreach(deep, key, v) {
        char k[40];
        snprintf(k, sizeof(k), "  %s", key);
        if (json_is_string(v)) {
            kv(k, "%s", json_string_value(v));
        } else if (json_is_array(v) && json_array_size(v) && json_is_string(json_array_get(v, 0))) {
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s)
                kv(k, "%s", json_string_value(s));
        } else {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            kv(k, "%s", text ? text : "?");
            free(text);
        }
    }
}

static void print_files(json_t *root)
{
    json_t *files = json_object_get(root, "files"), *f;
    size_t i;

    if (!files)
        return;
    printf("files:\n");
    json_array_foreach(files, i, f)
        printf("  %-7s %s %10" PRIu64 "  %s\n", str(f, "type"), str(f, "mode"), num(f, "size"),
               str(f, "path"));
}

static void print_cfg(json_t *root)
{
    const char *cfg = json_string_value(json_object_get(root, "grub_cfg"));

    if (!cfg)
        return;
    printf("grub.cfg (%s):\n", str(root, "grub_cfg_path"));
    while (*cfg) {
        const char *nl = strchr(cfg, '\n');
        int len = nl ? (int)(nl - cfg) : (int)strlen(cfg);
        printf("    %.*s\n", len, cfg);
        cfg += len + (nl ? 1 : 0);
    }
}

static int print_text(const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr), *problems, *p;
    size_t i;

    if (!root)
        return cli_error("cannot read the report: %s", jerr.text);
    print_image(root);
    print_fs(root);
    print_boot(root);
    print_deep(root);
    print_files(root);
    print_cfg(root);
    problems = json_object_get(root, "problems");
    if (!json_array_size(problems))
        kv("problems", "none");
    json_array_foreach(problems, i, p)
        kv("problem", "%s", json_string_value(p));
    json_decref(root);
    return CLI_EXIT_OK;
}

static const struct option inspect_options[] = {
    {"deep", no_argument, NULL, 0}, {"files", no_argument, NULL, 0},
    {"no-files", no_argument, NULL, 0}, {"ignore-checksums", no_argument, NULL, 0},
    {"device", no_argument, NULL, 0},
    CLI_OUT_LONGOPTS, {NULL, 0, NULL, 0},
};

int cmd_inspect(int argc, char **argv)
{
    const char *image = NULL;
    unsigned flags = MK_INSPECT_FILES;
    struct mk_ctx *ctx;
    char *report = NULL;
    int problems = 0, r;
    bool device = false;

    for (int i = 1; i < argc; i++) {
        if (cli_out_arg(argv[i]))
            continue;
        else if (!strcmp(argv[i], "--deep"))
            flags |= MK_INSPECT_DEEP;
        else if (!strcmp(argv[i], "--files"))
            flags |= MK_INSPECT_FILES;
        else if (!strcmp(argv[i], "--no-files"))
            flags &= ~(unsigned)MK_INSPECT_FILES;
        else if (!strcmp(argv[i], "--ignore-checksums"))
            flags |= MK_INSPECT_IGNORE_CHECKSUMS;
        else if (!strcmp(argv[i], "--device"))
            device = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_unknown_option("inspect", argv[i], inspect_options);
        else if (image)
            return cli_usage_error("inspect", "more than one image given ('%s', '%s')", image,
                                   argv[i]);
        else
            image = argv[i];
    }
    if (!image)
        return cli_usage_error("inspect", "no image given");

    if ((r = cli_refuse_device(image, device, "IMAGE", "read it in place")) != CLI_EXIT_OK)
        return r;
    if (device)
        cli_allow_device(image);
    ctx = cli_ctx_new(cli_out.verbose);
    cli_cancel_on_signals(ctx);
    cli_progress_attach(ctx);
    r = mk_inspect_path(ctx, image, flags, &report, &problems);
    if (r < 0) {
        r = cli_ctx_error(ctx);
        mk_ctx_free(ctx);
        return r;
    }
    mk_ctx_free(ctx);
    cli_progress_end();
    if (cli_out.json) {
        cli_json_result(json_loads(report, 0, NULL), problems ? "failed" : "ok");
        r = CLI_EXIT_OK;
    } else if (cli_out.quiet) {
        r = CLI_EXIT_OK;
    } else {
        r = print_text(report);
    }
    free(report);
    if (fflush(stdout) != 0)
        return cli_error("cannot write the report to standard output");
    return r != CLI_EXIT_OK ? r : problems ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
