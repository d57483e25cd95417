/* inspect_deep.c: `inspect --deep`, a second opinion on the disk through libguestfs, whose
 * appliance reads it with a real Linux kernel: partitions, filesystem, and the boot files
 * compared with what our ext2 reading gave (same size, same SHA-256).
 *
 * It comes in two halves. The first reads the image: it copies the disk, raw, for the
 * appliance, and runs where the rest of the reading runs, in the isolated reader for an
 * image given by path (inspect_isolated.c). The second runs libguestfs on that copy in our
 * process, and that needs no isolation: the untrusted bytes are parsed by the appliance's
 * Linux kernel inside its own VM (QEMU is told the copy is raw, so it parses none of it), and
 * all our process reads is libguestfs's answers over its protocol, whose messages have a
 * fixed maximum size; a file's contents are asked for only when their size is the one our
 * reading found, so nothing larger than what we already accepted is ever read. */
#include <unistd.h>

#include "inspect_private.h"
#include "pack.h"

int mk_inspect_deep_export(struct mk_inspect *in, int fd)
{
    int r = mk_write_raw_fd(in->ctx, in->disk, fd);

    if (r < 0)
        return mk_error_prefix(in->ctx, "--deep: cannot copy the disk");
    in->deep.exported = true;
    in->deep.fs_part = in->fs_part;
    return MK_OK;
}

int mk_inspect_deep_here(struct mk_inspect *in)
{
    struct mk_buf path = MK_BUF_INIT;
    int fd, r = mk_inspect_deep_check(in->ctx);

    if (r < 0)
        return r;
    /* libguestfs needs a file; a disk read from a tar.gz or built in memory has none, so
     * every disk goes through a sparse temporary copy. */
    if ((r = mk_make_temp(in->ctx, "mkimage-deep", false, &path, &fd)) < 0) {
        mk_buf_release(&path);
        return mk_error_prefix(in->ctx, "--deep");
    }
    r = mk_inspect_deep_export(in, fd);
    if (r == MK_OK)
        r = mk_inspect_deep(in, path.buf);
    unlink(path.buf);
    close(fd); /* the lock that marked the copy as in use */
    mk_buf_release(&path);
    return r;
}

#ifndef MK_HAVE_GUESTFS
int mk_inspect_deep_check(struct mk_ctx *ctx)
{
    return mk_set_error(ctx, MK_EUNSUPPORTED, "--deep needs libguestfs, and this build has "
                        "none (install libguestfs-dev and rebuild)");
}

int mk_inspect_deep(struct mk_inspect *in, const char *raw_path)
{
    (void)raw_path;
    return mk_inspect_deep_check(in->ctx);
}
#else

#include <dlfcn.h>
#include <errno.h>
#include <gcrypt.h>
#include <guestfs.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libguestfs pulls ~50 shared libraries (libvirt, glib, ICU, gnutls...) for a feature only
 * --deep uses, so it is opened on demand rather than linked. The header still declares
 * every entry point, and __typeof__ makes the compiler check each call against it. */
struct guestfs_api {
    __typeof__(guestfs_create_flags) *create_flags;
    __typeof__(guestfs_close) *close;
    __typeof__(guestfs_last_error) *last_error;
    __typeof__(guestfs_set_error_handler) *set_error_handler;
    __typeof__(guestfs_set_backend_setting) *set_backend_setting;
    __typeof__(guestfs_add_drive_opts) *add_drive_opts;
    __typeof__(guestfs_launch) *launch;
    __typeof__(guestfs_shutdown) *shutdown;
    __typeof__(guestfs_mount_ro) *mount_ro;
    __typeof__(guestfs_part_get_parttype) *part_get_parttype;
    __typeof__(guestfs_part_list) *part_list;
    __typeof__(guestfs_part_get_bootable) *part_get_bootable;
    __typeof__(guestfs_free_partition_list) *free_partition_list;
    __typeof__(guestfs_vfs_type) *vfs_type;
    __typeof__(guestfs_vfs_uuid) *vfs_uuid;
    __typeof__(guestfs_vfs_label) *vfs_label;
    __typeof__(guestfs_filesize) *filesize;
    __typeof__(guestfs_read_file) *read_file;
};

