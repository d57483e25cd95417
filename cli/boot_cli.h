/* boot_cli.h: what `boot`'s option parsing (cmd_boot.c) hands to its runner (boot_run.c). */
#ifndef MK_BOOT_CLI_H
#define MK_BOOT_CLI_H

#include "cli.h"

struct boot_cli {
    struct mk_boot_opts opts;
    const char *log_path;
    bool json;
    bool raw;    /* --raw: a terminal gets the guest's bytes unchanged */
    bool device; /* --device: the image may be a block device */
    const char *const *expects; /* every --expect, for the report */
    size_t n_expects;
};

int boot_cli_parse_bus(const char *s, enum mk_disk_bus *ret);
/* Applies --machine NAME to (opts): the machine type, the boot disk's bus unless --disk-bus
 * was given, and the NIC a cloud machine always has when no --net was given (added to
 * (nets), which has room for one more). Returns 0, or a usage error's exit status. */
int boot_cli_machine(struct mk_boot_opts *opts, const char *name, bool bus_given,
                     struct mk_boot_net *nets, size_t *n_nets);
/* Reads the image's kernel, boots, reports; returns the exit status. */
int boot_cli_run(struct boot_cli *b);

#endif
