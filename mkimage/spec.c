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
    free(spec->path);
    free(spec);
}

#ifndef MK_HAVE_YAML

int mk_spec_load(struct mk_ctx *ctx, const char *path, struct mk_spec **ret)
{
    return mk_set_error(ctx, MK_EUNSUPPORTED, "spec '%s': this build has no YAML support "
                        "(rebuild with libyaml)", path);
}

#else

struct parser {
    struct mk_ctx *ctx;
    struct mk_spec *spec;
    yaml_document_t *doc;
    char *dir; /* the spec's folder with its trailing '/'; "" for the current one */
};

static struct mk_spec_loc loc_of(const yaml_node_t *n)
{
    return (struct mk_spec_loc){.line = (unsigned)n->start_mark.line + 1,
                                .col = (unsigned)n->start_mark.column + 1};
}

static const char *kind(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE     ? "a string"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a map";
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* YAML's null: an empty or ~/null plain scalar. The spec reads it as "not given". */
static bool is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < MK_ARRAY_SIZE(nulls); i++)
        if (!strcmp(text(n), nulls[i]))
            return true;
    return false;
}

static yaml_node_t *node(struct parser *p, yaml_node_item_t item)
{
    return yaml_document_get_node(p->doc, item);
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static int nomem(struct parser *p)
{
    return mk_set_error(p->ctx, MK_ENOMEM, "out of memory");
}

/* Hands (s) to the spec, which wipes and frees it. */
static int keep(struct parser *p, char *s, const char **ret)
{
    struct mk_spec *spec = p->spec;
    char **grown;

    if (!s)
        return nomem(p);
    grown = realloc(spec->strings, (spec->n_strings + 1) * sizeof(*grown));
    if (!grown) {
        mk_wipe(s, strlen(s));
        free(s);
        return nomem(p);
    }
    spec->strings = grown;
    spec->strings[spec->n_strings++] = s;
    *ret = s;
    return MK_OK;
}

static bool var_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* ${VAR} and ${VAR:-default} take the environment's value, $$ is a '$'. A bare '$' is an
 * error rather than a literal so that a mistyped $VAR does not slip through silently. */
static int expand(struct parser *p, const yaml_node_t *n, const char *what, const char **ret)
{
    struct mk_buf b = MK_BUF_INIT;
    const char *s = text(n);
    int r = MK_OK;

    while (*s && r == MK_OK) {
        const char *dollar = strchr(s, '$');
        if (!dollar) {
            r = mk_buf_adds(&b, s);
            break;
        }
        r = mk_buf_add(&b, s, (size_t)(dollar - s));
        if (r < 0)
            break;
        if (dollar[1] == '$') {
            r = mk_buf_add(&b, "$", 1);
            s = dollar + 2;
            continue;
        }
        const char *name = dollar + 2, *end = name;
        while (var_char(*end, end == name))
            end++;
        const char *close = strchr(end, '}');
        if (dollar[1] != '{' || end == name || !close || (end != close && strncmp(end, ":-", 2))) {
            r = mk_spec_error(p->ctx, p->spec, loc_of(n), "%s: '$' must start ${VARIABLE} or "
                              "${VARIABLE:-default} (write $$ for a '$')", what);
            break;
        }
        char var[256];
        if ((size_t)(end - name) >= sizeof(var)) {
            r = mk_spec_error(p->ctx, p->spec, loc_of(n), "%s: variable name too long", what);
            break;
        }
        memcpy(var, name, (size_t)(end - name));
        var[end - name] = '\0';
        const char *value = getenv(var);
        if (end != close && (!value || !*value)) {
            r = mk_buf_add(&b, end + 2, (size_t)(close - end - 2));
        } else if (!value) {
            r = mk_spec_error(p->ctx, p->spec, loc_of(n), "%s: environment variable '%s' is "
                              "not set", what, var);
            break;
        } else {
            r = mk_buf_adds(&b, value);
        }
        s = close + 1;
    }
    if (r == MK_OK) {
        r = keep(p, mk_buf_detach(&b, NULL), ret);
    } else {
        if (r == MK_ENOMEM)
            nomem(p);
        mk_wipe(b.buf, b.len);
        mk_buf_release(&b);
    }
    return r;
}

static int want_string(struct parser *p, const yaml_node_t *n, const char *what, const char **ret)
{
    if (n->type != YAML_SCALAR_NODE)
        return mk_spec_error(p->ctx, p->spec, loc_of(n), "%s must be a string, not %s", what,
                             kind(n));
    return expand(p, n, what, ret);
}

static int want_path(struct parser *p, const yaml_node_t *n, const char *what, const char **ret)
{
    const char *s;
    int r = want_string(p, n, what, &s);

    if (r < 0)
        return r;
    if (!*s)
        return mk_spec_error(p->ctx, p->spec, loc_of(n), "%s is empty", what);
    if (*s == '/' || !*p->dir) {
        *ret = s;
        return MK_OK;
    }
    char *joined = malloc(strlen(p->dir) + strlen(s) + 1);
    if (!joined)
        return nomem(p);
    memcpy(joined, p->dir, strlen(p->dir));
    memcpy(joined + strlen(p->dir), s, strlen(s) + 1);
    return keep(p, joined, ret);
}

static int suggest(char *out, size_t size, const char *key, const char *const *known, size_t n)
{
    size_t best = SIZE_MAX, at = 0, len = 0;

    for (size_t i = 0; i < n; i++) {
        size_t d = mk_levenshtein(key, known[i]);
        if (d < best) {
            best = d;
            at = i;
        }
    }
    if (best <= 2 && best < strlen(key))
        return snprintf(out, size, " (did you mean '%s'?)", known[at]) >= (int)size;
    len += (size_t)snprintf(out, size, " (known: ");
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", known[i]);
    if (len < size)
        len += (size_t)snprintf(out + len, size - len, ")");
    return len >= size;
}

/* Checks the keys of (map): strings, no duplicates, and when (known) is given, only those;
 * (values)[i] receives the value of known[i] (NULL when absent or null). */
static int check_map(struct parser *p, const yaml_node_t *map, const char *where,
                     const char *const *known, size_t n_known, yaml_node_t **values)
{
    const yaml_node_pair_t *start = map->data.mapping.pairs.start;

    for (size_t i = 0; values && i < n_known; i++)
        values[i] = NULL;
    for (const yaml_node_pair_t *pair = start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
        if (k->type != YAML_SCALAR_NODE)
            return mk_spec_error(p->ctx, p->spec, loc_of(k), "a key %s must be a string, not %s",
                                 where, kind(k));
        for (const yaml_node_pair_t *prev = start; prev < pair; prev++) {
            yaml_node_t *pk = node(p, prev->key);
            if (pk->type == YAML_SCALAR_NODE && !strcmp(text(pk), text(k)))
                return mk_spec_error(p->ctx, p->spec, loc_of(k), "duplicate key '%s' %s (first "
                                     "at line %u)", text(k), where, loc_of(pk).line);
        }
        if (!known)
            continue;
        size_t i = 0;
        while (i < n_known && strcmp(known[i], text(k)))
            i++;
        if (i == n_known) {
            char hint[256];
            suggest(hint, sizeof(hint), text(k), known, n_known);
            return mk_spec_error(p->ctx, p->spec, loc_of(k), "unknown key '%s' %s%s", text(k),
                                 where, hint);
        }
        values[i] = is_null(v) ? NULL : v;
    }
    return MK_OK;
}

static int want_map(struct parser *p, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, p->spec, loc_of(n), "%s must be a map, not %s", what,
                             kind(n));
    return MK_OK;
}

