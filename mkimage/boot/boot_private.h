/* boot_private.h: the pieces of mk_boot() that tests reach directly (accel choice, the
 * streaming matcher, QEMU's exit status). */
#ifndef MK_BOOT_PRIVATE_H
#define MK_BOOT_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

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

#define BOOT_DEFAULT_QEMU "qemu-system-x86_64"

/* Watching the serial console (boot_watch.c): the texts expected (all must appear) and
 * feared (any ends the boot), GRUB's error screens, and, for a Solo5 unikernel, Solo5's
 * last lines. The first of these to happen decides. */
enum mk_watch_end {
    MK_WATCH_GOING = 0,
    MK_WATCH_EXPECTED,
    MK_WATCH_FAILED_TEXT,
    MK_WATCH_GRUB_ERROR,
    MK_WATCH_SOLO5_END,
};

struct mk_watch {
    struct mk_matcher *expects, *fails;
    size_t n_expects, n_fails;
    bool solo5;
    enum mk_watch_end end;
    size_t fail_index;
    int solo5_code; /* -1 until Solo5 says */
    bool solo5_aborted;
    bool kernel_started;     /* our grub.cfg's handover line seen: GRUB's screens are over */
    char detail[256];        /* GRUB's error or Solo5's line, cleaned to one line */
    char grub_error[256];    /* the last "error: ..." line GRUB printed */
    char solo5_warning[256]; /* Solo5's last "not in manifest" / "not attached" line */
    char line[512];          /* the line being received */
    size_t line_len;
};

int mk_watch_init(struct mk_ctx *ctx, struct mk_watch *w, const char *const *expects,
                  size_t n_expects, const char *const *fails, size_t n_fails, bool solo5);
/* Feeds serial output; returns how the boot ended so far (sticky once not GOING). */
enum mk_watch_end mk_watch_feed(struct mk_watch *w, const char *buf, size_t len);
void mk_watch_release(struct mk_watch *w);

/* The disk QEMU boots (boot_image.c). */
struct mk_boot_image {
    char *drive_path;  /* what QEMU opens */
    const char *format;
    char *tmp_dir;     /* holds an unpacked disk.tar.gz, removed afterwards */
    int tmp_lock;      /* marks tmp_dir as in use while it is set (mk_make_temp) */
};

int mk_boot_image_prepare(struct mk_ctx *ctx, const char *path, struct mk_boot_image *img);
void mk_boot_image_release(struct mk_boot_image *img);
/* "qcow2" or "raw" for the data disk at (path), by its first bytes. */
int mk_boot_disk_format(struct mk_ctx *ctx, const char *path, const char **ret);

/* QEMU's command line (boot_qemu.c), and what it gives the guest that a Solo5 manifest
 * must agree with. */
struct mk_qemu_cmd {
    char **argv; /* NULL-terminated */
    size_t argc, cap;
    unsigned virtio_net, virtio_blk; /* the boot disk counted */
    bool boot_virtio_blk, has_scsi;
};

int mk_qemu_cmd_build(struct mk_ctx *ctx, struct mk_qemu_cmd *c, const char *qemu,
                      const struct mk_boot_image *img, enum mk_accel accel,
                      const struct mk_boot_opts *opts);
void mk_qemu_cmd_release(struct mk_qemu_cmd *c);

/* Running QEMU (boot_proc.c). */
struct mk_qemu_proc {
    pid_t pid;
    int out_fd; /* the serial console */
    int err_fd; /* QEMU's own messages */
};

/* The full path of program (name), searched in PATH unless it has a slash. */
int mk_boot_find_program(struct mk_ctx *ctx, const char *name, char **ret);
/* Starts QEMU in its own process group, stdin /dev/null, stdout and stderr on pipes. */
int mk_qemu_spawn(struct mk_ctx *ctx, const char *path, const char *const *argv,
                  struct mk_qemu_proc *q);
double mk_boot_now(void);
/* True once (pid) has ended; it stays a zombie until reaped. */
bool mk_qemu_has_ended(pid_t pid);
/* Kills QEMU's process group and reaps QEMU. */
void mk_qemu_reap(pid_t pid, int *ret_wstatus);
/* SIGTERM, a second's grace, then as mk_qemu_reap(). */
void mk_qemu_stop(pid_t pid, int *ret_wstatus);

#endif
