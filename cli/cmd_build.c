/* cmd_build.c: INTERIM placeholder until this command lands in this session. */
#include "cli.h"
const char cmd_build_usage[] = "usage: unikernel-mkimage build\n";
int cmd_build(int argc, char **argv)
{
    (void)argc, (void)argv;
    return cli_error("build is not built yet");
}
