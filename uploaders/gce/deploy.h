/* deploy.h: what the deploy files share (deploy.c: options and the resources;
 * deploy_wait.c: waiting for a group, diagnosing a bad release, status). */
#ifndef MK_GCE_DEPLOY_H
#define MK_GCE_DEPLOY_H

#include "gce_private.h"

struct mk_deploy {
    struct gce *g; /* the connection (project, credentials, endpoint, retries) */
    char *group, *zone, *region, *image, *family, *machine_type;
    char *network, *subnet;
    char *hc_type; /* "tcp" or "http"; NULL: no health check */
    int hc_port;
    char *hc_path;
    int size; /* -1: keep the group's (1 for a new group) */
    int initial_delay;
    int surge, unavailable; /* fixed numbers, or percents when the *_percent flag is set */
    bool surge_percent, unavailable_percent, surge_set;
    int as_min, as_max, as_cpu; /* --autoscale; as_max 0 = none */
    char **tags, **labels, **metadata;
    size_t n_tags, n_labels, n_metadata;
    double timeout, poll;
    bool no_address, no_rollback;
    int keep_templates;

    /* run state */
    char *scope;          /* "zones/Z" or "regions/R" */
    char *image_name;     /* resolved (a family becomes its newest image) */
    char *template_name;  /* the template this deploy rolls out */
    char *previous;       /* the template the group ran before, for rollback */
    char *previous_version;
    char *hc_name;
    json_t *result;     /* built as the deploy goes */
    struct mk_buf text; /* (result) as text, for mk_deploy_result() */
};

/* ---- deploy.c ---- */
/* The update policy the options ask for. */
json_t *gce_deploy_policy(const struct mk_deploy *d);
/* PATCHes the group's versions to (template) (named (version)) with the policy; Ctrl-C does
 * not cut it in half. */
int gce_deploy_patch(struct mk_ctx *ctx, struct mk_deploy *d, const char *template,
                     const char *version, bool with_size);

/* ---- deploy_fleet.c ---- */
/* Creates or updates the autoscaler (--autoscale). */
int gce_deploy_autoscaler(struct mk_ctx *ctx, struct mk_deploy *d);
/* Deletes this group's templates that nothing uses, keeping the newest --keep-templates;
 * problems are warnings. */
void gce_deploy_prune(struct mk_ctx *ctx, struct mk_deploy *d);

/* ---- deploy_wait.c ---- */
struct gce_wait_outcome {
    bool ok;            /* reached and stable on the template */
    bool canceled;
    char cause[768];    /* why not, one line */
};
/* One of listManagedInstances' managedInstances, read: pointers into it, or "" ("-" for
 * a missing status or health). */
struct gce_managed {
    const char *url;      /* the instance's URL */
    const char *name;     /* its name, else the URL's last part */
    const char *status;   /* instanceStatus */
    const char *health;   /* the first health check's detailedHealthState */
    const char *template; /* the last part of its version's instanceTemplate */
    const char *action;   /* currentAction */
    char zone[64];        /* from the URL */
};
void gce_managed_read(json_t *mi, struct gce_managed *ret);
/* What a group (grp, from instanceGroupManagers.get) and its instances (list, from
 * listManagedInstances) say of a rollout of (template). */
struct gce_group_counts {
    int target, on_new, ready, creating, verifying, deleting, other, recreating;
    bool done; /* isReached, isStable and every instance ready on (template) */
};
/* The counts; an instance of (template) seen UNHEALTHY or TIMEOUT is kept in the object
 * (seen_unhealthy), and is autohealed ((*autoheals)++) when seen RECREATING after that;
 * (*ret_failing), when NULL, becomes the first unhealthy one (a new reference). */
void gce_group_read(json_t *grp, json_t *list, const char *template, json_t *seen_unhealthy,
                    int *autoheals, struct gce_group_counts *c, json_t **ret_failing);
/* listErrors' answer (list): (*ret_total) items; returns how many of those after the first
 * (baseline) are for (template), and the first of these as "CODE: message" in (first). */
int gce_group_errors(json_t *list, const char *template, int baseline, int *ret_total,
                     char *first, size_t size);
/* Polls the group until every instance runs (template) and it is stable, the deadline, or
 * the new instances keep failing (quota errors, autohealing). Progress as it goes. */
int gce_deploy_wait(struct mk_ctx *ctx, struct mk_deploy *d, const char *template,
                    double timeout, struct gce_wait_outcome *out);
/* The group's instances as a JSON array (name, zone, status, health, template, image,
 * action); NULL on failure. */
json_t *gce_deploy_instances(struct mk_ctx *ctx, struct mk_deploy *d);
/* The last console lines of instance (url), one line, into (buf). */
void gce_deploy_console_tail(struct mk_ctx *ctx, struct mk_deploy *d, const char *url,
                             char *buf, size_t size);

#endif
