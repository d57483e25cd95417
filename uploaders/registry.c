/* registry.c: the list of uploaders built in. A new cloud is one line here. */
#include <string.h>

#include "uploader.h"

extern const struct mk_uploader mk_uploader_gce;
extern const struct mk_uploader mk_uploader_openstack;

const struct mk_uploader *const mk_uploaders[] = {
    &mk_uploader_gce,
    &mk_uploader_openstack,
    NULL,
};

const struct mk_uploader *mk_uploader_find(const char *name)
{
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

const char *mk_uploader_usage(const char *name)
{
    const struct mk_uploader *u = mk_uploader_find(name);

    return u ? u->usage : NULL;
}
