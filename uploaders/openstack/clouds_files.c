/* clouds_files.c: finding clouds.yaml and secure.yaml where OpenStack's clients look, and
 * reading one cloud's settings from them with libyaml (every scalar a string). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef MK_HAVE_YAML
#include <yaml.h>
#endif

#include "clouds_private.h"
#include "yaml_limits.h"

#define CONFIG_MAX (1u << 20)

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The first of (env_name)'s file, then BASE.yaml, .yml or .json in ./,
 * $XDG_CONFIG_HOME/openstack, ~/.config/openstack and /etc/openstack, as openstacksdk
 * looks. A (env_name) that names no file falls through to the others, as there. *ret = NULL
 * when there is none. */
static int find_file(struct mk_ctx *ctx, const char *env_name, const char *base, char **ret)
{
    const char *e = os_env(env_name), *home = os_env("HOME"), *xdg = os_env("XDG_CONFIG_HOME");
    static const char *const exts[] = {"yaml", "yml", "json"};
    char dirs[4][4096];
    size_t n = 0;

    *ret = NULL;
    if (e && readable(e)) {
        if (!(*ret = strdup(e)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        return MK_OK;
    }
    if (e)
        mk_log(ctx, MK_LOG_INFO, "%s names %s, which cannot be read: looking elsewhere",
               env_name, e);
    snprintf(dirs[n++], sizeof(dirs[0]), ".");
    if (xdg && (size_t)snprintf(dirs[n], sizeof(dirs[0]), "%s/openstack", xdg) < sizeof(dirs[0]))
        n++;
    if (home &&
        (size_t)snprintf(dirs[n], sizeof(dirs[0]), "%s/.config/openstack", home) <
            sizeof(dirs[0]))
        n++;
    snprintf(dirs[n++], sizeof(dirs[0]), "/etc/openstack");
    for (size_t d = 0; d < n; d++) {
        for (size_t x = 0; x < MK_ARRAY_SIZE(exts); x++) {
            char path[4200];

            if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", dirs[d], base, exts[x]) >=
                sizeof(path))
                continue;
            if (readable(path)) {
                if (!(*ret = strdup(path)))
                    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
                return MK_OK;
            }
        }
    }
    return MK_OK;
}

#ifdef MK_HAVE_YAML

/* ---- reading YAML: every scalar is a string; aliases are resolved by libyaml ---- */

struct yfile {
    char *path;
    yaml_document_t doc;
    bool loaded;
    yaml_node_t *cloud; /* clouds.NAME, or NULL */
};

static int yfile_load(struct mk_ctx *ctx, struct yfile *y, const char *path)
{
    struct mk_buf b = MK_BUF_INIT;
    yaml_parser_t parser;
    int r;

    r = mk_buf_read_file(ctx, &b, path, CONFIG_MAX);
    if (r < 0)
        return r;
    if (!yaml_parser_initialize(&parser)) {
        mk_wipe(b.buf, b.len);
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.buf, b.len);
    if ((r = mk_yaml_precheck(ctx, path, b.buf, b.len)) < 0) {
        /* the message names the file and line */
    } else if (!yaml_parser_load(&parser, &y->doc)) {
        r = mk_set_error(ctx, MK_ECONFIG, "%s: line %zu: %s", path,
                         parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "not valid YAML");
    } else {
        y->loaded = true;
        r = mk_yaml_check_document(ctx, path, &y->doc);
    }
    yaml_parser_delete(&parser);
    /* secure.yaml holds passwords. */
    mk_wipe(b.buf, b.len);
    mk_buf_release(&b);
    return r;
}

static void yfile_release(struct yfile *y)
{
    if (y->loaded) {
        /* libyaml keeps the scalars in its own buffers; wipe them as they may be secrets. */
        for (yaml_node_t *n = y->doc.nodes.start; n < y->doc.nodes.top; n++)
            if (n->type == YAML_SCALAR_NODE)
                mk_wipe(n->data.scalar.value, n->data.scalar.length);
        yaml_document_delete(&y->doc);
    }
    free(y->path);
    memset(y, 0, sizeof(*y));
}

/* Keys compare with '-' and '_' as the same character, as openstacksdk does. */
static bool key_eq(const yaml_node_t *k, const char *key, size_t len)
{
    if (k->type != YAML_SCALAR_NODE || k->data.scalar.length != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char a = (char)k->data.scalar.value[i], b = key[i];

        if (a == '-')
            a = '_';
        if (a != b)
            return false;
    }
    return true;
}

/* Looks (key) up in (map), then in the mappings its "<<" merge key names (YAML 1.1 merge
 * keys, which libyaml leaves to the application). (depth) stops merge loops. */
static yaml_node_t *map_get_depth(yaml_document_t *doc, yaml_node_t *map, const char *key,
                                  size_t len, int depth)
{
    yaml_node_t *merge = NULL, *found;

    if (!map || map->type != YAML_MAPPING_NODE || depth > 8)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);

        if (k && key_eq(k, key, len))
            return yaml_document_get_node(doc, p->value);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == 2 &&
            !memcmp(k->data.scalar.value, "<<", 2))
            merge = yaml_document_get_node(doc, p->value);
    }
    if (merge && merge->type == YAML_MAPPING_NODE)
        return map_get_depth(doc, merge, key, len, depth + 1);
    if (merge && merge->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = merge->data.sequence.items.start;
             i < merge->data.sequence.items.top; i++) {
            found = map_get_depth(doc, yaml_document_get_node(doc, *i), key, len, depth + 1);
            if (found)
                return found;
        }
    }
    return NULL;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key, size_t len)
{
    return map_get_depth(doc, map, key, len, 0);
}

