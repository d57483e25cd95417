# t4000-gce-push.sh: push gce against the fake GCE: the object lands byte-identical, exactly
# one READY image exists with the asked-for fields, the staged object is removed, and no
# output or state file carries key material.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl cmp

start_server
write_key "$T/key.json"
make_archive "$T/app.tar.gz"

# 1. An archive the tool built, everything asked for, the object kept for the checks.
"$MKIMAGE" push gce $(gce_opts) --project "$PROJECT" --name app-v1 --family app \
    --description "probe image" --label env=test --label team=unikernels \
    --guest-os-feature VIRTIO_SCSI_MULTIQUEUE --keep-object --json "$T/app.tar.gz" \
    >"$T/out.json" 2>"$T/err" || fail "push failed: $(cat "$T/err")"
[ "$(state 'len(s["images"])')" = 1 ] || fail "expected exactly one image"
[ "$(state 's["images"]["app-v1"]["status"]')" = READY ] || fail "image not READY"
[ "$(state 's["images"]["app-v1"]["family"]')" = app ] || fail "family"
[ "$(state 's["images"]["app-v1"]["labels"]["team"]')" = unikernels ] || fail "labels"
[ "$(state 's["images"]["app-v1"]["guestOsFeatures"][0]["type"]')" = VIRTIO_SCSI_MULTIQUEUE ] ||
    fail "guestOsFeatures"
obj=$(object_of app-v1)
case "$obj" in app-v1-*.tar.gz) ;; *) fail "staged object name $obj" ;; esac
[ "$(state 's["images"]["app-v1"]["rawDisk"]["source"]')" = \
  "https://storage.googleapis.com/$BUCKET/$obj" ] || fail "rawDisk.source"
object_matches "$obj" "$T/app.tar.gz"
/usr/bin/python3 - "$T/out.json" "$T/app.tar.gz" "$obj" <<'PY' || fail "bad --json result: $(cat "$T/out.json")"
import base64, hashlib, json, os, sys
r = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
assert r["image"] == "app-v1" and r["status"] == "ok" and r["image_status"] == "READY", r
assert r["self_link"].endswith("/global/images/app-v1"), r
assert r["bytes"] == len(data), r
assert r["md5_hash"] == base64.b64encode(hashlib.md5(data).digest()).decode(), r
assert r["object"] == "gs://test-bucket/" + sys.argv[3], r
PY
ok "push with --json, labels, family, features"

# 2. A second push of the same name fails without --replace, and leaves the server as it was.
expect_fail "already exists" "$MKIMAGE" push gce $(gce_opts) --project "$PROJECT" \
    --name app-v1 "$T/app.tar.gz"
[ "$(state 's["counters"]["initiations"]')" = 1 ] || fail "an upload started for an existing image"
ok "existing image refused"

# 3. --replace, an archive made by GNU tar from the tool's raw disk, the project from the key, and the staged object removed afterwards (only that
#    one: the object kept by push 1 has a name of its own and stays).
"$MKIMAGE" build -o "$T/disk.raw" "$MBPROBE" >/dev/null 2>&1 || fail "build raw"
mkdir "$T/tarsrc" && mv "$T/disk.raw" "$T/tarsrc/disk.raw"
(cd "$T/tarsrc" && tar --format=oldgnu -cSzf "$T/App_V1.tar.gz" disk.raw)
"$MKIMAGE" push gce $(gce_opts) --replace --name app-v1 "$T/App_V1.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "push --replace failed: $(cat "$T/err")"
[ "$(cat "$T/out")" = "https://www.googleapis.com/compute/v1/projects/$PROJECT/global/images/app-v1" ] ||
    fail "expected the selfLink on stdout, got: $(cat "$T/out")"
[ "$(state 'len(s["images"])')" = 1 ] || fail "expected exactly one image after --replace"
[ "$(state 's["images"]["app-v1"]["archiveSizeBytes"]')" = "$(stat -c %s "$T/App_V1.tar.gz")" ] ||
    fail "the image was not made from the new archive"
[ "$(state 'list(s["objects"])')" = "['test-bucket/$obj']" ] ||
    fail "the staged object was left behind, or the kept one removed: $(state 's["objects"]')"
ok "replace with a GNU tar archive"

# 4. Without --keep-object the staged object goes away.
"$MKIMAGE" push gce $(gce_opts) --name app-v2 -q "$T/app.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "push failed: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "--quiet printed: $(cat "$T/out")"
[ "$(state 'any(k.startswith("test-bucket/app-v2") for k in s["objects"])')" = False ] || fail "object left behind"
[ "$(state 'sorted(s["images"])')" = "['app-v1', 'app-v2']" ] || fail "images"
[ "$(state 's["instances"]')" = "[]" ] || fail "instances"
no_violations
no_secrets "$T/out.json" "$T/out" "$T/err" "$XDG_STATE_HOME" "$HOME"
ls -A "$XDG_STATE_HOME/unikernel-mkimage" 2>/dev/null | grep -q . && fail "state files left after success"
ok "push gce"