#define GF_SYM(name) {"guestfs_" #name, offsetof(struct guestfs_api, name)}
static const struct {
    const char *name;
    size_t off;
} gf_syms[] = {
    GF_SYM(create_flags), GF_SYM(close), GF_SYM(last_error), GF_SYM(set_error_handler),
    GF_SYM(set_backend_setting), GF_SYM(add_drive_opts), GF_SYM(launch), GF_SYM(shutdown),
    GF_SYM(mount_ro), GF_SYM(part_get_parttype), GF_SYM(part_list),
    GF_SYM(part_get_bootable), GF_SYM(free_partition_list), GF_SYM(vfs_type),
    GF_SYM(vfs_uuid), GF_SYM(vfs_label), GF_SYM(filesize), GF_SYM(read_file),
};

static struct guestfs_api gf;
static pthread_once_t gf_once = PTHREAD_ONCE_INIT;
static char gf_why[256]; /* empty once every symbol resolved */

/* Loaded once per process and never closed: libguestfs keeps threads and atexit handlers
 * that must outlive any handle. */
static void gf_load(void)
{
    const char *lib = getenv("MK_GUESTFS_LIBRARY");
    void *h;

    if (!lib || !*lib)
        lib = "libguestfs.so.0";
    h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(gf_why, sizeof(gf_why), "%s", dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof(gf_syms) / sizeof(gf_syms[0]); i++) {
        void *sym = dlsym(h, gf_syms[i].name);

        if (!sym) {
            snprintf(gf_why, sizeof(gf_why), "%s has no %s", lib, gf_syms[i].name);
            dlclose(h);
            memset(&gf, 0, sizeof(gf));
            return;
        }
        /* POSIX guarantees data and function pointers share a representation; copying
         * the bytes avoids ISO C's object-to-function pointer conversion. */
        memcpy((char *)&gf + gf_syms[i].off, &sym, sizeof(sym));
    }
}

int mk_inspect_deep_check(struct mk_ctx *ctx)
{
    pthread_once(&gf_once, gf_load);
    if (gf_why[0])
        return mk_set_error(ctx, MK_EUNSUPPORTED, "inspect --deep needs libguestfs: install "
                            "the Debian package libguestfs0 (and libguestfs-tools for its "
                            "appliance); %s", gf_why);
    return MK_OK;
}

struct deep {
    struct mk_inspect *in;
    guestfs_h *g;
    json_t *out;
};

static int gerr(struct deep *d, const char *what)
{
    const char *msg = gf.last_error(d->g);
    return mk_set_error(d->in->ctx, MK_EIO, "--deep: libguestfs: %s: %s", what,
                        msg ? msg : "failed");
}

