/* gce_auth_federated.c: credentials that end in someone else's token exchange, as
 * Google's client libraries implement them:
 * - external_account (Workload Identity Federation, what CI systems such as GitHub Actions
 *   write): a subject token read from a file or a URL is exchanged at Google's Security
 *   Token Service (RFC 8693 token exchange) for an access token;
 * - service account impersonation: a token of the source credentials is exchanged at IAM
 *   Credentials' generateAccessToken for one of the service account; used by
 *   external_account's service_account_impersonation_url, by gcloud's
 *   impersonated_service_account files and by --impersonate-service-account. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gce_auth_private.h"

#define SUBJECT_TOKEN_MAX (1u << 20)
#define TOKEN_EXCHANGE_GRANT "urn:ietf:params:oauth:grant-type:token-exchange"
#define ACCESS_TOKEN_TYPE "urn:ietf:params:oauth:token-type:access_token"

static int oom(struct mk_ctx *ctx)
{
    return mk_set_error(ctx, MK_ENOMEM, "out of memory");
}

static struct gce_auth *new_auth(struct mk_http *http)
{
    struct gce_auth *a = calloc(1, sizeof(*a));

    if (a)
        a->http = http;
    return a;
}

/* The JSON body of a generateAccessToken request. */
static int impersonation_body(struct mk_ctx *ctx, struct gce_auth *a, json_t *delegates,
                              json_int_t lifetime)
{
    char life[32];
    json_t *body;

    snprintf(life, sizeof(life), "%llds", (long long)lifetime);
    body = json_pack("{s:[s], s:s}", "scope", GCE_SCOPE, "lifetime", life);
    if (body && json_is_array(delegates) && json_array_size(delegates))
        json_object_set(body, "delegates", delegates);
    a->impersonate_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return a->impersonate_body ? MK_OK : oom(ctx);
}

/* The service account's email in a generateAccessToken URL, for messages. */
static int describe_impersonation(struct mk_ctx *ctx, struct gce_auth *a, const char *from)
{
    const char *url = a->impersonate_url, *p = strstr(url, "/serviceAccounts/");
    const char *end = p ? strstr(p, ":generateAccessToken") : NULL;
    struct mk_buf b = MK_BUF_INIT;

    if (!p || !end)
        return mk_set_error(ctx, MK_EAUTH, "%s: service account impersonation URL '%s' does "
                            "not end in serviceAccounts/EMAIL:generateAccessToken", from, url);
    p += strlen("/serviceAccounts/");
    if (mk_buf_addf(&b, "service account %.*s impersonated with %s", (int)(end - p), p,
                    a->source->describe) < 0)
        return oom(ctx);
    a->describe = mk_buf_detach(&b, NULL);
    return MK_OK;
}

static int load_credential_source(struct mk_ctx *ctx, struct gce_auth *a, json_t *src,
                                  const char *path)
{
    json_t *format = json_object_get(src, "format"), *headers = json_object_get(src, "headers");
    const char *ftype = json_string_value(json_object_get(format, "type"));
    const char *key;
    json_t *value;
    size_t n = 0;

    if (json_object_get(src, "environment_id"))
        return mk_set_error(ctx, MK_EUNSUPPORTED, "%s: AWS-sourced external_account "
                            "credentials are not supported (file and URL sources are)", path);
    if (json_object_get(src, "executable"))
        return mk_set_error(ctx, MK_EUNSUPPORTED, "%s: executable-sourced external_account "
                            "credentials are not supported (file and URL sources are)", path);
    a->subject_file = gce_auth_dup_field(src, "file");
    a->subject_url = gce_auth_dup_field(src, "url");
    if (!a->subject_file == !a->subject_url)
        return mk_set_error(ctx, MK_EAUTH, "%s: credential_source needs exactly one of "
                            "\"file\" and \"url\"", path);
    if (ftype && strcmp(ftype, "text") && strcmp(ftype, "json"))
        return mk_set_error(ctx, MK_EAUTH, "%s: credential_source format type '%s' (text or "
                            "json)", path, ftype);
    if (ftype && !strcmp(ftype, "json") &&
        !(a->subject_field = gce_auth_dup_field(format, "subject_token_field_name")))
        return mk_set_error(ctx, MK_EAUTH, "%s: credential_source format json without "
                            "subject_token_field_name", path);
    if (headers && !json_is_object(headers))
        return mk_set_error(ctx, MK_EAUTH, "%s: credential_source headers is not an object",
                            path);
    if (!(a->subject_headers = calloc(json_object_size(headers) + 1, sizeof(char *))))
        return oom(ctx);
    json_object_foreach(headers, key, value) {
        struct mk_buf line = MK_BUF_INIT;

        if (!json_is_string(value) || strpbrk(key, ":\r\n") ||
            strpbrk(json_string_value(value), "\r\n"))
            return mk_set_error(ctx, MK_EAUTH, "%s: credential_source header '%s' is not a "
                                "plain string", path, key);
        if (mk_buf_addf(&line, "%s: %s", key, json_string_value(value)) < 0)
            return oom(ctx);
        a->subject_headers[n++] = mk_buf_detach(&line, NULL);
    }
    return MK_OK;
}

