/* plugin_run.c: the uploader hooks shared by every external uploader: options on its stdin,
 * the artefact on its fd 3 (and its path when there is a file), and its one JSON result on
 * stdout judged together with its exit status (protocol in PLUGINS.md). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "plugin_private.h"

/* A stopped upload gets this long to clean up after SIGTERM before SIGKILL. */
#define ABORT_GRACE 10.0

struct plugin_state {
    const struct mk_plugin *p;
    struct mk_buf opts; /* "key=value\n" lines; values may be secrets */
    struct mk_plugin_proc pr;
    bool started;
    bool path_mode; /* the artefact's path was offered: fd 3 may go unread */
    bool reaped;
    uint64_t sent, total;
};

static int plugin_create_plain(struct mk_ctx *ctx, void **ret_state)
{
    (void)ret_state;
    return mk_set_error(ctx, MK_EINVAL, "external uploaders are created through create_for");
}

static int plugin_create(struct mk_ctx *ctx, const struct mk_uploader *u, void **ret_state)
{
    const struct mk_plugin *p = (const struct mk_plugin *)u;
    struct plugin_state *st;

    if (p->describe_error)
        return mk_set_error(ctx, MK_EUNSUPPORTED, "uploader '%s': %s", p->name,
                            p->describe_error);
    st = calloc(1, sizeof(*st));
    if (!st)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    st->p = p;
    mk_buf_init(&st->opts);
    st->pr.in_fd = st->pr.data_fd = st->pr.out_fd = st->pr.err_fd = -1;
    mk_buf_init(&st->pr.out);
    *ret_state = st;
    return MK_OK;
}

/* The plugin judges the options themselves: only what the line format cannot carry is
 * refused here. */
