/* template.h: rendering grub.cfg from a template. */
#ifndef MK_TEMPLATE_H
#define MK_TEMPLATE_H

#include "mk_private.h"

struct mk_template_module {
    const char *path; /* in the image: "/boot/app" */
    const char *args; /* NULL = none */
};

struct mk_template_vars {
    const char *kernel_path;      /* in the image: "/boot/hello.virtio" */
    const char *const *args;      /* the kernel's command line, one word each */
    size_t nargs;
    const struct mk_template_module *modules;
    size_t nmodules;
    int multiboot2;               /* use multiboot2/module2 */
};

/* Renders the template (name) ("multiboot", "solo5", "hermit", found in (template_dir) as
 * NAME.cfg; or a path to a file when (name) contains a '/' or ends in .cfg) into (out).
 * MK_ENOTFOUND with a message naming the template and listing the built-in ones. */
int mk_template_render(struct mk_ctx *ctx, const char *template_dir, const char *name,
                       const struct mk_template_vars *vars, struct mk_buf *out);
/* Appends (word) to (out) quoted for GRUB's shell-like parser so that it reaches the kernel
 * byte for byte. */
int mk_grub_quote(struct mk_buf *out, const char *word);
/* Appends the command line GRUB 2.06 hands a multiboot kernel (or module) whose grub.cfg
 * words after the file name are (args): the words joined by single spaces, a word holding a
 * space wrapped in double quotes, and \ ' " each preceded by a backslash. Lets callers and
 * tests predict what the kernel sees. */
int mk_grub_loader_cmdline(struct mk_buf *out, const char *const *args, size_t nargs);
/* The template folder: $MK_TEMPLATE_DIR, else the installed one. */
const char *mk_template_default_dir(void);

#endif
