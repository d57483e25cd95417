/* template.c: renders grub.cfg from a template with @NAME@ placeholders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "template.h"

#define TEMPLATE_MAX (1u << 20)
/* What a template may render to: each placeholder can repeat the whole command line or
 * every module, so a small template could otherwise ask for gigabytes. */
#define RENDERED_MAX (4u << 20)
#define BUILTIN_LIST "multiboot, solo5, hermit"
#define KNOWN_LIST                                                                           \
    "@MULTIBOOT@, @MODULE@, @KERNEL@, @KERNEL_NAME@, @ARGS@, @MODULES@, @HERMIT_UART@, @@"
#define HERMIT_UART "-uart=io:0x3f8"

const char *mk_template_default_dir(void)
{
    const char *dir = getenv("MK_TEMPLATE_DIR");

    return dir && *dir ? dir : NULL;
}

/* Bytes that GRUB's script lexer gives no meaning to in an argument, so a word made only of
 * them can be written bare; anything else is single-quoted. */
static int grub_bare_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_./:=,+@%", c) != NULL;
}

/* Inside single quotes GRUB takes every byte literally except the closing quote, so the only
 * byte needing care is ' itself, written as '\'' (close, escaped quote, reopen). A newline
 * would end the command and CR is dropped by GRUB's line reader: those cannot be passed. */
int mk_grub_quote(struct mk_buf *out, const char *word)
{
    int bare = *word != '\0';
    int r;

    for (const char *p = word; *p; p++) {
        if (*p == '\n' || *p == '\r')
            return MK_EINVAL;
        if (!grub_bare_char((unsigned char)*p))
            bare = 0;
    }
    if (bare)
        return mk_buf_adds(out, word);
    if ((r = mk_buf_add(out, "'", 1)) < 0)
        return r;
    for (const char *p = word; *p; p++) {
        r = *p == '\'' ? mk_buf_adds(out, "'\\''") : mk_buf_add(out, p, 1);
        if (r < 0)
            return r;
    }
    return mk_buf_add(out, "'", 1);
}

/* Mirrors grub_create_loader_cmdline() of GRUB 2.06 (grub-core/lib/cmdline.c), which builds
 * the string a multiboot kernel or module receives from its argv. */
int mk_grub_loader_cmdline(struct mk_buf *out, const char *const *args, size_t nargs)
{
    int r = MK_OK;

    for (size_t i = 0; i < nargs && r == MK_OK; i++) {
        int space = strchr(args[i], ' ') != NULL;
        if (i)
            r = mk_buf_add(out, " ", 1);
        if (r == MK_OK && space)
            r = mk_buf_add(out, "\"", 1);
        for (const char *p = args[i]; *p && r == MK_OK; p++) {
            if (*p == '\\' || *p == '\'' || *p == '"')
                r = mk_buf_add(out, "\\", 1);
            if (r == MK_OK)
                r = mk_buf_add(out, p, 1);
        }
        if (r == MK_OK && space)
            r = mk_buf_add(out, "\"", 1);
    }
    return r;
}

/* Appends the words to (out), quoted and separated by single spaces. (what) names them in
 * an error. */
static int add_words(struct mk_ctx *ctx, struct mk_buf *out, const char *const *words,
                     size_t nwords, const char *what)
{
    for (size_t i = 0; i < nwords; i++) {
        int r = i ? mk_buf_add(out, " ", 1) : MK_OK;
        if (r == MK_OK)
            r = mk_grub_quote(out, words[i]);
        if (r == MK_EINVAL)
            return mk_set_error(ctx, MK_EINVAL,
                                "%s '%s' contains a line break, which GRUB cannot pass", what,
                                words[i]);
        if (r < 0)
            return mk_set_error(ctx, r, "out of memory rendering grub.cfg");
    }
    return MK_OK;
}

static int add_word(struct mk_ctx *ctx, struct mk_buf *out, const char *word, const char *what)
{
    return add_words(ctx, out, &word, 1, what);
}

/* A module's argument string is split at every space, so that GRUB, which joins the words
 * with single spaces, hands the module the same string (runs of spaces included). */
static int add_module_args(struct mk_ctx *ctx, struct mk_buf *out, const char *args)
{
    struct mk_buf word = MK_BUF_INIT;
    int r = MK_OK;

    for (const char *p = args;; p++) {
        if (*p != ' ' && *p != '\0') {
            if ((r = mk_buf_add(&word, p, 1)) < 0)
                break;
            continue;
        }
        if ((r = mk_buf_add(out, " ", 1)) < 0 ||
            (r = add_word(ctx, out, word.buf, "module argument")) < 0)
            break;
        mk_buf_reset(&word);
        if (*p == '\0')
            break;
    }
    mk_buf_release(&word);
    if (r == MK_ENOMEM)
        return mk_set_error(ctx, r, "out of memory rendering grub.cfg");
    return r;
}

