#!/usr/bin/env bash
# t0400-inspect: `inspect` on our images, on images made by stock tools, on garbage and on
# GCE archives made by GNU tar; its facts checked against sfdisk, dumpe2fs and debugfs.
. "$(dirname "$0")/lib.sh"
need sfdisk mke2fs dumpe2fs debugfs tar gzip truncate dd qemu-img
PY=/usr/bin/python3
[ -x "$PY" ] || fail "no $PY"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built (MBPROBE='${MBPROBE:-}')"

# inspect_rc IMAGE [ARGS...]: runs inspect, keeping stdout in out, stderr in err; prints rc.
inspect_rc() {
    local rc=0
    "$MKIMAGE" inspect "$@" >out 2>err || rc=$?
    echo "$rc"
}

# expect_problem RC TEXT IMAGE [ARGS]: inspect exits RC and prints a problem line with TEXT.
expect_problem() {
    local want=$1 text=$2 rc
    shift 2
    rc=$(inspect_rc "$@")
    [ "$rc" -eq "$want" ] || fail "inspect $* exited $rc, expected $want: $(cat out err)"
    grep -qF -- "problem:" out || fail "inspect $*: no problem line: $(cat out)"
    grep -F -- "problem:" out | grep -qF -- "$text" || fail "inspect $*: no problem '$text' in: $(cat out)"
    [ ! -s err ] || fail "inspect $*: unexpected stderr: $(cat err)"
}

# json_check IMAGE PYTHON: runs `inspect --json` and the Python assertions on `r`.
json_check() {
    local image=$1 code=$2
    "$MKIMAGE" inspect --json "$image" >report.json 2>err || true
    "$PY" -c "import json, sys
r = json.load(open('report.json'))
$code" || fail "JSON check on $image: $(cat report.json err)"
}

# ---- Garbage and damaged inputs: problems, never a crash. ----
: >empty.raw
expect_problem 1 "the image is empty" empty.raw
head -c 512 /dev/zero >one.raw
expect_problem 1 "no MBR signature (55 AA)" one.raw
head -c $((4 << 20)) /dev/urandom >random.raw
rc=$(inspect_rc random.raw)
[ "$rc" -eq 1 ] || fail "random data: exit $rc: $(cat out err)"
grep -q "^problem:" out || fail "random data: no problem reported: $(cat out)"
rc=$(inspect_rc --json random.raw)
[ "$rc" -eq 1 ] || fail "random data --json: exit $rc"
"$PY" -c 'import json; r = json.load(open("out")); assert r["problems"]' || fail "random --json: $(cat out)"
ok "empty, one-sector and random images give problems, not crashes"

truncate -s 64M past.raw
echo '2048,,83,*' | sfdisk -q past.raw >/dev/null
truncate -s 8M past.raw
expect_problem 1 "partition 1 extends past the end of the disk" past.raw
ok "a partition past the end of the disk is named"

expect_fail "absent.raw" "$MKIMAGE" inspect absent.raw
rc=0; "$MKIMAGE" inspect >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "inspect without an image exited $rc, expected 2"
rc=0; "$MKIMAGE" inspect --bogus one.raw >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "inspect --bogus exited $rc, expected 2"
ok "a missing file is a one-line error; usage errors exit 2"

# ---- An image made with stock tools: valid kernel, no GRUB in the MBR. ----
mkdir -p root/boot/grub
cp "$MBPROBE" root/boot/kernel
printf 'set timeout=0\nmenuentry "probe" {\n  multiboot (hd0,msdos1)/boot/kernel x\n  module /boot/nomod\n}\n' \
    >root/boot/grub/grub.cfg
