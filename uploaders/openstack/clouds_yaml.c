/* clouds_yaml.c: an OpenStack cloud's settings from clouds.yaml, secure.yaml or OS_* variables. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef MK_HAVE_YAML
#include <yaml.h>
#endif

#include "openstack_private.h"

#define CONFIG_MAX (1u << 20)

/* One setting: where it lives under clouds.NAME (a dotted path, with an older alias), the
 * environment variables that give it, and where it goes. */
struct field {
    const char *path;
    const char *alias;
    const char *env;
    const char *env_alias;
    size_t off;
};

#define F(p, a, e, ea, member) {p, a, e, ea, offsetof(struct os_cloud, member)}
static const struct field fields[] = {
    F("auth_type", NULL, "OS_AUTH_TYPE", NULL, auth_type),
    F("auth.auth_url", NULL, "OS_AUTH_URL", NULL, auth_url),
    F("auth.username", "auth.user_name", "OS_USERNAME", NULL, username),
    F("auth.user_id", NULL, "OS_USER_ID", NULL, user_id),
    F("auth.password", NULL, "OS_PASSWORD", NULL, password),
    F("auth.user_domain_name", NULL, "OS_USER_DOMAIN_NAME", NULL, user_domain_name),
    F("auth.user_domain_id", NULL, "OS_USER_DOMAIN_ID", NULL, user_domain_id),
    F("auth.project_name", "auth.tenant_name", "OS_PROJECT_NAME", "OS_TENANT_NAME",
      project_name),
    F("auth.project_id", "auth.tenant_id", "OS_PROJECT_ID", "OS_TENANT_ID", project_id),
    F("auth.project_domain_name", NULL, "OS_PROJECT_DOMAIN_NAME", NULL, project_domain_name),
    F("auth.project_domain_id", NULL, "OS_PROJECT_DOMAIN_ID", NULL, project_domain_id),
    F("auth.default_domain_id", NULL, "OS_DEFAULT_DOMAIN_ID", "OS_DEFAULT_DOMAIN",
      default_domain_id),
    F("auth.default_domain_name", NULL, "OS_DEFAULT_DOMAIN_NAME", NULL, default_domain_name),
    F("auth.token", NULL, "OS_TOKEN", NULL, token),
    F("auth.application_credential_id", NULL, "OS_APPLICATION_CREDENTIAL_ID", NULL,
      app_cred_id),
    F("auth.application_credential_name", NULL, "OS_APPLICATION_CREDENTIAL_NAME", NULL,
      app_cred_name),
    F("auth.application_credential_secret", NULL, "OS_APPLICATION_CREDENTIAL_SECRET", NULL,
      app_cred_secret),
    F("region_name", NULL, "OS_REGION_NAME", NULL, region_name),
    F("interface", "endpoint_type", "OS_INTERFACE", "OS_ENDPOINT_TYPE", interface),
    F("identity_api_version", NULL, "OS_IDENTITY_API_VERSION", NULL, identity_api_version),
    F("cacert", NULL, "OS_CACERT", NULL, cacert),
    F("cert", NULL, "OS_CERT", NULL, cert),
    F("key", NULL, "OS_KEY", NULL, key),
    F("verify", NULL, NULL, NULL, verify),
    F("insecure", NULL, "OS_INSECURE", NULL, insecure_text),
    F("image_endpoint_override", NULL, "OS_IMAGE_ENDPOINT_OVERRIDE", NULL,
      image_endpoint_override),
};
#undef F

static char **slot(struct os_cloud *c, const struct field *f)
{
    return (char **)((char *)c + f->off);
}

static void free_secret(char *s)
{
    if (s)
        mk_wipe(s, strlen(s));
    free(s);
}

void os_cloud_free(struct os_cloud *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MK_ARRAY_SIZE(fields); i++)
        free_secret(*slot(c, &fields[i]));
    free(c->name);
    free(c->origin);
    free(c->first_region);
    free(c);
}

static const char *env(const char *name)
{
    const char *v = name ? getenv(name) : NULL;

    return v && *v ? v : NULL;
}

