/* test_clouds_yaml.c: clouds.yaml, secure.yaml and OS_* variables as OpenStack's clients read
 * them (uploaders/clouds_yaml.c). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openstack_private.h"
#include "unit.h"

static char dir[256];

static const char *const os_vars[] = {
    "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE", "OS_AUTH_URL", "OS_USERNAME",
    "OS_PASSWORD", "OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_TENANT_NAME", "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_INTERFACE", "OS_AUTH_TYPE", "OS_TOKEN",
    "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_CACERT",
    "OS_IDENTITY_API_VERSION", "XDG_CONFIG_HOME", "OS_INSECURE", "OS_DEFAULT_DOMAIN",
    "REQUESTS_CA_BUNDLE", "OS_USER_DOMAIN_ID", "OS_PROJECT_DOMAIN_ID", "OS_USER_ID",
    "OS_AUTH_TYPE",
};

/* A clean environment: a scratch HOME and working folder, no OS_* variables. */
static void fresh(void)
{
    char cmd[300];

    for (size_t i = 0; i < MK_ARRAY_SIZE(os_vars); i++)
        unsetenv(os_vars[i]);
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    snprintf(dir, sizeof(dir), "/tmp/test_clouds_yaml.XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    CHECK(chdir(dir) == 0);
    setenv("HOME", dir, 1);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char clouds[] =
    "defaults: &auth\n"
    "  auth_url: https://keystone.example.com:5000/v3\n"
    "  user_domain_name: Default\n"
    "clouds:\n"
    "  dev:\n"
    "    auth:\n"
    "      <<: *auth\n"
    "      auth_url: https://keystone.example.com:5000/v3\n"
    "      username: demo\n"
    "      password: from-clouds\n"
    "      project_id: 610275\n"
    "    region_name: RegionOne\n"
    "    interface: internalURL\n"
    "    identity_api_version: 3\n"
    "    verify: false\n"
    "  app:\n"
    "    auth_type: v3applicationcredential\n"
    "    auth:\n"
    "      auth_url: http://127.0.0.1:5000\n"
    "      application_credential_id: 'abc'\n"
    "    regions: [RegionTwo, RegionThree]\n"
    "  v2:\n"
    "    auth: {auth_url: 'http://x/v2.0', username: u, password: p, project_name: p}\n"
    "    identity_api_version: '2'\n"
    "  oidc:\n"
    "    auth_type: v3oidcpassword\n"
    "    auth: {auth_url: 'http://x/v3'}\n";

static const char secure[] =
    "clouds:\n"
    "  dev:\n"
    "    auth:\n"
    "      password: from-secure\n"
    "  app:\n"
    "    auth:\n"
    "      application_credential_secret: s3cr3t\n";

static void test_clouds_yaml_in_cwd(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    put("clouds.yaml", clouds);
    CHECK_OK(ctx, os_cloud_load(ctx, "dev", &c));
    if (c) {
        CHECK_STR(c->name, "dev");
        CHECK_EQ(c->kind, OS_AUTH_PASSWORD);
        CHECK_STR(c->auth_url, "https://keystone.example.com:5000/v3");
        CHECK_STR(c->username, "demo");
        CHECK_STR(c->password, "from-clouds");
        CHECK_STR(c->project_id, "610275"); /* a plain scalar stays a string */
        CHECK_STR(c->user_domain_name, "Default");
        CHECK_STR(c->region_name, "RegionOne");
        CHECK_STR(c->interface, "internal");
        CHECK(c->insecure);
        CHECK(strstr(c->origin, "clouds.yaml") != NULL);
    }
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

static void test_secure_yaml_wins(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    CHECK(mkdir(".config", 0700) == 0 && mkdir(".config/openstack", 0700) == 0);
    put(".config/openstack/clouds.yaml", clouds);
    put(".config/openstack/secure.yaml", secure);
    setenv("OS_CLOUD", "dev", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, NULL, &c));
    if (c) {
        CHECK_STR(c->password, "from-secure");
        CHECK_STR(c->username, "demo");
    }
    os_cloud_free(c);
    c = NULL;
    /* The application credential: its secret only in secure.yaml; the first region. */
    CHECK_OK(ctx, os_cloud_load(ctx, "app", &c));
    if (c) {
        CHECK_EQ(c->kind, OS_AUTH_APPCRED);
        CHECK_STR(c->app_cred_id, "abc");
        CHECK_STR(c->app_cred_secret, "s3cr3t");
        CHECK_STR(c->region_name, "RegionTwo");
        CHECK_STR(c->interface, "public");
        CHECK(!c->insecure);
    }
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

static void test_config_file_variable(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    put("other.yaml", clouds);
    put("clouds.yaml", "clouds: {}\n"); /* OS_CLIENT_CONFIG_FILE is looked at first */
    setenv("OS_CLIENT_CONFIG_FILE", "other.yaml", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, "dev", &c));
    os_cloud_free(c);
    /* One that names no file falls through to the usual places, as in openstacksdk. */
    setenv("OS_CLIENT_CONFIG_FILE", "missing.yaml", 1);
    CHECK_FAIL(ctx, os_cloud_load(ctx, "dev", &c), MK_ENOTFOUND, "is not in ./clouds.yaml");
    CHECK(unlink("clouds.yaml") == 0);
    CHECK(mkdir(".config", 0700) == 0 && mkdir(".config/openstack", 0700) == 0);
    put(".config/openstack/clouds.yaml", clouds);
    c = NULL;
    CHECK_OK(ctx, os_cloud_load(ctx, "dev", &c));
    if (c)
        CHECK(strstr(c->origin, ".config/openstack/clouds.yaml") != NULL);
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

/* $XDG_CONFIG_HOME/openstack and ~/.config/openstack are both searched, in that order, and
 * clouds.json is read like clouds.yaml. */
static void test_search_places(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    CHECK(mkdir("xdg", 0700) == 0 && mkdir("xdg/openstack", 0700) == 0);
    CHECK(mkdir(".config", 0700) == 0 && mkdir(".config/openstack", 0700) == 0);
    setenv("XDG_CONFIG_HOME", "xdg", 1);
    put(".config/openstack/clouds.yaml", clouds);
    CHECK_OK(ctx, os_cloud_load(ctx, "dev", &c));
    if (c)
        CHECK(strstr(c->origin, ".config/openstack/clouds.yaml") != NULL);
    os_cloud_free(c);
    c = NULL;
    put("xdg/openstack/clouds.json",
        "{\"clouds\": {\"j\": {\"auth\": {\"auth_url\": \"http://127.0.0.1:5000/v3\",\n"
        "\"username\": \"u\", \"password\": \"p\", \"project_name\": \"p\"},\n"
        "\"region_name\": \"RJ\"}}}\n");
    CHECK_OK(ctx, os_cloud_load(ctx, "j", &c));
    if (c) {
        CHECK(strstr(c->origin, "xdg/openstack/clouds.json") != NULL);
        CHECK_STR(c->region_name, "RJ");
    }
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

static void test_errors(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    CHECK_FAIL(ctx, os_cloud_load(ctx, NULL, &c), MK_ECONFIG, "no OpenStack cloud given");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "dev", &c), MK_ENOTFOUND, "no clouds.yaml found");
    put("clouds.yaml", clouds);
    CHECK_FAIL(ctx, os_cloud_load(ctx, "nope", &c), MK_ENOTFOUND,
               "cloud 'nope' is not in ./clouds.yaml (it has: dev, app, v2, oidc)");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "app", &c), MK_ECONFIG,
               "application_credential_secret is not set");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "v2", &c), MK_EUNSUPPORTED, "identity_api_version 2");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "oidc", &c), MK_EUNSUPPORTED,
               "auth_type 'v3oidcpassword' is not supported");
    put("clouds.yaml", "clouds:\n  dev: [1, 2\n");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "dev", &c), MK_ECONFIG, "./clouds.yaml: line");
    put("clouds.yaml", "clouds:\n  dev:\n    auth:\n      password: [a]\n");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "dev", &c), MK_ECONFIG,
               "clouds.dev.auth.password must be a single value");
    /* A password never shows in a message. */
    put("clouds.yaml", "clouds:\n  dev:\n    auth:\n      password: hunter2\n");
    CHECK_FAIL(ctx, os_cloud_load(ctx, "dev", &c), MK_ECONFIG, "auth_url");
    CHECK(!strstr(mk_errmsg(ctx), "hunter2"));
    mk_ctx_free(ctx);
}

