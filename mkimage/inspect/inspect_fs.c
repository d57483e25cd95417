/* inspect_fs.c: the filesystem part of `inspect`: usage, file list, grub.cfg, and the
 * kernel and modules grub.cfg names. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gcrypt.h>

#include "fs_ext2.h"
#include "inspect_private.h"
#include "multiboot.h"

#define CFG_MAX (1u << 20)
#define KERNEL_MAX (256u << 20)

static const char *const cfg_paths[] = {"/boot/grub/grub.cfg", "/grub/grub.cfg"};

void mk_cfg_boot_release(struct mk_cfg_boot *b)
{
    free(b->kernel);
    for (size_t i = 0; i < b->n_modules; i++)
        free(b->modules[i]);
    free(b->modules);
    memset(b, 0, sizeof(*b));
}

/* GRUB resolves "(hd0,msdos1)/boot/x" and "($root)/boot/x" on a device; the device is the
 * one inspected, so only the path matters. */
static char *cfg_path(const char *word)
{
    const char *p = word;

    if (*p == '(') {
        const char *close = strchr(p, ')');
        p = close ? close + 1 : p;
    }
    return strdup(*p ? p : "/");
}

struct cfg_parse {
    struct mk_cfg_boot *out;
    int state;            /* 0 = looking for the kernel, 1 = reading modules, 2 = done */
    struct mk_buf cmd, arg;
    int n_words, have_arg, in_word;
    struct mk_buf word;
};

static int end_word(struct cfg_parse *p)
{
    int r = MK_OK;

    if (!p->in_word)
        return MK_OK;
    if (p->n_words == 0)
        r = mk_buf_add(&p->cmd, p->word.buf, p->word.len);
    else if (!p->have_arg && strncmp(p->word.buf, "--", 2)) {
        r = mk_buf_add(&p->arg, p->word.buf, p->word.len);
        p->have_arg = 1;
    }
    p->n_words++;
    p->in_word = 0;
    mk_buf_reset(&p->word);
    return r;
}

static int end_command(struct cfg_parse *p)
{
    struct mk_cfg_boot *b = p->out;
    int r = end_word(p), is_kernel;
    const char *c = p->cmd.buf; /* after end_word(), which may move it */

    if (r < 0)
        return r;
    is_kernel = !strcmp(c, "multiboot") || !strcmp(c, "multiboot2");
    if (p->state == 0 && is_kernel && p->have_arg) {
        b->kernel = cfg_path(p->arg.buf);
        if (!b->kernel)
            return MK_ENOMEM;
        b->command = c[9] == '2' ? 2 : 1;
        p->state = 1;
    } else if (p->state == 1 && (!strcmp(c, "module") || !strcmp(c, "module2"))) {
        if (p->have_arg) {
            char **m = realloc(b->modules, (b->n_modules + 1) * sizeof(*m));
            if (!m)
                return MK_ENOMEM;
            b->modules = m;
            m[b->n_modules] = cfg_path(p->arg.buf);
            if (!m[b->n_modules])
                return MK_ENOMEM;
            b->n_modules++;
        }
    } else if (p->state == 1 && (is_kernel || !strcmp(c, "boot") || !strcmp(c, "}") ||
                                 !strcmp(c, "menuentry") || !strcmp(c, "submenu"))) {
        p->state = 2;
    }
    mk_buf_reset(&p->cmd);
    mk_buf_reset(&p->arg);
    p->n_words = p->have_arg = 0;
    return MK_OK;
}

/* Words as GRUB's script lexer splits them for plain commands: whitespace between words,
 * '...' literal, "..." and bare text with backslash escapes, '#' starting a comment at the
 * start of a word, newline and ';' ending a command. Variables are left as written. */
