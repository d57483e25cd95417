/* mk_private.h: internals shared by every part of the library (context, errors, buffers). */
#ifndef MK_PRIVATE_H
#define MK_PRIVATE_H

#ifndef MK_BUILDING_LIBRARY
#error "mk_private.h is internal to libunikernel-mkimage"
#endif

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <unikernel-mkimage/mkimage.h>

#define MK_ERRMSG_MAX 1024

struct mk_ctx {
    int code;
    char msg[MK_ERRMSG_MAX];
    mk_log_fn log_fn;
    void *log_opaque;
    mk_progress_fn progress_fn;
    void *progress_opaque;
    volatile sig_atomic_t cancelled;
    dev_t devices[4]; /* the block devices mk_ctx_allow_device() allowed */
    size_t n_devices;
};

#define MK_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the context's error and returns (code), so callers can write
 * `return mk_set_error(ctx, MK_EINVAL, "...")`. The message is one line: CR and LF are
 * replaced. A NULL (ctx) is allowed and does nothing. */
int mk_set_error(struct mk_ctx *ctx, int code, const char *fmt, ...) MK_PRINTF(3, 4);
/* As mk_set_error(), appending ": strerror(errnum)". */
int mk_set_errno(struct mk_ctx *ctx, int code, int errnum, const char *fmt, ...)
    MK_PRINTF(4, 5);
/* Prepends "prefix: " to the current message, keeping the code; returns the code. */
int mk_error_prefix(struct mk_ctx *ctx, const char *fmt, ...) MK_PRINTF(2, 3);
void mk_clear_error(struct mk_ctx *ctx);

void mk_log(struct mk_ctx *ctx, enum mk_log_level level, const char *fmt, ...) MK_PRINTF(3, 4);
void mk_progress(struct mk_ctx *ctx, const char *phase, uint64_t done, uint64_t total);
/* MK_ECANCELED with a message when the context was cancelled, else MK_OK. */
int mk_check_cancel(struct mk_ctx *ctx);

/* Growable byte buffer, always NUL-terminated; (buf) is never NULL after mk_buf_init().
 * (max) caps the length (0 = no cap); growing past it fails with MK_ENOMEM. */
struct mk_buf {
    char *buf;
    size_t len;
    size_t alloc;
    size_t max;
};

extern char mk_buf_empty[];
#define MK_BUF_INIT {mk_buf_empty, 0, 0, 0}

void mk_buf_init(struct mk_buf *b);
void mk_buf_release(struct mk_buf *b);
int mk_buf_grow(struct mk_buf *b, size_t extra);
int mk_buf_add(struct mk_buf *b, const void *data, size_t len);
int mk_buf_adds(struct mk_buf *b, const char *s);
int mk_buf_addf(struct mk_buf *b, const char *fmt, ...) MK_PRINTF(2, 3);
int mk_buf_vaddf(struct mk_buf *b, const char *fmt, va_list ap) MK_PRINTF(2, 0);
void mk_buf_reset(struct mk_buf *b);
/* Hands the malloc'ed string to the caller (never NULL) and re-initialises (b). */
char *mk_buf_detach(struct mk_buf *b, size_t *ret_len);
/* Creates a scratch file (folder false) or folder under $TMPDIR (else /tmp), named
 * PREFIX.XXXXXX, and puts its path in (path), after removing the PREFIX.* a killed run left.
 * (*ret_lock) is a descriptor of it (the file's, read-write) holding the lock that marks it
 * as in use: keep it open while it is used. The caller removes it, then closes the lock. */
int mk_make_temp(struct mk_ctx *ctx, const char *prefix, bool folder, struct mk_buf *path,
                 int *ret_lock);
/* Removes the files (and, when (folders), folders) in (dir) whose names start with
 * (prefix) and that nobody holds locked (flock): scratch files of a run that died. */
void mk_remove_stale_temps(const char *dir, const char *prefix, bool folders);

/* Grows the array (*items), now (*alloc) elements of (size) bytes, so that it holds at least
 * (need), doubling the allocation. MK_ENOMEM, with the array untouched, on failure. Use it as
 * MK_GROW(array, count + 1, alloc). */
int mk_grow(void **items, size_t need, size_t *alloc, size_t size);
#define MK_GROW(x, need, alloc) mk_grow((void **)&(x), (need), &(alloc), sizeof(*(x)))

/* Opens a file we read, refusing without blocking anything but a regular file (a FIFO would
 * hang the open or the first read). mk_open_regular() returns -1 with errno (EINVAL when the
 * file is not a regular one); mk_open_input() sets "cannot open WHAT 'PATH': ..." or "WHAT
 * 'PATH' is a FIFO, not a regular file" on (ctx) and returns a negative MK_E* code. */
int mk_open_regular(const char *path);
int mk_open_input(struct mk_ctx *ctx, const char *path, const char *what);
/* Whether (st) is a block device that (ctx) allows (mk_ctx_allow_device); mk_open_input()
 * opens those too, read-only and in place. */
