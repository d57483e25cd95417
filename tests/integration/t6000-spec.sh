#!/usr/bin/env bash
# t6000-spec: image specs: the example specs build every format they list (checked with e2fsck,
# debugfs, gzip, tar and qemu-img), validate's checks and exit statuses, errors naming file,
# line and column, ${VAR} expansion, the default spec, and the command line overriding the spec.
. "$(dirname "$0")/lib.sh"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
need e2fsck debugfs gzip tar qemu-img

part() { echo "$1?offset=1048576"; }
cat_in_image() { debugfs -R "cat $2" "$(part "$1")" 2>/dev/null; }

# ---- the example specs, built from elsewhere: their paths are relative to their folder ----
mkdir specs elsewhere
cp "$MK_SOURCE_DIR/templates/solo5-gce.yaml" "$MK_SOURCE_DIR/templates/hermit-openstack.yaml" specs/
cd elsewhere
KERNEL=$MBPROBE IPV4=10.1.2.3/24 "$MKIMAGE" build -q --spec ../specs/solo5-gce.yaml
cd ..
[ ! -e elsewhere/disk.raw ] || fail "outputs went to the current folder, not the spec's"
[ "$(stat -c %s specs/disk.raw)" -eq $((1 << 30)) ] || fail "solo5 raw size"
e2fsck -fn "$(part specs/disk.raw)" >e2fsck.log 2>&1 || fail "e2fsck: $(cat e2fsck.log)"
cat_in_image specs/disk.raw /boot/grub/grub.cfg >grub.cfg
want="multiboot /boot/mbprobe.elf mbprobe.elf --ipv4=10.1.2.3/24 --ipv4-gateway=10.0.0.1"
grep -qF "$want -l '*:info'" grub.cfg ||
    fail "solo5 grub.cfg: $(cat grub.cfg)"
gzip -t specs/disk.tar.gz || fail "gzip -t"
members=$(tar -tzf specs/disk.tar.gz)
[ "$members" = "disk.raw" ] || fail "disk.tar.gz holds $members"
mkdir unpacked && tar -xSzf specs/disk.tar.gz -C unpacked
cmp unpacked/disk.raw specs/disk.raw || fail "disk.tar.gz's disk.raw differs from disk.raw"
ok "solo5-gce.yaml builds raw and gce from another folder, with \${VAR} and defaults"

head -c 5000 /dev/urandom >app.bin
# A module from a variable is outside the folder like any other path (only the kernel, which
# must be a multiboot kernel, is taken from the environment on trust): the flag says yes.
(cd specs && LOADER=$MBPROBE APP=$T/app.bin APP_ARGS="-freq 3" \
    "$MKIMAGE" build -q --spec hermit-openstack.yaml --allow-outside-spec)
e2fsck -fn "$(part specs/disk.raw)" >e2fsck.log 2>&1 || fail "e2fsck: $(cat e2fsck.log)"
qemu-img check -q specs/disk.qcow2 || fail "qemu-img check"
qemu-img compare -q specs/disk.qcow2 specs/disk.raw || fail "qcow2 and raw differ"
cat_in_image specs/disk.raw /boot/grub/grub.cfg >grub.cfg
grep -qF "multiboot /boot/mbprobe.elf -uart=io:0x3f8" grub.cfg ||
    fail "hermit grub.cfg: $(cat grub.cfg)"
grep -qF "module /boot/app.bin -freq 3" grub.cfg || fail "hermit module: $(cat grub.cfg)"
cat_in_image specs/disk.raw /etc/unikernel-mkimage/hermit-openstack.yaml >copy.yaml
cmp copy.yaml specs/hermit-openstack.yaml || fail "extra file content"
ok "hermit-openstack.yaml builds qcow2 and raw with a module and an extra file"

KERNEL=$MBPROBE "$MKIMAGE" validate --spec specs/solo5-gce.yaml >out || fail "validate solo5"
grep -q "targets  prod (gce)" out || fail "validate summary: $(cat out)"
LOADER=$MBPROBE APP=$T/app.bin "$MKIMAGE" validate -q specs/hermit-openstack.yaml >out ||
    fail "validate hermit"
