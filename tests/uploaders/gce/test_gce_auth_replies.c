/* test_gce_auth_replies.c: what token endpoints answer, read apart from the requests:
 * OAuth 2.0 token replies (Google's token URI, the metadata server, the STS) and IAM
 * Credentials' generateAccessToken replies (gce_auth_parse_token), and the subject tokens of
 * external_account credentials, as text or JSON (gce_auth_parse_subject). */
#include "gce_auth_private.h"
#include "unit.h"

#define NOW ((time_t)1700000000)

static int token(struct mk_ctx *ctx, const char *body, enum gce_token_form form,
                 struct gce_token_reply *ret)
{
    return gce_auth_parse_token(ctx, "https://oauth2.example/token", body, strlen(body), form,
                                NOW, ret);
}

static void oauth(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_token_reply t;

    /* As fake_gce.py and fake_gce_sts.py answer. */
    CHECK_OK(ctx, token(ctx, "{\"access_token\": \"ya29.c.b0AXv0zTO\", \"expires_in\": 3599, "
                        "\"token_type\": \"Bearer\"}", GCE_TOKEN_OAUTH, &t));
    CHECK_STR(t.token, "ya29.c.b0AXv0zTO");
    CHECK_EQ(t.expiry, NOW + 3599);
    gce_auth_free_secret(&t.token);
    CHECK_OK(ctx, token(ctx, "{\"access_token\": \"sts-tok\", \"issued_token_type\": "
                        "\"urn:ietf:params:oauth:token-type:access_token\", \"token_type\": "
                        "\"Bearer\", \"expires_in\": 600}", GCE_TOKEN_OAUTH, &t));
    CHECK_STR(t.token, "sts-tok");
    CHECK_EQ(t.expiry, NOW + 600);
    gce_auth_free_secret(&t.token);
    /* No usable lifetime: an hour. */
    const char *no_lifetime[] = {"{\"access_token\": \"t\"}",
                                 "{\"access_token\": \"t\", \"expires_in\": 0}",
                                 "{\"access_token\": \"t\", \"expires_in\": -30}",
                                 "{\"access_token\": \"t\", \"expires_in\": \"3599\"}",
                                 "{\"access_token\": \"t\", \"expires_in\": 12.5}"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(no_lifetime); i++) {
        CHECK_OK(ctx, token(ctx, no_lifetime[i], GCE_TOKEN_OAUTH, &t));
        CHECK_EQ(t.expiry, NOW + 3600);
        gce_auth_free_secret(&t.token);
    }
    /* A lifetime past any Google gives is taken as a day (it overflowed time_t: UBSan). */
    CHECK_OK(ctx, token(ctx, "{\"access_token\": \"t\", \"expires_in\": 9223372036854775807}",
                        GCE_TOKEN_OAUTH, &t));
    CHECK_EQ(t.expiry, NOW + 86400);
    gce_auth_free_secret(&t.token);
    CHECK_OK(ctx, token(ctx, "{\"access_token\": \"t\", \"expires_in\": 86401}",
                        GCE_TOKEN_OAUTH, &t));
    CHECK_EQ(t.expiry, NOW + 86400);
    gce_auth_free_secret(&t.token);
    mk_ctx_free(ctx);
}

static void iam(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_token_reply t;

    CHECK_OK(ctx, token(ctx, "{\"accessToken\": \"ya29.imp\", \"expireTime\": "
                        "\"2030-01-02T03:04:05Z\"}", GCE_TOKEN_IAM, &t));
    CHECK_STR(t.token, "ya29.imp");
    CHECK_EQ(t.expiry, 1893553445);
    gce_auth_free_secret(&t.token);
    CHECK_OK(ctx, token(ctx, "{\"accessToken\": \"x\", \"expireTime\": \"soon\"}",
                        GCE_TOKEN_IAM, &t));
    CHECK_EQ(t.expiry, NOW + 3600);
    gce_auth_free_secret(&t.token);
    /* Each form has its own member names. */
    CHECK_FAIL(ctx, token(ctx, "{\"access_token\": \"x\"}", GCE_TOKEN_IAM, &t), MK_EAUTH,
               "answered without an access token");
    CHECK_FAIL(ctx, token(ctx, "{\"accessToken\": \"x\"}", GCE_TOKEN_OAUTH, &t), MK_EAUTH,
               "answered without an access token");
    mk_ctx_free(ctx);
}

