/* openstack_options.c: the OpenStack uploader's options, unikernel presets, and the JSON
 * that creates the image. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "openstack_private.h"

/* Unikernel presets. Properties are Nova's libvirt image properties (Glance's
 * compute-libvirt-image metadefs). Both unikernels boot through our GRUB, which reads the
 * disk through the BIOS, so both need BIOS firmware; neither has a driver for its own boot
 * disk, so the disk bus only has to be one SeaBIOS boots from and the kernel ignores. */
struct preset_prop {
    const char *key;
    const char *value;
};

/* Solo5 (virtio target) aborts on virtio-blk or virtio-net devices its manifest does not
 * declare, and before 0.10 hung with a virtio-blk boot disk; it ignores virtio-scsi. So the
 * boot disk goes on virtio-scsi, which also exists on both the pc and q35 machine types
 * (IDE does not exist on q35), and the NIC is virtio-net, the only one Solo5 drives. */
static const struct preset_prop preset_solo5[] = {
    {"hw_disk_bus", "scsi"},
    {"hw_scsi_model", "virtio-scsi"},
    {"hw_vif_model", "virtio"},
    {"hw_firmware_type", "bios"},
    {"architecture", "x86_64"},
    {NULL, NULL},
};

/* HermitCore's multiboot loader (ldhermit.elf) starts the application from a GRUB module
 * and talks on the COM1 serial port (-uart=io:0x3f8), which every Nova guest has. Its
 * kernel brings its own NIC drivers, and RTL8139 is the one HermitCore's own QEMU launcher
 * (tools/proxy.c) gives its guests, so that is the NIC asked for. It has no block driver,
 * so the boot disk bus is chosen as for Solo5 (virtio-scsi, on every machine type). That
 * launcher also runs with -cpu host; on OpenStack that is the flavor's and operator's
 * choice (cpu_mode), not an image property, so it is left alone. */
static const struct preset_prop preset_hermit[] = {
    {"hw_disk_bus", "scsi"},
    {"hw_scsi_model", "virtio-scsi"},
    {"hw_vif_model", "rtl8139"},
    {"hw_firmware_type", "bios"},
    {"architecture", "x86_64"},
    {NULL, NULL},
};

const char *mk_openstack_preset_property(const char *preset, const char *key)
{
    const struct preset_prop *p = !preset ? NULL
                                  : !strcmp(preset, "solo5") ? preset_solo5
                                  : !strcmp(preset, "hermit") ? preset_hermit
                                  : NULL;

    for (; p && p->key; p++)
        if (!strcmp(p->key, key))
            return p->value;
    return NULL;
}

/* Image attributes that Glance sets itself or that have their own option: a --property
 * must not masquerade as one. */
static const char *const core_keys[] = {
    "name", "id", "status", "visibility", "disk_format", "container_format", "min_disk",
    "min_ram", "tags", "protected", "owner", "checksum", "size", "virtual_size",
    "os_hash_algo", "os_hash_value", "locations", "direct_url", "created_at", "updated_at",
    "self", "file", "schema", "stores", "os_hidden", OS_SOURCE_PROPERTY,
};

