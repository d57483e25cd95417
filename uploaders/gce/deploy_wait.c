/* deploy_wait.c: waiting for a managed instance group (cloud-apis.md 9.6, 9.7.3, 9.7.5):
 * poll `get` until status.versionTarget.isReached && status.isStable, show what the
 * instances are doing, and recognise a release that will not converge: instance creation
 * failing (quota errors in listErrors / lastAttempt) or new instances that fail their health
 * check and get autohealed again and again. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deploy.h"

/* Autoheals of new instances, or failed creations, seen before giving up early. */
#define FAILURES_TO_GIVE_UP 2

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *last_part(const char *url)
{
    const char *s = url ? strrchr(url, '/') : NULL;
    return s ? s + 1 : url ? url : "";
}

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* POST .../listManagedInstances (a POST with no body, 9.6). */
static int list_managed(struct mk_ctx *ctx, struct mk_deploy *d, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (gce_project_url(&url, d->g, "/%s/instanceGroupManagers/%s/listManagedInstances",
                        d->scope, d->group) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, d->g, "POST", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, MK_EHTTP, "listing the group's instances", &resp);
    else if (r == MK_OK)
        r = gce_json(ctx, "listManagedInstances", &resp, ret);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

static const char *health_of(json_t *mi)
{
    const char *h = str(json_array_get(json_object_get(mi, "instanceHealth"), 0),
                        "detailedHealthState");
    return *h ? h : "-";
}

void gce_managed_read(json_t *mi, struct gce_managed *ret)
{
    const char *zone;

    ret->url = str(mi, "instance");
    ret->name = *str(mi, "name") ? str(mi, "name") : last_part(ret->url);
    ret->status = *str(mi, "instanceStatus") ? str(mi, "instanceStatus") : "-";
    ret->health = health_of(mi);
    ret->template = last_part(str(json_object_get(mi, "version"), "instanceTemplate"));
    ret->action = str(mi, "currentAction");
    ret->zone[0] = '\0';
    /* Only a zone GCE could name: the rest goes into URLs and JSON (cut to fit, a longer
     * one could end in half a UTF-8 character). */
    if ((zone = strstr(ret->url, "/zones/"))) {
        size_t len = strcspn(zone + 7, "/");

        if (gce_is_name(zone + 7, len))
            snprintf(ret->zone, sizeof(ret->zone), "%.*s", (int)len, zone + 7);
    }
}

json_t *gce_deploy_instances(struct mk_ctx *ctx, struct mk_deploy *d)
{
    json_t *list = NULL, *out = json_array(), *mi, *images = json_object();
    size_t i;

    if (!out || !images || list_managed(ctx, d, &list) < 0) {
        json_decref(out);
        json_decref(images);
        return NULL;
    }
    json_array_foreach(json_object_get(list, "managedInstances"), i, mi) {
        struct gce_managed m;
        json_t *img, *t = NULL;

        gce_managed_read(mi, &m);
        img = json_object_get(images, m.template);
        if (!img && *m.template) {
            /* The image each template boots, read once per template. */
            struct mk_buf p = MK_BUF_INIT;
            mk_buf_addf(&p, "global/instanceTemplates/%s", m.template);
            if (gce_get_json(ctx, d->g, "the template", p.buf, &t) == MK_OK)
                img = json_string(last_part(str(json_object_get(json_array_get(
                    json_object_get(json_object_get(t, "properties"), "disks"), 0),
                    "initializeParams"), "sourceImage")));
            else
                img = json_string("");
            mk_clear_error(ctx);
            json_object_set_new(images, m.template, img);
            json_decref(t);
            mk_buf_release(&p);
        }
        json_array_append_new(out, json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", m.name, "zone", m.zone, "status",
            m.status, "health", m.health, "template", *m.template ? m.template : "-", "image",
            img ? json_string_value(img) : "", "action", m.action));
    }
    json_decref(list);
    json_decref(images);
    return out;
}

