# t4500-openstack.sh: `push openstack` against a real Keystone and Glance on 127.0.0.1
# (tests/servers/openstack-local.sh), checked with the openstack command-line client:
# uploads (raw, qcow2, build-and-stream, application credential, OS_* variables, presets,
# --replace), then faults, each with a clear one-line error and nothing left in Glance.
. "$MK_SOURCE_DIR/tests/integration/lib.sh"

PY=/usr/bin/python3
SERVERS=$MK_SOURCE_DIR/tests/servers/openstack-local.sh
"$PY" -c 'import keystone, glance, gunicorn' 2>/dev/null ||
    skip "python3-keystone, python3-glance, python3-gunicorn not installed (scripts/deps-openstack.txt)"
need openstack curl qemu-img md5sum cmp

OS=$T/os
PROXY_PID=
trap '[ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null; "$SERVERS" stop "$OS" >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
"$SERVERS" start "$OS" >/dev/null || fail "the OpenStack servers did not start (logs: $OS/log)"
# Only what the test sets: stray OS_* variables would change what the tools do.
for v in $(env | grep -o '^OS_[A-Z_]*' || true); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE=$OS/clouds.yaml

push() {
    "$MKIMAGE" push openstack "$@"
}

# json FILE EXPR: evaluates a Python expression on the JSON document in FILE (as j).
json() {
    "$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

show() { # NAME_OR_ID [CLOUD] > JSON
    openstack --os-cloud "${2:-local}" image show -f json "$1"
}

# All images in Glance, whatever their owner or status: "ID STATUS NAME" lines.
all_images() {
    openstack --os-cloud local-admin image list --long -f value -c ID -c Status -c Name
}

expect_images() { # COUNT WHY
    local n
    n=$(all_images | wc -l)
    [ "$n" -eq "$1" ] || fail "$2: expected $1 images in Glance, found $n: $(all_images | tr '\n' ';')"
}

# ---- artefacts ----
"$MKIMAGE" build -s 64M -o disk.raw "$MBPROBE" -- hello 2>/dev/null || fail "build disk.raw"
"$MKIMAGE" build -s 64M -o disk.qcow2 "$MBPROBE" -- hello 2>/dev/null || fail "build disk.qcow2"
# A raw disk (an MBR, then random data) bigger than the cut proxy's 4 MiB.
{ head -c 512 disk.raw; head -c $((12 << 20)) /dev/urandom; } >big.raw

# ---- a raw image (kept raw: by default it would go as qcow2) with a preset, properties,
# tags, min-ram ----
push --os-cloud local --name app-raw --disk-format raw --preset solo5 --property hw_disk_bus=ide \
    --property os_distro=unikernel --tag t1 --tag t2 --min-ram 64 --json disk.raw \
    >raw.json 2>raw.err || fail "raw upload: $(cat raw.err)"
id=$(json raw.json 'j["id"]')
show app-raw >raw.show
[ "$(json raw.show 'j["id"]')" = "$id" ] || fail "the printed id is not the image's"
[ "$(json raw.show 'j["status"]')" = active ] || fail "app-raw is not active"
[ "$(json raw.show 'j["checksum"]')" = "$(md5sum <disk.raw | cut -d' ' -f1)" ] ||
    fail "app-raw's checksum is not the file's md5"
[ "$(json raw.show 'j["properties"]["os_hash_value"]')" = "$(sha512sum <disk.raw | cut -d' ' -f1)" ] ||
    fail "app-raw's os_hash_value is not the file's sha512"
[ "$(json raw.show '(j["disk_format"], j["container_format"], j["visibility"], j["min_disk"], j["min_ram"], sorted(j["tags"]))')" = \
    "('raw', 'bare', 'private', 1, 64, ['t1', 't2'])" ] || fail "app-raw's attributes: $(cat raw.show)"
[ "$(json raw.show '[j["properties"].get(k) for k in ("hw_disk_bus", "hw_scsi_model", "hw_vif_model", "hw_firmware_type", "os_distro")]')" = \
    "['ide', 'virtio-scsi', 'virtio', 'bios', 'unikernel']" ] ||
    fail "app-raw's properties (an explicit --property must win over the preset): $(cat raw.show)"
openstack --os-cloud local image save --file raw.back app-raw
cmp disk.raw raw.back || fail "the image downloaded differs from disk.raw"
ok "raw upload with preset, properties and tags; checked with the openstack client"

# ---- a qcow2 image through an application credential, hermit preset ----
push --os-cloud local-appcred --name app-qcow2 --preset hermit -q disk.qcow2 ||
    fail "qcow2 upload with an application credential"
show app-qcow2 >q.show
[ "$(json q.show '(j["status"], j["disk_format"], j["checksum"], j["properties"]["hw_vif_model"], j["properties"]["hw_firmware_type"])')" = \
    "('active', 'qcow2', '$(md5sum <disk.qcow2 | cut -d' ' -f1)', 'rtl8139', 'bios')" ] ||
    fail "app-qcow2: $(cat q.show)"
ok "qcow2 upload with an application credential"

# ---- build and upload in one stream; OS_* variables instead of clouds.yaml ----
eval "$("$PY" - "$OS/clouds.yaml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
local = text.split("  local:\n", 1)[1].split("\n  local-", 1)[0]
get = lambda k: re.search(r"\b%s: \"([^\"]*)\"" % k, local).group(1)
for var, key in (("OS_AUTH_URL", "auth_url"), ("OS_USERNAME", "username"),
                 ("OS_PASSWORD", "password"), ("OS_PROJECT_NAME", "project_name"),
                 ("OS_USER_DOMAIN_NAME", "user_domain_name"),
                 ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
                 ("OS_REGION_NAME", "region_name")):
    print("%s='%s'" % (var, get(key)))
EOF
)"
DEMO_PW=$OS_PASSWORD
# Glance through a proxy that says "saving" twice after the upload, as a Glance that writes
# the image after the request would: waiting for it shows as "creating image... N s".
gport=$(sed -n 's/^bind_port *= *//p' "$OS/glance-api.conf" | head -1)
"$PY" "$MK_SOURCE_DIR/tests/servers/glance_proxy.py" --port-file saving.port \
    --target "127.0.0.1:$gport" --saving-polls 2 --log saving.log 2>saving.err &