bool mk_device_allowed(const struct mk_ctx *ctx, const struct stat *st);
/* The size of what (fd), opened from (path), holds: a regular file's length or a block
 * device's capacity. */
int mk_input_size(struct mk_ctx *ctx, int fd, const char *path, uint64_t *ret);
/* Reads some of (len) bytes of (fd) at (off), at least one when (len) is not 0: for a file
 * whose size the caller took before, its end is an error ("WHAT shrank while it was read"),
 * as is a failed read ("cannot read WHAT: ..."); EINTR is retried. */
int mk_pread_some(struct mk_ctx *ctx, int fd, void *buf, size_t len, uint64_t off,
                  const char *what, size_t *ret_n);
/* Reads a whole regular file, up to (max) bytes (0 = no cap). */
int mk_buf_read_file(struct mk_ctx *ctx, struct mk_buf *b, const char *path, size_t max);

/* Initialises libgcrypt once per process (thread-safe); call before any gcry_* use. */
void mk_crypto_init(void);

/* Overwrites memory that held a secret, in a way the compiler keeps. */
void mk_wipe(void *p, size_t len);

/* Little-endian helpers for on-disk formats. */
static inline void mk_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void mk_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void mk_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t mk_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t mk_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t mk_get_le64(const uint8_t *p)
{
    return (uint64_t)mk_get_le32(p) | ((uint64_t)mk_get_le32(p + 4) << 32);
}
static inline void mk_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void mk_put_be64(uint8_t *p, uint64_t v)
{
    mk_put_be32(p, (uint32_t)(v >> 32));
    mk_put_be32(p + 4, (uint32_t)v);
}
static inline uint32_t mk_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t mk_get_be64(const uint8_t *p)
{
    return ((uint64_t)mk_get_be32(p) << 32) | mk_get_be32(p + 4);
}

#define MK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Runs (argv) with stdin from /dev/null, capturing stdout and stderr (each capped at
 * 1 MiB) into the buffers when they are non-NULL. (*ret_status) is the exit status, or
 * 128+signal. MK_EMISSING when argv[0] cannot be run. */
int mk_run(struct mk_ctx *ctx, const char *const *argv, struct mk_buf *out, struct mk_buf *err,
           int *ret_status);

/* Starts (argv) as a child that dies with this process (PR_SET_PDEATHSIG), so that a
 * killed run leaves none of the tools or uploaders it started behind. Descriptor i of the
 * child is (child_fds)[i] for i < (n_fds), /dev/null where that is -1; every other
 * descriptor the caller opened must be close-on-exec. (envp) NULL: this environment and a
 * PATH search; else argv[0] is run as given. (own_group) gives it a process group of its
 * own; its signal mask is empty and SIGPIPE default. Returns 0 with (*ret_pid) set, or the
 * errno of what failed (exec's included: the child is then reaped), as posix_spawn does. */
int mk_spawn(const char *const *argv, char *const *envp, const int *child_fds, int n_fds,
             bool own_group, pid_t *ret_pid);

/* Parsing what we did not make (isolate.c). mk_run_isolated() runs (work) in a child process
 * that, before it runs, has closed every descriptor above 2 but (keep_fds), has dropped
 * root for "nobody" when we are root (an error if that fails: it never reads as root) and
 * every capability, cannot gain privileges, dump core or be traced, dies with us, and is
 * limited to mk_isolation_limits()'s memory and CPU; we wait for it at most its wall-clock
 * limit. (work) must read only through the descriptors it keeps, never reopen a path.
 * What (work) appends to its (answer) reaches the caller's (answer) on MK_OK; its error,
 * code and message, is the call's. When the child crashes, runs out of its limits or stops
 * without a word, the call returns MK_OK with one line in (why), "WHAT crashed the reader
 * (Segmentation fault)", a finding about the input rather than an error. */
struct mk_isolation_limits {
    unsigned long mib, cpu, wall;  /* memory (MiB), CPU and wall-clock seconds */
    /* (mib) bounds the address space (RLIMIT_AS); if false (under ASan, whose shadow is
     * terabytes of it), the private writable memory mapped after the child starts
     * (RLIMIT_DATA counted from what is mapped then). */
    bool memory;
};
/* The limits: 4 GiB, 300 s of CPU, 900 s, or MK_INSPECT_LIMITS="MIB:CPU:WALL". The one place
 * they are chosen. */
struct mk_isolation_limits mk_isolation_limits(void);
struct mk_isolated {
    const char *what;              /* "reading the image": starts each line in (why) */
    const int *keep_fds;           /* at most 16 */
    size_t n_keep_fds;
    int (*work)(struct mk_ctx *ctx, void *opaque, struct mk_buf *answer);
    void *opaque;
};
int mk_run_isolated(struct mk_ctx *ctx, const struct mk_isolated *job, struct mk_buf *answer,
                    struct mk_buf *why);

#endif
