/* default_name.c: the image name a push uses when none is given: named after the unikernel
 * (not "disk" after disk.tar.gz, not the HermitCore loader) plus a short content hash, so
 * that pushing the next release never collides; --family stays the stable handle. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define NAME_MAX_LEN 63 /* GCE's resource names; OpenStack takes them as they are */
#define HASH_LEN 8

/* "Hello_World.virtio" -> "hello-world": lowercase letters, digits and single dashes,
 * starting with a letter. */
static void sanitize(const char *base, char *out, size_t size)
{
    static const char *const exts[] = {".tar.gz", ".tgz", ".raw", ".qcow2", ".img", ".elf",
                                       ".virtio", ".bin", ".gz"};
    size_t len = strlen(base), o = 0;

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t el = strlen(exts[i]);
        if (len > el && !strcasecmp(base + len - el, exts[i])) {
            len -= el;
            i = (size_t)-1; /* "app.elf.gz": strip again */
        }
    }
    if (!len || !isalpha((unsigned char)base[0]))
        o += (size_t)snprintf(out, size, "img-");
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        char c = (char)tolower((unsigned char)base[i]);

        if (!isalnum((unsigned char)c) || (unsigned char)c >= 0x80)
            c = '-';
        if (c == '-' && (o == 0 || out[o - 1] == '-'))
            continue;
        out[o++] = c;
    }
    while (o && out[o - 1] == '-')
        o--;
    out[o] = '\0';
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The unikernel an archive boots, from grub.cfg as inspect reads it: the first module when
 * the kernel is HermitCore's loader (its command line carries -uart=), else the kernel. */
static char *archive_unikernel(const char *file)
{
    char *report = NULL, *name = NULL;
    int problems = 0, r;
    json_t *root, *kernel, *mod;
    const char *path, *cmd;
    /* Its own context: an image inspect cannot read is no error here (the push's checks
     * say what is wrong with it). */
    struct mk_ctx *ictx = mk_ctx_new();

    if (ictx)
        cli_ctx_allow_devices(ictx);
    r = ictx ? mk_inspect_path(ictx, file, 0, &report, &problems) : MK_ENOMEM;
    mk_ctx_free(ictx);
    if (r < 0)
        return NULL;
    root = json_loads(report, 0, NULL);
    free(report);
    kernel = json_object_get(root, "kernel");
    path = json_string_value(json_object_get(kernel, "path"));
    cmd = json_string_value(json_object_get(kernel, "command"));
    mod = json_array_get(json_object_get(kernel, "modules"), 0);
    if (cmd && strstr(cmd, "-uart=") && json_string_value(json_object_get(mod, "path")))
        path = json_string_value(json_object_get(mod, "path"));
    if (path)
        name = strdup(basename_of(path));
    json_decref(root);
    return name;
}

char *cli_default_image_name(const char *file, const struct mk_build_opts *o,
                             const char *build_id)
{
    char base[NAME_MAX_LEN + 1], sha[65] = "", *unikernel = NULL, *out;
    const char *hash = NULL;

    if (o && o->kernel) {
        bool hermit = o->template_name && !strcmp(o->template_name, "hermit");

        unikernel = strdup(basename_of(hermit && o->n_modules ? o->modules[0].path : o->kernel));
        if (build_id && !strncmp(build_id, "build:", 6))
            hash = build_id + 6;
    } else {
        unikernel = archive_unikernel(file);
        if (!unikernel)
            unikernel = strdup(basename_of(file));
        if (cli_file_sha256(file, sha) == 0)
            hash = sha;
    }
    if (!unikernel || !hash || strlen(hash) < HASH_LEN) {
        free(unikernel);
        return NULL;
    }
    sanitize(unikernel, base, sizeof(base) - HASH_LEN - 1);
    free(unikernel);
    size_t blen = strlen(base);

    if (!(out = malloc(blen + 1 + HASH_LEN + 1)))
        return NULL;
    memcpy(out, base, blen);
    out[blen] = '-';
    memcpy(out + blen + 1, hash, HASH_LEN);
    out[blen + 1 + HASH_LEN] = '\0';
    return out;
}
