/* inspect_isolated.c: mk_inspect_path(), the reading of an image we did not build, in an
 * isolated child (mk_run_isolated: no root, no capabilities, limits). We open the image,
 * checked to be a regular file, and the child reads only that descriptor: it cannot open
 * the path (it may no longer have the right), and a path swapped after we opened it changes
 * nothing. With --deep the child also copies the disk for libguestfs, whose half of the
 * work runs here on that copy (inspect_deep.c says why that needs no isolation). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "inspect_private.h"

/* The child's answer: this header, the report's text, then for each file --deep compares a
 * struct answer_file and its path. */
struct answer {
    int problems, fs_part, exported;
    size_t report_len, n_files;
};

struct answer_file {
    uint64_t size;
    uint8_t sha256[32];
    size_t path_len;
};

struct reader {
    int fd, export_fd;
    const char *path;
    unsigned flags;
};

/* In the child. */
static int read_image(struct mk_ctx *ctx, void *opaque, struct mk_buf *out)
{
    const struct reader *rd = opaque;
    struct mk_deep_request req = {0};
    struct answer a = {0};
    char *json = NULL;
    int r;

    r = mk_inspect_fd_here(ctx, rd->fd, rd->path, rd->flags, rd->export_fd, &json,
                           &a.problems, &req);
    if (r < 0)
        return r;
    a.fs_part = req.fs_part;
    a.exported = req.exported;
    a.report_len = strlen(json);
    a.n_files = req.n_files;
    r = mk_buf_add(out, &a, sizeof(a));
    if (r == MK_OK)
        r = mk_buf_add(out, json, a.report_len);
    for (size_t i = 0; i < req.n_files && r == MK_OK; i++) {
        struct answer_file f = {.size = req.files[i].size,
                                .path_len = strlen(req.files[i].path)};

        memcpy(f.sha256, req.files[i].sha256, sizeof(f.sha256));
        r = mk_buf_add(out, &f, sizeof(f));
        if (r == MK_OK)
            r = mk_buf_add(out, req.files[i].path, f.path_len);
    }
    free(json);
    mk_deep_request_release(&req);
    return r < 0 ? mk_set_error(ctx, MK_ENOMEM, "out of memory") : MK_OK;
}

/* In the parent: the child's answer, checked (it comes from a process that read hostile
 * bytes). */
static int parse_answer(struct mk_ctx *ctx, const struct mk_buf *in, struct answer *a,
                        const char **report, struct mk_deep_request *req)
{
    size_t off = sizeof(*a);

    if (in->len < sizeof(*a))
        goto broken;
    memcpy(a, in->buf, sizeof(*a));
    if (a->problems < 0 || a->fs_part < 0 || a->fs_part > 4 ||
        a->report_len > in->len - off || memchr(in->buf + off, '\0', a->report_len) ||
        a->n_files > (in->len - off - a->report_len) / sizeof(struct answer_file))
        goto broken;
    *report = in->buf + off;
    off += a->report_len;
    req->exported = a->exported;
    req->fs_part = a->fs_part;
    req->files = calloc(a->n_files ? a->n_files : 1, sizeof(*req->files));
    if (!req->files)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (; req->n_files < a->n_files; req->n_files++) {
        struct mk_inspect_read *f = &req->files[req->n_files];
        struct answer_file af;

        if (in->len - off < sizeof(af))
            goto broken;
        memcpy(&af, in->buf + off, sizeof(af));
        off += sizeof(af);
        if (af.path_len == 0 || af.path_len > in->len - off ||
            memchr(in->buf + off, '\0', af.path_len) || !(f->path = strndup(in->buf + off,
                                                                             af.path_len)))
            goto broken;
        off += af.path_len;
        f->size = af.size;
        memcpy(f->sha256, af.sha256, sizeof(f->sha256));
    }
    if (off != in->len)
        goto broken;
    return MK_OK;
broken:
    mk_deep_request_release(req);
    return mk_set_error(ctx, MK_EIO, "the image reader sent a broken report");
}

/* A report with one problem, for a child that died or ran away. */
static int problem_report(struct mk_ctx *ctx, const char *path, const char *problem,
                          char **ret_json, int *ret_problems)
{
    json_t *root = json_pack("{s:{s:s, s:s}, s:[s]}", "image", "path", path, "format",
                             "unknown", "problems", problem);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;

    json_decref(root);
    if (!text)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    *ret_json = text;
    *ret_problems = 1;
    return MK_OK;
}

