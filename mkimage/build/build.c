/* build.c: building a bootable disk: check every input, then MBR, ext2, grub.cfg and GRUB. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk_private.h"
#include "fs_ext2.h"
#include "grub.h"
#include "mbr.h"
#include "multiboot.h"
#include "template.h"

#define MIB (1024u * 1024u)
#define DEFAULT_DISK_SIZE (1024ull * MIB)
/* Partition 1 starts at 1 MiB, as fdisk aligns it; the gap before it holds core.img. */
#define PART_LBA 2048u
#define PART_OFF ((uint64_t)PART_LBA * MK_SECTOR)
/* An MBR partition counts sectors in 32 bits. */
#define MAX_DISK_SIZE (PART_OFF + (uint64_t)UINT32_MAX * MK_SECTOR)
/* Below this libext2fs cannot lay out groups with room for anything. */
#define MIN_PART_SIZE (2ull * MIB)
/* Rough ext2 overhead per file beyond its data: inode, directory entry, indirect blocks. */
#define FILE_OVERHEAD 4096u

/* One file that goes into the image, resolved from the options. */
struct planned_file {
    const char *src;
    char *dest;
    uint64_t size;
};

struct plan {
    struct planned_file *files; /* kernel first, then modules, then extra files */
    size_t nfiles;
    struct mk_template_module *tmods;
    struct mk_kernel_info kinfo;
    struct mk_buf kernel_data; /* a gzip-compressed kernel, decompressed */
    struct mk_buf cfg;
    uint64_t disk_size;
    int64_t mtime;
    uint8_t uuid[16];
    uint32_t disk_signature;
};

static void plan_release(struct plan *p)
{
    for (size_t i = 0; i < p->nfiles; i++)
        free(p->files[i].dest);
    free(p->files);
    free(p->tmods);
    mk_buf_release(&p->kernel_data);
    mk_buf_release(&p->cfg);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A regular file we can read; (what) says what it is for the message ("kernel"). */
static int check_input(struct mk_ctx *ctx, const char *what, const char *path, uint64_t *ret_size)
{
    struct stat st;

    if (!path || !*path)
        return mk_set_error(ctx, MK_EINVAL, "no %s file given", what);
    if (stat(path, &st) < 0)
        return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                            "%s '%s'", what, path);
    if (!S_ISREG(st.st_mode))
        return mk_set_error(ctx, MK_EINVAL, "%s '%s' is not a regular file", what, path);
    if (access(path, R_OK) < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "%s '%s'", what, path);
    *ret_size = (uint64_t)st.st_size;
    return MK_OK;
}