static void test_environment(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    setenv("OS_AUTH_URL", "http://127.0.0.1:5000/v3", 1);
    setenv("OS_USERNAME", "demo", 1);
    setenv("OS_TENANT_NAME", "legacy", 1);
    CHECK_FAIL(ctx, os_cloud_load(ctx, NULL, &c), MK_ECONFIG, "auth.password (OS_PASSWORD");
    setenv("OS_PASSWORD", "pw", 1);
    setenv("OS_REGION_NAME", "R", 1);
    setenv("OS_INSECURE", "true", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, NULL, &c));
    if (c) {
        CHECK_STR(c->name, "(environment)");
        CHECK_STR(c->project_name, "legacy");
        CHECK_STR(c->default_domain_id, "default");
        CHECK_STR(c->region_name, "R");
        CHECK(c->insecure);
    }
    os_cloud_free(c);
    c = NULL;
    /* A token alone chooses token auth. */
    unsetenv("OS_PASSWORD");
    setenv("OS_TOKEN", "tok", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, NULL, &c));
    if (c)
        CHECK_EQ(c->kind, OS_AUTH_TOKEN);
    os_cloud_free(c);
    c = NULL;
    /* Every OS_* variable wins over a named cloud's value, as openstackclient's options
     * default to them. */
    put("clouds.yaml", "clouds:\n  c:\n    auth: {auth_url: 'http://k/v3', username: u, "
                       "password: from-file, project_name: p}\n    region_name: FromFile\n"
                       "    interface: public\n    cacert: /from/file.pem\n");
    setenv("OS_PASSWORD", "pw2", 1);
    setenv("OS_INTERFACE", "internal", 1);
    setenv("OS_PROJECT_NAME", "p2", 1);
    setenv("OS_CACERT", "/from/env.pem", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, "c", &c));
    if (c) {
        CHECK_STR(c->password, "pw2");
        CHECK_STR(c->region_name, "R");
        CHECK_STR(c->interface, "internal");
        CHECK_STR(c->project_name, "p2");
        CHECK_STR(c->cacert, "/from/env.pem");
        CHECK_STR(c->auth_url, "http://127.0.0.1:5000/v3"); /* OS_AUTH_URL */
    }
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

