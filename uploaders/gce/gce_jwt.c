/* gce_jwt.c: base64, PEM and PKCS#8/PKCS#1 DER parsing and the RS256 JWT that Google's
 * token endpoint takes for a service-account key, signed with libgcrypt. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>

#include "gce_private.h"

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_encode(struct mk_buf *b, const void *data, size_t len, bool url)
{
    const uint8_t *p = data;
    char out[4];

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t n = MK_MIN(len - i, 3), k = n + 1;

        if (n > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (n > 2)
            v |= p[i + 2];
        for (int j = 0; j < 4; j++) {
            char c = b64_chars[(v >> (18 - 6 * j)) & 63];
            if (url)
                c = c == '+' ? '-' : c == '/' ? '_' : c;
            out[j] = c;
        }
        if (!url) {
            for (size_t j = k; j < 4; j++)
                out[j] = '=';
            k = 4;
        }
        if (mk_buf_add(b, out, k) < 0)
            return MK_ENOMEM;
    }
    return MK_OK;
}

int gce_base64(struct mk_buf *b, const void *data, size_t len)
{
    return b64_encode(b, data, len, false);
}

int gce_base64url(struct mk_buf *b, const void *data, size_t len)
{
    return b64_encode(b, data, len, true);
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64_chars, c) : NULL;

    return p ? (int)(p - b64_chars) : -1;
}

int gce_pem_decode(struct mk_ctx *ctx, const char *pem, struct mk_buf *der)
{
    static const char *const kinds[] = {"PRIVATE KEY", "RSA PRIVATE KEY"};
    const char *begin = NULL, *end = NULL, *p;
    uint32_t acc = 0;
    int bits = 0;
    char marker[64];

    for (size_t i = 0; i < MK_ARRAY_SIZE(kinds) && !begin; i++) {
        snprintf(marker, sizeof(marker), "-----BEGIN %s-----", kinds[i]);
        begin = strstr(pem, marker);
        if (begin) {
            begin += strlen(marker);
            snprintf(marker, sizeof(marker), "-----END %s-----", kinds[i]);
            end = strstr(begin, marker);
        }
    }
    if (!begin || !end)
        return mk_set_error(ctx, MK_EFORMAT, "private_key is not a PEM private key");
    mk_buf_reset(der);
    for (p = begin; p < end; p++) {
        int v;

        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
            continue;
        if (*p == '=')
            break;
        v = b64_value(*p);
        if (v < 0)
            return mk_set_error(ctx, MK_EFORMAT, "private_key: bad character in the PEM data");
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            uint8_t byte = (uint8_t)(acc >> (bits - 8));

            bits -= 8;
            if (mk_buf_add(der, &byte, 1) < 0)
                return mk_set_error(ctx, MK_ENOMEM, "out of memory");
        }
    }
    mk_wipe(&acc, sizeof(acc));
    return MK_OK;
}

/* ---- DER: just enough of ASN.1 to walk PKCS#8 and PKCS#1. libgcrypt has no parser. ---- */

struct der {
    const uint8_t *p;
    size_t len;
};

/* Reads one element of (tag) from the front of (d) into (ret). */
static bool der_take(struct der *d, uint8_t tag, struct der *ret)
{
    size_t len, hdr = 2;

    if (d->len < 2 || d->p[0] != tag)
        return false;
    len = d->p[1];
    if (len & 0x80) {
        size_t n = len & 0x7f;

        if (n == 0 || n > 4 || d->len < 2 + n)
            return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | d->p[2 + i];
        hdr += n;
    }
    if (len > d->len - hdr)
        return false;
    ret->p = d->p + hdr;
    ret->len = len;
    d->p += hdr + len;
    d->len -= hdr + len;
    return true;
}

static bool der_mpi(struct der *d, gcry_mpi_t *ret)
{
    struct der v;

    if (!der_take(d, 0x02, &v) || v.len == 0 || (v.p[0] & 0x80))
        return false;
    return gcry_mpi_scan(ret, GCRYMPI_FMT_USG, v.p, v.len, NULL) == 0;
}

static const uint8_t rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

static pthread_once_t gcry_once = PTHREAD_ONCE_INIT;

