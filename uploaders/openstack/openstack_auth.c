/* openstack_auth.c: Keystone v3 authentication, the service catalog, and OpenStack errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openstack_private.h"

/* Glance puts "<br /><br />\n\n\n" after its messages, and sends HTML pages to clients that
 * do not ask for JSON: keep the words only. */
static void strip_markup(char *s)
{
    char *w = s;
    bool space = false;

    for (char *p = s; *p; p++) {
        if (*p == '<') {
            char *end = strchr(p, '>');

            if (end) {
                p = end;
                space = w != s;
                continue;
            }
        }
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = w != s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *p;
    }
    *w = '\0';
}

int os_http_error(struct mk_ctx *ctx, int code, const struct mk_http_resp *resp,
                  const char *fmt, ...)
{
    char what[512], text[600], *cut;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    mk_http_error_text(resp, text, sizeof(text));
    strip_markup(text);
    /* Glance follows a schema error with the whole JSON schema: the first part says it. */
    if ((cut = strstr(text, " Failed validating")))
        *cut = '\0';
    return mk_set_error(ctx, code, "%s: HTTP %ld: %s", what, resp->status,
                        text[0] ? text : "(no message)");
}

void os_session_release(struct os_session *sess)
{
    if (sess->token) {
        mk_wipe(sess->token, strlen(sess->token));
        free(sess->token);
    }
    free(sess->project_id);
    json_decref(sess->catalog);
    memset(sess, 0, sizeof(*sess));
}

/* {"name": N, "domain": {...}} or {"id": I}: how Keystone names users and projects. */
static json_t *named(const char *id, const char *name, const char *dom_id, const char *dom_name,
                     const struct os_cloud *c)
{
    if (id)
        return json_pack("{s:s}", "id", id);
    if (dom_id)
        return json_pack("{s:s, s:{s:s}}", "name", name, "domain", "id", dom_id);
    if (dom_name)
        return json_pack("{s:s, s:{s:s}}", "name", name, "domain", "name", dom_name);
    if (c->default_domain_id)
        return json_pack("{s:s, s:{s:s}}", "name", name, "domain", "id", c->default_domain_id);
    return json_pack("{s:s, s:{s:s}}", "name", name, "domain", "name", c->default_domain_name);
}

/* Wipes a JSON string that held a secret, before jansson frees it. */
static void wipe_json_string(json_t *s)
{
    if (json_is_string(s))
        mk_wipe((char *)json_string_value(s), json_string_length(s));
}

static json_t *auth_request(const struct os_cloud *c, json_t **ret_secret)
{
    json_t *identity = NULL, *user, *secret = NULL, *req;

    switch (c->kind) {
    case OS_AUTH_PASSWORD:
        user = named(c->user_id, c->username, c->user_domain_id, c->user_domain_name, c);
        secret = json_string(c->password);
        if (user && secret && !json_object_set(user, "password", secret))
            identity = json_pack("{s:[s], s:{s:o}}", "methods", "password", "password", "user",
                                 user);
        else
            json_decref(user);
        break;
    case OS_AUTH_APPCRED:
        secret = json_string(c->app_cred_secret);
        user = c->app_cred_id ? json_pack("{s:s}", "id", c->app_cred_id)
                              : json_pack("{s:s, s:o}", "name", c->app_cred_name, "user",
                                          named(c->user_id, c->username, c->user_domain_id,
                                                c->user_domain_name, c));
        if (user && secret && !json_object_set(user, "secret", secret))
            identity = json_pack("{s:[s], s:o}", "methods", "application_credential",
                                 "application_credential", user);
        else
            json_decref(user);
        break;
    case OS_AUTH_TOKEN:
        secret = json_string(c->token);
        if (secret)
            identity = json_pack("{s:[s], s:{s:O}}", "methods", "token", "token", "id", secret);
        break;
    }
    *ret_secret = secret;
    if (!identity)
        return NULL;
    req = json_pack("{s:{s:o}}", "auth", "identity", identity);
    /* An application credential carries its own project; Keystone refuses a scope with it.
     * Without a project, Keystone scopes the token to the user's default project. */
    if (req && c->kind != OS_AUTH_APPCRED && (c->project_id || c->project_name)) {
        json_t *project = named(c->project_id, c->project_name, c->project_domain_id,
                                c->project_domain_name, c);

        if (!project || json_object_set_new(json_object_get(req, "auth"), "scope",
                                            json_pack("{s:o}", "project", project))) {
            json_decref(req);
            return NULL;
        }
    }
    return req;
}

