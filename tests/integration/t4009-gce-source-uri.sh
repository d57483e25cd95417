# t4009-gce-source-uri.sh: push gce --source-uri gs://B/O (gcloud's spelling) makes the image
# from an object the user uploaded before: nothing is uploaded, rawDisk.source names that
# object, the image checks (name, family, labels, features, --replace) still apply, and the
# object, the user's, is never deleted, whether the push succeeds, is refused or fails.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
write_key "$T/key.json"
make_archive "$T/app.tar.gz"

# The user's upload, through the storage API as gsutil would make it: a token from the
# (fake) metadata server, a resumable session, the whole archive in one PUT.
tok=$(curl -sf -H 'Metadata-Flavor: Google' \
    "$BASE/computeMetadata/v1/instance/service-accounts/default/token" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') ||
    fail "no token from the fake metadata server"
upload_object() { # NAME FILE
    local loc size
    size=$(stat -c %s "$2")
    loc=$(curl -sf -D - -o /dev/null -X POST -H "Authorization: Bearer $tok" \
        "$BASE/upload/storage/v1/b/$BUCKET/o?uploadType=resumable&name=$1" |
        tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [ -n "$loc" ] || fail "could not start an upload of $1"
    curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $tok" \
        -H "Content-Range: bytes 0-$((size - 1))/$size" --data-binary "@$2" "$loc" ||
        fail "could not upload $1"
    object_matches "$1" "$2"
}
upload_object releases/My_App-1.tar.gz "$T/app.tar.gz"
still_there() {
    [ "$(state "'$BUCKET/releases/My_App-1.tar.gz' in s['objects']")" = True ] ||
        fail "the user's object was deleted ($1)"
}

inits=$(state 's["counters"]["initiations"]')

# 1. The image from the object, with the image options; no ARCHIVE, no upload, the object kept.
"$MKIMAGE" push gce $(gce_opts) --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz" \
    --family app --labels env=test,team=unikernels --guest-os-features VIRTIO_SCSI_MULTIQUEUE \
    --json >"$T/out.json" 2>"$T/err" || fail "push --source-uri failed: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['my-app-1']" ] ||
    fail "expected one image named after the object: $(state 'sorted(s["images"])')"
[ "$(state 's["images"]["my-app-1"]["rawDisk"]["source"]')" = \
  "https://storage.googleapis.com/$BUCKET/releases/My_App-1.tar.gz" ] ||
    fail "rawDisk.source: $(state 's["images"]["my-app-1"]["rawDisk"]')"
[ "$(state 's["images"]["my-app-1"]["family"]')" = app ] || fail "family"
[ "$(state 's["images"]["my-app-1"]["labels"]["team"]')" = unikernels ] || fail "labels"
[ "$(state 's["images"]["my-app-1"]["guestOsFeatures"][0]["type"]')" = VIRTIO_SCSI_MULTIQUEUE ] ||
    fail "guestOsFeatures"
[ "$(state 's["counters"]["initiations"]')" = "$inits" ] || fail "an upload was started"
[ "$(state 'len(s["sessions"])')" = 1 ] || fail "upload sessions: $(state 's["sessions"]')"
still_there "after a push"
object_matches releases/My_App-1.tar.gz "$T/app.tar.gz"
/usr/bin/python3 - "$T/out.json" "$BUCKET" <<'PY' || fail "bad --json result: $(cat "$T/out.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "ok" and r["image"] == "my-app-1" and r["image_status"] == "READY", r
assert r["object"] == "gs://%s/releases/My_App-1.tar.gz" % sys.argv[2], r
PY
ok "image made from gs://$BUCKET/releases/My_App-1.tar.gz, the object kept"

# 2. The same name again: refused without --replace; with it, replaced by the image of the
#    next release's object (https:// form), both objects kept.
expect_fail "already exists" "$MKIMAGE" push gce $(gce_opts) \
    --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz"
"$MKIMAGE" build -s 2G -o "$T/app2.tar.gz" "$MBPROBE" >/dev/null 2>&1 || fail "build app2"
upload_object releases/my-app-2.tar.gz "$T/app2.tar.gz"
"$MKIMAGE" push gce $(gce_opts) --replace --name my-app-1 -q \
    --source-uri "https://storage.googleapis.com/$BUCKET/releases/my-app-2.tar.gz" \
    2>"$T/err" || fail "push --source-uri --replace failed: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['my-app-1']" ] || fail "images after --replace"
[ "$(state 's["images"]["my-app-1"]["archiveSizeBytes"]')" = "$(stat -c %s "$T/app2.tar.gz")" ] ||
    fail "the image was not made from the second object"
still_there "after --replace"
[ "$(state "'$BUCKET/releases/my-app-2.tar.gz' in s['objects']")" = True ] ||
    fail "the second object was deleted"
ok "--replace with --source-uri"

# 3. Checks before anything is made: bad names, bad URIs, an ARCHIVE as well, no such object,
#    features the image cannot honour. Nothing is created, the object stays.
expect_fail "image name" "$MKIMAGE" push gce $(gce_opts) --name Bad_Name \
    --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz"
expect_fail "want gs://BUCKET/OBJECT" "$MKIMAGE" push gce $(gce_opts) --source-uri "gs://$BUCKET"
expect_fail "want gs://BUCKET/OBJECT" "$MKIMAGE" push gce $(gce_opts) --source-uri /tmp/x.tar.gz
expect_fail "give no ARCHIVE" "$MKIMAGE" push gce $(gce_opts) \
    --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz" "$T/app.tar.gz"
expect_fail "no such object" "$MKIMAGE" push gce $(gce_opts) --name other \
    --source-uri "gs://$BUCKET/releases/missing.tar.gz"
expect_fail "UEFI" "$MKIMAGE" push gce $(gce_opts) --name other --guest-os-features UEFI_COMPATIBLE \
    --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz"
[ "$(state 'sorted(s["images"])')" = "['my-app-1']" ] || fail "a refused push made an image"
still_there "after refused pushes"
ok "refusals"

# 4. A failing image creation does not delete the user's object either.
fault '{"image_error": {"count": 1}}'
expect_fail "" "$MKIMAGE" push gce $(gce_opts) --name failing \
    --source-uri "gs://$BUCKET/releases/My_App-1.tar.gz"
curl -sf -X POST "$BASE/_clear_faults" >/dev/null
still_there "after a failed image creation"
[ "$(state 's["counters"]["object_deletes"]')" = 0 ] || fail "an object was deleted"
no_violations
no_secrets "$T/out.json" "$T/err" "$XDG_STATE_HOME" "$HOME"
ok "push gce --source-uri"