static void gcry_setup(void)
{
    /* The program may have set libgcrypt up itself; then its settings stand. */
    if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        gcry_check_version(NULL);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    }
}

void gce_gcry_init(void)
{
    pthread_once(&gcry_once, gcry_setup);
}

/* gcry_pk_testkey() only checks n = p*q: a wrong e or d passes it and fails at the first
 * signature. Checks e*d = 1 mod (p-1) and mod (q-1) too, so any inconsistency is found here. */
static bool rsa_numbers_agree(gcry_mpi_t n, gcry_mpi_t e, gcry_mpi_t d, gcry_mpi_t p, gcry_mpi_t q)
{
    gcry_mpi_t t = gcry_mpi_new(0), one = gcry_mpi_set_ui(NULL, 1), ed = gcry_mpi_new(0);
    bool ok = gcry_mpi_cmp_ui(p, 2) >= 0 && gcry_mpi_cmp_ui(q, 2) >= 0;

    gcry_mpi_mul(t, p, q);
    ok = ok && gcry_mpi_cmp(t, n) == 0;
    gcry_mpi_mul(ed, e, d);
    for (int i = 0; i < 2 && ok; i++) {
        gcry_mpi_sub_ui(t, i ? q : p, 1);
        gcry_mpi_mod(t, ed, t);
        ok = gcry_mpi_cmp(t, one) == 0;
    }
    gcry_mpi_release(t);
    gcry_mpi_release(one);
    gcry_mpi_release(ed);
    return ok;
}

/* Builds a libgcrypt key from PKCS#8 PrivateKeyInfo or PKCS#1 RSAPrivateKey DER. */
static int der_to_key(struct mk_ctx *ctx, const uint8_t *buf, size_t len, gcry_sexp_t *ret)
{
    struct der all = {buf, len}, seq, rsa, ver, alg, oid, octets;
    gcry_mpi_t m[8] = {0}, p, q, u;
    gcry_sexp_t key = NULL;
    gcry_error_t err;
    int r = MK_OK;

    gce_gcry_init();
    if (!der_take(&all, 0x30, &seq))
        return mk_set_error(ctx, MK_EFORMAT, "private_key is not DER-encoded");
    if (!der_take(&seq, 0x02, &ver))
        return mk_set_error(ctx, MK_EFORMAT, "private_key: no version");
    if (seq.len && seq.p[0] == 0x30) {
        /* PKCS#8: AlgorithmIdentifier, then the PKCS#1 key in an OCTET STRING. */
        if (!der_take(&seq, 0x30, &alg) || !der_take(&alg, 0x06, &oid) ||
            oid.len != sizeof(rsa_oid) || memcmp(oid.p, rsa_oid, sizeof(rsa_oid)))
            return mk_set_error(ctx, MK_EUNSUPPORTED, "private_key is not an RSA key");
        if (!der_take(&seq, 0x04, &octets) || !der_take(&octets, 0x30, &rsa) ||
            !der_take(&rsa, 0x02, &ver))
            return mk_set_error(ctx, MK_EFORMAT, "private_key: malformed PKCS#8 data");
    } else {
        rsa = seq;
    }
    /* n, e, d, prime1, prime2, exponent1, exponent2, coefficient */
    for (int i = 0; i < 8; i++)
        if (!der_mpi(&rsa, &m[i])) {
            r = mk_set_error(ctx, MK_EFORMAT, "private_key: malformed RSA key");
            goto out;
        }
    /* libgcrypt wants p < q and u = p^-1 mod q, while PKCS#1 stores q^-1 mod p with
     * prime1 > prime2 (usually): order the primes ourselves and recompute u, so either
     * order signs correctly. */
    if (gcry_mpi_cmp(m[3], m[4]) < 0) {
        p = m[3];
        q = m[4];
    } else {
        p = m[4];
        q = m[3];
    }
    if (!rsa_numbers_agree(m[0], m[1], m[2], p, q)) {
        r = mk_set_error(ctx, MK_EFORMAT, "private_key: the RSA key does not check out");
        goto out;
    }
    u = gcry_mpi_new(0);
    if (!gcry_mpi_invm(u, p, q)) {
        gcry_mpi_release(u);
        r = mk_set_error(ctx, MK_EFORMAT, "private_key: inconsistent RSA primes");
        goto out;
    }
    err = gcry_sexp_build(&key, NULL, "(private-key (rsa (n %m) (e %m) (d %m) (p %m) (q %m) (u %m)))",
                          m[0], m[1], m[2], p, q, u);
    gcry_mpi_release(u);
    if (err) {
        r = mk_set_error(ctx, MK_EFORMAT, "private_key: %s", gcry_strerror(err));
        goto out;
    }
    if (gcry_pk_testkey(key)) {
        gcry_sexp_release(key);
        r = mk_set_error(ctx, MK_EFORMAT, "private_key: the RSA key does not check out");
        goto out;
    }
    *ret = key;
out:
    for (int i = 0; i < 8; i++)
        gcry_mpi_release(m[i]);
    return r;
}

