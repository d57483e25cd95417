/* spec.c: loading an image spec (YAML) into build options, outputs and upload targets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef MK_HAVE_YAML
#include <yaml.h>
#endif

#include "spec_private.h"
#include "yaml_limits.h"

#define SPEC_MAX (1u << 20)

int mk_spec_error(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc,
                  const char *fmt, ...)
{
    char msg[MK_ERRMSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mk_set_error(ctx, MK_ECONFIG, "%s:%u:%u: %s", spec->path, loc.line, loc.col, msg);
}

int mk_spec_error_at(struct mk_ctx *ctx, const struct mk_spec *spec, struct mk_spec_loc loc)
{
    return mk_error_prefix(ctx, "%s:%u:%u", spec->path, loc.line, loc.col);
}

size_t mk_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    /* Hints are for short key names; anything longer is simply "far". */
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = MK_MIN(best, up + 1);
            best = MK_MIN(best, row[j - 1] + 1);
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* ---- accessors ---- */

const char *mk_spec_path(const struct mk_spec *spec)
{
    return spec->path;
}

const struct mk_build_opts *mk_spec_build_opts(const struct mk_spec *spec)
{
    return &spec->opts;
}

const struct mk_pack_opts *mk_spec_pack_opts(const struct mk_spec *spec)
{
    return &spec->pack;
}

size_t mk_spec_n_outside(const struct mk_spec *spec)
{
    return spec->n_outside;
}

const char *mk_spec_outside(const struct mk_spec *spec, size_t i)
{
    return i < spec->n_outside ? spec->outside[i] : NULL;
}

size_t mk_spec_n_outputs(const struct mk_spec *spec)
{
    return spec->n_outputs;
}

const char *mk_spec_output(const struct mk_spec *spec, size_t i, enum mk_format *ret_fmt)
{
    if (i >= spec->n_outputs)
        return NULL;
    if (ret_fmt)
        *ret_fmt = spec->outputs[i].fmt;
    return spec->outputs[i].path;
}

size_t mk_spec_n_targets(const struct mk_spec *spec)
{
    return spec->n_targets;
}

const char *mk_spec_target_name(const struct mk_spec *spec, size_t i)
{
    return i < spec->n_targets ? spec->targets[i].name : NULL;
}

const char *mk_spec_target_type(const struct mk_spec *spec, size_t i)
{
    return i < spec->n_targets ? spec->targets[i].type : NULL;
}

size_t mk_spec_target_n_options(const struct mk_spec *spec, size_t i)
{
    return i < spec->n_targets ? spec->targets[i].n_opts : 0;
}

void mk_spec_target_option(const struct mk_spec *spec, size_t i, size_t j, const char **ret_key,
                           const char **ret_value)
{
    const struct mk_spec_option *o = NULL;

    if (i < spec->n_targets && j < spec->targets[i].n_opts)
        o = &spec->targets[i].opts[j];
    if (ret_key)
        *ret_key = o ? o->key : NULL;
    if (ret_value)
        *ret_value = o ? o->value : NULL;
}

void mk_spec_free(struct mk_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_strings; i++) {
        mk_wipe(spec->strings[i], strlen(spec->strings[i]));
        free(spec->strings[i]);
    }
    free(spec->strings);
    for (size_t i = 0; i < spec->n_targets; i++)
        free(spec->targets[i].opts);
    free(spec->targets);
    free(spec->outputs);
    free(spec->args);
    free(spec->modules);
    free(spec->files);
    free(spec->module_locs);
    free(spec->file_locs);
    free(spec->outside);
    free(spec->path);
    free(spec);
}
#ifndef MK_HAVE_YAML

int mk_spec_load(struct mk_ctx *ctx, const char *path, struct mk_spec **ret)
{
    return mk_set_error(ctx, MK_EUNSUPPORTED,
                        "spec '%s': this build has no YAML support (rebuild with libyaml)", path);
}

#else