/* A list, or one item standing for a list of one. */
static size_t items(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE ? seq_len(n) : 1;
}

static yaml_node_t *item(struct parser *p, yaml_node_t *n, size_t i)
{
    return n->type == YAML_SEQUENCE_NODE ? node(p, n->data.sequence.items.start[i]) : n;
}

/* ---- image: ---- */

static int parse_args(struct parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    size_t count = items(n);

    if (n->type == YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, spec, loc_of(n), "'args' in image must be a list of "
                             "strings or one string, not a map");
    if (!(spec->args = calloc(count + 1, sizeof(*spec->args))))
        return nomem(p);
    for (size_t i = 0; i < count; i++) {
        char what[64];
        int r;
        snprintf(what, sizeof(what), "image.args item %zu", i + 1);
        if ((r = want_string(p, item(p, n, i), what, &spec->args[i])) < 0)
            return r;
    }
    spec->opts.kernel_args = spec->args;
    spec->opts.n_kernel_args = count;
    return MK_OK;
}

static int parse_modules(struct parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"path", "args"};
    struct mk_spec *spec = p->spec;
    size_t count = items(n);
    int r;

    if (!(spec->modules = calloc(count + 1, sizeof(*spec->modules))) ||
        !(spec->module_locs = calloc(count + 1, sizeof(*spec->module_locs))))
        return nomem(p);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *m = item(p, n, i), *v[2];
        char where[64], what[80];

        snprintf(where, sizeof(where), "in image.modules item %zu", i + 1);
        spec->module_locs[i] = loc_of(m);
        if (m->type == YAML_SCALAR_NODE) {
            snprintf(what, sizeof(what), "image.modules item %zu", i + 1);
            if ((r = want_path(p, m, what, &spec->modules[i].path)) < 0)
                return r;
            continue;
        }
        if (m->type != YAML_MAPPING_NODE)
            return mk_spec_error(p->ctx, spec, loc_of(m), "image.modules item %zu must be a "
                                 "path or a map with 'path' and 'args', not %s", i + 1, kind(m));
        if ((r = check_map(p, m, where, keys, 2, v)) < 0)
            return r;
        if (!v[0])
            return mk_spec_error(p->ctx, spec, loc_of(m), "image.modules item %zu has no "
                                 "'path'", i + 1);
        snprintf(what, sizeof(what), "'path' %s", where);
        if ((r = want_path(p, v[0], what, &spec->modules[i].path)) < 0)
            return r;
        snprintf(what, sizeof(what), "'args' %s", where);
        if (v[1] && (r = want_string(p, v[1], what, &spec->modules[i].args)) < 0)
            return r;
    }
    spec->opts.modules = spec->modules;
    spec->opts.n_modules = count;
    return MK_OK;
}

