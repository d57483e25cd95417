/* spec_sections.c: the sections of an image spec: image, output, pack and targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_private.h"

#ifdef MK_HAVE_YAML

/* ---- image: ---- */

static int parse_args(struct mk_spec_parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    size_t count = mk_spec_items(n);

    if (n->type == YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, spec, mk_spec_node_loc(n),
                             "'args' in image must be a list of strings or one string, not a map");
    if (!(spec->args = calloc(count + 1, sizeof(*spec->args))))
        return mk_spec_nomem(p);
    for (size_t i = 0; i < count; i++) {
        char what[64];
        int r;
        snprintf(what, sizeof(what), "image.args item %zu", i + 1);
        if ((r = mk_spec_want_string(p, mk_spec_item(p, n, i), what, &spec->args[i])) < 0)
            return r;
    }
    spec->opts.kernel_args = spec->args;
    spec->opts.n_kernel_args = count;
    return MK_OK;
}

static int parse_modules(struct mk_spec_parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"path", "args"};
    struct mk_spec *spec = p->spec;
    size_t count = mk_spec_items(n);
    int r;

    if (!(spec->modules = calloc(count + 1, sizeof(*spec->modules))) ||
        !(spec->module_locs = calloc(count + 1, sizeof(*spec->module_locs))))
        return mk_spec_nomem(p);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *m = mk_spec_item(p, n, i), *v[2];
        char where[64], what[80];

        snprintf(where, sizeof(where), "in image.modules item %zu", i + 1);
        spec->module_locs[i] = mk_spec_node_loc(m);
        if (m->type == YAML_SCALAR_NODE) {
            snprintf(what, sizeof(what), "image.modules item %zu", i + 1);
            r = mk_spec_want_path(p, m, MK_SPEC_INPUT, what, &spec->modules[i].path);
            if (r < 0)
                return r;
            continue;
        }
        if (m->type != YAML_MAPPING_NODE)
            return mk_spec_error(p->ctx, spec, mk_spec_node_loc(m),
                                 "image.modules item %zu must be a "
                                 "path or a map with 'path' and 'args', not %s",
                                 i + 1, mk_spec_node_kind(m));
        if ((r = mk_spec_check_map(p, m, where, keys, 2, v)) < 0)
            return r;
        if (!v[0])
            return mk_spec_error(p->ctx, spec, mk_spec_node_loc(m),
                                 "image.modules item %zu has no 'path'", i + 1);
        snprintf(what, sizeof(what), "'path' %s", where);
        if ((r = mk_spec_want_path(p, v[0], MK_SPEC_INPUT, what, &spec->modules[i].path)) < 0)
            return r;
        snprintf(what, sizeof(what), "'args' %s", where);
        if (v[1] && (r = mk_spec_want_string(p, v[1], what, &spec->modules[i].args)) < 0)
            return r;
    }
    spec->opts.modules = spec->modules;
    spec->opts.n_modules = count;
    return MK_OK;
}

static int parse_files(struct mk_spec_parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"src", "dest"};
    struct mk_spec *spec = p->spec;
    size_t count = mk_spec_items(n);
    int r;

    if (!(spec->files = calloc(count + 1, sizeof(*spec->files))) ||
        !(spec->file_locs = calloc(count + 1, sizeof(*spec->file_locs))))
        return mk_spec_nomem(p);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *f = mk_spec_item(p, n, i), *v[2];
        char where[64], what[80];

        snprintf(where, sizeof(where), "in image.files item %zu", i + 1);
        spec->file_locs[i] = mk_spec_node_loc(f);
        if (f->type != YAML_MAPPING_NODE)
            return mk_spec_error(p->ctx, spec, mk_spec_node_loc(f),
                                 "image.files item %zu must be a map with 'src' and 'dest', not %s",
                                 i + 1, mk_spec_node_kind(f));
        if ((r = mk_spec_check_map(p, f, where, keys, 2, v)) < 0)
            return r;
        for (size_t k = 0; k < 2; k++)
            if (!v[k])
                return mk_spec_error(p->ctx, spec, mk_spec_node_loc(f),
                                     "image.files item %zu has no '%s'", i + 1, keys[k]);
        snprintf(what, sizeof(what), "'src' %s", where);
        if ((r = mk_spec_want_path(p, v[0], MK_SPEC_INPUT, what, &spec->files[i].src)) < 0)
            return r;
        snprintf(what, sizeof(what), "'dest' %s", where);
        if ((r = mk_spec_want_string(p, v[1], what, &spec->files[i].dest)) < 0)
            return r;
    }
    spec->opts.files = spec->files;
    spec->opts.n_files = count;
    return MK_OK;
}

