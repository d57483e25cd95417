/* deploy.c: `deploy gce` (cloud-apis.md 9.1): the firewall rule for the health-check
 * probers, the health check, an instance template for the image, the managed instance group
 * (created, or PATCHed to the new template), its autoscaler; then the wait (deploy_wait.c),
 * a rollback of a bad release, and the pruning of old templates.
 *
 * Names are derived, so that a re-run finds what an earlier run made and sends nothing: the
 * template is GROUP-IMAGE-HASH, HASH covering its whole content; the health check and the
 * firewall rule carry the group, the protocol and the port. */
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#include "deploy.h"

#define GROUP_LABEL "unikernel-mkimage-group"

/* A mutating call that Ctrl-C cannot cut in half: it is sent and its Operation awaited
 * through a context that is not cancelled; a cancellation is reported afterwards. */
static int mutate_whole(struct mk_ctx *ctx, struct gce *g, const char *what, const char *method,
                        const char *path, json_t *body)
{
    struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    struct mk_buf url = MK_BUF_INIT;
    char id[37];
    int r;

    gce_request_id(id);
    if (gce_project_url(&url, g, "/%s%srequestId=%s", path, strchr(path, '?') ? "&" : "?",
                        id) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_mutate(&tmp, g, what, method, url.buf, body, 600, NULL);
    mk_buf_release(&url);
    if (r < 0)
        return mk_set_error(ctx, r, "%s", mk_errmsg(&tmp));
    return mk_check_cancel(ctx);
}

/* GET (path); when it is not there, POST (body) to (collection). */
static int ensure(struct mk_ctx *ctx, struct mk_deploy *d, const char *what, const char *path,
                  const char *collection, json_t *body, bool *ret_created)
{
    json_t *have = NULL;
    int r = gce_get_json(ctx, d->g, what, path, &have);

    *ret_created = false;
    json_decref(have);
    if (r != MK_ENOTFOUND)
        return r;
    mk_clear_error(ctx);
    mk_log(ctx, MK_LOG_INFO, "creating %s", what);
    r = mutate_whole(ctx, d->g, what, "POST", collection, body);
    /* Another deployer made it meanwhile: the same name means the same content. */
    if (r == MK_EEXIST) {
        mk_clear_error(ctx);
        r = MK_OK;
    }
    *ret_created = r == MK_OK;
    return r;
}

static char *cut_name(const char *a, const char *b, size_t max)
{
    struct mk_buf n = MK_BUF_INIT;

    mk_buf_addf(&n, "%s-%s", a, b);
    if (n.len > max)
        n.buf[n.len = max] = '\0';
    while (n.len && n.buf[n.len - 1] == '-')
        n.buf[--n.len] = '\0';
    return mk_buf_detach(&n, NULL);
}

static int ensure_health_check(struct mk_ctx *ctx, struct mk_deploy *d)
{
    struct mk_buf path = MK_BUF_INIT, name = MK_BUF_INIT, fw = MK_BUF_INIT;
    json_t *hc = NULL, *rule = NULL;
    bool http = !strcmp(d->hc_type, "http"), made;
    uint8_t digest[32];
    int r;

    /* The path is part of the name so that another check gets another name. */
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, d->hc_path, strlen(d->hc_path));
    mk_buf_addf(&name, "%s-hc-%s-%d", d->group, d->hc_type, d->hc_port);
    if (http && strcmp(d->hc_path, "/"))
        mk_buf_addf(&name, "-%02x%02x%02x", digest[0], digest[1], digest[2]);
    mk_buf_addf(&fw, "%s-allow-hc-%d", d->group, d->hc_port);
    d->hc_name = mk_buf_detach(&name, NULL);
    hc = http ? json_pack("{s:s, s:s, s:{s:i, s:s}, s:i, s:i, s:i, s:i}", "name", d->hc_name,
                          "type", "HTTP", "httpHealthCheck", "port", d->hc_port, "requestPath",
                          d->hc_path, "checkIntervalSec", 5, "timeoutSec", 5,
                          "healthyThreshold", 2, "unhealthyThreshold", 2)
              : json_pack("{s:s, s:s, s:{s:i}, s:i, s:i, s:i, s:i}", "name", d->hc_name,
                          "type", "TCP", "tcpHealthCheck", "port", d->hc_port,
                          "checkIntervalSec", 5, "timeoutSec", 5, "healthyThreshold", 2,
                          "unhealthyThreshold", 2);
    /* Google's probers come from these ranges; without the rule no VM is ever healthy. */
    rule = json_pack("{s:s, s:s, s:s+, s:s, s:[s,s], s:[s], s:[{s:s, s:[s]}]}", "name", fw.buf,
                     "description", "health-check probers for the group", "network",
                     "global/networks/", d->network ? d->network : "default", "direction",
                     "INGRESS", "sourceRanges", "35.191.0.0/16", "130.211.0.0/22",
                     "targetTags", d->group, "allowed", "IPProtocol", "tcp", "ports", "");
    if (!hc || !rule) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    {
        char port[8];
        snprintf(port, sizeof(port), "%d", d->hc_port);
        json_array_set_new(json_object_get(json_array_get(json_object_get(rule, "allowed"), 0),
                                           "ports"), 0, json_string(port));
    }
    mk_buf_addf(&path, "global/firewalls/%s", fw.buf);
    r = ensure(ctx, d, "the firewall rule for the health-check probers", path.buf,
               "global/firewalls", rule, &made);
    mk_buf_reset(&path);
    mk_buf_addf(&path, "global/healthChecks/%s", d->hc_name);
    if (r == MK_OK)
        r = ensure(ctx, d, "the health check", path.buf, "global/healthChecks", hc, &made);
    json_object_set_new(d->result, "health_check", json_string(d->hc_name));
    json_object_set_new(d->result, "firewall", json_string(fw.buf));
out:
    json_decref(hc);
    json_decref(rule);
    mk_buf_release(&path);
    mk_buf_release(&fw);
    return r;
}