int gce_auth_load_external(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                           const char *path)
{
    json_t *src = json_object_get(root, "credential_source");
    const char *imp = json_string_value(json_object_get(root, "service_account_impersonation_url"));
    struct gce_auth *ext = a;
    struct mk_buf b = MK_BUF_INIT;
    int r;

    if (imp && *imp) {
        /* (a) becomes the impersonation, its source the token exchange. */
        json_t *opts = json_object_get(root, "service_account_impersonation");
        json_int_t life = json_integer_value(json_object_get(opts, "token_lifetime_seconds"));

        if (!(ext = a->source = new_auth(a->http)) || !(a->impersonate_url = strdup(imp)))
            return oom(ctx);
        a->kind = AUTH_IMPERSONATED;
        if (life && (life < 600 || life > 43200))
            return mk_set_error(ctx, MK_EAUTH, "%s: token_lifetime_seconds %lld is outside "
                                "600-43200", path, (long long)life);
        if ((r = impersonation_body(ctx, a, NULL, life ? life : 3600)) < 0)
            return r;
    }
    ext->kind = AUTH_EXTERNAL;
    ext->audience = gce_auth_dup_field(root, "audience");
    ext->subject_token_type = gce_auth_dup_field(root, "subject_token_type");
    ext->token_uri = gce_auth_dup_field(root, "token_url");
    ext->client_id = gce_auth_dup_field(root, "client_id");
    ext->client_secret = gce_auth_dup_field(root, "client_secret");
    if (!ext->audience || !ext->subject_token_type || !json_is_object(src))
        return mk_set_error(ctx, MK_EAUTH, "%s: external_account credentials without %s", path,
                            !ext->audience             ? "audience"
                            : !ext->subject_token_type ? "subject_token_type"
                                                       : "credential_source");
    if (!ext->token_uri && !(ext->token_uri = strdup(GCE_DEFAULT_STS_URI)))
        return oom(ctx);
    if ((r = load_credential_source(ctx, ext, src, path)) < 0)
        return r;
    if (mk_buf_addf(&b, "external account %s (from %s)", ext->audience, path) < 0)
        return oom(ctx);
    ext->describe = mk_buf_detach(&b, NULL);
    return ext == a ? MK_OK : describe_impersonation(ctx, a, path);
}

int gce_auth_load_impersonated(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                               const char *path)
{
    json_t *source = json_object_get(root, "source_credentials");
    json_t *delegates = json_object_get(root, "delegates");
    int r;

    a->kind = AUTH_IMPERSONATED;
    a->impersonate_url = gce_auth_dup_field(root, "service_account_impersonation_url");
    if (!a->impersonate_url || !json_is_object(source))
        return mk_set_error(ctx, MK_EAUTH, "%s: impersonated_service_account credentials "
                            "without %s", path, a->impersonate_url
                            ? "source_credentials" : "service_account_impersonation_url");
    if (delegates && !json_is_array(delegates))
        return mk_set_error(ctx, MK_EAUTH, "%s: delegates is not a list", path);
    if (!(a->source = new_auth(a->http)))
        return oom(ctx);
    if ((r = gce_auth_load_json(ctx, a->source, source, path)) < 0)
        return r;
    if ((r = impersonation_body(ctx, a, delegates, 3600)) < 0)
        return r;
    return describe_impersonation(ctx, a, path);
}

