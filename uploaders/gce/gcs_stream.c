/* gcs_stream.c: the one pass over an upload's bytes, on a thread of its own: crc32c over
 * every byte and, for an archive, GCE's rules checked by inflating it as it passes
 * (mk_targz_check_pull), keeping nothing but the disk's first sector.
 *
 * The bytes come from one of two places. A stream made on the fly is hashed in the sender's
 * chunk buffer, which the sender reuses only once this thread is done with it. A file is
 * read by this thread itself, piece by piece, while the sender reads the same file for the
 * request body: both read the page cache at their own pace, so that hashing and checking
 * never hold the sending back and memory stays a piece whatever the file's size. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gce_private.h"

#define PIECE (1u << 20)

struct gcs_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    bool started, stop;
    /* From a buffer: the sender's bytes [base_off, filled) are at base; this thread is
     * done with those before (done) and is reading (taking) bytes from there. */
    const uint8_t *base;
    uint64_t base_off, filled, done;
    size_t taking;
    /* From a file: (fd) is read from (file_off) to (file_size) into (piece). */
    int fd;
    uint64_t file_off, file_size;
    uint8_t *piece;
    int read_errno;
    uint32_t crc;
    bool check;
    struct mk_ctx check_ctx;
    struct mk_buf problems;
    int check_result;
    char *name;
};

static bool stopping(struct gcs_stream *s)
{
    bool stop;

    pthread_mutex_lock(&s->mu);
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void pull_file(struct gcs_stream *s, const uint8_t **data, size_t *len)
{
    size_t want = (size_t)MK_MIN((uint64_t)PIECE, s->file_size - s->file_off);
    ssize_t n;

    if (!want || s->read_errno || stopping(s))
        return;
    do
        n = pread(s->fd, s->piece, want, (off_t)s->file_off);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        s->read_errno = errno;
        return;
    }
    /* n == 0 before the end: the file shrank, which gcs_stream_end() reports. */
    s->file_off += (uint64_t)n;
    *data = s->piece;
    *len = (size_t)n;
}

static void pull_buffer(struct gcs_stream *s, const uint8_t **data, size_t *len)
{
    pthread_mutex_lock(&s->mu);
    s->done += s->taking;
    s->taking = 0;
    pthread_cond_broadcast(&s->cv);
    while (s->done == s->filled && !s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->done < s->filled) {
        s->taking = (size_t)MK_MIN(s->filled - s->done, (uint64_t)PIECE);
        *data = s->base + (s->done - s->base_off);
        *len = s->taking;
    }
    pthread_mutex_unlock(&s->mu);
}

/* The check's source of bytes: every byte it sees is hashed on the way. */
static int pull(struct mk_ctx *ctx, void *opaque, const uint8_t **data, size_t *len)
{
    struct gcs_stream *s = opaque;

    (void)ctx;
    *len = 0;
    if (s->fd >= 0)
        pull_file(s, data, len);
    else
        pull_buffer(s, data, len);
    if (*len)
        s->crc = gce_crc32c(s->crc, *data, *len);
    return MK_OK;
}

static void *worker_main(void *opaque)
{
    struct gcs_stream *s = opaque;
    const uint8_t *data;
    size_t len;

    if (s->check)
        s->check_result = mk_targz_check_pull(&s->check_ctx, pull, s, s->name, false,
                                              &s->problems);
    /* Whatever the check did not read (it stops at the archive's end, or at a fault) is
     * hashed all the same. */
    do
        pull(NULL, s, &data, &len);
    while (len);
    return NULL;
}

int gcs_stream_new(struct mk_ctx *ctx, const char *check_name, int fd, uint64_t size,
                   struct gcs_stream **ret)
{
    struct gcs_stream *s = calloc(1, sizeof(*s));

    if (!s)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    s->fd = fd;
    s->file_size = size;
    mk_buf_init(&s->problems);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->check = check_name != NULL;
    s->name = strdup(check_name ? check_name : "the upload");
    if (fd >= 0) {
        s->piece = malloc(PIECE);
        /* The sender reads the same file just behind or ahead of us. */
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (!s->name || (fd >= 0 && !s->piece)) {
        gcs_stream_free(s);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    if (pthread_create(&s->worker, NULL, worker_main, s)) {
        gcs_stream_free(s);
        return mk_set_error(ctx, MK_ENOMEM, "cannot start the thread that hashes the upload");
    }
    s->started = true;
    *ret = s;
    return MK_OK;
}

void gcs_stream_sync(struct gcs_stream *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->done < s->filled)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void gcs_stream_publish(struct gcs_stream *s, const uint8_t *base, uint64_t base_off,
                        uint64_t filled)
{
    pthread_mutex_lock(&s->mu);
    s->base = base;
    s->base_off = base_off;
    s->filled = filled;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void gcs_stream_hash_now(struct gcs_stream *s, const void *buf, size_t len)
{
    gcs_stream_sync(s);
    gcs_stream_publish(s, buf, s->done, s->done + len);
    gcs_stream_sync(s);
}

/* Lets the worker run to the end of what it was given, or (abandon) stops it at once. */
static void stop_worker(struct gcs_stream *s, bool abandon)
{
    if (!s->started)
        return;
    if (!abandon && s->fd < 0)
        gcs_stream_sync(s);
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->worker, NULL);
    s->started = false;
}

int gcs_stream_end(struct mk_ctx *ctx, struct gcs_stream *s, uint32_t *crc)
{
    /* A file is read to its end by the worker itself: the stop flag is raised only once
     * it is done. */
    if (s->fd >= 0 && s->started) {
        pthread_join(s->worker, NULL);
        s->started = false;
    }
    stop_worker(s, false);
    *crc = s->crc;
    if (s->read_errno)
        return mk_set_errno(ctx, MK_EIO, s->read_errno, "cannot read %s", s->name);
    if (s->fd >= 0 && s->file_off != s->file_size)
        return mk_set_error(ctx, MK_EIO, "%s changed while it was uploaded", s->name);
    if (s->check_result < 0)
        return mk_set_error(ctx, s->check_result, "%s", mk_errmsg(&s->check_ctx));
    if (s->problems.len) {
        char *nl = strchr(s->problems.buf, '\n');

        return mk_set_error(ctx, MK_EFORMAT, "%s: not uploaded, the archive would be "
                            "refused: %.*s%s", s->name, nl ? (int)(nl - s->problems.buf)
                            : (int)s->problems.len, s->problems.buf,
                            nl ? " (and more: see 'inspect')" : "");
    }
    return MK_OK;
}

void gcs_stream_free(struct gcs_stream *s)
{
    if (!s)
        return;
    stop_worker(s, true);
    mk_buf_release(&s->problems);
    free(s->piece);
    free(s->name);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