static json_t *template_properties(struct mk_deploy *d)
{
    json_t *p, *nic, *labels = json_object(), *tags = json_array(), *items = json_array();
    char region[64];

    snprintf(region, sizeof(region), "%s", d->region ? d->region : d->zone);
    if (!d->region && strrchr(region, '-'))
        *strrchr(region, '-') = '\0';
    nic = json_pack("{s:s+}", "network", "global/networks/", d->network ? d->network : "default");
    if (nic && d->subnet)
        json_object_set_new(nic, "subnetwork", json_sprintf("regions/%s/subnetworks/%s",
                                                            region, d->subnet));
    if (nic && !d->no_address)
        json_object_set_new(nic, "accessConfigs", json_pack("[{s:s, s:s}]", "type",
                                                            "ONE_TO_ONE_NAT", "name",
                                                            "External NAT"));
    for (size_t i = 0; i < d->n_labels; i++) {
        char *eq = strchr(d->labels[i], '=');
        *eq = '\0';
        json_object_set_new(labels, d->labels[i], json_string(eq + 1));
        *eq = '=';
    }
    json_object_set_new(labels, GROUP_LABEL, json_string(d->group));
    json_array_append_new(tags, json_string(d->group));
    for (size_t i = 0; i < d->n_tags; i++)
        json_array_append_new(tags, json_string(d->tags[i]));
    for (size_t i = 0; i < d->n_metadata; i++) {
        char *eq = strchr(d->metadata[i], '=');
        *eq = '\0';
        json_array_append_new(items, json_pack("{s:s, s:s}", "key", d->metadata[i], "value",
                                               eq + 1));
        *eq = '=';
    }
    p = json_pack("{s:s, s:[{s:b, s:b, s:s, s:s, s:{s:o}}], s:[o], s:{s:o}, s:o, s:{s:o},"
                  " s:{s:s, s:b}}",
                  "machineType", d->machine_type ? d->machine_type : "e2-small", "disks",
                  "boot", 1, "autoDelete", 1, "type", "PERSISTENT", "mode", "READ_WRITE",
                  "initializeParams", "sourceImage",
                  json_sprintf("projects/%s/global/images/%s", d->g->project, d->image_name),
                  "networkInterfaces", nic, "metadata", "items", items, "labels", labels,
                  "tags", "items", tags, "scheduling", "onHostMaintenance", "MIGRATE",
                  "automaticRestart", 1);
    return p;
}

