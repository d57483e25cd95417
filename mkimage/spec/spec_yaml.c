/* spec_yaml.c: reading an image spec's YAML nodes: strings with ${VAR} expansion, paths
 * against the spec's folder, and maps checked for unknown and duplicate keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_private.h"

#ifdef MK_HAVE_YAML

/* YAML's null: an empty or ~/null plain scalar. The spec reads it as "not given". */
bool mk_spec_is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < MK_ARRAY_SIZE(nulls); i++)
        if (!strcmp(mk_spec_text(n), nulls[i]))
            return true;
    return false;
}

int mk_spec_nomem(struct mk_spec_parser *p)
{
    return mk_set_error(p->ctx, MK_ENOMEM, "out of memory");
}

/* Hands (s) to the spec, which wipes and frees it. */
int mk_spec_keep(struct mk_spec_parser *p, char *s, const char **ret)
{
    struct mk_spec *spec = p->spec;
    char **grown;

    if (!s)
        return mk_spec_nomem(p);
    grown = realloc(spec->strings, (spec->n_strings + 1) * sizeof(*grown));
    if (!grown) {
        mk_wipe(s, strlen(s));
        free(s);
        return mk_spec_nomem(p);
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
int mk_spec_expand(struct mk_spec_parser *p, const yaml_node_t *n, const char *what,
                   const char **ret)
{
    struct mk_buf b = MK_BUF_INIT;
    const char *s = mk_spec_text(n);
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
            r = mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n),
                              "%s: '$' must start ${VARIABLE} or "
                              "${VARIABLE:-default} (write $$ for a '$')",
                              what);
            break;
        }
        char var[256];
        if ((size_t)(end - name) >= sizeof(var)) {
            r = mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n), "%s: variable name too long",
                              what);
            break;
        }
        memcpy(var, name, (size_t)(end - name));
        var[end - name] = '\0';
        const char *value = getenv(var);
        if (end != close && (!value || !*value)) {
            r = mk_buf_add(&b, end + 2, (size_t)(close - end - 2));
        } else if (!value) {
            r = mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n),
                              "%s: environment variable '%s' is not set", what, var);
            break;
        } else {
            r = mk_buf_adds(&b, value);
        }
        s = close + 1;
    }
    if (r == MK_OK) {
        r = mk_spec_keep(p, mk_buf_detach(&b, NULL), ret);
    } else {
        if (r == MK_ENOMEM)
            mk_spec_nomem(p);
        mk_wipe(b.buf, b.len);
        mk_buf_release(&b);
    }
    return r;
}

int mk_spec_want_string(struct mk_spec_parser *p, const yaml_node_t *n, const char *what,
                        const char **ret)
{
    if (n->type != YAML_SCALAR_NODE)
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n), "%s must be a string, not %s",
                             what, mk_spec_node_kind(n));
    return mk_spec_expand(p, n, what, ret);
}

/* Whether (path), as written in the spec, names something outside the spec's folder: an
 * absolute path, or a relative one whose ".." climb above it (symbolic links: see
 * resolves_outside()). */
static bool leaves_folder(const char *path)
{
    long depth = 0;

    if (*path == '/')
        return true;
    while (*path) {
        size_t len = strcspn(path, "/");

        if (len == 2 && !strncmp(path, "..", 2)) {
            if (--depth < 0)
                return true;
        } else if (len && !(len == 1 && *path == '.')) {
            depth++;
        }
        path += len;
        path += strspn(path, "/");
    }
    return false;
}

/* Whether the scalar is one ${NAME} or ${NAME:-DEFAULT} whose NAME is set and not empty. */
static bool from_environment(const yaml_node_t *n)
{
    const char *raw = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, name_len;
    char name[128];

    if (len < 4 || strncmp(raw, "${", 2) || raw[len - 1] != '}' ||
        memchr(raw + 2, '}', len - 3) || memchr(raw + 2, '$', len - 3))
        return false;
    name_len = strcspn(raw + 2, ":}");
    if (!name_len || name_len >= sizeof(name))
        return false;
    memcpy(name, raw + 2, name_len);
    name[name_len] = 0;
    return getenv(name) && *getenv(name);
}

/* Whether (path), resolved, lies in (root), both absolute and free of symbolic links. */
static bool is_under(const char *path, const char *root)
{
    size_t len = strlen(root);

    if (!strcmp(root, "/"))
        return true;
    return !strncmp(path, root, len) && (path[len] == '/' || !path[len]);
}