static yaml_node_t *path_get(yaml_document_t *doc, yaml_node_t *node, const char *path)
{
    while (node && *path) {
        size_t len = strcspn(path, ".");

        node = map_get(doc, node, path, len);
        path += len;
        if (*path == '.')
            path++;
    }
    return node;
}

static bool is_null(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return n->data.scalar.length == 0;
    return !*v || !strcmp(v, "~") || !strcasecmp(v, "null");
}

/* Sets (*dst) from (path) under the cloud when it is unset. */
static int take(struct mk_ctx *ctx, struct yfile *y, const char *path, const char *cloud,
                char **dst)
{
    yaml_node_t *n;

    if (*dst || !path || !(n = path_get(&y->doc, y->cloud, path)))
        return MK_OK;
    if (n->type != YAML_SCALAR_NODE)
        return mk_set_error(ctx, MK_ECONFIG, "%s: clouds.%s.%s must be a single value",
                            y->path, cloud, path);
    if (is_null(n))
        return MK_OK;
    if (!(*dst = strndup((const char *)n->data.scalar.value, n->data.scalar.length)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static int take_first_region(struct mk_ctx *ctx, struct yfile *y, struct os_cloud *c)
{
    yaml_node_t *seq = path_get(&y->doc, y->cloud, "regions"), *item;

    if (c->first_region || !seq || seq->type != YAML_SEQUENCE_NODE ||
        seq->data.sequence.items.start == seq->data.sequence.items.top)
        return MK_OK;
    item = yaml_document_get_node(&y->doc, *seq->data.sequence.items.start);
    if (item && item->type == YAML_MAPPING_NODE)
        item = path_get(&y->doc, item, "name");
    if (!item || item->type != YAML_SCALAR_NODE || is_null(item))
        return MK_OK;
    c->first_region = strndup((const char *)item->data.scalar.value, item->data.scalar.length);
    return c->first_region ? MK_OK : mk_set_error(ctx, MK_ENOMEM, "out of memory");
}

/* Points y->cloud at clouds.NAME; the file must have a clouds: mapping. */
static int find_cloud(struct mk_ctx *ctx, struct yfile *y, const char *name)
{
    yaml_node_t *root = yaml_document_get_root_node(&y->doc);
    yaml_node_t *clouds = map_get(&y->doc, root, "clouds", 6);

    if (!clouds)
        return MK_OK;
    if (clouds->type != YAML_MAPPING_NODE)
        return mk_set_error(ctx, MK_ECONFIG, "%s: clouds must be a mapping", y->path);
    for (yaml_node_pair_t *p = clouds->data.mapping.pairs.start;
         p < clouds->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, name))
            y->cloud = yaml_document_get_node(&y->doc, p->value);
    }
    if (y->cloud && y->cloud->type != YAML_MAPPING_NODE)
        return mk_set_error(ctx, MK_ECONFIG, "%s: clouds.%s must be a mapping", y->path, name);
    return MK_OK;
}

/* "a, b, c": the clouds a file defines, for the unknown-cloud message. */
static void list_clouds(struct yfile *y, struct mk_buf *out)
{
    yaml_node_t *root = yaml_document_get_root_node(&y->doc);
    yaml_node_t *clouds = map_get(&y->doc, root, "clouds", 6);

    if (!clouds || clouds->type != YAML_MAPPING_NODE)
        return;
    for (yaml_node_pair_t *p = clouds->data.mapping.pairs.start;
         p < clouds->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);

        if (k && k->type == YAML_SCALAR_NODE)
            mk_buf_addf(out, "%s%s", out->len ? ", " : "", (const char *)k->data.scalar.value);
    }
}

