/* cmd_push.c: `unikernel-mkimage push`: upload an image (or build one on the fly) to a
 * cloud through one of the uploaders, with progress and a one-line or JSON result. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gcrypt.h>
#include <jansson.h>

#include "build_args.h"
#include "push_targets.h"

const char cmd_push_usage[] =
    "usage: unikernel-mkimage push --list\n"
    "       unikernel-mkimage push CLOUD [OPTIONS] ARCHIVE\n"
    "       unikernel-mkimage push CLOUD [OPTIONS] [BUILD OPTIONS] KERNEL [-- KERNEL_ARGS...]\n"
    "       unikernel-mkimage push gce [OPTIONS] --source-uri gs://BUCKET/OBJECT\n"
    "       unikernel-mkimage push [--spec FILE] [--json] [-q] [-v] [TARGET]...\n"
    "\n"
    "Uploads a disk image to CLOUD and makes a bootable image of it there. ARCHIVE is an\n"
    "image file (for gce a disk.tar.gz; other formats are converted on the fly); it is\n"
    "checked locally first and never uploaded when the cloud would refuse it. With a\n"
    "multiboot KERNEL instead, the disk is built, packed and uploaded in one stream with\n"
    "no temporary file, taking the same options as 'build'. With gce's --source-uri, the\n"
    "image is made from an archive already in Cloud Storage: nothing is uploaded, and that\n"
    "object, the user's, is never deleted.\n"
    "\n"
    "An interrupted push (Ctrl-C, kill -9, a cut connection) is taken up again when the same\n"
    "command is run again (state in $XDG_STATE_HOME/unikernel-mkimage, no secrets):\n"
    "  gce        the upload continues from the bytes Cloud Storage holds; once the image\n"
    "             was being created, the re-run finds that image by the source's hash,\n"
    "             waits for it and removes the staged object\n"
    "  openstack  Glance cannot continue an upload: the re-run deletes the image the\n"
    "             interrupted one left (marked with the source's hash) and uploads again;\n"
    "             an image already active with the same bytes is checked, not sent again;\n"
    "             an image whose deletion failed (Glance down) is deleted by the next push\n"
    "             to that cloud and project\n"
    "  plugins    as the plugin does: it is given the source's hash\n"
    "             (UNIKERNEL_MKIMAGE_SOURCE_ID) to know its own upload again\n"
    "\n"
    "  --list                   list the clouds built in, with their options\n"
    "  --device                 ARCHIVE may be a block device (a disk on an LVM volume, a\n"
    "                           USB stick), read in place; such an upload is not resumed\n"
    "  --json                   print the result as JSON on stdout\n"
    "  -q, --quiet              no progress, no result line\n"
    "  -v, --verbose            say more\n"
    "  --OPTION VALUE           an option of the cloud (see 'push --list'); --OPTION=VALUE\n"
    "                           works too\n"
    "\n"
    "Build options (KERNEL mode):\n" CLI_BUILD_HELP
    "\n"
    "With a spec (--spec FILE, or ./unikernel-mkimage.yaml when the first argument is not a\n"
    "cloud), the spec's image is built once, each format its targets need is packed once\n"
    "into a temporary file in $TMPDIR, and all its targets (or those named) are uploaded in\n"
    "parallel, with a line of progress each and a summary table (target, uploader, image,\n"
    "status, time); --json prints an array of per-target results. One target's failure\n"
    "does not stop the others; the exit status is 0 only when all succeeded. A spec whose\n"
    "paths leave its folder is refused unless --allow-outside-spec is given (see build).\n"
    "\n"
    "CLOUD is built in (gce, openstack) or served by an executable\n"
    "unikernel-mkimage-uploader-CLOUD on PATH (see uploaders/PLUGINS.md).\n"
    "\n"
    "Prints the image's selfLink (or id) on success. Exit status: 0 the image is ready,\n"
    "1 failed, 2 command-line error.\n"
    "\n"
    "Example:\n"
    "  unikernel-mkimage push gce --project my-proj --bucket my-bucket --family app disk.tar.gz\n";

static const struct option build_options[] = {CLI_BUILD_LONGOPTS, {NULL, 0, NULL, 0}};

static int list_uploaders(void)
{
    const char *const *names = mk_uploader_names();
    struct mk_ctx *ctx = cli_ctx_new(false);
    char **plugins = NULL;

    /* External uploaders are listed after the built-in ones, with the file that serves them. */
    if (mk_uploader_plugins(ctx, &plugins) < 0)
        cli_warn("%s", mk_errmsg(ctx));
    for (size_t i = 0; names[i]; i++)
        printf("%-10s %s\n", names[i], mk_uploader_description(names[i]));
    for (size_t i = 0; plugins && plugins[i]; i++)
        printf("%-10s %s [%s]\n", plugins[i], mk_uploader_description(plugins[i]),
               mk_uploader_plugin_path(plugins[i]));
    for (size_t i = 0; names[i]; i++)
        printf("\n%s options:\n%s", names[i], mk_uploader_usage(names[i]));
    for (size_t i = 0; plugins && plugins[i]; i++)
        if (*mk_uploader_usage(plugins[i]))
            printf("\n%s options:\n%s", plugins[i], mk_uploader_usage(plugins[i]));
    mk_uploader_plugins_free(plugins);
    mk_ctx_free(ctx);
    return CLI_EXIT_OK;
}

