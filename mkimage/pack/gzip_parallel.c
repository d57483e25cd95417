/* gzip_parallel.c: pigz-style gzip: fixed blocks deflated in parallel, joined in order.
 *
 * Each block is raw-deflated on its own with the previous 32 KiB of input as a preset
 * dictionary and ends with a sync flush (the last with Z_FINISH), so the blocks concatenate
 * into one deflate stream and compress almost as well as a single-threaded gzip. The block
 * boundaries depend only on the input bytes, never on timing or the number of threads, so
 * the output is the same whatever (jobs) is. zlib has no such mode of its own, hence this
 * file. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gzip_parallel.h"

#define DICT_SIZE (32u * 1024u)
#define MAX_JOBS 64

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_DONE };

struct gz_slot {
    uint8_t *in; /* the dictionary (dict_len bytes), then the block (in_len bytes) */
    size_t dict_len, in_len;
    uint8_t *out;
    size_t out_len, out_alloc;
    uint32_t crc;
    int last;
    int zerr; /* a zlib failure in a worker, reported by the writer */
    enum slot_state state;
};

struct mk_gzip {
    struct mk_sink sink;
    int level;
    int nthreads;
    z_stream *strm; /* one per thread, or one for the caller when nthreads == 1 */
    pthread_t *threads;
    int nstarted;
    pthread_mutex_t lock;
    pthread_cond_t work_cond, done_cond;
    int sync_ready;
    struct gz_slot *slots;
    size_t nslots;
    uint64_t submit_seq; /* blocks below this are queued; this one is being filled */
    uint64_t run_seq;    /* the next block a worker takes */
    uint64_t write_seq;  /* the next block to write out */
    int quit;
    uint32_t crc;
    uint64_t total;
    int header_done;
    int status; /* the first error, sticky */
};

static int compress_block(z_stream *s, struct gz_slot *slot)
{
    const uint8_t *data = slot->in + slot->dict_len;
    size_t need = deflateBound(s, (uLong)slot->in_len) + 64;
    int flush = slot->last ? Z_FINISH : Z_SYNC_FLUSH, zr;

    if (deflateReset(s) != Z_OK)
        return Z_STREAM_ERROR;
    if (slot->dict_len && deflateSetDictionary(s, slot->in, (uInt)slot->dict_len) != Z_OK)
        return Z_STREAM_ERROR;
    if (slot->out_alloc < need) {
        uint8_t *p = realloc(slot->out, need);
        if (!p)
            return Z_MEM_ERROR;
        slot->out = p;
        slot->out_alloc = need;
    }
    s->next_in = (Bytef *)data;
    s->avail_in = (uInt)slot->in_len;
    slot->out_len = 0;
    for (;;) {
        s->next_out = slot->out + slot->out_len;
        s->avail_out = (uInt)(slot->out_alloc - slot->out_len);
        zr = deflate(s, flush);
        slot->out_len = slot->out_alloc - s->avail_out;
        if (zr == Z_STREAM_END || (!slot->last && zr == Z_OK && !s->avail_in && s->avail_out))
            break;
        if (zr != Z_OK)
            return zr;
        if (!s->avail_out) {
            /* deflateBound() was not enough (it does not count flush markers): grow. */
            uint8_t *p = realloc(slot->out, slot->out_alloc * 2);
            if (!p)
                return Z_MEM_ERROR;
            slot->out = p;
            slot->out_alloc *= 2;
        }
    }
    slot->crc = (uint32_t)crc32(0, data, (uInt)slot->in_len);
    return Z_OK;
}

struct worker_arg {
    struct mk_gzip *gz;
    int index;
};

static void *worker(void *opaque)
{
    struct mk_gzip *gz = ((struct worker_arg *)opaque)->gz;
    z_stream *s = &gz->strm[((struct worker_arg *)opaque)->index];

    free(opaque);
    pthread_mutex_lock(&gz->lock);
    while (!gz->quit) {
        if (gz->run_seq == gz->submit_seq) {
            pthread_cond_wait(&gz->work_cond, &gz->lock);
            continue;
        }
        struct gz_slot *slot = &gz->slots[gz->run_seq++ % gz->nslots];
        pthread_mutex_unlock(&gz->lock);
        int zr = compress_block(s, slot);
        pthread_mutex_lock(&gz->lock);
        slot->zerr = zr;
        slot->state = SLOT_DONE;
        pthread_cond_broadcast(&gz->done_cond);
    }
    pthread_mutex_unlock(&gz->lock);
    return NULL;
}

