/* test_glance_replies.c: Glance's answers read apart from the calls: the image schema's disk
 * formats (glance_parse_formats), the image list (glance_parse_image_list), a created
 * image's id (glance_parse_created), an image's phase (glance_image_phase), and how the
 * images of a name are judged for leftovers (os_leftover_kind). */
#include "openstack_private.h"
#include "unit.h"
#include "uploaders/canned_answer.h"

#define ID "6a3c1a4e-2b6f-4f3e-9d1e-0c5b8e7d9a21"
#define MARK "0123456789abcdef0123456789abcdef"

static struct os_cloud cloud = {.name = "devstack"};
static struct os_state st = {.cloud = &cloud, .name = "app"};

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    CHECK(j != NULL);
    return j;
}

static int formats(struct mk_ctx *ctx, long status, const char *body, struct glance_formats *f)
{
    struct mk_http_resp resp;
    int r;

    canned_answer(&resp, status, NULL, body);
    r = glance_parse_formats(ctx, &resp, f);
    mk_http_resp_release(&resp);
    return r;
}

static void schema(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct glance_formats f;

    /* Glance's own schema: null first, then every format it knows. */
    CHECK_EQ(formats(ctx, 200, "{\"name\": \"image\", \"properties\": {\"disk_format\": "
                     "{\"description\": \"Format of the disk\", \"type\": [\"null\", "
                     "\"string\"], \"enum\": [null, \"ami\", \"ari\", \"aki\", \"vhd\", "
                     "\"vhdx\", \"vmdk\", \"raw\", \"qcow2\", \"vdi\", \"iso\", \"ploop\"]}}}",
                     &f), 1);
    CHECK(f.raw && f.qcow2);
    CHECK_STR(f.allowed, "ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop");
    free(f.allowed);
    CHECK_EQ(formats(ctx, 200, "{\"properties\": {\"disk_format\": {\"enum\": [\"qcow2\"]}}}",
                     &f), 1);
    CHECK(!f.raw && f.qcow2);
    CHECK_STR(f.allowed, "qcow2");
    free(f.allowed);
    CHECK_EQ(formats(ctx, 200, "{\"properties\": {\"disk_format\": {\"enum\": [null, 3]}}}",
                     &f), 1);
    CHECK(!f.raw && !f.qcow2);
    CHECK_STR(f.allowed, "none");
    free(f.allowed);
    /* Not said: another status, no schema, no enum. */
    CHECK_EQ(formats(ctx, 404, "{\"properties\": {\"disk_format\": {\"enum\": [\"raw\"]}}}",
                     &f), 0);
    CHECK_EQ(formats(ctx, 200, "<html>not found</html>", &f), 0);
    CHECK_EQ(formats(ctx, 200, "{\"properties\": {\"disk_format\": {\"type\": \"string\"}}}",
                     &f), 0);
    CHECK(f.allowed == NULL);
    mk_ctx_free(ctx);
}

static void image_list(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_http_resp resp;
    json_t *found = NULL;

    canned_answer(&resp, 200, NULL,
                  "{\"images\": ["
                  "{\"id\": \"" ID "\", \"name\": \"app\", \"status\": \"active\"},"
                  "{\"id\": \"other\", \"name\": \"apps\", \"status\": \"active\"},"
                  "{\"name\": \"app\", \"status\": \"queued\"},"
                  "{\"id\": 7, \"name\": \"app\"},"
                  "{\"id\": \"q\", \"name\": \"app\", \"status\": \"queued\"}],"
                  " \"first\": \"/v2/images?name=app\", \"schema\": \"/v2/schemas/images\"}");
    CHECK_OK(ctx, glance_parse_image_list(ctx, &st, &resp, &found));
    CHECK_EQ(json_array_size(found), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(found, 0), "id")), ID);
    CHECK_STR(json_string_value(json_object_get(json_array_get(found, 1), "id")), "q");
    json_decref(found);
    mk_http_resp_release(&resp);
    canned_answer(&resp, 200, NULL, "{\"images\": []}");
    CHECK_OK(ctx, glance_parse_image_list(ctx, &st, &resp, &found));
    CHECK_EQ(json_array_size(found), 0);
    json_decref(found);
    mk_http_resp_release(&resp);
    const char *bad[] = {"", "[]", "{\"images\": {}}", "{\"image\": []}", "<html></html>"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
        canned_answer(&resp, 200, NULL, bad[i]);
        CHECK_FAIL(ctx, glance_parse_image_list(ctx, &st, &resp, &found), MK_EHTTP,
                   "cloud 'devstack': Glance's image list is not JSON");
        mk_http_resp_release(&resp);
    }
    mk_ctx_free(ctx);
}