void gce_deploy_console_tail(struct mk_ctx *ctx, struct mk_deploy *d, const char *url,
                             char *buf, size_t size)
{
    const char *zone = strstr(url, "/zones/"), *name = last_part(url);
    struct gce_watch w = {.tail = MK_BUF_INIT, .window = MK_BUF_INIT};
    struct mk_buf u = MK_BUF_INIT;
    struct mk_http_resp resp;
    uint64_t pos = 0;

    buf[0] = '\0';
    /* The instance's URL came from the server: only names GCE could give steer a request. */
    if (!zone || !gce_is_name(zone + 7, strcspn(zone + 7, "/")) ||
        !gce_is_name(name, strlen(name)))
        return;
    mk_http_resp_init(&resp);
    /* A few reads following "next" give the end of a short console. */
    for (int reads = 0; reads < 16; reads++) {
        json_t *out = NULL;
        struct gce_serial_chunk c;

        mk_buf_reset(&u);
        gce_project_url(&u, d->g, "/zones/%.*s/instances/%s/serialPort?port=1&start=%llu",
                        (int)strcspn(zone + 7, "/"), zone + 7, name,
                        (unsigned long long)pos);
        if (gce_call(ctx, d->g, "GET", u.buf, NULL, &resp) < 0 || resp.status != 200 ||
            gce_json(ctx, "serial port", &resp, &out) < 0)
            break;
        gce_serial_parse(out, pos, &c);
        mk_buf_adds(&w.tail, c.contents);
        if (!*c.contents || c.next <= pos) {
            json_decref(out);
            break;
        }
        pos = c.next;
        json_decref(out);
    }
    mk_clear_error(ctx);
    gce_watch_tail_line(&w, 2, buf, size);
    gce_watch_release(&w);
    mk_buf_release(&u);
    mk_http_resp_release(&resp);
}

void gce_group_read(json_t *grp, json_t *list, const char *template, json_t *seen_unhealthy,
                    int *autoheals, struct gce_group_counts *c, json_t **ret_failing)
{
    json_t *st = json_object_get(grp, "status"), *mi;
    size_t i;

    memset(c, 0, sizeof(*c));
    c->target = (int)json_integer_value(json_object_get(grp, "targetSize"));
    json_array_foreach(json_object_get(list, "managedInstances"), i, mi) {
        struct gce_managed m;

        gce_managed_read(mi, &m);
        if (!strcmp(m.action, "DELETING")) {
            c->deleting++;
            continue;
        }
        if (!strcmp(m.action, "CREATING") || !strcmp(m.action, "CREATING_WITHOUT_RETRIES"))
            c->creating++;
        else if (!strcmp(m.action, "VERIFYING"))
            c->verifying++;
        else if (!strcmp(m.action, "RECREATING"))
            c->recreating++;
        else if (strcmp(m.action, "NONE"))
            c->other++;
        if (strcmp(m.template, template))
            continue;
        c->on_new++;
        if (!strcmp(m.action, "NONE"))
            c->ready++;
        /* UNHEALTHY, then RECREATING: autohealing replaced it. */
        if (!strcmp(m.health, "UNHEALTHY") || !strcmp(m.health, "TIMEOUT")) {
            json_object_set_new(seen_unhealthy, m.url, json_true());
            if (!*ret_failing)
                *ret_failing = json_incref(mi);
        } else if (!strcmp(m.action, "RECREATING") && json_object_get(seen_unhealthy, m.url)) {
            json_object_del(seen_unhealthy, m.url);
            (*autoheals)++;
        }
    }
    c->done = json_is_true(json_object_get(json_object_get(st, "versionTarget"), "isReached")) &&
              json_is_true(json_object_get(st, "isStable")) && c->on_new == c->ready &&
              c->ready == c->target;
}

int gce_group_errors(json_t *list, const char *template, int baseline, int *ret_total,
                     char *first, size_t size)
{
    json_t *it;
    int n = 0, mine = 0;
    size_t i;

    json_array_foreach(json_object_get(list, "items"), i, it) {
        json_t *err = json_object_get(it, "error");
        const char *t = last_part(str(json_object_get(json_object_get(it,
                                                                      "instanceActionDetails"),
                                                      "version"), "instanceTemplate"));
        if (n++ < baseline || strcmp(t, template))
            continue;
        if (!mine++)
            snprintf(first, size, "%s: %s", str(err, "code"), str(err, "message"));
    }
    *ret_total = n;
    return mine;
}

/* New errors in listErrors for (template) since the wait began; the first one's text. */
static int new_errors(struct mk_ctx *ctx, struct mk_deploy *d, const char *template,
                      int baseline, int *ret_total, char *first, size_t size)
{
    struct mk_buf p = MK_BUF_INIT;
    json_t *list = NULL;
    int mine;

    mk_buf_addf(&p, "%s/instanceGroupManagers/%s/listErrors", d->scope, d->group);
    if (gce_get_json(ctx, d->g, "the group's errors", p.buf, &list) < 0) {
        mk_buf_release(&p);
        return -1;
    }
    mine = gce_group_errors(list, template, baseline, ret_total, first, size);
    json_decref(list);
    mk_buf_release(&p);
    return mine;
}

