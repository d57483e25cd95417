/* inspect.c: describing and checking any disk image: image, partition table, boot code,
 * GCE's rules; the filesystem part is in inspect_fs.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grub.h"
#include "inspect_private.h"
#include "mbr.h"

/* Where the input came from, when mk_inspect_path() opened it. */
struct inspect_source {
    const char *path;
    uint64_t file_size;
    int gzip;                   /* the file is gzip data: GCE's rules apply */
    enum mk_format format;      /* as told by the first bytes */
    int named_targz;            /* the name ends in .tar.gz or .tgz */
    const struct mk_buf *gce;   /* the tar.gz reader's rule violations, '\n'-separated */
    const char *open_error;     /* the image could not be read: why */
};

struct mbr_facts {
    int signature;
    int n_parts;
    int bootable;
    uint32_t first_lba;
};

void mk_inspect_set(struct mk_inspect *in, json_t *obj, const char *key, json_t *val)
{
    if (!val || !obj || json_object_set_new(obj, key, val) < 0)
        in->oom = 1;
}

json_t *mk_json_u64(uint64_t v)
{
    return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Length of the valid UTF-8 sequence at (p), 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    size_t n;
    uint32_t c;

    if (p[0] < 0x80)
        return p[0] ? 1 : 0;
    if ((p[0] & 0xe0) == 0xc0)
        n = 2, c = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        n = 3, c = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        n = 4, c = p[0] & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
        (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        return 0;
    return n;
}

json_t *mk_json_text(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    json_t *v;

    if (!copy)
        return NULL;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        if (!n) {
            copy[i++] = '?';
            continue;
        }
        memcpy(copy + i, s + i, n);
        i += n;
    }
    v = json_stringn(copy, len);
    free(copy);
    return v;
}

static int add_line(struct mk_inspect *in, json_t *arr, const char *line)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
        if (!strcmp(json_string_value(v), line))
            return MK_OK;
    if (json_array_append_new(arr, mk_json_text(line, strlen(line))) < 0) {
        in->oom = 1;
        return MK_ENOMEM;
    }
    return MK_OK;
}

int mk_inspect_problem(struct mk_inspect *in, const char *fmt, ...)
{
    struct mk_buf b = MK_BUF_INIT;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = mk_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < b.len; i++)
        if (b.buf[i] == '\n' || b.buf[i] == '\r')
            b.buf[i] = ' ';
    if (r == MK_OK)
        r = add_line(in, in->problems, b.buf);
    else
        in->oom = 1;
    mk_buf_release(&b);
    return r;
}

/* Errors that end the inspection; any other failure is a fact about the image. */
static int fatal(int r)
{
    return r == MK_ENOMEM || r == MK_ECANCELED;
}

static void inspect_image(struct mk_inspect *in, const struct inspect_source *src)
{
    json_t *img = json_object();
    uint64_t size = in->disk ? mk_disk_size(in->disk) : 0, data;

    mk_inspect_set(in, in->root, "image", img);
    if (src) {
        mk_inspect_set(in, img, "path", json_string(src->path));
        mk_inspect_set(in, img, "file_size", mk_json_u64(src->file_size));
    }
    if (src)
        mk_inspect_set(in, img, "format", json_string(mk_format_name(src->format)));
    else
        mk_inspect_set(in, img, "format",
                       json_string(mk_format_name(mk_disk_source_format(in->disk))));
    if (!in->disk)
        return;
    mk_inspect_set(in, img, "size", mk_json_u64(size));
    if (mk_disk_data_bytes(in->ctx, in->disk, &data) == MK_OK)
        mk_inspect_set(in, img, "data_bytes", mk_json_u64(data));
    if (size == 0)
        mk_inspect_problem(in, "the image is empty (0 bytes)");
    else if (size < MK_SECTOR)
        mk_inspect_problem(in, "the image is smaller than one sector (%" PRIu64 " bytes)", size);
    else if (size % MK_SECTOR)
        mk_inspect_problem(in, "the image size (%" PRIu64 " bytes) is not a multiple of 512",
                           size);
}

