/* report_written.c: what build and pack say about the file they wrote: its format, the
 * disk's real size (rounded up when --round-up grew it), the bytes of data the disk holds,
 * the file's size and its SHA-256. */
#include <fcntl.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define GIB (1ull << 30)

/* The SHA-256 of the file, or of the first (limit) bytes of a block device when (limit) is
 * not 0, as hex; a raw disk's holes are hashed as the zeros they read as. */
static int sha256_of(const char *path, uint64_t limit, char hex[65])
{
    static char buf[1 << 20];
    gcry_md_hd_t md;
    ssize_t n;
    struct stat st;
    /* O_NONBLOCK and a regular-file check first: a FIFO named as an input must be refused,
     * not waited on (the library's own inputs go through mk_open_input()). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), rc = 0;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !(limit ? S_ISBLK(st.st_mode) : S_ISREG(st.st_mode)) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_check_version(NULL);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    if (gcry_md_open(&md, GCRY_MD_SHA256, 0)) {
        close(fd);
        return -1;
    }
    /* Per MiB, Ctrl-C is heard: a raw disk's holes make gigabytes to hash. */
    for (uint64_t left = limit ? limit : UINT64_MAX; left; left -= (uint64_t)n) {
        if (cli_was_interrupted() ||
            (n = read(fd, buf, (size_t)(left < sizeof(buf) ? left : sizeof(buf)))) <= 0)
            break;
        gcry_md_write(md, buf, (size_t)n);
    }
    if (cli_was_interrupted())
        rc = -2;
    else if (n < 0)
        rc = -1;
    else
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", gcry_md_read(md, GCRY_MD_SHA256)[i]);
    gcry_md_close(md);
    close(fd);
    return rc;
}

int cli_file_sha256(const char *path, char hex[65])
{
    return sha256_of(path, 0, hex);
}

/* The output is complete whatever stopped its hashing. */
static int not_hashed(const char *output, int why)
{
    char what[512];

    if (why != -2)
        return cli_error("cannot read back %s to hash it", output);
    snprintf(what, sizeof(what), "%s was written, its SHA-256 was not computed", output);
    return cli_interrupted_error(what);
}

/* The disk was written onto a block device, in place: its first (disk_size) bytes. */
static int report_device(struct mk_ctx *ctx, const char *output, uint64_t disk_size,
                         uint64_t data, bool hashed)
{
    uint64_t device_size = 0;
    char sha[65] = "";
    int fd = open(output, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r;

    (void)ctx;
    if (fd < 0 || ioctl(fd, BLKGETSIZE64, &device_size) < 0)
        device_size = 0;
    if (fd >= 0)
        close(fd);
    if (hashed && (r = sha256_of(output, disk_size, sha)) < 0)
        return not_hashed(output, r);
    if (cli_out.json) {
        json_t *res = json_pack("{s:o, s:s, s:b, s:I, s:I, s:I, s:I}", "output",
                                cli_json_text(output), "format", "raw", "block_device", 1,
                                "disk_size", (json_int_t)disk_size, "data_bytes",
                                (json_int_t)data, "file_size", (json_int_t)disk_size,
                                "device_size", (json_int_t)device_size);
        json_object_set_new(res, "sha256", hashed ? json_string(sha) : json_null());
        cli_json_result(res, "ok");
    } else if (!cli_out.quiet) {
        cli_progress_end();
        fprintf(stderr, "%s: wrote %s in place (raw, %" PRIu64 " MiB disk holding %" PRIu64
                " KiB of data; block device of %" PRIu64 " MiB, synced%s%s)\n", cli_progname,
                output, disk_size >> 20, (data + 1023) >> 10, device_size >> 20,
                hashed ? ", sha256 " : "", hashed ? sha : "");
    }
    return CLI_EXIT_OK;
}

int cli_report_written(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                       const struct mk_pack_opts *pack, const char *output, bool hash_raw)
{
    uint64_t data = 0, disk_size = mk_disk_size(disk);
    char sha[65] = "";
    struct stat st;
    bool hashed;
    int r;

    if (mk_disk_data_bytes(ctx, disk, &data) < 0)
        return cli_ctx_error(ctx);
    if (fmt == MK_FORMAT_GCE && pack && pack->round_up && disk_size % GIB)
        disk_size = (disk_size / GIB + 1) * GIB;
    if (stat(output, &st) < 0)
        return cli_error("cannot read back %s", output);
    /* A raw disk is mostly holes: hashing it means hashing every zero of them (about a
     * second per GiB), so it is done only when asked. */
    hashed = fmt != MK_FORMAT_RAW || hash_raw;
    if (S_ISBLK(st.st_mode))
        return report_device(ctx, output, disk_size, data, hashed);
    if (hashed && (r = cli_file_sha256(output, sha)) < 0)
        return not_hashed(output, r);
    if (cli_out.json) {
        json_t *res = json_pack("{s:o, s:s, s:I, s:I, s:I, s:s?}", "output",
                                cli_json_text(output), "format",
                                mk_format_name(fmt), "disk_size", (json_int_t)disk_size,
                                "data_bytes", (json_int_t)data, "file_size",
                                (json_int_t)st.st_size, "sha256", hashed ? sha : NULL);
        if (!hashed)
            json_object_set_new(res, "sha256", json_null());
        cli_json_result(res, "ok");
    } else if (!cli_out.quiet) {
        char file_size[32];

        if (st.st_size >= 10 << 20)
            snprintf(file_size, sizeof(file_size), "%" PRIu64 " MiB", (uint64_t)st.st_size >> 20);
        else
            snprintf(file_size, sizeof(file_size), "%" PRIu64 " KiB",
                     ((uint64_t)st.st_size + 1023) >> 10);
        cli_progress_end();
        fprintf(stderr, "%s: wrote %s (%s, %" PRIu64 " MiB disk holding %" PRIu64
                " KiB of data; file %s%s%s)\n", cli_progname, output, mk_format_name(fmt),
                disk_size >> 20, (data + 1023) >> 10, file_size, hashed ? ", sha256 " : "",
                hashed ? sha : "");
    }
    return CLI_EXIT_OK;
}
