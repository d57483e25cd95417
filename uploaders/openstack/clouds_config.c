/* clouds_config.c: an OpenStack cloud's settings: the table of what is read and from
 * where, the OS_* variables, and the checks and defaults applied to what was read. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clouds_private.h"
#include "uploader.h"

#define F(p, a, e, ea, member)                                                                     \
    {                                                                                              \
        p, a, e, ea, offsetof(struct os_cloud, member)                                             \
    }
const struct os_field_def os_fields[] = {
    F("auth_type", NULL, "OS_AUTH_TYPE", NULL, auth_type),
    F("auth.auth_url", NULL, "OS_AUTH_URL", NULL, auth_url),
    F("auth.username", "auth.user_name", "OS_USERNAME", NULL, username),
    F("auth.user_id", NULL, "OS_USER_ID", NULL, user_id),
    F("auth.password", NULL, "OS_PASSWORD", NULL, password),
    F("auth.user_domain_name", NULL, "OS_USER_DOMAIN_NAME", NULL, user_domain_name),
    F("auth.user_domain_id", NULL, "OS_USER_DOMAIN_ID", NULL, user_domain_id),
    F("auth.project_name", "auth.tenant_name", "OS_PROJECT_NAME", "OS_TENANT_NAME", project_name),
    F("auth.project_id", "auth.tenant_id", "OS_PROJECT_ID", "OS_TENANT_ID", project_id),
    F("auth.project_domain_name", NULL, "OS_PROJECT_DOMAIN_NAME", NULL, project_domain_name),
    F("auth.project_domain_id", NULL, "OS_PROJECT_DOMAIN_ID", NULL, project_domain_id),
    F("auth.default_domain_id", NULL, "OS_DEFAULT_DOMAIN_ID", "OS_DEFAULT_DOMAIN",
      default_domain_id),
    F("auth.default_domain_name", NULL, "OS_DEFAULT_DOMAIN_NAME", NULL, default_domain_name),
    F("auth.token", NULL, "OS_TOKEN", NULL, token),
    F("auth.application_credential_id", NULL, "OS_APPLICATION_CREDENTIAL_ID", NULL, app_cred_id),
    F("auth.application_credential_name", NULL, "OS_APPLICATION_CREDENTIAL_NAME", NULL,
      app_cred_name),
    F("auth.application_credential_secret", NULL, "OS_APPLICATION_CREDENTIAL_SECRET", NULL,
      app_cred_secret),
    F("region_name", NULL, "OS_REGION_NAME", NULL, region_name),
    F("interface", "endpoint_type", "OS_INTERFACE", "OS_ENDPOINT_TYPE", interface),
    F("identity_api_version", NULL, "OS_IDENTITY_API_VERSION", NULL, identity_api_version),
    F("cacert", NULL, "OS_CACERT", NULL, cacert),
    F("cert", NULL, "OS_CERT", NULL, cert),
    F("key", NULL, "OS_KEY", NULL, key),
    F("verify", NULL, NULL, NULL, verify),
    F("insecure", NULL, "OS_INSECURE", NULL, insecure_text),
    F("image_endpoint_override", NULL, "OS_IMAGE_ENDPOINT_OVERRIDE", NULL, image_endpoint_override),
};
#undef F
const size_t os_n_fields = MK_ARRAY_SIZE(os_fields);

char **os_field_slot(struct os_cloud *c, const struct os_field_def *f)
{
    return (char **)((char *)c + f->off);
}

void os_free_secret(char *s)
{
    if (s)
        mk_wipe(s, strlen(s));
    free(s);
}

void os_cloud_free(struct os_cloud *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < os_n_fields; i++)
        os_free_secret(*os_field_slot(c, &os_fields[i]));
    free(c->name);
    free(c->origin);
    free(c->first_region);
    free(c);
}

const char *os_env(const char *name)
{
    const char *v = name ? getenv(name) : NULL;

    return v && *v ? v : NULL;
}

static bool is_false(const char *s)
{
    static const char *const no[] = {"false", "no", "off", "0", "n"};

    for (size_t i = 0; s && i < MK_ARRAY_SIZE(no); i++)
        if (!strcasecmp(s, no[i]))
            return true;
    return false;
}

static bool is_true(const char *s)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "y"};

    for (size_t i = 0; s && i < MK_ARRAY_SIZE(yes); i++)
        if (!strcasecmp(s, yes[i]))
            return true;
    return false;
}

/* The OS_* variables, over whatever the files gave: openstackclient's options default to
 * them and win over the named cloud's values. */
static int load_from_env(struct mk_ctx *ctx, struct os_cloud *c)
{
    if (!c->origin && !(c->origin = strdup("OS_* environment variables")))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < os_n_fields; i++) {
        const char *v = os_env(os_fields[i].env);
        char **dst = os_field_slot(c, &os_fields[i]);

        if (!v)
            v = os_env(os_fields[i].env_alias);
        if (!v)
            continue;
        os_free_secret(*dst);
        if (!(*dst = strdup(v)))
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    return MK_OK;
}

/* ---- checking what was read ---- */

