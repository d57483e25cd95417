/* gce_auth_private.h: what gce_auth.c (key files, gcloud's ADC file, the metadata server)
 * and gce_auth_federated.c (Workload Identity Federation, service account impersonation)
 * share: the credentials' state and the helpers both use. */
#ifndef MK_GCE_AUTH_PRIVATE_H
#define MK_GCE_AUTH_PRIVATE_H

#include <time.h>

#include "gce_private.h"

#define GCE_DEFAULT_STS_URI "https://sts.googleapis.com/v1/token"
#define GCE_DEFAULT_IAMCREDENTIALS "https://iamcredentials.googleapis.com/"

enum auth_kind {
    AUTH_SERVICE_ACCOUNT = 1,
    AUTH_USER,
    AUTH_METADATA,
    AUTH_EXTERNAL,     /* a subject token exchanged at Google's STS */
    AUTH_IMPERSONATED, /* (source)'s token exchanged for a service account's */
};

struct gce_auth {
    enum auth_kind kind;
    struct mk_http *http;
    char *describe;
    char *project;
    char *token_uri;     /* OAuth token endpoint, or the STS endpoint */
    char *client_email;
    char *key_id;
    char *client_id;
    char *metadata_base; /* http://HOST/computeMetadata/v1/ */
    /* external_account: where the subject token comes from */
    char *audience, *subject_token_type;
    char *subject_file, *subject_url, *subject_field; /* field: JSON format only */
    char **subject_headers;                           /* "Name: value" lines, NULL-ended */
    /* impersonation */
    struct gce_auth *source;
    char *impersonate_url;
    char *impersonate_body; /* the generateAccessToken request, JSON */
    /* secrets: wiped when freed */
    char *private_key;
    char *client_secret;
    char *refresh_token;
    char *token;
    time_t expiry;
};

void gce_auth_free_secret(char **s);
/* A non-empty string field of (root), malloc'ed, or NULL. */
char *gce_auth_dup_field(json_t *root, const char *key);
/* Appends key=value (percent-encoded) to a form body. MK_ENOMEM on failure. */
int gce_auth_form_add(struct mk_buf *b, const char *key, const char *value);
/* Fills (a) from a parsed credentials object of any supported type; (path) names it in
 * messages. */
int gce_auth_load_json(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                       const char *path);
/* A token endpoint's answer (body, len): OAuth 2.0's {"access_token", "expires_in"} (Google's
 * token URI, the metadata server, the STS) or IAM Credentials' {"accessToken", "expireTime"}
 * (generateAccessToken). (ret->token) is a secret copy for gce_auth_free_secret(); (expiry)
 * defaults to an hour after (now). MK_EAUTH "WHERE answered without an access token". */
enum gce_token_form { GCE_TOKEN_OAUTH, GCE_TOKEN_IAM };
struct gce_token_reply {
    char *token;
    time_t expiry;
};
int gce_auth_parse_token(struct mk_ctx *ctx, const char *where, const char *body, size_t len,
                         enum gce_token_form form, time_t now, struct gce_token_reply *ret);
/* gce_auth_parse_token() of (resp)'s body, kept as (a)'s current token. */
int gce_auth_take_token(struct mk_ctx *ctx, struct gce_auth *a, const struct mk_http_resp *resp,
                        const char *where, enum gce_token_form form);
/* Keeps (token) as (a)'s current token, valid until (expiry). */
int gce_auth_keep_token(struct mk_ctx *ctx, struct gce_auth *a, const char *token,
                        time_t expiry);

/* ---- gce_auth_federated.c ---- */
/* type external_account (file- or URL-sourced subject tokens). */
int gce_auth_load_external(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                           const char *path);
/* type impersonated_service_account (gcloud auth application-default login
 * --impersonate-service-account). */
int gce_auth_load_impersonated(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                               const char *path);
/* A subject token as read (tok): with (field), the JSON's string member of that name (the
 * credential_source's json format), else the text; trailing white space removed. The bytes
 * are secret: what is dropped is wiped. MK_EAUTH naming (where) when there is no token. */
int gce_auth_parse_subject(struct mk_ctx *ctx, const char *where, const char *field,
                           struct mk_buf *tok);
/* Token fetches for AUTH_EXTERNAL and AUTH_IMPERSONATED. */
int gce_auth_fetch_external(struct mk_ctx *ctx, struct gce_auth *a);
int gce_auth_fetch_impersonated(struct mk_ctx *ctx, struct gce_auth *a);

#endif
