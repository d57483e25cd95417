/* main.c: the unikernel-mkimage command: dispatch to subcommands, help and version. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: error: ", cli_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_ctx_error(struct mk_ctx *ctx)
{
    const char *msg = mk_errmsg(ctx);
    return cli_error("%s", *msg ? msg : mk_strerror(mk_errcode(ctx)));
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: error: ", cli_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s help %s')\n", cli_progname, command);
    return CLI_EXIT_USAGE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: warning: ", cli_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void log_to_stderr(void *opaque, enum mk_log_level level, const char *msg)
{
    bool verbose = opaque != NULL;
    static const char *const names[] = {"error", "warning", "info", "debug"};

    if (level <= MK_LOG_WARN || verbose)
        fprintf(stderr, "%s: %s: %s\n", cli_progname, names[level], msg);
}

struct mk_ctx *cli_ctx_new(bool verbose)
{
    struct mk_ctx *ctx = mk_ctx_new();

    if (!ctx) {
        cli_error("out of memory");
        exit(CLI_EXIT_FAIL);
    }
    mk_ctx_set_log(ctx, log_to_stderr, verbose ? (void *)1 : NULL);
    return ctx;
}

static struct mk_ctx *signal_ctx;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_ctx)
        mk_ctx_cancel(signal_ctx);
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
        cli_error("unknown command '%s' (see '%s --help')", argv[1], cli_progname);
        return CLI_EXIT_USAGE;
    }
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_print_help(cmd, stdout);
            return CLI_EXIT_OK;
        }
    return cmd->run(argc - 1, argv + 1);
}