static void deep_partitions(struct deep *d, json_t *ours)
{
    struct guestfs_partition_list *pl;
    char *ptype;
    json_t *arr = json_array();

    ptype = gf.part_get_parttype(d->g, "/dev/sda");
    mk_inspect_set(d->in, d->out, "partition_table", json_string(ptype ? ptype : "none"));
    mk_inspect_set(d->in, d->out, "partitions", arr);
    if (!ptype) {
        if (json_array_size(ours))
            mk_inspect_problem(d->in, "deep: Linux sees no partition table");
        return;
    }
    if (strcmp(ptype, "msdos"))
        mk_inspect_problem(d->in, "deep: Linux sees a '%s' partition table, not msdos", ptype);
    free(ptype);
    pl = gf.part_list(d->g, "/dev/sda");
    if (!pl) {
        mk_inspect_problem(d->in, "deep: Linux cannot list the partitions: %s",
                           gf.last_error(d->g));
        return;
    }
    for (uint32_t i = 0; i < pl->len && arr; i++) {
        const struct guestfs_partition *p = &pl->val[i];
        json_t *o = json_object(), *mine = NULL, *v;
        size_t j;
        uint64_t start = (uint64_t)p->part_start / 512, sectors = (uint64_t)p->part_size / 512;
        int boot = gf.part_get_bootable(d->g, "/dev/sda", p->part_num);

        if (!o || json_array_append_new(arr, o) < 0) {
            d->in->oom = 1;
            break;
        }
        mk_inspect_set(d->in, o, "index", json_integer(p->part_num));
        mk_inspect_set(d->in, o, "start_lba", mk_json_u64(start));
        mk_inspect_set(d->in, o, "sectors", mk_json_u64(sectors));
        mk_inspect_set(d->in, o, "bootable", json_boolean(boot > 0));
        json_array_foreach(ours, j, v)
            if (json_integer_value(json_object_get(v, "index")) == p->part_num)
                mine = v;
        if (!mine)
            mk_inspect_problem(d->in, "deep: Linux sees a partition %d that the MBR reading "
                               "does not", p->part_num);
        else if (json_integer_value(json_object_get(mine, "start_lba")) != (json_int_t)start ||
                 json_integer_value(json_object_get(mine, "sectors")) != (json_int_t)sectors)
            mk_inspect_problem(d->in, "deep: Linux sees partition %d at a different place",
                               p->part_num);
        else if (json_is_true(json_object_get(mine, "bootable")) != (boot > 0))
            mk_inspect_problem(d->in, "deep: Linux disagrees on whether partition %d is "
                               "bootable", p->part_num);
    }
    if (pl->len < json_array_size(ours))
        mk_inspect_problem(d->in, "deep: Linux sees %u partitions, the MBR reading %zu",
                           (unsigned)pl->len, json_array_size(ours));
    gf.free_partition_list(pl);
}

static void deep_fs(struct deep *d, const char *dev, json_t *ours)
{
    json_t *o = json_object();
    char *type = gf.vfs_type(d->g, dev);
    char *uuid = gf.vfs_uuid(d->g, dev);
    char *label = gf.vfs_label(d->g, dev);
    const char *our_type = json_string_value(json_object_get(ours, "type"));
    const char *our_uuid = json_string_value(json_object_get(ours, "uuid"));

    mk_inspect_set(d->in, d->out, "filesystem", o);
    mk_inspect_set(d->in, o, "device", json_string(dev));
    mk_inspect_set(d->in, o, "type", json_string(type ? type : ""));
    mk_inspect_set(d->in, o, "uuid", json_string(uuid ? uuid : ""));
    mk_inspect_set(d->in, o, "label", mk_json_text(label ? label : "", label ? strlen(label) : 0));
    if (our_type && (!type || strcmp(type, our_type)))
        mk_inspect_problem(d->in, "deep: Linux sees filesystem type '%s' on %s, not %s",
                           type ? type : "none", dev, our_type);
    else if (our_uuid && uuid && strcasecmp(uuid, our_uuid))
        mk_inspect_problem(d->in, "deep: Linux sees UUID %s on %s, not %s", uuid, dev,
                           our_uuid);
    free(type);
    free(uuid);
    free(label);
}

static void deep_files(struct deep *d)
{
    json_t *same = json_array();

    mk_inspect_set(d->in, d->out, "files_identical", same);
    for (size_t i = 0; i < d->in->deep.n_files && same; i++) {
        const struct mk_inspect_read *ours = &d->in->deep.files[i];
        int64_t size = gf.filesize(d->g, ours->path);
        uint8_t sum[32];
        size_t len = 0;
        char *theirs = NULL;

        /* Read only what is the size we read: the contents are bounded by our own limit. */
        if (size >= 0 && (uint64_t)size == ours->size)
            theirs = gf.read_file(d->g, ours->path, &len);
        if (size < 0 || (size == (int64_t)ours->size && !theirs)) {
            mk_inspect_problem(d->in, "deep: Linux cannot read %s: %s", ours->path,
                               gf.last_error(d->g));
            continue;
        }
        if (theirs)
            gcry_md_hash_buffer(GCRY_MD_SHA256, sum, theirs, len);
        free(theirs);
        if (!theirs || len != ours->size || memcmp(sum, ours->sha256, sizeof(sum)))
            mk_inspect_problem(d->in, "deep: %s reads differently through Linux (%" PRId64
                               " bytes) and through ext2 (%" PRIu64 " bytes)", ours->path,
                               size, ours->size);
        else if (json_array_append_new(same, mk_json_text(ours->path,
                                                          strlen(ours->path))) < 0)
            d->in->oom = 1;
    }
}

