/* http.c: the libcurl wrapper behind http.h, shared by the cloud uploaders. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "http.h"

#define DEFAULT_MAX_RESPONSE (4u << 20)

struct mk_http {
    CURL *curl;
    struct mk_http_opts opts;
    char *cacert;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_status;

static void global_init(void)
{
    global_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int mk_http_new(struct mk_ctx *ctx, const struct mk_http_opts *opts, struct mk_http **ret)
{
    struct mk_http *http;

    pthread_once(&global_once, global_init);
    if (global_status != CURLE_OK)
        return mk_set_error(ctx, MK_EHTTP, "cannot initialise libcurl: %s",
                            curl_easy_strerror(global_status));
    http = calloc(1, sizeof(*http));
    if (!http)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (opts)
        http->opts = *opts;
    if (opts && opts->cacert && !(http->cacert = strdup(opts->cacert))) {
        free(http);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    http->opts.cacert = http->cacert;
    http->curl = curl_easy_init();
    if (!http->curl) {
        mk_http_free(http);
        return mk_set_error(ctx, MK_EHTTP, "cannot create a libcurl handle");
    }
    *ret = http;
    return MK_OK;
}

void mk_http_free(struct mk_http *http)
{
    if (!http)
        return;
    if (http->curl)
        curl_easy_cleanup(http->curl);
    free(http->cacert);
    free(http);
}

void mk_http_resp_init(struct mk_http_resp *resp)
{
    resp->status = 0;
    mk_buf_init(&resp->headers);
    mk_buf_init(&resp->body);
}

void mk_http_resp_release(struct mk_http_resp *resp)
{
    if (resp->body.alloc)
        mk_wipe(resp->body.buf, resp->body.alloc);
    mk_buf_release(&resp->body);
    mk_buf_release(&resp->headers);
    resp->status = 0;
}

void mk_http_redact_url(const char *url, char *buf, size_t size)
{
    const char *p = url, *scheme_end = strstr(url, "://"), *host, *at, *end;
    struct mk_buf b = MK_BUF_INIT;

    if (!size)
        return;
    host = scheme_end ? scheme_end + 3 : url;
    end = host + strcspn(host, "?#");
    at = memchr(host, '@', (size_t)(end - host));
    /* Only an '@' before the first '/' is user info. */
    if (at && memchr(host, '/', (size_t)(at - host)))
        at = NULL;
    if (at) {
        mk_buf_add(&b, p, (size_t)(host - p));
        mk_buf_add(&b, at + 1, (size_t)(end - at - 1));
    } else {
        mk_buf_add(&b, p, (size_t)(end - p));
    }
    snprintf(buf, size, "%s", b.buf);
    mk_buf_release(&b);
}

bool mk_http_retryable(long status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

double mk_http_retry_after(const struct mk_http_resp *resp)
{
    char *v = mk_http_header(resp, "Retry-After"), *end;
    double secs = -1;

    if (!v)
        return -1;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end != v && !*end && !errno && n >= 0) {
        secs = (double)n;
    } else {
        time_t when = curl_getdate(v, NULL);

        if (when != (time_t)-1)
            secs = when > time(NULL) ? (double)(when - time(NULL)) : 0;
    }
    free(v);
    return secs;
}

double mk_http_retry_delay(const struct mk_http_resp *resp, double backoff)
{
    double asked = resp ? mk_http_retry_after(resp) : -1;

    /* A server that asks for more than five minutes is waited for five minutes. */
    if (asked > 300)
        asked = 300;
    return asked > backoff ? asked : backoff;
}

int mk_http_escape(struct mk_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int r;

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            r = mk_buf_add(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            r = mk_buf_add(b, e, 3);
        }
        if (r < 0)
            return r;
    }
    return MK_OK;
}

int mk_http_sleep(struct mk_ctx *ctx, double seconds)
{
    /* In slices, so that Ctrl-C is not held up by a long backoff. */
    while (seconds > 0) {
        double slice = seconds < 0.1 ? seconds : 0.1;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(slice * 1e9)};
        int r = mk_check_cancel(ctx);

        if (r < 0)
            return r;
        nanosleep(&ts, NULL);
        seconds -= slice;
    }
    return mk_check_cancel(ctx);
}

char *mk_http_header(const struct mk_http_resp *resp, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = resp->headers.buf;

    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);

        if (len > nlen && line[nlen] == ':' && !strncasecmp(line, name, nlen)) {
            const char *v = line + nlen + 1, *e = line + len;

            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            return strndup(v, (size_t)(e - v));
        }
        line += len + (eol ? 1 : 0);
    }
    return NULL;
}

