/* deploy_options.c: the options of `deploy gce` (mk_deploy_new/set_option/free): each
 * value is checked when it is given, so bad input fails before anything is sent. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

int mk_deploy_new(struct mk_ctx *ctx, const char *cloud, struct mk_deploy **ret)
{
    struct mk_deploy *d;
    void *g = NULL;

    if (!cloud || strcmp(cloud, "gce"))
        return mk_set_error(ctx, MK_ENOTFOUND, "deploy: unknown cloud '%s' (known: gce)",
                            cloud ? cloud : "");
    d = calloc(1, sizeof(*d));
    if (!d || gce_create(ctx, &g) < 0) {
        free(d);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    d->g = g;
    d->size = -1;
    d->initial_delay = 120;
    d->surge = 1;
    d->unavailable = 0;
    d->timeout = 900;
    d->poll = 5;
    d->keep_templates = 3;
    mk_buf_init(&d->text);
    *ret = d;
    return MK_OK;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void mk_deploy_free(struct mk_deploy *d)
{
    if (!d)
        return;
    gce_destroy(d->g);
    char **strs[] = {&d->group, &d->zone, &d->region, &d->image, &d->family,
                     &d->machine_type, &d->network, &d->subnet, &d->hc_type, &d->hc_path,
                     &d->scope, &d->image_name, &d->template_name, &d->previous,
                     &d->previous_version, &d->hc_name};
    for (size_t i = 0; i < MK_ARRAY_SIZE(strs); i++)
        free(*strs[i]);
    free_list(d->tags, d->n_tags);
    free_list(d->labels, d->n_labels);
    free_list(d->metadata, d->n_metadata);
    json_decref(d->result);
    mk_buf_release(&d->text);
    free(d);
}

const char *mk_deploy_result(const struct mk_deploy *d)
{
    return d->text.buf;
}

static const struct {
    const char *key;
    bool value;
} deploy_keys[] = {
    {"group", true}, {"zone", true}, {"region", true}, {"image", true}, {"family", true},
    {"size", true}, {"machine-type", true}, {"health-check", true}, {"initial-delay", true},
    {"max-surge", true}, {"max-unavailable", true}, {"autoscale", true}, {"network", true},
    {"subnet", true}, {"no-address", false}, {"tag", true}, {"label", true},
    {"metadata", true}, {"timeout", true}, {"no-rollback", false}, {"keep-templates", true},
    {"poll-interval", true},
};

int mk_deploy_option_arity(const char *key)
{
    while (*key == '-')
        key++;
    for (size_t i = 0; i < MK_ARRAY_SIZE(deploy_keys); i++)
        if (!strcmp(key, deploy_keys[i].key))
            return deploy_keys[i].value;
    return gce_connection_arity(key);
}

/* A whole number in [lo, hi] from (s) up to (end) (or its end), or -1. */
static long number(const char *s, const char *end, long lo, long hi)
{
    long v = 0;

    if (!end)
        end = s + strlen(s);
    if (s == end || end - s > 9)
        return -1;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

/* "N" or "N%". */
static int set_fixed_or_percent(struct mk_ctx *ctx, const char *key, const char *value,
                                int *ret, bool *ret_percent)
{
    size_t len = value ? strlen(value) : 0;
    bool pct = len && value[len - 1] == '%';
    long v = value ? number(value, value + len - pct, 0, pct ? 100 : 1000) : -1;

    if (v < 0)
        return mk_set_error(ctx, MK_EINVAL, "--%s '%s': want a number of instances (N) or a "
                            "percentage (N%%)", key, value ? value : "");
    *ret = (int)v;
    *ret_percent = pct;
    return MK_OK;
}

/* tcp:PORT or http:PORT[/PATH] */
static int set_health_check(struct mk_ctx *ctx, struct mk_deploy *d, const char *value)
{
    const char *colon = value ? strchr(value, ':') : NULL, *slash;
    long port;

    if (!colon || (strncmp(value, "tcp:", 4) && strncmp(value, "http:", 5)))
        goto bad;
    slash = strchr(colon + 1, '/');
    port = number(colon + 1, slash, 1, 65535);
    if (port < 0 || (slash && value[0] == 't'))
        goto bad;
    for (const char *p = slash; p && *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || (unsigned char)*p >= 0x7f)
            goto bad;
    free(d->hc_type);
    free(d->hc_path);
    d->hc_type = strndup(value, (size_t)(colon - value));
    d->hc_path = strdup(slash ? slash : "/");
    d->hc_port = (int)port;
    if (!d->hc_type || !d->hc_path)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
bad:
    return mk_set_error(ctx, MK_EINVAL, "--health-check '%s': want tcp:PORT or "
                        "http:PORT[/PATH] (port 1-65535)", value ? value : "");
}

/* MIN:MAX[:CPU%] */
static int set_autoscale(struct mk_ctx *ctx, struct mk_deploy *d, const char *value)
{
    const char *c1 = value ? strchr(value, ':') : NULL, *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    long lo = c1 ? number(value, c1, 0, 1000) : -1;
    long hi = c1 ? number(c1 + 1, c2, 1, 1000) : -1, cpu = 60;

    if (c2) {
        size_t len = strlen(c2 + 1);
        cpu = number(c2 + 1, c2 + 1 + len - (len && c2[len] == '%'), 1, 100);
    }
    if (lo < 0 || hi < 0 || cpu < 0 || hi < lo)
        return mk_set_error(ctx, MK_EINVAL, "--autoscale '%s': want MIN:MAX[:CPU%%] with "
                            "0 <= MIN <= MAX and CPU 1-100", value ? value : "");
    d->as_min = (int)lo;
    d->as_max = (int)hi;
    d->as_cpu = (int)cpu;
    return MK_OK;
}

static int check_kv(struct mk_ctx *ctx, const char *key, const char *value, bool label)
{
    const char *eq = value ? strchr(value, '=') : NULL;
    bool ok = eq && eq > value;

    for (const char *p = value; ok && label && *p; p++)
        ok = p == eq || islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
             *p == '_' || *p == '-';
    if (ok && label)
        ok = islower((unsigned char)value[0]) && eq - value <= 63 && strlen(eq + 1) <= 63;
    if (!ok)
        return mk_set_error(ctx, MK_EINVAL, "--%s '%s': want KEY=VALUE%s", key,
                            value ? value : "",
                            label ? " (lowercase letters, digits, '_' and '-')" : "");
    return MK_OK;
}

int mk_deploy_set_option(struct mk_ctx *ctx, struct mk_deploy *d, const char *key,
                         const char *value)
{
    long n;
    int r;

    while (*key == '-')
        key++;
    if (!strcmp(key, "group")) {
        r = value ? gce_check_name(ctx, "group name", value) : MK_OK;
        if (r == MK_OK && value && strlen(value) > 40)
            r = mk_set_error(ctx, MK_EINVAL, "group name '%s' is too long (at most 40 "
                             "characters: instance and template names are made from it)",
                             value);
        return r < 0 ? r : gce_option_string(ctx, &d->group, key, value);
    }
    if (!strcmp(key, "zone") || !strcmp(key, "region")) {
        r = value ? gce_check_name(ctx, key, value) : MK_OK;
        return r < 0 ? r : gce_option_string(ctx, key[0] == 'z' ? &d->zone : &d->region, key, value);
    }
    if (!strcmp(key, "image") || !strcmp(key, "family")) {
        r = value ? gce_check_name(ctx, key[0] == 'i' ? "image name" : "image family", value)
                  : MK_OK;
        return r < 0 ? r : gce_option_string(ctx, key[0] == 'i' ? &d->image : &d->family, key, value);
    }
    if (!strcmp(key, "machine-type") || !strcmp(key, "network") || !strcmp(key, "subnet")) {
        r = value ? gce_check_name(ctx, key, value) : MK_OK;
        return r < 0 ? r : gce_option_string(ctx, key[0] == 'm' ? &d->machine_type
                                        : key[0] == 'n' ? &d->network : &d->subnet,
                                   key, value);
    }
    if (!strcmp(key, "size") || !strcmp(key, "initial-delay") ||
        !strcmp(key, "keep-templates")) {
        n = value ? number(value, NULL, key[0] == 'k' ? 1 : 0, key[0] == 'i' ? 3600 : 1000)
                  : -1;
        if (n < 0)
            return mk_set_error(ctx, MK_EINVAL, "--%s '%s': want a whole number%s", key,
                                value ? value : "", key[0] == 'i' ? " of seconds (0-3600)"
                                                    : key[0] == 'k' ? " (at least 1)" : "");
        *(key[0] == 's' ? &d->size : key[0] == 'i' ? &d->initial_delay : &d->keep_templates) =
            (int)n;
        return MK_OK;
    }
    if (!strcmp(key, "max-surge")) {
        d->surge_set = true;
        return set_fixed_or_percent(ctx, key, value, &d->surge, &d->surge_percent);
    }
    if (!strcmp(key, "max-unavailable"))
        return set_fixed_or_percent(ctx, key, value, &d->unavailable, &d->unavailable_percent);
    if (!strcmp(key, "health-check"))
        return set_health_check(ctx, d, value);
    if (!strcmp(key, "autoscale"))
        return set_autoscale(ctx, d, value);
    if (!strcmp(key, "tag")) {
        r = value ? gce_check_name(ctx, "network tag", value) : MK_EINVAL;
        return r < 0 ? (value ? r : mk_set_error(ctx, r, "--tag needs a value"))
                     : gce_option_list_add(ctx, &d->tags, &d->n_tags, value);
    }
    if (!strcmp(key, "label") || !strcmp(key, "metadata")) {
        r = check_kv(ctx, key, value, key[0] == 'l');
        return r < 0 ? r
               : key[0] == 'l' ? gce_option_list_add(ctx, &d->labels, &d->n_labels, value)
                               : gce_option_list_add(ctx, &d->metadata, &d->n_metadata, value);
    }
    if (!strcmp(key, "timeout"))
        return gce_parse_seconds(ctx, key, value, &d->timeout);
    if (!strcmp(key, "poll-interval"))
        return gce_parse_seconds(ctx, key, value, &d->poll);
    if (!strcmp(key, "no-address") || !strcmp(key, "no-rollback")) {
        *(key[3] == 'a' ? &d->no_address : &d->no_rollback) = true;
        return MK_OK;
    }
    r = gce_connection_option(ctx, d->g, key, value);
    if (r == MK_EUNSUPPORTED)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "deploy gce: unknown option --%s", key);
    return r;
}
