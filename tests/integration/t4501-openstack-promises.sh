# t4501-openstack-promises.sh: `push openstack` keeps its promises against a real Keystone
# and Glance on 127.0.0.1 (tests/servers/openstack-local.sh), one server session for all:
# tokens revoked or about to expire during an upload, or revoked as each Glance request
# arrives (the data's PUT sent again), Ctrl-C mid-upload, kill -9 mid-upload then the same
# command again, a clean-up that failed because Glance was down, formats told by their bytes,
# Glance's allowed disk formats, a sparse raw disk sent as qcow2, openstackclient's option
# spellings, OS_* variables over a named cloud, no project, an auth_url that is not Keystone.
. "$MK_SOURCE_DIR/tests/integration/lib.sh"

PY=/usr/bin/python3
SERVERS=$MK_SOURCE_DIR/tests/servers/openstack-local.sh
"$PY" -c 'import keystone, glance, gunicorn' 2>/dev/null ||
    skip "python3-keystone, python3-glance, python3-gunicorn not installed (scripts/deps-openstack.txt)"
need openstack qemu-img md5sum timeout

if [ -n "${MK_OPENSTACK_DIR:-}" ]; then
    # Developers: servers already started there (openstack-local.sh start DIR), emptied first.
    OS=$MK_OPENSTACK_DIR
    trap '[ -z "${GP_PID:-}" ] || kill "$GP_PID"; rm -f "$OS/hold/hold" "$OS/hold/down"; rm -rf "$T"' EXIT
    OS_CLIENT_CONFIG_FILE=$OS/clouds.yaml openstack --os-cloud local-admin image list -f value -c ID |
        xargs -r env OS_CLIENT_CONFIG_FILE="$OS/clouds.yaml" openstack --os-cloud local-admin image delete
    : >"$OS/log/hold_proxy.log"
    : >"$OS/log/ks_proxy.log"
else
    OS=$T/os
    trap '[ -z "${GP_PID:-}" ] || kill "$GP_PID"; rm -f "$OS/hold/hold"; "$SERVERS" stop "$OS" >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
    "$SERVERS" start "$OS" >/dev/null || fail "the OpenStack servers did not start (logs: $OS/log)"