static int tokens_url(struct mk_ctx *ctx, const struct os_cloud *c, struct mk_buf *url)
{
    size_t n = strlen(c->auth_url);

    while (n && c->auth_url[n - 1] == '/')
        n--;
    if (n >= 5 && !strncmp(c->auth_url + n - 5, "/v2.0", 5))
        return mk_set_error(ctx, MK_EUNSUPPORTED,
                            "cloud '%s': auth_url %.*s is Keystone v2.0; only v3 is supported",
                            c->name, (int)n, c->auth_url);
    if (mk_buf_add(url, c->auth_url, n) < 0 ||
        mk_buf_adds(url, n >= 3 && !strncmp(c->auth_url + n - 3, "/v3", 3) ? "/auth/tokens"
                                                                           : "/v3/auth/tokens"))
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    return MK_OK;
}

/* Who is asking, for the refusal message: names only, never secrets. */
static void describe_who(const struct os_cloud *c, char *buf, size_t size)
{
    const char *user = c->username ? c->username : c->user_id;
    const char *project = c->project_name ? c->project_name : c->project_id;

    if (c->kind == OS_AUTH_APPCRED)
        snprintf(buf, size, "application credential '%s'",
                 c->app_cred_id ? c->app_cred_id : c->app_cred_name);
    else if (c->kind == OS_AUTH_TOKEN)
        snprintf(buf, size, "token, project '%s'", project ? project : "(default)");
    else
        snprintf(buf, size, "user '%s', project '%s'", user, project ? project : "(default)");
}

