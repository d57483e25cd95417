/* mkimage.h: public API of libunikernel-mkimage, the rootless unikernel disk image builder.
 *
 * Conventions, for every call below:
 * - Every fallible call returns MK_OK (0) or a negative MK_E* code, and leaves a one-line
 *   message on the context (see mk_errmsg). The library never prints and never exits.
 * - Out-parameters named ret* are written only on success.
 * - Objects come from the _new and _open calls and are released with the matching _free, which
 *   accepts NULL.
 */
#ifndef MKIMAGE_H
#define MKIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MK_VERSION_STRING "0.1.0"

/* Status codes. The numbers are stable. */
enum mk_status {
    MK_OK = 0,
    MK_EINVAL = -1,          /* bad argument or bad user input */
    MK_ENOMEM = -2,          /* out of memory */
    MK_EIO = -3,             /* read or write failed */
    MK_EFS = -4,             /* filesystem error (libext2fs) */
    MK_EBOOT = -5,           /* bootloader error (GRUB tools, embedding) */
    MK_EHTTP = -6,           /* network or HTTP error */
    MK_EAUTH = -7,           /* credentials rejected or unusable */
    MK_ECONFIG = -8,         /* configuration file error */
    MK_EUNSUPPORTED = -9,    /* not supported (format, option, platform) */
    MK_ENOTFOUND = -10,      /* a named thing does not exist */
    MK_EEXIST = -11,         /* a named thing already exists */
    MK_ETIMEOUT = -12,       /* a deadline passed */
    MK_ECANCELED = -13,      /* mk_ctx_cancel() was called */
    MK_EFORMAT = -14,        /* input is not in the expected format */
    MK_ENOSPC = -15,         /* contents do not fit */
    MK_EMISSING = -16,       /* a required external tool or file is missing */
};

/* Returns a short constant description of a status code ("invalid argument"). */
const char *mk_strerror(int code);

/* ---------------------------------------------------------------------------------------
 * Context: carries the last error, log and progress callbacks, and cancellation.
 * A context is used by one thread at a time.
 */
struct mk_ctx;

enum mk_log_level { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };

typedef void (*mk_log_fn)(void *opaque, enum mk_log_level level, const char *msg);
/* (phase) names the work ("upload", "compress"); (done) and (total) are bytes, total 0 if
 * unknown. */
typedef void (*mk_progress_fn)(void *opaque, const char *phase, uint64_t done, uint64_t total);

struct mk_ctx *mk_ctx_new(void);
void mk_ctx_free(struct mk_ctx *ctx);
/* The last error's message; "" when none. Valid until the next call on (ctx). */
const char *mk_errmsg(const struct mk_ctx *ctx);
/* The last error's code, MK_OK when none. */
int mk_errcode(const struct mk_ctx *ctx);
void mk_ctx_set_log(struct mk_ctx *ctx, mk_log_fn fn, void *opaque);
void mk_ctx_set_progress(struct mk_ctx *ctx, mk_progress_fn fn, void *opaque);
/* Asks running operations to stop at the next safe point with MK_ECANCELED.
 * Async-signal-safe: may be called from a signal handler. */
void mk_ctx_cancel(struct mk_ctx *ctx);
/* Lets calls on (ctx) use the block device (path) names (a disk, a partition, an LVM volume;
 * through any of its names) as an image: read in place as an input, and written in place as
 * an output (mk_disk_write_file: raw only, never replaced or resized, refused when smaller
 * than the image or in use). Every other device, FIFO or socket stays refused, so that a
 * device is used only when the caller named it. Up to 4 devices; MK_EINVAL when (path) is
 * not a block device. */
int mk_ctx_allow_device(struct mk_ctx *ctx, const char *path);

/* ---------------------------------------------------------------------------------------
 * Sizes.
 */
/* Parses "1G", "512M", "1048576", "10GiB" (K/M/G/T are powers of 1024; a bare number is
 * bytes). Errors: MK_EINVAL with a message naming (text). */
int mk_parse_size(struct mk_ctx *ctx, const char *text, uint64_t *ret);