static int parse_files(struct parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"src", "dest"};
    struct mk_spec *spec = p->spec;
    size_t count = items(n);
    int r;

    if (!(spec->files = calloc(count + 1, sizeof(*spec->files))) ||
        !(spec->file_locs = calloc(count + 1, sizeof(*spec->file_locs))))
        return nomem(p);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *f = item(p, n, i), *v[2];
        char where[64], what[80];

        snprintf(where, sizeof(where), "in image.files item %zu", i + 1);
        spec->file_locs[i] = loc_of(f);
        if (f->type != YAML_MAPPING_NODE)
            return mk_spec_error(p->ctx, spec, loc_of(f), "image.files item %zu must be a map "
                                 "with 'src' and 'dest', not %s", i + 1, kind(f));
        if ((r = check_map(p, f, where, keys, 2, v)) < 0)
            return r;
        for (size_t k = 0; k < 2; k++)
            if (!v[k])
                return mk_spec_error(p->ctx, spec, loc_of(f), "image.files item %zu has no "
                                     "'%s'", i + 1, keys[k]);
        snprintf(what, sizeof(what), "'src' %s", where);
        if ((r = want_path(p, v[0], what, &spec->files[i].src)) < 0)
            return r;
        snprintf(what, sizeof(what), "'dest' %s", where);
        if ((r = want_string(p, v[1], what, &spec->files[i].dest)) < 0)
            return r;
    }
    spec->opts.files = spec->files;
    spec->opts.n_files = count;
    return MK_OK;
}

static int parse_image(struct parser *p, yaml_node_t *n)
{
    enum { KERNEL, ARGS, TEMPLATE, MODULES, FILES, SIZE, UUID, N };
    static const char *const keys[] = {"kernel", "args", "template", "modules",
                                       "files", "size", "uuid"};
    struct mk_spec *spec = p->spec;
    yaml_node_t *v[N];
    const char *s;
    int r;

    if ((r = want_map(p, n, "'image'")) < 0 || (r = check_map(p, n, "in image", keys, N, v)) < 0)
        return r;
    spec->image_loc = loc_of(n);
    if (!v[KERNEL])
        return mk_spec_error(p->ctx, spec, loc_of(n), "image has no 'kernel'");
    spec->kernel_loc = loc_of(v[KERNEL]);
    if ((r = want_path(p, v[KERNEL], "'kernel' in image", &spec->opts.kernel)) < 0)
        return r;
    if (v[ARGS] && (r = parse_args(p, v[ARGS])) < 0)
        return r;
    if (v[TEMPLATE]) {
        spec->template_loc = loc_of(v[TEMPLATE]);
        if ((r = want_string(p, v[TEMPLATE], "'template' in image", &s)) < 0)
            return r;
        size_t len = strlen(s);
        /* A name is looked up among the installed templates; a path is the spec's own. */
        if (strchr(s, '/') || (len >= 4 && !strcmp(s + len - 4, ".cfg")))
            r = want_path(p, v[TEMPLATE], "'template' in image", &s);
        if (r < 0)
            return r;
        spec->opts.template_name = s;
    }
    if (v[MODULES] && (r = parse_modules(p, v[MODULES])) < 0)
        return r;
    if (v[FILES] && (r = parse_files(p, v[FILES])) < 0)
        return r;
    if (v[SIZE]) {
        spec->size_loc = loc_of(v[SIZE]);
        if ((r = want_string(p, v[SIZE], "'size' in image", &s)) < 0)
            return r;
        if (mk_parse_size(p->ctx, s, &spec->opts.disk_size) < 0)
            return mk_spec_error(p->ctx, spec, spec->size_loc, "'size' in image: %s",
                                 mk_errmsg(p->ctx));
        if (!spec->opts.disk_size)
            return mk_spec_error(p->ctx, spec, spec->size_loc, "'size' in image must not be "
                                 "zero");
    }
    if (v[UUID] && (r = want_string(p, v[UUID], "'uuid' in image", &spec->opts.uuid)) < 0)
        return r;
    return MK_OK;
}

