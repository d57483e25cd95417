/* boot_run.c: `boot` from its parsed options to a verdict: the machine presets, what the
 * image's kernel is (a Solo5 manifest, the solo5 template), the serial console, and the
 * report in words or as JSON. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "boot_cli.h"

/* With --json the end of the serial output goes into the report. */
#define SERIAL_KEEP 65536u

#define GRUB_VBE_LINE "can't get controller info"

struct serial_out {
    FILE *f;         /* NULL: not printed */
    char last;
    char *tail;      /* --json: the last SERIAL_KEEP bytes */
    size_t tail_len;
    bool printable_only; /* a terminal: the guest's control sequences are dropped */
    enum { TEXT, ESC, CSI, OSC, OSC_ESC } state;
    size_t vbe_match;    /* bytes of GRUB_VBE_LINE matched so far */
    bool saw_vbe;
};

/* Printable text only: escape sequences (CSI, OSC, two-byte ESC x) and other control bytes
 * are dropped, so that a guest cannot clear or reprogram the user's terminal (GRUB clears
 * the screen). The state survives across chunks. */
static void write_printable(struct serial_out *out, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        switch (out->state) {
        case ESC:
            out->state = c == '[' ? CSI : c == ']' ? OSC : TEXT;
            continue;
        case CSI:
            if (c >= 0x40 && c <= 0x7e)
                out->state = TEXT;
            continue;
        case OSC:
            if (c == 0x07)
                out->state = TEXT;
            else if (c == 0x1b)
                out->state = OSC_ESC;
            continue;
        case OSC_ESC:
            out->state = c == '\\' ? TEXT : OSC;
            continue;
        case TEXT:
            break;
        }
        if (c == 0x1b)
            out->state = ESC;
        else if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f))
            fputc(c, out->f);
    }
}

/* GRUB's "Can't get controller info" (no VBE video) looks like a failure and is not. */
static void watch_vbe(struct serial_out *out, const char *buf, size_t len)
{
    for (size_t i = 0; i < len && !out->saw_vbe; i++) {
        char c = (char)tolower((unsigned char)buf[i]);

        out->vbe_match = c == GRUB_VBE_LINE[out->vbe_match] ? out->vbe_match + 1
                         : c == GRUB_VBE_LINE[0]            ? 1
                                                            : 0;
        out->saw_vbe = out->vbe_match == strlen(GRUB_VBE_LINE);
    }
}

struct run_state {
    struct boot_cli *b;
    struct serial_out out;
    json_t *argv;     /* QEMU's command line, for --json */
    char warning[768];
    struct mk_solo5_manifest manifest;
    bool has_manifest;
};

static void on_serial(void *opaque, const char *buf, size_t len)
{
    struct run_state *st = opaque;
    struct serial_out *out = &st->out;

    if (len == 0)
        return;
    watch_vbe(out, buf, len);
    if (out->f && out->printable_only)
        write_printable(out, buf, len);
    else if (out->f)
        fwrite(buf, 1, len, out->f);
    if (out->f)
        fflush(out->f);
    out->last = buf[len - 1];
    if (out->tail) {
        if (len >= SERIAL_KEEP) {
            memcpy(out->tail, buf + len - SERIAL_KEEP, SERIAL_KEEP);
            out->tail_len = SERIAL_KEEP;
            return;
        }
        if (out->tail_len + len > SERIAL_KEEP) {
            size_t drop = out->tail_len + len - SERIAL_KEEP;

            memmove(out->tail, out->tail + drop, out->tail_len - drop);
            out->tail_len -= drop;
        }
        memcpy(out->tail + out->tail_len, buf, len);
        out->tail_len += len;
    }
}

static void on_started(void *opaque, const char *const *argv, const char *warning)
{
    struct run_state *st = opaque;

    snprintf(st->warning, sizeof(st->warning), "%s", warning);
    if (*warning && !st->b->json)
        cli_warn("%s", warning);
    if (st->b->json && (st->argv = json_array()))
        for (; *argv; argv++)
            json_array_append_new(st->argv, json_string(*argv));
}

