/* cli.h: what the command-line front end's files share. */
#ifndef MK_CLI_H
#define MK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <unikernel-mkimage/mkimage.h>

#include "output.h"

/* Exit statuses, documented in the README and the man page. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,  /* the work failed, or a check it was asked for did not pass */
    CLI_EXIT_USAGE = 2, /* the command line is wrong */
    CLI_EXIT_INTERRUPTED = 130, /* Ctrl-C (128 + SIGINT), as shells report it */
};

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full help text, printed by --help and `help NAME` */
};

extern const char *cli_progname;

/* "unikernel-mkimage: error: MESSAGE" on stderr, one line. Returns CLI_EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The context's message as an error. Returns CLI_EXIT_FAIL, or CLI_EXIT_INTERRUPTED (with
 * "interrupted" and cli_out.interrupt_hint) when the context was cancelled. */
int cli_ctx_error(struct mk_ctx *ctx);
/* A usage error naming the command, with a hint to --help. Returns CLI_EXIT_USAGE. */
/* Splits (arg), a "--KEY" or "--KEY=VALUE" argument, into (key) of (size) bytes and the text
 * after '=' (*ret_inline, NULL without one); false when the key does not fit (then (key)
 * holds as much of it as fits). */
bool cli_option_key(const char *arg, char *key, size_t size, const char **ret_inline);
/* The value of option (key) at argv[*i]: (inline_value), else, when (arity) says it takes
 * one, the next argument (*i moves past it); a usage error (exit 2) when it is missing. */
int cli_option_value(const char *where, const char *key, int arity, const char *inline_value,
                     int argc, char **argv, int *i, const char **ret);
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a command's help to (f). */
void cli_print_help(const struct cli_command *cmd, FILE *f);
const struct cli_command *cli_find_command(const char *name);
/* The candidate closest to (word) by edit distance, when close enough to be a typo; NULL
 * otherwise. (candidates) ends with NULL. */
const char *cli_did_you_mean(const char *word, const char *const *candidates);
/* A context whose log messages go to stderr (warnings and errors only unless verbose); it
 * may use the block devices cli_allow_device() recorded. */
struct mk_ctx *cli_ctx_new(bool verbose);
/* --device: (path), named on the command line, may be a block device that is read or
 * written in place; every context made after this allows it when it is one. */
void cli_allow_device(const char *path);
/* Lets (ctx), made without cli_ctx_new(), use those devices too. */
void cli_ctx_allow_devices(struct mk_ctx *ctx);
/* Whether (path) is a block device (through any symbolic link). */
bool cli_is_block_device(const char *path);
/* Without --device (device false), a block device named on the command line as (what) is
 * refused saying what --device would do with it ("read it in place"): exit status 1; else 0. */
int cli_refuse_device(const char *path, bool device, const char *what, const char *would);
/* Makes SIGINT/SIGTERM cancel (ctx) instead of killing the process, so that temporary
 * files are removed and child processes stopped. */
void cli_cancel_on_signals(struct mk_ctx *ctx);
/* Whether such a signal came, for the CLI's own loops (hashing a file). */
bool cli_was_interrupted(void);
/* "interrupted; (what)" as the result: exit status 130. */
int cli_interrupted_error(const char *what);

/* When (kernel) has a Solo5 manifest: prints its devices and, as a note, why GCE's machine
 * would make it abort. Silent for other kernels. */
void cli_show_solo5_manifest(struct mk_ctx *ctx, const char *kernel);
/* The manifest in inspect's JSON document (root), as inspect put it there: 1 found, 0 not. */
struct json_t;
int cli_solo5_manifest_from_inspect(struct json_t *root, struct mk_solo5_manifest *m);
/* "unikernel-mkimage: Solo5 manifest: NET_BASIC 'service', ..." on stderr. */
void cli_print_solo5_devices(const struct mk_solo5_manifest *m);
/* The Solo5 manifest of a kernel file, or of the kernel an image boots: 1 found, else 0. */
int cli_read_solo5_manifest(struct mk_ctx *ctx, const char *file, bool is_kernel,
                            struct mk_solo5_manifest *m);
/* What an OpenStack image's options say its machine will be: the preset's disk bus and NIC
 * model, overridden by property hw_disk_bus=... and hw_vif_model=... as the uploader does.
 * Zero-initialise, then give it each (key, value) option of the target in order. */
struct cli_target_machine {
    const char *disk_bus, *vif_model;
    const char *prop_disk_bus, *prop_vif_model;
    char props[2][64];
};
void cli_note_machine_option(struct cli_target_machine *t, const char *key, const char *value);
/* Warns when (cloud)'s machine will make the unikernel abort: GCE's one virtio-net NIC;
 * OpenStack's disk bus and NIC model (NULL: Nova's default, virtio). (target) names a
 * spec's target in the warning, or is NULL. */
void cli_warn_solo5_target(const struct mk_solo5_manifest *m, const char *target,
                           const char *cloud, const char *disk_bus, const char *vif_model);
/* Reports the file build or pack wrote (report_written.c): format, disk size (rounded
 * when --round-up grew it), bytes of data, file size and SHA-256 (a raw file only when
 * (hash_raw)), as a line on stderr or the JSON result. Returns an exit status. */
int cli_report_written(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                       const struct mk_pack_opts *pack, const char *output, bool hash_raw);

/* The SHA-256 of a file's bytes as 64 hex digits; -1 when it cannot be read, -2 when a
 * signal stopped it (cli_was_interrupted()). */
int cli_file_sha256(const char *path, char hex[65]);
/* The default image name of a push (default_name.c): the unikernel's name (the kernel's, or
 * the first module's under the hermit template, read from grub.cfg for an archive) and 8 hex
 * digits of the content's hash, so that the next release does not collide. NULL when no name
 * can be made. */
char *cli_default_image_name(const char *file, const struct mk_build_opts *o,
                             const char *build_id);

/* Runs as Solo5's solo5-virtio-mkimage script (solo5_compat.c). */
int cli_solo5_compat(int argc, char **argv);

int cmd_build(int argc, char **argv);
extern const char cmd_build_usage[];
int cmd_inspect(int argc, char **argv);
extern const char cmd_inspect_usage[];
int cmd_boot(int argc, char **argv);
extern const char cmd_boot_usage[];
int cmd_push(int argc, char **argv);
/* Prints `push CLOUD --help`; -1 when CLOUD is unknown. */
int cli_push_cloud_help(const char *cloud, FILE *f);
/* A usage error for an unknown option (arg) of (command), with "did you mean" among
 * (longopts) (getopt's table, ending with a NULL name). Returns CLI_EXIT_USAGE. */
struct option;
int cli_unknown_option(const char *command, const char *arg, const struct option *longopts);
extern const char cmd_push_usage[];
/* One push (argv: "push CLOUD [OPTIONS] FILE [-- ARGS]"); with (ret_result), the result's
 * JSON is handed back (malloc'ed) instead of printed. Returns an exit status. */
int cli_push_one(int argc, char **argv, char **ret_result);
int cmd_deploy(int argc, char **argv);
extern const char cmd_deploy_usage[];
int cmd_run(int argc, char **argv);
extern const char cmd_run_usage[];
int cmd_pack(int argc, char **argv);
extern const char cmd_pack_usage[];
int cmd_validate(int argc, char **argv);
extern const char cmd_validate_usage[];

#endif