PROXY_PID=$!
for _ in $(seq 100); do [ -s saving.port ] && break; sleep 0.1; done
[ -s saving.port ] || fail "glance_proxy.py did not start: $(cat saving.err)"
(
    export OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME \
        OS_PROJECT_DOMAIN_NAME OS_REGION_NAME
    unset OS_CLIENT_CONFIG_FILE
    OS_IMAGE_ENDPOINT_OVERRIDE=http://127.0.0.1:$(cat saving.port) MK_TEST_PROGRESS_INTERVAL=0 \
        push --name built -s 64M -v "$MBPROBE" -- hello >built.out 2>built.err
) || fail "build-and-upload with OS_* variables: $(cat built.err)"
kill "$PROXY_PID" && PROXY_PID=
[ "$(grep -c '^.* saving ' saving.log)" = 2 ] || fail "the proxy did not hold the image: $(cat saving.log)"
grep -q 'creating image\.\.\. [0-9]* s' built.err ||
    fail "no 'creating image... N s' while Glance was saving: $(cat built.err)"
show built >b.show
[ "$(json b.show 'j["status"]')" = active ] || fail "built is not active"
openstack --os-cloud local image save --file built.back built
qemu-img compare -q built.back disk.raw || fail "the built-and-streamed image differs from disk.raw"
! grep -qF -- "$DEMO_PW" built.err built.out raw.err || fail "the password shows in the output"
ok "build and stream with OS_* variables; same disk as 'build -o'"

# ---- --replace: the new image first, then the old one goes ----
old=$id
push --os-cloud local --name app-raw --replace --disk-format raw --json -q big.raw >rep.json ||
    fail "--replace"
new=$(json rep.json 'j["id"]')
[ "$new" != "$old" ] || fail "--replace kept the old id"
[ "$(json rep.json 'j["replaced"]')" = "['$old']" ] || fail "--replace result: $(cat rep.json)"
! show "$old" >/dev/null 2>&1 || fail "the replaced image $old still exists"
[ "$(show app-raw | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["checksum"])')" = \
    "$(md5sum <big.raw | cut -d' ' -f1)" ] || fail "app-raw is not the new upload"
expect_images 3 "after --replace"
ok "--replace"

# ---- faults: each a one-line error, and nothing left behind ----
cat >>"$OS/clouds.yaml" <<EOF
  bad-pw:
    auth:
      auth_url: "$OS_AUTH_URL"
      username: demo
      password: wrong-password-123
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  bad-project:
    auth:
      auth_url: "$OS_AUTH_URL"
      username: demo
      password: "$DEMO_PW"
      project_name: no-such-project
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
EOF

expect_fail "refused the credentials (user 'demo', project 'demo'): HTTP 401" \
    push --os-cloud bad-pw --name f1 -q disk.raw
! grep -q wrong-password-123 "$T/err" || fail "the wrong password shows in the error"
expect_fail "refused the credentials (user 'demo', project 'no-such-project'): HTTP 401" \
    push --os-cloud bad-project --name f2 -q disk.raw
expect_fail "cloud 'nope' is not in $OS/clouds.yaml (it has: local, local-appcred" \
    push --os-cloud nope --name f3 -q disk.raw
expect_fail "cloud 'local-noimage': the catalog has no image service" \
    push --os-cloud local-noimage --name f4 -q disk.raw
expect_fail "cloud 'local-noregion': the catalog has no public image endpoint in region NoImage" \
    push --os-cloud local-noregion --name f5 -q disk.raw
expect_images 3 "credentials and catalog faults"
ok "wrong password, unknown project, unknown cloud, no image service"

# Glance says which disk formats it takes (t4501 has the conversion to one of them).
expect_fail "cloud 'local-noqcow2': Glance accepts only raw, iso; not qcow2 (--disk-format)" \
    push --os-cloud local-noqcow2 --name f6 --disk-format qcow2 -q disk.qcow2
expect_images 3 "a refused disk format"
ok "a disk format Glance refuses"

expect_fail "cloud 'local-cut': uploading image 'f7' (" push --os-cloud local-cut --name f7 -q big.raw
grep -q "cut after" "$OS/log/cut_proxy.log" || fail "the proxy did not cut the upload"
expect_images 3 "an upload cut in the middle"
ok "a connection cut during the upload"

expect_fail "cloud 'local': an image named 'app-qcow2' already exists (" \
    push --os-cloud local --name app-qcow2 -q disk.raw
[ "$(show app-qcow2 | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["disk_format"])')" = qcow2 ] ||
    fail "the existing image was touched"
expect_images 3 "an existing name"
ok "an existing name without --replace"

rc=0
push --os-cloud local --visibility everyone disk.raw 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "not private, shared, community or public" "$T/err" ||
    fail "a bad --visibility: exit $rc, $(cat "$T/err")"
rc=0
push --os-cloud local --property name=x disk.raw 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "is an image attribute" "$T/err" || fail "--property name=x: exit $rc"
ok "bad option values"