/* ---------------------------------------------------------------------------------------
 * Disks: a disk is a byte-addressed image of (size) bytes with known data extents.
 * It may live in memory (a freshly built image) or be read from a raw file, a qcow2
 * file or a GCE disk.tar.gz.
 */
struct mk_disk;

enum mk_format {
    MK_FORMAT_RAW = 1,
    MK_FORMAT_GCE = 2,   /* disk.tar.gz: one sparse disk.raw in a gzipped oldgnu tar */
    MK_FORMAT_QCOW2 = 3,
};

/* "raw", "gce" (also "tar.gz"), "qcow2". */
int mk_format_from_name(struct mk_ctx *ctx, const char *name, enum mk_format *ret);
/* From a file name's extension: .tar.gz/.tgz, .qcow2, anything else raw. */
enum mk_format mk_format_from_path(const char *path);
const char *mk_format_name(enum mk_format fmt);

/* Opens an existing image read-only, detecting its format from its contents. */
int mk_disk_open(struct mk_ctx *ctx, const char *path, struct mk_disk **ret);
uint64_t mk_disk_size(const struct mk_disk *disk);
/* The format the disk was read from (MK_FORMAT_RAW for a built disk). */
enum mk_format mk_disk_source_format(const struct mk_disk *disk);
/* Reads (len) bytes at (off); holes read as zeros. */
int mk_disk_read(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t off, void *buf, size_t len);
/* Bytes of data the disk holds (the sum of its data extents). */
int mk_disk_data_bytes(struct mk_ctx *ctx, struct mk_disk *disk, uint64_t *ret);
void mk_disk_free(struct mk_disk *disk);

/* ---------------------------------------------------------------------------------------
 * Writing a disk in a format.
 */
struct mk_pack_opts {
    int jobs;      /* compression threads; 0 = number of online CPUs */
    int level;     /* gzip level 1-9; 0 = 6 */
    int round_up;  /* GCE: round the disk size up to a whole GiB instead of failing */
};

/* A byte sink. (write) returns MK_OK or a negative code, and then has set the message on
 * (ctx). */
struct mk_sink {
    int (*write)(struct mk_ctx *ctx, void *opaque, const void *buf, size_t len);
    void *opaque;
};

/* Writes (disk) to (path) in (fmt): under a temporary name in the same folder, renamed
 * over (path) only when complete. On failure nothing is left and an existing (path) is
 * untouched. (opts) may be NULL. A block device that (ctx) allows (mk_ctx_allow_device)
 * cannot be renamed over: the raw disk is written onto it in place and synced, the holes
 * as zeros; a failure then leaves part of the image on it. */
int mk_disk_write_file(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                       const struct mk_pack_opts *opts, const char *path);
/* Streams (disk) in (fmt) into (sink). MK_FORMAT_RAW streams every byte, holes included. */
int mk_disk_write_stream(struct mk_ctx *ctx, struct mk_disk *disk, enum mk_format fmt,
                         const struct mk_pack_opts *opts, struct mk_sink *sink);

/* ---------------------------------------------------------------------------------------
 * Building a bootable disk.
 */
struct mk_module {
    const char *path; /* local file */
    const char *args; /* the module's command line; NULL = none */
};

struct mk_extra_file {
    const char *src;  /* local file */
    const char *dest; /* absolute path in the image's filesystem */
};

struct mk_build_opts {
    const char *kernel;                /* local multiboot or multiboot2 kernel */
    const char *const *kernel_args;    /* the kernel's command line, one word each */
    size_t n_kernel_args;
    const char *template_name;         /* "multiboot" (NULL), "solo5", "hermit", or a path */
    const struct mk_module *modules;
    size_t n_modules;
    const struct mk_extra_file *files;
    size_t n_files;
    uint64_t disk_size;                /* bytes; 0 = 1 GiB */
    const char *uuid;                  /* filesystem UUID; NULL = derived from the inputs */
    int64_t mtime;                     /* timestamps; -1 = SOURCE_DATE_EPOCH or 0 */
    const char *template_dir;          /* users' templates; NULL = $MK_TEMPLATE_DIR */
    const char *grub_dir;              /* NULL = /usr/lib/grub/i386-pc */
    const char *grub_mkimage;          /* NULL = "grub-mkimage" from PATH */
};

