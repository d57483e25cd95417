# t4002-gce-errors.sh: bad input fails with one clear line before anything is uploaded, and
# leaves nothing on the server: no project, missing/malformed/wrong keys, an invalid image
# name, a missing bucket, an archive GCE would refuse. No output carries key material.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
write_key "$T/key.json"
write_key "$T/noproj.json" "$T/key.pem" ""
make_archive "$T/app.tar.gz"
opts="--bucket $BUCKET --storage-endpoint $BASE --compute-endpoint $BASE/compute/v1/ --backoff 0.01"
n=0
check() {  # check TEXT ARGS...: push must fail with TEXT; its outputs are kept for the scan
    local text=$1
    shift
    expect_fail "$text" "$MKIMAGE" push gce $opts "$@"
    n=$((n + 1))
    cp "$T/err" "$T/err.$n"
    for f in "$T/.out" "$T/out"; do  # where lib.sh's expect_fail leaves stdout
        [ -e "$f" ] && cp "$f" "$T/out.$n"
    done
    [ -z "${SHOW_ERRORS:-}" ] || cat "$T/err" >&2
}

check "no project" --credentials "$T/noproj.json" "$T/app.tar.gz"
# No credentials anywhere (lib.sh sets NO_GCE_CHECK, so the metadata server is not probed).
check "no Google credentials found" --project "$PROJECT" "$T/app.tar.gz"
check "cannot open" --credentials "$T/missing.json" --project p "$T/app.tar.gz"
GOOGLE_APPLICATION_CREDENTIALS=$T/missing.json \
    check "GOOGLE_APPLICATION_CREDENTIALS" --project "$PROJECT" "$T/app.tar.gz"
# Malformed: broken JSON around real key material, and a key that is not a key.
{ echo '{"type": "service_account", "private_key": "'; grep -v -- '-----' "$T/key.pem"; } \
    >"$T/broken.json"
check "not a JSON credentials file" --credentials "$T/broken.json" "$T/app.tar.gz"
/usr/bin/python3 - "$T/key.json" "$T/garbage.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
k["private_key"] = k["private_key"].replace("MII", "MIX", 1)[:400] + "\n-----END PRIVATE KEY-----\n"
json.dump(k, open(sys.argv[2], "w"))
PY
check "private_key" --credentials "$T/garbage.json" "$T/app.tar.gz"
# Wrong key: well-formed, but not the one the server knows.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.pem" 2>/dev/null
write_key "$T/wrong.json" "$T/other.pem"
check "Invalid JWT Signature" --credentials "$T/wrong.json" "$T/app.tar.gz"
check "invalid image name" --credentials "$T/key.json" --name Bad_Name "$T/app.tar.gz"
check "invalid image name" --credentials "$T/key.json" --name "$(printf 'a%.0s' $(seq 64))" \
    "$T/app.tar.gz"
check "invalid image family" --credentials "$T/key.json" --family -x "$T/app.tar.gz"
check "bucket 'nope' does not exist" --credentials "$T/key.json" --bucket nope "$T/app.tar.gz"
check "invalid --label" --credentials "$T/key.json" --label Bad=1 "$T/app.tar.gz"
check "unknown --guest-os-feature" --credentials "$T/key.json" --guest-os-feature FAST \
    "$T/app.tar.gz"
check "--boot-check needs a zone" --credentials "$T/key.json" --boot-check hi "$T/app.tar.gz"
# Archives GCE would refuse: a disk that is not a whole GiB, and a corrupt gzip.
mkdir "$T/bad" && truncate -s 10M "$T/bad/disk.raw"
(cd "$T/bad" && tar --format=oldgnu -cSzf "$T/small.tar.gz" disk.raw)
check "not uploaded" --credentials "$T/key.json" "$T/small.tar.gz"
head -c 30000 "$T/app.tar.gz" >"$T/cut.tar.gz"
check "not uploaded" --credentials "$T/key.json" "$T/cut.tar.gz"
check "cannot open" --credentials "$T/key.json" "$T/nonexistent.tar.gz"

[ "$(state 's["counters"]["initiations"]')" = 0 ] || fail "an upload was started"
[ "$(state 's["images"]')" = "{}" ] || fail "images left: $(state 's["images"]')"
[ "$(state 's["objects"]')" = "{}" ] || fail "objects left: $(state 's["objects"]')"
[ "$(state 's["sessions"]')" = "{}" ] || fail "sessions left"
[ "$(state 's["buckets"]')" = "['$BUCKET']" ] || fail "buckets: $(state 's["buckets"]')"
no_violations
no_secrets "$T"/err.* "$T"/out.* "$XDG_STATE_HOME"
ok "$n bad inputs refused"

# The usage errors come with exit status 2.
rc=0
"$MKIMAGE" push gce --bogus-option x "$T/app.tar.gz" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -qF "unknown option '--bogus-option' for gce" "$T/err" ||
    fail "bad option: rc=$rc $(cat "$T/err")"
# The option table, not the help text, says what takes a value: a flag leaves the file alone,
# a flag's key with =VALUE works too, and a missing value is named.
rc=0
"$MKIMAGE" push gce --replace --keep-object=true --insecure "$T/missing.tar.gz" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "missing.tar.gz" "$T/err" || fail "flags: rc=$rc $(cat "$T/err")"
rc=0
"$MKIMAGE" push gce "$T/app.tar.gz" --bucket 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -qF "option --bucket needs a value" "$T/err" || fail "no value: rc=$rc $(cat "$T/err")"
rc=0
"$MKIMAGE" push nocloud "$T/app.tar.gz" 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "known: gce" "$T/err" || fail "bad cloud: rc=$rc $(cat "$T/err")"
"$MKIMAGE" push --list >list.txt
grep -q '^gce ' list.txt || fail "push --list"
ok "usage errors"