static bool is_false(const char *s)
{
    static const char *const no[] = {"false", "no", "off", "0", "n"};

    for (size_t i = 0; s && i < MK_ARRAY_SIZE(no); i++)
        if (!strcasecmp(s, no[i]))
            return true;
    return false;
}

static bool is_true(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "y"};

    for (size_t i = 0; s && i < MK_ARRAY_SIZE(yes); i++)
        if (!strcasecmp(s, yes[i]))
            return true;
    return false;
}

/* ---- finding the files ---- */

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

/* The first of (env_name)'s file, then BASE.yaml / BASE.yml in ./, the user's config folder
 * and /etc/openstack. *ret = NULL when there is none. */
static int find_file(struct mk_ctx *ctx, const char *env_name, const char *base, char **ret)
{
    const char *e = env(env_name), *home = env("HOME"), *xdg = env("XDG_CONFIG_HOME");
    const char *exts[] = {"yaml", "yml"};
    char dirs[3][4096];
    size_t n = 0;

    *ret = NULL;
    if (e) {
        if (!readable(e))
            return mk_set_errno(ctx, MK_ECONFIG, errno, "%s names %s", env_name, e);
        if (!(*ret = strdup(e)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        return MK_OK;
    }
    snprintf(dirs[n++], sizeof(dirs[0]), ".");
    if (xdg && (size_t)snprintf(dirs[n], sizeof(dirs[0]), "%s/openstack", xdg) < sizeof(dirs[0]))
        n++;
    else if (home &&
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
    if (!yaml_parser_load(&parser, &y->doc)) {
        r = mk_set_error(ctx, MK_ECONFIG, "%s: line %zu: %s", path,
                         parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "not valid YAML");
    } else {
        y->loaded = true;
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

static int load_from_files(struct mk_ctx *ctx, const char *name, struct os_cloud *c)
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
                            "./clouds.yaml, ~/.config/openstack/clouds.yaml, "
                            "/etc/openstack/clouds.yaml)",
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
        for (size_t f = 0; f < MK_ARRAY_SIZE(fields) && r >= 0; f++) {
            r = take(ctx, &files[i], fields[f].path, name, slot(c, &fields[f]));
            if (r >= 0)
                r = take(ctx, &files[i], fields[f].alias, name, slot(c, &fields[f]));
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

static int load_from_files(struct mk_ctx *ctx, const char *name, struct os_cloud *c)
{
    return mk_set_error(ctx, MK_EUNSUPPORTED,
                        "cloud '%s': this build cannot read clouds.yaml (built without "
                        "libyaml); use OS_* variables",
                        name);
}

#endif

static int load_from_env(struct mk_ctx *ctx, struct os_cloud *c)
{
    if (!(c->origin = strdup("OS_* environment variables")))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < MK_ARRAY_SIZE(fields); i++) {
        const char *v = env(fields[i].env);

        if (!v)
            v = env(fields[i].env_alias);
        if (v && !(*slot(c, &fields[i]) = strdup(v)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    return MK_OK;
}

/* ---- checking what was read ---- */

static int set_default(struct mk_ctx *ctx, char **dst, const char *value)
{
    if (*dst || !value)
        return MK_OK;
    if (!(*dst = strdup(value)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static int missing(struct mk_ctx *ctx, const struct os_cloud *c, const char *what)
{
    return mk_set_error(ctx, MK_ECONFIG, "cloud '%s' (%s): %s is not set", c->name, c->origin,
                        what);
}

static int check(struct mk_ctx *ctx, struct os_cloud *c, bool from_files)
{
    const char *t = c->auth_type;
    int r;

    if (c->identity_api_version && strcmp(c->identity_api_version, "3") &&
        strncmp(c->identity_api_version, "3.", 2))
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): identity_api_version %s is not supported (only 3)",
                            c->name, c->origin, c->identity_api_version);
    if (!t) {
        /* As openstackclient does, the credentials given choose the method. */
        if (c->app_cred_secret && !c->password)
            c->kind = OS_AUTH_APPCRED;
        else if (c->token && !c->password)
            c->kind = OS_AUTH_TOKEN;
        else
            c->kind = OS_AUTH_PASSWORD;
    } else if (!strcmp(t, "password") || !strcmp(t, "v3password")) {
        c->kind = OS_AUTH_PASSWORD;
    } else if (!strcmp(t, "v3applicationcredential") || !strcmp(t, "applicationcredential")) {
        c->kind = OS_AUTH_APPCRED;
    } else if (!strcmp(t, "token") || !strcmp(t, "v3token")) {
        c->kind = OS_AUTH_TOKEN;
    } else {
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): auth_type '%s' is not supported (password, "
                            "v3applicationcredential, token)",
                            c->name, c->origin, t);
    }
    /* Keeping the password out of clouds.yaml and exporting OS_PASSWORD is common; other
     * OS_* variables are not merged into a named cloud (they would add a scope to an
     * application credential, which Keystone refuses). */
    if (from_files && c->kind == OS_AUTH_PASSWORD && !c->password) {
        r = set_default(ctx, &c->password, env("OS_PASSWORD"));
        if (r < 0)
            return r;
    }
    if (!c->auth_url)
        return missing(ctx, c, "auth.auth_url (OS_AUTH_URL)");
    if (c->cert || c->key)
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): TLS client certificates (cert, key) are not "
                            "supported",
                            c->name, c->origin);
    switch (c->kind) {
    case OS_AUTH_PASSWORD:
        if (!c->username && !c->user_id)
            return missing(ctx, c, "auth.username (OS_USERNAME) or auth.user_id");
        if (!c->password)
            return missing(ctx, c, "auth.password (OS_PASSWORD, or in secure.yaml)");
        break;
    case OS_AUTH_APPCRED:
        if (!c->app_cred_secret)
            return missing(ctx, c, "auth.application_credential_secret");
        if (!c->app_cred_id && !c->app_cred_name)
            return missing(ctx, c, "auth.application_credential_id or _name");
        if (!c->app_cred_id && !c->username && !c->user_id)
            return missing(ctx, c, "auth.username (needed with application_credential_name)");
        break;
    case OS_AUTH_TOKEN:
        if (!c->token)
            return missing(ctx, c, "auth.token (OS_TOKEN)");
        break;
    }
    if (c->kind != OS_AUTH_APPCRED && !c->project_id && !c->project_name)
        return missing(ctx, c, "auth.project_name (OS_PROJECT_NAME) or auth.project_id");
    /* Keystone needs a domain with every name; openstackclient defaults to the id "default". */
    if (!c->default_domain_id && !c->default_domain_name) {
        r = set_default(ctx, &c->default_domain_id, "default");
        if (r < 0)
            return r;
    }
    if (c->interface) {
        size_t n = strlen(c->interface);

        /* Legacy v2 names: publicURL, internalURL, adminURL. */
        if (n > 3 && !strcmp(c->interface + n - 3, "URL"))
            c->interface[n - 3] = '\0';
        if (strcmp(c->interface, "public") && strcmp(c->interface, "internal") &&
            strcmp(c->interface, "admin"))
            return mk_set_error(ctx, MK_ECONFIG,
                                "cloud '%s' (%s): interface '%s' is not public, internal or admin",
                                c->name, c->origin, c->interface);
    }
    r = set_default(ctx, &c->interface, "public");
    if (r >= 0)
        r = set_default(ctx, &c->region_name, c->first_region);
    if (r < 0)
        return r;
    c->insecure = is_false(c->verify) || is_true(c->insecure_text);
    return MK_OK;
}

int os_cloud_load(struct mk_ctx *ctx, const char *name, struct os_cloud **ret)
{
    struct os_cloud *c;
    bool from_files;
    int r;

    if (!name || !*name)
        name = env("OS_CLOUD");
    from_files = name != NULL;
    if (!from_files && !env("OS_AUTH_URL"))
        return mk_set_error(ctx, MK_ECONFIG,
                            "no OpenStack cloud given: use --os-cloud NAME or OS_CLOUD (with "
                            "clouds.yaml), or set OS_AUTH_URL and the other OS_* variables");
    c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strdup(from_files ? name : "(environment)"))) {
        free(c);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    r = from_files ? load_from_files(ctx, name, c) : load_from_env(ctx, c);
    if (r >= 0)
        r = check(ctx, c, from_files);
    if (r < 0) {
        os_cloud_free(c);
        return r;
    }
    *ret = c;
    return MK_OK;
}