static const char *nic_model(const char *vif)
{
    static const struct {
        const char *vif, *device;
    } models[] = {{"virtio", "virtio-net-pci"}, {"e1000", "e1000"}, {"e1000e", "e1000e"},
                  {"rtl8139", "rtl8139"},       {"ne2k_pci", "ne2k_pci"}, {"pcnet", "pcnet"}};

    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcmp(vif, models[i].vif))
            return models[i].device;
    return NULL;
}

/* OpenStack: Nova's libvirt driver gives the guest what the image's properties ask for; the
 * machine type is pc unless hw_machine_type says otherwise. */
static int openstack_machine(struct mk_boot_opts *o, const char *preset, bool bus_given,
                             struct mk_boot_net *nets, size_t *n_nets)
{
    const char *disk_bus = mk_openstack_preset_property(preset, "hw_disk_bus");
    const char *scsi = mk_openstack_preset_property(preset, "hw_scsi_model");
    const char *vif = mk_openstack_preset_property(preset, "hw_vif_model");
    const char *type = mk_openstack_preset_property(preset, "hw_machine_type");
    const char *model = vif ? nic_model(vif) : "virtio-net-pci";

    if (!mk_openstack_preset_property(preset, "architecture"))
        return cli_usage_error("boot", "bad --machine 'openstack:%s': the OpenStack presets "
                               "are solo5 and hermit", preset);
    o->machine = type && strstr(type, "q35") ? MK_MACHINE_Q35 : MK_MACHINE_PC;
    if (!bus_given && disk_bus) {
        if (!strcmp(disk_bus, "virtio"))
            o->bus = MK_BUS_VIRTIO_BLK;
        else if (!strcmp(disk_bus, "ide"))
            o->bus = MK_BUS_IDE;
        else if (!strcmp(disk_bus, "scsi") && (!scsi || !strcmp(scsi, "virtio-scsi")))
            o->bus = MK_BUS_VIRTIO_SCSI;
        else
            return cli_usage_error("boot", "the '%s' preset's disk bus %s%s%s has no QEMU "
                                   "equivalent here", preset, disk_bus, scsi ? "/" : "",
                                   scsi ? scsi : "");
    }
    if (!model)
        return cli_usage_error("boot", "the '%s' preset's NIC model '%s' is not one boot "
                               "knows", preset, vif);
    if (*n_nets == 0)
        nets[(*n_nets)++] = (struct mk_boot_net){.backend = strdup("user")};
    for (size_t i = 0; i < *n_nets; i++)
        if (!nets[i].model)
            nets[i].model = model;
    return nets[0].backend ? 0 : cli_error("out of memory");
}

int boot_cli_machine(struct mk_boot_opts *o, const char *name, bool bus_given,
                     struct mk_boot_net *nets, size_t *n_nets)
{
    if (!strcmp(name, "pc")) {
        o->machine = MK_MACHINE_PC;
        return 0;
    }
    if (!strcmp(name, "q35")) {
        o->machine = MK_MACHINE_Q35;
        return 0;
    }
    if (!strcmp(name, "gce")) {
        /* GCE's N1/N2/E2 machines: virtio-scsi boot disk, one virtio-net NIC, no VGA (a
         * serial console is what GCE shows). */
        o->machine = MK_MACHINE_Q35;
        if (!bus_given)
            o->bus = MK_BUS_VIRTIO_SCSI;
        if (*n_nets == 0 && !(nets[(*n_nets)++].backend = strdup("user")))
            return cli_error("out of memory");
        return 0;
    }
    if (!strcmp(name, "openstack"))
        return openstack_machine(o, "solo5", bus_given, nets, n_nets);
    if (!strncmp(name, "openstack:", 10))
        return openstack_machine(o, name + 10, bus_given, nets, n_nets);
    return cli_usage_error("boot", "bad --machine '%s': expected pc, q35, gce or "
                           "openstack[:solo5|hermit]", name);
}

