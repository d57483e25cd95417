/* push_targets.c: `push [--spec FILE] [TARGET]...`: the spec's image is built once, each
 * format the chosen targets need is packed once into a temporary file in $TMPDIR (removed
 * afterwards), and every target uploads from its file in its own thread with its own
 * context. Files rather than an in-memory tee: each upload keeps its own pace and retries
 * without holding the others back, and external uploaders are offered the path. One
 * target's failure does not stop the others. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "push_run.h"
#include "spec_cli.h"

static struct push_run *signal_run;
static struct mk_ctx *signal_main_ctx;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_main_ctx)
        mk_ctx_cancel(signal_main_ctx);
    for (size_t i = 0; signal_run && i < signal_run->n; i++)
        if (signal_run->t[i].ctx)
            mk_ctx_cancel(signal_run->t[i].ctx);
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) {
        cli_error("out of memory");
        exit(CLI_EXIT_FAIL);
    }
    return p;
}

bool cli_push_targets_wanted(int nopts, char **argv)
{
    for (int i = 1; i < nopts; i++)
        if (!strcmp(argv[i], "--spec") || !strncmp(argv[i], "--spec=", 7))
            return true;
    if (nopts >= 2 && !strcmp(argv[1], "--list"))
        return false;
    if (!cli_spec_default_exists())
        return false;
    return nopts < 2 || argv[1][0] == '-' || !mk_uploader_description(argv[1]);
}

/* ---- the uploads ---- */

/* The target's deploy: section, run once its image exists. The upload's result, with the
 * deploy's under "deploy"; NULL with the reason in (err) on failure. */
static char *deploy_after(struct target *t, char *err, size_t size)
{
    json_t *res = json_loads(mk_upload_result(t->up), 0, NULL), *dep;
    const char *image = json_string_value(json_object_get(res, "image"));
    char *text = NULL;
    int r = MK_OK;

    if (t->deploy) {
        r = image ? mk_deploy_set_option(t->ctx, t->deploy, "image", image) : MK_EINVAL;
        if (r == MK_OK)
            r = mk_deploy_run(t->ctx, t->deploy);
        snprintf(err, size, "%s", image ? mk_errmsg(t->ctx) : "the upload named no image");
        dep = json_loads(mk_deploy_result(t->deploy), 0, NULL);
        if (dep)
            json_object_set_new(res, "deploy", dep);
    }
    if (r == MK_OK && !(text = res ? json_dumps(res, JSON_COMPACT) : NULL))
        snprintf(err, size, "out of memory");
    json_decref(res);
    return text;
}

