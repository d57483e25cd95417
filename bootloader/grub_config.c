/* grub_config.c: which GRUB modules core.img must embed so that every grub.cfg command exists. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grub.h"
#include "grub_private.h"

/* Always embedded: reading the disk, the partition and the filesystem, the menu, and the
 * serial console that headless clouds show. */
static const char *const base_modules[] = {"biosdisk", "part_msdos", "ext2", "normal",
                                           "serial", "terminal"};

/* Registered by kernel.img itself (kern/corecmd.c), so in no module and not in
 * command.lst. */
static const char *const kernel_commands[] = {"set", "unset", "ls", "insmod"};

/* Words the script parser handles itself; each is followed by another command. */
static const char *const lead_keywords[] = {"if", "elif", "while", "until", "then", "else",
                                            "do", "!"};
/* Parser words followed by arguments or nothing, never by a command. */
static const char *const tail_keywords[] = {"fi", "done", "for", "in"};

enum cfg_tok { TOK_END, TOK_WORD, TOK_SEP, TOK_OPEN, TOK_CLOSE };

struct cfg_lexer {
    const char *p;
    unsigned line;
    struct mk_buf word;  /* the current word, unquoted */
    int word_dynamic;    /* it contains a $variable expansion */
    int word_quoted_start;
};

struct cfg_cmd {
    char *name;
    unsigned line;
};

struct cfg_scan {
    struct cfg_cmd *cmds;
    size_t n_cmds, alloc_cmds;
    char **funcs;
    size_t n_funcs, alloc_funcs;
};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Ends a word: blanks, newlines, ';', and the block braces. */
static int ends_word(char c)
{
    return c == '\0' || is_blank(c) || c == '\n' || c == ';' || c == '{' || c == '}';
}

static int lex_error(struct mk_ctx *ctx, unsigned line, const char *what)
{
    return mk_set_error(ctx, MK_EBOOT, "grub.cfg line %u: %s", line, what);
}

/* Reads the next token the way GRUB's script lexer splits a line: quotes and backslashes
 * group characters into one word, and '#' starts a comment only at the start of a word. */