static int is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

static void check_partitions(struct mk_inspect *in, const struct mk_mbr *mbr, uint64_t sectors)
{
    for (int i = 0; i < 4; i++) {
        const struct mk_mbr_part *p = &mbr->part[i];
        uint64_t end = (uint64_t)p->lba_start + p->lba_count;

        if (!p->type)
            continue;
        if (p->status != 0 && p->status != 0x80)
            mk_inspect_problem(in, "partition %d has an invalid status byte 0x%02x", i + 1,
                               p->status);
        if (p->type == 0xee)
            mk_inspect_problem(in, "partition %d is a GPT protective partition: GPT disks are "
                               "not supported", i + 1);
        if (p->lba_count == 0)
            mk_inspect_problem(in, "partition %d is empty (0 sectors)", i + 1);
        else if (p->lba_start == 0)
            mk_inspect_problem(in, "partition %d starts at sector 0, over the MBR", i + 1);
        if (end > sectors)
            mk_inspect_problem(in, "partition %d extends past the end of the disk", i + 1);
        for (int j = i + 1; j < 4; j++) {
            const struct mk_mbr_part *q = &mbr->part[j];
            uint64_t qend = (uint64_t)q->lba_start + q->lba_count;
            if (q->type && p->lba_count && q->lba_count && p->lba_start < qend &&
                q->lba_start < end)
                mk_inspect_problem(in, "partitions %d and %d overlap", i + 1, j + 1);
        }
    }
}

/* The partition whose filesystem is inspected: the bootable one, else the first Linux one,
 * else the first one. 0 when none holds anything on the disk. */
static int pick_fs_partition(const struct mk_mbr *mbr, uint64_t sectors)
{
    int pick = 0;

    for (int pass = 0; pass < 3 && !pick; pass++)
        for (int i = 0; i < 4 && !pick; i++) {
            const struct mk_mbr_part *p = &mbr->part[i];
            if (!p->type || is_extended(p->type) || !p->lba_count || p->lba_start >= sectors)
                continue;
            if ((pass == 0 && p->status == 0x80) || (pass == 1 && p->type == 0x83) || pass == 2)
                pick = i + 1;
        }
    return pick;
}

static int inspect_mbr(struct mk_inspect *in, struct mbr_facts *facts)
{
    uint64_t size = mk_disk_size(in->disk), sectors = size / MK_SECTOR;
    uint8_t sector[MK_SECTOR];
    struct mk_mbr mbr;
    json_t *parts;
    char sig[16];
    int r;

    memset(facts, 0, sizeof(*facts));
    r = mk_disk_read(in->ctx, in->disk, 0, sector, sizeof(sector));
    if (r < 0)
        return fatal(r) ? r : mk_inspect_problem(in, "cannot read the MBR: %s",
                                                 mk_errmsg(in->ctx));
    if (mk_mbr_parse(sector, &mbr) < 0) {
        mk_inspect_set(in, in->root, "partitions", json_array());
        mk_inspect_problem(in, "no MBR signature (55 AA)");
        return MK_OK;
    }
    facts->signature = 1;
    snprintf(sig, sizeof(sig), "0x%08" PRIx32, mbr.disk_signature);
    mk_inspect_set(in, in->root, "disk_signature", json_string(sig));
    parts = json_array();
    mk_inspect_set(in, in->root, "partitions", parts);
    for (int i = 0; i < 4 && parts; i++) {
        const struct mk_mbr_part *p = &mbr.part[i];
        json_t *o;
        char type[8];

        if (!p->type)
            continue;
        facts->n_parts++;
        facts->bootable |= p->status == 0x80;
        if (p->lba_start && (!facts->first_lba || p->lba_start < facts->first_lba))
            facts->first_lba = p->lba_start;
        snprintf(type, sizeof(type), "0x%02x", p->type);
        o = json_object();
        if (!o || json_array_append_new(parts, o) < 0) {
            in->oom = 1;
            break;
        }
        mk_inspect_set(in, o, "index", json_integer(i + 1));
        mk_inspect_set(in, o, "bootable", json_boolean(p->status == 0x80));
        mk_inspect_set(in, o, "type", json_string(type));
        mk_inspect_set(in, o, "start_lba", json_integer(p->lba_start));
        mk_inspect_set(in, o, "sectors", json_integer(p->lba_count));
        mk_inspect_set(in, o, "size", mk_json_u64((uint64_t)p->lba_count * MK_SECTOR));
    }
    if (!facts->n_parts)
        mk_inspect_problem(in, "no partitions");
    else if (!facts->bootable)
        mk_inspect_problem(in, "no bootable partition");
    check_partitions(in, &mbr, sectors);
    in->fs_part = pick_fs_partition(&mbr, sectors);
    if (in->fs_part) {
        const struct mk_mbr_part *p = &mbr.part[in->fs_part - 1];
        in->fs_off = (uint64_t)p->lba_start * MK_SECTOR;
        in->fs_size = MK_MIN((uint64_t)p->lba_count * MK_SECTOR, size - in->fs_off);
    }
    return MK_OK;
}