/* Builds a bootable disk in memory (file contents are referenced, not copied). The inputs
 * are all checked before anything is written. (*ret) is freed with mk_disk_free(). */
int mk_build(struct mk_ctx *ctx, const struct mk_build_opts *opts, struct mk_disk **ret);

/* Renders the grub.cfg that mk_build() would write, into a malloc'ed string. */
int mk_build_render_config(struct mk_ctx *ctx, const struct mk_build_opts *opts, char **ret);

/* ---------------------------------------------------------------------------------------
 * Solo5 manifests: the devices a Solo5 unikernel declares in its ELF note
 * ".note.solo5.manifest" (Solo5's mft_abi.h). Solo5 aborts at start when the machine has a
 * virtio-net or virtio-blk device it does not declare, or lacks one it declares.
 */
#define MK_SOLO5_MAX_DEVICES 63 /* Solo5's 64 entries, less the reserved first one */
#define MK_SOLO5_DEV_BLOCK 1u   /* BLOCK_BASIC */
#define MK_SOLO5_DEV_NET 2u     /* NET_BASIC */

struct mk_solo5_device {
    char name[68];  /* printable, non-empty */
    uint32_t type;  /* MK_SOLO5_DEV_*, or another value a newer Solo5 may define */
};

struct mk_solo5_manifest {
    unsigned count;  /* devices declared */
    unsigned net_count, block_count;
    struct mk_solo5_device devices[MK_SOLO5_MAX_DEVICES];
};

/* Reads the manifest of the ELF file in (data): 1 with (*ret) filled, 0 when the file has
 * none (not a 64-bit little-endian ELF file, or no Solo5 note), MK_EFORMAT when the note is
 * there but malformed. The bytes may be anything. */
int mk_solo5_manifest_parse(struct mk_ctx *ctx, const void *data, size_t len,
                            struct mk_solo5_manifest *ret);
/* As mk_solo5_manifest_parse() for the kernel file at (path), gzip-compressed or not. */
int mk_kernel_solo5_manifest(struct mk_ctx *ctx, const char *path, struct mk_solo5_manifest *ret);
/* "NET_BASIC", "BLOCK_BASIC" or "unknown". */
const char *mk_solo5_device_type_name(uint32_t type);
/* Says in one line, in (out), why Solo5 will abort on a machine with (virtio_net) virtio-net
 * NICs and (virtio_blk) virtio-blk disks (the boot disk counted when boot_disk_virtio_blk),
 * or what it will do with a virtio-blk boot disk; clauses are joined with "; ". Returns how
 * many clauses there are, 0 (and "") when the machine suits the manifest. */
int mk_solo5_check_machine(const struct mk_solo5_manifest *m, unsigned virtio_net,
                           unsigned virtio_blk, bool boot_disk_virtio_blk, char *out,
                           size_t size);

/* ---------------------------------------------------------------------------------------
 * Inspecting a disk.
 */
enum mk_inspect_flags {
    MK_INSPECT_FILES = 1 << 0,  /* list every file */
    MK_INSPECT_DEEP = 1 << 1,   /* second opinion through libguestfs */
    MK_INSPECT_IGNORE_CHECKSUMS = 1 << 2, /* read a filesystem whose checksums are wrong */
};

/* Inspects (disk) and returns a JSON document (malloc'ed, NUL-terminated) describing the
 * partition table, filesystem, files, grub.cfg, boot code and kernel, with a "problems"
 * array of one-line strings. A damaged image is not an error: its problems are listed.
 * (*ret_problems) counts them. It reads (disk) in this process: for an image someone else
 * made, use mk_inspect_path(). */
int mk_inspect(struct mk_ctx *ctx, struct mk_disk *disk, unsigned flags, char **ret_json,
               int *ret_problems);