/* Destination paths are absolute, without empty, "." or ".." components. */
static int check_dest(struct mk_ctx *ctx, const char *dest)
{
    const char *p = dest;

    if (*p != '/')
        return mk_set_error(ctx, MK_EINVAL, "destination '%s' is not an absolute path", dest);
    do {
        size_t n = strcspn(++p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return mk_set_error(ctx, MK_EINVAL, "destination '%s' is not a clean absolute "
                                "file path", dest);
        if (n > 255)
            return mk_set_error(ctx, MK_EINVAL, "destination '%s' has a name longer than "
                                "255 bytes", dest);
        p += n;
    } while (*p);
    return MK_OK;
}

static int add_planned(struct mk_ctx *ctx, struct plan *p, const char *src, const char *dest,
                       uint64_t size)
{
    for (size_t i = 0; i < p->nfiles; i++)
        if (!strcmp(p->files[i].dest, dest))
            return mk_set_error(ctx, MK_EEXIST, "two files would be written to '%s' in the "
                                "image ('%s' and '%s')", dest, p->files[i].src, src);
    if (!strcmp(dest, "/boot/grub/grub.cfg") || !strcmp(dest, "/boot/grub") ||
        !strcmp(dest, "/boot") || !strcmp(dest, "/lost+found"))
        return mk_set_error(ctx, MK_EINVAL, "'%s' is reserved in the image (from '%s')", dest,
                            src);
    void *np = realloc(p->files, (p->nfiles + 1) * sizeof(*p->files));
    if (!np)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    p->files = np;
    p->files[p->nfiles] = (struct planned_file){.src = src, .dest = strdup(dest), .size = size};
    if (!p->files[p->nfiles].dest)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    p->nfiles++;
    return MK_OK;
}

static int boot_dest(struct mk_ctx *ctx, struct mk_buf *b, const char *src)
{
    mk_buf_reset(b);
    if (mk_buf_addf(b, "/boot/%s", base_name(src)) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return check_dest(ctx, b->buf);
}

/* A gzip-compressed kernel goes in decompressed, named without its ".gz" (xen.gz: /boot/xen). */
static int plan_gzip_kernel(struct mk_ctx *ctx, struct plan *p, const char *src,
                            struct mk_buf *dest, uint64_t *size)
{
    int r = mk_kernel_read(ctx, src, &p->kernel_data, NULL);

    if (r < 0)
        return r;
    if (dest->len > 3 + strlen("/boot/") && !strcmp(dest->buf + dest->len - 3, ".gz")) {
        dest->len -= 3;
        dest->buf[dest->len] = '\0';
    }
    *size = p->kernel_data.len;
    return MK_OK;
}

static int64_t build_mtime(const struct mk_build_opts *o)
{
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    char *end;
    long long v;

    if (o->mtime >= 0)
        return o->mtime;
    if (!epoch || !*epoch)
        return 0;
    errno = 0;
    v = strtoll(epoch, &end, 10);
    if (errno || *end || v < 0)
        return 0;
    return v;
}

static int parse_uuid(struct mk_ctx *ctx, const char *text, uint8_t out[16])
{
    size_t n = 0;

    for (const char *p = text; *p; p++) {
        if (*p == '-')
            continue;
        char hi = p[0], lo = p[1];
        if (!lo || !strchr("0123456789abcdefABCDEF", hi) ||
            !strchr("0123456789abcdefABCDEF", lo) || n == 16)
            return mk_set_error(ctx, MK_EINVAL, "invalid UUID '%s' (expected 32 hex digits "
                                "as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", text);
        char pair[3] = {hi, lo, 0};
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
        p++;
    }
    if (n != 16)
        return mk_set_error(ctx, MK_EINVAL, "invalid UUID '%s' (expected 32 hex digits)", text);
    return MK_OK;
}

static int hash_file(struct mk_ctx *ctx, gcry_md_hd_t md, const char *path)
{
    static char chunk[1 << 16];
    int fd = mk_open_input(ctx, path, NULL);
    ssize_t n;

    if (fd < 0)
        return fd;
    /* Every byte, holes too: a sparse file of 100 GiB takes minutes, so Ctrl-C is heard. */
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        int r = mk_check_cancel(ctx);

        if (r < 0) {
            close(fd);
            return r;
        }
        gcry_md_write(md, chunk, (size_t)n);
    }
    close(fd);
    if (n < 0)
        return mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", path);
    return MK_OK;
}

/* The UUID and disk signature are a hash of everything that goes into the image, so the
 * same inputs give the same bytes and different images do not share identifiers. */
static int derive_ids(struct mk_ctx *ctx, const struct mk_build_opts *o, struct plan *p)
{
    gcry_md_hd_t md;
    uint8_t sum[32];
    char num[64];
    int r = MK_OK;

    if (o->uuid) {
        r = parse_uuid(ctx, o->uuid, p->uuid);
        if (r < 0)
            return r;
    }
    mk_crypto_init();
    if (gcry_md_open(&md, GCRY_MD_SHA256, 0))
        return mk_set_error(ctx, MK_ENOMEM, "cannot start a SHA-256 hash");
    snprintf(num, sizeof(num), "%" PRIu64 ":%" PRId64 ":", p->disk_size, p->mtime);
    gcry_md_write(md, num, strlen(num));
    gcry_md_write(md, p->cfg.buf, p->cfg.len + 1);
    for (size_t i = 0; i < p->nfiles && r == MK_OK; i++) {
        gcry_md_write(md, p->files[i].dest, strlen(p->files[i].dest) + 1);
        r = hash_file(ctx, md, p->files[i].src);
    }
    if (o->uuid)
        gcry_md_write(md, p->uuid, 16);
    memcpy(sum, gcry_md_read(md, GCRY_MD_SHA256), sizeof(sum));
    gcry_md_close(md);
    if (r < 0)
        return r;
    if (!o->uuid) {
        memcpy(p->uuid, sum, 16);
        p->uuid[6] = (uint8_t)((p->uuid[6] & 0x0f) | 0x50); /* name-based (RFC 4122 v5) */
        p->uuid[8] = (uint8_t)((p->uuid[8] & 0x3f) | 0x80);
    }
    p->disk_signature = mk_get_le32(sum + 16);
    if (!p->disk_signature)
        p->disk_signature = 1;
    return MK_OK;
}

/* GRUB's script lexer (flex, %array) stops at a token of 8192 bytes with "token too large"
 * and boots nothing; a line that long is refused here instead. */
#define GRUB_TOKEN_MAX 8192

/* What GRUB would refuse or ignore at boot: a line over its token limit (a huge kernel
 * command line), or a config that never loads the kernel (an empty or boot-less template). */
static int check_config(struct mk_ctx *ctx, const char *template_name, const struct mk_buf *cfg)
{
    const char *line = cfg->buf;
    unsigned n = 1;
    bool loads = false;

    while (line && *line) {
        const char *end = strchr(line, '\n'), *w = line + strspn(line, " \t");
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len >= GRUB_TOKEN_MAX)
            return mk_set_error(ctx, MK_EINVAL, "grub.cfg line %u is %zu bytes, more than "
                                "GRUB's %u-byte token limit: the kernel command line or a "
                                "module's arguments are too long", n, len, GRUB_TOKEN_MAX);
        if (!strncmp(w, "multiboot", 9) && (w[9] == ' ' || w[9] == '\t' ||
                                              (w[9] == '2' && (w[10] == ' ' || w[10] == '\t'))))
            loads = true;
        line = end ? end + 1 : NULL;
        n++;
    }
    if (!loads)
        return mk_set_error(ctx, MK_EINVAL, "template '%s' has no multiboot or multiboot2 line: "
                            "GRUB would not load the kernel", template_name);
    return MK_OK;
}