static int parse_root(struct mk_spec_parser *p, yaml_node_t *root)
{
    enum { VERSION, IMAGE, OUTPUT, PACK, TARGETS, N };
    static const char *const keys[] = {"version", "image", "output", "pack", "targets"};
    yaml_node_t *v[N];
    int r;

    if (!root)
        return mk_spec_error(p->ctx, p->spec, (struct mk_spec_loc){1, 1},
                             "the spec is empty (it needs at least image: {kernel: FILE})");
    if (root->type != YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(root),
                             "the spec must be a map with image, output and targets, not %s",
                             mk_spec_node_kind(root));
    if ((r = mk_spec_check_map(p, root, "at the top level", keys, N, v)) < 0)
        return r;
    if (v[VERSION] &&
        (v[VERSION]->type != YAML_SCALAR_NODE || strcmp(mk_spec_text(v[VERSION]), "1")))
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(v[VERSION]),
                             "unsupported version (this program reads version 1)");
    if (!v[IMAGE])
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(root),
                             "missing key 'image' (the image to build: image: {kernel: FILE})");
    if ((r = mk_spec_parse_image(p, v[IMAGE])) < 0)
        return r;
    if (v[OUTPUT] && (r = mk_spec_parse_output(p, v[OUTPUT])) < 0)
        return r;
    if (v[PACK] && (r = mk_spec_parse_pack(p, v[PACK])) < 0)
        return r;
    if (v[TARGETS] && (r = mk_spec_parse_targets(p, v[TARGETS])) < 0)
        return r;
    return MK_OK;
}

static void wipe_document(yaml_document_t *doc)
{
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE)
            mk_wipe(n->data.scalar.value, n->data.scalar.length);
    yaml_document_delete(doc);
}

/* libyaml stops at the first document; a second one would be silently ignored. */
static int check_single(struct mk_ctx *ctx, struct mk_spec *spec, yaml_parser_t *parser)
{
    yaml_document_t extra;
    int r = MK_OK;

    if (!yaml_parser_load(parser, &extra))
        return mk_spec_error(ctx, spec,
                             (struct mk_spec_loc){(unsigned)parser->problem_mark.line + 1,
                                                  (unsigned)parser->problem_mark.column + 1},
                             "invalid YAML: %s",
                             parser->problem ? parser->problem : "syntax error");
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root)
        r = mk_spec_error(ctx, spec, mk_spec_node_loc(root),
                          "a second YAML document: the spec must be one document");
    wipe_document(&extra);
    return r;
}

int mk_spec_load(struct mk_ctx *ctx, const char *path, struct mk_spec **ret)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_spec *spec;
    yaml_parser_t parser;
    yaml_document_t doc;
    bool loaded = false;
    int r;

    if ((r = mk_buf_read_file(ctx, &b, path, SPEC_MAX)) < 0)
        return mk_error_prefix(ctx, "spec");
    if (!(spec = calloc(1, sizeof(*spec))) || !(spec->path = strdup(path))) {
        free(spec);
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    spec->opts.mtime = -1;
    struct mk_spec_parser p = {.ctx = ctx, .spec = spec, .doc = &doc};
    const char *slash = strrchr(path, '/');
    p.dir = strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
    if (!p.dir || !yaml_parser_initialize(&parser)) {
        free(p.dir);
        mk_buf_release(&b);
        mk_spec_free(spec);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.buf, b.len);
    if ((r = mk_yaml_precheck(ctx, path, b.buf, b.len)) < 0) {
        /* the message names the file and line */
    } else if (!yaml_parser_load(&parser, &doc)) {
        const char *ctx_text = parser.context ? parser.context : "";
        r = mk_spec_error(ctx, spec,
                          (struct mk_spec_loc){(unsigned)parser.problem_mark.line + 1,
                                               (unsigned)parser.problem_mark.column + 1},
                          "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                          *ctx_text ? " " : "", ctx_text);
    } else {
        loaded = true;
        r = mk_yaml_check_document(ctx, path, &doc);
        if (r == MK_OK)
            r = parse_root(&p, yaml_document_get_root_node(&doc));
        if (r == MK_OK)
            r = check_single(ctx, spec, &parser);
    }
    if (loaded)
        wipe_document(&doc);
    yaml_parser_delete(&parser);
    mk_wipe(b.buf, b.len);
    mk_buf_release(&b);
    free(p.dir);
    free(p.real_dir);
    if (r < 0) {
        mk_spec_free(spec);
        return r;
    }
    *ret = spec;
    return MK_OK;
}

#endif
