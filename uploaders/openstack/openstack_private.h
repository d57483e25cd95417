/* openstack_private.h: what the OpenStack uploader's files share (cloud settings, Keystone). */
#ifndef MK_OPENSTACK_PRIVATE_H
#define MK_OPENSTACK_PRIVATE_H

#include <stdbool.h>

#include <gcrypt.h>
#include <jansson.h>

#include "http.h"
#include "mk_private.h"

enum os_auth_kind { OS_AUTH_PASSWORD = 1, OS_AUTH_APPCRED, OS_AUTH_TOKEN };

/* One cloud's settings, as OpenStack's own clients read them. Every string is malloc'ed or
 * NULL; the secrets (password, token, app_cred_secret) are wiped by os_cloud_free(). */
struct os_cloud {
    char *name;   /* the cloud's name in clouds.yaml, or "(environment)" */
    char *origin; /* the clouds.yaml it came from, or "OS_* environment variables" */
    enum os_auth_kind kind;
    bool insecure; /* verify: false, or insecure: true */
    char *auth_type;
    char *auth_url;
    char *username;
    char *user_id;
    char *password;
    char *user_domain_name;
    char *user_domain_id;
    char *project_name;
    char *project_id;
    char *project_domain_name;
    char *project_domain_id;
    char *default_domain_id;
    char *default_domain_name;
    char *token;
    char *app_cred_id;
    char *app_cred_name;
    char *app_cred_secret;
    char *region_name;
    char *interface;
    char *identity_api_version;
    char *cacert;
    char *cert;
    char *key;
    char *verify;
    char *insecure_text;
    char *image_endpoint_override;
    char *first_region; /* from a regions: list, used when region_name is not set */
};

/* Loads the settings of cloud (name), or of OS_CLOUD when (name) is NULL, from clouds.yaml
 * and secure.yaml (searched in OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE, ./,
 * ~/.config/openstack, /etc/openstack; the first file found wins, secure.yaml's values win
 * over clouds.yaml's). With neither, from the OS_* variables of an RC file. The result is
 * checked: an auth URL, the auth type's credentials and a project scope are present.
 * Errors: MK_ENOTFOUND (no such cloud), MK_ECONFIG (unreadable or incomplete settings),
 * MK_EUNSUPPORTED (auth type, identity API version). */
int os_cloud_load(struct mk_ctx *ctx, const char *name, struct os_cloud **ret);
void os_cloud_free(struct os_cloud *cloud);

/* A Keystone v3 token and the catalog that came with it. */
struct os_session {
    char *token;      /* secret: wiped by os_session_release() */
    char *project_id; /* the token's project */
    void *catalog;    /* json_t array */
};

/* Authenticates (cloud) with Keystone v3. MK_EAUTH when the credentials are refused. */
int os_authenticate(struct mk_ctx *ctx, struct mk_http *http, const struct os_cloud *cloud,
                    struct os_session *ret);
/* The URL of the (type) service in the session's catalog, for the cloud's interface
 * (default public) and region; an endpoint override wins. MK_ENOTFOUND when the catalog has
 * none, MK_ECONFIG when several match. */
int os_catalog_url(struct mk_ctx *ctx, const struct os_session *sess,
                   const struct os_cloud *cloud, const char *type, char **ret);
void os_session_release(struct os_session *sess);

/* A streamed PUT (openstack_put.c): the data pushed through os_put_write() goes out as one
 * chunked request body; os_put_finish() ends it and waits for a 2xx answer. Errors are
 * prefixed with (what). os_put_free() abandons a request still running. */
struct os_put;
int os_put_new(struct mk_ctx *ctx, struct mk_http *http, const char *url, const char *token,
               const char *what, struct os_put **ret);
int os_put_write(struct mk_ctx *ctx, struct os_put *p, const void *buf, size_t len);
int os_put_finish(struct mk_ctx *ctx, struct os_put *p);
void os_put_free(struct os_put *p);

/* Glance and Keystone errors: "WHAT: HTTP 409: message", with Glance's HTML line-break tail
 * removed. Returns (code). */
int os_http_error(struct mk_ctx *ctx, int code, const struct mk_http_resp *resp,
                  const char *fmt, ...) MK_PRINTF(4, 5);

/* ---- the uploader's state (openstack.c), its options (openstack_options.c) ---- */
struct prop {
    char *key;
    char *value;
};

struct os_state {
    /* options */
    char *cloud_name;
    char *name;
    char *visibility;
    const char *preset;
    struct prop *props;
    size_t n_props;
    char **tags;
    size_t n_tags;
    long min_ram; /* MiB; -1 = not given */
    bool replace;

    /* run state */
    struct os_cloud *cloud;
    struct mk_http *http;
    struct os_session sess;
    char *images_url; /* {glance}/v2/images */
    char *auth_header;
    const char *disk_format;
    uint64_t min_disk;
    char *image_id; /* the image we made: deleted by abort() unless (kept) */
    bool kept;
    json_t *old_ids; /* images of the same name, deleted after a --replace */
    struct os_put *put;
    gcry_md_hd_t md;
    uint64_t sent;
};


/* The uploader's set_option hook. */
int os_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value);
/* The body of POST /v2/images: attributes, tags, the preset's properties and the explicit
 * ones (which win). */
int os_create_body(struct mk_ctx *ctx, struct os_state *st, char **ret);
/* Frees what the options hold. */
void os_options_release(struct os_state *st);

/* ---- Glance (glance.c) ---- */
/* Sets images_url ({glance}/v2/images) from the catalog's image endpoint. */
int glance_set_endpoint(struct mk_ctx *ctx, struct os_state *st, const char *endpoint);
/* One JSON request to Glance; the caller judges the status. */
int glance_call(struct mk_ctx *ctx, struct os_state *st, const char *method, const char *url,
                const char *body, struct mk_http_resp *resp);
/* The MK_E* code for an HTTP status. */
int glance_status_code(long status);
/* {images_url}/ID{tail} */
int glance_image_url(struct mk_ctx *ctx, struct os_state *st, const char *id, const char *tail,
                     struct mk_buf *url);
/* The ids of our project's images named st->name. */
int glance_find_by_name(struct mk_ctx *ctx, struct os_state *st, json_t **ret);
/* Creates the image record; sets image_id. */
int glance_create_image(struct mk_ctx *ctx, struct os_state *st);
/* Deletes image (id); 404 counts as done. Errors go to (ctx). */
int glance_delete_image(struct mk_ctx *ctx, struct os_state *st, const char *id);
/* Waits until image_id is active; (*ret) is its JSON. */
int glance_wait_active(struct mk_ctx *ctx, struct os_state *st, json_t **ret);
/* Glance's record must match what was sent: size, MD5 and, when it hashes with SHA-512,
 * os_hash_value. */
int glance_verify(struct mk_ctx *ctx, struct os_state *st, json_t *img, const char *md5,
                  const char *sha512);

#endif
