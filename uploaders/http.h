/* http.h: a small libcurl wrapper shared by the cloud uploaders (GCE, OpenStack).
 *
 * One struct mk_http per uploader: it keeps one curl handle (so connections are reused)
 * and the TLS and timeout settings. A request either gets an HTTP response (any status:
 * the caller judges it) or fails with a transport error. Error messages name the request
 * by its method and its URL without query string or user info, and never contain request
 * headers or bodies, so Authorization headers, tokens and session URIs stay out of them. */
#ifndef MK_HTTP_H
#define MK_HTTP_H

#include <stdbool.h>

#include "mk_private.h"

struct mk_http;

struct mk_http_opts {
    const char *cacert;     /* CA bundle file; NULL = the system's */
    bool insecure;          /* do not verify TLS certificates or host names */
    double connect_timeout; /* seconds; 0 = 30 */
    /* Seconds without a byte moving in either direction before a transfer is abandoned
     * (MK_ETIMEOUT); 0 = 60. */
    double stall_timeout;
};

int mk_http_new(struct mk_ctx *ctx, const struct mk_http_opts *opts, struct mk_http **ret);
void mk_http_free(struct mk_http *http);

/* Streaming request body: copies up to (len) bytes into (buf) and sets (*ret_n); 0 bytes
 * means the end. Returns MK_OK or a negative code after setting the message on (ctx). */
typedef int (*mk_http_read_fn)(struct mk_ctx *ctx, void *opaque, void *buf, size_t len,
                               size_t *ret_n);
/* Called while a request body is sent, with the bytes of it sent so far. */
typedef void (*mk_http_progress_fn)(void *opaque, uint64_t sent);

struct mk_http_req {
    const char *method;         /* "GET", "POST", "PUT", "DELETE", "PATCH"...; NULL = GET */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines; may be NULL */
    /* The body, either in memory... */
    const void *body;
    size_t body_len;
    /* ...or streamed: (read_body) is called until it gives 0 bytes. With (body_size_known)
     * the request carries Content-Length: (body_size), otherwise it is sent chunked. */
    mk_http_read_fn read_body;
    void *read_opaque;
    uint64_t body_size;
    bool body_size_known;
    /* libcurl's buffer for sending the body, bytes (up to 2 MiB); 0 = libcurl's 64 KiB.
     * Larger means fewer read callbacks and send calls. */
    size_t upload_buffer;
    /* A PUT, POST or PATCH without a body sends Content-Length: 0. */
    double timeout;             /* the whole request, seconds; 0 = only the stall timeout */
    size_t max_response;        /* cap on the response body, bytes; 0 = 4 MiB */
    mk_http_progress_fn progress;
    void *progress_opaque;
};

/* The final response (after any 100 Continue). */
struct mk_http_resp {
    long status;
    struct mk_buf headers; /* the raw header lines of the final response */
    struct mk_buf body;
};

void mk_http_resp_init(struct mk_http_resp *resp);
/* Frees the buffers; the body is wiped first as it may hold a token. */
void mk_http_resp_release(struct mk_http_resp *resp);

/* Performs (req). MK_OK when a response arrived, whatever its status; otherwise
 * MK_EHTTP (connection refused or dropped, DNS, TLS, response over the cap), MK_ETIMEOUT
 * (stall or request timeout) or MK_ECANCELED, with a message such as
 * "PUT https://host/upload/x: connection reset by peer". (resp), set up with
 * mk_http_resp_init(), is reset first. */
int mk_http_do(struct mk_ctx *ctx, struct mk_http *http, const struct mk_http_req *req,
               struct mk_http_resp *resp);

/* The value of response header (name), case-insensitive, trimmed, as a malloc'ed string;
 * NULL when absent (or out of memory). */
char *mk_http_header(const struct mk_http_resp *resp, const char *name);

/* Sets an error for an unwanted response and returns (code):
 * "WHAT: HTTP 404: <message>", the message taken from the usual JSON error shapes (Google
 * {"error":{"message"}}, OAuth {"error","error_description"}, OpenStack {"x":{"message"}},
 * {"message"}) or else the body's first line, shortened. */
int mk_http_error(struct mk_ctx *ctx, int code, const char *what,
                  const struct mk_http_resp *resp);
/* The message mk_http_error() would use, into (buf). */
void mk_http_error_text(const struct mk_http_resp *resp, char *buf, size_t size);

/* True for statuses worth retrying: 408, 429 and 5xx. */
bool mk_http_retryable(long status);

/* The delay a response's Retry-After asks for (delta-seconds or an HTTP date), in
 * seconds; -1 when it has none. */
double mk_http_retry_after(const struct mk_http_resp *resp);

/* The delay before retry number (attempt) after (resp) (NULL after a transport error):
 * what Retry-After asks, but never less than (backoff). */
double mk_http_retry_delay(const struct mk_http_resp *resp, double backoff);

/* Appends (s) percent-encoded (everything but RFC 3986 unreserved characters), for a
 * query value or one path segment. */
int mk_http_escape(struct mk_buf *b, const char *s);

/* Writes (url) without user info, query string and fragment into (buf), for messages. */
void mk_http_redact_url(const char *url, char *buf, size_t size);
/* The host of (url) as curl reads it, lower-case and without user, port or brackets, into
 * (host); whether the scheme is https into (*https). false when curl cannot read (url) (no
 * scheme, no host) or (host) is too small. */
bool mk_http_url_host(const char *url, char *host, size_t size, bool *https);
/* 127.0.0.0/8, ::1 or localhost. */
bool mk_http_is_loopback(const char *host);
/* Whether (url) may carry a credential: https, or plain http to a loopback host, or plain
 * http when (allow_http) (the user opted in). Otherwise an MK_EINVAL error naming (what). */
int mk_http_check_secure(struct mk_ctx *ctx, const char *what, const char *url, bool allow_http);

/* Sleeps (seconds), waking early with MK_ECANCELED when (ctx) is cancelled. */
int mk_http_sleep(struct mk_ctx *ctx, double seconds);

#endif
