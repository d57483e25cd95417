/* boot_watch.c: judging a boot by what it prints and how QEMU ends: the streaming matcher
 * and QEMU's exit status. */
#include <stdlib.h>
#include <string.h>

#include "boot_private.h"

int mk_matcher_init(struct mk_ctx *ctx, struct mk_matcher *m, const char *needle)
{
    size_t len = strlen(needle), k = 0;

    *m = (struct mk_matcher){.needle = needle, .len = len};
    if (len == 0)
        return MK_OK;
    m->fail = calloc(len, sizeof(*m->fail));
    if (!m->fail)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 1; i < len; i++) {
        while (k > 0 && needle[i] != needle[k])
            k = m->fail[k - 1];
        if (needle[i] == needle[k])
            k++;
        m->fail[i] = k;
    }
    return MK_OK;
}

bool mk_matcher_feed(struct mk_matcher *m, const char *buf, size_t len)
{
    if (m->state == m->len)
        return true;
    for (size_t i = 0; i < len; i++) {
        while (m->state > 0 && buf[i] != m->needle[m->state])
            m->state = m->fail[m->state - 1];
        if (buf[i] == m->needle[m->state] && ++m->state == m->len)
            return true;
    }
    return false;
}

void mk_matcher_release(struct mk_matcher *m)
{
    free(m->fail);
    m->fail = NULL;
}

enum mk_qemu_end mk_qemu_classify(int status, bool qemu_stderr_empty, int *ret_guest_code)
{
    if (status == 0)
        return MK_QEMU_END_NORMAL;
    if (status > 0 && status < 256 && (status & 1) && (status > 1 || qemu_stderr_empty)) {
        *ret_guest_code = status >> 1;
        return MK_QEMU_END_GUEST;
    }
    return MK_QEMU_END_ERROR;
}
