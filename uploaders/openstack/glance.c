/* glance.c: the Glance v2 calls of the OpenStack uploader: listing, creating, deleting and
 * waiting for images, the disk formats Glance allows, and the check of what it stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openstack_private.h"

/* How long Glance may take to turn an uploaded image active (a store copying a big file). */
#define ACTIVE_TIMEOUT 1800.0

int glance_call(struct mk_ctx *ctx, struct os_state *st, const char *method, const char *url,
                const char *body, struct mk_http_resp *resp)
{
    int r = MK_OK;

    for (int attempt = 0; r >= 0 && attempt < 2; attempt++) {
        r = os_renew_token(ctx, st, attempt > 0);
        if (r < 0)
            break;
        const char *headers[] = {st->auth_header, "Accept: application/json",
                                 body ? "Content-Type: application/json" : NULL, NULL};
        r = mk_http_do(ctx, st->http,
                       &(struct mk_http_req){.method = method, .url = url, .headers = headers,
                                             .body = body, .body_len = body ? strlen(body) : 0,
                                             .timeout = 300},
                       resp);
        if (r < 0) {
            mk_error_prefix(ctx, "cloud '%s': Glance", st->cloud->name);
            break;
        }
        /* A token can be revoked or expire early (a password change, a clock skew): one
         * more try with a new one, as openstackclient does. */
        if (resp->status != 401)
            break;
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': Glance refused the token; authenticating again",
               st->cloud->name);
    }
    return r;
}

int glance_status_code(long status)
{
    switch (status) {
    case 400:
        return MK_EINVAL;
    case 401:
    case 403:
        return MK_EAUTH;
    case 404:
        return MK_ENOTFOUND;
    case 409:
        return MK_EEXIST;
    case 413:
        return MK_ENOSPC;
    default:
        return MK_EHTTP;
    }
}

