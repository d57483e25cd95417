/* grub_core.c: building core.img with grub-mkimage and checking what it produced. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grub_private.h"

#define GRUB_PREFIX "(,msdos1)/boot/grub"
/* grub-mkimage refuses anything near this; a bigger file is not a core.img. */
#define CORE_READ_MAX (1u << 20)

/* The last non-empty line of a tool's stderr, for a one-line error message. */
static void last_line(const struct mk_buf *err, char *out, size_t size)
{
    size_t end = err->len;
    while (end > 0 && (err->buf[end - 1] == '\n' || err->buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && err->buf[start - 1] != '\n')
        start--;
    size_t n = MK_MIN(end - start, size - 1);
    memcpy(out, err->buf + start, n);
    out[n] = '\0';
}

static int check_core(struct mk_ctx *ctx, const uint8_t *core, size_t len)
{
    if (len < 2 * MK_SECTOR)
        return mk_set_error(ctx, MK_EBOOT, "grub-mkimage wrote a core.img of only %zu bytes",
                            len);
    uint16_t seg = mk_get_le16(core + GRUB_LIST_FIRST + 10);
    if (seg != GRUB_CORE_SEGMENT)
        return mk_set_error(ctx, MK_EBOOT, "core.img does not start with GRUB's i386-pc "
                            "diskboot sector (segment 0x%04x at 0x1fe, expected 0x%04x)",
                            seg, GRUB_CORE_SEGMENT);
    if (mk_get_le16(core + GRUB_CORE_NO_RS_LENGTH) == 0xffff)
        return mk_set_error(ctx, MK_EBOOT, "core.img's no_reed_solomon_length is 0xffff: "
                            "grub-mkimage and the modules are different GRUB versions");
    return MK_OK;
}

/* Splits the space-separated module list in place into (argv) from (argc). */
static int add_modules(struct mk_ctx *ctx, char *mods, const char **argv, size_t *argc,
                       size_t max)
{
    for (char *p = mods; *p;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        if (*argc + 1 >= max)
            return mk_set_error(ctx, MK_EINVAL, "too many GRUB modules");
        argv[(*argc)++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[*argc] = NULL;
    return MK_OK;
}

int mk_grub_make_core(struct mk_ctx *ctx, const struct mk_grub_opts *opts, const char *cfg,
                      struct mk_buf *core)
{
    const char *dir = opts && opts->grub_dir ? opts->grub_dir : MK_GRUB_DEFAULT_DIR;
    const char *tool = opts && opts->grub_mkimage ? opts->grub_mkimage : "grub-mkimage";
    struct mk_buf mods = MK_BUF_INIT, err = MK_BUF_INIT, img = MK_BUF_INIT, tmp = MK_BUF_INIT;
    char path[4096];
    const char *argv[512];
    size_t argc = 0;
    int status, r, tmp_lock;

    if ((r = mk_grub_dir_path(ctx, dir, "boot.img", path, sizeof(path))) < 0)
        return r;
    if (access(path, R_OK) < 0)
        return mk_grub_missing_dir(ctx, dir);
    if ((r = mk_grub_dir_path(ctx, dir, "moddep.lst", path, sizeof(path))) < 0)
        return r;
    if (access(path, R_OK) < 0)
        return mk_grub_missing_dir(ctx, dir);
    if ((r = mk_grub_modules_for_config(ctx, opts, cfg, &mods)) < 0)
        return r;

    if ((r = mk_make_temp(ctx, "mkimage-core", false, &tmp, &tmp_lock)) < 0)
        goto out_mods;

    argv[argc++] = tool;
    argv[argc++] = "-O";
    argv[argc++] = "i386-pc";
    argv[argc++] = "-d";
    argv[argc++] = dir;
    argv[argc++] = "-o";
    argv[argc++] = tmp.buf;
    argv[argc++] = "-p";
    argv[argc++] = GRUB_PREFIX;
    if ((r = add_modules(ctx, mods.buf, argv, &argc, MK_ARRAY_SIZE(argv))) < 0)
        goto out;

    r = mk_run(ctx, argv, NULL, &err, &status);
    if (r == MK_EMISSING) {
        r = mk_set_error(ctx, MK_EMISSING, "%s not found: install the Debian package "
                         "grub-common", tool);
        goto out;
    }
    if (r < 0)
        goto out;
    if (status != 0) {
        char line[512];
        last_line(&err, line, sizeof(line));
        r = mk_set_error(ctx, MK_EBOOT, "%s failed (status %d): %s", tool, status,
                         line[0] ? line : "no message");
        goto out;
    }
    if ((r = mk_buf_read_file(ctx, &img, tmp.buf, CORE_READ_MAX)) < 0)
        goto out;
    if ((r = check_core(ctx, (const uint8_t *)img.buf, img.len)) < 0)
        goto out;
    mk_buf_release(core);
    *core = img;
    mk_buf_init(&img);
out:
    unlink(tmp.buf);
    close(tmp_lock);
out_mods:
    mk_buf_release(&tmp);
    mk_buf_release(&img);
    mk_buf_release(&err);
    mk_buf_release(&mods);
    return r;
}
