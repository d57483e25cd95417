/* boot_private.h: the pieces of mk_boot() that tests reach directly (accel choice, the
 * streaming matcher, QEMU's exit status). */
#ifndef MK_BOOT_PRIVATE_H
#define MK_BOOT_PRIVATE_H

#include <stdbool.h>

#include "mk_private.h"

/* Where the accelerator choice looks; tests point these at a fake tree. */
struct mk_accel_probe {
    const char *kvm_dev;    /* "/dev/kvm" */
    const char *sys_module; /* "/sys/module" */
    const char *cpuinfo;    /* "/proc/cpuinfo" */
};

extern const struct mk_accel_probe mk_accel_probe_host;

enum mk_accel mk_accel_choose_at(const struct mk_accel_probe *probe, char *reason,
                                 size_t reason_size);
/* Turns the requested accelerator into the one to use: AUTO is chosen as above, KVM
 * fails with MK_EUNSUPPORTED when /dev/kvm cannot be opened, TCG is always possible. */
int mk_accel_resolve(struct mk_ctx *ctx, const struct mk_accel_probe *probe,
                     enum mk_accel want, enum mk_accel *ret, char *reason, size_t reason_size);
const char *mk_accel_name(enum mk_accel accel);

/* Finds a fixed string in a stream that arrives in pieces of any size (Knuth-Morris-Pratt,
 * so nothing is buffered but the pattern's failure table). */
struct mk_matcher {
    const char *needle;
    size_t len;
    size_t *fail;
    size_t state;
};

int mk_matcher_init(struct mk_ctx *ctx, struct mk_matcher *m, const char *needle);
/* True once the needle has been seen (it stays true). */
bool mk_matcher_feed(struct mk_matcher *m, const char *buf, size_t len);
void mk_matcher_release(struct mk_matcher *m);

enum mk_qemu_end {
    MK_QEMU_END_GUEST,  /* the guest wrote to isa-debug-exit */
    MK_QEMU_END_NORMAL, /* QEMU exited 0: power-off, or a triple fault with -no-reboot */
    MK_QEMU_END_ERROR,  /* QEMU itself failed */
};

/* Classifies QEMU's exit status. isa-debug-exit makes QEMU exit with (V << 1) | 1, so an
 * odd status is the guest's, except that 1 is also QEMU's own failure status: 1 counts as
 * the guest's only when QEMU wrote nothing on stderr. */
enum mk_qemu_end mk_qemu_classify(int status, bool qemu_stderr_empty, int *ret_guest_code);

#endif