/* As mk_inspect(), for the image file at (path) in any format, read in an isolated child
 * process: memory, CPU and time limits (MK_INSPECT_LIMITS), no privileges (as root it
 * becomes "nobody", and fails rather than read as root), no descriptor but the image's; a
 * child that crashes or runs out of its limits is one problem in the report. For a gzip
 * file (a GCE disk.tar.gz) it also checks GCE's rules without unpacking to disk, and the
 * JSON has "gce_ok": true when GCE would accept the archive. A file that exists but cannot
 * be read as a disk is reported with problems, not as an error; errors are for a missing or
 * unreadable file, a reader that cannot drop root, MK_EUNSUPPORTED for MK_INSPECT_DEEP
 * without libguestfs, MK_ENOMEM and MK_ECANCELED. */
int mk_inspect_path(struct mk_ctx *ctx, const char *path, unsigned flags, char **ret_json,
                    int *ret_problems);

/* ---------------------------------------------------------------------------------------
 * Booting a disk in QEMU.
 */
enum mk_accel { MK_ACCEL_AUTO = 0, MK_ACCEL_KVM = 1, MK_ACCEL_TCG = 2 };
enum mk_disk_bus { MK_BUS_IDE = 0, MK_BUS_VIRTIO_BLK = 1, MK_BUS_VIRTIO_SCSI = 2 };
/* QEMU's machine types: "pc" (i440FX, PIIX IDE) and "q35" (ICH9, AHCI, PCIe), GCE's. */
enum mk_machine { MK_MACHINE_PC = 0, MK_MACHINE_Q35 = 1 };

/* A data disk, after the boot disk; its writes are kept (the boot disk is a snapshot). */
struct mk_boot_disk {
    const char *path;     /* raw or qcow2, told by its contents */
    enum mk_disk_bus bus;
};

/* A NIC: QEMU's -netdev options without the id ("user,hostfwd=tcp::8080-:80",
 * "tap,ifname=tap0,script=no,downscript=no", "socket,udp=..."), and its device model. */
struct mk_boot_net {
    const char *backend;
    const char *model;    /* QEMU's device name; NULL = "virtio-net-pci" */
};

struct mk_boot_opts {
    const char *image;         /* raw, qcow2 or disk.tar.gz */
    const char *expect;        /* stop with success when this text appears; NULL = none */
    double timeout;            /* seconds; 0 = 60 */
    enum mk_accel accel;
    enum mk_disk_bus bus;      /* the boot disk's */
    unsigned mem_mib;          /* 0 = 128 */
    const char *qemu;          /* NULL = "qemu-system-x86_64" */
    /* Called with the guest's serial output as it arrives. */
    void (*serial)(void *opaque, const char *buf, size_t len);
    void *opaque;
    enum mk_machine machine;
    const struct mk_boot_disk *disks;
    size_t n_disks;
    const struct mk_boot_net *nets;
    size_t n_nets;
    unsigned nic_mtu;          /* host_mtu of every virtio-net NIC; 0 = QEMU's default */
    const char *cpu;           /* -cpu; NULL = QEMU's default */
    unsigned smp;              /* 0 = QEMU's default (1) */
    const char *const *qemu_args; /* appended to QEMU's command line as they are */
    size_t n_qemu_args;
    const char *const *expects;   /* more texts that must all appear, with (expect) */
    size_t n_expects;
    const char *const *fails;     /* stop with failure as soon as one of these appears */
    size_t n_fails;
    int solo5;                 /* a Solo5 unikernel: judged by Solo5's last lines */
    /* Its manifest, when known: the machine is checked against it before QEMU starts. */
    const struct mk_solo5_manifest *manifest;
    /* Called once QEMU's command line is known, before it starts, with the one-line reason
     * the unikernel will refuse the machine ("" when none). */
    void (*started)(void *opaque, const char *const *argv, const char *warning);
};