int mk_spec_parse_image(struct mk_spec_parser *p, yaml_node_t *n)
{
    enum { KERNEL, ARGS, TEMPLATE, MODULES, FILES, SIZE, UUID, N };
    static const char *const keys[] = {"kernel", "args", "template", "modules",
                                       "files",  "size", "uuid"};
    struct mk_spec *spec = p->spec;
    yaml_node_t *v[N];
    const char *s;
    int r;

    if ((r = mk_spec_want_map(p, n, "'image'")) < 0 ||
        (r = mk_spec_check_map(p, n, "in image", keys, N, v)) < 0)
        return r;
    spec->image_loc = mk_spec_node_loc(n);
    if (!v[KERNEL])
        return mk_spec_error(p->ctx, spec, mk_spec_node_loc(n), "image has no 'kernel'");
    spec->kernel_loc = mk_spec_node_loc(v[KERNEL]);
    r = mk_spec_want_path(p, v[KERNEL], MK_SPEC_KERNEL, "'kernel' in image", &spec->opts.kernel);
    if (r < 0)
        return r;
    if (v[ARGS] && (r = parse_args(p, v[ARGS])) < 0)
        return r;
    if (v[TEMPLATE]) {
        spec->template_loc = mk_spec_node_loc(v[TEMPLATE]);
        if ((r = mk_spec_want_string(p, v[TEMPLATE], "'template' in image", &s)) < 0)
            return r;
        size_t len = strlen(s);
        /* A name is looked up among the installed templates; a path is the spec's own. */
        if (strchr(s, '/') || (len >= 4 && !strcmp(s + len - 4, ".cfg")))
            r = mk_spec_want_path(p, v[TEMPLATE], MK_SPEC_INPUT, "'template' in image", &s);
        if (r < 0)
            return r;
        spec->opts.template_name = s;
    }
    if (v[MODULES] && (r = parse_modules(p, v[MODULES])) < 0)
        return r;
    if (v[FILES] && (r = parse_files(p, v[FILES])) < 0)
        return r;
    if (v[SIZE]) {
        spec->size_loc = mk_spec_node_loc(v[SIZE]);
        if ((r = mk_spec_want_string(p, v[SIZE], "'size' in image", &s)) < 0)
            return r;
        if (mk_parse_size(p->ctx, s, &spec->opts.disk_size) < 0)
            return mk_spec_error(p->ctx, spec, spec->size_loc, "'size' in image: %s",
                                 mk_errmsg(p->ctx));
        if (!spec->opts.disk_size)
            return mk_spec_error(p->ctx, spec, spec->size_loc, "'size' in image must not be zero");
    }
    if (v[UUID] && (r = mk_spec_want_string(p, v[UUID], "'uuid' in image", &spec->opts.uuid)) < 0)
        return r;
    return MK_OK;
}

/* ---- output:, pack:, targets: ---- */

/* (key) is the format's name in a map of outputs, NULL in a list. */
static int add_output(struct mk_spec_parser *p, yaml_node_t *key, yaml_node_t *n, const char *what)
{
    struct mk_spec *spec = p->spec;
    struct mk_spec_output *o = &spec->outputs[spec->n_outputs];
    int r;

    o->loc = mk_spec_node_loc(n);
    if ((r = mk_spec_want_path(p, n, MK_SPEC_OUTPUT, what, &o->path)) < 0)
        return r;
    if (!key) {
        o->fmt = mk_format_from_path(o->path);
    } else if (mk_format_from_name(p->ctx, mk_spec_text(key), &o->fmt) < 0) {
        static const char *const formats[] = {"raw", "gce", "qcow2"};
        char hint[128];
        mk_spec_suggest(hint, sizeof(hint), mk_spec_text(key), formats, MK_ARRAY_SIZE(formats));
        return mk_spec_error(p->ctx, spec, mk_spec_node_loc(key), "unknown format '%s' in output%s",
                             mk_spec_text(key), hint);
    }
    for (size_t i = 0; i < spec->n_outputs; i++)
        if (!strcmp(spec->outputs[i].path, o->path))
            return mk_spec_error(p->ctx, spec, o->loc,
                                 "output '%s' is listed twice (first at line %u)", o->path,
                                 spec->outputs[i].loc.line);
    spec->n_outputs++;
    return MK_OK;
}

