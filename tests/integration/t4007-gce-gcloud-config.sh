# t4007-gce-gcloud-config.sh: a gcloud user's configuration is read as gcloud reads it
# (CLOUDSDK_CONFIG, active_config, CLOUDSDK_ACTIVE_CONFIG_NAME, configurations/config_NAME,
# core/project, compute/zone, CLOUDSDK_* variables over the file); quota_project_id never
# names the project; --bucket takes gsutil's gs://B and gs://B/PREFIX/.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl
unset CLOUDSDK_ACTIVE_CONFIG_NAME CLOUDSDK_COMPUTE_ZONE CLOUDSDK_COMPUTE_REGION \
    CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT || true

start_server
make_archive "$T/app.tar.gz"
endpoints="--bucket $BUCKET --storage-endpoint $BASE --compute-endpoint $BASE/compute/v1/ --backoff 0.01"

# gcloud's ADC file for a user: it names a quota project, which is not the project to use.
gc=$HOME/.config/gcloud
mkdir -p "$gc/configurations"
cat >"$gc/application_default_credentials.json" <<EOT
{"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com",
 "client_secret": "user-secret-xyz", "refresh_token": "1//refresh-token-xyz",
 "token_uri": "$BASE/token", "quota_project_id": "billing-proj"}
EOT

# 1. No project anywhere: told how to set one; quota_project_id is not taken.
expect_fail "gcloud config set project" "$MKIMAGE" push gce $endpoints --name noproj \
    "$T/app.tar.gz"
[ "$(state 's["counters"]["image_inserts"]')" = 0 ] || fail "an image was made without a project"
ok "no project from quota_project_id; the error says how to set one"

# 2. The default configuration's project (no active_config file: 'default').
printf '[core]\naccount = me@example.com\nproject = %s\n\n[compute]\nregion = us-central1\n' \
    "$PROJECT" >"$gc/configurations/config_default"
"$MKIMAGE" push gce $endpoints --name fromdefault "$T/app.tar.gz" >"$T/out2" 2>"$T/err2" ||
    fail "push with gcloud's default configuration: $(cat "$T/err2")"
[ "$(state 's["images"]["fromdefault"]["status"]')" = READY ] || fail "no image in $PROJECT"
ok "core/project of the default configuration"

# 3. active_config names another configuration; its project is a wrong one, so the push must
#    fail with that project's name (the fake server knows only $PROJECT).
printf 'other\n' >"$gc/active_config"
printf '[core]\nproject = other-proj\n[compute]\nzone = europe-west1-b\n' \
    >"$gc/configurations/config_other"
"$MKIMAGE" push gce $endpoints --name fromother "$T/app.tar.gz" >"$T/out3" 2>"$T/err3" && true
grep -q "other-proj" "$T/err3" || fail "active_config was not followed: $(cat "$T/err3")"
ok "active_config selects the configuration"

# 4. CLOUDSDK_ACTIVE_CONFIG_NAME beats active_config; CLOUDSDK_CONFIG moves the folder.
mkdir -p "$T/gcloud2/configurations"
mv "$gc/application_default_credentials.json" "$T/gcloud2/"
printf '[core]\nproject = %s\n[compute]\nzone = us-central1-a\n' "$PROJECT" \
    >"$T/gcloud2/configurations/config_ci"
printf 'nothing\n' >"$T/gcloud2/active_config"
CLOUDSDK_CONFIG=$T/gcloud2 CLOUDSDK_ACTIVE_CONFIG_NAME=ci "$MKIMAGE" push gce $endpoints \
    --name fromci --boot-check "all checks passed" --boot-timeout 30 --json "$T/app.tar.gz" \
    >"$T/out4" 2>"$T/err4" || fail "push with CLOUDSDK_CONFIG/CLOUDSDK_ACTIVE_CONFIG_NAME: $(cat "$T/err4")"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["boot_check"]["zone"] == "us-central1-a", r' \
    "$T/out4" || fail "compute/zone not used for --boot-check: $(cat "$T/out4")"
ok "CLOUDSDK_CONFIG, CLOUDSDK_ACTIVE_CONFIG_NAME, compute/zone for --boot-check"

# 5. CLOUDSDK_CORE_PROJECT and CLOUDSDK_COMPUTE_ZONE override the file.
CLOUDSDK_CONFIG=$T/gcloud2 CLOUDSDK_ACTIVE_CONFIG_NAME=other CLOUDSDK_CORE_PROJECT=$PROJECT \
    CLOUDSDK_COMPUTE_ZONE=us-east1-c "$MKIMAGE" push gce $endpoints --name fromenv \
    --boot-check "all checks passed" --boot-timeout 30 --json "$T/app.tar.gz" \
    >"$T/out5" 2>"$T/err5" || fail "push with CLOUDSDK_* variables: $(cat "$T/err5")"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["boot_check"]["zone"] == "us-east1-c", r' \
    "$T/out5" || fail "CLOUDSDK_COMPUTE_ZONE not used: $(cat "$T/out5")"