static int set_str(struct mk_ctx *ctx, char **dst, const char *key, const char *value)
{
    if (!value || !*value)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --%s needs a value", key);
    free(*dst);
    if (!(*dst = strdup(value)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static int parse_flag(struct mk_ctx *ctx, const char *key, const char *value, bool *ret)
{
    if (!value || !*value || !strcasecmp(value, "true") || !strcmp(value, "1") ||
        !strcasecmp(value, "yes"))
        *ret = true;
    else if (!strcasecmp(value, "false") || !strcmp(value, "0") || !strcasecmp(value, "no"))
        *ret = false;
    else
        return mk_set_error(ctx, MK_EINVAL, "openstack: --%s takes no value, not '%s'", key,
                            value);
    return MK_OK;
}

static struct prop *find_prop(struct os_state *st, const char *key)
{
    for (size_t i = 0; i < st->n_props; i++)
        if (!strcmp(st->props[i].key, key))
            return &st->props[i];
    return NULL;
}

static int add_prop(struct mk_ctx *ctx, struct os_state *st, const char *key, size_t klen,
                    const char *value)
{
    char *k = strndup(key, klen), *v = strdup(value);
    struct prop *p, *grown;

    if (!k || !v)
        goto nomem;
    if ((p = find_prop(st, k))) {
        /* The last --property K=V wins, as in openstackclient. */
        free(p->value);
        p->value = v;
        free(k);
        return MK_OK;
    }
    grown = realloc(st->props, (st->n_props + 1) * sizeof(*grown));
    if (!grown)
        goto nomem;
    st->props = grown;
    st->props[st->n_props++] = (struct prop){.key = k, .value = v};
    return MK_OK;
nomem:
    free(k);
    free(v);
    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
}

static int set_property(struct mk_ctx *ctx, struct os_state *st, const char *kv)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    size_t klen = eq ? (size_t)(eq - kv) : 0;

    if (!eq || !klen)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --property '%s' is not KEY=VALUE",
                            kv ? kv : "");
    if (klen > 255)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --property key '%.40s...' is longer "
                            "than 255 characters", kv);
    for (size_t i = 0; i < MK_ARRAY_SIZE(core_keys); i++)
        if (strlen(core_keys[i]) == klen && !strncmp(kv, core_keys[i], klen))
            return mk_set_error(ctx, MK_EINVAL,
                                "openstack: --property %s: '%s' is an image attribute, not a "
                                "property%s",
                                kv, core_keys[i],
                                !strcmp(core_keys[i], "name") ||
                                        !strcmp(core_keys[i], "visibility") ||
                                        !strcmp(core_keys[i], "min_ram") ||
                                        !strcmp(core_keys[i], "min_disk") ||
                                        !strcmp(core_keys[i], "protected") ||
                                        !strcmp(core_keys[i], "disk_format") ||
                                        !strcmp(core_keys[i], "tags")
                                    ? " (it has its own option)"
                                    : "");
    if (klen >= 9 && !strncmp(kv, "os_glance", 9))
        return mk_set_error(ctx, MK_EINVAL, "openstack: --property %s: keys starting with "
                            "os_glance are reserved by Glance", kv);
    return add_prop(ctx, st, kv, klen, eq + 1);
}

static int add_tag(struct mk_ctx *ctx, struct os_state *st, const char *tag)
{
    char **grown, *t;

    if (!tag || !*tag || strlen(tag) > 255)
        return mk_set_error(ctx, MK_EINVAL, "openstack: --tag needs a value of 1 to 255 "
                            "characters");
    for (size_t i = 0; i < st->n_tags; i++)
        if (!strcmp(st->tags[i], tag))
            return MK_OK;
    grown = realloc(st->tags, (st->n_tags + 1) * sizeof(*grown));
    if (!grown || !(t = strdup(tag))) {
        if (grown)
            st->tags = grown;
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    st->tags = grown;
    st->tags[st->n_tags++] = t;
    return MK_OK;
}

int os_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value)
{
    struct os_state *st = state;

    if (!strcmp(key, "os-cloud") || !strcmp(key, "cloud"))
        return set_str(ctx, &st->cloud_name, key, value);
    if (!strcmp(key, "os-region-name"))
        return set_str(ctx, &st->region, key, value);
    if (!strcmp(key, "disk-format")) {
        if (value && (!strcmp(value, "raw") || !strcmp(value, "qcow2")))
            return set_str(ctx, &st->disk_format, key, value);
        return mk_set_error(ctx, MK_EINVAL, "openstack: --disk-format '%s' is not raw or qcow2 "
                            "(the formats this tool writes)", value ? value : "");
    }
    /* openstackclient's --public, --private, --shared, --community: the last one wins. */
    if (!strcmp(key, "public") || !strcmp(key, "private") || !strcmp(key, "shared") ||
        !strcmp(key, "community")) {
        bool on;
        int r = parse_flag(ctx, key, value, &on);

        if (r < 0 || !on)
            return r;
        return set_str(ctx, &st->visibility, key, key);
    }
    if (!strcmp(key, "protected"))
        return parse_flag(ctx, key, value, &st->protect);
    if (!strcmp(key, "min-disk") || !strcmp(key, "min_disk")) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = value && *value >= '0' && *value <= '9' ? strtoull(value, &end, 10) : 0;
        if (!value || *value < '0' || *value > '9' || errno || *end || v > INT32_MAX)
            return mk_set_error(ctx, MK_EINVAL, "openstack: --min-disk '%s' is not a number "
                                "of GB", value ? value : "");
        st->min_disk = (long)v;
        return MK_OK;
    }
    if (!strcmp(key, "name")) {
        if (value && strlen(value) > 255)
            return mk_set_error(ctx, MK_EINVAL, "openstack: --name is longer than 255 "
                                "characters");
        return set_str(ctx, &st->name, key, value);
    }
    if (!strcmp(key, "visibility")) {
        static const char *const ok[] = {"private", "shared", "community", "public"};

        for (size_t i = 0; value && i < MK_ARRAY_SIZE(ok); i++)
            if (!strcmp(value, ok[i]))
                return set_str(ctx, &st->visibility, key, value);
        return mk_set_error(ctx, MK_EINVAL, "openstack: --visibility '%s' is not private, "
                            "shared, community or public", value ? value : "");
    }
    if (!strcmp(key, "property"))
        return set_property(ctx, st, value);
    if (!strcmp(key, "tag"))
        return add_tag(ctx, st, value);
    if (!strcmp(key, "min-ram") || !strcmp(key, "min_ram")) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = value && *value >= '0' && *value <= '9' ? strtoull(value, &end, 10) : 0;
        if (!value || *value < '0' || *value > '9' || errno || *end || v > INT32_MAX)
            return mk_set_error(ctx, MK_EINVAL, "openstack: --min-ram '%s' is not a number "
                                "of MiB", value ? value : "");
        st->min_ram = (long)v;
        return MK_OK;
    }
    if (!strcmp(key, "preset")) {
        if (value && (!strcmp(value, "solo5") || !strcmp(value, "hermit") ||
                      !strcmp(value, "none"))) {
            st->preset = !strcmp(value, "solo5") ? "solo5" : !strcmp(value, "hermit") ? "hermit"
                                                                                     : NULL;
            return MK_OK;
        }
        return mk_set_error(ctx, MK_EINVAL, "openstack: --preset '%s' is not solo5, hermit or "
                            "none", value ? value : "");
    }
    if (!strcmp(key, "replace"))
        return parse_flag(ctx, key, value, &st->replace);
    if (!strcmp(key, "insecure"))
        return parse_flag(ctx, key, value, &st->insecure);
    return mk_set_error(ctx, MK_EUNSUPPORTED, "openstack: unknown option --%s", key);
}

