/* gce_auth.c: Google credentials in Google's own order (key file, gcloud's ADC file, the
 * metadata server) and the access tokens they give, refreshed before they expire. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gce_auth_private.h"

#define KEY_FILE_MAX (1u << 20)
#define TOKEN_MARGIN 60 /* refresh this many seconds before expiry */
#define TOKEN_DEADLINE 20.0 /* seconds for a whole token request, retries included */
/* Google's tokens live an hour, impersonated ones up to 12 h: a longer expires_in is taken
 * as a day (and a huge one would overflow time_t). */
#define TOKEN_LIFETIME_MAX 86400

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void gce_auth_free_secret(char **s)
{
    if (*s) {
        mk_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void gce_auth_free(struct gce_auth *a)
{
    if (!a)
        return;
    char **strs[] = {&a->describe, &a->project, &a->token_uri, &a->client_email, &a->key_id,
                     &a->client_id, &a->metadata_base, &a->audience, &a->subject_token_type,
                     &a->subject_file, &a->subject_url, &a->subject_field,
                     &a->impersonate_url, &a->impersonate_body};
    for (size_t i = 0; i < MK_ARRAY_SIZE(strs); i++)
        free(*strs[i]);
    for (char **h = a->subject_headers; h && *h; h++)
        gce_auth_free_secret(h);
    free(a->subject_headers);
    gce_auth_free(a->source);
    gce_auth_free_secret(&a->private_key);
    gce_auth_free_secret(&a->client_secret);
    gce_auth_free_secret(&a->refresh_token);
    gce_auth_free_secret(&a->token);
    free(a);
}

const char *gce_auth_project(const struct gce_auth *a)
{
    return a->project;
}

const char *gce_auth_token_uri(const struct gce_auth *a)
{
    return a->metadata_base ? NULL : a->token_uri;
}

const char *gce_auth_describe(const struct gce_auth *a)
{
    return a->describe;
}

char *gce_auth_dup_field(json_t *root, const char *key)
{
    const char *v = json_string_value(json_object_get(root, key));

    return v && *v ? strdup(v) : NULL;
}

static int load_service_account(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                                const char *path)
{
    char *jwt = NULL;
    int r;

    a->kind = AUTH_SERVICE_ACCOUNT;
    a->client_email = gce_auth_dup_field(root, "client_email");
    a->private_key = gce_auth_dup_field(root, "private_key");
    a->key_id = gce_auth_dup_field(root, "private_key_id");
    a->project = gce_auth_dup_field(root, "project_id");
    a->token_uri = gce_auth_dup_field(root, "token_uri");
    if (!a->client_email || !a->private_key)
        return mk_set_error(ctx, MK_EAUTH, "%s: service account key without %s", path,
                            a->client_email ? "private_key" : "client_email");
    /* Check the key now, so a broken one fails before anything touches the network. */
    r = gce_jwt_sign(ctx, a->private_key, NULL, "{}", &jwt);
    if (jwt) {
        mk_wipe(jwt, strlen(jwt));
        free(jwt);
    }
    if (r < 0) {
        mk_error_prefix(ctx, "%s", path);
        ctx->code = MK_EAUTH;
        return MK_EAUTH;
    }
    return MK_OK;
}

/* Google's libraries take no project from an authorized_user file: its quota_project_id
 * names the project billed for quota, which need not be the one to work in. */
static int load_user(struct mk_ctx *ctx, struct gce_auth *a, json_t *root, const char *path)
{
    a->kind = AUTH_USER;
    a->client_id = gce_auth_dup_field(root, "client_id");
    a->client_secret = gce_auth_dup_field(root, "client_secret");
    a->refresh_token = gce_auth_dup_field(root, "refresh_token");
    a->token_uri = gce_auth_dup_field(root, "token_uri");
    if (!a->client_id || !a->client_secret || !a->refresh_token)
        return mk_set_error(ctx, MK_EAUTH, "%s: authorized_user credentials without %s", path,
                            !a->client_id ? "client_id"
                            : !a->client_secret ? "client_secret" : "refresh_token");
    return MK_OK;
}

int gce_auth_load_json(struct mk_ctx *ctx, struct gce_auth *a, json_t *root,
                       const char *path)
{
    const char *type = json_string_value(json_object_get(root, "type"));
    struct mk_buf text = MK_BUF_INIT;
    int r;

    if (!type)
        return mk_set_error(ctx, MK_EAUTH, "%s: credentials without a \"type\"", path);
    if (!strcmp(type, "service_account"))
        r = load_service_account(ctx, a, root, path);
    else if (!strcmp(type, "authorized_user"))
        r = load_user(ctx, a, root, path);
    else if (!strcmp(type, "external_account"))
        return gce_auth_load_external(ctx, a, root, path);
    else if (!strcmp(type, "impersonated_service_account"))
        return gce_auth_load_impersonated(ctx, a, root, path);
    else
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "%s: credentials type '%s' is not supported (service_account, "
                            "authorized_user, external_account and "
                            "impersonated_service_account are)", path, type);
    if (r < 0)
        return r;
    if (!a->token_uri && !(a->token_uri = strdup(GCE_DEFAULT_TOKEN_URI)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = mk_buf_addf(&text, "%s %s (from %s)",
                    a->kind == AUTH_SERVICE_ACCOUNT ? "service account" : "user credentials",
                    a->kind == AUTH_SERVICE_ACCOUNT ? a->client_email : a->client_id, path);
    if (r < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    a->describe = mk_buf_detach(&text, NULL);
    return MK_OK;
}

/* Reads a credentials file. Parse errors name the line only: jansson's own text quotes
 * the input, which could be key material. */
static int load_file(struct mk_ctx *ctx, struct gce_auth *a, const char *path)
{
    struct mk_buf text = MK_BUF_INIT;
    json_error_t jerr;
    json_t *root;
    int r;

    r = mk_buf_read_file(ctx, &text, path, KEY_FILE_MAX);
    if (r < 0)
        return r == MK_ENOTFOUND ? r : mk_error_prefix(ctx, "credentials");
    root = json_loadb(text.buf, text.len, 0, &jerr);
    mk_wipe(text.buf, text.alloc);
    mk_buf_release(&text);
    if (!json_is_object(root)) {
        json_decref(root);
        return mk_set_error(ctx, MK_EAUTH, "%s: not a JSON credentials file (line %d)", path,
                            jerr.line);
    }
    r = gce_auth_load_json(ctx, a, root, path);
    json_decref(root);
    return r;
}

static int metadata_setup(struct mk_ctx *ctx, struct gce_auth *a, const char *host)
{
    struct mk_buf b = MK_BUF_INIT;

    a->kind = AUTH_METADATA;
    if (mk_buf_addf(&b, "%s%s/computeMetadata/v1/", strstr(host, "://") ? "" : "http://",
                    host) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    a->metadata_base = mk_buf_detach(&b, NULL);
    if (mk_buf_addf(&b, "the metadata server's default service account (%s)", host) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    a->describe = mk_buf_detach(&b, NULL);
    return MK_OK;
}

static int metadata_get(struct mk_ctx *ctx, struct gce_auth *a, const char *path,
                        struct mk_http_resp *resp, double timeout)
{
    static const char *const hdrs[] = {"Metadata-Flavor: Google", NULL};
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_req req = {.url = NULL, .headers = hdrs, .timeout = timeout};
    int r;

    if (mk_buf_addf(&url, "%s%s", a->metadata_base, path) < 0)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    req.url = url.buf;
    r = mk_http_do(ctx, a->http, &req, resp);
    mk_buf_release(&url);
    return r;
}

/* Whether a metadata server answers at the usual address, which is the case on GCE.
 * NO_GCE_CHECK (as in Google's Python auth library) skips the probe: tests set it so that
 * nothing is ever sent beyond loopback. */
static bool metadata_probe(struct mk_ctx *ctx, struct gce_auth *a)
{
    const char *no_check = getenv("NO_GCE_CHECK");
    struct mk_http_resp resp;
    char *flavor;
    bool yes;

    if (no_check && (!strcasecmp(no_check, "true") || !strcmp(no_check, "1")))
        return false;
    mk_http_resp_init(&resp);
    if (metadata_setup(ctx, a, "169.254.169.254") < 0)
        return false;
    if (metadata_get(ctx, a, "", &resp, 1.0) < 0) {
        mk_clear_error(ctx);
        mk_http_resp_release(&resp);
        return false;
    }
    flavor = mk_http_header(&resp, "Metadata-Flavor");
    yes = flavor && !strcmp(flavor, "Google");
    free(flavor);
    mk_http_resp_release(&resp);
    return yes;
}

int gce_auth_new(struct mk_ctx *ctx, struct mk_http *http, const char *path,
                 struct gce_auth **ret)
{
    struct gce_auth *a = calloc(1, sizeof(*a));
    const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    const char *cfg = getenv("CLOUDSDK_CONFIG"), *home = getenv("HOME");
    const char *mdhost = getenv("GCE_METADATA_HOST");

    mk_hold_secrets();
    struct mk_buf adc = MK_BUF_INIT;
    int r;

    if (!a)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    a->http = http;
    if (path && *path) {
        r = load_file(ctx, a, path);
        if (r == MK_ENOTFOUND)
            mk_error_prefix(ctx, "--credentials");
    } else if (env && *env) {
        /* Set but unreadable is an error, as in Google's libraries: no falling through. */
        r = load_file(ctx, a, env);
        if (r == MK_ENOTFOUND)
            mk_error_prefix(ctx, "GOOGLE_APPLICATION_CREDENTIALS");
    } else {
        if (cfg && *cfg)
            r = mk_buf_addf(&adc, "%s/application_default_credentials.json", cfg);
        else
            r = mk_buf_addf(&adc, "%s/.config/gcloud/application_default_credentials.json",
                            home ? home : "");
        if (r < 0) {
            gce_auth_free(a);
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
        if (access(adc.buf, F_OK) == 0)
            r = load_file(ctx, a, adc.buf);
        else if (mdhost && *mdhost)
            r = metadata_setup(ctx, a, mdhost);
        else if (metadata_probe(ctx, a))
            r = MK_OK;
        else
            r = mk_set_error(ctx, MK_EAUTH,
                             "no Google credentials found: use --credentials KEY.json, set "
                             "GOOGLE_APPLICATION_CREDENTIALS, run 'gcloud auth "
                             "application-default login', or run on GCE");
        mk_buf_release(&adc);
    }
    if (r < 0) {
        gce_auth_free(a);
        return r;
    }
    if (a->kind == AUTH_METADATA && !a->project) {
        struct mk_http_resp resp;

        /* The project is a convenience here: a failure shows up later as "no project". */
        mk_http_resp_init(&resp);
        if (metadata_get(ctx, a, "project/project-id", &resp, 10) == MK_OK &&
            resp.status == 200 && resp.body.len && resp.body.len < 100)
            a->project = strndup(resp.body.buf, resp.body.len);
        mk_clear_error(ctx);
        mk_http_resp_release(&resp);
    }
    *ret = a;
    return MK_OK;
}

int gce_auth_form_add(struct mk_buf *b, const char *key, const char *value)
{
    if (mk_buf_addf(b, "%s%s=", b->len ? "&" : "", key) < 0)
        return MK_ENOMEM;
    return mk_http_escape(b, value);
}

/* Builds the form body of a token request; it holds secrets and is wiped by the caller. */
static int token_form(struct mk_ctx *ctx, struct gce_auth *a, struct mk_buf *form)
{
    char claims[2048], *jwt = NULL;
    time_t iat = time(NULL) - 10;
    json_t *c;
    char *text;
    int r;

    if (a->kind == AUTH_USER) {
        if (gce_auth_form_add(form, "grant_type", "refresh_token") < 0 ||
            gce_auth_form_add(form, "refresh_token", a->refresh_token) < 0 ||
            gce_auth_form_add(form, "client_id", a->client_id) < 0 ||
            gce_auth_form_add(form, "client_secret", a->client_secret) < 0)
            return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        return MK_OK;
    }
    /* Google refuses assertions that live longer than an hour. */
    c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", a->client_email, "scope", GCE_SCOPE,
                  "aud", a->token_uri, "iat", (json_int_t)iat, "exp", (json_int_t)iat + 3600);
    text = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (!text || snprintf(claims, sizeof(claims), "%s", text) >= (int)sizeof(claims)) {
        free(text);
        return mk_set_error(ctx, MK_ENOMEM, "token claims too long or out of memory");
    }
    free(text);
    r = gce_jwt_sign(ctx, a->private_key, a->key_id, claims, &jwt);
    if (r < 0)
        return r;
    if (gce_auth_form_add(form, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer") < 0 ||
        gce_auth_form_add(form, "assertion", jwt) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    mk_wipe(jwt, strlen(jwt));
    free(jwt);
    return r;
}

/* Wipes jansson's copy of a secret string member. */
static void wipe_member(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);

    if (json_is_string(v))
        mk_wipe((char *)json_string_value(v), json_string_length(v));
}

/* Whether (s) can follow "Authorization: Bearer ": visible ASCII only (RFC 6750's
 * b64token is narrower still), so that a token cannot end the header and start another. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

int gce_auth_parse_token(struct mk_ctx *ctx, const char *where, const char *body, size_t len,
                         enum gce_token_form form, time_t now, struct gce_token_reply *ret)
{
    const char *key = form == GCE_TOKEN_IAM ? "accessToken" : "access_token";
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *tok = json_string_value(json_object_get(root, key));
    int r = MK_OK;

    memset(ret, 0, sizeof(*ret));
    ret->expiry = now + 3600;
    if (form == GCE_TOKEN_IAM) {
        const char *when = json_string_value(json_object_get(root, "expireTime"));
        struct tm tm = {0};
        const char *end = when ? strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

        if (end)
            ret->expiry = timegm(&tm);
    } else {
        json_int_t in = json_integer_value(json_object_get(root, "expires_in"));

        if (in > 0)
            ret->expiry = now + (time_t)MK_MIN(in, TOKEN_LIFETIME_MAX);
    }
    if (!tok || !*tok)
        r = mk_set_error(ctx, MK_EAUTH, "%s answered without an access token", where);
    else if (!header_safe(tok))
        r = mk_set_error(ctx, MK_EAUTH, "%s answered with an access token that is not "
                         "printable ASCII", where);
    else if (!(ret->token = strdup(tok)))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    /* The token lives in jansson's copy too. */
    wipe_member(root, key);
    json_decref(root);
    return r;
}

int gce_auth_keep_token(struct mk_ctx *ctx, struct gce_auth *a, const char *token,
                        time_t expiry)
{
    gce_auth_free_secret(&a->token);
    if (!(a->token = strdup(token)))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    a->expiry = expiry;
    return MK_OK;
}

int gce_auth_take_token(struct mk_ctx *ctx, struct gce_auth *a, const struct mk_http_resp *resp,
                        const char *where, enum gce_token_form form)
{
    struct gce_token_reply reply;
    int r;

    r = gce_auth_parse_token(ctx, where, resp->body.buf, resp->body.len, form, time(NULL),
                             &reply);
    if (r == MK_OK)
        r = gce_auth_keep_token(ctx, a, reply.token, reply.expiry);
    gce_auth_free_secret(&reply.token);
    if (r == MK_OK)
        mk_log(ctx, MK_LOG_DEBUG, "got an access token for %s, valid %lld s", a->describe,
               (long long)(reply.expiry - time(NULL)));
    return r;
}

static int fetch_token(struct mk_ctx *ctx, struct gce_auth *a)
{
    static const char *const form_hdrs[] = {
        "Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL};
    struct mk_buf form = MK_BUF_INIT;
    struct mk_http_resp resp;
    struct mk_http_req req = {.method = "POST", .url = a->token_uri, .headers = form_hdrs,
                              .timeout = 60, .max_response = 1u << 20};
    char where[300];
    double deadline = mono_now() + TOKEN_DEADLINE;
    int r = MK_OK;

    if (a->kind == AUTH_EXTERNAL)
        return gce_auth_fetch_external(ctx, a);
    if (a->kind == AUTH_IMPERSONATED)
        return gce_auth_fetch_impersonated(ctx, a);
    mk_http_resp_init(&resp);
    if (a->kind == AUTH_METADATA) {
        mk_buf_addf(&form, "%s", "");
        snprintf(where, sizeof(where), "%s", "the metadata server");
    } else {
        r = token_form(ctx, a, &form);
        mk_http_redact_url(a->token_uri, where, sizeof(where));
    }
    /* Every try, and the waits between them, fit in one short deadline: a token endpoint
     * that takes the connection and never answers must not hold the push for minutes. */
    for (int attempt = 0; r == MK_OK; attempt++) {
        double left = deadline - mono_now(), delay;

        req.timeout = left;
        if (a->kind == AUTH_METADATA) {
            r = metadata_get(ctx, a,
                             "instance/service-accounts/default/token?scopes="
                             "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform",
                             &resp, left);
        } else {
            req.body = form.buf;
            req.body_len = form.len;
            r = mk_http_do(ctx, a->http, &req, &resp);
        }
        if (attempt >= 4 || r == MK_ECANCELED || (r == MK_OK && !mk_http_retryable(resp.status)))
            break;
        delay = mk_http_retry_delay(&resp, 0.2 * (1 << attempt));
        if (mono_now() + delay >= deadline)
            break;
        mk_clear_error(ctx);
        r = mk_http_sleep(ctx, delay);
    }
    mk_wipe(form.buf, form.alloc);
    mk_buf_release(&form);
    if (r == MK_ETIMEOUT || (r == MK_EHTTP && mono_now() >= deadline - 0.5)) {
        r = mk_set_error(ctx, MK_ETIMEOUT, "cannot get an access token: %s did not answer "
                         "within %.0f s", where, TOKEN_DEADLINE);
        goto out;
    }
    if (r < 0) {
        mk_error_prefix(ctx, "cannot get an access token from %s", where);
        goto out;
    }
    if (resp.status / 100 != 2) {
        char text[400];

        mk_http_error_text(&resp, text, sizeof(text));
        r = mk_set_error(ctx, resp.status / 100 == 4 ? MK_EAUTH : MK_EHTTP,
                         "%s refused the credentials of %s: HTTP %ld: %s", where, a->describe,
                         resp.status, text);
        goto out;
    }
    r = gce_auth_take_token(ctx, a, &resp, where, GCE_TOKEN_OAUTH);
out:
    mk_http_resp_release(&resp);
    return r;
}

int gce_auth_token(struct mk_ctx *ctx, struct gce_auth *a, bool force, const char **ret)
{
    int r;

    if (force || !a->token || time(NULL) + TOKEN_MARGIN >= a->expiry) {
        r = fetch_token(ctx, a);
        if (r < 0)
            return r;
    }
    *ret = a->token;
    return MK_OK;
}
