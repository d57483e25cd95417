# t4510-replace-rule.sh: one rule for both clouds: `push --replace` whose new image fails
# never loses the image already there. GCE (tests/servers/fake_gce.py): the new image's
# creation fails late; OpenStack (a real Keystone and Glance, openstack-local.sh): the
# upload of the new image is cut half-way. Each time the old image is still there, usable,
# and unchanged; and a replace that succeeds leaves exactly one image of that name.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import keystone, glance, gunicorn' 2>/dev/null ||
    skip "python3-keystone, python3-glance, python3-gunicorn not installed (scripts/deps-openstack.txt)"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need openstack curl

SERVERS=$MK_SOURCE_DIR/tests/servers/openstack-local.sh
OS=$T/os
trap '"$SERVERS" stop "$OS" >/dev/null 2>&1 || true;
      for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
"$SERVERS" start "$OS" >/dev/null || fail "the OpenStack servers did not start (logs: $OS/log)"
for v in $(env | grep -o '^OS_[A-Z_]*' || true); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE=$OS/clouds.yaml
start_server
write_key "$T/key.json"

"$MKIMAGE" build -q -o "$T/old.raw" --size 64M "$MBPROBE" -- old || fail "build old.raw"
# Bigger than the cut proxy's 4 MiB, and a disk (an MBR) with data after it.
"$MKIMAGE" build -q -o "$T/new.raw" --size 64M "$MBPROBE" -- new || fail "build new.raw"
head -c $((8 << 20)) /dev/urandom | dd of="$T/new.raw" bs=1M seek=40 conv=notrunc 2>/dev/null
"$MKIMAGE" build -q -o "$T/old.tar.gz" "$MBPROBE" -- old || fail "build old.tar.gz"
"$MKIMAGE" build -q -o "$T/new.tar.gz" "$MBPROBE" -- new || fail "build new.tar.gz"

os_show() { openstack --os-cloud local image show -f json "$1"; }
os_field() { os_show "$1" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
os_count() { openstack --os-cloud local-admin image list -f value -c Name | grep -cx "$1" || true; }

# GCE
"$MKIMAGE" push gce $(gce_opts) -q --name app "$T/old.tar.gz" 2>"$T/err" || fail "gce: $(cat "$T/err")"
old_gce=$(state 's["images"]["app"]["id"]')
fault '{"image_error": {"count": 1}}'
expect_fail "image 'app' is unchanged" "$MKIMAGE" push gce $(gce_opts) -q --name app --replace \
    "$T/new.tar.gz"
[ "$(state 's["images"]["app"]["id"]')" = "$old_gce" ] || fail "gce: the old image was lost"
[ "$(state 's["images"]["app"]["status"]')" = READY ] || fail "gce: the old image is not READY"

# OpenStack
"$MKIMAGE" push openstack --os-cloud local -q --name app "$T/old.raw" 2>"$T/err" ||
    fail "openstack: $(cat "$T/err")"
old_os=$(os_field app id)
old_sum=$(os_field app checksum)
expect_fail "uploading image 'app'" "$MKIMAGE" push openstack --os-cloud local-cut -q --name app \
    --replace "$T/new.raw"
[ "$(os_count app)" = 1 ] || fail "openstack: $(os_count app) images named app"
[ "$(os_field app id)" = "$old_os" ] || fail "openstack: the old image was lost"
[ "$(os_field app status)" = active ] || fail "openstack: the old image is not active"
[ "$(os_field app checksum)" = "$old_sum" ] || fail "openstack: the old image changed"
ok "a failed replace keeps the old image, on both clouds"

# And a replace that works leaves exactly one image of that name, the new one, on both.
"$MKIMAGE" push gce $(gce_opts) -q --name app --replace "$T/new.tar.gz" 2>"$T/err" ||
    fail "gce replace: $(cat "$T/err")"
[ "$(state 'sorted(s["images"])')" = "['app']" ] || fail "gce: images $(state 'sorted(s["images"])')"
[ "$(state 's["images"]["app"]["id"]')" != "$old_gce" ] || fail "gce: not replaced"
"$MKIMAGE" push openstack --os-cloud local -q --name app --replace "$T/new.raw" 2>"$T/err" ||
    fail "openstack replace: $(cat "$T/err")"
[ "$(os_count app)" = 1 ] || fail "openstack: $(os_count app) images named app after replace"
[ "$(os_field app id)" != "$old_os" ] && [ "$(os_field app checksum)" != "$old_sum" ] ||
    fail "openstack: app is not the new image"
no_violations
ok "a replace that works leaves one image, the new one, on both clouds"