int os_create_body(struct mk_ctx *ctx, struct os_state *st, char **ret)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:s}", "name", st->name,
                          "disk_format", st->format, "container_format", "bare", "visibility",
                          st->visibility ? st->visibility : "private", "min_disk",
                          (json_int_t)(st->min_disk >= 0 ? (uint64_t)st->min_disk
                                                         : st->disk_gib),
                          "protected", st->protect, OS_SOURCE_PROPERTY, st->source_mark);
    json_t *tags = json_array();
    const struct preset_prop *preset = !st->preset ? NULL
                                       : !strcmp(st->preset, "solo5") ? preset_solo5
                                                                      : preset_hermit;
    int bad = !o || !tags;

    for (size_t i = 0; !bad && i < st->n_tags; i++)
        bad = json_array_append_new(tags, json_string(st->tags[i]));
    if (!bad)
        bad = json_object_set(o, "tags", tags);
    if (!bad && st->min_ram >= 0)
        bad = json_object_set_new(o, "min_ram", json_integer(st->min_ram));
    /* Explicit --property values win over the preset's. */
    for (; !bad && preset && preset->key; preset++)
        if (!find_prop(st, preset->key))
            bad = json_object_set_new(o, preset->key, json_string(preset->value));
    /* Glance wants every extra property as a JSON string. */
    for (size_t i = 0; !bad && i < st->n_props; i++)
        bad = json_object_set_new(o, st->props[i].key, json_string(st->props[i].value));
    *ret = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(tags);
    json_decref(o);
    if (!*ret)
        return mk_set_error(ctx, MK_EINVAL, "openstack: a property or tag is not valid UTF-8");
    return MK_OK;
}

void os_options_release(struct os_state *st)
{
    for (size_t i = 0; i < st->n_props; i++) {
        free(st->props[i].key);
        free(st->props[i].value);
    }
    free(st->props);
    for (size_t i = 0; i < st->n_tags; i++)
        free(st->tags[i]);
    free(st->tags);
    free(st->cloud_name);
    free(st->name);
    free(st->visibility);
    free(st->region);
    free(st->disk_format);
}