static int ensure_template(struct mk_ctx *ctx, struct mk_deploy *d)
{
    json_t *props = template_properties(d), *body = NULL;
    struct mk_buf path = MK_BUF_INIT, desc = MK_BUF_INIT;
    char *text = props ? json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS) : NULL, hex[8];
    char *prefix = NULL;
    uint8_t digest[32];
    bool made;
    int r;

    if (!text) {
        json_decref(props);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, text, strlen(text));
    snprintf(hex, sizeof(hex), "%02x%02x%02x", digest[0], digest[1], digest[2]);
    prefix = cut_name(d->group, d->image_name, 63 - 7);
    mk_buf_addf(&path, "%s-%s", prefix, hex);
    d->template_name = mk_buf_detach(&path, NULL);
    mk_buf_addf(&desc, "unikernel-mkimage deploy of image %s to group %s", d->image_name,
                d->group);
    body = json_pack("{s:s, s:s, s:o}", "name", d->template_name, "description", desc.buf,
                     "properties", props);
    mk_buf_addf(&path, "global/instanceTemplates/%s", d->template_name);
    r = body ? ensure(ctx, d, "the instance template", path.buf, "global/instanceTemplates",
                      body, &made)
             : mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_object_set_new(d->result, "template", json_string(d->template_name));
    free(text);
    free(prefix);
    json_decref(body);
    mk_buf_release(&path);
    mk_buf_release(&desc);
    return r;
}

json_t *gce_deploy_policy(const struct mk_deploy *d)
{
    json_t *pol = json_pack("{s:s, s:s, s:s}", "type", "PROACTIVE", "minimalAction", "REPLACE",
                            "replacementMethod", "SUBSTITUTE");
    /* A regional group spreads over 3 zones; a fixed surge must then be 0 or at least 3. */
    int surge = d->region && !d->surge_set && !d->surge_percent ? 3 : d->surge;

    json_object_set_new(pol, "maxSurge", json_pack("{s:i}", d->surge_percent ? "percent"
                                                                            : "fixed", surge));
    json_object_set_new(pol, "maxUnavailable",
                        json_pack("{s:i}", d->unavailable_percent ? "percent" : "fixed",
                                  d->unavailable));
    if (d->region)
        json_object_set_new(pol, "instanceRedistributionType", json_string("PROACTIVE"));
    return pol;
}

static json_t *autohealing(const struct mk_deploy *d)
{
    if (!d->hc_name)
        return json_array();
    return json_pack("[{s:s+, s:i}]", "healthCheck", "global/healthChecks/", d->hc_name,
                     "initialDelaySec", d->initial_delay);
}

static json_t *versions(const struct mk_deploy *d, const char *template, const char *version)
{
    return json_pack("[{s:s, s:s+}]", "name", version, "instanceTemplate",
                     "global/instanceTemplates/", template);
}

static int create_group(struct mk_ctx *ctx, struct mk_deploy *d)
{
    json_t *body = json_pack("{s:s, s:s, s:o, s:i, s:o, s:o}", "name", d->group,
                             "baseInstanceName", d->group, "versions",
                             versions(d, d->template_name, d->template_name), "targetSize",
                             d->size >= 0 ? d->size : d->as_max ? d->as_min : 1,
                             "autoHealingPolicies", autohealing(d), "updatePolicy",
                             gce_deploy_policy(d));
    struct mk_buf path = MK_BUF_INIT;
    int r;

    mk_buf_addf(&path, "%s/instanceGroupManagers", d->scope);
    mk_log(ctx, MK_LOG_INFO, "creating group %s in %s on template %s", d->group, d->scope,
           d->template_name);
    r = body ? mutate_whole(ctx, d->g, "creating the group", "POST", path.buf, body)
             : mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_decref(body);
    mk_buf_release(&path);
    return r;
}

int gce_deploy_patch(struct mk_ctx *ctx, struct mk_deploy *d, const char *template,
                     const char *version, bool with_size)
{
    json_t *body = json_pack("{s:o, s:o, s:o}", "versions", versions(d, template, version),
                             "updatePolicy", gce_deploy_policy(d), "autoHealingPolicies",
                             autohealing(d));
    struct mk_buf path = MK_BUF_INIT;
    int r;

    if (body && with_size)
        json_object_set_new(body, "targetSize", json_integer(d->size));
    mk_buf_addf(&path, "%s/instanceGroupManagers/%s", d->scope, d->group);
    mk_log(ctx, MK_LOG_INFO, "rolling group %s to template %s", d->group, template);
    r = body ? mutate_whole(ctx, d->g, "updating the group", "PATCH", path.buf, body)
             : mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_decref(body);
    mk_buf_release(&path);
    return r;
}

