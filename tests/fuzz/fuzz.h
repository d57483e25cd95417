/* fuzz.h: what the libFuzzer harnesses share. Each tests/fuzz/fuzz_NAME.c defines
 * LLVMFuzzerTestOneInput and says in its header comment how its seeds are made:
 *   seeds: SHELL LINE     run by run.sh with $SEEDS (the folder to fill), $MKIMAGE, $MBPROBE,
 *                         $MBPROBE2, $MK_SOURCE_DIR and $WORK (scratch) set; several allowed
 *   options: -max_len=N   extra libFuzzer options
 * Past findings live in tests/fuzz/corpus/NAME/ and are replayed first on every run, with
 * any seeds written by hand (server replies, say) kept there too; a harness with such seeds
 * needs no seeds: line. */
#ifndef MK_FUZZ_H
#define MK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <unikernel-mkimage/mkimage.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file the code under test opens by name: a memfd reached through /proc, so
 * no disk I/O and nothing left behind. The same file is rewritten for every input. */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];

    if (fd < 0) {
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    return path;
}

/* The input as a NUL-terminated string (text parsers). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* Every fallible call must leave a one-line message when it fails. */
static inline void fuzz_check_error(struct mk_ctx *ctx, int r)
{
    if (r < 0 && (!mk_errmsg(ctx) || !*mk_errmsg(ctx) || strchr(mk_errmsg(ctx), '\n')))
        abort();
}

#endif