struct render {
    struct mk_ctx *ctx;
    const struct mk_template_vars *vars;
    const char *file; /* the template, for messages */
    unsigned line;
};

/* The @MODULES@ line: one line per module with the same indentation, none for no modules. */
static int expand_modules(struct render *rd, struct mk_buf *out, const char *indent,
                          size_t indent_len)
{
    const struct mk_template_vars *v = rd->vars;
    int r = MK_OK;

    for (size_t i = 0; i < v->nmodules && r == MK_OK; i++) {
        const struct mk_template_module *m = &v->modules[i];
        if ((r = mk_buf_add(out, indent, indent_len)) < 0 ||
            (r = mk_buf_adds(out, v->multiboot2 ? "module2 " : "module ")) < 0)
            break;
        if ((r = add_word(rd->ctx, out, m->path, "module path")) < 0)
            return r;
        if (m->args && *m->args && (r = add_module_args(rd->ctx, out, m->args)) < 0)
            return r;
        r = mk_buf_add(out, "\n", 1);
    }
    if (r < 0)
        return mk_set_error(rd->ctx, r, "out of memory rendering grub.cfg");
    return MK_OK;
}

static int expand(struct render *rd, struct mk_buf *out, const char *name, size_t len)
{
    const struct mk_template_vars *v = rd->vars;
    int r;

#define IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
    if (IS("MULTIBOOT"))
        r = mk_buf_adds(out, v->multiboot2 ? "multiboot2" : "multiboot");
    else if (IS("MODULE"))
        r = mk_buf_adds(out, v->multiboot2 ? "module2" : "module");
    else if (IS("KERNEL"))
        return add_word(rd->ctx, out, v->kernel_path, "kernel path");
    else if (IS("KERNEL_NAME")) {
        const char *base = strrchr(v->kernel_path, '/');
        return add_word(rd->ctx, out, base ? base + 1 : v->kernel_path, "kernel name");
    } else if (IS("ARGS"))
        return add_words(rd->ctx, out, v->args, v->nargs, "kernel argument");
    else if (IS("HERMIT_UART")) {
        /* HermitCore's loader talks on COM1 when told so; an -uart= of the user's wins. */
        for (size_t i = 0; i < v->nargs; i++)
            if (!strncmp(v->args[i], "-uart=", 6))
                return MK_OK;
        r = mk_buf_adds(out, HERMIT_UART);
    }
    else if (IS("MODULES"))
        return mk_set_error(rd->ctx, MK_ECONFIG,
                            "template '%s' line %u: @MODULES@ must be alone on its line",
                            rd->file, rd->line);
    else
        return mk_set_error(rd->ctx, MK_ECONFIG,
                            "template '%s' line %u: unknown placeholder @%.*s@ (known: %s)",
                            rd->file, rd->line, (int)MK_MIN(len, 64), name, KNOWN_LIST);
#undef IS
    if (r < 0)
        return mk_set_error(rd->ctx, r, "out of memory rendering grub.cfg");
    return MK_OK;
}