static int plugin_set_option(struct mk_ctx *ctx, void *state, const char *key,
                             const char *value)
{
    struct plugin_state *st = state;

    if (!*key || strpbrk(key, "=\r\n"))
        return mk_set_error(ctx, MK_EINVAL, "uploader '%s': bad option name '%s'", st->p->name,
                            key);
    if (value && strpbrk(value, "\r\n"))
        return mk_set_error(ctx, MK_EINVAL, "uploader '%s': the value of option '%s' holds a "
                            "line break, which external uploaders cannot be given",
                            st->p->name, key);
    if (mk_buf_addf(&st->opts, "%s=%s\n", key, value ? value : "true") < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static char *envf(const char *fmt, ...) MK_PRINTF(1, 2);
static char *envf(const char *fmt, ...)
{
    struct mk_buf b = MK_BUF_INIT;
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = mk_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    if (r < 0) {
        mk_buf_release(&b);
        return NULL;
    }
    return mk_buf_detach(&b, NULL);
}

static int plugin_prepare(struct mk_ctx *ctx, void *state, const struct mk_upload_info *info)
{
    struct plugin_state *st = state;
    char *env[10] = {0}, *abs = NULL;
    size_t n = 0;
    bool nomem = false;
    int r;

    if (info->source_path && !(abs = realpath(info->source_path, NULL)))
        return mk_set_errno(ctx, MK_EIO, errno, "cannot resolve %s", info->source_path);
    env[n++] = envf("UNIKERNEL_MKIMAGE_UPLOADER=%s", st->p->name);
    env[n++] = envf("UNIKERNEL_MKIMAGE_FORMAT=%s", mk_format_name(info->format));
    env[n++] = envf("UNIKERNEL_MKIMAGE_ARTEFACT_FD=3");
    if (info->stream_size)
        env[n++] = envf("UNIKERNEL_MKIMAGE_ARTEFACT_SIZE=%" PRIu64, info->stream_size);
    if (info->disk_size)
        env[n++] = envf("UNIKERNEL_MKIMAGE_DISK_SIZE=%" PRIu64, info->disk_size);
    if (info->source_name)
        env[n++] = envf("UNIKERNEL_MKIMAGE_SOURCE_NAME=%s", info->source_name);
    if (info->source_id)
        env[n++] = envf("UNIKERNEL_MKIMAGE_SOURCE_ID=%s", info->source_id);
    if (abs)
        env[n++] = envf("UNIKERNEL_MKIMAGE_ARTEFACT_PATH=%s", abs);
    for (size_t i = 0; i < n; i++)
        nomem |= !env[i];
    free(abs);
    st->path_mode = info->source_path != NULL;
    st->total = info->stream_size;
    r = nomem ? mk_set_error(ctx, MK_ENOMEM, "out of memory")
              : mk_plugin_spawn(ctx, st->p, "upload", (const char *const *)env, true, &st->pr);
    for (size_t i = 0; i < n; i++)
        free(env[i]);
    if (r < 0)
        return r;
    st->started = true;
    st->pr.own_progress = st->path_mode;
    /* A plugin that does not read its options (or is already gone) says why in its result. */
    r = mk_plugin_pump(ctx, &st->pr, &st->pr.in_fd, st->opts.buf, st->opts.len);
    if (r == MK_OK)
        r = mk_plugin_pump(ctx, &st->pr, &st->pr.in_fd, "\n", 1);
    if (st->pr.in_fd >= 0) {
        close(st->pr.in_fd);
        st->pr.in_fd = -1;
    }
    return r < 0 ? r : MK_OK;
}

static int error_code(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {
        {"invalid", MK_EINVAL},       {"auth", MK_EAUTH},       {"notfound", MK_ENOTFOUND},
        {"exists", MK_EEXIST},        {"timeout", MK_ETIMEOUT}, {"network", MK_EHTTP},
        {"unsupported", MK_EUNSUPPORTED}, {"config", MK_ECONFIG}, {"nospace", MK_ENOSPC},
    };

    for (size_t i = 0; name && i < MK_ARRAY_SIZE(codes); i++)
        if (!strcmp(codes[i].name, name))
            return codes[i].code;
    return MK_EIO;
}

/* The plugin's verdict from its exit status and its stdout. On success the result object
 * goes to (result) when it is non-NULL. */
static int judge(struct mk_ctx *ctx, struct plugin_state *st, struct mk_buf *result)
{
    const struct mk_plugin *p = st->p;
    const struct mk_plugin_proc *pr = &st->pr;
    const char *out = pr->out.buf, *status, *why = pr->last_line;
    int exit_code = WIFEXITED(pr->status) ? WEXITSTATUS(pr->status) : -1;
    json_error_t e = {.text = "not an object"};
    json_t *j = NULL;
    char *text;
    int r;

    out += strspn(out, " \t\r\n");
    if (*out && !pr->out_overflow && (j = json_loadb(pr->out.buf, pr->out.len, 0, &e)) &&
        !json_is_object(j)) {
        json_decref(j);
        j = NULL;
        snprintf(e.text, sizeof(e.text), "not an object");
    }
    status = json_string_value(json_object_get(j, "status"));
    if (status && !strcmp(status, "error")) {
        const char *msg = json_string_value(json_object_get(j, "message"));

        r = mk_set_error(ctx, error_code(json_string_value(json_object_get(j, "code"))),
                         "%s: %s", p->name, msg && *msg ? msg : *why ? why : "failed");
        json_decref(j);
        return r;
    }
    if (WIFSIGNALED(pr->status))
        r = mk_set_error(ctx, MK_EIO, "uploader '%s' (%s) was killed by signal %d%s%s",
                         p->name, p->path, WTERMSIG(pr->status), *why ? ": " : "", why);
    else if (exit_code != 0)
        r = *why ? mk_set_error(ctx, MK_EIO, "%s: %s (exit status %d)", p->name, why,
                                exit_code)
                 : mk_set_error(ctx, MK_EIO, "uploader '%s' (%s) failed with exit status %d",
                                p->name, p->path, exit_code);
    else if (!*out)
        r = mk_set_error(ctx, MK_EFORMAT, "uploader '%s' (%s) printed no result (one JSON "
                         "object on stdout, see PLUGINS.md)", p->name, p->path);
    else if (!j) {
        char shown[61];
        size_t k = 0, end = strlen(out);

        while (end && strchr(" \t\r\n", out[end - 1]))
            end--;
        for (; k < sizeof(shown) - 1 && k < end; k++)
            shown[k] = out[k] >= ' ' && out[k] < 0x7f ? out[k] : '?';
        shown[k] = '\0';
        r = mk_set_error(ctx, MK_EFORMAT, "uploader '%s' (%s) printed no valid JSON result: "
                         "\"%s%s\" (%s)", p->name, p->path, shown, k < end ? "..." : "",
                         pr->out_overflow ? "more than 1 MiB" : e.text);
    } else if (!status || strcmp(status, "ok"))
        r = mk_set_error(ctx, MK_EFORMAT, "uploader '%s' (%s): the result's \"status\" is %s%s%s,"
                         " not \"ok\" or \"error\"", p->name, p->path, status ? "'" : "",
                         status ? status : "missing", status ? "'" : "");
    else
        r = MK_OK;
    if (r < 0 || !result) {
        json_decref(j);
        return r;
    }
    if (!json_object_get(j, "uploader"))
        json_object_set_new(j, "uploader", json_string(p->name));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text || mk_buf_adds(result, text) < 0) {
        free(text);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    free(text);
    return MK_OK;
}

/* Waits for the plugin to end, with its progress counted as the upload's. */
static int reap(struct mk_ctx *ctx, struct plugin_state *st)
{
    int r;

    if (st->reaped)
        return MK_OK;
    if (st->pr.data_fd >= 0) {
        close(st->pr.data_fd);
        st->pr.data_fd = -1;
    }
    st->pr.own_progress = true;
    r = mk_plugin_wait(ctx, &st->pr, 0, true);
    if (r == MK_OK)
        st->reaped = true;
    return r;
}

static int plugin_write(struct mk_ctx *ctx, void *state, const void *buf, size_t len)
{
    struct plugin_state *st = state;
    int r;

    if (st->reaped || st->pr.data_fd < 0)
        return st->path_mode ? MK_OK : mk_set_error(ctx, MK_EIO, "%s: stream closed",
                                                    st->p->name);
    r = mk_plugin_pump(ctx, &st->pr, &st->pr.data_fd, buf, len);
    if (r == MK_OK) {
        st->sent += len;
        return MK_OK;
    }
    if (r < 0)
        return r;
    /* It closed fd 3. With a path that is its right: the bytes are in the file, the rest of
     * the stream is dropped, and its own progress counts from now on. Without, its result
     * or its exit says why, or the artefact it got was cut short. */
    if (st->path_mode) {
        st->pr.own_progress = true;
        return MK_OK;
    }
    if ((r = reap(ctx, st)) < 0)
        return r;
    if ((r = judge(ctx, st, NULL)) < 0)
        return r;
    if (st->total)
        return mk_set_error(ctx, MK_EIO, "uploader '%s' (%s) stopped reading the artefact "
                            "after at most %" PRIu64 " of %" PRIu64 " bytes", st->p->name,
                            st->p->path, st->sent, st->total);
    return mk_set_error(ctx, MK_EIO, "uploader '%s' (%s) stopped reading the artefact after "
                        "at most %" PRIu64 " bytes", st->p->name, st->p->path, st->sent);
}

static int plugin_finish(struct mk_ctx *ctx, void *state, struct mk_buf *result)
{
    struct plugin_state *st = state;
    int r = reap(ctx, st);

    return r < 0 ? r : judge(ctx, st, result);
}

static void plugin_abort(struct mk_ctx *ctx, void *state)
{
    struct plugin_state *st = state;

    if (!st->started || st->reaped)
        return;
    mk_log(ctx, MK_LOG_INFO, "stopping %s", st->p->path);
    mk_plugin_stop(ctx, &st->pr, ABORT_GRACE);
    st->reaped = true;
}

static void plugin_destroy(void *state)
{
    struct plugin_state *st = state;

    if (!st)
        return;
    mk_plugin_stop(NULL, &st->pr, 0);
    mk_buf_release(&st->pr.out);
    mk_wipe(st->opts.buf, st->opts.len);
    mk_buf_release(&st->opts);
    free(st);
}

const struct mk_uploader mk_plugin_hooks = {
    .formats = {MK_FORMAT_RAW},
    /* The plugin judges its options itself: undeclared ones go to it too. */
    .other_options = true,
    .create = plugin_create_plain,
    .create_for = plugin_create,
    .set_option = plugin_set_option,
    .prepare = plugin_prepare,
    .write = plugin_write,
    .finish = plugin_finish,
    .abort = plugin_abort,
    .destroy = plugin_destroy,
};