/* How a boot ended, first event first. */
enum mk_boot_end {
    MK_BOOT_ENDED = 0,       /* QEMU ended (guest_exited, powered_off tell how) */
    MK_BOOT_TIMED_OUT,
    MK_BOOT_EXPECTED,        /* every expected text appeared */
    MK_BOOT_FAIL_TEXT,       /* fails[fail_index] appeared */
    MK_BOOT_GRUB_ERROR,      /* GRUB could not boot the entry; reason is its message */
    MK_BOOT_SOLO5_END,       /* Solo5 said how it ends: solo5_code, solo5_aborted, reason */
};

struct mk_boot_result {
    int matched;          /* (expect) was seen */
    int guest_exited;     /* the guest wrote to isa-debug-exit */
    int guest_code;       /* the value it wrote */
    int qemu_status;      /* QEMU's exit status, -1 if it was killed */
    int timed_out;
    enum mk_accel accel;  /* what was used */
    char accel_reason[128];
    double seconds;       /* from QEMU's start to the match or the end */
    enum mk_boot_end end;
    int powered_off;      /* QEMU exited 0 by itself: an ACPI power-off or a triple fault */
    size_t fail_index;
    int solo5_code;       /* from "solo5_exit(N) called"; 255 for an abort */
    int solo5_aborted;
    char reason[256];     /* GRUB's error line, or Solo5's last line or abort reason */
};

/* Chooses the accelerator MK_ACCEL_AUTO stands for here, and why (into reason). */
enum mk_accel mk_accel_choose(char *reason, size_t reason_size);
int mk_boot(struct mk_ctx *ctx, const struct mk_boot_opts *opts, struct mk_boot_result *ret);

/* ---------------------------------------------------------------------------------------
 * Uploading to a cloud ("gce", "openstack"): new -> set_option* -> one of upload_file /
 * upload_disk -> result -> free. Progress is reported with phase "upload".
 */
struct mk_upload;

/* The uploaders built in, NULL-terminated. */
const char *const *mk_uploader_names(void);
/* One line describing (name), and the options it takes; NULL when unknown. */
const char *mk_uploader_description(const char *name);
const char *mk_uploader_usage(const char *name);
/* Whether option (key) (leading dashes ignored) of (uploader) takes a value: 1 yes, 0 a flag,
 * -1 unknown key or uploader. An external uploader's undeclared keys take a value. */
int mk_uploader_option_arity(const char *uploader, const char *key);
/* The value of image property (key) ("hw_disk_bus", "hw_vif_model"...) in the OpenStack
 * uploader's preset (preset) ("solo5", "hermit"); NULL when the preset or the key is unknown. */
const char *mk_openstack_preset_property(const char *preset, const char *key);
/* External uploaders: executables unikernel-mkimage-uploader-NAME on PATH serve every NAME
 * not built in (protocol in uploaders/PLUGINS.md); the calls above and mk_upload_new()
 * accept their names. mk_uploader_plugins() lists those found, sorted, the first on PATH
 * winning, into a NULL-terminated array freed with mk_uploader_plugins_free(). */
int mk_uploader_plugins(struct mk_ctx *ctx, char ***ret_names);
void mk_uploader_plugins_free(char **names);
/* The executable serving (name); NULL for a built-in or unknown name. */
const char *mk_uploader_plugin_path(const char *name);
/* The formats (name) accepts, best first, up to (max) of them; returns how many (0 when
 * unknown). */
size_t mk_uploader_formats(const char *name, enum mk_format *ret, size_t max);
/* MK_ENOTFOUND listing the known names when (uploader) is unknown. */
int mk_upload_new(struct mk_ctx *ctx, const char *uploader, struct mk_upload **ret);
/* (key) without leading dashes ("project", "label"); repeatable keys accumulate.
 * MK_EUNSUPPORTED for an unknown key, MK_EINVAL for a bad value. */
int mk_upload_set_option(struct mk_ctx *ctx, struct mk_upload *up, const char *key,
                         const char *value);