static int sign_input(struct mk_ctx *ctx, gcry_sexp_t key, const struct mk_buf *input,
                      struct mk_buf *jwt)
{
    uint8_t digest[32], sig[1024];
    gcry_sexp_t data = NULL, result = NULL, s = NULL;
    unsigned nbytes = (gcry_pk_get_nbits(key) + 7) / 8;
    const char *val;
    size_t vlen = 0;
    gcry_error_t err;
    int r = MK_OK;

    if (nbytes == 0 || nbytes > sizeof(sig))
        return mk_set_error(ctx, MK_EUNSUPPORTED, "private_key: unsupported RSA key size");
    gcry_md_hash_buffer(GCRY_MD_SHA256, digest, input->buf, input->len);
    err = gcry_sexp_build(&data, NULL, "(data (flags pkcs1) (hash sha256 %b))",
                          (int)sizeof(digest), digest);
    if (!err)
        err = gcry_pk_sign(&result, data, key);
    if (err) {
        r = mk_set_error(ctx, MK_EAUTH, "cannot sign the token request: %s",
                         gcry_strerror(err));
        goto out;
    }
    s = gcry_sexp_find_token(result, "s", 0);
    val = s ? gcry_sexp_nth_data(s, 1, &vlen) : NULL;
    if (!val || vlen > nbytes) {
        r = mk_set_error(ctx, MK_EAUTH, "cannot sign the token request: no signature");
        goto out;
    }
    /* libgcrypt drops leading zero bytes; RS256 wants the full modulus length. */
    memset(sig, 0, nbytes - vlen);
    memcpy(sig + nbytes - vlen, val, vlen);
    if (mk_buf_add(jwt, ".", 1) < 0 || gce_base64url(jwt, sig, nbytes) < 0)
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
out:
    gcry_sexp_release(s);
    gcry_sexp_release(result);
    gcry_sexp_release(data);
    return r;
}

int gce_jwt_sign(struct mk_ctx *ctx, const char *pem, const char *kid, const char *claims,
                 char **ret)
{
    struct mk_buf der = MK_BUF_INIT, jwt = MK_BUF_INIT;
    json_t *h = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    gcry_sexp_t key = NULL;
    char *htext = NULL;
    int r;

    if (h && kid && *kid)
        json_object_set_new(h, "kid", json_string(kid));
    htext = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!htext)
        return mk_set_error(ctx, MK_ENOMEM, "out of memory");
    r = gce_pem_decode(ctx, pem, &der);
    if (r == MK_OK)
        r = der_to_key(ctx, (const uint8_t *)der.buf, der.len, &key);
    if (r == MK_OK && (gce_base64url(&jwt, htext, strlen(htext)) < 0 ||
                       mk_buf_add(&jwt, ".", 1) < 0 ||
                       gce_base64url(&jwt, claims, strlen(claims)) < 0))
        r = mk_set_error(ctx, MK_ENOMEM, "out of memory");
    if (r == MK_OK)
        r = sign_input(ctx, key, &jwt, &jwt);
    gcry_sexp_release(key);
    mk_wipe(der.buf, der.alloc);
    mk_buf_release(&der);
    free(htext);
    if (r < 0) {
        mk_wipe(jwt.buf, jwt.alloc);
        mk_buf_release(&jwt);
        return r;
    }
    *ret = mk_buf_detach(&jwt, NULL);
    return MK_OK;
}
