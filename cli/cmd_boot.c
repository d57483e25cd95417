/* cmd_boot.c: `unikernel-mkimage boot`: boot an image in QEMU on the machine asked for and
 * judge it by its serial output, Solo5's last words or its exit code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot_cli.h"

const char cmd_boot_usage[] =
    "usage: unikernel-mkimage boot IMAGE [OPTIONS]\n"
    "\n"
    "Boots IMAGE (raw, qcow2 or GCE disk.tar.gz, told by its contents) in\n"
    "qemu-system-x86_64 as a BIOS PC and passes its serial console (COM1) through to\n"
    "stdout as it arrives. The image is never modified (QEMU writes to a snapshot); a\n"
    "disk.tar.gz is unpacked to a sparse temporary file first. An isa-debug-exit device\n"
    "sits at port 0xf4: a guest that writes V there ends QEMU with status (V << 1) | 1,\n"
    "and the guest's code V is reported. QEMU is always stopped when this command ends,\n"
    "also on Ctrl-C or SIGTERM.\n"
    "\n"
    "The machine:\n"
    "  --machine pc|q35|gce|openstack[:PRESET]\n"
    "                          pc (the default): i440FX, boot disk on IDE, no NIC.\n"
    "                          q35: ICH9, boot disk on AHCI. gce: GCE's device model as\n"
    "                          far as QEMU gives it: q35, virtio-scsi boot disk, one\n"
    "                          virtio-net NIC (user networking unless --net says), no VGA.\n"
    "                          openstack: the OpenStack uploader's preset (solo5 unless\n"
    "                          :hermit): its hw_disk_bus, hw_scsi_model and hw_vif_model\n"
    "  --disk-bus BUS          the boot disk's bus: ide, virtio-blk or virtio-scsi\n"
    "  --device                IMAGE may be a block device (a USB stick, an LVM volume),\n"
    "                          read in place; QEMU writes to a snapshot, never to it\n"
    "  --disk FILE[:BUS]       a data disk (raw or qcow2; BUS virtio-blk by default), after\n"
    "                          the boot disk; repeat for more. Its writes are kept\n"
    "  --net user[,OPTS]       a NIC on QEMU user networking, e.g.\n"
    "                          user,hostfwd=tcp:127.0.0.1:8080-:80; repeat for more NICs\n"
    "  --net tap:IFNAME        a NIC on a tap interface you made\n"
    "  --net socket:OPTS       a NIC on a QEMU socket network (udp=...,localaddr=...)\n"
    "  --nic-mtu N             the MTU of every virtio-net NIC (host_mtu), 68 to 65535\n"
    "  --cpu MODEL             QEMU's -cpu (e.g. qemu64, Haswell)\n"
    "  --smp N                 virtual CPUs\n"
    "  --mem MiB               guest memory (default 128)\n"
    "  --qemu-arg ARG          one more argument for QEMU, as it is; repeat for more\n"
    "\n"
    "The verdict:\n"
    "  --expect TEXT           succeed as soon as TEXT appears on the serial console (it\n"
    "                          may span lines); several must all appear; QEMU is stopped\n"
    "  --fail TEXT             fail at once when TEXT appears; repeat for more\n"
    "  --timeout SECONDS       give up after this long (default 60)\n"
    "  --accel auto|kvm|tcg    auto (the default) uses KVM only when /dev/kvm is\n"
    "                          hardware virtualization (vmx or svm) and not kvm_pvm, under\n"
    "                          which BIOS and GRUB code crawl; otherwise TCG\n"
    "  --log FILE              write the serial output to FILE instead of stdout\n"
    "  --json                  print the verdict as JSON on stdout (the serial output goes\n"
    "                          only to --log, and its end into the JSON)\n"
    "  --raw                   pass the guest's bytes to a terminal unchanged; by default\n"
    "                          a terminal gets printable text only, so that the guest's\n"
    "                          control sequences cannot clear or reprogram it (files and\n"
    "                          pipes always get the bytes unchanged)\n"
    "  -q, --quiet             no accel line, no result line\n"
    "  -v, --verbose           say more\n"
    "\n"
    "Before booting, the image's kernel is read: a Solo5 unikernel (one with a Solo5\n"
    "manifest, or built with the solo5 template) is judged by Solo5's last lines\n"
    "(\"solo5_exit(N) called\", \"solo5_abort() called\", \"ABORT\"), and its manifest's\n"
    "devices are compared with the machine: a warning says when Solo5 will abort on it.\n"
    "GRUB's error screens (\"file not found\", \"no multiboot header found\", its prompt)\n"
    "end the boot at once, with GRUB's message. What was chosen and how the boot ended go\n"
    "to stderr, e.g.\n"
    "  unikernel-mkimage: guest exited with code 49 (QEMU status 99) after 0.6 s (tcg)\n"
    "\n"
    "Exit status: 0 when every --expect text appeared; without --expect, 0 when the guest\n"
    "ended by itself before the timeout (through isa-debug-exit with any code, or QEMU\n"
    "exiting 0 on power-off or a triple fault), and for a Solo5 unikernel only when it\n"
    "called solo5_exit(0). 1 on a --fail text, a GRUB error, a Solo5 exit code other than\n"
    "0 or an abort, a guest that ended without the expected text, the timeout or QEMU\n"
    "failing; 130 on Ctrl-C; 2 for a command-line error.\n"
    "\n"
    "GRUB may print \"Can't get controller info\": it is harmless (the VM has no VBE\n"
    "video; the console is serial), and a note says so.\n";

#define MAX_LIST 64

static int parse_accel(const char *s, enum mk_accel *ret)
{
    static const struct {
        const char *name;
        enum mk_accel accel;
    } names[] = {{"auto", MK_ACCEL_AUTO}, {"kvm", MK_ACCEL_KVM}, {"tcg", MK_ACCEL_TCG}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name)) {
            *ret = names[i].accel;
            return 0;
        }
    return -1;
}

int boot_cli_parse_bus(const char *s, enum mk_disk_bus *ret)
{
    static const struct {
        const char *name;
        enum mk_disk_bus bus;
    } names[] = {{"ide", MK_BUS_IDE},
                 {"virtio-blk", MK_BUS_VIRTIO_BLK},
                 {"virtio-scsi", MK_BUS_VIRTIO_SCSI}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i].name)) {
            *ret = names[i].bus;
            return 0;
        }
    return -1;
}

static int parse_seconds(const char *s, double *ret)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e7)
        return -1;
    *ret = v;
    return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *ret)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

/* "FILE[:BUS]": the last colon starts a bus only when what follows is one, so a file name
 * with a colon still works. */
