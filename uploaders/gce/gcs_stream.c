/* gcs_stream.c: the one pass over an upload's bytes. The sending thread copies each chunk
 * into its buffer and sends it; meanwhile a hashing thread computes md5 and crc32c over the
 * same bytes and hands them to a checking thread, which inflates the archive and checks
 * GCE's rules (mk_targz_check_fd) keeping nothing but the disk's first sector. So the file
 * is read once, hashing overlaps sending, and memory is the chunk buffer plus a few small
 * ones whatever the archive's size. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gce_private.h"

#define PIECE (1u << 20)

struct gcs_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t hasher, checker;
    bool hasher_started, checker_started, stop;
    /* Published by the sender: stream bytes [base_off, filled) are at base. */
    const uint8_t *base;
    uint64_t base_off, filled;
    uint64_t done; /* bytes hashed (and passed on) */
    uint32_t crc;
    gcry_md_hd_t md5;
    /* The checker's end of a socket pair (a socket, not a pipe: a checker that stops early
     * must not kill us with SIGPIPE). */
    int feed, drain;
    struct mk_ctx check_ctx;
    struct mk_buf problems;
    int check_result;
    char *name;
};

static void pass_on(struct gcs_stream *s, const uint8_t *p, size_t n)
{
    s->crc = gce_crc32c(s->crc, p, n);
    gcry_md_write(s->md5, p, n);
    while (n && s->feed >= 0) {
        ssize_t w = send(s->feed, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            /* The checker stopped reading: it has said what it found. */
            close(s->feed);
            s->feed = -1;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *hasher_main(void *opaque)
{
    struct gcs_stream *s = opaque;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        const uint8_t *p;
        size_t n;

        while (s->done == s->filled && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->done == s->filled)
            break;
        p = s->base + (s->done - s->base_off);
        n = (size_t)MK_MIN(s->filled - s->done, (uint64_t)PIECE);
        pthread_mutex_unlock(&s->mu);
        pass_on(s, p, n);
        pthread_mutex_lock(&s->mu);
        s->done += n;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *checker_main(void *opaque)
{
    struct gcs_stream *s = opaque;
    char sink[65536];

    s->check_result = mk_targz_check_fd(&s->check_ctx, s->drain, s->name, false, &s->problems);
    /* Whatever is left is read and dropped, so that the hasher never blocks. */
    while (read(s->drain, sink, sizeof(sink)) > 0)
        ;
    return NULL;
}

int gcs_stream_new(struct mk_ctx *ctx, const char *check_name, struct gcs_stream **ret)
{
    struct gcs_stream *s = calloc(1, sizeof(*s));
    int sv[2];

    gce_gcry_init();
    if (!s)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    s->feed = s->drain = -1;
    mk_buf_init(&s->problems);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (gcry_md_open(&s->md5, GCRY_MD_MD5, 0)) {
        gcs_stream_free(s);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    if (check_name) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            gcs_stream_free(s);
            return mk_set_errno(ctx, MK_EIO, errno, "cannot make a socket pair");
        }
        s->feed = sv[0];
        s->drain = sv[1];
        s->name = strdup(check_name);
        if (!s->name || pthread_create(&s->checker, NULL, checker_main, s)) {
            gcs_stream_free(s);
            return mk_set_error(ctx, MK_ENOMEM, "cannot start the archive check");
        }
        s->checker_started = true;
    }
    if (pthread_create(&s->hasher, NULL, hasher_main, s)) {
        gcs_stream_free(s);
        return mk_set_error(ctx, MK_ENOMEM, "cannot start the hashing thread");
    }
    s->hasher_started = true;
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
    pass_on(s, buf, len);
    pthread_mutex_lock(&s->mu);
    s->done += len;
    s->filled = s->done;
    pthread_mutex_unlock(&s->mu);
}

static void stop_threads(struct gcs_stream *s)
{
    if (s->hasher_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->hasher, NULL);
        s->hasher_started = false;
    }
    if (s->feed >= 0) {
        close(s->feed);
        s->feed = -1;
    }
    if (s->checker_started) {
        pthread_join(s->checker, NULL);
        s->checker_started = false;
    }
}

int gcs_stream_end(struct mk_ctx *ctx, struct gcs_stream *s, uint32_t *crc, uint8_t md5[16])
{
    gcs_stream_sync(s);
    stop_threads(s);
    *crc = s->crc;
    memcpy(md5, gcry_md_read(s->md5, GCRY_MD_MD5), 16);
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
    stop_threads(s);
    if (s->drain >= 0)
        close(s->drain);
    if (s->md5)
        gcry_md_close(s->md5);
    mk_buf_release(&s->problems);
    free(s->name);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
