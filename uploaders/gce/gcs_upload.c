/* gcs_upload.c: resumable Cloud Storage uploads that resume from the server's Range after
 * any failure and across runs (through a state file), with crc32c checked by the server and
 * again here. (GCS computes md5 itself for the objects we make; computing it here too
 * would cost more CPU than the whole send, for no check crc32c does not already make.)
 *
 * A file goes in one request, read straight from the file, and after a failure the file
 * is read again from the offset the server holds. A stream made on the fly goes through a
 * chunk buffer that keeps the bytes the server has not acknowledged. Either way the last
 * piece waits for the checksum and the archive check (gcs_stream.c), and carries both. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gce_private.h"

/* libcurl reads and sends a body 64 KiB at a time by default: 1 MiB takes a sixteenth of the
 * reads and sends (a 300 MB upload took 0.21 s instead of 0.30 s), and memory stays small. */
#define UPLOAD_BUFFER (1u << 20)

struct gcs_upload {
    char *object;
    char *session;    /* the session URI: a credential of its own, never logged */
    char *state_path; /* NULL = no resuming across runs */
    uint64_t total;   /* 0 = not known in advance */
    uint64_t persisted; /* bytes the server holds */
    uint64_t seen;      /* bytes of the stream given to write() */
    uint8_t *buf;       /* bytes [persisted, persisted + len) */
    size_t len, cap;
    int fd;             /* the file being sent (gcs_upload_file), or -1 */
    uint64_t request_cap; /* a file's bytes per request; 0 = no cap */
    char *check_name;
    struct gcs_stream *stream; /* hashes (and checks) the bytes while chunks are sent */
    uint32_t crc;              /* of the whole stream, once it ended */
    char *identity;            /* for the state file */
    bool complete;
    json_t *object_json;
};

void gcs_upload_free(struct gcs_upload *up)
{
    if (!up)
        return;
    /* The hashing thread may still read the buffer: it stops first. */
    gcs_stream_free(up->stream);
    free(up->object);
    free(up->check_name);
    free(up->identity);
    if (up->session)
        mk_wipe(up->session, strlen(up->session));
    free(up->session);
    free(up->state_path);
    free(up->buf);
    json_decref(up->object_json);
    free(up);
}

uint64_t gcs_upload_offset(const struct gcs_upload *up)
{
    return up->persisted;
}

/* The session URI comes from the server's Location: header. It is a credential of its own;
 * the bearer token goes with it only to the storage endpoint's own host, over https (or
 * loopback), so that a Location pointing elsewhere never receives it. */
static bool token_may_go_to(const struct gce *g, const char *url)
{
    char host[256], storage[256];
    bool https, storage_https;

    if (!mk_http_url_host(url, host, sizeof(host), &https) ||
        !mk_http_url_host(g->storage_base, storage, sizeof(storage), &storage_https))
        return false;
    return !strcmp(host, storage) && (https || mk_http_is_loopback(host));
}

/* Sets (hdr) to the Authorization header for (url); 1 when it did, 0 when the token is not
 * for that URL (hdr is then empty), or an error. */
static int add_auth(struct mk_ctx *ctx, struct gce *g, const char *url, bool force,
                    struct mk_buf *hdr)
{
    const char *tok;
    int r;