static int set_default(struct mk_ctx *ctx, char **dst, const char *value)
{
    if (*dst || !value)
        return MK_OK;
    if (!(*dst = strdup(value)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

static int missing(struct mk_ctx *ctx, const struct os_cloud *c, const char *what)
{
    return mk_set_error(ctx, MK_ECONFIG, "cloud '%s' (%s): %s is not set", c->name, c->origin,
                        what);
}

static int check(struct mk_ctx *ctx, struct os_cloud *c)
{
    const char *t = c->auth_type;
    int r;

    if (c->identity_api_version && strcmp(c->identity_api_version, "3") &&
        strncmp(c->identity_api_version, "3.", 2))
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): identity_api_version %s is not supported (only 3)",
                            c->name, c->origin, c->identity_api_version);
    if (!t) {
        /* As openstackclient does, the credentials given choose the method. */
        if (c->app_cred_secret && !c->password)
            c->kind = OS_AUTH_APPCRED;
        else if (c->token && !c->password)
            c->kind = OS_AUTH_TOKEN;
        else
            c->kind = OS_AUTH_PASSWORD;
    } else if (!strcmp(t, "password") || !strcmp(t, "v3password")) {
        c->kind = OS_AUTH_PASSWORD;
    } else if (!strcmp(t, "v3applicationcredential") || !strcmp(t, "applicationcredential")) {
        c->kind = OS_AUTH_APPCRED;
    } else if (!strcmp(t, "token") || !strcmp(t, "v3token")) {
        c->kind = OS_AUTH_TOKEN;
    } else {
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): auth_type '%s' is not supported (password, "
                            "v3applicationcredential, token)",
                            c->name, c->origin, t);
    }
    /* requests, under openstacksdk, takes its CA bundle from here when none is set. */
    r = set_default(ctx, &c->cacert, os_env("REQUESTS_CA_BUNDLE"));
    if (r < 0)
        return r;
    if (!c->auth_url)
        return missing(ctx, c, "auth.auth_url (OS_AUTH_URL)");
    if (c->cert || c->key)
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s' (%s): TLS client certificates (cert, key) are not "
                            "supported",
                            c->name, c->origin);
    switch (c->kind) {
    case OS_AUTH_PASSWORD:
        if (!c->username && !c->user_id)
            return missing(ctx, c, "auth.username (OS_USERNAME) or auth.user_id");
        if (!c->password)
            return missing(ctx, c, "auth.password (OS_PASSWORD, or in secure.yaml)");
        break;
    case OS_AUTH_APPCRED:
        if (!c->app_cred_secret)
            return missing(ctx, c, "auth.application_credential_secret");
        if (!c->app_cred_id && !c->app_cred_name)
            return missing(ctx, c, "auth.application_credential_id or _name");
        if (!c->app_cred_id && !c->username && !c->user_id)
            return missing(ctx, c, "auth.username (needed with application_credential_name)");
        break;
    case OS_AUTH_TOKEN:
        if (!c->token)
            return missing(ctx, c, "auth.token (OS_TOKEN)");
        break;
    }
    /* No project: Keystone scopes the token to the user's default project. */
    /* Keystone needs a domain with every name; openstackclient defaults to the id "default". */
    if (!c->default_domain_id && !c->default_domain_name) {
        r = set_default(ctx, &c->default_domain_id, "default");
        if (r < 0)
            return r;
    }
    if (c->interface) {
        size_t n = strlen(c->interface);

        /* Legacy v2 names: publicURL, internalURL, adminURL. */
        if (n > 3 && !strcmp(c->interface + n - 3, "URL"))
            c->interface[n - 3] = '\0';
        if (strcmp(c->interface, "public") && strcmp(c->interface, "internal") &&
            strcmp(c->interface, "admin"))
            return mk_set_error(ctx, MK_ECONFIG,
                                "cloud '%s' (%s): interface '%s' is not public, internal or admin",
                                c->name, c->origin, c->interface);
    }
    r = set_default(ctx, &c->interface, "public");
    if (r >= 0)
        r = set_default(ctx, &c->region_name, c->first_region);
    if (r < 0)
        return r;
    c->insecure = is_false(c->verify) || is_true(c->insecure_text);
    return MK_OK;
}

int os_cloud_load(struct mk_ctx *ctx, const char *name, struct os_cloud **ret)
{
    struct os_cloud *c;
    bool from_files;
    int r;

    mk_hold_secrets(); /* clouds.yaml and secure.yaml hold passwords */

    if (!name || !*name)
        name = os_env("OS_CLOUD");
    from_files = name != NULL;
    if (!from_files && !os_env("OS_AUTH_URL"))
        return mk_set_error(ctx, MK_ECONFIG,
                            "no OpenStack cloud given: use --os-cloud NAME or OS_CLOUD (with "
                            "clouds.yaml), or set OS_AUTH_URL and the other OS_* variables");
    c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strdup(from_files ? name : "(environment)"))) {
        free(c);
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
    r = from_files ? os_clouds_from_files(ctx, name, c) : MK_OK;
    if (r >= 0)
        r = load_from_env(ctx, c);
    if (r >= 0)
        r = check(ctx, c);
    if (r < 0) {
        os_cloud_free(c);
        return r;
    }
    *ret = c;
    return MK_OK;
}