[ ! -s out ] || fail "validate -q printed: $(cat out)"
ok "validate accepts the example specs"

# ---- errors: exit 1 and one line naming file, line, column and key ----
# bad_spec "EXPECTED" < SPEC: validate must fail with status 1 and print exactly EXPECTED
# (or a line starting with it, when the rest comes from elsewhere in the library: "EXPECTED*").
bad_spec() {
    local rc=0 got
    cat >bad.yaml
    "$MKIMAGE" validate --spec bad.yaml >out 2>err || rc=$?
    [ "$rc" -eq 1 ] || fail "validate exit status $rc for: $1"
    [ "$(wc -l <err)" -eq 1 ] || fail "expected one line, got: $(cat err)"
    got=$(cat err)
    case "$1" in
    *"*") [[ "$got" == "unikernel-mkimage: error: bad.yaml:${1%"*"}"* ]] ;;
    *) [ "$got" = "unikernel-mkimage: error: bad.yaml:$1" ] ;;
    esac || fail "expected 'bad.yaml:$1', got: $got"
}
cp "$MBPROBE" k.elf
bad_spec "7:3: unknown key 'modles' in image (did you mean 'modules'?)" <<'EOF'
# comment
image:
  kernel: k.elf
  args: [a]
  size: 64M

  modles: []
EOF
bad_spec "2:11: 'kernel' in image must be a string, not a map" <<'EOF'
image:
  kernel: {path: k.elf}
EOF
bad_spec "1:1: missing key 'image' (the image to build: image: {kernel: FILE})" <<'EOF'
output: disk.raw
EOF
bad_spec "2:3: image has no 'kernel'" <<'EOF'
image:
  size: 1G
EOF
bad_spec "3:3: duplicate key 'size' in image (first at line 2)" <<'EOF'
image:
  size: 1G
  size: 2G
  kernel: k.elf
EOF
unset SPEC_NOPE || true
bad_spec "2:11: 'kernel' in image: environment variable 'SPEC_NOPE' is not set" <<'EOF'
image:
  kernel: ${SPEC_NOPE}/k.elf
EOF
bad_spec "2:3: unknown key 'kernal' in image (did you mean 'kernel'?)" <<'EOF'
image:
  kernal: k.elf
EOF
echo "text" >notelf.txt
bad_spec "1:17: 'notelf.txt': not an ELF file*" <<'EOF'
image: {kernel: notelf.txt}
EOF
bad_spec "3:13: module 'missing.bin': No such file or directory" <<'EOF'
image:
  kernel: k.elf
  modules: [missing.bin]
EOF
msg="target 'x': unknown uploader type 'archive'"
msg+=" (built in: gce, openstack; no unikernel-mkimage-uploader-archive on PATH)"
bad_spec "4:11: $msg" <<'EOF'
image: {kernel: k.elf}
targets:
  x:
    type: archive
    folder: /tmp/x
EOF
bad_spec "5:5: target 'prod': gce: unknown option --projet" <<'EOF'
image: {kernel: k.elf}
targets:
  prod:
    type: gce
    projet: p
EOF
ok "errors name file, line, column and key, and exit 1"

# An external uploader on PATH makes its type known.
mkdir bin
printf '#!/bin/sh\nexit 0\n' >bin/unikernel-mkimage-uploader-archive
chmod +x bin/unikernel-mkimage-uploader-archive
cat >plugin.yaml <<'EOF'
image: {kernel: k.elf}
targets:
  x: {type: archive, folder: /tmp/x, tags: [a, b]}
EOF
PATH=$T/bin:$PATH "$MKIMAGE" validate -q --spec plugin.yaml || fail "plugin on PATH not accepted"
chmod -x bin/unikernel-mkimage-uploader-archive
expect_fail "unknown uploader type 'archive'" \
    env PATH="$T/bin:$PATH" "$MKIMAGE" validate --spec plugin.yaml
ok "an executable unikernel-mkimage-uploader-TYPE on PATH is a known type"

