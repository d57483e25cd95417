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
fi
