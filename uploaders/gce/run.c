/* run.c: mk_run_* (one instance of an image, judged by its serial console) and the
 * options the GCE commands other than push share: the connection to Compute Engine. */
#include <stdlib.h>
#include <string.h>

#include "gce_private.h"

/* The options of the uploader that say how to reach Compute Engine. */
static const char *const connection_keys[] = {
    "project", "credentials", "compute-endpoint", "backoff", "retries", "cacert", "insecure",
    "stall-timeout", NULL,
};

int gce_connection_option(struct mk_ctx *ctx, struct gce *g, const char *key,
                          const char *value)
{
    for (size_t i = 0; connection_keys[i]; i++)
        if (!strcmp(key, connection_keys[i]))
            return gce_set_option(ctx, g, key, value);
    return MK_EUNSUPPORTED;
}

int gce_connection_arity(const char *key)
{
    for (size_t i = 0; connection_keys[i]; i++)
        if (!strcmp(key, connection_keys[i]))
            return strcmp(key, "insecure") != 0;
    return -1;
}

struct mk_run {
    struct gce *g;
    char *zone, *machine_type, *name, *expect;
    double timeout;
    bool keep;
    struct mk_buf result;
};

int mk_run_new(struct mk_ctx *ctx, const char *cloud, struct mk_run **ret)
{
    struct mk_run *run;
    void *g = NULL;

    if (!cloud || strcmp(cloud, "gce"))
        return mk_set_error(ctx, MK_ENOTFOUND, "run: unknown cloud '%s' (known: gce)",
                            cloud ? cloud : "");
    run = calloc(1, sizeof(*run));
    if (!run || gce_create(ctx, &g) < 0) {
        free(run);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    run->g = g;
    run->timeout = 300;
    mk_buf_init(&run->result);
    *ret = run;
    return MK_OK;
}

static const struct {
    const char *key;
    bool value;
} run_keys[] = {
    {"zone", true}, {"machine-type", true}, {"name", true}, {"expect", true},
    {"timeout", true}, {"keep", false},
};

int mk_run_option_arity(const char *key)
{
    while (*key == '-')
        key++;
    for (size_t i = 0; i < MK_ARRAY_SIZE(run_keys); i++)
        if (!strcmp(key, run_keys[i].key))
            return run_keys[i].value;
    return gce_connection_arity(key);
}

int gce_parse_seconds(struct mk_ctx *ctx, const char *key, const char *value, double *ret)
{
    char *end;
    double v = value ? strtod(value, &end) : -1;

    if (!value || end == value || *end || !(v > 0) || v > 1e7)
        return mk_set_error(ctx, MK_EINVAL, "option --%s: '%s' is not a number of seconds",
                            key, value ? value : "");
    *ret = v;
    return MK_OK;
}

int mk_run_set_option(struct mk_ctx *ctx, struct mk_run *run, const char *key,
                      const char *value)
{
    int r;

    while (*key == '-')
        key++;
    if (!strcmp(key, "zone"))
        return gce_option_string(ctx, &run->zone, key, value);
    if (!strcmp(key, "machine-type"))
        return gce_option_string(ctx, &run->machine_type, key, value);
    if (!strcmp(key, "expect"))
        return gce_option_string(ctx, &run->expect, key, value);
    if (!strcmp(key, "name")) {
        r = value ? gce_check_name(ctx, "instance name", value) : MK_OK;
        return r < 0 ? r : gce_option_string(ctx, &run->name, key, value);
    }
    if (!strcmp(key, "timeout"))
        return gce_parse_seconds(ctx, key, value, &run->timeout);
    if (!strcmp(key, "keep")) {
        run->keep = true;
        return MK_OK;
    }
    r = gce_connection_option(ctx, run->g, key, value);
    if (r == MK_EUNSUPPORTED)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "run gce: unknown option --%s", key);
    return r;
}

const char *mk_run_result(const struct mk_run *run)
{
    return run->result.buf;
}

