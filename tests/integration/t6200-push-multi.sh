#!/usr/bin/env bash
# t6200-push-multi: `push --spec FILE [TARGET]...`: one build, each format packed once, the
# targets uploaded in parallel (external uploaders storing into folders, one failing, and the
# fake GCE); the stored artefacts are byte-identical to `build --spec -o`; one failure does not
# stop the others, is in the summary and makes the exit status 1; a subset can be named; the
# temporary files are removed.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need cmp timeout

mkdir bin s1 s2 tmp
export PATH=$T/bin:$PATH TMPDIR=$T/tmp KERNEL=$MBPROBE STORE=$T
push() { timeout 300 "$MKIMAGE" push "$@"; }

# store NAME FORMATS: a plugin that keeps the artefact in --dir, from fd 3 or, with
# --use-path, from its path.
store() {
    cat >"bin/unikernel-mkimage-uploader-$1" <<EOF
#!/bin/sh
set -eu
case "\$1" in
describe) printf '%s\n' '{"protocol": 1, "description": "folder store", "formats": $2, "usage": "  --dir PATH   the folder\n  --use-path   copy the file\n"}'; exit 0 ;;
esac
dir= name=\$UNIKERNEL_MKIMAGE_SOURCE_NAME use_path=
while IFS= read -r line && [ -n "\$line" ]; do
    case \${line%%=*} in
    dir) dir=\${line#*=} ;;
    name) name=\${line#*=} ;;
    use-path) use_path=true ;;
    *) echo '{"status": "error", "message": "unknown option"}'; exit 1 ;;
    esac
done
if [ -n "\$use_path" ]; then exec 3<&-; cp "\$UNIKERNEL_MKIMAGE_ARTEFACT_PATH" "\$dir/\$name";
else cat <&3 >"\$dir/\$name"; fi
echo "{\"status\": \"ok\", \"image\": \"\$name\", \"url\": \"file://\$dir/\$name\"}"
EOF
    chmod +x "bin/unikernel-mkimage-uploader-$1"
}
store folder '["raw"]'
store folderq '["qcow2", "raw"]'
store gcestore '["gce"]'
cat >bin/unikernel-mkimage-uploader-broken <<'EOF'
#!/bin/sh
case "$1" in
describe) echo '{"protocol": 1, "description": "always fails", "formats": ["raw"]}'; exit 0 ;;
esac
cat >/dev/null
echo '{"status": "error", "message": "the server said no"}'
exit 1
EOF
chmod +x bin/unikernel-mkimage-uploader-broken

mkdir proj
cat >proj/unikernel-mkimage.yaml <<'EOF'
version: 1
image:
  kernel: ${KERNEL}
  args: [hello, world]
  size: 16M
targets:
  one:
    type: folder
    dir: ${STORE}/s1
  two:
    type: folderq
    dir: ${STORE}/s2
    name: app.qcow2
    use-path: true
  bad:
    type: broken
EOF
"$MKIMAGE" build -q --spec proj/unikernel-mkimage.yaml -o want.raw
"$MKIMAGE" build -q --spec proj/unikernel-mkimage.yaml -o want.qcow2

# ---- all targets: two succeed, one fails ----
rc=0
push --spec proj/unikernel-mkimage.yaml >out 2>err || rc=$?
[ "$rc" = 1 ] || fail "exit status $rc with a failed target: $(cat err)"
cmp want.raw s1/mbprobe.raw || fail "target one's raw differs from build -o"
cmp want.qcow2 s2/app.qcow2 || fail "target two's qcow2 differs from build -o"
grep -q '^TARGET  *UPLOADER  *IMAGE  *STATUS  *TIME$' out || fail "no summary header: $(cat out)"
grep -q '^one  *folder  *mbprobe.raw  *ok  *[0-9.]*s$' out || fail "summary for one: $(cat out)"
grep -q '^two  *folderq  *app.qcow2  *ok ' out || fail "summary for two: $(cat out)"
grep -q '^bad  *broken  *-  *FAILED ' out || fail "summary for bad: $(cat out)"
grep -qx "unikernel-mkimage: error: target 'bad': broken: the server said no" err ||
    fail "the failure is not reported: $(cat err)"
[ -z "$(ls -A tmp)" ] || fail "temporary files left: $(ls -AR tmp)"
ok "three targets: two stored byte-identical to build -o, one failed, exit 1, summary"