static int fail(struct mk_ctx *ctx, struct mk_gzip *gz, int code, const char *what)
{
    gz->status = mk_set_error(ctx, code, "gzip: %s", what);
    return gz->status;
}

static int write_header(struct mk_ctx *ctx, struct mk_gzip *gz)
{
    /* No name, mtime 0, OS 3 (Unix); XFL as gzip sets it for the fastest and best levels. */
    uint8_t h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

    h[8] = gz->level == 9 ? 2 : gz->level == 1 ? 4 : 0;
    gz->header_done = 1;
    return gz->sink.write(ctx, gz->sink.opaque, h, sizeof(h));
}

/* Writes out the oldest block, waiting for it to be compressed. */
static int drain_one(struct mk_ctx *ctx, struct mk_gzip *gz)
{
    struct gz_slot *slot = &gz->slots[gz->write_seq % gz->nslots];
    int r;

    if (gz->nthreads > 1) {
        pthread_mutex_lock(&gz->lock);
        while (slot->state != SLOT_DONE)
            pthread_cond_wait(&gz->done_cond, &gz->lock);
        pthread_mutex_unlock(&gz->lock);
    }
    if (slot->zerr != Z_OK)
        return fail(ctx, gz, slot->zerr == Z_MEM_ERROR ? MK_ENOMEM : MK_EIO,
                    slot->zerr == Z_MEM_ERROR ? "out of memory" : "internal: deflate failed");
    if (!gz->header_done && (r = write_header(ctx, gz)) < 0)
        return gz->status = r;
    if ((r = gz->sink.write(ctx, gz->sink.opaque, slot->out, slot->out_len)) < 0)
        return gz->status = r;
    gz->crc = (uint32_t)crc32_combine(gz->crc, slot->crc, (z_off_t)slot->in_len);
    gz->total += slot->in_len;
    slot->state = SLOT_FREE;
    gz->write_seq++;
    return MK_OK;
}

/* Makes the slot for block (submit_seq) free and ready to fill, with its dictionary. */
static int start_slot(struct mk_ctx *ctx, struct mk_gzip *gz)
{
    struct gz_slot *slot = &gz->slots[gz->submit_seq % gz->nslots];
    int r;

    while (gz->submit_seq - gz->write_seq >= gz->nslots)
        if ((r = drain_one(ctx, gz)) < 0)
            return r;
    slot->dict_len = 0;
    slot->in_len = 0;
    slot->last = 0;
    if (gz->submit_seq) {
        /* Only full blocks come before this one, and they are still untouched. */
        const struct gz_slot *prev = &gz->slots[(gz->submit_seq - 1) % gz->nslots];
        memcpy(slot->in, prev->in + prev->dict_len + prev->in_len - DICT_SIZE, DICT_SIZE);
        slot->dict_len = DICT_SIZE;
    }
    slot->state = SLOT_FILLING;
    return MK_OK;
}

static int submit(struct mk_ctx *ctx, struct mk_gzip *gz, int last)
{
    struct gz_slot *slot = &gz->slots[gz->submit_seq % gz->nslots];

    slot->last = last;
    if (gz->nthreads == 1) {
        slot->zerr = compress_block(&gz->strm[0], slot);
        slot->state = SLOT_DONE;
        gz->submit_seq++;
        return drain_one(ctx, gz);
    }
    pthread_mutex_lock(&gz->lock);
    slot->state = SLOT_QUEUED;
    gz->submit_seq++;
    pthread_cond_signal(&gz->work_cond);
    pthread_mutex_unlock(&gz->lock);
    return MK_OK;
}

int mk_gzip_write(struct mk_ctx *ctx, struct mk_gzip *gz, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int r;

    if (gz->status < 0)
        return gz->status;
    while (len) {
        struct gz_slot *slot = &gz->slots[gz->submit_seq % gz->nslots];
        size_t n = MK_MIN(len, MK_GZIP_BLOCK - slot->in_len);

        memcpy(slot->in + slot->dict_len + slot->in_len, p, n);
        slot->in_len += n;
        p += n;
        len -= n;
        if (slot->in_len == MK_GZIP_BLOCK) {
            if ((r = mk_check_cancel(ctx)) < 0 || (r = submit(ctx, gz, 0)) < 0 ||
                (r = start_slot(ctx, gz)) < 0)
                return gz->status = r;
        }
    }
    return MK_OK;
}

