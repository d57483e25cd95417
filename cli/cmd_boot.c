/* cmd_boot.c: INTERIM placeholder until this command lands in this session. */
#include "cli.h"
const char cmd_boot_usage[] = "usage: unikernel-mkimage boot\n";
int cmd_boot(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_error("boot is not built yet");
}
