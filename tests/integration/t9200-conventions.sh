#!/usr/bin/env bash
# t9200-conventions: what every command shows follows one convention (cli/output.h):
# --json gives one JSON object on stdout on success and on failure (snake_case keys, one
# status vocabulary, no float noise); -q silences; progress is a bar on a terminal (tested
# under a pseudo-terminal) and never a bar elsewhere; Ctrl-C exits 130; misspellings get a
# "did you mean"; gcp is gce; push CLOUD --help shows that cloud's options; build and pack
# report size and sha256; boot keeps the guest's control sequences off a terminal.
. "$(dirname "$0")/lib.sh"
need python3 qemu-system-x86_64 sha256sum
: "${MK_BUILD_DIR:?}"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
PTY="/usr/bin/python3 $MK_SOURCE_DIR/tests/integration/pty_run.py"

# json_shape FILE STATUS: FILE is exactly one JSON object with command and STATUS, keys in
# snake_case everywhere (users' labels and properties aside), reals with at most 3 decimals.
json_shape() {
    /usr/bin/python3 - "$1" "$2" <<'EOF' || fail "JSON shape of $1: $(cat "$1")"
import json, re, sys
text = open(sys.argv[1]).read()
obj = json.loads(text)              # exactly one document: json.loads refuses trailing data
assert isinstance(obj, dict), "not an object"
assert obj.get("status") == sys.argv[2], "status %r, want %r" % (obj.get("status"), sys.argv[2])
assert obj["status"] in ("ok", "failed", "usage_error", "interrupted")
assert isinstance(obj.get("command"), str) or (obj["status"] == "usage_error" and obj["command"] is None)
if obj["status"] != "ok" and "error" in obj:
    assert isinstance(obj["error"]["message"], str) and obj["error"]["message"]
def walk(v, path):
    if isinstance(v, dict):
        for k, x in v.items():
            assert re.fullmatch(r"[a-z0-9_]+", k), "key %r at %s" % (k, path)
            if k not in ("labels", "properties"):
                walk(x, path + "." + k)
    elif isinstance(v, list):
        for x in v:
            walk(x, path)
walk(obj, "")
assert not re.search(r"\d\.\d{4,}", re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)), "float noise"
EOF
}

cp "$MBPROBE" kernel.elf

# ---- --json on success and failure, every command ----
"$MKIMAGE" build --json -o disk.tar.gz kernel.elf >build.json 2>build.err || fail "build: $(cat build.err)"
json_shape build.json ok
python3 -c 'import json,sys; r=json.load(open("build.json")); assert r["sha256"] == sys.argv[1] and r["file_size"] > 0 and r["disk_size"] == 1 << 30, r' \
    "$(sha256sum disk.tar.gz | cut -d' ' -f1)" || fail "build's sha256/size: $(cat build.json)"
rc=0; "$MKIMAGE" build --json -o out.raw no-such-kernel >f.json 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "build failure exit $rc"; json_shape f.json failed
rc=0; "$MKIMAGE" build --json --outptu x kernel.elf >f.json 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "build usage exit $rc"; json_shape f.json usage_error

"$MKIMAGE" pack --json disk.tar.gz -o disk.qcow2 >pack.json 2>/dev/null || fail "pack"
json_shape pack.json ok
python3 -c 'import json,sys; r=json.load(open("pack.json")); assert r["sha256"] == sys.argv[1], r' \
    "$(sha256sum disk.qcow2 | cut -d' ' -f1)" || fail "pack's sha256"
rc=0; "$MKIMAGE" pack --json no-such.raw -o x.raw >f.json 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "pack failure exit $rc"; json_shape f.json failed

"$MKIMAGE" inspect --json disk.qcow2 >inspect.json 2>/dev/null || fail "inspect"
json_shape inspect.json ok
head -c 4096 /dev/zero >blank.raw
rc=0; "$MKIMAGE" inspect --json blank.raw >f.json 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "inspect of a blank disk: exit $rc"; json_shape f.json failed
rc=0; "$MKIMAGE" inspect --json --deeep disk.qcow2 >f.json 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "inspect usage exit $rc"; json_shape f.json usage_error

"$MKIMAGE" boot --json --accel tcg --timeout 60 disk.qcow2 >boot.json 2>boot.err || fail "boot: $(cat boot.err)"
json_shape boot.json ok
python3 -c 'import json; assert "MBPROBE" in json.load(open("boot.json"))["serial"]' ||
    fail "with --json the serial output's end is in the JSON: $(cat boot.json)"
