/* cmd_deploy.c: `unikernel-mkimage deploy gce`: roll an image out to a managed instance
 * group, or show what runs in one (--status). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

const char cmd_deploy_usage[] =
    "usage: unikernel-mkimage deploy gce --group NAME (--zone Z | --region R)\n"
    "           (--image IMAGE | --family F) [OPTIONS]\n"
    "       unikernel-mkimage deploy gce --group NAME (--zone Z | --region R) --status [--json]\n"
    "\n"
    "Rolls IMAGE out to the managed instance group NAME on Google Compute Engine and waits\n"
    "until every instance runs it and the group is stable. The first deploy creates the\n"
    "firewall rule for Google's health-check probers and the health check (with\n"
    "--health-check), an instance template for the image (named GROUP-IMAGE-HASH, so a\n"
    "re-run finds it) and the group, with autohealing and an explicit update policy. A later\n"
    "deploy makes a new template and PATCHes the group's versions with a PROACTIVE policy:\n"
    "with the defaults (--max-surge 1 --max-unavailable 0) a new instance is created and\n"
    "found healthy before an old one is deleted, so the number of available instances never\n"
    "drops below the target size. Running the same deploy again changes nothing (exit 0).\n"
    "\n"
    "A bad release (the update does not converge within --timeout, new instances cannot be\n"
    "created, or they keep failing their health check and get autohealed) is rolled back to\n"
    "the previous template, unless --no-rollback, and the command exits 1 with one line\n"
    "naming the cause (the quota error, or the unhealthy instance and the end of its serial\n"
    "console). Ctrl-C stops waiting and says what the group was left doing; a request is\n"
    "never cut in half. Old templates of the group that nothing uses are deleted, keeping\n"
    "the newest --keep-templates.\n"
    "\n"
    "  --group NAME             the managed instance group (created when missing)\n"
    "  --zone Z | --region R    a zonal group, or a regional one (spread over 3 zones)\n"
    "  --image IMAGE            the image to run (or --family F: the family's newest)\n"
    "  --size N                 target size (new group: 1; later: unchanged)\n"
    "  --machine-type T         machine type (default e2-small)\n"
    "  --health-check SPEC      tcp:PORT or http:PORT[/PATH]: autohealing, and what\n"
    "                           \"available\" means during an update\n"
    "  --initial-delay S        seconds a new instance has before its health counts\n"
    "                           (default 120)\n"
    "  --max-surge N|N%         instances above the target size during an update (default\n"
    "                           1; a regional group: 3)\n"
    "  --max-unavailable N|N%   instances that may be unavailable during an update (default\n"
    "                           0); percentages need a group of 10 or more\n"
    "  --autoscale MIN:MAX[:CPU%]  create or update an autoscaler (CPU target, default 60%)\n"
    "  --network N, --subnet S  the network (default 'default') and subnetwork\n"
    "  --no-address             no external IP address\n"
    "  --tag T, --label K=V, --metadata K=V   added to the template (repeatable)\n"
    "  --timeout S              how long the update may take (default 900)\n"
    "  --no-rollback            leave a failed update where it is\n"
    "  --keep-templates N       old templates of the group kept (default 3)\n"
    "  --poll-interval S        seconds between looks at the group (default 5)\n"
    "  --status                 list the group's instances: name, zone, status, health,\n"
    "                           template, image, current action\n"
    "  --project P, --credentials F, --compute-endpoint URL, --retries N, --backoff S,\n"
    "  --cacert F, --insecure   as for 'push gce'\n"
    "  --json                   the result (group, template, image, instances) as JSON on\n"
    "                           stdout, also on failure\n"
    "  -q, --quiet              no progress\n"
    "  -v, --verbose            say more\n"
    "\n"
    "From a kernel to a rolled-out group:\n"
    "  unikernel-mkimage push gce --project my-proj --bucket my-bucket --name web-v2 \\\n"
    "      --template solo5 web.virtio -- --ipv4=10.0.0.2/24\n"
    "  unikernel-mkimage run gce --image web-v2 --zone europe-west1-b --expect 'listening'\n"
    "  unikernel-mkimage deploy gce --group web --zone europe-west1-b --image web-v2 \\\n"
    "      --size 3 --health-check http:8080/healthz\n"
    "  unikernel-mkimage deploy gce --group web --zone europe-west1-b --status\n"
    "or all at once from a spec whose target has a 'deploy:' section: unikernel-mkimage push.\n"
    "\n"
    "Exit status: 0 the group runs the image and is stable, 1 failed (rolled back unless\n"
    "--no-rollback), 2 command-line error.\n";

struct log_state {
    bool quiet, verbose, tty, line_open;
};

/* Progress and steps are INFO messages: one line each, or on a terminal one line redrawn. */
static void deploy_log(void *opaque, enum mk_log_level level, const char *msg)
{
    struct log_state *s = opaque;

    if (level == MK_LOG_DEBUG && !s->verbose)
        return;
    if (level >= MK_LOG_INFO && s->quiet)
        return;
    if (level == MK_LOG_INFO && s->tty && !s->verbose) {
        fprintf(stderr, "\r%s: %s\033[K", cli_progname, msg);
        s->line_open = true;
        return;
    }
    if (s->line_open)
        fputc('\n', stderr);
    s->line_open = false;
    fprintf(stderr, "%s: %s%s\n", cli_progname,
            level == MK_LOG_WARN ? "warning: " : level == MK_LOG_ERROR ? "error: " : "", msg);
}

