/* buf.c: the growable, always-terminated byte buffer used for strings, JSON and files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mk_private.h"

char mk_buf_empty[1];

void mk_buf_init(struct mk_buf *b)
{
    b->buf = mk_buf_empty;
    b->len = b->alloc = b->max = 0;
}

void mk_buf_release(struct mk_buf *b)
{
    size_t max = b->max;

    if (b->alloc)
        free(b->buf);
    mk_buf_init(b);
    b->max = max;
}

void mk_buf_reset(struct mk_buf *b)
{
    b->len = 0;
    b->buf[0] = '\0';
}

int mk_buf_grow(struct mk_buf *b, size_t extra)
{
    size_t need, alloc;
    char *p;

    if (extra > SIZE_MAX - b->len - 1)
        return MK_ENOMEM;
    need = b->len + extra + 1;
    if (b->max && need - 1 > b->max)
        return MK_ENOMEM;
    if (need <= b->alloc)
        return MK_OK;
    alloc = b->alloc ? b->alloc : 64;
    while (alloc < need)
        alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
    p = b->alloc ? realloc(b->buf, alloc) : malloc(alloc);
    if (!p)
        return MK_ENOMEM;
    if (!b->alloc)
        p[0] = '\0';
    b->buf = p;
    b->alloc = alloc;
    return MK_OK;
}

int mk_buf_add(struct mk_buf *b, const void *data, size_t len)
{
    int r = mk_buf_grow(b, len);

    if (r < 0)
        return r;
    if (len)
        memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return MK_OK;
}

int mk_buf_adds(struct mk_buf *b, const char *s)
{
    return mk_buf_add(b, s, strlen(s));
}

int mk_buf_vaddf(struct mk_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, r;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return MK_EINVAL;
    r = mk_buf_grow(b, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return MK_OK;
}

int mk_buf_addf(struct mk_buf *b, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = mk_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return r;
}

char *mk_buf_detach(struct mk_buf *b, size_t *ret_len)
{
    char *p = b->buf;

    if (!b->alloc)
        p = strdup("");
    if (ret_len)
        *ret_len = b->len;
    mk_buf_init(b);
    return p;
}

int mk_buf_read_file(struct mk_ctx *ctx, struct mk_buf *b, const char *path, size_t max)
{
    char chunk[65536];
    int fd = mk_open_input(ctx, path, NULL);
    int r = MK_OK;

    if (fd < 0)
        return fd;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = mk_set_errno(ctx, MK_EIO, errno, "cannot read '%s'", path);
            break;
        }
        if (n == 0)
            break;
        if ((max && b->len + (size_t)n > max) || mk_buf_add(b, chunk, (size_t)n) < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "'%s' is too large", path);
            break;
        }
    }
    close(fd);
    return r;
}

int mk_grow(void **items, size_t need, size_t *alloc, size_t size)
{
    size_t n = *alloc ? *alloc : 8;
    void *p;

    if (need <= *alloc)
        return MK_OK;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return MK_ENOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / size || !(p = realloc(*items, n * size)))
        return MK_ENOMEM;
    *items = p;
    *alloc = n;
    return MK_OK;
}