int mk_spec_parse_output(struct mk_spec_parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    bool map = n->type == YAML_MAPPING_NODE;
    size_t count =
        map ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) : mk_spec_items(n);
    int r;

    if (!(spec->outputs = calloc(count + 1, sizeof(*spec->outputs))))
        return mk_spec_nomem(p);
    if (map) {
        if ((r = mk_spec_check_map(p, n, "in output", NULL, 0, NULL)) < 0)
            return r;
        for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
             pair++) {
            yaml_node_t *k = mk_spec_node(p, pair->key), *v = mk_spec_node(p, pair->value);
            char what[96];
            snprintf(what, sizeof(what), "output '%.40s'", mk_spec_text(k));
            if (mk_spec_is_null(v))
                continue;
            if ((r = add_output(p, k, v, what)) < 0)
                return r;
        }
        return MK_OK;
    }
    for (size_t i = 0; i < count; i++) {
        char what[64];
        snprintf(what, sizeof(what), "output item %zu", i + 1);
        if ((r = add_output(p, NULL, mk_spec_item(p, n, i), what)) < 0)
            return r;
    }
    return MK_OK;
}
int mk_spec_parse_pack(struct mk_spec_parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"jobs", "level", "round-up"};
    yaml_node_t *v[3];
    int r;

    if ((r = mk_spec_want_map(p, n, "'pack'")) < 0 ||
        (r = mk_spec_check_map(p, n, "in pack", keys, 3, v)) < 0)
        return r;
    if (v[0] && (r = mk_spec_want_int(p, v[0], "'jobs' in pack", 1, 1024, &p->spec->pack.jobs)) < 0)
        return r;
    if (v[1] && (r = mk_spec_want_int(p, v[1], "'level' in pack", 1, 9, &p->spec->pack.level)) < 0)
        return r;
    if (v[2] && (r = mk_spec_want_bool(p, v[2], "'round-up' in pack", &p->spec->pack.round_up)) < 0)
        return r;
    return MK_OK;
}

static int add_option(struct mk_spec_parser *p, struct mk_spec_target *t, const char *key,
                      const char *value, struct mk_spec_loc loc)
{
    struct mk_spec_option *grown = realloc(t->opts, (t->n_opts + 1) * sizeof(*grown));

    if (!grown)
        return mk_spec_nomem(p);
    t->opts = grown;
    t->opts[t->n_opts++] = (struct mk_spec_option){.key = key, .value = value, .loc = loc};
    return MK_OK;
}

/* An uploader's repeatable option is singular ("label"); the spec's list or map is named
 * in the plural ("labels"). */
static int singular(struct mk_spec_parser *p, const char *key, const char **ret)
{
    size_t len = strlen(key);
    char *s;

    if (len > 3 && !strcmp(key + len - 3, "ies")) {
        if ((s = malloc(len - 1)))
            snprintf(s, len - 1, "%.*sy", (int)(len - 3), key);
    } else if (len > 1 && key[len - 1] == 's' && key[len - 2] != 's') {
        s = strndup(key, len - 1);
    } else {
        s = strdup(key);
    }
    return mk_spec_keep(p, s, ret);
}