static int check_size(struct mk_ctx *ctx, struct plan *p)
{
    uint64_t need = 0, part;

    if (p->disk_size % MK_SECTOR)
        return mk_set_error(ctx, MK_EINVAL, "disk size %" PRIu64 " is not a multiple of 512 "
                            "bytes", p->disk_size);
    if (p->disk_size > MAX_DISK_SIZE)
        return mk_set_error(ctx, MK_EINVAL, "disk size %" PRIu64 " is larger than an MBR "
                            "partition table can describe (2 TiB)", p->disk_size);
    if (p->disk_size < PART_OFF + MIN_PART_SIZE)
        return mk_set_error(ctx, MK_ENOSPC, "disk size %" PRIu64 " is too small: the "
                            "smallest disk is 3 MiB (1 MiB for the MBR and GRUB, 2 MiB for the "
                            "filesystem)", p->disk_size);
    part = (p->disk_size - PART_OFF) / MK_CHUNK * MK_CHUNK;
    /* ext2 needs about 3% of the partition for itself at this inode density. */
    uint64_t room = part - part / 32 - 64 * 1024;
    for (size_t i = 0; i < p->nfiles; i++) {
        need += (p->files[i].size + MK_CHUNK - 1) / MK_CHUNK * MK_CHUNK + FILE_OVERHEAD;
        need += p->files[i].size / (1024 * MK_CHUNK) * MK_CHUNK; /* indirect blocks */
        if (need > room)
            return mk_set_error(ctx, MK_ENOSPC, "'%s' (%" PRIu64 " bytes) does not fit in a "
                                "disk of %" PRIu64 " MiB with the other files: use a larger "
                                "--size", p->files[i].src, p->files[i].size,
                                p->disk_size / MIB);
    }
    return MK_OK;
}

