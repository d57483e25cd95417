/* leftovers.c: what interrupted or failed pushes left in Glance, found and removed by the
 * next run, so that running the same command again always gets past an interruption.
 *
 * Two kinds. A push that fails deletes its image; when that delete fails too (Glance down,
 * the network cut), the image's id is remembered in a state file per cloud and project, and
 * the next push there deletes it first. A push killed outright (kill -9, a power loss)
 * remembers nothing: its image stays queued in Glance. Every image we create carries a mark
 * (OS_SOURCE_PROPERTY, a hash of the source's identity), so the same command run again
 * knows that image for its own, deletes it and uploads again; and when the image it finds
 * is already active with the same bytes, it checks that one instead of sending them twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "openstack_private.h"

/* $XDG_STATE_HOME/unikernel-mkimage/openstack-HASH.json, HASH naming the cloud's Keystone,
 * project and Glance; NULL when there is no home to keep it in. */
static int state_path(struct mk_ctx *ctx, struct os_state *st)
{
    struct mk_buf key = MK_BUF_INIT, path = MK_BUF_INIT;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    uint8_t digest[32];

    if (xdg && *xdg == '/')
        mk_buf_addf(&path, "%s/unikernel-mkimage", xdg);
    else if (home && *home)
        mk_buf_addf(&path, "%s/.local/state/unikernel-mkimage", home);
    else
        return MK_OK;
    mk_buf_addf(&key, "%s\n%s\n%s", st->cloud->auth_url,
                st->sess.project_id ? st->sess.project_id : "", st->images_url);
    mk_crypto_init();
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, key.buf ? key.buf : "", key.len);
    mk_buf_release(&key);
    mk_buf_adds(&path, "/openstack-");
    for (int i = 0; i < 12; i++)
        mk_buf_addf(&path, "%02x", digest[i]);
    if (mk_buf_adds(&path, ".json") < 0) {
        mk_buf_release(&path);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    st->state_path = mk_buf_detach(&path, NULL);
    return MK_OK;
}

static json_t *state_load(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *ids = json_incref(json_object_get(root, "delete"));

    json_decref(root);
    if (!json_is_array(ids)) {
        json_decref(ids);
        ids = json_array();
    }
    return ids;
}

static int mkdir_parents(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int bad = mkdir(path, 0700) < 0 && errno != EEXIST;
            *p = '/';
            if (bad)
                return -1;
        }
    return 0;
}

/* Writes (ids) under a temporary name and renames it; no ids, no file. */
static void state_save(struct mk_ctx *ctx, const char *path, json_t *ids)
{
    struct mk_buf tmp = MK_BUF_INIT;
    json_t *root;
    bool bad;

    if (!json_array_size(ids)) {
        unlink(path);
        return;
    }
    root = json_pack("{s:O}", "delete", ids);
    bad = !root || mk_buf_addf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0 ||
          mkdir_parents(tmp.buf) < 0 || json_dump_file(root, tmp.buf, JSON_INDENT(1)) < 0 ||
          rename(tmp.buf, path) < 0;
    if (bad) {
        mk_log(ctx, MK_LOG_WARN, "cannot record the images to delete in %s: %s", path,
               strerror(errno));
        if (tmp.buf)
            unlink(tmp.buf);
    }
    json_decref(root);
    mk_buf_release(&tmp);
}

void os_leftover_remember(struct mk_ctx *ctx, struct os_state *st, const char *id)
{
    json_t *ids;

    if (!st->state_path)
        return;
    ids = state_load(st->state_path);
    json_array_append_new(ids, json_string(id));
    state_save(ctx, st->state_path, ids);
    json_decref(ids);
}

/* Deletes what earlier runs could not; what still fails stays for the run after. */
static void retry_cleanups(struct mk_ctx *ctx, struct os_state *st)
{
    json_t *ids = state_load(st->state_path), *left = json_array(), *id;
    struct mk_ctx *tmp = mk_ctx_new();
    size_t i;

    if (!json_array_size(ids))
        goto out;
    json_array_foreach(ids, i, id) {
        const char *s = json_string_value(id);

        if (!s)
            continue;
        if (tmp && glance_delete_image(tmp, st, s) == MK_OK) {
            mk_log(ctx, MK_LOG_INFO, "cloud '%s': deleted image %s, which a failed push "
                   "could not delete", st->cloud->name, s);
        } else {
            mk_log(ctx, MK_LOG_WARN, "image %s of a failed push is still there: %s", s,
                   tmp ? mk_errmsg(tmp) : "out of memory");
            json_array_append(left, id);
        }
    }
    state_save(ctx, st->state_path, left);
out:
    mk_ctx_free(tmp);
    json_decref(left);
    json_decref(ids);
}

enum os_leftover os_leftover_kind(json_t *img, const char *source_mark)
{
    const char *mark = json_string_value(json_object_get(img, OS_SOURCE_PROPERTY));
    const char *status = json_string_value(json_object_get(img, "status"));

    if (!mark || strcmp(mark, source_mark) || !status)
        return OS_LEFTOVER_OTHER;
    if (!strcmp(status, "active"))
        return OS_LEFTOVER_OURS_ACTIVE;
    return strcmp(status, "deactivated") ? OS_LEFTOVER_OURS_UNFINISHED : OS_LEFTOVER_OTHER;
}

int os_leftovers(struct mk_ctx *ctx, struct os_state *st)
{
    json_t *images = NULL, *img;
    size_t i;
    int r;

    if (!st->state_path && (r = state_path(ctx, st)) < 0)
        return r;
    if (st->state_path)
        retry_cleanups(ctx, st);
    r = glance_find_by_name(ctx, st, &images);
    if (r < 0)
        return r;
    if (!(st->old_ids = json_array())) {
        json_decref(images);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    json_array_foreach(images, i, img) {
        const char *id = json_string_value(json_object_get(img, "id"));
        const char *status = json_string_value(json_object_get(img, "status"));
        enum os_leftover kind = os_leftover_kind(img, st->source_mark);

        if (kind == OS_LEFTOVER_OURS_ACTIVE && !st->image_id) {
            if (!(st->image_id = strdup(id))) {
                r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
                break;
            }
            st->resumed = true;
            mk_log(ctx, MK_LOG_INFO, "cloud '%s': image '%s' (%s) already holds these bytes "
                   "(an earlier push of them was interrupted after the upload): checking it",
                   st->cloud->name, st->name, id);
        } else if (kind == OS_LEFTOVER_OURS_UNFINISHED) {
            r = glance_delete_image(ctx, st, id);
            if (r < 0)
                break;
            mk_log(ctx, MK_LOG_INFO, "cloud '%s': deleted image '%s' (%s, %s), left by an "
                   "interrupted push of the same bytes", st->cloud->name, st->name, id, status);
        } else {
            json_array_append_new(st->old_ids, json_string(id));
        }
    }
    json_decref(images);
    return r;
}
