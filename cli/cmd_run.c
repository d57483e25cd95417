/* cmd_run.c: `unikernel-mkimage run gce`: one instance of an image (pushed first when given
 * an archive or a kernel), its serial console streamed, judged like `boot`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "build_args.h"

const char cmd_run_usage[] =
    "usage: unikernel-mkimage run gce --image IMAGE --zone Z [OPTIONS]\n"
    "       unikernel-mkimage run gce --zone Z [OPTIONS] [PUSH OPTIONS] ARCHIVE\n"
    "       unikernel-mkimage run gce --zone Z [OPTIONS] [PUSH OPTIONS] [BUILD OPTIONS] KERNEL\n"
    "           [-- KERNEL_ARGS...]\n"
    "\n"
    "Boots one Compute Engine instance from IMAGE (or from ARCHIVE or KERNEL, pushed first\n"
    "exactly as 'push gce' does; the image stays) and streams its serial console to stdout\n"
    "as it arrives. With --expect it exits 0 as soon as TEXT appears, and 1 when the timeout\n"
    "passes or the instance stops first: a stopped instance ends the wait at once. The\n"
    "instance is deleted at the end unless --keep, and always on failure, timeout and\n"
    "Ctrl-C.\n"
    "\n"
    "  --image IMAGE            an image of the project (or projects/P/global/images/I)\n"
    "  --zone Z                 where the instance runs (required)\n"
    "  --machine-type T         machine type (default e2-small)\n"
    "  --name N                 instance name (default IMAGE-run-RANDOM)\n"
    "  --expect TEXT            the text that says the image works\n"
    "  --timeout S              how long to wait (default 300)\n"
    "  --keep                   leave the instance running after a success\n"
    "  --project P, --credentials F, --compute-endpoint URL, --retries N, --backoff S,\n"
    "  --cacert F, --insecure   as for 'push gce'\n"
    "  --json                   the result as JSON on stdout (the console goes to stderr)\n"
    "  -q, --quiet              no console, no result line\n"
    "  -v, --verbose            say more\n"
    "  PUSH OPTIONS             with ARCHIVE or KERNEL: the options of 'push gce' (--bucket,\n"
    "                           --family...); BUILD OPTIONS as for 'build'\n"
    "\n"
    "Example:\n"
    "  unikernel-mkimage run gce --zone europe-west1-b --project my-proj --bucket my-bucket \\\n"
    "      --expect 'Hello, World' --template solo5 hello.virtio\n"
    "\n"
    "Exit status: 0 TEXT appeared (without --expect: the instance ran), 1 it did not or the\n"
    "run failed, 2 command-line error.\n";

struct console {
    FILE *out;
    bool quiet;
};

static void on_console(void *opaque, const char *text, size_t len)
{
    struct console *c = opaque;

    if (c->quiet)
        return;
    fwrite(text, 1, len, c->out);
    fflush(c->out);
}

static const struct option build_options[] = {CLI_BUILD_LONGOPTS, {NULL, 0, NULL, 0}};

/* The run's own options (push gce has a --name and a --timeout of its own: these are the
 * instance's). */
static bool run_own(const char *key)
{
    static const char *const own[] = {"image", "zone", "machine-type", "name", "expect",
                                      "timeout", "keep"};

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (!strcmp(key, own[i]))
            return true;
    return false;
}

/* How to reach the cloud: both the push and the run need these. */
static bool gce_wide(const char *key)
{
    return !run_own(key) && mk_run_option_arity(key) >= 0;
}

static int push_arity(const char *cloud, const char *key)
{
    for (const struct option *o = build_options; o->name; o++)
        if (!strcmp(o->name, key))
            return o->has_arg == required_argument;
    return mk_uploader_option_arity(cloud, key);
}

