/* registry.c: the list of uploaders built in (a new cloud is one line here), and what their
 * option tables tell: the help text and whether an option takes a value. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "uploader.h"

extern const struct mk_uploader mk_uploader_gce;
extern const struct mk_uploader mk_uploader_openstack;

const struct mk_uploader *const mk_uploaders[] = {
    &mk_uploader_gce,
    &mk_uploader_openstack,
    NULL,
};

/* Other names users know the clouds by. */
static const struct {
    const char *alias, *name;
} aliases[] = {
    {"gcp", "gce"},
};

const struct mk_uploader *mk_uploader_find(const char *name)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(aliases); i++)
        if (!strcmp(name, aliases[i].alias))
            name = aliases[i].name;
    for (size_t i = 0; mk_uploaders[i]; i++)
        if (!strcmp(mk_uploaders[i]->name, name))
            return mk_uploaders[i];
    return mk_plugin_find(name);
}

const char *const *mk_uploader_names(void)
{
    static const char *names[MK_ARRAY_SIZE(mk_uploaders)];

    /* Filled once; the list is constant so a race writes the same values. */
    for (size_t i = 0; mk_uploaders[i]; i++)
        names[i] = mk_uploaders[i]->name;
    return names;
}

const char *mk_uploader_description(const char *name)
{
    const struct mk_uploader *u = mk_uploader_find(name);

    return u ? u->description : NULL;
}

/* The help column starts after the longest "--name ARG", up to this many columns; a longer
 * one pushes its own help further right. */
#define OPTIONS_TEXT_MAX_WIDTH 24

static size_t label_len(const struct mk_uploader_option *o)
{
    return 2 + strlen(o->name) + (o->arg ? 1 + strlen(o->arg) : 0);
}

char *mk_uploader_options_text(const struct mk_uploader_option *opts)
{
    struct mk_buf b = MK_BUF_INIT;
    size_t width = 0;
    int r = 0;

    for (const struct mk_uploader_option *o = opts; o && o->name; o++)
        if (o->help && label_len(o) > width && label_len(o) <= OPTIONS_TEXT_MAX_WIDTH)
            width = label_len(o);
    for (const struct mk_uploader_option *o = opts; r >= 0 && o && o->name; o++) {
        const char *h = o->help, *nl;
        size_t pad = label_len(o) < width ? width - label_len(o) : 0;

        if (!h)
            continue;
        r = mk_buf_addf(&b, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        /* A label too long for the column gets a line of its own. */
        if (r >= 0 && (*h || o->repeat) && label_len(o) > width)
            r = mk_buf_addf(&b, "\n%*s", (int)(width + 4), "");
        else if (r >= 0 && (*h || o->repeat))
            r = mk_buf_addf(&b, "%*s  ", (int)pad, "");
        for (; r >= 0 && (nl = strchr(h, '\n')); h = nl + 1)
            r = mk_buf_addf(&b, "%.*s\n%*s", (int)(nl - h), h, (int)(width + 4), "");
        if (r >= 0)
            r = mk_buf_addf(&b, "%s%s%s\n", h, o->repeat && *h ? " " : "",
                            o->repeat ? "(repeatable)" : "");
    }
    if (r < 0) {
        mk_buf_release(&b);
        return NULL;
    }
    return mk_buf_detach(&b, NULL);
}

static pthread_once_t texts_once = PTHREAD_ONCE_INIT;
static char *texts[MK_ARRAY_SIZE(mk_uploaders)];

static void make_texts(void)
{
    for (size_t i = 0; mk_uploaders[i]; i++)
        if (!mk_uploaders[i]->usage)
            texts[i] = mk_uploader_options_text(mk_uploaders[i]->options);
}

const char *mk_uploader_usage(const char *name)
{
    const struct mk_uploader *u = mk_uploader_find(name);

    if (!u || u->usage)
        return u ? u->usage : NULL;
    pthread_once(&texts_once, make_texts);
    for (size_t i = 0; mk_uploaders[i]; i++)
        if (mk_uploaders[i] == u)
            return texts[i] ? texts[i] : "";
    return "";
}

int mk_uploader_option_arity(const char *uploader, const char *key)
{
    const struct mk_uploader *u = uploader && key ? mk_uploader_find(uploader) : NULL;

    if (!u)
        return -1;
    while (*key == '-')
        key++;
    for (const struct mk_uploader_option *o = u->options; o && o->name; o++)
        if (!strcmp(o->name, key))
            return o->arg ? 1 : 0;
    return u->other_options ? 1 : -1;
}
