/* clouds_private.h: what the two halves of the OpenStack settings share: the table of
 * settings (clouds_config.c) and the reading of clouds.yaml and secure.yaml (clouds_files.c). */
#ifndef MK_CLOUDS_PRIVATE_H
#define MK_CLOUDS_PRIVATE_H

#include <stddef.h>

#include "openstack_private.h"

/* One setting: where it lives under clouds.NAME (a dotted path, with an older alias), the
 * environment variables that give it, and where it goes. */
struct os_field_def {
    const char *path;
    const char *alias;
    const char *env;
    const char *env_alias;
    size_t off;
};

extern const struct os_field_def os_fields[];
extern const size_t os_n_fields;

/* Where setting (f) goes in (c). */
char **os_field_slot(struct os_cloud *c, const struct os_field_def *f);
/* getenv(), with an empty value counting as unset. */
const char *os_env(const char *name);
/* Wipes and frees a string that may be a secret. */
void os_free_secret(char *s);
/* Fills (c) from cloud (name) in clouds.yaml and secure.yaml (secure.yaml's values win).
 * MK_ENOTFOUND when there is no clouds.yaml or no such cloud. */
int os_clouds_from_files(struct mk_ctx *ctx, const char *name, struct os_cloud *c);

#endif