/* ---- output:, pack:, targets: ---- */

/* (key) is the format's name in a map of outputs, NULL in a list. */
static int add_output(struct parser *p, yaml_node_t *key, yaml_node_t *n, const char *what)
{
    struct mk_spec *spec = p->spec;
    struct mk_spec_output *o = &spec->outputs[spec->n_outputs];
    int r;

    o->loc = loc_of(n);
    if ((r = want_path(p, n, what, &o->path)) < 0)
        return r;
    if (!key) {
        o->fmt = mk_format_from_path(o->path);
    } else if (mk_format_from_name(p->ctx, text(key), &o->fmt) < 0) {
        static const char *const formats[] = {"raw", "gce", "qcow2"};
        char hint[128];
        suggest(hint, sizeof(hint), text(key), formats, MK_ARRAY_SIZE(formats));
        return mk_spec_error(p->ctx, spec, loc_of(key), "unknown format '%s' in output%s",
                             text(key), hint);
    }
    for (size_t i = 0; i < spec->n_outputs; i++)
        if (!strcmp(spec->outputs[i].path, o->path))
            return mk_spec_error(p->ctx, spec, o->loc, "output '%s' is listed twice (first at "
                                 "line %u)", o->path, spec->outputs[i].loc.line);
    spec->n_outputs++;
    return MK_OK;
}

static int parse_output(struct parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    bool map = n->type == YAML_MAPPING_NODE;
    size_t count = map ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
                       : items(n);
    int r;

    if (!(spec->outputs = calloc(count + 1, sizeof(*spec->outputs))))
        return nomem(p);
    if (map) {
        if ((r = check_map(p, n, "in output", NULL, 0, NULL)) < 0)
            return r;
        for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
             pair < n->data.mapping.pairs.top; pair++) {
            yaml_node_t *k = node(p, pair->key), *v = node(p, pair->value);
            char what[96];
            snprintf(what, sizeof(what), "output '%.40s'", text(k));
            if (is_null(v))
                continue;
            if ((r = add_output(p, k, v, what)) < 0)
                return r;
        }
        return MK_OK;
    }
    for (size_t i = 0; i < count; i++) {
        char what[64];
        snprintf(what, sizeof(what), "output item %zu", i + 1);
        if ((r = add_output(p, NULL, item(p, n, i), what)) < 0)
            return r;
    }
    return MK_OK;
}

static int want_int(struct parser *p, yaml_node_t *n, const char *what, int lo, int hi, int *ret)
{
    const char *s;
    char *end;
    long v;
    int r = want_string(p, n, what, &s);

    if (r < 0)
        return r;
    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return mk_spec_error(p->ctx, p->spec, loc_of(n), "%s must be a number from %d to %d, "
                             "not '%s'", what, lo, hi, s);
    *ret = (int)v;
    return MK_OK;
}

static int want_bool(struct parser *p, yaml_node_t *n, const char *what, int *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    const char *s;
    int r = want_string(p, n, what, &s);

    for (size_t i = 0; r == MK_OK && i < MK_ARRAY_SIZE(yes); i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *ret = !strcasecmp(s, yes[i]);
            return MK_OK;
        }
    }
    if (r < 0)
        return r;
    return mk_spec_error(p->ctx, p->spec, loc_of(n), "%s must be true or false, not '%s'", what,
                         s);
}