# ---- usage errors exit 2 ----
mkdir empty
rc=0; (cd empty && "$MKIMAGE" validate 2>../err) || rc=$?
[ "$rc" -eq 2 ] || fail "validate without a spec: status $rc"
grep -qF "no spec" err || fail "validate without a spec: $(cat err)"
rc=0; "$MKIMAGE" validate --bogus 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "validate --bogus: status $rc"
rc=0; "$MKIMAGE" validate a.yaml b.yaml 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "validate with two specs: status $rc"
rc=0; "$MKIMAGE" validate --spec nosuch.yaml 2>err || rc=$?
[ "$rc" -eq 1 ] && grep -qF "nosuch.yaml" err || fail "missing spec: status $rc, $(cat err)"
ok "validate: usage errors exit 2, a missing spec 1"

# ---- the default spec, the command line over the spec, $$ ----
mkdir proj
cp "$MBPROBE" proj/app.elf
cat >proj/unikernel-mkimage.yaml <<'EOF'
image:
  kernel: app.elf
  args: [--price=$$5, "${SPEC_WORD}"]
  size: 64M
output:
  raw: out/${SPEC_NAME}.raw
  qcow2: out/${SPEC_NAME}.qcow2
EOF
mkdir proj/out
(cd proj && SPEC_WORD="two words" SPEC_NAME=img "$MKIMAGE" build -q) || fail "default spec build"
[ "$(stat -c %s proj/out/img.raw)" -eq $((64 << 20)) ] || fail "default spec size"
qemu-img check -q proj/out/img.qcow2 || fail "default spec qcow2"
cat_in_image proj/out/img.raw /boot/grub/grub.cfg >grub.cfg
grep -qF "multiboot /boot/app.elf '--price=\$5' 'two words'" grub.cfg ||
    fail "args: $(cat grub.cfg)"
ok "./unikernel-mkimage.yaml is used without KERNEL; \${VAR} and \$\$ expand"

export SPEC_WORD=w SPEC_NAME=img
rm proj/out/*
"$MKIMAGE" build -q --spec proj/unikernel-mkimage.yaml --size 128M
[ "$(stat -c %s proj/out/img.raw)" -eq $((128 << 20)) ] || fail "--size did not override"
"$MKIMAGE" build -q --spec proj/unikernel-mkimage.yaml -f qcow2 --size 96M
vsize=$(qemu-img info --output=json proj/out/img.qcow2 | grep -o '"virtual-size": [0-9]*')
[ "$vsize" = '"virtual-size": 100663296' ] ||
    fail "-f qcow2 --size 96M: $(qemu-img info proj/out/img.qcow2)"
[ "$(stat -c %s proj/out/img.raw)" -eq $((128 << 20)) ] || fail "-f qcow2 rewrote the raw output"
"$MKIMAGE" build -q --spec proj/unikernel-mkimage.yaml -o solo.raw --template solo5 -- x y
[ -f solo.raw ] && [ ! -e proj/out/solo.raw ] || fail "-o replaces the outputs, relative to the cwd"
cat_in_image solo.raw /boot/grub/grub.cfg >grub.cfg
grep -qF "multiboot /boot/app.elf app.elf x y" grub.cfg ||
    fail "template and args override: $(cat grub.cfg)"
"$MKIMAGE" build --spec proj/unikernel-mkimage.yaml --print-config "$T/k.elf" >cfg
grep -qF "multiboot /boot/k.elf '--price=\$5' w" cfg || fail "KERNEL override: $(cat cfg)"
expect_fail "lists no gce output" "$MKIMAGE" build --spec proj/unikernel-mkimage.yaml -f gce
ok "command-line options override the spec"

# A spec that fails writes nothing.
cat >proj/broken.yaml <<'EOF'
image: {kernel: nosuch.elf}
output: [out/broken.raw]
EOF
expect_fail "nosuch.elf" "$MKIMAGE" build --spec proj/broken.yaml
no_files_like proj/out broken
ok "a failed spec build leaves nothing"