/* REQUESTS_CA_BUNDLE is the CA bundle when neither the cloud nor OS_CACERT names one. */
static void test_requests_ca_bundle(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    put("clouds.yaml", "clouds:\n  c:\n    auth: {auth_url: 'https://k/v3', username: u, "
                       "password: p, project_name: p}\n  d:\n    auth: {auth_url: "
                       "'https://k/v3', username: u, password: p, project_name: p}\n"
                       "    cacert: /cloud.pem\n");
    setenv("REQUESTS_CA_BUNDLE", "/requests.pem", 1);
    CHECK_OK(ctx, os_cloud_load(ctx, "c", &c));
    if (c)
        CHECK_STR(c->cacert, "/requests.pem");
    os_cloud_free(c);
    c = NULL;
    CHECK_OK(ctx, os_cloud_load(ctx, "d", &c));
    if (c)
        CHECK_STR(c->cacert, "/cloud.pem");
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

/* No project at all: Keystone's default project for the user is used. */
static void test_no_project(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *c = NULL;

    fresh();
    put("clouds.yaml", "clouds:\n  c:\n    auth: {auth_url: 'http://k/v3', username: u, "
                       "password: p}\n");
    CHECK_OK(ctx, os_cloud_load(ctx, "c", &c));
    if (c)
        CHECK(!c->project_name && !c->project_id);
    os_cloud_free(c);
    mk_ctx_free(ctx);
}

static void cleanup(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(chdir("/") == 0);
    CHECK(system(cmd) == 0);
}

UNIT_MAIN(UNIT_TEST(test_clouds_yaml_in_cwd), UNIT_TEST(test_secure_yaml_wins),
          UNIT_TEST(test_config_file_variable), UNIT_TEST(test_errors),
          UNIT_TEST(test_environment), UNIT_TEST(test_search_places),
          UNIT_TEST(test_requests_ca_bundle), UNIT_TEST(test_no_project), UNIT_TEST(cleanup))
