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
    struct mk_spec_loc loc; /* of the target's name */
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
    /* The paths that leave the spec's folder, described for the user ("'kernel' in image
     * at line 3: /etc/shadow"); the strings are among (strings). */
    const char **outside;
    size_t n_outside;
    /* Every string the spec owns, wiped and freed with it. */
    char **strings;
    size_t n_strings;
};

/* Sets a MK_ECONFIG error "PATH:LINE:COL: message". */
int mk_spec_error(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc,
                  const char *fmt, ...) MK_PRINTF(4, 5);
/* Prefixes the current error with "PATH:LINE:COL: ", keeping its code. */
int mk_spec_error_at(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc);
/* Checks the image a spec describes (kernel, modules, files, template, output folders); the
 * targets are the uploaders' to check (mk_spec_validate() in uploaders/spec_targets.c). */
int mk_spec_check_image(struct mk_ctx *ctx, const struct mk_spec *spec);
/* Edit distance, for "did you mean" hints. */
size_t mk_levenshtein(const char *a, const char *b);

#ifdef MK_HAVE_YAML
#include <yaml.h>

/* ---- Loading, shared by spec.c, spec_yaml.c and spec_sections.c. ---- */

struct mk_spec_parser {
    struct mk_ctx *ctx;
    struct mk_spec *spec;
    yaml_document_t *doc;
    char *dir; /* the spec's folder with its trailing '/'; "" for the current one */
    char *real_dir; /* the same, resolved (realpath), once a path needs it */
};

static inline struct mk_spec_loc mk_spec_node_loc(const yaml_node_t *n)
{
    return (struct mk_spec_loc){.line = (unsigned)n->start_mark.line + 1,
                                .col = (unsigned)n->start_mark.column + 1};
}

/* "a string", "a list" or "a map", for messages. */
static inline const char *mk_spec_node_kind(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE     ? "a string"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a map";
}

static inline const char *mk_spec_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline yaml_node_t *mk_spec_node(struct mk_spec_parser *p, yaml_node_item_t item)
{
    return yaml_document_get_node(p->doc, item);
}

static inline size_t mk_spec_seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* A list's length, or 1 for a single item standing for a list of one. */
static inline size_t mk_spec_items(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE ? mk_spec_seq_len(n) : 1;
}

static inline yaml_node_t *mk_spec_item(struct mk_spec_parser *p, yaml_node_t *n, size_t i)
{
    return n->type == YAML_SEQUENCE_NODE ? mk_spec_node(p, n->data.sequence.items.start[i]) : n;
}

/* YAML's null: an empty or ~/null plain scalar, which the spec reads as "not given". */
bool mk_spec_is_null(const yaml_node_t *n);
int mk_spec_nomem(struct mk_spec_parser *p);
/* Hands (s) to the spec, which wipes and frees it; frees (s) on failure. */
int mk_spec_keep(struct mk_spec_parser *p, char *s, const char **ret);
/* The scalar's text with ${VAR}, ${VAR:-default} and $$ expanded; (what) names the value in
 * messages ("'kernel' in image"). */
int mk_spec_expand(struct mk_spec_parser *p, const yaml_node_t *n, const char *what,
                   const char **ret);
int mk_spec_want_string(struct mk_spec_parser *p, const yaml_node_t *n, const char *what,
                        const char **ret);
/* What a spec's path is for, which decides how it may leave the spec's folder. */
enum mk_spec_path_use {
    MK_SPEC_KERNEL, /* read, and refused unless it is a multiboot kernel */
    MK_SPEC_INPUT,  /* read into the image as it is (modules, files, a template) */
    MK_SPEC_OUTPUT, /* written */
};
/* As mk_spec_want_string(), resolved against the spec's folder; a path that leaves it
 * (absolute, climbing out with .., or through a symbolic link) is added to spec->outside. */
int mk_spec_want_path(struct mk_spec_parser *p, const yaml_node_t *n, enum mk_spec_path_use use,
                      const char *what, const char **ret);
int mk_spec_want_map(struct mk_spec_parser *p, const yaml_node_t *n, const char *what);
int mk_spec_want_int(struct mk_spec_parser *p, yaml_node_t *n, const char *what, int lo, int hi,
                     int *ret);
int mk_spec_want_bool(struct mk_spec_parser *p, yaml_node_t *n, const char *what, int *ret);
/* " (did you mean 'x'?)" or " (known: a, b)" into (out). */
void mk_spec_suggest(char *out, size_t size, const char *key, const char *const *known, size_t n);
/* Checks the keys of (map): strings, no duplicates, and when (known) is given, only those;
 * (values)[i] receives the value of known[i] (NULL when absent or null). (where) says where
 * the map is in messages ("in image"). */
int mk_spec_check_map(struct mk_spec_parser *p, const yaml_node_t *map, const char *where,
                      const char *const *known, size_t n_known, yaml_node_t **values);

int mk_spec_parse_image(struct mk_spec_parser *p, yaml_node_t *n);
int mk_spec_parse_output(struct mk_spec_parser *p, yaml_node_t *n);
int mk_spec_parse_pack(struct mk_spec_parser *p, yaml_node_t *n);
int mk_spec_parse_targets(struct mk_spec_parser *p, yaml_node_t *n);
#endif

#endif
