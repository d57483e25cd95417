# t4020-gce-replace.sh: `push gce --replace` never loses the good image. The new image is
# made under a temporary name first and the old one is deleted only once the new one is
# READY; when any step fails, the old image (or the new one) is still there and the error
# says exactly which images exist.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server
write_key "$T/key.json"
make_archive "$T/app.tar.gz"
"$MKIMAGE" build -o "$T/app2.tar.gz" "$MBPROBE" -- second >/dev/null 2>&1 || fail "build app2"
size1=$(stat -c %s "$T/app.tar.gz")
size2=$(stat -c %s "$T/app2.tar.gz")
[ "$size1" != "$size2" ] || fail "the two archives must differ in size for this test"

"$MKIMAGE" push gce $(gce_opts) --name app --family fam -q "$T/app.tar.gz" 2>"$T/err" ||
    fail "first push: $(cat "$T/err")"
old_id=$(state 's["images"]["app"]["id"]')

# 0. --replace with the very archive the image was made from: nothing to replace, exit 0,
#    the image untouched and no staged object left.
"$MKIMAGE" push gce $(gce_opts) --name app --family fam --replace -q "$T/app.tar.gz" 2>"$T/err" ||
    fail "--replace with the same bytes: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['app']" ] || fail "images after a same-bytes replace: $(state 'sorted(s["images"])')"
[ "$(state 's["images"]["app"]["id"]')" = "$old_id" ] || fail "a same-bytes replace touched the image"
[ "$(state 's["objects"]')" = "{}" ] || fail "staged object left: $(state 's["objects"]')"
ok "--replace with the same bytes keeps the image"

# 1. The insert of the new image is refused at once (a quota 403): the old image stays, the
#    staged object goes, and the message says the old image is unchanged.
fault '{"image_insert_status": {"status": 403, "reason": "quotaExceeded"}}'
expect_fail "Quota 'IMAGES' exceeded" "$MKIMAGE" push gce $(gce_opts) -q --name app --replace \
    "$T/app2.tar.gz"
grep -q "image 'app' is unchanged" "$T/err" || fail "the error does not say what exists: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['app']" ] || fail "images after a refused insert: $(state 'sorted(s["images"])')"
[ "$(state 's["images"]["app"]["id"]')" = "$old_id" ] || fail "the old image was touched"
[ "$(state 's["objects"]')" = "{}" ] || fail "staged object left: $(state 's["objects"]')"
ok "a refused insert keeps the old image"

# 2. The new image fails while it is created (GCE refuses the archive late): the same.
fault '{"image_error": {"count": 1}}'
expect_fail "INVALID_IMAGE_TAR" "$MKIMAGE" push gce $(gce_opts) -q --name app --replace \
    "$T/app2.tar.gz"
grep -q "image 'app' is unchanged" "$T/err" || fail "the error does not say what exists: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['app']" ] || fail "images after a failed creation"
[ "$(state 's["images"]["app"]["id"]')" = "$old_id" ] || fail "the old image was touched"
ok "a failed creation keeps the old image"

# 3. The final name cannot be made from the new image (the 2nd insert is refused): the old
#    image is gone by then, so the new one must be kept under its temporary name, and named.
fault '{"image_insert_status": {"status": 403, "reason": "quotaExceeded", "skip": 1}}'
expect_fail "Quota 'IMAGES' exceeded" "$MKIMAGE" push gce $(gce_opts) -q --name app --replace \
    "$T/app2.tar.gz"
left=$(state '" ".join(sorted(s["images"]))')
case "$left" in
app-new-*) ;;
*) fail "expected only the new image under its temporary name, found: $left" ;;
esac
grep -qF "$left" "$T/err" || fail "the error does not name the image that exists ($left): $(cat "$T/err")"
[ "$(state "s['images']['$left']['status']")" = READY ] || fail "the kept new image is not READY"
[ "$(state "s['images']['$left']['archiveSizeBytes']")" = "$size2" ] || fail "the kept image is not the new one"
ok "a failed final step keeps the new image under the name it reports"

# 4. Replacing over that state works, and so does a plain replace: one image, the new one,
#    with the family, made from the new archive; no temporary image, no object left.
"$MKIMAGE" push gce $(gce_opts) --name app --family fam --replace "$T/app2.tar.gz" \
    >"$T/out" 2>"$T/err" || fail "replace failed: $(cat "$T/err")"
[ "$(state '"app" in s["images"]')" = True ] || fail "no image app"
[ "$(state 's["images"]["app"]["status"]')" = READY ] || fail "app not READY"
[ "$(state 's["images"]["app"]["archiveSizeBytes"]')" = "$size2" ] || fail "app is not the new archive"
[ "$(state 's["images"]["app"]["family"]')" = fam ] || fail "family lost"
"$MKIMAGE" push gce $(gce_opts) --name app --family fam --replace "$T/app.tar.gz" \
    >"$T/out" 2>"$T/err" || fail "second replace failed: $(cat "$T/err")"
[ "$(state 'sorted(k for k in s["images"] if not k.startswith("app-new-"))')" = "['app']" ] ||
    fail "images: $(state 'sorted(s["images"])')"
[ "$(state 's["images"]["app"]["archiveSizeBytes"]')" = "$size1" ] || fail "app is not the newest archive"
[ "$(state 'len([k for k in s["images"] if k.startswith("app-new-") and k != "'"$left"'"])')" = 0 ] ||
    fail "a temporary image was left: $(state 'sorted(s["images"])')"
[ "$(state 's["objects"]')" = "{}" ] || fail "staged object left: $(state 's["objects"]')"
no_violations
no_secrets "$T/out" "$T/err" "$XDG_STATE_HOME"
ok "replace makes the new image READY before the old one goes"
