/* boot_qemu.c: QEMU's command line: the machine, its disks and its devices. */
#include <stdio.h>
#include <string.h>

#include "boot_private.h"

/* QEMU's option syntax doubles commas inside a value. */
static int add_escaped(struct mk_buf *b, const char *s)
{
    for (; *s; s++)
        if (mk_buf_add(b, s, 1) < 0 || (*s == ',' && mk_buf_add(b, s, 1) < 0))
            return MK_ENOMEM;
    return MK_OK;
}

static void cmd_add(struct mk_qemu_cmd *c, const char *a)
{
    if (c->argc < QEMU_ARGV_MAX - 1)
        c->argv[c->argc++] = a;
}

int mk_qemu_cmd_build(struct mk_ctx *ctx, struct mk_qemu_cmd *c, const char *qemu,
                      const struct mk_boot_image *img, enum mk_accel accel,
                      enum mk_disk_bus bus, unsigned mem_mib)
{
    mk_buf_init(&c->drive);
    if (mk_buf_adds(&c->drive, "file=") < 0 || add_escaped(&c->drive, img->drive_path) < 0 ||
        mk_buf_addf(&c->drive, ",format=%s,if=none,id=d0,snapshot=on", img->format) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    snprintf(c->mem, sizeof(c->mem), "%u", mem_mib);
    c->argc = 0;
    cmd_add(c, qemu);
    /* -nodefaults drops VGA and the NIC's option ROM (faster, and nothing the guest did
     * not ask for); -no-reboot turns a triple fault into an exit instead of a loop. */
    cmd_add(c, "-nodefaults");
    cmd_add(c, "-display");
    cmd_add(c, "none");
    cmd_add(c, "-monitor");
    cmd_add(c, "none");
    cmd_add(c, "-no-reboot");
    cmd_add(c, "-machine");
    cmd_add(c, "pc");
    cmd_add(c, "-accel");
    cmd_add(c, accel == MK_ACCEL_KVM ? "kvm" : "tcg");
    cmd_add(c, "-m");
    cmd_add(c, c->mem);
    cmd_add(c, "-serial");
    cmd_add(c, "stdio");
    cmd_add(c, "-device");
    cmd_add(c, "isa-debug-exit,iobase=0xf4,iosize=0x04");
    cmd_add(c, "-drive");
    cmd_add(c, c->drive.buf);
    switch (bus) {
    case MK_BUS_IDE:
        cmd_add(c, "-device");
        cmd_add(c, "ide-hd,drive=d0,bus=ide.0");
        break;
    case MK_BUS_VIRTIO_BLK:
        cmd_add(c, "-device");
        cmd_add(c, "virtio-blk-pci,drive=d0");
        break;
    case MK_BUS_VIRTIO_SCSI:
        cmd_add(c, "-device");
        cmd_add(c, "virtio-scsi-pci,id=scsi0");
        cmd_add(c, "-device");
        cmd_add(c, "scsi-hd,drive=d0,bus=scsi0.0");
        break;
    default:
        return mk_set_error(ctx, MK_EINVAL, "unknown disk bus %d", (int)bus);
    }
    c->argv[c->argc] = NULL;
    return MK_OK;
}
