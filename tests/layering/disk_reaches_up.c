/* disk_reaches_up.c: a disk-stage file that includes a header of the build stage above it.
 * tests/CMakeLists.txt compiles it with the disk stage's include path and expects the
 * compiler to refuse: this is how a wrong-way dependency is caught. */
#include "disk_private.h"
#include "multiboot.h"

int mk_layering_probe_up(void);
int mk_layering_probe_up(void)
{
    return MK_OK;
}