static int lex_next(struct mk_ctx *ctx, struct cfg_lexer *lx, enum cfg_tok *ret)
{
    for (;;) {
        if (is_blank(*lx->p)) {
            lx->p++;
        } else if (lx->p[0] == '\\' && lx->p[1] == '\n') {
            lx->p += 2;
            lx->line++;
        } else if (*lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else {
            break;
        }
    }
    switch (*lx->p) {
    case '\0':
        *ret = TOK_END;
        return MK_OK;
    case '\n':
        lx->p++;
        lx->line++;
        *ret = TOK_SEP;
        return MK_OK;
    case ';':
        lx->p++;
        *ret = TOK_SEP;
        return MK_OK;
    case '{':
        lx->p++;
        *ret = TOK_OPEN;
        return MK_OK;
    case '}':
        lx->p++;
        *ret = TOK_CLOSE;
        return MK_OK;
    }

    unsigned start_line = lx->line;
    mk_buf_reset(&lx->word);
    lx->word_dynamic = 0;
    lx->word_quoted_start = (*lx->p == '\'' || *lx->p == '"');
    while (!ends_word(*lx->p)) {
        char c = *lx->p++;
        int r = MK_OK;
        if (c == '\\') {
            if (*lx->p == '\0')
                break;
            if (*lx->p == '\n') {
                lx->line++;
                lx->p++;
                continue;
            }
            r = mk_buf_add(&lx->word, lx->p++, 1);
        } else if (c == '\'') {
            while (*lx->p && *lx->p != '\'') {
                if (*lx->p == '\n')
                    lx->line++;
                if (mk_buf_add(&lx->word, lx->p++, 1) < 0)
                    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
            }
            if (!*lx->p)
                return lex_error(ctx, start_line, "unterminated ' quote");
            lx->p++;
        } else if (c == '"') {
            while (*lx->p && *lx->p != '"') {
                if (lx->p[0] == '\\' && lx->p[1] && strchr("\\\"$\n", lx->p[1]))
                    lx->p++;
                if (*lx->p == '\n')
                    lx->line++;
                if (*lx->p == '$')
                    lx->word_dynamic = 1;
                if (mk_buf_add(&lx->word, lx->p++, 1) < 0)
                    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
            }
            if (!*lx->p)
                return lex_error(ctx, start_line, "unterminated \" quote");
            lx->p++;
        } else if (c == '$') {
            lx->word_dynamic = 1;
            r = mk_buf_add(&lx->word, &c, 1);
            if (r == MK_OK && *lx->p == '{') {
                /* ${name} keeps its braces inside the word. */
                const char *close = strchr(lx->p, '}');
                const char *nl = strchr(lx->p, '\n');
                if (!close || (nl && nl < close))
                    return lex_error(ctx, start_line, "unterminated ${");
                r = mk_buf_add(&lx->word, lx->p, (size_t)(close + 1 - lx->p));
                lx->p = close + 1;
            }
        } else {
            r = mk_buf_add(&lx->word, &c, 1);
        }
        if (r < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    *ret = TOK_WORD;
    return MK_OK;
}

/* NAME=value is a variable assignment, not a command. */
static int is_assignment(const char *w, int quoted_start)
{
    if (quoted_start || !(isalpha((unsigned char)w[0]) || w[0] == '_'))
        return 0;
    for (const char *p = w; *p; p++) {
        if (*p == '=')
            return 1;
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    }
    return 0;
}

static int push_str(struct mk_ctx *ctx, char ***arr, size_t *n, size_t *alloc, const char *s)
{
    if (MK_GROW(*arr, *n + 1, *alloc) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (!((*arr)[*n] = strdup(s)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    (*n)++;
    return MK_OK;
}

static int push_cmd(struct mk_ctx *ctx, struct cfg_scan *sc, const char *name, unsigned line)
{
    if (MK_GROW(sc->cmds, sc->n_cmds + 1, sc->alloc_cmds) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (!(sc->cmds[sc->n_cmds].name = strdup(name)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    sc->cmds[sc->n_cmds++].line = line;
    return MK_OK;
}

static void scan_free(struct cfg_scan *sc)
{
    for (size_t i = 0; i < sc->n_cmds; i++)
        free(sc->cmds[i].name);
    for (size_t i = 0; i < sc->n_funcs; i++)
        free(sc->funcs[i]);
    free(sc->cmds);
    free(sc->funcs);
}

/* Collects the command words of (cfg): the first word of each command, at top level and
 * inside menuentry, submenu, function, if, for and while bodies. */
static int scan_config(struct mk_ctx *ctx, const char *cfg, struct cfg_scan *sc)
{
    struct cfg_lexer lx = {.p = cfg, .line = 1};
    int expect_cmd = 1, want_fname = 0, depth = 0, r = MK_OK;
    unsigned open_line = 0;
    enum cfg_tok tok = TOK_END;

    mk_buf_init(&lx.word);
    for (;;) {
        unsigned line = lx.line;
        if ((r = lex_next(ctx, &lx, &tok)) < 0)
            break;
        if (tok == TOK_END)
            break;
        if (tok != TOK_WORD) {
            if (tok == TOK_OPEN && depth++ == 0)
                open_line = line;
            if (tok == TOK_CLOSE && --depth < 0) {
                r = lex_error(ctx, line, "'}' without a matching '{'");
                break;
            }
            expect_cmd = 1;
            want_fname = 0;
            continue;
        }
        const char *w = lx.word.buf;
        if (want_fname) {
            r = push_str(ctx, &sc->funcs, &sc->n_funcs, &sc->alloc_funcs, w);
            want_fname = 0;
        } else if (!expect_cmd) {
            continue;
        } else if (in_list(w, lead_keywords, MK_ARRAY_SIZE(lead_keywords)) &&
                   !lx.word_quoted_start) {
            continue;
        } else if (!strcmp(w, "function") && !lx.word_quoted_start) {
            want_fname = 1;
        } else if ((in_list(w, tail_keywords, MK_ARRAY_SIZE(tail_keywords)) &&
                    !lx.word_quoted_start) ||
                   lx.word_dynamic || is_assignment(w, lx.word_quoted_start)) {
            /* Nothing to resolve: a $command is only known at boot. */
        } else {
            r = push_cmd(ctx, sc, w, line);
        }
        if (r < 0)
            break;
        expect_cmd = 0;
    }
    if (r == MK_OK && depth > 0)
        r = lex_error(ctx, open_line, "'{' is never closed");
    mk_buf_release(&lx.word);
    return r;
}

int mk_grub_missing_dir(struct mk_ctx *ctx, const char *dir)
{
    return mk_set_error(ctx, MK_EMISSING,
                        "GRUB i386-pc modules not found in %s: install the Debian package "
                        "grub-pc-bin", dir);
}

int mk_grub_dir_path(struct mk_ctx *ctx, const char *dir, const char *name, char *path,
                     size_t size)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return mk_set_error(ctx, MK_EINVAL, "GRUB folder path too long: %s", dir);
    return MK_OK;
}

/* Looks (cmd) up in command.lst ("*name: module" or "name: module" per line); the module
 * name goes into (mod), "" when the command is not listed. */
static void lookup_command(const char *lst, const char *cmd, char *mod, size_t mod_size)
{
    size_t cmd_len = strlen(cmd);
    mod[0] = '\0';
    for (const char *line = lst; *line;) {
        const char *end = strchr(line, '\n');
        const char *next = end ? end + 1 : line + strlen(line);
        if (!end)
            end = next;
        const char *p = line;
        if (*p == '*')
            p++;
        if ((size_t)(end - p) > cmd_len + 1 && !memcmp(p, cmd, cmd_len) && p[cmd_len] == ':') {
            p += cmd_len + 1;
            while (p < end && is_blank(*p))
                p++;
            size_t n = (size_t)(end - p);
            while (n > 0 && is_blank(p[n - 1]))
                n--;
            if (n > 0 && n < mod_size) {
                memcpy(mod, p, n);
                mod[n] = '\0';
            }
            return;
        }
        line = next;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mk_grub_modules_for_config(struct mk_ctx *ctx, const struct mk_grub_opts *opts,
                               const char *cfg, struct mk_buf *modules)
{
    const char *dir = opts && opts->grub_dir ? opts->grub_dir : MK_GRUB_DEFAULT_DIR;
    struct mk_buf lst = MK_BUF_INIT, out = MK_BUF_INIT;
    struct cfg_scan sc = {0};
    char **mods = NULL;
    size_t n_mods = 0, alloc_mods = 0;
    char path[4096];
    int r;

    if ((r = mk_grub_dir_path(ctx, dir, "command.lst", path, sizeof(path))) < 0)
        return r;
    if (access(path, R_OK) < 0)
        return mk_grub_missing_dir(ctx, dir);
    if ((r = mk_buf_read_file(ctx, &lst, path, 1u << 20)) < 0)
        return r;
    if ((r = scan_config(ctx, cfg ? cfg : "", &sc)) < 0)
        goto out;
    for (size_t i = 0; i < MK_ARRAY_SIZE(base_modules) && r == MK_OK; i++)
        r = push_str(ctx, &mods, &n_mods, &alloc_mods, base_modules[i]);
    for (size_t i = 0; i < sc.n_cmds && r == MK_OK; i++) {
        const char *name = sc.cmds[i].name;
        char mod[256], mod_path[4096];
        if (in_list(name, (const char *const *)sc.funcs, sc.n_funcs))
            continue;
        lookup_command(lst.buf, name, mod, sizeof(mod));
        if (!mod[0]) {
            if (in_list(name, kernel_commands, MK_ARRAY_SIZE(kernel_commands)))
                continue;
            r = mk_set_error(ctx, MK_EBOOT, "grub.cfg line %u: unknown command '%s'",
                             sc.cmds[i].line, name);
            break;
        }
        /* The module list goes on a command line: refuse odd names from a bad .lst. */
        for (const char *p = mod; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
                r = mk_set_error(ctx, MK_EFORMAT, "%s: bad module name '%s' for '%s'", path,
                                 mod, name);
        if (r < 0)
            break;
        char file[300];
        int n = snprintf(file, sizeof(file), "%s.mod", mod);
        if (n < 0 || (size_t)n >= sizeof(file) ||
            (r = mk_grub_dir_path(ctx, dir, file, mod_path, sizeof(mod_path))) < 0) {
            r = r < 0 ? r : mk_set_error(ctx, MK_EINVAL, "module name too long: %s", mod);
            break;
        }
        if (access(mod_path, R_OK) < 0) {
            r = mk_set_error(ctx, MK_EMISSING, "grub.cfg line %u: '%s' needs %s, which is "
                             "missing: install the Debian package grub-pc-bin",
                             sc.cmds[i].line, name, mod_path);
            break;
        }
        if (!in_list(mod, (const char *const *)mods, n_mods))
            r = push_str(ctx, &mods, &n_mods, &alloc_mods, mod);
    }
    if (r < 0)
        goto out;
    qsort(mods, n_mods, sizeof(*mods), cmp_str);
    for (size_t i = 0; i < n_mods && r == MK_OK; i++)
        r = mk_buf_addf(&out, "%s%s", i ? " " : "", mods[i]);
    if (r < 0) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    mk_buf_release(modules);
    *modules = out;
    mk_buf_init(&out);
out:
    for (size_t i = 0; i < n_mods; i++)
        free(mods[i]);
    free(mods);
    scan_free(&sc);
    mk_buf_release(&lst);
    mk_buf_release(&out);
    return r;
}