static void created(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_http_resp resp;
    char *id = NULL;

    canned_answer(&resp, 201, NULL,
                  "{\"id\": \"" ID "\", \"name\": \"app\", \"status\": \"queued\", "
                  "\"disk_format\": \"raw\", \"container_format\": \"bare\", \"visibility\": "
                  "\"private\", \"size\": null, \"checksum\": null, \"self\": \"/v2/images/" ID
                  "\", \"file\": \"/v2/images/" ID "/file\", \"schema\": \"/v2/schemas/image\"}");
    CHECK_OK(ctx, glance_parse_created(ctx, &st, &resp, &id));
    CHECK_STR(id, ID);
    free(id);
    mk_http_resp_release(&resp);
    const char *bad[] = {"{}", "{\"id\": \"\"}", "{\"id\": 12}", "", "[\"" ID "\"]"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
        id = NULL;
        canned_answer(&resp, 201, NULL, bad[i]);
        CHECK_FAIL(ctx, glance_parse_created(ctx, &st, &resp, &id), MK_EHTTP,
                   "cloud 'devstack': Glance created image 'app' but gave no id");
        CHECK(id == NULL);
        mk_http_resp_release(&resp);
    }
    mk_ctx_free(ctx);
}

static void phases(void)
{
    const char *busy[] = {"queued", "saving", "uploading", "importing"};
    const char *failed[] = {"killed", "deleted", "pending_delete", "deactivated", "Active", ""};
    const char *status;
    char text[128];
    json_t *j;

    j = load("{\"id\": \"" ID "\", \"status\": \"active\", \"size\": 1073741824, "
             "\"checksum\": \"d41d8cd98f00b204e9800998ecf8427e\"}");
    CHECK_EQ(glance_image_phase(j, &status), GLANCE_ACTIVE);
    CHECK_STR(status, "active");
    json_decref(j);
    for (size_t i = 0; i < MK_ARRAY_SIZE(busy); i++) {
        snprintf(text, sizeof(text), "{\"status\": \"%s\"}", busy[i]);
        j = load(text);
        CHECK_EQ(glance_image_phase(j, &status), GLANCE_BUSY);
        CHECK_STR(status, busy[i]);
        json_decref(j);
    }
    for (size_t i = 0; i < MK_ARRAY_SIZE(failed); i++) {
        snprintf(text, sizeof(text), "{\"status\": \"%s\"}", failed[i]);
        j = load(text);
        CHECK_EQ(glance_image_phase(j, &status), GLANCE_FAILED);
        json_decref(j);
    }
    j = load("{\"status\": 1}");
    CHECK_EQ(glance_image_phase(j, &status), GLANCE_FAILED);
    CHECK(status == NULL);
    json_decref(j);
    CHECK_EQ(glance_image_phase(NULL, &status), GLANCE_FAILED);
}

static void leftovers(void)
{
    struct {
        const char *json;
        enum os_leftover kind;
    } cases[] = {
        {"{\"status\": \"active\", \"" OS_SOURCE_PROPERTY "\": \"" MARK "\"}",
         OS_LEFTOVER_OURS_ACTIVE},
        {"{\"status\": \"queued\", \"" OS_SOURCE_PROPERTY "\": \"" MARK "\"}",
         OS_LEFTOVER_OURS_UNFINISHED},
        {"{\"status\": \"killed\", \"" OS_SOURCE_PROPERTY "\": \"" MARK "\"}",
         OS_LEFTOVER_OURS_UNFINISHED},
        {"{\"status\": \"deactivated\", \"" OS_SOURCE_PROPERTY "\": \"" MARK "\"}",
         OS_LEFTOVER_OTHER},
        {"{\"" OS_SOURCE_PROPERTY "\": \"" MARK "\"}", OS_LEFTOVER_OTHER},
        {"{\"status\": \"queued\", \"" OS_SOURCE_PROPERTY "\": \"ffff\"}", OS_LEFTOVER_OTHER},
        {"{\"status\": \"queued\"}", OS_LEFTOVER_OTHER},
        {"{\"status\": \"active\", \"" OS_SOURCE_PROPERTY "\": 5}", OS_LEFTOVER_OTHER},
    };

    for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
        json_t *j = load(cases[i].json);

        CHECK_EQ(os_leftover_kind(j, MARK), cases[i].kind);
        json_decref(j);
    }
}

UNIT_MAIN(UNIT_TEST(schema), UNIT_TEST(image_list), UNIT_TEST(created), UNIT_TEST(phases),
          UNIT_TEST(leftovers))