    mk_buf_reset(hdr);
    if (!token_may_go_to(g, url))
        return 0;
    if ((r = gce_auth_token(ctx, g->auth, force, &tok)) < 0)
        return r;
    if (mk_buf_addf(hdr, "Authorization: Bearer %s", tok) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return 1;
}

static void wipe_buf(struct mk_buf *b)
{
    mk_wipe(b->buf, b->alloc);
    mk_buf_release(b);
}

/* Bytes the sender has and the server does not. */
static uint64_t unsent(const struct gcs_upload *up)
{
    return up->fd >= 0 ? up->total - up->persisted : up->len;
}

/* Reads the server's answer to a chunk or a status query into the upload's state:
 * 1 = complete, 0 = incomplete (persisted updated), or an error. */
static int take_answer(struct mk_ctx *ctx, struct gcs_upload *up, struct mk_http_resp *resp)
{
    struct gcs_answer a;
    uint64_t got;
    int r;

    if (up->stream)
        gcs_stream_sync(up->stream); /* the buffer may move: the hasher is done with it first */
    r = gcs_parse_answer(ctx, resp, &a);
    if (r < 0)
        return r;
    if (r == 1) {
        json_decref(up->object_json);
        up->object_json = a.object;
        up->complete = true;
        mk_progress(ctx, "upload", up->seen, up->total ? up->total : up->seen);
        return 1;
    }
    got = a.held;
    if (got < up->persisted)
        return mk_set_error(ctx, MK_EHTTP,
                            "GCS upload: the server now holds %" PRIu64 " bytes, fewer than "
                            "the %" PRIu64 " it acknowledged", got, up->persisted);
    /* Before the first byte (a resumed session) the server may hold anything. */
    if (up->seen && got > up->persisted + unsent(up))
        return mk_set_error(ctx, MK_EHTTP,
                            "GCS upload: the server holds %" PRIu64 " bytes, more than sent",
                            got);
    if (up->fd >= 0) {
        /* Nothing held: the file is read again from there. */
    } else if (got - up->persisted >= up->len) {
        up->len = 0;
    } else {
        size_t drop = (size_t)(got - up->persisted);

        memmove(up->buf, up->buf + drop, up->len - drop);
        up->len -= drop;
    }
    up->persisted = got;
    /* Progress counts what the server acknowledged. */
    mk_progress(ctx, "upload", got, up->total);
    return 0;
}

/* Asks the server how much it holds, retrying the query itself; never starts over. */
static int status_query(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up)
{
    char range[64];
    struct mk_buf auth = MK_BUF_INIT;
    struct mk_http_resp resp;
    const char *hdrs[3] = {range, NULL, NULL};
    struct mk_http_req req = {.method = "PUT", .url = up->session, .headers = hdrs,
                              .timeout = 120};
    bool force = false;
    int r = MK_OK;

    mk_http_resp_init(&resp);
    if (up->total)
        snprintf(range, sizeof(range), "Content-Range: bytes */%" PRIu64, up->total);
    else
        snprintf(range, sizeof(range), "Content-Range: bytes */*");
    for (int attempt = 0;; attempt++) {
        r = add_auth(ctx, g, up->session, force, &auth);
        if (r < 0)
            break;
        hdrs[1] = r ? auth.buf : NULL;
        r = MK_OK;
        r = mk_http_do(ctx, g->http, &req, &resp);
        force = false;
        if (r == MK_OK && resp.status == 401 && attempt < g->max_tries) {
            force = true;
            continue;
        }
        if (r == MK_OK && (resp.status == 404 || resp.status == 410)) {
            r = mk_set_error(ctx, MK_ENOTFOUND, "GCS upload session expired");
            break;
        }
        if (r == MK_ECANCELED || attempt >= g->max_tries ||
            (r == MK_OK && !mk_http_retryable(resp.status)))
            break;
        mk_log(ctx, MK_LOG_INFO, "GCS status query failed (%s), retrying",
               r < 0 ? mk_errmsg(ctx) : "server error");
        r = mk_http_sleep(ctx, mk_http_retry_delay(&resp, gce_backoff(g, attempt)));
        if (r < 0)
            break;
    }
    if (r == MK_OK) {
        if (resp.status / 100 == 2 || resp.status == 308)
            r = take_answer(ctx, up, &resp);
        else
            r = mk_http_error(ctx, MK_EHTTP, "GCS upload status", &resp);
        if (r > 0)
            r = MK_OK;
    }
    wipe_buf(&auth);
    mk_http_resp_release(&resp);
    return r;
}

static int initiate(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up);

static int crc_b64(struct mk_buf *crc, struct gcs_upload *up)
{
    uint8_t be[4];

    mk_put_be32(be, up->crc);
    return gce_base64(crc, be, 4) < 0 ? MK_ENOMEM : MK_OK;
}

struct file_body {
    int fd;
    uint64_t off, left;
};

static int read_file_body(struct mk_ctx *ctx, void *opaque, void *buf, size_t len,
                          size_t *ret_n)
{
    struct file_body *b = opaque;
    size_t n;
    int r;

    len = (size_t)MK_MIN((uint64_t)len, b->left);
    if (!len) {
        *ret_n = 0;
        return MK_OK;
    }
    r = mk_pread_some(ctx, b->fd, buf, len, b->off, "the file being uploaded", &n);
    if (r < 0)
        return r;
    b->off += n;
    b->left -= n;
    *ret_n = n;
    return MK_OK;
}

struct sent_progress {
    struct mk_ctx *ctx;
    uint64_t from, total;
};

/* During a long request, progress counts the bytes sent on top of those acknowledged. */
static void on_sent(void *opaque, uint64_t sent)
{
    struct sent_progress *p = opaque;

    mk_progress(p->ctx, "upload", p->from + sent, p->total);
}

/* The end of the next non-final request from (before): on the 256 KiB grid, counted from
 * 0 (the server may hold an offset off the grid), and short of the last byte, which goes
 * with the checksum. (before) itself when nothing can go yet. */
static uint64_t request_end(const struct gcs_upload *up, uint64_t before)
{
    uint64_t cap = up->fd >= 0 ? (up->request_cap ? up->request_cap : UINT64_MAX) : up->cap;
    uint64_t end = before + MK_MIN(unsent(up), cap);

    if (up->total && end > up->total - 1)
        end = up->total - 1;
    end = end / GCS_CHUNK_UNIT * GCS_CHUNK_UNIT;
    return end > before ? end : before;
}

/* Sends the buffered bytes: a whole chunk, or everything left when (final). Returns after
 * the server acknowledged at least some of it, retrying and re-querying on failures. */
static int send_chunk(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, bool final)
{
    struct mk_buf auth = MK_BUF_INIT, crc = MK_BUF_INIT, hash = MK_BUF_INIT;
    char range[128];
    const char *hdrs[4];
    struct mk_http_resp resp;
    int failures = 0, r = MK_OK;
    bool force = false;

    if (!up->session) {
        r = initiate(ctx, g, up);
        if (r < 0)
            return r;
    }
    mk_http_resp_init(&resp);
    if (final && (crc_b64(&crc, up) < 0 ||
                  mk_buf_addf(&hash, "X-Goog-Hash: crc32c=%s", crc.buf) < 0)) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    while (!up->complete) {
        uint64_t before = up->persisted, end, n;
        size_t nh = 0;
        struct file_body body = {.fd = up->fd, .off = before};
        struct sent_progress progress = {.ctx = ctx, .from = before, .total = up->total};
        struct mk_http_req req = {.method = "PUT", .url = up->session, .headers = hdrs,
                                  .upload_buffer = UPLOAD_BUFFER, .progress = on_sent,
                                  .progress_opaque = &progress};

        /* A buffer is sent when full, to make room; a file, all of it but the last piece. */
        if (!final && up->fd < 0 && up->len < up->cap)
            break;
        end = final ? before + unsent(up) : request_end(up, before);
        n = end - before;
        if (!final && !n)
            break;
        if (up->fd >= 0) {
            body.left = n;
            req.read_body = read_file_body;
            req.read_opaque = &body;
            req.body_size = n;
            req.body_size_known = true;
        } else {
            req.body = up->buf;
            req.body_len = (size_t)n;
        }
        if (final && n == 0)
            snprintf(range, sizeof(range), "Content-Range: bytes */%" PRIu64, end);
        else if (final)
            snprintf(range, sizeof(range), "Content-Range: bytes %" PRIu64 "-%" PRIu64
                     "/%" PRIu64, before, end - 1, end);
        else if (up->total)
            snprintf(range, sizeof(range), "Content-Range: bytes %" PRIu64 "-%" PRIu64
                     "/%" PRIu64, before, end - 1, up->total);
        else
            snprintf(range, sizeof(range), "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/*",
                     before, end - 1);
        r = add_auth(ctx, g, up->session, force, &auth);
        if (r < 0)
            break;
        force = false;
        hdrs[nh++] = range;
        if (r)
            hdrs[nh++] = auth.buf;
        r = MK_OK;
        if (final)
            hdrs[nh++] = hash.buf;
        hdrs[nh] = NULL;
        r = mk_http_do(ctx, g->http, &req, &resp);
        if (r == MK_OK && (resp.status == 200 || resp.status == 201 || resp.status == 308)) {
            r = take_answer(ctx, up, &resp);
            if (r < 0)
                break;
            if (up->persisted > before)
                failures = 0;
            else if (++failures > g->max_tries) {
                r = mk_set_error(ctx, MK_EHTTP, "GCS upload: no progress at byte %" PRIu64
                                 " after %d tries", before, failures);
                break;
            }
            continue;
        }
        if (r == MK_ECANCELED)
            break;
        if (r == MK_OK && resp.status == 401 && failures < g->max_tries) {
            /* The token expired during the upload: a fresh one, then ask where we are. */
            failures++;
            force = true;
        } else if (r == MK_OK && (resp.status == 404 || resp.status == 410)) {
            gcs_session_forget(up->state_path);
            r = mk_set_error(ctx, MK_ENOTFOUND, "GCS upload session expired; run again to "
                                                "start over");
            break;
        } else if (r == MK_OK && !mk_http_retryable(resp.status) && resp.status != 401) {
            r = mk_http_error(ctx, resp.status == 400 ? MK_EIO : MK_EHTTP, "GCS upload",
                              &resp);
            break;
        } else if (++failures > g->max_tries) {
            if (r == MK_OK)
                r = mk_http_error(ctx, MK_EHTTP, "GCS upload (giving up)", &resp);
            else
                mk_error_prefix(ctx, "GCS upload (giving up after %d tries)", failures);
            break;
        } else {
            mk_log(ctx, MK_LOG_INFO, "GCS chunk at byte %" PRIu64 " failed (%s), retrying",
                   before, r < 0 ? mk_errmsg(ctx) : "server error");
            mk_clear_error(ctx);
            r = mk_http_sleep(ctx, mk_http_retry_delay(&resp, gce_backoff(g, failures - 1)));
            if (r < 0)
                break;
        }
        r = status_query(ctx, g, up);
        if (r < 0)
            break;
    }
out:
    if (r < 0) /* the bytes of the failed request were not taken */
        mk_progress(ctx, "upload", up->persisted, up->total);
    wipe_buf(&auth);
    mk_buf_release(&crc);
    mk_buf_release(&hash);
    mk_http_resp_release(&resp);
    return r;
}

/* Opens the session when the first chunk is ready, so that an archive found bad while it
 * is read (or a small one, read whole first) never opens one. The checksums are not known
 * yet: they go with the last chunk (X-Goog-Hash) and are compared with the object's. */
static int initiate(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *meta = json_pack("{s:s, s:s}", "name", up->object, "contentType",
                             "application/gzip");
    char *body = NULL;
    int r;

    mk_http_resp_init(&resp);
    body = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    if (!body || mk_buf_addf(&url, "%s/upload/storage/v1/b/", g->storage_base) < 0 ||
        mk_http_escape(&url, g->bucket) < 0 ||
        mk_buf_adds(&url, "/o?uploadType=resumable&name=") < 0 ||
        mk_http_escape(&url, up->object) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = gce_call(ctx, g, "POST", url.buf, body, &resp);
    if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 404 ? MK_ENOTFOUND : MK_EHTTP,
                          "starting the GCS upload", &resp);
    if (r == MK_OK && !(up->session = mk_http_header(&resp, "Location")))
        r = mk_set_error(ctx, MK_EHTTP, "starting the GCS upload: no Location in the answer");
    if (r == MK_OK)
        gcs_session_save(ctx, g, up->state_path, up->session, up->object, up->identity,
                         up->total);
out:
    free(body);
    json_decref(meta);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gcs_upload_begin(struct mk_ctx *ctx, struct gce *g, const struct gcs_params *p,
                     struct gcs_upload **ret)
{
    struct gcs_upload *up = calloc(1, sizeof(*up));
    int r;

    if (!up)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    up->total = p->total;
    up->fd = -1;
    up->cap = (size_t)g->chunk_size;
    up->request_cap = g->chunk_size_given ? g->chunk_size : 0;
    up->object = strdup(p->object);
    up->identity = p->identity ? strdup(p->identity) : NULL;
    up->check_name = p->check_name ? strdup(p->check_name) : NULL;
    if (!up->object || (p->identity && !up->identity) || (p->check_name && !up->check_name)) {
        gcs_upload_free(up);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    r = p->identity && !g->no_resume ? gcs_session_path(ctx, g, p, &up->state_path) : MK_OK;
    if (r == MK_OK && up->state_path && (up->session = gcs_session_load(up->state_path, p))) {
        r = status_query(ctx, g, up);
        if (r == MK_OK) {
            mk_log(ctx, MK_LOG_INFO, "resuming the upload of %s at byte %" PRIu64, p->object,
                   up->persisted);
        } else if (r == MK_ENOTFOUND) {
            mk_clear_error(ctx);
            free(up->session);
            up->session = NULL;
            up->persisted = 0;
            up->complete = false;
        }
    }
    if (r < 0) {
        gcs_upload_free(up);
        return r;
    }
    *ret = up;
    return MK_OK;
}

int gcs_upload_write(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up,
                     const void *data, size_t len)
{
    const uint8_t *p = data;
    int r;

    if (!up->stream) {
        /* The buffer is made only for a stream: a file is never held. */
        up->buf = malloc(up->cap);
        if (!up->buf)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        r = gcs_stream_new(ctx, up->check_name, -1, 0, &up->stream);
        if (r < 0)
            return r;
    }
    while (len) {
        size_t n;

        if (up->seen < up->persisted || up->complete) {
            /* Already on the server (a resumed session): hash only. */
            n = up->complete ? len : (size_t)MK_MIN((uint64_t)len, up->persisted - up->seen);
        } else {
            if (up->len == up->cap) {
                r = send_chunk(ctx, g, up, false);
                if (r < 0)
                    return r;
                /* Still full: these bytes are past the end the upload declared. */
                if (up->len == up->cap)
                    return mk_set_error(ctx, MK_EIO, "the artefact grew while it was "
                                        "uploaded");
                continue;
            }
            n = MK_MIN(len, up->cap - up->len);
            memcpy(up->buf + up->len, p, n);
            up->len += n;
        }
        if (up->total && up->seen + n > up->total)
            return mk_set_error(ctx, MK_EIO, "the artefact grew while it was uploaded");
        if (up->seen < up->persisted || up->complete)
            gcs_stream_hash_now(up->stream, p, n);
        else
            gcs_stream_publish(up->stream, up->buf, up->persisted, up->persisted + up->len);
        up->seen += n;
        p += n;
        len -= n;
    }
    return MK_OK;
}

static const char *obj_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

int gcs_upload_finish(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, json_t **ret)
{
    struct mk_buf crc = MK_BUF_INIT;
    char size[32];
    int r = MK_OK;

    if (up->total && up->seen != up->total)
        return mk_set_error(ctx, MK_EIO, "the artefact ended at %" PRIu64 " of %" PRIu64
                            " bytes", up->seen, up->total);
    if (!up->stream && (r = gcs_stream_new(ctx, up->check_name, -1, 0, &up->stream)) < 0)
        return r;
    /* The last chunk goes only once the whole archive was checked. */
    r = gcs_stream_end(ctx, up->stream, &up->crc);
    if (r < 0)
        return r;
    if (!up->complete)
        r = send_chunk(ctx, g, up, true);
    if (r < 0)
        return r;
    if (crc_b64(&crc, up) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(size, sizeof(size), "%" PRIu64, up->seen);
    /* GCS checked what we declared; this catches a server that did not. */
    if (strcmp(obj_str(up->object_json, "size"), size) ||
        strcmp(obj_str(up->object_json, "crc32c"), crc.buf)) {
        r = mk_set_error(ctx, MK_EIO,
                         "the uploaded object differs from the artefact (size %s/%s, crc32c "
                         "%s/%s)", obj_str(up->object_json, "size"), size,
                         obj_str(up->object_json, "crc32c"), crc.buf);
        gcs_session_forget(up->state_path);
        goto out;
    }
    gcs_session_forget(up->state_path);
    *ret = json_incref(up->object_json);
out:
    mk_buf_release(&crc);
    return r;
}

void gcs_upload_cancel(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, bool keep)
{
    struct mk_http_resp resp;
    struct mk_http_req req = {.method = "DELETE", .url = up->session, .timeout = 30};

    if (keep || !up->session || up->complete)
        return;
    mk_http_resp_init(&resp);
    /* GCS answers 499 to a cancelled session. */
    mk_http_do(ctx, g->http, &req, &resp);
    mk_http_resp_release(&resp);
    gcs_session_forget(up->state_path);
}

int gcs_upload_file(struct mk_ctx *ctx, struct gce *g, struct gcs_upload *up, int fd,
                    uint64_t size)
{
    int r;

    if (up->stream || up->seen)
        return mk_set_error(ctx, MK_EINVAL, "GCS upload: a file after streamed bytes");
    if (up->total && size != up->total)
        return mk_set_error(ctx, MK_EIO, "%s changed since the upload began",
                            up->check_name ? up->check_name : "the file");
    up->fd = fd;
    up->total = size;
    /* A resumed session's bytes are hashed and checked all the same: they are read again. */
    r = gcs_stream_new(ctx, up->check_name, fd, size, &up->stream);
    if (r < 0)
        return r;
    up->seen = size;
    return up->complete ? MK_OK : send_chunk(ctx, g, up, false);
}
