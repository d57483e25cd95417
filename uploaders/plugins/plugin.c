/* plugin.c: finding external uploaders on PATH (the way git finds its remote helpers),
 * asking them to describe themselves, and listing them. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "plugin_private.h"

static pthread_mutex_t plugins_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mk_plugin *plugins;

/* Names become file names: no slashes, no leading dot, nothing a shell would mangle. */
static bool good_name(const char *name)
{
    if (!*name || *name == '.' || *name == '-' || strlen(name) > 64)
        return false;
    for (const char *t = name; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_' || *t == '.'))
            return false;
    return true;
}

static bool is_executable(const char *file)
{
    struct stat st;

    return stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0;
}

/* The first executable unikernel-mkimage-uploader-NAME on PATH (an empty entry is the
 * current folder, as for execvp), malloc'ed; NULL when none. */
static char *find_on_path(const char *name)
{
    const char *path = getenv("PATH");
    char file[4096];

    if (!good_name(name) || !path)
        return NULL;
    for (const char *dir = path;; dir++) {
        size_t len = strcspn(dir, ":");
        int n = snprintf(file, sizeof(file), "%.*s/" MK_PLUGIN_PREFIX "%s",
                         len ? (int)len : 1, len ? dir : ".", name);

        if (n > 0 && (size_t)n < sizeof(file) && is_executable(file))
            return strdup(file);
        dir += len;
        if (!*dir)
            return NULL;
    }
}

static bool is_builtin(const char *name)
{
    for (size_t i = 0; mk_uploaders[i]; i++)
        if (!strcmp(mk_uploaders[i]->name, name))
            return true;
    return false;
}

static void free_options(struct mk_uploader_option *opts)
{
    for (struct mk_uploader_option *o = opts; o && o->name; o++) {
        free((char *)o->name);
        free((char *)o->arg);
        free((char *)o->help);
    }
    free(opts);
}

/* Reads describe's "options": [{"name": "dir", "arg": "PATH", "help": "...", "value": true,
 * "repeat": false}...] into a table; an option takes a value unless "value" is false. */
static int parse_options(struct mk_ctx *ctx, const struct mk_plugin *p, json_t *arr,
                         struct mk_uploader_option **ret)
{
    struct mk_uploader_option *opts;
    json_t *o;
    size_t i;

    if (!json_is_array(arr))
        return mk_set_error(ctx, MK_EFORMAT, "'%s describe': \"options\" is not an array",
                            p->path);
    opts = calloc(json_array_size(arr) + 1, sizeof(*opts));
    if (!opts)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_array_foreach(arr, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *arg = json_string_value(json_object_get(o, "arg"));
        const char *help = json_string_value(json_object_get(o, "help"));
        json_t *value = json_object_get(o, "value"), *repeat = json_object_get(o, "repeat");

        while (name && *name == '-')
            name++;
        if (!name || !*name || strpbrk(name, "= \t\r\n") || (value && !json_is_boolean(value)) ||
            (repeat && !json_is_boolean(repeat))) {
            free_options(opts);
            return mk_set_error(ctx, MK_EFORMAT, "'%s describe': option %zu wants a \"name\" "
                                "(no '=' or spaces) and true or false in \"value\" and "
                                "\"repeat\"", p->path, i + 1);
        }
        opts[i].repeat = json_is_true(repeat);
        opts[i].name = strdup(name);
        opts[i].help = strdup(help ? help : "");
        if (!json_is_false(value))
            opts[i].arg = strdup(arg && *arg ? arg : "VALUE");
        if (!opts[i].name || !opts[i].help || (!json_is_false(value) && !opts[i].arg)) {
            free_options(opts);
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
    }
    *ret = opts;
    return MK_OK;
}

/* Reads the answer to `describe`: {"protocol":1,"description":...,"formats":[...],
 * "options":[...],"usage":...}. */
static int parse_describe(struct mk_ctx *ctx, struct mk_plugin *p, const struct mk_buf *out)
{
    json_error_t e;
    json_t *j = json_loadb(out->buf, out->len, 0, &e), *formats, *f;
    const char *desc, *usage;
    size_t n = 0, i;
    int r = MK_OK;

    if (!json_is_object(j)) {
        r = mk_set_error(ctx, MK_EFORMAT, "'%s describe' printed no JSON object (%s)",
                         p->path, e.text);
        goto out;
    }
    if (json_integer_value(json_object_get(j, "protocol")) != MK_PLUGIN_PROTOCOL) {
        r = mk_set_error(ctx, MK_EUNSUPPORTED, "'%s describe' speaks protocol %lld; this "
                         "version speaks %d", p->path,
                         (long long)json_integer_value(json_object_get(j, "protocol")),
                         MK_PLUGIN_PROTOCOL);
        goto out;
    }
    desc = json_string_value(json_object_get(j, "description"));
    usage = json_string_value(json_object_get(j, "usage"));
    formats = json_object_get(j, "formats");
    json_array_foreach(formats, i, f) {
        enum mk_format fmt;
        const char *fname = json_string_value(f);

        if (!fname || mk_format_from_name(ctx, fname, &fmt) < 0) {
            r = mk_set_error(ctx, MK_EFORMAT, "'%s describe': unknown format '%s' (raw, gce, "
                             "qcow2)", p->path, fname ? fname : "(not a string)");
            goto out;
        }
        if (n + 1 < MK_ARRAY_SIZE(p->u.formats))
            p->u.formats[n++] = fmt;
    }
    if (!n)
        p->u.formats[n++] = MK_FORMAT_RAW;
    p->u.formats[n] = 0;
    if (json_object_get(j, "options") &&
        (r = parse_options(ctx, p, json_object_get(j, "options"), &p->options)) < 0)
        goto out;
    p->description = strdup(desc ? desc : "external uploader");
    /* The table wins over the free text, which older plugins give alone. */
    p->usage = p->options ? mk_uploader_options_text(p->options) : strdup(usage ? usage : "");
    if (!p->description || !p->usage)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
out:
    json_decref(j);
    return r;
}

static int describe(struct mk_ctx *ctx, struct mk_plugin *p)
{
    struct mk_plugin_proc pr;
    int r;

    r = mk_plugin_spawn(ctx, p, "describe", NULL, false, &pr);
    if (r < 0)
        return r;
    r = mk_plugin_wait(ctx, &pr, MK_PLUGIN_DESCRIBE_TIMEOUT, false);
    if (r >= 0 && (!(WIFEXITED(pr.status) && WEXITSTATUS(pr.status) == 0) ||
                   !pr.out.buf[strspn(pr.out.buf, " \t\r\n")])) {
        /* describe is optional: without it, the plugin takes raw and documents nothing. */
        struct mk_buf b = MK_BUF_INIT;

        mk_buf_addf(&b, "external uploader (describe failed%s%s)", pr.last_line[0] ? ": " : "",
                    pr.last_line);
        p->description = mk_buf_detach(&b, NULL);
        p->usage = strdup("");
        p->u.formats[0] = MK_FORMAT_RAW;
        p->u.formats[1] = 0;
    } else if (r >= 0) {
        r = parse_describe(ctx, p, &pr.out);
    }
    mk_plugin_stop(ctx, &pr, 0);
    mk_buf_release(&pr.out);
    return r;
}

static struct mk_plugin *plugin_new(const char *name, char *path)
{
    struct mk_plugin *p = calloc(1, sizeof(*p));
    struct mk_ctx *ctx = mk_ctx_new();

    if (!p || !ctx || !(p->name = strdup(name))) {
        free(p);
        free(path);
        mk_ctx_free(ctx);
        return NULL;
    }
    p->path = path;
    p->u = mk_plugin_hooks;
    p->u.name = p->name;
    if (describe(ctx, p) < 0) {
        /* Still an uploader, so that using it names the real problem. */
        struct mk_buf b = MK_BUF_INIT;

        p->describe_error = strdup(mk_errmsg(ctx));
        mk_buf_addf(&b, "external uploader (describe failed: %s)", mk_errmsg(ctx));
        free(p->description);
        free(p->usage);
        free_options(p->options);
        p->options = NULL;
        p->description = mk_buf_detach(&b, NULL);
        p->usage = strdup("");
        p->u.formats[0] = MK_FORMAT_RAW;
        p->u.formats[1] = 0;
    }
    p->u.description = p->description ? p->description : "external uploader";
    p->u.usage = p->usage ? p->usage : "";
    p->u.options = p->options;
    mk_ctx_free(ctx);
    return p;
}

const struct mk_uploader *mk_plugin_find(const char *name)
{
    struct mk_plugin *p;
    char *path;

    if (!name || is_builtin(name))
        return NULL;
    pthread_mutex_lock(&plugins_lock);
    for (p = plugins; p; p = p->next)
        if (!strcmp(p->name, name))
            goto out;
    path = find_on_path(name);
    if (path && (p = plugin_new(name, path))) {
        p->next = plugins;
        plugins = p;
    }
out:
    pthread_mutex_unlock(&plugins_lock);
    return p ? &p->u : NULL;
}

const char *mk_uploader_plugin_path(const char *name)
{
    const struct mk_uploader *u = mk_plugin_find(name);

    return u ? ((const struct mk_plugin *)u)->path : NULL;
}

size_t mk_uploader_formats(const char *name, enum mk_format *ret, size_t max)
{
    const struct mk_uploader *u = mk_uploader_find(name);
    size_t n = 0;

    for (size_t i = 0; u && i < MK_ARRAY_SIZE(u->formats) && u->formats[i] && n < max; i++)
        ret[n++] = u->formats[i];
    return n;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_name(char ***names, size_t *n, size_t *alloc, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name))
            return MK_OK;
    if (MK_GROW(*names, *n + 2, *alloc) < 0)
        return MK_ENOMEM;
    if (!((*names)[*n] = strdup(name)))
        return MK_ENOMEM;
    (*names)[++*n] = NULL;
    return MK_OK;
}

void mk_uploader_plugins_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

int mk_uploader_plugins(struct mk_ctx *ctx, char ***ret)
{
    const char *path = getenv("PATH");
    char **names = calloc(1, sizeof(*names)), file[4096];
    size_t n = 0, alloc = names ? 1 : 0;

    if (!names)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (const char *dir = path ? path : ""; path;) {
        size_t len = strcspn(dir, ":");
        int w = snprintf(file, sizeof(file), "%.*s", len ? (int)len : 1, len ? dir : ".");
        DIR *d = w > 0 && (size_t)w < sizeof(file) ? opendir(file) : NULL;
        struct dirent *de;

        while (d && (de = readdir(d))) {
            const char *name = de->d_name + strlen(MK_PLUGIN_PREFIX);
            char *found;

            if (strncmp(de->d_name, MK_PLUGIN_PREFIX, strlen(MK_PLUGIN_PREFIX)) ||
                !good_name(name) || is_builtin(name))
                continue;
            /* Only the one PATH would run counts. */
            found = find_on_path(name);
            if (found && add_name(&names, &n, &alloc, name) < 0) {
                free(found);
                closedir(d);
                mk_uploader_plugins_free(names);
                return mk_set_error(ctx, MK_ENOMEM, "out of memory");
            }
            free(found);
        }
        if (d)
            closedir(d);
        dir += len;
        if (!*dir)
            break;
        dir++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    *ret = names;
    return MK_OK;
}