/* Whether (cfg) was made by the solo5 template (or Solo5's own solo5-virtio-mkimage): its
 * first multiboot line passes the kernel's own name as the first word, for Solo5 to drop. */
static bool solo5_template(const char *cfg)
{
    const char *line = cfg;

    while (line && *line) {
        const char *end = strchr(line, '\n'), *p = line;
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char words[2][256];
        int n = 0;

        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        if (!strncmp(p, "multiboot ", 10)) {
            for (p += 10; n < 2 && p < line + len;) {
                size_t w = 0;

                while (p < line + len && (*p == ' ' || *p == '\t'))
                    p++;
                while (p < line + len && *p != ' ' && *p != '\t' && w + 1 < sizeof(words[n]))
                    words[n][w++] = *p++;
                if (w)
                    words[n++][w] = '\0';
            }
            const char *slash = n == 2 ? strrchr(words[0], '/') : NULL;
            return n == 2 && !strcmp(slash ? slash + 1 : words[0], words[1]);
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

/* Reads the image's kernel the way inspect does: a Solo5 manifest, or a grub.cfg made by the
 * solo5 template, makes it a Solo5 unikernel. An image inspect cannot read is booted all the
 * same: QEMU and GRUB will say what is wrong with it. */
static void read_kernel(struct mk_ctx *ctx, struct run_state *st)
{
    char *text = NULL;
    int problems = 0;
    json_t *root;

    if (mk_inspect_path(ctx, st->b->opts.image, 0, &text, &problems) < 0)
        return;
    root = json_loads(text, 0, NULL);
    free(text);
    if (!root)
        return;
    if (solo5_template(json_string_value(json_object_get(root, "grub_cfg"))))
        st->b->opts.solo5 = 1;
    if (cli_solo5_manifest_from_inspect(root, &st->manifest)) {
        st->has_manifest = true;
        st->b->opts.solo5 = 1;
        st->b->opts.manifest = &st->manifest;
    }
    json_decref(root);
}

/* "guest exited with code 49 (QEMU status 99)" or "QEMU exited with status 0". */
static void describe_end(const struct mk_boot_result *res, char *buf, size_t size)
{
    if (res->guest_exited)
        snprintf(buf, size, "guest exited with code %d (QEMU status %d)", res->guest_code,
                 res->qemu_status);
    else if (res->qemu_status >= 0)
        snprintf(buf, size, "QEMU exited with status %d", res->qemu_status);
    else
        snprintf(buf, size, "QEMU was stopped");
}

/* The verdict: its name, the exit status, and one line saying why. */
static int judge(const struct boot_cli *b, const struct mk_boot_result *res, const char **verdict,
                 char *msg, size_t size)
{
    const char *acc = res->accel == MK_ACCEL_KVM ? "kvm" : "tcg";
    const char *first = b->n_expects ? b->expects[0] : NULL;
    char end[128], expected[512] = "";

    describe_end(res, end, sizeof(end));
    for (size_t i = 0, used = 0; i < b->n_expects && used < sizeof(expected); i++) {
        int n = snprintf(expected + used, sizeof(expected) - used, "%s'%s'", i ? ", " : "",
                         b->expects[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    switch (res->end) {
    case MK_BOOT_EXPECTED:
        *verdict = "expected";
        snprintf(msg, size, "found %s after %.1f s (%s)%s%s", expected, res->seconds, acc,
                 res->guest_exited ? "; " : "", res->guest_exited ? end : "");
        return CLI_EXIT_OK;
    case MK_BOOT_FAIL_TEXT:
        *verdict = "fail_text";
        snprintf(msg, size, "found '%s' (--fail) after %.1f s (%s); QEMU was stopped",
                 b->opts.fails[res->fail_index], res->seconds, acc);
        return CLI_EXIT_FAIL;
    case MK_BOOT_GRUB_ERROR:
        *verdict = "grub_error";
        snprintf(msg, size, "GRUB could not boot the image: %s (after %.1f s, %s)", res->reason,
                 res->seconds, acc);
        return CLI_EXIT_FAIL;
    case MK_BOOT_SOLO5_END:
        *verdict = res->solo5_aborted ? "solo5_abort" : "solo5_exit";
        if (res->solo5_aborted)
            snprintf(msg, size, "the Solo5 unikernel aborted (code %d): %s, after %.1f s (%s)%s%s",
                     res->solo5_code, res->reason, res->seconds, acc, first ? ", without " : "",
                     first ? expected : "");
        else
            snprintf(msg, size, "the Solo5 unikernel exited with code %d after %.1f s (%s)%s%s",
                     res->solo5_code, res->seconds, acc, first ? ", without " : "",
                     first ? expected : "");
        return res->solo5_code == 0 && !first ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    case MK_BOOT_TIMED_OUT:
        *verdict = "timeout";
        if (first)
            snprintf(msg, size, "timed out after %.1f s without seeing %s (%s); QEMU was "
                     "stopped", res->seconds, expected, acc);
        else
            snprintf(msg, size, "timed out after %.1f s (%s); QEMU was stopped", res->seconds,
                     acc);
        return CLI_EXIT_FAIL;
    case MK_BOOT_ENDED:
        break;
    }
    *verdict = res->guest_exited ? "guest_exit" : res->powered_off ? "powered_off" : "ended";
    if (first && res->powered_off)
        snprintf(msg, size, "the guest powered off without printing %s: %s after %.1f s (%s)",
                 expected, end, res->seconds, acc);
    else if (first)
        snprintf(msg, size, "the guest ended without printing %s: %s after %.1f s (%s)",
                 expected, end, res->seconds, acc);
    else if (b->opts.solo5)
        snprintf(msg, size, "the Solo5 unikernel ended without saying how (no solo5_exit "
                 "line): %s after %.1f s (%s)", end, res->seconds, acc);
    else
        snprintf(msg, size, "%s after %.1f s (%s)", end, res->seconds, acc);
    return first || b->opts.solo5 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int report_json(struct run_state *st, const struct mk_boot_result *res,
                       const char *verdict, int status, const char *msg)
{
    json_t *o = json_object(), *devices = json_array();

    for (unsigned i = 0; st->has_manifest && devices && i < st->manifest.count; i++)
        json_array_append_new(devices, json_pack("{s:s, s:s}", "name",
                              st->manifest.devices[i].name, "type",
                              mk_solo5_device_type_name(st->manifest.devices[i].type)));
    json_object_set_new(o, "image", json_string(st->b->opts.image));
    json_object_set_new(o, "verdict", json_string(verdict));
    json_object_set_new(o, "exit_status", json_integer(status));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "seconds", json_real(res->seconds));
    json_object_set_new(o, "accel", json_string(res->accel == MK_ACCEL_KVM ? "kvm" : "tcg"));
    json_object_set_new(o, "guest_code", res->guest_exited ? json_integer(res->guest_code)
                                                            : json_null());
    json_object_set_new(o, "qemu_status", res->qemu_status >= 0 ? json_integer(res->qemu_status)
                                                                 : json_null());
    json_object_set_new(o, "solo5", json_boolean(st->b->opts.solo5));
    json_object_set_new(o, "solo5_code", res->solo5_code >= 0 ? json_integer(res->solo5_code)
                                                               : json_null());
    json_object_set_new(o, "solo5_manifest", st->has_manifest ? devices : json_null());
    if (!st->has_manifest)
        json_decref(devices);
    json_object_set_new(o, "warning", st->warning[0] ? json_string(st->warning) : json_null());
    json_object_set_new(o, "qemu_argv", st->argv ? json_incref(st->argv) : json_array());
    /* The console's bytes need not be text: what is not printable ASCII (or a line end or
     * tab) becomes '?', so the report is valid JSON whatever the guest wrote. */
    for (size_t i = 0; st->out.tail && i < st->out.tail_len; i++) {
        unsigned char c = (unsigned char)st->out.tail[i];

        if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x7f)
            st->out.tail[i] = '?';
    }
    json_object_set_new(o, "serial", json_stringn(st->out.tail ? st->out.tail : "",
                                                  st->out.tail_len));
    cli_json_result(o, status == CLI_EXIT_OK ? "ok" : "failed");
    return status;
}

int boot_cli_run(struct boot_cli *b)
{
    struct run_state st = {.b = b, .out = {.f = stdout, .last = '\n'}};
    struct mk_boot_result res;
    struct mk_ctx *ctx;
    const char *verdict;
    char msg[1024];
    struct stat stat_buf;
    int r, fd;

    /* Checked here too so that a wrong name is the only line printed. */
    fd = open(b->opts.image, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    if (fd < 0)
        return cli_error("cannot open image '%s': %s", b->opts.image, strerror(errno));
    if (fstat(fd, &stat_buf) == 0 && !S_ISREG(stat_buf.st_mode) &&
        !(b->device && S_ISBLK(stat_buf.st_mode))) {
        close(fd);
        return S_ISBLK(stat_buf.st_mode)
                   ? cli_refuse_device(b->opts.image, false, "IMAGE", "read it in place")
                   : cli_error("image '%s' is not a regular file", b->opts.image);
    }
    close(fd);
    for (size_t i = 0; i < b->opts.n_disks; i++) {
        fd = open(b->opts.disks[i].path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return cli_error("cannot open disk '%s': %s", b->opts.disks[i].path,
                             strerror(errno));
        close(fd);
    }
    if (b->json) {
        st.out.f = NULL;
        if (!(st.out.tail = malloc(SERIAL_KEEP)))
            return cli_error("out of memory");
    }
    if (b->log_path) {
        st.out.f = fopen(b->log_path, "we");
        if (!st.out.f) {
            free(st.out.tail);
            return cli_error("cannot create log file '%s': %s", b->log_path, strerror(errno));
        }
    }
    st.out.printable_only = st.out.f && !b->raw && !b->log_path && isatty(fileno(st.out.f));
    ctx = cli_ctx_new(cli_out.verbose);
    if (b->opts.accel == MK_ACCEL_AUTO) {
        char reason[128];

        b->opts.accel = mk_accel_choose(reason, sizeof(reason));
        if (!b->json && !cli_out.quiet)
            fprintf(stderr, "%s: accel: %s (%s)\n", cli_progname,
                    b->opts.accel == MK_ACCEL_KVM ? "kvm" : "tcg", reason);
    }
    read_kernel(ctx, &st);
    if (st.has_manifest && !b->json && !cli_out.quiet)
        cli_print_solo5_devices(&st.manifest);
    b->opts.serial = on_serial;
    b->opts.started = on_started;
    b->opts.opaque = &st;
    cli_cancel_on_signals(ctx);
    cli_progress_attach(ctx);
    cli_out.interrupt_hint = "QEMU was stopped";
    r = mk_boot(ctx, &b->opts, &res);
    /* Keeps our own messages off the end of a guest's unfinished line on a terminal. */
    if (!b->log_path && st.out.f && st.out.last != '\n' && isatty(STDOUT_FILENO))
        fputc('\n', stdout);
    fflush(stdout);
    if (b->log_path && fclose(st.out.f) != 0 && r == 0) {
        r = cli_error("cannot write log file '%s': %s", b->log_path, strerror(errno));
        goto out;
    }
    if (st.out.saw_vbe && !b->json && !cli_out.quiet)
        fprintf(stderr, "%s: note: GRUB's \"Can't get controller info\" is harmless: the VM "
                "has no VBE video and the console is serial\n", cli_progname);
    if (r < 0) {
        r = cli_ctx_error(ctx);
        goto out;
    }
    r = judge(b, &res, &verdict, msg, sizeof(msg));
    if (b->json)
        r = report_json(&st, &res, verdict, r, msg);
    else if (r == CLI_EXIT_OK && !cli_out.quiet)
        fprintf(stderr, "%s: %s\n", cli_progname, msg);
    else
        cli_error("%s", msg);
out:
    json_decref(st.argv);
    free(st.out.tail);
    mk_ctx_free(ctx);
    return r;
}