ok "CLOUDSDK_CORE_PROJECT and CLOUDSDK_COMPUTE_ZONE"

# 6. --boot-check without any zone names the ways to give one, the configured region too.
printf '[core]\nproject = %s\n[compute]\nregion = us-east4\n' "$PROJECT" \
    >"$T/gcloud2/configurations/config_nozone"
CLOUDSDK_CONFIG=$T/gcloud2 CLOUDSDK_ACTIVE_CONFIG_NAME=nozone expect_fail "us-east4" \
    "$MKIMAGE" push gce $endpoints --name nozone --boot-check x "$T/app.tar.gz"
grep -q "CLOUDSDK_COMPUTE_ZONE" "$T/err" || fail "zone hint: $(cat "$T/err")"
ok "a missing zone is explained"

# 7. gsutil's bucket spellings: gs://B and gs://B/PREFIX/.
write_key "$T/key.json"
common="--credentials $T/key.json --storage-endpoint $BASE --compute-endpoint $BASE/compute/v1/ --backoff 0.01 --keep-object"
"$MKIMAGE" push gce $common --bucket "gs://$BUCKET" --name gsb --object gsb.tar.gz "$T/app.tar.gz" \
    >"$T/out7" 2>"$T/err7" || fail "--bucket gs://B: $(cat "$T/err7")"
object_matches gsb.tar.gz "$T/app.tar.gz"
"$MKIMAGE" push gce $common --bucket "gs://$BUCKET/images/ci/" --name gsp --object gsp.tar.gz "$T/app.tar.gz" \
    >"$T/out8" 2>"$T/err8" || fail "--bucket gs://B/PREFIX/: $(cat "$T/err8")"
object_matches images/ci/gsp.tar.gz "$T/app.tar.gz"
expect_fail "--bucket" "$MKIMAGE" push gce $common --bucket "gs://Bad_Bucket!" "$T/app.tar.gz"
ok "--bucket gs://B and gs://B/PREFIX/"

# 9. Default names come from the unikernel plus a short content hash, not from the file:
#    disk.tar.gz of the probe kernel is mbprobe-HASH; a hermit KERNEL push is named after
#    its application module, not after the loader.
cp "$T/app.tar.gz" "$T/disk.tar.gz"
"$MKIMAGE" push gce $common --bucket "$BUCKET" --json "$T/disk.tar.gz" >"$T/out9" 2>"$T/err9" ||
    fail "push without --name: $(cat "$T/err9")"
sha=$(sha256sum "$T/disk.tar.gz" | cut -c1-8)
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["image"] == "mbprobe-" + sys.argv[2], r' \
    "$T/out9" "$sha" || fail "default name of an archive: $(cat "$T/out9")"
cp "$MBPROBE" "$T/ldhermit.elf"
cp "$MBPROBE" "$T/hello_app"
"$MKIMAGE" push gce $common --bucket "$BUCKET" --json --template hermit --module "$T/hello_app" \
    "$T/ldhermit.elf" >"$T/out10" 2>"$T/err10" || fail "hermit push without --name: $(cat "$T/err10")"
/usr/bin/python3 -c 'import json,re,sys; r=json.load(open(sys.argv[1])); assert re.fullmatch(r"hello-app-[0-9a-f]{8}", r["image"]), r' \
    "$T/out10" || fail "default name of a hermit push: $(cat "$T/out10")"
ok "default names: the unikernel and a content hash"

# 8. Progress of a push on a terminal: the upload's bar, then "creating image..." with its
#    elapsed time, the result on a line of its own.
/usr/bin/python3 "$MK_SOURCE_DIR/tests/integration/pty_run.py" "$T/pty.out" 120 \
    "$MKIMAGE" push gce $common --bucket "$BUCKET" --name ptyimg "$T/app.tar.gz" ||
    fail "push under a pty: $(cat "$T/pty.out")"
grep -aq $'\r'"uploading \[" "$T/pty.out" || fail "no upload bar: $(od -c "$T/pty.out" | head -20)"
grep -aqE $'\r'"creating image\.\.\. [0-9]+ s" "$T/pty.out" || fail "no 'creating image...': $(od -c "$T/pty.out" | head -30)"
tr -d '\r' <"$T/pty.out" | grep -aq '^https://.*/global/images/ptyimg$' || fail "the result is not on its own line: $(od -c "$T/pty.out" | tail -10)"
ok "push progress on a terminal: upload bar, creating image with elapsed time"

no_violations
no_secrets "$T"/out* "$T"/err* "$T/server.log"