/* guestfs_launch() blocks for seconds (minutes under TCG) with no callback of its own, so a
 * thread reports the step while it runs; the caller's thread is blocked in launch, so the
 * progress callback is never entered from two threads at once. */
struct launch_ticker {
    struct mk_ctx *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void *tick(void *opaque)
{
    struct launch_ticker *t = opaque;
    struct timespec ts;

    pthread_mutex_lock(&t->lock);
    while (!t->done) {
        mk_progress(t->ctx, "appliance", 0, 0);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&t->cond, &t->lock, &ts);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static int launch_with_progress(struct mk_ctx *ctx, guestfs_h *g)
{
    struct launch_ticker t = {.ctx = ctx, .lock = PTHREAD_MUTEX_INITIALIZER,
                              .cond = PTHREAD_COND_INITIALIZER};
    pthread_t thread;
    bool ticking = pthread_create(&thread, NULL, tick, &t) == 0;
    int r = gf.launch(g);

    if (ticking) {
        pthread_mutex_lock(&t.lock);
        t.done = true;
        pthread_cond_signal(&t.cond);
        pthread_mutex_unlock(&t.lock);
        pthread_join(thread, NULL);
    }
    return r;
}

int mk_inspect_deep(struct mk_inspect *in, const char *raw_path)
{
    struct deep d = {.in = in};
    json_t *fs = json_object_get(in->root, "filesystem");
    int fs_part = in->deep.fs_part;
    char dev[32], why[128];
    int r = mk_inspect_deep_check(in->ctx);

    if (r < 0)
        return r;
    mk_crypto_init();
    d.out = json_object();
    mk_inspect_set(in, in->root, "deep", d.out);
    d.g = gf.create_flags(0);
    if (!d.g)
        return mk_set_error(in->ctx, MK_EIO, "--deep: cannot create a libguestfs handle");
    /* The library never prints: errors are read back with gf.last_error(). */
    gf.set_error_handler(d.g, NULL, NULL);
    /* libguestfs tries KVM with -cpu max, which aborts QEMU where KVM is unusable or is a
     * software nested hypervisor; make the same choice as `boot` unless the user set one. */
    if (!getenv("LIBGUESTFS_BACKEND_SETTINGS") &&
        mk_accel_choose(why, sizeof(why)) == MK_ACCEL_TCG)
        gf.set_backend_setting(d.g, "force_tcg", "1");
    if (gf.add_drive_opts(d.g, raw_path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
                               GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
        r = gerr(&d, "cannot add the disk");
    else if (mk_check_cancel(in->ctx) < 0)
        r = MK_ECANCELED;
    else if (launch_with_progress(in->ctx, d.g) < 0)
        r = gerr(&d, "cannot start the appliance");
    unlink(raw_path); /* the appliance holds it open */
    if (r == MK_OK) {
        deep_partitions(&d, json_object_get(in->root, "partitions"));
        if (fs_part)
            snprintf(dev, sizeof(dev), "/dev/sda%d", fs_part);
        else
            snprintf(dev, sizeof(dev), "/dev/sda");
        if (fs || fs_part)
            deep_fs(&d, dev, fs);
        if (fs && gf.mount_ro(d.g, dev, "/") < 0)
            mk_inspect_problem(in, "deep: Linux cannot mount %s: %s", dev,
                               gf.last_error(d.g));
        else if (fs)
            deep_files(&d);
        gf.shutdown(d.g);
    }
    gf.close(d.g);
    return r;
}
#endif
