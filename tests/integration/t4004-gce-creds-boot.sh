# t4004-gce-creds-boot.sh: the other credentials (gcloud's authorized_user ADC file, the
# metadata server), --boot-check (the instance is deleted whether TEXT shows up or not), and
# KERNEL mode (build, pack and upload in one stream: the object equals `build -o`'s file).
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl cmp

start_server
write_key "$T/key.json"
make_archive "$T/app.tar.gz"
endpoints="--bucket $BUCKET --storage-endpoint $BASE --compute-endpoint $BASE/compute/v1/ --backoff 0.01"

# 1. gcloud's application_default_credentials.json with a refresh token.
mkdir -p "$HOME/.config/gcloud"
cat >"$HOME/.config/gcloud/application_default_credentials.json" <<EOT
{"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
 "client_secret": "user-secret-xyz", "refresh_token": "1//refresh-token-xyz",
 "token_uri": "$BASE/token", "quota_project_id": "$PROJECT"}
EOT
# The file's quota_project_id is not the project (Google's libraries agree): gcloud's
# configuration names it.
mkdir -p "$HOME/.config/gcloud/configurations"
printf '[core]\nproject = %s\n' "$PROJECT" >"$HOME/.config/gcloud/configurations/config_default"
# The endpoints come from the environment variables Google's tools use, this time.
STORAGE_EMULATOR_HOST=127.0.0.1:$PORT CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=$BASE/compute/v1/ \
    "$MKIMAGE" push gce --bucket "$BUCKET" --backoff 0.01 --name adc "$T/app.tar.gz" \
    >"$T/out1" 2>"$T/err1" || fail "push with ADC failed: $(cat "$T/err1")"
[ "$(state 's["images"]["adc"]["status"]')" = READY ] || fail "no image from ADC credentials"
rm "$HOME/.config/gcloud/application_default_credentials.json" \
    "$HOME/.config/gcloud/configurations/config_default"
ok "authorized_user ADC file"

# 2. The metadata server (GCE_METADATA_HOST), which also names the project.
GCE_METADATA_HOST=127.0.0.1:$PORT "$MKIMAGE" push gce $endpoints --name meta "$T/app.tar.gz" \
    >"$T/out2" 2>"$T/err2" || fail "push with the metadata server failed: $(cat "$T/err2")"
[ "$(state 's["images"]["meta"]["status"]')" = READY ] || fail "no image via the metadata server"
ok "metadata server"

# 3. --boot-check: TEXT shows up; the instance is gone afterwards.
"$MKIMAGE" push gce $endpoints --credentials "$T/key.json" --name booted --json \
    --boot-check "all checks passed" --zone us-central1-a --boot-timeout 30 "$T/app.tar.gz" \
    >"$T/out3" 2>"$T/err3" || fail "push --boot-check failed: $(cat "$T/err3")"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["boot_check"]["matched"] is True, r' \
    "$T/out3" || fail "boot_check result: $(cat "$T/out3")"
[ "$(state 's["counters"]["instance_inserts"]')" = 1 ] || fail "no instance was made"
[ "$(state 's["instances"]')" = "[]" ] || fail "instance left behind: $(state 's["instances"]')"
ok "boot check passes"

# 4. TEXT never shows up: failure, the instance and the image deleted.
expect_fail "did not appear" "$MKIMAGE" push gce $endpoints --credentials "$T/key.json" -q \
    --name unbooted --boot-check "no such text" --zone us-central1-a --boot-timeout 1 \
    "$T/app.tar.gz"
cp "$T/err" "$T/err4"
[ "$(state 's["instances"]')" = "[]" ] || fail "instance left behind: $(state 's["instances"]')"
[ "$(state '"unbooted" in s["images"]')" = False ] || fail "the image that failed its check stayed"
ok "boot check fails cleanly"

# 5. KERNEL mode: no archive on disk, and the bytes equal what `build -o` writes.
"$MKIMAGE" build -o "$T/kern.tar.gz" "$MBPROBE" -- probe=1 "two words" >/dev/null 2>&1 ||
    fail "build failed"
"$MKIMAGE" push gce $endpoints --credentials "$T/key.json" --name kern --keep-object \
    "$MBPROBE" -- probe=1 "two words" >"$T/out5" 2>"$T/err5" ||
    fail "push KERNEL failed: $(cat "$T/err5")"
object_matches "$(object_of kern)" "$T/kern.tar.gz"
[ "$(state 's["images"]["kern"]["status"]')" = READY ] || fail "no image from KERNEL mode"
ok "KERNEL mode"

# 6. A raw disk is packed into disk.tar.gz on the fly; GNU tar finds the same disk inside.
"$MKIMAGE" build -o "$T/disk.raw" "$MBPROBE" >/dev/null 2>&1 || fail "build raw failed"
"$MKIMAGE" push gce $endpoints --credentials "$T/key.json" --name raw --keep-object \
    "$T/disk.raw" >"$T/out6" 2>"$T/err6" || fail "push of a raw disk failed: $(cat "$T/err6")"
curl -sf "$BASE/_object/$BUCKET/$(object_of raw)" -o "$T/raw.tar.gz" || fail "no object raw.tar.gz"
[ "$(tar -tzf "$T/raw.tar.gz")" = disk.raw ] || fail "the archive holds: $(tar -tzf "$T/raw.tar.gz")"
tar -xzOf "$T/raw.tar.gz" disk.raw | cmp - "$T/disk.raw" || fail "disk.raw differs from the raw disk"
[ "$(state 's["images"]["raw"]["status"]')" = READY ] || fail "no image from the raw disk"
no_violations
no_secrets "$T"/out* "$T"/err* "$XDG_STATE_HOME"
ok "raw disk converted on the fly"