fi
for v in $(env | grep -o '^OS_[A-Z_]*' || true); do unset "$v"; done
unset REQUESTS_CA_BUNDLE XDG_CONFIG_HOME
export OS_CLIENT_CONFIG_FILE=$OS/clouds.yaml XDG_STATE_HOME=$T/state
# shellcheck disable=SC1091
. "$OS/ports"
DEMO_PW=$("$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.strip().startswith("password:"):
        print(json.loads(line.split(":", 1)[1])); break' "$OS/clouds.yaml")

push() { "$MKIMAGE" push openstack "$@"; }
json() { "$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
show() { openstack --os-cloud "${2:-local}" image show -f json "$1"; }
# "STATUS" lines of the images named NAME, whatever their owner.
images_named() {
    openstack --os-cloud local-admin image list --long -f value -c Status -c Name |
        awk -v n="$1" '$1 == n {print $2}' | sort | tr '\n' ' '
}
held() { # N: until the hold proxy has held N connections
    local i
    for ((i = 0; i < 300; i++)); do
        [ "$(grep -c holding "$OS/log/hold_proxy.log" 2>/dev/null || true)" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "the upload never reached the hold proxy"
}
holds=0

# ---- artefacts ----
"$MKIMAGE" build -s 64M -o disk.raw "$MBPROBE" -- hello 2>/dev/null || fail "build disk.raw"
"$MKIMAGE" build -s 64M -o disk.qcow2 "$MBPROBE" -- hello 2>/dev/null || fail "build disk.qcow2"
# 48 MiB of data behind a real MBR: more than the hold proxy lets through before it holds,
# and more than the sockets between can buffer, so that a killed push cannot have sent it all.
{ head -c 512 disk.raw; head -c $((48 << 20)) /dev/urandom; } >big.raw

# ---- a token revoked during the upload: the wait, check and clean-up authenticate again ----
touch "$OS/hold/hold"
push --os-cloud local-hold --name revoked -q big.raw >rv.out 2>rv.err &
pid=$!
held $((holds += 1))
# Setting a password (even the same one) revokes every token the user holds.
openstack --os-cloud local-admin user set --password "$DEMO_PW" demo
sleep 1.2 # Keystone's revocation events have one-second precision
rm "$OS/hold/hold"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "an upload whose token was revoked midway: exit $rc: $(cat rv.err)"
[ "$(images_named revoked)" = "active " ] || fail "after a revoked token: $(images_named revoked)"
ok "a token revoked during the upload: authenticated again, image active"

# ---- a token revoked just as each Glance request arrives: authenticated again, retried ----
# glance_proxy.py revokes, at Keystone, the token of the first request that matches, then
# forwards it: Glance answers with its own 401, and that token stays dead. A refused upload
# is sent again from its first byte, to the same image (Glance keeps it queued).
revoked_at() { # 'METHOD PATH_REGEX' NAME PUSH_ARGS...
    local what=$1 name=$2 i rc=0
    shift 2
    rm -f gp.port
    "$PY" "$MK_SOURCE_DIR/tests/servers/glance_proxy.py" --port-file gp.port \
        --target "127.0.0.1:$GPORT" --revoke "$what" --keystone "127.0.0.1:$KPORT" \
        --log "$name.proxy" 2>gp.err &
    GP_PID=$!
    for ((i = 0; i < 100; i++)); do [ -s gp.port ] && break; sleep 0.1; done
    [ -s gp.port ] || fail "glance_proxy.py did not start: $(cat gp.err)"
    OS_IMAGE_ENDPOINT_OVERRIDE=http://127.0.0.1:$(cat gp.port) \
        push --os-cloud local --name "$name" -v "$@" >"$name.out" 2>"$name.err" || rc=$?
    kill "$GP_PID" && wait "$GP_PID" 2>/dev/null || true
    GP_PID=
    grep -q "revoked the token of ${what%% *} .*(HTTP 204)" "$name.proxy" ||
        fail "'$what': no token revoked: $(cat "$name.proxy")"
    [ "$rc" -eq 0 ] || fail "a token revoked at '$what': exit $rc: $(cat "$name.err")"
    [ "$(images_named "$name")" = "active " ] || fail "'$what': $(images_named "$name")"
}
# The data's PUT: refused at once (the rest of the body unsent), or after all of it.
revoked_at 'PUT /v2/images/[^/]+/file' rput --disk-format raw big.raw
revoked_at 'PUT /v2/images/[^/]+/file' rputsmall disk.qcow2
for n in rput rputsmall; do
    grep -q "Glance refused the token of the upload of image .*; authenticating again and sending the data again" "$n.err" ||
        fail "$n: the data was not sent again: $(cat "$n.err")"
    [ "$(grep -c "created image" "$n.err")" = 1 ] || fail "$n: not the same image: $(cat "$n.err")"
done
[ "$(show rput | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["checksum"])')" = \
    "$(md5sum <big.raw | cut -d' ' -f1)" ] || fail "rput does not hold big.raw"
# The same file again: the image holding it is checked (the file read and hashed, not sent).
push --os-cloud local --name rput --disk-format raw --json -q big.raw >rput2.json || fail "rput again"
[ "$(json rput2.json '(j["resumed"], j["image_status"], j["size"])')" = "(True, 'active', $(stat -c %s big.raw))" ] ||
    fail "rput again: $(cat rput2.json)"
# Every other phase: Glance's formats, the listing, the record, the wait, the replacement.
revoked_at 'GET /v2/schemas/image' rschema disk.qcow2
revoked_at 'GET /v2/images' rlist disk.qcow2
revoked_at 'POST /v2/images' rcreate disk.qcow2
revoked_at 'GET /v2/images/[^/]+' rwait disk.qcow2
revoked_at 'DELETE /v2/images/[^/]+' rcreate --replace disk.raw
ok "a token revoked as each Glance request arrives (upload, formats, list, create, wait, replace)"

# ---- a token about to expire: renewed before it does ----
touch "$OS/hold/hold"
push --os-cloud local-shortlife --name shortlife -q big.raw 2>sl.err &
pid=$!
held $((holds += 1))
sleep 6 # ks_proxy says tokens live 125 s; with 120 s of margin this one is now too old
rm "$OS/hold/hold"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "shortlife: exit $rc: $(cat sl.err)"
[ "$(grep -c 'token issued' "$OS/log/ks_proxy.log")" -ge 2 ] ||
    fail "the token was not renewed before it expired: $(cat "$OS/log/ks_proxy.log")"
ok "a token about to expire is renewed"

# ---- Ctrl-C mid-upload: exit 130 at once, and the image is deleted ----
touch "$OS/hold/hold"
"$MKIMAGE" push openstack --os-cloud local-hold --name ctrlc --disk-format raw -q big.raw 2>cc.err &
pid=$!
held $((holds += 1))
interrupt "$pid" push
rm "$OS/hold/hold"
[ "$rc" -eq 130 ] || fail "Ctrl-C mid-upload: exit $rc: $(cat cc.err)"
[ "$(images_named ctrlc)" = "" ] || fail "Ctrl-C mid-upload left: $(images_named ctrlc)"
ok "Ctrl-C mid-upload: exit 130, nothing left"

# ---- kill -9 mid-upload, then the same command again ----
touch "$OS/hold/hold"
"$MKIMAGE" push openstack --os-cloud local-hold --name killed -q big.raw 2>/dev/null &
pid=$! # the command itself, not a subshell running it: kill -9 must reach it
held $((holds += 1))
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
rm "$OS/hold/hold"
for ((i = 0; i < 10; i++)); do # Glance sees the connection end a moment later
    [ "$(images_named killed)" = "queued " ] && break
    sleep 0.5
done
[ "$(images_named killed)" = "queued " ] || fail "kill -9 left: $(images_named killed)"
push --os-cloud local-hold --name killed -v big.raw >k.out 2>k.err ||
    fail "the same command after kill -9: $(cat k.err)"
grep -q "left by an interrupted push" k.err || fail "the leftover was not named: $(cat k.err)"
[ "$(images_named killed)" = "active " ] || fail "after the re-run: $(images_named killed)"
# Once more: the active image already holds these bytes; it is checked, not sent again.
push --os-cloud local-hold --name killed --json -q big.raw >k2.json || fail "the third run"
[ "$(json k2.json '(j["resumed"], j["image_status"])')" = "(True, 'active')" ] || fail "third run: $(cat k2.json)"
[ "$(images_named killed)" = "active " ] || fail "after the third run: $(images_named killed)"
"$MKIMAGE" help push | grep -q "Glance cannot continue an upload: the re-run deletes" ||
    fail "help push does not say what resuming means for OpenStack"
ok "kill -9 mid-upload: the re-run removes its leftover and uploads; a third run checks it"

# ---- Glance down during the upload and its clean-up; the next run cleans up ----
touch "$OS/hold/hold"
push --os-cloud local-hold --name down -q big.raw >/dev/null 2>dn.err &
pid=$!
held $((holds += 1))
touch "$OS/hold/down"
rc=0
wait "$pid" || rc=$?
rm -f "$OS/hold/hold" "$OS/hold/down"
[ "$rc" -eq 1 ] || fail "an upload to a Glance gone down: exit $rc"
grep -q "the next run" dn.err || fail "the failed clean-up does not say what happens next: $(cat dn.err)"
case "$(images_named down)" in
"queued " | "saving ") ;; # Glance may not have seen the connection end yet
*) fail "Glance down: expected the image left behind, got '$(images_named down)'" ;;
esac
# Any later push to the same cloud (here: another name, another file) removes it first.
push --os-cloud local-hold --name other --disk-format raw -v disk.raw >o.out 2>o.err ||
    fail "the run after Glance came back: $(cat o.err)"
[ "$(images_named down)" = "" ] || fail "the leftover of the failed clean-up is still there: $(images_named down)"
ok "a clean-up that failed while Glance was down is done by the next run"

# ---- formats come from the bytes, never from the name ----
: >empty.raw
expect_fail "empty.raw is empty" push --os-cloud local --name e -q empty.raw
head -c $((1 << 20)) /dev/urandom >random.raw
expect_fail "random.raw is not a disk image: no MBR or GPT partition table" \
    push --os-cloud local --name r -q random.raw
qemu-img create -q -f vmdk v.vmdk 64M
cp v.vmdk v.raw
expect_fail "v.raw is a VMDK image" push --os-cloud local --name v -q v.raw
qemu-img create -q -f vpc v.vhd 64M
expect_fail "v.vhd is a VHD image" push --os-cloud local --name v -q v.vhd
qemu-img create -q -f vhdx v.vhdx 64M
expect_fail "v.vhdx is a VHDX image" push --os-cloud local --name v -q v.vhdx
qemu-img create -q -f qcow2 -b "$T/disk.qcow2" -F qcow2 child.qcow2
expect_fail "child.qcow2 is a qcow2 image with a backing file" push --os-cloud local --name c -q child.qcow2
cp disk.qcow2 named-raw.raw
push --os-cloud local --name namedraw --json -q named-raw.raw >nr.json || fail "a qcow2 named .raw"
[ "$(json nr.json 'j["disk_format"]')" = qcow2 ] || fail "a qcow2 named .raw: $(cat nr.json)"
[ "$(images_named e)$(images_named r)$(images_named v)$(images_named c)" = "" ] ||
    fail "a refused file reached Glance"
ok "empty, random, VMDK, VHD, VHDX, backed qcow2 refused in one line; a qcow2 named .raw is qcow2"

# ---- the disk formats Glance allows (/v2/schemas/image) ----
push --os-cloud local-noqcow2 --name noq --json -q disk.qcow2 >noq.json 2>noq.err ||
    fail "qcow2 to a Glance without qcow2: $(cat noq.err)"
[ "$(json noq.json 'j["disk_format"]')" = raw ] || fail "not converted to raw: $(cat noq.json)"
openstack --os-cloud local-noqcow2 image save --file noq.back noq
cmp noq.back disk.raw || fail "the qcow2 converted to raw differs from disk.raw"
expect_fail "accepts only raw, iso; not qcow2 (--disk-format)" \
    push --os-cloud local-noqcow2 --name noq2 --disk-format qcow2 -q disk.raw
ok "a Glance that takes no qcow2 gets raw, converted on the fly"

# ---- a sparse raw disk goes as qcow2; --disk-format raw keeps it raw ----
push --os-cloud local --name sparse --json -v disk.raw >sp.json 2>sp.err || fail "sparse raw: $(cat sp.err)"
[ "$(json sp.json 'j["disk_format"]')" = qcow2 ] || fail "a sparse raw disk was not sent as qcow2: $(cat sp.json)"
[ "$(json sp.json 'j["size"]')" -lt $((8 << 20)) ] || fail "the qcow2 sent is not small: $(cat sp.json)"
openstack --os-cloud local image save --file sp.back sparse
qemu-img compare -q sp.back disk.raw || fail "the qcow2 sent differs from disk.raw"
push --os-cloud local --name keepraw --disk-format raw --json -q disk.raw >kr.json || fail "--disk-format raw"
[ "$(json kr.json '(j["disk_format"], j["size"])')" = "('raw', $((64 << 20)))" ] || fail "--disk-format raw: $(cat kr.json)"
ok "sparse raw sent as qcow2 ($(json sp.json 'j["size"]') bytes for 64 MiB); --disk-format raw"

# ---- openstackclient's spellings ----
push --os-cloud local --name spell --shared --min-disk 3 --protected --json -q disk.qcow2 >spell.json ||
    fail "--shared --min-disk --protected"
show spell >spell.show
[ "$(json spell.show '(j["visibility"], j["min_disk"], j["protected"])')" = "('shared', 3, True)" ] ||
    fail "openstackclient spellings: $(cat spell.show)"
openstack --os-cloud local image set --unprotected spell
push --os-cloud local --name spell2 --community --private -q disk.qcow2 || fail "--community --private"
[ "$(show spell2 | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["visibility"])')" = private ] ||
    fail "--private after --community: the last one wins"
expect_fail "not authorized to complete publicize_image" push --os-cloud local --name pub --public -q disk.qcow2
push --os-cloud local --os-region-name NoQcow2 --name regioned --json -q disk.qcow2 >reg.json ||
    fail "--os-region-name"
[ "$(json reg.json '(j["region"], j["disk_format"])')" = "('NoQcow2', 'raw')" ] || fail "--os-region-name: $(cat reg.json)"
expect_fail "--min-disk 0 is smaller than the disk (1 GB)" push --os-cloud local --min-disk 0 -q disk.qcow2
ok "--public/--private/--shared/--community, --min-disk, --protected, --os-region-name"

# ---- OS_* variables win over a named cloud's values ----
expect_fail "the catalog has no public image endpoint in region NoImage" \
    env OS_REGION_NAME=NoImage "$MKIMAGE" push openstack --os-cloud local --name envreg -q disk.qcow2
expect_fail "the catalog has no internal image endpoint in region NoQcow2" \
    env OS_REGION_NAME=NoQcow2 OS_INTERFACE=internal "$MKIMAGE" push openstack --os-cloud local -q disk.qcow2
expect_fail "refused the credentials (user 'demo', project 'demo')" \
    env OS_PASSWORD=not-the-password "$MKIMAGE" push openstack --os-cloud local -q disk.qcow2
ok "OS_REGION_NAME, OS_INTERFACE, OS_PASSWORD override clouds.yaml"

# ---- no project: Keystone's default project for the user ----
cat >>"$OS/clouds.yaml" <<EOF
  noproject:
    auth:
      auth_url: "http://127.0.0.1:$KPORT/v3"
      username: demo
      password: "$DEMO_PW"
      user_domain_name: Default
    region_name: RegionOne
  notkeystone:
    auth:
      auth_url: "http://127.0.0.1:$GPORT/v3"
      username: demo
      password: "$DEMO_PW"
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
EOF
push --os-cloud noproject --name noproj -q disk.qcow2 || fail "a cloud with no project"
[ "$(show noproj | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["status"])')" = active ] ||
    fail "noproj is not in project demo"
expect_fail "is not a Keystone v3 endpoint (HTTP 300" push --os-cloud notkeystone --name nk -q disk.qcow2
! grep -q versions "$T/err" || fail "the server's JSON shows in the error: $(cat "$T/err")"
ok "no project: Keystone's default project; an auth_url that is not Keystone"