static void *upload_thread(void *opaque)
{
    struct target *t = opaque;
    struct push_run *run = t->run;
    int r = mk_upload_file(t->ctx, t->up, t->art->path);
    char err[sizeof(t->error)] = "";
    char *result = r == MK_OK ? deploy_after(t, err, sizeof(err)) : NULL;

    pthread_mutex_lock(&run->lock);
    t->ok = result != NULL;
    if (t->ok)
        t->result = result;
    else
        snprintf(t->error, sizeof(t->error), "%s", r < 0 ? mk_errmsg(t->ctx) : err);
    t->seconds = now() - t->start;
    t->finished = true;
    run->running--;
    pthread_cond_signal(&run->cond);
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

static void fail_target(struct target *t, const char *msg)
{
    t->finished = true;
    t->ok = false;
    snprintf(t->error, sizeof(t->error), "%s", msg);
}

static const char *ext_of(enum mk_format fmt)
{
    return fmt == MK_FORMAT_GCE ? ".tar.gz" : fmt == MK_FORMAT_QCOW2 ? ".qcow2" : ".raw";
}

/* The artefact's file name: the kernel's, so that uploaders deriving an image name from it
 * get the same one as `push CLOUD KERNEL` would. */
static char *artefact_path(const char *dir, const char *kernel, enum mk_format fmt)
{
    const char *base = strrchr(kernel, '/') ? strrchr(kernel, '/') + 1 : kernel;
    size_t len = strlen(dir) + strlen(base) + 16;
    char *path = xcalloc(1, len);
    size_t blen = strlen(base);

    if (blen > 4 && !strcmp(base + blen - 4, ".elf"))
        blen -= 4;
    snprintf(path, len, "%s/%.*s%s", dir, (int)blen, base, ext_of(fmt));
    return path;
}

/* Sets each target's uploader and artefact; a target that cannot have one fails alone. */
static size_t plan(const struct mk_spec *spec, struct push_run *run, struct artefact *arts,
                   bool verbose)
{
    size_t n_arts = 0;

    for (size_t i = 0; i < run->n; i++) {
        struct target *t = &run->t[i];
        enum mk_format fmts[4];
        size_t k;

        t->ctx = cli_ctx_new(verbose);
        mk_ctx_set_log(t->ctx, push_on_log, t);
        if (mk_upload_new(t->ctx, t->type, &t->up) < 0 ||
            mk_spec_target_apply(t->ctx, spec, t->index, t->up) < 0 ||
            mk_spec_target_deploy(t->ctx, spec, t->index, NULL, &t->deploy) < 0) {
            fail_target(t, mk_errmsg(t->ctx));
            continue;
        }
        if (!mk_uploader_formats(t->type, fmts, 4)) {
            fail_target(t, "the uploader accepts no format");
            continue;
        }
        for (k = 0; k < n_arts && arts[k].fmt != fmts[0]; k++)
            ;
        if (k == n_arts)
            arts[n_arts++].fmt = fmts[0];
        t->art = &arts[k];
    }
    return n_arts;
}

/* The unikernel's Solo5 manifest, shown once, and a warning for each target whose machine
 * will make it abort: what `push CLOUD KERNEL` says, said before anything is built or sent. */
static void check_solo5(struct mk_ctx *ctx, const struct mk_spec *spec,
                        const struct push_run *run, bool show_devices)
{
    const char *kernel = mk_spec_build_opts(spec)->kernel;
    struct mk_solo5_manifest m;

    if (!kernel || !cli_read_solo5_manifest(ctx, kernel, true, &m))
        return;
    if (show_devices)
        cli_print_solo5_devices(&m);
    for (size_t i = 0; i < run->n; i++) {
        const struct target *t = &run->t[i];
        struct cli_target_machine machine = {0};

        if (t->finished)
            continue;
        for (size_t j = 0; j < mk_spec_target_n_options(spec, t->index); j++) {
            const char *key, *value;

            mk_spec_target_option(spec, t->index, j, &key, &value);
            cli_note_machine_option(&machine, key, value);
        }
        cli_warn_solo5_target(&m, t->name, t->type, machine.disk_bus, machine.vif_model);
    }
}

/* ---- the command ---- */

struct push_args {
    const char *spec;
    bool json, quiet, verbose, allow_outside;
    char **names;
    size_t n_names;
};

static int parse_args(int argc, char **argv, struct push_args *pa)
{
    pa->names = xcalloc((size_t)argc, sizeof(*pa->names));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!strcmp(arg, "--spec")) {
            if (i + 1 >= argc)
                return cli_usage_error("push", "option --spec needs a value");
            pa->spec = argv[++i];
        } else if (!strncmp(arg, "--spec=", 7)) {
            pa->spec = arg + 7;
        } else if (!strcmp(arg, "--allow-outside-spec")) {
            pa->allow_outside = true;
        } else if (!strcmp(arg, "--json")) {
            pa->json = true;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            pa->quiet = true;
        } else if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v")) {
            pa->verbose = true;
        } else if (!strcmp(arg, "--")) {
            return cli_usage_error("push", "with a spec, the kernel's command line comes from "
                                   "the spec ('args')");
        } else if (arg[0] == '-' && arg[1]) {
            return cli_usage_error("push", "unknown option '%s' (with a spec, the targets' "
                                   "options come from the spec)", arg);
        } else {
            pa->names[pa->n_names++] = argv[i];
        }
    }
    return CLI_EXIT_OK;
}

/* The chosen targets, in the order named (all of the spec's when none is). */
static int choose_targets(struct mk_ctx *ctx, const struct mk_spec *spec,
                          const struct push_args *pa, struct push_run *run)
{
    size_t n = pa->n_names ? pa->n_names : mk_spec_n_targets(spec);

    if (!mk_spec_n_targets(spec))
        return cli_usage_error("push", "%s has no targets", mk_spec_path(spec));
    run->t = xcalloc(n, sizeof(*run->t));
    for (size_t i = 0; i < n; i++) {
        size_t idx = i;
        bool dup = false;

        if (pa->n_names && mk_spec_find_target(ctx, spec, pa->names[i], &idx) < 0)
            return cli_usage_error("push", "%s", mk_errmsg(ctx));
        for (size_t k = 0; k < run->n; k++)
            dup |= run->t[k].index == idx;
        if (dup)
            continue;
        run->t[run->n++] = (struct target){
            .index = idx,
            .name = mk_spec_target_name(spec, idx),
            .type = mk_spec_target_type(spec, idx),
            .run = run,
        };
    }
    return CLI_EXIT_OK;
}

/* Writes each artefact; one that fails fails its targets only. */
static void write_artefacts(struct mk_ctx *ctx, struct mk_disk *disk,
                            const struct mk_spec *spec, const char *dir, struct artefact *arts,
                            size_t n_arts, bool verbose)
{
    const char *kernel = mk_spec_build_opts(spec)->kernel;

    for (size_t k = 0; k < n_arts; k++) {
        arts[k].path = artefact_path(dir, kernel ? kernel : "image", arts[k].fmt);
        if (verbose)
            fprintf(stderr, "%s: info: packing %s\n", cli_progname, arts[k].path);
        if (mk_disk_write_file(ctx, disk, arts[k].fmt, mk_spec_pack_opts(spec),
                               arts[k].path) < 0)
            snprintf(arts[k].error, sizeof(arts[k].error), "cannot write the %s artefact: %s",
                     mk_format_name(arts[k].fmt), mk_errmsg(ctx));
    }
}

/* A built-in cloud's target with no name: named as `push CLOUD FILE` names the image of the
 * same artefact (the unikernel and its content's hash), so the next release does not
 * collide. Plugins keep their own defaults. */