truncate -s 64M stock.raw
echo '2048,,83,*' | sfdisk -q stock.raw >/dev/null
mke2fs -q -F -t ext2 -L stocklabel -d root part.img 63M >/dev/null
dd if=part.img of=stock.raw bs=1M seek=1 conv=notrunc,sparse status=none
expect_problem 1 "no boot code in the MBR" stock.raw
grep -F "problem:" out | grep -qF "module /boot/nomod not found" || fail "missing module not named: $(cat out)"
! grep -F "problem:" out | grep -qi "kernel" || fail "kernel problems on a valid kernel: $(cat out)"
grep -qE '^ +file +0[0-7]{3} +[0-9]+  /boot/kernel$' out || fail "no /boot/kernel in the file list: $(cat out)"
grep -qF "    set timeout=0" out || fail "grub.cfg not shown indented: $(cat out)"
uuid=$(dumpe2fs -h part.img 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')
free=$(dumpe2fs -h part.img 2>/dev/null | sed -n 's/^Free blocks: *//p')
json_check stock.raw "
fs = r['filesystem']
assert fs['type'] == 'ext2' and fs['label'] == 'stocklabel', fs
assert fs['uuid'] == '$uuid', fs
assert fs['free_blocks'] == $free, fs
assert fs['partition'] == 1, fs
assert r['boot']['boot_code'] is False, r['boot']
assert r['kernel']['path'] == '/boot/kernel' and r['kernel']['valid'] is True, r['kernel']
assert r['kernel']['size'] == $(stat -c %s "$MBPROBE"), r['kernel']
assert any(f['path'] == '/boot/grub/grub.cfg' for f in r['files']), r['files']
assert 'no boot code in the MBR' in r['problems'], r['problems']
"
ok "stock image: ext2 facts match dumpe2fs, kernel valid, 'no boot code in the MBR'"

# A kernel that is not multiboot.
head -c 20000 /dev/urandom >root/boot/kernel
printf 'multiboot /boot/kernel\n' >root/boot/grub/grub.cfg
mke2fs -q -F -t ext2 -d root part.img 63M >/dev/null
dd if=part.img of=stock.raw bs=1M seek=1 conv=notrunc,sparse status=none
expect_problem 1 "kernel /boot/kernel has no multiboot header" stock.raw
rm root/boot/grub/grub.cfg
mke2fs -q -F -t ext4 -d root part.img 63M >/dev/null
dd if=part.img of=stock.raw bs=1M seek=1 conv=notrunc,sparse status=none
expect_problem 1 "no /boot/grub/grub.cfg" stock.raw
grep -q "^filesystem: *ext4 in partition 1" out || fail "ext4 not recognised: $(cat out)"
dd if=/dev/zero of=stock.raw bs=1M seek=1 count=1 conv=notrunc status=none
expect_problem 1 "no ext2/3/4 filesystem in partition 1" stock.raw
ok "non-multiboot kernel, no grub.cfg, ext4 and a wiped filesystem are named"

# ---- Our own images: no problems. ----
"$MKIMAGE" build -q -o disk.raw "$MBPROBE" -- a b || fail "build failed"
rc=$(inspect_rc disk.raw)
[ "$rc" -eq 0 ] || fail "inspect of a built image exited $rc: $(cat out err)"
grep -q "^problems: *none$" out || fail "no 'problems: none': $(cat out)"
start=$(sfdisk -J disk.raw | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])')
uuid=$(dumpe2fs -h 'disk.raw?offset=1048576' 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')
debugfs -R "cat /boot/grub/grub.cfg" 'disk.raw?offset=1048576' 2>/dev/null >grub.cfg
json_check disk.raw "
assert r['problems'] == [], r['problems']
p = r['partitions']
assert len(p) == 1 and p[0]['bootable'] and p[0]['type'] == '0x83', p
assert p[0]['start_lba'] == $start, p
assert r['image']['size'] == 1 << 30 and r['image']['format'] == 'raw', r['image']
assert r['image']['data_bytes'] < 64 << 20, r['image']
assert r['filesystem']['uuid'] == '$uuid', r['filesystem']
b = r['boot']
assert b['boot_code'] and b['core_found'] and b['core_lba'] == 1, b
assert 1 < b['core_sectors'] < $start, b
k = r['kernel']
assert k['multiboot'] == 1 and k['valid'] and k['command'] == 'multiboot', k
assert r['grub_cfg'] == open('grub.cfg').read(), r['grub_cfg']
"
ok "built image: no problems, facts match sfdisk, dumpe2fs and debugfs"

qemu-img convert -O qcow2 disk.raw disk.qcow2
json_check disk.qcow2 "
assert r['problems'] == [], r['problems']
assert r['image']['format'] == 'qcow2' and r['image']['size'] == 1 << 30, r['image']
assert r['filesystem']['uuid'] == '$uuid', r['filesystem']
"
printf 'QFI\373' >bad.qcow2
expect_problem 1 "cannot read the image" bad.qcow2
ok "qcow2 from qemu-img: same facts, no problems; a broken qcow2 is a problem"

if [ -n "${MBPROBE2:-}" ] && [ -f "$MBPROBE2" ]; then
    "$MKIMAGE" build -q -o disk2.raw --size 64M "$MBPROBE2" || fail "build of the multiboot2 probe failed"
    json_check disk2.raw "
assert r['problems'] == [], r['problems']
assert r['kernel']['multiboot'] == 2 and r['kernel']['command'] == 'multiboot2', r['kernel']
"
    ok "multiboot2 image: no problems"
fi

# ---- GCE archives made by GNU tar. ----
mkdir gce
cp --sparse=always disk.raw gce/disk.raw
tar -C gce --format=oldgnu -Sczf good.tar.gz disk.raw
rc=$(inspect_rc --json good.tar.gz)
[ "$rc" -eq 0 ] || fail "inspect of a good disk.tar.gz exited $rc: $(cat out err)"
"$PY" -c 'import json; r = json.load(open("out")); assert r["gce_ok"] is True and r["problems"] == [], r' ||
    fail "good tar.gz: $(cat out)"
ok "a GNU tar disk.tar.gz of our image is acceptable to GCE"

# gce_bad ARCHIVE TEXT: inspect names the GCE problem and gce_ok is false.
gce_bad() {
    local archive=$1 text=$2
    rc=$(inspect_rc "$archive")
    [ "$rc" -eq 1 ] || fail "$archive: exit $rc: $(cat out err)"
    grep "^problem:" out | grep -qiF -- "$text" || fail "$archive: no problem with '$text': $(cat out err)"
    rc=$(inspect_rc --json "$archive")
    "$PY" -c 'import json; r = json.load(open("out")); assert r["gce_ok"] is False, r' ||
        fail "$archive: gce_ok is not false: $(cat out)"
}
mv gce/disk.raw gce/image.raw
tar -C gce --format=oldgnu -Sczf name.tar.gz image.raw
gce_bad name.tar.gz "image.raw"
cp --sparse=always gce/image.raw gce/disk.raw
tar -C gce --format=oldgnu -Sczf two.tar.gz disk.raw image.raw
gce_bad two.tar.gz "member"
rm gce/image.raw
truncate -s 100M gce/disk.raw
tar -C gce --format=oldgnu -Sczf small.tar.gz disk.raw
gce_bad small.tar.gz "GiB"
head -c $(($(stat -c %s good.tar.gz) / 2)) good.tar.gz >cut.tar.gz
gce_bad cut.tar.gz "gzip"
cp stock.raw gce/disk.raw
truncate -s 1G gce/disk.raw
tar -C gce --format=oldgnu -Sczf noboot.tar.gz disk.raw
gce_bad noboot.tar.gz "no boot code in the MBR"
ok "GCE rules: member name, two members, size, truncated gzip, boot code each named"
