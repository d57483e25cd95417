/* boot_qemu.c: QEMU's command line: the machine, its disks and its devices. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_private.h"

static int add(struct mk_ctx *ctx, struct mk_qemu_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int add(struct mk_ctx *ctx, struct mk_qemu_cmd *c, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    if (c->argc + 2 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        char **grown = realloc(c->argv, cap * sizeof(*grown));

        if (!grown)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        c->argv = grown;
        c->cap = cap;
    }
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    c->argv[c->argc++] = s;
    c->argv[c->argc] = NULL;
    return MK_OK;
}

/* QEMU's option syntax doubles commas inside a value. */
static char *escaped(const char *s)
{
    size_t n = strlen(s), commas = 0;

    for (const char *p = s; *p; p++)
        commas += *p == ',';
    char *out = malloc(n + commas + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        *o++ = *s;
        if (*s == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

static int add_drive(struct mk_ctx *ctx, struct mk_qemu_cmd *c, unsigned index, const char *path,
                     const char *format, bool snapshot)
{
    char *file = escaped(path);
    int r;

    if (!file)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = add(ctx, c, "-drive");
    if (r == MK_OK)
        r = add(ctx, c, "file=%s,format=%s,if=none,id=d%u%s", file, format, index,
                snapshot ? ",snapshot=on" : "");
    free(file);
    return r;
}

/* The device that presents drive d(index) on (bus); the boot disk gets bootindex 0 so that
 * SeaBIOS boots it whatever the data disks are. */
static int add_disk_device(struct mk_ctx *ctx, struct mk_qemu_cmd *c, unsigned index,
                           enum mk_disk_bus bus)
{
    const char *boot = index == 0 ? ",bootindex=0" : "";
    int r;

    switch (bus) {
    case MK_BUS_IDE:
        /* The boot disk is the first IDE (or q35 AHCI) port's master; data disks take the
         * next free port. */
        if ((r = add(ctx, c, "-device")) < 0)
            return r;
        return index == 0 ? add(ctx, c, "ide-hd,drive=d0,bus=ide.0%s", boot)
                          : add(ctx, c, "ide-hd,drive=d%u", index);
    case MK_BUS_VIRTIO_BLK:
        c->virtio_blk++;
        if ((r = add(ctx, c, "-device")) < 0)
            return r;
        return add(ctx, c, "virtio-blk-pci,drive=d%u%s", index, boot);
    case MK_BUS_VIRTIO_SCSI:
        if (!c->has_scsi) {
            if ((r = add(ctx, c, "-device")) < 0 || (r = add(ctx, c, "virtio-scsi-pci,id=scsi0")) < 0)
                return r;
            c->has_scsi = true;
        }
        if ((r = add(ctx, c, "-device")) < 0)
            return r;
        return add(ctx, c, "scsi-hd,drive=d%u,bus=scsi0.0%s", index, boot);
    default:
        return mk_set_error(ctx, MK_EINVAL, "unknown disk bus %d", (int)bus);
    }
}

static int add_nic(struct mk_ctx *ctx, struct mk_qemu_cmd *c, unsigned index,
                   const struct mk_boot_net *net, unsigned mtu)
{
    const char *model = net->model && *net->model ? net->model : "virtio-net-pci";
    bool virtio = !strcmp(model, "virtio-net-pci");
    int r;

    if (!net->backend || !*net->backend)
        return mk_set_error(ctx, MK_EINVAL, "network %u has no backend", index + 1);
    if (mtu && !virtio)
        return mk_set_error(ctx, MK_EINVAL, "an MTU is for virtio-net NICs, not %s", model);
    c->virtio_net += virtio;
    /* romfile= leaves out the NIC's iPXE ROM: nothing here boots from the network, and
     * SeaBIOS would spend time starting it. */
    if ((r = add(ctx, c, "-netdev")) < 0 || (r = add(ctx, c, "%s,id=n%u", net->backend, index)) < 0 ||
        (r = add(ctx, c, "-device")) < 0)
        return r;
    if (mtu)
        return add(ctx, c, "%s,netdev=n%u,romfile=,host_mtu=%u", model, index, mtu);
    return add(ctx, c, "%s,netdev=n%u,romfile=", model, index);
}

int mk_qemu_cmd_build(struct mk_ctx *ctx, struct mk_qemu_cmd *c, const char *qemu,
                      const struct mk_boot_image *img, enum mk_accel accel,
                      const struct mk_boot_opts *o)
{
    int r;

    *c = (struct mk_qemu_cmd){.boot_virtio_blk = o->bus == MK_BUS_VIRTIO_BLK};
    /* -nodefaults drops VGA and any NIC not asked for; -no-reboot turns a triple fault into
     * an exit instead of a loop. */
    if ((r = add(ctx, c, "%s", qemu)) < 0 || (r = add(ctx, c, "-nodefaults")) < 0 ||
        (r = add(ctx, c, "-display")) < 0 || (r = add(ctx, c, "none")) < 0 ||
        (r = add(ctx, c, "-monitor")) < 0 || (r = add(ctx, c, "none")) < 0 ||
        (r = add(ctx, c, "-no-reboot")) < 0 || (r = add(ctx, c, "-machine")) < 0 ||
        (r = add(ctx, c, "%s", o->machine == MK_MACHINE_Q35 ? "q35" : "pc")) < 0 ||
        (r = add(ctx, c, "-accel")) < 0 ||
        (r = add(ctx, c, "%s", accel == MK_ACCEL_KVM ? "kvm" : "tcg")) < 0 ||
        (r = add(ctx, c, "-m")) < 0 || (r = add(ctx, c, "%u", o->mem_mib ? o->mem_mib : 128u)) < 0)
        return r;
    if (o->cpu && ((r = add(ctx, c, "-cpu")) < 0 || (r = add(ctx, c, "%s", o->cpu)) < 0))
        return r;
    if (o->smp && ((r = add(ctx, c, "-smp")) < 0 || (r = add(ctx, c, "%u", o->smp)) < 0))
        return r;
    if ((r = add(ctx, c, "-serial")) < 0 || (r = add(ctx, c, "stdio")) < 0 ||
        (r = add(ctx, c, "-device")) < 0 ||
        (r = add(ctx, c, "isa-debug-exit,iobase=0xf4,iosize=0x04")) < 0 ||
        (r = add_drive(ctx, c, 0, img->drive_path, img->format, true)) < 0 ||
        (r = add_disk_device(ctx, c, 0, o->bus)) < 0)
        return r;
    for (size_t i = 0; i < o->n_disks; i++) {
        const char *format;

        if ((r = mk_boot_disk_format(ctx, o->disks[i].path, &format)) < 0 ||
            (r = add_drive(ctx, c, (unsigned)i + 1, o->disks[i].path, format, false)) < 0 ||
            (r = add_disk_device(ctx, c, (unsigned)i + 1, o->disks[i].bus)) < 0)
            return r;
    }
    for (size_t i = 0; i < o->n_nets; i++)
        if ((r = add_nic(ctx, c, (unsigned)i, &o->nets[i], o->nic_mtu)) < 0)
            return r;
    for (size_t i = 0; i < o->n_qemu_args; i++)
        if ((r = add(ctx, c, "%s", o->qemu_args[i])) < 0)
            return r;
    return MK_OK;
}

void mk_qemu_cmd_release(struct mk_qemu_cmd *c)
{
    for (size_t i = 0; i < c->argc; i++)
        free(c->argv[i]);
    free(c->argv);
    *c = (struct mk_qemu_cmd){0};
}
