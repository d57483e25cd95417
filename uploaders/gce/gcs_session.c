/* gcs_session.c: the resumable upload session a re-run takes up again, in a gcs-*.json state
 * file of its own (0600, written under a temporary name and renamed). It holds the session
 * URI, a credential of its own that reaches only the user's state folder, and no token. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gce_private.h"

int gcs_session_path(struct mk_ctx *ctx, struct gce *g, const struct gcs_params *p,
                     char **ret)
{
    struct mk_buf key = MK_BUF_INIT;
    int r;

    if (mk_buf_addf(&key, "%s\n%s\n%s\n%s\n%" PRIu64, g->storage_base, g->bucket, p->object,
                    p->identity, g->chunk_size) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_state_file(ctx, g, "gcs", key.buf, ret);
    mk_buf_release(&key);
    return r;
}

void gcs_session_save(struct mk_ctx *ctx, struct gce *g, const char *path, const char *session,
                      const char *object, const char *identity, uint64_t total)
{
    json_t *st;

    if (!path)
        return;
    st = json_pack("{s:s, s:s, s:s, s:s, s:I}", "session", session, "bucket", g->bucket,
                   "object", object, "identity", identity, "total", (json_int_t)total);
    if (st)
        gce_state_write(ctx, path, st);
    /* The session URI is a credential: jansson's copy goes too. */
    if (st)
        mk_wipe((char *)json_string_value(json_object_get(st, "session")), strlen(session));
    json_decref(st);
}

void gcs_session_forget(const char *path)
{
    if (path)
        unlink(path);
}

char *gcs_session_load(const char *path, const struct gcs_params *p)
{
    json_t *st = path ? json_load_file(path, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(st, "session"));
    const char *id = json_string_value(json_object_get(st, "identity"));
    char *ret = NULL;

    if (s && id && !strcmp(id, p->identity) &&
        (json_int_t)p->total == json_integer_value(json_object_get(st, "total")))
        ret = strdup(s);
    json_decref(st);
    return ret;
}