void mk_run_free(struct mk_run *run)
{
    if (!run)
        return;
    gce_destroy(run->g);
    free(run->zone);
    free(run->machine_type);
    free(run->name);
    free(run->expect);
    mk_buf_release(&run->result);
    free(run);
}

int gce_run_instance(struct mk_ctx *ctx, struct gce *g, const struct gce_instance *in,
                     bool keep, struct gce_watch *w, json_t *result)
{
    bool created = false, deleted = false;
    int r = gce_instance_create(ctx, g, in, &created);

    json_object_set_new(result, "instance", json_string(in->name));
    json_object_set_new(result, "zone", json_string(in->zone));
    if (created)
        mk_log(ctx, MK_LOG_INFO, "instance %s created in %s", in->name, in->zone);
    if (r == MK_OK)
        r = gce_instance_watch(ctx, g, in, w);
    if (r == MK_OK && in->expect && !w->matched) {
        char tail[512];

        gce_watch_tail_line(w, 3, tail, sizeof(tail));
        if (w->timed_out)
            r = mk_set_error(ctx, MK_ETIMEOUT, "'%s' did not appear on %s's serial console "
                             "within %.0f s; it ends: %s", in->expect, in->name, in->timeout,
                             *tail ? tail : "(nothing)");
        else
            r = mk_set_error(ctx, MK_EBOOT, "instance %s stopped (%s) after %.1f s without "
                             "printing '%s'; its console ends: %s", in->name, w->status,
                             w->seconds, in->expect, *tail ? tail : "(nothing)");
    }
    if (created && (!keep || r < 0)) {
        /* Also after Ctrl-C: delete through a context that is not cancelled, keeping the
         * first error. */
        struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
        int r2 = gce_instance_delete(&tmp, g, in->zone, in->name);

        deleted = r2 == MK_OK;
        if (r2 < 0 && r == MK_OK)
            r = mk_set_error(ctx, r2, "%s", mk_errmsg(&tmp));
        else if (r2 < 0)
            mk_log(ctx, MK_LOG_WARN, "could not delete instance %s: %s", in->name,
                   mk_errmsg(&tmp));
    }
    json_object_set_new(result, "status", json_string(w->status[0] ? w->status : "NONE"));
    json_object_set_new(result, "matched", json_boolean(w->matched));
    json_object_set_new(result, "stopped", json_boolean(w->stopped));
    json_object_set_new(result, "seconds", json_real(w->seconds));
    json_object_set_new(result, "deleted", json_boolean(deleted));
    return r;
}

int mk_run_image(struct mk_ctx *ctx, struct mk_run *run, const char *image,
                 mk_console_fn on_console, void *opaque)
{
    struct gce_watch w = {.on_console = on_console, .opaque = opaque,
                          .tail = MK_BUF_INIT, .window = MK_BUF_INIT};
    struct gce_instance in = {.zone = run->zone,
                              .machine_type = run->machine_type ? run->machine_type
                                                                : "e2-small",
                              .image = image, .expect = run->expect,
                              .timeout = run->timeout};
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    json_t *result = json_object();
    char *name = NULL, *text;
    int r;

    if (!result)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (!run->zone) {
        json_decref(result);
        return mk_set_error(ctx, MK_EINVAL, "run gce needs --zone");
    }
    r = gce_check_name(ctx, "image name", base);
    if (r == MK_OK)
        r = run->name ? ((name = strdup(run->name)) ? MK_OK : MK_ENOMEM)
                      : gce_instance_name(ctx, base, "run", &name);
    if (r == MK_OK)
        r = gce_connect(ctx, run->g);
    if (r == MK_OK) {
        in.name = name;
        r = gce_run_instance(ctx, run->g, &in, run->keep, &w, result);
    }
    if (json_object_size(result)) {
        mk_buf_reset(&run->result);
        text = json_dumps(result, JSON_COMPACT);
        if (text)
            mk_buf_adds(&run->result, text);
        free(text);
    }
    gce_watch_release(&w);
    json_decref(result);
    free(name);
    return r;
}
