/* inspect_private.h: what the parts of `inspect` (inspect*.c) share. */
#ifndef MK_INSPECT_PRIVATE_H
#define MK_INSPECT_PRIVATE_H

#include <jansson.h>

#include "disk_private.h"

/* A file read through ext2, that --deep reads again through libguestfs: its size and
 * SHA-256, so that neither its bytes nor its reader need to outlive the reading. */
struct mk_inspect_read {
    char *path;
    uint64_t size;
    uint8_t sha256[32];
};

/* What --deep compares libguestfs's reading with, besides the report: the partition that
 * holds the filesystem, and the files read through ext2. (exported): the disk was copied,
 * raw, where libguestfs can read it. */
struct mk_deep_request {
    bool exported;
    int fs_part;
    struct mk_inspect_read *files;
    size_t n_files;
};
void mk_deep_request_release(struct mk_deep_request *req);

/* One inspection in progress: the report being built and what later steps reuse. */
struct mk_inspect {
    struct mk_ctx *ctx;
    struct mk_disk *disk;
    unsigned flags;
    json_t *root;
    json_t *problems;      /* array of one-line strings */
    json_t *files;         /* every file and directory, listed or not */
    int fs_part;           /* partition (1-4) holding the filesystem; 0 = whole disk */
    uint64_t fs_off, fs_size;
    struct mk_deep_request deep;
    /* --deep in an isolated reader: the disk is copied into this descriptor, and libguestfs
     * runs in the parent (inspect_isolated.c); -1: --deep runs here whole. */
    int export_fd;
    int oom;               /* a jansson allocation failed: the report is incomplete */
};

/* Sets (key) of (obj) to (val), taking the reference; remembers a failure in (in->oom). */
void mk_inspect_set(struct mk_inspect *in, json_t *obj, const char *key, json_t *val);
/* json_integer() for an unsigned size; sizes above INT64_MAX are clamped. */
json_t *mk_json_u64(uint64_t v);
/* A JSON string of (len) bytes that need not be UTF-8 (file names, grub.cfg): bytes that do
 * not form valid UTF-8, and NULs, become '?'. */
json_t *mk_json_text(const char *s, size_t len);

/* Adds a problem (printf-style, one line); a line already listed is not repeated. Returns
 * MK_OK or MK_ENOMEM. */
int mk_inspect_problem(struct mk_inspect *in, const char *fmt, ...) MK_PRINTF(2, 3);

/* What a grub.cfg boots: the first multiboot/multiboot2 line of the file and the module
 * lines that follow it in the same entry. Paths are as GRUB resolves them on the root
 * device: a leading "(hd0,msdos1)" or "($root)" is dropped. */
struct mk_cfg_boot {
    char *kernel;      /* NULL when there is no multiboot line */
    int command;       /* 1 = multiboot, 2 = multiboot2 */
    char **modules;
    size_t n_modules;
};
int mk_inspect_parse_cfg(struct mk_ctx *ctx, const char *cfg, struct mk_cfg_boot *ret);
void mk_cfg_boot_release(struct mk_cfg_boot *b);

/* Whether (buf) holds a valid multiboot v1 header in its first 8 KiB. */
int mk_inspect_has_mb1(const uint8_t *buf, size_t len);

/* The filesystem at [in->fs_off, +fs_size): "filesystem", "files", "grub_cfg", "kernel".
 * Damage becomes problems; fails only on MK_ENOMEM or MK_ECANCELED. */
int mk_inspect_fs(struct mk_inspect *in);

/* mk_inspect_path() in this process; mk_inspect_path() itself runs it in a child with limits
 * (inspect_isolated.c). The fuzzers call this one. */
int mk_inspect_path_here(struct mk_ctx *ctx, const char *path, unsigned flags, char **ret_json,
                         int *ret_problems);
/* The same for the image open as (fd), which it takes (closes); (name) is its path, in the
 * report and in messages. With MK_INSPECT_DEEP and (export_fd) >= 0, --deep goes only as far
 * as copying the disk into (export_fd) and filling (*ret_deep) (else left empty): the rest
 * reads nothing of the image and runs in the parent, mk_inspect_deep(). */
int mk_inspect_fd_here(struct mk_ctx *ctx, int fd, const char *name, unsigned flags,
                       int export_fd, char **ret_json, int *ret_problems,
                       struct mk_deep_request *ret_deep);

/* --deep's first half, in whichever process reads the image: the disk copied raw into (fd),
 * and in->deep made ready. */
int mk_inspect_deep_export(struct mk_inspect *in, int fd);
/* The parent's reading of the isolated child's answer (inspect_isolated.c): checked, as it
 * comes from a process that read hostile bytes; with (raw_path) and a disk the child
 * exported, --deep's second half runs on it. */
int mk_inspect_answer(struct mk_ctx *ctx, const struct mk_buf *answer, const char *raw_path,
                      char **ret_json, int *ret_problems);
/* --deep's second half: the "deep" section, libguestfs's view of the disk copied at
 * (raw_path) (removed once the appliance holds it open), compared with in->root and
 * in->deep. MK_EUNSUPPORTED when the library was built without libguestfs. */
int mk_inspect_deep(struct mk_inspect *in, const char *raw_path);
/* Both halves in this process, through a scratch copy (mk_inspect() of a caller's disk). */
int mk_inspect_deep_here(struct mk_inspect *in);
/* MK_OK when --deep is available, else MK_EUNSUPPORTED with a message, before any work. */
int mk_inspect_deep_check(struct mk_ctx *ctx);

#endif
