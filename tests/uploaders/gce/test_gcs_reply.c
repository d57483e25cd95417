/* test_gcs_reply.c: Cloud Storage's answers to a resumable upload's chunks and status
 * queries (gcs_parse_answer): the Range of a 308, the Object of a 200/201, and answers that
 * are neither. */
#include "gce_private.h"
#include "unit.h"
#include "uploaders/canned_answer.h"

static int parse(struct mk_ctx *ctx, long status, const char *headers, const char *body,
                 struct gcs_answer *a)
{
    struct mk_http_resp resp;
    int r;

    canned_answer(&resp, status, headers, body);
    r = gcs_parse_answer(ctx, &resp, a);
    mk_http_resp_release(&resp);
    return r;
}

static void incomplete(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gcs_answer a;

    CHECK_EQ(parse(ctx, 308, "Range: bytes=0-262143\r\nContent-Length: 0\r\n", "", &a), 0);
    CHECK_EQ(a.held, 262144);
    CHECK(a.object == NULL);
    CHECK_EQ(parse(ctx, 308, "range:  bytes=0-0 \r\n", "", &a), 0);
    CHECK_EQ(a.held, 1);
    /* No Range: the server holds nothing yet. */
    CHECK_EQ(parse(ctx, 308, "Content-Type: text/plain\r\n", "", &a), 0);
    CHECK_EQ(a.held, 0);
    CHECK_EQ(parse(ctx, 308, "Range: bytes=0-1099511627775\r\n", "", &a), 0);
    CHECK_EQ(a.held, 1ull << 40);
    mk_ctx_free(ctx);
}

static void complete(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gcs_answer a;

    CHECK_EQ(parse(ctx, 200, "Content-Type: application/json\r\n",
                   "{\"kind\": \"storage#object\", \"name\": \"disk.tar.gz\", \"bucket\": \"b\", "
                   "\"generation\": \"7\", \"size\": \"1024\", \"md5Hash\": "
                   "\"1B2M2Y8AsgTpgAmY7PhCfg==\", \"crc32c\": \"AAAAAA==\"}", &a), 1);
    CHECK_STR(json_string_value(json_object_get(a.object, "size")), "1024");
    CHECK_STR(json_string_value(json_object_get(a.object, "generation")), "7");
    json_decref(a.object);
    CHECK_EQ(parse(ctx, 201, "", "{}", &a), 1);
    CHECK(json_is_object(a.object));
    json_decref(a.object);
    mk_ctx_free(ctx);
}

static void refused(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gcs_answer a;

    CHECK_FAIL(ctx, parse(ctx, 200, "", "", &a), MK_EHTTP, "without an object");
    CHECK_FAIL(ctx, parse(ctx, 200, "", "[1, 2]", &a), MK_EHTTP, "without an object");
    CHECK_FAIL(ctx, parse(ctx, 201, "", "{\"size\": \"1\"", &a), MK_EHTTP, "without an object");
    CHECK(a.object == NULL);
    CHECK_FAIL(ctx, parse(ctx, 503, "", "{}", &a), MK_EHTTP, "unexpected HTTP 503");
    CHECK_FAIL(ctx, parse(ctx, 206, "Range: bytes=0-5\r\n", "", &a), MK_EHTTP,
               "unexpected HTTP 206");
    /* Ranges that do not start at 0, or are not numbers. */
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=5-10\r\n", "", &a), MK_EHTTP,
               "unreadable Range header");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes 0-10\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0-10x\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: 262143\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0-99999999999999999999\r\n", "", &a),
               MK_EHTTP, "unreadable Range");
    /* Once read as 1 byte held, and as 0 bytes (the end wrapping around). */
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0-\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0--1\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0-18446744073709551615\r\n", "", &a),
               MK_EHTTP, "unreadable Range");
    CHECK_FAIL(ctx, parse(ctx, 308, "Range: bytes=0- 5\r\n", "", &a), MK_EHTTP,
               "unreadable Range");
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(incomplete), UNIT_TEST(complete), UNIT_TEST(refused))
