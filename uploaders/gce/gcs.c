/* gcs.c: Cloud Storage buckets and objects for the GCE uploader: the bucket check (and
 * creation), reading an object's metadata, and deleting a staged object. Uploads are in
 * gcs_upload.c. */
#include <stdlib.h>
#include <string.h>

#include "gce_private.h"

static int object_url(struct mk_buf *b, struct gce *g, const char *object)
{
    if (mk_buf_addf(b, "%s/storage/v1/b/", g->storage_base) < 0 ||
        mk_http_escape(b, g->bucket) < 0 || mk_buf_adds(b, "/o/") < 0 ||
        mk_http_escape(b, object) < 0)
        return MK_ENOMEM;
    return MK_OK;
}

int gcs_bucket_check(struct mk_ctx *ctx, struct gce *g, bool create)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *body = NULL;
    char *text = NULL;
    int r;

    mk_http_resp_init(&resp);
    if (mk_buf_addf(&url, "%s/storage/v1/b/", g->storage_base) < 0 ||
        mk_http_escape(&url, g->bucket) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r < 0 || resp.status == 200)
        goto out;
    if (resp.status != 404) {
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, "bucket check", &resp);
        goto out;
    }
    if (!create) {
        r = mk_set_error(ctx, MK_ENOTFOUND,
                         "bucket '%s' does not exist (create it, or pass --create-bucket)",
                         g->bucket);
        goto out;
    }
    mk_buf_reset(&url);
    body = json_pack("{s:s}", "name", g->bucket);
    if (body && g->storage_location)
        json_object_set_new(body, "location", json_string(g->storage_location));
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text || mk_buf_addf(&url, "%s/storage/v1/b?project=", g->storage_base) < 0 ||
        mk_http_escape(&url, g->project) < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = gce_call(ctx, g, "POST", url.buf, text, &resp);
    if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 409 ? MK_EEXIST : MK_EHTTP, "creating the bucket",
                          &resp);
    if (r == MK_OK)
        mk_log(ctx, MK_LOG_INFO, "created bucket %s", g->bucket);
out:
    free(text);
    json_decref(body);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gcs_object_delete(struct mk_ctx *ctx, struct gce *g, const char *object)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (object_url(&url, g, object) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "DELETE", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status / 100 != 2 && resp.status != 404)
        r = mk_http_error(ctx, MK_EHTTP, "deleting the staged object", &resp);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}

int gcs_object_get(struct mk_ctx *ctx, struct gce *g, const char *object, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    if (object_url(&url, g, object) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_call(ctx, g, "GET", url.buf, NULL, &resp);
    if (r == MK_OK && resp.status == 404)
        r = mk_set_error(ctx, MK_ENOTFOUND, "gs://%s/%s: no such object (or no such bucket)",
                         g->bucket, object);
    else if (r == MK_OK && resp.status != 200)
        r = mk_http_error(ctx, resp.status == 403 ? MK_EAUTH : MK_EHTTP, "reading the object's "
                          "metadata", &resp);
    else if (r == MK_OK)
        r = gce_json(ctx, "the object's metadata", &resp, ret);
    mk_buf_release(&url);
    mk_http_resp_release(&resp);
    return r;
}