static const char *last_part(const char *url)
{
    const char *s = url ? strrchr(url, '/') : NULL;
    return s ? s + 1 : url ? url : "";
}

/* json_equal(), with two missing values equal too. */
static bool same_value(json_t *a, json_t *b)
{
    return (!a && !b) || json_equal(a, b);
}

/* Whether the existing group already is what this deploy asks for. */
static bool group_matches(const struct mk_deploy *d, json_t *grp, bool autoscaled)
{
    json_t *vs = json_object_get(grp, "versions"), *pol = json_object_get(grp, "updatePolicy");
    json_t *want = gce_deploy_policy(d), *ah = json_array_get(json_object_get(grp,
                                                              "autoHealingPolicies"), 0);
    bool same = json_array_size(vs) == 1 &&
                !strcmp(last_part(json_string_value(json_object_get(json_array_get(vs, 0),
                                                                    "instanceTemplate"))),
                        d->template_name);
    const char *keys[] = {"maxSurge", "maxUnavailable"};

    for (size_t i = 0; same && i < 2; i++) {
        json_t *a = json_object_get(pol, keys[i]), *b = json_object_get(want, keys[i]);
        same = same_value(json_object_get(a, "fixed"), json_object_get(b, "fixed")) &&
               same_value(json_object_get(a, "percent"), json_object_get(b, "percent"));
    }
    same = same && !strcmp(json_string_value(json_object_get(pol, "type")) ?: "", "PROACTIVE");
    same = same && (d->hc_name ? ah && !strcmp(last_part(json_string_value(
                                                   json_object_get(ah, "healthCheck"))),
                                               d->hc_name) &&
                                     json_integer_value(json_object_get(ah, "initialDelaySec")) ==
                                         d->initial_delay
                               : !ah);
    if (same && d->size >= 0 && !autoscaled)
        same = json_integer_value(json_object_get(grp, "targetSize")) == d->size;
    json_decref(want);
    return same;
}

/* The checks that need no network, then the connection and what must exist before anything
 * is created: the zone or region, and (for a deploy) the image. */
static int deploy_begin(struct mk_ctx *ctx, struct mk_deploy *d, bool need_image)
{
    struct mk_buf s = MK_BUF_INIT;
    json_t *obj = NULL;
    int r;

    if (!d->group)
        return mk_set_error(ctx, MK_EINVAL, "deploy gce needs --group NAME");
    if (!d->zone == !d->region)
        return mk_set_error(ctx, MK_EINVAL, "deploy gce needs one of --zone or --region");
    if (need_image && !d->image == !d->family)
        return mk_set_error(ctx, MK_EINVAL, "deploy gce needs one of --image or --family");
    if (need_image && !d->surge && !d->unavailable)
        return mk_set_error(ctx, MK_EINVAL, "--max-surge and --max-unavailable cannot both be "
                            "0: the group could never replace an instance");
    if (need_image && d->as_max && d->size > d->as_max)
        return mk_set_error(ctx, MK_EINVAL, "--size %d is above the autoscaler's maximum %d",
                            d->size, d->as_max);
    mk_buf_addf(&s, "%s/%s", d->zone ? "zones" : "regions", d->zone ? d->zone : d->region);
    d->scope = mk_buf_detach(&s, NULL);
    d->result = json_pack("{s:s, s:s}", "group", d->group, d->zone ? "zone" : "region",
                          d->zone ? d->zone : d->region);
    if (!d->result)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_connect(ctx, d->g);
    if (r == MK_OK) {
        r = gce_get_json(ctx, d->g, d->zone ? "zone" : "region", d->scope, &obj);
        if (r == MK_ENOTFOUND)
            r = mk_set_error(ctx, MK_ENOTFOUND, "unknown %s '%s' in project %s",
                             d->zone ? "zone" : "region", d->zone ? d->zone : d->region,
                             d->g->project);
        json_decref(obj);
        obj = NULL;
    }
    if (r == MK_OK && need_image) {
        mk_buf_addf(&s, "global/images/%s%s", d->image ? "" : "family/",
                    d->image ? d->image : d->family);
        r = gce_get_json(ctx, d->g, "image", s.buf, &obj);
        if (r == MK_ENOTFOUND)
            r = mk_set_error(ctx, MK_ENOTFOUND, "%s '%s' does not exist in project %s",
                             d->image ? "image" : "image family",
                             d->image ? d->image : d->family, d->g->project);
        else if (r == MK_OK && strcmp(json_string_value(json_object_get(obj, "status")) ?: "",
                                      "READY"))
            r = mk_set_error(ctx, MK_EINVAL, "image '%s' is %s, not READY",
                             json_string_value(json_object_get(obj, "name")) ?: "?",
                             json_string_value(json_object_get(obj, "status")) ?: "?");
        if (r == MK_OK && !(d->image_name = strdup(json_string_value(json_object_get(obj,
                                                                                     "name")) ?: "")))
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        if (r == MK_OK)
            json_object_set_new(d->result, "image", json_string(d->image_name));
    }
    json_decref(obj);
    mk_buf_release(&s);
    return r;
}