static void add_boot_json(struct mk_inspect *in, const struct mk_grub_report *rep)
{
    json_t *boot = json_object(), *bl, *e;

    mk_inspect_set(in, in->root, "boot", boot);
    mk_inspect_set(in, boot, "boot_code", json_boolean(rep->boot_code));
    if (!rep->boot_code)
        return;
    mk_inspect_set(in, boot, "core_lba", mk_json_u64(rep->core_lba));
    mk_inspect_set(in, boot, "boot_drive", json_integer(rep->boot_drive));
    mk_inspect_set(in, boot, "drive_check_nopped", json_boolean(rep->drive_check_nopped));
    mk_inspect_set(in, boot, "core_found", json_boolean(rep->core_found));
    if (!rep->core_found)
        return;
    mk_inspect_set(in, boot, "core_sectors", json_integer(rep->core_sectors));
    mk_inspect_set(in, boot, "n_blocklists", json_integer(rep->n_blocklists));
    bl = json_array();
    mk_inspect_set(in, boot, "blocklists", bl);
    if (rep->n_blocklists && bl) {
        e = json_object();
        if (!e || json_array_append_new(bl, e) < 0)
            in->oom = 1;
        mk_inspect_set(in, e, "start", mk_json_u64(rep->blocklist_start));
        mk_inspect_set(in, e, "sectors", json_integer(rep->blocklist_len));
        mk_inspect_set(in, e, "segment", json_integer(rep->blocklist_segment));
    }
    mk_inspect_set(in, boot, "core_compressed_size", json_integer(rep->core_compressed_size));
    mk_inspect_set(in, boot, "core_uncompressed_size",
                   json_integer(rep->core_uncompressed_size));
}

static int inspect_boot(struct mk_inspect *in, const struct mbr_facts *facts, int *boot_code)
{
    uint64_t sectors = mk_disk_size(in->disk) / MK_SECTOR;
    uint32_t first = facts->first_lba ? facts->first_lba : (uint32_t)MK_MIN(sectors, 2048);
    struct mk_grub_report rep;
    int r;

    memset(&rep, 0, sizeof(rep));
    mk_buf_init(&rep.problems);
    r = mk_grub_inspect(in->ctx, in->disk, first, &rep);
    if (r < 0) {
        mk_buf_release(&rep.problems);
        return fatal(r) ? r : mk_inspect_problem(in, "cannot check the boot code: %s",
                                                 mk_errmsg(in->ctx));
    }
    *boot_code = rep.boot_code;
    add_boot_json(in, &rep);
    for (char *line = rep.problems.buf, *nl; *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        else
            nl = line + strlen(line);
        if (*line)
            mk_inspect_problem(in, "%s", line);
    }
    mk_buf_release(&rep.problems);
    return MK_OK;
}

