/* uploader.h: the interface every cloud uploader implements.
 *
 * An uploader is a const table of hooks (in the style of libarchive's formats), listed in
 * registry.c. The driver (upload.c, behind mk_upload_* in mkimage.h) calls, in order:
 *   new -> set_option* -> prepare -> write* -> finish -> free
 * (write* -> finish again from the first byte when restart says so), and on any failure
 * after prepare: abort -> free. A new cloud is one new file set and one
 * line in registry.c. */
#ifndef MK_UPLOADER_H
#define MK_UPLOADER_H

#include "disk_private.h"

/* What is about to be uploaded. */
struct mk_upload_info {
    enum mk_format format;   /* of the byte stream that write() will receive */
    uint64_t stream_size;    /* bytes write() will receive in all; 0 = not known in advance */
    uint64_t disk_size;      /* the virtual disk size */
    const char *source_name; /* the artefact's file name, or the kernel's for a build */
    /* A stable identity of the bytes to come (the same bytes give the same id), so that an
     * interrupted upload can be recognised and resumed. */
    const char *source_id;
    /* For pre-flight checks: the artefact file when uploading one, else NULL. */
    const char *source_path;
    /* mk_upload_remote(): no write() follows; the options name data already on the cloud. */
    bool remote;
};

/* One option an uploader takes. The command line reads (arg) to know whether --NAME
 * consumes the next word; `push --list` shows the table (mk_uploader_options_text). */
struct mk_uploader_option {
    const char *name; /* "project", without dashes */
    const char *arg;  /* its value in the help ("P"); NULL for a flag */
    const char *help; /* what it does; "\n" starts a continuation line; NULL hides an alias */
    bool repeat;      /* may be given more than once */
};

struct mk_uploader {
    const char *name;        /* "gce" */
    const char *description; /* one line for `push --list` */
    /* The options it takes, terminated by an entry without a name; NULL for none known. */
    const struct mk_uploader_option *options;
    /* Keys not in (options) still go to set_option, taking a value (external uploaders,
     * which judge their options themselves). */
    bool other_options;
    /* The uploader reports "upload" progress itself, counting bytes on the wire (not those
     * merely handed to write()): those the server acknowledged, plus those of the request
     * under way; after a failure, and when it gives up, back to what the server holds. */
    bool reports_progress;
    /* It can make an image from data already on the cloud (mk_upload_remote): prepare
     * then gets info->remote, and finish follows with no write. */
    bool takes_remote;
    /* The options as text for `help push`; when NULL, made from (options). */
    const char *usage;
    /* The formats it accepts, best first, terminated by 0. */
    enum mk_format formats[4];
    /* Required. Allocates the uploader's state. */
    int (*create)(struct mk_ctx *ctx, void **ret_state);
    /* Optional, used instead of create when set: for uploaders made at run time (external
     * plugins, plugin_run.c), whose state depends on which table they are. */
    int (*create_for)(struct mk_ctx *ctx, const struct mk_uploader *u, void **ret_state);
    /* Required. Sets one option ("project", "bucket", "label" repeated...). Returns
     * MK_EUNSUPPORTED for a key it does not know, MK_EINVAL for a bad value. */
    int (*set_option)(struct mk_ctx *ctx, void *state, const char *key, const char *value);
    /* Optional. Called before prepare with (info->format) as told by the artefact's bytes
     * (or, for a build, the first of (formats)); sets (*want) to the format write() is to
     * receive, which the driver then makes on the fly (raw or qcow2 from any disk). May ask
     * the cloud what it accepts; its local checks come before any network request. */
    int (*choose_format)(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info,
                         enum mk_format *want);
    /* Required. Checks options, credentials and names, and that nothing on the server is
     * in the way, before any data is sent. */
    int (*prepare)(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info);
    /* Required. Receives the artefact's bytes in order. */
    int (*write)(struct mk_ctx *ctx, void *state, const void *buf, size_t len);
    /* Optional, called instead of write() when the artefact is a regular file sent as it
     * is: the uploader reads (fd), (size) bytes, itself, from whatever offset it needs, so
     * that a retry or a resumed upload reads the file again instead of holding the bytes
     * the server has not acknowledged. (fd) stays open until finish() returns; the driver
     * closes it. */
    int (*write_file)(struct mk_ctx *ctx, void *state, int fd, uint64_t size);
    /* Required. Completes the upload, creates the image and waits until it is usable;
     * appends a JSON object describing the result to (result). */
    int (*finish)(struct mk_ctx *ctx, void *state, struct mk_buf *result);
    /* Optional. Called when write(), write_file() or finish() has failed (never after a
     * cancellation): MK_OK when sending the whole stream again can fix that failure (a
     * token the server refused, renewed since) and the uploader is ready to receive it
     * from its first byte; the driver then sends it again (write() from the first byte, or
     * write_file() once more) and calls finish(). Otherwise a negative code, leaving the
     * error on (ctx) as it is unless trying failed in a new way. The driver asks at most
     * twice per upload. */
    int (*restart)(struct mk_ctx *ctx, void *state);
    /* Required. Removes whatever a failed upload left on the server. Must not overwrite the
     * error already on (ctx). */
    void (*abort)(struct mk_ctx *ctx, void *state);
    /* Required. Frees the state; accepts what a failed create() left. */
    void (*destroy)(void *state);
};

/* Checks that the file at (path) is a disk a cloud can boot, by its bytes only: a raw disk
 * with an MBR or a GPT, a qcow2 without a backing file, or a GCE archive. Empty files,
 * VMDK, VHD, VHDX, VDI and qcow2 overlays get one line (MK_EFORMAT). disk_kind.c. */
int mk_upload_check_file(struct mk_ctx *ctx, const char *path);

/* mk_upload_new() for an uploader table of the caller's (upload.c). */
int mk_upload_new_for(struct mk_ctx *ctx, const struct mk_uploader *u, struct mk_upload **ret);

/* NULL-terminated, in registry.c. */
extern const struct mk_uploader *const mk_uploaders[];
const struct mk_uploader *mk_uploader_find(const char *name);
/* The external uploader (an executable unikernel-mkimage-uploader-NAME on PATH) serving a
 * name that is not built in, or NULL (plugin.c). mk_uploader_find() falls back to it. */
const struct mk_uploader *mk_plugin_find(const char *name);
/* (opts) as help text, one "  --name ARG   help" line each (registry.c); malloc'ed, NULL
 * when out of memory. */
char *mk_uploader_options_text(const struct mk_uploader_option *opts);
/* Called before credentials are read: from then on jansson wipes what it frees and the
 * process cannot be dumped (secrets.c). Idempotent and thread-safe. */
void mk_hold_secrets(void);

#endif