static void default_names(const struct mk_spec *spec, struct push_run *run)
{
    for (size_t i = 0; i < run->n; i++) {
        struct target *t = &run->t[i];
        bool named = false;
        char *name;

        if (t->finished || t->art->error[0] ||
            (strcmp(t->type, "gce") && strcmp(t->type, "gcp") && strcmp(t->type, "openstack")))
            continue;
        for (size_t j = 0; j < mk_spec_target_n_options(spec, t->index); j++) {
            const char *key, *value;

            mk_spec_target_option(spec, t->index, j, &key, &value);
            named |= !strcmp(key, "name");
        }
        if (named || !(name = cli_default_image_name(t->art->path, NULL, NULL)))
            continue;
        if (mk_upload_set_option(t->ctx, t->up, "name", name) < 0)
            fail_target(t, mk_errmsg(t->ctx));
        free(name);
    }
}

static void run_uploads(struct push_run *run)
{
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->n; i++) {
        struct target *t = &run->t[i];

        if (t->finished)
            continue;
        if (t->art->error[0]) {
            fail_target(t, t->art->error);
            continue;
        }
        t->start = now();
        if (!run->quiet)
            mk_ctx_set_progress(t->ctx, push_on_progress, t);
        if (pthread_create(&t->thread, NULL, upload_thread, t)) {
            fail_target(t, "cannot start a thread");
            continue;
        }
        t->started = true;
        run->running++;
    }
    while (run->running) {
        struct timespec ts;

        push_redraw(run);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&run->cond, &run->lock, &ts);
    }
    push_redraw(run);
    pthread_mutex_unlock(&run->lock);
    for (size_t i = 0; i < run->n; i++)
        if (run->t[i].started)
            pthread_join(run->t[i].thread, NULL);
}

int cli_push_targets(int argc, char **argv)
{
    struct push_args pa = {0};
    struct push_run run = {.tty = isatty(STDERR_FILENO)};
    struct artefact *arts = NULL;
    struct mk_spec *spec = NULL;
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx = NULL;
    const char *path, *tmp = getenv("TMPDIR");
    char dir[4096] = "";
    size_t n_arts = 0;
    int rc;

    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.cond, NULL);
    if ((rc = parse_args(argc, argv, &pa)) != CLI_EXIT_OK)
        goto out;
    run.quiet = pa.quiet || pa.json;
    run.verbose = pa.verbose;
    rc = CLI_EXIT_USAGE;
    if (!(path = cli_spec_choose("push", pa.spec)))
        goto out;
    ctx = cli_ctx_new(pa.verbose);
    if (mk_spec_load(ctx, path, &spec) < 0) {
        rc = cli_ctx_error(ctx);
        goto out;
    }
    if ((rc = cli_spec_check_outside(spec, pa.allow_outside, run.quiet)) != CLI_EXIT_OK)
        goto out;
    if ((rc = choose_targets(ctx, spec, &pa, &run)) != CLI_EXIT_OK)
        goto out;
    signal_main_ctx = ctx;
    signal_run = &run;
    catch_signals();
    rc = CLI_EXIT_FAIL;
    arts = xcalloc(run.n, sizeof(*arts));
    n_arts = plan(spec, &run, arts, pa.verbose);
    check_solo5(ctx, spec, &run, !run.quiet);
    if (n_arts) {
        if (mk_build(ctx, mk_spec_build_opts(spec), &disk) < 0) {
            rc = cli_ctx_error(ctx);
            goto out;
        }
        if (snprintf(dir, sizeof(dir), "%s/unikernel-mkimage-push.XXXXXX",
                     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(dir) || !mkdtemp(dir)) {
            rc = cli_error("cannot make a temporary folder in %s: %s", tmp ? tmp : "/tmp",
                           strerror(errno));
            dir[0] = '\0';
            goto out;
        }
        write_artefacts(ctx, disk, spec, dir, arts, n_arts, pa.verbose);
        mk_disk_free(disk);
        disk = NULL;
        default_names(spec, &run);
        run_uploads(&run);
    }
    push_report(&run, pa.json);
    rc = CLI_EXIT_OK;
    for (size_t i = 0; i < run.n; i++)
        if (!run.t[i].ok)
            rc = CLI_EXIT_FAIL;
out:
    for (size_t k = 0; k < n_arts; k++) {
        if (arts[k].path)
            unlink(arts[k].path);
        free(arts[k].path);
    }
    if (dir[0])
        rmdir(dir);
    signal_run = NULL;
    signal_main_ctx = NULL;
    for (size_t i = 0; i < run.n; i++) {
        mk_upload_free(run.t[i].up);
        mk_deploy_free(run.t[i].deploy);
        mk_ctx_free(run.t[i].ctx);
        free(run.t[i].result);
    }
    free(run.t);
    free(arts);
    free(pa.names);
    mk_disk_free(disk);
    mk_spec_free(spec);
    mk_ctx_free(ctx);
    pthread_cond_destroy(&run.cond);
    pthread_mutex_destroy(&run.lock);
    return rc;
}