static void copy_clean(char *buf, size_t size, const char *s)
{
    size_t i = 0;

    for (; *s && i + 1 < size; s++)
        buf[i++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    buf[i] = '\0';
    if (*s && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

void mk_http_error_text(const struct mk_http_resp *resp, char *buf, size_t size)
{
    json_t *root = json_loadb(resp->body.buf, resp->body.len, 0, NULL), *err, *v;
    const char *key;

    if (!size)
        return;
    buf[0] = '\0';
    if (json_is_object(root)) {
        err = json_object_get(root, "error");
        if (json_is_object(err) && json_is_string(json_object_get(err, "message"))) {
            copy_clean(buf, size, json_string_value(json_object_get(err, "message")));
        } else if (json_is_string(err)) {
            const char *d = json_string_value(json_object_get(root, "error_description"));
            char tmp[512];

            snprintf(tmp, sizeof(tmp), "%s%s%s", json_string_value(err), d ? ": " : "",
                     d ? d : "");
            copy_clean(buf, size, tmp);
        } else if (json_is_string(json_object_get(root, "message"))) {
            copy_clean(buf, size, json_string_value(json_object_get(root, "message")));
        } else if (json_object_size(root) == 1) {
            json_object_foreach(root, key, v) {
                if (json_is_object(v) && json_is_string(json_object_get(v, "message")))
                    copy_clean(buf, size, json_string_value(json_object_get(v, "message")));
            }
        }
    }
    json_decref(root);
    if (!buf[0] && resp->body.len) {
        const char *b = resp->body.buf;
        size_t n;
        bool cut;

        while (*b == ' ' || *b == '\n' || *b == '\r')
            b++;
        n = strcspn(b, "\r\n");
        cut = n > 200;
        snprintf(buf, size, "%.*s%s", (int)(cut ? 200 : n), b, cut ? "..." : "");
        for (char *p = buf; *p; p++)
            if (*p == '\t')
                *p = ' ';
    }
    if (!buf[0])
        snprintf(buf, size, "(no message)");
}

int mk_http_error(struct mk_ctx *ctx, int code, const char *what,
                  const struct mk_http_resp *resp)
{
    char text[600];

    mk_http_error_text(resp, text, sizeof(text));
    return mk_set_error(ctx, code, "%s: HTTP %ld: %s", what, resp->status, text);
}

/* ---- one request ---- */

struct xfer {
    struct mk_ctx *ctx;
    const struct mk_http_req *req;
    struct mk_http_resp *resp;
    size_t body_off;        /* in-memory body sent so far */
    int read_error;         /* from the streaming callback */
    bool overflow;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_read(char *buf, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t want = size * nmemb, n = 0;
    int r;

    if (!x->req->read_body) {
        n = MK_MIN(want, x->req->body_len - x->body_off);
        memcpy(buf, (const char *)x->req->body + x->body_off, n);
        x->body_off += n;
        return n;
    }
    r = x->req->read_body(x->ctx, x->req->read_opaque, buf, want, &n);
    if (r < 0) {
        x->read_error = r;
        return CURL_READFUNC_ABORT;
    }
    return n;
}

/* libcurl rewinds a body it must send again (a reused connection that turned out dead). */
static int on_seek(void *opaque, curl_off_t offset, int origin)
{
    struct xfer *x = opaque;

    if (x->req->read_body || origin != SEEK_SET || offset < 0 ||
        (uint64_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;

    if (mk_buf_add(&x->resp->body, data, n) < 0) {
        x->overflow = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;

    /* A status line starts a new response (after 100 Continue, say): keep only the last. */
    if (n >= 5 && !memcmp(data, "HTTP/", 5))
        mk_buf_reset(&x->resp->headers);
    if (mk_buf_add(&x->resp->headers, data, n) < 0)
        return 0;
    return n;
}

static int on_progress(void *opaque, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = opaque;

    if (x->ctx && x->ctx->cancelled)
        return 1;
    if (x->req->progress && ulnow > 0)
        x->req->progress(x->req->progress_opaque, (uint64_t)ulnow);
    return 0;
}

static bool method_is(const char *method, const char *name)
{
    return !strcmp(method, name);
}

int mk_http_do(struct mk_ctx *ctx, struct mk_http *http, const struct mk_http_req *req,
               struct mk_http_resp *resp)
{
    const char *method = req->method ? req->method : "GET";
    bool has_body = req->body || req->read_body;
    bool sends_body = has_body || method_is(method, "PUT") || method_is(method, "POST") ||
                      method_is(method, "PATCH");
    struct curl_slist *hdrs = NULL, *tmp;
    struct xfer x = {.ctx = ctx, .req = req, .resp = resp};
    char where[512];
    CURL *c = http->curl;
    CURLcode rc;
    double stall = http->opts.stall_timeout > 0 ? http->opts.stall_timeout : 60;
    double connect = http->opts.connect_timeout > 0 ? http->opts.connect_timeout : 30;
    int r;

    mk_http_resp_release(resp);
    resp->body.max = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
    resp->headers.max = 256u << 10;
    r = mk_check_cancel(ctx);
    if (r < 0)
        return r;

    for (const char *const *h = req->headers; h && *h; h++) {
        if (!(tmp = curl_slist_append(hdrs, *h)))
            goto nomem;
        hdrs = tmp;
    }
    /* Python's http.server and some proxies never answer 100 Continue, which would stall
     * each request for libcurl's Expect timeout. */
    if (sends_body) {
        if (!(tmp = curl_slist_append(hdrs, "Expect:")))
            goto nomem;
        hdrs = tmp;
    }

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x.errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "unikernel-mkimage/" MK_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect * 1000));
    /* The stall timeout: less than 1 byte/s for (stall) seconds. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(stall < 1 ? 1 : stall));
    if (req->timeout > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(req->timeout * 1000));
    if (http->opts.cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, http->opts.cacert);
    if (http->opts.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);

    if (sends_body) {
        /* CURLOPT_UPLOAD with a custom method sends any method with a streamed body and
         * an exact Content-Length (or chunked when the size is unknown). */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
        if (req->upload_buffer)
            curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)req->upload_buffer);
        if (req->read_body) {
            if (req->body_size_known)
                curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_size);
        } else {
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                             (curl_off_t)(req->body ? req->body_len : 0));
        }
    } else if (method_is(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (!method_is(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    mk_http_redact_url(req->url, where, sizeof(where));
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        return MK_OK;
    }
    if (x.read_error)
        return x.read_error;
    if (rc == CURLE_ABORTED_BY_CALLBACK && ctx && ctx->cancelled)
        return mk_check_cancel(ctx);
    if (x.overflow)
        return mk_set_error(ctx, MK_EHTTP, "%s %s: response larger than %zu bytes", method,
                            where, resp->body.max);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return mk_set_error(ctx, MK_ETIMEOUT, "%s %s: timed out (%s)", method, where,
                            x.errbuf[0] ? x.errbuf : curl_easy_strerror(rc));
    /* libcurl's error buffer names hosts and system errors, never headers or bodies. */
    return mk_set_error(ctx, MK_EHTTP, "%s %s: %s", method, where,
                        x.errbuf[0] ? x.errbuf : curl_easy_strerror(rc));

nomem:
    curl_slist_free_all(hdrs);
    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
}

/* curl's own URL parser, as it reads CURLOPT_URL (less the guessing of a missing scheme):
 * a hand-written one read "http:/tps://storage.googleapis.com/" as that host while curl
 * connects to "tps" (found by fuzz/gce_reply). */
bool mk_http_url_host(const char *url, char *host, size_t size, bool *https)
{
    CURLU *u = curl_url();
    char *h = NULL, *scheme = NULL;
    const char *p;
    size_t n;
    bool ok = false;

    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
        /* An IPv6 address without its brackets, as mk_http_is_loopback() takes it. */
        p = h;
        n = strlen(h);
        if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
            p++;
            n -= 2;
        }
        if (n && n < size) {
            for (size_t i = 0; i < n; i++)
                host[i] = (char)tolower((unsigned char)p[i]);
            host[n] = '\0';
            *https = !strcasecmp(scheme, "https");
            ok = true;
        }
    }
    curl_free(h);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

bool mk_http_is_loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strcmp(host, "::1") || !strncmp(host, "127.", 4);
}

int mk_http_check_secure(struct mk_ctx *ctx, const char *what, const char *url, bool allow_http)
{
    char host[256], shown[512];
    bool https;

    if (!mk_http_url_host(url, host, sizeof(host), &https))
        return mk_set_error(ctx, MK_EINVAL, "%s: '%s' is not a URL", what, url);
    if (https || mk_http_is_loopback(host) || allow_http)
        return MK_OK;
    mk_http_redact_url(url, shown, sizeof(shown));
    return mk_set_error(ctx, MK_EINVAL, "%s %s is plain http:// and would carry credentials "
                        "unencrypted (use https, or --insecure to allow it)", what, shown);
}
