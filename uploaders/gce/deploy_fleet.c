/* deploy_fleet.c: what a deploy does around the group (cloud-apis.md 9.3, 9.9): its
 * autoscaler, and the old instance templates it no longer needs. */
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

#define GROUP_LABEL "unikernel-mkimage-group"

int gce_deploy_autoscaler(struct mk_ctx *ctx, struct mk_deploy *d)
{
    struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    struct mk_buf name = MK_BUF_INIT, path = MK_BUF_INIT, url = MK_BUF_INIT;
    json_t *have = NULL, *body = NULL, *pol;
    char id[37];
    int r;

    mk_buf_addf(&name, "%s-as", d->group);
    mk_buf_addf(&path, "%s/autoscalers/%s", d->scope, name.buf);
    body = json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:s, s:{s:f}}}", "name", name.buf, "target",
                     "", "autoscalingPolicy", "minNumReplicas", d->as_min, "maxNumReplicas",
                     d->as_max, "coolDownPeriodSec", 60, "mode", "ON", "cpuUtilization",
                     "utilizationTarget", d->as_cpu / 100.0);
    if (!body) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    json_object_set_new(body, "target", json_sprintf("projects/%s/%s/instanceGroupManagers/%s",
                                                     d->g->project, d->scope, d->group));
    json_object_set_new(d->result, "autoscaler", json_string(name.buf));
    r = gce_get_json(ctx, d->g, "the autoscaler", path.buf, &have);
    if (r == MK_OK) {
        pol = json_object_get(have, "autoscalingPolicy");
        if (json_integer_value(json_object_get(pol, "minNumReplicas")) == d->as_min &&
            json_integer_value(json_object_get(pol, "maxNumReplicas")) == d->as_max &&
            (int)(json_number_value(json_object_get(json_object_get(pol, "cpuUtilization"),
                                                    "utilizationTarget")) * 100 + 0.5) ==
                d->as_cpu)
            goto out;
        /* Patch and update name the autoscaler in the query, on the collection's URL. */
        gce_request_id(id);
        mk_buf_reset(&url);
        gce_project_url(&url, d->g, "/%s/autoscalers?autoscaler=%s&requestId=%s", d->scope,
                        name.buf, id);
        mk_log(ctx, MK_LOG_INFO, "updating autoscaler %s to %d-%d instances at %d%% CPU",
               name.buf, d->as_min, d->as_max, d->as_cpu);
        r = gce_mutate(&tmp, d->g, "updating the autoscaler", "PATCH", url.buf, body, 600, NULL);
    } else if (r == MK_ENOTFOUND) {
        mk_clear_error(ctx);
        gce_request_id(id);
        gce_project_url(&url, d->g, "/%s/autoscalers?requestId=%s", d->scope, id);
        mk_log(ctx, MK_LOG_INFO, "creating autoscaler %s: %d-%d instances at %d%% CPU",
               name.buf, d->as_min, d->as_max, d->as_cpu);
        r = gce_mutate(&tmp, d->g, "creating the autoscaler", "POST", url.buf, body, 600, NULL);
    } else {
        goto out;
    }
    if (r < 0)
        r = mk_set_error(ctx, r, "%s", mk_errmsg(&tmp));
out:
    json_decref(have);
    json_decref(body);
    mk_buf_release(&name);
    mk_buf_release(&path);
    mk_buf_release(&url);
    return r;
}

static int newest_first(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *tx = json_string_value(json_object_get(x, "creationTimestamp")) ?: "";
    const char *ty = json_string_value(json_object_get(y, "creationTimestamp")) ?: "";
    int c = strcmp(ty, tx);

    return c ? c : strcmp(json_string_value(json_object_get(y, "name")) ?: "",
                          json_string_value(json_object_get(x, "name")) ?: "");
}

/* This group's templates (labelled with it), every page of the list. */
static int group_templates(struct mk_ctx *ctx, struct mk_deploy *d, json_t *out)
{
    struct mk_buf path = MK_BUF_INIT;
    char token[512] = "";
    json_t *page = NULL, *t;
    size_t i;
    int r = MK_OK;

    for (int pages = 0; r == MK_OK && pages < 100; pages++) {
        mk_buf_reset(&path);
        mk_buf_adds(&path, "global/instanceTemplates");
        if (*token) {
            mk_buf_adds(&path, "?pageToken=");
            mk_http_escape(&path, token);
        }
        r = gce_get_json(ctx, d->g, "the list of instance templates", path.buf, &page);
        if (r < 0)
            break;
        json_array_foreach(json_object_get(page, "items"), i, t) {
            const char *g = json_string_value(json_object_get(
                json_object_get(json_object_get(t, "properties"), "labels"), GROUP_LABEL));
            if (g && !strcmp(g, d->group))
                json_array_append(out, t);
        }
        t = json_object_get(page, "nextPageToken");
        snprintf(token, sizeof(token), "%s", json_is_string(t) ? json_string_value(t) : "");
        json_decref(page);
        page = NULL;
        if (!*token)
            break;
    }
    mk_buf_release(&path);
    return r;
}

void gce_deploy_prune(struct mk_ctx *ctx, struct mk_deploy *d)
{
    struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    json_t *all = json_array(), *deleted = json_array();
    struct mk_buf url = MK_BUF_INIT;
    size_t n, kept = 0;
    json_t **items;
    char id[37];

    if (!all || !deleted || group_templates(&tmp, d, all) < 0) {
        mk_log(ctx, MK_LOG_WARN, "old templates not pruned: %s", mk_errmsg(&tmp));
        goto out;
    }
    n = json_array_size(all);
    items = n ? calloc(n, sizeof(*items)) : NULL;
    for (size_t i = 0; items && i < n; i++)
        items[i] = json_array_get(all, i);
    if (items)
        qsort(items, n, sizeof(*items), newest_first);
    for (size_t i = 0; items && i < n; i++) {
        const char *name = json_string_value(json_object_get(items[i], "name")) ?: "";
        int r;

        /* The one just deployed always counts as kept, whatever its age. */
        if (!strcmp(name, d->template_name) || kept + 1 < (size_t)d->keep_templates) {
            kept += strcmp(name, d->template_name) != 0;
            continue;
        }
        gce_request_id(id);
        mk_buf_reset(&url);
        gce_project_url(&url, d->g, "/global/instanceTemplates/%s?requestId=%s", name, id);
        r = gce_mutate(&tmp, d->g, "deleting an old template", "DELETE", url.buf, NULL, 600,
                       NULL);
        if (r == MK_OK) {
            mk_log(ctx, MK_LOG_INFO, "deleted old template %s", name);
            json_array_append_new(deleted, json_string(name));
        } else if (r != MK_ENOTFOUND) {
            /* 400 resourceInUseByAnotherResource: another group still uses it. */
            mk_log(ctx, MK_LOG_INFO, "kept template %s: %s", name, mk_errmsg(&tmp));
        }
        mk_clear_error(&tmp);
    }
    free(items);
    json_object_set(d->result, "deleted_templates", deleted);
out:
    json_decref(all);
    json_decref(deleted);
    mk_buf_release(&url);
}
