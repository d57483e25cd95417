/* build_args.h: the options that describe an image, shared by `build` and `push KERNEL`. */
#ifndef MK_CLI_BUILD_ARGS_H
#define MK_CLI_BUILD_ARGS_H

#include <getopt.h>

#include "cli.h"

struct cli_build_args {
    struct mk_build_opts opts;
    struct mk_module *modules;
    struct mk_extra_file *files;
    size_t nmodules, nfiles;
    char *kernel_name;    /* where the kernel came from, for messages */
};

/* Long options of the image description; their `val`s are the CLI_OPT_* below or short
 * letters s, t, m. Put CLI_BUILD_LONGOPTS inside a command's option table. */
enum {
    CLI_OPT_FILE = 0x1000,
    CLI_OPT_UUID,
    CLI_OPT_GRUB_DIR,
    CLI_OPT_TEMPLATE_DIR,
};
#define CLI_BUILD_SHORTOPTS "s:t:m:"
#define CLI_BUILD_LONGOPTS                                                                   \
    {"size", required_argument, NULL, 's'}, {"template", required_argument, NULL, 't'},      \
        {"module", required_argument, NULL, 'm'},                                            \
        {"file", required_argument, NULL, CLI_OPT_FILE},                                     \
        {"uuid", required_argument, NULL, CLI_OPT_UUID},                                     \
        {"grub-dir", required_argument, NULL, CLI_OPT_GRUB_DIR},                             \
        {"template-dir", required_argument, NULL, CLI_OPT_TEMPLATE_DIR}
#define CLI_BUILD_HELP                                                                       \
    "  -s, --size SIZE          disk size, with K/M/G/T suffix (default 1G)\n"              \
    "  -t, --template NAME      grub.cfg template: multiboot (default), solo5, hermit,\n"     \
    "                           or a path to your own template (see templates/README.md)\n" \
    "  -m, --module FILE[:ARGS] add a multiboot module with its command line (repeatable)\n"  \
    "      --file SRC:/DEST     copy a local file into the image (repeatable)\n"              \
    "      --uuid UUID          filesystem UUID (default: derived from the inputs)\n"        \
    "      --grub-dir DIR       GRUB i386-pc modules (default /usr/lib/grub/i386-pc)\n"       \
    "      --template-dir DIR   where named templates are looked up\n"

void cli_build_args_init(struct cli_build_args *a);
void cli_build_args_release(struct cli_build_args *a);
/* Handles one option of the image description. Returns 1 when (opt) was one of them, 0
 * when it was not, and -1 after printing a usage error for (command). */
int cli_build_option(struct cli_build_args *a, const char *command, int opt, const char *arg);
/* Splits argv at the first "--": returns the number of arguments before it (what getopt
 * should see); (*ret_kargs) and (*ret_nkargs) are the kernel's command line after it. */
int cli_split_kernel_args(int argc, char **argv, char ***ret_kargs, int *ret_nkargs);
/* Prints the grub.cfg the build would write (--print-config); returns an exit status. */
int cli_print_config(struct mk_ctx *ctx, const struct mk_build_opts *opts);
/* Sets the kernel and its command line. */
void cli_build_set_kernel(struct cli_build_args *a, char *kernel, char **kargs, int nkargs);

#endif
