/* main.c: the unikernel-mkimage command: dispatch to subcommands, help and version. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const char *cli_progname = "unikernel-mkimage";

static int cmd_help(int argc, char **argv);
static const char cmd_help_usage[] = "usage: unikernel-mkimage help [COMMAND]\n"
                                     "\nShows the help of COMMAND, or the list of commands.\n";

static const struct cli_command commands[] = {
    {"build", cmd_build, "build a bootable disk image from a unikernel", cmd_build_usage},
    {"inspect", cmd_inspect, "describe and check a disk image", cmd_inspect_usage},
    {"boot", cmd_boot, "boot a disk image in QEMU and judge it by its serial output",
     cmd_boot_usage},
    {"pack", cmd_pack, "convert an image to raw, GCE disk.tar.gz or qcow2", cmd_pack_usage},
    {"validate", cmd_validate, "check an image spec (unikernel-mkimage.yaml) without building",
     cmd_validate_usage},
    {"push", cmd_push, "upload an image to a cloud (gce, openstack) and create it there",
     cmd_push_usage},
    {"deploy", cmd_deploy, "roll an image out to a managed instance group (gce)",
     cmd_deploy_usage},
    {"run", cmd_run, "run an image on one cloud instance and judge its serial console (gce)",
     cmd_run_usage},
    {"help", cmd_help, "show the help of a command", cmd_help_usage},
};

const struct cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

void cli_print_help(const struct cli_command *cmd, FILE *f)
{
    fputs(cmd->usage, f);
}

/* One error line on stderr and, with --json, the failure object on stdout. */
static void report_error(const char *status, const char *kind, const char *suffix,
                         const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void report_error(const char *status, const char *kind, const char *suffix,
                         const char *fmt, va_list ap)
{
    char msg[2048];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    cli_progress_end();
    fprintf(stderr, "%s: error: %s%s\n", cli_progname, msg, suffix ? suffix : "");
    cli_json_failure(status, msg, kind);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_error("failed", NULL, NULL, fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

static int ctx_error(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ctx_error(const char *kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_error("failed", kind, NULL, fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAIL;
}

static int interrupted(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int interrupted(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report_error("interrupted", "interrupted", NULL, fmt, ap);
    va_end(ap);
    return CLI_EXIT_INTERRUPTED;
}

int cli_ctx_error(struct mk_ctx *ctx)
{
    const char *msg = mk_errmsg(ctx);
    int code = mk_errcode(ctx);

    if (code == MK_ECANCELED)
        return interrupted("interrupted%s%s", cli_out.interrupt_hint ? "; " : "",
                           cli_out.interrupt_hint ? cli_out.interrupt_hint : "");
    return ctx_error(mk_strerror(code), "%s", *msg ? msg : mk_strerror(code));
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    char suffix[128];
    va_list ap;

    snprintf(suffix, sizeof(suffix), " (see '%s%s%s --help')", cli_progname,
             command ? " " : "", command ? command : "");
    va_start(ap, fmt);
    report_error("usage_error", "usage", suffix, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;

    cli_progress_erase();
    fprintf(stderr, "%s: warning: ", cli_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Optimal string alignment distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[64][64];

    if (la >= 64 || lb >= 64)
        return (size_t)-1;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

int cli_unknown_option(const char *command, const char *arg, const struct option *longopts)
{
    const char *names[128], *guess;
    size_t n = 0;
    char word[64];

    snprintf(word, sizeof(word), "%.*s", (int)strcspn(arg + strspn(arg, "-"), "="),
             arg + strspn(arg, "-"));
    for (const struct option *o = longopts; o && o->name && n < 127; o++)
        names[n++] = o->name;
    names[n] = NULL;
    guess = arg[0] == '-' && arg[1] == '-' ? cli_did_you_mean(word, names) : NULL;
    if (guess)
        return cli_usage_error(command, "unknown option '%s'; did you mean '--%s'?", arg, guess);
    return cli_usage_error(command, "unknown option '%s'", arg);
}

const char *cli_did_you_mean(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = strlen(word);

    for (size_t i = 0; candidates && candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    /* A third of the word, at least one edit, at most three. */
    return best && best_d <= (len >= 9 ? 3 : len >= 5 ? 2 : 1) ? best : NULL;
}

static void log_to_stderr(void *opaque, enum mk_log_level level, const char *msg)
{
    bool verbose = opaque != NULL;
    static const char *const names[] = {"error", "warning", "info", "debug"};

    if (level <= MK_LOG_WARN || verbose) {
        cli_progress_erase(); /* never glued to a bar; the bar comes back on its next update */
        fprintf(stderr, "%s: %s: %s\n", cli_progname, names[level], msg);
    }
}

static const char *device_paths[4];
static size_t n_device_paths;

void cli_allow_device(const char *path)
{
    if (path && n_device_paths < sizeof(device_paths) / sizeof(device_paths[0]))
        device_paths[n_device_paths++] = path;
}

bool cli_is_block_device(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISBLK(st.st_mode);
}

int cli_refuse_device(const char *path, bool device, const char *what, const char *would)
{
    if (device || !path || !cli_is_block_device(path))
        return CLI_EXIT_OK;
    return cli_error("%s '%s' is a block device; give --device to %s", what, path, would);
}

void cli_ctx_allow_devices(struct mk_ctx *ctx)
{
    /* A path that is no block device (an output still to be made) is an ordinary file. */
    for (size_t i = 0; i < n_device_paths; i++)
        if (cli_is_block_device(device_paths[i]))
            mk_ctx_allow_device(ctx, device_paths[i]);
}

struct mk_ctx *cli_ctx_new(bool verbose)
{
    struct mk_ctx *ctx = mk_ctx_new();

    if (!ctx) {
        cli_error("out of memory");
        exit(CLI_EXIT_FAIL);
    }
    mk_ctx_set_log(ctx, log_to_stderr, verbose ? (void *)1 : NULL);
    cli_ctx_allow_devices(ctx);
    return ctx;
}

static struct mk_ctx *signal_ctx;
static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
    (void)sig;
    signalled = 1;
    if (signal_ctx)
        mk_ctx_cancel(signal_ctx);
}

bool cli_was_interrupted(void)
{
    return signalled;
}

int cli_interrupted_error(const char *what)
{
    return interrupted("interrupted; %s", what);
}

void cli_cancel_on_signals(struct mk_ctx *ctx)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal_ctx = ctx;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void print_main_help(FILE *f)
{
    fprintf(f, "usage: %s [--version] [--help] COMMAND [ARGS...]\n\n"
               "Builds bootable disk images from unikernels, packs them for clouds, uploads\n"
               "and boots them. No root, loop devices, mounting or Docker needed.\n\n"
               "Commands:\n",
            cli_progname);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun '%s help COMMAND' or '%s COMMAND --help' for a command's options.\n"
               "Exit status: 0 success, 1 failure, 2 command-line error.\n",
            cli_progname, cli_progname);
}

static int cmd_help(int argc, char **argv)
{
    const struct cli_command *cmd;

    if (argc < 2) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    cmd = cli_find_command(argv[1]);
    if (!cmd)
        return cli_usage_error("help", "unknown command '%s'", argv[1]);
    if (argc > 2 && !strcmp(cmd->name, "push")) {
        if (cli_push_cloud_help(argv[2], stdout) < 0)
            return cli_usage_error("help", "unknown cloud '%s'", argv[2]);
        return CLI_EXIT_OK;
    }
    cli_print_help(cmd, stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    const struct cli_command *cmd;
    const char *invoked = strrchr(argv[0], '/');

    invoked = invoked ? invoked + 1 : argv[0];
    if (!strcmp(invoked, "solo5-virtio-mkimage"))
        return cli_solo5_compat(argc, argv);

    if (argc < 2) {
        print_main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_help(1, argv);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("%s %s\n", cli_progname, MK_VERSION);
        return CLI_EXIT_OK;
    }
    cmd = cli_find_command(argv[1]);
    if (!cmd) {
        const char *names[sizeof(commands) / sizeof(commands[0]) + 1] = {NULL};
        const char *guess;

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            names[i] = commands[i].name;
        cli_out_scan(NULL, argc, argv);
        guess = cli_did_you_mean(argv[1], names);
        if (guess)
            return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", argv[1],
                                   guess);
        return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
    }
    cli_out_scan(cmd->name, argc - 1, argv + 1);
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            /* `push CLOUD --help` is the cloud's own page. */
            if (!strcmp(cmd->name, "push") && argc > 2 && argv[2][0] != '-' &&
                cli_push_cloud_help(argv[2], stdout) == 0)
                return CLI_EXIT_OK;
            cli_print_help(cmd, stdout);
            return CLI_EXIT_OK;
        }
    return cmd->run(argc - 1, argv + 1);
}
