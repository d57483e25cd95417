/* openstack_put.c: an image's data as one HTTP PUT, streamed through a small ring of slots
 * with no temporary file, and hashed (MD5) on a thread of its own.
 *
 * The caller fills the slots: with the bytes write() was given, or straight from the
 * artefact file (os_put_file). A sending thread runs the request (through http.h, which
 * keeps TLS and error handling in one place), its read callback copying from the slots into
 * libcurl's buffer; a hashing thread runs MD5 over the same slots. A slot is filled again
 * once both are done with it, so none of the three waits for another unless it falls a
 * whole ring behind: the hashing never holds back the sending (nor the last byte), and
 * memory stays at the ring whatever the size. Each thread that makes requests has its own
 * context: a context is used by one thread at a time. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openstack_private.h"

#define SLOTS 4
#define SLOT_SIZE (1u << 20)
/* libcurl's buffer for the body: half a slot per read callback and send call, instead of
 * libcurl's 64 KiB. */
#define UPLOAD_BUFFER (512u << 10)

struct os_put {
    pthread_t sender, hasher;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t more; /* a slot handed over, the end, or stop: for the sender and hasher */
    pthread_cond_t room; /* a slot free again, the request ended, or stop: for the caller */
    uint8_t *ring; /* SLOTS slots of SLOT_SIZE; slot n (counted from 0) is at n % SLOTS */
    size_t fill_len; /* the caller's: bytes in the slot being filled */
    /* Under (mu): */
    size_t len[SLOTS];
    uint64_t filled;   /* slots handed over; slot (filled) is being filled */
    uint64_t to_send;  /* the slot the sender is taking bytes from, (send_off) of them so far */
    size_t send_off;
    uint64_t to_hash;  /* the slot the hasher is at */
    uint64_t taken;    /* bytes the sender has handed to libcurl */
    bool eof;  /* no more slots will come */
    bool stop; /* give up */
    bool done; /* the request has ended */
    int result;

    gcry_md_hd_t md;
    struct mk_ctx *wctx;
    struct mk_http *http;
    struct mk_http_req req;
    struct mk_http_resp resp;
    const char *headers[4];
    char *url;
    char *auth_header; /* secret */
    char *what;        /* names the upload in messages */
};

static uint8_t *slot(struct os_put *p, uint64_t n)
{
    return p->ring + (size_t)(n % SLOTS) * SLOT_SIZE;
}

/* The sender's read callback: the next bytes of the slots handed over, 0 at the end. */
static int on_read(struct mk_ctx *wctx, void *opaque, void *buf, size_t want, size_t *ret_n)
{
    struct os_put *p = opaque;
    uint64_t n_slot;
    size_t n, off;

    pthread_mutex_lock(&p->mu);
    while (p->to_send == p->filled && !p->eof && !p->stop)
        pthread_cond_wait(&p->more, &p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return mk_set_error(wctx, MK_ECANCELED, "upload abandoned");
    }
    if (p->to_send == p->filled) { /* the end */
        pthread_mutex_unlock(&p->mu);
        *ret_n = 0;
        return MK_OK;
    }
    n_slot = p->to_send;
    off = p->send_off;
    n = MK_MIN(want, p->len[n_slot % SLOTS] - off);
    pthread_mutex_unlock(&p->mu);
    /* The slot is not filled again before (to_send) moves past it. */
    memcpy(buf, slot(p, n_slot) + off, n);
    pthread_mutex_lock(&p->mu);
    p->send_off += n;
    p->taken += n;
    if (p->send_off == p->len[n_slot % SLOTS]) {
        p->to_send++;
        p->send_off = 0;
        pthread_cond_signal(&p->room);
    }
    pthread_mutex_unlock(&p->mu);
    *ret_n = n;
    return MK_OK;
}