/* Where (joined), a path that stays in the spec's folder as written, really is once its
 * symbolic links are followed (for an output, its folder's), when that is outside the
 * folder: a cloned repository's symbolic link is as much the spec author's as its text.
 * NULL when inside, or when it does not exist yet (opening it will say so). */
static char *resolves_outside(struct mk_spec_parser *p, const char *joined, bool output)
{
    char *real, *copy = NULL;

    if (!p->real_dir && !(p->real_dir = realpath(*p->dir ? p->dir : ".", NULL)))
        return NULL;
    if (output) {
        char *slash;

        if (!(copy = strdup(joined)))
            return NULL;
        slash = strrchr(copy, '/');
        if (slash)
            slash[slash == copy] = 0; /* "/x" -> "/", "a/b" -> "a" */
        real = realpath(slash ? copy : ".", NULL);
        free(copy);
    } else {
        real = realpath(joined, NULL);
    }
    if (real && is_under(real, p->real_dir)) {
        free(real);
        return NULL;
    }
    return real;
}

static int note_outside(struct mk_spec_parser *p, const yaml_node_t *n, const char *what,
                        const char *path, const char *real, bool output)
{
    struct mk_spec *spec = p->spec;
    struct mk_buf b = MK_BUF_INIT;
    const char **grown;
    const char *kept;
    int r;

    r = mk_buf_addf(&b, "%s at line %u: %s", what, mk_spec_node_loc(n).line, path);
    /* Say where a path came from when the spec did not write it out. */
    if (r == MK_OK && strcmp(mk_spec_text(n), path))
        r = mk_buf_addf(&b, " (written as %s)", mk_spec_text(n));
    if (r == MK_OK && real)
        r = mk_buf_addf(&b, output ? " (its folder is %s, through a symbolic link)"
                                   : " (a symbolic link to %s)", real);
    if (r < 0) {
        mk_buf_release(&b);
        return mk_spec_nomem(p);
    }
    if ((r = mk_spec_keep(p, mk_buf_detach(&b, NULL), &kept)) < 0)
        return r;
    grown = realloc(spec->outside, (spec->n_outside + 1) * sizeof(*grown));
    if (!grown)
        return mk_spec_nomem(p);
    spec->outside = grown;
    spec->outside[spec->n_outside++] = kept;
    return MK_OK;
}

/* A whole ${NAME} the environment sets is trusted for the kernel alone. The spec's author
 * chooses NAME and can predict what many variables hold (${HOME}, ${KUBECONFIG},
 * ${GOOGLE_APPLICATION_CREDENTIALS}): a module, a file or a template read from there would
 * carry a secret into an image that push uploads, and an output written there would
 * destroy it. Whatever a kernel path names is accepted only if it is a multiboot kernel,
 * so KERNEL=/abs/path needs no flag while nothing else can be reached that way. */
int mk_spec_want_path(struct mk_spec_parser *p, const yaml_node_t *n, enum mk_spec_path_use use,
                      const char *what, const char **ret)
{
    const char *s;
    char *real = NULL;
    int r = mk_spec_want_string(p, n, what, &s);

    if (r < 0)
        return r;
    if (!*s)
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n), "%s is empty", what);
    if (*s != '/' && *p->dir) {
        char *joined = malloc(strlen(p->dir) + strlen(s) + 1);
        if (!joined)
            return mk_spec_nomem(p);
        memcpy(joined, p->dir, strlen(p->dir));
        memcpy(joined + strlen(p->dir), s, strlen(s) + 1);
        if ((r = mk_spec_keep(p, joined, ret)) < 0)
            return r;
    } else {
        *ret = s;
    }
    if (use == MK_SPEC_KERNEL && from_environment(n))
        return MK_OK;
    if (leaves_folder(s) ||
        (real = resolves_outside(p, *ret, use == MK_SPEC_OUTPUT)) != NULL)
        r = note_outside(p, n, what, s, real, use == MK_SPEC_OUTPUT);
    free(real);
    return r;
}

/* A hint that is cut short is still a hint: truncation is harmless here. */
void mk_spec_suggest(char *out, size_t size, const char *key, const char *const *known, size_t n)
{
    size_t best = SIZE_MAX, at = 0, len;

    for (size_t i = 0; i < n; i++) {
        size_t d = mk_levenshtein(key, known[i]);
        if (d < best) {
            best = d;
            at = i;
        }
    }
    if (best <= 2 && best < strlen(key)) {
        snprintf(out, size, " (did you mean '%s'?)", known[at]);
        return;
    }
    len = (size_t)snprintf(out, size, " (known: ");
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", known[i]);
    if (len < size)
        snprintf(out + len, size - len, ")");
}