static int parse_pack(struct parser *p, yaml_node_t *n)
{
    static const char *const keys[] = {"jobs", "level", "round-up"};
    yaml_node_t *v[3];
    int r;

    if ((r = want_map(p, n, "'pack'")) < 0 || (r = check_map(p, n, "in pack", keys, 3, v)) < 0)
        return r;
    if (v[0] && (r = want_int(p, v[0], "'jobs' in pack", 1, 1024, &p->spec->pack.jobs)) < 0)
        return r;
    if (v[1] && (r = want_int(p, v[1], "'level' in pack", 1, 9, &p->spec->pack.level)) < 0)
        return r;
    if (v[2] && (r = want_bool(p, v[2], "'round-up' in pack", &p->spec->pack.round_up)) < 0)
        return r;
    return MK_OK;
}

static int add_option(struct parser *p, struct mk_spec_target *t, const char *key,
                      const char *value, struct mk_spec_loc loc)
{
    struct mk_spec_option *grown = realloc(t->opts, (t->n_opts + 1) * sizeof(*grown));

    if (!grown)
        return nomem(p);
    t->opts = grown;
    t->opts[t->n_opts++] = (struct mk_spec_option){.key = key, .value = value, .loc = loc};
    return MK_OK;
}

/* An uploader's repeatable option is singular ("label"); the spec's list or map is named
 * in the plural ("labels"). */
static int singular(struct parser *p, const char *key, const char **ret)
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
    return keep(p, s, ret);
}

static int parse_target_value(struct parser *p, struct mk_spec_target *t, yaml_node_t *k,
                              yaml_node_t *v)
{
    const char *key = text(k), *value;
    char what[160];
    int r;

    snprintf(what, sizeof(what), "'%.40s' in target '%.40s'", key, t->name);
    if (v->type == YAML_SCALAR_NODE) {
        if ((r = keep(p, strdup(key), &key)) < 0 || (r = expand(p, v, what, &value)) < 0)
            return r;
        return add_option(p, t, key, value, loc_of(k));
    }
    if ((r = singular(p, key, &key)) < 0)
        return r;
    if (v->type == YAML_SEQUENCE_NODE) {
        for (size_t i = 0; i < seq_len(v); i++) {
            yaml_node_t *it = item(p, v, i);
            if (is_null(it))
                continue;
            if (it->type != YAML_SCALAR_NODE)
                return mk_spec_error(p->ctx, p->spec, loc_of(it), "%s: items must be strings, "
                                     "not %s", what, kind(it));
            if ((r = expand(p, it, what, &value)) < 0 ||
                (r = add_option(p, t, key, value, loc_of(it))) < 0)
                return r;
        }
        return MK_OK;
    }
    if ((r = check_map(p, v, what, NULL, 0, NULL)) < 0)
        return r;
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *mk = node(p, pair->key), *mv = node(p, pair->value);
        if (mv->type != YAML_SCALAR_NODE)
            return mk_spec_error(p->ctx, p->spec, loc_of(mv), "%s: values must be strings, not "
                                 "%s", what, kind(mv));
        if ((r = expand(p, mv, what, &value)) < 0)
            return r;
        char *kv = malloc(strlen(text(mk)) + strlen(value) + 2);
        if (!kv)
            return nomem(p);
        memcpy(kv, text(mk), strlen(text(mk)));
        kv[strlen(text(mk))] = '=';
        memcpy(kv + strlen(text(mk)) + 1, value, strlen(value) + 1);
        if ((r = keep(p, kv, &value)) < 0 || (r = add_option(p, t, key, value, loc_of(mk))) < 0)
            return r;
    }
    return MK_OK;
}

static bool good_name(const char *s)
{
    if (!*s || *s == '-')
        return false;
    for (; *s; s++)
        if (!var_char(*s, false) && *s != '-' && *s != '.')
            return false;
    return true;
}