/* GCE's rules: the tar.gz reader's findings plus what the disk inside must hold. */
static void inspect_gce(struct mk_inspect *in, const struct inspect_source *src,
                        const struct mbr_facts *facts, int boot_code)
{
    json_t *gce = json_object(), *lines = json_array(), *v;
    const char *p = src->gce ? src->gce->buf : "";
    size_t i;

    mk_inspect_set(in, in->root, "gce", gce);
    mk_inspect_set(in, gce, "problems", lines);
    if (!lines)
        return;
    if (src->named_targz && !src->gzip)
        add_line(in, lines, "the file is named .tar.gz but is not gzip data");
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        if (!line) {
            in->oom = 1;
            break;
        }
        if (*line)
            add_line(in, lines, line);
        free(line);
        p += len + (nl ? 1 : 0);
    }
    if (src->open_error)
        add_line(in, lines, src->open_error);
    else if (!facts->signature)
        add_line(in, lines, "no MBR signature (55 AA)");
    else if (!facts->n_parts)
        add_line(in, lines, "no partitions");
    else if (!facts->bootable)
        add_line(in, lines, "no bootable partition");
    if (!src->open_error && !boot_code)
        add_line(in, lines, "no boot code in the MBR");
    json_array_foreach(lines, i, v)
        mk_inspect_problem(in, "%s", json_string_value(v));
    mk_inspect_set(in, gce, "ok", json_boolean(json_array_size(lines) == 0));
    mk_inspect_set(in, in->root, "gce_ok", json_boolean(json_array_size(lines) == 0));
}

void mk_deep_request_release(struct mk_deep_request *req)
{
    for (size_t i = 0; i < req->n_files; i++)
        free(req->files[i].path);
    free(req->files);
    *req = (struct mk_deep_request){0};
}

static void release(struct mk_inspect *in)
{
    mk_deep_request_release(&in->deep);
    json_decref(in->files);
    json_decref(in->root);
}