int mk_inspect_parse_cfg(struct mk_ctx *ctx, const char *cfg, struct mk_cfg_boot *ret)
{
    struct mk_cfg_boot out = {0};
    struct cfg_parse p = {.out = &out, .cmd = MK_BUF_INIT, .arg = MK_BUF_INIT,
                          .word = MK_BUF_INIT};
    char quote = 0;
    int r = MK_OK;

    for (const char *s = cfg; r == MK_OK && p.state < 2; s++) {
        char c = *s;

        if (quote) {
            /* An unterminated quote makes GRUB reject the script: the command is dropped. */
            if (!c)
                break;
            if (c == quote)
                quote = 0;
            else if (c == '\\' && quote == '"' && (s[1] == '"' || s[1] == '\\' ||
                                                   s[1] == '$'))
                r = mk_buf_add(&p.word, ++s, 1);
            else if (c == '\\' && quote == '"' && s[1] == '\n')
                s++;
            else
                r = mk_buf_add(&p.word, &c, 1);
            continue;
        }
        if (c == '\\' && (s[1] == '\n' || !s[1])) {
            s += s[1] ? 1 : 0;
        } else if (c == '\\' && s[1]) {
            p.in_word = 1;
            r = mk_buf_add(&p.word, ++s, 1);
        } else if (c == '\'' || c == '"') {
            p.in_word = 1;
            quote = c;
        } else if (c == '#' && !p.in_word) {
            while (s[1] && s[1] != '\n')
                s++;
        } else if (c == '\n' || c == ';' || c == '\0') {
            r = end_command(&p);
            if (!c)
                break;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            r = end_word(&p);
        } else {
            p.in_word = 1;
            r = mk_buf_add(&p.word, &c, 1);
        }
    }
    mk_buf_release(&p.cmd);
    mk_buf_release(&p.arg);
    mk_buf_release(&p.word);
    if (r < 0) {
        mk_cfg_boot_release(&out);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory while reading grub.cfg");
    }
    *ret = out;
    return MK_OK;
}

int mk_inspect_has_mb1(const uint8_t *buf, size_t len)
{
    /* The v1 header is three words; mk_multiboot_parse() reports v2 when both are present,
     * and the `multiboot` command needs v1, so look for v1 on its own. */
    for (size_t off = 0; off + 12 <= MK_MIN(len, 8192u); off += 4) {
        uint32_t magic = mk_get_le32(buf + off), flags = mk_get_le32(buf + off + 4);
        if (magic == 0x1badb002u && magic + flags + mk_get_le32(buf + off + 8) == 0)
            return 1;
    }
    return 0;
}

static const char *type_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "file";
    case S_IFDIR:
        return "dir";
    case S_IFLNK:
        return "symlink";
    default:
        return "other";
    }
}

static int walk_one(void *opaque, const char *path, unsigned mode, uint64_t size)
{
    struct mk_inspect *in = opaque;
    json_t *o = json_object();
    char perm[8];

    if (mk_check_cancel(in->ctx) < 0)
        return MK_ECANCELED;
    if (!o || json_array_append_new(in->files, o) < 0) {
        in->oom = 1;
        return MK_ENOMEM;
    }
    snprintf(perm, sizeof(perm), "%04o", mode & 07777);
    mk_inspect_set(in, o, "path", mk_json_text(path, strlen(path)));
    mk_inspect_set(in, o, "type", json_string(type_name(mode)));
    mk_inspect_set(in, o, "size", mk_json_u64(size));
    mk_inspect_set(in, o, "mode", json_string(perm));
    return in->oom ? MK_ENOMEM : MK_OK;
}

static json_t *find_file(struct mk_inspect *in, const char *path)
{
    size_t i;
    json_t *o;

    json_array_foreach(in->files, i, o) {
        const char *p = json_string_value(json_object_get(o, "path"));
        if (p && !strcmp(p + (*p == '/'), path + (*path == '/')))
            return o;
    }
    return NULL;
}

static int is_regular(json_t *file)
{
    return file && !strcmp(json_string_value(json_object_get(file, "type")), "file");
}

/* Keeps what --deep compares of a file (its size and SHA-256); releases its contents. */
static int keep_read(struct mk_inspect *in, const char *path, struct mk_buf *data)
{
    struct mk_inspect_read *files, *f;

    if (!(in->flags & MK_INSPECT_DEEP)) {
        mk_buf_release(data);
        return MK_OK;
    }
    files = realloc(in->deep.files, (in->deep.n_files + 1) * sizeof(*files));
    if (files)
        in->deep.files = files;
    if (!files || !(files[in->deep.n_files].path = strdup(path))) {
        mk_buf_release(data);
        return mk_set_error(in->ctx, MK_ENOMEM, "out of memory");
    }
    f = &files[in->deep.n_files++];
    f->size = data->len;
    mk_crypto_init();
    gcry_md_hash_buffer(GCRY_MD_SHA256, f->sha256, data->buf, data->len);
    mk_buf_release(data);
    return MK_OK;
}