static int parse_disk(const char *arg, struct mk_boot_disk *ret)
{
    const char *colon = strrchr(arg, ':');
    enum mk_disk_bus bus = MK_BUS_VIRTIO_BLK;

    if (colon && boot_cli_parse_bus(colon + 1, &bus) == 0) {
        char *path = strndup(arg, (size_t)(colon - arg));

        if (!path || !*path) {
            free(path);
            return -1;
        }
        *ret = (struct mk_boot_disk){.path = path, .bus = bus};
        return 0;
    }
    if (colon && colon[1] && !strchr(colon + 1, '/') && !strchr(colon + 1, '.'))
        return -1; /* "disk.raw:floppy": a bus we do not know, not part of a name */
    char *path = strdup(arg);
    if (!path || !*path) {
        free(path);
        return -1;
    }
    *ret = (struct mk_boot_disk){.path = path, .bus = bus};
    return 0;
}

/* "user[,OPTS]", "tap:IFNAME", "socket:OPTS" into QEMU's -netdev options. */
static char *parse_net(const char *arg)
{
    char *out = NULL;

    if (!strcmp(arg, "user") || !strncmp(arg, "user,", 5)) {
        if (strstr(arg, ",id=") || strstr(arg, ",model="))
            return NULL;
        return strdup(arg);
    }
    if (!strncmp(arg, "tap:", 4)) {
        const char *name = arg + 4;

        /* An interface name: no commas (they would add QEMU options), at most 15 bytes. */
        if (!*name || strlen(name) > 15 || strpbrk(name, ", /="))
            return NULL;
        if (asprintf(&out, "tap,ifname=%s,script=no,downscript=no", name) < 0)
            return NULL;
        return out;
    }
    if (!strncmp(arg, "socket:", 7) && arg[7] && !strstr(arg, ",id=") &&
        strncmp(arg + 7, "id=", 3)) {
        if (asprintf(&out, "socket,%s", arg + 7) < 0)
            return NULL;
        return out;
    }
    return NULL;
}