int cmd_run(int argc, char **argv)
{
    struct console con = {.out = stdout};
    bool json = false, verbose = false;
    struct mk_run *run = NULL;
    struct mk_ctx *ctx = cli_ctx_new(false);
    char **pargv = calloc((size_t)argc + 3, sizeof(*pargv)), *pushed = NULL, *image = NULL;
    int pargc = 0, rc = CLI_EXIT_USAGE, r;
    bool have_file = false, after_dashes = false;
    json_t *res = NULL;

    if (!pargv) {
        rc = cli_error("out of memory");
        goto out;
    }
    if (argc < 2 || argv[1][0] == '-') {
        rc = cli_usage_error("run", "no cloud given (run gce ...)");
        goto out;
    }
    if (mk_run_new(ctx, argv[1], &run) < 0) {
        rc = cli_usage_error("run", "%s", mk_errmsg(ctx));
        goto out;
    }
    pargv[pargc++] = "push";
    pargv[pargc++] = argv[1];
    /* Run's options go to the run; connection options to both; the rest to the push. */
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *value = NULL, *eq;
        char key[64];
        bool own;
        int arity;

        if (after_dashes || !strcmp(arg, "--")) {
            after_dashes = true;
            pargv[pargc++] = argv[i];
            continue;
        }
        if (!strcmp(arg, "--json")) {
            json = true;
            con.out = stderr;
            continue;
        }
        if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
            con.quiet = true;
            pargv[pargc++] = argv[i];
            continue;
        }
        if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            verbose = true;
            pargv[pargc++] = argv[i];
            continue;
        }
        if (strncmp(arg, "--", 2) || !arg[2]) {
            /* The archive or kernel, and short build options: the push's. */
            have_file = have_file || arg[0] != '-';
            pargv[pargc++] = argv[i];
            continue;
        }
        if (!cli_option_key(arg, key, sizeof(key), &eq)) {
            rc = cli_usage_error("run", "unknown option '%s'", arg);
            goto out;
        }
        own = run_own(key);
        arity = !strcmp(key, "image")      ? 1
                : own || gce_wide(key) ? mk_run_option_arity(key)
                                       : push_arity(argv[1], key);
        if (arity < 0) {
            rc = cli_usage_error("run", "unknown option '--%s'", key);
            goto out;
        }
        if ((rc = cli_option_value("run", key, arity, eq, argc, argv, &i, &value)) != 0)
            goto out;
        if (!own) {
            /* The push's (and judged by it); a connection option is the run's too. */
            pargv[pargc++] = argv[i - (value && !eq)];
            if (value && !eq)
                pargv[pargc++] = argv[i];
            if (!gce_wide(key))
                continue;
        }
        if (!strcmp(key, "image")) {
            image = (char *)value;
        } else if (mk_run_set_option(ctx, run, key, value) < 0) {
            rc = cli_usage_error("run", "%s", mk_errmsg(ctx));
            goto out;
        }
    }
    if (!image == !have_file) {
        rc = cli_usage_error("run", image ? "give --image or a file to push, not both"
                                          : "no --image, ARCHIVE or KERNEL given");
        goto out;
    }
    if (have_file) {
        rc = cli_push_one(pargc, pargv, &pushed);
        if (rc != CLI_EXIT_OK)
            goto out;
        res = json_loads(pushed, 0, NULL);
        image = (char *)json_string_value(json_object_get(res, "image"));
        if (!image) {
            rc = cli_error("the push gave no image name");
            goto out;
        }
    }
    mk_ctx_free(ctx);
    ctx = cli_ctx_new(verbose);
    cli_cancel_on_signals(ctx);
    r = mk_run_image(ctx, run, image, on_console, &con);
    if (json && mk_run_result(run)[0]) {
        json_t *rr = json_loads(mk_run_result(run), 0, NULL);

        json_object_set_new(rr, "image", json_string(image));
        cli_json_result(rr, r == MK_OK ? "ok" : r == MK_ECANCELED ? "interrupted" : "failed");
    }
    rc = r < 0 ? cli_ctx_error(ctx) : CLI_EXIT_OK;
    if (r == MK_OK && !json && !con.quiet) {
        json_t *rr = json_loads(mk_run_result(run), 0, NULL);

        fprintf(stderr, "%s: instance %s %s after %.1f s; %s\n", cli_progname,
                json_string_value(json_object_get(rr, "instance")),
                json_is_true(json_object_get(rr, "matched")) ? "printed the expected text"
                : json_is_true(json_object_get(rr, "stopped")) ? "stopped"
                                                                : "ran",
                json_real_value(json_object_get(rr, "seconds")),
                json_is_true(json_object_get(rr, "deleted")) ? "deleted" : "kept");
        json_decref(rr);
    }
out:
    json_decref(res);
    free(pushed);
    free(pargv);
    mk_run_free(run);
    mk_ctx_free(ctx);
    return rc;
}
