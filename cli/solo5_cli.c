/* solo5_cli.c: what build, inspect and push say about a Solo5 unikernel's manifest: the
 * devices it declares, and in plain words when the machine a target gives it will make
 * Solo5 abort at start. */
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

static void describe(const struct mk_solo5_manifest *m, char *line, size_t size)
{
    size_t used = 0;

    line[0] = '\0';
    if (m->count == 0)
        snprintf(line, size, "no devices");
    for (unsigned i = 0; i < m->count && used < size; i++) {
        int n = snprintf(line + used, size - used, "%s%s '%s'", i ? ", " : "",
                         mk_solo5_device_type_name(m->devices[i].type), m->devices[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

void cli_print_solo5_devices(const struct mk_solo5_manifest *m)
{
    char line[1024];

    describe(m, line, sizeof(line));
    fprintf(stderr, "%s: Solo5 manifest: %s\n", cli_progname, line);
}

void cli_show_solo5_manifest(struct mk_ctx *ctx, const char *kernel)
{
    struct mk_solo5_manifest m;
    char line[1024];
    int r = mk_kernel_solo5_manifest(ctx, kernel, &m);

    if (r < 0) {
        cli_warn("%s", mk_errmsg(ctx));
        return;
    }
    if (r == 0)
        return;
    cli_print_solo5_devices(&m);
    if (mk_solo5_check_machine(&m, 1, 0, false, line, sizeof(line)))
        fprintf(stderr, "%s: note: on GCE (one virtio-net NIC) %s\n", cli_progname, line);
}

int cli_solo5_manifest_from_inspect(struct json_t *root, struct mk_solo5_manifest *m)
{
    json_t *mft = json_object_get(json_object_get(root, "kernel"), "solo5_manifest"), *d;
    size_t i;

    if (!json_is_object(mft))
        return 0;
    *m = (struct mk_solo5_manifest){0};
    json_array_foreach(json_object_get(mft, "devices"), i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *type = json_string_value(json_object_get(d, "type"));
        struct mk_solo5_device *dev;

        if (!name || !type || m->count >= MK_SOLO5_MAX_DEVICES)
            continue;
        dev = &m->devices[m->count++];
        snprintf(dev->name, sizeof(dev->name), "%s", name);
        dev->type = !strcmp(type, "NET_BASIC") ? MK_SOLO5_DEV_NET
                    : !strcmp(type, "BLOCK_BASIC") ? MK_SOLO5_DEV_BLOCK : 0;
        m->net_count += dev->type == MK_SOLO5_DEV_NET;
        m->block_count += dev->type == MK_SOLO5_DEV_BLOCK;
    }
    return 1;
}

/* Images larger than this are not read for their kernel's manifest: inspect reads the
 * disk's data into memory and takes a whole pass over the file, where a push of a large
 * image must stream it once with bounded memory. A unikernel's image is a few MiB. */
#define MANIFEST_MAX_IMAGE (32u << 20)

/* The manifest of an image's kernel, as inspect reads it: 1 found, 0 not. */
static int image_manifest(struct mk_ctx *ctx, const char *image, struct mk_solo5_manifest *m)
{
    char *text = NULL;
    int problems = 0, found;
    json_t *root;
    struct stat st;

    /* A block device's st_size is 0, whatever it holds. */
    if (stat(image, &st) == 0 &&
        ((uint64_t)st.st_size > MANIFEST_MAX_IMAGE || S_ISBLK(st.st_mode)))
        return 0;

    if (mk_inspect_path(ctx, image, 0, &text, &problems) < 0)
        return 0;
    root = json_loads(text, 0, NULL);
    free(text);
    found = cli_solo5_manifest_from_inspect(root, m);
    json_decref(root);
    return found;
}

int cli_read_solo5_manifest(struct mk_ctx *ctx, const char *file, bool is_kernel,
                            struct mk_solo5_manifest *m)
{
    int r = is_kernel ? mk_kernel_solo5_manifest(ctx, file, m) : image_manifest(ctx, file, m);

    return r < 0 ? 0 : r;
}

void cli_note_machine_option(struct cli_target_machine *t, const char *key, const char *value)
{
    if (!value)
        return;
    if (!strcmp(key, "preset")) {
        t->disk_bus = mk_openstack_preset_property(value, "hw_disk_bus");
        t->vif_model = mk_openstack_preset_property(value, "hw_vif_model");
    } else if (!strcmp(key, "property") && !strncmp(value, "hw_disk_bus=", 12)) {
        snprintf(t->props[0], sizeof(t->props[0]), "%s", value + 12);
        t->prop_disk_bus = t->props[0];
    } else if (!strcmp(key, "property") && !strncmp(value, "hw_vif_model=", 13)) {
        snprintf(t->props[1], sizeof(t->props[1]), "%s", value + 13);
        t->prop_vif_model = t->props[1];
    }
    if (t->prop_disk_bus)
        t->disk_bus = t->prop_disk_bus;
    if (t->prop_vif_model)
        t->vif_model = t->prop_vif_model;
}

void cli_warn_solo5_target(const struct mk_solo5_manifest *m, const char *target,
                           const char *cloud, const char *disk_bus, const char *vif_model)
{
    char line[1024];
    unsigned net = 0, blk = 0;

    if (!strcmp(cloud, "gce")) {
        /* Every GCE instance: one virtio-net NIC, the boot disk on virtio-scsi. */
        net = 1;
    } else if (!strcmp(cloud, "openstack")) {
        /* Nova's libvirt driver gives virtio for both when the image does not say. */
        net = !vif_model || !strcmp(vif_model, "virtio");
        blk = !disk_bus || !strcmp(disk_bus, "virtio");
    } else {
        return;
    }
    if (mk_solo5_check_machine(m, net, blk, blk > 0, line, sizeof(line)))
        cli_warn("%s%s%spushing to %s%s%s%s: %s", target ? "target '" : "", target ? target : "",
                 target ? "': " : "", cloud, blk ? " (hw_disk_bus " : "",
                 blk ? (disk_bus ? disk_bus : "virtio, Nova's default") : "", blk ? ")" : "",
                 line);
}
