/* test_gce_compute_replies.c: Compute Engine's answers read apart from the calls: an
 * Operation (gce_op_read: done or not, its error, where to poll it) and a serial port read
 * (gce_serial_parse). */
#include "gce_private.h"
#include "unit.h"

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    CHECK(j != NULL);
    return j;
}

/* As fake_gce_common.py makes them. */
#define OP_FIELDS                                                                            \
    "\"kind\": \"compute#operation\", \"id\": \"17\", \"name\": "                            \
    "\"operation-1700000000000-5f1a2b3c4d5e\", \"operationType\": \"insert\", "                \
    "\"targetLink\": \"https://compute.example/compute/v1/projects/p/global/images/app\", "  \
    "\"progress\": 0, \"insertTime\": \"2024-01-01T00:00:00.000-08:00\""

static void pending(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_op op;
    json_t *j;

    j = load("{" OP_FIELDS ", \"status\": \"PENDING\"}");
    CHECK_OK(ctx, gce_op_read(ctx, "image creation", j, &op));
    CHECK(!op.done && !op.zone && !op.region);
    CHECK_STR(op.name, "operation-1700000000000-5f1a2b3c4d5e");
    json_decref(j);
    j = load("{" OP_FIELDS ", \"status\": \"RUNNING\", \"zone\": "
             "\"https://compute.example/compute/v1/projects/p/zones/europe-west1-b\"}");
    CHECK_OK(ctx, gce_op_read(ctx, "image creation", j, &op));
    CHECK(!op.done && !op.region);
    CHECK_STR(op.zone, "europe-west1-b");
    json_decref(j);
    j = load("{" OP_FIELDS ", \"status\": \"RUNNING\", \"region\": "
             "\"https://compute.example/compute/v1/projects/p/regions/us-east1\"}");
    CHECK_OK(ctx, gce_op_read(ctx, "image creation", j, &op));
    CHECK(!op.done && !op.zone);
    CHECK_STR(op.region, "us-east1");
    json_decref(j);
    /* A zone that is no URL: polled as a global operation. */
    j = load("{\"name\": \"op\", \"zone\": \"europe-west1-b\"}");
    CHECK_OK(ctx, gce_op_read(ctx, "x", j, &op));
    CHECK(!op.zone && !op.region);
    json_decref(j);
    mk_ctx_free(ctx);
}

static void done(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_op op;
    json_t *j;

    j = load("{" OP_FIELDS ", \"status\": \"DONE\", \"progress\": 100}");
    CHECK_OK(ctx, gce_op_read(ctx, "image creation", j, &op));
    CHECK(op.done);
    json_decref(j);
    /* Done needs no name. */
    j = load("{\"status\": \"DONE\"}");
    CHECK_OK(ctx, gce_op_read(ctx, "image creation", j, &op));
    CHECK(op.done);
    json_decref(j);
    j = load("{" OP_FIELDS ", \"status\": \"DONE\", \"httpErrorStatusCode\": 400, "
             "\"httpErrorMessage\": \"BAD REQUEST\", \"error\": {\"errors\": [{\"code\": "
             "\"INVALID_USAGE\", \"message\": \"The GCS object is not a valid tar.gz\"}, "
             "{\"code\": \"QUOTA_EXCEEDED\"}]}}");
    CHECK_FAIL(ctx, gce_op_read(ctx, "image creation", j, &op), MK_EHTTP,
               "image creation failed: INVALID_USAGE: The GCS object is not a valid tar.gz; "
               "QUOTA_EXCEEDED: (no message)");
    CHECK(op.done);
    json_decref(j);
    j = load("{\"status\": \"DONE\", \"httpErrorStatusCode\": 403, \"error\": {}}");
    CHECK_FAIL(ctx, gce_op_read(ctx, "deleting the instance", j, &op), MK_EHTTP,
               "deleting the instance failed: HTTP 403: failed");
    CHECK(op.done);
    json_decref(j);
    mk_ctx_free(ctx);
}

static void not_an_operation(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_op op;
    const char *bodies[] = {"{}", "{\"status\": \"RUNNING\"}", "{\"name\": 12}",
                            "{\"kind\": \"compute#image\", \"status\": \"READY\"}"};

    for (size_t i = 0; i < MK_ARRAY_SIZE(bodies); i++) {
        json_t *j = load(bodies[i]);

        CHECK_FAIL(ctx, gce_op_read(ctx, "image creation", j, &op), MK_EHTTP,
                   "image creation: the answer is not an Operation");
        CHECK(!op.done);
        json_decref(j);
    }
    mk_ctx_free(ctx);
}

/* The name, zone and region go into the URL polled with the bearer token: each must be
 * one plain path segment. */
static void unpollable(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_op op;
    const char *bodies[] = {
        "{\"name\": \"../../global/images/app?alt=media\"}",
        "{\"name\": \"op#x\"}",
        "{\"name\": \"\"}",
        "{\"name\": \"..\"}",
        "{\"name\": \"op 1\"}",
        "{\"name\": \"op\", \"zone\": \"https://c/projects/p/zones/\"}",
        "{\"name\": \"op\", \"region\": \"https://c/projects/p/regions/us%2f..\"}",
        "{\"name\": \"op\", \"zone\": \"https://c/projects/p/zones/a?b\"}"};

    for (size_t i = 0; i < MK_ARRAY_SIZE(bodies); i++) {
        json_t *j = load(bodies[i]);

        CHECK_FAIL(ctx, gce_op_read(ctx, "image creation", j, &op), MK_EHTTP,
                   "image creation: the Operation's name, zone or region is not one GCE gives");
        json_decref(j);
    }
    mk_ctx_free(ctx);
}

static void serial_port(void)
{
    struct gce_serial_chunk c;
    json_t *j;

    /* As fake_gce_vm.py answers: at most half of what there is, "next" to follow. */
    j = load("{\"kind\": \"compute#serialPortOutput\", \"contents\": \"GRUB loading.\\r\\n\", "
             "\"start\": \"0\", \"next\": \"16\"}");
    gce_serial_parse(j, 0, &c);
    CHECK_STR(c.contents, "GRUB loading.\r\n");
    CHECK_EQ(c.start, 0);
    CHECK_EQ(c.next, 16);
    json_decref(j);
    /* Overwritten before it was read: it starts past where we asked. */
    j = load("{\"contents\": \"late\", \"start\": \"1048576\", \"next\": \"1048580\"}");
    gce_serial_parse(j, 1000, &c);
    CHECK_EQ(c.start, 1048576);
    CHECK_EQ(c.next, 1048580);
    json_decref(j);
    /* Nothing said: nothing read, stay where we are. */
    j = load("{\"kind\": \"compute#serialPortOutput\"}");
    gce_serial_parse(j, 77, &c);
    CHECK_STR(c.contents, "");
    CHECK_EQ(c.start, 77);
    CHECK_EQ(c.next, 77);
    json_decref(j);
    j = load("{\"contents\": 5, \"start\": 3, \"next\": null}");
    gce_serial_parse(j, 9, &c);
    CHECK_STR(c.contents, "");
    CHECK_EQ(c.start, 9);
    CHECK_EQ(c.next, 9);
    json_decref(j);
}

UNIT_MAIN(UNIT_TEST(pending), UNIT_TEST(done), UNIT_TEST(not_an_operation),
          UNIT_TEST(unpollable), UNIT_TEST(serial_port))
