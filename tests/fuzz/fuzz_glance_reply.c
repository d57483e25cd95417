/* fuzz_glance_reply.c: what Glance answers, as a hostile or broken server could send it. The
 * first byte picks the reader ('0'-'3' name them; any byte works, modulo 4), the rest is the
 * body:
 *   0  the image schema's disk formats (glance_parse_formats)
 *   1  the image list (glance_parse_image_list), then each image found as leftovers judge it
 *      (os_leftover_kind) and as the wait and the check do (glance_image_phase, glance_verify)
 *   2  a created image (glance_parse_created)
 *   3  an image record, as the wait and the check read it
 * and every body is also read as an error answer (os_http_error, markup and schema dumps
 * cut).
 * The seeds are tests/fuzz/corpus/glance_reply/, Glance v2's answers as a real Glance sends
 * them.
 * options: -max_len=8192
 */
#include "fuzz.h"
#include "openstack_private.h"

#define MD5 "d41d8cd98f00b204e9800998ecf8427e"
#define MARK "0123456789abcdef0123456789abcdef"

static struct os_cloud cloud = {.name = "devstack"};

static void check_image(struct mk_ctx *ctx, struct os_state *st, json_t *img)
{
    enum glance_phase phase;
    const char *status;
    int r;

    phase = glance_image_phase(img, &status);
    if (phase == GLANCE_ACTIVE && (!status || strcmp(status, "active")))
        abort();
    if (phase == GLANCE_BUSY && !status)
        abort();
    r = glance_verify(ctx, st, img, MD5);
    fuzz_check_error(ctx, r);
    mk_clear_error(ctx);
    (void)os_leftover_kind(img, MARK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_state st = {.cloud = &cloud, .name = "app", .image_id = "6a3c1a4e", .sent = 1024};
    struct mk_http_resp resp;
    int r;

    if (!ctx)
        abort();
    mk_http_resp_init(&resp);
    resp.status = 200;
    if (mk_buf_add(&resp.body, data + !!size, size - !!size) < 0)
        abort();
    switch (size ? data[0] % 4 : 0) {
    case 0: {
        struct glance_formats f;

        r = glance_parse_formats(ctx, &resp, &f);
        fuzz_check_error(ctx, r);
        if (r == 1 && (!f.allowed || !*f.allowed || (f.raw && !strstr(f.allowed, "raw")) ||
                       (f.qcow2 && !strstr(f.allowed, "qcow2"))))
            abort();
        if (r != 1 && f.allowed)
            abort();
        free(f.allowed);
        break;
    }
    case 1: {
        json_t *found = NULL, *img;
        size_t i;

        r = glance_parse_image_list(ctx, &st, &resp, &found);
        fuzz_check_error(ctx, r);
        json_array_foreach(found, i, img) {
            const char *name = json_string_value(json_object_get(img, "name"));

            if (!name || strcmp(name, "app") || !json_is_string(json_object_get(img, "id")))
                abort();
            check_image(ctx, &st, img);
        }
        json_decref(found);
        break;
    }
    case 2: {
        char *id = NULL;

        r = glance_parse_created(ctx, &st, &resp, &id);
        fuzz_check_error(ctx, r);
        if ((r == MK_OK) != (id != NULL) || (id && !*id))
            abort();
        free(id);
        break;
    }
    case 3: {
        json_t *img = json_loadb(resp.body.buf, resp.body.len, 0, NULL);

        check_image(ctx, &st, img);
        json_decref(img);
        break;
    }
    }
    resp.status = 400;
    r = os_http_error(ctx, MK_EINVAL, &resp, "cloud 'devstack': Glance refused to create image "
                      "'app' (disk_format raw)");
    fuzz_check_error(ctx, r);
    mk_http_resp_release(&resp);
    mk_ctx_free(ctx);
    return 0;
}
