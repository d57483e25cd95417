/* boot_watch.c: judging a boot by what it prints and how QEMU ends: the streaming matcher,
 * the serial watcher (expected and feared texts, GRUB's error screens until GRUB hands over
 * to the kernel, Solo5's last lines) and QEMU's exit status. */
#include <stdio.h>
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

/* GRUB ends a failed menu entry with this and waits for a key that never comes. */
#define GRUB_PRESS_KEY "Press any key to continue"
/* Errors GRUB prints that mean the entry cannot boot, recognised before its prompt. */
static const char *const grub_fatal[] = {
    "error: no multiboot header found",
    "error: you need to load the kernel first",
    "error: file `",
    "error: unknown filesystem",
    "error: disk `",
    "error: invalid arch-dependent ELF magic",
    "error: invalid magic number",
    "error: out of memory",
};
/* GRUB's command line and rescue prompts: no grub.cfg, or no normal.mod. */
static const char *const grub_prompts[] = {"grub rescue> ", "grub> "};
/* What our grub.cfg templates (the .cfg files in templates/) echo right before `boot` and
 * right after it: GRUB prints nothing of its own when it hands over, and `boot` returns only
 * when it failed. Once the first line is seen with no GRUB error before it, the serial output is the
 * kernel's, which may well print "error: ..." or "Press any key to continue" itself: GRUB's
 * screens are no longer read, only the second line, which only GRUB can print. Images made
 * with other grub.cfgs are judged as before, on GRUB's screens throughout. */
#define GRUB_HANDOVER "unikernel-mkimage: starting the kernel"
#define GRUB_BOOT_FAILED "unikernel-mkimage: GRUB could not start the kernel"
/* Printed whenever QEMU has no VGA (-nodefaults): harmless. */
#define GRUB_HARMLESS "Can't get controller info"

#define SOLO5_EXIT "Solo5: solo5_exit("
#define SOLO5_ABORT_CALLED "Solo5: solo5_abort() called"
#define SOLO5_ABORT "Solo5: ABORT"
#define SOLO5_ABORTING ". Aborting."
#define SOLO5_EXIT_ABORT 255