/* Keystone's "2026-12-01T00:20:52.000000Z"; 0 when it is not that. */
static time_t parse_expiry(const char *s)
{
    struct tm tm = {0};

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/* An answer that is not Keystone's: a wrong auth_url (another service, a web page) gets
 * that said plainly instead of whatever the server sent. */
static int not_keystone(struct mk_ctx *ctx, const struct os_cloud *c, const char *where,
                        const struct mk_http_resp *resp)
{
    return mk_set_error(ctx, MK_ECONFIG, "cloud '%s': auth_url %s is not a Keystone v3 "
                        "endpoint (HTTP %ld from %s); check auth.auth_url (OS_AUTH_URL)",
                        c->name, c->auth_url, resp->status, where);
}

static bool keystone_error_body(const struct mk_http_resp *resp)
{
    json_t *root = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
    bool yes = json_is_object(json_object_get(root, "error"));

    json_decref(root);
    return yes;
}

int os_parse_token_reply(struct mk_ctx *ctx, const struct os_cloud *c, const char *where,
                         const char *who, const struct mk_http_resp *resp,
                         struct os_session *ret)
{
    json_t *root = NULL, *token, *catalog;
    char *subject = NULL;
    const char *project_id;
    int r = MK_OK;

    memset(ret, 0, sizeof(*ret));
    if (resp->status == 401 || resp->status == 403) {
        r = os_http_error(ctx, MK_EAUTH, resp,
                          "cloud '%s': Keystone at %s refused the credentials (%s)", c->name,
                          where, who);
        goto out;
    }
    if (resp->status >= 500 || (resp->status != 201 && resp->status != 200 &&
                               keystone_error_body(resp))) {
        r = os_http_error(ctx, MK_EHTTP, resp, "cloud '%s': Keystone at %s (%s)", c->name,
                          where, who);
        goto out;
    }
    subject = mk_http_header(resp, "X-Subject-Token");
    root = json_loadb(resp->body.buf, resp->body.len, 0, NULL);
    token = json_object_get(root, "token");
    if ((resp->status != 201 && resp->status != 200) || !subject || !*subject ||
        !json_is_object(token)) {
        r = not_keystone(ctx, c, where, resp);
        goto out;
    }
    catalog = json_object_get(token, "catalog");
    project_id = json_string_value(json_object_get(json_object_get(token, "project"), "id"));
    if (!project_id && c->kind != OS_AUTH_APPCRED) {
        r = mk_set_error(ctx, MK_ECONFIG, "cloud '%s': Keystone at %s gave a token with no "
                         "project (%s has no default project); set auth.project_name "
                         "(OS_PROJECT_NAME)", c->name, where, who);
        goto out;
    }
    if (!json_is_array(catalog)) {
        r = mk_set_error(ctx, MK_EHTTP, "cloud '%s': Keystone at %s gave no service catalog",
                         c->name, where);
        goto out;
    }
    ret->token = subject;
    subject = NULL;
    ret->catalog = json_incref(catalog);
    ret->expires = parse_expiry(json_string_value(json_object_get(token, "expires_at")));
    if (project_id && !(ret->project_id = strdup(project_id))) {
        os_session_release(ret);
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    }
out:
    if (subject) {
        mk_wipe(subject, strlen(subject));
        free(subject);
    }
    json_decref(root);
    return r;
}

int os_authenticate(struct mk_ctx *ctx, struct mk_http *http, const struct os_cloud *c,
                    struct os_session *ret)
{
    struct mk_buf url = MK_BUF_INIT;
    struct mk_http_resp resp;
    json_t *req, *secret = NULL;
    char *body = NULL, where[512], who[300];
    int r;

    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json", NULL};

    memset(ret, 0, sizeof(*ret));
    mk_http_resp_init(&resp);
    r = tokens_url(ctx, c, &url);
    if (r < 0)
        goto out;
    req = auth_request(c, &secret);
    if (req)
        body = json_dumps(req, JSON_COMPACT);
    wipe_json_string(secret);
    json_decref(secret);
    json_decref(req);
    if (!body) {
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
        goto out;
    }
    r = mk_http_do(ctx, http,
                   &(struct mk_http_req){.method = "POST", .url = url.buf, .headers = headers,
                                         .body = body, .body_len = strlen(body),
                                         .timeout = 120},
                   &resp);
    mk_wipe(body, strlen(body));
    free(body);
    if (r < 0) {
        mk_error_prefix(ctx, "cloud '%s': Keystone", c->name);
        goto out;
    }
    mk_http_redact_url(url.buf, where, sizeof(where));
    describe_who(c, who, sizeof(who));
    r = os_parse_token_reply(ctx, c, where, who, &resp, ret);
out:
    mk_http_resp_release(&resp);
    mk_buf_release(&url);
    return r;
}

int os_catalog_url(struct mk_ctx *ctx, const struct os_session *sess,
                   const struct os_cloud *c, const char *type, char **ret)
{
    const char *found = NULL, *region = c->region_name;
    struct mk_buf seen = MK_BUF_INIT, regions = MK_BUF_INIT;
    bool service = false, several = false;
    size_t i, j;
    json_t *svc, *ep;
    int r = MK_OK;

    if (!strcmp(type, "image") && c->image_endpoint_override) {
        found = c->image_endpoint_override;
        goto done;
    }
    json_array_foreach((json_t *)sess->catalog, i, svc) {
        const char *t = json_string_value(json_object_get(svc, "type"));

        if (!t || strcmp(t, type))
            continue;
        service = true;
        json_array_foreach(json_object_get(svc, "endpoints"), j, ep) {
            const char *iface = json_string_value(json_object_get(ep, "interface"));
            const char *reg = json_string_value(json_object_get(ep, "region"));
            const char *reg_id = json_string_value(json_object_get(ep, "region_id"));
            const char *url = json_string_value(json_object_get(ep, "url"));

            if (!iface || !url)
                continue;
            mk_buf_addf(&seen, "%s%s in %s", seen.len ? ", " : "", iface,
                        reg ? reg : reg_id ? reg_id : "no region");
            if (strcmp(iface, c->interface))
                continue;
            if (region && !(reg && !strcmp(reg, region)) && !(reg_id && !strcmp(reg_id, region)))
                continue;
            if (found && strcmp(found, url))
                several = true;
            mk_buf_addf(&regions, "%s%s", regions.len ? ", " : "",
                        reg ? reg : reg_id ? reg_id : "no region");
            found = url;
        }
    }
    if (several) {
        r = mk_set_error(ctx, MK_ECONFIG,
                         "cloud '%s': the catalog has %s %s endpoints in several regions (%s); "
                         "set region_name (OS_REGION_NAME) to choose one",
                         c->name, c->interface, type, regions.buf);
        goto out;
    }
    if (!service) {
        r = mk_set_error(ctx, MK_ENOTFOUND, "cloud '%s': the catalog has no %s service",
                         c->name, type);
        goto out;
    }
    if (!found) {
        r = mk_set_error(ctx, MK_ENOTFOUND,
                         "cloud '%s': the catalog has no %s %s endpoint%s%s (it has: %s)",
                         c->name, c->interface, type, region ? " in region " : "",
                         region ? region : "", seen.len ? seen.buf : "none");
        goto out;
    }
done:
    if (!(*ret = strdup(found)))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
out:
    mk_buf_release(&seen);
    mk_buf_release(&regions);
    return r;
}
