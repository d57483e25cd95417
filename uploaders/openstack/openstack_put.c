/* openstack_put.c: streams pushed bytes into one chunked HTTP PUT, with no temporary file.
 *
 * The driver pushes data through write(), but a libcurl request pulls its body. A worker
 * thread runs the request (through http.h, which keeps TLS and error handling in one place)
 * and its read callback takes the bytes straight from the buffer that write() was given;
 * write() returns once they are all taken, so memory stays bounded by the caller's buffer.
 * The worker has its own context: a context is used by one thread at a time. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openstack_private.h"

struct os_put {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started;
    /* Under (mu): */
    const uint8_t *data;
    size_t len;
    bool eof;  /* write() will give no more */
    bool stop; /* give up */
    bool done; /* the request has ended */
    int result;

    struct mk_ctx *wctx;
    struct mk_http *http;
    struct mk_http_req req;
    struct mk_http_resp resp;
    const char *headers[4];
    char *url;
    char *auth_header; /* secret */
    char *what;        /* names the upload in messages */
};

static int on_read(struct mk_ctx *wctx, void *opaque, void *buf, size_t want, size_t *ret_n)
{
    struct os_put *p = opaque;
    size_t n;

    pthread_mutex_lock(&p->mu);
    while (!p->len && !p->eof && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        return mk_set_error(wctx, MK_ECANCELED, "upload abandoned");
    }
    n = MK_MIN(want, p->len);
    if (n) {
        memcpy(buf, p->data, n);
        p->data += n;
        p->len -= n;
        if (!p->len)
            pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    *ret_n = n;
    return MK_OK;
}

static void *worker(void *opaque)
{
    struct os_put *p = opaque;
    int r = mk_http_do(p->wctx, p->http, &p->req, &p->resp);

    pthread_mutex_lock(&p->mu);
    p->result = r;
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int os_put_new(struct mk_ctx *ctx, struct mk_http *http, const char *url, const char *token,
               const char *what, uint64_t size, struct os_put **ret)
{
    struct os_put *p = calloc(1, sizeof(*p));
    struct mk_buf h = MK_BUF_INIT;

    if (!p)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    mk_http_resp_init(&p->resp);
    p->http = http;
    p->url = strdup(url);
    p->what = strdup(what);
    p->wctx = mk_ctx_new();
    if (mk_buf_addf(&h, "X-Auth-Token: %s", token) == MK_OK)
        p->auth_header = mk_buf_detach(&h, NULL);
    if (!p->url || !p->what || !p->wctx || !p->auth_header) {
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
    };
    *ret = p;
    return MK_OK;
}

static int start(struct mk_ctx *ctx, struct os_put *p)
{
    int e;

    if (p->started)
        return MK_OK;
    e = pthread_create(&p->thread, NULL, worker, p);
    if (e)
        return mk_set_errno(ctx, MK_ENOMEM, e, "%s: cannot start the upload thread", p->what);
    p->started = true;
    return MK_OK;
}

static void join(struct os_put *p)
{
    if (p->started) {
        pthread_join(p->thread, NULL);
        p->started = false;
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

int os_put_write(struct mk_ctx *ctx, struct os_put *p, const void *buf, size_t len,
                 gcry_md_hd_t md)
{
    struct timespec ts;
    bool early;
    int r = start(ctx, p);

    if (r < 0)
        return r;
    pthread_mutex_lock(&p->mu);
    p->data = buf;
    p->len = len;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    /* Both threads only read (buf): hashing it here overlaps with sending it. */
    if (md)
        gcry_md_write(md, buf, len);
    pthread_mutex_lock(&p->mu);
    while (p->len && !p->done) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        /* Cancellation reaches the worker's transfer through its own context. */
        if (ctx->cancelled && !p->stop) {
            p->stop = true;
            mk_ctx_cancel(p->wctx);
            pthread_cond_broadcast(&p->cv);
        }
    }
    early = p->len != 0;
    p->data = NULL;
    p->len = 0;
    pthread_mutex_unlock(&p->mu);
    if (!early)
        return MK_OK;
    join(p);
    r = mk_check_cancel(ctx);
    if (r < 0)
        return r;
    return ended_error(ctx, p, "ended the upload before all the data was sent");
}

int os_put_finish(struct mk_ctx *ctx, struct os_put *p)
{
    int r = start(ctx, p);

    if (r < 0)
        return r;
    pthread_mutex_lock(&p->mu);
    p->eof = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    join(p);
    r = mk_check_cancel(ctx);
    if (r < 0)
        return r;
    if (p->result < 0 || p->resp.status < 200 || p->resp.status > 299)
        return ended_error(ctx, p, "refused the data");
    return MK_OK;
}

long os_put_status(const struct os_put *p)
{
    /* Read only once the worker has ended (joined): no lock needed. */
    return !p->started && p->result >= 0 ? p->resp.status : 0;
}

void os_put_free(struct os_put *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        mk_ctx_cancel(p->wctx);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        join(p);
    }
    mk_http_resp_release(&p->resp);
    if (p->auth_header) {
        mk_wipe(p->auth_header, strlen(p->auth_header));
        free(p->auth_header);
    }
    mk_ctx_free(p->wctx);
    free(p->url);
    free(p->what);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
