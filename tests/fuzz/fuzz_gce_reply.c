/* fuzz_gce_reply.c: what Compute Engine and Cloud Storage answer, as a hostile or broken
 * server could send it. The first byte picks the reader ('0'-'4' name them; any byte works,
 * modulo 8), the rest is the answer:
 *   0  an Operation (gce_op_read), from a mutating call or a poll
 *   1  a resumable upload's answer to a chunk or a status query (gcs_parse_answer): the
 *      next byte picks the status ('0' 308, '1' 200, '2' 201, '4' 503...), then header lines
 *      up to a blank line, then the body; the headers' Retry-After is read too, and their
 *      Location (a new session's URL) as the upload judges where the token may go: the host
 *      found must be the one curl connects to
 *   2  a serial port read (gce_serial_parse)
 *   3  a group, then its listManagedInstances answers, NUL-separated (gce_group_read, polled
 *      once per list with what the polls before saw)
 *   4  a group's listErrors (gce_group_errors)
 * and every body is also read as an error answer (mk_http_error_text).
 * The seeds are tests/fuzz/corpus/gce_reply/, answers as tests/servers/fake_gce*.py send them.
 * options: -max_len=8192
 */
#include <math.h>
#include <strings.h>

#include <curl/curl.h>

#include "deploy.h"
#include "fuzz_http.h"

static const long gcs_statuses[] = {308, 200, 201, 308, 503, 400, 410, 308};

/* The body as JSON, as gce_json() takes it from a response: an object or an error. */
static json_t *body_json(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    struct mk_http_resp resp;
    json_t *j = NULL;
    int r;

    mk_http_resp_init(&resp);
    resp.status = 200;
    if (mk_buf_add(&resp.body, data, size) < 0)
        abort();
    r = gce_json(ctx, "the answer", &resp, &j);
    fuzz_check_error(ctx, r);
    mk_http_resp_release(&resp);
    return j;
}

static bool segment(const char *s)
{
    return *s && strcmp(s, ".") && strcmp(s, "..") && !strpbrk(s, "/?#%& \\");
}

static void operation(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    json_t *op = body_json(ctx, data, size);
    struct gce_op st;
    int r;

    if (!op)
        return;
    r = gce_op_read(ctx, "image creation", op, &st);
    fuzz_check_error(ctx, r);
    /* Not done: a name to poll, and at most a zone or a region, each one plain segment of
     * the URL polled. */
    if (r == MK_OK && !st.done &&
        (!st.name || (st.zone && st.region) || !segment(st.name) ||
         (st.zone && !segment(st.zone)) || (st.region && !segment(st.region))))
        abort();
    json_decref(op);
}

/* The upload sends the token to a Location only when mk_http_url_host() finds the storage
 * endpoint's host in it: curl must then connect to that same host. */
static void location(const struct mk_http_resp *resp)
{
    char *loc = mk_http_header(resp, "Location"), host[256], *curl_host = NULL;
    CURLU *u;
    bool https;

    if (!loc || !mk_http_url_host(loc, host, sizeof(host), &https) ||
        strcmp(host, "storage.googleapis.com") || !(u = curl_url())) {
        free(loc);
        return;
    }
    /* As curl reads CURLOPT_URL. */
    if (curl_url_set(u, CURLUPART_URL, loc, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
            CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &curl_host, 0) == CURLUE_OK &&
        strcasecmp(curl_host, host))
        abort();
    curl_free(curl_host);
    curl_url_cleanup(u);
    free(loc);
}

static void gcs_answer(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    struct mk_http_resp resp;
    struct gcs_answer a;
    double after;
    int r;

    if (size)
        fuzz_resp(&resp, gcs_statuses[data[0] % 8], data + 1, size - 1);
    else
        fuzz_resp(&resp, 308, data, 0);
    r = gcs_parse_answer(ctx, &resp, &a);
    fuzz_check_error(ctx, r);
    if ((r == 1) != (a.object != NULL) || (r == 1 && !json_is_object(a.object)))
        abort();
    json_decref(a.object);
    location(&resp);
    after = mk_http_retry_after(&resp);
    if (isnan(after) || after < -1)
        abort();
    mk_http_resp_release(&resp);
}

static void serial_port(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    json_t *out = body_json(ctx, data, size);
    struct gce_serial_chunk c;

    if (!out)
        return;
    gce_serial_parse(out, 4096, &c);
    if (!c.contents)
        abort();
    json_decref(out);
}

static void group(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size, *part = data;
    json_t *grp = NULL, *seen = json_object();
    int autoheals = 0;

    if (!seen)
        abort();
    for (int n = 0; part <= end && n < 8; n++) {
        const uint8_t *nul = memchr(part, 0, (size_t)(end - part));
        size_t len = nul ? (size_t)(nul - part) : (size_t)(end - part);
        json_t *j = body_json(ctx, part, len), *failing = NULL;
        struct gce_group_counts c;

        mk_clear_error(ctx);
        if (n == 0) {
            grp = j;
        } else {
            gce_group_read(grp, j, "web-20240101-abc123", seen, &autoheals, &c, &failing);
            if (c.ready > c.on_new || (failing && !json_is_object(failing)) || autoheals < 0)
                abort();
            json_decref(failing);
            json_decref(j);
        }
        if (!nul)
            break;
        part = nul + 1;
    }
    json_decref(grp);
    json_decref(seen);
}

static void group_errors(struct mk_ctx *ctx, const uint8_t *data, size_t size)
{
    json_t *list = body_json(ctx, data, size);
    char first[300] = "";
    int total = -1, mine;

    if (!list)
        return;
    mine = gce_group_errors(list, "web-20240101-abc123", size % 3, &total, first, sizeof(first));
    if (mine < 0 || mine > total || (mine && !strstr(first, ": ")))
        abort();
    json_decref(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();

    if (!ctx)
        abort();
    if (size) {
        const uint8_t *rest = data + 1;
        size_t n = size - 1;

        switch (data[0] % 8) {
        case 0:
            operation(ctx, rest, n);
            break;
        case 1:
            gcs_answer(ctx, rest, n);
            break;
        case 2:
            serial_port(ctx, rest, n);
            break;
        case 3:
            group(ctx, rest, n);
            break;
        case 4:
            group_errors(ctx, rest, n);
            break;
        default:
            break;
        }
    }
    fuzz_error_text(503, data, size);
    mk_ctx_free(ctx);
    return 0;
}