/* ---- the identity of a build's bytes, so that an interrupted upload can resume ---- */

static void hash_file(gcry_md_hd_t md, const char *path)
{
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    ssize_t n;

    gcry_md_write(md, path, strlen(path) + 1);
    if (fd < 0)
        return;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        gcry_md_write(md, buf, (size_t)n);
    close(fd);
}

static char *build_identity(const struct cli_build_args *a, const char *cfg)
{
    const struct mk_build_opts *o = &a->opts;
    gcry_md_hd_t md;
    char *id = malloc(2 * 32 + 8), num[64];
    const uint8_t *d;

    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_check_version(NULL);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
    if (!id || gcry_md_open(&md, GCRY_MD_SHA256, 0)) {
        free(id);
        return NULL;
    }
    gcry_md_write(md, cfg, strlen(cfg) + 1);
    hash_file(md, o->kernel);
    for (size_t i = 0; i < o->n_modules; i++)
        hash_file(md, o->modules[i].path);
    for (size_t i = 0; i < o->n_files; i++) {
        hash_file(md, o->files[i].src);
        gcry_md_write(md, o->files[i].dest, strlen(o->files[i].dest) + 1);
    }
    snprintf(num, sizeof(num), "%" PRIu64 ":%" PRId64 ":%s", o->disk_size, o->mtime,
             o->uuid ? o->uuid : "");
    gcry_md_write(md, num, strlen(num));
    d = gcry_md_read(md, GCRY_MD_SHA256);
    memcpy(id, "build:", 6);
    for (int i = 0; i < 32; i++)
        snprintf(id + 6 + 2 * i, 3, "%02x", d[i]);
    gcry_md_close(md);
    return id;
}

static bool is_elf(const char *path)
{
    unsigned char m[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    bool yes;

    if (fd < 0)
        return false;
    yes = read(fd, m, 4) == 4 && !memcmp(m, "\x7f" "ELF", 4);
    close(fd);
    return yes;
}

/* `push CLOUD --help`: the cloud's own options. -1 when CLOUD is unknown. */
int cli_push_cloud_help(const char *cloud, FILE *f)
{
    const char *desc = mk_uploader_description(cloud), *usage = mk_uploader_usage(cloud);

    if (!desc)
        return -1;
    fprintf(f, "usage: %s push %s [OPTIONS] ARCHIVE\n"
               "       %s push %s [OPTIONS] [BUILD OPTIONS] KERNEL [-- KERNEL_ARGS...]\n\n"
               "%s.\n\n%s options:\n%s\n"
               "Common options: --json, -q, -v; the build options of KERNEL mode are in\n"
               "'%s build --help'. See also '%s push --help'.\n",
            cli_progname, cloud, cli_progname, cloud, desc, cloud, usage ? usage : "",
            cli_progname, cli_progname);
    return 0;
}

/* The option names of (cloud) (from its help text) and of the build, for "did you mean";
 * the strings live until the next call. */
static const char **option_names(const char *cloud)
{
    static char *copy;
    static const char *names[129];
    const char *usage = mk_uploader_usage(cloud);
    char *save = NULL;
    size_t n = 0;

    free(copy);
    copy = strdup(usage ? usage : "");
    for (char *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && n < 100;
         line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " ");
        if (strncmp(line, "--", 2))
            continue;
        line += 2;
        line[strcspn(line, " ")] = '\0';
        names[n++] = line;
    }
    for (const struct option *o = build_options; o->name && n < 128; o++)
        names[n++] = o->name;
    names[n] = NULL;
    return names;
}