int os_clouds_from_files(struct mk_ctx *ctx, const char *name, struct os_cloud *c)
{
    struct yfile files[2] = {{0}}; /* secure.yaml first: its values win */
    char *clouds_path = NULL, *secure_path = NULL;
    int r;

    r = find_file(ctx, "OS_CLIENT_CONFIG_FILE", "clouds", &clouds_path);
    if (r < 0)
        return r;
    if (!clouds_path)
        return mk_set_error(ctx, MK_ENOTFOUND,
                            "cloud '%s': no clouds.yaml found (looked at OS_CLIENT_CONFIG_FILE, "
                            "./clouds.yaml, $XDG_CONFIG_HOME/openstack, ~/.config/openstack, "
                            "/etc/openstack; also .yml and .json)",
                            name);
    r = find_file(ctx, "OS_CLIENT_SECURE_FILE", "secure", &secure_path);
    if (r < 0)
        goto out;
    files[1].path = clouds_path;
    clouds_path = NULL;
    files[0].path = secure_path;
    secure_path = NULL;
    for (int i = 0; i < 2; i++) {
        if (!files[i].path)
            continue;
        r = yfile_load(ctx, &files[i], files[i].path);
        if (r < 0)
            goto out;
        r = find_cloud(ctx, &files[i], name);
        if (r < 0)
            goto out;
    }
    if (!files[1].cloud && !files[0].cloud) {
        struct mk_buf have = MK_BUF_INIT;

        list_clouds(&files[1], &have);
        r = mk_set_error(ctx, MK_ENOTFOUND, "cloud '%s' is not in %s (it has: %s)", name,
                         files[1].path, have.len ? have.buf : "no clouds");
        mk_buf_release(&have);
        goto out;
    }
    if (!(c->origin = strdup(files[1].path))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        if (!files[i].cloud)
            continue;
        if (path_get(&files[i].doc, files[i].cloud, "profile") ||
            path_get(&files[i].doc, files[i].cloud, "cloud"))
            mk_log(ctx, MK_LOG_WARN, "%s: cloud '%s' names a profile; vendor profiles "
                   "(clouds-public.yaml) are not read", files[i].path, name);
        for (size_t f = 0; f < os_n_fields && r >= 0; f++) {
            char **dst = os_field_slot(c, &os_fields[f]);

            r = take(ctx, &files[i], os_fields[f].path, name, dst);
            if (r >= 0)
                r = take(ctx, &files[i], os_fields[f].alias, name, dst);
        }
        if (r >= 0)
            r = take_first_region(ctx, &files[i], c);
        if (r < 0)
            goto out;
    }
out:
    yfile_release(&files[0]);
    yfile_release(&files[1]);
    free(clouds_path);
    free(secure_path);
    return r;
}

#else

int os_clouds_from_files(struct mk_ctx *ctx, const char *name, struct os_cloud *c)
{
    return mk_set_error(ctx, MK_EUNSUPPORTED,
                        "cloud '%s': this build cannot read clouds.yaml (built without "
                        "libyaml); use OS_* variables",
                        name);
}

#endif
