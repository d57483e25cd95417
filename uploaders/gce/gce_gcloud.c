/* gce_gcloud.c: gcloud's own configuration, read as gcloud reads it, so that a gcloud user's
 * project, zone and region need not be repeated on our command line.
 *
 * The folder is CLOUDSDK_CONFIG or ~/.config/gcloud; the active configuration is named by
 * CLOUDSDK_ACTIVE_CONFIG_NAME, else by the file active_config, else "default"; its
 * properties are in configurations/config_NAME, an INI file ([core] project = ...,
 * [compute] zone/region, [auth] impersonate_service_account). Environment variables
 * CLOUDSDK_SECTION_PROPERTY override the file, as in gcloud. The INI syntax is gcloud's
 * (Python configparser); libinih reads the subset gcloud writes. */
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "gce_private.h"

#define CONFIG_NAME_MAX 200

struct property {
    const char *section, *name, *env;
    size_t offset;
};

static const struct property properties[] = {
    {"core", "project", "CLOUDSDK_CORE_PROJECT", offsetof(struct gce_gcloud, project)},
    {"compute", "zone", "CLOUDSDK_COMPUTE_ZONE", offsetof(struct gce_gcloud, zone)},
    {"compute", "region", "CLOUDSDK_COMPUTE_REGION", offsetof(struct gce_gcloud, region)},
    {"auth", "impersonate_service_account", "CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT",
     offsetof(struct gce_gcloud, impersonate)},
};

static char **slot(struct gce_gcloud *g, const struct property *p)
{
    return (char **)((char *)g + p->offset);
}

void gce_gcloud_release(struct gce_gcloud *g)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(properties); i++) {
        free(*slot(g, &properties[i]));
        *slot(g, &properties[i]) = NULL;
    }
    free(g->config_file);
    g->config_file = NULL;
}

static int on_property(void *user, const char *section, const char *name, const char *value)
{
    struct gce_gcloud *g = user;

    for (size_t i = 0; i < MK_ARRAY_SIZE(properties); i++) {
        char **dst = slot(g, &properties[i]);

        if (strcmp(section, properties[i].section) || strcmp(name, properties[i].name))
            continue;
        free(*dst);
        *dst = *value ? strdup(value) : NULL;
        if (*value && !*dst)
            return 0;
    }
    return 1;
}

int gce_gcloud_dir(struct mk_buf *out)
{
    const char *cfg = getenv("CLOUDSDK_CONFIG"), *home = getenv("HOME");

    if (cfg && *cfg)
        return mk_buf_adds(out, cfg);
    return mk_buf_addf(out, "%s/.config/gcloud", home ? home : "");
}

/* The active configuration's name: the variable, the file, or "default". */
static int active_name(struct mk_ctx *ctx, const char *dir, char *name, size_t size)
{
    const char *env = getenv("CLOUDSDK_ACTIVE_CONFIG_NAME");
    struct mk_buf path = MK_BUF_INIT, text = MK_BUF_INIT;
    int r = MK_OK;

    if (env && *env) {
        snprintf(name, size, "%s", env);
    } else if (mk_buf_addf(&path, "%s/active_config", dir) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    } else if ((r = mk_buf_read_file(ctx, &text, path.buf, CONFIG_NAME_MAX)) == MK_OK) {
        while (text.len && strchr(" \t\r\n", text.buf[text.len - 1]))
            text.buf[--text.len] = '\0';
        snprintf(name, size, "%s", text.len ? text.buf : "default");
    } else if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        snprintf(name, size, "default");
        r = MK_OK;
    } else {
        mk_error_prefix(ctx, "gcloud configuration");
    }
    mk_buf_release(&path);
    mk_buf_release(&text);
    if (r == MK_OK && (strchr(name, '/') || !strcmp(name, "..") || !*name))
        r = mk_set_error(ctx, MK_ECONFIG, "gcloud configuration name '%s' is not valid", name);
    return r;
}

int gce_gcloud_load(struct mk_ctx *ctx, struct gce_gcloud *g)
{
    struct mk_buf dir = MK_BUF_INIT, path = MK_BUF_INIT;
    char name[CONFIG_NAME_MAX + 1];
    FILE *f;
    int r, line;

    memset(g, 0, sizeof(*g));
    if (gce_gcloud_dir(&dir) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = active_name(ctx, dir.buf, name, sizeof(name));
    if (r == MK_OK && mk_buf_addf(&path, "%s/configurations/config_%s", dir.buf, name) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    mk_buf_release(&dir);
    if (r < 0) {
        mk_buf_release(&path);
        return r;
    }
    f = fopen(path.buf, "r");
    if (f) {
        line = ini_parse_file(f, on_property, g);
        fclose(f);
        if (line > 0)
            r = mk_set_error(ctx, MK_ECONFIG, "gcloud configuration %s: line %d is not "
                             "'name = value' or '[section]'", path.buf, line);
        else if (line < 0)
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    } else if (errno != ENOENT) {
        r = mk_set_errno(ctx, MK_EIO, errno, "gcloud configuration %s", path.buf);
    }
    if (r == MK_OK)
        g->config_file = mk_buf_detach(&path, NULL);
    mk_buf_release(&path);
    for (size_t i = 0; r == MK_OK && i < MK_ARRAY_SIZE(properties); i++) {
        const char *env = getenv(properties[i].env);
        char **dst = slot(g, &properties[i]);

        if (!env || !*env)
            continue;
        free(*dst);
        if (!(*dst = strdup(env)))
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    if (r < 0)
        gce_gcloud_release(g);
    return r;
}