int glance_image_url(struct mk_ctx *ctx, struct os_state *st, const char *id, const char *tail,
                     struct mk_buf *url)
{
    if (mk_buf_addf(url, "%s/", st->images_url) < 0 || mk_http_escape(url, id) < 0 ||
        mk_buf_adds(url, tail) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

/* {glance}/v2/images from the catalog's URL, which is normally unversioned. */
int glance_set_endpoint(struct mk_ctx *ctx, struct os_state *st, const char *endpoint)
{
    struct mk_buf b = MK_BUF_INIT;
    size_t n = strlen(endpoint);

    while (n && endpoint[n - 1] == '/')
        n--;
    if (mk_buf_add(&b, endpoint, n) < 0 ||
        mk_buf_adds(&b, n >= 3 && !strncmp(endpoint + n - 3, "/v2", 3) ? "/images"
                                                                       : "/v2/images") < 0) {
        mk_buf_release(&b);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    free(st->images_url);
    st->images_url = mk_buf_detach(&b, NULL);
    return MK_OK;
}

int glance_parse_formats(struct mk_ctx *ctx, const struct mk_http_resp *resp,
                         struct glance_formats *ret)
{
    json_t *root = resp->status == 200 ? json_loadb(resp->body.buf, resp->body.len, 0, NULL)
                                       : NULL, *v, *item;
    struct mk_buf text = MK_BUF_INIT;
    size_t i;
    int r = 1;

    memset(ret, 0, sizeof(*ret));
    v = json_object_get(json_object_get(json_object_get(root, "properties"), "disk_format"),
                        "enum");
    if (!json_is_array(v)) {
        json_decref(root);
        return 0;
    }
    json_array_foreach(v, i, item) {
        const char *f = json_string_value(item);

        if (!f)
            continue;
        ret->raw |= !strcmp(f, "raw");
        ret->qcow2 |= !strcmp(f, "qcow2");
        mk_buf_addf(&text, "%s%s", text.len ? ", " : "", f);
    }
    ret->allowed = text.len ? mk_buf_detach(&text, NULL) : strdup("none");
    if (!ret->allowed)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_decref(root);
    mk_buf_release(&text);
    return r;
}

int glance_read_formats(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    struct glance_formats f;
    size_t n = strlen(st->images_url);
    int r;

    mk_http_resp_init(&resp);
    /* {glance}/v2/images -> {glance}/v2/schemas/image */
    if (mk_buf_add(&url, st->images_url, n - strlen("images")) < 0 ||
        mk_buf_adds(&url, "schemas/image") < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = glance_call(ctx, st, "GET", url.buf, NULL, &resp);
    if (r < 0)
        goto out;
    r = glance_parse_formats(ctx, &resp, &f);
    if (r == 0) {
        /* An older or stricter Glance without the schema: let it judge the request. */
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': Glance does not say which disk formats it takes "
               "(HTTP %ld from %s); trying", st->cloud->name, resp.status, url.buf);
        st->allow_raw = st->allow_qcow2 = true;
    } else if (r > 0) {
        st->allow_raw = f.raw;
        st->allow_qcow2 = f.qcow2;
        free(st->allowed);
        st->allowed = f.allowed;
        r = MK_OK;
    }
out:
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

int glance_delete_image(struct mk_ctx *ctx, struct os_state *st, const char *id)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r;

    mk_http_resp_init(&resp);
    r = glance_image_url(ctx, st, id, "", &url);
    if (r >= 0)
        r = glance_call(ctx, st, "DELETE", url.buf, NULL, &resp);
    if (r >= 0 && resp.status != 204 && resp.status != 200 && resp.status != 404)
        r = os_http_error(ctx, glance_status_code(resp.status), &resp,
                          "cloud '%s': cannot delete image %s", st->cloud->name, id);
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

int glance_parse_image_list(struct mk_ctx *ctx, const struct os_state *st,
                            const struct mk_http_resp *resp, json_t **ret)
{
    json_t *root = json_loadb(resp->body.buf, resp->body.len, 0, NULL), *found, *img;
    size_t i;

    if (!json_is_array(json_object_get(root, "images"))) {
        json_decref(root);
        return mk_set_error(ctx, MK_EHTTP, "cloud '%s': Glance's image list is not JSON",
                            st->cloud->name);
    }
    if (!(found = json_array())) {
        json_decref(root);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    json_array_foreach(json_object_get(root, "images"), i, img) {
        const char *n = json_string_value(json_object_get(img, "name"));

        if (n && !strcmp(n, st->name) && json_is_string(json_object_get(img, "id")))
            json_array_append(found, img);
    }
    json_decref(root);
    *ret = found;
    return MK_OK;
}

int glance_find_by_name(struct mk_ctx *ctx, struct os_state *st, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    int r = MK_OK;

    mk_http_resp_init(&resp);
    if (mk_buf_addf(&url, "%s?limit=1000&name=", st->images_url) < 0 ||
        mk_http_escape(&url, st->name) < 0 ||
        (st->sess.project_id && (mk_buf_adds(&url, "&owner=") < 0 ||
                                 mk_http_escape(&url, st->sess.project_id) < 0))) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = glance_call(ctx, st, "GET", url.buf, NULL, &resp);
    if (r < 0)
        goto out;
    if (resp.status != 200) {
        r = os_http_error(ctx, glance_status_code(resp.status), &resp,
                          "cloud '%s': cannot list images", st->cloud->name);
        goto out;
    }
    r = glance_parse_image_list(ctx, st, &resp, ret);
out:
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

int glance_parse_created(struct mk_ctx *ctx, const struct os_state *st,
                         const struct mk_http_resp *resp, char **ret_id)
{
    json_t *root = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(root, "id"));
    int r = MK_OK;

    if (!id || !*id)
        r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': Glance created image '%s' but gave no id",
                         st->cloud->name, st->name);
    else if (!(*ret_id = strdup(id)))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    json_decref(root);
    return r;
}

int glance_create_image(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_http_resp resp;
    char *body = NULL;
    int r;

    mk_http_resp_init(&resp);
    r = os_create_body(ctx, st, &body);
    if (r >= 0)
        r = glance_call(ctx, st, "POST", st->images_url, body, &resp);
    if (r < 0)
        goto out;
    if (resp.status == 400 && st->disk_format && glance_read_formats(ctx, st) == MK_OK &&
        (!strcmp(st->format, "qcow2") ? !st->allow_qcow2 : !st->allow_raw)) {
        r = mk_set_error(ctx, MK_EUNSUPPORTED, "cloud '%s': Glance accepts only %s; not %s "
                         "(--disk-format)", st->cloud->name, st->allowed, st->format);
        goto out;
    }
    if (resp.status != 201 && resp.status != 200) {
        r = os_http_error(ctx, glance_status_code(resp.status), &resp,
                          "cloud '%s': Glance refused to create image '%s' (disk_format %s)",
                          st->cloud->name, st->name, st->format);
        goto out;
    }
    r = glance_parse_created(ctx, st, &resp, &st->image_id);
    if (r == MK_OK)
        mk_log(ctx, MK_LOG_INFO, "cloud '%s': created image '%s' (%s)", st->cloud->name,
               st->name, st->image_id);
out:
    free(body);
    mk_http_resp_release(&resp);
    return r;
}

enum glance_phase glance_image_phase(json_t *img, const char **ret_status)
{
    const char *status = json_string_value(json_object_get(img, "status"));

    *ret_status = status;
    if (status && !strcmp(status, "active"))
        return GLANCE_ACTIVE;
    if (!status || (strcmp(status, "queued") && strcmp(status, "saving") &&
                    strcmp(status, "uploading") && strcmp(status, "importing")))
        return GLANCE_FAILED;
    return GLANCE_BUSY;
}

int glance_wait_active(struct mk_ctx *ctx, struct os_state *st, json_t **ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    /* Short at first and never long: a sleep past the moment the image turns active is
     * time the user waits for nothing (Glance answers the upload when it is active, but a
     * store may still be writing, or an import running). */
    double waited = 0, delay = 0.1;
    int r;

    mk_http_resp_init(&resp);
    r = glance_image_url(ctx, st, st->image_id, "", &url);
    while (r >= 0) {
        enum glance_phase phase;
        const char *status;
        json_t *img;

        r = glance_call(ctx, st, "GET", url.buf, NULL, &resp);
        if (r < 0)
            break;
        if (resp.status != 200) {
            r = os_http_error(ctx, glance_status_code(resp.status), &resp,
                              "cloud '%s': cannot read image %s", st->cloud->name,
                              st->image_id);
            break;
        }
        img = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
        phase = glance_image_phase(img, &status);
        if (phase == GLANCE_ACTIVE) {
            *ret = img;
            break;
        }
        if (phase == GLANCE_FAILED) {
            r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': image '%s' (%s) is %s after the "
                             "upload, not active", st->cloud->name, st->name, st->image_id,
                             status ? status : "in no known status");
            json_decref(img);
            break;
        }
        mk_progress(ctx, "image creation", 0, 0); /* "creating image... N s" */
        if (waited >= ACTIVE_TIMEOUT) {
            /* (status) is in (img): freed only after the message is made. */
            r = mk_set_error(ctx, MK_ETIMEOUT, "cloud '%s': image '%s' (%s) is still %s after "
                             "%.0f s", st->cloud->name, st->name, st->image_id, status,
                             waited);
            json_decref(img);
            break;
        }
        json_decref(img);
        r = mk_http_sleep(ctx, delay);
        waited += delay;
        delay = MK_MIN(delay * 1.5, 2.0);
    }
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

int glance_verify(struct mk_ctx *ctx, struct os_state *st, json_t *img, const char *md5)
{
    const char *checksum = json_string_value(json_object_get(img, "checksum"));
    json_t *size = json_object_get(img, "size");

    if (json_is_integer(size) && (uint64_t)json_integer_value(size) != st->sent)
        return mk_set_error(ctx, MK_EIO, "cloud '%s': image '%s' (%s) holds %jd bytes, but "
                            "%ju were sent", st->cloud->name, st->name, st->image_id,
                            (intmax_t)json_integer_value(size), (uintmax_t)st->sent);
    if (!checksum || strcmp(checksum, md5))
        return mk_set_error(ctx, MK_EIO, "cloud '%s': image '%s' (%s) has checksum %s, but "
                            "the data sent has MD5 %s", st->cloud->name, st->name,
                            st->image_id, checksum ? checksum : "(none)", md5);
    return MK_OK;
}
