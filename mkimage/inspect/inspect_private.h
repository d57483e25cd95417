/* inspect_private.h: what the parts of `inspect` (inspect*.c) share. */
#ifndef MK_INSPECT_PRIVATE_H
#define MK_INSPECT_PRIVATE_H

#include <jansson.h>

#include "disk_private.h"

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
    /* Files read through ext2 that --deep reads again through libguestfs. */
    char **read_paths;
    struct mk_buf *read_data;
    size_t n_read;
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

/* The "deep" section: libguestfs's view of the same disk. MK_EUNSUPPORTED when the
 * library was built without it. */
int mk_inspect_deep(struct mk_inspect *in);
/* MK_OK when --deep is available, else MK_EUNSUPPORTED with a message, before any work. */
int mk_inspect_deep_check(struct mk_ctx *ctx);

#endif
