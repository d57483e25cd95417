/* cmd_inspect.c: INTERIM placeholder until this command lands in this session. */
#include "cli.h"
const char cmd_inspect_usage[] = "usage: unikernel-mkimage inspect\n";
int cmd_inspect(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_error("inspect is not built yet");
}