static int placeholder_len(const char *p, const char *end)
{
    const char *q = p;
    if (q == end || !(*q >= 'A' && *q <= 'Z'))
        return -1;
    while (q < end && ((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_'))
        q++;
    return q < end && *q == '@' ? (int)(q - p) : -1;
}

/* One template line (without its newline) into (out). */
static int render_line(struct render *rd, struct mk_buf *out, const char *s, size_t len)
{
    const char *end = s + len, *p = s;
    size_t indent = 0, start = out->len;
    int substituted = 0;

    while (indent < len && (s[indent] == ' ' || s[indent] == '\t'))
        indent++;
    /* "##" lines document the template itself and are not copied. */
    if (len - indent >= 2 && s[indent] == '#' && s[indent + 1] == '#')
        return MK_OK;
    size_t t = len;
    while (t > indent && (s[t - 1] == ' ' || s[t - 1] == '\t'))
        t--;
    if (t - indent == strlen("@MODULES@") && !memcmp(s + indent, "@MODULES@", t - indent))
        return expand_modules(rd, out, s, indent);
    while (p < end) {
        const char *at = memchr(p, '@', (size_t)(end - p));
        int r = mk_buf_add(out, p, (size_t)((at ? at : end) - p));
        if (r < 0)
            return mk_set_error(rd->ctx, r, "out of memory rendering grub.cfg");
        if (!at)
            break;
        if (at + 1 < end && at[1] == '@') {
            r = mk_buf_add(out, "@", 1);
            p = at + 2;
        } else {
            int n = placeholder_len(at + 1, end);
            if (n < 0) {
                r = mk_buf_add(out, "@", 1);
                p = at + 1;
            } else {
                if ((r = expand(rd, out, at + 1, (size_t)n)) < 0)
                    return r;
                substituted = 1;
                p = at + n + 2;
            }
        }
        if (r < 0)
            return mk_set_error(rd->ctx, r, "out of memory rendering grub.cfg");
    }
    /* An empty @ARGS@ would leave "multiboot /boot/k "; trailing blanks never matter to
     * GRUB outside quotes, and a quoted word ends in a quote. */
    if (substituted)
        while (out->len > start &&
               (out->buf[out->len - 1] == ' ' || out->buf[out->len - 1] == '\t'))
            out->buf[--out->len] = '\0';
    if (mk_buf_add(out, "\n", 1) < 0)
        return mk_set_error(rd->ctx, MK_ENOMEM, "out of memory rendering grub.cfg");
    return MK_OK;
}

static const struct mk_builtin_template *find_builtin(const char *name)
{
    for (const struct mk_builtin_template *t = mk_builtin_templates; t->name; t++)
        if (!strcmp(name, t->name))
            return t;
    return NULL;
}

/* A name is a template in the folder only when it is a plain word; "x/y" or "y.cfg" is a
 * file path. Sets (*builtin) instead of (path) for a built-in name that the folder (the
 * user's override) does not hold. */
static int resolve(struct mk_ctx *ctx, const char *dir, const char *name, struct mk_buf *path,
                   const struct mk_builtin_template **builtin)
{
    size_t n = strlen(name);
    int is_path = strchr(name, '/') || (n >= 4 && !strcmp(name + n - 4, ".cfg"));
    struct stat st;

    *builtin = NULL;
    if (is_path) {
        if (mk_buf_adds(path, name) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        if (stat(name, &st) < 0)
            return mk_set_errno(ctx, errno == ENOENT ? MK_ENOTFOUND : MK_EIO, errno,
                                "template '%s'", name);
        if (!S_ISREG(st.st_mode))
            return mk_set_error(ctx, MK_EINVAL, "template '%s' is not a regular file", name);
        return MK_OK;
    }
    int plain = n > 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            plain = 0;
    if (plain && dir && mk_buf_addf(path, "%s/%s.cfg", dir, name) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (plain && dir && stat(path->buf, &st) == 0 && S_ISREG(st.st_mode))
        return MK_OK;
    if (plain && (*builtin = find_builtin(name)))
        return MK_OK;
    if (plain && dir)
        return mk_set_error(ctx, MK_ENOTFOUND,
                            "unknown template '%s' (built-in: " BUILTIN_LIST
                            "; or give a path to a .cfg file); not in %s", name, dir);
    return mk_set_error(ctx, MK_ENOTFOUND,
                        "unknown template '%s' (built-in: " BUILTIN_LIST
                        "; or give a path to a .cfg file)", name);
}

int mk_template_render(struct mk_ctx *ctx, const char *template_dir, const char *name,
                       const struct mk_template_vars *vars, struct mk_buf *out)
{
    struct mk_buf path = MK_BUF_INIT, text = MK_BUF_INIT;
    const struct mk_builtin_template *builtin;
    int r;

    if (!name || !vars || !vars->kernel_path || (vars->nargs && !vars->args) ||
        (vars->nmodules && !vars->modules))
        return mk_set_error(ctx, MK_EINVAL, "mk_template_render: missing template or values");
    if (!template_dir)
        template_dir = mk_template_default_dir();
    if ((r = resolve(ctx, template_dir, name, &path, &builtin)) < 0)
        goto out;
    if (builtin) {
        r = mk_buf_add(&text, builtin->text, builtin->len);
        if (r == MK_OK)
            r = mk_buf_addf(&path, "built-in template '%s'", builtin->name);
        if (r < 0) {
            r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
            goto out;
        }
    } else if ((r = mk_buf_read_file(ctx, &text, path.buf, TEMPLATE_MAX)) < 0) {
        mk_error_prefix(ctx, "template");
        goto out;
    }
    if (memchr(text.buf, '\0', text.len)) {
        r = mk_set_error(ctx, MK_ECONFIG, "template '%s' is not a text file", path.buf);
        goto out;
    }
    struct render rd = {.ctx = ctx, .vars = vars, .file = path.buf};
    size_t before = out->len, max = out->max;

    if (!out->max || (out->max > before && out->max - before > RENDERED_MAX))
        out->max = before + RENDERED_MAX;
    for (const char *p = text.buf, *end = text.buf + text.len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p), next = len + (nl != NULL);
        if (len && p[len - 1] == '\r') /* a template saved with CRLF line ends */
            len--;
        rd.line++;
        if ((r = mk_check_cancel(ctx)) < 0 || (r = render_line(&rd, out, p, len)) < 0) {
            if (r == MK_ENOMEM && out->max != max)
                r = mk_set_error(ctx, MK_ECONFIG, "template '%s' line %u: grub.cfg would be "
                                 "over %u MiB", path.buf, rd.line, RENDERED_MAX >> 20);
            out->max = max;
            if (out->len != before) {
                out->len = before;
                out->buf[before] = '\0';
            }
            goto out;
        }
        p += next;
    }
    r = MK_OK;
    out->max = max;
out:
    mk_buf_release(&path);
    mk_buf_release(&text);
    return r;
}