static void *sender_main(void *opaque)
{
    struct os_put *p = opaque;
    int r = mk_http_do(p->wctx, p->http, &p->req, &p->resp);

    pthread_mutex_lock(&p->mu);
    p->result = r;
    p->done = true;
    pthread_cond_broadcast(&p->room);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *hasher_main(void *opaque)
{
    struct os_put *p = opaque;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        uint64_t n_slot;

        while (p->to_hash == p->filled && !p->eof && !p->stop)
            pthread_cond_wait(&p->more, &p->mu);
        if (p->stop || p->to_hash == p->filled)
            break;
        n_slot = p->to_hash;
        pthread_mutex_unlock(&p->mu);
        gcry_md_write(p->md, slot(p, n_slot), p->len[n_slot % SLOTS]);
        pthread_mutex_lock(&p->mu);
        p->to_hash++;
        pthread_cond_signal(&p->room);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int os_put_new(struct mk_ctx *ctx, struct mk_http *http, const char *url, const char *token,
               const char *what, uint64_t size, gcry_md_hd_t md, struct os_put **ret)
{
    struct os_put *p = calloc(1, sizeof(*p));
    struct mk_buf h = MK_BUF_INIT;

    if (!p)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->more, NULL);
    pthread_cond_init(&p->room, NULL);
    mk_http_resp_init(&p->resp);
    p->md = md;
    p->http = http;
    p->ring = malloc((size_t)SLOTS * SLOT_SIZE);
    p->url = strdup(url);
    p->what = strdup(what);
    p->wctx = mk_ctx_new();
    if (mk_buf_addf(&h, "X-Auth-Token: %s", token) == MK_OK)
        p->auth_header = mk_buf_detach(&h, NULL);
    if (!p->ring || !p->url || !p->what || !p->wctx || !p->auth_header) {
        os_put_free(p);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    p->headers[0] = p->auth_header;
    p->headers[1] = "Content-Type: application/octet-stream";
    p->headers[2] = "Accept: application/json";
    p->headers[3] = NULL;
    p->req = (struct mk_http_req){
        .method = "PUT",
        .url = p->url,
        .headers = p->headers,
        .read_body = on_read,
        .read_opaque = p,
        /* Glance reads a body of known length faster than a chunked one. */
        .body_size = size,
        .body_size_known = size != 0,
        .upload_buffer = UPLOAD_BUFFER,
    };
    *ret = p;
    return MK_OK;
}

/* Under (mu). */
static void stop_locked(struct os_put *p)
{
    p->stop = true;
    mk_ctx_cancel(p->wctx);
    pthread_cond_broadcast(&p->more);
    pthread_cond_broadcast(&p->room);
}

static void tell_stop(struct os_put *p)
{
    pthread_mutex_lock(&p->mu);
    stop_locked(p);
    pthread_mutex_unlock(&p->mu);
}

/* Both threads, once: when the first slot is handed over, or at the end. */
static int start(struct mk_ctx *ctx, struct os_put *p)
{
    int e;

    if (p->started)
        return MK_OK;
    e = pthread_create(&p->sender, NULL, sender_main, p);
    if (e)
        return mk_set_errno(ctx, MK_ENOMEM, e, "%s: cannot start the upload thread", p->what);
    e = pthread_create(&p->hasher, NULL, hasher_main, p);
    if (e) {
        tell_stop(p);
        pthread_join(p->sender, NULL);
        return mk_set_errno(ctx, MK_ENOMEM, e, "%s: cannot start the hashing thread", p->what);
    }
    p->started = true;
    return MK_OK;
}

static void join(struct os_put *p)
{
    if (p->started) {
        pthread_join(p->sender, NULL);
        pthread_join(p->hasher, NULL);
        p->started = false;
    }
}

/* Stops both threads, whatever they were doing, and waits for them. */
static void abandon(struct os_put *p)
{
    if (!p->started)
        return;
    tell_stop(p);
    join(p);
}

static bool ring_full(const struct os_put *p)
{
    return p->filled - p->to_send >= SLOTS || p->filled - p->to_hash >= SLOTS;
}

/* Waits under (mu), by 200 ms steps, until the request ends or, with (for_slot), a slot is
 * free; passes a cancellation of (ctx) on to the threads, and shows the bytes handed to
 * libcurl when (total) is set. */
static void wait_for(struct mk_ctx *ctx, struct os_put *p, bool for_slot, uint64_t total)
{
    struct timespec ts;

    for (;;) {
        if (total) {
            uint64_t taken = p->taken;

            pthread_mutex_unlock(&p->mu);
            mk_progress(ctx, "upload", taken, total);
            pthread_mutex_lock(&p->mu);
        }
        if (p->done || (for_slot && !ring_full(p)))
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->room, &p->mu, &ts);
        if (ctx->cancelled && !p->stop)
            stop_locked(p);
    }
}

/* The request's outcome as an error on (ctx), once it has ended. */
static int ended_error(struct mk_ctx *ctx, struct os_put *p, const char *when)
{
    if (p->result < 0)
        return mk_set_error(ctx, p->result, "%s: %s", p->what, mk_errmsg(p->wctx));
    return os_http_error(ctx, p->resp.status == 413 ? MK_ENOSPC : MK_EHTTP, &p->resp,
                         "%s: Glance %s", p->what, when);
}

/* A free slot to fill, unless the request has ended early (or was cancelled). */
static int next_slot(struct mk_ctx *ctx, struct os_put *p, uint64_t total)
{
    bool ended;
    int r;

    pthread_mutex_lock(&p->mu);
    wait_for(ctx, p, true, total);
    ended = p->done || p->stop;
    pthread_mutex_unlock(&p->mu);
    if (!ended)
        return MK_OK;
    abandon(p);
    if ((r = mk_check_cancel(ctx)) < 0)
        return r;
    return ended_error(ctx, p, "ended the upload before all the data was sent");
}

static int hand_over(struct mk_ctx *ctx, struct os_put *p)
{
    int r = start(ctx, p);

    if (r < 0)
        return r;
    pthread_mutex_lock(&p->mu);
    p->len[p->filled % SLOTS] = p->fill_len;
    p->filled++;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->mu);
    p->fill_len = 0;
    return MK_OK;
}