# ---- a subset, by name, from the default spec, as JSON ----
rm -f s1/* s2/*
(cd proj && push two --json) >out.json 2>err || fail "push two: $(cat err)"
[ -z "$(ls -A s1)" ] || fail "target one was pushed though not named"
cmp want.qcow2 s2/app.qcow2 || fail "two's qcow2 differs"
/usr/bin/python3 - out.json "$T" <<'PY' || fail "bad --json: $(cat out.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["command"] == "push" and r["status"] == "ok", r
r = r["targets"]
assert len(r) == 1 and r[0]["target"] == "two" and r[0]["status"] == "ok", r
assert r[0]["uploader"] == "folderq" and r[0]["format"] == "qcow2", r
assert r[0]["image"] == "app.qcow2", r
assert r[0]["result"]["url"] == "file://%s/s2/app.qcow2" % sys.argv[2], r
PY
push --spec proj/unikernel-mkimage.yaml one bad --json -q >out.json 2>err && fail "bad succeeded"
/usr/bin/python3 - out.json <<'PY' || fail "bad --json: $(cat out.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["command"] == "push" and r["status"] == "failed", r
r = r["targets"]
assert [t["target"] for t in r] == ["one", "bad"], r
assert r[0]["status"] == "ok" and r[1]["status"] == "failed", r
assert r[1]["error"] == "broken: the server said no", r
PY
expect_fail "no target 'nope'" push --spec proj/unikernel-mkimage.yaml nope
ok "named targets only, the default spec, --json, an unknown target"

# ---- a format that cannot be packed fails its targets only ----
cat >proj/gce.yaml <<'EOF'
version: 1
image:
  kernel: ${KERNEL}
  size: 16M
targets:
  archive:
    type: gcestore
    dir: ${STORE}/s2
  plain:
    type: folder
    dir: ${STORE}/s1
EOF
rm -f s1/* s2/*
rc=0
push --spec proj/gce.yaml -q >out 2>err || rc=$?
[ "$rc" = 1 ] || fail "exit status $rc"
grep -q "target 'archive': cannot write the gce artefact: .*whole number of GiB" err ||
    fail "the pack failure is not reported: $(cat err)"
"$MKIMAGE" build -q --spec proj/gce.yaml -o want16.raw
cmp want16.raw s1/mbprobe.raw || fail "the raw target suffered from the gce failure"
ok "a format that fails to pack fails its targets only"

# ---- with the fake GCE, when it can be started ----
if command -v openssl >/dev/null && [ -x /usr/bin/python3 ]; then
    source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
    start_server
    write_key "$T/key.json"
    cat >proj/multi.yaml <<EOF
version: 1
image:
  kernel: \${KERNEL}
  size: 16M
pack:
  round-up: true
targets:
  cloud:
    type: gce
    project: $PROJECT
    bucket: $BUCKET
    name: app-multi
    credentials: $T/key.json
    storage-endpoint: $BASE
    compute-endpoint: $BASE/compute/v1/
    backoff: 0.01
    chunk-size: 256K
    keep-object: true
  local:
    type: gcestore
    dir: \${STORE}/s2
    name: app.tar.gz
  plain:
    type: folder
    dir: \${STORE}/s1
EOF
    rm -f s1/* s2/*
    push --spec proj/multi.yaml >out 2>err || fail "push to gce and folders: $(cat err)"
    "$MKIMAGE" build -q --spec proj/multi.yaml -o want.tar.gz --round-up
    object_matches "$(object_of app-multi)" want.tar.gz
    cmp want.tar.gz s2/app.tar.gz || fail "the local gce archive differs"
    cmp want16.raw s1/mbprobe.raw || fail "the raw differs"
    [ "$(state 's["images"]["app-multi"]["status"]')" = READY ] || fail "image not READY"
    grep -q '^cloud  *gce  *app-multi  *ok ' out || fail "summary for cloud: $(cat out)"
    [ -z "$(ls -A tmp)" ] || fail "temporary files left: $(ls -AR tmp)"
    ok "gce and two folders from one build, the archive packed once"

    # A gce target without a name gets the name `push gce FILE` gives the same archive (the
    # unikernel and its content's hash): that push then finds the image already there.
    sed -e '/name: app-multi/d' -e '/keep-object/d' -e '/^  local:/,$d' proj/multi.yaml \
        >proj/noname.yaml
    push --spec proj/noname.yaml --json >out 2>err || fail "push without a name: $(cat err)"
    name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["targets"][0]["result"]["image"])' out) ||
        fail "no image in: $(cat out)"
    case "$name" in mbprobe-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
        *) fail "default name '$name' is not the unikernel and a hash" ;; esac
    [ "$(state "s['images']['$name']['status']")" = READY ] || fail "image $name not READY"
    expect_fail "image '$name' already exists" "$MKIMAGE" push gce $(gce_opts) want.tar.gz
    ok "a target without a name is named as push gce FILE names it ($name)"
fi

# ---- a Solo5 unikernel: the manifest shown once, each target's machine checked first ----
# Like `push CLOUD KERNEL`: GCE's virtio-net NIC makes a unikernel that declares no network
# device abort, and so does an OpenStack disk bus of virtio for one with no block device.
# The OpenStack target's auth_url is a closed port on 127.0.0.1: its warning must come
# before its request fails.
if command -v objcopy >/dev/null && command -v openssl >/dev/null && [ -x /usr/bin/python3 ]; then
    python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" none.note
    objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=none.note "$MBPROBE" solo5.elf
    python3 "$MK_SOURCE_DIR/tests/integration/solo5_note.py" net.note net:service
    objcopy -O elf64-x86-64 --add-section .note.solo5.manifest=net.note "$MBPROBE" solo5net.elf
    closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >clouds.yaml <<EOF
clouds:
  nowhere:
    auth:
      auth_url: http://127.0.0.1:$closed_port/v3
      username: u
      password: p
      project_name: p
      user_domain_name: Default
      project_domain_name: Default
EOF
    export SOLO5NET_KERNEL=$T/solo5net.elf
    cat >proj/solo5.yaml <<EOF
version: 1
image:
  kernel: \${SOLO5NET_KERNEL}
  template: solo5
  size: 16M
targets:
  plain:
    type: folder
    dir: \${STORE}/s1
  lab:
    type: openstack
    cloud: nowhere
    preset: solo5
    properties:
      hw_disk_bus: virtio
  labscsi:
    type: openstack
    cloud: nowhere
    preset: solo5
EOF
    rm -f s1/*
    OS_CLIENT_CONFIG_FILE=$T/clouds.yaml push --spec proj/solo5.yaml >out 2>err &&
        fail "the openstack targets succeeded: $(cat err)"
    [ "$(grep -c "Solo5 manifest: NET_BASIC 'service'" err)" = 1 ] || fail "manifest not shown once: $(cat err)"
    want="warning: target 'lab': pushing to openstack (hw_disk_bus virtio): the boot disk is virtio-blk and the unikernel declares no block device: Solo5 aborts at start (boot from ide or virtio-scsi)"
    line_of() { grep -nF -- "$1" err | head -1 | cut -d: -f1; }
    warned=$(line_of "$want")
    [ -n "$warned" ] || fail "no warning for the virtio disk bus: $(cat err)"
    failed=$(grep -n "lab" err | grep -v "warning" | head -1 | cut -d: -f1)
    [ -n "$failed" ] && [ "$warned" -lt "$failed" ] || fail "the warning is not first: $(cat err)"
    ! grep -qF "target 'labscsi': pushing" err || fail "a warning for the solo5 preset: $(cat err)"
    ! grep -qF "target 'plain'" err || fail "a warning for a folder: $(cat err)"
    [ -f s1/solo5net.raw ] || fail "the folder target was not pushed: $(cat err)"
    ok "push with a spec shows a Solo5 manifest and warns about an OpenStack disk bus of virtio"

    export SOLO5_KERNEL=$T/solo5.elf
    cat >proj/solo5gce.yaml <<EOF
version: 1
image:
  kernel: \${SOLO5_KERNEL}
  template: solo5
  size: 16M
pack:
  round-up: true
targets:
  cloud:
    type: gce
    project: $PROJECT
    bucket: $BUCKET
    name: app-solo5
    credentials: $T/key.json
    storage-endpoint: $BASE
    compute-endpoint: $BASE/compute/v1/
    backoff: 0.01
  plain:
    type: folder
    dir: \${STORE}/s1
EOF
    push --spec proj/solo5gce.yaml >out 2>err || fail "push to gce: $(cat err)"
    grep -qF "warning: target 'cloud': pushing to gce: the machine has 1 virtio-net NIC and the unikernel declares no network device: Solo5 aborts at start" err ||
        fail "no GCE warning: $(cat err)"
    [ "$(grep -c "warning: target" err)" = 1 ] || fail "other targets warned: $(cat err)"
    OS_CLIENT_CONFIG_FILE=$T/clouds.yaml push --spec proj/solo5.yaml plain lab --json -q \
        >out 2>err && fail "the openstack target succeeded"
    ! grep -qF "Solo5 manifest:" err || fail "--json still shows the manifest: $(cat err)"
    grep -qF "$want" err || fail "--json hides the warning: $(cat err)"
    ok "push with a spec warns that GCE's NIC makes a unikernel without one abort"
fi