int mk_gzip_finish(struct mk_ctx *ctx, struct mk_gzip *gz)
{
    uint8_t trailer[8];
    int r;

    if (gz->status < 0)
        return gz->status;
    if ((r = submit(ctx, gz, 1)) < 0)
        return gz->status = r;
    while (gz->write_seq < gz->submit_seq)
        if ((r = drain_one(ctx, gz)) < 0)
            return r;
    mk_put_le32(trailer, gz->crc);
    mk_put_le32(trailer + 4, (uint32_t)gz->total);
    if ((r = gz->sink.write(ctx, gz->sink.opaque, trailer, sizeof(trailer))) < 0)
        return gz->status = r;
    /* Any further write is a misuse. */
    gz->status = MK_EINVAL;
    return MK_OK;
}

void mk_gzip_free(struct mk_gzip *gz)
{
    if (!gz)
        return;
    if (gz->sync_ready) {
        pthread_mutex_lock(&gz->lock);
        gz->quit = 1;
        pthread_cond_broadcast(&gz->work_cond);
        pthread_mutex_unlock(&gz->lock);
        for (int i = 0; i < gz->nstarted; i++)
            pthread_join(gz->threads[i], NULL);
        pthread_mutex_destroy(&gz->lock);
        pthread_cond_destroy(&gz->work_cond);
        pthread_cond_destroy(&gz->done_cond);
    }
    if (gz->strm)
        for (int i = 0; i < gz->nthreads; i++)
            if (gz->strm[i].state)
                deflateEnd(&gz->strm[i]);
    if (gz->slots)
        for (size_t i = 0; i < gz->nslots; i++) {
            free(gz->slots[i].in);
            free(gz->slots[i].out);
        }
    free(gz->slots);
    free(gz->strm);
    free(gz->threads);
    free(gz);
}

int mk_gzip_new(struct mk_ctx *ctx, int level, int jobs, struct mk_sink *sink,
                struct mk_gzip **ret)
{
    struct mk_gzip *gz;

    if (level == 0)
        level = 6;
    if (level < 1 || level > 9)
        return mk_set_error(ctx, MK_EINVAL, "invalid gzip level %d (use 1 to 9)", level);
    if (jobs < 0)
        return mk_set_error(ctx, MK_EINVAL, "invalid number of jobs %d", jobs);
    if (jobs == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = n > 0 ? (int)MK_MIN(n, MAX_JOBS) : 1;
    }
    jobs = MK_MIN(jobs, MAX_JOBS);
    gz = calloc(1, sizeof(*gz));
    if (!gz)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    gz->sink = *sink;
    gz->level = level;
    gz->nthreads = jobs;
    gz->crc = (uint32_t)crc32(0, NULL, 0);
    /* Enough blocks in flight to keep every thread busy while the oldest is written out;
     * a fixed number, so memory does not grow with the input. At least two, because a
     * block takes its dictionary from the one before. */
    gz->nslots = jobs == 1 ? 2 : (size_t)jobs * 2 + 2;
    gz->slots = calloc(gz->nslots, sizeof(*gz->slots));
    gz->strm = calloc((size_t)jobs, sizeof(*gz->strm));
    gz->threads = calloc((size_t)jobs, sizeof(*gz->threads));
    if (!gz->slots || !gz->strm || !gz->threads)
        goto nomem;
    for (size_t i = 0; i < gz->nslots; i++)
        if (!(gz->slots[i].in = malloc(DICT_SIZE + MK_GZIP_BLOCK)))
            goto nomem;
    for (int i = 0; i < jobs; i++)
        if (deflateInit2(&gz->strm[i], level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
            gz->strm[i].state = NULL;
            goto nomem;
        }
    if (jobs > 1) {
        if (pthread_mutex_init(&gz->lock, NULL) || pthread_cond_init(&gz->work_cond, NULL) ||
            pthread_cond_init(&gz->done_cond, NULL)) {
            mk_gzip_free(gz);
            return mk_set_error(ctx, MK_ENOMEM, "cannot set up the compression threads");
        }
        gz->sync_ready = 1;
        for (int i = 0; i < jobs; i++) {
            struct worker_arg *arg = malloc(sizeof(*arg));
            if (!arg)
                goto nomem;
            *arg = (struct worker_arg){.gz = gz, .index = i};
            if (pthread_create(&gz->threads[i], NULL, worker, arg)) {
                free(arg);
                mk_gzip_free(gz);
                return mk_set_error(ctx, MK_ENOMEM, "cannot start a compression thread");
            }
            gz->nstarted++;
        }
    }
    gz->slots[0].state = SLOT_FILLING;
    *ret = gz;
    return MK_OK;
nomem:
    mk_gzip_free(gz);
    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
}
