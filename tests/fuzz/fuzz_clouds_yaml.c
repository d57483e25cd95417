/* fuzz_clouds_yaml.c: OpenStack's clouds.yaml (the cloud named "c"), with its YAML anchors,
 * aliases and merge keys, and the checks on what it holds.
 * seeds: printf 'clouds:\n  c:\n    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      username: u\n      password: p\n      project_name: x\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n' >"$SEEDS/password.yaml"
 * seeds: printf 'base: &b {auth_type: v3applicationcredential, auth: {auth_url: "https://k:5000", application_credential_id: i, application_credential_secret: s}}\nclouds:\n  c:\n    <<: *b\n    interface: public\n    verify: false\n' >"$SEEDS/appcred.yaml"
 * seeds: printf 'clouds:\n  c: {auth: {auth_url: "https://k/v3", token: t, project_id: p}, auth_type: token, regions: [a, b]}\n' >"$SEEDS/token.yaml"
 * options: -max_len=20000
 */
#include "fuzz.h"
#include "openstack_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct os_cloud *cloud = NULL;
    int r;

    if (!ctx)
        abort();
    setenv("OS_CLIENT_CONFIG_FILE", fuzz_file(data, size), 1);
    unsetenv("OS_CLIENT_SECURE_FILE"); /* and no secure.yaml found in the usual places: */
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/nonexistent", 1);
    r = os_cloud_load(ctx, "c", &cloud);
    fuzz_check_error(ctx, r);
    if (r == MK_OK)
        os_cloud_free(cloud);
    mk_ctx_free(ctx);
    return 0;
}