static int parse_target(struct parser *p, yaml_node_t *k, yaml_node_t *v, const char *name)
{
    struct mk_spec *spec = p->spec;
    struct mk_spec_target *t = &spec->targets[spec->n_targets];
    char where[96];
    int r;

    t->name = name;
    t->loc = loc_of(k);
    if (!good_name(t->name))
        return mk_spec_error(p->ctx, spec, t->loc, "target name '%s' must be letters, digits, "
                             "'-', '_' or '.'", t->name);
    snprintf(where, sizeof(where), "target '%.40s'", t->name);
    if ((r = want_map(p, v, where)) < 0)
        return r;
    snprintf(where, sizeof(where), "in target '%.40s'", t->name);
    if ((r = check_map(p, v, where, NULL, 0, NULL)) < 0)
        return r;
    spec->n_targets++;
    for (yaml_node_pair_t *pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *ok = node(p, pair->key), *ov = node(p, pair->value);
        if (!strcmp(text(ok), "type")) {
            t->type_loc = loc_of(ov);
            snprintf(where, sizeof(where), "'type' in target '%.40s'", t->name);
            if (!is_null(ov) && (r = want_string(p, ov, where, &t->type)) < 0)
                return r;
            continue;
        }
        if (!is_null(ov) && (r = parse_target_value(p, t, ok, ov)) < 0)
            return r;
    }
    if (!t->type || !*t->type)
        return mk_spec_error(p->ctx, spec, t->loc, "target '%s' has no 'type' (an uploader: "
                             "gce, openstack, or a plugin's name)", t->name);
    return MK_OK;
}

static int parse_targets(struct parser *p, yaml_node_t *n)
{
    struct mk_spec *spec = p->spec;
    int r;

    if ((r = want_map(p, n, "'targets'")) < 0 ||
        (r = check_map(p, n, "in targets", NULL, 0, NULL)) < 0)
        return r;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (!(spec->targets = calloc(count + 1, sizeof(*spec->targets))))
        return nomem(p);
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = node(p, pair->key);
        const char *name;
        /* Target names are keys: they are kept verbatim, never expanded. */
        if ((r = keep(p, strdup(text(k)), &name)) < 0 ||
            (r = parse_target(p, k, node(p, pair->value), name)) < 0)
            return r;
    }
    return MK_OK;
}

static int parse_root(struct parser *p, yaml_node_t *root)
{
    enum { VERSION, IMAGE, OUTPUT, PACK, TARGETS, N };
    static const char *const keys[] = {"version", "image", "output", "pack", "targets"};
    yaml_node_t *v[N];
    int r;

    if (!root)
        return mk_spec_error(p->ctx, p->spec, (struct mk_spec_loc){1, 1}, "the spec is empty "
                             "(it needs at least image: {kernel: FILE})");
    if (root->type != YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, p->spec, loc_of(root), "the spec must be a map with "
                             "image, output and targets, not %s", kind(root));
    if ((r = check_map(p, root, "at the top level", keys, N, v)) < 0)
        return r;
    if (v[VERSION] && (v[VERSION]->type != YAML_SCALAR_NODE || strcmp(text(v[VERSION]), "1")))
        return mk_spec_error(p->ctx, p->spec, loc_of(v[VERSION]), "unsupported version (this "
                             "program reads version 1)");
    if (!v[IMAGE])
        return mk_spec_error(p->ctx, p->spec, loc_of(root), "missing key 'image' (the image to "
                             "build: image: {kernel: FILE})");
    if ((r = parse_image(p, v[IMAGE])) < 0)
        return r;
    if (v[OUTPUT] && (r = parse_output(p, v[OUTPUT])) < 0)
        return r;
    if (v[PACK] && (r = parse_pack(p, v[PACK])) < 0)
        return r;
    if (v[TARGETS] && (r = parse_targets(p, v[TARGETS])) < 0)
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
        return mk_spec_error(ctx, spec, (struct mk_spec_loc){
            (unsigned)parser->problem_mark.line + 1, (unsigned)parser->problem_mark.column + 1},
            "invalid YAML: %s", parser->problem ? parser->problem : "syntax error");
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root)
        r = mk_spec_error(ctx, spec, loc_of(root), "a second YAML document: the spec must be "
                          "one document");
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
    struct parser p = {.ctx = ctx, .spec = spec, .doc = &doc};
    const char *slash = strrchr(path, '/');
    p.dir = strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
    if (!p.dir || !yaml_parser_initialize(&parser)) {
        free(p.dir);
        mk_buf_release(&b);
        mk_spec_free(spec);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.buf, b.len);
    if (!yaml_parser_load(&parser, &doc)) {
        const char *ctx_text = parser.context ? parser.context : "";
        r = mk_spec_error(ctx, spec, (struct mk_spec_loc){
            (unsigned)parser.problem_mark.line + 1, (unsigned)parser.problem_mark.column + 1},
            "invalid YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
            *ctx_text ? " " : "", ctx_text);
    } else {
        loaded = true;
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
    if (r < 0) {
        mk_spec_free(spec);
        return r;
    }
    *ret = spec;
    return MK_OK;
}

#endif