/* A Solo5 unikernel's manifest: its devices, and what GCE's machine (one virtio-net NIC, a
 * virtio-scsi boot disk) will make of them. A malformed one is a problem. */
static int check_solo5_manifest(struct mk_inspect *in, const char *path,
                                const struct mk_buf *data, json_t *k)
{
    struct mk_solo5_manifest m;
    char gce[512];
    json_t *o, *devices;
    int r = mk_solo5_manifest_parse(in->ctx, data->buf, data->len, &m);

    if (r == 0)
        return MK_OK;
    if (r < 0)
        return mk_inspect_problem(in, "kernel %s: %s", path, mk_errmsg(in->ctx));
    if (!(o = json_object()) || !(devices = json_array())) {
        json_decref(o);
        return mk_set_error(in->ctx, MK_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < m.count; i++) {
        json_t *d = json_pack("{s:s, s:s}", "name", m.devices[i].name, "type",
                              mk_solo5_device_type_name(m.devices[i].type));
        if (!d || json_array_append_new(devices, d) < 0) {
            json_decref(devices);
            json_decref(o);
            return mk_set_error(in->ctx, MK_ENOMEM, "out of memory");
        }
    }
    json_object_set_new(o, "devices", devices);
    mk_solo5_check_machine(&m, 1, 0, false, gce, sizeof(gce));
    json_object_set_new(o, "gce", gce[0] ? json_string(gce) : json_null());
    mk_inspect_set(in, k, "solo5_manifest", o);
    return MK_OK;
}

static int check_kernel(struct mk_inspect *in, struct mk_ext2 *fs, const struct mk_cfg_boot *b,
                        json_t *k)
{
    json_t *file = find_file(in, b->kernel);
    struct mk_buf data = MK_BUF_INIT;
    struct mk_kernel_info ki = {0};
    char why[256] = "";
    int r, valid;

    mk_inspect_set(in, k, "valid", json_false());
    if (!file)
        return mk_inspect_problem(in, "kernel %s not found", b->kernel);
    if (!is_regular(file))
        return mk_inspect_problem(in, "kernel %s is not a regular file", b->kernel);
    mk_inspect_set(in, k, "size", json_incref(json_object_get(file, "size")));
    r = mk_ext2_read_file(in->ctx, fs, b->kernel, KERNEL_MAX, &data);
    if (r < 0)
        mk_buf_release(&data); /* a read that fails part-way has grown the buffer */
    if (r == MK_ECANCELED)
        return r;
    if (r < 0)
        return mk_inspect_problem(in, "cannot read kernel %s: %s", b->kernel,
                                  mk_errmsg(in->ctx));
    r = mk_multiboot_parse(data.buf, data.len, &ki, why, sizeof(why));
    mk_inspect_set(in, k, "multiboot", json_integer(r < 0 ? 0 : ki.multiboot));
    mk_inspect_set(in, k, "elf", json_integer(ki.is_elf));
    valid = r == MK_OK && ki.multiboot && (ki.is_elf || ki.aout_kludge);
    if (r < 0)
        mk_inspect_problem(in, "kernel %s has an invalid multiboot header: %s", b->kernel,
                           why[0] ? why : "unknown reason");
    else if (!ki.multiboot)
        mk_inspect_problem(in, "kernel %s has no multiboot header", b->kernel);
    else if (!ki.is_elf && !ki.aout_kludge)
        mk_inspect_problem(in, "kernel %s is not an ELF file and has no multiboot a.out header",
                           b->kernel);
    else if (b->command == 2 && ki.multiboot != 2)
        valid = 0, mk_inspect_problem(in, "grub.cfg loads %s with multiboot2 but it has no "
                                      "multiboot2 header", b->kernel);
    else if (b->command == 1 && !mk_inspect_has_mb1((const uint8_t *)data.buf, data.len))
        valid = 0, mk_inspect_problem(in, "grub.cfg loads %s with multiboot but it has no "
                                      "multiboot (v1) header", b->kernel);
    mk_inspect_set(in, k, "valid", json_boolean(valid));
    r = check_solo5_manifest(in, b->kernel, &data, k);
    if (r < 0) {
        mk_buf_release(&data);
        return r;
    }
    return keep_read(in, b->kernel, &data);
}

static int check_modules(struct mk_inspect *in, struct mk_ext2 *fs, const struct mk_cfg_boot *b,
                         json_t *k)
{
    json_t *mods = json_array();
    int r = MK_OK;

    mk_inspect_set(in, k, "modules", mods);
    for (size_t i = 0; i < b->n_modules && mods && r == MK_OK; i++) {
        json_t *file = find_file(in, b->modules[i]), *m = json_object();
        struct mk_buf data = MK_BUF_INIT;

        if (!m || json_array_append_new(mods, m) < 0) {
            in->oom = 1;
            break;
        }
        mk_inspect_set(in, m, "path", mk_json_text(b->modules[i], strlen(b->modules[i])));
        mk_inspect_set(in, m, "found", json_boolean(is_regular(file)));
        if (!file) {
            r = mk_inspect_problem(in, "module %s not found", b->modules[i]);
            continue;
        }
        if (!is_regular(file)) {
            r = mk_inspect_problem(in, "module %s is not a regular file", b->modules[i]);
            continue;
        }
        mk_inspect_set(in, m, "size", json_incref(json_object_get(file, "size")));
        if (!(in->flags & MK_INSPECT_DEEP))
            continue;
        r = mk_ext2_read_file(in->ctx, fs, b->modules[i], KERNEL_MAX, &data);
        if (r < 0)
            mk_buf_release(&data);
        if (r == MK_ECANCELED)
            return r;
        if (r < 0)
            r = mk_inspect_problem(in, "cannot read module %s: %s", b->modules[i],
                                   mk_errmsg(in->ctx));
        else
            r = keep_read(in, b->modules[i], &data);
    }
    return r;
}

static int inspect_boot_files(struct mk_inspect *in, struct mk_ext2 *fs)
{
    struct mk_buf cfg = MK_BUF_INIT;
    struct mk_cfg_boot boot = {0};
    const char *cfg_name = NULL;
    json_t *k;
    int r = MK_ENOTFOUND;

    for (size_t i = 0; i < MK_ARRAY_SIZE(cfg_paths) && r == MK_ENOTFOUND; i++) {
        cfg_name = cfg_paths[i];
        mk_buf_reset(&cfg);
        r = mk_ext2_read_file(in->ctx, fs, cfg_name, CFG_MAX, &cfg);
    }
    if (r < 0)
        mk_buf_release(&cfg);
    if (r == MK_ECANCELED)
        return r;
    if (r == MK_ENOTFOUND)
        return mk_inspect_problem(in, "no %s", cfg_paths[0]);
    if (r < 0)
        return mk_inspect_problem(in, "cannot read %s: %s", cfg_name, mk_errmsg(in->ctx));
    mk_inspect_set(in, in->root, "grub_cfg_path", json_string(cfg_name));
    mk_inspect_set(in, in->root, "grub_cfg", mk_json_text(cfg.buf, cfg.len));
    /* A NUL would end the text early: GRUB would not read past it either. */
    r = mk_inspect_parse_cfg(in->ctx, cfg.buf, &boot);
    if (r == MK_OK)
        r = keep_read(in, cfg_name, &cfg);
    mk_buf_release(&cfg);
    if (r < 0)
        return r;
    if (!boot.kernel) {
        mk_cfg_boot_release(&boot);
        return mk_inspect_problem(in, "grub.cfg names no multiboot kernel");
    }
    k = json_object();
    mk_inspect_set(in, in->root, "kernel", k);
    mk_inspect_set(in, k, "path", mk_json_text(boot.kernel, strlen(boot.kernel)));
    mk_inspect_set(in, k, "command", json_string(boot.command == 2 ? "multiboot2" : "multiboot"));
    r = k ? check_kernel(in, fs, &boot, k) : MK_ENOMEM;
    if (r == MK_OK)
        r = check_modules(in, fs, &boot, k);
    mk_cfg_boot_release(&boot);
    return r;
}

static void add_fs_json(struct mk_inspect *in, const struct mk_ext2_info *info)
{
    json_t *o = json_object();
    uint64_t used = info->blocks >= info->free_blocks ? info->blocks - info->free_blocks : 0;

    mk_inspect_set(in, in->root, "filesystem", o);
    mk_inspect_set(in, o, "partition", json_integer(in->fs_part));
    mk_inspect_set(in, o, "offset", mk_json_u64(in->fs_off));
    mk_inspect_set(in, o, "type", json_string(info->type));
    mk_inspect_set(in, o, "uuid", json_string(info->uuid));
    mk_inspect_set(in, o, "label", mk_json_text(info->label, strlen(info->label)));
    mk_inspect_set(in, o, "block_size", mk_json_u64(info->block_size));
    mk_inspect_set(in, o, "blocks", mk_json_u64(info->blocks));
    mk_inspect_set(in, o, "free_blocks", mk_json_u64(info->free_blocks));
    if (info->block_size && used > UINT64_MAX / info->block_size)
        used = UINT64_MAX;
    else
        used *= info->block_size;
    mk_inspect_set(in, o, "used_bytes", mk_json_u64(used));
    mk_inspect_set(in, o, "inodes", mk_json_u64(info->inodes));
    mk_inspect_set(in, o, "free_inodes", mk_json_u64(info->free_inodes));
}

int mk_inspect_fs(struct mk_inspect *in)
{
    struct mk_ext2 *fs = NULL;
    struct mk_ext2_info info;
    uint64_t size = in->fs_part ? in->fs_size : mk_disk_size(in->disk);
    int r;

    r = mk_ext2_open(in->ctx, in->disk, in->fs_off, size,
                     in->flags & MK_INSPECT_IGNORE_CHECKSUMS ? MK_EXT2_IGNORE_CSUM : 0, &fs);
    if (r == MK_ENOMEM || r == MK_ECANCELED)
        return r;
    if (r == MK_EFORMAT && !in->fs_part)
        return MK_OK; /* no partitions and no whole-disk filesystem: already reported */
    if (r == MK_EFORMAT)
        return mk_inspect_problem(in, "no ext2/3/4 filesystem in partition %d", in->fs_part);
    if (r < 0 && !in->fs_part)
        return mk_inspect_problem(in, "cannot open the filesystem on the whole disk: %s",
                                  mk_errmsg(in->ctx));
    if (r < 0)
        return mk_inspect_problem(in, "cannot open the filesystem in partition %d: %s",
                                  in->fs_part, mk_errmsg(in->ctx));
    if (!in->fs_part)
        in->fs_size = size;
    memset(&info, 0, sizeof(info));
    r = mk_ext2_info(in->ctx, fs, &info);
    if (r < 0 && r != MK_ENOMEM && r != MK_ECANCELED)
        r = mk_inspect_problem(in, "cannot read the filesystem's superblock: %s",
                               mk_errmsg(in->ctx));
    else if (r == MK_OK)
        add_fs_json(in, &info);
    in->files = json_array();
    if (r == MK_OK && !in->files)
        r = mk_set_error(in->ctx, MK_ENOMEM, "out of memory");
    if (r == MK_OK) {
        r = mk_ext2_walk(in->ctx, fs, walk_one, in);
        if (r < 0 && r != MK_ENOMEM && r != MK_ECANCELED)
            r = mk_inspect_problem(in, "cannot list the files: %s", mk_errmsg(in->ctx));
    }
    if (r == MK_OK && (in->flags & MK_INSPECT_FILES))
        mk_inspect_set(in, in->root, "files", json_incref(in->files));
    if (r == MK_OK)
        r = inspect_boot_files(in, fs);
    mk_ext2_abort(fs);
    if (r == MK_ENOMEM)
        mk_set_error(in->ctx, MK_ENOMEM, "out of memory while inspecting the filesystem");
    return r;
}
