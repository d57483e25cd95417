# t4005-gce-key-checks.sh: service-account keys whose numbers do not check out are refused
# with one line naming the file, before any request, and never crash (issue 15: a flipped
# modulus bit was released twice). The same key in PKCS#1 form or with its primes in the
# other order still signs tokens the server accepts.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
make_archive "$T/app.tar.gz"
/usr/bin/python3 "$MK_SOURCE_DIR/tests/fuzz/rsa_variants.py" "$T/key.pem" "$T/keys"

for bad in flipped-modulus wrong-exponent; do
    write_key "$T/$bad.json" "$T/keys/$bad.pem"
    rc=0
    "$MKIMAGE" push gce $(gce_opts) --credentials "$T/$bad.json" "$T/app.tar.gz" \
        >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] || fail "$bad: exit $rc, not 1: $(cat "$T/err")"
    grep -qF "$T/$bad.json: private_key: the RSA key does not check out" "$T/err" &&
        [ "$(wc -l <"$T/err")" = 1 ] || fail "$bad: $(cat "$T/err")"
    no_secrets "$T/err" "$T/out"
done
[ "$(state 's["counters"]["initiations"]')" = 0 ] || fail "an upload was started"
ok "a flipped modulus bit and a wrong exponent: one line, exit 1"

n=0
for good in good-pkcs1 swapped-primes; do
    n=$((n + 1))
    write_key "$T/$good.json" "$T/keys/$good.pem"
    "$MKIMAGE" push gce $(gce_opts) --credentials "$T/$good.json" --name "app-$n" \
        "$T/app.tar.gz" >"$T/out" 2>"$T/err" || fail "$good: $(cat "$T/err")"
    [ "$(state "s['images']['app-$n']['status']")" = READY ] || fail "$good: image not READY"
done
no_violations
ok "PKCS#1 and swapped primes sign accepted tokens"