/* Without --name, the image is named after the unikernel with a short content hash. */
static int set_default_name(struct mk_ctx *ctx, struct mk_upload *up, const char *cloud,
                            const char *file, const struct mk_build_opts *o, const char *id)
{
    char *name;
    int r;

    /* Built-in clouds only: a plugin keeps its own default. */
    if (strcmp(cloud, "gce") && strcmp(cloud, "gcp") && strcmp(cloud, "openstack"))
        return MK_OK;
    if (!(name = cli_default_image_name(file, o, id)))
        return MK_OK; /* the uploader's own default then */
    if (cli_out.verbose) {
        cli_progress_erase();
        fprintf(stderr, "%s: info: image name %s (--name chooses another)\n", cli_progname, name);
    }
    r = mk_upload_set_option(ctx, up, "name", name);
    free(name);
    return r;
}

static const struct option *find_build_option(const char *name, size_t len)
{
    for (const struct option *o = build_options; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len))
            return o;
    return NULL;
}

static void print_result(const char *result, bool json)
{
    json_t *r = json_loads(result, 0, NULL);
    const char *keys[] = {"selfLink", "url", "id", "image"};

    if (json) {
        json_t *status = json_object_get(r, "status");

        /* "status" is ours (ok/failed...); the cloud's word for the image (READY, active)
         * is image_status. */
        if (json_is_object(r) && json_is_string(status) &&
            strcmp(json_string_value(status), "ok") && strcmp(json_string_value(status), "failed"))
            json_object_set(r, "image_status", status);
        if (json_is_object(r))
            json_object_del(r, "status");
        cli_json_result(r, "ok");
        return;
    } else {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (json_is_string(json_object_get(r, keys[i]))) {
                puts(json_string_value(json_object_get(r, keys[i])));
                break;
            }
    }
    json_decref(r);
}

int cmd_push(int argc, char **argv)
{
    return cli_push_one(argc, argv, NULL);
}

