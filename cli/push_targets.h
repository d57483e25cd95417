/* push_targets.h: `push [--spec FILE] [TARGET]...`: one build, uploaded to a spec's targets
 * in parallel (push_targets.c). */
#ifndef MK_CLI_PUSH_TARGETS_H
#define MK_CLI_PUSH_TARGETS_H

#include "cli.h"

/* Whether `push` with these arguments (argv[0] = "push", (nopts) of them before any "--")
 * means the spec's targets: --spec is given, or ./unikernel-mkimage.yaml exists and the
 * first argument is not an uploader's name. */
bool cli_push_targets_wanted(int nopts, char **argv);
/* Runs it; returns an exit status (0 all targets succeeded, 1 one failed, 2 usage). */
int cli_push_targets(int argc, char **argv);

#endif