int gce_deploy_wait(struct mk_ctx *ctx, struct mk_deploy *d, const char *template,
                    double timeout, struct gce_wait_outcome *out)
{
    struct mk_buf path = MK_BUF_INIT;
    double start = now(), deadline = start + timeout;
    json_t *seen_unhealthy = json_object(), *last_failing = NULL, *tail_instance = NULL;
    char last[256] = "", line[256], err[512] = "", saved_tail[300] = "";
    int baseline = -1, autoheals = 0, r = MK_OK;

    memset(out, 0, sizeof(*out));
    mk_buf_addf(&path, "%s/instanceGroupManagers/%s", d->scope, d->group);
    for (;;) {
        json_t *grp = NULL, *list = NULL, *failing = NULL;
        struct gce_group_counts c;
        int errors, total = 0;
        bool failing_now;

        r = gce_get_json(ctx, d->g, "the group", path.buf, &grp);
        if (r == MK_OK)
            r = list_managed(ctx, d, &list);
        if (r < 0) {
            json_decref(grp);
            break;
        }
        if (baseline < 0)
            new_errors(ctx, d, template, 1 << 30, &baseline, err, sizeof(err));
        mk_clear_error(ctx);
        gce_group_read(grp, list, template, seen_unhealthy, &autoheals, &c, &failing);
        /* The instance named when giving up: one failing now, else the last one seen. */
        failing_now = failing != NULL;
        if (failing) {
            /* Its console now, while it runs: autohealing may be recreating it later, and
             * a recreated instance keeps its name. Read again until one read gave text
             * (the instance may have gone to RECREATING between the list and the read). */
            if (!tail_instance ||
                strcmp(str(failing, "instance"), str(tail_instance, "instance"))) {
                char tail[sizeof(saved_tail)];

                gce_deploy_console_tail(ctx, d, str(failing, "instance"), tail, sizeof(tail));
                if (*tail) {
                    snprintf(saved_tail, sizeof(saved_tail), "%s", tail);
                    json_decref(tail_instance);
                    tail_instance = json_incref(failing);
                }
            }
            json_decref(last_failing);
            last_failing = json_incref(failing);
        } else {
            failing = json_incref(last_failing);
        }
        mk_progress(ctx, "deploy", (uint64_t)c.ready, (uint64_t)c.target);
        snprintf(line, sizeof(line), "group %s: %d/%d ready on %s; creating %d, verifying %d, "
                 "recreating %d, deleting %d", d->group, c.ready, c.target, template,
                 c.creating, c.verifying, c.recreating, c.deleting);
        if (strcmp(line, last)) {
            mk_log(ctx, MK_LOG_INFO, "%s", line);
            snprintf(last, sizeof(last), "%s", line);
        }
        if (c.done) {
            out->ok = true;
            json_decref(grp);
            json_decref(list);
            json_decref(failing);
            break;
        }
        errors = new_errors(ctx, d, template, baseline, &total, err, sizeof(err));
        mk_clear_error(ctx);
        if (errors >= FAILURES_TO_GIVE_UP || autoheals >= FAILURES_TO_GIVE_UP ||
            now() > deadline) {
            char tail[300] = "";

            /* The console as it failed: read again only while it is failing, since one
             * being recreated by autohealing shows a new boot, only begun. Else the one
             * read while an instance failed, and that instance is the one named. */
            if (failing_now)
                gce_deploy_console_tail(ctx, d, str(failing, "instance"), tail, sizeof(tail));
            if (!*tail && tail_instance) {
                snprintf(tail, sizeof(tail), "%s", saved_tail);
                json_decref(failing);
                failing = json_incref(tail_instance);
            }
            if (errors >= FAILURES_TO_GIVE_UP)
                snprintf(out->cause, sizeof(out->cause), "instances of template %s cannot be "
                         "created: %s", template, err);
            else if (failing)
                snprintf(out->cause, sizeof(out->cause), "%s%s%s after %.0f s: instance %s is "
                         "%s%s%s%s", autoheals ? "instances of the new template keep failing "
                         "their health check" : "not stable", autoheals ? " (autohealed " : "",
                         autoheals ? "again and again)" : "", now() - start,
                         last_part(str(failing, "instance")), health_of(failing),
                         *tail ? "; its console ends: '" : "", tail, *tail ? "'" : "");
            else
                snprintf(out->cause, sizeof(out->cause), "not stable after %.0f s: %d/%d "
                         "instances ready on %s, %d creating, %d verifying%s%s",
                         now() - start, c.ready, c.target, template, c.creating, c.verifying,
                         *err ? "; last error: " : "", err);
            json_decref(grp);
            json_decref(list);
            json_decref(failing);
            break;
        }
        json_decref(grp);
        json_decref(list);
        json_decref(failing);
        r = mk_http_sleep(ctx, d->poll);
        if (r == MK_ECANCELED) {
            out->canceled = true;
            break;
        }
        if (r < 0)
            break;
    }
    json_decref(seen_unhealthy);
    json_decref(last_failing);
    json_decref(tail_instance);
    mk_buf_release(&path);
    return r;
}
