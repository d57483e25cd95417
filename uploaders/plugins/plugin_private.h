/* plugin_private.h: external uploaders (executables unikernel-mkimage-uploader-NAME on PATH),
 * shared by their lookup (plugin.c) and the hooks that run them (plugin_run.c). The protocol
 * is documented in PLUGINS.md. */
#ifndef MK_PLUGIN_PRIVATE_H
#define MK_PLUGIN_PRIVATE_H

#include <sys/types.h>

#include "uploader.h"

#define MK_PLUGIN_PREFIX "unikernel-mkimage-uploader-"
#define MK_PLUGIN_PROTOCOL 1
/* describe answers quickly or not at all; an upload has no deadline but cancellation. */
#define MK_PLUGIN_DESCRIBE_TIMEOUT 30.0

struct mk_plugin {
    struct mk_uploader u; /* first, so that the hooks can find the rest from (u) */
    char *name;
    char *path;
    char *description;
    char *usage;
    struct mk_uploader_option *options; /* from `describe`, or NULL */
    char *describe_error; /* why `describe` failed, or NULL */
    struct mk_plugin *next;
};

/* A running plugin process and our ends of its pipes (-1 when closed). */
struct mk_plugin_proc {
    const struct mk_plugin *plugin;
    pid_t pid;     /* 0 once reaped */
    int status;    /* its wait status, once reaped */
    int in_fd;     /* its stdin */
    int data_fd;   /* its fd 3: the artefact */
    int out_fd;    /* its stdout: the JSON result */
    int err_fd;    /* its stderr: progress and messages */
    struct mk_buf out;
    bool out_overflow;
    char line[512]; /* the stderr line being assembled */
    size_t line_len;
    char last_line[256]; /* the last stderr line that was not progress, for error messages */
    /* Progress lines are reported as phase "upload" when true, else as phase "plugin" (while
     * the artefact streams, our own count of bytes is the upload's progress). */
    bool own_progress;
};

/* Starts (p) with (verb) and the extra environment (env, NULL-terminated "K=V" strings).
 * With (with_input), it gets a pipe on stdin and one on fd 3; else /dev/null on both. */
int mk_plugin_spawn(struct mk_ctx *ctx, const struct mk_plugin *p, const char *verb,
                    const char *const *env, bool with_input, struct mk_plugin_proc *pr);
/* Writes (len) bytes to (*wfd), one of the pipes above, while reading stdout and stderr.
 * MK_OK when all is written; MK_PLUGIN_EPIPE when the plugin closed its end (then *wfd is
 * closed too); a negative code on error or cancellation. */
#define MK_PLUGIN_EPIPE 1
int mk_plugin_pump(struct mk_ctx *ctx, struct mk_plugin_proc *pr, int *wfd, const void *buf,
                   size_t len);
/* Reads its stdout and stderr until both are closed and reaps it. (timeout) in seconds,
 * 0 = none; when it passes the process is killed and MK_ETIMEOUT returned. Honours
 * cancellation when (cancellable). */
int mk_plugin_wait(struct mk_ctx *ctx, struct mk_plugin_proc *pr, double timeout,
                   bool cancellable);
/* Kills (signal) and reaps the process if still running; closes every pipe. Keeps the
 * error on (ctx). */
void mk_plugin_stop(struct mk_ctx *ctx, struct mk_plugin_proc *pr, double grace);

/* The hooks every plugin shares (plugin_run.c); plugin.c copies them into each mk_plugin. */
extern const struct mk_uploader mk_plugin_hooks;

/* The plugin serving (name), running its `describe` the first time; NULL when there is no
 * executable unikernel-mkimage-uploader-NAME on PATH. Thread-safe; the result lives as long
 * as the process. */
const struct mk_uploader *mk_plugin_find(const char *name);

#endif