/* Adds the instances and the status to the result and keeps its text; the calls go through
 * a context that is not cancelled, so that an interrupted deploy says where it stopped. */
static void finish_result(struct mk_ctx *ctx, struct mk_deploy *d, const char *status, int r)
{
    struct mk_ctx tmp = {.log_fn = ctx->log_fn, .log_opaque = ctx->log_opaque};
    json_t *insts;
    char *text;

    if (!d->result)
        return;
    json_object_set_new(d->result, "outcome", json_string(status));
    if (r < 0)
        json_object_set_new(d->result, "error", json_string(mk_errmsg(ctx)));
    if (d->scope && d->g->http && (insts = gce_deploy_instances(&tmp, d)))
        json_object_set_new(d->result, "instances", insts);
    text = json_dumps(d->result, JSON_COMPACT);
    mk_buf_reset(&d->text);
    if (text)
        mk_buf_adds(&d->text, text);
    free(text);
}

static int roll_back(struct mk_ctx *ctx, struct mk_deploy *d, const char *cause)
{
    struct gce_wait_outcome back = {0};
    int r;

    mk_log(ctx, MK_LOG_WARN, "rolling group %s back to template %s: %s", d->group, d->previous,
           cause);
    r = gce_deploy_patch(ctx, d, d->previous, d->previous_version ?: d->previous, false);
    if (r == MK_OK)
        r = gce_deploy_wait(ctx, d, d->previous, d->timeout, &back);
    if (r < 0)
        return mk_error_prefix(ctx, "deploy of image %s to group %s failed (%s); rolling back "
                               "to template %s failed too", d->image_name, d->group, cause,
                               d->previous);
    if (!back.ok)
        return mk_set_error(ctx, MK_ETIMEOUT, "deploy of image %s to group %s failed (%s); the "
                            "rollback to template %s did not finish either: %s",
                            d->image_name, d->group, cause, d->previous, back.cause);
    return mk_set_error(ctx, MK_EBOOT, "deploy of image %s to group %s failed: %s; rolled back "
                        "to template %s", d->image_name, d->group, cause, d->previous);
}