/* Uploads an existing artefact (its format detected from its contents). */
int mk_upload_file(struct mk_ctx *ctx, struct mk_upload *up, const char *path);
/* Packs (disk) in the uploader's preferred format and streams it up, with no temporary
 * file. (source_name) names the artefact (e.g. the kernel's file name); (source_id)
 * identifies its bytes (same bytes, same id) so an interrupted upload can resume; both
 * may be NULL. (opts) may be NULL. */
int mk_upload_disk(struct mk_ctx *ctx, struct mk_upload *up, struct mk_disk *disk,
                   const struct mk_pack_opts *opts, const char *source_name,
                   const char *source_id);
/* Makes the image from data already on the cloud, named by the uploader's options (gce
 * --source-uri gs://B/O): nothing is uploaded, and that data is left as it was.
 * MK_EUNSUPPORTED for an uploader that cannot. */
int mk_upload_remote(struct mk_ctx *ctx, struct mk_upload *up);
/* The result of a successful upload as a JSON object ("" before); valid until free. */
const char *mk_upload_result(const struct mk_upload *up);
void mk_upload_free(struct mk_upload *up);

/* ---------------------------------------------------------------------------------------
 * Running an image on a cloud ("gce"): one instance, its serial console streamed, judged by
 * a text, deleted at the end. new -> set_option* -> run -> result -> free.
 * Options: zone, machine-type, name, expect, timeout, keep, and the connection options of
 * the uploader (project, credentials, compute-endpoint, backoff, retries, cacert...).
 */
struct mk_run;
/* Receives the serial console as it arrives (not NUL-terminated). */
typedef void (*mk_console_fn)(void *opaque, const char *text, size_t len);

int mk_run_new(struct mk_ctx *ctx, const char *cloud, struct mk_run **ret);
/* MK_EUNSUPPORTED for an unknown key, MK_EINVAL for a bad value. */
int mk_run_set_option(struct mk_ctx *ctx, struct mk_run *run, const char *key,
                      const char *value);
/* Whether option (key) takes a value: 1 yes, 0 a flag, -1 unknown. */
int mk_run_option_arity(const char *key);
/* Boots (image) (a name in the project or a projects/... path). MK_OK when the expected
 * text appeared (or, without one, when the instance ran until it stopped or the timeout);
 * MK_ETIMEOUT / MK_EBOOT otherwise, with the console's last lines in the message. The
 * instance is deleted unless "keep", and always on failure, timeout and cancellation. */
int mk_run_image(struct mk_ctx *ctx, struct mk_run *run, const char *image,
                 mk_console_fn on_console, void *opaque);
/* The result as a JSON object (instance, zone, status, matched, seconds, deleted), also
 * after a failure once the instance was asked for; "" before. */
const char *mk_run_result(const struct mk_run *run);
void mk_run_free(struct mk_run *run);

/* ---------------------------------------------------------------------------------------
 * Deploying an image to a managed instance group ("gce"): instance template, health check
 * and its firewall rule, the group (created, or rolled to the new template within
 * maxSurge/maxUnavailable), autoscaler; waits until the group is stable; rolls a bad
 * release back. new -> set_option* -> deploy or status -> result -> free.
 * Progress is reported with phase "deploy" (instances ready on the new template / target).
 */
struct mk_deploy;

int mk_deploy_new(struct mk_ctx *ctx, const char *cloud, struct mk_deploy **ret);
/* Options as on the command line, without dashes ("group", "zone", "max-surge"...).
 * MK_EUNSUPPORTED for an unknown key, MK_EINVAL for a bad value. */
int mk_deploy_set_option(struct mk_ctx *ctx, struct mk_deploy *d, const char *key,
                         const char *value);
/* Whether option (key) takes a value: 1 yes, 0 a flag, -1 unknown. */
int mk_deploy_option_arity(const char *key);
/* Rolls the group out to the image. MK_OK when every instance runs it and the group is
 * stable; otherwise an error naming the cause, after rolling back unless "no-rollback". */
int mk_deploy_run(struct mk_ctx *ctx, struct mk_deploy *d);
/* Reads the group and its instances into the result. */
int mk_deploy_status(struct mk_ctx *ctx, struct mk_deploy *d);
/* The result as a JSON object (group, template, image, status, instances), also after a
 * failure; "" before. */