/* --deep's second half on the child's report: its "deep" section added, problems last. */
static int run_deep(struct mk_ctx *ctx, const char *report, size_t report_len,
                    struct mk_deep_request *req,
                    const char *raw_path, char **ret_json, int *ret_problems)
{
    struct mk_inspect in = {.ctx = ctx, .flags = MK_INSPECT_DEEP, .deep = *req,
                            .export_fd = -1};
    char *text = NULL;
    int r;

    in.root = json_loadb(report, report_len, 0, NULL);
    in.problems = json_incref(json_object_get(in.root, "problems"));
    if (!json_is_object(in.root) || !json_is_array(in.problems)) {
        json_decref(in.problems);
        json_decref(in.root);
        return mk_set_error(ctx, MK_EIO, "the image reader sent a broken report");
    }
    json_object_del(in.root, "problems");
    r = mk_inspect_deep(&in, raw_path);
    if (r == MK_OK) {
        mk_inspect_set(&in, in.root, "problems", json_incref(in.problems));
        text = in.oom ? NULL : json_dumps(in.root, JSON_INDENT(2));
        if (!text)
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory while writing the report");
    }
    if (r == MK_OK) {
        *ret_json = text;
        *ret_problems = (int)json_array_size(in.problems);
    }
    json_decref(in.problems);
    json_decref(in.root);
    return r;
}

int mk_inspect_answer(struct mk_ctx *ctx, const struct mk_buf *answer, const char *raw_path,
                      char **ret_json, int *ret_problems)
{
    struct mk_deep_request req = {0};
    const char *report = NULL;
    struct answer a;
    int r = parse_answer(ctx, answer, &a, &report, &req);

    if (r < 0)
        return r;
    if (raw_path && req.exported) {
        r = run_deep(ctx, report, a.report_len, &req, raw_path, ret_json, ret_problems);
    } else {
        *ret_problems = a.problems;
        *ret_json = strndup(report, a.report_len);
        if (!*ret_json)
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    mk_deep_request_release(&req);
    return r;
}

int mk_inspect_path(struct mk_ctx *ctx, const char *path, unsigned flags, char **ret_json,
                    int *ret_problems)
{
    struct mk_buf answer = MK_BUF_INIT, why = MK_BUF_INIT, raw = MK_BUF_INIT;
    struct reader rd = {.fd = -1, .export_fd = -1, .path = path, .flags = flags};
    int keep[2], r;
    struct mk_isolated job = {.what = "reading the image", .keep_fds = keep,
                              .work = read_image, .opaque = &rd};

    if (!path || !ret_json || !ret_problems)
        return mk_set_error(ctx, MK_EINVAL, "mk_inspect_path: no path or no result pointer");
    /* Before any work: whether --deep can be had at all. */
    if ((flags & MK_INSPECT_DEEP) && (r = mk_inspect_deep_check(ctx)) < 0)
        return r;
    rd.fd = mk_open_input(ctx, path, NULL);
    if (rd.fd < 0)
        return rd.fd;
    keep[job.n_keep_fds++] = rd.fd;
    if (flags & MK_INSPECT_DEEP) {
        /* libguestfs needs a file: the child copies the disk, raw, into this one. */
        r = mk_make_temp(ctx, "mkimage-deep", false, &raw, &rd.export_fd);
        if (r < 0) {
            close(rd.fd);
            mk_buf_release(&raw);
            return mk_error_prefix(ctx, "--deep");
        }
        keep[job.n_keep_fds++] = rd.export_fd;
    }
    r = mk_run_isolated(ctx, &job, &answer, &why);
    close(rd.fd);
    if (r == MK_OK && why.len)
        r = problem_report(ctx, path, why.buf, ret_json, ret_problems);
    else if (r == MK_OK)
        r = mk_inspect_answer(ctx, &answer, rd.export_fd >= 0 ? raw.buf : NULL, ret_json,
                   ret_problems);
    if (rd.export_fd >= 0) {
        unlink(raw.buf);
        close(rd.export_fd); /* the lock that marked the copy as in use */
    }
    mk_buf_release(&raw);
    mk_buf_release(&why);
    mk_buf_release(&answer);
    return r;
}