int gce_auth_impersonate(struct mk_ctx *ctx, struct gce_auth **auth, const char *email)
{
    const char *env = getenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS");
    const char *base = env && *env ? env : GCE_DEFAULT_IAMCREDENTIALS;
    struct gce_auth *a;
    struct mk_buf url = MK_BUF_INIT;
    int r;

    if (!email || !strchr(email, '@') || strpbrk(email, "/?#: "))
        return mk_set_error(ctx, MK_EINVAL, "--impersonate-service-account '%s' is not a "
                            "service account email", email ? email : "");
    if (!(a = new_auth((*auth)->http)))
        return oom(ctx);
    a->kind = AUTH_IMPERSONATED;
    a->source = *auth;
    *auth = a;
    if (mk_buf_addf(&url, "%s%sv1/projects/-/serviceAccounts/", base,
                    base[strlen(base) - 1] == '/' ? "" : "/") < 0 ||
        mk_http_escape(&url, email) < 0 || mk_buf_adds(&url, ":generateAccessToken") < 0)
        return oom(ctx);
    a->impersonate_url = mk_buf_detach(&url, NULL);
    if ((r = impersonation_body(ctx, a, NULL, 3600)) < 0)
        return r;
    return describe_impersonation(ctx, a, "--impersonate-service-account");
}

/* Performs (req), retrying dropped connections and 408/429/5xx a few times. */
static int do_with_retries(struct mk_ctx *ctx, struct gce_auth *a,
                           const struct mk_http_req *req, struct mk_http_resp *resp)
{
    int r;

    for (int attempt = 0;; attempt++) {
        r = mk_http_do(ctx, a->http, req, resp);
        if (attempt >= 4 || r == MK_ECANCELED || (r == MK_OK && !mk_http_retryable(resp->status)))
            return r;
        if ((r = mk_http_sleep(ctx, 0.2 * (1 << attempt))) < 0)
            return r;
    }
}

/* The subject token, from the file or the URL, in text or JSON form. */
static int subject_token(struct mk_ctx *ctx, struct gce_auth *a, struct mk_buf *tok)
{
    struct mk_http_resp resp;
    char where[300];
    int r;

    if (a->subject_file) {
        snprintf(where, sizeof(where), "subject token file %s", a->subject_file);
        r = mk_buf_read_file(ctx, tok, a->subject_file, SUBJECT_TOKEN_MAX);
        if (r < 0)
            return mk_error_prefix(ctx, "external_account credential_source");
    } else {
        struct mk_http_req req = {.url = a->subject_url,
                                  .headers = (const char *const *)a->subject_headers,
                                  .timeout = 60, .max_response = SUBJECT_TOKEN_MAX};
        mk_http_resp_init(&resp);
        mk_http_redact_url(a->subject_url, where, sizeof(where));
        r = do_with_retries(ctx, a, &req, &resp);
        if (r == MK_OK && resp.status / 100 != 2)
            r = mk_http_error(ctx, MK_EAUTH, "subject token URL", &resp);
        if (r == MK_OK && mk_buf_add(tok, resp.body.buf, resp.body.len) < 0)
            r = oom(ctx);
        mk_http_resp_release(&resp);
        if (r < 0)
            return mk_error_prefix(ctx, "external_account credential_source");
    }
    return gce_auth_parse_subject(ctx, where, a->subject_field, tok);
}

int gce_auth_parse_subject(struct mk_ctx *ctx, const char *where, const char *field,
                           struct mk_buf *tok)
{
    json_t *root, *value;
    int r;

    if (field) {
        root = json_loadb(tok->buf, tok->len, 0, NULL);
        value = json_object_get(root, field);
        mk_wipe(tok->buf, tok->alloc);
        tok->len = 0;
        r = json_is_string(value) && json_string_length(value)
                ? mk_buf_add(tok, json_string_value(value), json_string_length(value))
                : mk_set_error(ctx, MK_EAUTH, "%s: no string field '%s' in the JSON", where,
                               field);
        if (json_is_string(value))
            mk_wipe((char *)json_string_value(value), json_string_length(value));
        json_decref(root);
        if (r < 0)
            return r == MK_ENOMEM ? oom(ctx) : r;
    }
    while (tok->len && strchr(" \t\r\n", tok->buf[tok->len - 1]))
        tok->buf[--tok->len] = '\0';
    if (!tok->len)
        return mk_set_error(ctx, MK_EAUTH, "%s: the subject token is empty", where);
    return MK_OK;
}

/* "Authorization: Basic base64(id:secret)" for an STS call with a client (optional). */
static int basic_auth(struct gce_auth *a, struct mk_buf *hdr)
{
    struct mk_buf pair = MK_BUF_INIT;
    int r;

    if (mk_buf_addf(&pair, "%s:%s", a->client_id, a->client_secret) < 0)
        return MK_ENOMEM;
    r = mk_buf_adds(hdr, "Authorization: Basic ");
    if (r == MK_OK)
        r = gce_base64(hdr, pair.buf, pair.len);
    mk_wipe(pair.buf, pair.alloc);
    mk_buf_release(&pair);
    return r;
}

