/* test_gce_jwt.c: base64/base64url, PEM and PKCS#8/PKCS#1 parsing and the RS256 JWT of the GCE
 * uploader, with OpenSSL's command-line tool as the oracle for the signatures. */
#include <stdlib.h>
#include <unistd.h>

#include "gce_private.h"
#include "unit.h"

static char dir[] = "/tmp/test_gce_jwt.XXXXXX";

static void b64_vectors(void)
{
    struct mk_buf b = MK_BUF_INIT;
    static const struct {
        const char *in, *std, *url;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"\xfb\xff\xbf", "+/+/", "-_-_"},
    };

    for (size_t i = 0; i < MK_ARRAY_SIZE(v); i++) {
        mk_buf_reset(&b);
        CHECK_OK(NULL, gce_base64(&b, v[i].in, strlen(v[i].in)));
        CHECK_STR(b.buf, v[i].std);
        mk_buf_reset(&b);
        CHECK_OK(NULL, gce_base64url(&b, v[i].in, strlen(v[i].in)));
        CHECK_STR(b.buf, v[i].url);
    }
    mk_buf_release(&b);
}

static int sh(const char *cmd)
{
    char full[2048];

    snprintf(full, sizeof(full), "cd %s && %s >/dev/null 2>&1", dir, cmd);
    return system(full);
}

static char *slurp(const char *name, size_t *len)
{
    struct mk_buf b = MK_BUF_INIT;
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mk_buf_read_file(NULL, &b, path, 0) < 0)
        return NULL;
    return mk_buf_detach(&b, len);
}

static void put(const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

static int b64url_value(char c)
{
    const char *set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *p = strchr(set, c);
    return c && p ? (int)(p - set) : -1;
}

static size_t b64url_decode(const char *s, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    for (; *s; s++) {
        acc = (acc << 6) | (uint32_t)b64url_value(*s);
        bits += 6;
        if (bits >= 8) {
            out[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return n;
}

/* Signs with (pem_name) and checks the JWT against `openssl dgst -verify` and -sign. */
static void check_jwt(const char *pem_name)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *pem = slurp(pem_name, NULL), *jwt = NULL, *dot1, *dot2, *theirs;
    uint8_t sig[600], hdr[200];
    size_t siglen, theirs_len = 0, hlen;
    char cmd[512];

    CHECK(pem != NULL);
    CHECK_OK(ctx, gce_jwt_sign(ctx, pem, "kid-1", "{\"iss\":\"a@b\",\"aud\":\"x\"}", &jwt));
    if (!jwt)
        goto out;
    CHECK(strchr(jwt, '=') == NULL);
    dot1 = strchr(jwt, '.');
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    CHECK(dot2 != NULL);
    if (!dot2)
        goto out;
    *dot1 = '\0';
    hlen = b64url_decode(jwt, hdr);
    hdr[hlen] = '\0';
    CHECK_STR((char *)hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"kid-1\"}");
    *dot1 = '.';
    siglen = b64url_decode(dot2 + 1, sig);
    CHECK_EQ(siglen, 256);
    put("input", jwt, (size_t)(dot2 - jwt));
    put("sig", sig, siglen);
    CHECK_EQ(sh("openssl pkey -in key.pem -pubout -out pub.pem"), 0);
    CHECK_EQ(sh("openssl dgst -sha256 -verify pub.pem -signature sig input"), 0);
    /* PKCS#1 v1.5 is deterministic: the same bytes as OpenSSL's own signature. */
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign %s -out theirs input", pem_name);
    CHECK_EQ(sh(cmd), 0);
    theirs = slurp("theirs", &theirs_len);
    CHECK(theirs && theirs_len == siglen && !memcmp(theirs, sig, siglen));
    free(theirs);
out:
    free(jwt);
    free(pem);
    mk_ctx_free(ctx);
}

static void jwt_pkcs8(void)
{
    CHECK_EQ(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem"), 0);
    check_jwt("key.pem");
}

static void jwt_pkcs1(void)
{
    CHECK_EQ(sh("openssl pkey -in key.pem -traditional -out rsa.pem"), 0);
    char *pem = slurp("rsa.pem", NULL);
    CHECK(pem && strstr(pem, "BEGIN RSA PRIVATE KEY"));
    free(pem);
    check_jwt("rsa.pem");
}

static void bad_keys(void)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *pem, *jwt = NULL;

    CHECK_FAIL(ctx, gce_jwt_sign(ctx, "not a key", NULL, "{}", &jwt), MK_EFORMAT,
               "not a PEM private key");
    CHECK_FAIL(ctx, gce_jwt_sign(ctx, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
                                 NULL, "{}", &jwt), MK_EFORMAT, "private_key");
    CHECK_FAIL(ctx, gce_jwt_sign(ctx, "-----BEGIN PRIVATE KEY-----\nM!!B\n-----END PRIVATE KEY-----\n",
                                 NULL, "{}", &jwt), MK_EFORMAT, "bad character");
    CHECK_EQ(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem"), 0);
    pem = slurp("ec.pem", NULL);
    CHECK(pem != NULL);
    if (pem)
        CHECK_FAIL(ctx, gce_jwt_sign(ctx, pem, NULL, "{}", &jwt), MK_EUNSUPPORTED, "not an RSA key");
    free(pem);
    /* A key cut short in the middle of its integers. */
    pem = slurp("key.pem", NULL);
    if (pem) {
        char *end = strstr(pem, "-----END");
        char cut[2048];
        snprintf(cut, sizeof(cut), "%.*s\n%s", (int)MK_MIN((size_t)(end - pem), 600), pem, end);
        CHECK_FAIL(ctx, gce_jwt_sign(ctx, cut, NULL, "{}", &jwt), MK_EFORMAT, "private_key");
        /* No error message quotes key material. */
        CHECK(strstr(mk_errmsg(ctx), "MII") == NULL);
    }
    free(pem);
    CHECK(jwt == NULL);
    mk_ctx_free(ctx);
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

static void setup(void)
{
    CHECK(mkdtemp(dir) != NULL);
}

UNIT_MAIN(UNIT_TEST(setup), UNIT_TEST(b64_vectors), UNIT_TEST(jwt_pkcs8), UNIT_TEST(jwt_pkcs1),
          UNIT_TEST(bad_keys), UNIT_TEST(cleanup))
