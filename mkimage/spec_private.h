/* spec_private.h: the loaded form of an image spec, shared by its loader and its checks. */
#ifndef MK_SPEC_PRIVATE_H
#define MK_SPEC_PRIVATE_H

#include "mk_private.h"

/* A place in the spec file, 1-based, for messages. */
struct mk_spec_loc {
    unsigned line, col;
};

struct mk_spec_option {
    const char *key;
    const char *value;
    struct mk_spec_loc loc;
};

struct mk_spec_target {
    const char *name;
    const char *type;
    struct mk_spec_loc loc;      /* of the target's name */
    struct mk_spec_loc type_loc;
    struct mk_spec_option *opts;
    size_t n_opts;
};

struct mk_spec_output {
    const char *path;
    enum mk_format fmt;
    struct mk_spec_loc loc;
};

struct mk_spec {
    char *path;
    struct mk_build_opts opts;
    struct mk_pack_opts pack;
    const char **args;
    struct mk_module *modules;
    struct mk_extra_file *files;
    struct mk_spec_output *outputs;
    size_t n_outputs;
    struct mk_spec_target *targets;
    size_t n_targets;
    /* Where things were written, for the messages of mk_spec_validate(). */
    struct mk_spec_loc image_loc, kernel_loc, template_loc, size_loc;
    struct mk_spec_loc *module_locs, *file_locs;
    /* Every string the spec owns, wiped and freed with it. */
    char **strings;
    size_t n_strings;
};

/* Sets a MK_ECONFIG error "PATH:LINE:COL: message". */
int mk_spec_error(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc,
                  const char *fmt, ...) MK_PRINTF(4, 5);
/* Prefixes the current error with "PATH:LINE:COL: ", keeping its code. */
int mk_spec_error_at(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc);
/* Edit distance, for "did you mean" hints. */
size_t mk_levenshtein(const char *a, const char *b);

#endif