static void no_token(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_token_reply t;
    const char *bodies[] = {"", "<html><body>Sign in</body></html>", "[]", "null",
                            "{\"access_token\": \"\"}", "{\"access_token\": 42}",
                            "{\"access_token\": \"a\"", "{\"error\": \"invalid_grant\"}"};

    for (size_t i = 0; i < MK_ARRAY_SIZE(bodies); i++) {
        CHECK_FAIL(ctx, token(ctx, bodies[i], GCE_TOKEN_OAUTH, &t), MK_EAUTH,
                   "https://oauth2.example/token answered without an access token");
        CHECK(t.token == NULL);
    }
    mk_ctx_free(ctx);
}

/* The token goes into "Authorization: Bearer TOKEN": a line break in it would add headers
 * of the server's choosing to every later request (found by fuzz/gce_auth_reply). */
static void token_fits_a_header(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct gce_token_reply t;
    const char *bodies[] = {"{\"access_token\": \"ya29.a\\r\\nX-Injected: 1\"}",
                            "{\"access_token\": \"ya29 a\"}",
                            "{\"access_token\": \"ya29.\\u00e9\"}",
                            "{\"access_token\": \"ya29\\t\"}"};

    for (size_t i = 0; i < MK_ARRAY_SIZE(bodies); i++) {
        CHECK_FAIL(ctx, token(ctx, bodies[i], GCE_TOKEN_OAUTH, &t), MK_EAUTH,
                   "https://oauth2.example/token answered with an access token that is not "
                   "printable ASCII");
        CHECK(t.token == NULL);
    }
    CHECK_OK(ctx, token(ctx, "{\"access_token\": \"ya29.AbC-_~+/=\"}", GCE_TOKEN_OAUTH, &t));
    gce_auth_free_secret(&t.token);
    mk_ctx_free(ctx);
}

static int subject(struct mk_ctx *ctx, const char *field, const char *bytes, struct mk_buf *tok)
{
    mk_buf_release(tok);
    mk_buf_adds(tok, bytes);
    return gce_auth_parse_subject(ctx, "subject token file /run/oidc", field, tok);
}

static void subject_tokens(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    struct mk_buf tok = MK_BUF_INIT;

    CHECK_OK(ctx, subject(ctx, NULL, "eyJhbGciOiJSUzI1NiJ9.e30.sig\r\n \t\n", &tok));
    CHECK_STR(tok.buf, "eyJhbGciOiJSUzI1NiJ9.e30.sig");
    /* GitHub's OIDC endpoint answers {"count": N, "value": TOKEN}. */
    CHECK_OK(ctx, subject(ctx, "value", "{\"count\": 1, \"value\": \"eyJ.gh.sig \"}", &tok));
    CHECK_STR(tok.buf, "eyJ.gh.sig");
    CHECK_FAIL(ctx, subject(ctx, "value", "{\"count\": 1}", &tok), MK_EAUTH,
               "subject token file /run/oidc: no string field 'value' in the JSON");
    CHECK_FAIL(ctx, subject(ctx, "value", "{\"value\": 7}", &tok), MK_EAUTH,
               "no string field 'value'");
    CHECK_FAIL(ctx, subject(ctx, "value", "{\"value\": \"\"}", &tok), MK_EAUTH,
               "no string field 'value'");
    CHECK_FAIL(ctx, subject(ctx, "value", "eyJ.not.json", &tok), MK_EAUTH,
               "no string field 'value'");
    CHECK_FAIL(ctx, subject(ctx, NULL, "", &tok), MK_EAUTH, "the subject token is empty");
    CHECK_FAIL(ctx, subject(ctx, NULL, " \r\n", &tok), MK_EAUTH, "the subject token is empty");
    CHECK_FAIL(ctx, subject(ctx, "value", "{\"value\": \"\\n\"}", &tok), MK_EAUTH,
               "the subject token is empty");
    mk_buf_release(&tok);
    mk_ctx_free(ctx);
}

UNIT_MAIN(UNIT_TEST(oauth), UNIT_TEST(iam), UNIT_TEST(no_token), UNIT_TEST(token_fits_a_header),
          UNIT_TEST(subject_tokens))
