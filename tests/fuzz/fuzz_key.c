/* fuzz_key.c: a service-account private key: PEM, PKCS#8 and PKCS#1 DER, the RSA numbers'
 * checks and a signature (issue 15's double free was here).
 * seeds: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$WORK/key.pem" 2>/dev/null
 * seeds: /usr/bin/python3 "$MK_SOURCE_DIR/tests/fuzz/rsa_variants.py" "$WORK/key.pem" "$SEEDS"
 * options: -max_len=8000
 */
#include "fuzz.h"
#include "gce_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mk_ctx *ctx = mk_ctx_new();
    char *pem = fuzz_text(data, size), *jwt = NULL;
    int r;

    if (!ctx)
        abort();
    r = gce_jwt_sign(ctx, pem, "kid", "{\"iss\":\"fuzz\"}", &jwt);
    fuzz_check_error(ctx, r);
    if ((r == MK_OK) != (jwt != NULL))
        abort();
    free(jwt);
    free(pem);
    mk_ctx_free(ctx);
    return 0;
}
