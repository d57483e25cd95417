/* inspect_deep.c: `inspect --deep`, a second opinion on the disk through libguestfs, whose
 * appliance reads it with a real Linux kernel: partitions, filesystem, and the boot files
 * compared byte for byte with what our ext2 reading gave. */
#include "inspect_private.h"

int mk_inspect_deep_check(struct mk_ctx *ctx)
{
#ifdef MK_HAVE_GUESTFS
    (void)ctx;
    return MK_OK;
#else
    return mk_set_error(ctx, MK_EUNSUPPORTED, "--deep needs libguestfs, and this build has "
                        "none (install libguestfs-dev and rebuild)");
#endif
}

#ifndef MK_HAVE_GUESTFS
int mk_inspect_deep(struct mk_inspect *in)
{
    return mk_inspect_deep_check(in->ctx);
}
#else

#include <errno.h>
#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct deep {
    struct mk_inspect *in;
    guestfs_h *g;
    json_t *out;
};

static int gerr(struct deep *d, const char *what)
{
    const char *msg = guestfs_last_error(d->g);
    return mk_set_error(d->in->ctx, MK_EIO, "--deep: libguestfs: %s: %s", what,
                        msg ? msg : "failed");
}

/* libguestfs needs a file; a disk read from a tar.gz or built in memory has none, so every
 * disk goes through a sparse temporary copy, removed once the appliance holds it open. */
static int export_disk(struct mk_inspect *in, char *path, size_t size)
{
    const char *dir = getenv("TMPDIR");
    int fd, r;

    if (snprintf(path, size, "%s/mkimage-deep.XXXXXX", dir && *dir ? dir : "/tmp") >=
        (int)size)
        return mk_set_error(in->ctx, MK_EINVAL, "--deep: TMPDIR is too long");
    fd = mkstemp(path);
    if (fd < 0)
        return mk_set_errno(in->ctx, MK_EIO, errno, "--deep: cannot create '%s'", path);
    r = mk_write_raw_fd(in->ctx, in->disk, fd);
    close(fd);
    if (r < 0) {
        unlink(path);
        return mk_error_prefix(in->ctx, "--deep: cannot copy the disk to '%s'", path);
    }
    return MK_OK;
}

static void deep_partitions(struct deep *d, json_t *ours)
{
    struct guestfs_partition_list *pl;
    char *ptype;
    json_t *arr = json_array();

    ptype = guestfs_part_get_parttype(d->g, "/dev/sda");
    mk_inspect_set(d->in, d->out, "partition_table", json_string(ptype ? ptype : "none"));
    mk_inspect_set(d->in, d->out, "partitions", arr);
    if (!ptype) {
        if (json_array_size(ours))
            mk_inspect_problem(d->in, "deep: Linux sees no partition table");
        return;
    }
    if (strcmp(ptype, "msdos"))
        mk_inspect_problem(d->in, "deep: Linux sees a '%s' partition table, not msdos", ptype);
    free(ptype);
    pl = guestfs_part_list(d->g, "/dev/sda");
    if (!pl) {
        mk_inspect_problem(d->in, "deep: Linux cannot list the partitions: %s",
                           guestfs_last_error(d->g));
        return;
    }
    for (uint32_t i = 0; i < pl->len && arr; i++) {
        const struct guestfs_partition *p = &pl->val[i];
        json_t *o = json_object(), *mine = NULL, *v;
        size_t j;
        uint64_t start = (uint64_t)p->part_start / 512, sectors = (uint64_t)p->part_size / 512;
        int boot = guestfs_part_get_bootable(d->g, "/dev/sda", p->part_num);

        if (!o || json_array_append_new(arr, o) < 0) {
            d->in->oom = 1;
            break;
        }
        mk_inspect_set(d->in, o, "index", json_integer(p->part_num));
        mk_inspect_set(d->in, o, "start_lba", mk_json_u64(start));
        mk_inspect_set(d->in, o, "sectors", mk_json_u64(sectors));
        mk_inspect_set(d->in, o, "bootable", json_boolean(boot > 0));
        json_array_foreach(ours, j, v)
            if (json_integer_value(json_object_get(v, "index")) == p->part_num)
                mine = v;
        if (!mine)
            mk_inspect_problem(d->in, "deep: Linux sees a partition %d that the MBR reading "
                               "does not", p->part_num);
        else if (json_integer_value(json_object_get(mine, "start_lba")) != (json_int_t)start ||
                 json_integer_value(json_object_get(mine, "sectors")) != (json_int_t)sectors)
            mk_inspect_problem(d->in, "deep: Linux sees partition %d at a different place",
                               p->part_num);
        else if (json_is_true(json_object_get(mine, "bootable")) != (boot > 0))
            mk_inspect_problem(d->in, "deep: Linux disagrees on whether partition %d is "
                               "bootable", p->part_num);
    }
    if (pl->len < json_array_size(ours))
        mk_inspect_problem(d->in, "deep: Linux sees %u partitions, the MBR reading %zu",
                           (unsigned)pl->len, json_array_size(ours));
    guestfs_free_partition_list(pl);
}

