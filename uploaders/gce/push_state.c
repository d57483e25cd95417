/* push_state.c: what a push remembers between runs, so that the same command run again
 * after kill -9, Ctrl-C or --timeout takes up where the first one stopped: the staged
 * object's name (its upload session is in a gcs-*.json of its own), and once images.insert
 * was sent, the source's md5 and the image names, by which the re-run knows its own image.
 * Files are JSON, mode 0600, written under a temporary name and renamed; none holds a token
 * or a session URI. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>

#include "gce_private.h"

static int mkdir_p(const char *path)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);

    if (n < 0 || n >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int gce_state_file(struct mk_ctx *ctx, const struct gce *g, const char *prefix,
                   const char *key, char **ret)
{
    struct mk_buf path = MK_BUF_INIT;
    uint8_t digest[32];
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

    *ret = NULL;
    if (g->state_dir)
        mk_buf_addf(&path, "%s", g->state_dir);
    else if (xdg && *xdg == '/')
        mk_buf_addf(&path, "%s/unikernel-mkimage", xdg);
    else if (home && *home)
        mk_buf_addf(&path, "%s/.local/state/unikernel-mkimage", home);
    else
        return MK_OK; /* nowhere to remember: nothing resumes across runs */
    gce_gcry_init();
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, key, strlen(key));
    mk_buf_addf(&path, "/%s-", prefix);
    for (int i = 0; i < 12; i++)
        mk_buf_addf(&path, "%02x", digest[i]);
    if (mk_buf_adds(&path, ".json") < 0) {
        mk_buf_release(&path);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    *ret = mk_buf_detach(&path, NULL);
    return MK_OK;
}

int gce_state_write(struct mk_ctx *ctx, const char *path, json_t *state)
{
    struct mk_buf tmp = MK_BUF_INIT;
    char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL, *text;
    int fd = -1, r = MK_OK;

    if (slash)
        *slash = '\0';
    if (!dir || mkdir_p(dir) < 0) {
        mk_log(ctx, MK_LOG_WARN, "cannot create %s: an interrupted push will start over",
               dir ? dir : "the state folder");
        free(dir);
        return MK_EIO;
    }
    free(dir);
    text = json_dumps(state, JSON_COMPACT);
    mk_buf_addf(&tmp, "%s.tmp", path);
    if (text && tmp.buf)
        fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    /* No fsync: the state must outlive the process (kill -9, Ctrl-C), which the page cache
     * does; after a crash of the whole machine a state that is lost or empty reads as none,
     * and the images still carry the mark by which a re-run knows its own. Four fsyncs
     * cost a push more than all its requests to a nearby server. */
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        rename(tmp.buf, path) < 0) {
        mk_log(ctx, MK_LOG_WARN, "cannot write %s: an interrupted push will start over", path);
        if (tmp.buf)
            unlink(tmp.buf);
        r = MK_EIO;
    }
    if (fd >= 0)
        close(fd);
    free(text);
    mk_buf_release(&tmp);
    return r;
}

int gce_push_state_open(struct mk_ctx *ctx, struct gce *g, const char *identity)
{
    struct mk_buf key = MK_BUF_INIT;
    int r;

    if (!identity) {
        /* Bytes with no stable identity: the push is remembered for this run only. */
        g->push = json_object();
        return g->push ? MK_OK : mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    /* One push: this source, to this image name, in this project, through this API. */
    if (mk_buf_addf(&key, "push\n%s\n%s\n%s\n%s", g->compute_base, g->project, g->name,
                    identity) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_state_file(ctx, g, "gce", key.buf, &g->push_path);
    mk_buf_release(&key);
    if (r < 0)
        return r;
    if (g->push_path && !g->no_resume)
        g->push = json_load_file(g->push_path, 0, NULL);
    if (!json_is_object(g->push)) {
        json_decref(g->push);
        g->push = json_object();
    }
    return g->push ? MK_OK : mk_set_error(ctx, MK_ENOMEM, "out of memory");
}

const char *gce_push_get(const struct gce *g, const char *key)
{
    return json_string_value(json_object_get(g->push, key));
}

void gce_push_set(struct mk_ctx *ctx, struct gce *g, const char *key, const char *value)
{
    if (value)
        json_object_set_new(g->push, key, json_string(value));
    else
        json_object_del(g->push, key);
    if (g->push_path)
        gce_state_write(ctx, g->push_path, g->push);
}

void gce_push_forget(struct gce *g)
{
    if (g->push_path)
        unlink(g->push_path);
    json_object_clear(g->push);
}