static int parse_target_value(struct mk_spec_parser *p, struct mk_spec_target *t, yaml_node_t *k,
                              yaml_node_t *v)
{
    const char *key = mk_spec_text(k), *value;
    char what[160];
    int r;

    snprintf(what, sizeof(what), "'%.40s' in target '%.40s'", key, t->name);
    if (v->type == YAML_SCALAR_NODE) {
        if ((r = mk_spec_keep(p, strdup(key), &key)) < 0 ||
            (r = mk_spec_expand(p, v, what, &value)) < 0)
            return r;
        return add_option(p, t, key, value, mk_spec_node_loc(k));
    }
    if ((r = singular(p, key, &key)) < 0)
        return r;
    if (v->type == YAML_SEQUENCE_NODE) {
        for (size_t i = 0; i < mk_spec_seq_len(v); i++) {
            yaml_node_t *it = mk_spec_item(p, v, i);
            if (mk_spec_is_null(it))
                continue;
            if (it->type != YAML_SCALAR_NODE)
                return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(it),
                                     "%s: items must be strings, not %s", what,
                                     mk_spec_node_kind(it));
            if ((r = mk_spec_expand(p, it, what, &value)) < 0 ||
                (r = add_option(p, t, key, value, mk_spec_node_loc(it))) < 0)
                return r;
        }
        return MK_OK;
    }
    if ((r = mk_spec_check_map(p, v, what, NULL, 0, NULL)) < 0)
        return r;
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *mk = mk_spec_node(p, pair->key), *mv = mk_spec_node(p, pair->value);
        if (mv->type != YAML_SCALAR_NODE)
            return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(mv),
                                 "%s: values must be strings, not %s", what, mk_spec_node_kind(mv));
        if ((r = mk_spec_expand(p, mv, what, &value)) < 0)
            return r;
        char *kv = malloc(strlen(mk_spec_text(mk)) + strlen(value) + 2);
        if (!kv)
            return mk_spec_nomem(p);
        memcpy(kv, mk_spec_text(mk), strlen(mk_spec_text(mk)));
        kv[strlen(mk_spec_text(mk))] = '=';
        memcpy(kv + strlen(mk_spec_text(mk)) + 1, value, strlen(value) + 1);
        if ((r = mk_spec_keep(p, kv, &value)) < 0 ||
            (r = add_option(p, t, key, value, mk_spec_node_loc(mk))) < 0)
            return r;
    }
    return MK_OK;
}

static bool good_name(const char *s)
{
    if (!*s || *s == '-')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static int parse_target(struct mk_spec_parser *p, yaml_node_t *k, yaml_node_t *v, const char *name)
{
    struct mk_spec *spec = p->spec;
    struct mk_spec_target *t = &spec->targets[spec->n_targets];
    char where[96];
    int r;

    t->name = name;
    t->loc = mk_spec_node_loc(k);
    if (!good_name(t->name))
        return mk_spec_error(p->ctx, spec, t->loc,
                             "target name '%s' must be letters, digits, '-', '_' or '.'", t->name);
    snprintf(where, sizeof(where), "target '%.40s'", t->name);
    if ((r = mk_spec_want_map(p, v, where)) < 0)
        return r;
    snprintf(where, sizeof(where), "in target '%.40s'", t->name);
    if ((r = mk_spec_check_map(p, v, where, NULL, 0, NULL)) < 0)
        return r;
    spec->n_targets++;
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *ok = mk_spec_node(p, pair->key), *ov = mk_spec_node(p, pair->value);
        if (!strcmp(mk_spec_text(ok), "type")) {
            t->type_loc = mk_spec_node_loc(ov);
            snprintf(where, sizeof(where), "'type' in target '%.40s'", t->name);
            if (!mk_spec_is_null(ov) && (r = mk_spec_want_string(p, ov, where, &t->type)) < 0)
                return r;
            continue;
        }
        if (!mk_spec_is_null(ov) && (r = parse_target_value(p, t, ok, ov)) < 0)
            return r;
    }
    if (!t->type || !*t->type)
        return mk_spec_error(p->ctx, spec, t->loc,
                             "target '%s' has no 'type' (an uploader: "
                             "gce, openstack, or a plugin's name)",
                             t->name);
    return MK_OK;
}

int mk_spec_parse_targets(struct mk_spec_parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    int r;

    if ((r = mk_spec_want_map(p, n, "'targets'")) < 0 ||
        (r = mk_spec_check_map(p, n, "in targets", NULL, 0, NULL)) < 0)
        return r;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (!(spec->targets = calloc(count + 1, sizeof(*spec->targets))))
        return mk_spec_nomem(p);
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = mk_spec_node(p, pair->key);
        const char *name;
        /* Target names are keys: they are kept verbatim, never expanded. */
        if ((r = mk_spec_keep(p, strdup(mk_spec_text(k)), &name)) < 0 ||
            (r = parse_target(p, k, mk_spec_node(p, pair->value), name)) < 0)
            return r;
    }
    return MK_OK;
}

#endif
