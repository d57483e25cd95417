/* test_upload_restart.c: the driver sends the whole stream again when an uploader's restart
 * hook says that fixes a failure (OpenStack: a token refused by the data's PUT): a file is
 * read again from its first byte (or given to write_file() again), a disk packed again; at
 * most twice; never after a cancellation, nor when the file changed meanwhile; otherwise
 * abort() with the error kept. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uploader.h"
#include "unit.h"

#define FILE_SIZE (3u << 20) /* three of the driver's reads */

/* A fake cloud: counts what each pass brings, fails as told. */
static struct fake {
    uint64_t bytes, sum; /* this pass */
    uint64_t first_bytes, first_sum;
    int passes, restarts, aborts, finishes;
    int fail_finishes;   /* finish() fails this many times */
    int fail_write_pass; /* write() fails in this pass (1-based), 0 = never */
    bool cancel_in_write;
    bool restart_refuses;
    const char *path_to_touch; /* changed by restart() */
} fake;

static int fake_create(struct mk_ctx *ctx, void **ret)
{
    (void)ctx;
    *ret = &fake;
    return MK_OK;
}

static int fake_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value)
{
    (void)state, (void)key, (void)value;
    return mk_set_error(ctx, MK_EUNSUPPORTED, "no options");
}

static int fake_prepare(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info)
{
    (void)ctx, (void)state, (void)info;
    fake.passes = 1;
    return MK_OK;
}

static int fake_write(struct mk_ctx *ctx, void *state, const void *buf, size_t len)
{
    const uint8_t *b = buf;

    (void)state;
    for (size_t i = 0; i < len; i++)
        fake.sum = fake.sum * 31 + b[i];
    fake.bytes += len;
    if (fake.passes == fake.fail_write_pass && fake.bytes > (1u << 20)) {
        if (fake.cancel_in_write)
            mk_ctx_cancel(ctx);
        return mk_set_error(ctx, MK_EHTTP, "refused in write");
    }
    return MK_OK;
}

static int fake_finish(struct mk_ctx *ctx, void *state, struct mk_buf *result)
{
    (void)state;
    fake.finishes++;
    if (fake.passes == 1) {
        fake.first_bytes = fake.bytes;
        fake.first_sum = fake.sum;
    }
    if (fake.fail_finishes > 0) {
        fake.fail_finishes--;
        return mk_set_error(ctx, MK_EHTTP, "refused in finish");
    }
    return mk_buf_adds(result, "{}");
}

static int fake_restart(struct mk_ctx *ctx, void *state)
{
    (void)state;
    fake.restarts++;
    if (fake.path_to_touch) {
        int fd = open(fake.path_to_touch, O_WRONLY | O_APPEND);

        CHECK(fd >= 0 && write(fd, "x", 1) == 1);
        close(fd);
    }
    if (fake.restart_refuses)
        return mk_errcode(ctx);
    fake.passes++;
    fake.bytes = fake.sum = 0;
    return MK_OK;
}

static void fake_abort(struct mk_ctx *ctx, void *state)
{
    (void)ctx, (void)state;
    fake.aborts++;
}

static void fake_destroy(void *state)
{
    (void)state;
}

static const struct mk_uploader fake_uploader = {
    .name = "fake",
    .formats = {MK_FORMAT_RAW, 0},
    .create = fake_create,
    .set_option = fake_set_option,
    .prepare = fake_prepare,
    .write = fake_write,
    .finish = fake_finish,
    .restart = fake_restart,
    .abort = fake_abort,
    .destroy = fake_destroy,
};

/* The same cloud reading the file itself, at its own offsets. */
static int fake_write_file(struct mk_ctx *ctx, void *state, int fd, uint64_t size)
{
    static uint8_t buf[1u << 16];

    for (uint64_t off = 0; off < size;) {
        ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);
        int r;

        if (n <= 0)
            return mk_set_error(ctx, MK_EIO, "short read");
        if ((r = fake_write(ctx, state, buf, (size_t)n)) < 0)
            return r;
        off += (uint64_t)n;
    }
    return MK_OK;
}

static struct mk_uploader fake_file_uploader;

/* A raw disk: an MBR signature and bytes that differ everywhere. */
static void make_file(const char *path)
{
    uint8_t *b = malloc(FILE_SIZE);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    for (size_t i = 0; i < FILE_SIZE; i++)
        b[i] = (uint8_t)(i * 7 + (i >> 11));
    b[510] = 0x55;
    b[511] = 0xaa;
    CHECK(fd >= 0 && write(fd, b, FILE_SIZE) == (ssize_t)FILE_SIZE);
    close(fd);
    free(b);
}