const char *mk_deploy_result(const struct mk_deploy *d);
void mk_deploy_free(struct mk_deploy *d);

/* ---------------------------------------------------------------------------------------
 * Image specs: a YAML file describing an image, the files to write it to and named upload
 * targets (the keys are documented in templates/SPEC.md).
 */
#define MK_SPEC_DEFAULT_NAME "unikernel-mkimage.yaml"

struct mk_spec;

/* Reads the spec at (path) and checks its structure: known keys, types, ${VAR} expansion.
 * Relative paths in it are resolved against its folder. Errors: MK_ECONFIG with
 * "PATH:LINE:COLUMN: message"; MK_ENOTFOUND/MK_EIO for an unreadable file; MK_EUNSUPPORTED
 * when built without libyaml. */
int mk_spec_load(struct mk_ctx *ctx, const char *path, struct mk_spec **ret);
/* Wipes the values (they may hold secrets from the environment) and frees. */
void mk_spec_free(struct mk_spec *spec);
const char *mk_spec_path(const struct mk_spec *spec);
/* Checks what loading does not, without building: input files exist, the kernel is
 * multiboot, the template renders, output folders exist, and each target's type is built in
 * (its options are then accepted by the uploader) or an executable
 * unikernel-mkimage-uploader-TYPE on PATH. Errors name the spec's line and column. */
int mk_spec_validate(struct mk_ctx *ctx, const struct mk_spec *spec);

/* The image and packing options. The pointers stay valid until mk_spec_free(); to override
 * fields, copy the struct. */
const struct mk_build_opts *mk_spec_build_opts(const struct mk_spec *spec);
const struct mk_pack_opts *mk_spec_pack_opts(const struct mk_spec *spec);

/* The outputs, in file order: a path (resolved) and its format. */
/* The paths in the spec that leave its folder (absolute, or climbing out with ".."): files
 * read into the image and outputs written, each described as "WHAT at line N: PATH". A spec
 * may come from someone else (one found in the current folder): callers show these and
 * use them only when the user allows it (the command line's --allow-outside-spec). */
size_t mk_spec_n_outside(const struct mk_spec *spec);
const char *mk_spec_outside(const struct mk_spec *spec, size_t i);
size_t mk_spec_n_outputs(const struct mk_spec *spec);
const char *mk_spec_output(const struct mk_spec *spec, size_t i, enum mk_format *ret_fmt);

/* The targets, in file order. Their options are (key, value) strings for
 * mk_upload_set_option() or an external uploader: a list under KEYS gives one KEY per item,
 * a map gives one "K=V" per entry (labels: {a: b} -> label=a=b). */
size_t mk_spec_n_targets(const struct mk_spec *spec);
const char *mk_spec_target_name(const struct mk_spec *spec, size_t i);
const char *mk_spec_target_type(const struct mk_spec *spec, size_t i);
size_t mk_spec_target_n_options(const struct mk_spec *spec, size_t i);
void mk_spec_target_option(const struct mk_spec *spec, size_t i, size_t j, const char **ret_key,
                           const char **ret_value);
/* The index of the target called (name); MK_ENOTFOUND listing the targets otherwise. */
int mk_spec_find_target(struct mk_ctx *ctx, const struct mk_spec *spec, const char *name,
                        size_t *ret);
/* A target's deploy: section (gce targets): (*ret) is a deploy of (image) set up from it and
 * from the target's connection options (project, credentials, endpoint...), or NULL when the
 * target has none. With (image) NULL the settings are only checked. Errors name the spec's
 * line and column. */
int mk_spec_target_deploy(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i,
                          const char *image, struct mk_deploy **ret);
/* Passes target (i)'s options to (up), except its deploy: section; an error is prefixed
 * with the option's location. */
int mk_spec_target_apply(struct mk_ctx *ctx, const struct mk_spec *spec, size_t i,
                         struct mk_upload *up);

#ifdef __cplusplus
}
#endif
#endif