int cli_push_one(int argc, char **argv, char **ret_result)
{
    struct cli_build_args a;
    bool build_opts = false, name_given = false, remote = false, device = false;
    char where[80];
    const char *cloud = NULL, *file = NULL;
    struct mk_upload *up = NULL;
    struct mk_disk *disk = NULL;
    struct mk_ctx *ctx = NULL;
    char **kargs, *id = NULL, *cfg = NULL;
    int nkargs, rc = CLI_EXIT_USAGE;
    int nopts = cli_split_kernel_args(argc, argv, &kargs, &nkargs);
    struct cli_target_machine machine = {0};

    cli_build_args_init(&a);
    if (!ret_result && cli_push_targets_wanted(nopts, argv)) {
        cli_build_args_release(&a);
        return cli_push_targets(argc, argv);
    }
    if (nopts >= 2 && !strcmp(argv[1], "--list")) {
        rc = list_uploaders();
        goto out;
    }
    if (nopts < 2 || argv[1][0] == '-') {
        rc = cli_usage_error("push", "no cloud given (one of: see 'push --list')");
        goto out;
    }
    cloud = argv[1];
    ctx = cli_ctx_new(false);
    if (mk_upload_new(ctx, cloud, &up) < 0) {
        const char *guess = cli_did_you_mean(cloud, (const char *const[]){"gce", "gcp",
                                             "openstack", NULL});
        if (guess)
            rc = cli_usage_error("push", "unknown cloud '%s'; did you mean '%s'?", cloud, guess);
        else
            rc = cli_usage_error("push", "%s", mk_errmsg(ctx));
        goto out;
    }
    /* Option errors point at the cloud's own help. */
    snprintf(where, sizeof(where), "push %s", cloud);
    for (int i = 2; i < nopts; i++) {
        const char *arg = argv[i], *eq, *value = NULL;
        const struct option *bo;
        char key[64];
        int arity;

        if (cli_out_arg(arg)) {
            continue;
        } else if (!strcmp(arg, "--device")) {
            device = true;
        } else if (arg[0] == '-' && arg[1] && arg[1] != '-' && strchr("stm", arg[1])) {
            /* -s SIZE, -sSIZE and the other short build options */
            value = arg[2] ? arg + 2 : (i + 1 < nopts ? argv[++i] : NULL);
            if (!value) {
                rc = cli_usage_error(where, "option -%c needs a value", arg[1]);
                goto out;
            }
            if (cli_build_option(&a, where, arg[1], value) < 0)
                goto out;
            build_opts = true;
        } else if (!strncmp(arg, "--", 2) && arg[2]) {
            if (!cli_option_key(arg, key, sizeof(key), &eq)) {
                rc = cli_usage_error(where, "unknown option '%s' for %s", arg, cloud);
                goto out;
            }
            bo = find_build_option(key, strlen(key));
            arity = bo ? bo->has_arg == required_argument : mk_uploader_option_arity(cloud, key);
            if (arity < 0) {
                const char *guess = cli_did_you_mean(key, option_names(cloud));

                if (guess)
                    rc = cli_usage_error(where, "unknown option '--%s' for %s; did you mean "
                                         "'--%s'?", key, cloud, guess);
                else
                    rc = cli_usage_error(where, "unknown option '--%s' for %s", key, cloud);
                goto out;
            }
            if ((rc = cli_option_value(where, key, arity, eq, nopts, argv, &i, &value)) != 0)
                goto out;
            if (!bo && !strcmp(key, "name"))
                name_given = true;
            if (!bo && !strcmp(key, "source-uri"))
                remote = true;
            if (bo) {
                if (cli_build_option(&a, where, bo->val, value) < 0)
                    goto out;
                build_opts = true;
            } else if (mk_upload_set_option(ctx, up, key, value) < 0) {
                rc = cli_usage_error(where, "%s", mk_errmsg(ctx));
                goto out;
            } else {
                cli_note_machine_option(&machine, key, value);
            }
        } else if (arg[0] == '-' && arg[1]) {
            rc = cli_usage_error(where, "unknown option '%s'", arg);
            goto out;
        } else if (!file) {
            file = arg;
        } else {
            rc = cli_usage_error(where, "unexpected argument '%s' (put the kernel's command "
                                 "line after --)", arg);
            goto out;
        }
    }
    if (file && remote) {
        rc = cli_usage_error(where, "--source-uri names data already uploaded: give no "
                             "ARCHIVE or KERNEL as well");
        goto out;
    }
    if (!file && !remote) {
        rc = cli_usage_error(where, "no ARCHIVE or KERNEL given");
        goto out;
    }
    if ((rc = cli_refuse_device(file, device, "ARCHIVE", "read it in place")))
        goto out;
    if (device)
        cli_allow_device(file);
    mk_ctx_free(ctx);
    ctx = cli_ctx_new(cli_out.verbose);
    cli_progress_attach(ctx);
    cli_cancel_on_signals(ctx);
    cli_out.interrupt_hint = "run the same command again to resume the upload";
    rc = CLI_EXIT_FAIL;
    if (!remote) {
        struct mk_solo5_manifest m;

        if (cli_read_solo5_manifest(ctx, file, build_opts || nkargs || is_elf(file), &m)) {
            if (!cli_out.quiet && !cli_out.json)
                cli_print_solo5_devices(&m);
            cli_warn_solo5_target(&m, NULL, cloud, machine.disk_bus, machine.vif_model);
        }
    }
    if (remote) {
        /* The uploader names its default image after the object. */
        if (mk_upload_remote(ctx, up) < 0)
            goto fail;
    } else if (build_opts || nkargs || is_elf(file)) {
        const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

        cli_build_set_kernel(&a, (char *)file, kargs, nkargs);
        if (mk_build_render_config(ctx, &a.opts, &cfg) < 0 ||
            mk_build(ctx, &a.opts, &disk) < 0) {
            rc = cli_ctx_error(ctx);
            goto out;
        }
        id = build_identity(&a, cfg);
        if (!name_given && set_default_name(ctx, up, cloud, file, &a.opts, id) < 0)
            goto fail;
        if (mk_upload_disk(ctx, up, disk, NULL, base, id) < 0)
            goto fail;
    } else if ((!name_given && set_default_name(ctx, up, cloud, file, NULL, NULL) < 0) ||
               mk_upload_file(ctx, up, file) < 0) {
        goto fail;
    }
    cli_progress_end();
    if (ret_result)
        *ret_result = strdup(mk_upload_result(up));
    else if (cli_out.json || !cli_out.quiet)
        print_result(mk_upload_result(up), cli_out.json);
    rc = ret_result && !*ret_result ? cli_error("out of memory") : CLI_EXIT_OK;
    goto out;
fail:
    rc = cli_ctx_error(ctx);
out:
    free(id);
    free(cfg);
    mk_upload_free(up);
    mk_disk_free(disk);
    mk_ctx_free(ctx);
    cli_build_args_release(&a);
    return rc;
}