rc=0; "$MKIMAGE" boot --json --accel tcg --timeout 60 --expect "never printed" disk.qcow2 \
    >f.json 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "boot --expect failure exit $rc"; json_shape f.json failed

cat >spec.yaml <<EOF
version: 1
image:
  kernel: kernel.elf
output:
  raw: spec.raw
EOF
"$MKIMAGE" validate --json --spec spec.yaml >validate.json 2>/dev/null || fail "validate: $(cat validate.json)"
json_shape validate.json ok
"$MKIMAGE" build --json --spec spec.yaml >specb.json 2>/dev/null || fail "build --spec: $(cat specb.json)"
json_shape specb.json ok
rc=0; "$MKIMAGE" validate --json --spec no-such.yaml >f.json 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "validate of a missing spec succeeded"; json_shape f.json "$([ "$rc" = 2 ] && echo usage_error || echo failed)"

rc=0; "$MKIMAGE" push gce --json --bukcet b disk.tar.gz >f.json 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "push usage exit $rc"; json_shape f.json usage_error
rc=0; "$MKIMAGE" frobnicate --json >f.json 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown command exit $rc"; json_shape f.json usage_error
ok "--json: one object on stdout, success and failure, for build, pack, inspect, boot, validate, push"

# ---- -q prints nothing on success ----
for cmd in "build -q -o q.raw --size 64M kernel.elf" "pack -q disk.tar.gz -o q.qcow2" \
           "inspect -q disk.qcow2" "validate -q --spec spec.yaml"; do
    $MKIMAGE $cmd >q.out 2>q.err || fail "$cmd: $(cat q.err)"
    [ ! -s q.out ] && [ ! -s q.err ] || fail "-q is not quiet: $cmd: $(cat q.out q.err)"
done
ok "-q"

# ---- did you mean, aliases, per-cloud help ----
check_hint() { # TEXT CMD...
    local text=$1 rc=0
    shift
    "$@" >/dev/null 2>hint.err || rc=$?
    [ "$rc" = 2 ] && grep -qF -- "$text" hint.err || fail "'$*': want exit 2 and '$text', got $rc: $(cat hint.err)"
}
check_hint "did you mean 'build'?" "$MKIMAGE" biuld
check_hint "did you mean 'gce'?" "$MKIMAGE" push gec disk.tar.gz
check_hint "did you mean '--bucket'?" "$MKIMAGE" push gce --bukcet b disk.tar.gz
check_hint "see 'unikernel-mkimage push gce --help'" "$MKIMAGE" push gce --bukcet b disk.tar.gz
check_hint "did you mean '--output'?" "$MKIMAGE" build --ouptut x kernel.elf
check_hint "did you mean '--timeout'?" "$MKIMAGE" boot --timout 3 disk.qcow2
check_hint "did you mean '--round-up'?" "$MKIMAGE" pack --roundup disk.qcow2 -o x.tar.gz
check_hint "did you mean '--os-cloud'?" "$MKIMAGE" push openstack --os-clod x disk.qcow2
ok "did you mean: commands, clouds, options"

"$MKIMAGE" push gce --help >gce.help || fail "push gce --help"
grep -q -- "--bucket" gce.help && grep -q -- "--guest-os-features" gce.help || fail "push gce --help: $(cat gce.help)"
! grep -q -- "--os-cloud" gce.help || fail "push gce --help shows OpenStack's options"
"$MKIMAGE" push openstack --help >os.help || fail "push openstack --help"
grep -q -- "--os-cloud" os.help && ! grep -q -- "--bucket" os.help || fail "push openstack --help: $(cat os.help)"
"$MKIMAGE" help push gce >gce.help2 && cmp -s gce.help gce.help2 || fail "help push gce differs"
"$MKIMAGE" push gcp --help >gcp.help || fail "push gcp --help"
grep -q -- "--bucket" gcp.help || fail "gcp is not gce"
check_hint "--guest-os-feature UEFI_COMPATIBLE needs an image that boots through UEFI" \
    "$MKIMAGE" push gcp --bucket bkt --guest-os-features VIRTIO_SCSI_MULTIQUEUE,UEFI_COMPATIBLE disk.tar.gz
check_hint "Confidential VMs" "$MKIMAGE" push gce --bucket bkt --guest-os-feature SEV_CAPABLE disk.tar.gz
check_hint "only X86_64" "$MKIMAGE" push gce --bucket bkt --architecture ARM64 disk.tar.gz
ok "push CLOUD --help, gcp = gce, guest OS features a BIOS image cannot honour are refused"