struct key_ref {
    const char *text;
    size_t order;
    yaml_node_t *node;
};

static int key_ref_cmp(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = strcmp(x->text, y->text);

    return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* The first key (in the file's order) that repeats an earlier one, by sorting: a mapping
 * may hold thousands of keys, and comparing each with all before it took seconds. */
static int check_duplicates(struct mk_spec_parser *p, const yaml_node_t *map, const char *where)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start), dup = 0;
    struct key_ref *refs = n ? calloc(n, sizeof(*refs)) : NULL;
    int r = MK_OK;

    if (n && !refs)
        return mk_spec_nomem(p);
    for (size_t i = 0; i < n; i++) {
        refs[i].node = mk_spec_node(p, map->data.mapping.pairs.start[i].key);
        refs[i].text = mk_spec_text(refs[i].node);
        refs[i].order = i;
    }
    if (n > 1) /* qsort() must not be given the NULL of an empty mapping */
        qsort(refs, n, sizeof(*refs), key_ref_cmp);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(refs[i].text, refs[i - 1].text) &&
            (!dup || refs[i].order < refs[dup].order))
            dup = i;
    if (dup) {
        size_t first = dup;

        while (first > 0 && !strcmp(refs[first - 1].text, refs[dup].text))
            first--;
        r = mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(refs[dup].node),
                          "duplicate key '%s' %s (first at line %u)", refs[dup].text, where,
                          mk_spec_node_loc(refs[first].node).line);
    }
    free(refs);
    return r;
}

/* Checks the keys of (map): strings, no duplicates, and when (known) is given, only those;
 * (values)[i] receives the value of known[i] (NULL when absent or null). */
int mk_spec_check_map(struct mk_spec_parser *p, const yaml_node_t *map, const char *where,
                      const char *const *known, size_t n_known, yaml_node_t **values)
{
    const yaml_node_pair_t *start = map->data.mapping.pairs.start;
    int r;

    for (size_t i = 0; values && i < n_known; i++)
        values[i] = NULL;
    for (const yaml_node_pair_t *pair = start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = mk_spec_node(p, pair->key);
        if (k->type != YAML_SCALAR_NODE)
            return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(k),
                                 "a key %s must be a string, not %s", where, mk_spec_node_kind(k));
    }
    if ((r = check_duplicates(p, map, where)) < 0)
        return r;
    for (const yaml_node_pair_t *pair = start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = mk_spec_node(p, pair->key), *v = mk_spec_node(p, pair->value);

        if (!known)
            continue;
        size_t i = 0;
        while (i < n_known && strcmp(known[i], mk_spec_text(k)))
            i++;
        if (i == n_known) {
            char hint[256];
            mk_spec_suggest(hint, sizeof(hint), mk_spec_text(k), known, n_known);
            return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(k), "unknown key '%s' %s%s",
                                 mk_spec_text(k), where, hint);
        }
        values[i] = mk_spec_is_null(v) ? NULL : v;
    }
    return MK_OK;
}

int mk_spec_want_map(struct mk_spec_parser *p, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_MAPPING_NODE)
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n), "%s must be a map, not %s", what,
                             mk_spec_node_kind(n));
    return MK_OK;
}

int mk_spec_want_int(struct mk_spec_parser *p, yaml_node_t *n, const char *what, int lo, int hi,
                     int *ret)
{
    const char *s;
    char *end;
    long v;
    int r = mk_spec_want_string(p, n, what, &s);

    if (r < 0)
        return r;
    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n),
                             "%s must be a number from %d to %d, not '%s'", what, lo, hi, s);
    *ret = (int)v;
    return MK_OK;
}

int mk_spec_want_bool(struct mk_spec_parser *p, yaml_node_t *n, const char *what, int *ret)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    const char *s;
    int r = mk_spec_want_string(p, n, what, &s);

    for (size_t i = 0; r == MK_OK && i < MK_ARRAY_SIZE(yes); i++) {
        if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
            *ret = !strcasecmp(s, yes[i]);
            return MK_OK;
        }
    }
    if (r < 0)
        return r;
    return mk_spec_error(p->ctx, p->spec, mk_spec_node_loc(n), "%s must be true or false, not '%s'",
                         what, s);
}

#endif