/* Everything that can be checked before a byte is written. */
static int make_plan(struct mk_ctx *ctx, const struct mk_build_opts *o, struct plan *p)
{
    struct mk_buf dest = MK_BUF_INIT;
    uint64_t size;
    int r;

    memset(p, 0, sizeof(*p));
    mk_buf_init(&p->cfg);
    mk_buf_init(&p->kernel_data);
    p->disk_size = o->disk_size ? o->disk_size : DEFAULT_DISK_SIZE;
    p->mtime = build_mtime(o);

    if ((r = check_input(ctx, "kernel", o->kernel, &size)) < 0 ||
        (r = mk_kernel_check(ctx, o->kernel, &p->kinfo)) < 0 ||
        (r = boot_dest(ctx, &dest, o->kernel)) < 0 ||
        (p->kinfo.gzip && (r = plan_gzip_kernel(ctx, p, o->kernel, &dest, &size)) < 0) ||
        (r = add_planned(ctx, p, o->kernel, dest.buf, size)) < 0)
        goto out;
    p->tmods = calloc(o->n_modules + 1, sizeof(*p->tmods));
    if (!p->tmods) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < o->n_modules; i++) {
        if ((r = check_input(ctx, "module", o->modules[i].path, &size)) < 0 ||
            (r = boot_dest(ctx, &dest, o->modules[i].path)) < 0 ||
            (r = add_planned(ctx, p, o->modules[i].path, dest.buf, size)) < 0)
            goto out;
        p->tmods[i].path = p->files[p->nfiles - 1].dest;
        p->tmods[i].args = o->modules[i].args;
    }
    for (size_t i = 0; i < o->n_files; i++) {
        if ((r = check_input(ctx, "file", o->files[i].src, &size)) < 0 ||
            (r = check_dest(ctx, o->files[i].dest)) < 0 ||
            (r = add_planned(ctx, p, o->files[i].src, o->files[i].dest, size)) < 0)
            goto out;
    }
    /* The hermit template boots HermitCore's loader, which starts the first module: without
     * one the image boots a loader with nothing to load. */
    if (o->template_name && !strcmp(o->template_name, "hermit") && o->n_modules == 0) {
        r = mk_set_error(ctx, MK_EINVAL, "the hermit template boots the loader (%s) and needs "
                         "the application as a module: add --module APP", o->kernel);
        goto out;
    }
    struct mk_template_vars vars = {
        .kernel_path = p->files[0].dest,
        .args = o->kernel_args,
        .nargs = o->n_kernel_args,
        .modules = p->tmods,
        .nmodules = o->n_modules,
        .multiboot2 = p->kinfo.multiboot == 2,
    };
    r = mk_template_render(ctx, o->template_dir ? o->template_dir : mk_template_default_dir(),
                           o->template_name ? o->template_name : "multiboot", &vars, &p->cfg);
    if (r < 0)
        goto out;
    if ((r = check_config(ctx, o->template_name ? o->template_name : "multiboot", &p->cfg)) < 0)
        goto out;
    r = check_size(ctx, p);
out:
    mk_buf_release(&dest);
    return r;
}

static int populate(struct mk_ctx *ctx, struct mk_ext2 *fs, const struct plan *p)
{
    int r = mk_ext2_mkdir_p(ctx, fs, "/boot/grub");

    for (size_t i = 0; i < p->nfiles && r == MK_OK; i++) {
        char *parent = strdup(p->files[i].dest);
        if (!parent)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        char *slash = strrchr(parent, '/');
        if (slash != parent) {
            *slash = '\0';
            r = mk_ext2_mkdir_p(ctx, fs, parent);
        }
        free(parent);
        if (r == MK_OK && i == 0 && p->kinfo.gzip)
            r = mk_ext2_add_data(ctx, fs, p->files[0].dest, p->kernel_data.buf,
                                 p->kernel_data.len, 0755);
        else if (r == MK_OK)
            r = mk_ext2_add_file(ctx, fs, p->files[i].dest, p->files[i].src, i == 0 ? 0755 : 0644);
        if (r == MK_OK)
            r = mk_check_cancel(ctx);
    }
    if (r == MK_OK)
        r = mk_ext2_add_data(ctx, fs, "/boot/grub/grub.cfg", p->cfg.buf, p->cfg.len, 0644);
    return r;
}