int mk_watch_init(struct mk_ctx *ctx, struct mk_watch *w, const char *const *expects,
                  size_t n_expects, const char *const *fails, size_t n_fails, bool solo5)
{
    int r;

    *w = (struct mk_watch){.solo5 = solo5, .solo5_code = -1};
    w->expects = calloc(n_expects ? n_expects : 1, sizeof(*w->expects));
    w->fails = calloc(n_fails ? n_fails : 1, sizeof(*w->fails));
    if (!w->expects || !w->fails) {
        mk_watch_release(w);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    for (; w->n_expects < n_expects; w->n_expects++)
        if ((r = mk_matcher_init(ctx, &w->expects[w->n_expects], expects[w->n_expects])) < 0)
            goto fail;
    for (; w->n_fails < n_fails; w->n_fails++)
        if ((r = mk_matcher_init(ctx, &w->fails[w->n_fails], fails[w->n_fails])) < 0)
            goto fail;
    return MK_OK;
fail:
    mk_watch_release(w);
    return r;
}

void mk_watch_release(struct mk_watch *w)
{
    for (size_t i = 0; w->expects && i < w->n_expects; i++)
        mk_matcher_release(&w->expects[i]);
    for (size_t i = 0; w->fails && i < w->n_fails; i++)
        mk_matcher_release(&w->fails[i]);
    free(w->expects);
    free(w->fails);
    w->expects = w->fails = NULL;
}

/* Copies (line) into (dst) as one printable line: control bytes and escape sequences, which
 * GRUB sprinkles around its messages, are dropped; surrounding blanks are trimmed. */
static void clean_line(char *dst, size_t size, const char *line)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)line; *p && n + 1 < size; p++) {
        if (*p == 0x1b) {
            /* ESC [ parameters final-byte */
            if (p[1] == '[') {
                p += 2;
                while (*p && (*p < 0x40 || *p > 0x7e))
                    p++;
                if (!*p)
                    break;
            }
            continue;
        }
        if (*p < 0x20 || *p == 0x7f)
            continue;
        if (n == 0 && *p == ' ')
            continue;
        dst[n++] = (char)*p;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

static void end_with(struct mk_watch *w, enum mk_watch_end end, const char *detail)
{
    if (w->end != MK_WATCH_GOING)
        return;
    w->end = end;
    if (detail)
        clean_line(w->detail, sizeof(w->detail), detail);
}

static void solo5_line(struct mk_watch *w, const char *line)
{
    const char *p;

    if ((p = strstr(line, SOLO5_EXIT))) {
        int code = 0, digits = 0;

        for (p += strlen(SOLO5_EXIT); *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
            code = code * 10 + (*p - '0');
        if (digits && !strncmp(p, ") called", 8)) {
            w->solo5_code = code;
            end_with(w, MK_WATCH_SOLO5_END, line);
        }
    } else if (strstr(line, SOLO5_ABORT_CALLED) || strstr(line, SOLO5_ABORT) ||
               (strstr(line, "Solo5: ") && strstr(line, SOLO5_ABORTING))) {
        w->solo5_code = SOLO5_EXIT_ABORT;
        w->solo5_aborted = true;
        /* The reason is the warning before "Aborting." when Solo5 gave one ("Virtio net:
         * PCI:00:02 not in manifest", "Device 'storage' ... not attached."). */
        end_with(w, MK_WATCH_SOLO5_END, w->solo5_warning[0] && !strstr(line, SOLO5_ABORT)
                 ? w->solo5_warning : line);
    } else if (strstr(line, "Solo5: ") &&
               (strstr(line, "not in manifest") || strstr(line, "not attached"))) {
        clean_line(w->solo5_warning, sizeof(w->solo5_warning), line);
    }
}

/* After the handover: GRUB speaks again only if `boot` failed. Errors are noted (the kernel
 * may print its own; they matter only when GRUB's failure line follows, which a running
 * kernel cannot make it print). */
static void kernel_line(struct mk_watch *w, const char *line, bool complete)
{
    if (!complete || strstr(line, GRUB_HARMLESS))
        return;
    if (strstr(line, GRUB_BOOT_FAILED))
        end_with(w, MK_WATCH_GRUB_ERROR, w->grub_error[0] ? w->grub_error :
                 "GRUB could not start the kernel");
    else if (strstr(line, "error: "))
        clean_line(w->grub_error, sizeof(w->grub_error), strstr(line, "error: "));
}

static void grub_line(struct mk_watch *w, const char *line, bool complete)
{
    if (strstr(line, GRUB_HARMLESS))
        return;
    if (complete && strstr(line, GRUB_HANDOVER)) {
        /* An error before it (a kernel or module not loaded) means `boot` will fail. */
        w->kernel_started = !w->grub_error[0];
        return;
    }
    if (complete && strstr(line, GRUB_BOOT_FAILED)) {
        kernel_line(w, line, complete);
        return;
    }
    if (complete && strstr(line, "error: ")) {
        clean_line(w->grub_error, sizeof(w->grub_error), strstr(line, "error: "));
        for (size_t i = 0; i < sizeof(grub_fatal) / sizeof(grub_fatal[0]); i++)
            if (strstr(line, grub_fatal[i]))
                end_with(w, MK_WATCH_GRUB_ERROR, w->grub_error);
        return;
    }
    if (strstr(line, GRUB_PRESS_KEY)) {
        end_with(w, MK_WATCH_GRUB_ERROR, w->grub_error[0] ? w->grub_error :
                 "the boot entry failed (" GRUB_PRESS_KEY ")");
        return;
    }
    for (size_t i = 0; i < sizeof(grub_prompts) / sizeof(grub_prompts[0]); i++) {
        const char *p = strstr(line, grub_prompts[i]);

        /* A prompt is the last thing on its line: GRUB is waiting for a command. */
        if (p && !complete && p[strlen(grub_prompts[i])] == '\0') {
            char what[sizeof(w->grub_error) + 64];

            snprintf(what, sizeof(what), "GRUB stopped at its '%.*s' prompt%s%s",
                     (int)strlen(grub_prompts[i]) - 2, grub_prompts[i],
                     w->grub_error[0] ? " after " : "", w->grub_error);
            end_with(w, MK_WATCH_GRUB_ERROR, what);
        }
    }
}

static void line_done(struct mk_watch *w, bool complete)
{
    w->line[w->line_len] = '\0';
    if (w->solo5 && complete)
        solo5_line(w, w->line);
    if (w->kernel_started)
        kernel_line(w, w->line, complete);
    else
        grub_line(w, w->line, complete);
    if (complete)
        w->line_len = 0;
}

enum mk_watch_end mk_watch_feed(struct mk_watch *w, const char *buf, size_t len)
{
    if (w->end != MK_WATCH_GOING)
        return w->end;
    for (size_t i = 0; i < w->n_fails; i++)
        if (mk_matcher_feed(&w->fails[i], buf, len)) {
            w->fail_index = i;
            end_with(w, MK_WATCH_FAILED_TEXT, NULL);
        }
    if (w->n_expects && w->end == MK_WATCH_GOING) {
        size_t seen = 0;

        for (size_t i = 0; i < w->n_expects; i++)
            seen += mk_matcher_feed(&w->expects[i], buf, len);
        if (seen == w->n_expects)
            end_with(w, MK_WATCH_EXPECTED, NULL);
    }
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            if (w->line_len)
                line_done(w, true);
            continue;
        }
        /* A longer line is judged on its first part: the messages looked for are short. */
        if (w->line_len < sizeof(w->line) - 1)
            w->line[w->line_len++] = buf[i];
    }
    if (w->line_len)
        line_done(w, false);
    return w->end;
}
