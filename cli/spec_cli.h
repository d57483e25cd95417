/* spec_cli.h: using an image spec (unikernel-mkimage.yaml) from the commands. */
#ifndef MK_CLI_SPEC_H
#define MK_CLI_SPEC_H

#include "build_args.h"

/* What `build` was told on its command line besides the image description. */
struct cli_spec_build {
    const char *spec_path;   /* --spec, or NULL for ./unikernel-mkimage.yaml */
    const char *kernel;      /* KERNEL, or NULL for the spec's */
    bool kargs_given;        /* a "--" was given: its words replace the spec's args */
    const char *output;      /* -o, replacing the spec's outputs */
    const char *format_name; /* -f: the format of -o, or which of the spec's outputs */
    struct mk_pack_opts pack;
    bool quiet, verbose, json, print_config;
    bool allow_outside; /* --allow-outside-spec */
    bool device;        /* --device: an output may be a block device, written in place */
};

/* True when ./unikernel-mkimage.yaml exists, so a command without KERNEL uses it. */
bool cli_spec_default_exists(void);
/* The spec to use: (given), else the default one, else NULL after a usage error. */
const char *cli_spec_choose(const char *command, const char *given);
/* Loads the spec at (path) and lays the command line's image options (a->opts, with the
 * kernel and its words when given) over it, into (a->opts). The spec must outlive (a). */
int cli_spec_overlay(struct mk_ctx *ctx, const char *path, struct cli_build_args *a,
                     const char *kernel, bool kargs_given, struct mk_spec **ret);
/* The spec's paths that leave its folder (mk_spec_outside()): refused with one error listing
 * them unless (allowed); when allowed, shown as warnings (unless quiet) before anything is
 * written. A flag and not a key in the spec, because the spec may not be the user's (one
 * found in the current folder, say a cloned repository's). Returns an exit status. */
int cli_spec_check_outside(const struct mk_spec *spec, bool allowed, bool quiet);
/* `build` with a spec: builds once and writes every output. Returns an exit status. */
int cli_build_spec(struct cli_build_args *a, const struct cli_spec_build *b);

#endif