static void print_status(json_t *res)
{
    json_t *insts = json_object_get(res, "instances"), *i;
    size_t k;

    printf("%-24s %-16s %-12s %-9s %-40s %-24s %s\n", "NAME", "ZONE", "STATUS", "HEALTH",
           "TEMPLATE", "IMAGE", "ACTION");
    json_array_foreach(insts, k, i) {
        printf("%-24s %-16s %-12s %-9s %-40s %-24s %s\n",
               json_string_value(json_object_get(i, "name")),
               json_string_value(json_object_get(i, "zone")),
               json_string_value(json_object_get(i, "status")),
               json_string_value(json_object_get(i, "health")),
               json_string_value(json_object_get(i, "template")),
               json_string_value(json_object_get(i, "image")),
               json_string_value(json_object_get(i, "action")));
    }
}

int cmd_deploy(int argc, char **argv)
{
    struct log_state ls = {.tty = isatty(STDERR_FILENO)};
    bool json = false, status = false;
    struct mk_deploy *d = NULL;
    struct mk_ctx *ctx = cli_ctx_new(false);
    int rc = CLI_EXIT_USAGE, r;
    static char hint[1024];
    json_t *res;

    if (argc < 2 || argv[1][0] == '-') {
        rc = cli_usage_error("deploy", "no cloud given (deploy gce ...)");
        goto out;
    }
    if (mk_deploy_new(ctx, argv[1], &d) < 0) {
        rc = cli_usage_error("deploy", "%s", mk_errmsg(ctx));
        goto out;
    }
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *value = NULL, *eq;
        char key[64];
        int arity;

        if (!strcmp(arg, "--json")) {
            json = true;
            continue;
        } else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
            ls.quiet = true;
            continue;
        } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            ls.verbose = true;
            continue;
        } else if (!strcmp(arg, "--status")) {
            status = true;
            continue;
        }
        if (strncmp(arg, "--", 2) || !arg[2]) {
            rc = cli_usage_error("deploy", "unexpected argument '%s'", arg);
            goto out;
        }
        if (!cli_option_key(arg, key, sizeof(key), &eq) || (arity = mk_deploy_option_arity(key)) < 0) {
            rc = cli_usage_error("deploy", "unknown option '--%s'", key);
            goto out;
        }
        if ((rc = cli_option_value("deploy", key, arity, eq, argc, argv, &i, &value)) != 0)
            goto out;
        if (mk_deploy_set_option(ctx, d, key, value) < 0) {
            rc = cli_usage_error("deploy", "%s", mk_errmsg(ctx));
            goto out;
        }
    }
    mk_ctx_set_log(ctx, deploy_log, &ls);
    cli_cancel_on_signals(ctx);
    r = status ? mk_deploy_status(ctx, d) : mk_deploy_run(ctx, d);
    if (ls.line_open)
        fputc('\n', stderr);
    ls.line_open = false;
    res = json_loads(mk_deploy_result(d), 0, NULL);
    if (r == MK_OK && status && !json) {
        print_status(res);
    } else if (r == MK_OK && !ls.quiet && !json) {
        printf("group %s: %zu instances on template %s (image %s), %s\n",
               json_string_value(json_object_get(res, "group")),
               json_array_size(json_object_get(res, "instances")),
               json_string_value(json_object_get(res, "template")),
               json_string_value(json_object_get(res, "image")),
               json_string_value(json_object_get(res, "outcome")));
    }
    if (r == MK_ECANCELED && !strncmp(mk_errmsg(ctx), "interrupted: ", 13)) {
        snprintf(hint, sizeof(hint), "%s", mk_errmsg(ctx) + 13);
        cli_out.interrupt_hint = hint;
    }
    /* The result also on failure; the error line still goes to stderr. */
    if (json && res) {
        cli_json_result(res, r == MK_OK ? "ok" : r == MK_ECANCELED ? "interrupted" : "failed");
        res = NULL;
    }
    json_decref(res);
    if (r == MK_EINVAL && !mk_deploy_result(d)[0])
        rc = cli_usage_error("deploy", "%s", mk_errmsg(ctx));
    else
        rc = r < 0 ? cli_ctx_error(ctx) : CLI_EXIT_OK;
out:
    mk_deploy_free(d);
    mk_ctx_free(ctx);
    return rc;
}