static int add_to(const char **list, size_t *n, const char *item, const char *what)
{
    if (*n >= MAX_LIST)
        return cli_usage_error("boot", "at most %d %s", MAX_LIST, what);
    list[(*n)++] = item;
    return 0;
}

int cmd_boot(int argc, char **argv)
{
    enum {
        OPT_EXPECT = 256, OPT_TIMEOUT, OPT_ACCEL, OPT_BUS, OPT_MEM, OPT_LOG, OPT_MACHINE,
        OPT_NET, OPT_MTU, OPT_DISK, OPT_CPU, OPT_SMP, OPT_QEMU_ARG, OPT_FAIL, OPT_JSON, OPT_RAW,
        OPT_DEVICE,
    };
    static const struct option longopts[] = {
        {"expect", required_argument, NULL, OPT_EXPECT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"accel", required_argument, NULL, OPT_ACCEL},
        {"disk-bus", required_argument, NULL, OPT_BUS},
        {"mem", required_argument, NULL, OPT_MEM},
        {"log", required_argument, NULL, OPT_LOG},
        {"machine", required_argument, NULL, OPT_MACHINE},
        {"net", required_argument, NULL, OPT_NET},
        {"nic-mtu", required_argument, NULL, OPT_MTU},
        {"disk", required_argument, NULL, OPT_DISK},
        {"cpu", required_argument, NULL, OPT_CPU},
        {"smp", required_argument, NULL, OPT_SMP},
        {"qemu-arg", required_argument, NULL, OPT_QEMU_ARG},
        {"fail", required_argument, NULL, OPT_FAIL},
        {"json", no_argument, NULL, OPT_JSON},
        {"raw", no_argument, NULL, OPT_RAW},
        {"device", no_argument, NULL, OPT_DEVICE},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct boot_cli b = {.opts = {.timeout = 60, .mem_mib = 128}};
    const char *expects[MAX_LIST], *fails[MAX_LIST], *qemu_args[MAX_LIST], *machine = NULL;
    struct mk_boot_disk disks[MAX_LIST] = {{0}};
    struct mk_boot_net nets[MAX_LIST] = {{0}}; /* the gce machine fills one field */
    size_t n_expects = 0, n_fails = 0, n_qemu_args = 0, n_disks = 0, n_nets = 0;
    bool bus_given = false;
    int c, r = CLI_EXIT_USAGE;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":qv", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_EXPECT:
        case OPT_FAIL:
            if (!*optarg) {
                r = cli_usage_error("boot", "%s needs a non-empty text",
                                    c == OPT_EXPECT ? "--expect" : "--fail");
                goto out;
            }
            if ((c == OPT_EXPECT ? add_to(expects, &n_expects, optarg, "--expect texts")
                                 : add_to(fails, &n_fails, optarg, "--fail texts")) != 0)
                goto out;
            break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &b.opts.timeout) < 0) {
                r = cli_usage_error("boot", "bad --timeout '%s': expected a positive number "
                                    "of seconds", optarg);
                goto out;
            }
            break;
        case OPT_ACCEL:
            if (parse_accel(optarg, &b.opts.accel) < 0) {
                r = cli_usage_error("boot", "bad --accel '%s': expected auto, kvm or tcg",
                                    optarg);
                goto out;
            }
            break;
        case OPT_BUS:
            if (boot_cli_parse_bus(optarg, &b.opts.bus) < 0) {
                r = cli_usage_error("boot", "bad --disk-bus '%s': expected ide, virtio-blk or "
                                    "virtio-scsi", optarg);
                goto out;
            }
            bus_given = true;
            break;
        case OPT_MEM:
            if (parse_uint(optarg, 8, 1048576, &b.opts.mem_mib) < 0) {
                r = cli_usage_error("boot", "bad --mem '%s': expected MiB from 8 to 1048576",
                                    optarg);
                goto out;
            }
            break;
        case OPT_LOG:
            b.log_path = optarg;
            break;
        case OPT_MACHINE:
            machine = optarg;
            break;
        case OPT_NET: {
            char *backend = parse_net(optarg);

            if (!backend) {
                r = cli_usage_error("boot", "bad --net '%s': expected user[,OPTIONS], "
                                    "tap:IFNAME or socket:OPTIONS", optarg);
                goto out;
            }
            if (n_nets >= MAX_LIST) {
                free(backend);
                r = cli_usage_error("boot", "at most %d --net", MAX_LIST);
                goto out;
            }
            nets[n_nets++] = (struct mk_boot_net){.backend = backend};
            break;
        }
        case OPT_MTU:
            if (parse_uint(optarg, 68, 65535, &b.opts.nic_mtu) < 0) {
                r = cli_usage_error("boot", "bad --nic-mtu '%s': expected 68 to 65535", optarg);
                goto out;
            }
            break;
        case OPT_DISK:
            if (n_disks >= MAX_LIST) {
                r = cli_usage_error("boot", "at most %d --disk", MAX_LIST);
                goto out;
            }
            if (parse_disk(optarg, &disks[n_disks]) < 0) {
                r = cli_usage_error("boot", "bad --disk '%s': expected FILE[:virtio-blk|"
                                    "virtio-scsi|ide]", optarg);
                goto out;
            }
            n_disks++;
            break;
        case OPT_CPU:
            if (!*optarg || optarg[0] == '-') {
                r = cli_usage_error("boot", "bad --cpu '%s': expected a QEMU CPU model", optarg);
                goto out;
            }
            b.opts.cpu = optarg;
            break;
        case OPT_SMP:
            if (parse_uint(optarg, 1, 288, &b.opts.smp) < 0) {
                r = cli_usage_error("boot", "bad --smp '%s': expected 1 to 288", optarg);
                goto out;
            }
            break;
        case OPT_QEMU_ARG:
            if (add_to(qemu_args, &n_qemu_args, optarg, "--qemu-arg") != 0)
                goto out;
            break;
        case OPT_JSON:
            b.json = cli_out.json = true;
            break;
        case OPT_RAW:
            b.raw = true;
            break;
        case OPT_DEVICE:
            b.device = true;
            break;
        case ':':
            r = cli_usage_error("boot", "%s needs a value", argv[optind - 1]);
            goto out;
        default:
            if (cli_out_getopt(c))
                break;
            r = cli_unknown_option("boot", argv[optind - 1], longopts);
            goto out;
        }
    }
    if (optind >= argc) {
        r = cli_usage_error("boot", "no image given");
        goto out;
    }
    if (argc - optind > 1) {
        r = cli_usage_error("boot", "unexpected argument '%s'", argv[optind + 1]);
        goto out;
    }
    b.opts.image = argv[optind];
    if (b.device)
        cli_allow_device(b.opts.image);
    if (machine && (r = boot_cli_machine(&b.opts, machine, bus_given, nets, &n_nets)) != 0)
        goto out;
    b.opts.expect = n_expects ? expects[0] : NULL;
    b.opts.expects = n_expects > 1 ? expects + 1 : NULL;
    b.opts.n_expects = n_expects > 1 ? n_expects - 1 : 0;
    b.opts.fails = fails;
    b.opts.n_fails = n_fails;
    b.opts.qemu_args = qemu_args;
    b.opts.n_qemu_args = n_qemu_args;
    b.opts.disks = disks;
    b.opts.n_disks = n_disks;
    b.opts.nets = nets;
    b.opts.n_nets = n_nets;
    b.expects = expects;
    b.n_expects = n_expects;
    r = boot_cli_run(&b);
out:
    for (size_t i = 0; i < n_disks; i++)
        free((char *)disks[i].path);
    for (size_t i = 0; i < n_nets; i++)
        free((char *)nets[i].backend);
    return r;
}
