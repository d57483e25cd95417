/* openstack_private.h: what the OpenStack uploader's files share (cloud settings, Keystone,
 * Glance, the uploader's state). */
#ifndef MK_OPENSTACK_PRIVATE_H
#define MK_OPENSTACK_PRIVATE_H

#include <stdbool.h>
#include <time.h>

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
 * $XDG_CONFIG_HOME/openstack, ~/.config/openstack, /etc/openstack, as .yaml, .yml or .json;
 * the first file found wins, secure.yaml's values win over clouds.yaml's), then every OS_*
 * variable set wins over them, as in openstackclient. Without a cloud name, from the OS_*
 * variables alone. The result is checked: an auth URL and the auth type's credentials are
 * present (no project means the user's default project).
 * Errors: MK_ENOTFOUND (no such cloud), MK_ECONFIG (unreadable or incomplete settings),
 * MK_EUNSUPPORTED (auth type, identity API version). */
int os_cloud_load(struct mk_ctx *ctx, const char *name, struct os_cloud **ret);
void os_cloud_free(struct os_cloud *cloud);

/* A Keystone v3 token and the catalog that came with it. */
struct os_session {
    char *token;      /* secret: wiped by os_session_release() */
    char *project_id; /* the token's project */
    void *catalog;    /* json_t array */
    time_t expires;   /* when Keystone says the token expires; 0 = not said */
};

/* Keystone's reply to a token request (the X-Subject-Token header, the token's project,
 * catalog and expiry) into (ret), with os_authenticate()'s errors; (where) and (who) name
 * the endpoint and the credentials in them. Pure parsing, apart from the HTTP exchange. */
int os_parse_token_reply(struct mk_ctx *ctx, const struct os_cloud *c, const char *where,
                         const char *who, const struct mk_http_resp *resp,
                         struct os_session *ret);
/* Authenticates (cloud) with Keystone v3, scoped to the cloud's project, else to the user's
 * default project (Keystone's choice when no scope is asked for). MK_EAUTH when the
 * credentials are refused; an auth_url that does not answer as Keystone is named as such. */
int os_authenticate(struct mk_ctx *ctx, struct mk_http *http, const struct os_cloud *cloud,
                    struct os_session *ret);
/* The URL of the (type) service in the session's catalog, for the cloud's interface
 * (default public) and region; an endpoint override wins. MK_ENOTFOUND when the catalog has
 * none, MK_ECONFIG when several match. */
int os_catalog_url(struct mk_ctx *ctx, const struct os_session *sess,
                   const struct os_cloud *cloud, const char *type, char **ret);
void os_session_release(struct os_session *sess);

/* A streamed PUT (openstack_put.c): the data given to os_put_write() or read by
 * os_put_file() goes out as one request body of (size) bytes (0 = not known: chunked), and
 * into (md) on a thread of its own; os_put_finish() ends it, waits for a 2xx answer and for
 * (md) to have every byte. Errors are prefixed with (what). os_put_free() abandons a request
 * still running. */
struct os_put;
int os_put_new(struct mk_ctx *ctx, struct mk_http *http, const char *url, const char *token,
               const char *what, uint64_t size, gcry_md_hd_t md, struct os_put **ret);
int os_put_write(struct mk_ctx *ctx, struct os_put *p, const void *buf, size_t len);
/* Sends (size) bytes of (fd) from offset 0, showing the "upload" progress of the bytes sent
 * (os_put_finish() goes on showing it when given the same size). */
int os_put_file(struct mk_ctx *ctx, struct os_put *p, int fd, uint64_t size);
int os_put_finish(struct mk_ctx *ctx, struct os_put *p, uint64_t total);
/* The HTTP status Glance answered the PUT with, once it has ended; 0 until then, and after a
 * transport failure. */
long os_put_status(const struct os_put *p);
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
    char *region;      /* --os-region-name: wins over the cloud's */
    char *disk_format; /* --disk-format: raw or qcow2; NULL = the best Glance takes */
    const char *preset;
    struct prop *props;
    size_t n_props;
    char **tags;
    size_t n_tags;
    long min_ram;  /* MiB; -1 = not given */
    long min_disk; /* GiB; -1 = not given */
    bool replace;
    bool insecure; /* --insecure */
    bool protect;

    /* run state */
    struct os_cloud *cloud;
    struct mk_http *http;
    struct os_session sess;
    char *images_url; /* {glance}/v2/images */
    char *auth_header;
    bool allow_raw, allow_qcow2; /* Glance's disk formats, from its image schema */
    char *allowed;                /* those formats as text, for messages */
    const char *format;           /* the disk_format sent */
    uint64_t disk_gib;            /* the disk's size in GiB, rounded up */
    char source_mark[33];         /* marks our images: a hash of the source's identity */
    char *image_id; /* the image we made: deleted by abort() unless (kept) */
    bool kept;
    bool resumed;    /* (image_id) was already active with our bytes: write() only hashes */
    json_t *old_ids; /* images of the same name, deleted after a --replace */
    char *state_path; /* the clean-ups that failed, retried by the next run; NULL = none */
    uint64_t stream_size; /* the bytes write() takes; 0 = not known */
    bool resent;          /* the data went a second time, after a 401 (os_restart) */
    struct os_put *put;
    gcry_md_hd_t md; /* MD5 of what is sent */
    uint64_t sent;
    bool from_file; /* write_file(): the progress is ours to show */
};