/* (export_fd) and (ret_deep): as mk_inspect_fd_here()'s. */
static int inspect_run(struct mk_ctx *ctx, struct mk_disk *disk, unsigned flags,
                       const struct inspect_source *src, int export_fd, char **ret_json,
                       int *ret_problems, struct mk_deep_request *ret_deep)
{
    struct mk_inspect in = {.ctx = ctx, .disk = disk, .flags = flags, .export_fd = export_fd};
    static const struct inspect_source read_gce = {.gzip = 1, .format = MK_FORMAT_GCE};
    struct mbr_facts facts = {0};
    int boot_code = 0, r = MK_OK;
    char *text;

    /* Whether libguestfs can be had is asked by whoever will run it. */
    if ((flags & MK_INSPECT_DEEP) && export_fd < 0 && (r = mk_inspect_deep_check(ctx)) < 0)
        return r;
    in.root = json_object();
    in.problems = json_array();
    if (!in.root || !in.problems) {
        json_decref(in.problems);
        json_decref(in.root);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    inspect_image(&in, src);
    if (src && src->open_error)
        mk_inspect_problem(&in, "%s", src->open_error);
    if (disk && mk_disk_size(disk) >= MK_SECTOR) {
        r = inspect_mbr(&in, &facts);
        if (r == MK_OK)
            r = inspect_boot(&in, &facts, &boot_code);
        if (r == MK_OK && (in.fs_part || !facts.n_parts))
            r = mk_inspect_fs(&in);
        if (r == MK_OK && (flags & MK_INSPECT_DEEP))
            r = export_fd >= 0 ? mk_inspect_deep_export(&in, export_fd)
                               : mk_inspect_deep_here(&in);
    }
    /* A disk read from a tar.gz by the caller: its archive was checked when it was read,
     * and what GCE asks of the disk inside is checked here. */
    if (!src && disk && mk_disk_source_format(disk) == MK_FORMAT_GCE)
        src = &read_gce;
    if (r == MK_OK && src && (src->gzip || src->named_targz))
        inspect_gce(&in, src, &facts, boot_code);
    if (r < 0) {
        release(&in);
        return r;
    }
    /* Problems last, so that a reader of the text sees them at the end. */
    mk_inspect_set(&in, in.root, "problems", json_incref(in.problems));
    text = in.oom ? NULL : json_dumps(in.root, JSON_INDENT(2));
    *ret_problems = (int)json_array_size(in.problems);
    json_decref(in.problems);
    if (text && ret_deep) {
        *ret_deep = in.deep;
        in.deep = (struct mk_deep_request){0};
    }
    release(&in);
    if (!text)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory while writing the report");
    *ret_json = text;
    return MK_OK;
}

int mk_inspect(struct mk_ctx *ctx, struct mk_disk *disk, unsigned flags, char **ret_json,
               int *ret_problems)
{
    if (!disk || !ret_json || !ret_problems)
        return mk_set_error(ctx, MK_EINVAL, "mk_inspect: no disk or no result pointer");
    return inspect_run(ctx, disk, flags, NULL, -1, ret_json, ret_problems, NULL);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcasecmp(s + ls - lx, suffix);
}

int mk_inspect_path_here(struct mk_ctx *ctx, const char *path, unsigned flags, char **ret_json,
                         int *ret_problems)
{
    int fd;

    if (!path || !ret_json || !ret_problems)
        return mk_set_error(ctx, MK_EINVAL, "mk_inspect_path: no path or no result pointer");
    fd = mk_open_input(ctx, path, NULL);
    if (fd < 0)
        return fd;
    return mk_inspect_fd_here(ctx, fd, path, flags, -1, ret_json, ret_problems, NULL);
}

int mk_inspect_fd_here(struct mk_ctx *ctx, int fd, const char *path, unsigned flags,
                       int export_fd, char **ret_json, int *ret_problems,
                       struct mk_deep_request *ret_deep)
{
    struct inspect_source src = {.path = path};
    struct mk_buf gce = MK_BUF_INIT, why = MK_BUF_INIT;
    struct mk_disk *disk = NULL;
    unsigned char magic[4] = {0};
    int r;

    if ((r = mk_input_size(ctx, fd, path, &src.file_size)) < 0) {
        close(fd);
        return r;
    }
    if (pread(fd, magic, sizeof(magic), 0) < 0)
        memset(magic, 0, sizeof(magic));
    src.gzip = magic[0] == 0x1f && magic[1] == 0x8b;
    src.format = src.gzip                          ? MK_FORMAT_GCE
                 : !memcmp(magic, "QFI\xfb", 4) ? MK_FORMAT_QCOW2
                                                 : MK_FORMAT_RAW;
    src.named_targz = ends_with(path, ".tar.gz") || ends_with(path, ".tgz");
    src.gce = &gce;

    r = mk_disk_open_fd(ctx, fd, path, &gce, &disk); /* the descriptor is the reader's now */
    if (r < 0) {
        if (fatal(r) || r == MK_ENOTFOUND) {
            mk_buf_release(&gce);
            return r;
        }
        /* The file is there but its contents cannot be read as a disk: that is a finding
         * about the image, reported like the others. */
        if (mk_buf_addf(&why, "cannot read the image: %s", mk_errmsg(ctx)) < 0) {
            mk_buf_release(&gce);
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
        src.open_error = why.buf;
        mk_clear_error(ctx);
    }
    r = inspect_run(ctx, disk, flags, &src, export_fd, ret_json, ret_problems, ret_deep);
    mk_disk_free(disk);
    mk_buf_release(&gce);
    mk_buf_release(&why);
    return r;
}