int gce_auth_fetch_external(struct mk_ctx *ctx, struct gce_auth *a)
{
    struct mk_buf tok = MK_BUF_INIT, form = MK_BUF_INIT, auth = MK_BUF_INIT;
    const char *hdrs[4] = {"Content-Type: application/x-www-form-urlencoded",
                           "Accept: application/json", NULL, NULL};
    struct mk_http_req req = {.method = "POST", .url = a->token_uri, .headers = hdrs,
                              .timeout = 60, .max_response = 1u << 20};
    struct mk_http_resp resp;
    char where[300];
    int r;

    mk_http_resp_init(&resp);
    mk_http_redact_url(a->token_uri, where, sizeof(where));
    r = subject_token(ctx, a, &tok);
    if (r == MK_OK &&
        (gce_auth_form_add(&form, "grant_type", TOKEN_EXCHANGE_GRANT) < 0 ||
         gce_auth_form_add(&form, "audience", a->audience) < 0 ||
         gce_auth_form_add(&form, "scope", GCE_SCOPE) < 0 ||
         gce_auth_form_add(&form, "requested_token_type", ACCESS_TOKEN_TYPE) < 0 ||
         gce_auth_form_add(&form, "subject_token_type", a->subject_token_type) < 0 ||
         gce_auth_form_add(&form, "subject_token", tok.buf) < 0 ||
         (a->client_id && a->client_secret && basic_auth(a, &auth) < 0)))
        r = oom(ctx);
    if (r == MK_OK) {
        hdrs[2] = auth.len ? auth.buf : NULL;
        req.body = form.buf;
        req.body_len = form.len;
        r = do_with_retries(ctx, a, &req, &resp);
        if (r < 0)
            mk_error_prefix(ctx, "cannot exchange the subject token of %s", a->describe);
    }
    mk_wipe(tok.buf, tok.alloc);
    mk_wipe(form.buf, form.alloc);
    mk_wipe(auth.buf, auth.alloc);
    mk_buf_release(&tok);
    mk_buf_release(&form);
    mk_buf_release(&auth);
    if (r == MK_OK && resp.status / 100 != 2) {
        char text[400];

        mk_http_error_text(&resp, text, sizeof(text));
        r = mk_set_error(ctx, resp.status / 100 == 4 ? MK_EAUTH : MK_EHTTP,
                         "%s refused the subject token of %s: HTTP %ld: %s", where,
                         a->describe, resp.status, text);
    }
    if (r == MK_OK)
        r = gce_auth_take_token(ctx, a, &resp, where, GCE_TOKEN_OAUTH);
    mk_http_resp_release(&resp);
    return r;
}

int gce_auth_fetch_impersonated(struct mk_ctx *ctx, struct gce_auth *a)
{
    struct mk_http_resp resp;
    struct mk_buf bearer = MK_BUF_INIT;
    const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json", NULL,
                          NULL};
    struct mk_http_req req = {.method = "POST", .url = a->impersonate_url, .headers = hdrs,
                              .body = a->impersonate_body,
                              .body_len = strlen(a->impersonate_body), .timeout = 60,
                              .max_response = 1u << 20};
    char where[300];
    const char *src;
    int r;

    mk_http_resp_init(&resp);
    mk_http_redact_url(a->impersonate_url, where, sizeof(where));
    /* A 401 means the source's token went stale early: refresh it once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((r = gce_auth_token(ctx, a->source, attempt > 0, &src)) < 0)
            break;
        mk_wipe(bearer.buf, bearer.alloc);
        bearer.len = 0;
        if (mk_buf_addf(&bearer, "Authorization: Bearer %s", src) < 0) {
            r = oom(ctx);
            break;
        }
        hdrs[2] = bearer.buf;
        r = do_with_retries(ctx, a, &req, &resp);
        if (r < 0 || resp.status != 401)
            break;
    }
    mk_wipe(bearer.buf, bearer.alloc);
    mk_buf_release(&bearer);
    if (r < 0)
        mk_error_prefix(ctx, "cannot get a token for %s", a->describe);
    else if (resp.status / 100 != 2) {
        char text[400];

        mk_http_error_text(&resp, text, sizeof(text));
        r = mk_set_error(ctx, resp.status / 100 == 4 ? MK_EAUTH : MK_EHTTP,
                         "%s refused to issue a token for %s: HTTP %ld: %s", where,
                         a->describe, resp.status, text);
    } else {
        r = gce_auth_take_token(ctx, a, &resp, where, GCE_TOKEN_IAM);
    }
    mk_http_resp_release(&resp);
    return r;
}