int os_put_write(struct mk_ctx *ctx, struct os_put *p, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    int r;

    while (len) {
        size_t n;

        if (!p->fill_len && (r = next_slot(ctx, p, 0)) < 0)
            return r;
        n = MK_MIN(len, SLOT_SIZE - p->fill_len);
        memcpy(slot(p, p->filled) + p->fill_len, b, n);
        p->fill_len += n;
        b += n;
        len -= n;
        if (p->fill_len == SLOT_SIZE && (r = hand_over(ctx, p)) < 0)
            return r;
    }
    return MK_OK;
}

int os_put_file(struct mk_ctx *ctx, struct os_put *p, int fd, uint64_t size)
{
    uint64_t off = 0;
    int r;

    while (off < size) {
        size_t want, n;

        if (!p->fill_len && (r = next_slot(ctx, p, size)) < 0)
            return r;
        want = (size_t)MK_MIN((uint64_t)(SLOT_SIZE - p->fill_len), size - off);
        r = mk_pread_some(ctx, fd, slot(p, p->filled) + p->fill_len, want, off, "the file", &n);
        if (r < 0)
            return mk_error_prefix(ctx, "%s", p->what);
        p->fill_len += n;
        off += n;
        if (p->fill_len == SLOT_SIZE && (r = hand_over(ctx, p)) < 0)
            return r;
    }
    return MK_OK;
}

int os_put_finish(struct mk_ctx *ctx, struct os_put *p, uint64_t total)
{
    int r = p->fill_len ? hand_over(ctx, p) : start(ctx, p);

    if (r < 0)
        return r;
    pthread_mutex_lock(&p->mu);
    p->eof = true;
    pthread_cond_broadcast(&p->more);
    wait_for(ctx, p, false, total);
    pthread_mutex_unlock(&p->mu);
    /* The hasher, told the end, trails the sender by the ring at most. */
    join(p);
    r = mk_check_cancel(ctx);
    if (r < 0)
        return r;
    if (p->result < 0 || p->resp.status < 200 || p->resp.status > 299)
        return ended_error(ctx, p, "refused the data");
    if (total)
        mk_progress(ctx, "upload", total, total);
    return MK_OK;
}

long os_put_status(const struct os_put *p)
{
    /* Read only once the threads have ended (joined): no lock needed. */
    return !p->started && p->result >= 0 ? p->resp.status : 0;
}

void os_put_free(struct os_put *p)
{
    if (!p)
        return;
    abandon(p);
    mk_http_resp_release(&p->resp);
    if (p->auth_header) {
        mk_wipe(p->auth_header, strlen(p->auth_header));
        free(p->auth_header);
    }
    mk_ctx_free(p->wctx);
    free(p->ring);
    free(p->url);
    free(p->what);
    pthread_cond_destroy(&p->more);
    pthread_cond_destroy(&p->room);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