int mk_deploy_run(struct mk_ctx *ctx, struct mk_deploy *d)
{
    struct gce_wait_outcome w = {0};
    struct mk_buf path = MK_BUF_INIT;
    const char *status = "failed";
    json_t *grp = NULL, *v;
    bool first = false, autoscaled = false;
    int r = deploy_begin(ctx, d, true);

    if (r == MK_OK) {
        mk_buf_addf(&path, "%s/instanceGroupManagers/%s", d->scope, d->group);
        r = gce_get_json(ctx, d->g, "the group", path.buf, &grp);
        if (r == MK_ENOTFOUND) {
            mk_clear_error(ctx);
            first = true;
            r = MK_OK;
        }
    }
    if (r == MK_OK && !first) {
        v = json_array_get(json_object_get(grp, "versions"), 0);
        d->previous = strdup(last_part(json_string_value(json_object_get(v,
                                                                         "instanceTemplate"))));
        d->previous_version = strdup(json_string_value(json_object_get(v, "name")) ?: "");
        autoscaled = json_object_get(json_object_get(grp, "status"), "autoscaler") != NULL;
        if (!json_is_true(json_object_get(json_object_get(grp, "status"), "isStable")))
            mk_log(ctx, MK_LOG_WARN, "group %s is still changing (an earlier update?); the "
                   "newest update wins", d->group);
        json_object_set_new(d->result, "previous_template", json_string(d->previous));
    }
    if (r == MK_OK && d->hc_type)
        r = ensure_health_check(ctx, d);
    if (r == MK_OK)
        r = ensure_template(ctx, d);
    if (r == MK_OK && first) {
        r = create_group(ctx, d);
        status = "created";
    } else if (r == MK_OK && group_matches(d, grp, autoscaled || d->as_max)) {
        mk_log(ctx, MK_LOG_INFO, "group %s already runs template %s", d->group,
               d->template_name);
        status = "unchanged";
    } else if (r == MK_OK) {
        r = gce_deploy_patch(ctx, d, d->template_name, d->template_name,
                             d->size >= 0 && !autoscaled && !d->as_max);
        status = "updated";
    }
    if (r == MK_OK && d->as_max)
        r = gce_deploy_autoscaler(ctx, d);
    if (r == MK_OK)
        r = gce_deploy_wait(ctx, d, d->template_name, d->timeout, &w);
    if (r == MK_ECANCELED || (r == MK_OK && w.canceled)) {
        status = "interrupted";
        r = mk_set_error(ctx, MK_ECANCELED, "interrupted: group %s was left %s template %s "
                         "(it goes on by itself; run deploy again or use --status)", d->group,
                         first ? "being created on" : "rolling to", d->template_name);
    } else if (r == MK_OK && !w.ok) {
        status = "failed";
        if (d->previous && strcmp(d->previous, d->template_name) && !d->no_rollback) {
            r = roll_back(ctx, d, w.cause);
            status = "rolled-back";
        } else {
            r = mk_set_error(ctx, MK_ETIMEOUT, "deploy of image %s to group %s failed: %s; %s",
                             d->image_name, d->group, w.cause,
                             d->no_rollback && d->previous
                                 ? "the group is left on the new template (--no-rollback)"
                                 : "there is no earlier template to roll back to");
        }
    } else if (r == MK_OK) {
        gce_deploy_prune(ctx, d);
    }
    finish_result(ctx, d, r == MK_OK ? status : strcmp(status, "rolled-back") &&
                                                strcmp(status, "interrupted") ? "failed" : status,
                  r);
    json_decref(grp);
    mk_buf_release(&path);
    return r;
}

int mk_deploy_status(struct mk_ctx *ctx, struct mk_deploy *d)
{
    struct mk_buf path = MK_BUF_INIT;
    json_t *grp = NULL, *insts = NULL, *st;
    int r = deploy_begin(ctx, d, false);

    if (r == MK_OK) {
        mk_buf_addf(&path, "%s/instanceGroupManagers/%s", d->scope, d->group);
        r = gce_get_json(ctx, d->g, "the group", path.buf, &grp);
        if (r == MK_ENOTFOUND)
            r = mk_set_error(ctx, MK_ENOTFOUND, "there is no group '%s' in %s", d->group,
                             d->scope);
    }
    if (r == MK_OK && !(insts = gce_deploy_instances(ctx, d)))
        r = mk_errcode(ctx) ? mk_errcode(ctx) : MK_EHTTP;
    if (r == MK_OK) {
        st = json_object_get(grp, "status");
        json_object_set(d->result, "versions", json_object_get(grp, "versions"));
        json_object_set(d->result, "target_size", json_object_get(grp, "targetSize"));
        json_object_set(d->result, "stable", json_object_get(st, "isStable"));
        json_object_set(d->result, "version_target_reached",
                        json_object_get(json_object_get(st, "versionTarget"), "isReached"));
        json_object_set_new(d->result, "instances", insts);
        char *text = json_dumps(d->result, JSON_COMPACT);
        mk_buf_reset(&d->text);
        if (text)
            mk_buf_adds(&d->text, text);
        free(text);
    }
    json_decref(grp);
    mk_buf_release(&path);
    return r;
}