/* The uploader's set_option hook. */
int os_set_option(struct mk_ctx *ctx, void *state, const char *key, const char *value);
/* The body of POST /v2/images: attributes, tags, our mark, the preset's properties and the
 * explicit ones (which win). */
int os_create_body(struct mk_ctx *ctx, struct os_state *st, char **ret);
/* Frees what the options hold. */
void os_options_release(struct os_state *st);

/* ---- Glance (glance.c) ---- */
/* The property that marks an image as ours, holding os_state.source_mark. */
#define OS_SOURCE_PROPERTY "unikernel_mkimage_source"

/* Sets images_url from the catalog's image endpoint. */
int glance_set_endpoint(struct mk_ctx *ctx, struct os_state *st, const char *endpoint);
/* One JSON request to Glance, with a token renewed before it expires and once more after a
 * 401; the caller judges the status. */
int glance_call(struct mk_ctx *ctx, struct os_state *st, const char *method, const char *url,
                const char *body, struct mk_http_resp *resp);
/* The MK_E* code for an HTTP status. */
int glance_status_code(long status);
/* {images_url}/ID{tail} */
int glance_image_url(struct mk_ctx *ctx, struct os_state *st, const char *id, const char *tail,
                     struct mk_buf *url);
/* Reads the disk formats Glance allows (/v2/schemas/image) into allow_raw, allow_qcow2. */
int glance_read_formats(struct mk_ctx *ctx, struct os_state *st);
/* ---- Glance's answers, read apart from the calls (glance.c; fuzz_glance_reply) ---- */
/* The disk formats an image schema (GET /v2/schemas/image, (resp)) allows: 1 when it lists
 * them (raw and qcow2 say whether those are among them; (allowed) is them all as text, or
 * "none", malloc'ed), 0 when it does not (another status than 200, no such schema), or
 * MK_ENOMEM. */
struct glance_formats {
    bool raw, qcow2;
    char *allowed;
};
int glance_parse_formats(struct mk_ctx *ctx, const struct mk_http_resp *resp,
                         struct glance_formats *ret);
/* The images named st->name that have an id, in Glance's image list (GET /v2/images), as a
 * new JSON array; MK_EHTTP "cloud 'C': Glance's image list is not JSON". */
int glance_parse_image_list(struct mk_ctx *ctx, const struct os_state *st,
                            const struct mk_http_resp *resp, json_t **ret);
/* The id of the image Glance made (POST /v2/images), malloc'ed; MK_EHTTP when none. */
int glance_parse_created(struct mk_ctx *ctx, const struct os_state *st,
                         const struct mk_http_resp *resp, char **ret_id);
/* Where an image (GET /v2/images/ID) is: active, on its way (queued, saving, uploading,
 * importing) or anything else; (*ret_status) is its status, in (img), or NULL. */
enum glance_phase { GLANCE_ACTIVE, GLANCE_BUSY, GLANCE_FAILED };
enum glance_phase glance_image_phase(json_t *img, const char **ret_status);

/* Our project's images named st->name, as Glance lists them (a JSON array). */
int glance_find_by_name(struct mk_ctx *ctx, struct os_state *st, json_t **ret);
/* Creates the image record; sets image_id. */
int glance_create_image(struct mk_ctx *ctx, struct os_state *st);
/* Deletes image (id); 404 counts as done. */
int glance_delete_image(struct mk_ctx *ctx, struct os_state *st, const char *id);
/* Waits until image_id is active; (*ret) is its JSON. */
int glance_wait_active(struct mk_ctx *ctx, struct os_state *st, json_t **ret);
/* Glance's record must match what was sent: its size and its checksum (MD5, which every
 * Glance computes). That finds any corruption on the way; a second hash (SHA-512, Glance's
 * os_hash_value) would find no more and costs the upload as much CPU again, which on a busy
 * machine is time taken from Glance itself. */
int glance_verify(struct mk_ctx *ctx, struct os_state *st, json_t *img, const char *md5);

/* Authenticates again (always with (force), else only when the token expires within two
 * minutes, as keystoneauth does) and updates the session and the auth header. */
int os_renew_token(struct mk_ctx *ctx, struct os_state *st, bool force);

/* ---- what interrupted or failed pushes left (leftovers.c) ---- */
/* Deletes the images whose clean-up failed in an earlier run against this cloud and
 * project (remembered in a state file), then sorts the images named st->name: our own
 * interrupted uploads of the same bytes are deleted, our active image of the same bytes is
 * taken up again (st->resumed), the others go to st->old_ids. */
int os_leftovers(struct mk_ctx *ctx, struct os_state *st);
/* What an image of Glance's list (img) is to a push whose source has (source_mark): ours
 * and active (the same bytes, already uploaded), ours and unfinished (an interrupted upload:
 * any status but active and deactivated), or someone else's (or one we cannot judge). */
enum os_leftover { OS_LEFTOVER_OTHER, OS_LEFTOVER_OURS_ACTIVE, OS_LEFTOVER_OURS_UNFINISHED };
enum os_leftover os_leftover_kind(json_t *img, const char *source_mark);
/* Remembers (id) as to be deleted by the next run. */
void os_leftover_remember(struct mk_ctx *ctx, struct os_state *st, const char *id);

#endif