static void deep_fs(struct deep *d, const char *dev, json_t *ours)
{
    json_t *o = json_object();
    char *type = guestfs_vfs_type(d->g, dev);
    char *uuid = guestfs_vfs_uuid(d->g, dev);
    char *label = guestfs_vfs_label(d->g, dev);
    const char *our_type = json_string_value(json_object_get(ours, "type"));
    const char *our_uuid = json_string_value(json_object_get(ours, "uuid"));

    mk_inspect_set(d->in, d->out, "filesystem", o);
    mk_inspect_set(d->in, o, "device", json_string(dev));
    mk_inspect_set(d->in, o, "type", json_string(type ? type : ""));
    mk_inspect_set(d->in, o, "uuid", json_string(uuid ? uuid : ""));
    mk_inspect_set(d->in, o, "label", mk_json_text(label ? label : "", label ? strlen(label) : 0));
    if (our_type && (!type || strcmp(type, our_type)))
        mk_inspect_problem(d->in, "deep: Linux sees filesystem type '%s' on %s, not %s",
                           type ? type : "none", dev, our_type);
    else if (our_uuid && uuid && strcasecmp(uuid, our_uuid))
        mk_inspect_problem(d->in, "deep: Linux sees UUID %s on %s, not %s", uuid, dev,
                           our_uuid);
    free(type);
    free(uuid);
    free(label);
}

static void deep_files(struct deep *d)
{
    json_t *same = json_array();

    mk_inspect_set(d->in, d->out, "files_identical", same);
    for (size_t i = 0; i < d->in->n_read && same; i++) {
        const char *path = d->in->read_paths[i];
        const struct mk_buf *ours = &d->in->read_data[i];
        size_t len = 0;
        char *theirs = guestfs_read_file(d->g, path, &len);

        if (!theirs)
            mk_inspect_problem(d->in, "deep: Linux cannot read %s: %s", path,
                               guestfs_last_error(d->g));
        else if (len != ours->len || memcmp(theirs, ours->buf, len))
            mk_inspect_problem(d->in, "deep: %s reads differently through Linux (%zu bytes) "
                               "and through ext2 (%zu bytes)", path, len, ours->len);
        else if (json_array_append_new(same, mk_json_text(path, strlen(path))) < 0)
            d->in->oom = 1;
        free(theirs);
    }
}

int mk_inspect_deep(struct mk_inspect *in)
{
    struct deep d = {.in = in};
    json_t *fs = json_object_get(in->root, "filesystem");
    char path[4096], dev[32], why[128];
    int r;

    d.out = json_object();
    mk_inspect_set(in, in->root, "deep", d.out);
    r = export_disk(in, path, sizeof(path));
    if (r < 0)
        return r;
    d.g = guestfs_create_flags(0);
    if (!d.g) {
        unlink(path);
        return mk_set_error(in->ctx, MK_EIO, "--deep: cannot create a libguestfs handle");
    }
    /* The library never prints: errors are read back with guestfs_last_error(). */
    guestfs_set_error_handler(d.g, NULL, NULL);
    /* libguestfs tries KVM with -cpu max, which aborts QEMU where KVM is unusable or is a
     * software nested hypervisor; make the same choice as `boot` unless the user set one. */
    if (!getenv("LIBGUESTFS_BACKEND_SETTINGS") &&
        mk_accel_choose(why, sizeof(why)) == MK_ACCEL_TCG)
        guestfs_set_backend_setting(d.g, "force_tcg", "1");
    if (guestfs_add_drive_opts(d.g, path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                               GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
        r = gerr(&d, "cannot add the disk");
    else if (mk_check_cancel(in->ctx) < 0)
        r = MK_ECANCELED;
    else if (guestfs_launch(d.g) < 0)
        r = gerr(&d, "cannot start the appliance");
    unlink(path);
    if (r == MK_OK) {
        deep_partitions(&d, json_object_get(in->root, "partitions"));
        if (in->fs_part)
            snprintf(dev, sizeof(dev), "/dev/sda%d", in->fs_part);
        else
            snprintf(dev, sizeof(dev), "/dev/sda");
        if (fs || in->fs_part)
            deep_fs(&d, dev, fs);
        if (fs && guestfs_mount_ro(d.g, dev, "/") < 0)
            mk_inspect_problem(in, "deep: Linux cannot mount %s: %s", dev,
                               guestfs_last_error(d.g));
        else if (fs)
            deep_files(&d);
        guestfs_shutdown(d.g);
    }
    guestfs_close(d.g);
    return r;
}
#endif
