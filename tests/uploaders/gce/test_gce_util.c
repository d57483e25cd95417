/* test_gce_util.c: CRC-32C (known answers, chaining, against a bitwise reference), the HTTP
 * helpers (escaping, URL redaction, error texts) and GCE name rules. */
#include "gce_private.h"
#include "unit.h"

static uint32_t crc_bitwise(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;

    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void crc32c_known(void)
{
    uint8_t zeros[32] = {0}, ones[32];
    struct mk_buf b = MK_BUF_INIT;
    uint8_t be[4];

    memset(ones, 0xff, sizeof(ones));
    CHECK_EQ(gce_crc32c(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ(gce_crc32c(0, "", 0), 0);
    /* RFC 3720 B.4 vectors. */
    CHECK_EQ(gce_crc32c(0, zeros, 32), 0x8a9136aau);
    CHECK_EQ(gce_crc32c(0, ones, 32), 0x62a8ab43u);
    /* GCS's form: base64 of the big-endian value. */
    mk_put_be32(be, gce_crc32c(0, "123456789", 9));
    CHECK_OK(NULL, gce_base64(&b, be, 4));
    CHECK_STR(b.buf, "4waSgw==");
    mk_buf_release(&b);
}

static void crc32c_chained(void)
{
    uint8_t data[10007];
    uint32_t seed = 12345, crc = 0;

    for (size_t i = 0; i < sizeof(data); i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    /* Odd split points cross the 8-byte fast path at every alignment. */
    for (size_t off = 0, step = 1; off < sizeof(data); step = step % 13 + 1) {
        size_t n = MK_MIN(step, sizeof(data) - off);
        crc = gce_crc32c(crc, data + off, n);
        off += n;
    }
    CHECK_EQ(crc, crc_bitwise(data, sizeof(data)));
    CHECK_EQ(gce_crc32c(0, data + 3, 5000), crc_bitwise(data + 3, 5000));
}

/* Long runs go three blocks at a time, joined by shifting the registers: every length
 * around the three-block boundaries, at odd offsets, and chained. */
static void crc32c_long(void)
{
    static uint8_t data[3 * 3 * 8192 + 100];
    static const size_t lens[] = {3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 6 * 8192 + 7,
                                  sizeof(data) - 3};
    uint32_t seed = 777;

    for (size_t i = 0; i < sizeof(data); i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (uint8_t)(seed >> 16);
    }
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        CHECK_EQ(gce_crc32c(0, data + 3, lens[i]), crc_bitwise(data + 3, lens[i]));
    CHECK_EQ(gce_crc32c(gce_crc32c(0, data, 5), data + 5, sizeof(data) - 5),
             crc_bitwise(data, sizeof(data)));
}

static void http_helpers(void)
{
    struct mk_buf b = MK_BUF_INIT;
    struct mk_http_resp resp;
    char buf[256];

    CHECK_OK(NULL, mk_http_escape(&b, "img/app v1.tar.gz~"));
    CHECK_STR(b.buf, "img%2Fapp%20v1.tar.gz~");
    mk_buf_release(&b);

    mk_http_redact_url("https://user:pw@host:1/upload/x?upload_id=SECRET#f", buf, sizeof(buf));
    CHECK_STR(buf, "https://host:1/upload/x");
    mk_http_redact_url("http://h/a/b@c?x", buf, sizeof(buf));
    CHECK_STR(buf, "http://h/a/b@c");

    mk_http_resp_init(&resp);
    resp.status = 404;
    mk_buf_adds(&resp.headers, "HTTP/1.1 308 Resume\r\nrange: bytes=0-262143\r\n\r\n");
    char *h = mk_http_header(&resp, "Range");
    CHECK_STR(h, "bytes=0-262143");
    free(h);
    CHECK(mk_http_header(&resp, "Location") == NULL);
    mk_buf_adds(&resp.body, "{\"error\":{\"code\":404,\"message\":\"No such object: b/o\"}}");
    mk_http_error_text(&resp, buf, sizeof(buf));
    CHECK_STR(buf, "No such object: b/o");
    mk_buf_reset(&resp.body);
    mk_buf_adds(&resp.body, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
    mk_http_error_text(&resp, buf, sizeof(buf));
    CHECK_STR(buf, "invalid_grant: Invalid JWT Signature.");
    mk_buf_reset(&resp.body);
    mk_buf_adds(&resp.body, "{\"itemNotFound\":{\"code\":404,\"message\":\"Image x not found\"}}");
    mk_http_error_text(&resp, buf, sizeof(buf));
    CHECK_STR(buf, "Image x not found");
    mk_buf_reset(&resp.body);
    mk_buf_adds(&resp.body, "\nplain text line\nsecond");
    mk_http_error_text(&resp, buf, sizeof(buf));
    CHECK_STR(buf, "plain text line");
    mk_http_resp_release(&resp);

    CHECK(mk_http_retryable(503) && mk_http_retryable(429) && mk_http_retryable(408));
    CHECK(!mk_http_retryable(404) && !mk_http_retryable(308) && !mk_http_retryable(401));
}

/* The host a URL names, as curl will connect to it: the token and the plain-HTTP rule are
 * judged by it. */
static void url_hosts(void)
{
    char host[64];
    bool https = false;

    CHECK(mk_http_url_host("https://storage.googleapis.com/upload/storage/v1/b/b/o?upload_id=x",
                           host, sizeof(host), &https));
    CHECK_STR(host, "storage.googleapis.com");
    CHECK(https);
    CHECK(mk_http_url_host("http://127.0.0.1:8080/x", host, sizeof(host), &https));
    CHECK_STR(host, "127.0.0.1");
    CHECK(!https);
    CHECK(mk_http_url_host("HTTPS://user:pw@Storage.Example:443/x#f", host, sizeof(host),
                           &https));
    CHECK_STR(host, "storage.example");
    CHECK(https);
    CHECK(mk_http_url_host("http://[::1]:9000/v3", host, sizeof(host), &https));
    CHECK_STR(host, "::1");
    CHECK(mk_http_is_loopback(host));
    CHECK(!mk_http_url_host("storage.googleapis.com/x", host, sizeof(host), &https));
    CHECK(!mk_http_url_host("https://", host, sizeof(host), &https));
    CHECK(!mk_http_url_host("https://a-host-name-longer-than-the-buffer-given-for-it.example/",
                            host, 16, &https));
    /* curl reads these as host "tps" and "evil.example"; they once read as the storage host
     * (found by fuzz/gce_reply). */
    const char *tricks[] = {"http:/tps://storage.googleapis.com/upl",
                            "https:/evil.example/x://storage.googleapis.com/",
                            "http:evil.example/?://127.0.0.1/"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(tricks); i++) {
        host[0] = '\0';
        if (mk_http_url_host(tricks[i], host, sizeof(host), &https))
            CHECK(strcmp(host, "storage.googleapis.com") && strcmp(host, "127.0.0.1"));
    }
}

static void names(void)
{
    struct mk_ctx *ctx = mk_ctx_new();

    CHECK_OK(ctx, gce_check_name(ctx, "image name", "a"));
    CHECK_OK(ctx, gce_check_name(ctx, "image name", "app-v1-2-3"));
    CHECK_FAIL(ctx, gce_check_name(ctx, "image name", "App"), MK_EINVAL, "invalid image name 'App'");
    CHECK_FAIL(ctx, gce_check_name(ctx, "image name", "1app"), MK_EINVAL, "invalid");
    CHECK_FAIL(ctx, gce_check_name(ctx, "image name", "app-"), MK_EINVAL, "invalid");
    CHECK_FAIL(ctx, gce_check_name(ctx, "image name", ""), MK_EINVAL, "invalid");
    char long_name[65];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    CHECK_FAIL(ctx, gce_check_name(ctx, "image name", long_name), MK_EINVAL, "invalid");
    long_name[63] = '\0';
    CHECK_OK(ctx, gce_check_name(ctx, "image name", long_name));
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(crc32c_known), UNIT_TEST(crc32c_chained), UNIT_TEST(crc32c_long),
          UNIT_TEST(http_helpers), UNIT_TEST(url_hosts),
          UNIT_TEST(names))