/* grub-mkimage takes as long as the rest of a build; it runs beside it. */
struct core_job {
    struct mk_grub_opts opts;
    const char *cfg;
    struct mk_buf core;
    struct mk_ctx *ctx; /* its own: contexts are not shared between threads */
    int r;
};

static void *make_core(void *arg)
{
    struct core_job *job = arg;

    job->r = mk_grub_make_core(job->ctx, &job->opts, job->cfg, &job->core);
    return NULL;
}

static int write_filesystem(struct mk_ctx *ctx, const struct mk_build_opts *o, struct plan *p,
                            struct mk_disk *disk)
{
    struct mk_ext2 *fs = NULL;
    uint8_t mbr[MK_SECTOR];
    uint64_t part_sectors = (p->disk_size - PART_OFF) / MK_SECTOR;
    int r;

    if ((r = derive_ids(ctx, o, p)) < 0)
        return r;
    mk_mbr_build(mbr, p->disk_signature, 0x83, PART_LBA, (uint32_t)part_sectors);
    if ((r = mk_disk_write(ctx, disk, 0, mbr, sizeof(mbr))) < 0)
        return r;
    struct mk_ext2_params params = {
        .part_off = PART_OFF,
        .part_size = part_sectors * MK_SECTOR / MK_CHUNK * MK_CHUNK,
        .label = "unikernel",
        .mtime = p->mtime,
    };
    memcpy(params.uuid, p->uuid, sizeof(params.uuid));
    if ((r = mk_ext2_create(ctx, disk, &params, &fs)) < 0)
        return r;
    if ((r = populate(ctx, fs, p)) < 0) {
        mk_ext2_abort(fs);
        return r;
    }
    return mk_ext2_close(ctx, fs);
}

int mk_build(struct mk_ctx *ctx, const struct mk_build_opts *o, struct mk_disk **ret)
{
    struct core_job job = {.opts = {.grub_dir = o->grub_dir, .grub_mkimage = o->grub_mkimage}};
    struct mk_disk *disk = NULL;
    pthread_t thread;
    bool started = false;
    struct plan p;
    int r;

    mk_clear_error(ctx);
    mk_buf_init(&job.core);
    r = make_plan(ctx, o, &p);
    if (r < 0)
        goto out;
    job.cfg = p.cfg.buf;
    if (!(job.ctx = mk_ctx_new())) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    started = pthread_create(&thread, NULL, make_core, &job) == 0;
    if (!started)
        make_core(&job);
    if ((r = mk_store_new(ctx, p.disk_size, &disk)) == MK_OK)
        r = write_filesystem(ctx, o, &p, disk);
    if (started)
        pthread_join(thread, NULL);
    /* A GRUB problem (missing package) is the more useful message: report it first. */
    if (job.r < 0) {
        r = mk_set_error(ctx, job.r, "%s", mk_errmsg(job.ctx));
        goto out;
    }
    if (r < 0)
        goto out;
    r = mk_grub_install(ctx, &job.opts, disk, job.core.buf, job.core.len, PART_LBA);
out:
    mk_ctx_free(job.ctx);
    mk_buf_release(&job.core);
    if (r == MK_OK) {
        *ret = disk;
        mk_log(ctx, MK_LOG_INFO, "built a %" PRIu64 "-byte disk (%" PRIu64 " bytes in memory)",
               p.disk_size, mk_store_memory(disk));
    } else {
        mk_disk_free(disk);
    }
    plan_release(&p);
    return r;
}

int mk_build_render_config(struct mk_ctx *ctx, const struct mk_build_opts *o, char **ret)
{
    struct plan p;
    int r = make_plan(ctx, o, &p);

    if (r == MK_OK)
        *ret = mk_buf_detach(&p.cfg, NULL);
    plan_release(&p);
    return r;
}
