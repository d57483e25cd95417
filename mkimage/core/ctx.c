/* ctx.c: the context, its error message, logging, progress and cancellation. */
#include <errno.h>
#include <gcrypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mk_private.h"

static const struct {
    int code;
    const char *text;
} status_texts[] = {
    {MK_OK, "success"},
    {MK_EINVAL, "invalid argument"},
    {MK_ENOMEM, "out of memory"},
    {MK_EIO, "input/output error"},
    {MK_EFS, "filesystem error"},
    {MK_EBOOT, "bootloader error"},
    {MK_EHTTP, "network or HTTP error"},
    {MK_EAUTH, "authentication error"},
    {MK_ECONFIG, "configuration error"},
    {MK_EUNSUPPORTED, "not supported"},
    {MK_ENOTFOUND, "not found"},
    {MK_EEXIST, "already exists"},
    {MK_ETIMEOUT, "timed out"},
    {MK_ECANCELED, "canceled"},
    {MK_EFORMAT, "bad format"},
    {MK_ENOSPC, "does not fit"},
    {MK_EMISSING, "missing tool or file"},
};

const char *mk_strerror(int code)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(status_texts); i++)
        if (status_texts[i].code == code)
            return status_texts[i].text;
    return "unknown error";
}

struct mk_ctx *mk_ctx_new(void)
{
    return calloc(1, sizeof(struct mk_ctx));
}

void mk_ctx_free(struct mk_ctx *ctx)
{
    free(ctx);
}

const char *mk_errmsg(const struct mk_ctx *ctx)
{
    return ctx ? ctx->msg : "";
}

int mk_errcode(const struct mk_ctx *ctx)
{
    return ctx ? ctx->code : MK_OK;
}

void mk_ctx_set_log(struct mk_ctx *ctx, mk_log_fn fn, void *opaque)
{
    ctx->log_fn = fn;
    ctx->log_opaque = opaque;
}

void mk_ctx_set_progress(struct mk_ctx *ctx, mk_progress_fn fn, void *opaque)
{
    ctx->progress_fn = fn;
    ctx->progress_opaque = opaque;
}

void mk_ctx_cancel(struct mk_ctx *ctx)
{
    ctx->cancelled = 1;
}

/* Messages are one line: scripts grep them and CI logs show them one per line. */
static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static void set_message(struct mk_ctx *ctx, int code, const char *fmt, va_list ap)
    MK_PRINTF(3, 0);

static void set_message(struct mk_ctx *ctx, int code, const char *fmt, va_list ap)
{
    ctx->code = code;
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    flatten(ctx->msg);
}

int mk_set_error(struct mk_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;

    if (!ctx)
        return code;
    va_start(ap, fmt);
    set_message(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

int mk_set_errno(struct mk_ctx *ctx, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t len;

    if (!ctx)
        return code;
    va_start(ap, fmt);
    set_message(ctx, code, fmt, ap);
    va_end(ap);
    len = strlen(ctx->msg);
    snprintf(ctx->msg + len, sizeof(ctx->msg) - len, ": %s", strerror(errnum));
    return code;
}

int mk_error_prefix(struct mk_ctx *ctx, const char *fmt, ...)
{
    char old[MK_ERRMSG_MAX];
    va_list ap;
    size_t len;

    if (!ctx)
        return MK_EINVAL;
    memcpy(old, ctx->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
    va_end(ap);
    len = strlen(ctx->msg);
    snprintf(ctx->msg + len, sizeof(ctx->msg) - len, ": %s", old);
    flatten(ctx->msg);
    return ctx->code;
}

void mk_clear_error(struct mk_ctx *ctx)
{
    if (ctx) {
        ctx->code = MK_OK;
        ctx->msg[0] = '\0';
    }
}

void mk_log(struct mk_ctx *ctx, enum mk_log_level level, const char *fmt, ...)
{
    char line[MK_ERRMSG_MAX];
    va_list ap;

    if (!ctx || !ctx->log_fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_opaque, level, line);
}

void mk_progress(struct mk_ctx *ctx, const char *phase, uint64_t done, uint64_t total)
{
    if (ctx && ctx->progress_fn)
        ctx->progress_fn(ctx->progress_opaque, phase, done, total);
}

int mk_check_cancel(struct mk_ctx *ctx)
{
    if (ctx && ctx->cancelled)
        return mk_set_error(ctx, MK_ECANCELED, "interrupted");
    return MK_OK;
}

void mk_wipe(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_init_once(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

void mk_crypto_init(void)
{
    pthread_once(&crypto_once, crypto_init_once);
}