# ---- HermitCore: the application is a module ----
cp kernel.elf app.elf
rc=0; "$MKIMAGE" build -o h.raw --template hermit kernel.elf 2>h.err || rc=$?
[ "$rc" = 1 ] && grep -q "needs the application as a module: add --module APP" h.err ||
    fail "hermit without --module: $rc $(cat h.err)"
check_hint "(--module app.elf)" "$MKIMAGE" build -o h.raw --template hermit kernel.elf app.elf
"$MKIMAGE" build --print-config --template hermit --module app.elf kernel.elf -- -uart=io:0x2f8 >h.cfg
[ "$(grep -o -- '-uart=[^ ]*' h.cfg)" = "-uart=io:0x2f8" ] || fail "-uart= duplicated: $(cat h.cfg)"
ok "hermit: --module required and suggested, the user's -uart= not duplicated"

# ---- progress: a bar on a terminal, never on a pipe, nothing with -q ----
head -c $((48 << 20)) /dev/urandom >payload.bin
$PTY tty.out 120 "$MKIMAGE" build -o big.tar.gz --file payload.bin:/payload kernel.elf ||
    fail "build under a pty: $(cat tty.out)"
grep -aq $'\r'"compressing \[" tty.out || grep -aq $'\r'"writing \[" tty.out ||
    fail "no progress bar on a terminal: $(od -c tty.out | head -20)"
grep -aq "wrote big.tar.gz" tty.out || fail "no result line under a pty"
python3 - tty.out <<'EOF' || fail "a line glued to a bar: $(od -c tty.out | tail -20)"
import sys
data = open(sys.argv[1], "rb").read()
# every line our program starts with its name begins at the start of a line
for i in range(len(data)):
    if data.startswith(b"unikernel-mkimage:", i):
        assert i == 0 or data[i - 1:i] in (b"\n", b"\r") or data[i - 4:i] == b"\x1b[K\n", data[max(0, i - 40):i + 40]
EOF
rm -f big.tar.gz
"$MKIMAGE" build -o big.tar.gz --file payload.bin:/payload kernel.elf 2>pipe.err ||
    fail "build on a pipe: $(cat pipe.err)"
! grep -q $'\r' pipe.err || fail "a bar on a pipe: $(od -c pipe.err | head)"
rm -f big.tar.gz
$PTY tty-q.out 120 "$MKIMAGE" build -q -o big.tar.gz --file payload.bin:/payload kernel.elf ||
    fail "build -q under a pty"
[ ! -s tty-q.out ] || fail "-q printed under a pty: $(od -c tty-q.out | head)"
ok "progress: a bar on a terminal, none on a pipe or with -q"

# ---- boot: a terminal gets printable text only; --raw opts out; pipes get the bytes ----
$PTY boot-tty.out 120 "$MKIMAGE" boot --accel tcg --timeout 60 disk.qcow2 || fail "boot under a pty"
grep -aq "MBPROBE: done" boot-tty.out || fail "no serial text under a pty"
! grep -aq $'\x1b\\[[0-9;]*[HJ]' boot-tty.out || fail "control sequences reached the terminal: $(od -c boot-tty.out | grep -m3 033)"
"$MKIMAGE" boot --accel tcg --timeout 60 disk.qcow2 >boot-pipe.out 2>/dev/null || fail "boot to a pipe"
if grep -aq $'\x1b' boot-pipe.out; then
    $PTY boot-raw.out 120 "$MKIMAGE" boot --raw --accel tcg --timeout 60 disk.qcow2 || fail "boot --raw"
    grep -aq $'\x1b' boot-raw.out || fail "--raw did not pass the guest's bytes"
    ok "boot: the guest's escape sequences reach a pipe and --raw, not a terminal"
else
    ok "boot: printable text on a terminal (this GRUB sent no escape sequences)"
fi

# ---- Ctrl-C: 130, nothing left ----
head -c $((256 << 20)) /dev/urandom >noise.raw 2>/dev/null
"$MKIMAGE" pack --round-up --level 9 --jobs 1 noise.raw -o noise.tar.gz >/dev/null 2>int.err &
pid=$!
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "pack: Ctrl-C gave $rc: $(cat int.err)"
grep -q "interrupted; nothing was written" int.err || fail "pack's interruption: $(cat int.err)"
no_files_like . noise.tar.gz
"$MKIMAGE" build --level 9 --jobs 1 -o noise2.tar.gz --file noise.raw:/noise kernel.elf \
    >/dev/null 2>int.err &
pid=$!
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "build: Ctrl-C gave $rc: $(cat int.err)"
no_files_like . noise2.tar.gz
ok "Ctrl-C exits 130 (pack, build; boot in t0500, push in t4003)"