/* Uploads (path) as a file (1: read by the fake itself), or opened as a disk (2), with the
 * fake told what to do. */
static int run(struct mk_ctx *ctx, const char *path, int as_disk, struct fake setup)
{
    struct mk_upload *up = NULL;
    struct mk_disk *disk = NULL;
    int r;

    fake = setup;
    fake_file_uploader = fake_uploader;
    fake_file_uploader.write_file = fake_write_file;
    CHECK_OK(ctx, mk_upload_new_for(ctx, as_disk == 1 ? &fake_file_uploader : &fake_uploader, &up));
    if (as_disk < 2) {
        r = mk_upload_file(ctx, up, path);
    } else {
        CHECK_OK(ctx, mk_disk_open(ctx, path, &disk));
        r = mk_upload_disk(ctx, up, disk, NULL, "f.raw", "test");
        mk_disk_free(disk);
    }
    mk_upload_free(up);
    return r;
}

static const char *path(void)
{
    static char p[64];

    snprintf(p, sizeof(p), "restart-%ld.raw", (long)getpid());
    return p;
}

static void test_sent_again_whole(void)
{
    for (int as_disk = 0; as_disk < 3; as_disk++) {
        struct mk_ctx *ctx = mk_ctx_new();
        uint64_t whole;

        make_file(path());
        CHECK_OK(ctx, run(ctx, path(), as_disk, (struct fake){.fail_finishes = 1}));
        CHECK_EQ(fake.restarts, 1);
        CHECK_EQ(fake.aborts, 0);
        CHECK_EQ(fake.finishes, 2);
        CHECK_EQ(fake.bytes, FILE_SIZE);
        CHECK_EQ(fake.first_bytes, FILE_SIZE);
        CHECK(fake.sum == fake.first_sum);
        whole = fake.sum;

        /* Refused in the middle of the stream: the next pass starts at byte 0. */
        CHECK_OK(ctx, run(ctx, path(), as_disk, (struct fake){.fail_write_pass = 1}));
        CHECK_EQ(fake.restarts, 1);
        CHECK_EQ(fake.finishes, 1);
        CHECK_EQ(fake.bytes, FILE_SIZE);
        CHECK(fake.sum == whole);
        unlink(path());
        mk_ctx_free(ctx);
    }
}

static void test_bounded(void)
{
    struct mk_ctx *ctx = mk_ctx_new();

    make_file(path());
    CHECK_FAIL(ctx, run(ctx, path(), 0, (struct fake){.fail_finishes = 100}), MK_EHTTP,
               "refused in finish");
    CHECK_EQ(fake.restarts, 2);
    CHECK_EQ(fake.finishes, 3);
    CHECK_EQ(fake.aborts, 1);
    unlink(path());
    mk_ctx_free(ctx);
}

static void test_not_restarted(void)
{
    struct mk_ctx *ctx = mk_ctx_new();

    make_file(path());
    /* The uploader says no: its error stands, abort() runs. */
    CHECK_FAIL(ctx, run(ctx, path(), 0, (struct fake){.fail_finishes = 1, .restart_refuses = true}),
               MK_EHTTP, "refused in finish");
    CHECK_EQ(fake.restarts, 1);
    CHECK_EQ(fake.aborts, 1);
    /* Cancelled: not even asked. */
    CHECK(run(ctx, path(), 0, (struct fake){.fail_write_pass = 1, .cancel_in_write = true}) < 0);
    CHECK_EQ(fake.restarts, 0);
    CHECK_EQ(fake.aborts, 1);
    mk_ctx_free(ctx);

    /* The file changed before it could be read again: the source's failure, not the
     * uploader's, so it is not asked again. */
    ctx = mk_ctx_new();
    CHECK_FAIL(ctx, run(ctx, path(), 0, (struct fake){.fail_finishes = 1, .path_to_touch = path()}),
               MK_EIO, "changed since the upload began");
    CHECK_EQ(fake.restarts, 1);
    CHECK_EQ(fake.aborts, 1);
    unlink(path());
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(test_sent_again_whole), UNIT_TEST(test_bounded), UNIT_TEST(test_not_restarted))
